//! Reading a project's partners.

use std::sync::LazyLock;

use actix_web::{get, HttpResponse};
use uuid::Uuid;

use super::{Partner, PartnerRow};
use crate::domain::ProjectId;
use crate::resources::record::{Ctx, Parent};
use crate::web::error::ApiResult;
use crate::web::http::{Many, Query};
use crate::web::listing::{self, Filters, Paging, Source, Value};
use crate::web::pagination::Page;

static SOURCE: Source = Source {
    table: "project_partners",
    alias: "pp",
    columns: &COLUMNS,
    sorts: &[],
    default_sort: "id",
    id_type: "uuid",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(project_partners, PartnerRow, "pp");

crate::list_params! {
    pub struct PartnerListParams ("Page size.") {
        /// Only partners with one of these roles (comma-separated).
        #[param(value_type = Option<String>, example = "partner")]
        pub role: Option<Many<String>>,
        /// Only these organisations' partnerships.
        #[param(value_type = Option<String>)]
        pub organisation: Option<Many<Uuid>>,
    }
}

/// List a project's partners
#[utoipa::path(
    tag = "partners",
    params(("id" = Uuid, Path, description = "Project id"), PartnerListParams),
    responses((status = 200, description = "One page of partners", body = Page<Partner>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/projects/{id}/partners")]
pub async fn list_partners(
    ctx: Ctx,
    Query(params): Query<PartnerListParams>,
    Parent(project): Parent<ProjectId>,
) -> ApiResult<HttpResponse> {
    let order = SOURCE.order(None, None)?;
    let paging = Paging::of(&params, &SOURCE, &order, false)?;
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    ctx.caller.ensure_visible(&mut conn, project).await?;
    let mut filters = Filters::default();
    filters.equal("pp.project_id", Some(Value::Uuid(project.0)));
    filters.any_text("pp.role", &params.role);
    filters.any_id("pp.organisation_id", &params.organisation);
    let rows = listing::page::<PartnerRow>(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows.map(Partner::from).respond(&ctx.req))
}

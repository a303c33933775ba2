//! Reading programmes: the filtered list.

use std::sync::LazyLock;

use actix_web::{get, HttpResponse};
use uuid::Uuid;

use super::Programme;
use crate::resources::record::Ctx;
use crate::web::error::ApiResult;
use crate::web::http::Query;
use crate::web::listing::{self, Filters, Paging, Source, Value};
use crate::web::pagination::Page;

static SOURCE: Source = Source {
    table: "programmes",
    alias: "g",
    columns: &COLUMNS,
    sorts: &[],
    default_sort: "id",
    id_type: "uuid",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(programmes, Programme, "g");

crate::list_params! {
    pub struct ProgrammeListParams ("Page size.") {
        /// Only programmes funded by this organisation.
        pub funder: Option<Uuid>,
        /// Only programmes administered by this organisation.
        pub administrator: Option<Uuid>,
    }
}

/// List programmes
#[utoipa::path(
    tag = "programmes",
    params(ProgrammeListParams),
    responses((status = 200, description = "One page of programmes", body = Page<Programme>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/programmes")]
pub async fn list_programmes(
    ctx: Ctx,
    Query(params): Query<ProgrammeListParams>,
) -> ApiResult<HttpResponse> {
    let order = SOURCE.order(None, None)?;
    let paging = Paging::of(&params, &SOURCE, &order, false)?;
    let mut filters = Filters::default();
    filters.equal("g.funder_id", params.funder.map(Value::Uuid));
    filters.equal("g.administrator_id", params.administrator.map(Value::Uuid));
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows.map(|p: Programme| p).respond(&ctx.req))
}

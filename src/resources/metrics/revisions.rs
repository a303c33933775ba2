//! A metric value's revisions: every change of its number, who made it and when, kept by
//! trigger and readable after the value is deleted.

use std::sync::LazyLock;

use actix_web::{get, HttpResponse};
use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::{money, MetricId, ProjectId};
use crate::resources::record::Ctx;
use crate::schema::metric_revisions;
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::{parse_id, Query};
use crate::web::listing::{self, Filters, Paging, Source, Value};
use crate::web::pagination::Page;

static SOURCE: Source = Source {
    table: "metric_revisions",
    alias: "r",
    columns: &COLUMNS,
    sorts: &[],
    default_sort: "id",
    id_type: "bigint",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(metric_revisions, RevisionRow, "r");

crate::text_enum! {
    /// What a revision records.
    RevisionOp { Create => "create", Update => "update", Delete => "delete" }
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = metric_revisions, check_for_backend(diesel::pg::Pg))]
struct RevisionRow {
    id: i64,
    op: RevisionOp,
    version: i32,
    old_value: Option<BigDecimal>,
    new_value: Option<BigDecimal>,
    api_key_id: Option<Uuid>,
    organisation_id: Option<Uuid>,
    changed_at: DateTime<Utc>,
}

/// One change of a metric value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricRevision {
    /// Sequence number of the revision (increasing).
    #[schema(example = 17)]
    pub id: i64,
    /// What happened.
    pub op: RevisionOp,
    /// The value's version after the change.
    #[schema(example = 2)]
    pub version: i32,
    /// The value before (null on create).
    #[schema(example = 120)]
    pub old_value: Option<f64>,
    /// The value after (null on delete).
    #[schema(example = 130)]
    pub new_value: Option<f64>,
    /// The API key that made the change (null for changes made without a key).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a85")]
    pub api_key_id: Option<Uuid>,
    /// The organisation of that key.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub organisation_id: Option<Uuid>,
    /// When the change was committed.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevisionListParams {
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// List a metric value's revisions
///
/// Oldest first. Revisions outlive the value: they stay readable after a delete.
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Metric value id"), RevisionListParams),
    responses((status = 200, description = "One page of revisions", body = Page<MetricRevision>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/metrics/{id}/revisions")]
pub async fn list_revisions(
    ctx: Ctx,
    id: actix_web::web::Path<String>,
    Query(params): Query<RevisionListParams>,
) -> ApiResult<HttpResponse> {
    let id: MetricId = parse_id(&id)?;
    let order = SOURCE.order(None, None)?;
    let paging = Paging::parse(
        &SOURCE,
        &order,
        params.limit,
        params.cursor.as_deref(),
        None,
        false,
    )?;
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let project: Option<Uuid> = metric_revisions::table
        .filter(metric_revisions::metric_value_id.eq(id.0))
        .select(metric_revisions::project_id)
        .first(&mut conn)
        .await
        .optional()?;
    // A deleted project takes its revisions' visibility with it: only admins see those.
    let visible = match project {
        Some(project) => {
            ctx.caller
                .ensure_visible(&mut conn, ProjectId(project))
                .await
                .is_ok()
                || ctx.caller.is_admin()
        }
        None => false,
    };
    if !visible {
        return Err(ApiError::not_found("metric value", id));
    }
    let mut filters = Filters::default();
    filters.equal("r.metric_value_id", Some(Value::Uuid(id.0)));
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows
        .map(|r: RevisionRow| MetricRevision {
            id: r.id,
            op: r.op,
            version: r.version,
            old_value: r.old_value.as_ref().map(money::to_f64),
            new_value: r.new_value.as_ref().map(money::to_f64),
            api_key_id: r.api_key_id,
            organisation_id: r.organisation_id,
            changed_at: r.changed_at,
        })
        .respond(&ctx.req))
}

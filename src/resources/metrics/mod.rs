//! Metric values: outcome numbers, indicator × project (× activity) × period (× target group),
//! as actual, target or baseline values; every change is kept as a revision.

use actix_web::{delete, get, patch, post, HttpResponse};
use uuid::Uuid;

use crate::domain::{MetricId, MetricKind, ProjectId};
use crate::resources::record::{self, Ctx, Key, Parent};
use crate::web::error::ApiResult;
use crate::web::http::{Json, Many, MergePatch, NoParams, Query};
use crate::web::pagination::Page;

pub mod batch;
mod list;
mod model;
mod review;
mod revisions;
pub mod sheet;
mod template;

pub use model::{
    attach_sources, default_kind, default_qualifier, form, MetricInput, MetricRow, MetricValue,
    StoredMetric, MAX_VALUE,
};
pub use revisions::{MetricRevision, RevisionOp};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(batch::push_metrics)
        .service(list::list_metrics)
        .service(list::export_metrics)
        .service(list_project_metrics)
        .service(create_metric)
        .service(find_metric)
        .service(update_metric)
        .service(delete_metric)
        .service(revisions::list_revisions)
        .service(template::metric_template)
        .service(review::verify_metric)
        .service(review::restore_metric)
        .service(metric_history);
}

crate::list_params! {
    pub struct ProjectMetricListParams ("Page size.") {
        /// Only values of these indicators (codes, comma-separated).
        #[param(value_type = Option<String>, example = "people_trained")]
        pub indicator: Option<Many<String>>,
        /// Only values of these activities.
        #[param(value_type = Option<String>)]
        pub activity: Option<Many<Uuid>>,
        /// Only actual, target or baseline values (comma-separated).
        #[param(value_type = Option<String>, example = "actual", pattern = "^(actual|target|baseline)(,(actual|target|baseline))*$")]
        pub kind: Option<Many<MetricKind>>,
    }
}

/// List a project's metric values
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Project id"), ProjectMetricListParams),
    responses((status = 200, description = "One page of metric values", body = Page<MetricValue>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/projects/{id}/metrics")]
async fn list_project_metrics(
    ctx: Ctx,
    Query(params): Query<ProjectMetricListParams>,
    Parent(project): Parent<ProjectId>,
) -> ApiResult<HttpResponse> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    ctx.caller.ensure_visible(&mut conn, project).await?;
    let params = list::MetricListParams {
        limit: params.limit,
        cursor: params.cursor,
        count: params.count,
        indicator: params.indicator,
        project: Some(Many(vec![project.0])),
        activity: params.activity,
        kind: params.kind,
        ..Default::default()
    };
    list::page(ctx, conn, params).await
}

/// Record a metric value for a project
///
/// One value per (indicator, activity, period, target group, kind): a second one is a 409 —
/// use `PATCH` to change it.
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Project id")),
    request_body = MetricInput,
    responses(
        (status = 201, description = "Created", body = MetricValue,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "A value with the same natural key exists", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[post("/projects/{id}/metrics")]
async fn create_metric(
    ctx: Ctx,
    Json(input): Json<MetricInput>,
    Parent(project): Parent<ProjectId>,
) -> ApiResult<HttpResponse> {
    record::create::<MetricValue>(&ctx, project, input).await
}

/// Get a metric value
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Metric value id"), NoParams),
    responses(
        (status = 200, description = "The metric value", body = MetricValue,
            headers(("ETag" = String, description = "Strong entity tag; send as If-None-Match or If-Match"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/metrics/{id}")]
async fn find_metric(ctx: Ctx, Key(id): Key<MetricId>) -> ApiResult<HttpResponse> {
    record::find::<MetricValue>(&ctx, id).await
}

/// Update a metric value (JSON Merge Patch)
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Metric value id"), NoParams),
    request_body(content = MetricInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = MetricValue, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "A value with the same natural key exists", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[patch("/metrics/{id}")]
async fn update_metric(
    ctx: Ctx,
    Key(id): Key<MetricId>,
    patch: MergePatch,
) -> ApiResult<HttpResponse> {
    record::update::<MetricValue>(&ctx, id, patch.0).await
}

/// Delete a metric value
///
/// The deletion is kept as the value's last revision.
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Metric value id"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
    )
)]
#[delete("/metrics/{id}")]
async fn delete_metric(ctx: Ctx, Key(id): Key<MetricId>) -> ApiResult<HttpResponse> {
    record::delete::<MetricValue>(&ctx, id).await
}

crate::history_route!(
    metric_history,
    MetricValue,
    "metrics",
    "/metrics/{id}/history",
    "History of a metric value",
    (("id" = Uuid, Path, description = "Metric value id")),
    |ctx| crate::web::http::parse_id::<MetricId>(crate::resources::history::path_param(
        &ctx, "id"
    ))?
);

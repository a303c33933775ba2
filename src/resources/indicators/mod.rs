//! Indicators: the catalogue of kinds of outcome numbers, so numbers add up across projects.
//! Addressed by their stable `code`.

use actix_web::{delete, get, patch, post, web, HttpResponse};

use crate::resources::record::{self, Ctx};
use crate::web::error::ApiResult;
use crate::web::http::{Json, MergePatch, NoParams, Query};

mod list;
mod model;

pub use model::{Indicator, IndicatorInput};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list::list_indicators)
        .service(list::export_indicators)
        .service(create_indicator)
        .service(find_indicator)
        .service(update_indicator)
        .service(delete_indicator)
        .service(indicator_history);
}

/// Create an indicator
#[utoipa::path(
    tag = "indicators",
    request_body = IndicatorInput,
    responses(
        (status = 201, description = "Created", body = Indicator,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "Code already taken", body = crate::web::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/indicators")]
async fn create_indicator(ctx: Ctx, Json(input): Json<IndicatorInput>) -> ApiResult<HttpResponse> {
    record::create::<Indicator>(&ctx, (), input).await
}

/// Get an indicator
#[utoipa::path(
    tag = "indicators",
    params(("code" = String, Path, description = "Indicator code"), NoParams),
    responses(
        (status = 200, description = "The indicator", body = Indicator,
            headers(("ETag" = String, description = "Strong entity tag; send as If-None-Match or If-Match"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/indicators/{code}")]
async fn find_indicator(
    ctx: Ctx,
    code: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    record::find::<Indicator>(&ctx, code.into_inner()).await
}

/// Update an indicator (JSON Merge Patch)
///
/// Changing `code` moves the indicator to a new URL (given as `Location`).
#[utoipa::path(
    tag = "indicators",
    params(("code" = String, Path, description = "Indicator code"), NoParams),
    request_body(content = IndicatorInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = Indicator, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "Code already taken", body = crate::web::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/indicators/{code}")]
async fn update_indicator(
    ctx: Ctx,
    code: web::Path<String>,
    _: Query<NoParams>,
    patch: MergePatch,
) -> ApiResult<HttpResponse> {
    record::update::<Indicator>(&ctx, code.into_inner(), patch.0).await
}

/// Delete an indicator
///
/// Refused with 409 while metric values use it.
#[utoipa::path(
    tag = "indicators",
    params(("code" = String, Path, description = "Indicator code"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Metric values still use it", body = crate::web::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/indicators/{code}")]
async fn delete_indicator(
    ctx: Ctx,
    code: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    record::delete::<Indicator>(&ctx, code.into_inner()).await
}

crate::history_route!(
    indicator_history,
    Indicator,
    "indicators",
    "/indicators/{code}/history",
    "History of an indicator",
    (("code" = String, Path, description = "Indicator code")),
    |ctx| crate::resources::history::path_param(&ctx, "code").to_owned()
);

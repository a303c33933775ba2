//! Operations endpoints: liveness, readiness and Prometheus metrics. Cheap by design: a load
//! balancer may call them every second.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;
use crate::telemetry::METRICS;
use crate::web::error::{ApiError, ApiResult};

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    #[schema(example = "ok")]
    pub status: String,
}

/// Liveness
///
/// The process is up and serving HTTP. Does not touch the database.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses((status = 200, description = "Alive", body = Health))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// Readiness
///
/// 200 when the database answers and every migration is applied; 503 (with `Retry-After`)
/// otherwise, within the pool's wait timeout.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses((status = 200, description = "Ready to serve", body = Health))
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    if !crate::db::is_migrated(&mut conn).await {
        return Err(ApiError::Unavailable(
            "the database is reachable but not (fully) migrated".into(),
        ));
    }
    Ok(HttpResponse::Ok().json(Health {
        status: "ok".into(),
    }))
}

/// Prometheus metrics
///
/// Request counts and latency per route and status, pool size, connections in use and waiting
/// requests, database errors and batch items pushed, in the text exposition format.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses((status = 200, description = "Metrics", body = String,
        content_type = "text/plain; version=0.0.4"))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(METRICS.render(&state.pool))
}

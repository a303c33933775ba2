//! Per-request context (request id and path) that error rendering needs but cannot get from
//! `ResponseError::error_response`, which has no access to the request. The middleware runs the
//! rest of the request inside a task-local scope and echoes the id as `X-Request-Id`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::Error;

use crate::telemetry::METRICS;
use std::time::Instant;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub path: String,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The current request's context, or an empty one outside a request.
pub fn current() -> RequestContext {
    CONTEXT.try_with(Clone::clone).unwrap_or_default()
}

/// A client-supplied id is kept when it is short and printable, so ids can be followed across
/// systems; otherwise a fresh time-ordered UUID is used.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let context = RequestContext {
        request_id: request_id(&req),
        path: req.path().to_owned(),
    };
    let id = context.request_id.clone();
    let method = req.method().clone();
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %id);
    let mut response =
        tracing::Instrument::instrument(CONTEXT.scope(context, next.call(req)), span).await?;
    // The route template, not the path, so ids do not multiply the metric series.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    METRICS.observe_request(method.as_str(), &route, status, elapsed);
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        path = %response.request().path(),
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(response)
}

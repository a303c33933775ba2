//! Authenticates every request (a bad key is a 401 even on reads, so a client learns at once that
//! its key stopped working), applies the rate limit and adds the `RateLimit-*` headers.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};

use super::keys;
use super::rate_limit::{Client, Decision};
use super::Caller;
use crate::state::AppState;
use crate::web::error::ApiError;
use crate::web::openapi::RouteTable;

pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .expect("AppState is registered");
    let caller = match identify(&req, &state).await {
        Ok(caller) => caller,
        Err(error) => return Ok(req.into_response(error.error_response())),
    };
    // Operations whose spec demands a key (every write) say so before reading anything else.
    if matches!(caller, Caller::Anonymous) && requires_key(&req) {
        let error = ApiError::key_required();
        return Ok(req.into_response(error.error_response()));
    }
    let client = match &caller {
        Caller::Key(key) => Some(Client::Key(key.id)),
        Caller::Anonymous => req.peer_addr().map(|a| Client::Address(a.ip())),
    };
    // Probes and scrapes are never limited.
    let operational = matches!(req.path(), "/healthz" | "/readyz" | "/metrics");
    let decision = client
        .filter(|_| !operational)
        .and_then(|c| state.limiter.check(c));
    if let Some(d) = decision.filter(|d| !d.allowed) {
        let error = ApiError::TooManyRequests {
            retry_after: d.reset,
        };
        let mut response = req.into_response(error.error_response());
        add_headers(response.headers_mut(), d);
        return Ok(response);
    }
    req.extensions_mut().insert(caller);
    let mut response = next.call(req).await?.map_into_boxed_body();
    if let Some(d) = decision {
        add_headers(response.headers_mut(), d);
    }
    Ok(response)
}

/// Whether the request names an operation that needs a key (unknown routes keep their 404/405).
fn requires_key(req: &ServiceRequest) -> bool {
    req.app_data::<web::Data<RouteTable>>()
        .is_some_and(|routes| routes.requires_key(req.path(), req.method().as_str()))
}

async fn identify(req: &ServiceRequest, state: &AppState) -> Result<Caller, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(Caller::Anonymous);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or_else(|| ApiError::Unauthorized {
            detail: "send the API key as `Authorization: Bearer kopa_...`".into(),
            invalid_token: true,
        })?;
    let mut conn = state.conn().await?;
    let identity = keys::authenticate(&mut conn, token).await?;
    Ok(Caller::Key(Arc::new(identity)))
}

fn add_headers(headers: &mut header::HeaderMap, d: Decision) {
    for (name, value) in [
        ("ratelimit-limit", d.limit.to_string()),
        ("ratelimit-remaining", d.remaining.to_string()),
        ("ratelimit-reset", d.reset.to_string()),
        ("ratelimit-policy", format!("{};w=60", d.limit)),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

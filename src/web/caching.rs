//! HTTP caching for reads: `Cache-Control` on every successful GET (public for anonymous
//! callers, private for keyed ones, whose answers may include drafts and contacts), and a weak
//! `ETag` with `If-None-Match` → 304 for responses that carry no ETag of their own (lists).

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::HttpResponse;
use sha2::{Digest, Sha256};

/// The licence of the registry's data (CC BY 4.0), as a `Link` header (RFC 8288).
pub const LICENSE_LINK: &str = "<https://creativecommons.org/licenses/by/4.0/>; rel=\"license\"";

/// Whether a request reads the registry's data (every read under `/v1` but API keys), whose
/// answers carry the data licence.
fn is_data(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && path.starts_with("/v1/")
        && !path.starts_with("/v1/api-keys")
}

/// How long shared caches and browsers may reuse an anonymous read.
pub const PUBLIC_MAX_AGE: u32 = 60;

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let cacheable =
        req.method() == Method::GET && !matches!(req.path(), "/healthz" | "/readyz" | "/metrics");
    let anonymous = !req.headers().contains_key(header::AUTHORIZATION);
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let data = is_data(req.method(), req.path());
    let mut response = next.call(req).await?.map_into_boxed_body();
    if data && matches!(response.status(), StatusCode::OK | StatusCode::NOT_MODIFIED) {
        response
            .headers_mut()
            .append(header::LINK, HeaderValue::from_static(LICENSE_LINK));
    }
    if !cacheable || response.status() != StatusCode::OK {
        return Ok(response);
    }
    let policy = if anonymous {
        format!("public, max-age={PUBLIC_MAX_AGE}")
    } else {
        "private, no-cache".to_owned()
    };
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_str(&policy).expect("ascii"),
        );
    }
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Authorization, Accept, Accept-Encoding, Accept-Language"),
    );
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if headers.contains_key(header::ETAG) || !is_json {
        return Ok(response);
    }
    let (request, response) = response.into_parts();
    let (mut head, body) = response.into_parts();
    let bytes = body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
    let digest = Sha256::digest(&bytes);
    let tag = format!("W/\"{}\"", hex(&digest[..16]));
    let matched = if_none_match
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let tag = HeaderValue::from_str(&tag).expect("ascii");
    if matched {
        let mut not_modified = HttpResponse::NotModified();
        for (name, value) in head.headers().iter() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                not_modified.append_header((name.clone(), value.clone()));
            }
        }
        not_modified.insert_header((header::ETAG, tag));
        return Ok(ServiceResponse::new(request, not_modified.finish()));
    }
    head.headers_mut().insert(header::ETAG, tag);
    Ok(ServiceResponse::new(
        request,
        head.set_body(BoxBody::new(bytes)),
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! `Idempotency-Key` on POST: the first response to a (key, caller) pair is stored in PostgreSQL
//! and replayed byte for byte for 24 hours, so a client may retry blindly. Because the record
//! lives in the database, this holds across any number of Kopa instances.
//!
//! - same key, same request: the stored response, with `Idempotent-Replayed: true`;
//! - same key, different request (method, path, query or body): 422;
//! - same key while the first request is still running: 409 with `Retry-After`;
//! - a 5xx is not stored, so a retry runs the request again;
//! - if the instance running the first request dies, its claim expires after
//!   [`CLAIM_SECS`] and a retry takes it over.

use std::time::Duration;

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Jsonb, Nullable, SmallInt, Text};
use diesel_async::RunQueryDsl;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::db::DbPool;
use crate::state::AppState;
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::MAX_BATCH_BYTES;

pub const HEADER: &str = "idempotency-key";
/// How long a running request holds its key before another may take it over.
pub const CLAIM_SECS: i64 = 120;
/// How long responses are kept for replay.
pub const RETENTION_HOURS: i64 = 24;

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = match req.headers().get(HEADER) {
        Some(value) if req.method() == Method::POST => value.clone(),
        _ => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let caller = req
        .extensions()
        .get::<Caller>()
        .and_then(|c| c.key().map(|k| k.id));
    let principal = match caller {
        Some(id) => id.to_string(),
        // Anonymous writes are refused before they get here; nothing to remember.
        None => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .expect("AppState is registered");
    let key = match key.to_str().ok().filter(|k| valid_key(k)) {
        Some(key) => key.to_owned(),
        None => {
            let error = ApiError::BadRequest {
                detail: "Idempotency-Key must be 1 to 255 printable ASCII characters".into(),
                errors: vec![crate::web::error::FieldError::new(
                    "Idempotency-Key",
                    "invalid",
                    "1 to 255 printable ASCII characters, e.g. a UUID",
                )],
            };
            return Ok(req.into_response(error.error_response()));
        }
    };
    let body = match read(&mut req).await {
        Ok(body) => body,
        Err(error) => return Ok(req.into_response(error.error_response())),
    };
    let hash = request_hash(&req, &body);
    match claim(&state, &principal, &key, &hash).await {
        Ok(Claim::Owner) => {}
        Ok(Claim::Replay(response)) => return Ok(req.into_response(response)),
        Err(error) => return Ok(req.into_response(error.error_response())),
    }
    req.set_payload(Payload::from(body));
    let response = match next.call(req).await {
        Ok(response) => response,
        Err(error) => {
            release(&state, &principal, &key).await;
            return Err(error);
        }
    };
    let (request, response) = response.map_into_boxed_body().into_parts();
    let status = response.status();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let bytes = body::to_bytes(response.into_body())
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
    if status.is_server_error() {
        release(&state, &principal, &key).await;
    } else if let Err(error) = store(&state, &principal, &key, status, &headers, &bytes).await {
        tracing::warn!(error = ?error, "could not store the idempotent response");
        release(&state, &principal, &key).await;
    }
    Ok(ServiceResponse::new(
        request,
        rebuild(status, &headers, bytes, false),
    ))
}

fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

async fn read(req: &mut ServiceRequest) -> ApiResult<Bytes> {
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest {
            detail: format!("could not read the request body: {e}"),
            errors: Vec::new(),
        })?;
        if body.len() + chunk.len() > MAX_BATCH_BYTES {
            return Err(ApiError::PayloadTooLarge(format!(
                "the request body must not exceed {MAX_BATCH_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn request_hash(req: &ServiceRequest, body: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(req.method().as_str());
    hash.update(b" ");
    hash.update(req.path());
    hash.update(b"?");
    hash.update(req.query_string());
    hash.update(b"\n");
    hash.update(body);
    hash.finalize().to_vec()
}

enum Claim {
    Owner,
    Replay(HttpResponse),
}

#[derive(QueryableByName)]
struct Record {
    #[diesel(sql_type = Bytea)]
    request_hash: Vec<u8>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    status: Option<i16>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    headers: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Bytea>)]
    body: Option<Vec<u8>>,
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    #[expect(dead_code, reason = "only its presence matters")]
    claimed: bool,
}

/// Claims the key for this request, or returns what to answer instead. One statement does it:
/// insert a fresh claim; or take over an expired one (a dead owner, or a record past retention);
/// otherwise report the record as it stands.
async fn claim(state: &AppState, principal: &str, key: &str, hash: &[u8]) -> ApiResult<Claim> {
    let mut conn = state.conn().await?;
    let claimed: Option<Claimed> = diesel::sql_query(format!(
        "INSERT INTO idempotency_records AS r (principal, key, request_hash, locked_until) \
         VALUES ($1, $2, $3, now() + interval '{CLAIM_SECS} seconds') \
         ON CONFLICT (principal, key) DO UPDATE \
           SET request_hash = excluded.request_hash, status = NULL, headers = NULL, body = NULL, \
               locked_until = excluded.locked_until, created_at = now() \
           WHERE r.created_at < now() - interval '{RETENTION_HOURS} hours' \
              OR (r.status IS NULL AND r.locked_until < now() AND r.request_hash = excluded.request_hash) \
         RETURNING true AS claimed"
    ))
    .bind::<Text, _>(principal)
    .bind::<Text, _>(key)
    .bind::<Bytea, _>(hash)
    .get_result(&mut conn)
    .await
    .optional()?;
    if claimed.is_some() {
        return Ok(Claim::Owner);
    }
    let stored: Option<Record> = diesel::sql_query(
        "SELECT request_hash, status, headers, body \
         FROM idempotency_records WHERE principal = $1 AND key = $2",
    )
    .bind::<Text, _>(principal)
    .bind::<Text, _>(key)
    .get_result(&mut conn)
    .await
    .optional()?;
    let Some(stored) = stored else {
        // Deleted in between (its request failed with a 5xx): let the client retry.
        return Err(in_progress());
    };
    if stored.request_hash != hash {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "reused",
            "this Idempotency-Key was used with a different request (method, path, query or body); use a new key",
        ));
    }
    match (stored.status, stored.body) {
        (Some(status), Some(body)) => {
            let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
            let headers: Vec<(String, String)> = stored
                .headers
                .and_then(|h| serde_json::from_value(h).ok())
                .unwrap_or_default();
            Ok(Claim::Replay(rebuild(
                status,
                &headers,
                Bytes::from(body),
                true,
            )))
        }
        _ => Err(in_progress()),
    }
}

fn in_progress() -> ApiError {
    ApiError::Conflict {
        detail: "a request with this Idempotency-Key is still in progress; retry in a moment"
            .into(),
        errors: Vec::new(),
    }
}

async fn store(
    state: &AppState,
    principal: &str,
    key: &str,
    status: StatusCode,
    headers: &[(String, String)],
    body: &[u8],
) -> ApiResult<()> {
    let mut conn = state.conn().await?;
    diesel::sql_query(
        "UPDATE idempotency_records SET status = $3, headers = $4, body = $5 \
         WHERE principal = $1 AND key = $2",
    )
    .bind::<Text, _>(principal)
    .bind::<Text, _>(key)
    .bind::<SmallInt, _>(status.as_u16() as i16)
    .bind::<Jsonb, _>(serde_json::to_value(headers).unwrap_or_default())
    .bind::<Bytea, _>(body)
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Gives the key up so a retry runs the request again.
async fn release(state: &AppState, principal: &str, key: &str) {
    let result = async {
        let mut conn = state.conn().await?;
        diesel::sql_query(
            "DELETE FROM idempotency_records WHERE principal = $1 AND key = $2 AND status IS NULL",
        )
        .bind::<Text, _>(principal)
        .bind::<Text, _>(key)
        .execute(&mut conn)
        .await?;
        ApiResult::Ok(())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(error = ?error, "could not release an idempotency key");
    }
}

fn rebuild(
    status: StatusCode,
    headers: &[(String, String)],
    body: Bytes,
    replayed: bool,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.append_header((name, value));
        }
    }
    if replayed {
        response.insert_header(("idempotent-replayed", "true"));
    }
    response.body(body)
}

/// Deletes records past retention, every hour, for as long as the server runs.
pub async fn purge_periodically(pool: DbPool) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let Ok(mut conn) = pool.get().await else {
            continue;
        };
        let sql = format!(
            "DELETE FROM idempotency_records WHERE created_at < now() - interval '{RETENTION_HOURS} hours'"
        );
        if let Err(error) = diesel::sql_query(sql).execute(&mut conn).await {
            tracing::warn!(error = ?error, "purging old idempotency records failed");
        }
    }
}

/// Removes `values` (personal data being erased) from every stored response that holds one:
/// JSON bodies keep their shape with `contact` objects and those strings set to `null`; a
/// body that cannot be read as JSON is dropped with its record (a retry then runs again).
/// Returns how many records changed.
pub async fn erase(
    conn: &mut diesel_async::AsyncPgConnection,
    values: &[String],
) -> ApiResult<usize> {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        principal: String,
        #[diesel(sql_type = Text)]
        key: String,
        #[diesel(sql_type = Bytea)]
        body: Vec<u8>,
    }
    let values: Vec<&String> = values.iter().filter(|v| !v.is_empty()).collect();
    if values.is_empty() {
        return Ok(0);
    }
    let patterns: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
    let holding: Vec<Stored> = diesel::sql_query(
        "SELECT principal, key, body FROM idempotency_records \
         WHERE body IS NOT NULL AND EXISTS (SELECT 1 FROM unnest($1::bytea[]) p WHERE position(p IN body) > 0)",
    )
    .bind::<diesel::sql_types::Array<Bytea>, _>(&patterns)
    .load(conn)
    .await?;
    for stored in &holding {
        let cleaned = serde_json::from_slice::<serde_json::Value>(&stored.body)
            .ok()
            .map(|mut body| {
                scrub(&mut body, &values);
                serde_json::to_vec(&body).unwrap_or_default()
            });
        match cleaned {
            Some(body) => {
                diesel::sql_query(
                    "UPDATE idempotency_records SET body = $3 WHERE principal = $1 AND key = $2",
                )
                .bind::<Text, _>(&stored.principal)
                .bind::<Text, _>(&stored.key)
                .bind::<Bytea, _>(body)
                .execute(conn)
                .await?;
            }
            None => {
                diesel::sql_query(
                    "DELETE FROM idempotency_records WHERE principal = $1 AND key = $2",
                )
                .bind::<Text, _>(&stored.principal)
                .bind::<Text, _>(&stored.key)
                .execute(conn)
                .await?;
            }
        }
    }
    Ok(holding.len())
}

fn scrub(value: &mut serde_json::Value, erased: &[&String]) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                if name == "contact" {
                    *field = serde_json::Value::Null;
                } else {
                    scrub(field, erased);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| scrub(i, erased)),
        serde_json::Value::String(text) if erased.iter().any(|e| text.contains(e.as_str())) => {
            *value = serde_json::Value::Null;
        }
        _ => {}
    }
}

//! The response store: anonymous reads are kept in memory (body, headers and ETag), keyed by
//! the normalised request, and answered again without a query until the registry changes.
//!
//! What invalidates is the primary's announcement of a commit, never a timer: every commit that
//! changes published data sends `NOTIFY kopa_changes` (delivered at commit, to every
//! listener), and each instance's listener drops everything it keeps. So an anonymous reader
//! sees a write as soon as the notification arrives (milliseconds, measured in BENCHMARKS.md)
//! instead of after a 60 s `max-age`. While the listener is not connected nothing is kept.
//!
//! - Requests with an API key bypass the store (a partner always reads its own writes).
//! - A response that started before an invalidation is not kept (the generation it began in
//!   has passed), so nothing read before a commit outlives it.
//! - With a read replica, a response is kept only if the replica had replayed the commit of the
//!   last invalidation when the request began.
//! - `/v1/changes` is never kept (its horizon moves without commits), nor exports and the dump
//!   (large, streamed), nor anything but a 200.
//! - `If-None-Match` with the kept ETag answers 304 without a query.
//! - Memory is bounded (`--response-store-mb`, 0 turns the store off); Prometheus counts hits,
//!   misses, passes, evictions and invalidations (`kopa_response_store_total`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use diesel::sql_types::Bool;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;

use crate::db::DbPool;
use crate::telemetry::METRICS;

/// Says whether a response came from the store (`hit`) or was just kept (`miss`).
const X_CACHE: header::HeaderName = header::HeaderName::from_static("x-cache");

/// Responses larger than this are not kept.
const MAX_ENTRY: usize = 1024 * 1024;

struct Kept {
    headers: HeaderMap,
    body: Bytes,
}

/// Kept responses and what tells whether they are still true.
pub struct ResponseStore {
    cache: Option<moka::sync::Cache<String, Arc<Kept>>>,
    /// Bumped by every invalidation.
    generation: AtomicU64,
    /// Whether the listener is connected (nothing is kept otherwise).
    listening: AtomicBool,
    /// The read replica anonymous reads come from, if any.
    replica: Option<DbPool>,
    /// The primary's WAL insert position when the last invalidation was heard (for replicas), as
    /// a number: at or past the end of the commit that caused it, even with asynchronous commit.
    invalidated_at: AtomicU64,
}

impl ResponseStore {
    /// A store of at most `megabytes` (0: no store).
    pub fn new(megabytes: u64) -> Self {
        let cache = (megabytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(megabytes * 1024 * 1024)
                .weigher(|key: &String, kept: &Arc<Kept>| {
                    (key.len() + kept.body.len() + 512)
                        .try_into()
                        .unwrap_or(u32::MAX)
                })
                .eviction_listener(|_, _, cause| {
                    if cause == moka::notification::RemovalCause::Size {
                        METRICS.store("eviction");
                    }
                })
                .build()
        });
        ResponseStore {
            cache,
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            invalidated_at: AtomicU64::new(0),
            replica: None,
        }
    }

    /// Keeps responses read from `replica` only once it has replayed the last invalidation.
    pub fn with_replica(mut self, replica: DbPool) -> Self {
        self.replica = Some(replica);
        self
    }

    /// Drops everything kept.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
        METRICS.store("invalidation");
    }

    fn active(&self) -> bool {
        self.cache.is_some() && AtomicBool::load(&self.listening, Ordering::SeqCst)
    }
}

/// `X/Y` (a PostgreSQL LSN) as a number.
fn lsn(text: &str) -> u64 {
    let (high, low) = text.split_once('/').unwrap_or(("0", "0"));
    (u64::from_str_radix(high, 16).unwrap_or(0) << 32) | u64::from_str_radix(low, 16).unwrap_or(0)
}

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = diesel::sql_types::Text)]
    lsn: String,
}

/// Follows `NOTIFY kopa_changes` on the primary for as long as the server runs, reconnecting
/// after failures; every notification (and every reconnection, which may have missed some)
/// drops what the store keeps.
pub async fn listen(store: Arc<ResponseStore>, url: String, replica: bool) {
    if store.cache.is_none() {
        return;
    }
    let mut backoff = Duration::from_millis(250);
    loop {
        match follow(&store, &url, replica).await {
            Ok(()) => backoff = Duration::from_millis(250),
            Err(error) => tracing::warn!(%error, "response store listener lost the database"),
        }
        store.listening.store(false, Ordering::SeqCst);
        store.invalidate();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn follow(store: &ResponseStore, url: &str, replica: bool) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    diesel::sql_query("LISTEN kopa_changes")
        .execute(&mut conn)
        .await?;
    store.invalidate();
    store.listening.store(true, Ordering::SeqCst);
    loop {
        let notification = {
            let mut stream = std::pin::pin!(conn.notifications_stream());
            stream.next().await
        };
        match notification {
            Some(Ok(_)) => {
                if replica {
                    let at: Position =
                        diesel::sql_query("SELECT pg_current_wal_insert_lsn()::text AS lsn")
                            .get_result(&mut conn)
                            .await?;
                    store.invalidated_at.store(lsn(&at.lsn), Ordering::SeqCst);
                }
                store.invalidate();
            }
            Some(Err(error)) => return Err(error.into()),
            None => anyhow::bail!("the notification stream ended"),
        }
    }
}

/// Whether a request may be answered from, and kept in, the store.
fn storable(req: &ServiceRequest) -> bool {
    let path = req.path();
    req.method() == Method::GET
        && !req.headers().contains_key(header::AUTHORIZATION)
        && path.starts_with("/v1/")
        && !path.starts_with("/v1/changes")
        && !path.starts_with("/v1/exports/")
        && path != "/v1/dump"
}

/// The request as the store knows it: path, parameters in a fixed order, and the headers
/// that choose a representation.
fn key(req: &ServiceRequest) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    format!(
        "{}?{}\n{}\n{}",
        req.path(),
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish(),
        header(header::ACCEPT),
        header(header::ACCEPT_LANGUAGE)
    )
}

fn answer(kept: &Kept, req: &ServiceRequest) -> HttpResponse {
    let tag = kept.headers.get(header::ETAG).and_then(|t| t.to_str().ok());
    let matched = tag.is_some_and(|tag| {
        req.headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"))
    });
    let mut response = if matched {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    for (name, value) in &kept.headers {
        if !(matched && (name == header::CONTENT_TYPE || name == header::CONTENT_LENGTH)) {
            response.append_header((name.clone(), value.clone()));
        }
    }
    if matched {
        response.finish()
    } else {
        response.body(kept.body.clone())
    }
}

/// Whether the replica behind anonymous reads has replayed the last invalidation.
async fn replica_current(store: &ResponseStore, since: u64) -> bool {
    let Some(pool) = &store.replica else {
        return true;
    };
    #[derive(QueryableByName)]
    struct Replayed {
        #[diesel(sql_type = Bool)]
        current: bool,
    }
    let Ok(mut conn) = pool.get().await else {
        return false;
    };
    let (high, low) = (since >> 32, since & 0xffff_ffff);
    diesel::sql_query(format!(
        "SELECT coalesce(pg_last_wal_replay_lsn() >= '{high:X}/{low:X}'::pg_lsn, true) AS current"
    ))
    .get_result::<Replayed>(&mut conn)
    .await
    .is_ok_and(|r| r.current)
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let store = req.app_data::<web::Data<ResponseStore>>().cloned();
    let Some(store) = store.filter(|s| s.active() && storable(&req)) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let cache = store.cache.as_ref().expect("active stores have a cache");
    let key = key(&req);
    if let Some(kept) = cache.get(&key) {
        METRICS.store("hit");
        let mut response = answer(&kept, &req);
        response
            .headers_mut()
            .insert(X_CACHE, header::HeaderValue::from_static("hit"));
        return Ok(req.into_response(response));
    }
    let generation = AtomicU64::load(&store.generation, Ordering::SeqCst);
    let mut keep = replica_current(
        &store,
        AtomicU64::load(&store.invalidated_at, Ordering::SeqCst),
    )
    .await;
    let response = next.call(req).await?.map_into_boxed_body();
    keep &= response.status() == StatusCode::OK;
    if !keep {
        METRICS.store("pass");
        return Ok(response);
    }
    let (request, response) = response.into_parts();
    let (mut head, body) = response.into_parts();
    let bytes = body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
    if bytes.len() <= MAX_ENTRY
        && AtomicU64::load(&store.generation, Ordering::SeqCst) == generation
    {
        cache.insert(
            key,
            Arc::new(Kept {
                headers: head.headers().clone(),
                body: bytes.clone(),
            }),
        );
        METRICS.store("miss");
        head.headers_mut()
            .insert(X_CACHE, header::HeaderValue::from_static("miss"));
    } else {
        METRICS.store("pass");
    }
    Ok(ServiceResponse::new(
        request,
        head.set_body(BoxBody::new(bytes)),
    ))
}

//! The application state every handler and middleware shares: the connection pools and the
//! rate limiter, and where a request's reads and writes go (primary or replica).

use std::time::Duration;

use actix_web::web;
use diesel_async::RunQueryDsl;

use crate::auth::rate_limit::{RateLimiter, RateLimits};
use crate::auth::Caller;
use crate::db::{DbConn, DbPool};
use crate::web::error::ApiResult;
use crate::web::response_store::ResponseStore;
use std::sync::Arc;

pub struct AppState {
    /// The primary: writes, and reads that must see them.
    pub pool: DbPool,
    /// A read replica for anonymous reads (`DATABASE_READ_URL`), if configured.
    pub read_pool: Option<DbPool>,
    pub limiter: RateLimiter,
    /// Anonymous reads kept until the registry changes (off unless configured).
    pub store: Arc<ResponseStore>,
    /// How webhook deliveries (and pings) are made.
    pub webhooks: DeliveryConfig,
}

impl AppState {
    pub fn new(pool: DbPool, limits: RateLimits) -> Self {
        AppState {
            pool,
            read_pool: None,
            limiter: RateLimiter::new(limits),
            store: Arc::new(ResponseStore::new(0)),
            webhooks: DeliveryConfig::default(),
        }
    }

    /// Keeps anonymous reads in `store` (whose listener the caller runs).
    pub fn with_store(mut self, store: Arc<ResponseStore>) -> Self {
        self.store = store;
        self
    }

    /// Makes webhook deliveries so.
    pub fn with_webhooks(mut self, webhooks: DeliveryConfig) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// Sends anonymous reads to a replica.
    pub fn with_read_pool(mut self, read_pool: DbPool) -> Self {
        self.read_pool = Some(read_pool);
        self
    }

    /// A connection to the primary.
    pub async fn conn(&self) -> ApiResult<DbConn> {
        Ok(self.pool.get().await?)
    }

    /// A connection for a read on behalf of `caller`: the replica for anonymous readers (who
    /// never wrote anything to read back), the primary for anyone with a key, so a partner
    /// that just wrote reads its own writes.
    pub async fn reader(&self, caller: &Caller) -> ApiResult<DbConn> {
        match &self.read_pool {
            Some(replica) if caller.key().is_none() => Ok(replica.get().await?),
            _ => self.conn().await,
        }
    }

    /// A connection for writing on behalf of `caller`: the audit and revision triggers read the
    /// key and organisation from the session settings this sets.
    pub async fn writer(&self, caller: &Caller) -> ApiResult<DbConn> {
        let mut conn = self.conn().await?;
        attribute(&mut conn, caller).await?;
        Ok(conn)
    }
}

/// Makes `conn` write on behalf of `caller`: the audit and revision triggers read the key and
/// organisation from the session settings this sets.
pub async fn attribute(
    conn: &mut diesel_async::AsyncPgConnection,
    caller: &Caller,
) -> ApiResult<()> {
    let key = caller.key();
    let key_id = key.map(|k| k.id.to_string()).unwrap_or_default();
    let org_id = key
        .and_then(|k| k.organisation_id)
        .map(|o| o.to_string())
        .unwrap_or_default();
    diesel::sql_query(
        "SELECT set_config('kopa.api_key_id', $1, false), set_config('kopa.organisation_id', $2, false)",
    )
    .bind::<diesel::sql_types::Text, _>(key_id)
    .bind::<diesel::sql_types::Text, _>(org_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where a streaming response gets its connections from after the handler returned: the same
/// database the handler read from.
#[derive(Clone)]
pub struct Reader {
    state: web::Data<AppState>,
    caller: Caller,
}

impl Reader {
    pub fn new(state: web::Data<AppState>, caller: &Caller) -> Self {
        Reader {
            state,
            caller: caller.clone(),
        }
    }

    pub async fn conn(&self) -> ApiResult<DbConn> {
        self.state.reader(&self.caller).await
    }
}

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Wait before each retry of a failed delivery; after the last one fails the subscription
    /// is disabled.
    pub schedule: Vec<Duration>,
    /// How often the worker looks for work.
    pub interval: Duration,
    /// How long a receiver may take to answer.
    pub timeout: Duration,
    /// Whether URLs may point at loopback, private or link-local addresses (off in
    /// production: a subscription must not make Kopa call its own network).
    pub allow_private: bool,
}

/// The default retry schedule: about 3.7 days of exponential backoff.
pub const DEFAULT_SCHEDULE: &str = "5s,1m,5m,30m,2h,5h,10h,10h,14h,24h,24h";

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            schedule: parse_schedule(DEFAULT_SCHEDULE).unwrap_or_default(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            allow_private: false,
        }
    }
}

/// `5s,1m,2h` as durations (`ms`, `s`, `m`, `h` and `d` suffixes).
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',')
        .map(|step| {
            let step = step.trim();
            let split = step
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| format!("{step:?} has no unit (ms, s, m, h or d)"))?;
            let (number, unit) = step.split_at(split);
            let number: u64 = number
                .parse()
                .map_err(|_| format!("{step:?} is not a duration"))?;
            let millis = match unit {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(format!("{step:?}: the unit is ms, s, m, h or d")),
            };
            Ok(Duration::from_millis(number * millis))
        })
        .collect()
}

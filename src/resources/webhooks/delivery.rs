//! The delivery worker: every Kopa instance runs one (in `kopa serve`), and they share the
//! work through PostgreSQL.
//!
//! 1. **Queue.** Each enabled subscription's change-log position is read `FOR UPDATE SKIP
//!    LOCKED` in a `REPEATABLE READ` transaction; the change feed is read from it with the
//!    subscription's filters and visibility (so drafts reach a public subscriber only as
//!    tombstones), one delivery row is queued per change, and the position moves to the
//!    feed's horizon. Only changes below the horizon are read, so a slow transaction that
//!    commits late is queued in its place, never skipped.
//! 2. **Send.** A subscription whose oldest pending delivery is due is locked `FOR UPDATE SKIP
//!    LOCKED` while its deliveries go out oldest first, so two instances never send one
//!    subscription's deliveries at once and a receiver sees them in feed order. A failure
//!    stops the subscription's queue until its next attempt (exponential backoff along the
//!    configured schedule); after the last one the subscription is disabled with the reason.
//!
//! Deliveries follow the Standard Webhooks specification: `webhook-id` (the change's feed
//! cursor, for deduplication and resuming), `webhook-timestamp` and `webhook-signature`
//! (HMAC-SHA256 with the subscription's `whsec_` secret, and with the previous secret too
//! for a day after a rotation).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Int4, Jsonb, Nullable, SmallInt, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::Visibility;
use crate::db::DbPool;
use crate::domain::OrganisationId;
use crate::resources::changes::{self, FeedQuery, Position, Resource};
use crate::web::error::{ApiError, ApiResult};

pub use crate::state::{parse_schedule, DeliveryConfig, DEFAULT_SCHEDULE};

/// Changes queued per subscription per round.
const QUEUE_BATCH: i64 = 500;
/// Deliveries sent per subscription per round (its lock is held meanwhile).
const SEND_BATCH: i64 = 50;

/// Runs the worker until the process ends.
pub async fn run(pool: DbPool, config: DeliveryConfig) {
    let client = client(&config);
    loop {
        match round(&pool, &config, &client).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "webhook delivery round failed"),
        }
        tokio::time::sleep(config.interval).await;
    }
}

/// The HTTP client deliveries go out with.
pub fn client(config: &DeliveryConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Kopa-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// One round of queueing and sending; `true` when there may be more to do at once.
pub async fn round(
    pool: &DbPool,
    config: &DeliveryConfig,
    client: &reqwest::Client,
) -> ApiResult<bool> {
    let mut conn = pool.get().await?;
    let queued = queue(&mut conn).await?;
    let mut sent = 0;
    while let Some(done) = send_next(&mut conn, config, client).await? {
        sent += done;
        if sent >= SEND_BATCH * 4 {
            break;
        }
    }
    Ok(queued || sent >= SEND_BATCH * 4)
}

#[derive(QueryableByName)]
struct Subscription {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    organisation_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    visibility: String,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    resources: Vec<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    project_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    about_organisation_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    position_txid: String,
    #[diesel(sql_type = BigInt)]
    position_id: i64,
}

/// What a subscriber may read, as stored.
pub fn visibility(stored: &str, organisation: Option<Uuid>) -> Visibility {
    match (stored, organisation) {
        ("all", _) => Visibility::All,
        ("own", Some(org)) => Visibility::PublishedAndOwn(OrganisationId(org)),
        _ => Visibility::Published,
    }
}

/// The stored form of a caller's visibility.
pub fn stored_visibility(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::All => "all",
        Visibility::PublishedAndOwn(_) => "own",
        Visibility::Published => "published",
    }
}

/// Queues the settled changes of every subscription no other instance is queueing; `true`
/// when a subscription had more than one batch waiting.
async fn queue(conn: &mut AsyncPgConnection) -> ApiResult<bool> {
    conn.build_transaction()
        .repeatable_read()
        .run(async |conn| -> ApiResult<bool> {
            let subscriptions: Vec<Subscription> = diesel::sql_query(
                "SELECT id, organisation_id, visibility, resources, project_id, about_organisation_id, \
                 position_txid::text AS position_txid, position_id \
                 FROM webhooks WHERE enabled ORDER BY id FOR UPDATE SKIP LOCKED",
            )
            .load(conn)
            .await?;
            let horizon = changes::now(conn).await?;
            let mut more = false;
            for s in subscriptions {
                let resources: Vec<Resource> = s
                    .resources
                    .iter()
                    .filter_map(|r| serde_json::from_value(serde_json::json!(r)).ok())
                    .collect();
                let since = Position {
                    t: s.position_txid.clone(),
                    i: s.position_id,
                };
                let (found, has_more) = changes::read(
                    conn,
                    &FeedQuery {
                        since: Some(&since),
                        limit: QUEUE_BATCH,
                        resources: &resources,
                        visibility: visibility(&s.visibility, s.organisation_id),
                        project: s.project_id,
                        organisation: s.about_organisation_id,
                    },
                )
                .await?;
                let next = match (found.last(), has_more) {
                    (Some(last), true) => changes::position(&last.cursor).unwrap_or(since),
                    // Everything below the horizon was read: start after it next time.
                    _ => horizon.clone(),
                };
                if !found.is_empty() {
                    let ids: Vec<String> = found.iter().map(|c| c.cursor.clone()).collect();
                    let payloads: Vec<serde_json::Value> = found
                        .iter()
                        .map(|c| serde_json::to_value(c).unwrap_or_default())
                        .collect();
                    diesel::sql_query(
                        "INSERT INTO webhook_deliveries (webhook_id, message_id, payload) \
                         SELECT $1, m, p FROM unnest($2::text[], $3::jsonb[]) WITH ORDINALITY AS x(m, p, n) \
                         ORDER BY n ON CONFLICT (webhook_id, message_id) DO NOTHING",
                    )
                    .bind::<diesel::sql_types::Uuid, _>(s.id)
                    .bind::<diesel::sql_types::Array<Text>, _>(&ids)
                    .bind::<diesel::sql_types::Array<Jsonb>, _>(&payloads)
                    .execute(conn)
                    .await?;
                }
                if next.t != s.position_txid || next.i != s.position_id {
                    diesel::sql_query(
                        "UPDATE webhooks SET position_txid = $2::xid8, position_id = $3 WHERE id = $1",
                    )
                    .bind::<diesel::sql_types::Uuid, _>(s.id)
                    .bind::<Text, _>(&next.t)
                    .bind::<BigInt, _>(next.i)
                    .execute(conn)
                    .await?;
                }
                more |= has_more;
            }
            Ok(more)
        })
        .await
}

#[derive(QueryableByName)]
struct Target {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Nullable<Text>)]
    previous_secret: Option<String>,
    #[diesel(sql_type = Bool)]
    previous_valid: bool,
}

#[derive(QueryableByName)]
struct Pending {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    message_id: String,
    #[diesel(sql_type = Jsonb)]
    payload: serde_json::Value,
    #[diesel(sql_type = Int4)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    next_attempt_at: DateTime<Utc>,
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration: Duration,
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Sends the due deliveries of one subscription no other instance is sending; `None` when no
/// subscription has anything due.
async fn send_next(
    conn: &mut AsyncPgConnection,
    config: &DeliveryConfig,
    client: &reqwest::Client,
) -> ApiResult<Option<i64>> {
    conn.transaction(async |conn| -> ApiResult<Option<i64>> {
        let target: Option<Target> = diesel::sql_query(
            "SELECT w.id, w.url, w.secret, w.previous_secret, \
               coalesce(w.previous_secret_until > now(), false) AS previous_valid \
             FROM webhooks w \
             WHERE w.enabled AND (SELECT d.next_attempt_at <= now() FROM webhook_deliveries d \
               WHERE d.webhook_id = w.id AND d.status = 'pending' ORDER BY d.id LIMIT 1) \
             ORDER BY w.id LIMIT 1 FOR UPDATE OF w SKIP LOCKED",
        )
        .get_result(conn)
        .await
        .map(Some)
        .or_else(|e| match e {
            diesel::result::Error::NotFound => Ok(None),
            e => Err(ApiError::from(e)),
        })?;
        let Some(target) = target else {
            return Ok(None);
        };
        let pending: Vec<Pending> = diesel::sql_query(
            "SELECT id, message_id, payload, attempts, next_attempt_at FROM webhook_deliveries \
             WHERE webhook_id = $1 AND status = 'pending' ORDER BY id LIMIT $2",
        )
        .bind::<diesel::sql_types::Uuid, _>(target.id)
        .bind::<BigInt, _>(SEND_BATCH)
        .load(conn)
        .await?;
        let mut secrets = vec![target.secret.clone()];
        if let (Some(previous), true) = (&target.previous_secret, target.previous_valid) {
            secrets.push(previous.clone());
        }
        let mut sent = 0;
        for delivery in pending {
            if delivery.next_attempt_at > Utc::now() {
                break;
            }
            let body = serde_json::to_vec(&delivery.payload).unwrap_or_default();
            let outcome = send(
                client,
                config,
                &target.url,
                &delivery.message_id,
                &body,
                &secrets,
            )
            .await;
            record_attempt(conn, target.id, delivery.id, &outcome).await?;
            sent += 1;
            if outcome.delivered() {
                diesel::sql_query(
                    "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), \
                     attempts = attempts + 1, last_attempt_at = now(), last_status = $2, last_error = NULL \
                     WHERE id = $1",
                )
                .bind::<BigInt, _>(delivery.id)
                .bind::<Nullable<SmallInt>, _>(outcome.status.map(|s| s as i16))
                .execute(conn)
                .await?;
                continue;
            }
            let attempts = delivery.attempts + 1;
            let why = outcome
                .error
                .clone()
                .or(outcome.status.map(|s| format!("the receiver answered {s}")))
                .unwrap_or_default();
            match config.schedule.get(attempts as usize - 1) {
                Some(wait) => {
                    diesel::sql_query(
                        "UPDATE webhook_deliveries SET attempts = $2, last_attempt_at = now(), \
                         last_status = $3, last_error = $4, \
                         next_attempt_at = now() + $5 * interval '1 millisecond' WHERE id = $1",
                    )
                    .bind::<BigInt, _>(delivery.id)
                    .bind::<Int4, _>(attempts)
                    .bind::<Nullable<SmallInt>, _>(outcome.status.map(|s| s as i16))
                    .bind::<Text, _>(&why)
                    .bind::<BigInt, _>(wait.as_millis() as i64)
                    .execute(conn)
                    .await?;
                }
                None => {
                    diesel::sql_query(
                        "UPDATE webhook_deliveries SET attempts = $2, last_attempt_at = now(), \
                         last_status = $3, last_error = $4 WHERE id = $1",
                    )
                    .bind::<BigInt, _>(delivery.id)
                    .bind::<Int4, _>(attempts)
                    .bind::<Nullable<SmallInt>, _>(outcome.status.map(|s| s as i16))
                    .bind::<Text, _>(&why)
                    .execute(conn)
                    .await?;
                    diesel::sql_query(
                        "UPDATE webhooks SET enabled = false, disabled_reason = $2 WHERE id = $1",
                    )
                    .bind::<diesel::sql_types::Uuid, _>(target.id)
                    .bind::<Text, _>(format!(
                        "delivery {} failed {attempts} times over {}; the last time: {why}",
                        delivery.message_id,
                        humanise(config.schedule.iter().sum()),
                    ))
                    .execute(conn)
                    .await?;
                    tracing::warn!(webhook = %target.id, "webhook disabled after persistent failure");
                }
            }
            break;
        }
        Ok(Some(sent))
    })
    .await
}

fn humanise(total: Duration) -> String {
    let secs = total.as_secs();
    match secs {
        s if s >= 86_400 => format!("{:.1} days", s as f64 / 86_400.0),
        s if s >= 3_600 => format!("{:.1} hours", s as f64 / 3_600.0),
        s => format!("{s} seconds"),
    }
}

async fn record_attempt(
    conn: &mut AsyncPgConnection,
    webhook: Uuid,
    delivery: i64,
    outcome: &Outcome,
) -> ApiResult<()> {
    diesel::sql_query(
        "INSERT INTO webhook_attempts (delivery_id, webhook_id, status_code, error, duration_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind::<BigInt, _>(delivery)
    .bind::<diesel::sql_types::Uuid, _>(webhook)
    .bind::<Nullable<SmallInt>, _>(outcome.status.map(|s| s as i16))
    .bind::<Nullable<Text>, _>(outcome.error.as_deref())
    .bind::<Int4, _>(outcome.duration.as_millis().min(i32::MAX as u128) as i32)
    .execute(conn)
    .await?;
    Ok(())
}

/// The `webhook-signature` header value: one `v1,<signature>` per secret.
pub fn sign(secrets: &[String], message_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            standardwebhooks::Webhook::new(secret)
                .and_then(|hook| hook.sign(message_id, timestamp, body))
                .ok()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A new `whsec_` secret: 24 random bytes, base64.
pub fn new_secret() -> ApiResult<String> {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// Whether `url` may be called: http(s), and (unless allowed) no address on Kopa's own
/// network.
pub async fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("the URL must be http or https".into());
    }
    if allow_private {
        return Ok(());
    }
    let host = parsed.host_str().ok_or("the URL has no host")?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("{host} does not resolve: {e}"))?;
    for address in addresses {
        if !is_public(address.ip()) {
            return Err(format!(
                "{host} resolves to {}, an address on a private network",
                address.ip()
            ));
        }
    }
    Ok(())
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| !is_public(IpAddr::V4(v4))))
        }
    }
}

/// One signed POST of `body` to `url`.
pub async fn send(
    client: &reqwest::Client,
    config: &DeliveryConfig,
    url: &str,
    message_id: &str,
    body: &[u8],
    secrets: &[String],
) -> Outcome {
    let started = Instant::now();
    if let Err(error) = check_target(url, config.allow_private).await {
        return Outcome {
            status: None,
            error: Some(error),
            duration: started.elapsed(),
        };
    }
    let timestamp = Utc::now().timestamp();
    let result = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            sign(secrets, message_id, timestamp, body),
        )
        .body(body.to_vec())
        .send()
        .await;
    match result {
        Ok(response) => Outcome {
            status: Some(response.status().as_u16()),
            error: None,
            duration: started.elapsed(),
        },
        Err(error) => Outcome {
            status: None,
            error: Some(format!("the request failed: {}", without_url(&error))),
            duration: started.elapsed(),
        },
    }
}

fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "broke off"
    };
    kind.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_and_addresses() {
        let schedule = parse_schedule(DEFAULT_SCHEDULE).unwrap();
        assert!(schedule.iter().sum::<Duration>() >= Duration::from_secs(3 * 86_400));
        assert_eq!(
            parse_schedule("100ms, 2s").unwrap(),
            vec![Duration::from_millis(100), Duration::from_secs(2)]
        );
        assert!(parse_schedule("5").is_err());
        assert!(!is_public("127.0.0.1".parse().unwrap()));
        assert!(!is_public("10.1.2.3".parse().unwrap()));
        assert!(!is_public("::ffff:192.168.0.1".parse().unwrap()));
        assert!(is_public("93.184.216.34".parse().unwrap()));
    }
}

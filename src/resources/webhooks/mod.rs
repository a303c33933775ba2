//! `/v1/webhooks`: subscriptions that are told of changes instead of polling the change feed.
//! An operator's, or an organisation's (key scope `webhooks:manage`); each delivers the feed's
//! entries that its filters select (kinds of record; a project, or the projects an
//! organisation leads or partners in), as its owner's key could read them, signed the
//! Standard Webhooks way. [`delivery`] sends them.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::{delete, get, patch, post, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::{Access, Caller};
use crate::domain::OrganisationId;
use crate::resources::changes::{self, Resource};
use crate::resources::record::Ctx;
use crate::schema::{webhook_attempts, webhook_deliveries, webhooks};
use crate::validation;
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::{self, IfMatch, Json, MergePatch, Query};
use crate::web::listing::{self, Filters, Paging, Source, Value};
use crate::web::pagination::Page;

pub mod delivery;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_webhooks)
        .service(create_webhook)
        .service(find_webhook)
        .service(update_webhook)
        .service(delete_webhook)
        .service(rotate_secret)
        .service(list_deliveries)
        .service(ping_webhook);
}

/// What a subscription asks for (create body; PATCH merges into it).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Where deliveries are POSTed (http or https; not an address on a private network).
    #[validate(length(min = 1, max = 2000))]
    #[schema(
        min_length = 1,
        max_length = 2000,
        example = "https://portal.example.org/kopa-hook"
    )]
    pub url: String,
    /// What the subscription is for.
    #[validate(length(max = 500))]
    #[schema(max_length = 500, example = "Municipal portal: Latgale projects")]
    #[serde(default)]
    pub description: Option<String>,
    /// Only changes of these kinds of record (empty or absent: every kind).
    #[serde(default)]
    #[validate(length(max = 8))]
    #[schema(max_items = 8, example = json!(["project", "metric"]))]
    pub resources: Vec<Resource>,
    /// Only changes of this project and its partners, activities and numbers.
    #[serde(default)]
    pub project_id: Option<Uuid>,
    /// Only changes of the projects this organisation leads or partners in (and of the
    /// organisation itself).
    #[serde(default)]
    pub organisation_id: Option<Uuid>,
    /// Whether deliveries go out; setting it back to `true` after the subscription was
    /// disabled retries the waiting delivery at once.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = webhooks, check_for_backend(diesel::pg::Pg))]
struct WebhookRow {
    id: Uuid,
    organisation_id: Option<Uuid>,
    url: String,
    description: Option<String>,
    resources: Vec<String>,
    project_id: Option<Uuid>,
    about_organisation_id: Option<Uuid>,
    visibility: String,
    enabled: bool,
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i32,
}

/// A subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    /// The organisation whose subscription it is (`null`: an operator's).
    pub owner_id: Option<Uuid>,
    #[schema(example = "https://portal.example.org/kopa-hook")]
    pub url: String,
    pub description: Option<String>,
    /// Kinds of record delivered (empty: every kind).
    pub resources: Vec<Resource>,
    /// Only changes of this project.
    pub project_id: Option<Uuid>,
    /// Only changes of projects this organisation leads or partners in.
    pub organisation_id: Option<Uuid>,
    /// Whether drafts reach the subscriber as content (`own`: its organisation's, `all`) or
    /// only as tombstones (`published`): what its creator's key could read.
    #[schema(example = "published")]
    pub visibility: String,
    pub enabled: bool,
    /// Why deliveries stopped, when the subscription was disabled after persistent failure.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<WebhookRow> for Webhook {
    fn from(r: WebhookRow) -> Self {
        Webhook {
            id: r.id,
            owner_id: r.organisation_id,
            url: r.url,
            description: r.description,
            resources: r
                .resources
                .iter()
                .filter_map(|k| serde_json::from_value(serde_json::json!(k)).ok())
                .collect(),
            project_id: r.project_id,
            organisation_id: r.about_organisation_id,
            visibility: r.visibility,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

crate::versioned!(Webhook);

/// A subscription with its signing secret: answered only on creation and rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The signing secret (`whsec_...`): give it to your Standard Webhooks library to verify
    /// deliveries. Shown only now.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

fn location(id: Uuid) -> String {
    format!("/v1/webhooks/{id}")
}

/// The subscription `id`, locked when `lock`, after checking the caller may manage it (404
/// for a subscription that does not exist, 403 for another organisation's).
async fn owned(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    lock: bool,
) -> ApiResult<WebhookRow> {
    let query = webhooks::table.find(id).select(WebhookRow::as_select());
    let row: Option<WebhookRow> = if lock {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    let row = row.ok_or_else(|| ApiError::not_found("webhook", id))?;
    caller
        .authorize(
            conn,
            Access::ManageWebhooks {
                organisation: row.organisation_id.map(OrganisationId),
            },
        )
        .await?;
    Ok(row)
}

/// Checks the references and the URL of `input`.
async fn check(
    conn: &mut AsyncPgConnection,
    input: &WebhookInput,
    allow_private: bool,
) -> ApiResult<()> {
    validation::validate(input)?;
    let mut errors = Vec::new();
    if let Err(why) = delivery::check_target(&input.url, allow_private).await {
        errors.push(crate::web::error::FieldError::new("url", "invalid", why));
    }
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        project: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        organisation: bool,
    }
    let found: Found = diesel::sql_query(
        "SELECT ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM projects WHERE id = $1)) AS project, \
         ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM organisations WHERE id = $2)) AS organisation",
    )
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(input.project_id)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(input.organisation_id)
    .get_result(conn)
    .await?;
    for (ok, field, what) in [
        (found.project, "project_id", "no such project"),
        (
            found.organisation,
            "organisation_id",
            "no such organisation",
        ),
    ] {
        if !ok {
            errors.push(crate::web::error::FieldError::new(
                field,
                "unknown_reference",
                what,
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn kinds(resources: &[Resource]) -> Vec<String> {
    let mut kinds: Vec<String> = resources.iter().map(|r| r.as_str().to_owned()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// Subscribe to changes
///
/// For an operator, or a key with `webhooks:manage` (the subscription is then its
/// organisation's). Deliveries start with the changes made from now on. Drafts reach the
/// subscriber as the creating key could read them: without private access, only as `delete`
/// tombstones (id and url). The response is the only place the signing secret appears.
#[utoipa::path(
    tag = "webhooks",
    request_body = WebhookInput,
    security(("bearer" = [])),
    responses((status = 201, description = "Subscribed", body = WebhookWithSecret,
        headers(("Location" = String, description = "URL of the subscription"))))
)]
#[post("/webhooks")]
async fn create_webhook(ctx: Ctx, Json(input): Json<WebhookInput>) -> ApiResult<HttpResponse> {
    let caller = &ctx.caller;
    let owner = caller.key().and_then(|k| k.organisation_id);
    let mut conn = ctx.state.writer(caller).await?;
    caller
        .authorize(
            &mut conn,
            Access::ManageWebhooks {
                organisation: owner.map(OrganisationId),
            },
        )
        .await?;
    check(&mut conn, &input, ctx.state.webhooks.allow_private).await?;
    let secret = delivery::new_secret()?;
    let id = Uuid::now_v7();
    let start = changes::now(&mut conn).await?;
    diesel::sql_query(
        "INSERT INTO webhooks (id, organisation_id, url, description, resources, project_id, \
           about_organisation_id, visibility, secret, enabled, position_txid, position_id, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::xid8, $12, $13)",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(owner)
    .bind::<diesel::sql_types::Text, _>(&input.url)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(&input.description)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(kinds(&input.resources))
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(input.project_id)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(input.organisation_id)
    .bind::<diesel::sql_types::Text, _>(delivery::stored_visibility(caller.visibility()))
    .bind::<diesel::sql_types::Text, _>(&secret)
    .bind::<diesel::sql_types::Bool, _>(input.enabled)
    .bind::<diesel::sql_types::Text, _>(&start.t)
    .bind::<diesel::sql_types::BigInt, _>(start.i)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(caller.key().map(|k| k.id))
    .execute(&mut conn)
    .await?;
    let webhook = owned(&mut conn, caller, id, false).await?.into();
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location(id)))
        .json(WebhookWithSecret { webhook, secret }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WebhookListParams {
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

static SOURCE: Source = Source {
    table: "webhooks",
    alias: "w",
    columns: &COLUMNS,
    sorts: &[],
    default_sort: "id",
    id_type: "uuid",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(webhooks, WebhookRow, "w");

static ATTEMPTS: Source = Source {
    table: "webhook_attempts",
    alias: "a",
    columns: &ATTEMPT_COLUMNS,
    sorts: &[],
    default_sort: "id",
    id_type: "bigint",
};
static ATTEMPT_COLUMNS: LazyLock<String> = crate::list_columns!(webhook_attempts, AttemptRow, "a");

/// List subscriptions
///
/// An operator sees every subscription; a key with `webhooks:manage` its organisation's.
#[utoipa::path(
    tag = "webhooks",
    params(WebhookListParams),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of subscriptions", body = Page<Webhook>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/webhooks")]
async fn list_webhooks(
    ctx: Ctx,
    Query(params): Query<WebhookListParams>,
) -> ApiResult<HttpResponse> {
    let caller = &ctx.caller;
    let order = SOURCE.order(None, None)?;
    let paging = Paging::parse(
        &SOURCE,
        &order,
        params.limit,
        params.cursor.as_deref(),
        None,
        false,
    )?;
    let owner = caller.key().and_then(|k| k.organisation_id);
    let mut conn = ctx.state.conn().await?;
    caller
        .authorize(
            &mut conn,
            Access::ManageWebhooks {
                organisation: owner.map(OrganisationId),
            },
        )
        .await?;
    let mut filters = Filters::default();
    if !caller.is_admin() {
        filters.equal("w.organisation_id", owner.map(Value::Uuid));
    }
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows.map(|w: WebhookRow| Webhook::from(w)).respond(&ctx.req))
}

/// Get a subscription
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The subscription", body = Webhook,
        headers(("ETag" = String, description = "Strong entity tag"))))
)]
#[get("/webhooks/{id}")]
async fn find_webhook(ctx: Ctx, id: actix_web::web::Path<String>) -> ApiResult<HttpResponse> {
    let id: Uuid = http::parse_id::<crate::domain::WebhookId>(&id)?.0;
    let mut conn = ctx.state.conn().await?;
    let webhook: Webhook = owned(&mut conn, &ctx.caller, id, false).await?.into();
    let tag = crate::resources::record::Versioned::etag(&webhook);
    Ok(http::record_response(&ctx.req, tag, &webhook))
}

/// Change a subscription (JSON Merge Patch)
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    request_body(content = WebhookInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields"),
    security(("bearer" = [])),
    responses((status = 200, description = "Changed", body = Webhook))
)]
#[patch("/webhooks/{id}")]
async fn update_webhook(
    ctx: Ctx,
    id: actix_web::web::Path<String>,
    patch: MergePatch,
) -> ApiResult<HttpResponse> {
    let id: Uuid = http::parse_id::<crate::domain::WebhookId>(&id)?.0;
    let caller = &ctx.caller;
    let precondition = IfMatch::from_request(&ctx.req);
    let allow_private = ctx.state.webhooks.allow_private;
    let mut conn = ctx.state.writer(caller).await?;
    let webhook = conn
        .transaction(async |conn| -> ApiResult<Webhook> {
            let row = owned(conn, caller, id, true).await?;
            let current: Webhook = row.clone().into();
            precondition.check(&crate::resources::record::Versioned::etag(&current))?;
            let stored = WebhookInput {
                url: row.url.clone(),
                description: row.description.clone(),
                resources: current.resources.clone(),
                project_id: row.project_id,
                organisation_id: row.about_organisation_id,
                enabled: row.enabled,
            };
            let input: WebhookInput = http::merge(&stored, patch.0)?;
            check(conn, &input, allow_private).await?;
            let re_enabled = input.enabled && !row.enabled;
            diesel::update(webhooks::table.find(id))
                .set((
                    webhooks::url.eq(&input.url),
                    webhooks::description.eq(&input.description),
                    webhooks::resources.eq(kinds(&input.resources)),
                    webhooks::project_id.eq(input.project_id),
                    webhooks::about_organisation_id.eq(input.organisation_id),
                    webhooks::enabled.eq(input.enabled),
                    webhooks::disabled_reason.eq(match input.enabled {
                        true => None,
                        false => row
                            .disabled_reason
                            .clone()
                            .or(Some("disabled by its owner".to_owned())),
                    }),
                ))
                .execute(conn)
                .await?;
            if re_enabled {
                diesel::update(
                    webhook_deliveries::table
                        .filter(webhook_deliveries::webhook_id.eq(id))
                        .filter(webhook_deliveries::status.eq("pending")),
                )
                .set((
                    webhook_deliveries::attempts.eq(0),
                    webhook_deliveries::next_attempt_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            }
            Ok(owned(conn, caller, id, false).await?.into())
        })
        .await?;
    let tag = crate::resources::record::Versioned::etag(&webhook);
    Ok(http::json_response(HttpResponse::Ok(), &webhook, Some(tag)))
}

/// Unsubscribe
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted, with its deliveries"))
)]
#[delete("/webhooks/{id}")]
async fn delete_webhook(ctx: Ctx, id: actix_web::web::Path<String>) -> ApiResult<HttpResponse> {
    let id: Uuid = http::parse_id::<crate::domain::WebhookId>(&id)?.0;
    let mut conn = ctx.state.writer(&ctx.caller).await?;
    owned(&mut conn, &ctx.caller, id, false).await?;
    diesel::delete(webhooks::table.find(id))
        .execute(&mut conn)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate a subscription's secret
///
/// Deliveries are signed with the new secret at once, and for 24 hours also with the old one
/// (the `webhook-signature` header then carries both), so a receiver can switch over without
/// missing one. The response is the only place the new secret appears.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The subscription with its new secret", body = WebhookWithSecret))
)]
#[post("/webhooks/{id}/secret")]
async fn rotate_secret(ctx: Ctx, id: actix_web::web::Path<String>) -> ApiResult<HttpResponse> {
    let id: Uuid = http::parse_id::<crate::domain::WebhookId>(&id)?.0;
    let caller = &ctx.caller;
    let mut conn = ctx.state.writer(caller).await?;
    let secret = delivery::new_secret()?;
    let webhook = conn
        .transaction(async |conn| -> ApiResult<Webhook> {
            owned(conn, caller, id, true).await?;
            diesel::sql_query(
                "UPDATE webhooks SET previous_secret = secret, \
                 previous_secret_until = now() + interval '24 hours', secret = $2 WHERE id = $1",
            )
            .bind::<diesel::sql_types::Uuid, _>(id)
            .bind::<diesel::sql_types::Text, _>(&secret)
            .execute(conn)
            .await?;
            Ok(owned(conn, caller, id, false).await?.into())
        })
        .await?;
    Ok(HttpResponse::Ok().json(WebhookWithSecret { webhook, secret }))
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = webhook_attempts, check_for_backend(diesel::pg::Pg))]
struct AttemptRow {
    id: i64,
    delivery_id: i64,
    attempted_at: DateTime<Utc>,
    status_code: Option<i16>,
    error: Option<String>,
    duration_ms: i32,
}

/// One attempt to deliver a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttempt {
    /// Sequence number of the attempt.
    pub id: i64,
    /// The delivery's `webhook-id`: the change's feed cursor.
    pub message_id: String,
    /// `pending` (waiting or being retried) or `delivered`.
    #[schema(example = "delivered")]
    pub status: String,
    pub attempted_at: DateTime<Utc>,
    /// What the receiver answered (null when no answer came).
    pub status_code: Option<i16>,
    /// Why the attempt failed, when it did without an answer.
    pub error: Option<String>,
    pub duration_ms: i32,
    /// When the delivery is tried next, while it is pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// List delivery attempts
///
/// Oldest first.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id"), WebhookListParams),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of attempts", body = Page<DeliveryAttempt>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/webhooks/{id}/deliveries")]
async fn list_deliveries(
    ctx: Ctx,
    id: actix_web::web::Path<String>,
    Query(params): Query<WebhookListParams>,
) -> ApiResult<HttpResponse> {
    let id: Uuid = http::parse_id::<crate::domain::WebhookId>(&id)?.0;
    let order = ATTEMPTS.order(None, None)?;
    let paging = Paging::parse(
        &ATTEMPTS,
        &order,
        params.limit,
        params.cursor.as_deref(),
        None,
        false,
    )?;
    let mut conn = ctx.state.conn().await?;
    owned(&mut conn, &ctx.caller, id, false).await?;
    let mut filters = Filters::default();
    filters.equal("a.webhook_id", Some(Value::Uuid(id)));
    let rows = listing::page(&mut conn, &ATTEMPTS, &filters, &order, &paging).await?;
    let ids: Vec<i64> = rows
        .rows
        .iter()
        .map(|r: &AttemptRow| r.delivery_id)
        .collect();
    type DeliveryState = (i64, String, String, DateTime<Utc>);
    let deliveries: HashMap<i64, DeliveryState> = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq_any(&ids))
        .select((
            webhook_deliveries::id,
            webhook_deliveries::message_id,
            webhook_deliveries::status,
            webhook_deliveries::next_attempt_at,
        ))
        .load::<DeliveryState>(&mut conn)
        .await?
        .into_iter()
        .map(|d| (d.0, d))
        .collect();
    Ok(rows
        .map(|a: AttemptRow| {
            let (_, message_id, status, next) =
                deliveries.get(&a.delivery_id).cloned().unwrap_or_default();
            DeliveryAttempt {
                id: a.id,
                next_attempt_at: (status == "pending").then_some(next),
                message_id,
                status,
                attempted_at: a.attempted_at,
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
            }
        })
        .respond(&ctx.req))
}

/// What a ping came to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PingResult {
    /// Whether the receiver answered 2xx.
    pub delivered: bool,
    /// What it answered.
    pub status_code: Option<u16>,
    /// Why there was no answer.
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// Send a test delivery
///
/// POSTs a signed `{"type": "ping", ...}` to the subscription's URL now, with the same headers
/// and signature as a real delivery, and says what the receiver answered. Nothing is queued or
/// retried.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The receiver's answer", body = PingResult))
)]
#[post("/webhooks/{id}/ping")]
async fn ping_webhook(ctx: Ctx, id: actix_web::web::Path<String>) -> ApiResult<HttpResponse> {
    let id: Uuid = http::parse_id::<crate::domain::WebhookId>(&id)?.0;
    type Target = (String, String, Option<String>, Option<DateTime<Utc>>);
    let (url, secret, previous, until): Target = {
        let mut conn = ctx.state.conn().await?;
        owned(&mut conn, &ctx.caller, id, false).await?;
        webhooks::table
            .find(id)
            .select((
                webhooks::url,
                webhooks::secret,
                webhooks::previous_secret,
                webhooks::previous_secret_until,
            ))
            .first(&mut conn)
            .await?
    };
    let mut secrets = vec![secret];
    secrets.extend(previous.filter(|_| until.is_some_and(|u| u > Utc::now())));
    let body = serde_json::to_vec(&serde_json::json!({
        "type": "ping",
        "webhook": id,
        "sent_at": Utc::now(),
    }))
    .unwrap_or_default();
    let config = &ctx.state.webhooks;
    let outcome = delivery::send(
        &delivery::client(config),
        config,
        &url,
        &format!("ping_{}", Uuid::now_v7().simple()),
        &body,
        &secrets,
    )
    .await;
    Ok(HttpResponse::Ok().json(PingResult {
        delivered: outcome.delivered(),
        status_code: outcome.status,
        error: outcome.error,
        duration_ms: outcome.duration.as_millis() as u64,
    }))
}

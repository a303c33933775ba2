//! `/v1/api-keys`: create, list and revoke API keys (admin only), and `kopa keys create`.

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::keys::{self, KeySpec};
use crate::auth::{Access, Caller, Scope};
use crate::config::KeyCreateArgs;
use crate::domain::{ApiKeyId, Id};
use crate::resources::record::Ctx;
use crate::schema::{api_keys, organisations};
use crate::state::AppState;
use crate::validation;
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::{self, Json, NoParams, Query};
use crate::web::listing::{self, Filters, Paging, Source, Value};
use crate::web::pagination::Page;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_api_keys)
        .service(create_api_key)
        .service(create_successor)
        .service(expire_current_key)
        .service(revoke_api_key);
}

/// A new API key.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    /// The organisation the key acts for. Only an operator key whose single scope is `admin` may
    /// leave it out.
    pub organisation_id: Option<Uuid>,
    /// A name to recognise the key by, e.g. the partner system that uses it.
    #[validate(length(min = 1, max = 100), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 100, example = "LSK reporting system")]
    pub name: String,
    /// What the key may do.
    #[validate(length(min = 1, max = 6))]
    #[schema(min_items = 1, max_items = 6, example = json!(["metrics:write"]))]
    pub scopes: Vec<Scope>,
    /// When the key stops working (default: never).
    pub expires_at: Option<DateTime<Utc>>,
}

/// An API key as listed: never the secret itself.
#[derive(Debug, Serialize, ToSchema, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKey {
    pub id: Uuid,
    /// The organisation the key acts for (`null` for an operator key).
    pub organisation_id: Option<Uuid>,
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    #[schema(example = "kopa_Zk3xQ9a")]
    pub prefix: String,
    #[diesel(deserialize_as = Vec<String>)]
    #[schema(value_type = Vec<Scope>)]
    pub scopes: ScopeList,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last authenticated use (refreshed at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The key that created this one as its successor.
    pub predecessor_id: Option<Uuid>,
}

/// Scopes read from the `text[]` column.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct ScopeList(Vec<Scope>);

impl From<Vec<String>> for ScopeList {
    fn from(raw: Vec<String>) -> Self {
        ScopeList(raw.iter().filter_map(|s| s.parse().ok()).collect())
    }
}

/// A key just created: the only response that carries the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub record: ApiKey,
    /// The key. Send it as `Authorization: Bearer <key>`. It is not stored and cannot be shown
    /// again.
    #[schema(example = "kopa_Zk3xQ9aV1c8mJ0bq2Yt7LrW5sNn4hGe6dPfKoXiU")]
    pub key: String,
}

/// 201 with the new key `id`, its `Location` and its secret.
async fn created(conn: &mut AsyncPgConnection, id: Uuid, token: String) -> ApiResult<HttpResponse> {
    let record = find(conn, id).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/v1/api-keys/{id}"),
        ))
        .json(ApiKeyCreated { record, key: token }))
}

async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<ApiKey> {
    api_keys::table
        .find(id)
        .select(ApiKey::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("API key", id))
}

crate::list_params! {
    pub struct ApiKeyListParams ("Page size.") {
        /// Only keys of this organisation.
        pub organisation: Option<Uuid>,
    }
}

static SOURCE: Source = Source {
    table: "api_keys",
    alias: "k",
    columns: &COLUMNS,
    sorts: &[],
    default_sort: "id",
    id_type: "uuid",
};
static COLUMNS: std::sync::LazyLock<String> = crate::list_columns!(api_keys, ApiKey, "k");

/// List API keys (admin)
#[utoipa::path(
    tag = "api-keys",
    params(ApiKeyListParams),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of keys", body = Page<ApiKey>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/api-keys")]
async fn list_api_keys(
    ctx: Ctx,
    Query(params): Query<ApiKeyListParams>,
) -> ApiResult<HttpResponse> {
    let order = SOURCE.order(None, None)?;
    let paging = Paging::of(&params, &SOURCE, &order, false)?;
    let mut conn = ctx.state.conn().await?;
    ctx.caller.authorize(&mut conn, Access::Registry).await?;
    let mut filters = Filters::default();
    filters.equal("k.organisation_id", params.organisation.map(Value::Uuid));
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows.map(|k: ApiKey| k).respond(&ctx.req))
}

/// Create an API key (admin)
///
/// The response is the only place the key appears; store it.
#[utoipa::path(
    tag = "api-keys",
    request_body = ApiKeyInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `key` holds the secret", body = ApiKeyCreated,
            headers(("Location" = String, description = "URL of the new key"))),
    )
)]
#[post("/api-keys")]
async fn create_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<ApiKeyInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.writer(&caller).await?;
    caller.authorize(&mut conn, Access::Registry).await?;
    validation::validate(&input)?;
    let (id, token) = keys::create(
        &mut conn,
        KeySpec {
            organisation_id: input.organisation_id,
            name: input.name,
            scopes: input.scopes,
            expires_at: input.expires_at,
            created_by: caller.key().map(|k| k.id),
        },
    )
    .await?;
    created(&mut conn, id, token).await
}

/// What a key asks of its successor.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuccessorInput {
    /// The new key's name (default: this key's).
    #[validate(length(min = 1, max = 100), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 100,
        example = "LSK reporting system 2027"
    )]
    pub name: Option<String>,
    /// When the new key stops working (default: when this one would have; never later).
    pub expires_at: Option<DateTime<Utc>>,
    /// When this key stops working (default: in 24 hours, so a partner can switch over; never
    /// later than it would have).
    pub retire_at: Option<DateTime<Utc>>,
}

/// A key's own new expiry.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpiryInput {
    /// When this key stops working: no later than it would have.
    pub expires_at: DateTime<Utc>,
}

/// `asked`, unless it is later than the key's own `limit` (an operator's expiry carries over).
fn within(
    field: &str,
    asked: Option<DateTime<Utc>>,
    limit: Option<DateTime<Utc>>,
) -> ApiResult<Option<DateTime<Utc>>> {
    match (asked, limit) {
        (Some(asked), Some(limit)) if asked > limit => Err(ApiError::invalid(
            field,
            "out_of_range",
            format!("must not be later than this key's own expiry ({limit})"),
        )),
        (Some(asked), _) if asked < Utc::now() => Err(ApiError::invalid(
            field,
            "out_of_range",
            "must not be in the past",
        )),
        (asked, limit) => Ok(asked.or(limit)),
    }
}

/// The calling key's stored record.
async fn current(conn: &mut AsyncPgConnection, caller: &Caller) -> ApiResult<ApiKey> {
    caller.authorize(conn, Access::OwnKey).await?;
    let id = caller
        .key()
        .map(|k| k.id)
        .ok_or_else(ApiError::key_required)?;
    find(conn, id).await
}

/// Rotate the calling key
///
/// Creates the calling key's successor — same organisation, same scopes — and sets when the
/// calling key stops working (by default in 24 hours), so a partner can rotate its key without
/// the operator. Neither key outlives the calling key's own expiry. The response is the only
/// place the new key appears; store it.
#[utoipa::path(
    tag = "api-keys",
    request_body = SuccessorInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `key` holds the new secret", body = ApiKeyCreated,
            headers(("Location" = String, description = "URL of the new key"))),
    )
)]
#[post("/api-keys/current/successor")]
async fn create_successor(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<SuccessorInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.writer(&caller).await?;
    let (id, token) = conn
        .transaction(async |conn| -> ApiResult<(Uuid, String)> {
            let own = current(conn, &caller).await?;
            validation::validate(&input)?;
            let expires_at = within("expires_at", input.expires_at, own.expires_at)?;
            let default_retirement = Utc::now() + chrono::Duration::hours(24);
            let retire_at = within(
                "retire_at",
                Some(input.retire_at.unwrap_or(default_retirement)),
                own.expires_at,
            )
            .or_else(|e| match (input.retire_at, own.expires_at) {
                (None, Some(limit)) => Ok(Some(limit)),
                _ => Err(e),
            })?;
            let (id, token) = keys::create(
                conn,
                KeySpec {
                    organisation_id: own.organisation_id,
                    name: input.name.unwrap_or(own.name),
                    scopes: own.scopes.0,
                    expires_at,
                    created_by: Some(own.id),
                },
            )
            .await?;
            diesel::update(api_keys::table.find(id))
                .set(api_keys::predecessor_id.eq(own.id))
                .execute(conn)
                .await?;
            diesel::update(api_keys::table.find(own.id))
                .set(api_keys::expires_at.eq(retire_at))
                .execute(conn)
                .await?;
            Ok((id, token))
        })
        .await?;
    created(&mut conn, id, token).await
}

/// Set the calling key's expiry
///
/// A key may bring its own end forward (never past an expiry the operator gave it).
#[utoipa::path(
    tag = "api-keys",
    request_body = ExpiryInput,
    security(("bearer" = [])),
    responses((status = 200, description = "The key", body = ApiKey))
)]
#[post("/api-keys/current/expiry")]
async fn expire_current_key(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<ExpiryInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.writer(&caller).await?;
    let own = current(&mut conn, &caller).await?;
    let expires_at = within("expires_at", Some(input.expires_at), own.expires_at)?;
    diesel::update(api_keys::table.find(own.id))
        .set(api_keys::expires_at.eq(expires_at))
        .execute(&mut conn)
        .await?;
    let record = find(&mut conn, own.id).await?;
    Ok(HttpResponse::Ok().json(record))
}

/// Revoke an API key (admin)
///
/// The key stops working at once; the record stays for the audit trail. Revoking twice is fine.
#[utoipa::path(
    tag = "api-keys",
    params(("id" = Uuid, Path, description = "API key id"), NoParams),
    security(("bearer" = [])),
    responses((status = 204, description = "Revoked"))
)]
#[delete("/api-keys/{id}")]
async fn revoke_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let id: ApiKeyId = http::parse_id(&id)?;
    let mut conn = state.writer(&caller).await?;
    caller.authorize(&mut conn, Access::Registry).await?;
    let revoked = diesel::update(api_keys::table.find(id.uuid()))
        .set(api_keys::revoked_at.eq(Some(Utc::now())))
        .filter(api_keys::revoked_at.is_null())
        .execute(&mut conn)
        .await?;
    if revoked == 0 {
        find(&mut conn, id.uuid()).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `kopa keys create`: the organisation may be given by id, registration number or name.
pub async fn create_from_cli(
    conn: &mut AsyncPgConnection,
    args: &KeyCreateArgs,
) -> anyhow::Result<(Uuid, String)> {
    let scopes = args
        .scopes
        .iter()
        .map(|s| {
            s.parse::<Scope>().map_err(|_| {
                anyhow::anyhow!(
                    "unknown scope {s:?}; use metrics:write, projects:write, read:private, webhooks:manage, metrics:verify or admin"
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let organisation_id = match &args.organisation {
        None => None,
        Some(given) => {
            let mut query = organisations::table.select(organisations::id).into_boxed();
            query =
                match given.parse::<Uuid>() {
                    Ok(id) => query.filter(organisations::id.eq(id)),
                    Err(_) => query.filter(
                        organisations::registration_number.eq(given.clone()).or(
                            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(name) = lower(")
                                .bind::<diesel::sql_types::Text, _>(given.clone())
                                .sql(")"),
                        ),
                    ),
                };
            let found: Vec<Uuid> = query.load(conn).await?;
            match found.as_slice() {
                [id] => Some(*id),
                [] => {
                    anyhow::bail!("no organisation with id, registration number or name {given:?}")
                }
                _ => anyhow::bail!("several organisations match {given:?}; give the id"),
            }
        }
    };
    keys::create(
        conn,
        KeySpec {
            organisation_id,
            name: args.name.clone(),
            scopes,
            expires_at: args.expires_at,
            created_by: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
}

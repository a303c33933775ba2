//! API key secrets: `kopa_` + 40 base64url characters (240 random bits). Only the SHA-256 of
//! the whole key is stored; the first [`PREFIX_LEN`] characters are stored in clear to find the
//! row and to name the key in listings. High entropy makes a fast hash safe here (no password
//! stretching needed); the stored and computed hashes are compared in constant time.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::{KeyIdentity, Scope};
use crate::schema::api_keys;
use crate::web::error::{ApiError, ApiResult};

pub const TOKEN_PREFIX: &str = "kopa_";
pub const PREFIX_LEN: usize = 12;
const TOKEN_LEN: usize = TOKEN_PREFIX.len() + 40;

/// A freshly generated key: the secret (shown once) and what is stored about it.
pub struct NewSecret {
    pub token: String,
    pub prefix: String,
    pub hash: Vec<u8>,
}

pub fn generate() -> anyhow::Result<NewSecret> {
    let mut random = [0u8; 30];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
    );
    Ok(NewSecret {
        prefix: token[..PREFIX_LEN].to_owned(),
        hash: hash(&token),
        token,
    })
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
struct Candidate {
    id: Uuid,
    organisation_id: Option<Uuid>,
    secret_hash: Vec<u8>,
    scopes: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

fn invalid(detail: &str) -> ApiError {
    ApiError::Unauthorized {
        detail: detail.to_owned(),
        invalid_token: true,
    }
}

/// Finds the key a bearer token names; unknown, revoked and expired keys are a 401.
/// `last_used_at` is refreshed at most once a minute per key.
pub async fn authenticate(conn: &mut AsyncPgConnection, token: &str) -> ApiResult<KeyIdentity> {
    if token.len() != TOKEN_LEN || !token.starts_with(TOKEN_PREFIX) || !token.is_ascii() {
        return Err(invalid("the API key is malformed"));
    }
    let candidates: Vec<Candidate> = api_keys::table
        .filter(api_keys::prefix.eq(&token[..PREFIX_LEN]))
        .select(Candidate::as_select())
        .load(conn)
        .await?;
    let presented = hash(token);
    let key = candidates
        .into_iter()
        .find(|c| bool::from(c.secret_hash.ct_eq(&presented)))
        .ok_or_else(|| invalid("unknown API key"))?;
    let now = Utc::now();
    if key.revoked_at.is_some() {
        return Err(invalid("the API key has been revoked"));
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(invalid("the API key has expired"));
    }
    if key
        .last_used_at
        .is_none_or(|at| now - at > chrono::Duration::minutes(1))
    {
        diesel::update(api_keys::table.find(key.id))
            .set(api_keys::last_used_at.eq(now))
            .execute(conn)
            .await?;
    }
    let scopes = key
        .scopes
        .iter()
        .filter_map(|s| s.parse::<Scope>().ok())
        .collect();
    Ok(KeyIdentity {
        id: key.id,
        organisation_id: key.organisation_id,
        scopes,
    })
}

/// What creating a key needs.
pub struct KeySpec {
    pub organisation_id: Option<Uuid>,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
}

/// Stores a new key and returns its id with the secret, which exists nowhere else afterwards.
pub async fn create(conn: &mut AsyncPgConnection, spec: KeySpec) -> ApiResult<(Uuid, String)> {
    if spec.organisation_id.is_none() && spec.scopes != [Scope::Admin] {
        return Err(ApiError::invalid(
            "organisation_id",
            "required",
            "only an operator key with the single scope `admin` may belong to no organisation",
        ));
    }
    let secret = generate()?;
    let id = Uuid::now_v7();
    let mut scopes: Vec<String> = spec.scopes.iter().map(|s| s.as_str().to_owned()).collect();
    scopes.sort();
    scopes.dedup();
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(id),
            api_keys::organisation_id.eq(spec.organisation_id),
            api_keys::name.eq(&spec.name),
            api_keys::prefix.eq(&secret.prefix),
            api_keys::secret_hash.eq(&secret.hash),
            api_keys::scopes.eq(scopes),
            api_keys::expires_at.eq(spec.expires_at),
            api_keys::created_by.eq(spec.created_by),
        ))
        .execute(conn)
        .await?;
    Ok((id, secret.token))
}

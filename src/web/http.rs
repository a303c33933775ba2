//! Request extractors and response helpers shared by every resource.
//!
//! actix's own `Json`/`Query`/`Path` extractors answer with plain-text errors that do not name
//! the field; these answer with problem+json naming the field or parameter, and they reject
//! unknown fields and parameters instead of ignoring them.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, EntityTag, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::Id;
use crate::web::error::{ApiError, ApiResult, FieldError};
use crate::web::params;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The body limit of bulk endpoints (10,000 batch items of about 400 bytes fit easily).
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// A JSON request body. Requires `Content-Type: application/json` (or any `+json` type).
pub struct Json<T>(pub T);

/// A JSON Merge Patch (RFC 7396) body: `application/merge-patch+json` or `application/json`,
/// and it must be an object.
pub struct MergePatch(pub serde_json::Map<String, serde_json::Value>);

/// Query parameters, rejecting unknown parameters and naming the one that is wrong.
pub struct Query<T>(pub T);

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

fn is_json_content_type(headers: &HeaderMap, extra: Option<&str>) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || extra.is_some_and(|e| essence == e)
        || (extra.is_none() && essence.ends_with("+json"))
}

async fn read_body(req: &HttpRequest, payload: &mut Payload, limit: usize) -> ApiResult<Vec<u8>> {
    let too_large =
        || ApiError::PayloadTooLarge(format!("the request body must not exceed {limit} bytes"));
    if let Some(length) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
    {
        if length.parse::<usize>().is_ok_and(|n| n > limit) {
            return Err(too_large());
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest {
            detail: format!("could not read the request body: {e}"),
            errors: Vec::new(),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Deserializes a JSON body, telling syntax errors (400) from content errors (422, with the
/// path of the offending field). Strings holding NUL characters are refused here: PostgreSQL
/// text cannot store them.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| syntax_error(&e))?;
    if let Some(path) = nul_path(&value, String::new()) {
        return Err(ApiError::invalid(
            path,
            "invalid",
            "text must not contain NUL characters",
        ));
    }
    from_value(value)
}

/// The path of the first string (or key) containing a NUL character.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::String(s) if s.contains('\0') => {
            Some(if path.is_empty() { "body".into() } else { path })
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join("<key>"))
            } else {
                nul_path(v, join(k))
            }
        }),
        _ => None,
    }
}

fn syntax_error(error: &serde_json::Error) -> ApiError {
    ApiError::BadRequest {
        detail: format!("the request body is not valid JSON: {error}"),
        errors: Vec::new(),
    }
}

pub use crate::web::body::from_value;

impl<T: DeserializeOwned + validator::Validate + utoipa::ToSchema + 'static> FromRequest
    for Json<T>
{
    type Error = ApiError;
    type Future = LocalBoxFuture<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json_content_type(req.headers(), None) {
                return Err(ApiError::UnsupportedMediaType(
                    "the request body must be application/json".into(),
                ));
            }
            let body = read_body(&req, &mut payload, MAX_BODY_BYTES).await?;
            let value: serde_json::Value = parse_json(&body)?;
            crate::web::body::decode(&T::name(), value).map(Json)
        })
    }
}

/// Reads a body of any type of up to `limit` bytes (for handlers that take several formats);
/// the same 400/413 answers as [`Json`].
pub async fn read_raw_body(
    req: &HttpRequest,
    payload: actix_web::web::Payload,
    limit: usize,
) -> ApiResult<Vec<u8>> {
    let mut payload = payload.into_inner();
    read_body(req, &mut payload, limit).await
}

/// Reads a JSON body of up to `limit` bytes into a value (for handlers that validate the
/// content piece by piece, such as batches); the same 400/413/415 answers as [`Json`].
pub async fn read_json_body(
    req: &HttpRequest,
    payload: actix_web::web::Payload,
    limit: usize,
) -> ApiResult<serde_json::Value> {
    if !is_json_content_type(req.headers(), None) {
        return Err(ApiError::UnsupportedMediaType(
            "the request body must be application/json".into(),
        ));
    }
    let mut payload = payload.into_inner();
    let body = read_body(req, &mut payload, limit).await?;
    parse_json(&body)
}

impl FromRequest for MergePatch {
    type Error = ApiError;
    type Future = LocalBoxFuture<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json_content_type(req.headers(), Some("application/merge-patch+json")) {
                return Err(ApiError::UnsupportedMediaType(
                    "a PATCH body must be application/merge-patch+json (or application/json)"
                        .into(),
                ));
            }
            let body = read_body(&req, &mut payload, MAX_BODY_BYTES).await?;
            match parse_json::<serde_json::Value>(&body)? {
                serde_json::Value::Object(map) => Ok(MergePatch(map)),
                _ => Err(ApiError::invalid(
                    "body",
                    "invalid_type",
                    "a merge patch must be a JSON object",
                )),
            }
        })
    }
}

impl<T: DeserializeOwned + utoipa::IntoParams + 'static> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

/// Parses a query string into `T`, first refusing (400, every offender named) the values that
/// break a rule `T` declares in the spec.
pub fn parse_query<T: DeserializeOwned + utoipa::IntoParams + 'static>(
    query: &str,
) -> ApiResult<T> {
    broken_rules(params::violations::<T>(query))?;
    deserialize_query(query)
}

fn broken_rules(errors: Vec<FieldError>) -> ApiResult<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let detail = errors
        .iter()
        .map(|e| format!("query parameter `{}`: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    Err(ApiError::BadRequest { detail, errors })
}

fn deserialize_query<T: DeserializeOwned>(query: &str) -> ApiResult<T> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    if let Some((name, _)) = pairs
        .clone()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::bad_param(
            &name.replace('\0', ""),
            "invalid",
            "parameters must not contain NUL characters",
        ));
    }
    let deserializer = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let quoted = message.split('`').nth(1).map(str::to_owned);
        if message.starts_with("unknown field") {
            let name = quoted.unwrap_or_default();
            return ApiError::bad_param(
                &name,
                "unknown_parameter",
                format!("unknown query parameter `{name}`"),
            );
        }
        if message.starts_with("duplicate field") {
            let name = quoted.unwrap_or_default();
            return ApiError::bad_param(
                &name,
                "duplicate_parameter",
                format!("`{name}` is given more than once"),
            );
        }
        let name = if path == "." {
            quoted.unwrap_or_default()
        } else {
            path
        };
        ApiError::bad_param(&name, "invalid", message)
    })
}

/// A path segment that must be the id of a `T`; anything else is a 404 for that resource.
pub fn parse_id<T: Id>(raw: &str) -> ApiResult<T> {
    uuid::Uuid::parse_str(raw)
        .map(T::from_uuid)
        .map_err(|_| ApiError::NotFound(format!("no {} with id {raw:?}: ids are UUIDs", T::NAME)))
}

/// Strong entity tag of a stored record: it changes exactly when the record's version does.
pub fn etag(id: &uuid::Uuid, version: i32) -> EntityTag {
    EntityTag::new_strong(format!("{}-{version}", id.simple()))
}

fn header_tags(headers: &HeaderMap, name: header::HeaderName) -> Option<Vec<String>> {
    let values: Vec<String> = headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    (!values.is_empty()).then_some(values)
}

/// `If-None-Match` matches the current tag (weak comparison, as RFC 9110 prescribes for it).
pub fn not_modified(req: &HttpRequest, current: &EntityTag) -> bool {
    header_tags(req.headers(), header::IF_NONE_MATCH).is_some_and(|tags| {
        tags.iter()
            .any(|t| t == "*" || t.parse::<EntityTag>().is_ok_and(|t| t.weak_eq(current)))
    })
}

/// The `If-Match` precondition of a request, taken out of it so it can travel into a
/// (`Send`) transaction. Absent or matching passes; anything else is a 412.
#[derive(Debug, Clone)]
pub struct IfMatch(Option<Vec<String>>);

impl IfMatch {
    pub fn from_request(req: &HttpRequest) -> Self {
        IfMatch(header_tags(req.headers(), header::IF_MATCH))
    }

    /// Strong comparison, as RFC 9110 prescribes for `If-Match`.
    pub fn check(&self, current: &EntityTag) -> ApiResult<()> {
        match &self.0 {
            None => Ok(()),
            Some(tags) if tags.iter().any(|t| t == "*" || t.parse::<EntityTag>().is_ok_and(|t| t.strong_eq(current))) => Ok(()),
            Some(_) => Err(ApiError::PreconditionFailed(format!(
                "If-Match does not match the current version (ETag {current}); fetch the record again"
            ))),
        }
    }
}

/// 304 for a client that already holds `tag`.
pub fn not_modified_response(tag: EntityTag) -> HttpResponse {
    HttpResponse::NotModified()
        .insert_header(header::ETag(tag))
        .finish()
}

/// 200 with a strong ETag, or 304 when `If-None-Match` already has it.
pub fn record_response<T: Serialize>(req: &HttpRequest, tag: EntityTag, body: &T) -> HttpResponse {
    if not_modified(req, &tag) {
        return not_modified_response(tag);
    }
    json_response(HttpResponse::Ok(), body, Some(tag))
}

pub fn json_response<T: Serialize>(
    mut builder: HttpResponseBuilder,
    body: &T,
    tag: Option<EntityTag>,
) -> HttpResponse {
    if let Some(tag) = tag {
        builder.insert_header(header::ETag(tag));
    }
    match serde_json::to_vec(body) {
        Ok(bytes) => builder.content_type("application/json").body(bytes),
        Err(e) => actix_web::ResponseError::error_response(&ApiError::Internal(e.into())),
    }
}

/// 201 with `Location` and `ETag`.
pub fn created<T: Serialize>(location: String, tag: EntityTag, body: &T) -> HttpResponse {
    let mut builder = HttpResponse::build(StatusCode::CREATED);
    builder.insert_header((header::LOCATION, location));
    json_response(builder, body, Some(tag))
}

/// Query parameters in two groups, each declared (and documented in the spec) by its own type:
/// an operation's own parameters and filters shared with other operations. A parameter that
/// neither knows is refused as unknown.
pub struct Query2<A, B>(pub A, pub B);

impl<A, B> FromRequest for Query2<A, B>
where
    A: DeserializeOwned + utoipa::IntoParams + 'static,
    B: DeserializeOwned + utoipa::IntoParams + 'static,
{
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(split_query(req.query_string()))
    }
}

fn param_names<P: utoipa::IntoParams>() -> Vec<String> {
    P::into_params(|| None)
        .into_iter()
        .map(|p| p.name)
        .collect()
}

fn split_query<A, B>(query: &str) -> ApiResult<Query2<A, B>>
where
    A: DeserializeOwned + utoipa::IntoParams + 'static,
    B: DeserializeOwned + utoipa::IntoParams + 'static,
{
    // The shared group's names decide (it declares every parameter it takes); the rest,
    // unknown names included, go to the operation's own group, which refuses what it does not
    // know with the same 400 as anywhere.
    let shared = param_names::<B>();
    let mut first = form_urlencoded::Serializer::new(String::new());
    let mut second = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if shared.iter().any(|n| *n == name) {
            second.append_pair(&name, &value);
        } else {
            first.append_pair(&name, &value);
        }
    }
    let (first, second) = (first.finish(), second.finish());
    let mut errors = params::violations::<A>(&first);
    errors.extend(params::violations::<B>(&second));
    broken_rules(errors)?;
    Ok(Query2(
        deserialize_query(&first)?,
        deserialize_query(&second)?,
    ))
}

/// A parameter that takes several values, comma-separated (`region=latgale,kurzeme`): any of
/// them matches (OR within a parameter; parameters combine with AND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Many<T>(pub Vec<T>);

impl<'de, T: std::str::FromStr> serde::Deserialize<'de> for Many<T>
where
    T::Err: std::fmt::Display,
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        let values = raw
            .split(',')
            .map(|v| {
                let v = v.trim();
                if v.is_empty() {
                    return Err(serde::de::Error::custom("an empty value in the list"));
                }
                v.parse::<T>()
                    .map_err(|e| serde::de::Error::custom(format!("{v:?}: {e}")))
            })
            .collect::<Result<Vec<T>, D::Error>>()?;
        if values.len() > 50 {
            return Err(serde::de::Error::custom("at most 50 values"));
        }
        Ok(Many(values))
    }
}

impl<T: Clone> Many<T> {
    pub fn values(&self) -> Vec<T> {
        self.0.clone()
    }
}

/// Query parameters of endpoints that take none: any parameter is refused as unknown.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoParams {}

/// Collects the members of `patch` that `document` does not have, recursing into objects.
fn unknown_members(
    document: &serde_json::Value,
    patch: &serde_json::Map<String, serde_json::Value>,
    prefix: &str,
    unknown: &mut Vec<FieldError>,
) {
    for (key, value) in patch {
        let field = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (document.get(key.as_str()), value) {
            (None, _) => unknown.push(FieldError::new(
                field,
                "unknown_field",
                format!("unknown field `{key}`"),
            )),
            (Some(inner @ serde_json::Value::Object(_)), serde_json::Value::Object(members)) => {
                unknown_members(inner, members, &field, unknown)
            }
            _ => {}
        }
    }
}

/// Applies a JSON Merge Patch (RFC 7396) to the writable form of a record and reads the result
/// back, so unknown fields, wrong types and cleared required fields are reported like a create's.
pub fn merge<T: Serialize + DeserializeOwned + validator::Validate + utoipa::ToSchema>(
    current: &T,
    patch: serde_json::Map<String, serde_json::Value>,
) -> ApiResult<T> {
    let mut document = serde_json::to_value(current).map_err(|e| ApiError::Internal(e.into()))?;
    // Every writable field is in `document` (as `null` when empty), so a member it lacks is
    // unknown; a `null` for it would otherwise vanish in the merge instead of being refused.
    let mut unknown = Vec::new();
    unknown_members(&document, &patch, "", &mut unknown);
    json_patch::merge(&mut document, &serde_json::Value::Object(patch));
    match (
        crate::web::body::decode::<T>(&T::name(), document),
        unknown.is_empty(),
    ) {
        (Ok(input), true) => Ok(input),
        (Ok(_), false) => Err(ApiError::Validation(unknown)),
        (Err(ApiError::Validation(mut errors)), _) => {
            errors.extend(unknown);
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            errors.dedup();
            Err(ApiError::Validation(errors))
        }
        (Err(other), _) => Err(other),
    }
}

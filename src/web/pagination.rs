//! Keyset pagination: `limit` + an opaque `cursor`, `{"data": [...], "next_cursor": ...}` and a
//! `Link: <...>; rel="next"` header. The cursor encodes the last row's key (and which ordering it
//! belongs to), so page N costs what page 1 costs and rows inserted meanwhile never shift a page.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::web::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    /// The records on this page, in list order.
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    #[schema(example = "eyJrIjoiMDE5M2EzYzQtNWQ2ZS03ZjgwLTlhMWItMmMzZDRlNWY2YTdiIn0")]
    pub next_cursor: Option<String>,
    /// Total number of records matching the filters; present only with `count=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 42, nullable = false)]
    pub total: Option<i64>,
    /// Counts of the records the filters select by each value of the fields `facets=` names
    /// (lists that offer facets, with `facets`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub facets: Option<std::collections::BTreeMap<String, Vec<FacetCount>>>,
}

/// How many of the selected records have one value of a field.
#[derive(Debug, Clone, Serialize, ToSchema, diesel::QueryableByName)]
pub struct FacetCount {
    /// The value: a code, a status or an id (`null` for records without one).
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    #[schema(example = "latgale")]
    pub value: Option<String>,
    /// Its label or name, where it has one.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    #[schema(example = "Latgale")]
    pub label: Option<String>,
    /// How many selected records have it.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    #[schema(example = 12)]
    pub count: i64,
}

#[derive(Serialize, Deserialize)]
struct CursorBody<K> {
    /// The ordering this cursor belongs to, so a cursor cannot be reused under another `sort`.
    s: String,
    /// The last returned row's key.
    k: K,
}

/// Validates `limit` (1..=200, default 50).
pub fn limit(raw: Option<i64>) -> ApiResult<i64> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_param(
            "limit",
            "out_of_range",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

pub fn decode_cursor<K: DeserializeOwned>(raw: Option<&str>, sort: &str) -> ApiResult<Option<K>> {
    let Some(raw) = raw else { return Ok(None) };
    let bad = || {
        ApiError::bad_param(
            "cursor",
            "invalid",
            "cursor is not one this list returned; start again without it",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let body: CursorBody<K> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if body.s != sort {
        return Err(ApiError::bad_param(
            "cursor",
            "invalid",
            "cursor belongs to another sort order",
        ));
    }
    Ok(Some(body.k))
}

pub fn encode_cursor<K: Serialize>(key: &K, sort: &str) -> String {
    let body = CursorBody {
        s: sort.to_owned(),
        k: key,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).unwrap_or_default())
}

impl<T: ToSchema + Serialize> Page<T> {
    /// 200 with the page as JSON and, when there is a next page, a `Link` header to it.
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let mut builder = HttpResponse::Ok();
        if let Some(cursor) = &self.next_cursor {
            builder.insert_header((
                header::LINK,
                format!("<{}>; rel=\"next\"", next_url(req, cursor)),
            ));
        }
        crate::web::http::json_response(builder, self, None)
    }
}

/// The request's own URL with `cursor` replaced.
fn next_url(req: &HttpRequest, cursor: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(req.query_string().as_bytes()) {
        if k != "cursor" {
            query.append_pair(&k, &v);
        }
    }
    query.append_pair("cursor", cursor);
    format!("{}?{}", req.path(), query.finish())
}

//! Indicators: the catalogue of kinds of outcome numbers, so numbers add up across projects.
//! Addressed by their stable `code`.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::app::AppState;
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::{self, IfMatch, Json, MergePatch, NoParams, Query};
use crate::pagination::{self, Page};
use crate::schema::{indicators, metric_values};
use crate::validation;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_indicators)
        .service(create_indicator)
        .service(find_indicator)
        .service(update_indicator)
        .service(delete_indicator);
}

crate::text_enum! {
    /// How one project's values of an indicator combine over periods and activities: `sum` adds
    /// them (people trained), `max` takes the largest (a capacity), `latest` takes the most
    /// recent period's (a running total). Stats then add the per-project figures.
    Aggregation { Sum => "sum", Max => "max", Latest => "latest" }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = indicators, check_for_backend(diesel::pg::Pg))]
pub struct IndicatorRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub name_lv: Option<String>,
    pub description: Option<String>,
    pub unit: String,
    pub aggregation: Aggregation,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The writable fields of an indicator (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = indicators, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
pub struct IndicatorInput {
    /// Stable code (lower-case letters, digits, `_`), unique.
    #[validate(custom(function = "validation::code"))]
    #[schema(
        pattern = "^[a-z][a-z0-9_]{0,63}$",
        max_length = 64,
        example = "people_trained"
    )]
    pub code: String,
    /// English name.
    #[validate(length(min = 1, max = 200), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 200, example = "People trained")]
    pub name: String,
    /// Latvian name.
    #[validate(length(min = 1, max = 200), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 200, example = "Apmācītās personas")]
    pub name_lv: Option<String>,
    /// What is counted and how.
    #[validate(length(max = 2000))]
    #[schema(
        max_length = 2000,
        example = "People who completed a training course of the project."
    )]
    pub description: Option<String>,
    /// Unit: a code from `/v1/vocabularies/units`.
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "person")]
    pub unit: String,
    /// How values combine across projects and periods.
    pub aggregation: Aggregation,
}

/// A catalogued kind of outcome number.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Indicator {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a80")]
    pub id: Uuid,
    /// Stable code.
    #[schema(example = "people_trained")]
    pub code: String,
    /// English name.
    #[schema(example = "People trained")]
    pub name: String,
    /// Latvian name.
    #[schema(example = "Apmācītās personas")]
    pub name_lv: Option<String>,
    /// What is counted and how.
    #[schema(example = "People who completed a training course of the project.")]
    pub description: Option<String>,
    /// Unit code (`/v1/vocabularies/units`).
    #[schema(example = "person")]
    pub unit: String,
    /// How values combine.
    pub aggregation: Aggregation,
    /// When the record was created.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub updated_at: DateTime<Utc>,
    /// 1 at creation, +1 on every change.
    #[schema(example = 1, minimum = 1)]
    pub version: i32,
}

impl From<IndicatorRow> for Indicator {
    fn from(r: IndicatorRow) -> Self {
        Indicator {
            id: r.id,
            code: r.code,
            name: r.name,
            name_lv: r.name_lv,
            description: r.description,
            unit: r.unit,
            aggregation: r.aggregation,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

impl From<IndicatorRow> for IndicatorInput {
    fn from(r: IndicatorRow) -> Self {
        IndicatorInput {
            code: r.code,
            name: r.name,
            name_lv: r.name_lv,
            description: r.description,
            unit: r.unit,
            aggregation: r.aggregation,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IndicatorListParams {
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Include the total number of matching records.
    pub count: Option<bool>,
    /// Only indicators measured in this unit.
    #[param(example = "person")]
    pub unit: Option<String>,
}

const SORT: &str = "code";

/// List indicators
///
/// Ordered by code.
#[utoipa::path(
    tag = "indicators",
    params(IndicatorListParams),
    responses((status = 200, description = "One page of indicators", body = Page<Indicator>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/indicators")]
async fn list_indicators(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Query(params): Query<IndicatorListParams>,
) -> ApiResult<HttpResponse> {
    let limit = pagination::limit(params.limit)?;
    let after: Option<String> = pagination::decode_cursor(params.cursor.as_deref(), SORT)?;
    let filtered = || {
        let mut query = indicators::table.into_boxed();
        if let Some(unit) = &params.unit {
            query = query.filter(indicators::unit.eq(unit.clone()));
        }
        query
    };
    let mut conn = state.reader(&caller).await?;
    let mut query = filtered()
        .select(IndicatorRow::as_select())
        .order(indicators::code)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(indicators::code.gt(after));
    }
    let rows: Vec<IndicatorRow> = query.load(&mut conn).await?;
    let total = match params.count {
        Some(true) => Some(filtered().count().get_result::<i64>(&mut conn).await?),
        _ => None,
    };
    let rows = rows.into_iter().map(Indicator::from).collect();
    Ok(
        Page::from_rows(rows, limit, SORT, |i: &Indicator| i.code.clone())
            .with_total(total)
            .respond(&req),
    )
}

/// Create an indicator
#[utoipa::path(
    tag = "indicators",
    request_body = IndicatorInput,
    responses(
        (status = 201, description = "Created", body = Indicator,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "Code already taken", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/indicators")]
async fn create_indicator(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<IndicatorInput>,
) -> ApiResult<HttpResponse> {
    validation::validate(&input)?;
    let mut conn = state.writer(&caller).await?;
    caller.authorize(&mut conn, Access::Registry).await?;
    let row: IndicatorRow = diesel::insert_into(indicators::table)
        .values((indicators::id.eq(Uuid::now_v7()), &input))
        .returning(IndicatorRow::as_returning())
        .get_result(&mut conn)
        .await?;
    let tag = http::etag(&row.id, row.version);
    Ok(http::created(
        format!("/v1/indicators/{}", row.code),
        tag,
        &Indicator::from(row),
    ))
}

/// Get an indicator
#[utoipa::path(
    tag = "indicators",
    params(("code" = String, Path, description = "Indicator code"), NoParams),
    responses(
        (status = 200, description = "The indicator", body = Indicator,
            headers(("ETag" = String, description = "Strong entity tag; send as If-None-Match or If-Match"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/indicators/{code}")]
async fn find_indicator(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    code: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    known_code(&code)?;
    let mut conn = state.reader(&caller).await?;
    let row = indicators::table
        .filter(indicators::code.eq(code.as_str()))
        .select(IndicatorRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no indicator with code {:?}", code.as_str())))?;
    Ok(http::record_response(
        &req,
        http::etag(&row.id, row.version),
        &Indicator::from(row),
    ))
}

/// Update an indicator (JSON Merge Patch)
///
/// Changing `code` moves the indicator to a new URL (given as `Location`).
#[utoipa::path(
    tag = "indicators",
    params(("code" = String, Path, description = "Indicator code"), ("If-Match" = Option<String>, Header,
        description = "ETag the change is based on; a stale one gives 412"), NoParams),
    request_body(content = IndicatorInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = Indicator, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "Code already taken", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/indicators/{code}")]
async fn update_indicator(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    code: web::Path<String>,
    _: Query<NoParams>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let precondition = IfMatch::from_request(&req);
    let code = code.into_inner();
    let mut conn = state.writer(&caller).await?;
    caller.authorize(&mut conn, Access::Registry).await?;
    let row = conn
        .transaction(async |conn| -> ApiResult<IndicatorRow> {
            let current = lock(conn, &code).await?;
            precondition.check(&http::etag(&current.id, current.version))?;
            let id = current.id;
            let input: IndicatorInput = http::merge(&IndicatorInput::from(current), patch)?;
            validation::validate(&input)?;
            Ok(diesel::update(indicators::table.find(id))
                .set(&input)
                .returning(IndicatorRow::as_returning())
                .get_result(conn)
                .await?)
        })
        .await?;
    let tag = http::etag(&row.id, row.version);
    Ok(http::json_response(
        HttpResponse::Ok(),
        &Indicator::from(row),
        Some(tag),
    ))
}

/// Delete an indicator
///
/// Refused with 409 while metric values use it.
#[utoipa::path(
    tag = "indicators",
    params(("code" = String, Path, description = "Indicator code"), ("If-Match" = Option<String>, Header,
        description = "ETag the deletion is based on; a stale one gives 412"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Metric values still use it", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/indicators/{code}")]
async fn delete_indicator(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    code: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let precondition = IfMatch::from_request(&req);
    let code = code.into_inner();
    let mut conn = state.writer(&caller).await?;
    caller.authorize(&mut conn, Access::Registry).await?;
    conn.transaction(async |conn| -> ApiResult<()> {
        let current = lock(conn, &code).await?;
        precondition.check(&http::etag(&current.id, current.version))?;
        let used: i64 = metric_values::table
            .filter(metric_values::indicator_id.eq(current.id))
            .count()
            .get_result(conn)
            .await?;
        if used > 0 {
            return Err(ApiError::Conflict {
                detail: format!("the indicator is still used by {used} metric values"),
                errors: vec![FieldError::new(
                    "metric_values.indicator",
                    "referenced",
                    format!("{used} metric values"),
                )],
            });
        }
        diesel::delete(indicators::table.find(current.id))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn lock(conn: &mut AsyncPgConnection, code: &str) -> ApiResult<IndicatorRow> {
    known_code(code)?;
    indicators::table
        .filter(indicators::code.eq(code))
        .select(IndicatorRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no indicator with code {code:?}")))
}

/// A path segment that cannot be an indicator code names no indicator.
fn known_code(code: &str) -> ApiResult<()> {
    validation::code(code)
        .map_err(|_| ApiError::NotFound(format!("no indicator with code {code:?}")))
}

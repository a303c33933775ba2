//! Programmes: funding programmes and instruments, funded by one organisation and often
//! administered by another.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
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
use crate::schema::{programmes, project_funding, projects};
use crate::validation;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_programmes)
        .service(create_programme)
        .service(find_programme)
        .service(update_programme)
        .service(delete_programme);
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = programmes, check_for_backend(diesel::pg::Pg))]
pub struct ProgrammeRow {
    pub id: Uuid,
    pub name: String,
    pub short_name: Option<String>,
    pub code: Option<String>,
    pub description: Option<String>,
    pub funder_id: Option<Uuid>,
    pub administrator_id: Option<Uuid>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub website: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The writable fields of a programme (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = programmes, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "programme_period"))]
pub struct ProgrammeInput {
    /// Name in the original language (unique, case-insensitively).
    #[validate(length(min = 1, max = 300), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 300,
        example = "Pilsoniskas sabiedrības stiprināšanas valsts programma 2008.-2012.gadam"
    )]
    pub name: String,
    /// Common short name.
    #[validate(length(min = 1, max = 100), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 100, example = "EEZ/NFI NVO fonds")]
    pub short_name: Option<String>,
    /// Official code of the programme or activity.
    #[validate(length(min = 1, max = 50), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 50, example = "1.5.2.2.2")]
    pub code: Option<String>,
    /// Short description.
    #[validate(length(max = 5000))]
    #[schema(
        max_length = 5000,
        example = "State programme strengthening civil society, 2008-2012."
    )]
    pub description: Option<String>,
    /// Organisation that funds the programme.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub funder_id: Option<Uuid>,
    /// Organisation that administers the programme.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7c")]
    pub administrator_id: Option<Uuid>,
    /// First day of the programme period.
    #[schema(example = "2008-01-01")]
    pub start_date: Option<NaiveDate>,
    /// Last day of the programme period (not before `start_date`).
    #[schema(example = "2012-12-31")]
    pub end_date: Option<NaiveDate>,
    /// Website (absolute http(s) URL).
    #[validate(length(max = 500), custom(function = "validation::web_url"))]
    #[schema(
        max_length = 500,
        pattern = r"^https?://([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(:[0-9]{1,4})?([/?#][^\s]*)?$",
        example = "https://www.sif.gov.lv"
    )]
    pub website: Option<String>,
}

fn programme_period(input: &ProgrammeInput) -> Result<(), validator::ValidationError> {
    validation::period(
        input.start_date.as_ref(),
        input.end_date.as_ref(),
        "end_date",
    )
}

/// A funding programme.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Programme {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7d")]
    pub id: Uuid,
    /// Name in the original language.
    #[schema(example = "Pilsoniskas sabiedrības stiprināšanas valsts programma 2008.-2012.gadam")]
    pub name: String,
    /// Common short name.
    #[schema(example = "EEZ/NFI NVO fonds")]
    pub short_name: Option<String>,
    /// Official code.
    #[schema(example = "1.5.2.2.2")]
    pub code: Option<String>,
    /// Short description.
    #[schema(example = "State programme strengthening civil society, 2008-2012.")]
    pub description: Option<String>,
    /// Funding organisation.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub funder_id: Option<Uuid>,
    /// Administering organisation.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7c")]
    pub administrator_id: Option<Uuid>,
    /// First day of the period.
    #[schema(example = "2008-01-01")]
    pub start_date: Option<NaiveDate>,
    /// Last day of the period.
    #[schema(example = "2012-12-31")]
    pub end_date: Option<NaiveDate>,
    /// Website.
    #[schema(example = "https://www.sif.gov.lv")]
    pub website: Option<String>,
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

impl From<ProgrammeRow> for Programme {
    fn from(r: ProgrammeRow) -> Self {
        Programme {
            id: r.id,
            name: r.name,
            short_name: r.short_name,
            code: r.code,
            description: r.description,
            funder_id: r.funder_id,
            administrator_id: r.administrator_id,
            start_date: r.start_date,
            end_date: r.end_date,
            website: r.website,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

impl From<ProgrammeRow> for ProgrammeInput {
    fn from(r: ProgrammeRow) -> Self {
        ProgrammeInput {
            name: r.name,
            short_name: r.short_name,
            code: r.code,
            description: r.description,
            funder_id: r.funder_id,
            administrator_id: r.administrator_id,
            start_date: r.start_date,
            end_date: r.end_date,
            website: r.website,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProgrammeListParams {
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Include the total number of matching records.
    pub count: Option<bool>,
    /// Only programmes funded by this organisation.
    pub funder: Option<Uuid>,
    /// Only programmes administered by this organisation.
    pub administrator: Option<Uuid>,
}

const SORT: &str = "id";

/// List programmes
#[utoipa::path(
    tag = "programmes",
    params(ProgrammeListParams),
    responses((status = 200, description = "One page of programmes", body = Page<Programme>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/programmes")]
async fn list_programmes(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Query(params): Query<ProgrammeListParams>,
) -> ApiResult<HttpResponse> {
    let limit = pagination::limit(params.limit)?;
    let after: Option<Uuid> = pagination::decode_cursor(params.cursor.as_deref(), SORT)?;
    let filtered = || {
        let mut query = programmes::table.into_boxed();
        if let Some(funder) = params.funder {
            query = query.filter(programmes::funder_id.eq(funder));
        }
        if let Some(administrator) = params.administrator {
            query = query.filter(programmes::administrator_id.eq(administrator));
        }
        query
    };
    let mut conn = state.reader(&caller).await?;
    let mut query = filtered()
        .select(ProgrammeRow::as_select())
        .order(programmes::id)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(programmes::id.gt(after));
    }
    let rows: Vec<ProgrammeRow> = query.load(&mut conn).await?;
    let total = match params.count {
        Some(true) => Some(filtered().count().get_result::<i64>(&mut conn).await?),
        _ => None,
    };
    let rows = rows.into_iter().map(Programme::from).collect();
    Ok(Page::from_rows(rows, limit, SORT, |p: &Programme| p.id)
        .with_total(total)
        .respond(&req))
}

/// Create a programme
#[utoipa::path(
    tag = "programmes",
    request_body = ProgrammeInput,
    responses(
        (status = 201, description = "Created", body = Programme,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "Name already taken", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/programmes")]
async fn create_programme(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<ProgrammeInput>,
) -> ApiResult<HttpResponse> {
    validation::validate(&input)?;
    let mut conn = state.writer(&caller).await?;
    caller.authorize(&mut conn, Access::Registry).await?;
    let row: ProgrammeRow = diesel::insert_into(programmes::table)
        .values((programmes::id.eq(Uuid::now_v7()), &input))
        .returning(ProgrammeRow::as_returning())
        .get_result(&mut conn)
        .await?;
    let tag = http::etag(&row.id, row.version);
    Ok(http::created(
        format!("/v1/programmes/{}", row.id),
        tag,
        &Programme::from(row),
    ))
}

/// Get a programme
#[utoipa::path(
    tag = "programmes",
    params(("id" = Uuid, Path, description = "Programme id"), NoParams),
    responses(
        (status = 200, description = "The programme", body = Programme,
            headers(("ETag" = String, description = "Strong entity tag; send as If-None-Match or If-Match"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/programmes/{id}")]
async fn find_programme(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "programme")?;
    let mut conn = state.reader(&caller).await?;
    let row = programmes::table
        .find(id)
        .select(ProgrammeRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("programme", id))?;
    Ok(http::record_response(
        &req,
        http::etag(&row.id, row.version),
        &Programme::from(row),
    ))
}

/// Update a programme (JSON Merge Patch)
#[utoipa::path(
    tag = "programmes",
    params(("id" = Uuid, Path, description = "Programme id"), ("If-Match" = Option<String>, Header,
        description = "ETag the change is based on; a stale one gives 412"), NoParams),
    request_body(content = ProgrammeInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = Programme, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "Name already taken", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/programmes/{id}")]
async fn update_programme(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "programme")?;
    let precondition = IfMatch::from_request(&req);
    let mut conn = state.writer(&caller).await?;
    caller.authorize(&mut conn, Access::Registry).await?;
    let row = conn
        .transaction(async |conn| -> ApiResult<ProgrammeRow> {
            let current = lock(conn, id).await?;
            precondition.check(&http::etag(&current.id, current.version))?;
            let input: ProgrammeInput = http::merge(&ProgrammeInput::from(current), patch)?;
            validation::validate(&input)?;
            Ok(diesel::update(programmes::table.find(id))
                .set(&input)
                .returning(ProgrammeRow::as_returning())
                .get_result(conn)
                .await?)
        })
        .await?;
    let tag = http::etag(&row.id, row.version);
    Ok(http::json_response(
        HttpResponse::Ok(),
        &Programme::from(row),
        Some(tag),
    ))
}

/// Delete a programme
///
/// Refused with 409 while projects or funding lines reference it.
#[utoipa::path(
    tag = "programmes",
    params(("id" = Uuid, Path, description = "Programme id"), ("If-Match" = Option<String>, Header,
        description = "ETag the deletion is based on; a stale one gives 412"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Still referenced; `errors` says by what", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/programmes/{id}")]
async fn delete_programme(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "programme")?;
    let precondition = IfMatch::from_request(&req);
    let mut conn = state.writer(&caller).await?;
    caller.authorize(&mut conn, Access::Registry).await?;
    conn.transaction(async |conn| -> ApiResult<()> {
        let current = lock(conn, id).await?;
        precondition.check(&http::etag(&current.id, current.version))?;
        let projects: i64 = projects::table
            .filter(projects::programme_id.eq(id))
            .count()
            .get_result(conn)
            .await?;
        let funding: i64 = project_funding::table
            .filter(project_funding::programme_id.eq(id))
            .count()
            .get_result(conn)
            .await?;
        let mut errors = Vec::new();
        if projects > 0 {
            errors.push(FieldError::new(
                "projects.programme_id",
                "referenced",
                format!("{projects} projects"),
            ));
        }
        if funding > 0 {
            errors.push(FieldError::new(
                "project_funding.programme_id",
                "referenced",
                format!("{funding} project funding lines"),
            ));
        }
        if !errors.is_empty() {
            let what: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
            return Err(ApiError::Conflict {
                detail: format!(
                    "the programme is still referenced by {}",
                    what.join(" and ")
                ),
                errors,
            });
        }
        diesel::delete(programmes::table.find(id))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<ProgrammeRow> {
    programmes::table
        .find(id)
        .select(ProgrammeRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("programme", id))
}

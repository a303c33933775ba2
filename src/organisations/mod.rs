//! Organisations: every body that runs, funds, administers or partners in a project.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::app::AppState;
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::{self, IfMatch, Json, MergePatch, NoParams, Query};
use crate::schema::{organisations, programmes, project_funding, project_partners, projects};
use crate::validation;

mod list;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list::list_organisations)
        .service(create_organisation)
        .service(find_organisation)
        .service(update_organisation)
        .service(delete_organisation);
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = organisations, check_for_backend(diesel::pg::Pg))]
pub struct OrganisationRow {
    pub id: Uuid,
    pub name: String,
    pub short_name: Option<String>,
    pub kind: String,
    pub country: Option<String>,
    pub registration_number: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The writable fields of an organisation (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = organisations, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
pub struct OrganisationInput {
    /// Official name in the original language.
    #[validate(length(min = 1, max = 300), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 300,
        example = "Latvijas Sarkanais Krusts"
    )]
    pub name: String,
    /// Common abbreviation.
    #[validate(length(min = 1, max = 100), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 100, example = "LSK")]
    pub short_name: Option<String>,
    /// Kind of organisation: a code from `/v1/vocabularies/organisation_kinds`.
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "ngo")]
    pub kind: String,
    /// ISO 3166-1 alpha-2 country code.
    #[validate(custom(function = "validation::country"))]
    #[schema(pattern = "^[A-Z]{2}$", example = "LV")]
    pub country: Option<String>,
    /// Registration number in the country's register (unique per country).
    #[validate(length(min = 1, max = 50), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 50, example = "40008002279")]
    pub registration_number: Option<String>,
    /// Website (absolute http(s) URL).
    #[validate(length(max = 500), custom(function = "validation::web_url"))]
    #[schema(
        max_length = 500,
        pattern = r"^https?://([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(:[0-9]{1,4})?([/?#][^\s]*)?$",
        example = "https://www.redcross.lv"
    )]
    pub website: Option<String>,
    /// Public contact email of the organisation.
    #[validate(length(max = 254), email)]
    #[schema(max_length = 254, format = Email, example = "info@redcross.lv")]
    pub email: Option<String>,
    /// Public phone number.
    #[validate(length(max = 50), custom(function = "validation::phone"))]
    #[schema(
        max_length = 50,
        pattern = "^[ +().-]*([0-9][ +().-]*){5,}$",
        example = "+371 67336650"
    )]
    pub phone: Option<String>,
    /// Short description.
    #[validate(length(max = 5000))]
    #[schema(
        max_length = 5000,
        example = "Latvian Red Cross, the national humanitarian society."
    )]
    pub description: Option<String>,
}

/// An organisation as the registry stores it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organisation {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub id: Uuid,
    #[schema(example = "Latvijas Sarkanais Krusts")]
    /// Official name in the original language.
    pub name: String,
    /// Common abbreviation.
    #[schema(example = "LSK")]
    pub short_name: Option<String>,
    /// Code from `/v1/vocabularies/organisation_kinds`.
    #[schema(example = "ngo")]
    pub kind: String,
    /// ISO 3166-1 alpha-2 country code.
    #[schema(example = "LV")]
    pub country: Option<String>,
    /// Registration number in the country's register.
    #[schema(example = "40008002279")]
    pub registration_number: Option<String>,
    /// Website.
    #[schema(example = "https://www.redcross.lv")]
    pub website: Option<String>,
    /// Public contact email.
    #[schema(format = Email, example = "info@redcross.lv")]
    pub email: Option<String>,
    /// Public phone number.
    #[schema(example = "+371 67336650")]
    pub phone: Option<String>,
    /// Short description.
    #[schema(example = "Latvian Red Cross, the national humanitarian society.")]
    pub description: Option<String>,
    /// When the record was created.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub updated_at: DateTime<Utc>,
    /// 1 at creation, +1 on every change.
    #[schema(example = 1, minimum = 1)]
    pub version: i32,
    /// Projects the organisation leads or partners in (with `include=projects` on the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub projects: Option<Vec<ProjectRole>>,
}

/// An organisation's part in one project, as embedded in the organisation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectRole {
    /// The project.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub project_id: Uuid,
    /// The project's title (original language).
    #[schema(example = "Mēs kopā dzīvojam mūsu valstī")]
    pub title: String,
    /// The project's status.
    pub status: crate::projects::ProjectStatus,
    /// `lead`, or the partner role code (`/v1/vocabularies/partner_roles`).
    #[schema(example = "lead")]
    pub role: String,
}

impl From<OrganisationRow> for Organisation {
    fn from(r: OrganisationRow) -> Self {
        Organisation {
            id: r.id,
            name: r.name,
            short_name: r.short_name,
            kind: r.kind,
            country: r.country,
            registration_number: r.registration_number,
            website: r.website,
            email: r.email,
            phone: r.phone,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            projects: None,
        }
    }
}

impl From<OrganisationRow> for OrganisationInput {
    fn from(r: OrganisationRow) -> Self {
        OrganisationInput {
            name: r.name,
            short_name: r.short_name,
            kind: r.kind,
            country: r.country,
            registration_number: r.registration_number,
            website: r.website,
            email: r.email,
            phone: r.phone,
            description: r.description,
        }
    }
}

/// Create an organisation
#[utoipa::path(
    tag = "organisations",
    request_body = OrganisationInput,
    responses(
        (status = 201, description = "Created", body = Organisation,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "Name or registration number already taken", body = crate::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[post("/organisations")]
async fn create_organisation(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<OrganisationInput>,
) -> ApiResult<HttpResponse> {
    validation::validate(&input)?;
    let mut conn = state.writer(&caller).await?;
    caller.authorize(&mut conn, Access::Registry).await?;
    let row: OrganisationRow = diesel::insert_into(organisations::table)
        .values((organisations::id.eq(Uuid::now_v7()), &input))
        .returning(OrganisationRow::as_returning())
        .get_result(&mut conn)
        .await?;
    let tag = http::etag(&row.id, row.version);
    Ok(http::created(
        format!("/v1/organisations/{}", row.id),
        tag,
        &Organisation::from(row),
    ))
}

/// Get an organisation
#[utoipa::path(
    tag = "organisations",
    params(("id" = Uuid, Path, description = "Organisation id"), NoParams),
    responses(
        (status = 200, description = "The organisation", body = Organisation,
            headers(("ETag" = String, description = "Strong entity tag; send as If-None-Match or If-Match"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/organisations/{id}")]
async fn find_organisation(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "organisation")?;
    let mut conn = state.reader(&caller).await?;
    let row = organisations::table
        .find(id)
        .select(OrganisationRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("organisation", id))?;
    Ok(http::record_response(
        &req,
        http::etag(&row.id, row.version),
        &Organisation::from(row),
    ))
}

/// Update an organisation (JSON Merge Patch)
///
/// Fields present in the body replace the stored ones; `null` clears an optional field.
#[utoipa::path(
    tag = "organisations",
    params(("id" = Uuid, Path, description = "Organisation id"), ("If-Match" = Option<String>, Header,
        description = "ETag the change is based on; a stale one gives 412"), NoParams),
    request_body(content = OrganisationInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields"),
    responses(
        (status = 200, description = "Updated", body = Organisation, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "Name or registration number already taken", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/organisations/{id}")]
async fn update_organisation(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "organisation")?;
    let mut conn = state.writer(&caller).await?;
    caller.authorize(&mut conn, Access::Registry).await?;
    let precondition = IfMatch::from_request(&req);
    let row = conn
        .transaction(async |conn| -> ApiResult<OrganisationRow> {
            let current = lock(conn, id).await?;
            precondition.check(&http::etag(&current.id, current.version))?;
            let input: OrganisationInput = http::merge(&OrganisationInput::from(current), patch)?;
            validation::validate(&input)?;
            Ok(diesel::update(organisations::table.find(id))
                .set(&input)
                .returning(OrganisationRow::as_returning())
                .get_result(conn)
                .await?)
        })
        .await?;
    let tag = http::etag(&row.id, row.version);
    Ok(http::json_response(
        HttpResponse::Ok(),
        &Organisation::from(row),
        Some(tag),
    ))
}

/// Delete an organisation
///
/// Refused with 409 while projects, partnerships, programmes or funding lines reference it.
#[utoipa::path(
    tag = "organisations",
    params(("id" = Uuid, Path, description = "Organisation id"), ("If-Match" = Option<String>, Header,
        description = "ETag the deletion is based on; a stale one gives 412"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Still referenced; `errors` says by what", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/organisations/{id}")]
async fn delete_organisation(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "organisation")?;
    let mut conn = state.writer(&caller).await?;
    caller.authorize(&mut conn, Access::Registry).await?;
    let precondition = IfMatch::from_request(&req);
    conn.transaction(async |conn| -> ApiResult<()> {
        let current = lock(conn, id).await?;
        precondition.check(&http::etag(&current.id, current.version))?;
        let references = references(conn, id).await?;
        if !references.is_empty() {
            let what: Vec<&str> = references.iter().map(|r| r.message.as_str()).collect();
            return Err(ApiError::Conflict {
                detail: format!("the organisation is still referenced: {}", what.join("; ")),
                errors: references,
            });
        }
        diesel::delete(organisations::table.find(id))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn lock(conn: &mut diesel_async::AsyncPgConnection, id: Uuid) -> ApiResult<OrganisationRow> {
    organisations::table
        .find(id)
        .select(OrganisationRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("organisation", id))
}

/// What still points at an organisation, one entry per kind of reference.
async fn references(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> ApiResult<Vec<FieldError>> {
    let led: i64 = projects::table
        .filter(projects::lead_organisation_id.eq(id))
        .count()
        .get_result(conn)
        .await?;
    let partner: i64 = project_partners::table
        .filter(project_partners::organisation_id.eq(id))
        .count()
        .get_result(conn)
        .await?;
    let funded: i64 = programmes::table
        .filter(
            programmes::funder_id
                .eq(id)
                .or(programmes::administrator_id.eq(id)),
        )
        .count()
        .get_result(conn)
        .await?;
    let funding: i64 = project_funding::table
        .filter(project_funding::funder_id.eq(id))
        .count()
        .get_result(conn)
        .await?;
    let mut out = Vec::new();
    for (count, field, what) in [
        (led, "projects.lead_organisation_id", "projects it leads"),
        (
            partner,
            "project_partners.organisation_id",
            "project partnerships",
        ),
        (
            funded,
            "programmes.funder_id",
            "programmes it funds or administers",
        ),
        (
            funding,
            "project_funding.funder_id",
            "project funding lines",
        ),
    ] {
        if count > 0 {
            out.push(FieldError::new(
                field,
                "referenced",
                format!("{count} {what}"),
            ));
        }
    }
    Ok(out)
}

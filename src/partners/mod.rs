//! Partners: a project–organisation link with a role, addressed through its project.

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
use crate::error::{ApiError, ApiResult};
use crate::http::{self, IfMatch, Json, MergePatch, NoParams, Query};
use crate::pagination::{self, Page};
use crate::schema::project_partners;
use crate::validation;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_partners)
        .service(create_partner)
        .service(find_partner)
        .service(update_partner)
        .service(delete_partner);
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = project_partners, check_for_backend(diesel::pg::Pg))]
pub struct PartnerRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub organisation_id: Uuid,
    pub role: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The writable fields of a partnership (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = project_partners, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
pub struct PartnerInput {
    /// The partner organisation.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub organisation_id: Uuid,
    /// Role: a code from `/v1/vocabularies/partner_roles`. One organisation may hold several roles.
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "partner")]
    pub role: String,
    /// What the partner does in the project.
    #[validate(length(max = 2000))]
    #[schema(
        max_length = 2000,
        example = "Took part in the steering group and published project news."
    )]
    pub description: Option<String>,
}

/// An organisation's part in a project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Partner {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a82")]
    pub id: Uuid,
    /// The project.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub project_id: Uuid,
    /// The partner organisation.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub organisation_id: Uuid,
    /// Role code (`/v1/vocabularies/partner_roles`).
    #[schema(example = "partner")]
    pub role: String,
    /// What the partner does in the project.
    #[schema(example = "Took part in the steering group and published project news.")]
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
    /// The partner organisation (when embedded with `include=partners` on projects).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organisation: Option<crate::organisations::Organisation>,
}

impl From<PartnerRow> for Partner {
    fn from(r: PartnerRow) -> Self {
        Partner {
            id: r.id,
            project_id: r.project_id,
            organisation_id: r.organisation_id,
            role: r.role,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            organisation: None,
        }
    }
}

impl From<PartnerRow> for PartnerInput {
    fn from(r: PartnerRow) -> Self {
        PartnerInput {
            organisation_id: r.organisation_id,
            role: r.role,
            description: r.description,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PartnerListParams {
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Include the total number of matching records.
    pub count: Option<bool>,
    /// Only partners with this role.
    #[param(example = "partner")]
    pub role: Option<String>,
    /// Only this organisation's partnerships.
    pub organisation: Option<Uuid>,
}

const SORT: &str = "id";

/// List a project's partners
#[utoipa::path(
    tag = "partners",
    params(("id" = Uuid, Path, description = "Project id"), PartnerListParams),
    responses((status = 200, description = "One page of partners", body = Page<Partner>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/projects/{id}/partners")]
async fn list_partners(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    Query(params): Query<PartnerListParams>,
) -> ApiResult<HttpResponse> {
    let project = http::parse_id(&id, "project")?;
    let limit = pagination::limit(params.limit)?;
    let after: Option<Uuid> = pagination::decode_cursor(params.cursor.as_deref(), SORT)?;
    let mut conn = state.reader(&caller).await?;
    caller.ensure_visible(&mut conn, project).await?;
    let filtered = || {
        let mut query = project_partners::table
            .filter(project_partners::project_id.eq(project))
            .into_boxed();
        if let Some(role) = &params.role {
            query = query.filter(project_partners::role.eq(role.clone()));
        }
        if let Some(org) = params.organisation {
            query = query.filter(project_partners::organisation_id.eq(org));
        }
        query
    };
    let mut query = filtered()
        .select(PartnerRow::as_select())
        .order(project_partners::id)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(project_partners::id.gt(after));
    }
    let rows: Vec<PartnerRow> = query.load(&mut conn).await?;
    let total = match params.count {
        Some(true) => Some(filtered().count().get_result::<i64>(&mut conn).await?),
        _ => None,
    };
    let rows = rows.into_iter().map(Partner::from).collect();
    Ok(Page::from_rows(rows, limit, SORT, |p: &Partner| p.id)
        .with_total(total)
        .respond(&req))
}

/// Add a partner to a project
#[utoipa::path(
    tag = "partners",
    params(("id" = Uuid, Path, description = "Project id")),
    request_body = PartnerInput,
    responses(
        (status = 201, description = "Created", body = Partner,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "The organisation already has this role in the project", body = crate::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[post("/projects/{id}/partners")]
async fn create_partner(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    Json(input): Json<PartnerInput>,
) -> ApiResult<HttpResponse> {
    let project = http::parse_id(&id, "project")?;
    validation::validate(&input)?;
    let mut conn = state.writer(&caller).await?;
    caller
        .authorize(&mut conn, Access::EditProject { project })
        .await?;
    let row: PartnerRow = diesel::insert_into(project_partners::table)
        .values((
            project_partners::id.eq(Uuid::now_v7()),
            project_partners::project_id.eq(project),
            &input,
        ))
        .returning(PartnerRow::as_returning())
        .get_result(&mut conn)
        .await?;
    let tag = http::etag(&row.id, row.version);
    Ok(http::created(
        format!("/v1/projects/{project}/partners/{}", row.id),
        tag,
        &Partner::from(row),
    ))
}

/// Get a partner
#[utoipa::path(
    tag = "partners",
    params(("id" = Uuid, Path, description = "Project id"), ("partner_id" = Uuid, Path, description = "Partner id"), NoParams),
    responses(
        (status = 200, description = "The partner", body = Partner,
            headers(("ETag" = String, description = "Strong entity tag; send as If-None-Match or If-Match"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/projects/{id}/partners/{partner_id}")]
async fn find_partner(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let (project, partner) = parse_path(&path)?;
    let mut conn = state.reader(&caller).await?;
    caller.ensure_visible(&mut conn, project).await?;
    let row = project_partners::table
        .filter(
            project_partners::id
                .eq(partner)
                .and(project_partners::project_id.eq(project)),
        )
        .select(PartnerRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("partner", partner))?;
    Ok(http::record_response(
        &req,
        http::etag(&row.id, row.version),
        &Partner::from(row),
    ))
}

/// Update a partner (JSON Merge Patch)
#[utoipa::path(
    tag = "partners",
    params(("id" = Uuid, Path, description = "Project id"), ("partner_id" = Uuid, Path, description = "Partner id"),
        ("If-Match" = Option<String>, Header, description = "ETag the change is based on; a stale one gives 412"), NoParams),
    request_body(content = PartnerInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = Partner, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "The organisation already has this role in the project", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/projects/{id}/partners/{partner_id}")]
async fn update_partner(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    _: Query<NoParams>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let (project, partner) = parse_path(&path)?;
    let precondition = IfMatch::from_request(&req);
    let mut conn = state.writer(&caller).await?;
    caller
        .authorize(&mut conn, Access::EditProject { project })
        .await?;
    let row = conn
        .transaction(async |conn| -> ApiResult<PartnerRow> {
            let current = lock(conn, project, partner).await?;
            precondition.check(&http::etag(&current.id, current.version))?;
            let input: PartnerInput = http::merge(&PartnerInput::from(current), patch)?;
            validation::validate(&input)?;
            Ok(diesel::update(project_partners::table.find(partner))
                .set(&input)
                .returning(PartnerRow::as_returning())
                .get_result(conn)
                .await?)
        })
        .await?;
    let tag = http::etag(&row.id, row.version);
    Ok(http::json_response(
        HttpResponse::Ok(),
        &Partner::from(row),
        Some(tag),
    ))
}

/// Remove a partner from a project
#[utoipa::path(
    tag = "partners",
    params(("id" = Uuid, Path, description = "Project id"), ("partner_id" = Uuid, Path, description = "Partner id"),
        ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on; a stale one gives 412"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/projects/{id}/partners/{partner_id}")]
async fn delete_partner(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let (project, partner) = parse_path(&path)?;
    let precondition = IfMatch::from_request(&req);
    let mut conn = state.writer(&caller).await?;
    caller
        .authorize(&mut conn, Access::EditProject { project })
        .await?;
    conn.transaction(async |conn| -> ApiResult<()> {
        let current = lock(conn, project, partner).await?;
        precondition.check(&http::etag(&current.id, current.version))?;
        diesel::delete(project_partners::table.find(partner))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn parse_path(path: &(String, String)) -> ApiResult<(Uuid, Uuid)> {
    Ok((
        http::parse_id(&path.0, "project")?,
        http::parse_id(&path.1, "partner")?,
    ))
}

async fn lock(conn: &mut AsyncPgConnection, project: Uuid, partner: Uuid) -> ApiResult<PartnerRow> {
    project_partners::table
        .filter(
            project_partners::id
                .eq(partner)
                .and(project_partners::project_id.eq(project)),
        )
        .select(PartnerRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("partner", partner))
}

//! Activities: what a project does (courses, events, meetings, research...), with dates, place
//! and participant count. Created through their project, then addressed by their own id.

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
use crate::error::{ApiError, ApiResult};
use crate::http::{self, IfMatch, Json, MergePatch, NoParams, Query};
use crate::pagination::{self, Page};
use crate::schema::activities;
use crate::validation;

mod list;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_activities)
        .service(list::search_activities)
        .service(create_activity)
        .service(find_activity)
        .service(update_activity)
        .service(delete_activity);
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = activities, check_for_backend(diesel::pg::Pg))]
pub struct ActivityRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub title: String,
    pub kind: String,
    pub description: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub place: Option<String>,
    pub region: Option<String>,
    pub participants: Option<i32>,
    pub target_groups: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The writable fields of an activity (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = activities, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "activity_period"))]
pub struct ActivityInput {
    /// Title in the original language.
    #[validate(length(min = 1, max = 500), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "NVO dialoga platformas pirmā tikšanās"
    )]
    pub title: String,
    /// Kind: a code from `/v1/vocabularies/activity_kinds`.
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "meeting")]
    pub kind: String,
    /// Short description.
    #[validate(length(max = 5000))]
    #[schema(
        max_length = 5000,
        example = "First meeting of NGOs working on immigrant integration."
    )]
    pub description: Option<String>,
    /// First day.
    #[schema(example = "2013-03-08")]
    pub start_date: Option<NaiveDate>,
    /// Last day (not before `start_date`).
    #[schema(example = "2013-03-08")]
    pub end_date: Option<NaiveDate>,
    /// Place, as named in the source.
    #[validate(length(min = 1, max = 300), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 300, example = "Rīga")]
    pub place: Option<String>,
    /// Region code (`/v1/vocabularies/regions`).
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "riga")]
    pub region: Option<String>,
    /// Number of participants.
    #[serde(default, deserialize_with = "crate::decimal::optional_count")]
    #[validate(range(min = 0))]
    #[schema(minimum = 0, maximum = 2147483647, example = 487)]
    pub participants: Option<i32>,
    /// Target group codes (`/v1/vocabularies/target_groups`).
    #[serde(default)]
    #[validate(length(max = 30))]
    #[schema(max_items = 30, example = json!(["seniors", "youth"]))]
    pub target_groups: Vec<String>,
}

fn activity_period(input: &ActivityInput) -> Result<(), validator::ValidationError> {
    validation::period(
        input.start_date.as_ref(),
        input.end_date.as_ref(),
        "end_date",
    )
}

/// Something a project does.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Activity {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a83")]
    pub id: Uuid,
    /// The project.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub project_id: Uuid,
    /// Title in the original language.
    #[schema(example = "NVO dialoga platformas pirmā tikšanās")]
    pub title: String,
    /// Kind code (`/v1/vocabularies/activity_kinds`).
    #[schema(example = "meeting")]
    pub kind: String,
    /// Short description.
    #[schema(example = "First meeting of NGOs working on immigrant integration.")]
    pub description: Option<String>,
    /// First day.
    #[schema(example = "2013-03-08")]
    pub start_date: Option<NaiveDate>,
    /// Last day.
    #[schema(example = "2013-03-08")]
    pub end_date: Option<NaiveDate>,
    /// Place.
    #[schema(example = "Rīga")]
    pub place: Option<String>,
    /// Region code.
    #[schema(example = "riga")]
    pub region: Option<String>,
    /// Number of participants.
    #[schema(example = 487)]
    pub participants: Option<i32>,
    /// Target group codes.
    #[schema(example = json!(["seniors", "youth"]))]
    pub target_groups: Vec<String>,
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

impl From<ActivityRow> for Activity {
    fn from(r: ActivityRow) -> Self {
        Activity {
            id: r.id,
            project_id: r.project_id,
            title: r.title,
            kind: r.kind,
            description: r.description,
            start_date: r.start_date,
            end_date: r.end_date,
            place: r.place,
            region: r.region,
            participants: r.participants,
            target_groups: r.target_groups,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

impl From<ActivityRow> for ActivityInput {
    fn from(r: ActivityRow) -> Self {
        ActivityInput {
            title: r.title,
            kind: r.kind,
            description: r.description,
            start_date: r.start_date,
            end_date: r.end_date,
            place: r.place,
            region: r.region,
            participants: r.participants,
            target_groups: r.target_groups,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityListParams {
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Include the total number of matching records.
    pub count: Option<bool>,
    /// Only activities of this kind.
    #[param(example = "meeting")]
    pub kind: Option<String>,
}

const SORT: &str = "id";

/// List a project's activities
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path, description = "Project id"), ActivityListParams),
    responses((status = 200, description = "One page of activities", body = Page<Activity>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/projects/{id}/activities")]
async fn list_activities(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    Query(params): Query<ActivityListParams>,
) -> ApiResult<HttpResponse> {
    let project = http::parse_id(&id, "project")?;
    let limit = pagination::limit(params.limit)?;
    let after: Option<Uuid> = pagination::decode_cursor(params.cursor.as_deref(), SORT)?;
    let mut conn = state.reader(&caller).await?;
    caller.ensure_visible(&mut conn, project).await?;
    let filtered = || {
        let mut query = activities::table
            .filter(activities::project_id.eq(project))
            .into_boxed();
        if let Some(kind) = &params.kind {
            query = query.filter(activities::kind.eq(kind.clone()));
        }
        query
    };
    let mut query = filtered()
        .select(ActivityRow::as_select())
        .order(activities::id)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(activities::id.gt(after));
    }
    let rows: Vec<ActivityRow> = query.load(&mut conn).await?;
    let total = match params.count {
        Some(true) => Some(filtered().count().get_result::<i64>(&mut conn).await?),
        _ => None,
    };
    let rows = rows.into_iter().map(Activity::from).collect();
    Ok(Page::from_rows(rows, limit, SORT, |a: &Activity| a.id)
        .with_total(total)
        .respond(&req))
}

/// Add an activity to a project
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path, description = "Project id")),
    request_body = ActivityInput,
    responses((status = 201, description = "Created", body = Activity,
        headers(("ETag" = String, description = "Strong entity tag of the new record"),
                ("Location" = String, description = "URL of the new record"))))
)]
#[post("/projects/{id}/activities")]
async fn create_activity(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    Json(input): Json<ActivityInput>,
) -> ApiResult<HttpResponse> {
    let project = http::parse_id(&id, "project")?;
    validation::validate(&input)?;
    let mut conn = state.writer(&caller).await?;
    caller
        .authorize(&mut conn, Access::EditProject { project })
        .await?;
    let row = insert_activity(&mut conn, project, &input).await?;
    let tag = http::etag(&row.id, row.version);
    Ok(http::created(
        format!("/v1/activities/{}", row.id),
        tag,
        &row,
    ))
}

/// Inserts an activity of `project` (used by the API and the seeds).
pub async fn insert_activity(
    conn: &mut AsyncPgConnection,
    project: Uuid,
    input: &ActivityInput,
) -> ApiResult<Activity> {
    let row: ActivityRow = diesel::insert_into(activities::table)
        .values((
            activities::id.eq(Uuid::now_v7()),
            activities::project_id.eq(project),
            input,
        ))
        .returning(ActivityRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(Activity::from(row))
}

/// Get an activity
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path, description = "Activity id"), NoParams),
    responses(
        (status = 200, description = "The activity", body = Activity,
            headers(("ETag" = String, description = "Strong entity tag; send as If-None-Match or If-Match"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/activities/{id}")]
async fn find_activity(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "activity")?;
    let mut conn = state.reader(&caller).await?;
    let row = activities::table
        .find(id)
        .select(ActivityRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("activity", id))?;
    caller
        .ensure_visible(&mut conn, row.project_id)
        .await
        .map_err(|_| ApiError::not_found("activity", id))?;
    Ok(http::record_response(
        &req,
        http::etag(&row.id, row.version),
        &Activity::from(row),
    ))
}

/// Update an activity (JSON Merge Patch)
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path, description = "Activity id"), ("If-Match" = Option<String>, Header,
        description = "ETag the change is based on; a stale one gives 412"), NoParams),
    request_body(content = ActivityInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = Activity, headers(("ETag" = String, description = "New entity tag"))),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/activities/{id}")]
async fn update_activity(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "activity")?;
    let precondition = IfMatch::from_request(&req);
    let mut conn = state.writer(&caller).await?;
    let row = conn
        .transaction(async |conn| -> ApiResult<ActivityRow> {
            let current = lock(conn, id).await?;
            caller
                .authorize(
                    conn,
                    Access::EditProject {
                        project: current.project_id,
                    },
                )
                .await?;
            precondition.check(&http::etag(&current.id, current.version))?;
            let input: ActivityInput = http::merge(&ActivityInput::from(current), patch)?;
            validation::validate(&input)?;
            Ok(diesel::update(activities::table.find(id))
                .set(&input)
                .returning(ActivityRow::as_returning())
                .get_result(conn)
                .await?)
        })
        .await?;
    let tag = http::etag(&row.id, row.version);
    Ok(http::json_response(
        HttpResponse::Ok(),
        &Activity::from(row),
        Some(tag),
    ))
}

/// Delete an activity
///
/// Also deletes the metric values recorded for it.
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path, description = "Activity id"), ("If-Match" = Option<String>, Header,
        description = "ETag the deletion is based on; a stale one gives 412"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/activities/{id}")]
async fn delete_activity(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "activity")?;
    let precondition = IfMatch::from_request(&req);
    let mut conn = state.writer(&caller).await?;
    conn.transaction(async |conn| -> ApiResult<()> {
        let current = lock(conn, id).await?;
        caller
            .authorize(
                conn,
                Access::EditProject {
                    project: current.project_id,
                },
            )
            .await?;
        precondition.check(&http::etag(&current.id, current.version))?;
        diesel::delete(activities::table.find(id))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<ActivityRow> {
    activities::table
        .find(id)
        .select(ActivityRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("activity", id))
}

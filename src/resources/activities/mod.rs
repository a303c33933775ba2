//! Activities: what a project does (courses, events, meetings, research...), with dates, place
//! and participant count. Created through their project, then addressed by their own id.

use actix_web::{delete, get, patch, post, HttpResponse};

use crate::domain::{ActivityId, ProjectId};
use crate::resources::record::{self, Ctx, Key, Parent};
use crate::web::error::ApiResult;
use crate::web::http::{Json, MergePatch, NoParams};

mod list;
mod model;

pub use model::{Activity, ActivityInput};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list::list_activities)
        .service(list::search_activities)
        .service(list::export_activities)
        .service(list::export_activities_geojson)
        .service(create_activity)
        .service(find_activity)
        .service(update_activity)
        .service(delete_activity)
        .service(activity_history);
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
    ctx: Ctx,
    Json(input): Json<ActivityInput>,
    Parent(project): Parent<ProjectId>,
) -> ApiResult<HttpResponse> {
    record::create::<Activity>(&ctx, project, input).await
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
async fn find_activity(ctx: Ctx, Key(id): Key<ActivityId>) -> ApiResult<HttpResponse> {
    record::find::<Activity>(&ctx, id).await
}

/// Update an activity (JSON Merge Patch)
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path, description = "Activity id"), NoParams),
    request_body(content = ActivityInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = Activity, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "Another activity of the project has this `external_id`", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[patch("/activities/{id}")]
async fn update_activity(
    ctx: Ctx,
    Key(id): Key<ActivityId>,
    patch: MergePatch,
) -> ApiResult<HttpResponse> {
    record::update::<Activity>(&ctx, id, patch.0).await
}

/// Delete an activity
///
/// Also deletes the metric values recorded for it.
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path, description = "Activity id"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
    )
)]
#[delete("/activities/{id}")]
async fn delete_activity(ctx: Ctx, Key(id): Key<ActivityId>) -> ApiResult<HttpResponse> {
    record::delete::<Activity>(&ctx, id).await
}

crate::history_route!(
    activity_history,
    Activity,
    "activities",
    "/activities/{id}/history",
    "History of an activity",
    (("id" = Uuid, Path, description = "Activity id")),
    |ctx| crate::web::http::parse_id::<ActivityId>(crate::resources::history::path_param(
        &ctx, "id"
    ))?
);

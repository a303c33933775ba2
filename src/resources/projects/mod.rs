//! Projects: funded undertakings with a reference number, period, aims, target groups,
//! locations, a lead organisation, funding lines and a (private) contact.

use actix_web::{delete, get, patch, post, web, HttpResponse};

use crate::domain::{Id, Lang, ProjectId, ProjectStatus};
use crate::resources::record::{self, Ctx, Key, Lock, Record, Versioned};
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::{self, parse_id, Json, MergePatch, NoParams, Query};

mod erasure;
mod list;
mod model;

pub use list::{content_language, embed, filters, Embed, ProjectFilters};
pub use model::{
    load_funding, Contact, Funding, Project, ProjectInput, ProjectRow, TranslatedTexts,
    Translations,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list::list_projects)
        .service(list::export_projects)
        .service(list::export_project_partners)
        .service(list::export_project_funding)
        .service(list::export_projects_geojson)
        .service(create_project)
        .service(find_project)
        .service(update_project)
        .service(delete_project)
        .service(project_history)
        .service(erasure::erase_contact);
}

/// Create a project
#[utoipa::path(
    tag = "projects",
    request_body = ProjectInput,
    responses(
        (status = 201, description = "Created", body = Project,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "Reference number already taken", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[post("/projects")]
async fn create_project(ctx: Ctx, Json(input): Json<ProjectInput>) -> ApiResult<HttpResponse> {
    record::create::<Project>(&ctx, (), input).await
}

/// Update a project (JSON Merge Patch)
///
/// `funding`, `objectives`, `places`, `regions` and `target_groups` are replaced as a whole.
#[utoipa::path(
    tag = "projects",
    params(("id" = Uuid, Path, description = "Project id"), NoParams),
    request_body(content = ProjectInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = Project, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "Reference number already taken", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[patch("/projects/{id}")]
async fn update_project(
    ctx: Ctx,
    Key(id): Key<ProjectId>,
    patch: MergePatch,
) -> ApiResult<HttpResponse> {
    record::update::<Project>(&ctx, id, patch.0).await
}

/// Delete a project
///
/// Also deletes its funding lines, partners, activities and metric values.
#[utoipa::path(
    tag = "projects",
    params(("id" = Uuid, Path, description = "Project id"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
    )
)]
#[delete("/projects/{id}")]
async fn delete_project(ctx: Ctx, Key(id): Key<ProjectId>) -> ApiResult<HttpResponse> {
    record::delete::<Project>(&ctx, id).await
}

/// Get a project
///
/// With `include` or a language the response is not the bare record, so it carries a weak
/// ETag of its content instead of the record's strong one.
#[utoipa::path(
    tag = "projects",
    params(("id" = Uuid, Path, description = "Project id"), list::ProjectReadParams),
    responses(
        (status = 200, description = "The project", body = Project,
            headers(("ETag" = String, description = "Entity tag; send as If-None-Match or If-Match"),
                    ("Content-Language" = String, description = "The language asked for, when one was"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/projects/{id}")]
async fn find_project(
    ctx: Ctx,
    id: web::Path<String>,
    Query(params): Query<list::ProjectReadParams>,
) -> ApiResult<HttpResponse> {
    let Ctx { state, caller, req } = ctx;
    let id: ProjectId = parse_id(&id)?;
    let embeds = params.embeds()?;
    let lang = Lang::negotiate(params.lang, &req);
    let mut conn = state.reader(&caller).await?;
    let row = Project::fetch(&mut conn, &id, Lock::None)
        .await?
        .ok_or_else(|| ApiError::not_found(ProjectId::NAME, id))?;
    let private = caller.sees_private(&mut conn, id).await?;
    if row.status == ProjectStatus::Draft && !private {
        return Err(ApiError::not_found(ProjectId::NAME, id));
    }
    let tag = row.etag();
    let bare = embeds.is_empty() && lang.is_none();
    if bare && http::not_modified(&req, &tag) {
        return Ok(http::not_modified_response(tag));
    }
    let contact = private.then(|| row.contact()).flatten();
    let mut project = Project::read(&mut conn, row).await?;
    project.contact = contact;
    if bare {
        return Ok(http::record_response(&req, tag, &project));
    }
    if let Some(lang) = lang {
        project.translate(lang);
    }
    embed(&mut conn, std::slice::from_mut(&mut project), &embeds).await?;
    let mut response = http::json_response(HttpResponse::Ok(), &project, None);
    content_language(&mut response, lang);
    Ok(response)
}

crate::history_route!(
    project_history,
    Project,
    "projects",
    "/projects/{id}/history",
    "History of a project and its funding lines",
    (("id" = Uuid, Path, description = "Project id")),
    |ctx| crate::web::http::parse_id::<ProjectId>(crate::resources::history::path_param(
        &ctx, "id"
    ))?
);

//! Partners: a project–organisation link with a role, addressed through its project.

use actix_web::{delete, get, patch, post, web, HttpResponse};

use crate::domain::{PartnerId, ProjectId};
use crate::resources::record::{self, Ctx, Parent};
use crate::web::error::ApiResult;
use crate::web::http::{parse_id, Json, MergePatch, NoParams, Query};

mod list;
mod model;

use model::PartnerKey;
pub use model::{Partner, PartnerInput, PartnerRow};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list::list_partners)
        .service(create_partner)
        .service(find_partner)
        .service(update_partner)
        .service(delete_partner)
        .service(partner_history);
}

/// The partner a route names (404 unless both ids are UUIDs).
fn key(path: &(String, String)) -> ApiResult<PartnerKey> {
    Ok(PartnerKey {
        project: parse_id::<ProjectId>(&path.0)?,
        partner: parse_id::<PartnerId>(&path.1)?,
    })
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
        (status = 409, description = "The organisation already has this role in the project", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[post("/projects/{id}/partners")]
async fn create_partner(
    ctx: Ctx,
    Json(input): Json<PartnerInput>,
    Parent(project): Parent<ProjectId>,
) -> ApiResult<HttpResponse> {
    record::create::<Partner>(&ctx, project, input).await
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
    ctx: Ctx,
    path: web::Path<(String, String)>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    record::find::<Partner>(&ctx, key(&path)?).await
}

/// Update a partner (JSON Merge Patch)
#[utoipa::path(
    tag = "partners",
    params(("id" = Uuid, Path, description = "Project id"), ("partner_id" = Uuid, Path, description = "Partner id"), NoParams),
    request_body(content = PartnerInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = Partner, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "The organisation already has this role in the project", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[patch("/projects/{id}/partners/{partner_id}")]
async fn update_partner(
    ctx: Ctx,
    path: web::Path<(String, String)>,
    _: Query<NoParams>,
    patch: MergePatch,
) -> ApiResult<HttpResponse> {
    record::update::<Partner>(&ctx, key(&path)?, patch.0).await
}

/// Remove a partner from a project
#[utoipa::path(
    tag = "partners",
    params(("id" = Uuid, Path, description = "Project id"), ("partner_id" = Uuid, Path, description = "Partner id"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
    )
)]
#[delete("/projects/{id}/partners/{partner_id}")]
async fn delete_partner(
    ctx: Ctx,
    path: web::Path<(String, String)>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    record::delete::<Partner>(&ctx, key(&path)?).await
}

crate::history_route!(
    partner_history,
    Partner,
    "partners",
    "/projects/{id}/partners/{partner_id}/history",
    "History of a partner",
    (
        ("id" = Uuid, Path, description = "Project id"),
        ("partner_id" = Uuid, Path, description = "Partner id")
    ),
    |ctx| crate::resources::partners::model::PartnerKey {
        project: crate::web::http::parse_id(crate::resources::history::path_param(&ctx, "id"))?,
        partner: crate::web::http::parse_id(crate::resources::history::path_param(
            &ctx,
            "partner_id"
        ))?,
    }
);

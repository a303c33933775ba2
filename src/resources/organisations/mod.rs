//! Organisations: every body that runs, funds, administers or partners in a project.

use actix_web::{delete, get, patch, post, HttpResponse};

use crate::domain::OrganisationId;
use crate::resources::record::{self, Ctx, Key};
use crate::web::error::ApiResult;
use crate::web::http::{Json, MergePatch, NoParams};

mod list;
mod model;

pub use model::{attach_sources, Organisation, OrganisationInput, OrganisationRow, ProjectRole};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list::list_organisations)
        .service(list::export_organisations)
        .service(create_organisation)
        .service(find_organisation)
        .service(update_organisation)
        .service(delete_organisation)
        .service(organisation_history);
}

/// Create an organisation
#[utoipa::path(
    tag = "organisations",
    request_body = OrganisationInput,
    responses(
        (status = 201, description = "Created", body = Organisation,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "Name or registration number already taken", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[post("/organisations")]
async fn create_organisation(
    ctx: Ctx,
    Json(input): Json<OrganisationInput>,
) -> ApiResult<HttpResponse> {
    record::create::<Organisation>(&ctx, (), input).await
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
async fn find_organisation(ctx: Ctx, Key(id): Key<OrganisationId>) -> ApiResult<HttpResponse> {
    record::find::<Organisation>(&ctx, id).await
}

/// Update an organisation (JSON Merge Patch)
///
/// Fields present in the body replace the stored ones; `null` clears an optional field.
#[utoipa::path(
    tag = "organisations",
    params(("id" = Uuid, Path, description = "Organisation id"), NoParams),
    request_body(content = OrganisationInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields"),
    responses(
        (status = 200, description = "Updated", body = Organisation, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "Name or registration number already taken", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[patch("/organisations/{id}")]
async fn update_organisation(
    ctx: Ctx,
    Key(id): Key<OrganisationId>,
    patch: MergePatch,
) -> ApiResult<HttpResponse> {
    record::update::<Organisation>(&ctx, id, patch.0).await
}

/// Delete an organisation
///
/// Refused with 409 while projects, partnerships, programmes or funding lines reference it.
#[utoipa::path(
    tag = "organisations",
    params(("id" = Uuid, Path, description = "Organisation id"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Still referenced; `errors` says by what", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[delete("/organisations/{id}")]
async fn delete_organisation(ctx: Ctx, Key(id): Key<OrganisationId>) -> ApiResult<HttpResponse> {
    record::delete::<Organisation>(&ctx, id).await
}

crate::history_route!(
    organisation_history,
    Organisation,
    "organisations",
    "/organisations/{id}/history",
    "History of an organisation",
    (("id" = Uuid, Path, description = "Organisation id")),
    |ctx| crate::web::http::parse_id::<OrganisationId>(crate::resources::history::path_param(
        &ctx, "id"
    ))?
);

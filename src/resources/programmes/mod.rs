//! Programmes: funding programmes and instruments, with every organisation that funds,
//! administers or otherwise runs them, each in its role.

use actix_web::{delete, get, patch, post, web, HttpResponse};

use crate::domain::{Id, ProgrammeId};
use crate::resources::record::{self, Ctx, Key, Lock, Record};
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::{self, parse_id, Json, MergePatch, NoParams, Query};

mod list;
mod model;

pub use list::ADMINISTERING;
pub use model::{
    assemble, Programme, ProgrammeBody, ProgrammeInput, ProgrammeOrganisation, ProgrammeRow,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list::list_programmes)
        .service(list::export_programmes)
        .service(create_programme)
        .service(find_programme)
        .service(update_programme)
        .service(delete_programme)
        .service(programme_history);
}

/// Create a programme
#[utoipa::path(
    tag = "programmes",
    request_body = ProgrammeInput,
    responses(
        (status = 201, description = "Created", body = Programme,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "Name already taken", body = crate::web::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/programmes")]
async fn create_programme(ctx: Ctx, Json(input): Json<ProgrammeInput>) -> ApiResult<HttpResponse> {
    record::create::<Programme>(&ctx, (), input).await
}

/// Get a programme
///
/// With `include` the response is not the bare record, so it carries no strong ETag.
#[utoipa::path(
    tag = "programmes",
    params(("id" = Uuid, Path, description = "Programme id"), list::ProgrammeReadParams),
    responses(
        (status = 200, description = "The programme", body = Programme,
            headers(("ETag" = String, description = "Strong entity tag (without `include`); send as If-None-Match or If-Match"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/programmes/{id}")]
async fn find_programme(
    ctx: Ctx,
    id: web::Path<String>,
    Query(params): Query<list::ProgrammeReadParams>,
) -> ApiResult<HttpResponse> {
    let id: ProgrammeId = parse_id(&id)?;
    if params.include.is_none() {
        return record::find::<Programme>(&ctx, id).await;
    }
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let row = Programme::fetch(&mut conn, &id, Lock::None)
        .await?
        .ok_or_else(|| ApiError::not_found(ProgrammeId::NAME, id))?;
    let programme = Programme::read(&mut conn, row).await?;
    let programme =
        list::read_included(&ctx, &mut conn, programme, params.include.as_deref()).await?;
    Ok(http::json_response(HttpResponse::Ok(), &programme, None))
}

/// Update a programme (JSON Merge Patch)
#[utoipa::path(
    tag = "programmes",
    params(("id" = Uuid, Path, description = "Programme id"), NoParams),
    request_body(content = ProgrammeInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = Programme, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "Name already taken", body = crate::web::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/programmes/{id}")]
async fn update_programme(
    ctx: Ctx,
    Key(id): Key<ProgrammeId>,
    patch: MergePatch,
) -> ApiResult<HttpResponse> {
    record::update::<Programme>(&ctx, id, patch.0).await
}

/// Delete a programme
///
/// Refused with 409 while projects or funding lines reference it.
#[utoipa::path(
    tag = "programmes",
    params(("id" = Uuid, Path, description = "Programme id"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Still referenced; `errors` says by what", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[delete("/programmes/{id}")]
async fn delete_programme(ctx: Ctx, Key(id): Key<ProgrammeId>) -> ApiResult<HttpResponse> {
    record::delete::<Programme>(&ctx, id).await
}

crate::history_route!(
    programme_history,
    Programme,
    "programmes",
    "/programmes/{id}/history",
    "History of a programme",
    (("id" = Uuid, Path, description = "Programme id")),
    |ctx| crate::web::http::parse_id::<ProgrammeId>(crate::resources::history::path_param(
        &ctx, "id"
    ))?
);

//! `GET /v1/dump`: the whole public registry as one Frictionless Data Package (see
//! [`crate::dump`]).

use actix_web::http::header::{self, EntityTag};
use actix_web::{get, HttpResponse};

use crate::resources::record::Ctx;
use crate::web::csv_export;
use crate::web::error::ApiResult;
use crate::web::http::{self, NoParams, Query};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(dump);
}

/// Download the registry as a data package
///
/// A zip of one CSV per table and a `datapackage.json` (Frictionless Data Package: field
/// types, primary and foreign keys, licence, sources), all read from one snapshot. It holds
/// what anyone may read: no drafts, contact persons, keys or audit trail. Lists and objects
/// are JSON in their cells; timestamps are UTC. The weak `ETag` changes with any change of the
/// registry; `If-None-Match` answers 304 without building the package. `kopa dump DIR` writes
/// the same files; `kopa load-dump` loads them into an empty database.
#[utoipa::path(
    tag = "exports",
    params(NoParams),
    responses((status = 200, description = "The data package (zip)", body = String,
        content_type = "application/zip",
        headers(("ETag" = String, description = "Weak entity tag of this state of the registry"))),
        (status = 304, description = "Not modified (If-None-Match matched)"))
)]
#[get("/dump")]
async fn dump(ctx: Ctx, _: Query<NoParams>) -> ApiResult<HttpResponse> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let current: EntityTag = crate::dump::tag(&mut conn)
        .await?
        .parse()
        .map_err(|e| crate::web::error::ApiError::Internal(anyhow::anyhow!("{e}")))?;
    if http::not_modified(&ctx.req, &current) {
        return Ok(http::not_modified_response(current));
    }
    let package = crate::dump::read(&mut conn).await?;
    drop(conn);
    let tag = package.tag.clone();
    let file = package.zip()?;
    let mut response = csv_export::respond_file(file, "kopa-registry.zip", "application/zip")?;
    if let Ok(value) = header::HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

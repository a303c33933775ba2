//! Sources: the pages and documents records rest on (each seed document is one), with the terms
//! their quoted texts come under. Projects, programmes, organisations and metric values cite
//! them in `sources`; `include=sources` embeds them.

use std::sync::LazyLock;

use actix_web::{delete, get, patch, post, HttpResponse};

use crate::domain::SourceId;
use crate::resources::record::{self, Ctx, Key};
use crate::web::error::ApiResult;
use crate::web::http::{Json, MergePatch, NoParams, Query};
use crate::web::listing::{
    self, Filters, KeyType, Paging, Search, SortField, Source as ListSource,
};
use crate::web::pagination::Page;

mod model;

pub use model::{
    check, embed, load, load_one, replace, Citation, Citing, Source, SourceInput, SourceLink,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_sources)
        .service(create_source)
        .service(find_source)
        .service(update_source)
        .service(delete_source)
        .service(source_history);
}

static SOURCE: ListSource = ListSource {
    table: "sources",
    alias: "s",
    columns: &COLUMNS,
    sorts: &[
        SortField::column("title", "s.title", KeyType::Text),
        SortField::column("updated_at", "s.updated_at", KeyType::Time),
    ],
    default_sort: "id",
    id_type: "uuid",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(sources, Source, "s");

crate::list_params! {
    pub struct SourceListParams ("Page size.") {
        /// Order: `id` (default), `title` or `updated_at`; prefix `-` for descending.
        #[param(example = "title", pattern = "^-?(id|title|updated_at)$")]
        pub sort: Option<String>,
        /// Only sources whose title, publisher or URL contain this text (case and diacritics
        /// ignored).
        #[param(example = "redcross", min_length = 1, max_length = 200)]
        pub q: Option<String>,
        /// Only sources in this language (ISO 639).
        #[param(example = "lv", pattern = "^[a-z]{2,3}$")]
        pub language: Option<String>,
    }
}

/// List sources
#[utoipa::path(
    tag = "sources",
    params(SourceListParams),
    responses((status = 200, description = "One page of sources", body = Page<Source>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/sources")]
async fn list_sources(ctx: Ctx, Query(params): Query<SourceListParams>) -> ApiResult<HttpResponse> {
    let order = SOURCE.order(params.sort.as_deref(), None)?;
    let paging = Paging::of(&params, &SOURCE, &order, false)?;
    let mut filters = Filters::default();
    if let Some(q) = &params.q {
        // Validates the length and emptiness like every `q`.
        Search::parse(Some(q))?;
        let q = filters.bind(listing::Value::Text(q.clone()));
        filters.and(format!(
            "strpos(kopa_fold(s.title || ' ' || coalesce(s.publisher, '') || ' ' || coalesce(s.url, '')), kopa_fold({q})) > 0"
        ));
    }
    filters.equal(
        "s.language",
        params.language.clone().map(listing::Value::Text),
    );
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows.map(|s: Source| s).respond(&ctx.req))
}

/// Create a source
#[utoipa::path(
    tag = "sources",
    request_body = SourceInput,
    responses(
        (status = 201, description = "Created", body = Source,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "URL already taken", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[post("/sources")]
async fn create_source(ctx: Ctx, Json(input): Json<SourceInput>) -> ApiResult<HttpResponse> {
    record::create::<Source>(&ctx, (), input).await
}

/// Get a source
#[utoipa::path(
    tag = "sources",
    params(("id" = Uuid, Path, description = "Source id"), NoParams),
    responses(
        (status = 200, description = "The source", body = Source,
            headers(("ETag" = String, description = "Strong entity tag; send as If-None-Match or If-Match"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/sources/{id}")]
async fn find_source(ctx: Ctx, Key(id): Key<SourceId>) -> ApiResult<HttpResponse> {
    record::find::<Source>(&ctx, id).await
}

/// Update a source (JSON Merge Patch)
#[utoipa::path(
    tag = "sources",
    params(("id" = Uuid, Path, description = "Source id"), NoParams),
    request_body(content = SourceInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = Source, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "URL already taken", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[patch("/sources/{id}")]
async fn update_source(
    ctx: Ctx,
    Key(id): Key<SourceId>,
    patch: MergePatch,
) -> ApiResult<HttpResponse> {
    record::update::<Source>(&ctx, id, patch.0).await
}

/// Delete a source
///
/// Refused with 409 while records cite it.
#[utoipa::path(
    tag = "sources",
    params(("id" = Uuid, Path, description = "Source id"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Still cited; `errors` says by what", body = crate::web::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[delete("/sources/{id}")]
async fn delete_source(ctx: Ctx, Key(id): Key<SourceId>) -> ApiResult<HttpResponse> {
    record::delete::<Source>(&ctx, id).await
}

crate::history_route!(
    source_history,
    model::Source,
    "sources",
    "/sources/{id}/history",
    "History of a source",
    (("id" = Uuid, Path, description = "Source id")),
    |ctx| crate::web::http::parse_id::<SourceId>(crate::resources::history::path_param(
        &ctx, "id"
    ))?
);

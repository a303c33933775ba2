//! Reading programmes: the filtered list.

use std::sync::LazyLock;

use actix_web::{get, HttpResponse};
use uuid::Uuid;

use super::Programme;
use crate::resources::lookup;
use crate::resources::record::Ctx;
use crate::web::csv_export::{self, opt, Column};
use crate::web::error::ApiResult;
use crate::web::http::{Many, Query};
use crate::web::listing::Cursor;
use crate::web::listing::{self, Filters, Paging, Source};
use crate::web::pagination::Page;
use diesel_async::AsyncPgConnection;
use std::collections::HashMap;

static SOURCE: Source = Source {
    table: "programmes",
    alias: "g",
    columns: &COLUMNS,
    sorts: &[],
    default_sort: "id",
    id_type: "uuid",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(programmes, Programme, "g");

crate::list_params! {
    pub struct ProgrammeListParams ("Page size.") {}
    /// What selects programmes, in the list and its export.
    pub struct ProgrammeExportParams {
        /// Only programmes funded by one of these organisations (comma-separated ids).
        #[param(value_type = Option<String>)]
        pub funder: Option<Many<Uuid>>,
        /// Only programmes administered by one of these organisations.
        #[param(value_type = Option<String>)]
        pub administrator: Option<Many<Uuid>>,
    }
}

impl ProgrammeExportParams {
    fn filters(&self) -> Filters {
        let mut filters = Filters::default();
        filters.any_id("g.funder_id", &self.funder);
        filters.any_id("g.administrator_id", &self.administrator);
        filters
    }
}

/// List programmes
#[utoipa::path(
    tag = "programmes",
    params(ProgrammeListParams),
    responses((status = 200, description = "One page of programmes", body = Page<Programme>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/programmes")]
pub async fn list_programmes(
    ctx: Ctx,
    Query(params): Query<ProgrammeListParams>,
) -> ApiResult<HttpResponse> {
    let order = SOURCE.order(None, None)?;
    let paging = Paging::of(&params, &SOURCE, &order, false)?;
    let filters = ProgrammeExportParams::from(&params).filters();
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows.map(|p: Programme| p).respond(&ctx.req))
}

/// What a row of the programmes export is made from.
struct ProgrammeCsv {
    programme: Programme,
    names: std::sync::Arc<HashMap<Uuid, String>>,
}

const COLUMNS_CSV: &[Column<ProgrammeCsv>] = &[
    Column {
        name: "id",
        value: |r| r.programme.id.to_string(),
    },
    Column {
        name: "name",
        value: |r| r.programme.name.clone(),
    },
    Column {
        name: "short_name",
        value: |r| opt(r.programme.short_name.as_ref()),
    },
    Column {
        name: "code",
        value: |r| opt(r.programme.code.as_ref()),
    },
    Column {
        name: "funder_id",
        value: |r| opt(r.programme.funder_id),
    },
    Column {
        name: "funder_name",
        value: |r| opt(r.programme.funder_id.and_then(|id| r.names.get(&id))),
    },
    Column {
        name: "administrator_id",
        value: |r| opt(r.programme.administrator_id),
    },
    Column {
        name: "administrator_name",
        value: |r| opt(r.programme.administrator_id.and_then(|id| r.names.get(&id))),
    },
    Column {
        name: "start_date",
        value: |r| opt(r.programme.start_date),
    },
    Column {
        name: "end_date",
        value: |r| opt(r.programme.end_date),
    },
    Column {
        name: "website",
        value: |r| opt(r.programme.website.as_ref()),
    },
    Column {
        name: "description",
        value: |r| opt(r.programme.description.as_ref()),
    },
    Column {
        name: "updated_at",
        value: |r| {
            r.programme
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        },
    },
    Column {
        name: "version",
        value: |r| r.programme.version.to_string(),
    },
];

/// Export programmes as CSV
///
/// Every programme the filters select, from one snapshot of the registry, with the names of its
/// funder and administrator.
#[utoipa::path(
    tag = "exports",
    params(ProgrammeExportParams),
    responses((status = 200, description = "The programmes as CSV", body = String,
        content_type = "text/csv"))
)]
#[get("/exports/programmes.csv")]
pub async fn export_programmes(
    ctx: Ctx,
    Query(params): Query<ProgrammeExportParams>,
) -> ApiResult<HttpResponse> {
    let order = SOURCE.order(None, None)?;
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let export = (params.filters(), order);
    csv_export::export(
        &mut conn,
        "programmes",
        &csv_export::header(COLUMNS_CSV),
        &export,
        None,
        chunk,
    )
    .await
}

fn chunk<'a>(
    conn: &'a mut AsyncPgConnection,
    (filters, order): &'a (Filters, listing::Order),
    cursor: Option<Cursor>,
) -> csv_export::Chunk<'a> {
    Box::pin(async move {
        let (rows, next) =
            listing::chunk::<Programme>(conn, &SOURCE, filters, order, cursor, csv_export::CHUNK)
                .await?;
        let ids: Vec<Uuid> = rows
            .iter()
            .flat_map(|p| [p.funder_id, p.administrator_id])
            .flatten()
            .collect();
        let names = std::sync::Arc::new(lookup::organisation_names(conn, ids).await?);
        let rows = rows
            .into_iter()
            .map(|programme| {
                let row = ProgrammeCsv {
                    programme,
                    names: names.clone(),
                };
                csv_export::row(COLUMNS_CSV, &row)
            })
            .collect();
        Ok((rows, next))
    })
}

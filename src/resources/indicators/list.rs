//! Reading indicators: the catalogue, ordered by code.

use std::sync::LazyLock;

use actix_web::{get, HttpResponse};

use super::Indicator;
use crate::domain::Lang;
use crate::resources::record::Ctx;
use crate::resources::vocabularies::{self, VocabularyName};
use crate::web::csv_export::{self, opt, Column};
use crate::web::error::ApiResult;
use crate::web::http::{Many, Query};
use crate::web::listing::{self, Filters, KeyType, Paging, SortField, Source};
use crate::web::listing::{Cursor, Order};
use crate::web::pagination::Page;
use diesel_async::AsyncPgConnection;
use std::collections::HashMap;

static SOURCE: Source = Source {
    table: "indicators",
    alias: "i",
    columns: &COLUMNS,
    sorts: &[SortField::column("code", "i.code", KeyType::Text)],
    default_sort: "code",
    id_type: "uuid",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(indicators, Indicator, "i");

crate::list_params! {
    pub struct IndicatorListParams ("Page size.") {}
    /// What selects indicators, in the list and its export.
    pub struct IndicatorExportParams {
        /// Only indicators measured in one of these units (comma-separated).
        #[param(value_type = Option<String>, example = "person")]
        pub unit: Option<Many<String>>,
        /// Language of the unit labels in the export.
        pub lang: Option<Lang>,
    }
}

/// List indicators
///
/// Ordered by code.
#[utoipa::path(
    tag = "indicators",
    params(IndicatorListParams),
    responses((status = 200, description = "One page of indicators", body = Page<Indicator>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/indicators")]
pub async fn list_indicators(
    ctx: Ctx,
    Query(params): Query<IndicatorListParams>,
) -> ApiResult<HttpResponse> {
    let order = SOURCE.order(None, None)?;
    let paging = Paging::of(&params, &SOURCE, &order, false)?;
    let mut filters = Filters::default();
    filters.any_text("i.unit", &params.unit);
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows.map(|i: Indicator| i).respond(&ctx.req))
}

/// What a row of the indicators export is made from.
struct IndicatorCsv {
    indicator: Indicator,
    unit_label: String,
}

const COLUMNS_CSV: &[Column<IndicatorCsv>] = &[
    Column {
        name: "id",
        value: |r| r.indicator.id.to_string(),
    },
    Column {
        name: "code",
        value: |r| r.indicator.code.clone(),
    },
    Column {
        name: "name",
        value: |r| r.indicator.name.clone(),
    },
    Column {
        name: "name_lv",
        value: |r| opt(r.indicator.name_lv.as_ref()),
    },
    Column {
        name: "unit",
        value: |r| r.indicator.unit.clone(),
    },
    Column {
        name: "unit_label",
        value: |r| r.unit_label.clone(),
    },
    Column {
        name: "aggregation",
        value: |r| r.indicator.aggregation.as_str().to_owned(),
    },
    Column {
        name: "description",
        value: |r| opt(r.indicator.description.as_ref()),
    },
    Column {
        name: "updated_at",
        value: |r| {
            r.indicator
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        },
    },
    Column {
        name: "version",
        value: |r| r.indicator.version.to_string(),
    },
];

/// Export the indicator catalogue as CSV
///
/// Every indicator, by code, from one snapshot of the registry, with its unit's label.
#[utoipa::path(
    tag = "exports",
    params(IndicatorExportParams),
    responses((status = 200, description = "The indicators as CSV", body = String,
        content_type = "text/csv"))
)]
#[get("/exports/indicators.csv")]
pub async fn export_indicators(
    ctx: Ctx,
    Query(params): Query<IndicatorExportParams>,
) -> ApiResult<HttpResponse> {
    let order = SOURCE.order(None, None)?;
    let mut filters = Filters::default();
    filters.any_text("i.unit", &params.unit);
    let lang = Lang::negotiate(params.lang, &ctx.req).unwrap_or(Lang::Lv);
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let units = vocabularies::labels(&mut conn, VocabularyName::Units, lang).await?;
    let export = (filters, order, units);
    csv_export::export(
        &mut conn,
        "indicators",
        &csv_export::header(COLUMNS_CSV),
        &export,
        None,
        chunk,
    )
    .await
}

fn chunk<'a>(
    conn: &'a mut AsyncPgConnection,
    (filters, order, units): &'a (Filters, Order, HashMap<String, String>),
    cursor: Option<Cursor>,
) -> csv_export::Chunk<'a> {
    Box::pin(async move {
        let (rows, next) =
            listing::chunk::<Indicator>(conn, &SOURCE, filters, order, cursor, csv_export::CHUNK)
                .await?;
        let rows = rows
            .into_iter()
            .map(|indicator| {
                let unit_label = opt(units.get(&indicator.unit));
                csv_export::row(
                    COLUMNS_CSV,
                    &IndicatorCsv {
                        indicator,
                        unit_label,
                    },
                )
            })
            .collect();
        Ok((rows, next))
    })
}

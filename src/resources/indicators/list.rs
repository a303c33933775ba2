//! Reading indicators: the catalogue, ordered by code.

use std::sync::LazyLock;

use actix_web::{get, HttpResponse};

use super::Indicator;
use crate::resources::record::Ctx;
use crate::web::error::ApiResult;
use crate::web::http::Query;
use crate::web::listing::{self, Filters, KeyType, Paging, SortField, Source, Value};
use crate::web::pagination::Page;

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
    pub struct IndicatorListParams ("Page size.") {
        /// Only indicators measured in this unit.
        #[param(example = "person")]
        pub unit: Option<String>,
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
    filters.equal("i.unit", params.unit.map(Value::Text));
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows.map(|i: Indicator| i).respond(&ctx.req))
}

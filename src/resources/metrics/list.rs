//! Metric values across projects: filters, sort, CSV with indicator and target group labels.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::{get, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{MetricRow, MetricValue};
use crate::auth::Visibility;
use crate::db::DbConn;
use crate::domain::{money, Lang, MetricKind, Qualifier};
use crate::resources::lookup;
use crate::resources::record::Ctx;
use crate::resources::territories;
use crate::resources::vocabularies::{self, VocabularyName};
use crate::schema::indicators;
use crate::web::csv_export::{self, Format};
use crate::web::error::ApiResult;
use crate::web::http::{Many, Query};
use crate::web::listing::{
    self, Cursor, Filters, KeyType, Order, Paging, SortField, Source, Value,
};
use crate::web::pagination::Page;

static SOURCE: Source = Source {
    table: "metric_values",
    alias: "m",
    columns: &COLUMNS,
    sorts: &[SortField::column(
        "updated_at",
        "m.updated_at",
        KeyType::Time,
    )],
    default_sort: "id",
    id_type: "uuid",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(metric_values, MetricRow, "m");

crate::list_params! {
    pub struct MetricListParams ("Page size.") {
        /// Deprecated: `csv` answers the export (`/v1/exports/metrics.csv`).
        #[param(ignore)]
        pub format: Option<Format>,
    }
    /// What selects and orders metric values, in the list and its export.
    pub struct MetricExportParams {
        /// Order: `id` (default) or `updated_at`; prefix `-` for descending.
        #[param(example = "-updated_at", pattern = "^-?(id|updated_at)$")]
        pub sort: Option<String>,
        /// Language of the labels beside codes in the export.
        pub lang: Option<Lang>,
        /// Only values of these indicators (codes, comma-separated).
        #[param(value_type = Option<String>, example = "people_trained,volunteers")]
        pub indicator: Option<Many<String>>,
        /// Only values of these projects.
        #[param(value_type = Option<String>)]
        pub project: Option<Many<Uuid>>,
        /// Only values of projects one of these organisations leads or partners in.
        #[param(value_type = Option<String>)]
        pub organisation: Option<Many<Uuid>>,
        /// Only values of projects under one of these programmes (main programme or a funding
        /// line).
        #[param(value_type = Option<String>)]
        pub programme: Option<Many<Uuid>>,
        /// Only values of projects working in one of these regions (codes).
        #[param(value_type = Option<String>, example = "latgale")]
        pub region: Option<Many<String>>,
        /// Only values of these activities.
        #[param(value_type = Option<String>)]
        pub activity: Option<Many<Uuid>>,
        /// Only actual, target or baseline values (comma-separated).
        #[param(value_type = Option<String>, example = "actual", pattern = "^(actual|target|baseline)(,(actual|target|baseline))*$")]
        pub kind: Option<Many<MetricKind>>,
        /// Only values about one of these target groups (codes).
        #[param(value_type = Option<String>, example = "seniors")]
        pub target_group: Option<Many<String>>,
        /// Only values of projects working in one of these territories, as recorded (ATVK codes, `/v1/territories`).
        #[param(value_type = Option<String>, example = "0440801", pattern = "^[0-9]{7}(,[0-9]{7})*$")]
        pub municipality: Option<Many<String>>,
        /// Only values of projects working in a territory that is today part of the same municipality as one of
        /// these (ATVK codes): `0022000` (Augšdaugavas novads) also finds Daugavpils and Ilūkstes
        /// novads, territories until 2021.
        #[param(value_type = Option<String>, example = "0022000", pattern = "^[0-9]{7}(,[0-9]{7})*$")]
        pub municipality_today: Option<Many<String>>,
        /// Only values with one of these qualifiers (`exact`, `approximate`, `more_than`, ...).
        #[param(value_type = Option<String>, example = "more_than,at_least")]
        pub qualifier: Option<Many<Qualifier>>,
        /// Only values whose period ends on or after this day.
        #[param(example = "2012-01-01")]
        pub period_from: Option<NaiveDate>,
        /// Only values whose period starts on or before this day.
        #[param(example = "2013-12-31")]
        pub period_to: Option<NaiveDate>,
        /// Only values changed at or after this instant.
        pub updated_since: Option<DateTime<Utc>>,
        /// `true`: only values the programme's administrator verified; `false`: only values
        /// not (yet) verified (reported or queried).
        pub verified: Option<bool>,
    }
}

async fn filters(
    conn: &mut AsyncPgConnection,
    params: &MetricExportParams,
    visibility: Visibility,
) -> ApiResult<Filters> {
    vocabularies::ensure_codes(conn, VocabularyName::Regions, "region", &params.region).await?;
    vocabularies::ensure_codes(
        conn,
        VocabularyName::TargetGroups,
        "target_group",
        &params.target_group,
    )
    .await?;
    let mut f = Filters::default();
    f.visible(visibility, "m.project_id");
    if let Some(codes) = &params.indicator {
        let codes = f.bind(Value::Texts(codes.values()));
        f.and(format!(
            "m.indicator_id IN (SELECT i.id FROM indicators i WHERE i.code = ANY({codes}))"
        ));
    }
    f.any_id("m.project_id", &params.project);
    if let Some(orgs) = &params.organisation {
        let orgs = f.bind(Value::Uuids(orgs.values()));
        f.and(format!(
            "m.project_id IN (SELECT id FROM projects WHERE lead_organisation_id = ANY({orgs}) \
             UNION SELECT project_id FROM project_partners WHERE organisation_id = ANY({orgs}))"
        ));
    }
    if let Some(programmes) = &params.programme {
        let programmes = f.bind(Value::Uuids(programmes.values()));
        f.and(format!(
            "m.project_id IN (SELECT id FROM projects WHERE programme_id = ANY({programmes}) \
             UNION SELECT project_id FROM project_funding WHERE programme_id = ANY({programmes}))"
        ));
    }
    if let Some(regions) = &params.region {
        let regions = f.bind(Value::Texts(regions.values()));
        f.and(format!(
            "m.project_id IN (SELECT id FROM projects WHERE regions && {regions})"
        ));
    }
    f.any_id("m.activity_id", &params.activity);
    let kinds = params
        .kind
        .as_ref()
        .map(|k| Many(k.0.iter().map(|k| k.as_str().to_owned()).collect()));
    f.any_text("m.kind", &kinds);
    f.any_text("m.target_group", &params.target_group);
    if let Some(codes) =
        territories::codes(conn, &params.municipality, &params.municipality_today).await?
    {
        let codes = f.bind(Value::Texts(codes));
        f.and(format!(
            "m.project_id IN (SELECT id FROM projects WHERE municipalities && {codes})"
        ));
    }
    let qualifiers = params
        .qualifier
        .as_ref()
        .map(|q| Many(q.0.iter().map(|q| q.as_str().to_owned()).collect()));
    f.any_text("m.qualifier", &qualifiers);
    if let Some(from) = params.period_from {
        let from = f.bind(Value::Date(from));
        f.and(format!("coalesce(m.period_end, m.period_start) >= {from}"));
    }
    if let Some(to) = params.period_to {
        let to = f.bind(Value::Date(to));
        f.and(format!("coalesce(m.period_start, m.period_end) <= {to}"));
    }
    if let Some(since) = params.updated_since {
        let since = f.bind(Value::Time(since));
        f.and(format!("m.updated_at >= {since}"));
    }
    match params.verified {
        Some(true) => f.and("m.verification = 'verified'".to_owned()),
        Some(false) => f.and("m.verification <> 'verified'".to_owned()),
        None => {}
    }
    Ok(f)
}

/// Indicator codes and names by id (the catalogue is small).
async fn indicator_names(
    conn: &mut AsyncPgConnection,
) -> ApiResult<HashMap<Uuid, (String, String, String)>> {
    Ok(indicators::table
        .select((
            indicators::id,
            indicators::code,
            indicators::name,
            indicators::unit,
        ))
        .load::<(Uuid, String, String, String)>(conn)
        .await?
        .into_iter()
        .map(|(id, code, name, unit)| (id, (code, name, unit)))
        .collect())
}

/// A page of metric values (or, the deprecated way, the whole filtered list as CSV).
pub async fn page(ctx: Ctx, mut conn: DbConn, params: MetricListParams) -> ApiResult<HttpResponse> {
    let query = MetricExportParams::from(&params);
    if csv_export::wanted(&ctx.req, params.format) {
        drop(conn);
        let response = export(&ctx, query.clone(), params.cursor.as_deref()).await?;
        // A project's own list names its project in the path; the export takes it as a filter.
        let in_path = ctx.req.match_info().get("id").is_some();
        let successor = match (
            in_path,
            query.project.as_ref().and_then(|p| <[Uuid]>::first(&p.0)),
        ) {
            (true, Some(project)) => format!("{EXPORT}?project={project}"),
            _ => EXPORT.to_owned(),
        };
        return Ok(csv_export::deprecated(response, &ctx.req, &successor));
    }
    let filters = filters(&mut conn, &query, ctx.caller.visibility()).await?;
    let order = SOURCE.order(query.sort.as_deref(), None)?;
    let paging = Paging::of(&params, &SOURCE, &order, false)?;
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    let names = indicator_names(&mut conn).await?;
    let mut page = rows.map(|row: MetricRow| {
        let code = names
            .get(&row.indicator_id)
            .map(|(code, ..)| code.clone())
            .unwrap_or_default();
        MetricValue::from_parts(row, code)
    });
    super::attach_sources(&mut conn, &mut page.data).await?;
    Ok(page.respond(&ctx.req))
}

/// List metric values across projects
///
/// Filters combine with AND. The whole filtered list as CSV is `GET /v1/exports/metrics.csv`.
#[utoipa::path(
    tag = "metrics",
    params(MetricListParams),
    responses((status = 200, description = "One page of metric values", body = Page<MetricValue>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/metrics")]
pub async fn list_metrics(
    ctx: Ctx,
    Query(params): Query<MetricListParams>,
) -> ApiResult<HttpResponse> {
    let conn = ctx.state.reader(&ctx.caller).await?;
    page(ctx, conn, params).await
}

const EXPORT: &str = "/v1/exports/metrics.csv";

/// Export metric values as CSV
///
/// Every value the filters select, from one snapshot of the registry, one row each with the
/// project's title, the indicator's name and unit and the target group's label.
#[utoipa::path(
    tag = "exports",
    params(MetricExportParams),
    responses((status = 200, description = "The metric values as CSV", body = String,
        content_type = "text/csv"))
)]
#[get("/exports/metrics.csv")]
pub async fn export_metrics(
    ctx: Ctx,
    Query(params): Query<MetricExportParams>,
) -> ApiResult<HttpResponse> {
    export(&ctx, params, None).await
}

async fn export(
    ctx: &Ctx,
    params: MetricExportParams,
    cursor: Option<&str>,
) -> ApiResult<HttpResponse> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let filters = filters(&mut conn, &params, ctx.caller.visibility()).await?;
    let order = SOURCE.order(params.sort.as_deref(), None)?;
    let cursor = Cursor::decode(cursor, &order, SOURCE.id_type)?;
    let lang = Lang::negotiate(params.lang, &ctx.req).unwrap_or(Lang::Lv);
    let context = Export {
        indicators: indicator_names(&mut conn).await?,
        target_groups: vocabularies::labels(&mut conn, VocabularyName::TargetGroups, lang).await?,
        filters,
        order,
    };
    csv_export::export(&mut conn, "metrics", CSV_HEADER, &context, cursor, chunk).await
}

const CSV_HEADER: &[&str] = &[
    "id",
    "project_id",
    "project_title",
    "indicator",
    "indicator_name",
    "unit",
    "activity_id",
    "period_start",
    "period_end",
    "target_group",
    "target_group_label",
    "kind",
    "value",
    "qualifier",
    "note",
    "verification",
    "external_id",
    "updated_at",
    "version",
];

struct Export {
    indicators: HashMap<Uuid, (String, String, String)>,
    target_groups: HashMap<String, String>,
    filters: Filters,
    order: Order,
}

fn chunk<'a>(
    conn: &'a mut AsyncPgConnection,
    export: &'a Export,
    cursor: Option<Cursor>,
) -> csv_export::Chunk<'a> {
    Box::pin(async move {
        let (rows, next) = listing::chunk::<MetricRow>(
            conn,
            &SOURCE,
            &export.filters,
            &export.order,
            cursor,
            csv_export::CHUNK,
        )
        .await?;
        let titles = lookup::project_titles(conn, rows.iter().map(|r| r.project_id)).await?;
        let opt = |v: Option<String>| v.unwrap_or_default();
        let rows = rows
            .into_iter()
            .map(|m| {
                let (code, name, unit) = export
                    .indicators
                    .get(&m.indicator_id)
                    .cloned()
                    .unwrap_or_default();
                let group_label = m
                    .target_group
                    .as_ref()
                    .and_then(|g| export.target_groups.get(g).cloned());
                vec![
                    m.id.to_string(),
                    m.project_id.to_string(),
                    titles.get(&m.project_id).cloned().unwrap_or_default(),
                    code,
                    name,
                    unit,
                    opt(m.activity_id.map(|a| a.to_string())),
                    opt(m.period_start.map(|d| d.to_string())),
                    opt(m.period_end.map(|d| d.to_string())),
                    opt(m.target_group),
                    opt(group_label),
                    m.kind.as_str().to_owned(),
                    money::to_f64(&m.value).to_string(),
                    m.qualifier.as_str().to_owned(),
                    opt(m.note),
                    m.verification.as_str().to_owned(),
                    opt(m.external_id),
                    m.updated_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    m.version.to_string(),
                ]
            })
            .collect();
        Ok((rows, next))
    })
}

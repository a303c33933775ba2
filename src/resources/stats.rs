//! Indicator statistics: one indicator's values summed by programme, organisation, region,
//! year or target group, over the projects the list filters select.
//!
//! Each project's values first combine by the indicator's aggregation rule (`sum`, `max`, or
//! the `latest` period's) within each group; the groups then add up the per-project figures.
//! A project in two regions counts in both, so region groups can add up to more than `total`,
//! which counts every project once.

use std::collections::HashMap;

use actix_web::{get, web, HttpResponse};
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::language::Lang;
use crate::domain::{Aggregation, MetricKind, ProjectStatus};
use crate::resources::indicators::Indicator;
use crate::resources::projects::ProjectFilters;
use crate::resources::record::Ctx;
use crate::resources::vocabularies::{self, VocabularyName};
use crate::schema::{indicators, organisations, programmes};
use crate::web::csv_export::{self, CsvFile};
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::{self, Query};
use crate::web::listing::{Filters, Value};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(indicator_stats).service(export_indicator_stats);
}

/// What the groups are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The project's main programme.
    Programme,
    /// The project's lead organisation.
    Organisation,
    /// Each region the project works in.
    Region,
    /// The year the value's period ends in (or starts in; else the project's end year).
    Year,
    /// The value's target group (`null` for values not split by group).
    TargetGroup,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// How to group the values.
    pub group_by: GroupBy,
    /// Which values: `actual` (default), `target` or `baseline`.
    pub kind: Option<MetricKind>,
    /// Only values whose period ends on or after this day.
    #[param(example = "2012-01-01")]
    pub period_from: Option<NaiveDate>,
    /// Only values whose period starts on or before this day.
    #[param(example = "2013-12-31")]
    pub period_to: Option<NaiveDate>,
    /// Language of group labels.
    pub lang: Option<Lang>,
    /// Only projects with this status.
    pub status: Option<ProjectStatus>,
    /// Only projects this organisation leads or partners in.
    pub organisation: Option<Uuid>,
    /// Only projects this organisation leads.
    pub lead_organisation: Option<Uuid>,
    /// Only projects under this programme (main programme or a funding line).
    pub programme: Option<Uuid>,
    /// Only projects aimed at this target group (code).
    #[param(example = "seniors")]
    pub target_group: Option<String>,
    /// Only projects working in this region (code).
    #[param(example = "latgale")]
    pub region: Option<String>,
    /// Only projects with an activity of this kind.
    #[param(example = "course")]
    pub activity_kind: Option<String>,
    /// Only projects running on this day.
    #[param(example = "2013-03-08")]
    pub active_on: Option<NaiveDate>,
    /// Only projects starting on or after this day.
    pub starts_after: Option<NaiveDate>,
    /// Only projects starting on or before this day.
    pub starts_before: Option<NaiveDate>,
    /// Only projects ending on or after this day.
    pub ends_after: Option<NaiveDate>,
    /// Only projects ending on or before this day.
    pub ends_before: Option<NaiveDate>,
    /// Only projects matching this search (as `q` on `/v1/projects`).
    #[param(min_length = 1, max_length = 200)]
    pub q: Option<String>,
}

/// One group's figure.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatGroup {
    /// The group: a programme or organisation id, a region or target group code, a year;
    /// `null` for values with no programme / region / year / target group.
    #[schema(example = "latgale")]
    pub key: Option<String>,
    /// Human label of the key (name, vocabulary label or the year).
    #[schema(example = "Latgale")]
    pub label: Option<String>,
    /// The figure: per-project values combined by the indicator's rule, added over projects.
    #[schema(example = 487.0)]
    pub value: f64,
    /// How many projects contribute.
    #[schema(example = 1)]
    pub projects: i64,
    /// How many stored values went into it.
    #[schema(example = 4)]
    pub values: i64,
}

/// An indicator's figures by group.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorStats {
    /// The indicator's code.
    #[schema(example = "participants")]
    pub indicator: String,
    /// Its unit (`/v1/vocabularies/units`).
    #[schema(example = "person")]
    pub unit: String,
    /// Its aggregation rule.
    pub aggregation: Aggregation,
    /// Which values were counted.
    pub kind: MetricKind,
    /// How the groups are formed.
    pub group_by: GroupBy,
    /// The groups, by key (`null` last).
    pub groups: Vec<StatGroup>,
    /// Every selected project counted once.
    pub total: StatGroup,
}

#[derive(QueryableByName)]
struct GroupRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Double)]
    value: f64,
    #[diesel(sql_type = BigInt)]
    projects: i64,
    #[diesel(sql_type = BigInt)]
    values: i64,
}

/// Sums of an indicator
///
/// Takes the same project filters as `GET /v1/projects`; `period_from`/`period_to` select
/// values by their period. Drafts count only for keys that may read them.
#[utoipa::path(
    tag = "stats",
    params(("code" = String, Path, description = "Indicator code"), StatsParams),
    responses((status = 200, description = "The indicator's figures by group", body = IndicatorStats))
)]
#[get("/stats/indicators/{code}")]
async fn indicator_stats(
    ctx: Ctx,
    code: web::Path<String>,
    Query(params): Query<StatsParams>,
) -> ApiResult<HttpResponse> {
    let stats = compute(&ctx, &code, &params).await?;
    Ok(http::json_response(HttpResponse::Ok(), &stats, None))
}

/// Export an indicator's sums as CSV
///
/// The same figures as `GET /v1/stats/indicators/{code}`, one row per group with its label,
/// and a last row `total` that counts every project once.
#[utoipa::path(
    tag = "exports",
    params(("code" = String, Path, description = "Indicator code"), StatsParams),
    responses((status = 200, description = "The figures as CSV", body = String,
        content_type = "text/csv"))
)]
#[get("/exports/stats/indicators/{code}.csv")]
async fn export_indicator_stats(
    ctx: Ctx,
    code: web::Path<String>,
    Query(params): Query<StatsParams>,
) -> ApiResult<HttpResponse> {
    let stats = compute(&ctx, &code, &params).await?;
    let group_by = serde_json::to_value(stats.group_by)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut file = CsvFile::new(&[
        "indicator",
        "unit",
        "aggregation",
        "kind",
        "group_by",
        "key",
        "label",
        "value",
        "projects",
        "values",
    ])?;
    let total = StatGroup {
        key: Some("total".to_owned()),
        ..stats.total
    };
    for group in stats.groups.iter().chain(std::iter::once(&total)) {
        file.write([
            stats.indicator.as_str(),
            stats.unit.as_str(),
            stats.aggregation.as_str(),
            stats.kind.as_str(),
            group_by.as_str(),
            group.key.as_deref().unwrap_or_default(),
            group.label.as_deref().unwrap_or_default(),
            group.value.to_string().as_str(),
            group.projects.to_string().as_str(),
            group.values.to_string().as_str(),
        ])?;
    }
    let filename = format!("stats-{}-{group_by}.csv", stats.indicator);
    csv_export::respond_file(file.finish()?, &filename, "text/csv; charset=utf-8")
}

/// The figures of indicator `code` for a request.
async fn compute(ctx: &Ctx, code: &str, params: &StatsParams) -> ApiResult<IndicatorStats> {
    let (caller, req) = (&ctx.caller, &ctx.req);
    let code = code.to_owned();
    let mut conn = ctx.state.reader(caller).await?;
    let indicator: Indicator = indicators::table
        .filter(indicators::code.eq(code.as_str()))
        .select(Indicator::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no indicator with code {:?}", code.as_str())))?;
    let kind = params.kind.unwrap_or(MetricKind::Actual);
    let project_params = ProjectFilters {
        q: params.q.clone(),
        status: params.status,
        organisation: params.organisation,
        lead_organisation: params.lead_organisation,
        programme: params.programme,
        target_group: params.target_group.clone(),
        region: params.region.clone(),
        activity_kind: params.activity_kind.clone(),
        active_on: params.active_on,
        starts_after: params.starts_after,
        starts_before: params.starts_before,
        ends_after: params.ends_after,
        ends_before: params.ends_before,
        ..Default::default()
    };
    let (mut f, _) =
        crate::resources::projects::filters(&mut conn, &project_params, caller.visibility())
            .await?;
    let indicator_id = f.bind(Value::Uuid(indicator.id));
    let kind_param = f.bind(Value::Text(kind.as_str().to_owned()));
    f.and(format!(
        "m.indicator_id = {indicator_id} AND m.kind = {kind_param}"
    ));
    if let Some(from) = params.period_from {
        let from = f.bind(Value::Date(from));
        f.and(format!("coalesce(m.period_end, m.period_start) >= {from}"));
    }
    if let Some(to) = params.period_to {
        let to = f.bind(Value::Date(to));
        f.and(format!("coalesce(m.period_start, m.period_end) <= {to}"));
    }
    let groups = figures(&mut conn, &f, indicator.aggregation, Some(params.group_by)).await?;
    let total = figures(&mut conn, &f, indicator.aggregation, None)
        .await?
        .pop()
        .unwrap_or(GroupRow {
            key: None,
            value: 0.0,
            projects: 0,
            values: 0,
        });
    let lang = Lang::negotiate(params.lang, req).unwrap_or(Lang::Lv);
    let labels = labels(&mut conn, params.group_by, &groups, lang).await?;
    let stats = IndicatorStats {
        indicator: indicator.code,
        unit: indicator.unit,
        aggregation: indicator.aggregation,
        kind,
        group_by: params.group_by,
        groups: groups
            .into_iter()
            .map(|g| StatGroup {
                label: g.key.as_ref().and_then(|k| labels.get(k).cloned()),
                key: g.key,
                value: g.value,
                projects: g.projects,
                values: g.values,
            })
            .collect(),
        total: StatGroup {
            key: None,
            label: None,
            value: total.value,
            projects: total.projects,
            values: total.values,
        },
    };
    Ok(stats)
}

/// Per-group figures (one group for all when `group_by` is `None`).
async fn figures(
    conn: &mut AsyncPgConnection,
    filters: &Filters,
    aggregation: Aggregation,
    group_by: Option<GroupBy>,
) -> ApiResult<Vec<GroupRow>> {
    let (key, join) = match group_by {
        None => ("NULL::text", ""),
        Some(GroupBy::Programme) => ("p.programme_id::text", ""),
        Some(GroupBy::Organisation) => ("p.lead_organisation_id::text", ""),
        Some(GroupBy::Region) => (
            "r.code",
            " LEFT JOIN LATERAL unnest(p.regions) AS r(code) ON true",
        ),
        Some(GroupBy::Year) => (
            "extract(year FROM coalesce(m.period_end, m.period_start, p.end_date))::int::text",
            "",
        ),
        Some(GroupBy::TargetGroup) => ("m.target_group", ""),
    };
    let combine = match aggregation {
        Aggregation::Sum => "sum(m.value)",
        Aggregation::Max => "max(m.value)",
        Aggregation::Latest => {
            "(array_agg(m.value ORDER BY coalesce(m.period_end, m.period_start) DESC NULLS LAST, m.updated_at DESC, m.id DESC))[1]"
        }
    };
    let inner = filters.statement(&format!(
        "SELECT {key} AS key, m.project_id, {combine} AS value, count(*) AS n \
         FROM metric_values m JOIN projects p ON p.id = m.project_id{join}"
    ));
    let sql = inner.wrap(
        "SELECT key, sum(value)::float8 AS value, count(*) AS projects, sum(n)::bigint AS values FROM (",
        " GROUP BY 1, 2) per_project GROUP BY key ORDER BY key NULLS LAST",
    );
    Ok(sql.into_query().load(conn).await?)
}

/// Labels of the group keys.
async fn labels(
    conn: &mut AsyncPgConnection,
    group_by: GroupBy,
    groups: &[GroupRow],
    lang: Lang,
) -> ApiResult<HashMap<String, String>> {
    let ids = || -> Vec<Uuid> {
        groups
            .iter()
            .filter_map(|g| g.key.as_deref().and_then(|k| k.parse().ok()))
            .collect()
    };
    Ok(match group_by {
        GroupBy::Programme => programmes::table
            .filter(programmes::id.eq_any(ids()))
            .select((programmes::id, programmes::name))
            .load::<(Uuid, String)>(conn)
            .await?
            .into_iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect(),
        GroupBy::Organisation => organisations::table
            .filter(organisations::id.eq_any(ids()))
            .select((organisations::id, organisations::name))
            .load::<(Uuid, String)>(conn)
            .await?
            .into_iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect(),
        GroupBy::Region => vocabularies::labels(conn, VocabularyName::Regions, lang).await?,
        GroupBy::TargetGroup => {
            vocabularies::labels(conn, VocabularyName::TargetGroups, lang).await?
        }
        GroupBy::Year => groups
            .iter()
            .filter_map(|g| g.key.clone().map(|k| (k.clone(), k)))
            .collect(),
    })
}

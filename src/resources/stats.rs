//! Answers: an indicator's figures and the money committed, grouped by programme,
//! organisation, region, year or target group over the projects the list's filters select.
//!
//! Indicator figures come from per-project rollups the database keeps in the same transaction
//! as every write of a value (`metric_rollups`), so a request costs what the number of selected
//! projects costs, not the number of stored values; they also keep how many values are
//! unverified or inexact. Only period bounds (`period_from`, `period_to`: day precision) and
//! `verified=true` read the values themselves; the answer says which it used.
//!
//! Within each group, each project's values combine by the indicator's rule (`sum`, `max`, or
//! the `latest` period's); the groups then add the per-project figures. An indicator other
//! indicators count towards answers for its family: per project, the largest of its own
//! figure, the sum of its disjoint members and each overlapping or subset member, so nobody is
//! counted twice. A project in two regions counts in both, so region groups can add up to
//! more than `total`, which counts every project once. Targets, actuals and baselines come
//! side by side, with progress (actual ÷ target) where both exist.

use std::collections::{BTreeMap, HashMap};

use actix_web::{get, web, HttpResponse};
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::{Aggregation, Lang, MetricKind, Qualifier};
use crate::resources::indicators::Indicator;
use crate::resources::lookup;
use crate::resources::projects::{filters as project_filters, ProjectFilters};
use crate::resources::record::Ctx;
use crate::resources::vocabularies::{self, VocabularyName};
use crate::schema::indicators;
use crate::web::csv_export::{self, CsvFile};
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::{self, Query2};
use crate::web::listing::{Filters, Value};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(all_indicator_stats)
        .service(indicator_stats)
        .service(export_indicator_stats)
        .service(funding_stats)
        .service(export_funding_stats);
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
    /// Each territory the project works in, as recorded (ATVK code).
    Municipality,
    /// Today's municipality or state city of each territory the project works in (a project
    /// recorded in Ilūkstes novads counts under Augšdaugavas novads, once however many of its
    /// territories that municipality took over).
    MunicipalityToday,
}

impl GroupBy {
    fn as_str(self) -> &'static str {
        match self {
            GroupBy::Programme => "programme",
            GroupBy::Organisation => "organisation",
            GroupBy::Region => "region",
            GroupBy::Year => "year",
            GroupBy::TargetGroup => "target_group",
            GroupBy::Municipality => "municipality",
            GroupBy::MunicipalityToday => "municipality_today",
        }
    }
}

/// The stats' own parameters (the project filters are the list's).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// How to group the values.
    pub group_by: GroupBy,
    /// Which values `value` counts: `actual` (default), `target` or `baseline`. Every group
    /// also gives all three side by side.
    pub kind: Option<MetricKind>,
    /// Only values whose period ends on or after this day (read from the values themselves).
    #[param(example = "2012-01-01")]
    pub period_from: Option<NaiveDate>,
    /// Only values whose period starts on or before this day (read from the values themselves).
    #[param(example = "2013-12-31")]
    pub period_to: Option<NaiveDate>,
    /// `true`: count only values the programme's administrator verified (read from the values
    /// themselves; each group still says how many it left out, as `unverified`).
    pub verified: Option<bool>,
    /// Language of group labels.
    pub lang: Option<Lang>,
}

/// One group's figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatGroup {
    /// The group: a programme or organisation id, a region or target group code, a year;
    /// `null` for values with no programme / region / year / target group.
    #[schema(example = "latgale")]
    pub key: Option<String>,
    /// Human label of the key (name, vocabulary label or the year).
    #[schema(example = "Latgale")]
    pub label: Option<String>,
    /// The figure of the values of `kind`: per-project figures combined by the rule, added
    /// over projects.
    #[schema(example = 487.0)]
    pub value: f64,
    /// How many projects contribute to `value`.
    #[schema(example = 1)]
    pub projects: i64,
    /// How many stored values went into `value`.
    #[schema(example = 4)]
    pub values: i64,
    /// The same figure for actual values (`null`: none reported).
    #[schema(example = 487.0)]
    pub actual: Option<f64>,
    /// The same figure for targets (`null`: none set).
    #[schema(example = 500.0)]
    pub target: Option<f64>,
    /// The same figure for baselines (`null`: none given).
    pub baseline: Option<f64>,
    /// `actual ÷ target` where both exist (1.0 means the target was met).
    #[schema(example = 0.974)]
    pub progress: Option<f64>,
    /// How exact `value` is: `exact` when every value in it is. A sum containing a `more_than`
    /// is `more_than` (with `at_least` values too), one containing an `at_least` is
    /// `at_least`, likewise `less_than` and `at_most`; lower and upper bounds together, or any
    /// `approximate` value, make it `approximate`. A largest or latest value with inexact
    /// values among the ones it was chosen from is `at_least`, `at_most` or `approximate`.
    pub qualifier: Qualifier,
    /// How many of the values in `value` are not exact.
    #[schema(example = 0)]
    pub inexact_values: i64,
    /// How many of the group's values of `kind` are not verified (reported or queried); with
    /// `verified=true` they are left out of `value`, `projects` and `values`.
    #[schema(example = 1)]
    pub unverified: i64,
}

/// An indicator counted towards the one asked for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FamilyMember {
    /// The member's code.
    #[schema(example = "volunteers")]
    pub indicator: String,
    /// How its people relate to the family's: `disjoint` (added), `overlapping` or `subset`
    /// (bounding the total from below).
    #[schema(example = "overlapping")]
    pub relation: String,
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
    /// Which values `value` counts.
    pub kind: MetricKind,
    /// How the groups are formed.
    pub group_by: GroupBy,
    /// The indicators that count towards this one, with how (empty for a single indicator).
    pub family: Vec<FamilyMember>,
    /// `rollups` (kept with every write) or `values` (read for period bounds).
    #[schema(example = "rollups")]
    pub computed_from: String,
    /// The groups, by key (`null` last).
    pub groups: Vec<StatGroup>,
    /// Every selected project counted once.
    pub total: StatGroup,
}

#[derive(QueryableByName)]
struct KindRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Double)]
    value: f64,
    #[diesel(sql_type = BigInt)]
    projects: i64,
    #[diesel(sql_type = BigInt)]
    values: i64,
}

/// The answers' own parameters when every indicator is summed.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TotalsParams {
    /// Which values `value` counts: `actual` (default), `target` or `baseline`.
    pub kind: Option<MetricKind>,
}

/// One indicator's figures over the selected projects.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorTotal {
    /// The indicator's code.
    #[schema(example = "participants")]
    pub indicator: String,
    /// Its unit.
    #[schema(example = "person")]
    pub unit: String,
    /// Its aggregation rule.
    pub aggregation: Aggregation,
    /// Its figures (`key` is the code; `label` its English name).
    #[serde(flatten)]
    pub figures: StatGroup,
}

/// Every indicator's figures over the selected projects.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorTotals {
    /// Which values `value` counts.
    pub kind: MetricKind,
    /// One entry per indicator with values, by code.
    pub indicators: Vec<IndicatorTotal>,
}

/// Sums of every indicator
///
/// What the projects the filters select (the filters of `GET /v1/projects`) achieved, one
/// entry per indicator with values: e.g. everything a programme's projects reported with
/// `programme=<id>`. Each indicator on its own (no family totals); targets beside actuals.
#[utoipa::path(
    tag = "stats",
    params(TotalsParams, ProjectFilters),
    responses((status = 200, description = "Every indicator's figures", body = IndicatorTotals))
)]
#[get("/stats/indicators")]
async fn all_indicator_stats(
    ctx: Ctx,
    Query2(params, filters): Query2<TotalsParams, ProjectFilters>,
) -> ApiResult<HttpResponse> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let kind = params.kind.unwrap_or(MetricKind::Actual);
    let (f, _) = project_filters(&mut conn, &filters, ctx.caller.visibility()).await?;
    let catalogue: Vec<Indicator> = indicators::table
        .order(indicators::code)
        .select(Indicator::as_select())
        .load(&mut conn)
        .await?;
    let members = Members {
        ids: catalogue.iter().map(|i| i.id).collect(),
        relations: catalogue.iter().map(|_| "own".to_owned()).collect(),
        family: Vec::new(),
    };
    let mut groups = pivot(
        figures(
            &mut conn,
            &f,
            &members,
            Grouping::Indicator,
            Source::Rollups,
        )
        .await?,
        kind,
    );
    let counts = unverified(
        &mut conn,
        &f,
        &members,
        Grouping::Indicator,
        kind,
        Source::Rollups,
    )
    .await?;
    count_unverified(&mut groups, &counts);
    let by_code: HashMap<&str, &Indicator> =
        catalogue.iter().map(|i| (i.code.as_str(), i)).collect();
    let qualifiers = inexact(
        &mut conn,
        &f,
        &members.ids,
        Grouping::Indicator,
        kind,
        Source::Rollups,
    )
    .await?;
    let indicators = groups
        .into_iter()
        .filter_map(|mut figures| {
            let indicator = by_code.get(figures.key.as_deref()?)?;
            if let Some(found) = qualifiers.get(&figures.key) {
                found.apply(&mut figures, indicator.aggregation);
            }
            figures.label = Some(indicator.name.clone());
            Some(IndicatorTotal {
                indicator: indicator.code.clone(),
                unit: indicator.unit.clone(),
                aggregation: indicator.aggregation,
                figures,
            })
        })
        .collect();
    let totals = IndicatorTotals { kind, indicators };
    Ok(http::json_response(HttpResponse::Ok(), &totals, None))
}

/// Sums of an indicator
///
/// Takes the project filters of `GET /v1/projects`; `period_from`/`period_to` select values by
/// their period. Drafts count only for keys that may read them. For an indicator other
/// indicators count towards (its family), the figures are the family's.
#[utoipa::path(
    tag = "stats",
    params(("code" = String, Path, description = "Indicator code"), StatsParams, ProjectFilters),
    responses((status = 200, description = "The indicator's figures by group", body = IndicatorStats))
)]
#[get("/stats/indicators/{code}")]
async fn indicator_stats(
    ctx: Ctx,
    code: web::Path<String>,
    Query2(params, filters): Query2<StatsParams, ProjectFilters>,
) -> ApiResult<HttpResponse> {
    let stats = compute(&ctx, &code, &params, &filters).await?;
    Ok(http::json_response(HttpResponse::Ok(), &stats, None))
}

/// Export an indicator's sums as CSV
///
/// The same figures as `GET /v1/stats/indicators/{code}`, one row per group with its label,
/// target, actual, baseline and progress, and a last row `total` that counts every project
/// once.
#[utoipa::path(
    tag = "exports",
    params(("code" = String, Path, description = "Indicator code"), StatsParams, ProjectFilters),
    responses((status = 200, description = "The figures as CSV", body = String,
        content_type = "text/csv"))
)]
#[get("/exports/stats/indicators/{code}.csv")]
async fn export_indicator_stats(
    ctx: Ctx,
    code: web::Path<String>,
    Query2(params, filters): Query2<StatsParams, ProjectFilters>,
) -> ApiResult<HttpResponse> {
    let stats = compute(&ctx, &code, &params, &filters).await?;
    let group_by = stats.group_by.as_str();
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
        "actual",
        "target",
        "baseline",
        "progress",
        "qualifier",
        "inexact_values",
        "unverified",
    ])?;
    let total = StatGroup {
        key: Some("total".to_owned()),
        ..stats.total.clone()
    };
    let number = |v: Option<f64>| csv_export::opt(v);
    for group in stats.groups.iter().chain(std::iter::once(&total)) {
        file.write([
            stats.indicator.clone(),
            stats.unit.clone(),
            stats.aggregation.as_str().to_owned(),
            stats.kind.as_str().to_owned(),
            group_by.to_owned(),
            csv_export::opt(group.key.as_ref()),
            csv_export::opt(group.label.as_ref()),
            group.value.to_string(),
            group.projects.to_string(),
            group.values.to_string(),
            number(group.actual),
            number(group.target),
            number(group.baseline),
            number(group.progress),
            group.qualifier.as_str().to_owned(),
            group.inexact_values.to_string(),
            group.unverified.to_string(),
        ])?;
    }
    let filename = format!("stats-{}-{group_by}.csv", stats.indicator);
    csv_export::respond_file(file.finish()?, &filename, "text/csv; charset=utf-8")
}

/// What a stats query reads from: rollups, or (for period bounds) the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Rollups,
    Values,
}

impl Source {
    /// The alias its rows go by in a stats statement.
    fn alias(self) -> &'static str {
        match self {
            Source::Rollups => "r",
            Source::Values => "m",
        }
    }

    /// Its rows joined to their projects (`p`) and indicators (`i`), plus a grouping's `join`.
    fn from(self, join: &str) -> String {
        let (table, a) = match self {
            Source::Rollups => ("metric_rollups r", "r"),
            Source::Values => ("metric_values m", "m"),
        };
        format!(
            "FROM {table} JOIN projects p ON p.id = {a}.project_id \
             JOIN indicators i ON i.id = {a}.indicator_id{join}"
        )
    }

    /// The key expression and joins of `grouping` over its rows (a value's year is its
    /// period's, else its project's end).
    fn group_key(self, grouping: Grouping) -> (String, &'static str) {
        let year = match self {
            Source::Rollups => "coalesce(r.year, extract(year FROM p.end_date)::int)::text",
            Source::Values => {
                "extract(year FROM coalesce(m.period_end, m.period_start, p.end_date))::int::text"
            }
        };
        group_key(grouping, self.alias(), year)
    }
}

/// The indicator asked for and the members of its family, each with its relation (`own` for
/// the indicator itself).
struct Members {
    ids: Vec<Uuid>,
    relations: Vec<String>,
    family: Vec<FamilyMember>,
}

async fn members(conn: &mut AsyncPgConnection, indicator: &Indicator) -> ApiResult<Members> {
    let rows: Vec<(Uuid, String, String)> = indicators::table
        .filter(indicators::counts_towards.eq(&indicator.code))
        .order(indicators::code)
        .select((indicators::id, indicators::code, indicators::relation))
        .load(conn)
        .await?;
    let mut members = Members {
        ids: vec![indicator.id],
        relations: vec!["own".to_owned()],
        family: Vec::new(),
    };
    for (id, code, relation) in rows {
        members.ids.push(id);
        members.relations.push(relation.clone());
        members.family.push(FamilyMember {
            indicator: code,
            relation,
        });
    }
    Ok(members)
}

/// What the groups of a stats query are: a `GroupBy`, each indicator, or one for all.
#[derive(Debug, Clone, Copy)]
enum Grouping {
    By(GroupBy),
    Indicator,
    All,
}

#[derive(QueryableByName)]
struct UnverifiedRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = BigInt)]
    unverified: i64,
}

/// How many values of `kind` per group are not verified: kept in the rollups, or counted from
/// the values when the answer reads them (period bounds).
async fn unverified(
    conn: &mut AsyncPgConnection,
    filters: &Filters,
    members: &Members,
    grouping: Grouping,
    kind: MetricKind,
    source: Source,
) -> ApiResult<HashMap<Option<String>, i64>> {
    let alias = source.alias();
    let count = match source {
        Source::Rollups => "sum(r.unverified)::bigint",
        Source::Values => "count(*)",
    };
    let (key, join) = source.group_key(grouping);
    let mut filters = filters.clone();
    let ids = filters.bind(Value::Uuids(members.ids.clone()));
    let kind = filters.bind(Value::Text(kind.as_str().to_owned()));
    filters.and(format!(
        "{alias}.indicator_id = ANY({ids}) AND {alias}.kind = {kind}"
    ));
    filters.and(match source {
        Source::Rollups => "r.unverified > 0".to_owned(),
        Source::Values => "m.verification <> 'verified'".to_owned(),
    });
    let mut sql = filters.statement(&format!(
        "SELECT {key} AS key, {count} AS unverified {}",
        source.from(join)
    ));
    sql.push(" GROUP BY 1");
    let rows: Vec<UnverifiedRow> = sql.into_query().load(conn).await?;
    Ok(rows.into_iter().map(|r| (r.key, r.unverified)).collect())
}

fn count_unverified(groups: &mut [StatGroup], counts: &HashMap<Option<String>, i64>) {
    for group in groups {
        group.unverified = counts.get(&group.key).copied().unwrap_or(0);
    }
}

/// The figures of every kind, per group.
async fn figures(
    conn: &mut AsyncPgConnection,
    filters: &Filters,
    members: &Members,
    grouping: Grouping,
    source: Source,
) -> ApiResult<Vec<KindRow>> {
    let alias = source.alias();
    let (value, n) = match source {
        Source::Rollups => (
            "CASE i.aggregation WHEN 'sum' THEN sum(r.value_sum) WHEN 'max' THEN max(r.value_max) \
             ELSE (array_agg(r.latest_value ORDER BY r.latest_on DESC NULLS LAST, \
             r.latest_updated_at DESC, r.latest_id DESC))[1] END",
            "sum(r.\"values\")",
        ),
        Source::Values => (
            "CASE i.aggregation WHEN 'sum' THEN sum(m.value) WHEN 'max' THEN max(m.value) \
             ELSE (array_agg(m.value ORDER BY coalesce(m.period_end, m.period_start) DESC NULLS LAST, \
             m.updated_at DESC, m.id DESC))[1] END",
            "count(*)",
        ),
    };
    let (key, join) = source.group_key(grouping);
    let mut filters = filters.clone();
    let ids = filters.bind(Value::Uuids(members.ids.clone()));
    filters.and(format!("{alias}.indicator_id = ANY({ids})"));
    let per_indicator = filters.statement(&format!(
        "SELECT {key} AS key, {alias}.project_id, {alias}.indicator_id, {alias}.kind, \
         {value} AS value, {n} AS n {}",
        source.from(join)
    ));
    let mut sql = per_indicator.wrap(
        "SELECT s.key, s.project_id, s.kind, GREATEST(max(s.value) FILTER (WHERE f.relation = 'own'), \
         sum(s.value) FILTER (WHERE f.relation = 'disjoint'), \
         max(s.value) FILTER (WHERE f.relation IN ('overlapping', 'subset'))) AS value, \
         sum(s.n) AS n FROM (",
        " GROUP BY 1, 2, 3, 4, i.aggregation) s ",
    );
    let ids = sql.bind(Value::Uuids(members.ids.clone()));
    let relations = sql.bind(Value::Texts(members.relations.clone()));
    sql.push(&format!(
        "JOIN unnest({ids}::uuid[], {relations}::text[]) AS f(indicator_id, relation) \
         ON f.indicator_id = s.indicator_id GROUP BY 1, 2, 3"
    ));
    let sql = sql.wrap(
        "SELECT key, kind, sum(value)::float8 AS value, count(*) AS projects, \
         sum(n)::bigint AS values FROM (",
        ") per_project GROUP BY key, kind ORDER BY key NULLS LAST, kind",
    );
    Ok(sql.into_query().load(conn).await?)
}

/// The key expression of a grouping over a value or rollup row aliased `alias` (with its
/// project `p` and indicator `i`), and the joins it needs.
fn group_key(grouping: Grouping, alias: &str, year: &str) -> (String, &'static str) {
    match grouping {
        Grouping::All => ("NULL::text".to_owned(), ""),
        Grouping::Indicator => ("i.code".to_owned(), ""),
        Grouping::By(GroupBy::Programme) => ("p.programme_id::text".to_owned(), ""),
        Grouping::By(GroupBy::Organisation) => ("p.lead_organisation_id::text".to_owned(), ""),
        Grouping::By(GroupBy::Region) => (
            "g.code".to_owned(),
            " LEFT JOIN LATERAL unnest(p.regions) AS g(code) ON true",
        ),
        Grouping::By(GroupBy::Year) => (year.to_owned(), ""),
        Grouping::By(GroupBy::TargetGroup) => (format!("{alias}.target_group"), ""),
        Grouping::By(GroupBy::Municipality) => (
            "mt.code".to_owned(),
            " LEFT JOIN LATERAL unnest(p.municipalities) AS mt(code) ON true",
        ),
        Grouping::By(GroupBy::MunicipalityToday) => (
            "mt.code".to_owned(),
            " LEFT JOIN LATERAL (SELECT DISTINCT coalesce(tt.successor, tt.code) AS code \
             FROM unnest(p.municipalities) AS u(code) JOIN territories tt ON tt.code = u.code) mt ON true",
        ),
    }
}

#[derive(QueryableByName)]
struct InexactRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Array<Text>)]
    qualifiers: Vec<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The inexact values in a group: how many, and which qualifiers.
#[derive(Debug, Default)]
struct Inexact {
    count: i64,
    qualifiers: Vec<Qualifier>,
}

impl Inexact {
    /// Sets the group's `qualifier` and `inexact_values` (see [`StatGroup::qualifier`]).
    fn apply(&self, group: &mut StatGroup, aggregation: Aggregation) {
        let has = |q: Qualifier| self.qualifiers.contains(&q);
        let lower = has(Qualifier::MoreThan) || has(Qualifier::AtLeast);
        let upper = has(Qualifier::LessThan) || has(Qualifier::AtMost);
        group.inexact_values = self.count;
        group.qualifier = match () {
            _ if self.count == 0 => Qualifier::Exact,
            _ if has(Qualifier::Approximate) || (lower && upper) => Qualifier::Approximate,
            // A largest or latest value is one of several: its bound is not strict.
            _ if aggregation != Aggregation::Sum && lower => Qualifier::AtLeast,
            _ if aggregation != Aggregation::Sum => Qualifier::AtMost,
            _ if has(Qualifier::MoreThan) => Qualifier::MoreThan,
            _ if has(Qualifier::AtLeast) => Qualifier::AtLeast,
            _ if has(Qualifier::LessThan) => Qualifier::LessThan,
            _ => Qualifier::AtMost,
        };
    }
}

/// The values of `kind` that are not exact, per group: their count and qualifiers are kept in
/// the rollups (a partial index finds the few rollups that have any), or read from the values
/// when the answer reads them.
async fn inexact(
    conn: &mut AsyncPgConnection,
    filters: &Filters,
    indicators: &[Uuid],
    grouping: Grouping,
    kind: MetricKind,
    source: Source,
) -> ApiResult<HashMap<Option<String>, Inexact>> {
    let alias = source.alias();
    let (key, join) = source.group_key(grouping);
    let mut filters = filters.clone();
    let ids = filters.bind(Value::Uuids(indicators.to_vec()));
    let kind = filters.bind(Value::Text(kind.as_str().to_owned()));
    filters.and(format!(
        "{alias}.indicator_id = ANY({ids}) AND {alias}.kind = {kind}"
    ));
    let select = match source {
        Source::Rollups => {
            filters.and("r.inexact > 0".to_owned());
            format!(
                "SELECT {key} AS key, r.qualifiers, r.inexact::bigint AS n {}",
                source.from(join)
            )
        }
        Source::Values => {
            filters.and("m.qualifier <> 'exact'".to_owned());
            format!(
                "SELECT {key} AS key, ARRAY[m.qualifier] AS qualifiers, 1::bigint AS n {}",
                source.from(join)
            )
        }
    };
    // Few rows (inexact values are the exception): they are added up here.
    let rows: Vec<InexactRow> = filters.statement(&select).into_query().load(conn).await?;
    let mut out: HashMap<Option<String>, Inexact> = HashMap::new();
    for row in rows {
        let entry = out.entry(row.key).or_default();
        entry.count += row.n;
        for qualifier in row.qualifiers.iter().filter_map(|q| q.parse().ok()) {
            if !entry.qualifiers.contains(&qualifier) {
                entry.qualifiers.push(qualifier);
            }
        }
    }
    Ok(out)
}

/// Groups with every kind side by side; `value`, `projects` and `values` are `kind`'s.
fn pivot(rows: Vec<KindRow>, kind: MetricKind) -> Vec<StatGroup> {
    let mut groups: BTreeMap<(bool, Option<String>), StatGroup> = BTreeMap::new();
    for row in rows {
        let group = groups
            .entry((row.key.is_none(), row.key.clone()))
            .or_insert_with(|| StatGroup {
                key: row.key.clone(),
                label: None,
                value: 0.0,
                projects: 0,
                values: 0,
                actual: None,
                target: None,
                baseline: None,
                progress: None,
                qualifier: Qualifier::Exact,
                inexact_values: 0,
                unverified: 0,
            });
        if row.kind == kind.as_str() {
            group.value = row.value;
            group.projects = row.projects;
            group.values = row.values;
        }
        match row.kind.parse::<MetricKind>() {
            Ok(MetricKind::Actual) => group.actual = Some(row.value),
            Ok(MetricKind::Target) => group.target = Some(row.value),
            Ok(MetricKind::Baseline) => group.baseline = Some(row.value),
            Err(_) => {}
        }
    }
    let mut groups: Vec<StatGroup> = groups.into_values().collect();
    for group in &mut groups {
        group.progress = match (group.actual, group.target) {
            (Some(actual), Some(target)) if target > 0.0 => Some(actual / target),
            _ => None,
        };
    }
    groups
}

/// The figures of indicator `code` for a request.
async fn compute(
    ctx: &Ctx,
    code: &str,
    params: &StatsParams,
    filters: &ProjectFilters,
) -> ApiResult<IndicatorStats> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let indicator: Indicator = indicators::table
        .filter(indicators::code.eq(code))
        .select(Indicator::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no indicator with code {code:?}")))?;
    let kind = params.kind.unwrap_or(MetricKind::Actual);
    let (mut f, _) = project_filters(&mut conn, filters, ctx.caller.visibility()).await?;
    let verified_only = params.verified == Some(true);
    let source = if params.period_from.is_some() || params.period_to.is_some() || verified_only {
        Source::Values
    } else {
        Source::Rollups
    };
    if let Some(from) = params.period_from {
        let from = f.bind(Value::Date(from));
        f.and(format!("coalesce(m.period_end, m.period_start) >= {from}"));
    }
    if let Some(to) = params.period_to {
        let to = f.bind(Value::Date(to));
        f.and(format!("coalesce(m.period_start, m.period_end) <= {to}"));
    }
    let members = members(&mut conn, &indicator).await?;
    let grouped = Grouping::By(params.group_by);
    let unverified_groups = unverified(&mut conn, &f, &members, grouped, kind, source).await?;
    let unverified_total = unverified(&mut conn, &f, &members, Grouping::All, kind, source).await?;
    if verified_only {
        f.and("m.verification = 'verified'".to_owned());
    }
    let mut groups = pivot(
        figures(
            &mut conn,
            &f,
            &members,
            Grouping::By(params.group_by),
            source,
        )
        .await?,
        kind,
    );
    let total = pivot(
        figures(&mut conn, &f, &members, Grouping::All, source).await?,
        kind,
    )
    .pop()
    .unwrap_or_else(|| {
        pivot(Vec::new(), kind).pop().unwrap_or(StatGroup {
            key: None,
            label: None,
            value: 0.0,
            projects: 0,
            values: 0,
            actual: None,
            target: None,
            baseline: None,
            progress: None,
            qualifier: Qualifier::Exact,
            inexact_values: 0,
            unverified: 0,
        })
    });
    let mut total = total;
    let qualifiers = inexact(
        &mut conn,
        &f,
        &members.ids,
        Grouping::By(params.group_by),
        kind,
        source,
    )
    .await?;
    let overall = inexact(&mut conn, &f, &members.ids, Grouping::All, kind, source).await?;
    for group in groups.iter_mut() {
        if let Some(found) = qualifiers.get(&group.key) {
            found.apply(group, indicator.aggregation);
        }
    }
    if let Some(found) = overall.get(&None) {
        found.apply(&mut total, indicator.aggregation);
    }
    count_unverified(&mut groups, &unverified_groups);
    total.unverified = unverified_total.values().sum();
    let lang = Lang::negotiate(params.lang, &ctx.req).unwrap_or(Lang::Lv);
    let keys: Vec<String> = groups.iter().filter_map(|g| g.key.clone()).collect();
    let labels = labels(&mut conn, params.group_by.as_str(), &keys, lang).await?;
    for group in &mut groups {
        group.label = group.key.as_ref().and_then(|k| labels.get(k).cloned());
    }
    Ok(IndicatorStats {
        indicator: indicator.code,
        unit: indicator.unit,
        aggregation: indicator.aggregation,
        kind,
        group_by: params.group_by,
        family: members.family,
        computed_from: match source {
            Source::Rollups => "rollups",
            Source::Values => "values",
        }
        .to_owned(),
        groups,
        total,
    })
}

/// Labels of group keys: names of programmes and organisations, vocabulary labels, years.
async fn labels(
    conn: &mut AsyncPgConnection,
    group_by: &str,
    keys: &[String],
    lang: Lang,
) -> ApiResult<HashMap<String, String>> {
    let ids = || -> Vec<Uuid> { keys.iter().filter_map(|k| k.parse().ok()).collect() };
    let names = |found: HashMap<Uuid, String>| -> HashMap<String, String> {
        found
            .into_iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect()
    };
    Ok(match group_by {
        "programme" => names(lookup::programme_names(conn, ids()).await?),
        "organisation" | "funder" => names(lookup::organisation_names(conn, ids()).await?),
        "region" => vocabularies::labels(conn, VocabularyName::Regions, lang).await?,
        "target_group" => vocabularies::labels(conn, VocabularyName::TargetGroups, lang).await?,
        "municipality" | "municipality_today" => {
            vocabularies::labels(conn, VocabularyName::Territories, lang).await?
        }
        _ => keys.iter().map(|k| (k.clone(), k.clone())).collect(),
    })
}

/// How funding totals are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FundingGroupBy {
    /// The programme a funding line comes through.
    Programme,
    /// Who pays: the line's funder, else its programme's funder.
    Funder,
    /// The project's lead organisation.
    Organisation,
    /// Each region the project works in.
    Region,
    /// The year the project starts.
    Year,
}

impl FundingGroupBy {
    fn as_str(self) -> &'static str {
        match self {
            FundingGroupBy::Programme => "programme",
            FundingGroupBy::Funder => "funder",
            FundingGroupBy::Organisation => "organisation",
            FundingGroupBy::Region => "region",
            FundingGroupBy::Year => "year",
        }
    }
}

/// The funding totals' own parameters (the project filters are the list's).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FundingStatsParams {
    /// How to group the funding lines.
    pub group_by: FundingGroupBy,
    /// Language of group labels.
    pub lang: Option<Lang>,
}

/// An amount in one currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Amount {
    /// ISO 4217 currency.
    #[schema(example = "EUR")]
    pub currency: String,
    /// The sum, as a decimal string.
    #[schema(example = "41543.75")]
    pub amount: String,
}

/// One group's money.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FundingGroup {
    /// A programme or organisation id, a region code or a year (`null`: none).
    pub key: Option<String>,
    /// The key's name or label.
    pub label: Option<String>,
    /// Committed amounts, one per currency (never converted).
    pub amounts: Vec<Amount>,
    /// How many projects have funding lines here.
    #[schema(example = 3)]
    pub projects: i64,
    /// How many funding lines.
    #[schema(example = 4)]
    pub lines: i64,
    /// Lines that give a share or a source but no amount: counted here, never guessed.
    #[schema(example = 1)]
    pub lines_without_amount: i64,
}

/// Committed money by group.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundingStats {
    /// How the groups are formed.
    pub group_by: FundingGroupBy,
    /// The groups, by key (`null` last).
    pub groups: Vec<FundingGroup>,
    /// Every selected project's lines counted once.
    pub total: FundingGroup,
}

#[derive(QueryableByName)]
struct FundingRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    currency: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    amount: Option<String>,
    #[diesel(sql_type = BigInt)]
    projects: i64,
    #[diesel(sql_type = BigInt)]
    lines: i64,
    #[diesel(sql_type = BigInt)]
    unpriced: i64,
    /// 0 for per-currency rows, 1 for the group's own row.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    whole: i32,
}

/// Money committed to projects
///
/// Sums the funding lines of the projects the filters select (the filters of
/// `GET /v1/projects`), by currency, never converting; lines with a share but no amount are
/// counted, not guessed.
#[utoipa::path(
    tag = "stats",
    params(FundingStatsParams, ProjectFilters),
    responses((status = 200, description = "Committed amounts by group", body = FundingStats))
)]
#[get("/stats/funding")]
async fn funding_stats(
    ctx: Ctx,
    Query2(params, filters): Query2<FundingStatsParams, ProjectFilters>,
) -> ApiResult<HttpResponse> {
    let stats = funding(&ctx, &params, &filters).await?;
    Ok(http::json_response(HttpResponse::Ok(), &stats, None))
}

/// Export money committed as CSV
///
/// The same totals as `GET /v1/stats/funding`: one row per group and currency, and the
/// `total` rows last.
#[utoipa::path(
    tag = "exports",
    params(FundingStatsParams, ProjectFilters),
    responses((status = 200, description = "The totals as CSV", body = String,
        content_type = "text/csv"))
)]
#[get("/exports/stats/funding.csv")]
async fn export_funding_stats(
    ctx: Ctx,
    Query2(params, filters): Query2<FundingStatsParams, ProjectFilters>,
) -> ApiResult<HttpResponse> {
    let stats = funding(&ctx, &params, &filters).await?;
    let mut file = CsvFile::new(&[
        "group_by",
        "key",
        "label",
        "currency",
        "amount",
        "projects",
        "lines",
        "lines_without_amount",
    ])?;
    let total = FundingGroup {
        key: Some("total".to_owned()),
        ..stats.total.clone()
    };
    for group in stats.groups.iter().chain(std::iter::once(&total)) {
        let no_amount = [Amount {
            currency: String::new(),
            amount: String::new(),
        }];
        let amounts = if group.amounts.is_empty() {
            &no_amount[..]
        } else {
            &group.amounts[..]
        };
        for amount in amounts {
            file.write([
                stats.group_by.as_str().to_owned(),
                csv_export::opt(group.key.as_ref()),
                csv_export::opt(group.label.as_ref()),
                amount.currency.clone(),
                amount.amount.clone(),
                group.projects.to_string(),
                group.lines.to_string(),
                group.lines_without_amount.to_string(),
            ])?;
        }
    }
    let filename = format!("funding-{}.csv", stats.group_by.as_str());
    csv_export::respond_file(file.finish()?, &filename, "text/csv; charset=utf-8")
}

async fn funding(
    ctx: &Ctx,
    params: &FundingStatsParams,
    filters: &ProjectFilters,
) -> ApiResult<FundingStats> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let (f, _) = project_filters(&mut conn, filters, ctx.caller.visibility()).await?;
    let (key, join) = match params.group_by {
        FundingGroupBy::Programme => ("l.programme_id::text", ""),
        FundingGroupBy::Funder => (
            "coalesce(l.funder_id, (SELECT b.organisation_id FROM programme_organisations b \
             WHERE b.programme_id = g.id AND b.role = 'funder' ORDER BY b.position LIMIT 1))::text",
            "",
        ),
        FundingGroupBy::Organisation => ("p.lead_organisation_id::text", ""),
        FundingGroupBy::Region => (
            "r.code",
            " LEFT JOIN LATERAL unnest(p.regions) AS r(code) ON true",
        ),
        FundingGroupBy::Year => ("extract(year FROM p.start_date)::int::text", ""),
    };
    let lines = |key: &str, join: &str| {
        f.statement(&format!(
            "SELECT {key} AS key, l.project_id, l.id, l.amount, l.currency FROM project_funding l \
             JOIN projects p ON p.id = l.project_id LEFT JOIN programmes g ON g.id = l.programme_id{join}"
        ))
        .wrap(
            "SELECT key, currency, sum(amount)::text AS amount, count(DISTINCT project_id) AS projects, \
             count(*) AS lines, count(*) FILTER (WHERE amount IS NULL) AS unpriced, \
             GROUPING(currency) AS whole FROM (",
            ") l GROUP BY GROUPING SETS ((key, currency), (key)) ORDER BY key NULLS LAST, currency",
        )
    };
    let rows: Vec<FundingRow> = lines(key, join).into_query().load(&mut conn).await?;
    let all: Vec<FundingRow> = lines("NULL::text", "").into_query().load(&mut conn).await?;
    let mut groups = funding_groups(rows);
    let total = funding_groups(all).pop().unwrap_or(FundingGroup {
        key: None,
        label: None,
        amounts: Vec::new(),
        projects: 0,
        lines: 0,
        lines_without_amount: 0,
    });
    let lang = Lang::negotiate(params.lang, &ctx.req).unwrap_or(Lang::Lv);
    let keys: Vec<String> = groups.iter().filter_map(|g| g.key.clone()).collect();
    let labels = labels(&mut conn, params.group_by.as_str(), &keys, lang).await?;
    for group in &mut groups {
        group.label = group.key.as_ref().and_then(|k| labels.get(k).cloned());
    }
    Ok(FundingStats {
        group_by: params.group_by,
        groups,
        total,
    })
}

fn funding_groups(rows: Vec<FundingRow>) -> Vec<FundingGroup> {
    let mut groups: Vec<FundingGroup> = Vec::new();
    for row in rows {
        if groups.last().is_none_or(|g| g.key != row.key) {
            groups.push(FundingGroup {
                key: row.key.clone(),
                label: None,
                amounts: Vec::new(),
                projects: 0,
                lines: 0,
                lines_without_amount: 0,
            });
        }
        let group = groups.last_mut().expect("pushed above");
        match (row.whole, row.currency, row.amount) {
            (1, _, _) => {
                group.projects = row.projects;
                group.lines = row.lines;
                group.lines_without_amount = row.unpriced;
            }
            (_, Some(currency), Some(amount)) => group.amounts.push(Amount {
                currency,
                amount: crate::domain::money::amount(&amount)
                    .map(|a| crate::domain::Money::from_stored(a).to_string())
                    .unwrap_or(amount),
            }),
            _ => {}
        }
    }
    groups
}

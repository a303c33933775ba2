//! Reading projects: the filtered, sorted, searchable list (JSON or CSV), and the embedding of
//! related records with a fixed number of queries per request.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use crate::web::pagination::FacetCount;
use actix_web::{get, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{load_funding, Funding, Project, ProjectRow};
use crate::auth::Visibility;
use crate::db::DbConn;
use crate::domain::{Lang, ProjectStatus};
use crate::resources::activities::Activity;
use crate::resources::lookup;
use crate::resources::metrics::{MetricRow, MetricValue};
use crate::resources::organisations::{Organisation, OrganisationRow};
use crate::resources::partners::{Partner, PartnerRow};
use crate::resources::programmes::{Programme, ProgrammeRow};
use crate::resources::record::Ctx;
use crate::resources::sources::{self, Citing};
use crate::resources::territories;
use crate::resources::vocabularies::{self, VocabularyName};
use crate::schema::{
    activities, indicators, metric_values, organisations, programmes, project_partners,
};
use crate::web::csv_export::{self, opt, Column, Format};
use crate::web::error::ApiResult;
use crate::web::http::{Many, Query2};
use crate::web::listing::{
    self, Cursor, Filters, KeyType, Order, Paging, Search, SortField, Source, Value,
};
use crate::web::pagination::Page;

/// Records a project can embed with `include=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embed {
    Partners,
    Activities,
    Metrics,
    Funding,
    LeadOrganisation,
    Programme,
    Sources,
}

const EMBEDS: &[(&str, Embed)] = &[
    ("sources", Embed::Sources),
    ("partners", Embed::Partners),
    ("activities", Embed::Activities),
    ("metrics", Embed::Metrics),
    ("funding", Embed::Funding),
    ("lead_organisation", Embed::LeadOrganisation),
    ("programme", Embed::Programme),
];

static SOURCE: Source = Source {
    table: "projects",
    alias: "p",
    columns: &COLUMNS,
    sorts: &[
        SortField::column("updated_at", "p.updated_at", KeyType::Time),
        SortField::column("title", "p.title", KeyType::Text),
        SortField {
            name: "start_date",
            ascending: "coalesce(p.start_date, 'infinity'::date)",
            descending: "coalesce(p.start_date, '-infinity'::date)",
            key_type: KeyType::Date,
        },
        SortField {
            name: "end_date",
            ascending: "coalesce(p.end_date, 'infinity'::date)",
            descending: "coalesce(p.end_date, '-infinity'::date)",
            key_type: KeyType::Date,
        },
    ],
    default_sort: "id",
    id_type: "uuid",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(projects, ProjectRow, "p");

crate::list_params! {
    pub struct ProjectListParams ("Page size (at most 50 with `include`).") {
        /// Embed related records: any of `partners` (each with its organisation), `activities`,
        /// `metrics`, `lead_organisation`, `programme`, `sources` (each citation with its source),
        /// comma-separated. (`funding` is accepted and always embedded.)
        #[param(
            example = "partners,activities",
            pattern = "^(partners|activities|metrics|funding|lead_organisation|programme|sources)(,(partners|activities|metrics|funding|lead_organisation|programme|sources))*$"
        )]
        pub include: Option<String>,
        /// Order: `id` (default; creation order), `updated_at`, `title`, `start_date`, `end_date`,
        /// or `relevance` (default with `q`); prefix `-` for descending. Unknown dates sort last.
        #[param(
            example = "-start_date",
            pattern = "^(-?(id|updated_at|title|start_date|end_date)|relevance)$"
        )]
        pub sort: Option<String>,
        /// Language of titles, summaries and aims (falls back to the original); overrides
        /// `Accept-Language`.
        pub lang: Option<Lang>,
        /// Count the projects the filters select by each value of these fields (comma-separated:
        /// `status`, `region`, `target_group`, `programme`, `lead_organisation`,
        /// `date_precision`); the counts come as `facets` beside the page. Like the `status`
        /// filter, the status facet counts a planned or active project whose end date has
        /// passed under `null`.
        #[param(value_type = Option<String>, example = "status,region",
            pattern = "^(status|region|target_group|programme|lead_organisation|date_precision)(,(status|region|target_group|programme|lead_organisation|date_precision))*$")]
        pub facets: Option<Many<Facet>>,
        /// Deprecated: `csv` answers the export (`/v1/exports/projects.csv`).
        #[param(ignore)]
        pub format: Option<Format>,
    }
}

/// How a projects export is ordered and labelled.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectExportParams {
    /// Order: `id` (default; creation order), `updated_at`, `title`, `start_date`, `end_date`,
    /// or `relevance` (default with `q`); prefix `-` for descending. Unknown dates sort last.
    #[param(
        example = "-start_date",
        pattern = "^(-?(id|updated_at|title|start_date|end_date)|relevance)$"
    )]
    pub sort: Option<String>,
    /// Language of titles, summaries and aims, and of the labels beside codes.
    pub lang: Option<Lang>,
}

/// What selects projects: the list, its exports, the indicator stats and the funding totals
/// take them. They combine with AND; a parameter with several comma-separated values matches
/// any of them (`region=latgale,kurzeme`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectFilters {
    /// Full-text search over titles, summaries, aims and reference numbers, in every
    /// language; ignores case and diacritics (`ilukste` finds `Ilūkstes`) and Latvian word
    /// endings; best matches first unless `sort` says otherwise.
    #[param(example = "ilukste", min_length = 1, max_length = 200)]
    pub q: Option<String>,
    /// Only projects with one of these statuses. `planned` and `active` match only projects
    /// whose `end_date` has not passed: a status read from a dated source (`status_stated_on`)
    /// says what was true then, not today.
    #[param(value_type = Option<String>, example = "active,completed",
        pattern = "^(draft|planned|active|completed|cancelled)(,(draft|planned|active|completed|cancelled))*$")]
    pub status: Option<Many<ProjectStatus>>,
    /// Only projects one of these organisations leads or partners in (with `role`: holds that
    /// role).
    #[param(value_type = Option<String>, example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub organisation: Option<Many<Uuid>>,
    /// Only projects where some partner holds one of these roles
    /// (`/v1/vocabularies/partner_roles`).
    #[param(value_type = Option<String>, example = "partner")]
    pub role: Option<Many<String>>,
    /// Only projects one of these organisations leads.
    #[param(value_type = Option<String>, example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub lead_organisation: Option<Many<Uuid>>,
    /// Only projects under one of these programmes (main programme or a funding line).
    #[param(value_type = Option<String>, example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7d")]
    pub programme: Option<Many<Uuid>>,
    /// Only projects aimed at one of these target groups (codes).
    #[param(value_type = Option<String>, example = "seniors,youth")]
    pub target_group: Option<Many<String>>,
    /// Only projects working in one of these regions (codes).
    #[param(value_type = Option<String>, example = "latgale,kurzeme")]
    pub region: Option<Many<String>>,
    /// Only projects working in one of these territories, as recorded (ATVK codes,
    /// `/v1/territories`).
    #[param(value_type = Option<String>, example = "0440801", pattern = "^[0-9]{7}(,[0-9]{7})*$")]
    pub municipality: Option<Many<String>>,
    /// Only projects working in a territory that is today part of the same municipality as one
    /// of these (ATVK codes): `0022000` (Augšdaugavas novads) finds projects recorded in
    /// Daugavpils and Ilūkstes novads too.
    #[param(value_type = Option<String>, example = "0022000", pattern = "^[0-9]{7}(,[0-9]{7})*$")]
    pub municipality_today: Option<Many<String>>,
    /// Only projects with an activity of one of these kinds (`/v1/vocabularies/activity_kinds`).
    #[param(value_type = Option<String>, example = "course")]
    pub activity_kind: Option<Many<String>>,
    /// Only projects reporting values of one of these indicators (codes).
    #[param(value_type = Option<String>, example = "participants")]
    pub indicator: Option<Many<String>>,
    /// Only the project with this reference number.
    #[param(example = "2012.EEZ/PP/2/MAC/016/037")]
    pub reference: Option<String>,
    /// Only projects running on this day (started on or before it, not ended before it).
    #[param(example = "2013-03-08")]
    pub active_on: Option<NaiveDate>,
    /// Only projects starting on or after this day.
    #[param(example = "2012-01-01")]
    pub starts_after: Option<NaiveDate>,
    /// Only projects starting on or before this day.
    #[param(example = "2013-12-31")]
    pub starts_before: Option<NaiveDate>,
    /// Only projects ending on or after this day.
    pub ends_after: Option<NaiveDate>,
    /// Only projects ending on or before this day.
    pub ends_before: Option<NaiveDate>,
    /// Only projects changed at or after this instant.
    #[param(example = "2026-11-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

crate::text_enum! {
    /// A field projects can be counted by (`facets=`).
    Facet {
        Status => "status",
        Region => "region",
        TargetGroup => "target_group",
        Programme => "programme",
        LeadOrganisation => "lead_organisation",
        DatePrecision => "date_precision",
    }
}

impl Facet {
    /// The value(s) of a project `p` this facet counts by.
    fn expression(self) -> (&'static str, &'static str) {
        match self {
            // As the `status` filter reads it: a planned or active status whose end date has
            // passed says what was true when it was stated, and counts under `null`.
            Facet::Status => (
                "CASE WHEN p.status IN ('planned', 'active') AND p.end_date < current_date \
                 THEN NULL ELSE p.status END",
                "",
            ),
            Facet::Region => (
                "f.value",
                " CROSS JOIN LATERAL unnest(p.regions) AS f(value)",
            ),
            Facet::TargetGroup => (
                "f.value",
                " CROSS JOIN LATERAL unnest(p.target_groups) AS f(value)",
            ),
            Facet::Programme => ("p.programme_id::text", ""),
            Facet::LeadOrganisation => ("p.lead_organisation_id::text", ""),
            Facet::DatePrecision => ("p.date_precision", ""),
        }
    }
}

/// Counts the projects `filters` select by each value of each facet, most frequent first.
async fn facets(
    conn: &mut AsyncPgConnection,
    filters: &Filters,
    wanted: &[Facet],
    lang: Lang,
) -> ApiResult<BTreeMap<String, Vec<FacetCount>>> {
    let mut out = BTreeMap::new();
    for facet in wanted {
        let (value, join) = facet.expression();
        let label = match facet {
            Facet::Region => format!("(SELECT {{l}} FROM regions WHERE code = {value})"),
            Facet::TargetGroup => format!("(SELECT {{l}} FROM target_groups WHERE code = {value})"),
            Facet::Programme => {
                "(SELECT name FROM programmes WHERE id = p.programme_id)".to_owned()
            }
            Facet::LeadOrganisation => {
                "(SELECT name FROM organisations WHERE id = p.lead_organisation_id)".to_owned()
            }
            Facet::Status | Facet::DatePrecision => "NULL::text".to_owned(),
        }
        .replace(
            "{l}",
            if lang == Lang::Lv {
                "label_lv"
            } else {
                "label_en"
            },
        );
        let sql = filters
            .statement(&format!(
                "SELECT value, min(label) AS label, count(*) AS count FROM (SELECT {value} AS value, \
                 {label} AS label FROM projects p{join}"
            ))
            .wrap("", ") v GROUP BY value ORDER BY count DESC, value NULLS LAST");
        let mut counts: Vec<FacetCount> = sql.into_query().load(conn).await?;
        if *facet == Facet::Status {
            for count in &mut counts {
                count.label = count
                    .value
                    .as_deref()
                    .and_then(|v| v.parse::<ProjectStatus>().ok())
                    .map(|s| s.label(lang).to_owned());
            }
        }
        out.insert(facet.as_str().to_owned(), counts);
    }
    Ok(out)
}

/// Query parameters of a single project read.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectReadParams {
    /// Embed related records: any of `partners` (each with its organisation), `activities`,
    /// `metrics`, `lead_organisation`, `programme`, `sources` (each citation with its source),
    /// comma-separated (`funding` is always embedded). The response then carries a weak ETag of its whole content.
    #[param(
        example = "partners,activities,metrics",
        pattern = "^(partners|activities|metrics|funding|lead_organisation|programme|sources)(,(partners|activities|metrics|funding|lead_organisation|programme|sources))*$"
    )]
    pub include: Option<String>,
    /// Language of the title, summary and aim (falls back to the original); overrides
    /// `Accept-Language`.
    pub lang: Option<Lang>,
}

impl ProjectReadParams {
    pub fn embeds(&self) -> ApiResult<Vec<Embed>> {
        listing::parse_include(self.include.as_deref(), EMBEDS)
    }
}

/// The filters of a request over projects `p`, checked against the vocabularies; also the
/// relevance expression when there is a `q`.
pub async fn filters(
    conn: &mut AsyncPgConnection,
    params: &ProjectFilters,
    visibility: Visibility,
) -> ApiResult<(Filters, Option<String>)> {
    for (param, vocabulary, codes) in [
        (
            "target_group",
            VocabularyName::TargetGroups,
            &params.target_group,
        ),
        ("region", VocabularyName::Regions, &params.region),
        ("role", VocabularyName::PartnerRoles, &params.role),
        (
            "activity_kind",
            VocabularyName::ActivityKinds,
            &params.activity_kind,
        ),
    ] {
        for code in codes.iter().flat_map(|c| &c.0) {
            vocabularies::ensure_code(conn, vocabulary, param, code).await?;
        }
    }
    let texts = |values: &Option<Many<String>>| values.as_ref().map(|v| Value::Texts(v.values()));
    let uuids = |values: &Option<Many<Uuid>>| values.as_ref().map(|v| Value::Uuids(v.values()));
    let mut f = Filters::default();
    f.visible_projects(visibility, "p");
    if let Some(status) = &params.status {
        let status = f.bind(Value::Texts(
            status.0.iter().map(|s| s.as_str().to_owned()).collect(),
        ));
        f.and(format!("p.status = ANY({status})"));
        // A status read from a dated source ("being implemented" on a 2013 page) says what was
        // true then: a project whose end date has passed is no longer planned or active today.
        f.and(
            "(p.status NOT IN ('planned', 'active') OR p.end_date IS NULL \
             OR p.end_date >= current_date)"
                .to_owned(),
        );
    }
    match (uuids(&params.organisation), texts(&params.role)) {
        (Some(orgs), None) => {
            let orgs = f.bind(orgs);
            f.and(format!(
                "(p.lead_organisation_id = ANY({orgs}) OR EXISTS (SELECT 1 FROM project_partners pp \
                 WHERE pp.project_id = p.id AND pp.organisation_id = ANY({orgs})))"
            ));
        }
        (orgs, Some(roles)) => {
            let roles = f.bind(roles);
            let orgs = match orgs {
                Some(orgs) => format!(" AND pp.organisation_id = ANY({})", f.bind(orgs)),
                None => String::new(),
            };
            f.and(format!(
                "EXISTS (SELECT 1 FROM project_partners pp WHERE pp.project_id = p.id AND pp.role = ANY({roles}){orgs})"
            ));
        }
        (None, None) => {}
    }
    if let Some(orgs) = uuids(&params.lead_organisation) {
        let orgs = f.bind(orgs);
        f.and(format!("p.lead_organisation_id = ANY({orgs})"));
    }
    if let Some(programmes) = uuids(&params.programme) {
        let programmes = f.bind(programmes);
        f.and(format!(
            "(p.programme_id = ANY({programmes}) OR EXISTS (SELECT 1 FROM project_funding pf \
             WHERE pf.project_id = p.id AND pf.programme_id = ANY({programmes})))"
        ));
    }
    if let Some(groups) = texts(&params.target_group) {
        let groups = f.bind(groups);
        f.and(format!("p.target_groups && {groups}"));
    }
    if let Some(regions) = texts(&params.region) {
        let regions = f.bind(regions);
        f.and(format!("p.regions && {regions}"));
    }
    territories::filter(
        conn,
        &mut f,
        "p.municipalities",
        &params.municipality,
        &params.municipality_today,
    )
    .await?;
    if let Some(kinds) = texts(&params.activity_kind) {
        let kinds = f.bind(kinds);
        f.and(format!(
            "EXISTS (SELECT 1 FROM activities a WHERE a.project_id = p.id AND a.kind = ANY({kinds}))"
        ));
    }
    if let Some(codes) = texts(&params.indicator) {
        let codes = f.bind(codes);
        f.and(format!(
            "EXISTS (SELECT 1 FROM metric_rollups m JOIN indicators i ON i.id = m.indicator_id \
             WHERE m.project_id = p.id AND i.code = ANY({codes}))"
        ));
    }
    f.equal("p.reference", params.reference.clone().map(Value::Text));
    if let Some(day) = params.active_on {
        let day = f.bind(Value::Date(day));
        f.and(format!(
            "p.start_date <= {day} AND (p.end_date IS NULL OR p.end_date >= {day})"
        ));
    }
    for (bound, column, op) in [
        (params.starts_after, "p.start_date", ">="),
        (params.starts_before, "p.start_date", "<="),
        (params.ends_after, "p.end_date", ">="),
        (params.ends_before, "p.end_date", "<="),
    ] {
        if let Some(day) = bound {
            let day = f.bind(Value::Date(day));
            f.and(format!("{column} {op} {day}"));
        }
    }
    if let Some(since) = params.updated_since {
        let since = f.bind(Value::Time(since));
        f.and(format!("p.updated_at >= {since}"));
    }
    let relevance = Search::parse(params.q.as_deref())?.map(|s| s.apply(&mut f, "p"));
    Ok((f, relevance))
}

/// Embeds the requested records into `projects`: one query per kind of record, whatever the
/// number of projects.
pub async fn embed(
    conn: &mut AsyncPgConnection,
    projects: &mut [Project],
    embeds: &[Embed],
) -> ApiResult<()> {
    let ids: Vec<Uuid> = projects.iter().map(|p| p.id).collect();
    if embeds.contains(&Embed::Partners) {
        let rows: Vec<(PartnerRow, OrganisationRow)> = project_partners::table
            .inner_join(organisations::table)
            .filter(project_partners::project_id.eq_any(&ids))
            .order((project_partners::project_id, project_partners::id))
            .select((PartnerRow::as_select(), OrganisationRow::as_select()))
            .load(conn)
            .await?;
        let mut organisations: Vec<Organisation> = rows
            .iter()
            .map(|(_, o)| Organisation::from(o.clone()))
            .collect();
        crate::resources::organisations::attach_sources(conn, &mut organisations).await?;
        let mut by_project: HashMap<Uuid, Vec<Partner>> = HashMap::new();
        for ((partner, _), organisation) in rows.into_iter().zip(organisations) {
            let mut partner = Partner::from(partner);
            partner.organisation = Some(organisation);
            by_project
                .entry(partner.project_id)
                .or_default()
                .push(partner);
        }
        for p in projects.iter_mut() {
            p.partners = Some(by_project.remove(&p.id).unwrap_or_default());
        }
    }
    if embeds.contains(&Embed::Activities) {
        let rows: Vec<Activity> = activities::table
            .filter(activities::project_id.eq_any(&ids))
            .order((activities::project_id, activities::id))
            .select(Activity::as_select())
            .load(conn)
            .await?;
        let mut by_project: HashMap<Uuid, Vec<Activity>> = HashMap::new();
        for row in rows {
            by_project.entry(row.project_id).or_default().push(row);
        }
        for p in projects.iter_mut() {
            p.activities = Some(by_project.remove(&p.id).unwrap_or_default());
        }
    }
    if embeds.contains(&Embed::Metrics) {
        let rows: Vec<(MetricRow, String)> = metric_values::table
            .inner_join(indicators::table)
            .filter(metric_values::project_id.eq_any(&ids))
            .order((metric_values::project_id, metric_values::id))
            .select((MetricRow::as_select(), indicators::code))
            .load(conn)
            .await?;
        let mut values: Vec<MetricValue> = rows
            .into_iter()
            .map(|(row, code)| MetricValue::from_parts(row, code))
            .collect();
        crate::resources::metrics::attach_sources(conn, &mut values).await?;
        let mut by_project: HashMap<Uuid, Vec<MetricValue>> = HashMap::new();
        for value in values {
            by_project.entry(value.project_id).or_default().push(value);
        }
        for p in projects.iter_mut() {
            p.metrics = Some(by_project.remove(&p.id).unwrap_or_default());
        }
    }
    if embeds.contains(&Embed::LeadOrganisation) {
        let leads: HashSet<Uuid> = projects.iter().map(|p| p.lead_organisation_id).collect();
        let mut leads: Vec<Organisation> = organisations::table
            .filter(organisations::id.eq_any(leads))
            .select(OrganisationRow::as_select())
            .load(conn)
            .await?
            .into_iter()
            .map(Organisation::from)
            .collect();
        crate::resources::organisations::attach_sources(conn, &mut leads).await?;
        let mut found: HashMap<Uuid, Organisation> = leads.into_iter().map(|o| (o.id, o)).collect();
        for p in projects.iter_mut() {
            p.lead_organisation = found.get(&p.lead_organisation_id).cloned();
        }
        found.clear();
    }
    if embeds.contains(&Embed::Sources) {
        sources::embed(conn, projects.iter_mut().flat_map(|p| p.sources.iter_mut())).await?;
    }
    if embeds.contains(&Embed::Programme) {
        let wanted: HashSet<Uuid> = projects.iter().filter_map(|p| p.programme_id).collect();
        let rows: Vec<ProgrammeRow> = programmes::table
            .filter(programmes::id.eq_any(wanted))
            .select(ProgrammeRow::as_select())
            .load(conn)
            .await?;
        let found: HashMap<Uuid, Programme> = crate::resources::programmes::assemble(conn, rows)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        for p in projects.iter_mut() {
            p.programme = p.programme_id.and_then(|id| found.get(&id).cloned());
        }
    }
    Ok(())
}

/// Rows and funding lines into API records, in `lang`.
async fn assemble(
    conn: &mut AsyncPgConnection,
    rows: Vec<ProjectRow>,
    lang: Option<Lang>,
) -> ApiResult<Vec<Project>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut funding = load_funding(conn, &ids).await?;
    let mut citations = sources::load(conn, Citing::Project, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let lines = funding.remove(&r.id).unwrap_or_default();
            let cited = citations.remove(&r.id).unwrap_or_default();
            let mut project = Project::from_parts(r, lines, cited);
            if let Some(lang) = lang {
                project.translate(lang);
            }
            project
        })
        .collect())
}

/// List projects
///
/// Filters combine with AND. Pagination is keyset under every sort, so pages neither skip nor
/// repeat records while others are added. The whole filtered list as CSV is
/// `GET /v1/exports/projects.csv` (with `projects-partners.csv` and `projects-funding.csv`).
#[utoipa::path(
    tag = "projects",
    params(ProjectListParams, ProjectFilters),
    responses((status = 200, description = "One page of projects", body = Page<Project>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"),
                ("Content-Language" = String, description = "The language asked for, when one was"))))
)]
#[get("/projects")]
pub async fn list_projects(
    ctx: Ctx,
    Query2(params, filters): Query2<ProjectListParams, ProjectFilters>,
) -> ApiResult<HttpResponse> {
    if crate::web::geojson::wanted(&ctx.req) && params.format.is_none() {
        let order = ProjectExportParams {
            sort: params.sort.clone(),
            lang: params.lang,
        };
        return geojson(&ctx, &order, &filters, params.cursor.as_deref()).await;
    }
    if csv_export::wanted(&ctx.req, params.format) {
        let order = ProjectExportParams {
            sort: params.sort.clone(),
            lang: params.lang,
        };
        let file = Table::Projects
            .export(&ctx, &order, &filters, params.cursor.as_deref())
            .await?;
        let response = csv_export::respond_file(file, "projects.csv", "text/csv; charset=utf-8")?;
        return Ok(csv_export::deprecated(
            response,
            &ctx.req,
            "/v1/exports/projects.csv",
        ));
    }
    let Ctx { state, caller, req } = ctx;
    let embeds = listing::parse_include(params.include.as_deref(), EMBEDS)?;
    let lang = Lang::negotiate(params.lang, &req);
    let mut conn = state.reader(&caller).await?;
    let (filters, relevance) = self::filters(&mut conn, &filters, caller.visibility()).await?;
    let order = SOURCE.order(params.sort.as_deref(), relevance.as_deref())?;
    let paging = Paging::of(&params, &SOURCE, &order, !embeds.is_empty())?;
    let mut rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    let mut projects = assemble(&mut conn, std::mem::take(&mut rows.rows), lang).await?;
    embed(&mut conn, &mut projects, &embeds).await?;
    let mut page = rows.page(projects);
    if let Some(wanted) = &params.facets {
        let labels = lang.unwrap_or(Lang::Lv);
        page.facets = Some(facets(&mut conn, &filters, &wanted.0, labels).await?);
    }
    let mut response = page.respond(&req);
    content_language(&mut response, lang);
    Ok(response)
}

/// Export projects as CSV
///
/// Every project the filters select, from one snapshot of the registry: one row each, with the
/// lead organisation's and programme's names, labels beside codes, summary and aim, and the
/// partners (`Name (role)`) and funding lines joined with `; `. The same selection's partners
/// and funding lines, one row each, are `projects-partners.csv` and `projects-funding.csv`.
#[utoipa::path(
    tag = "exports",
    params(ProjectExportParams, ProjectFilters),
    responses((status = 200, description = "The projects as CSV", body = String,
        content_type = "text/csv"))
)]
#[get("/exports/projects.csv")]
pub async fn export_projects(
    ctx: Ctx,
    Query2(params, filters): Query2<ProjectExportParams, ProjectFilters>,
) -> ApiResult<HttpResponse> {
    Table::Projects.respond(&ctx, &params, &filters).await
}

/// Export the partners of projects as CSV
///
/// One row per partnership of every project the filters select (keyed by project id), with the
/// organisation's name and the role's label.
#[utoipa::path(
    tag = "exports",
    params(ProjectExportParams, ProjectFilters),
    responses((status = 200, description = "The partnerships as CSV", body = String,
        content_type = "text/csv"))
)]
#[get("/exports/projects-partners.csv")]
pub async fn export_project_partners(
    ctx: Ctx,
    Query2(params, filters): Query2<ProjectExportParams, ProjectFilters>,
) -> ApiResult<HttpResponse> {
    Table::Partners.respond(&ctx, &params, &filters).await
}

/// Export the funding lines of projects as CSV
///
/// One row per funding line of every project the filters select (keyed by project id and
/// position), with the programme's and funder's names.
#[utoipa::path(
    tag = "exports",
    params(ProjectExportParams, ProjectFilters),
    responses((status = 200, description = "The funding lines as CSV", body = String,
        content_type = "text/csv"))
)]
#[get("/exports/projects-funding.csv")]
pub async fn export_project_funding(
    ctx: Ctx,
    Query2(params, filters): Query2<ProjectExportParams, ProjectFilters>,
) -> ApiResult<HttpResponse> {
    Table::Funding.respond(&ctx, &params, &filters).await
}

/// Export projects as GeoJSON
///
/// Every project the filters select, from one snapshot of the registry, as an RFC 7946
/// FeatureCollection: a point feature per project place (each territory in `municipalities` at
/// its representative point, each of `points` at its own), with the project's `id`, `title`,
/// `status`, `reference` and `regions` as properties (and `place`, `municipality`, `point`).
/// `Accept: application/geo+json` on `GET /v1/projects` answers the same.
#[utoipa::path(
    tag = "exports",
    params(ProjectExportParams, ProjectFilters),
    responses((status = 200, description = "The projects' places as a GeoJSON FeatureCollection",
        body = Object, content_type = "application/geo+json"))
)]
#[get("/exports/projects.geojson")]
pub async fn export_projects_geojson(
    ctx: Ctx,
    Query2(params, filters): Query2<ProjectExportParams, ProjectFilters>,
) -> ApiResult<HttpResponse> {
    geojson(&ctx, &params, &filters, None).await
}

/// The projects' places as GeoJSON, from one snapshot.
async fn geojson(
    ctx: &Ctx,
    params: &ProjectExportParams,
    selection: &ProjectFilters,
    cursor: Option<&str>,
) -> ApiResult<HttpResponse> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let (filters, relevance) = filters(&mut conn, selection, ctx.caller.visibility()).await?;
    let order = SOURCE.order(params.sort.as_deref(), relevance.as_deref())?;
    let cursor = Cursor::decode(cursor, &order, SOURCE.id_type)?;
    let lang = Lang::negotiate(params.lang, &ctx.req);
    let context = (filters, order, lang);
    crate::web::geojson::export(&mut conn, "projects", &context, cursor, geo_chunk).await
}

fn geo_chunk<'a>(
    conn: &'a mut AsyncPgConnection,
    (filters, order, lang): &'a (Filters, Order, Option<Lang>),
    cursor: Option<Cursor>,
) -> csv_export::ChunkOf<'a, serde_json::Value> {
    Box::pin(async move {
        let (rows, next) =
            listing::chunk::<ProjectRow>(conn, &SOURCE, filters, order, cursor, csv_export::CHUNK)
                .await?;
        let projects = assemble(conn, rows, *lang).await?;
        let codes = projects
            .iter()
            .flat_map(|p| p.municipalities.iter().cloned());
        let points = territories::points(conn, codes).await?;
        let features = projects
            .iter()
            .flat_map(|p| {
                let properties = serde_json::json!({
                    "id": p.id, "title": p.title, "status": p.status,
                    "reference": p.reference, "regions": p.regions,
                });
                territories::features(p.id, &properties, &p.municipalities, &p.points, &points)
            })
            .collect();
        Ok((features, next))
    })
}

/// Sets `Content-Language` when the request asked for a language.
pub fn content_language(response: &mut HttpResponse, lang: Option<Lang>) {
    if let Some(lang) = lang {
        response.headers_mut().insert(
            actix_web::http::header::CONTENT_LANGUAGE,
            actix_web::http::header::HeaderValue::from_static(lang.as_str()),
        );
    }
}

/// The three CSV tables of a project selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Projects,
    Partners,
    Funding,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Projects => "projects",
            Table::Partners => "projects-partners",
            Table::Funding => "projects-funding",
        }
    }

    fn header(self) -> Vec<&'static str> {
        match self {
            Table::Projects => csv_export::header(PROJECT_COLUMNS),
            Table::Partners => csv_export::header(PARTNER_COLUMNS),
            Table::Funding => csv_export::header(FUNDING_COLUMNS),
        }
    }

    /// The table as a CSV file, from one snapshot.
    async fn export(
        self,
        ctx: &Ctx,
        params: &ProjectExportParams,
        filters: &ProjectFilters,
        cursor: Option<&str>,
    ) -> ApiResult<std::fs::File> {
        let mut conn = ctx.state.reader(&ctx.caller).await?;
        let (filters, relevance) =
            self::filters(&mut conn, filters, ctx.caller.visibility()).await?;
        let order = SOURCE.order(params.sort.as_deref(), relevance.as_deref())?;
        let cursor = Cursor::decode(cursor, &order, SOURCE.id_type)?;
        let lang = Lang::negotiate(params.lang, &ctx.req).unwrap_or(Lang::Lv);
        let export = Export {
            table: self,
            labels: Arc::new(CsvLabels::load(&mut conn, lang).await?),
            filters,
            order,
        };
        csv_export::snapshot(&mut conn, &self.header(), &export, cursor, chunk).await
    }

    async fn respond(
        self,
        ctx: &Ctx,
        params: &ProjectExportParams,
        filters: &ProjectFilters,
    ) -> ApiResult<HttpResponse> {
        let file = self.export(ctx, params, filters, None).await?;
        let filename = format!("{}.csv", self.name());
        csv_export::respond_file(file, &filename, "text/csv; charset=utf-8")
    }
}

/// Labels and names a CSV export shows beside codes and ids.
struct CsvLabels {
    lang: Lang,
    regions: HashMap<String, String>,
    target_groups: HashMap<String, String>,
    roles: HashMap<String, String>,
    territories: HashMap<String, String>,
}

impl CsvLabels {
    async fn load(conn: &mut DbConn, lang: Lang) -> ApiResult<Self> {
        Ok(CsvLabels {
            lang,
            regions: vocabularies::labels(conn, VocabularyName::Regions, lang).await?,
            target_groups: vocabularies::labels(conn, VocabularyName::TargetGroups, lang).await?,
            roles: vocabularies::labels(conn, VocabularyName::PartnerRoles, lang).await?,
            territories: vocabularies::labels(conn, VocabularyName::Territories, lang).await?,
        })
    }

    /// Labels of `codes` in a vocabulary (the code itself where it has none).
    fn of(map: &HashMap<String, String>, codes: &[String]) -> String {
        let labels: Vec<&str> = codes
            .iter()
            .map(|c| map.get(c).map_or(c.as_str(), String::as_str))
            .collect();
        csv_export::join(&labels)
    }
}

/// The names of the organisations and programmes a chunk of projects mentions.
struct Names {
    organisations: HashMap<Uuid, String>,
    programmes: HashMap<Uuid, String>,
}

impl Names {
    fn organisation(&self, id: Option<Uuid>) -> String {
        opt(id.and_then(|id| self.organisations.get(&id)))
    }

    fn programme(&self, id: Option<Uuid>) -> String {
        opt(id.and_then(|id| self.programmes.get(&id)))
    }

    /// A funding line as one phrase: `Programme / Funder: 92.07% 45000.00 EUR`.
    fn funding(&self, line: &Funding) -> String {
        let source = [
            self.programme(line.programme_id),
            self.organisation(line.funder_id),
        ]
        .into_iter()
        .filter(|name| !name.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
        let share = line.share_percent.map(|s| format!("{s}%"));
        let amount = line
            .amount
            .as_ref()
            .map(|a| format!("{a} {}", line.currency.as_deref().unwrap_or_default()));
        let terms: Vec<String> = share.into_iter().chain(amount).collect();
        if terms.is_empty() {
            source
        } else {
            format!("{source}: {}", terms.join(" "))
        }
    }
}

/// What a row of the projects export is made from.
struct ProjectCsv {
    project: Project,
    partners: Vec<PartnerRow>,
    labels: Arc<CsvLabels>,
    names: Arc<Names>,
}

/// The columns of the projects export, one per line: the only place a field is added to it.
const PROJECT_COLUMNS: &[Column<ProjectCsv>] = &[
    Column {
        name: "id",
        value: |r| r.project.id.to_string(),
    },
    Column {
        name: "reference",
        value: |r| opt(r.project.reference.as_ref()),
    },
    Column {
        name: "title",
        value: |r| r.project.title.clone(),
    },
    Column {
        name: "status",
        value: |r| r.project.status.as_str().to_owned(),
    },
    Column {
        name: "status_label",
        value: |r| r.project.status.label(r.labels.lang).to_owned(),
    },
    Column {
        name: "status_stated_on",
        value: |r| opt(r.project.status_stated_on),
    },
    Column {
        name: "lead_organisation_id",
        value: |r| r.project.lead_organisation_id.to_string(),
    },
    Column {
        name: "lead_organisation_name",
        value: |r| r.names.organisation(Some(r.project.lead_organisation_id)),
    },
    Column {
        name: "programme_id",
        value: |r| opt(r.project.programme_id),
    },
    Column {
        name: "programme_name",
        value: |r| r.names.programme(r.project.programme_id),
    },
    Column {
        name: "start_date",
        value: |r| opt(r.project.start_date),
    },
    Column {
        name: "end_date",
        value: |r| opt(r.project.end_date),
    },
    Column {
        name: "regions",
        value: |r| csv_export::join(&r.project.regions),
    },
    Column {
        name: "region_labels",
        value: |r| CsvLabels::of(&r.labels.regions, &r.project.regions),
    },
    Column {
        name: "target_groups",
        value: |r| csv_export::join(&r.project.target_groups),
    },
    Column {
        name: "target_group_labels",
        value: |r| CsvLabels::of(&r.labels.target_groups, &r.project.target_groups),
    },
    Column {
        name: "municipalities",
        value: |r| csv_export::join(&r.project.municipalities),
    },
    Column {
        name: "municipality_labels",
        value: |r| CsvLabels::of(&r.labels.territories, &r.project.municipalities),
    },
    Column {
        name: "places",
        value: |r| csv_export::join(&r.project.places),
    },
    Column {
        name: "total_budget",
        value: |r| opt(r.project.total_budget.as_ref()),
    },
    Column {
        name: "currency",
        value: |r| opt(r.project.currency.as_ref()),
    },
    Column {
        name: "website",
        value: |r| opt(r.project.website.as_ref()),
    },
    Column {
        name: "summary",
        value: |r| opt(r.project.summary.as_ref()),
    },
    Column {
        name: "aim",
        value: |r| opt(r.project.aim.as_ref()),
    },
    Column {
        name: "partners",
        value: |r| {
            let partners: Vec<String> = r
                .partners
                .iter()
                .map(|p| {
                    let role = r.labels.roles.get(&p.role).unwrap_or(&p.role);
                    format!("{} ({role})", r.names.organisation(Some(p.organisation_id)))
                })
                .collect();
            csv_export::join(&partners)
        },
    },
    Column {
        name: "funding",
        value: |r| {
            let lines: Vec<String> = r
                .project
                .funding
                .iter()
                .map(|f| r.names.funding(f))
                .collect();
            csv_export::join(&lines)
        },
    },
    Column {
        name: "inferred",
        value: |r| csv_export::join(&r.project.inferred),
    },
    Column {
        name: "language",
        value: |r| r.project.language.as_str().to_owned(),
    },
    Column {
        name: "updated_at",
        value: |r| {
            r.project
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        },
    },
    Column {
        name: "version",
        value: |r| r.project.version.to_string(),
    },
];

/// What a row of the partners export is made from.
struct PartnerCsv {
    partner: PartnerRow,
    title: String,
    labels: Arc<CsvLabels>,
    names: Arc<Names>,
}

const PARTNER_COLUMNS: &[Column<PartnerCsv>] = &[
    Column {
        name: "project_id",
        value: |r| r.partner.project_id.to_string(),
    },
    Column {
        name: "project_title",
        value: |r| r.title.clone(),
    },
    Column {
        name: "partner_id",
        value: |r| r.partner.id.to_string(),
    },
    Column {
        name: "organisation_id",
        value: |r| r.partner.organisation_id.to_string(),
    },
    Column {
        name: "organisation_name",
        value: |r| r.names.organisation(Some(r.partner.organisation_id)),
    },
    Column {
        name: "role",
        value: |r| r.partner.role.clone(),
    },
    Column {
        name: "role_label",
        value: |r| CsvLabels::of(&r.labels.roles, std::slice::from_ref(&r.partner.role)),
    },
    Column {
        name: "description",
        value: |r| opt(r.partner.description.as_ref()),
    },
];

/// What a row of the funding export is made from.
struct FundingCsv {
    project: Uuid,
    title: String,
    position: usize,
    line: Funding,
    names: Arc<Names>,
}

const FUNDING_COLUMNS: &[Column<FundingCsv>] = &[
    Column {
        name: "project_id",
        value: |r| r.project.to_string(),
    },
    Column {
        name: "project_title",
        value: |r| r.title.clone(),
    },
    Column {
        name: "position",
        value: |r| r.position.to_string(),
    },
    Column {
        name: "programme_id",
        value: |r| opt(r.line.programme_id),
    },
    Column {
        name: "programme_name",
        value: |r| r.names.programme(r.line.programme_id),
    },
    Column {
        name: "funder_id",
        value: |r| opt(r.line.funder_id),
    },
    Column {
        name: "funder_name",
        value: |r| r.names.organisation(r.line.funder_id),
    },
    Column {
        name: "share_percent",
        value: |r| opt(r.line.share_percent),
    },
    Column {
        name: "amount",
        value: |r| opt(r.line.amount.as_ref()),
    },
    Column {
        name: "currency",
        value: |r| opt(r.line.currency.as_ref()),
    },
];

/// The rows of `table` for one chunk of projects.
async fn csv_rows(
    conn: &mut AsyncPgConnection,
    export: &Export,
    rows: Vec<ProjectRow>,
) -> ApiResult<Vec<Vec<String>>> {
    let labels = &export.labels;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let partners: Vec<PartnerRow> = project_partners::table
        .filter(project_partners::project_id.eq_any(&ids))
        .order((project_partners::project_id, project_partners::id))
        .select(PartnerRow::as_select())
        .load(conn)
        .await?;
    let projects = assemble(conn, rows, Some(labels.lang)).await?;
    let mut organisations: Vec<Uuid> = partners.iter().map(|p| p.organisation_id).collect();
    let mut programmes: Vec<Uuid> = Vec::new();
    for project in &projects {
        organisations.push(project.lead_organisation_id);
        organisations.extend(project.funding.iter().filter_map(|f| f.funder_id));
        programmes.extend(project.programme_id);
        programmes.extend(project.funding.iter().filter_map(|f| f.programme_id));
    }
    let names = Arc::new(Names {
        organisations: lookup::organisation_names(conn, organisations).await?,
        programmes: lookup::programme_names(conn, programmes).await?,
    });
    let mut by_project: HashMap<Uuid, Vec<PartnerRow>> = HashMap::new();
    for partner in partners {
        by_project
            .entry(partner.project_id)
            .or_default()
            .push(partner);
    }
    let mut out = Vec::new();
    for project in projects {
        let partners = by_project.remove(&project.id).unwrap_or_default();
        match export.table {
            Table::Projects => {
                let row = ProjectCsv {
                    project,
                    partners,
                    labels: labels.clone(),
                    names: names.clone(),
                };
                out.push(csv_export::row(PROJECT_COLUMNS, &row));
            }
            Table::Partners => {
                for partner in partners {
                    let title = project.title.clone();
                    let row = PartnerCsv {
                        partner,
                        title,
                        labels: labels.clone(),
                        names: names.clone(),
                    };
                    out.push(csv_export::row(PARTNER_COLUMNS, &row));
                }
            }
            Table::Funding => {
                for (position, line) in project.funding.iter().enumerate() {
                    let row = FundingCsv {
                        project: project.id,
                        title: project.title.clone(),
                        position,
                        line: line.clone(),
                        names: names.clone(),
                    };
                    out.push(csv_export::row(FUNDING_COLUMNS, &row));
                }
            }
        }
    }
    Ok(out)
}

/// What an export needs besides the connection.
struct Export {
    table: Table,
    labels: Arc<CsvLabels>,
    filters: Filters,
    order: Order,
}

fn chunk<'a>(
    conn: &'a mut AsyncPgConnection,
    export: &'a Export,
    cursor: Option<Cursor>,
) -> csv_export::Chunk<'a> {
    Box::pin(async move {
        let (rows, next) = listing::chunk::<ProjectRow>(
            conn,
            &SOURCE,
            &export.filters,
            &export.order,
            cursor,
            csv_export::CHUNK,
        )
        .await?;
        let rows = csv_rows(conn, export, rows).await?;
        Ok((rows, next))
    })
}

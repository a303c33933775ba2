//! Reading projects: the filtered, sorted, searchable list (JSON or CSV), and the embedding of
//! related records with a fixed number of queries per request.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::LazyLock;

use actix_web::{get, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{load_funding, Project, ProjectRow};
use crate::auth::Visibility;
use crate::db::DbConn;
use crate::domain::{Lang, ProjectStatus};
use crate::resources::activities::Activity;
use crate::resources::lookup;
use crate::resources::metrics::{MetricRow, MetricValue};
use crate::resources::organisations::{Organisation, OrganisationRow};
use crate::resources::partners::{Partner, PartnerRow};
use crate::resources::programmes::Programme;
use crate::resources::record::Ctx;
use crate::resources::vocabularies::{self, VocabularyName};
use crate::schema::{
    activities, indicators, metric_values, organisations, programmes, project_partners,
};
use crate::state::Reader;
use crate::web::csv_export::{self, opt, Column, Format};
use crate::web::error::ApiResult;
use crate::web::http::Query;
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
}

const EMBEDS: &[(&str, Embed)] = &[
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
        /// Order: `id` (default; creation order), `updated_at`, `title`, `start_date`, `end_date`,
        /// or `relevance` (default with `q`); prefix `-` for descending. Unknown dates sort last.
        #[param(
            example = "-start_date",
            pattern = "^(-?(id|updated_at|title|start_date|end_date)|relevance)$"
        )]
        pub sort: Option<String>,
        /// Full-text search over titles, summaries, aims and reference numbers, in every
        /// language; ignores case and diacritics (`ilukste` finds `Ilūkstes`) and Latvian word
        /// endings; best matches first unless `sort` says otherwise.
        #[param(example = "ilukste", min_length = 1, max_length = 200)]
        pub q: Option<String>,
        /// Embed related records: any of `partners` (each with its organisation), `activities`,
        /// `metrics`, `lead_organisation`, `programme`, comma-separated. (`funding` is accepted
        /// and always embedded.)
        #[param(
            example = "partners,activities",
            pattern = "^(partners|activities|metrics|funding|lead_organisation|programme)(,(partners|activities|metrics|funding|lead_organisation|programme))*$"
        )]
        pub include: Option<String>,
        /// Language of titles, summaries and aims (falls back to the original); overrides
        /// `Accept-Language`.
        pub lang: Option<Lang>,
        /// `csv` streams the whole filtered list as CSV (like `Accept: text/csv`); `limit` and
        /// `cursor` then do not apply.
        pub format: Option<Format>,
        /// Only projects with this status.
        pub status: Option<ProjectStatus>,
        /// Only projects this organisation leads or partners in (with `role`: holds that role).
        pub organisation: Option<Uuid>,
        /// Only projects where some partner holds this role (`/v1/vocabularies/partner_roles`).
        #[param(example = "partner")]
        pub role: Option<String>,
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
        /// Only projects with an activity of this kind (`/v1/vocabularies/activity_kinds`).
        #[param(example = "course")]
        pub activity_kind: Option<String>,
        /// Only projects reporting values of this indicator (code).
        #[param(example = "participants")]
        pub indicator: Option<String>,
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
}

/// Query parameters of a single project read.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectReadParams {
    /// Embed related records: any of `partners` (each with its organisation), `activities`,
    /// `metrics`, `lead_organisation`, `programme`, comma-separated (`funding` is always
    /// embedded). The response then carries a weak ETag of its whole content.
    #[param(
        example = "partners,activities,metrics",
        pattern = "^(partners|activities|metrics|funding|lead_organisation|programme)(,(partners|activities|metrics|funding|lead_organisation|programme))*$"
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
    params: &ProjectListParams,
    visibility: Visibility,
) -> ApiResult<(Filters, Option<String>)> {
    for (param, vocabulary, code) in [
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
        if let Some(code) = code {
            vocabularies::ensure_code(conn, vocabulary, param, code).await?;
        }
    }
    let mut f = Filters::default();
    f.visible_projects(visibility, "p");
    if let Some(status) = params.status {
        let status = f.bind(Value::Text(status.as_str().to_owned()));
        f.and(format!("p.status = {status}"));
    }
    match (params.organisation, &params.role) {
        (Some(org), None) => {
            let org = f.bind(Value::Uuid(org));
            f.and(format!(
                "(p.lead_organisation_id = {org} OR EXISTS (SELECT 1 FROM project_partners pp \
                 WHERE pp.project_id = p.id AND pp.organisation_id = {org}))"
            ));
        }
        (org, Some(role)) => {
            let role = f.bind(Value::Text(role.clone()));
            let org = match org {
                Some(org) => format!(" AND pp.organisation_id = {}", f.bind(Value::Uuid(org))),
                None => String::new(),
            };
            f.and(format!(
                "EXISTS (SELECT 1 FROM project_partners pp WHERE pp.project_id = p.id AND pp.role = {role}{org})"
            ));
        }
        (None, None) => {}
    }
    if let Some(org) = params.lead_organisation {
        let org = f.bind(Value::Uuid(org));
        f.and(format!("p.lead_organisation_id = {org}"));
    }
    if let Some(programme) = params.programme {
        let programme = f.bind(Value::Uuid(programme));
        f.and(format!(
            "(p.programme_id = {programme} OR EXISTS (SELECT 1 FROM project_funding pf \
             WHERE pf.project_id = p.id AND pf.programme_id = {programme}))"
        ));
    }
    if let Some(group) = &params.target_group {
        let group = f.bind(Value::Texts(vec![group.clone()]));
        f.and(format!("p.target_groups @> {group}"));
    }
    if let Some(region) = &params.region {
        let region = f.bind(Value::Texts(vec![region.clone()]));
        f.and(format!("p.regions @> {region}"));
    }
    if let Some(kind) = &params.activity_kind {
        let kind = f.bind(Value::Text(kind.clone()));
        f.and(format!(
            "EXISTS (SELECT 1 FROM activities a WHERE a.project_id = p.id AND a.kind = {kind})"
        ));
    }
    if let Some(code) = &params.indicator {
        let code = f.bind(Value::Text(code.clone()));
        f.and(format!(
            "EXISTS (SELECT 1 FROM metric_values m JOIN indicators i ON i.id = m.indicator_id \
             WHERE m.project_id = p.id AND i.code = {code})"
        ));
    }
    if let Some(reference) = &params.reference {
        let reference = f.bind(Value::Text(reference.clone()));
        f.and(format!("p.reference = {reference}"));
    }
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
        let mut by_project: HashMap<Uuid, Vec<Partner>> = HashMap::new();
        for (partner, organisation) in rows {
            let mut partner = Partner::from(partner);
            partner.organisation = Some(Organisation::from(organisation));
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
        let mut by_project: HashMap<Uuid, Vec<MetricValue>> = HashMap::new();
        for (row, code) in rows {
            by_project
                .entry(row.project_id)
                .or_default()
                .push(MetricValue::from_parts(row, code));
        }
        for p in projects.iter_mut() {
            p.metrics = Some(by_project.remove(&p.id).unwrap_or_default());
        }
    }
    if embeds.contains(&Embed::LeadOrganisation) {
        let leads: HashSet<Uuid> = projects.iter().map(|p| p.lead_organisation_id).collect();
        let mut found: HashMap<Uuid, Organisation> = organisations::table
            .filter(organisations::id.eq_any(leads))
            .select(OrganisationRow::as_select())
            .load(conn)
            .await?
            .into_iter()
            .map(|r| (r.id, Organisation::from(r)))
            .collect();
        for p in projects.iter_mut() {
            p.lead_organisation = found.get(&p.lead_organisation_id).cloned();
        }
        found.clear();
    }
    if embeds.contains(&Embed::Programme) {
        let wanted: HashSet<Uuid> = projects.iter().filter_map(|p| p.programme_id).collect();
        let found: HashMap<Uuid, Programme> = programmes::table
            .filter(programmes::id.eq_any(wanted))
            .select(Programme::as_select())
            .load(conn)
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
    Ok(rows
        .into_iter()
        .map(|r| {
            let lines = funding.remove(&r.id).unwrap_or_default();
            let mut project = Project::from_parts(r, lines);
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
/// repeat records while others are added. With `Accept: text/csv` or `format=csv` the whole
/// list streams as CSV (one row per project, labels beside codes).
#[utoipa::path(
    tag = "projects",
    params(ProjectListParams),
    responses((status = 200, description = "One page of projects (or the whole list as CSV)",
        content((Page<Project> = "application/json"), (String = "text/csv")),
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"),
                ("Content-Language" = String, description = "The language asked for, when one was"))))
)]
#[get("/projects")]
pub async fn list_projects(
    ctx: Ctx,
    Query(params): Query<ProjectListParams>,
) -> ApiResult<HttpResponse> {
    let Ctx { state, caller, req } = ctx;
    let embeds = listing::parse_include(params.include.as_deref(), EMBEDS)?;
    let lang = Lang::negotiate(params.lang, &req);
    let mut conn = state.reader(&caller).await?;
    let (filters, relevance) = filters(&mut conn, &params, caller.visibility()).await?;
    let order = SOURCE.order(params.sort.as_deref(), relevance.as_deref())?;
    if csv_export::wanted(&req, params.format) {
        let cursor = Cursor::decode(params.cursor.as_deref(), &order, SOURCE.id_type)?;
        let export = Export {
            labels: Rc::new(CsvLabels::load(&mut conn, lang.unwrap_or(Lang::Lv)).await?),
            filters,
            order,
        };
        let reader = Reader::new(state, &caller);
        return csv_export::export(
            reader,
            conn,
            "projects",
            &csv_export::header(CSV_COLUMNS),
            export,
            cursor,
            chunk,
        )
        .await;
    }
    let paging = Paging::of(&params, &SOURCE, &order, !embeds.is_empty())?;
    let mut rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    let mut projects = assemble(&mut conn, std::mem::take(&mut rows.rows), lang).await?;
    embed(&mut conn, &mut projects, &embeds).await?;
    let mut response = rows.page(projects).respond(&req);
    content_language(&mut response, lang);
    Ok(response)
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

/// What a row of the projects export is made from.
struct CsvRow {
    project: Project,
    labels: Rc<CsvLabels>,
    organisations: Rc<HashMap<Uuid, String>>,
    programmes: Rc<HashMap<Uuid, String>>,
}

impl CsvRow {
    /// Labels of `codes` in a vocabulary (the code itself where it has none).
    fn labels(&self, map: &HashMap<String, String>, codes: &[String]) -> String {
        let labels: Vec<&str> = codes
            .iter()
            .map(|c| map.get(c).map_or(c.as_str(), String::as_str))
            .collect();
        csv_export::join(&labels)
    }
}

/// The columns of the projects export, one per line: the only place a field is added to it.
const CSV_COLUMNS: &[Column<CsvRow>] = &[
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
        value: |r| opt(r.organisations.get(&r.project.lead_organisation_id)),
    },
    Column {
        name: "programme_id",
        value: |r| opt(r.project.programme_id),
    },
    Column {
        name: "programme_name",
        value: |r| opt(r.project.programme_id.and_then(|id| r.programmes.get(&id))),
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
        value: |r| r.labels(&r.labels.regions, &r.project.regions),
    },
    Column {
        name: "target_groups",
        value: |r| csv_export::join(&r.project.target_groups),
    },
    Column {
        name: "target_group_labels",
        value: |r| r.labels(&r.labels.target_groups, &r.project.target_groups),
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

/// Labels and names a CSV export shows beside codes and ids.
struct CsvLabels {
    lang: Lang,
    regions: HashMap<String, String>,
    target_groups: HashMap<String, String>,
}

impl CsvLabels {
    async fn load(conn: &mut DbConn, lang: Lang) -> ApiResult<Self> {
        Ok(CsvLabels {
            lang,
            regions: vocabularies::labels(conn, VocabularyName::Regions, lang).await?,
            target_groups: vocabularies::labels(conn, VocabularyName::TargetGroups, lang).await?,
        })
    }
}

async fn csv_rows(
    conn: &mut AsyncPgConnection,
    labels: &Rc<CsvLabels>,
    rows: Vec<ProjectRow>,
) -> ApiResult<Vec<Vec<String>>> {
    let organisations = Rc::new(
        lookup::organisation_names(conn, rows.iter().map(|r| r.lead_organisation_id)).await?,
    );
    let programmes =
        Rc::new(lookup::programme_names(conn, rows.iter().filter_map(|r| r.programme_id)).await?);
    let projects = assemble(conn, rows, Some(labels.lang)).await?;
    Ok(projects
        .into_iter()
        .map(|project| {
            let row = CsvRow {
                project,
                labels: labels.clone(),
                organisations: organisations.clone(),
                programmes: programmes.clone(),
            };
            csv_export::row(CSV_COLUMNS, &row)
        })
        .collect())
}

/// What an export needs besides the connection.
struct Export {
    labels: Rc<CsvLabels>,
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
        let rows = csv_rows(conn, &export.labels, rows).await?;
        Ok((rows, next))
    })
}

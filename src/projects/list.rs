//! Reading projects: the filtered, sorted, searchable list (JSON or CSV), and the embedding of
//! related records with a fixed number of queries per request.

use std::collections::{HashMap, HashSet};

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{load_funding, Project, ProjectRow, ProjectStatus};
use crate::activities::{Activity, ActivityRow};
use crate::app::AppState;
use crate::auth::{Caller, Visibility};
use crate::csv_export::{self, Format};
use crate::error::ApiResult;
use crate::http::Query;
use crate::language::Lang;
use crate::listing::{self, Cursor, Filters, KeyType, Order, Search, SortField, Value};
use crate::metrics::{MetricRow, MetricValue};
use crate::organisations::{Organisation, OrganisationRow};
use crate::pagination::Page;
use crate::partners::{Partner, PartnerRow};
use crate::programmes::{Programme, ProgrammeRow};
use crate::schema::{
    activities, indicators, metric_values, organisations, programmes, project_partners,
};
use crate::vocabularies::{self, VocabularyName};

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

/// The columns `ProjectRow` reads, as `p.column`.
static COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    listing::columns(
        crate::schema::projects::table
            .select(<ProjectRow as diesel::SelectableHelper<diesel::pg::Pg>>::as_select()),
        "projects",
        "p",
    )
});

static SOURCE: listing::Source = listing::Source {
    table: "projects",
    alias: "p",
    columns: &COLUMNS,
};
const SORTS: &[SortField] = &[
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
];

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectListParams {
    /// Page size (at most 50 with `include`).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Include the total number of matching records.
    pub count: Option<bool>,
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
        let rows: Vec<ActivityRow> = activities::table
            .filter(activities::project_id.eq_any(&ids))
            .order((activities::project_id, activities::id))
            .select(ActivityRow::as_select())
            .load(conn)
            .await?;
        let mut by_project: HashMap<Uuid, Vec<Activity>> = HashMap::new();
        for row in rows {
            by_project
                .entry(row.project_id)
                .or_default()
                .push(Activity::from(row));
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
            .select(ProgrammeRow::as_select())
            .load(conn)
            .await?
            .into_iter()
            .map(|r| (r.id, Programme::from(r)))
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
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Query(params): Query<ProjectListParams>,
) -> ApiResult<HttpResponse> {
    let embeds = listing::parse_include(params.include.as_deref(), EMBEDS)?;
    let lang = Lang::negotiate(params.lang, &req);
    let mut conn = state.reader(&caller).await?;
    let (filters, relevance) = filters(&mut conn, &params, caller.visibility()).await?;
    let order = Order::parse(params.sort.as_deref(), SORTS, relevance.as_deref())?;
    if csv_export::wanted(&req, params.format) {
        let cursor = Cursor::decode(params.cursor.as_deref(), &order)?;
        return export(
            state,
            &caller,
            conn,
            filters,
            order,
            cursor,
            lang.unwrap_or(Lang::Lv),
        )
        .await;
    }
    let limit = listing::limit(params.limit, !embeds.is_empty())?;
    let cursor = Cursor::decode(params.cursor.as_deref(), &order)?;
    let rows: Vec<listing::Keyed<ProjectRow>> =
        listing::fetch(&mut conn, &SOURCE, &filters, &order, cursor.as_ref(), limit).await?;
    let keys: Vec<Cursor> = rows.iter().map(|k| k.cursor(k.record.id)).collect();
    let mut projects = assemble(
        &mut conn,
        rows.into_iter().map(|k| k.record).collect(),
        lang,
    )
    .await?;
    embed(&mut conn, &mut projects, &embeds).await?;
    let total = match params.count {
        Some(true) => Some(listing::count(&mut conn, &SOURCE, &filters).await?),
        _ => None,
    };
    let page = Page::from_keyed(projects, keys, limit, &order.name).with_total(total);
    let mut response = page.respond(&req);
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

const CSV_HEADER: &[&str] = &[
    "id",
    "reference",
    "title",
    "status",
    "status_label",
    "lead_organisation_id",
    "lead_organisation_name",
    "programme_id",
    "programme_name",
    "start_date",
    "end_date",
    "regions",
    "region_labels",
    "target_groups",
    "target_group_labels",
    "places",
    "total_budget",
    "currency",
    "website",
    "language",
    "updated_at",
    "version",
];

/// Labels and names a CSV export shows beside codes and ids.
struct CsvLabels {
    lang: Lang,
    regions: HashMap<String, String>,
    target_groups: HashMap<String, String>,
}

async fn csv_rows(
    conn: &mut AsyncPgConnection,
    labels: &CsvLabels,
    rows: Vec<ProjectRow>,
) -> ApiResult<Vec<Vec<String>>> {
    let orgs: HashSet<Uuid> = rows.iter().map(|r| r.lead_organisation_id).collect();
    let org_names: HashMap<Uuid, String> = organisations::table
        .filter(organisations::id.eq_any(orgs))
        .select((organisations::id, organisations::name))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let wanted: HashSet<Uuid> = rows.iter().filter_map(|r| r.programme_id).collect();
    let programme_names: HashMap<Uuid, String> = programmes::table
        .filter(programmes::id.eq_any(wanted))
        .select((programmes::id, programmes::name))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let projects = assemble(conn, rows, Some(labels.lang)).await?;
    let label = |map: &HashMap<String, String>, codes: &[String]| {
        csv_export::join(
            &codes
                .iter()
                .map(|c| map.get(c).cloned().unwrap_or_else(|| c.clone()))
                .collect::<Vec<_>>(),
        )
    };
    let opt = |v: Option<String>| v.unwrap_or_default();
    Ok(projects
        .into_iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                opt(p.reference.clone()),
                p.title.clone(),
                p.status.as_str().to_owned(),
                p.status.label(labels.lang).to_owned(),
                p.lead_organisation_id.to_string(),
                opt(org_names.get(&p.lead_organisation_id).cloned()),
                opt(p.programme_id.map(|id| id.to_string())),
                opt(p
                    .programme_id
                    .and_then(|id| programme_names.get(&id).cloned())),
                opt(p.start_date.map(|d| d.to_string())),
                opt(p.end_date.map(|d| d.to_string())),
                csv_export::join(&p.regions),
                label(&labels.regions, &p.regions),
                csv_export::join(&p.target_groups),
                label(&labels.target_groups, &p.target_groups),
                csv_export::join(&p.places),
                opt(p.total_budget.clone()),
                opt(p.currency.clone()),
                opt(p.website.clone()),
                p.language.as_str().to_owned(),
                p.updated_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                p.version.to_string(),
            ]
        })
        .collect())
}

/// What an export needs besides the connection.
struct Export {
    labels: CsvLabels,
    filters: Filters,
    order: Order,
}

fn chunk<'a>(
    conn: &'a mut AsyncPgConnection,
    export: &'a Export,
    cursor: Option<Cursor>,
) -> csv_export::Chunk<'a> {
    Box::pin(async move {
        let (rows, next) = listing::chunk(
            conn,
            &SOURCE,
            &export.filters,
            &export.order,
            cursor,
            csv_export::CHUNK,
            |r: &ProjectRow| r.id,
        )
        .await?;
        let rows = csv_rows(conn, &export.labels, rows).await?;
        Ok((rows, next))
    })
}

async fn export(
    state: web::Data<AppState>,
    caller: &Caller,
    mut conn: crate::db::DbConn,
    filters: Filters,
    order: Order,
    cursor: Option<Cursor>,
    lang: Lang,
) -> ApiResult<HttpResponse> {
    let labels = CsvLabels {
        lang,
        regions: vocabularies::labels(&mut conn, VocabularyName::Regions, lang).await?,
        target_groups: vocabularies::labels(&mut conn, VocabularyName::TargetGroups, lang).await?,
    };
    let context = Export {
        labels,
        filters,
        order,
    };
    csv_export::export(
        crate::app::Reader::new(state, caller),
        conn,
        "projects",
        CSV_HEADER,
        context,
        cursor,
        chunk,
    )
    .await
}

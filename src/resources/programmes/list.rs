//! Reading programmes: the filtered, sorted, searchable list, its embeddings and its export.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use actix_web::{get, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{assemble, Programme, ProgrammeProject, ProgrammeRow};
use crate::auth::Visibility;
use crate::domain::{Lang, ProjectStatus};
use crate::resources::lookup;
use crate::resources::organisations::{Organisation, OrganisationRow};
use crate::resources::record::Ctx;
use crate::resources::sources;
use crate::resources::vocabularies::{self, VocabularyName};
use crate::schema::organisations;
use crate::web::csv_export::{self, opt, Column};
use crate::web::error::ApiResult;
use crate::web::http::{Many, Query};
use crate::web::listing::{
    self, Cursor, Filters, KeyType, Order, Paging, Search, SortField, Source, Value,
};
use crate::web::pagination::Page;

static SOURCE: Source = Source {
    table: "programmes",
    alias: "g",
    columns: &COLUMNS,
    sorts: &[
        SortField::column("name", "g.name", KeyType::Text),
        SortField::column("updated_at", "g.updated_at", KeyType::Time),
        SortField {
            name: "start_date",
            ascending: "coalesce(g.start_date, 'infinity'::date)",
            descending: "coalesce(g.start_date, '-infinity'::date)",
            key_type: KeyType::Date,
        },
        SortField {
            name: "end_date",
            ascending: "coalesce(g.end_date, 'infinity'::date)",
            descending: "coalesce(g.end_date, '-infinity'::date)",
            key_type: KeyType::Date,
        },
    ],
    default_sort: "id",
    id_type: "uuid",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(programmes, ProgrammeRow, "g");

/// Records a programme can embed with `include=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embed {
    Organisations,
    Projects,
    Sources,
}

const EMBEDS: &[(&str, Embed)] = &[
    ("organisations", Embed::Organisations),
    ("projects", Embed::Projects),
    ("sources", Embed::Sources),
];

crate::list_params! {
    pub struct ProgrammeListParams ("Page size (at most 50 with `include`).") {
        /// Embed related records: any of `organisations` (each body with its organisation),
        /// `projects` (the programme's projects: id, title, status, reference), `sources`,
        /// comma-separated.
        #[param(
            example = "organisations,projects",
            pattern = "^(organisations|projects|sources)(,(organisations|projects|sources))*$"
        )]
        pub include: Option<String>,
    }
    /// What selects and orders programmes, in the list and its export.
    pub struct ProgrammeExportParams {
        /// Order: `id` (default; creation order), `name`, `updated_at`, `start_date`,
        /// `end_date`, or `relevance` (default with `q`); prefix `-` for descending. Unknown
        /// dates sort last.
        #[param(
            example = "name",
            pattern = "^(-?(id|name|updated_at|start_date|end_date)|relevance)$"
        )]
        pub sort: Option<String>,
        /// Full-text search over names, short names, codes and descriptions; ignores case,
        /// diacritics and Latvian word endings.
        #[param(example = "nvo fonds", min_length = 1, max_length = 200)]
        pub q: Option<String>,
        /// Language of the labels beside codes in the export.
        pub lang: Option<Lang>,
        /// Only programmes in which one of these organisations holds a role (with `role`: one
        /// of those roles; comma-separated ids).
        #[param(value_type = Option<String>)]
        pub organisation: Option<Many<Uuid>>,
        /// Only programmes in which some organisation holds one of these roles
        /// (`/v1/vocabularies/programme_roles`).
        #[param(value_type = Option<String>, example = "administrator,co_administrator")]
        pub role: Option<Many<String>>,
        /// Only programmes funded by one of these organisations (role `funder`).
        #[param(value_type = Option<String>)]
        pub funder: Option<Many<Uuid>>,
        /// Only programmes one of these organisations administers (role `administrator` or
        /// `co_administrator`).
        #[param(value_type = Option<String>)]
        pub administrator: Option<Many<Uuid>>,
        /// Only programmes running on this day (started on or before it, not ended before it).
        #[param(example = "2013-03-08")]
        pub active_on: Option<NaiveDate>,
        /// Only programmes starting on or after this day.
        pub starts_after: Option<NaiveDate>,
        /// Only programmes starting on or before this day.
        pub starts_before: Option<NaiveDate>,
        /// Only programmes ending on or after this day.
        pub ends_after: Option<NaiveDate>,
        /// Only programmes ending on or before this day.
        pub ends_before: Option<NaiveDate>,
        /// Only programmes changed at or after this instant.
        pub updated_since: Option<DateTime<Utc>>,
    }
}

pub use crate::auth::ADMINISTERING;

async fn filters(
    conn: &mut AsyncPgConnection,
    params: &ProgrammeExportParams,
) -> ApiResult<(Filters, Option<String>)> {
    for role in params.role.iter().flat_map(|r| r.0.iter()) {
        vocabularies::ensure_code(conn, VocabularyName::ProgrammeRoles, "role", role).await?;
    }
    let mut f = Filters::default();
    match (&params.organisation, &params.role) {
        (None, None) => {}
        (org, role) => {
            let mut conditions = Vec::new();
            if let Some(org) = org {
                let org = f.bind(Value::Uuids(org.values()));
                conditions.push(format!("b.organisation_id = ANY({org})"));
            }
            if let Some(role) = role {
                let role = f.bind(Value::Texts(role.values()));
                conditions.push(format!("b.role = ANY({role})"));
            }
            f.and(format!(
                "EXISTS (SELECT 1 FROM programme_organisations b WHERE b.programme_id = g.id AND {})",
                conditions.join(" AND ")
            ));
        }
    }
    if let Some(funder) = &params.funder {
        let funder = f.bind(Value::Uuids(funder.values()));
        f.and(format!(
            "EXISTS (SELECT 1 FROM programme_organisations b WHERE b.programme_id = g.id \
             AND b.organisation_id = ANY({funder}) AND b.role = 'funder')"
        ));
    }
    if let Some(admin) = &params.administrator {
        let admin = f.bind(Value::Uuids(admin.values()));
        f.and(format!(
            "EXISTS (SELECT 1 FROM programme_organisations b WHERE b.programme_id = g.id \
             AND b.organisation_id = ANY({admin}) AND b.role IN {ADMINISTERING})"
        ));
    }
    if let Some(day) = params.active_on {
        let day = f.bind(Value::Date(day));
        f.and(format!(
            "g.start_date <= {day} AND (g.end_date IS NULL OR g.end_date >= {day})"
        ));
    }
    for (bound, column, op) in [
        (params.starts_after, "g.start_date", ">="),
        (params.starts_before, "g.start_date", "<="),
        (params.ends_after, "g.end_date", ">="),
        (params.ends_before, "g.end_date", "<="),
    ] {
        if let Some(day) = bound {
            let day = f.bind(Value::Date(day));
            f.and(format!("{column} {op} {day}"));
        }
    }
    if let Some(since) = params.updated_since {
        let since = f.bind(Value::Time(since));
        f.and(format!("g.updated_at >= {since}"));
    }
    let relevance = Search::parse(params.q.as_deref())?.map(|s| s.apply(&mut f, "g"));
    Ok((f, relevance))
}

#[derive(QueryableByName)]
struct ProjectOfProgramme {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    programme_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    project_id: Uuid,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    status: ProjectStatus,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    reference: Option<String>,
}

/// Embeds what `embeds` asks for into `programmes`: one query per kind.
async fn embed(
    conn: &mut AsyncPgConnection,
    programmes: &mut [Programme],
    embeds: &[Embed],
    visibility: Visibility,
) -> ApiResult<()> {
    if embeds.contains(&Embed::Organisations) {
        let ids: Vec<Uuid> = programmes
            .iter()
            .flat_map(|p| p.organisations.iter().map(|o| o.organisation_id))
            .collect();
        let mut loaded: Vec<Organisation> = organisations::table
            .filter(organisations::id.eq_any(ids))
            .select(OrganisationRow::as_select())
            .load(conn)
            .await?
            .into_iter()
            .map(Organisation::from)
            .collect();
        crate::resources::organisations::attach_sources(conn, &mut loaded).await?;
        let found: HashMap<Uuid, Organisation> = loaded.into_iter().map(|o| (o.id, o)).collect();
        for body in programmes
            .iter_mut()
            .flat_map(|p| p.organisations.iter_mut())
        {
            body.organisation = found.get(&body.organisation_id).cloned();
        }
    }
    if embeds.contains(&Embed::Sources) {
        sources::embed(
            conn,
            programmes.iter_mut().flat_map(|p| p.sources.iter_mut()),
        )
        .await?;
    }
    if embeds.contains(&Embed::Projects) {
        let ids: Vec<Uuid> = programmes.iter().map(|p| p.id).collect();
        let mut f = Filters::default();
        let ids = f.bind(Value::Uuids(ids));
        f.visible_projects(visibility, "p");
        let visible = f.where_clause().replacen(" WHERE ", " AND ", 1);
        let mut sql = f.binds_only();
        sql.push(&format!(
            "SELECT DISTINCT r.programme_id, p.id AS project_id, p.title, p.status, p.reference FROM ( \
               SELECT programme_id, id AS project_id FROM projects WHERE programme_id = ANY({ids}) \
               UNION SELECT programme_id, project_id FROM project_funding WHERE programme_id = ANY({ids})) r \
             JOIN projects p ON p.id = r.project_id{visible} ORDER BY r.programme_id, p.id"
        ));
        let rows: Vec<ProjectOfProgramme> = sql.into_query().load(conn).await?;
        let mut by_programme: HashMap<Uuid, Vec<ProgrammeProject>> = HashMap::new();
        for r in rows {
            by_programme
                .entry(r.programme_id)
                .or_default()
                .push(ProgrammeProject {
                    project_id: r.project_id,
                    title: r.title,
                    status: r.status,
                    reference: r.reference,
                });
        }
        for p in programmes.iter_mut() {
            p.projects = Some(by_programme.remove(&p.id).unwrap_or_default());
        }
    }
    Ok(())
}

/// List programmes
///
/// Filters combine with AND; keyset pagination under every sort. The whole filtered list as
/// CSV is `GET /v1/exports/programmes.csv`.
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
    let query = ProgrammeExportParams::from(&params);
    let embeds = listing::parse_include(params.include.as_deref(), EMBEDS)?;
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let (filters, relevance) = filters(&mut conn, &query).await?;
    let order = SOURCE.order(query.sort.as_deref(), relevance.as_deref())?;
    let paging = Paging::of(&params, &SOURCE, &order, !embeds.is_empty())?;
    let mut rows =
        listing::page::<ProgrammeRow>(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    let mut programmes = assemble(&mut conn, std::mem::take(&mut rows.rows)).await?;
    embed(&mut conn, &mut programmes, &embeds, ctx.caller.visibility()).await?;
    Ok(rows.page(programmes).respond(&ctx.req))
}

/// Query parameters of a single programme read.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProgrammeReadParams {
    /// Embed related records: any of `organisations`, `projects`, `sources`, comma-separated.
    /// The response then carries a weak ETag of its whole content.
    #[param(
        example = "organisations,projects",
        pattern = "^(organisations|projects|sources)(,(organisations|projects|sources))*$"
    )]
    pub include: Option<String>,
}

/// A single programme with what `include` asks for.
pub async fn read_included(
    ctx: &Ctx,
    conn: &mut AsyncPgConnection,
    programme: Programme,
    include: Option<&str>,
) -> ApiResult<Programme> {
    let embeds = listing::parse_include(include, EMBEDS)?;
    let mut programmes = [programme];
    embed(conn, &mut programmes, &embeds, ctx.caller.visibility()).await?;
    let [programme] = programmes;
    Ok(programme)
}

/// What a row of the programmes export is made from.
struct ProgrammeCsv {
    programme: Programme,
    names: Arc<HashMap<Uuid, String>>,
    roles: Arc<HashMap<String, String>>,
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
        name: "organisations",
        value: |r| {
            let bodies: Vec<String> = r
                .programme
                .organisations
                .iter()
                .map(|b| {
                    let role = r.roles.get(&b.role).unwrap_or(&b.role);
                    format!("{} ({role})", opt(r.names.get(&b.organisation_id)))
                })
                .collect();
            csv_export::join(&bodies)
        },
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
        name: "inferred",
        value: |r| csv_export::join(&r.programme.inferred),
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
/// Every programme the filters select, from one snapshot of the registry, with its
/// organisations (`Name (role)`) and the names of its first funder and administrator.
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
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let (filters, relevance) = filters(&mut conn, &params).await?;
    let order = SOURCE.order(params.sort.as_deref(), relevance.as_deref())?;
    let lang = Lang::negotiate(params.lang, &ctx.req).unwrap_or(Lang::Lv);
    let roles =
        Arc::new(vocabularies::labels(&mut conn, VocabularyName::ProgrammeRoles, lang).await?);
    let export = Export {
        filters,
        order,
        roles,
    };
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

struct Export {
    filters: Filters,
    order: Order,
    roles: Arc<HashMap<String, String>>,
}

fn chunk<'a>(
    conn: &'a mut AsyncPgConnection,
    export: &'a Export,
    cursor: Option<Cursor>,
) -> csv_export::Chunk<'a> {
    Box::pin(async move {
        let (rows, next) = listing::chunk::<ProgrammeRow>(
            conn,
            &SOURCE,
            &export.filters,
            &export.order,
            cursor,
            csv_export::CHUNK,
        )
        .await?;
        let programmes = assemble(conn, rows).await?;
        let ids: Vec<Uuid> = programmes
            .iter()
            .flat_map(|p| p.organisations.iter().map(|o| o.organisation_id))
            .collect();
        let names = Arc::new(lookup::organisation_names(conn, ids).await?);
        let rows = programmes
            .into_iter()
            .map(|programme| {
                let row = ProgrammeCsv {
                    programme,
                    names: names.clone(),
                    roles: export.roles.clone(),
                };
                csv_export::row(COLUMNS_CSV, &row)
            })
            .collect();
        Ok((rows, next))
    })
}

//! Reading organisations: the filtered, sorted, searchable list (JSON or CSV) and the
//! embedding of each organisation's projects.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::{get, HttpResponse};
use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{Organisation, OrganisationRow, ProjectRole};
use crate::auth::Visibility;
use crate::domain::{Lang, ProjectStatus};
use crate::resources::record::Ctx;
use crate::resources::vocabularies::{self, VocabularyName};
use crate::web::csv_export::{self, Format};
use crate::web::error::ApiResult;
use crate::web::http::{Many, Query};
use crate::web::listing::{
    self, Cursor, Filters, KeyType, Order, Paging, Search, SortField, Source, Value,
};
use crate::web::pagination::Page;

static SOURCE: Source = Source {
    table: "organisations",
    alias: "o",
    columns: &COLUMNS,
    sorts: &[
        SortField::column("name", "o.name", KeyType::Text),
        SortField::column("updated_at", "o.updated_at", KeyType::Time),
    ],
    default_sort: "id",
    id_type: "uuid",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(organisations, OrganisationRow, "o");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embed {
    Projects,
}

const EMBEDS: &[(&str, Embed)] = &[("projects", Embed::Projects)];

crate::list_params! {
    pub struct OrganisationListParams ("Page size (at most 50 with `include`).") {
        /// `projects` embeds the projects each organisation leads or partners in (id, title,
        /// status, role).
        #[param(example = "projects", pattern = "^projects$")]
        pub include: Option<String>,
        /// Deprecated: `csv` answers the export (`/v1/exports/organisations.csv`).
        #[param(ignore)]
        pub format: Option<Format>,
    }
    /// What selects and orders organisations, in the list and its export.
    pub struct OrganisationExportParams {
        /// Order: `id` (default; creation order), `name`, `updated_at`, or `relevance` (default
        /// with `q`); prefix `-` for descending.
        #[param(example = "name", pattern = "^(-?(id|name|updated_at)|relevance)$")]
        pub sort: Option<String>,
        /// Search names, short names and registration numbers; ignores case, diacritics and Latvian
        /// word endings.
        #[param(example = "ilukstes", min_length = 1, max_length = 200)]
        pub q: Option<String>,
        /// Language of the labels beside codes in the export.
        pub lang: Option<Lang>,
        /// Only organisations of these kinds (`/v1/vocabularies/organisation_kinds`).
        #[param(value_type = Option<String>, example = "municipality,ngo")]
        pub kind: Option<Many<String>>,
        /// Only organisations registered in one of these countries (ISO 3166-1 alpha-2).
        #[param(value_type = Option<String>, example = "LV", pattern = "^[A-Z]{2}(,[A-Z]{2})*$")]
        pub country: Option<Many<String>>,
        /// Only the organisation with this org-id.guide identifier (`LV-RE-40008002279`).
        #[param(example = "LV-RE-40008002279", min_length = 1, max_length = 100)]
        pub org_id: Option<String>,
        /// Only organisations changed at or after this instant.
        #[param(example = "2026-11-01T00:00:00Z")]
        pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
    }
}

async fn filters(
    conn: &mut AsyncPgConnection,
    params: &OrganisationExportParams,
) -> ApiResult<(Filters, Option<String>)> {
    vocabularies::ensure_codes(
        conn,
        VocabularyName::OrganisationKinds,
        "kind",
        &params.kind,
    )
    .await?;
    let countries = params.country.iter().flat_map(|c| &c.0);
    if countries
        .clone()
        .any(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(crate::web::error::ApiError::bad_param(
            "country",
            "invalid",
            "country is an ISO 3166-1 alpha-2 code in capitals, like LV",
        ));
    }
    let mut f = Filters::default();
    f.any_text("o.kind", &params.kind);
    f.any_text("o.country", &params.country);
    if let Some(org_id) = &params.org_id {
        let org_id = f.bind(Value::Text(org_id.clone()));
        f.and(format!("o.org_id = {org_id}"));
    }
    if let Some(since) = params.updated_since {
        let since = f.bind(Value::Time(since));
        f.and(format!("o.updated_at >= {since}"));
    }
    let relevance = Search::parse(params.q.as_deref())?.map(|s| s.apply(&mut f, "o"));
    Ok((f, relevance))
}

#[derive(QueryableByName)]
struct RoleRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    organisation_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    project_id: Uuid,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    status: ProjectStatus,
    #[diesel(sql_type = Text)]
    role: String,
}

/// Embeds each organisation's visible projects, in one query for the whole page.
async fn embed_projects(
    conn: &mut AsyncPgConnection,
    organisations: &mut [Organisation],
    visibility: Visibility,
) -> ApiResult<()> {
    let ids: Vec<Uuid> = organisations.iter().map(|o| o.id).collect();
    let mut f = Filters::default();
    let ids = f.bind(Value::Uuids(ids));
    f.visible_projects(visibility, "p");
    let where_clause = f.where_clause();
    let mut sql = f.binds_only();
    sql.push(&format!(
        "SELECT r.organisation_id, p.id AS project_id, p.title, p.status, r.role FROM ( \
           SELECT lead_organisation_id AS organisation_id, id AS project_id, 'lead' AS role \
             FROM projects WHERE lead_organisation_id = ANY({ids}) \
           UNION ALL SELECT organisation_id, project_id, role FROM project_partners \
             WHERE organisation_id = ANY({ids})) r \
         JOIN projects p ON p.id = r.project_id{} ORDER BY r.organisation_id, p.id, r.role",
        if where_clause.is_empty() {
            String::new()
        } else {
            where_clause.replacen(" WHERE ", " AND ", 1)
        }
    ));
    let rows: Vec<RoleRow> = sql.into_query().load(conn).await?;
    let mut by_org: HashMap<Uuid, Vec<ProjectRole>> = HashMap::new();
    for r in rows {
        by_org
            .entry(r.organisation_id)
            .or_default()
            .push(ProjectRole {
                project_id: r.project_id,
                title: r.title,
                status: r.status,
                role: r.role,
            });
    }
    for o in organisations.iter_mut() {
        o.projects = Some(by_org.remove(&o.id).unwrap_or_default());
    }
    Ok(())
}

/// List organisations
///
/// Filters combine with AND; keyset pagination under every sort. The whole filtered list as
/// CSV is `GET /v1/exports/organisations.csv`.
#[utoipa::path(
    tag = "organisations",
    params(OrganisationListParams),
    responses((status = 200, description = "One page of organisations", body = Page<Organisation>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/organisations")]
pub async fn list_organisations(
    ctx: Ctx,
    Query(params): Query<OrganisationListParams>,
) -> ApiResult<HttpResponse> {
    let query = OrganisationExportParams::from(&params);
    if csv_export::wanted(&ctx.req, params.format) {
        let cursor = params.cursor.clone();
        let response = export(&ctx, query, cursor.as_deref()).await?;
        return Ok(csv_export::deprecated(response, &ctx.req, EXPORT));
    }
    let Ctx { state, caller, req } = ctx;
    let embeds = listing::parse_include(params.include.as_deref(), EMBEDS)?;
    let mut conn = state.reader(&caller).await?;
    let (filters, relevance) = filters(&mut conn, &query).await?;
    let order = SOURCE.order(query.sort.as_deref(), relevance.as_deref())?;
    let paging = Paging::of(&params, &SOURCE, &order, !embeds.is_empty())?;
    let rows =
        listing::page::<OrganisationRow>(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    let mut page: Page<Organisation> = rows.map(Organisation::from);
    super::model::attach_sources(&mut conn, &mut page.data).await?;
    if embeds.contains(&Embed::Projects) {
        embed_projects(&mut conn, &mut page.data, caller.visibility()).await?;
    }
    Ok(page.respond(&req))
}

const EXPORT: &str = "/v1/exports/organisations.csv";

/// Export organisations as CSV
///
/// Every organisation the filters select, from one snapshot of the registry, one row each with
/// the kind's label beside its code.
#[utoipa::path(
    tag = "exports",
    params(OrganisationExportParams),
    responses((status = 200, description = "The organisations as CSV", body = String,
        content_type = "text/csv"))
)]
#[get("/exports/organisations.csv")]
pub async fn export_organisations(
    ctx: Ctx,
    Query(params): Query<OrganisationExportParams>,
) -> ApiResult<HttpResponse> {
    export(&ctx, params, None).await
}

async fn export(
    ctx: &Ctx,
    params: OrganisationExportParams,
    cursor: Option<&str>,
) -> ApiResult<HttpResponse> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let (filters, relevance) = filters(&mut conn, &params).await?;
    let order = SOURCE.order(params.sort.as_deref(), relevance.as_deref())?;
    let cursor = Cursor::decode(cursor, &order, SOURCE.id_type)?;
    let lang = Lang::negotiate(params.lang, &ctx.req).unwrap_or(Lang::Lv);
    let kinds = vocabularies::labels(&mut conn, VocabularyName::OrganisationKinds, lang).await?;
    let context = Export {
        kinds,
        filters,
        order,
    };
    csv_export::export(
        &mut conn,
        "organisations",
        CSV_HEADER,
        &context,
        cursor,
        chunk,
    )
    .await
}

const CSV_HEADER: &[&str] = &[
    "id",
    "name",
    "short_name",
    "kind",
    "kind_label",
    "country",
    "registration_number",
    "org_id",
    "website",
    "email",
    "phone",
    "inferred",
    "updated_at",
    "version",
];

struct Export {
    kinds: HashMap<String, String>,
    filters: Filters,
    order: Order,
}

fn chunk<'a>(
    conn: &'a mut AsyncPgConnection,
    export: &'a Export,
    cursor: Option<Cursor>,
) -> csv_export::Chunk<'a> {
    Box::pin(async move {
        let (rows, next) = listing::chunk::<OrganisationRow>(
            conn,
            &SOURCE,
            &export.filters,
            &export.order,
            cursor,
            csv_export::CHUNK,
        )
        .await?;
        let opt = |v: Option<String>| v.unwrap_or_default();
        let rows = rows
            .into_iter()
            .map(|o| {
                let kind_label = export.kinds.get(&o.kind).cloned().unwrap_or_default();
                vec![
                    o.id.to_string(),
                    o.name,
                    opt(o.short_name),
                    o.kind,
                    kind_label,
                    opt(o.country),
                    opt(o.registration_number),
                    opt(o.org_id),
                    opt(o.website),
                    opt(o.email),
                    opt(o.phone),
                    csv_export::join(&o.inferred),
                    o.updated_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    o.version.to_string(),
                ]
            })
            .collect();
        Ok((rows, next))
    })
}

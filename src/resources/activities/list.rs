//! Activities across projects: filters, search over titles and places, sort, CSV.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::{get, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::Activity;
use crate::auth::Caller;
use crate::domain::{Lang, ProjectId};
use crate::resources::lookup;
use crate::resources::record::{Ctx, Parent};
use crate::resources::vocabularies::{self, VocabularyName};
use crate::web::csv_export::{self, Format};
use crate::web::error::ApiResult;
use crate::web::http::{Many, Query};
use crate::web::listing::{
    self, Cursor, Filters, KeyType, Order, Paging, Search, SortField, Source, Value,
};
use crate::web::pagination::Page;

static SOURCE: Source = Source {
    table: "activities",
    alias: "a",
    columns: &COLUMNS,
    sorts: &[
        SortField {
            name: "start_date",
            ascending: "coalesce(a.start_date, 'infinity'::date)",
            descending: "coalesce(a.start_date, '-infinity'::date)",
            key_type: KeyType::Date,
        },
        SortField::column("updated_at", "a.updated_at", KeyType::Time),
    ],
    default_sort: "id",
    id_type: "uuid",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(activities, Activity, "a");

crate::list_params! {
    pub struct ActivityListParams ("Page size.") {
        /// Only activities of this kind.
        #[param(example = "meeting")]
        pub kind: Option<String>,
    }
}

/// List a project's activities
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path, description = "Project id"), ActivityListParams),
    responses((status = 200, description = "One page of activities", body = Page<Activity>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/projects/{id}/activities")]
pub async fn list_activities(
    ctx: Ctx,
    Query(params): Query<ActivityListParams>,
    Parent(project): Parent<ProjectId>,
) -> ApiResult<HttpResponse> {
    let order = SOURCE.order(None, None)?;
    let paging = Paging::of(&params, &SOURCE, &order, false)?;
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    ctx.caller.ensure_visible(&mut conn, project).await?;
    let mut filters = Filters::default();
    filters.equal("a.project_id", Some(Value::Uuid(project.0)));
    filters.equal("a.kind", params.kind.map(Value::Text));
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows.map(|a: Activity| a).respond(&ctx.req))
}

crate::list_params! {
    pub struct ActivitySearchParams ("Page size.") {
        /// Deprecated: `csv` answers the export (`/v1/exports/activities.csv`).
        #[param(ignore)]
        pub format: Option<Format>,
    }
    /// What selects and orders activities, in the list and its export.
    pub struct ActivityExportParams {
        /// Order: `id` (default), `start_date`, `updated_at`, or `relevance` (default with `q`);
        /// prefix `-` for descending. Unknown dates sort last.
        #[param(
            example = "-start_date",
            pattern = "^(-?(id|start_date|updated_at)|relevance)$"
        )]
        pub sort: Option<String>,
        /// Search titles, places and descriptions; ignores case, diacritics and Latvian endings.
        #[param(example = "tikšanās", min_length = 1, max_length = 200)]
        pub q: Option<String>,
        /// Language of the labels beside codes in the export.
        pub lang: Option<Lang>,
        /// Only activities of these projects (comma-separated ids).
        #[param(value_type = Option<String>)]
        pub project: Option<Many<Uuid>>,
        /// Only activities of projects one of these organisations leads or partners in.
        #[param(value_type = Option<String>)]
        pub organisation: Option<Many<Uuid>>,
        /// Only activities of these kinds (`/v1/vocabularies/activity_kinds`).
        #[param(value_type = Option<String>, example = "meeting,lecture")]
        pub kind: Option<Many<String>>,
        /// Only activities in one of these regions (codes).
        #[param(value_type = Option<String>, example = "riga")]
        pub region: Option<Many<String>>,
        /// Only activities aimed at one of these target groups (codes).
        #[param(value_type = Option<String>, example = "seniors")]
        pub target_group: Option<Many<String>>,
        /// Only activities in one of these territories, as recorded (ATVK codes, `/v1/territories`).
        #[param(value_type = Option<String>, example = "0010000", pattern = "^[0-9]{7}(,[0-9]{7})*$")]
        pub municipality: Option<Many<String>>,
        /// Only activities in a territory that is today part of the same municipality as one of
        /// these (ATVK codes): `0022000` (Augšdaugavas novads) also finds Daugavpils and Ilūkstes
        /// novads, territories until 2021.
        #[param(value_type = Option<String>, example = "0001000", pattern = "^[0-9]{7}(,[0-9]{7})*$")]
        pub municipality_today: Option<Many<String>>,
        /// Only activities taking place on this day.
        #[param(example = "2013-03-08")]
        pub active_on: Option<NaiveDate>,
        /// Only activities starting on or after this day.
        pub starts_after: Option<NaiveDate>,
        /// Only activities starting on or before this day.
        pub starts_before: Option<NaiveDate>,
        /// Only activities changed at or after this instant.
        pub updated_since: Option<DateTime<Utc>>,
    }
}

async fn filters(
    conn: &mut AsyncPgConnection,
    params: &ActivityExportParams,
    caller: &Caller,
) -> ApiResult<(Filters, Option<String>)> {
    vocabularies::ensure_codes(conn, VocabularyName::ActivityKinds, "kind", &params.kind).await?;
    vocabularies::ensure_codes(conn, VocabularyName::Regions, "region", &params.region).await?;
    vocabularies::ensure_codes(
        conn,
        VocabularyName::TargetGroups,
        "target_group",
        &params.target_group,
    )
    .await?;
    let mut f = Filters::default();
    f.visible(caller.visibility(), "a.project_id");
    f.any_id("a.project_id", &params.project);
    if let Some(orgs) = &params.organisation {
        let orgs = f.bind(Value::Uuids(orgs.values()));
        f.and(format!(
            "EXISTS (SELECT 1 FROM projects op WHERE op.id = a.project_id AND (op.lead_organisation_id = ANY({orgs}) \
             OR EXISTS (SELECT 1 FROM project_partners pp WHERE pp.project_id = op.id AND pp.organisation_id = ANY({orgs}))))"
        ));
    }
    f.any_text("a.kind", &params.kind);
    f.any_text("a.region", &params.region);
    f.overlaps("a.target_groups", &params.target_group);
    crate::resources::territories::filter(
        conn,
        &mut f,
        "a.municipalities",
        &params.municipality,
        &params.municipality_today,
    )
    .await?;
    if let Some(day) = params.active_on {
        let day = f.bind(Value::Date(day));
        f.and(format!(
            "a.start_date <= {day} AND coalesce(a.end_date, a.start_date) >= {day}"
        ));
    }
    if let Some(day) = params.starts_after {
        let day = f.bind(Value::Date(day));
        f.and(format!("a.start_date >= {day}"));
    }
    if let Some(day) = params.starts_before {
        let day = f.bind(Value::Date(day));
        f.and(format!("a.start_date <= {day}"));
    }
    if let Some(since) = params.updated_since {
        let since = f.bind(Value::Time(since));
        f.and(format!("a.updated_at >= {since}"));
    }
    let relevance = Search::parse(params.q.as_deref())?.map(|s| s.apply(&mut f, "a"));
    Ok((f, relevance))
}

/// List activities across projects
///
/// Filters combine with AND; keyset pagination under every sort. The whole filtered list as
/// CSV is `GET /v1/exports/activities.csv`.
#[utoipa::path(
    tag = "activities",
    params(ActivitySearchParams),
    responses((status = 200, description = "One page of activities", body = Page<Activity>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/activities")]
pub async fn search_activities(
    ctx: Ctx,
    Query(params): Query<ActivitySearchParams>,
) -> ApiResult<HttpResponse> {
    let query = ActivityExportParams::from(&params);
    if crate::web::geojson::wanted(&ctx.req) && params.format.is_none() {
        return geojson(&ctx, &query, params.cursor.as_deref()).await;
    }
    if csv_export::wanted(&ctx.req, params.format) {
        let response = export(&ctx, query, params.cursor.as_deref()).await?;
        return Ok(csv_export::deprecated(response, &ctx.req, EXPORT));
    }
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let (filters, relevance) = filters(&mut conn, &query, &ctx.caller).await?;
    let order = SOURCE.order(query.sort.as_deref(), relevance.as_deref())?;
    let paging = Paging::of(&params, &SOURCE, &order, false)?;
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows.map(|a: Activity| a).respond(&ctx.req))
}

const EXPORT: &str = "/v1/exports/activities.csv";

/// Export activities as GeoJSON
///
/// Every activity the filters select, from one snapshot of the registry, as an RFC 7946
/// FeatureCollection: a point feature per place (each territory in `municipalities` at its
/// representative point, each of `points` at its own), with the activity's `id`,
/// `project_id`, `title`, `kind` and `region` as properties (and `place`, `municipality`,
/// `point`). `Accept: application/geo+json` on `GET /v1/activities` answers the same.
#[utoipa::path(
    tag = "exports",
    params(ActivityExportParams),
    responses((status = 200, description = "The activities' places as a GeoJSON FeatureCollection",
        body = Object, content_type = "application/geo+json"))
)]
#[get("/exports/activities.geojson")]
pub async fn export_activities_geojson(
    ctx: Ctx,
    Query(params): Query<ActivityExportParams>,
) -> ApiResult<HttpResponse> {
    geojson(&ctx, &params, None).await
}

async fn geojson(
    ctx: &Ctx,
    params: &ActivityExportParams,
    cursor: Option<&str>,
) -> ApiResult<HttpResponse> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let (filters, relevance) = filters(&mut conn, params, &ctx.caller).await?;
    let order = SOURCE.order(params.sort.as_deref(), relevance.as_deref())?;
    let cursor = Cursor::decode(cursor, &order, SOURCE.id_type)?;
    let context = (filters, order);
    crate::web::geojson::export(&mut conn, "activities", &context, cursor, geo_chunk).await
}

fn geo_chunk<'a>(
    conn: &'a mut AsyncPgConnection,
    (filters, order): &'a (Filters, Order),
    cursor: Option<Cursor>,
) -> csv_export::ChunkOf<'a, serde_json::Value> {
    Box::pin(async move {
        let (rows, next) =
            listing::chunk::<Activity>(conn, &SOURCE, filters, order, cursor, csv_export::CHUNK)
                .await?;
        let codes = rows.iter().flat_map(|a| a.municipalities.iter().cloned());
        let points = crate::resources::territories::points(conn, codes).await?;
        let features = rows
            .iter()
            .flat_map(|a| {
                let properties = serde_json::json!({
                    "id": a.id, "project_id": a.project_id, "title": a.title,
                    "kind": a.kind, "region": a.region,
                });
                crate::resources::territories::features(
                    a.id,
                    &properties,
                    &a.municipalities,
                    &a.points,
                    &points,
                )
            })
            .collect();
        Ok((features, next))
    })
}

/// Export activities as CSV
///
/// Every activity the filters select, from one snapshot of the registry, one row each with the
/// project's title and labels beside kind, region and target group codes.
#[utoipa::path(
    tag = "exports",
    params(ActivityExportParams),
    responses((status = 200, description = "The activities as CSV", body = String,
        content_type = "text/csv"))
)]
#[get("/exports/activities.csv")]
pub async fn export_activities(
    ctx: Ctx,
    Query(params): Query<ActivityExportParams>,
) -> ApiResult<HttpResponse> {
    export(&ctx, params, None).await
}

async fn export(
    ctx: &Ctx,
    params: ActivityExportParams,
    cursor: Option<&str>,
) -> ApiResult<HttpResponse> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let (filters, relevance) = filters(&mut conn, &params, &ctx.caller).await?;
    let order = SOURCE.order(params.sort.as_deref(), relevance.as_deref())?;
    let cursor = Cursor::decode(cursor, &order, SOURCE.id_type)?;
    let lang = Lang::negotiate(params.lang, &ctx.req).unwrap_or(Lang::Lv);
    let context = Export {
        kinds: vocabularies::labels(&mut conn, VocabularyName::ActivityKinds, lang).await?,
        regions: vocabularies::labels(&mut conn, VocabularyName::Regions, lang).await?,
        target_groups: vocabularies::labels(&mut conn, VocabularyName::TargetGroups, lang).await?,
        territories: vocabularies::labels(&mut conn, VocabularyName::Territories, lang).await?,
        filters,
        order,
    };
    csv_export::export(&mut conn, "activities", CSV_HEADER, &context, cursor, chunk).await
}

const CSV_HEADER: &[&str] = &[
    "id",
    "project_id",
    "project_title",
    "title",
    "kind",
    "kind_label",
    "start_date",
    "end_date",
    "place",
    "region",
    "region_label",
    "participants",
    "target_groups",
    "target_group_labels",
    "municipalities",
    "municipality_labels",
    "updated_at",
    "version",
];

struct Export {
    kinds: HashMap<String, String>,
    regions: HashMap<String, String>,
    target_groups: HashMap<String, String>,
    territories: HashMap<String, String>,
    filters: Filters,
    order: Order,
}

fn chunk<'a>(
    conn: &'a mut AsyncPgConnection,
    export: &'a Export,
    cursor: Option<Cursor>,
) -> csv_export::Chunk<'a> {
    Box::pin(async move {
        let (rows, next) = listing::chunk::<Activity>(
            conn,
            &SOURCE,
            &export.filters,
            &export.order,
            cursor,
            csv_export::CHUNK,
        )
        .await?;
        let titles = lookup::project_titles(conn, rows.iter().map(|r| r.project_id)).await?;
        let label =
            |map: &HashMap<String, String>, code: &str| map.get(code).cloned().unwrap_or_default();
        let opt = |v: Option<String>| v.unwrap_or_default();
        let rows = rows
            .into_iter()
            .map(|a| {
                let kind_label = label(&export.kinds, &a.kind);
                let group_labels: Vec<String> = a
                    .target_groups
                    .iter()
                    .map(|g| label(&export.target_groups, g))
                    .collect();
                let territory_labels: Vec<String> = a
                    .municipalities
                    .iter()
                    .map(|c| label(&export.territories, c))
                    .collect();
                vec![
                    a.id.to_string(),
                    a.project_id.to_string(),
                    titles.get(&a.project_id).cloned().unwrap_or_default(),
                    a.title,
                    a.kind,
                    kind_label,
                    opt(a.start_date.map(|d| d.to_string())),
                    opt(a.end_date.map(|d| d.to_string())),
                    opt(a.place),
                    opt(a.region.clone()),
                    a.region
                        .as_deref()
                        .map(|r| label(&export.regions, r))
                        .unwrap_or_default(),
                    opt(a.participants.map(|n| n.to_string())),
                    csv_export::join(&a.target_groups),
                    csv_export::join(&group_labels),
                    csv_export::join(&a.municipalities),
                    csv_export::join(&territory_labels),
                    a.updated_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    a.version.to_string(),
                ]
            })
            .collect();
        Ok((rows, next))
    })
}

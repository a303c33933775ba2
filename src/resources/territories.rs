//! Latvia's administrative territories (ATVK): today's municipalities and state cities, and the
//! earlier territories sources name, each with its representative point and, when no longer in
//! force, today's territory that contains it. Projects and activities name them in
//! `municipalities`; lists filter by them (`municipality`, `municipality_today`) and stats
//! group by them.

use actix_web::{get, web, HttpResponse};
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::resources::record::Ctx;
use crate::schema::territories;
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::{self, Many, NoParams, Query};
use crate::web::listing::{Filters, Value};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_territories).service(find_territory);
}

/// An administrative territory of Latvia.
#[derive(Debug, Clone, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = territories, check_for_backend(diesel::pg::Pg))]
pub struct Territory {
    /// ATVK code (Centrālā statistikas pārvalde), 7 digits: the code the territory had while
    /// in force.
    #[schema(example = "0440801")]
    pub code: String,
    /// English name.
    #[schema(example = "Ilūkste Municipality")]
    pub label_en: String,
    /// Latvian name.
    #[schema(example = "Ilūkstes novads")]
    pub label_lv: String,
    /// Display order (today's territories first).
    #[schema(example = 60)]
    pub position: i32,
    /// `state_city`, `municipality` (novads), `republic_city` (until 2021-06-30) or `town`.
    #[schema(example = "municipality")]
    pub kind: String,
    /// Region code (`/v1/vocabularies/regions`).
    #[schema(example = "latgale")]
    pub region: String,
    /// ISO 3166-2:LV code (not unique over time: codes were reused in 2021).
    #[schema(example = "LV-036")]
    pub iso: Option<String>,
    /// Eurostat LAU code (known for the territories of Eurostat's LAU 2019 list).
    #[schema(example = "0440801")]
    pub lau: Option<String>,
    /// Longitude of the representative point (WGS 84): the administrative centre.
    #[schema(example = 26.29)]
    pub lon: f64,
    /// Latitude of the representative point (WGS 84).
    #[schema(example = 55.98)]
    pub lat: f64,
    /// First day in force (`null`: before the registry's history begins).
    #[schema(example = json!(null))]
    pub valid_from: Option<NaiveDate>,
    /// Last day in force (`null`: in force).
    #[schema(example = "2021-06-30")]
    pub valid_to: Option<NaiveDate>,
    /// For a territory no longer in force: today's territory that contains it.
    #[schema(example = "0022000")]
    pub successor: Option<String>,
}

/// Every territory the filters select.
#[derive(Debug, Serialize, ToSchema)]
pub struct TerritoryList {
    /// The territories, in display order.
    pub data: Vec<Territory>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TerritoryParams {
    /// Only territories in force today (`true`) or no longer in force (`false`).
    pub current: Option<bool>,
    /// Only territories of this kind: `state_city`, `municipality`, `republic_city`, `town`.
    #[param(
        example = "municipality",
        pattern = "^(state_city|municipality|republic_city|town)$"
    )]
    pub kind: Option<String>,
    /// Only territories in this region (code).
    #[param(example = "latgale")]
    pub region: Option<String>,
    /// Only the territories that are today part of this one: it (or its successor) and every
    /// earlier territory that today's territory took over.
    #[param(example = "0022000", pattern = "^[0-9]{7}$")]
    pub part_of: Option<String>,
}

/// List territories
///
/// Latvia's administrative territories: the 42 municipalities and state cities in force, and
/// the earlier ones (the 119 of 2009–2021, Balvu pilsēta, and those merged since 2021), each
/// with its ATVK, ISO and LAU codes, region, representative point and today's successor.
#[utoipa::path(
    tag = "territories",
    params(TerritoryParams),
    responses((status = 200, description = "The territories", body = TerritoryList))
)]
#[get("/territories")]
async fn list_territories(
    ctx: Ctx,
    Query(params): Query<TerritoryParams>,
) -> ApiResult<HttpResponse> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let mut query = territories::table
        .select(Territory::as_select())
        .into_boxed();
    if let Some(current) = params.current {
        query = match current {
            true => query.filter(territories::valid_to.is_null()),
            false => query.filter(territories::valid_to.is_not_null()),
        };
    }
    if let Some(kind) = &params.kind {
        if !["state_city", "municipality", "republic_city", "town"].contains(&kind.as_str()) {
            return Err(ApiError::bad_param(
                "kind",
                "invalid",
                "kind is one of state_city, municipality, republic_city, town",
            ));
        }
        query = query.filter(territories::kind.eq(kind.clone()));
    }
    if let Some(region) = &params.region {
        crate::resources::vocabularies::ensure_code(
            &mut conn,
            crate::resources::vocabularies::VocabularyName::Regions,
            "region",
            region,
        )
        .await?;
        query = query.filter(territories::region.eq(region.clone()));
    }
    if let Some(code) = &params.part_of {
        let today = today_territory(&mut conn, "part_of", code).await?;
        query = query.filter(
            territories::code
                .eq(today.clone())
                .or(territories::successor.eq(today)),
        );
    }
    let data: Vec<Territory> = query
        .order((territories::position, territories::code))
        .load(&mut conn)
        .await?;
    Ok(http::json_response(
        HttpResponse::Ok(),
        &TerritoryList { data },
        None,
    ))
}

/// Get a territory
#[utoipa::path(
    tag = "territories",
    params(("code" = String, Path, description = "ATVK code"), NoParams),
    responses((status = 200, description = "The territory", body = Territory))
)]
#[get("/territories/{code}")]
async fn find_territory(
    ctx: Ctx,
    code: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    let territory: Territory = territories::table
        .find(code.as_str())
        .select(Territory::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no territory with code {:?}", code.as_str())))?;
    Ok(http::json_response(HttpResponse::Ok(), &territory, None))
}

/// Today's territory of `code` (itself when in force): 400 naming `param` for an unknown code.
pub async fn today_territory(
    conn: &mut AsyncPgConnection,
    param: &str,
    code: &str,
) -> ApiResult<String> {
    let found: Option<(String, Option<String>)> = territories::table
        .find(code)
        .select((territories::code, territories::successor))
        .first(conn)
        .await
        .optional()?;
    match found {
        Some((code, successor)) => Ok(successor.unwrap_or(code)),
        None => Err(ApiError::bad_param(
            param,
            "unknown_code",
            format!("`{code}` is not a territory code (/v1/territories)"),
        )),
    }
}

/// The territory codes the two filters of a list select, or `None` without either:
/// `municipality` as given (each checked), and for `municipality_today` each code's today's
/// territory with every territory it took over. Both given: the codes both select.
pub async fn codes(
    conn: &mut AsyncPgConnection,
    municipality: &Option<Many<String>>,
    municipality_today: &Option<Many<String>>,
) -> ApiResult<Option<Vec<String>>> {
    let mut exact = None;
    if let Some(codes) = municipality {
        for code in &codes.0 {
            today_territory(conn, "municipality", code).await?;
        }
        exact = Some(codes.values());
    }
    let mut today = None;
    if let Some(codes) = municipality_today {
        let mut todays = Vec::new();
        for code in &codes.0 {
            todays.push(today_territory(conn, "municipality_today", code).await?);
        }
        let covered: Vec<String> = territories::table
            .filter(
                territories::code
                    .eq_any(todays.clone())
                    .or(territories::successor.eq_any(todays)),
            )
            .select(territories::code)
            .load(conn)
            .await?;
        today = Some(covered);
    }
    Ok(match (exact, today) {
        (Some(exact), Some(today)) => {
            Some(exact.into_iter().filter(|c| today.contains(c)).collect())
        }
        (exact, today) => exact.or(today),
    })
}

/// The two territory filters of a list over the code array `column`: `municipality` (the
/// territories exactly as recorded) and `municipality_today` (every territory that is today
/// part of the same municipality as a code given: "what ran in what is today Augšdaugavas
/// novads").
pub async fn filter(
    conn: &mut AsyncPgConnection,
    f: &mut Filters,
    column: &str,
    municipality: &Option<Many<String>>,
    municipality_today: &Option<Many<String>>,
) -> ApiResult<()> {
    if let Some(codes) = codes(conn, municipality, municipality_today).await? {
        let codes = f.bind(Value::Texts(codes));
        f.and(format!("{column} && {codes}"));
    }
    Ok(())
}

/// The representative points (and Latvian names) of territories, by code.
pub async fn points(
    conn: &mut AsyncPgConnection,
    codes: impl IntoIterator<Item = String>,
) -> ApiResult<std::collections::HashMap<String, Territory>> {
    let codes: Vec<String> = codes.into_iter().collect();
    Ok(territories::table
        .filter(territories::code.eq_any(codes))
        .select(Territory::as_select())
        .load::<Territory>(conn)
        .await?
        .into_iter()
        .map(|t| (t.code.clone(), t))
        .collect())
}

/// The features of one record's places: a point per territory (its representative point) and
/// one per place with its own point. `properties` are the record's, each feature adds `place`,
/// `municipality` (the territory code, `null` for own points) and `point` (`territory` or
/// `own`).
pub fn features(
    id: uuid::Uuid,
    properties: &serde_json::Value,
    municipalities: &[String],
    own: &crate::domain::PlacePoints,
    territories: &std::collections::HashMap<String, Territory>,
) -> Vec<serde_json::Value> {
    let with = |place: &str, municipality: Option<&str>, kind: &str| {
        let mut p = properties.clone();
        p["place"] = serde_json::json!(place);
        p["municipality"] = serde_json::json!(municipality);
        p["point"] = serde_json::json!(kind);
        p
    };
    let mut out = Vec::new();
    for code in municipalities {
        if let Some(t) = territories.get(code) {
            out.push(crate::web::geojson::point(
                format!("{id}/{code}"),
                t.lon,
                t.lat,
                with(&t.label_lv, Some(code), "territory"),
            ));
        }
    }
    for (i, p) in own.0.iter().enumerate() {
        out.push(crate::web::geojson::point(
            format!("{id}/point-{i}"),
            p.lon,
            p.lat,
            with(&p.place, None, "own"),
        ));
    }
    out
}

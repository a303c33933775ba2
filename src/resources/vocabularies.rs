//! Controlled vocabularies (target groups, regions, organisation kinds, partner roles, activity
//! kinds, units), served so clients can show labels beside codes.

use std::collections::HashMap;

use actix_web::{get, web, HttpResponse};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::domain::language::Lang;
use crate::state::AppState;
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::{self, NoParams, Query};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_vocabularies).service(find_vocabulary);
}

/// The vocabularies, each backed by a table of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VocabularyName {
    TargetGroups,
    Regions,
    OrganisationKinds,
    PartnerRoles,
    ActivityKinds,
    Units,
    ProgrammeRoles,
    Territories,
}

impl VocabularyName {
    pub const ALL: [VocabularyName; 8] = [
        VocabularyName::TargetGroups,
        VocabularyName::Regions,
        VocabularyName::OrganisationKinds,
        VocabularyName::PartnerRoles,
        VocabularyName::ActivityKinds,
        VocabularyName::Units,
        VocabularyName::ProgrammeRoles,
        VocabularyName::Territories,
    ];

    pub fn table(self) -> &'static str {
        match self {
            VocabularyName::TargetGroups => "target_groups",
            VocabularyName::Regions => "regions",
            VocabularyName::OrganisationKinds => "organisation_kinds",
            VocabularyName::PartnerRoles => "partner_roles",
            VocabularyName::ActivityKinds => "activity_kinds",
            VocabularyName::Units => "units",
            VocabularyName::ProgrammeRoles => "programme_roles",
            VocabularyName::Territories => "territories",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.table() == raw)
    }
}

/// One entry of a vocabulary.
#[derive(Debug, Clone, Serialize, ToSchema, QueryableByName)]
pub struct Term {
    /// Stable code used in records and filters.
    #[diesel(sql_type = Text)]
    #[schema(example = "seniors")]
    pub code: String,
    /// English label.
    #[diesel(sql_type = Text)]
    #[schema(example = "Seniors")]
    pub label_en: String,
    /// Latvian label.
    #[diesel(sql_type = Text)]
    #[schema(example = "Seniori")]
    pub label_lv: String,
    /// Display order.
    #[diesel(sql_type = Integer)]
    #[schema(example = 3)]
    pub position: i32,
    /// The term's codes in other classifications, so records join other datasets: `nuts3`
    /// (NUTS 2021) and `nuts3_2024` for regions, `iso_3166_2` and `lau` (Eurostat) for
    /// territories (whose own code is the ATVK code); empty elsewhere.
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    #[schema(value_type = HashMap<String, String>, example = json!({"nuts3": "LV005", "nuts3_2024": "LV005"}))]
    pub codes: serde_json::Value,
}

/// A vocabulary with all its terms, in display order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Vocabulary {
    /// Name of the vocabulary.
    pub name: VocabularyName,
    /// Every term, in display order.
    pub terms: Vec<Term>,
}

/// The names of the vocabularies.
#[derive(Debug, Serialize, ToSchema)]
pub struct VocabularyIndex {
    /// Every vocabulary name, usable in `/v1/vocabularies/{name}`.
    pub data: Vec<VocabularyName>,
}

/// List vocabulary names
#[utoipa::path(tag = "vocabularies", params(NoParams), responses((status = 200, description = "Vocabulary names", body = VocabularyIndex)))]
#[get("/vocabularies")]
async fn list_vocabularies(_: Query<NoParams>) -> HttpResponse {
    http::json_response(
        HttpResponse::Ok(),
        &VocabularyIndex {
            data: VocabularyName::ALL.to_vec(),
        },
        None,
    )
}

/// Get a vocabulary
#[utoipa::path(
    tag = "vocabularies",
    params(("name" = VocabularyName, Path, description = "Vocabulary name"), NoParams),
    responses((status = 200, description = "The vocabulary with its terms", body = Vocabulary))
)]
#[get("/vocabularies/{name}")]
async fn find_vocabulary(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let name = VocabularyName::parse(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no vocabulary named {name:?}")))?;
    let mut conn = state.reader(&caller).await?;
    let terms = terms(&mut conn, name).await?;
    Ok(http::json_response(
        HttpResponse::Ok(),
        &Vocabulary { name, terms },
        None,
    ))
}

/// Every term of a vocabulary, in display order.
pub async fn terms(conn: &mut AsyncPgConnection, name: VocabularyName) -> ApiResult<Vec<Term>> {
    // The table name comes from the closed enum above, never from the request.
    let codes = match name {
        VocabularyName::Regions => {
            "jsonb_strip_nulls(jsonb_build_object('nuts3', nuts3, 'nuts3_2024', nuts3_2024))"
        }
        VocabularyName::Territories => {
            "jsonb_strip_nulls(jsonb_build_object('iso_3166_2', iso, 'lau', lau))"
        }
        _ => "'{}'::jsonb",
    };
    Ok(diesel::sql_query(format!(
        "SELECT code, label_en, label_lv, position, {codes} AS codes FROM {} ORDER BY position, code",
        name.table()
    ))
    .load(conn)
    .await?)
}

/// Every code of a vocabulary.
pub async fn codes(
    conn: &mut AsyncPgConnection,
    name: VocabularyName,
) -> ApiResult<std::collections::HashSet<String>> {
    Ok(terms(conn, name)
        .await?
        .into_iter()
        .map(|t| t.code)
        .collect())
}

/// Labels of a vocabulary's codes in `lang` (English for languages without labels).
pub async fn labels(
    conn: &mut AsyncPgConnection,
    name: VocabularyName,
    lang: Lang,
) -> ApiResult<HashMap<String, String>> {
    Ok(terms(conn, name)
        .await?
        .into_iter()
        .map(|t| {
            let label = if lang == Lang::Lv {
                t.label_lv
            } else {
                t.label_en
            };
            (t.code, label)
        })
        .collect())
}

/// 400 naming `param` unless `code` is in the vocabulary: a filter on a code that cannot exist
/// is a mistake, not an empty result.
pub async fn ensure_code(
    conn: &mut AsyncPgConnection,
    name: VocabularyName,
    param: &str,
    code: &str,
) -> ApiResult<()> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    let found: Found = diesel::sql_query(format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE code = $1) AS found",
        name.table()
    ))
    .bind::<Text, _>(code)
    .get_result(conn)
    .await?;
    if found.found {
        Ok(())
    } else {
        Err(ApiError::bad_param(
            param,
            "unknown_code",
            format!("`{code}` is not in /v1/vocabularies/{}", name.table()),
        ))
    }
}

/// 400 naming `param` unless every one of `codes` is in the vocabulary.
pub async fn ensure_codes(
    conn: &mut AsyncPgConnection,
    name: VocabularyName,
    param: &str,
    codes: &Option<crate::web::http::Many<String>>,
) -> ApiResult<()> {
    for code in codes.iter().flat_map(|c| &c.0) {
        ensure_code(conn, name, param, code).await?;
    }
    Ok(())
}

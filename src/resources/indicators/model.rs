//! An indicator's writable fields and published form (which is also its stored row), and how
//! the write skeleton stores it. Indicators are addressed by their code.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::domain::{Aggregation, Id, IndicatorId, Relation};
use crate::resources::record::{Lock, Record, Rights};
use crate::schema::{indicators, metric_values};
use crate::validation;
use crate::web::error::{ApiError, ApiResult, FieldError};

/// The writable fields of an indicator (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = indicators, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
pub struct IndicatorInput {
    /// Stable code (lower-case letters, digits, `_`), unique.
    #[validate(custom(function = "validation::code"))]
    #[schema(
        pattern = "^[a-z][a-z0-9_]{0,63}$",
        max_length = 64,
        example = "people_trained"
    )]
    pub code: String,
    /// English name.
    #[validate(length(min = 1, max = 200), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 200, example = "People trained")]
    pub name: String,
    /// Latvian name.
    #[validate(length(min = 1, max = 200), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 200, example = "Apmācītās personas")]
    pub name_lv: Option<String>,
    /// What is counted and how.
    #[validate(length(max = 2000))]
    #[schema(
        max_length = 2000,
        example = "People who completed a training course of the project."
    )]
    pub description: Option<String>,
    /// Unit: a code from `/v1/vocabularies/units`.
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "person")]
    pub unit: String,
    /// How values combine across projects and periods.
    pub aggregation: Aggregation,
    /// The broader indicator this one counts towards (its family), if any: people trained
    /// and volunteers are people reached.
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "people_reached")]
    pub counts_towards: Option<String>,
    /// How the people it counts relate to the family's other members; default `overlapping`.
    #[serde(default = "overlapping")]
    pub relation: Relation,
}

fn overlapping() -> Relation {
    Relation::Overlapping
}

/// A catalogued kind of outcome number.
#[derive(Debug, Clone, Serialize, ToSchema, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = indicators, check_for_backend(diesel::pg::Pg))]
pub struct Indicator {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a80")]
    pub id: Uuid,
    /// Stable code.
    #[schema(example = "people_trained")]
    pub code: String,
    /// English name.
    #[schema(example = "People trained")]
    pub name: String,
    /// Latvian name.
    #[schema(example = "Apmācītās personas")]
    pub name_lv: Option<String>,
    /// What is counted and how.
    #[schema(example = "People who completed a training course of the project.")]
    pub description: Option<String>,
    /// Unit code (`/v1/vocabularies/units`).
    #[schema(example = "person")]
    pub unit: String,
    /// How values combine.
    pub aggregation: Aggregation,
    /// The broader indicator this one counts towards, if any.
    #[schema(example = "people_reached")]
    pub counts_towards: Option<String>,
    /// How the people it counts relate to the family's other members.
    pub relation: Relation,
    /// When the record was created.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub updated_at: DateTime<Utc>,
    /// 1 at creation, +1 on every change.
    #[schema(example = 1, minimum = 1)]
    pub version: i32,
}

crate::versioned!(Indicator);

impl Record for Indicator {
    const NAME: &'static str = IndicatorId::NAME;
    const RESOURCE: &'static str = "indicator";
    const RIGHTS: Rights = Rights::Registry;
    type Key = String;
    type Row = Indicator;
    type Input = IndicatorInput;
    type Parent = ();

    async fn fetch(
        conn: &mut AsyncPgConnection,
        code: &String,
        lock: Lock,
    ) -> ApiResult<Option<Indicator>> {
        if validation::code(code).is_err() {
            return Ok(None);
        }
        let query = indicators::table
            .filter(indicators::code.eq(code.clone()))
            .select(Indicator::as_select());
        crate::first_row!(query, conn, lock)
    }

    crate::table_storage!(indicators, row: Indicator, id: IndicatorId, key: custom; published);

    /// Metric values of the indicator.
    async fn references(
        conn: &mut AsyncPgConnection,
        row: &Indicator,
    ) -> ApiResult<Vec<FieldError>> {
        let used: i64 = metric_values::table
            .filter(metric_values::indicator_id.eq(row.id))
            .count()
            .get_result(conn)
            .await?;
        Ok((used > 0)
            .then(|| {
                FieldError::new(
                    "metric_values.indicator",
                    "referenced",
                    format!("{used} metric values"),
                )
            })
            .into_iter()
            .collect())
    }

    fn location(&self) -> String {
        format!("/v1/indicators/{}", self.code)
    }

    fn not_found(code: &String) -> ApiError {
        ApiError::NotFound(format!("no indicator with code {code:?}"))
    }
}

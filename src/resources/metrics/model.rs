//! A metric value's stored row, writable fields and published form, and how the write skeleton
//! stores it. Values are created through their project and name their indicator by code.

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::domain::{money, Id, MetricId, MetricKind, ProjectId, Qualifier, Verification};
use crate::resources::record::{Lock, Record, Rights, Versioned};
use crate::resources::sources::{self, Citation, Citing, SourceLink};
use crate::schema::{indicators, metric_values};
use crate::validation;
use crate::web::error::{ApiError, ApiResult};

/// Largest accepted value (keeps every value exact in a JSON number and in `numeric(20,4)`).
pub const MAX_VALUE: f64 = 1e15;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = metric_values, check_for_backend(diesel::pg::Pg))]
pub struct MetricRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub indicator_id: Uuid,
    pub activity_id: Option<Uuid>,
    pub period_start: Option<NaiveDate>,
    pub period_end: Option<NaiveDate>,
    pub target_group: Option<String>,
    pub kind: MetricKind,
    pub value: BigDecimal,
    pub note: Option<String>,
    pub qualifier: Qualifier,
    pub inferred: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub external_id: Option<String>,
    pub verification: Verification,
    pub verification_note: Option<String>,
    pub verified_by: Option<Uuid>,
    pub verified_at: Option<DateTime<Utc>>,
}

/// The writable fields of a metric value (create body; PATCH merges into it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "metric_rules", skip_on_field_errors = false))]
pub struct MetricInput {
    /// Indicator code (`/v1/indicators`).
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "people_trained")]
    pub indicator: String,
    /// The activity the number belongs to (an activity of the same project).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a83")]
    pub activity_id: Option<Uuid>,
    /// First day of the period the number covers (with `period_end`; both null when unknown).
    #[schema(example = "2013-01-01")]
    pub period_start: Option<NaiveDate>,
    /// Last day of the period (not before `period_start`).
    #[schema(example = "2014-04-30")]
    pub period_end: Option<NaiveDate>,
    /// Target group code the number is about (`/v1/vocabularies/target_groups`).
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "seniors")]
    pub target_group: Option<String>,
    /// Actual, target or baseline; default `actual`.
    #[serde(default = "default_kind")]
    pub kind: MetricKind,
    /// The number (0 to 1e15, at most 4 decimals).
    #[validate(range(min = 0.0, max = MAX_VALUE))]
    #[schema(minimum = 0, maximum = 1e15, example = 130)]
    pub value: f64,
    /// Note on how the number was obtained or qualified (e.g. "more than").
    #[validate(length(max = 2000))]
    #[schema(
        max_length = 2000,
        example = "Attended Latvian language, history and culture courses."
    )]
    pub note: Option<String>,
    /// How exact `value` is; default `exact` ("vairāk kā 1300" is `more_than` 1300).
    #[serde(default = "default_qualifier")]
    pub qualifier: Qualifier,
    /// Fields whose value was inferred rather than stated by the sources (a count of 1 read
    /// from "a programme was drafted" is `["value"]`).
    #[serde(default)]
    #[validate(length(max = 50), custom(function = "validation::field_names"))]
    #[schema(max_items = 50, example = json!([]))]
    pub inferred: Vec<String>,
    /// The sources the number rests on (replaced as a whole on PATCH).
    #[serde(default)]
    #[validate(length(max = 50), nested)]
    #[schema(max_items = 50)]
    pub sources: Vec<SourceLink>,
    /// The partner's own key for the value, unique within the project: pushing it again
    /// updates the value it names.
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100, example = "LSK-2013-trained")]
    #[serde(default)]
    pub external_id: Option<String>,
}

pub fn default_kind() -> MetricKind {
    MetricKind::Actual
}

pub fn default_qualifier() -> Qualifier {
    Qualifier::Exact
}

fn metric_rules(input: &MetricInput) -> Result<(), ValidationError> {
    validation::period(
        input.period_start.as_ref(),
        input.period_end.as_ref(),
        "period_end",
    )?;
    if input.period_start.is_some() != input.period_end.is_some() {
        let mut err = ValidationError::new("required")
            .with_message("period_start and period_end go together".into());
        err.add_param(
            "field".into(),
            &if input.period_start.is_some() {
                "period_end"
            } else {
                "period_start"
            },
        );
        return Err(err);
    }
    if !money::has_at_most_decimals(input.value, 4) {
        let mut err =
            ValidationError::new("invalid").with_message("value has at most 4 decimals".into());
        err.add_param("field".into(), &"value");
        return Err(err);
    }
    Ok(())
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = metric_values, treat_none_as_null = true)]
pub struct MetricForm {
    pub indicator_id: Uuid,
    activity_id: Option<Uuid>,
    period_start: Option<NaiveDate>,
    period_end: Option<NaiveDate>,
    target_group: Option<String>,
    kind: MetricKind,
    value: BigDecimal,
    note: Option<String>,
    qualifier: Qualifier,
    inferred: Vec<String>,
    external_id: Option<String>,
}

/// One outcome number.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricValue {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a84")]
    pub id: Uuid,
    /// The project.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub project_id: Uuid,
    /// Indicator code.
    #[schema(example = "people_trained")]
    pub indicator: String,
    /// The activity, if the number belongs to one.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a83")]
    pub activity_id: Option<Uuid>,
    /// First day of the period.
    #[schema(example = "2013-01-01")]
    pub period_start: Option<NaiveDate>,
    /// Last day of the period.
    #[schema(example = "2014-04-30")]
    pub period_end: Option<NaiveDate>,
    /// Target group code.
    #[schema(example = "seniors")]
    pub target_group: Option<String>,
    /// Actual, target or baseline.
    pub kind: MetricKind,
    /// The number.
    #[schema(example = 130)]
    pub value: f64,
    /// Note.
    #[schema(example = "Attended Latvian language, history and culture courses.")]
    pub note: Option<String>,
    /// How exact `value` is.
    pub qualifier: Qualifier,
    /// Fields whose value was inferred rather than stated by the sources.
    #[schema(example = json!([]))]
    pub inferred: Vec<String>,
    /// The sources the number rests on.
    pub sources: Vec<Citation>,
    /// When the record was created.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub updated_at: DateTime<Utc>,
    /// 1 at creation, +1 on every change.
    #[schema(example = 1, minimum = 1)]
    pub version: i32,
    /// The partner's own key for the value, unique within the project.
    #[schema(example = "LSK-2013-trained")]
    pub external_id: Option<String>,
    /// `reported` as pushed; `verified` or `queried` by the programme's administrator.
    pub verification: Verification,
    /// Why it was verified or queried.
    #[schema(example = "Matches the signed attendance lists.")]
    pub verification_note: Option<String>,
    /// The organisation that verified or queried it (null: an operator, or not yet).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub verified_by: Option<Uuid>,
    /// When it was verified or queried.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub verified_at: Option<DateTime<Utc>>,
}

impl MetricValue {
    pub fn from_parts(r: MetricRow, indicator: String) -> Self {
        MetricValue {
            id: r.id,
            project_id: r.project_id,
            indicator,
            activity_id: r.activity_id,
            period_start: r.period_start,
            period_end: r.period_end,
            target_group: r.target_group,
            kind: r.kind,
            value: money::to_f64(&r.value),
            note: r.note,
            qualifier: r.qualifier,
            inferred: r.inferred,
            sources: Vec::new(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            external_id: r.external_id,
            verification: r.verification,
            verification_note: r.verification_note,
            verified_by: r.verified_by,
            verified_at: r.verified_at,
        }
    }
}

impl MetricInput {
    pub fn from_stored(r: MetricRow, indicator: String, sources: Vec<SourceLink>) -> Self {
        MetricInput {
            indicator,
            activity_id: r.activity_id,
            period_start: r.period_start,
            period_end: r.period_end,
            target_group: r.target_group,
            kind: r.kind,
            value: money::to_f64(&r.value),
            note: r.note,
            qualifier: r.qualifier,
            inferred: r.inferred,
            sources,
            external_id: r.external_id,
        }
    }
}

/// Fills in the citations of `values`, in one query.
pub async fn attach_sources(
    conn: &mut AsyncPgConnection,
    values: &mut [MetricValue],
) -> ApiResult<()> {
    let ids: Vec<Uuid> = values.iter().map(|v| v.id).collect();
    let mut found = sources::load(conn, Citing::Metric, &ids).await?;
    for value in values.iter_mut() {
        value.sources = found.remove(&value.id).unwrap_or_default();
    }
    Ok(())
}

/// Resolves the indicator code into the stored form (422 naming `indicator` when unknown).
pub async fn form(conn: &mut AsyncPgConnection, input: &MetricInput) -> ApiResult<MetricForm> {
    let indicator_id: Uuid = indicators::table
        .filter(indicators::code.eq(&input.indicator))
        .select(indicators::id)
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| {
            ApiError::invalid(
                "indicator",
                "unknown_reference",
                format!("no indicator with code {:?}", input.indicator),
            )
        })?;
    Ok(MetricForm {
        indicator_id,
        activity_id: input.activity_id,
        period_start: input.period_start,
        period_end: input.period_end,
        target_group: input.target_group.clone(),
        kind: input.kind,
        value: money::to_decimal(input.value),
        note: input.note.clone(),
        qualifier: input.qualifier,
        inferred: input.inferred.clone(),
        external_id: input.external_id.clone(),
    })
}

/// A stored value with its indicator's code.
pub struct StoredMetric {
    pub row: MetricRow,
    pub indicator: String,
}

impl Versioned for StoredMetric {
    fn id(&self) -> Uuid {
        self.row.id
    }
    fn version(&self) -> i32 {
        self.row.version
    }
}

crate::versioned!(MetricValue);

impl Record for MetricValue {
    const NAME: &'static str = MetricId::NAME;
    const RESOURCE: &'static str = "metric";
    const RIGHTS: Rights = Rights::Metrics;
    type Key = MetricId;
    type Row = StoredMetric;
    type Input = MetricInput;
    type Parent = ProjectId;

    /// The value's row (locked alone: the indicator row is read, not locked), then its code.
    async fn fetch(
        conn: &mut AsyncPgConnection,
        id: &MetricId,
        lock: Lock,
    ) -> ApiResult<Option<StoredMetric>> {
        let query = metric_values::table
            .find(id.uuid())
            .select(MetricRow::as_select());
        let Some(row) = crate::first_row!(query, conn, lock)? else {
            return Ok(None);
        };
        let indicator: String = indicators::table
            .find(row.indicator_id)
            .select(indicators::code)
            .first(conn)
            .await?;
        Ok(Some(StoredMetric { row, indicator }))
    }

    fn project(stored: &StoredMetric) -> Option<ProjectId> {
        Some(ProjectId(stored.row.project_id))
    }

    async fn read(conn: &mut AsyncPgConnection, stored: StoredMetric) -> ApiResult<Self> {
        let mut value = MetricValue::from_parts(stored.row, stored.indicator);
        value.sources = sources::load_one(conn, Citing::Metric, value.id).await?;
        Ok(value)
    }

    async fn input(conn: &mut AsyncPgConnection, stored: &StoredMetric) -> ApiResult<MetricInput> {
        let cited = sources::load_one(conn, Citing::Metric, stored.row.id).await?;
        Ok(MetricInput::from_stored(
            stored.row.clone(),
            stored.indicator.clone(),
            cited.iter().map(SourceLink::from).collect(),
        ))
    }

    async fn insert(
        conn: &mut AsyncPgConnection,
        project: ProjectId,
        input: MetricInput,
    ) -> ApiResult<Self> {
        let form = form(conn, &input).await?;
        let row: MetricRow = diesel::insert_into(metric_values::table)
            .values((
                metric_values::id.eq(MetricId::new_v7().uuid()),
                metric_values::project_id.eq(project.uuid()),
                form,
            ))
            .returning(MetricRow::as_returning())
            .get_result(conn)
            .await?;
        sources::check(conn, "sources", &input.sources).await?;
        sources::replace(conn, Citing::Metric, row.id, &input.sources).await?;
        let mut value = MetricValue::from_parts(row, input.indicator);
        value.sources = input.sources.into_iter().map(Citation::from).collect();
        Ok(value)
    }

    async fn store(
        conn: &mut AsyncPgConnection,
        stored: &StoredMetric,
        input: MetricInput,
    ) -> ApiResult<Self> {
        let form = form(conn, &input).await?;
        let row: MetricRow = diesel::update(metric_values::table.find(stored.row.id))
            .set(form)
            .returning(MetricRow::as_returning())
            .get_result(conn)
            .await?;
        sources::check(conn, "sources", &input.sources).await?;
        sources::replace(conn, Citing::Metric, row.id, &input.sources).await?;
        let mut value = MetricValue::from_parts(row, input.indicator);
        value.sources = input.sources.into_iter().map(Citation::from).collect();
        Ok(value)
    }

    async fn remove(conn: &mut AsyncPgConnection, stored: &StoredMetric) -> ApiResult<()> {
        diesel::delete(metric_values::table.find(stored.row.id))
            .execute(conn)
            .await?;
        Ok(())
    }

    fn location(&self) -> String {
        format!("/v1/metrics/{}", self.id)
    }
}

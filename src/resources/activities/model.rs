//! An activity's writable fields and published form (which is also its stored row), and how
//! the write skeleton stores it. Activities are created through their project.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::domain::{ActivityId, Id, PlacePoint, PlacePoints, ProjectId};
use crate::resources::record::{Record, Rights};
use crate::schema::activities;
use crate::validation;

/// The writable fields of an activity (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = activities, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "activity_period", skip_on_field_errors = false))]
pub struct ActivityInput {
    /// Title in the original language.
    #[validate(length(min = 1, max = 500), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "NVO dialoga platformas pirmā tikšanās"
    )]
    pub title: String,
    /// Kind: a code from `/v1/vocabularies/activity_kinds`.
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "meeting")]
    pub kind: String,
    /// Short description.
    #[validate(length(max = 5000))]
    #[schema(
        max_length = 5000,
        example = "First meeting of NGOs working on immigrant integration."
    )]
    pub description: Option<String>,
    /// First day.
    #[schema(example = "2013-03-08")]
    pub start_date: Option<NaiveDate>,
    /// Last day (not before `start_date`).
    #[schema(example = "2013-03-08")]
    pub end_date: Option<NaiveDate>,
    /// Place, as named in the source.
    #[validate(length(min = 1, max = 300), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 300, example = "Rīga")]
    pub place: Option<String>,
    /// Region code (`/v1/vocabularies/regions`).
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "riga")]
    pub region: Option<String>,
    /// Number of participants.
    #[serde(default, deserialize_with = "crate::domain::money::optional_count")]
    #[validate(range(min = 0))]
    #[schema(minimum = 0, maximum = 2147483647, example = 487)]
    pub participants: Option<i32>,
    /// Target group codes (`/v1/vocabularies/target_groups`).
    #[serde(default)]
    #[validate(length(max = 30))]
    #[schema(max_items = 30, example = json!(["seniors", "youth"]))]
    pub target_groups: Vec<String>,
    /// Territory codes (ATVK, `/v1/territories`) of where the activity took place, as the source
    /// names the places.
    #[serde(default)]
    #[validate(length(max = 200), custom(function = "validation::territory_codes"))]
    #[schema(max_items = 200, example = json!(["0010000"]))]
    pub municipalities: Vec<String>,
    /// Places with points of their own (WGS 84).
    #[serde(default)]
    #[validate(nested, custom(function = "crate::domain::geo::points"))]
    #[schema(value_type = Vec<PlacePoint>, max_items = 100)]
    pub points: PlacePoints,
    /// Fields whose value was inferred rather than stated by the sources.
    #[serde(default)]
    #[validate(length(max = 50), custom(function = "validation::field_names"))]
    #[schema(max_items = 50, example = json!(["end_date"]))]
    pub inferred: Vec<String>,
    /// The partner's own key for the activity, unique within the project (a metric batch may
    /// name the activity by it).
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100, example = "LSK-2013-course-7")]
    #[serde(default)]
    pub external_id: Option<String>,
}

fn activity_period(input: &ActivityInput) -> Result<(), validator::ValidationError> {
    validation::period(
        input.start_date.as_ref(),
        input.end_date.as_ref(),
        "end_date",
    )
}

/// Something a project does.
#[derive(Debug, Clone, Serialize, ToSchema, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = activities, check_for_backend(diesel::pg::Pg))]
pub struct Activity {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a83")]
    pub id: Uuid,
    /// The project.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub project_id: Uuid,
    /// Title in the original language.
    #[schema(example = "NVO dialoga platformas pirmā tikšanās")]
    pub title: String,
    /// Kind code (`/v1/vocabularies/activity_kinds`).
    #[schema(example = "meeting")]
    pub kind: String,
    /// Short description.
    #[schema(example = "First meeting of NGOs working on immigrant integration.")]
    pub description: Option<String>,
    /// First day.
    #[schema(example = "2013-03-08")]
    pub start_date: Option<NaiveDate>,
    /// Last day.
    #[schema(example = "2013-03-08")]
    pub end_date: Option<NaiveDate>,
    /// Place.
    #[schema(example = "Rīga")]
    pub place: Option<String>,
    /// Region code.
    #[schema(example = "riga")]
    pub region: Option<String>,
    /// Number of participants.
    #[schema(example = 487)]
    pub participants: Option<i32>,
    /// Target group codes.
    #[schema(example = json!(["seniors", "youth"]))]
    pub target_groups: Vec<String>,
    /// Territory codes (ATVK) of where the activity took place.
    #[schema(example = json!(["0010000"]))]
    pub municipalities: Vec<String>,
    /// Places with points of their own (WGS 84).
    #[schema(value_type = Vec<PlacePoint>)]
    pub points: PlacePoints,
    /// Fields whose value was inferred rather than stated by the sources.
    #[schema(example = json!(["end_date"]))]
    pub inferred: Vec<String>,
    /// When the record was created.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub updated_at: DateTime<Utc>,
    /// 1 at creation, +1 on every change.
    #[schema(example = 1, minimum = 1)]
    pub version: i32,
    /// The partner's own key for the activity, unique within the project.
    #[schema(example = "LSK-2013-course-7")]
    pub external_id: Option<String>,
}

crate::versioned!(Activity);

impl Record for Activity {
    const NAME: &'static str = ActivityId::NAME;
    const RESOURCE: &'static str = "activity";
    const RIGHTS: Rights = Rights::Project;
    type Key = ActivityId;
    type Row = Activity;
    type Input = ActivityInput;
    type Parent = ProjectId;

    crate::table_storage!(activities, row: Activity, id: ActivityId, parent = project_id; published);

    fn project(row: &Activity) -> Option<ProjectId> {
        Some(ProjectId(row.project_id))
    }

    fn location(&self) -> String {
        format!("/v1/activities/{}", self.id)
    }
}

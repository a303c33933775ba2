//! A programme's writable fields and published form (which is also its stored row), and how
//! the write skeleton stores it.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::domain::{Id, ProgrammeId};
use crate::resources::record::{Record, Rights};
use crate::schema::{programmes, project_funding, projects};
use crate::validation;
use crate::web::error::{ApiResult, FieldError};

/// The writable fields of a programme (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = programmes, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "programme_period", skip_on_field_errors = false))]
pub struct ProgrammeInput {
    /// Name in the original language (unique, case-insensitively).
    #[validate(length(min = 1, max = 300), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 300,
        example = "Pilsoniskas sabiedrības stiprināšanas valsts programma 2008.-2012.gadam"
    )]
    pub name: String,
    /// Common short name.
    #[validate(length(min = 1, max = 100), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 100, example = "EEZ/NFI NVO fonds")]
    pub short_name: Option<String>,
    /// Official code of the programme or activity.
    #[validate(length(min = 1, max = 50), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 50, example = "1.5.2.2.2")]
    pub code: Option<String>,
    /// Short description.
    #[validate(length(max = 5000))]
    #[schema(
        max_length = 5000,
        example = "State programme strengthening civil society, 2008-2012."
    )]
    pub description: Option<String>,
    /// Organisation that funds the programme.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub funder_id: Option<Uuid>,
    /// Organisation that administers the programme.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7c")]
    pub administrator_id: Option<Uuid>,
    /// First day of the programme period.
    #[schema(example = "2008-01-01")]
    pub start_date: Option<NaiveDate>,
    /// Last day of the programme period (not before `start_date`).
    #[schema(example = "2012-12-31")]
    pub end_date: Option<NaiveDate>,
    /// Website (absolute http(s) URL).
    #[validate(length(max = 500), custom(function = "validation::web_url"))]
    #[schema(
        max_length = 500,
        pattern = r"^https?://([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(:[0-9]{1,4})?([/?#][^\s]*)?$",
        example = "https://www.sif.gov.lv"
    )]
    pub website: Option<String>,
}

fn programme_period(input: &ProgrammeInput) -> Result<(), validator::ValidationError> {
    validation::period(
        input.start_date.as_ref(),
        input.end_date.as_ref(),
        "end_date",
    )
}

/// A funding programme.
#[derive(Debug, Clone, Serialize, ToSchema, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = programmes, check_for_backend(diesel::pg::Pg))]
pub struct Programme {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7d")]
    pub id: Uuid,
    /// Name in the original language.
    #[schema(example = "Pilsoniskas sabiedrības stiprināšanas valsts programma 2008.-2012.gadam")]
    pub name: String,
    /// Common short name.
    #[schema(example = "EEZ/NFI NVO fonds")]
    pub short_name: Option<String>,
    /// Official code.
    #[schema(example = "1.5.2.2.2")]
    pub code: Option<String>,
    /// Short description.
    #[schema(example = "State programme strengthening civil society, 2008-2012.")]
    pub description: Option<String>,
    /// Funding organisation.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub funder_id: Option<Uuid>,
    /// Administering organisation.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7c")]
    pub administrator_id: Option<Uuid>,
    /// First day of the period.
    #[schema(example = "2008-01-01")]
    pub start_date: Option<NaiveDate>,
    /// Last day of the period.
    #[schema(example = "2012-12-31")]
    pub end_date: Option<NaiveDate>,
    /// Website.
    #[schema(example = "https://www.sif.gov.lv")]
    pub website: Option<String>,
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

crate::versioned!(Programme);

impl Record for Programme {
    const NAME: &'static str = ProgrammeId::NAME;
    const RIGHTS: Rights = Rights::Registry;
    type Key = ProgrammeId;
    type Row = Programme;
    type Input = ProgrammeInput;
    type Parent = ();

    crate::table_storage!(programmes, row: Programme, id: ProgrammeId; published);

    /// Projects under it and funding lines through it.
    async fn references(
        conn: &mut AsyncPgConnection,
        row: &Programme,
    ) -> ApiResult<Vec<FieldError>> {
        let projects: i64 = projects::table
            .filter(projects::programme_id.eq(row.id))
            .count()
            .get_result(conn)
            .await?;
        let funding: i64 = project_funding::table
            .filter(project_funding::programme_id.eq(row.id))
            .count()
            .get_result(conn)
            .await?;
        Ok([
            (projects, "projects.programme_id", "projects"),
            (
                funding,
                "project_funding.programme_id",
                "project funding lines",
            ),
        ]
        .into_iter()
        .filter(|(count, ..)| *count > 0)
        .map(|(count, field, what)| FieldError::new(field, "referenced", format!("{count} {what}")))
        .collect())
    }

    fn location(&self) -> String {
        format!("/v1/programmes/{}", self.id)
    }
}

//! An organisation's stored row, writable fields and published form, and how the write
//! skeleton stores it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::domain::{Id, OrganisationId, ProjectStatus};
use crate::resources::record::{Lock, Record, Rights};
use crate::resources::sources::{self, Citation, Citing, SourceLink};
use crate::schema::{
    organisations, programme_organisations, project_funding, project_partners, projects,
};
use crate::validation;
use crate::web::error::{ApiResult, FieldError};

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = organisations, check_for_backend(diesel::pg::Pg))]
pub struct OrganisationRow {
    pub id: Uuid,
    pub name: String,
    pub short_name: Option<String>,
    pub kind: String,
    pub country: Option<String>,
    pub registration_number: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub org_id: Option<String>,
    pub inferred: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The writable fields of an organisation (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = organisations, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
pub struct OrganisationInput {
    /// Official name in the original language.
    #[validate(length(min = 1, max = 300), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 300,
        example = "Latvijas Sarkanais Krusts"
    )]
    pub name: String,
    /// Common abbreviation.
    #[validate(length(min = 1, max = 100), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 100, example = "LSK")]
    pub short_name: Option<String>,
    /// Kind of organisation: a code from `/v1/vocabularies/organisation_kinds`.
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "ngo")]
    pub kind: String,
    /// ISO 3166-1 alpha-2 country code.
    #[validate(custom(function = "validation::country"))]
    #[schema(pattern = "^[A-Z]{2}$", example = "LV")]
    pub country: Option<String>,
    /// Registration number in the country's register (unique per country).
    #[validate(length(min = 1, max = 50), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 50, example = "40008002279")]
    pub registration_number: Option<String>,
    /// Website (absolute http(s) URL).
    #[validate(length(max = 500), custom(function = "validation::web_url"))]
    #[schema(
        max_length = 500,
        pattern = r"^https?://([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(:[0-9]{1,4})?([/?#][^\s]*)?$",
        example = "https://www.redcross.lv"
    )]
    pub website: Option<String>,
    /// Public contact email of the organisation.
    #[validate(length(max = 254), email)]
    #[schema(max_length = 254, format = Email, example = "info@redcross.lv")]
    pub email: Option<String>,
    /// Public phone number.
    #[validate(length(max = 50), custom(function = "validation::phone"))]
    #[schema(
        max_length = 50,
        pattern = "^[ +().-]*([0-9][ +().-]*){5,}$",
        example = "+371 67336650"
    )]
    pub phone: Option<String>,
    /// Short description.
    #[validate(length(max = 5000))]
    #[schema(
        max_length = 5000,
        example = "Latvian Red Cross, the national humanitarian society."
    )]
    pub description: Option<String>,
    /// Fields whose value was inferred rather than stated by the sources (`name`: a
    /// descriptive name where the source gives none).
    #[serde(default)]
    #[validate(length(max = 50), custom(function = "validation::field_names"))]
    #[schema(max_items = 50, example = json!(["name"]))]
    pub inferred: Vec<String>,
    /// The sources the organisation's facts rest on (replaced as a whole on PATCH).
    #[serde(default)]
    #[validate(length(max = 50), nested)]
    #[schema(max_items = 50)]
    #[diesel(skip_insertion, skip_update)]
    pub sources: Vec<SourceLink>,
}

/// An organisation as the registry stores it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organisation {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub id: Uuid,
    #[schema(example = "Latvijas Sarkanais Krusts")]
    /// Official name in the original language.
    pub name: String,
    /// Common abbreviation.
    #[schema(example = "LSK")]
    pub short_name: Option<String>,
    /// Code from `/v1/vocabularies/organisation_kinds`.
    #[schema(example = "ngo")]
    pub kind: String,
    /// ISO 3166-1 alpha-2 country code.
    #[schema(example = "LV")]
    pub country: Option<String>,
    /// Registration number in the country's register.
    #[schema(example = "40008002279")]
    pub registration_number: Option<String>,
    /// Website.
    #[schema(example = "https://www.redcross.lv")]
    pub website: Option<String>,
    /// Public contact email.
    #[schema(format = Email, example = "info@redcross.lv")]
    pub email: Option<String>,
    /// Public phone number.
    #[schema(example = "+371 67336650")]
    pub phone: Option<String>,
    /// Short description.
    #[schema(example = "Latvian Red Cross, the national humanitarian society.")]
    pub description: Option<String>,
    /// The org-id.guide identifier (as IATI and 360Giving publish them), derived from the
    /// country and registration number where the register that gave the number is known:
    /// `LV-RE-<number>` (Latvia's Uzņēmumu reģistrs: 11-digit numbers starting with 4 or 5),
    /// `NO-BRC-<number>` (Norway's Brønnøysundregistrene: 9 digits); otherwise `null`.
    #[schema(example = "LV-RE-40008002279")]
    pub org_id: Option<String>,
    /// Fields whose value was inferred rather than stated by the sources.
    #[schema(example = json!([]))]
    pub inferred: Vec<String>,
    /// The sources the organisation's facts rest on.
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
    /// Projects the organisation leads or partners in (with `include=projects` on the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub projects: Option<Vec<ProjectRole>>,
}

/// An organisation's part in one project, as embedded in the organisation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectRole {
    /// The project.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub project_id: Uuid,
    /// The project's title (original language).
    #[schema(example = "Mēs kopā dzīvojam mūsu valstī")]
    pub title: String,
    /// The project's status.
    pub status: ProjectStatus,
    /// `lead`, or the partner role code (`/v1/vocabularies/partner_roles`).
    #[schema(example = "lead")]
    pub role: String,
}

impl From<OrganisationRow> for Organisation {
    fn from(r: OrganisationRow) -> Self {
        Organisation {
            id: r.id,
            name: r.name,
            short_name: r.short_name,
            kind: r.kind,
            country: r.country,
            registration_number: r.registration_number,
            website: r.website,
            email: r.email,
            phone: r.phone,
            description: r.description,
            org_id: r.org_id,
            inferred: r.inferred,
            sources: Vec::new(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            projects: None,
        }
    }
}

impl OrganisationInput {
    /// The stored organisation in its writable form.
    pub fn from_stored(r: &OrganisationRow, sources: Vec<SourceLink>) -> Self {
        let r = r.clone();
        OrganisationInput {
            name: r.name,
            short_name: r.short_name,
            kind: r.kind,
            country: r.country,
            registration_number: r.registration_number,
            website: r.website,
            email: r.email,
            phone: r.phone,
            description: r.description,
            inferred: r.inferred,
            sources,
        }
    }
}

/// Fills in the citations of `organisations`, in one query.
pub async fn attach_sources(
    conn: &mut AsyncPgConnection,
    organisations: &mut [Organisation],
) -> ApiResult<()> {
    let ids: Vec<Uuid> = organisations.iter().map(|o| o.id).collect();
    let mut found = sources::load(conn, Citing::Organisation, &ids).await?;
    for o in organisations.iter_mut() {
        o.sources = found.remove(&o.id).unwrap_or_default();
    }
    Ok(())
}

/// Stores an organisation's citations and answers with the record.
async fn finish(
    conn: &mut AsyncPgConnection,
    row: OrganisationRow,
    links: Vec<SourceLink>,
) -> ApiResult<Organisation> {
    sources::check(conn, "sources", &links).await?;
    sources::replace(conn, Citing::Organisation, row.id, &links).await?;
    let mut organisation = Organisation::from(row);
    organisation.sources = links.into_iter().map(Citation::from).collect();
    Ok(organisation)
}

crate::versioned!(OrganisationRow, Organisation);

impl Record for Organisation {
    const NAME: &'static str = OrganisationId::NAME;
    const RESOURCE: &'static str = "organisation";
    const RIGHTS: Rights = Rights::Registry;
    type Key = OrganisationId;
    type Row = OrganisationRow;
    type Input = OrganisationInput;
    type Parent = ();

    async fn fetch(
        conn: &mut AsyncPgConnection,
        id: &OrganisationId,
        lock: Lock,
    ) -> ApiResult<Option<OrganisationRow>> {
        let query = organisations::table
            .find(id.uuid())
            .select(OrganisationRow::as_select());
        crate::first_row!(query, conn, lock)
    }

    async fn read(conn: &mut AsyncPgConnection, row: OrganisationRow) -> ApiResult<Self> {
        let mut organisation = Organisation::from(row);
        organisation.sources =
            sources::load_one(conn, Citing::Organisation, organisation.id).await?;
        Ok(organisation)
    }

    async fn input(
        conn: &mut AsyncPgConnection,
        row: &OrganisationRow,
    ) -> ApiResult<OrganisationInput> {
        let cited = sources::load_one(conn, Citing::Organisation, row.id).await?;
        Ok(OrganisationInput::from_stored(
            row,
            cited.iter().map(SourceLink::from).collect(),
        ))
    }

    async fn insert(
        conn: &mut AsyncPgConnection,
        _: (),
        input: OrganisationInput,
    ) -> ApiResult<Self> {
        let row: OrganisationRow = diesel::insert_into(organisations::table)
            .values((
                organisations::id.eq(OrganisationId::new_v7().uuid()),
                &input,
            ))
            .returning(OrganisationRow::as_returning())
            .get_result(conn)
            .await?;
        finish(conn, row, input.sources).await
    }

    async fn store(
        conn: &mut AsyncPgConnection,
        row: &OrganisationRow,
        input: OrganisationInput,
    ) -> ApiResult<Self> {
        let row: OrganisationRow = diesel::update(organisations::table.find(row.id))
            .set(&input)
            .returning(OrganisationRow::as_returning())
            .get_result(conn)
            .await?;
        finish(conn, row, input.sources).await
    }

    async fn remove(conn: &mut AsyncPgConnection, row: &OrganisationRow) -> ApiResult<()> {
        diesel::delete(organisations::table.find(row.id))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Projects it leads, partnerships, programmes it funds or administers, funding lines.
    async fn references(
        conn: &mut AsyncPgConnection,
        row: &OrganisationRow,
    ) -> ApiResult<Vec<FieldError>> {
        let id = row.id;
        let led: i64 = projects::table
            .filter(projects::lead_organisation_id.eq(id))
            .count()
            .get_result(conn)
            .await?;
        let partner: i64 = project_partners::table
            .filter(project_partners::organisation_id.eq(id))
            .count()
            .get_result(conn)
            .await?;
        let funded: i64 = programme_organisations::table
            .filter(programme_organisations::organisation_id.eq(id))
            .count()
            .get_result(conn)
            .await?;
        let funding: i64 = project_funding::table
            .filter(project_funding::funder_id.eq(id))
            .count()
            .get_result(conn)
            .await?;
        let mut out = Vec::new();
        for (count, field, what) in [
            (led, "projects.lead_organisation_id", "projects it leads"),
            (
                partner,
                "project_partners.organisation_id",
                "project partnerships",
            ),
            (
                funded,
                "programme_organisations.organisation_id",
                "roles in programmes",
            ),
            (
                funding,
                "project_funding.funder_id",
                "project funding lines",
            ),
        ] {
            if count > 0 {
                out.push(FieldError::new(
                    field,
                    "referenced",
                    format!("{count} {what}"),
                ));
            }
        }
        Ok(out)
    }

    fn location(&self) -> String {
        format!("/v1/organisations/{}", self.id)
    }
}

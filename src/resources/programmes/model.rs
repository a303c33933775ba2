//! A programme's stored row, writable fields (with its organisations and sources) and published
//! form, and how the write skeleton stores it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::domain::{Id, ProgrammeId, ProjectStatus};
use crate::resources::organisations::Organisation;
use crate::resources::record::{Lock, Record, Rights};
use crate::resources::sources::{self, Citation, Citing, SourceLink};
use crate::resources::vocabularies::{self, VocabularyName};
use crate::schema::{programme_organisations, programmes, project_funding, projects};
use crate::validation;
use crate::web::error::{ApiError, ApiResult, FieldError};

/// A programme as stored.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = programmes, check_for_backend(diesel::pg::Pg))]
pub struct ProgrammeRow {
    pub id: Uuid,
    pub name: String,
    pub short_name: Option<String>,
    pub code: Option<String>,
    pub description: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub website: Option<String>,
    pub inferred: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

crate::versioned!(ProgrammeRow);

/// One organisation's part in a programme, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeOrganisation {
    /// The organisation.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7c")]
    pub organisation_id: Uuid,
    /// Its role: a code from `/v1/vocabularies/programme_roles` (`funder`, `administrator`,
    /// `co_administrator`, `programme_operator`, `managing_authority`, `intermediate_body`,
    /// `co_financier`).
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "co_administrator")]
    pub role: String,
    /// What it does in the programme.
    #[validate(length(max = 2000))]
    #[schema(
        max_length = 2000,
        example = "Administers the sub-activity together with the State Chancellery."
    )]
    pub description: Option<String>,
}

/// One organisation's part in a programme, as read; with `include=organisations`, the
/// organisation itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgrammeBody {
    /// The organisation.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7c")]
    pub organisation_id: Uuid,
    /// Its role (`/v1/vocabularies/programme_roles`).
    #[schema(example = "co_administrator")]
    pub role: String,
    /// What it does in the programme.
    #[schema(example = "Administers the sub-activity together with the State Chancellery.")]
    pub description: Option<String>,
    /// The organisation (with `include=organisations`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organisation: Option<Organisation>,
}

impl From<ProgrammeOrganisation> for ProgrammeBody {
    fn from(o: ProgrammeOrganisation) -> Self {
        ProgrammeBody {
            organisation_id: o.organisation_id,
            role: o.role,
            description: o.description,
            organisation: None,
        }
    }
}

/// The writable fields of a programme (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = programmes, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "programme_rules", skip_on_field_errors = false))]
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
    /// Fields whose value was inferred rather than stated by the sources (`name`: a
    /// descriptive name where the source gives no official one).
    #[serde(default)]
    #[validate(length(max = 50), custom(function = "validation::field_names"))]
    #[schema(max_items = 50, example = json!(["name"]))]
    pub inferred: Vec<String>,
    /// The organisations of the programme, each with its role, in order (replaced as a whole
    /// on PATCH; an organisation holds a role once).
    #[serde(default)]
    #[validate(length(max = 50), nested)]
    #[schema(max_items = 50)]
    #[diesel(skip_insertion, skip_update)]
    pub organisations: Vec<ProgrammeOrganisation>,
    /// The sources the programme's facts rest on (replaced as a whole on PATCH).
    #[serde(default)]
    #[validate(length(max = 50), nested)]
    #[schema(max_items = 50)]
    #[diesel(skip_insertion, skip_update)]
    pub sources: Vec<SourceLink>,
}

fn programme_rules(input: &ProgrammeInput) -> Result<(), validator::ValidationError> {
    validation::period(
        input.start_date.as_ref(),
        input.end_date.as_ref(),
        "end_date",
    )?;
    let mut seen = std::collections::HashSet::new();
    if input
        .organisations
        .iter()
        .any(|o| !seen.insert((o.organisation_id, o.role.as_str())))
    {
        let mut err = validator::ValidationError::new("duplicate")
            .with_message("an organisation holds a role in a programme once".into());
        err.add_param("field".into(), &"organisations");
        return Err(err);
    }
    Ok(())
}

/// A funding programme or instrument, with every organisation that funds, administers or
/// otherwise runs it.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// Deprecated: the first organisation in `organisations` with the role `funder`.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub funder_id: Option<Uuid>,
    /// Deprecated: the first organisation in `organisations` with the role `administrator`.
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
    /// Fields whose value was inferred rather than stated by the sources.
    #[schema(example = json!(["name"]))]
    pub inferred: Vec<String>,
    /// The organisations of the programme with their roles (with `include=organisations`,
    /// each with its organisation).
    pub organisations: Vec<ProgrammeBody>,
    /// The sources the programme's facts rest on (with `include=sources`, each with its
    /// source).
    pub sources: Vec<Citation>,
    /// The programme's projects, as main programme or through a funding line (with
    /// `include=projects`; drafts only for keys that may read them).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub projects: Option<Vec<ProgrammeProject>>,
    /// When the record was created.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub created_at: DateTime<Utc>,
    /// When the record (or its organisations or sources) last changed.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub updated_at: DateTime<Utc>,
    /// 1 at creation, +1 on every change.
    #[schema(example = 1, minimum = 1)]
    pub version: i32,
}

/// A project of a programme, as embedded in the programme.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgrammeProject {
    /// The project.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub project_id: Uuid,
    /// Its title (original language).
    #[schema(example = "Koalīcija mazākumtautību politiskai līdzdalībai valsts sektorā")]
    pub title: String,
    /// Its status.
    pub status: ProjectStatus,
    /// Its reference number.
    #[schema(example = "1DP/1.5.2.2.2/12/APIA/SIF/176")]
    pub reference: Option<String>,
}

crate::versioned!(Programme);

impl Programme {
    pub fn from_parts(
        r: ProgrammeRow,
        organisations: Vec<ProgrammeBody>,
        sources: Vec<Citation>,
    ) -> Self {
        let first = |role: &str| {
            organisations
                .iter()
                .find(|o| o.role == role)
                .map(|o| o.organisation_id)
        };
        Programme {
            funder_id: first("funder"),
            administrator_id: first("administrator"),
            id: r.id,
            name: r.name,
            short_name: r.short_name,
            code: r.code,
            description: r.description,
            start_date: r.start_date,
            end_date: r.end_date,
            website: r.website,
            inferred: r.inferred,
            organisations,
            sources,
            projects: None,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = programme_organisations, check_for_backend(diesel::pg::Pg))]
struct BodyRow {
    programme_id: Uuid,
    organisation_id: Uuid,
    role: String,
    description: Option<String>,
}

/// The organisations of several programmes, in one query, in their stored order.
pub async fn load_bodies(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, Vec<ProgrammeBody>>> {
    let rows: Vec<BodyRow> = programme_organisations::table
        .filter(programme_organisations::programme_id.eq_any(ids))
        .order((
            programme_organisations::programme_id,
            programme_organisations::position,
        ))
        .select(BodyRow::as_select())
        .load(conn)
        .await?;
    let mut out: HashMap<Uuid, Vec<ProgrammeBody>> = HashMap::new();
    for r in rows {
        out.entry(r.programme_id).or_default().push(ProgrammeBody {
            organisation_id: r.organisation_id,
            role: r.role,
            description: r.description,
            organisation: None,
        });
    }
    Ok(out)
}

/// Programme rows into records, with their organisations and sources (two queries).
pub async fn assemble(
    conn: &mut AsyncPgConnection,
    rows: Vec<ProgrammeRow>,
) -> ApiResult<Vec<Programme>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut bodies = load_bodies(conn, &ids).await?;
    let mut cited = sources::load(conn, Citing::Programme, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let id = r.id;
            Programme::from_parts(
                r,
                bodies.remove(&id).unwrap_or_default(),
                cited.remove(&id).unwrap_or_default(),
            )
        })
        .collect())
}

async fn replace_bodies(
    conn: &mut AsyncPgConnection,
    programme: Uuid,
    bodies: &[ProgrammeOrganisation],
) -> ApiResult<()> {
    diesel::delete(
        programme_organisations::table.filter(programme_organisations::programme_id.eq(programme)),
    )
    .execute(conn)
    .await?;
    let rows: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(position, b)| {
            (
                programme_organisations::id.eq(Uuid::now_v7()),
                programme_organisations::programme_id.eq(programme),
                programme_organisations::position.eq(position as i32),
                programme_organisations::organisation_id.eq(b.organisation_id),
                programme_organisations::role.eq(b.role.clone()),
                programme_organisations::description.eq(b.description.clone()),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(programme_organisations::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Stores the parts of a programme that live in other tables, and the record as answered.
async fn finish(
    conn: &mut AsyncPgConnection,
    row: ProgrammeRow,
    input: ProgrammeInput,
) -> ApiResult<Programme> {
    let roles = vocabularies::codes(conn, VocabularyName::ProgrammeRoles).await?;
    if let Some((i, body)) = input
        .organisations
        .iter()
        .enumerate()
        .find(|(_, b)| !roles.contains(&b.role))
    {
        return Err(ApiError::invalid(
            format!("organisations[{i}].role"),
            "unknown_code",
            format!("`{}` is not in /v1/vocabularies/programme_roles", body.role),
        ));
    }
    replace_bodies(conn, row.id, &input.organisations).await?;
    sources::check(conn, "sources", &input.sources).await?;
    sources::replace(conn, Citing::Programme, row.id, &input.sources).await?;
    Ok(Programme::from_parts(
        row,
        input
            .organisations
            .into_iter()
            .map(ProgrammeBody::from)
            .collect(),
        input.sources.into_iter().map(Citation::from).collect(),
    ))
}

impl Record for Programme {
    const NAME: &'static str = ProgrammeId::NAME;
    const RESOURCE: &'static str = "programme";
    const RIGHTS: Rights = Rights::Registry;
    type Key = ProgrammeId;
    type Row = ProgrammeRow;
    type Input = ProgrammeInput;
    type Parent = ();

    async fn fetch(
        conn: &mut AsyncPgConnection,
        id: &ProgrammeId,
        lock: Lock,
    ) -> ApiResult<Option<ProgrammeRow>> {
        let query = programmes::table
            .find(id.uuid())
            .select(ProgrammeRow::as_select());
        crate::first_row!(query, conn, lock)
    }

    async fn read(conn: &mut AsyncPgConnection, row: ProgrammeRow) -> ApiResult<Self> {
        Ok(assemble(conn, vec![row]).await?.remove(0))
    }

    async fn input(conn: &mut AsyncPgConnection, row: &ProgrammeRow) -> ApiResult<ProgrammeInput> {
        let programme = assemble(conn, vec![row.clone()]).await?.remove(0);
        Ok(ProgrammeInput {
            name: programme.name,
            short_name: programme.short_name,
            code: programme.code,
            description: programme.description,
            start_date: programme.start_date,
            end_date: programme.end_date,
            website: programme.website,
            inferred: programme.inferred,
            organisations: programme
                .organisations
                .into_iter()
                .map(|b| ProgrammeOrganisation {
                    organisation_id: b.organisation_id,
                    role: b.role,
                    description: b.description,
                })
                .collect(),
            sources: programme.sources.iter().map(SourceLink::from).collect(),
        })
    }

    async fn insert(conn: &mut AsyncPgConnection, _: (), input: ProgrammeInput) -> ApiResult<Self> {
        let row: ProgrammeRow = diesel::insert_into(programmes::table)
            .values((programmes::id.eq(ProgrammeId::new_v7().uuid()), &input))
            .returning(ProgrammeRow::as_returning())
            .get_result(conn)
            .await?;
        finish(conn, row, input).await
    }

    async fn store(
        conn: &mut AsyncPgConnection,
        row: &ProgrammeRow,
        input: ProgrammeInput,
    ) -> ApiResult<Self> {
        let row: ProgrammeRow = diesel::update(programmes::table.find(row.id))
            .set(&input)
            .returning(ProgrammeRow::as_returning())
            .get_result(conn)
            .await?;
        finish(conn, row, input).await
    }

    async fn remove(conn: &mut AsyncPgConnection, row: &ProgrammeRow) -> ApiResult<()> {
        diesel::delete(programmes::table.find(row.id))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Projects under it and funding lines through it.
    async fn references(
        conn: &mut AsyncPgConnection,
        row: &ProgrammeRow,
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

//! A source's writable fields and published form (also its stored row), how the write skeleton
//! stores it, and the citations that tie records to sources.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::domain::{Id, SourceId};
use crate::resources::record::{Record, Rights};
use crate::schema::{source_links, sources};
use crate::validation;
use crate::web::error::{ApiResult, FieldError};

/// The writable fields of a source (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = sources, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    /// Title of the page or document.
    #[validate(length(min = 1, max = 500), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "Projekts \"Mēs kopā dzīvojam mūsu valstī\""
    )]
    pub title: String,
    /// Who published it.
    #[validate(length(min = 1, max = 300), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 300,
        example = "Latvijas Sarkanais Krusts"
    )]
    pub publisher: Option<String>,
    /// Where it is (absolute http(s) URL), when known; unique.
    #[validate(length(max = 1000), custom(function = "validation::web_url"))]
    #[schema(
        max_length = 1000,
        pattern = r"^https?://([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(:[0-9]{1,4})?([/?#][^\s]*)?$",
        example = "https://www.redcross.lv/darbibas-jomas/projekti/projekts-mes-kopa-dzivojam-musu-valsti/"
    )]
    pub url: Option<String>,
    /// The day it was published.
    #[schema(example = "2007-11-27")]
    pub published_on: Option<NaiveDate>,
    /// The day its content was retrieved.
    #[schema(example = "2026-11-30")]
    pub retrieved_on: Option<NaiveDate>,
    /// Its language (ISO 639 code).
    #[validate(length(min = 2, max = 3), custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z]{2,3}$", example = "lv")]
    pub language: Option<String>,
    /// The terms texts quoted from it come under (the registry's own data is CC BY 4.0; quoted
    /// texts keep their source's terms).
    #[validate(length(max = 2000))]
    #[schema(
        max_length = 2000,
        example = "© Latvijas Sarkanais Krusts; quoted as permitted for quotation."
    )]
    pub terms: Option<String>,
    /// What it is and what it gives.
    #[validate(length(max = 5000))]
    #[schema(
        max_length = 5000,
        example = "The project's page on the Latvian Red Cross website."
    )]
    pub description: Option<String>,
    /// Fields inferred rather than stated (here: by whoever catalogued the source, such as a
    /// publication date read from the page's context).
    #[serde(default)]
    #[validate(length(max = 50), custom(function = "validation::field_names"))]
    #[schema(max_items = 50, example = json!(["published_on"]))]
    pub inferred: Vec<String>,
}

/// A source: a page or document that records rest on.
#[derive(Debug, Clone, Serialize, ToSchema, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = sources, check_for_backend(diesel::pg::Pg))]
pub struct Source {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a90")]
    pub id: Uuid,
    /// Title.
    #[schema(example = "Projekts \"Mēs kopā dzīvojam mūsu valstī\"")]
    pub title: String,
    /// Publisher.
    #[schema(example = "Latvijas Sarkanais Krusts")]
    pub publisher: Option<String>,
    /// URL, when known.
    #[schema(
        example = "https://www.redcross.lv/darbibas-jomas/projekti/projekts-mes-kopa-dzivojam-musu-valsti/"
    )]
    pub url: Option<String>,
    /// Day published.
    #[schema(example = "2007-11-27")]
    pub published_on: Option<NaiveDate>,
    /// Day retrieved.
    #[schema(example = "2026-11-30")]
    pub retrieved_on: Option<NaiveDate>,
    /// Language (ISO 639).
    #[schema(example = "lv")]
    pub language: Option<String>,
    /// The terms texts quoted from it come under.
    #[schema(example = "© Latvijas Sarkanais Krusts; quoted as permitted for quotation.")]
    pub terms: Option<String>,
    /// What it is and what it gives.
    #[schema(example = "The project's page on the Latvian Red Cross website.")]
    pub description: Option<String>,
    /// Fields inferred rather than stated.
    #[schema(example = json!([]))]
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
}

crate::versioned!(Source);

impl Record for Source {
    const NAME: &'static str = SourceId::NAME;
    const RESOURCE: &'static str = "source";
    const RIGHTS: Rights = Rights::Registry;
    type Key = SourceId;
    type Row = Source;
    type Input = SourceInput;
    type Parent = ();

    crate::table_storage!(sources, row: Source, id: SourceId; published);

    /// The records that cite it.
    async fn references(conn: &mut AsyncPgConnection, row: &Source) -> ApiResult<Vec<FieldError>> {
        let cited: i64 = source_links::table
            .filter(source_links::source_id.eq(row.id))
            .count()
            .get_result(conn)
            .await?;
        Ok((cited > 0)
            .then(|| {
                FieldError::new(
                    "source_links.source_id",
                    "referenced",
                    format!("{cited} citations"),
                )
            })
            .into_iter()
            .collect())
    }

    fn location(&self) -> String {
        format!("/v1/sources/{}", self.id)
    }
}

/// A record's citation of a source, as written: which source, which of the record's fields it
/// gives (none listed: the record as a whole), and a note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceLink {
    /// The source (`/v1/sources`).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a90")]
    pub source_id: Uuid,
    /// The fields this source gives (empty: the record as a whole).
    #[serde(default)]
    #[validate(length(max = 50), custom(function = "validation::field_names"))]
    #[schema(max_items = 50, example = json!(["start_date", "end_date"]))]
    pub fields: Vec<String>,
    /// How the source supports them.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000, example = "The English page gives the period.")]
    pub note: Option<String>,
}

/// A record's citation of a source, as read; with `include=sources`, the source itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Citation {
    /// The source.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a90")]
    pub source_id: Uuid,
    /// The fields this source gives (empty: the record as a whole).
    #[schema(example = json!(["start_date", "end_date"]))]
    pub fields: Vec<String>,
    /// How the source supports them.
    #[schema(example = "The English page gives the period.")]
    pub note: Option<String>,
    /// The source (with `include=sources`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub source: Option<Source>,
}

impl From<SourceLink> for Citation {
    fn from(l: SourceLink) -> Self {
        Citation {
            source_id: l.source_id,
            fields: l.fields,
            note: l.note,
            source: None,
        }
    }
}

impl From<&Citation> for SourceLink {
    fn from(c: &Citation) -> Self {
        SourceLink {
            source_id: c.source_id,
            fields: c.fields.clone(),
            note: c.note.clone(),
        }
    }
}

/// The kinds of record that cite sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Citing {
    Project,
    Programme,
    Organisation,
    Metric,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = source_links, check_for_backend(diesel::pg::Pg))]
struct LinkRow {
    source_id: Uuid,
    project_id: Option<Uuid>,
    programme_id: Option<Uuid>,
    organisation_id: Option<Uuid>,
    metric_value_id: Option<Uuid>,
    fields: Vec<String>,
    note: Option<String>,
}

impl LinkRow {
    fn owner(&self, kind: Citing) -> Option<Uuid> {
        match kind {
            Citing::Project => self.project_id,
            Citing::Programme => self.programme_id,
            Citing::Organisation => self.organisation_id,
            Citing::Metric => self.metric_value_id,
        }
    }
}

/// The citations of several records of one kind, in one query, in their stored order.
pub async fn load(
    conn: &mut AsyncPgConnection,
    kind: Citing,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, Vec<Citation>>> {
    let query = source_links::table.into_boxed();
    let query = match kind {
        Citing::Project => query.filter(source_links::project_id.eq_any(ids)),
        Citing::Programme => query.filter(source_links::programme_id.eq_any(ids)),
        Citing::Organisation => query.filter(source_links::organisation_id.eq_any(ids)),
        Citing::Metric => query.filter(source_links::metric_value_id.eq_any(ids)),
    };
    let rows: Vec<LinkRow> = query
        .order(source_links::position)
        .select(LinkRow::as_select())
        .load(conn)
        .await?;
    let mut out: HashMap<Uuid, Vec<Citation>> = HashMap::new();
    for row in rows {
        if let Some(owner) = row.owner(kind) {
            out.entry(owner).or_default().push(Citation {
                source_id: row.source_id,
                fields: row.fields,
                note: row.note,
                source: None,
            });
        }
    }
    Ok(out)
}

/// The citations of one record.
pub async fn load_one(
    conn: &mut AsyncPgConnection,
    kind: Citing,
    id: Uuid,
) -> ApiResult<Vec<Citation>> {
    Ok(load(conn, kind, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default())
}

/// Replaces a record's citations with `links`, in order (an unknown source is a 422 naming
/// `sources`).
pub async fn replace(
    conn: &mut AsyncPgConnection,
    kind: Citing,
    id: Uuid,
    links: &[SourceLink],
) -> ApiResult<()> {
    let delete = diesel::delete(source_links::table);
    match kind {
        Citing::Project => {
            delete
                .filter(source_links::project_id.eq(id))
                .execute(conn)
                .await?
        }
        Citing::Programme => {
            delete
                .filter(source_links::programme_id.eq(id))
                .execute(conn)
                .await?
        }
        Citing::Organisation => {
            delete
                .filter(source_links::organisation_id.eq(id))
                .execute(conn)
                .await?
        }
        Citing::Metric => {
            delete
                .filter(source_links::metric_value_id.eq(id))
                .execute(conn)
                .await?
        }
    };
    let owner = |k: Citing| (k == kind).then_some(id);
    let rows: Vec<_> = links
        .iter()
        .enumerate()
        .map(|(position, link)| {
            (
                source_links::id.eq(Uuid::now_v7()),
                source_links::source_id.eq(link.source_id),
                source_links::position.eq(position as i32),
                source_links::project_id.eq(owner(Citing::Project)),
                source_links::programme_id.eq(owner(Citing::Programme)),
                source_links::organisation_id.eq(owner(Citing::Organisation)),
                source_links::metric_value_id.eq(owner(Citing::Metric)),
                source_links::fields.eq(link.fields.clone()),
                source_links::note.eq(link.note.clone()),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(source_links::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Fills in the source of every citation, in one query.
pub async fn embed<'a>(
    conn: &mut AsyncPgConnection,
    citations: impl IntoIterator<Item = &'a mut Citation>,
) -> ApiResult<()> {
    let mut citations: Vec<&mut Citation> = citations.into_iter().collect();
    let ids: Vec<Uuid> = citations.iter().map(|c| c.source_id).collect();
    let found: HashMap<Uuid, Source> = sources::table
        .filter(sources::id.eq_any(ids))
        .select(Source::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    for citation in citations.iter_mut() {
        citation.source = found.get(&citation.source_id).cloned();
    }
    Ok(())
}

/// Whether every source `links` names exists (422 naming the first missing one).
pub async fn check(
    conn: &mut AsyncPgConnection,
    field: &str,
    links: &[SourceLink],
) -> ApiResult<()> {
    let ids: Vec<Uuid> = links.iter().map(|l| l.source_id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let found: Vec<Uuid> = sources::table
        .filter(sources::id.eq_any(&ids))
        .select(sources::id)
        .load(conn)
        .await?;
    if let Some((i, missing)) = ids.iter().enumerate().find(|(_, id)| !found.contains(id)) {
        return Err(crate::web::error::ApiError::invalid(
            format!("{field}[{i}].source_id"),
            "unknown_reference",
            format!("no source with id {missing}"),
        ));
    }
    Ok(())
}

//! Loads the seed files (`seeds/*.json`): the five source documents as registry records.
//!
//! The files are embedded in the binary at build time ([`Seeds::Embedded`]), so `kopa serve`
//! finds them from any directory; `--seeds-dir` reads a directory instead.
//!
//! Every record of a seed file has a stable key (`key`), stored as the record's `seed_key`.
//! A record is found by that key; a record stored before it had one (or under an older name) is
//! found by its natural key, current or former (`formerly`), and takes the key. So renames apply
//! in place, `merges` folds other records into one (their references move to it, they are
//! deleted), and partners, activities and values a project's seed no longer lists are deleted:
//! a seeded registry upgrades in place and nothing is left behind twice. Records are written
//! through the resources' own write skeleton ([`record::upsert`]): the API's validation, and a
//! comparison before writing, so loading twice changes nothing. The whole load is one
//! transaction.
//!
//! Records refer to each other by key (or, in older files, by organisation and programme name).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::{MetricKind, ProjectId, Qualifier};
use crate::resources::activities::{Activity, ActivityInput};
use crate::resources::indicators::{Indicator, IndicatorInput};
use crate::resources::metrics::{form, MetricInput, MetricRow, MetricValue, StoredMetric};
use crate::resources::organisations::{Organisation, OrganisationInput, OrganisationRow};
use crate::resources::partners::{Partner, PartnerInput, PartnerRow};
use crate::resources::programmes::{
    Programme, ProgrammeInput, ProgrammeOrganisation, ProgrammeRow,
};
use crate::resources::projects::{Funding, Project, ProjectInput, ProjectRow};
use crate::resources::record::{self, Record, Upserted};
use crate::resources::sources::{Source, SourceInput, SourceLink};
use crate::schema::{
    activities, api_keys, indicators, metric_values, organisations, programme_organisations,
    programmes, project_funding, project_partners, projects, source_links, sources,
};
use crate::web::error::ApiError;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/seeds.rs"));
}

/// Where the seed files come from.
#[derive(Debug, Clone)]
pub enum Seeds {
    /// The files built into the binary.
    Embedded,
    /// The `*.json` files of a directory.
    Dir(PathBuf),
}

impl Seeds {
    /// `--seeds-dir` when given, else the embedded files.
    pub fn from_option(dir: Option<&Path>) -> Self {
        match dir {
            Some(dir) => Seeds::Dir(dir.to_owned()),
            None => Seeds::Embedded,
        }
    }

    /// What to call them in messages.
    pub fn describe(&self) -> String {
        match self {
            Seeds::Embedded => "the seeds built into kopa".to_owned(),
            Seeds::Dir(dir) => dir.display().to_string(),
        }
    }

    /// The files, by name, sorted.
    fn files(&self) -> Result<Vec<(String, String)>> {
        match self {
            Seeds::Embedded => Ok(embedded::FILES
                .iter()
                .map(|(name, text)| (name.to_string(), text.to_string()))
                .collect()),
            Seeds::Dir(dir) => {
                let mut paths: Vec<_> = std::fs::read_dir(dir)
                    .with_context(|| format!("cannot read the seeds directory {}", dir.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "json"))
                    .collect();
                paths.sort();
                paths
                    .into_iter()
                    .map(|p| {
                        let text = std::fs::read_to_string(&p)
                            .with_context(|| format!("cannot read {}", p.display()))?;
                        Ok((
                            p.file_name()
                                .unwrap_or_default()
                                .to_string_lossy()
                                .into_owned(),
                            text,
                        ))
                    })
                    .collect()
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicatorFile {
    indicators: Vec<IndicatorInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedDocument {
    source_document: String,
    #[serde(default)]
    sources: Vec<SeedSource>,
    #[serde(default)]
    organisations: Vec<SeedOrganisation>,
    #[serde(default)]
    programmes: Vec<SeedProgramme>,
    #[serde(default)]
    projects: Vec<SeedProject>,
}

/// A source: its key and the fields of [`SourceInput`].
#[derive(Deserialize)]
struct SeedSource {
    key: String,
    #[serde(flatten)]
    fields: serde_json::Map<String, serde_json::Value>,
}

/// A citation in a seed file: the source by key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedCitation {
    source: String,
    #[serde(default)]
    fields: Vec<String>,
    note: Option<String>,
}

/// An organisation: its key, former names, records merged into it, and the fields of
/// [`OrganisationInput`] (with citations by source key).
#[derive(Deserialize)]
struct SeedOrganisation {
    key: Option<String>,
    #[serde(default)]
    formerly: Vec<String>,
    #[serde(default)]
    merges: Vec<String>,
    #[serde(default)]
    sources: Vec<SeedCitation>,
    #[serde(flatten)]
    fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedBody {
    organisation: String,
    role: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedProgramme {
    key: Option<String>,
    #[serde(default)]
    formerly: Vec<String>,
    #[serde(default)]
    merges: Vec<String>,
    name: String,
    short_name: Option<String>,
    code: Option<String>,
    description: Option<String>,
    /// Older files: the funder and administrator by name.
    funder: Option<String>,
    administrator: Option<String>,
    #[serde(default)]
    organisations: Vec<SeedBody>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    website: Option<String>,
    #[serde(default)]
    inferred: Vec<String>,
    #[serde(default)]
    sources: Vec<SeedCitation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFunding {
    programme: Option<String>,
    funder: Option<String>,
    share_percent: Option<f64>,
    amount: Option<String>,
    currency: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedPartner {
    key: Option<String>,
    organisation: String,
    role: String,
    /// The role the partnership was stored with before.
    formerly_role: Option<String>,
    description: Option<String>,
    /// The activity (by key) the partner's part is about.
    activity: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedActivity {
    key: String,
    /// Titles the activity was stored under before.
    #[serde(default)]
    formerly: Vec<String>,
    #[serde(flatten)]
    activity: ActivityInput,
}

/// The natural key a metric value was stored under before (fields not given: as now).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FormerMetric {
    #[serde(default, with = "double_option")]
    period_start: Option<Option<NaiveDate>>,
    #[serde(default, with = "double_option")]
    period_end: Option<Option<NaiveDate>>,
    #[serde(default, with = "double_option")]
    target_group: Option<Option<String>>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedMetric {
    key: Option<String>,
    formerly: Option<FormerMetric>,
    activity: Option<String>,
    indicator: String,
    period_start: Option<NaiveDate>,
    period_end: Option<NaiveDate>,
    target_group: Option<String>,
    kind: MetricKind,
    value: f64,
    #[serde(default = "crate::resources::metrics::default_qualifier")]
    qualifier: Qualifier,
    #[serde(default)]
    inferred: Vec<String>,
    #[serde(default)]
    sources: Vec<SeedCitation>,
    note: Option<String>,
}

/// A project in a seed file: the fields of [`ProjectInput`], with the lead organisation,
/// programmes and sources named rather than given by id, and its partners, activities and
/// values inline.
#[derive(Deserialize)]
struct SeedProject {
    key: Option<String>,
    lead: String,
    programme: Option<String>,
    /// Titles the project was stored under before (for projects without a reference).
    #[serde(default)]
    formerly: Vec<String>,
    #[serde(default)]
    funding: Vec<SeedFunding>,
    #[serde(default)]
    sources: Vec<SeedCitation>,
    #[serde(default)]
    partners: Vec<SeedPartner>,
    #[serde(default)]
    activities: Vec<SeedActivity>,
    #[serde(default)]
    metrics: Vec<SeedMetric>,
    /// Everything else is the project's own fields, as the API takes them.
    #[serde(flatten)]
    fields: serde_json::Map<String, serde_json::Value>,
}

/// What a load did, per kind of outcome.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Records merged into others, or no longer in the seeds, and so deleted.
    pub deleted: usize,
}

impl SeedReport {
    fn count(&mut self, outcome: Upserted) {
        match outcome {
            Upserted::Created => self.created += 1,
            Upserted::Updated => self.updated += 1,
            Upserted::Unchanged => self.unchanged += 1,
        }
    }
}

struct Parsed {
    indicators: Vec<IndicatorInput>,
    documents: Vec<(String, SeedDocument)>,
}

fn read(seeds: &Seeds) -> Result<Parsed> {
    let mut indicators = None;
    let mut documents = Vec::new();
    for (name, text) in seeds.files()? {
        if name == "indicators.json" {
            indicators = Some(parse::<IndicatorFile>(&name, &text)?.indicators);
        } else {
            documents.push((name.clone(), parse::<SeedDocument>(&name, &text)?));
        }
    }
    Ok(Parsed {
        indicators: indicators
            .ok_or_else(|| anyhow!("{} has no indicators.json", seeds.describe()))?,
        documents,
    })
}

fn parse<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|e| anyhow!("{name}: {} at {}", e.inner(), e.path()))
}

/// Whether the registry holds no records yet (then `serve` loads the seeds).
pub async fn registry_is_empty(conn: &mut AsyncPgConnection) -> Result<bool> {
    let any: i64 = organisations::table.count().get_result(conn).await?;
    Ok(any == 0)
}

/// Loads every seed file in one transaction.
pub async fn load(conn: &mut AsyncPgConnection, seeds: &Seeds) -> Result<SeedReport> {
    let parsed = read(seeds)?;
    conn.transaction(async |conn| -> Result<SeedReport> {
        let mut loader = Loader::default();
        for input in parsed.indicators {
            let existing: Option<Indicator> = indicators::table
                .filter(indicators::code.eq(&input.code))
                .select(Indicator::as_select())
                .first(conn)
                .await
                .optional()?;
            let what = format!("indicator {}", input.code);
            loader
                .put::<Indicator>(conn, &what, existing, (), input)
                .await?;
        }
        for (file, document) in parsed.documents {
            loader
                .document(conn, document)
                .await
                .with_context(|| format!("loading {file}"))?;
        }
        Ok(loader.report)
    })
    .await
}

#[derive(Default)]
struct Loader {
    /// Organisations by key and by name.
    organisations: HashMap<String, Uuid>,
    /// Programmes by key and by name.
    programmes: HashMap<String, Uuid>,
    /// Sources by key.
    sources: HashMap<String, Uuid>,
    report: SeedReport,
}

/// A refused record, with every broken rule named.
fn refused(what: &str, error: ApiError) -> anyhow::Error {
    match error {
        ApiError::Validation(errors) => {
            let list: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            anyhow!("{what} is invalid: {}", list.join("; "))
        }
        other => anyhow!("{what}: {other}: {other:?}"),
    }
}

diesel::define_sql_function! {
    /// PostgreSQL's `lower(text)`: names are unique case-insensitively.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Sets a record's seed key when it lacks it (a separate write only then, so a second load
/// writes nothing).
macro_rules! claim_key {
    ($conn:expr, $table:ident, $id:expr, $key:expr) => {{
        diesel::update($table::table.find($id))
            .filter($table::seed_key.is_distinct_from(Some($key.to_owned())))
            .set($table::seed_key.eq(Some($key.to_owned())))
            .execute($conn)
            .await
    }};
}

/// Runs a `put` with `key` (an `Option<&str>`) as the seed key a record it creates starts with
/// (the `seed_key` columns default to the transaction's `kopa.seed_key`), so a new record is
/// created with its key rather than changed afterwards (which would give it a second version).
macro_rules! keyed {
    ($conn:expr, $key:expr, $put:expr) => {{
        set_seed_key($conn, $key.unwrap_or_default()).await?;
        let result = $put.await;
        set_seed_key($conn, "").await?;
        result?
    }};
}

/// The record with this seed key, if any.
macro_rules! by_key {
    ($conn:expr, $table:ident, $row:ty, $key:expr) => {{
        $table::table
            .filter($table::seed_key.eq($key.to_owned()))
            .select(<$row>::as_select())
            .first($conn)
            .await
            .optional()
    }};
}

impl Loader {
    fn organisation_id(&self, name: &str) -> Result<Uuid> {
        self.organisations
            .get(name)
            .copied()
            .ok_or_else(|| anyhow!("unknown organisation {name:?}"))
    }

    fn programme_id(&self, name: &str) -> Result<Uuid> {
        self.programmes
            .get(name)
            .copied()
            .ok_or_else(|| anyhow!("unknown programme {name:?}"))
    }

    fn citations(&self, seeds: &[SeedCitation]) -> Result<Vec<SourceLink>> {
        seeds
            .iter()
            .map(|c| {
                Ok(SourceLink {
                    source_id: *self
                        .sources
                        .get(&c.source)
                        .ok_or_else(|| anyhow!("unknown source {:?}", c.source))?,
                    fields: c.fields.clone(),
                    note: c.note.clone(),
                })
            })
            .collect()
    }

    /// Upserts one record through the write skeleton and counts what happened.
    async fn put<R: Record>(
        &mut self,
        conn: &mut AsyncPgConnection,
        what: &str,
        existing: Option<R::Row>,
        parent: R::Parent,
        input: R::Input,
    ) -> Result<Uuid>
    where
        R::Input: PartialEq,
    {
        let (id, outcome) = record::upsert::<R>(conn, existing, parent, input)
            .await
            .map_err(|e| refused(what, e))?;
        self.report.count(outcome);
        Ok(id)
    }

    async fn document(
        &mut self,
        conn: &mut AsyncPgConnection,
        document: SeedDocument,
    ) -> Result<()> {
        for seed in document.sources {
            self.source(conn, seed).await?;
        }
        for seed in document.organisations {
            self.organisation(conn, seed).await?;
        }
        for seed in document.programmes {
            self.programme(conn, seed).await?;
        }
        for seed in document.projects {
            let title = seed.fields.get("title").cloned().unwrap_or_default();
            self.project(conn, &document.source_document, seed)
                .await
                .with_context(|| format!("project {title}"))?;
        }
        Ok(())
    }

    async fn source(&mut self, conn: &mut AsyncPgConnection, seed: SeedSource) -> Result<()> {
        let input: SourceInput = serde_json::from_value(serde_json::Value::Object(seed.fields))
            .with_context(|| format!("source {}", seed.key))?;
        let mut existing: Option<Source> = by_key!(conn, sources, Source, &seed.key)?;
        if existing.is_none() {
            if let Some(url) = &input.url {
                existing = sources::table
                    .filter(sources::url.eq(url.clone()))
                    .select(Source::as_select())
                    .first(conn)
                    .await
                    .optional()?;
            }
        }
        let what = format!("source {}", seed.key);
        let id = keyed!(
            conn,
            Some(seed.key.as_str()),
            self.put::<Source>(conn, &what, existing, (), input)
        );
        claim_key!(conn, sources, id, &seed.key)?;
        self.sources.insert(seed.key, id);
        Ok(())
    }

    async fn organisation(
        &mut self,
        conn: &mut AsyncPgConnection,
        seed: SeedOrganisation,
    ) -> Result<()> {
        let mut fields = seed.fields;
        let links = self.citations(&seed.sources)?;
        fields.insert("sources".into(), serde_json::to_value(&links)?);
        let input: OrganisationInput = serde_json::from_value(serde_json::Value::Object(fields))
            .context("an organisation's fields")?;
        let name = input.name.clone();
        let mut existing: Option<OrganisationRow> = match &seed.key {
            Some(key) => by_key!(conn, organisations, OrganisationRow, key)?,
            None => None,
        };
        for candidate in std::iter::once(&name).chain(&seed.formerly) {
            if existing.is_some() {
                break;
            }
            existing = organisations::table
                .filter(lower(organisations::name).eq(lower(candidate.clone())))
                .filter(organisations::country.is_not_distinct_from(input.country.clone()))
                .filter(
                    organisations::seed_key
                        .is_null()
                        .or(organisations::seed_key.is_not_distinct_from(seed.key.clone())),
                )
                .select(OrganisationRow::as_select())
                .first(conn)
                .await
                .optional()?;
        }
        // Records merged into this one give up their names before it takes its own.
        let merged = self.find_organisations(conn, &seed.merges).await?;
        let survivor = existing.as_ref().map(|r| r.id);
        for id in merged.iter().filter(|id| Some(**id) != survivor) {
            diesel::update(organisations::table.find(*id))
                .set(organisations::name.eq(format!("merged {id}")))
                .execute(conn)
                .await?;
        }
        let what = format!("organisation {name:?}");
        let id = keyed!(
            conn,
            seed.key.as_deref(),
            self.put::<Organisation>(conn, &what, existing, (), input)
        );
        for merged in merged.into_iter().filter(|m| *m != id) {
            merge_organisation(conn, merged, id).await?;
            self.report.deleted += 1;
        }
        if let Some(key) = &seed.key {
            claim_key!(conn, organisations, id, key)?;
            self.organisations.insert(key.clone(), id);
        }
        for alias in seed.formerly.iter().chain(&seed.merges) {
            self.organisations.insert(alias.clone(), id);
        }
        self.organisations.insert(name, id);
        Ok(())
    }

    /// The organisations `names` (keys or names) name, where they exist.
    async fn find_organisations(
        &self,
        conn: &mut AsyncPgConnection,
        names: &[String],
    ) -> Result<Vec<Uuid>> {
        let mut found = Vec::new();
        for name in names {
            let id: Option<Uuid> = organisations::table
                .filter(
                    organisations::seed_key
                        .eq(name.clone())
                        .or(lower(organisations::name).eq(lower(name.clone()))),
                )
                .select(organisations::id)
                .first(conn)
                .await
                .optional()?;
            found.extend(id);
        }
        Ok(found)
    }

    async fn programme(&mut self, conn: &mut AsyncPgConnection, seed: SeedProgramme) -> Result<()> {
        let mut bodies = Vec::new();
        for (name, role) in [
            (&seed.funder, "funder"),
            (&seed.administrator, "administrator"),
        ] {
            if let Some(name) = name {
                bodies.push(ProgrammeOrganisation {
                    organisation_id: self.organisation_id(name)?,
                    role: role.to_owned(),
                    description: None,
                });
            }
        }
        for body in &seed.organisations {
            bodies.push(ProgrammeOrganisation {
                organisation_id: self.organisation_id(&body.organisation)?,
                role: body.role.clone(),
                description: body.description.clone(),
            });
        }
        let input = ProgrammeInput {
            name: seed.name.clone(),
            short_name: seed.short_name,
            code: seed.code,
            description: seed.description,
            start_date: seed.start_date,
            end_date: seed.end_date,
            website: seed.website,
            inferred: seed.inferred,
            organisations: bodies,
            sources: self.citations(&seed.sources)?,
        };
        let mut existing: Option<ProgrammeRow> = match &seed.key {
            Some(key) => by_key!(conn, programmes, ProgrammeRow, key)?,
            None => None,
        };
        for candidate in std::iter::once(&seed.name).chain(&seed.formerly) {
            if existing.is_some() {
                break;
            }
            existing = programmes::table
                .filter(lower(programmes::name).eq(lower(candidate.clone())))
                .filter(
                    programmes::seed_key
                        .is_null()
                        .or(programmes::seed_key.is_not_distinct_from(seed.key.clone())),
                )
                .select(ProgrammeRow::as_select())
                .first(conn)
                .await
                .optional()?;
        }
        let mut merged = Vec::new();
        for name in &seed.merges {
            let id: Option<Uuid> = programmes::table
                .filter(
                    programmes::seed_key
                        .eq(name.clone())
                        .or(lower(programmes::name).eq(lower(name.clone()))),
                )
                .select(programmes::id)
                .first(conn)
                .await
                .optional()?;
            merged.extend(id.filter(|id| Some(*id) != existing.as_ref().map(|r| r.id)));
        }
        for id in &merged {
            diesel::update(programmes::table.find(*id))
                .set(programmes::name.eq(format!("merged {id}")))
                .execute(conn)
                .await?;
        }
        let what = format!("programme {:?}", seed.name);
        let id = keyed!(
            conn,
            seed.key.as_deref(),
            self.put::<Programme>(conn, &what, existing, (), input)
        );
        for old in merged {
            merge_programme(conn, old, id).await?;
            self.report.deleted += 1;
        }
        if let Some(key) = &seed.key {
            claim_key!(conn, programmes, id, key)?;
            self.programmes.insert(key.clone(), id);
        }
        for alias in seed.formerly.iter().chain(&seed.merges) {
            self.programmes.insert(alias.clone(), id);
        }
        self.programmes.insert(seed.name, id);
        Ok(())
    }

    async fn project(
        &mut self,
        conn: &mut AsyncPgConnection,
        source: &str,
        seed: SeedProject,
    ) -> Result<()> {
        let funding = seed
            .funding
            .iter()
            .map(|f| {
                Ok(Funding {
                    programme_id: f
                        .programme
                        .as_deref()
                        .map(|n| self.programme_id(n))
                        .transpose()?,
                    funder_id: f
                        .funder
                        .as_deref()
                        .map(|n| self.organisation_id(n))
                        .transpose()?,
                    share_percent: f.share_percent,
                    amount: f.amount.clone(),
                    currency: f.currency.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let lead = self.organisation_id(&seed.lead)?;
        let programme = seed
            .programme
            .as_deref()
            .map(|n| self.programme_id(n))
            .transpose()?;
        let mut fields = seed.fields;
        for (name, value) in [
            ("lead_organisation_id", serde_json::to_value(lead)?),
            ("programme_id", serde_json::to_value(programme)?),
            ("funding", serde_json::to_value(funding)?),
            (
                "sources",
                serde_json::to_value(self.citations(&seed.sources)?)?,
            ),
            ("source_document", serde_json::to_value(source)?),
        ] {
            if fields.insert(name.to_owned(), value).is_some() {
                bail!("{name} is given by the seed loader, not by the seed file");
            }
        }
        let input: ProjectInput = serde_json::from_value(serde_json::Value::Object(fields))
            .context("the project's fields")?;
        // The seed key; else the natural key: the reference number, or the title (current or
        // former) and lead when there is none.
        let mut existing: Option<ProjectRow> = match &seed.key {
            Some(key) => by_key!(conn, projects, ProjectRow, key)?,
            None => None,
        };
        if existing.is_none() {
            if let Some(reference) = &input.reference {
                existing = projects::table
                    .filter(projects::reference.eq(reference.clone()))
                    .select(ProjectRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
            }
        }
        for title in std::iter::once(&input.title).chain(&seed.formerly) {
            if existing.is_some() {
                break;
            }
            existing = projects::table
                .filter(projects::title.eq(title.clone()))
                .filter(projects::lead_organisation_id.eq(lead))
                .filter(
                    projects::seed_key
                        .is_null()
                        .or(projects::seed_key.is_not_distinct_from(seed.key.clone())),
                )
                .select(ProjectRow::as_select())
                .first(conn)
                .await
                .optional()?;
        }
        let project = ProjectId(keyed!(
            conn,
            seed.key.as_deref(),
            self.put::<Project>(conn, "project", existing, (), input)
        ));
        // Files without keys (older ones) load by natural keys alone and claim no keys.
        let key = seed.key.clone();
        if let Some(key) = &key {
            claim_key!(conn, projects, project.0, key)?;
        }
        let sub_key = |own: String| key.as_ref().map(|k| format!("{k}/{own}"));
        let mut kept_activities = HashSet::new();
        let mut activity_ids: HashMap<String, Uuid> = HashMap::new();
        for seed_activity in seed.activities {
            let activity_key = sub_key(seed_activity.key.clone());
            let input = seed_activity.activity;
            let mut existing: Option<Activity> = match &activity_key {
                Some(k) => by_key!(conn, activities, Activity, k)?,
                None => None,
            };
            for title in std::iter::once(&input.title).chain(&seed_activity.formerly) {
                if existing.is_some() {
                    break;
                }
                existing = activities::table
                    .filter(activities::project_id.eq(project.0))
                    .filter(activities::title.eq(title))
                    .filter(activities::seed_key.is_null())
                    .select(Activity::as_select())
                    .first(conn)
                    .await
                    .optional()?;
            }
            let what = format!("activity {:?}", seed_activity.key);
            let id = keyed!(
                conn,
                activity_key.as_deref(),
                self.put::<Activity>(conn, &what, existing, project, input)
            );
            if let Some(k) = &activity_key {
                claim_key!(conn, activities, id, k)?;
            }
            kept_activities.insert(id);
            if activity_ids.insert(seed_activity.key.clone(), id).is_some() {
                bail!("activity key {:?} is used twice", seed_activity.key);
            }
        }
        let activity = |name: &Option<String>| -> Result<Option<Uuid>> {
            name.as_ref()
                .map(|k| {
                    activity_ids
                        .get(k)
                        .copied()
                        .ok_or_else(|| anyhow!("unknown activity key {k:?}"))
                })
                .transpose()
        };
        let mut kept_partners = HashSet::new();
        for partner in seed.partners {
            let input = PartnerInput {
                organisation_id: self.organisation_id(&partner.organisation)?,
                role: partner.role.clone(),
                description: partner.description,
                activity_id: activity(&partner.activity)?,
            };
            let partner_key = sub_key(
                partner
                    .key
                    .clone()
                    .unwrap_or_else(|| format!("{}/{}", partner.organisation, partner.role)),
            );
            let mut existing: Option<PartnerRow> = match &partner_key {
                Some(k) => by_key!(conn, project_partners, PartnerRow, k)?,
                None => None,
            };
            for role in std::iter::once(&partner.role).chain(&partner.formerly_role) {
                if existing.is_some() {
                    break;
                }
                existing = project_partners::table
                    .filter(project_partners::project_id.eq(project.0))
                    .filter(project_partners::organisation_id.eq(input.organisation_id))
                    .filter(project_partners::role.eq(role))
                    .filter(project_partners::seed_key.is_null())
                    .select(PartnerRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
            }
            let what = format!("partner {}", partner.organisation);
            let id = keyed!(
                conn,
                partner_key.as_deref(),
                self.put::<Partner>(conn, &what, existing, project, input)
            );
            if let Some(k) = &partner_key {
                claim_key!(conn, project_partners, id, k)?;
            }
            kept_partners.insert(id);
        }
        let mut kept_metrics = HashSet::new();
        for metric in seed.metrics {
            let activity_id = activity(&metric.activity)?;
            let metric_key = sub_key(metric.key.clone().unwrap_or_else(|| {
                format!(
                    "{}/{}/{}/{}",
                    metric.activity.as_deref().unwrap_or("-"),
                    metric.indicator,
                    metric.kind.as_str(),
                    metric.target_group.as_deref().unwrap_or("-")
                )
            }));
            let input = MetricInput {
                indicator: metric.indicator,
                activity_id,
                period_start: metric.period_start,
                period_end: metric.period_end,
                target_group: metric.target_group,
                kind: metric.kind,
                value: metric.value,
                note: metric.note,
                qualifier: metric.qualifier,
                inferred: metric.inferred,
                sources: self.citations(&metric.sources)?,
                external_id: None,
            };
            let what = format!("metric {}", input.indicator);
            let stored_key = form(conn, &input).await.map_err(|e| refused(&what, e))?;
            let mut existing: Option<MetricRow> = match &metric_key {
                Some(k) => by_key!(conn, metric_values, MetricRow, k)?,
                None => None,
            };
            if existing.is_none() {
                let former = metric.formerly.unwrap_or_default();
                for (start, end, group) in [
                    (
                        input.period_start,
                        input.period_end,
                        input.target_group.clone(),
                    ),
                    (
                        former.period_start.unwrap_or(input.period_start),
                        former.period_end.unwrap_or(input.period_end),
                        former.target_group.unwrap_or(input.target_group.clone()),
                    ),
                ] {
                    if existing.is_some() {
                        break;
                    }
                    existing = metric_values::table
                        .filter(metric_values::project_id.eq(project.0))
                        .filter(metric_values::indicator_id.eq(stored_key.indicator_id))
                        .filter(metric_values::activity_id.is_not_distinct_from(input.activity_id))
                        .filter(metric_values::period_start.is_not_distinct_from(start))
                        .filter(metric_values::period_end.is_not_distinct_from(end))
                        .filter(metric_values::target_group.is_not_distinct_from(group))
                        .filter(metric_values::kind.eq(input.kind))
                        .filter(metric_values::seed_key.is_null())
                        .select(MetricRow::as_select())
                        .first(conn)
                        .await
                        .optional()?;
                }
            }
            let existing = existing.map(|row| StoredMetric {
                row,
                indicator: input.indicator.clone(),
            });
            let id = keyed!(
                conn,
                metric_key.as_deref(),
                self.put::<MetricValue>(conn, &what, existing, project, input)
            );
            if let Some(k) = &metric_key {
                claim_key!(conn, metric_values, id, k)?;
            }
            kept_metrics.insert(id);
        }
        // What an earlier load of this project wrote and the seeds no longer list.
        let Some(key) = key else { return Ok(()) };
        let prefix = format!("{key}/%");
        self.report.deleted += diesel::delete(
            metric_values::table
                .filter(metric_values::project_id.eq(project.0))
                .filter(metric_values::seed_key.like(prefix.clone()))
                .filter(metric_values::id.ne_all(kept_metrics.into_iter().collect::<Vec<_>>())),
        )
        .execute(conn)
        .await?;
        self.report.deleted += diesel::delete(
            project_partners::table
                .filter(project_partners::project_id.eq(project.0))
                .filter(project_partners::seed_key.like(prefix.clone()))
                .filter(project_partners::id.ne_all(kept_partners.into_iter().collect::<Vec<_>>())),
        )
        .execute(conn)
        .await?;
        self.report.deleted += diesel::delete(
            activities::table
                .filter(activities::project_id.eq(project.0))
                .filter(activities::seed_key.like(prefix))
                .filter(activities::id.ne_all(kept_activities.into_iter().collect::<Vec<_>>())),
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// Sets the seed key new records of this transaction start with (`''`: none).
async fn set_seed_key(conn: &mut AsyncPgConnection, key: &str) -> Result<()> {
    diesel::sql_query("SELECT set_config('kopa.seed_key', $1, true)")
        .bind::<diesel::sql_types::Text, _>(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves every reference to organisation `from` to `into`, then deletes `from`.
async fn merge_organisation(conn: &mut AsyncPgConnection, from: Uuid, into: Uuid) -> Result<()> {
    // A partnership the survivor already holds in the same role would be a duplicate.
    let held: Vec<(Uuid, String)> = project_partners::table
        .filter(project_partners::organisation_id.eq(into))
        .select((project_partners::project_id, project_partners::role))
        .load(conn)
        .await?;
    for (project, role) in held {
        diesel::delete(
            project_partners::table
                .filter(project_partners::organisation_id.eq(from))
                .filter(project_partners::project_id.eq(project))
                .filter(project_partners::role.eq(role)),
        )
        .execute(conn)
        .await?;
    }
    diesel::update(project_partners::table.filter(project_partners::organisation_id.eq(from)))
        .set(project_partners::organisation_id.eq(into))
        .execute(conn)
        .await?;
    diesel::update(projects::table.filter(projects::lead_organisation_id.eq(from)))
        .set(projects::lead_organisation_id.eq(into))
        .execute(conn)
        .await?;
    diesel::update(project_funding::table.filter(project_funding::funder_id.eq(from)))
        .set(project_funding::funder_id.eq(into))
        .execute(conn)
        .await?;
    let bodies: Vec<(Uuid, String)> = programme_organisations::table
        .filter(programme_organisations::organisation_id.eq(into))
        .select((
            programme_organisations::programme_id,
            programme_organisations::role,
        ))
        .load(conn)
        .await?;
    for (programme, role) in bodies {
        diesel::delete(
            programme_organisations::table
                .filter(programme_organisations::organisation_id.eq(from))
                .filter(programme_organisations::programme_id.eq(programme))
                .filter(programme_organisations::role.eq(role)),
        )
        .execute(conn)
        .await?;
    }
    diesel::update(
        programme_organisations::table.filter(programme_organisations::organisation_id.eq(from)),
    )
    .set(programme_organisations::organisation_id.eq(into))
    .execute(conn)
    .await?;
    diesel::update(api_keys::table.filter(api_keys::organisation_id.eq(from)))
        .set(api_keys::organisation_id.eq(into))
        .execute(conn)
        .await?;
    diesel::delete(source_links::table.filter(source_links::organisation_id.eq(from)))
        .execute(conn)
        .await?;
    diesel::delete(organisations::table.find(from))
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves every reference to programme `from` to `into`, then deletes `from`.
async fn merge_programme(conn: &mut AsyncPgConnection, from: Uuid, into: Uuid) -> Result<()> {
    diesel::update(projects::table.filter(projects::programme_id.eq(from)))
        .set(projects::programme_id.eq(into))
        .execute(conn)
        .await?;
    diesel::update(project_funding::table.filter(project_funding::programme_id.eq(from)))
        .set(project_funding::programme_id.eq(into))
        .execute(conn)
        .await?;
    diesel::delete(source_links::table.filter(source_links::programme_id.eq(from)))
        .execute(conn)
        .await?;
    diesel::delete(programmes::table.find(from))
        .execute(conn)
        .await?;
    Ok(())
}

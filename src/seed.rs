//! Loads the seed files (`seeds/*.json`): the five source documents as registry records.
//!
//! Records refer to each other by natural keys (organisation and programme names, indicator
//! codes, activity keys), resolved across all files. Every record is found by its natural key
//! and written through the resources' own write skeleton ([`record::upsert`]): the API's
//! validation, and a comparison before writing, so loading twice changes nothing (no new
//! versions). The whole load is one transaction.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::{MetricKind, ProjectId};
use crate::resources::activities::{Activity, ActivityInput};
use crate::resources::indicators::{Indicator, IndicatorInput};
use crate::resources::metrics::{form, MetricInput, MetricRow, MetricValue, StoredMetric};
use crate::resources::organisations::{Organisation, OrganisationInput, OrganisationRow};
use crate::resources::partners::{Partner, PartnerInput, PartnerRow};
use crate::resources::programmes::{Programme, ProgrammeInput};
use crate::resources::projects::{Funding, Project, ProjectInput, ProjectRow};
use crate::resources::record::{self, Record, Upserted};
use crate::schema::{
    activities, indicators, metric_values, organisations, programmes, project_partners, projects,
};
use crate::web::error::ApiError;

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
    organisations: Vec<OrganisationInput>,
    #[serde(default)]
    programmes: Vec<SeedProgramme>,
    #[serde(default)]
    projects: Vec<SeedProject>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedProgramme {
    name: String,
    short_name: Option<String>,
    code: Option<String>,
    description: Option<String>,
    funder: Option<String>,
    administrator: Option<String>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    website: Option<String>,
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
    organisation: String,
    role: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedActivity {
    key: String,
    #[serde(flatten)]
    activity: ActivityInput,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedMetric {
    activity: Option<String>,
    indicator: String,
    period_start: Option<NaiveDate>,
    period_end: Option<NaiveDate>,
    target_group: Option<String>,
    kind: MetricKind,
    value: f64,
    note: Option<String>,
}

/// A project in a seed file: the fields of [`ProjectInput`], with the lead organisation and
/// programmes named rather than given by id, and its partners, activities and values inline.
#[derive(Deserialize)]
struct SeedProject {
    lead: String,
    programme: Option<String>,
    #[serde(default)]
    funding: Vec<SeedFunding>,
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

struct Seeds {
    indicators: Vec<IndicatorInput>,
    documents: Vec<(String, SeedDocument)>,
}

fn read(dir: &Path) -> Result<Seeds> {
    let indicator_path = dir.join("indicators.json");
    let indicators: IndicatorFile = parse(&indicator_path)?;
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the seeds directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name().is_some_and(|n| n != "indicators.json")
        })
        .collect();
    names.sort();
    let documents = names
        .iter()
        .map(|path| Ok((path.display().to_string(), parse::<SeedDocument>(path)?)))
        .collect::<Result<_>>()?;
    Ok(Seeds {
        indicators: indicators.indicators,
        documents,
    })
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut de = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|e| anyhow!("{}: {} at {}", path.display(), e.inner(), e.path()))
}

/// Whether the registry holds no records yet (then `serve` loads the seeds).
pub async fn registry_is_empty(conn: &mut AsyncPgConnection) -> Result<bool> {
    let any: i64 = organisations::table.count().get_result(conn).await?;
    Ok(any == 0)
}

/// Loads every seed file in `dir` in one transaction.
pub async fn load(conn: &mut AsyncPgConnection, dir: &Path) -> Result<SeedReport> {
    let seeds = read(dir)?;
    conn.transaction(async |conn| -> Result<SeedReport> {
        let mut loader = Loader::default();
        for input in seeds.indicators {
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
        for (file, document) in seeds.documents {
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
    organisations: HashMap<String, Uuid>,
    programmes: HashMap<String, Uuid>,
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
        for input in document.organisations {
            let existing: Option<OrganisationRow> = organisations::table
                .filter(lower(organisations::name).eq(lower(input.name.clone())))
                .filter(organisations::country.is_not_distinct_from(input.country.clone()))
                .select(OrganisationRow::as_select())
                .first(conn)
                .await
                .optional()?;
            let name = input.name.clone();
            let what = format!("organisation {name:?}");
            let id = self
                .put::<Organisation>(conn, &what, existing, (), input)
                .await?;
            self.organisations.insert(name, id);
        }
        for seed in document.programmes {
            let input = ProgrammeInput {
                name: seed.name.clone(),
                short_name: seed.short_name,
                code: seed.code,
                description: seed.description,
                funder_id: seed
                    .funder
                    .as_deref()
                    .map(|n| self.organisation_id(n))
                    .transpose()?,
                administrator_id: seed
                    .administrator
                    .as_deref()
                    .map(|n| self.organisation_id(n))
                    .transpose()?,
                start_date: seed.start_date,
                end_date: seed.end_date,
                website: seed.website,
            };
            let existing: Option<Programme> = programmes::table
                .filter(lower(programmes::name).eq(lower(input.name.clone())))
                .select(Programme::as_select())
                .first(conn)
                .await
                .optional()?;
            let what = format!("programme {:?}", seed.name);
            let id = self
                .put::<Programme>(conn, &what, existing, (), input)
                .await?;
            self.programmes.insert(seed.name, id);
        }
        for seed in document.projects {
            let title = seed.fields.get("title").cloned().unwrap_or_default();
            self.project(conn, &document.source_document, seed)
                .await
                .with_context(|| format!("project {title}"))?;
        }
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
            ("source_document", serde_json::to_value(source)?),
        ] {
            if fields.insert(name.to_owned(), value).is_some() {
                bail!("{name} is given by the seed loader, not by the seed file");
            }
        }
        let input: ProjectInput = serde_json::from_value(serde_json::Value::Object(fields))
            .context("the project's fields")?;
        // Natural key: the reference number, or the title and lead when there is none.
        let mut query = projects::table.select(ProjectRow::as_select()).into_boxed();
        query = match &input.reference {
            Some(reference) => query.filter(projects::reference.eq(reference.clone())),
            None => query.filter(
                projects::title
                    .eq(input.title.clone())
                    .and(projects::lead_organisation_id.eq(lead)),
            ),
        };
        let existing: Option<ProjectRow> = query.first(conn).await.optional()?;
        let project = ProjectId(
            self.put::<Project>(conn, "project", existing, (), input)
                .await?,
        );
        for partner in seed.partners {
            let input = PartnerInput {
                organisation_id: self.organisation_id(&partner.organisation)?,
                role: partner.role,
                description: partner.description,
            };
            let existing: Option<PartnerRow> = project_partners::table
                .filter(project_partners::project_id.eq(project.0))
                .filter(project_partners::organisation_id.eq(input.organisation_id))
                .filter(project_partners::role.eq(&input.role))
                .select(PartnerRow::as_select())
                .first(conn)
                .await
                .optional()?;
            self.put::<Partner>(conn, "partner", existing, project, input)
                .await?;
        }
        let mut activity_ids: HashMap<String, Uuid> = HashMap::new();
        for seed_activity in seed.activities {
            let input = seed_activity.activity;
            let existing: Option<Activity> = activities::table
                .filter(activities::project_id.eq(project.0))
                .filter(activities::title.eq(&input.title))
                .select(Activity::as_select())
                .first(conn)
                .await
                .optional()?;
            let what = format!("activity {:?}", seed_activity.key);
            let id = self
                .put::<Activity>(conn, &what, existing, project, input)
                .await?;
            if activity_ids.insert(seed_activity.key.clone(), id).is_some() {
                bail!("activity key {:?} is used twice", seed_activity.key);
            }
        }
        for metric in seed.metrics {
            let activity_id = match &metric.activity {
                Some(key) => Some(
                    *activity_ids
                        .get(key)
                        .ok_or_else(|| anyhow!("unknown activity key {key:?}"))?,
                ),
                None => None,
            };
            let input = MetricInput {
                indicator: metric.indicator,
                activity_id,
                period_start: metric.period_start,
                period_end: metric.period_end,
                target_group: metric.target_group,
                kind: metric.kind,
                value: metric.value,
                note: metric.note,
            };
            let what = format!("metric {}", input.indicator);
            let key = form(conn, &input).await.map_err(|e| refused(&what, e))?;
            let existing: Option<MetricRow> = metric_values::table
                .filter(metric_values::project_id.eq(project.0))
                .filter(metric_values::indicator_id.eq(key.indicator_id))
                .filter(metric_values::activity_id.is_not_distinct_from(input.activity_id))
                .filter(metric_values::period_start.is_not_distinct_from(input.period_start))
                .filter(metric_values::period_end.is_not_distinct_from(input.period_end))
                .filter(
                    metric_values::target_group.is_not_distinct_from(input.target_group.clone()),
                )
                .filter(metric_values::kind.eq(input.kind))
                .select(MetricRow::as_select())
                .first(conn)
                .await
                .optional()?;
            let existing = existing.map(|row| StoredMetric {
                row,
                indicator: input.indicator.clone(),
            });
            self.put::<MetricValue>(conn, &what, existing, project, input)
                .await?;
        }
        Ok(())
    }
}

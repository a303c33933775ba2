//! Loads the seed files (`seeds/*.json`): the five source documents as registry records.
//!
//! Records refer to each other by natural keys (organisation and programme names, indicator
//! codes, activity keys), resolved across all files. Every record passes the API's own
//! validation and is upserted by its natural key, comparing before writing, so loading twice
//! changes nothing (no new versions). The whole load is one transaction.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use chrono::NaiveDate;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use uuid::Uuid;

use crate::activities::{ActivityInput, ActivityRow};
use crate::error::ApiError;
use crate::indicators::{IndicatorInput, IndicatorRow};
use crate::metrics::{MetricInput, MetricKind, MetricRow};
use crate::organisations::{OrganisationInput, OrganisationRow};
use crate::partners::{PartnerInput, PartnerRow};
use crate::programmes::{ProgrammeInput, ProgrammeRow};
use crate::projects::{Contact, DatePrecision, Funding, ProjectInput, ProjectRow, ProjectStatus};
use crate::schema::{
    activities, indicators, metric_values, organisations, programmes, project_partners, projects,
};
use crate::validation;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedProject {
    reference: Option<String>,
    title: String,
    title_en: Option<String>,
    summary: Option<String>,
    aim: Option<String>,
    problem: Option<String>,
    #[serde(default)]
    objectives: Vec<String>,
    status: ProjectStatus,
    lead: String,
    programme: Option<String>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    date_precision: Option<DatePrecision>,
    #[serde(default)]
    places: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    target_groups: Vec<String>,
    #[serde(default)]
    funding: Vec<SeedFunding>,
    contact: Option<Contact>,
    website: Option<String>,
    #[serde(default)]
    partners: Vec<SeedPartner>,
    #[serde(default)]
    activities: Vec<SeedActivity>,
    #[serde(default)]
    metrics: Vec<SeedMetric>,
}

/// What a load did, per kind of outcome.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl SeedReport {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Created,
    Updated,
    Unchanged,
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
            let outcome = loader.indicator(conn, input).await?;
            loader.report.count(outcome);
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

fn checked<T: validator::Validate>(what: &str, input: &T) -> Result<()> {
    validation::validate(input).map_err(|e| match e {
        ApiError::Validation(errors) => {
            let list: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            anyhow!("{what} is invalid: {}", list.join("; "))
        }
        other => anyhow!("{what}: {other}"),
    })
}

fn db(e: ApiError) -> anyhow::Error {
    anyhow!("{e}: {:?}", e)
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

    async fn indicator(
        &mut self,
        conn: &mut AsyncPgConnection,
        input: IndicatorInput,
    ) -> Result<Outcome> {
        checked(&format!("indicator {}", input.code), &input)?;
        let existing: Option<IndicatorRow> = indicators::table
            .filter(indicators::code.eq(&input.code))
            .select(IndicatorRow::as_select())
            .first(conn)
            .await
            .optional()?;
        Ok(match existing {
            None => {
                diesel::insert_into(indicators::table)
                    .values((indicators::id.eq(Uuid::now_v7()), &input))
                    .execute(conn)
                    .await?;
                Outcome::Created
            }
            Some(row) if IndicatorInput::from(row.clone()) == input => Outcome::Unchanged,
            Some(row) => {
                diesel::update(indicators::table.find(row.id))
                    .set(&input)
                    .execute(conn)
                    .await?;
                Outcome::Updated
            }
        })
    }

    async fn document(
        &mut self,
        conn: &mut AsyncPgConnection,
        document: SeedDocument,
    ) -> Result<()> {
        for input in document.organisations {
            checked(&format!("organisation {:?}", input.name), &input)?;
            let existing: Option<OrganisationRow> = organisations::table
                .filter(
                    sql::<Bool>("lower(name) = lower(")
                        .bind::<diesel::sql_types::Text, _>(input.name.clone())
                        .sql(")"),
                )
                .filter(organisations::country.is_not_distinct_from(input.country.clone()))
                .select(OrganisationRow::as_select())
                .first(conn)
                .await
                .optional()?;
            let (id, outcome) = match existing {
                None => {
                    let id = Uuid::now_v7();
                    diesel::insert_into(organisations::table)
                        .values((organisations::id.eq(id), &input))
                        .execute(conn)
                        .await?;
                    (id, Outcome::Created)
                }
                Some(row) if OrganisationInput::from(row.clone()) == input => {
                    (row.id, Outcome::Unchanged)
                }
                Some(row) => {
                    diesel::update(organisations::table.find(row.id))
                        .set(&input)
                        .execute(conn)
                        .await?;
                    (row.id, Outcome::Updated)
                }
            };
            self.report.count(outcome);
            self.organisations.insert(input.name, id);
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
            checked(&format!("programme {:?}", input.name), &input)?;
            let existing: Option<ProgrammeRow> = programmes::table
                .filter(
                    sql::<Bool>("lower(name) = lower(")
                        .bind::<diesel::sql_types::Text, _>(input.name.clone())
                        .sql(")"),
                )
                .select(ProgrammeRow::as_select())
                .first(conn)
                .await
                .optional()?;
            let (id, outcome) = match existing {
                None => {
                    let id = Uuid::now_v7();
                    diesel::insert_into(programmes::table)
                        .values((programmes::id.eq(id), &input))
                        .execute(conn)
                        .await?;
                    (id, Outcome::Created)
                }
                Some(row) if ProgrammeInput::from(row.clone()) == input => {
                    (row.id, Outcome::Unchanged)
                }
                Some(row) => {
                    diesel::update(programmes::table.find(row.id))
                        .set(&input)
                        .execute(conn)
                        .await?;
                    (row.id, Outcome::Updated)
                }
            };
            self.report.count(outcome);
            self.programmes.insert(seed.name, id);
        }
        for seed in document.projects {
            let title = seed.title.clone();
            self.project(conn, &document.source_document, seed)
                .await
                .with_context(|| format!("project {title:?}"))?;
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
        let input = ProjectInput {
            reference: seed.reference,
            title: seed.title,
            title_en: seed.title_en,
            summary: seed.summary,
            aim: seed.aim,
            problem: seed.problem,
            objectives: seed.objectives,
            status: seed.status,
            lead_organisation_id: lead,
            programme_id: seed
                .programme
                .as_deref()
                .map(|n| self.programme_id(n))
                .transpose()?,
            start_date: seed.start_date,
            end_date: seed.end_date,
            date_precision: seed.date_precision.unwrap_or(DatePrecision::Day),
            places: seed.places,
            regions: seed.regions,
            target_groups: seed.target_groups,
            total_budget: None,
            currency: None,
            website: seed.website,
            contact: seed.contact,
            source_document: Some(source.to_owned()),
            funding,
            translations: Default::default(),
        };
        checked("project", &input)?;
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
        let project_id = match existing {
            None => {
                let project = crate::projects::insert_project(conn, input)
                    .await
                    .map_err(db)?;
                self.report.count(Outcome::Created);
                project.id
            }
            Some(row) => {
                let id = row.id;
                let funding = crate::projects::load_funding(conn, &[id])
                    .await
                    .map_err(db)?
                    .remove(&id)
                    .unwrap_or_default();
                if ProjectInput::from_stored(row, funding) == input {
                    self.report.count(Outcome::Unchanged);
                } else {
                    crate::projects::store_project(conn, id, input)
                        .await
                        .map_err(db)?;
                    self.report.count(Outcome::Updated);
                }
                id
            }
        };
        for partner in seed.partners {
            let input = PartnerInput {
                organisation_id: self.organisation_id(&partner.organisation)?,
                role: partner.role,
                description: partner.description,
            };
            checked("partner", &input)?;
            let existing: Option<PartnerRow> = project_partners::table
                .filter(project_partners::project_id.eq(project_id))
                .filter(project_partners::organisation_id.eq(input.organisation_id))
                .filter(project_partners::role.eq(&input.role))
                .select(PartnerRow::as_select())
                .first(conn)
                .await
                .optional()?;
            let outcome = match existing {
                None => {
                    diesel::insert_into(project_partners::table)
                        .values((
                            project_partners::id.eq(Uuid::now_v7()),
                            project_partners::project_id.eq(project_id),
                            &input,
                        ))
                        .execute(conn)
                        .await?;
                    Outcome::Created
                }
                Some(row) if PartnerInput::from(row.clone()) == input => Outcome::Unchanged,
                Some(row) => {
                    diesel::update(project_partners::table.find(row.id))
                        .set(&input)
                        .execute(conn)
                        .await?;
                    Outcome::Updated
                }
            };
            self.report.count(outcome);
        }
        let mut activity_ids: HashMap<String, Uuid> = HashMap::new();
        for seed_activity in seed.activities {
            let input = seed_activity.activity;
            checked(&format!("activity {:?}", seed_activity.key), &input)?;
            let existing: Option<ActivityRow> = activities::table
                .filter(activities::project_id.eq(project_id))
                .filter(activities::title.eq(&input.title))
                .select(ActivityRow::as_select())
                .first(conn)
                .await
                .optional()?;
            let (id, outcome) = match existing {
                None => (
                    crate::activities::insert_activity(conn, project_id, &input)
                        .await
                        .map_err(db)?
                        .id,
                    Outcome::Created,
                ),
                Some(row) if ActivityInput::from(row.clone()) == input => {
                    (row.id, Outcome::Unchanged)
                }
                Some(row) => {
                    diesel::update(activities::table.find(row.id))
                        .set(&input)
                        .execute(conn)
                        .await?;
                    (row.id, Outcome::Updated)
                }
            };
            self.report.count(outcome);
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
            checked(&format!("metric {}", input.indicator), &input)?;
            let form = crate::metrics::form(conn, &input).await.map_err(db)?;
            let existing: Option<MetricRow> = metric_values::table
                .filter(metric_values::project_id.eq(project_id))
                .filter(metric_values::indicator_id.eq(form.indicator_id))
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
            let outcome = match existing {
                None => {
                    crate::metrics::insert_metric(conn, project_id, &input)
                        .await
                        .map_err(db)?;
                    Outcome::Created
                }
                Some(row)
                    if MetricInput::from_stored(row.clone(), input.indicator.clone()) == input =>
                {
                    Outcome::Unchanged
                }
                Some(row) => {
                    diesel::update(metric_values::table.find(row.id))
                        .set(form)
                        .execute(conn)
                        .await?;
                    Outcome::Updated
                }
            };
            self.report.count(outcome);
        }
        Ok(())
    }
}

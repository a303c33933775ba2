//! Projects: funded undertakings with a reference number, period, aims, target groups,
//! locations, a lead organisation, funding lines and a (private) contact.

use std::collections::HashMap;

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::app::AppState;
use crate::auth::{Access, Caller};
use crate::decimal;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, IfMatch, Json, MergePatch, NoParams, Query};
use crate::language::Lang;
use crate::schema::{project_funding, projects};
use crate::validation;

mod list;

pub use list::{content_language, embed, filters, Embed, ProjectListParams};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list::list_projects)
        .service(create_project)
        .service(find_project)
        .service(update_project)
        .service(delete_project);
}

crate::text_enum! {
    /// Lifecycle of a project. `draft` records are not yet published.
    ProjectStatus { Draft => "draft", Planned => "planned", Active => "active", Completed => "completed", Cancelled => "cancelled" }
}

impl ProjectStatus {
    /// Human label, for CSV exports.
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (ProjectStatus::Draft, Lang::Lv) => "Melnraksts",
            (ProjectStatus::Planned, Lang::Lv) => "Plānots",
            (ProjectStatus::Active, Lang::Lv) => "Norisinās",
            (ProjectStatus::Completed, Lang::Lv) => "Pabeigts",
            (ProjectStatus::Cancelled, Lang::Lv) => "Atcelts",
            (ProjectStatus::Draft, _) => "Draft",
            (ProjectStatus::Planned, _) => "Planned",
            (ProjectStatus::Active, _) => "Active",
            (ProjectStatus::Completed, _) => "Completed",
            (ProjectStatus::Cancelled, _) => "Cancelled",
        }
    }
}

crate::text_enum! {
    /// How precise `start_date`/`end_date` are: `month` means the source gives only months (the
    /// dates are then the first and last day of those months), `year` only years.
    DatePrecision { Day => "day", Month => "month", Year => "year" }
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = projects, check_for_backend(diesel::pg::Pg))]
pub struct ProjectRow {
    pub id: Uuid,
    pub reference: Option<String>,
    pub title: String,
    pub title_en: Option<String>,
    pub summary: Option<String>,
    pub aim: Option<String>,
    pub problem: Option<String>,
    pub objectives: Vec<String>,
    pub status: ProjectStatus,
    pub lead_organisation_id: Uuid,
    pub programme_id: Option<Uuid>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub date_precision: DatePrecision,
    pub places: Vec<String>,
    pub regions: Vec<String>,
    pub target_groups: Vec<String>,
    pub total_budget: Option<BigDecimal>,
    pub currency: Option<String>,
    pub website: Option<String>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub source_document: Option<String>,
    pub translations: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = project_funding, check_for_backend(diesel::pg::Pg))]
pub struct FundingRow {
    pub project_id: Uuid,
    pub programme_id: Option<Uuid>,
    pub funder_id: Option<Uuid>,
    pub share_percent: Option<BigDecimal>,
    pub amount: Option<BigDecimal>,
    pub currency: Option<String>,
}

/// The person to contact about a project. Personal data: stored, never shown to anonymous
/// readers (only keys with `read:private` on the project will see it, once API keys exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Full name.
    #[validate(length(min = 1, max = 200), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 200, example = "Kristīne Liepiņa")]
    pub name: Option<String>,
    /// Email address.
    #[validate(length(max = 254), email)]
    #[schema(max_length = 254, format = Email, example = "kristine@iic.lv")]
    pub email: Option<String>,
    /// Phone number.
    #[validate(length(max = 50), custom(function = "validation::phone"))]
    #[schema(
        max_length = 50,
        pattern = "^[ +().-]*([0-9][ +().-]*){5,}$",
        example = "65235635"
    )]
    pub phone: Option<String>,
}

/// One funding line: who pays which share (and amount) of the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "funding_line"))]
pub struct Funding {
    /// The programme or fund the money comes through.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7d")]
    pub programme_id: Option<Uuid>,
    /// The organisation paying (when not implied by the programme).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub funder_id: Option<Uuid>,
    /// Share of the project's cost, in percent (0-100, at most 2 decimals). Shares of one project
    /// add up to at most 100.
    #[validate(range(min = 0.0, max = 100.0))]
    #[schema(minimum = 0, maximum = 100, multiple_of = 0.01, example = 92.07)]
    pub share_percent: Option<f64>,
    /// Amount as a decimal string.
    #[validate(custom(function = "decimal::money"))]
    #[schema(pattern = "^[0-9]{1,14}(\\.[0-9]{1,2})?$", example = "45000.00")]
    pub amount: Option<String>,
    /// ISO 4217 currency of `amount` (required with it).
    #[validate(custom(function = "validation::currency"))]
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: Option<String>,
}

fn funding_line(line: &Funding) -> Result<(), ValidationError> {
    let blame = |field: &'static str, code: &'static str, message: &'static str| {
        let mut err = ValidationError::new(code).with_message(message.into());
        err.add_param("field".into(), &field);
        Err(err)
    };
    if line.programme_id.is_none() && line.funder_id.is_none() {
        return blame(
            "programme_id",
            "required",
            "a funding line names a programme_id or a funder_id",
        );
    }
    if line.amount.is_some() != line.currency.is_some() {
        return blame("currency", "required", "amount and currency go together");
    }
    if line
        .share_percent
        .is_some_and(|s| !decimal::has_at_most_decimals(s, 2))
    {
        return blame(
            "share_percent",
            "invalid",
            "share_percent has at most 2 decimals",
        );
    }
    Ok(())
}

/// The writable fields of a project (create body; PATCH merges into it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "project_rules"))]
pub struct ProjectInput {
    /// Reference number given by the funder (unique).
    #[validate(length(min = 1, max = 100), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 100,
        example = "1DP/1.5.2.2.2/12/APIA/SIF/176"
    )]
    pub reference: Option<String>,
    /// Title in the original language.
    #[validate(length(min = 1, max = 500), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "Koalīcija mazākumtautību politiskai līdzdalībai valsts sektorā"
    )]
    pub title: String,
    /// English title.
    #[validate(length(min = 1, max = 500), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "Coalition for minority political participation in the public sector"
    )]
    pub title_en: Option<String>,
    /// Short English summary.
    #[validate(length(max = 5000))]
    #[schema(
        max_length = 5000,
        example = "Builds a coalition of minority NGOs to take part in policy making."
    )]
    pub summary: Option<String>,
    /// The project's aim, as stated by it.
    #[validate(length(max = 5000))]
    #[schema(
        max_length = 5000,
        example = "stiprināt mazākumtautību un citu NVO kapacitāti"
    )]
    pub aim: Option<String>,
    /// The problem the project addresses.
    #[validate(length(max = 5000))]
    #[schema(
        max_length = 5000,
        example = "demokrātiskas, saliedētas un pilsoniskas sabiedrības veidošana"
    )]
    pub problem: Option<String>,
    /// Objectives, in order (at most 50, each at most 2000 characters).
    #[serde(default)]
    #[validate(length(max = 50), custom(function = "texts_2000"))]
    #[schema(max_items = 50, example = json!(["izveidot koalīciju mazākumtautību NVO pārstāvniecībai"]))]
    pub objectives: Vec<String>,
    /// Lifecycle status.
    pub status: ProjectStatus,
    /// The organisation that runs the project.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub lead_organisation_id: Uuid,
    /// The main programme the project is funded under.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7d")]
    pub programme_id: Option<Uuid>,
    /// First day of the project.
    #[schema(example = "2012-09-01")]
    pub start_date: Option<NaiveDate>,
    /// Last day of the project (not before `start_date`).
    #[schema(example = "2013-08-31")]
    pub end_date: Option<NaiveDate>,
    /// Precision of the dates; default `day`.
    #[serde(default = "default_precision")]
    pub date_precision: DatePrecision,
    /// Places where the project works, as named in the source.
    #[serde(default)]
    #[validate(length(max = 100), custom(function = "texts_300"))]
    #[schema(max_items = 100, example = json!(["Daugavpils", "Ilūkstes novads"]))]
    pub places: Vec<String>,
    /// Region codes (`/v1/vocabularies/regions`).
    #[serde(default)]
    #[validate(length(max = 20), custom(function = "codes"))]
    #[schema(max_items = 20, example = json!(["latgale"]))]
    pub regions: Vec<String>,
    /// Target group codes (`/v1/vocabularies/target_groups`).
    #[serde(default)]
    #[validate(length(max = 30), custom(function = "codes"))]
    #[schema(max_items = 30, example = json!(["seniors", "youth"]))]
    pub target_groups: Vec<String>,
    /// Total budget as a decimal string.
    #[validate(custom(function = "decimal::money"))]
    #[schema(pattern = "^[0-9]{1,14}(\\.[0-9]{1,2})?$", example = "48875.00")]
    pub total_budget: Option<String>,
    /// ISO 4217 currency of `total_budget` (required with it).
    #[validate(custom(function = "validation::currency"))]
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: Option<String>,
    /// Project website.
    #[validate(length(max = 500), custom(function = "validation::web_url"))]
    #[schema(
        max_length = 500,
        pattern = r"^https?://([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(:[0-9]{1,4})?([/?#][^\s]*)?$",
        example = "https://www.iic.lv"
    )]
    pub website: Option<String>,
    /// Contact person (personal data: never shown to anonymous readers).
    #[validate(nested)]
    pub contact: Option<Contact>,
    /// Which source document the record was taken from, if any.
    #[validate(length(max = 200))]
    #[schema(max_length = 200, example = "003_6a0a2d907bb83948.txt")]
    pub source_document: Option<String>,
    /// Funding lines (replaced as a whole on PATCH).
    #[serde(default)]
    #[validate(length(max = 20), nested)]
    #[schema(max_items = 20)]
    pub funding: Vec<Funding>,
    /// Translations of the title, summary and aim (`lang=` picks one when reading).
    #[serde(default)]
    #[validate(nested)]
    pub translations: Translations,
}

/// Translations of a project's texts, by language. Latvian is the original language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Translations {
    /// English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    #[schema(nullable = false)]
    pub en: Option<TranslatedTexts>,
    /// Russian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    #[schema(nullable = false)]
    pub ru: Option<TranslatedTexts>,
}

/// A project's texts in one language; each is optional (missing ones fall back to the original).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranslatedTexts {
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 500), custom(function = "validation::trimmed"))]
    #[schema(
        min_length = 1,
        max_length = 500,
        nullable = false,
        example = "Coalition for minority political participation in the public sector"
    )]
    pub title: Option<String>,
    /// Summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(max = 5000))]
    #[schema(max_length = 5000, nullable = false)]
    pub summary: Option<String>,
    /// Aim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(max = 5000))]
    #[schema(max_length = 5000, nullable = false)]
    pub aim: Option<String>,
}

impl Translations {
    pub fn get(&self, lang: Lang) -> Option<&TranslatedTexts> {
        match lang {
            Lang::Lv => None,
            Lang::En => self.en.as_ref(),
            Lang::Ru => self.ru.as_ref(),
        }
    }

    fn from_stored(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }
}

fn default_precision() -> DatePrecision {
    DatePrecision::Day
}

fn texts(values: &[String], max: usize) -> Result<(), ValidationError> {
    if values
        .iter()
        .any(|v| v.trim().is_empty() || v.chars().count() > max)
    {
        let mut err = ValidationError::new("length")
            .with_message(format!("each entry must be 1 to {max} characters").into());
        err.add_param("max".into(), &max);
        return Err(err);
    }
    Ok(())
}

fn texts_2000(values: &[String]) -> Result<(), ValidationError> {
    texts(values, 2000)
}

fn texts_300(values: &[String]) -> Result<(), ValidationError> {
    texts(values, 300)
}

fn codes(values: &[String]) -> Result<(), ValidationError> {
    values.iter().try_for_each(|v| validation::code(v))?;
    let mut unique = values.to_vec();
    unique.sort();
    unique.dedup();
    if unique.len() != values.len() {
        return Err(ValidationError::new("duplicate").with_message("codes must not repeat".into()));
    }
    Ok(())
}

fn project_rules(input: &ProjectInput) -> Result<(), ValidationError> {
    validation::period(
        input.start_date.as_ref(),
        input.end_date.as_ref(),
        "end_date",
    )?;
    if input.total_budget.is_some() != input.currency.is_some() {
        let mut err = ValidationError::new("required")
            .with_message("total_budget and currency go together".into());
        err.add_param("field".into(), &"currency");
        return Err(err);
    }
    let total: f64 = input.funding.iter().filter_map(|f| f.share_percent).sum();
    if total > 100.0 + 1e-9 {
        let mut err = ValidationError::new("out_of_range").with_message(
            format!("funding shares add up to {total} percent, more than 100").into(),
        );
        err.add_param("field".into(), &"funding");
        return Err(err);
    }
    Ok(())
}

/// The stored columns of a project, from its input.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = projects, treat_none_as_null = true)]
struct ProjectForm {
    reference: Option<String>,
    title: String,
    title_en: Option<String>,
    summary: Option<String>,
    aim: Option<String>,
    problem: Option<String>,
    objectives: Vec<String>,
    status: ProjectStatus,
    lead_organisation_id: Uuid,
    programme_id: Option<Uuid>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    date_precision: DatePrecision,
    places: Vec<String>,
    regions: Vec<String>,
    target_groups: Vec<String>,
    total_budget: Option<BigDecimal>,
    currency: Option<String>,
    website: Option<String>,
    contact_name: Option<String>,
    contact_email: Option<String>,
    contact_phone: Option<String>,
    source_document: Option<String>,
    translations: serde_json::Value,
}

impl From<&ProjectInput> for ProjectForm {
    fn from(i: &ProjectInput) -> Self {
        let contact = i.contact.clone().unwrap_or(Contact {
            name: None,
            email: None,
            phone: None,
        });
        ProjectForm {
            reference: i.reference.clone(),
            title: i.title.clone(),
            title_en: i.title_en.clone(),
            summary: i.summary.clone(),
            aim: i.aim.clone(),
            problem: i.problem.clone(),
            objectives: i.objectives.clone(),
            status: i.status,
            lead_organisation_id: i.lead_organisation_id,
            programme_id: i.programme_id,
            start_date: i.start_date,
            end_date: i.end_date,
            date_precision: i.date_precision,
            places: i.places.clone(),
            regions: i.regions.clone(),
            target_groups: i.target_groups.clone(),
            total_budget: i.total_budget.as_deref().map(decimal::parse_money),
            currency: i.currency.clone(),
            website: i.website.clone(),
            contact_name: contact.name,
            contact_email: contact.email,
            contact_phone: contact.phone,
            source_document: i.source_document.clone(),
            translations: serde_json::to_value(&i.translations)
                .unwrap_or_else(|_| serde_json::json!({})),
        }
    }
}

impl From<&FundingRow> for Funding {
    fn from(r: &FundingRow) -> Self {
        Funding {
            programme_id: r.programme_id,
            funder_id: r.funder_id,
            share_percent: r.share_percent.as_ref().map(decimal::to_f64),
            amount: r.amount.as_ref().map(decimal::money_string),
            currency: r.currency.clone(),
        }
    }
}

impl ProjectRow {
    /// The stored contact person, if any part of it is stored.
    fn contact(&self) -> Option<Contact> {
        (self.contact_name.is_some()
            || self.contact_email.is_some()
            || self.contact_phone.is_some())
        .then(|| Contact {
            name: self.contact_name.clone(),
            email: self.contact_email.clone(),
            phone: self.contact_phone.clone(),
        })
    }
}

impl ProjectInput {
    pub fn from_stored(r: ProjectRow, funding: Vec<Funding>) -> Self {
        let contact = r.contact();
        let translations = Translations::from_stored(&r.translations);
        ProjectInput {
            reference: r.reference,
            title: r.title,
            title_en: r.title_en,
            summary: r.summary,
            aim: r.aim,
            problem: r.problem,
            objectives: r.objectives,
            status: r.status,
            lead_organisation_id: r.lead_organisation_id,
            programme_id: r.programme_id,
            start_date: r.start_date,
            end_date: r.end_date,
            date_precision: r.date_precision,
            places: r.places,
            regions: r.regions,
            target_groups: r.target_groups,
            total_budget: r.total_budget.as_ref().map(decimal::money_string),
            currency: r.currency,
            website: r.website,
            contact,
            source_document: r.source_document,
            funding,
            translations,
        }
    }
}

/// A project as published. The contact person is not part of the public record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Project {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub id: Uuid,
    /// Reference number given by the funder.
    #[schema(example = "1DP/1.5.2.2.2/12/APIA/SIF/176")]
    pub reference: Option<String>,
    /// Title in the original language.
    #[schema(example = "Koalīcija mazākumtautību politiskai līdzdalībai valsts sektorā")]
    pub title: String,
    /// English title.
    #[schema(example = "Coalition for minority political participation in the public sector")]
    pub title_en: Option<String>,
    /// Short English summary.
    #[schema(example = "Builds a coalition of minority NGOs to take part in policy making.")]
    pub summary: Option<String>,
    /// The project's aim.
    #[schema(example = "stiprināt mazākumtautību un citu NVO kapacitāti")]
    pub aim: Option<String>,
    /// The problem addressed.
    #[schema(example = "demokrātiskas, saliedētas un pilsoniskas sabiedrības veidošana")]
    pub problem: Option<String>,
    /// Objectives, in order.
    #[schema(example = json!(["izveidot koalīciju mazākumtautību NVO pārstāvniecībai"]))]
    pub objectives: Vec<String>,
    /// Lifecycle status.
    pub status: ProjectStatus,
    /// The organisation that runs the project.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub lead_organisation_id: Uuid,
    /// The main programme.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7d")]
    pub programme_id: Option<Uuid>,
    /// First day.
    #[schema(example = "2012-09-01")]
    pub start_date: Option<NaiveDate>,
    /// Last day.
    #[schema(example = "2013-08-31")]
    pub end_date: Option<NaiveDate>,
    /// Precision of the dates.
    pub date_precision: DatePrecision,
    /// Places, as named in the source.
    #[schema(example = json!(["Daugavpils", "Ilūkstes novads"]))]
    pub places: Vec<String>,
    /// Region codes.
    #[schema(example = json!(["latgale"]))]
    pub regions: Vec<String>,
    /// Target group codes.
    #[schema(example = json!(["seniors", "youth"]))]
    pub target_groups: Vec<String>,
    /// Total budget as a decimal string.
    #[schema(example = "48875.00")]
    pub total_budget: Option<String>,
    /// Currency of `total_budget`.
    #[schema(example = "EUR")]
    pub currency: Option<String>,
    /// Project website.
    #[schema(example = "https://www.iic.lv")]
    pub website: Option<String>,
    /// Source document the record was taken from.
    #[schema(example = "003_6a0a2d907bb83948.txt")]
    pub source_document: Option<String>,
    /// Funding lines.
    pub funding: Vec<Funding>,
    /// All stored translations of the title, summary and aim.
    pub translations: Translations,
    /// The language `title`, `summary` and `aim` are given in: the one asked for with `lang` or
    /// `Accept-Language` where a translation exists, otherwise `lv` (the original).
    pub language: Lang,
    /// The lead organisation (with `include=lead_organisation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub lead_organisation: Option<crate::organisations::Organisation>,
    /// The main programme (with `include=programme`; absent when the project has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub programme: Option<crate::programmes::Programme>,
    /// Partners, each with its organisation (with `include=partners`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub partners: Option<Vec<crate::partners::Partner>>,
    /// Activities (with `include=activities`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub activities: Option<Vec<crate::activities::Activity>>,
    /// Metric values (with `include=metrics`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub metrics: Option<Vec<crate::metrics::MetricValue>>,
    /// The contact person: personal data, present only on a single project read with a key
    /// that may see the project's private data (`read:private` of a lead or partner, or `admin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub contact: Option<Contact>,
    /// When the record was created.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub created_at: DateTime<Utc>,
    /// When the record (or its funding lines) last changed.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub updated_at: DateTime<Utc>,
    /// 1 at creation, +1 on every change.
    #[schema(example = 1, minimum = 1)]
    pub version: i32,
}

impl Project {
    pub fn from_parts(r: ProjectRow, funding: Vec<Funding>) -> Self {
        let translations = Translations::from_stored(&r.translations);
        Project {
            id: r.id,
            reference: r.reference,
            title: r.title,
            title_en: r.title_en,
            summary: r.summary,
            aim: r.aim,
            problem: r.problem,
            objectives: r.objectives,
            status: r.status,
            lead_organisation_id: r.lead_organisation_id,
            programme_id: r.programme_id,
            start_date: r.start_date,
            end_date: r.end_date,
            date_precision: r.date_precision,
            places: r.places,
            regions: r.regions,
            target_groups: r.target_groups,
            total_budget: r.total_budget.as_ref().map(decimal::money_string),
            currency: r.currency,
            website: r.website,
            source_document: r.source_document,
            funding,
            translations,
            language: Lang::Lv,
            lead_organisation: None,
            programme: None,
            partners: None,
            activities: None,
            metrics: None,
            contact: None,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }

    /// Gives the title, summary and aim in `lang` where translated (`title_en` counts as the
    /// English title), and records which language was given.
    pub fn translate(&mut self, lang: Lang) {
        let texts = self.translations.get(lang).cloned().unwrap_or_default();
        let title = texts
            .title
            .or_else(|| (lang == Lang::En).then(|| self.title_en.clone()).flatten());
        let mut translated = false;
        if let Some(title) = title {
            self.title = title;
            translated = true;
        }
        if let Some(summary) = texts.summary {
            self.summary = Some(summary);
            translated = true;
        }
        if let Some(aim) = texts.aim {
            self.aim = Some(aim);
            translated = true;
        }
        if translated {
            self.language = lang;
        }
    }
}

/// Titles of several projects in one query (for exports that name each row's project).
pub async fn titles(
    conn: &mut AsyncPgConnection,
    ids: impl IntoIterator<Item = Uuid>,
) -> ApiResult<HashMap<Uuid, String>> {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    Ok(projects::table
        .filter(projects::id.eq_any(ids))
        .select((projects::id, projects::title))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect())
}

/// Funding lines of several projects in one query, in their stored order.
pub async fn load_funding(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, Vec<Funding>>> {
    let rows: Vec<FundingRow> = project_funding::table
        .filter(project_funding::project_id.eq_any(ids))
        .order((project_funding::project_id, project_funding::position))
        .select(FundingRow::as_select())
        .load(conn)
        .await?;
    let mut map: HashMap<Uuid, Vec<Funding>> = HashMap::new();
    for row in &rows {
        map.entry(row.project_id)
            .or_default()
            .push(Funding::from(row));
    }
    Ok(map)
}

async fn replace_funding(
    conn: &mut AsyncPgConnection,
    project: Uuid,
    funding: &[Funding],
) -> ApiResult<()> {
    diesel::delete(project_funding::table.filter(project_funding::project_id.eq(project)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = funding
        .iter()
        .enumerate()
        .map(|(position, line)| {
            (
                project_funding::id.eq(Uuid::now_v7()),
                project_funding::project_id.eq(project),
                project_funding::position.eq(position as i32),
                project_funding::programme_id.eq(line.programme_id),
                project_funding::funder_id.eq(line.funder_id),
                project_funding::share_percent.eq(line.share_percent.map(decimal::to_decimal)),
                project_funding::amount.eq(line.amount.as_deref().map(decimal::parse_money)),
                project_funding::currency.eq(line.currency.clone()),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(project_funding::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Replaces a project's stored fields and funding lines with `input` (caller holds the row lock).
pub async fn store_project(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    input: ProjectInput,
) -> ApiResult<Project> {
    let row: ProjectRow = diesel::update(projects::table.find(id))
        .set(ProjectForm::from(&input))
        .returning(ProjectRow::as_returning())
        .get_result(conn)
        .await?;
    replace_funding(conn, id, &input.funding).await?;
    Ok(Project::from_parts(row, input.funding))
}

/// Inserts a project with its funding lines (one transaction); used by the API and the seeds.
pub async fn insert_project(
    conn: &mut AsyncPgConnection,
    input: ProjectInput,
) -> ApiResult<Project> {
    conn.transaction(async |conn| -> ApiResult<Project> {
        let row: ProjectRow = diesel::insert_into(projects::table)
            .values((projects::id.eq(Uuid::now_v7()), ProjectForm::from(&input)))
            .returning(ProjectRow::as_returning())
            .get_result(conn)
            .await?;
        replace_funding(conn, row.id, &input.funding).await?;
        Ok(Project::from_parts(row, input.funding))
    })
    .await
}

/// Create a project
#[utoipa::path(
    tag = "projects",
    request_body = ProjectInput,
    responses(
        (status = 201, description = "Created", body = Project,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "Reference number already taken", body = crate::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[post("/projects")]
async fn create_project(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<ProjectInput>,
) -> ApiResult<HttpResponse> {
    validation::validate(&input)?;
    let mut conn = state.writer(&caller).await?;
    caller
        .authorize(
            &mut conn,
            Access::LeadProject {
                lead: input.lead_organisation_id,
            },
        )
        .await?;
    let project = insert_project(&mut conn, input).await?;
    let tag = http::etag(&project.id, project.version);
    Ok(http::created(
        format!("/v1/projects/{}", project.id),
        tag,
        &project,
    ))
}

/// Get a project
///
/// With `include` or a language the response is not the bare record, so it carries a weak
/// ETag of its content instead of the record's strong one.
#[utoipa::path(
    tag = "projects",
    params(("id" = Uuid, Path, description = "Project id"), list::ProjectReadParams),
    responses(
        (status = 200, description = "The project", body = Project,
            headers(("ETag" = String, description = "Entity tag; send as If-None-Match or If-Match"),
                    ("Content-Language" = String, description = "The language asked for, when one was"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/projects/{id}")]
async fn find_project(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    Query(params): Query<list::ProjectReadParams>,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "project")?;
    let embeds = params.embeds()?;
    let lang = Lang::negotiate(params.lang, &req);
    let mut conn = state.reader(&caller).await?;
    let row = projects::table
        .find(id)
        .select(ProjectRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("project", id))?;
    let private = caller.sees_private(&mut conn, id).await?;
    if row.status == ProjectStatus::Draft && !private {
        return Err(ApiError::not_found("project", id));
    }
    let tag = http::etag(&row.id, row.version);
    let bare = embeds.is_empty() && lang.is_none();
    if bare && http::not_modified(&req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header(actix_web::http::header::ETag(tag))
            .finish());
    }
    let funding = load_funding(&mut conn, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let contact = private.then(|| row.contact()).flatten();
    let mut project = Project::from_parts(row, funding);
    project.contact = contact;
    if bare {
        return Ok(http::record_response(&req, tag, &project));
    }
    if let Some(lang) = lang {
        project.translate(lang);
    }
    embed(&mut conn, std::slice::from_mut(&mut project), &embeds).await?;
    let mut response = http::json_response(HttpResponse::Ok(), &project, None);
    content_language(&mut response, lang);
    Ok(response)
}

/// Update a project (JSON Merge Patch)
///
/// `funding`, `objectives`, `places`, `regions` and `target_groups` are replaced as a whole.
#[utoipa::path(
    tag = "projects",
    params(("id" = Uuid, Path, description = "Project id"), ("If-Match" = Option<String>, Header,
        description = "ETag the change is based on; a stale one gives 412"), NoParams),
    request_body(content = ProjectInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = Project, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "Reference number already taken", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/projects/{id}")]
async fn update_project(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "project")?;
    let precondition = IfMatch::from_request(&req);
    let mut conn = state.writer(&caller).await?;
    caller
        .authorize(&mut conn, Access::EditProject { project: id })
        .await?;
    let project = conn
        .transaction(async |conn| -> ApiResult<Project> {
            let current = lock(conn, id).await?;
            let lead = current.lead_organisation_id;
            precondition.check(&http::etag(&current.id, current.version))?;
            let funding = load_funding(conn, &[id])
                .await?
                .remove(&id)
                .unwrap_or_default();
            let input: ProjectInput =
                http::merge(&ProjectInput::from_stored(current, funding), patch)?;
            validation::validate(&input)?;
            if input.lead_organisation_id != lead {
                let lead = input.lead_organisation_id;
                caller.authorize(conn, Access::LeadProject { lead }).await?;
            }
            store_project(conn, id, input).await
        })
        .await?;
    let tag = http::etag(&project.id, project.version);
    Ok(http::json_response(HttpResponse::Ok(), &project, Some(tag)))
}

/// Delete a project
///
/// Also deletes its funding lines, partners, activities and metric values.
#[utoipa::path(
    tag = "projects",
    params(("id" = Uuid, Path, description = "Project id"), ("If-Match" = Option<String>, Header,
        description = "ETag the deletion is based on; a stale one gives 412"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/projects/{id}")]
async fn delete_project(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "project")?;
    let precondition = IfMatch::from_request(&req);
    let mut conn = state.writer(&caller).await?;
    caller
        .authorize(&mut conn, Access::EditProject { project: id })
        .await?;
    conn.transaction(async |conn| -> ApiResult<()> {
        let current = lock(conn, id).await?;
        precondition.check(&http::etag(&current.id, current.version))?;
        diesel::delete(projects::table.find(id))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Locks a project row for a change and returns it (404 when absent).
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<ProjectRow> {
    projects::table
        .find(id)
        .select(ProjectRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("project", id))
}

/// 404 unless the project exists (for sub-resources addressed through it).
pub async fn ensure_exists(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<()> {
    let found: i64 = projects::table.find(id).count().get_result(conn).await?;
    if found == 0 {
        return Err(ApiError::not_found("project", id));
    }
    Ok(())
}

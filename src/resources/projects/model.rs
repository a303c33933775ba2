//! A project's stored row, writable fields (with funding lines and translations) and published
//! form, and how the write skeleton stores it.

use std::collections::HashMap;

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::auth::Access;
use crate::domain::{
    money, DatePrecision, Id, Lang, Money, OrganisationId, PlacePoint, PlacePoints, ProjectId,
    ProjectStatus,
};
use crate::resources::activities::Activity;
use crate::resources::metrics::MetricValue;
use crate::resources::organisations::Organisation;
use crate::resources::partners::Partner;
use crate::resources::programmes::Programme;
use crate::resources::record::{Lock, Record, Rights};
use crate::resources::sources::{self, Citation, Citing, SourceLink};
use crate::schema::{project_funding, projects};
use crate::validation;
use crate::web::error::ApiResult;

/// Declares a project's facts once: each becomes a column of the row, a writable field of the
/// input (with the input's rules) and a field of the published record (with its examples), and
/// the conversions between them copy it. The few fields that are not plain facts (money, the
/// private contact, funding lines, translations) are written out in the structs below.
///
/// Adding a project field: a migration, `schema.rs`, one entry here, and the CSV columns in
/// `list.rs` if it is exported.
macro_rules! project_model {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: [$($ty:tt)+], input [$($input:meta),*], record [$($record:meta),*];
    )*) => {
        /// A project as stored.
        #[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
        #[diesel(table_name = projects, check_for_backend(diesel::pg::Pg))]
        pub struct ProjectRow {
            pub id: Uuid,
            $(pub $name: $($ty)+,)*
            pub total_budget: Option<BigDecimal>,
            pub currency: Option<String>,
            pub website: Option<String>,
            pub contact_name: Option<String>,
            pub contact_email: Option<String>,
            pub contact_phone: Option<String>,
            pub contact_role: Option<String>,
            pub source_document: Option<String>,
            pub translations: serde_json::Value,
            pub created_at: DateTime<Utc>,
            pub updated_at: DateTime<Utc>,
            pub version: i32,
        }

        /// The writable fields of a project (create body; PATCH merges into it).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
        #[serde(deny_unknown_fields)]
        #[validate(schema(function = "project_rules", skip_on_field_errors = false))]
        pub struct ProjectInput {
            $($(#[doc = $doc])* $(#[$input])* pub $name: $($ty)+,)*
            /// Total budget as a decimal string.
            #[validate(custom(function = "money::money"))]
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
            /// The sources the project rests on, each naming the fields it gives (replaced as a
            /// whole on PATCH).
            #[serde(default)]
            #[validate(length(max = 50), nested)]
            #[schema(max_items = 50)]
            pub sources: Vec<SourceLink>,
            /// Translations of the title, summary and aim (`lang=` picks one when reading).
            #[serde(default)]
            #[validate(nested)]
            pub translations: Translations,
        }

        /// The stored columns of a project, from its input.
        #[derive(Insertable, AsChangeset)]
        #[diesel(table_name = projects, treat_none_as_null = true)]
        struct ProjectForm {
            $($name: $($ty)+,)*
            total_budget: Option<BigDecimal>,
            currency: Option<String>,
            website: Option<String>,
            contact_name: Option<String>,
            contact_email: Option<String>,
            contact_phone: Option<String>,
            contact_role: Option<String>,
            source_document: Option<String>,
            translations: serde_json::Value,
        }

        impl From<&ProjectInput> for ProjectForm {
            fn from(i: &ProjectInput) -> Self {
                let i = i.clone();
                let contact = i.contact.unwrap_or_default();
                ProjectForm {
                    $($name: i.$name,)*
                    total_budget: i.total_budget.as_deref().and_then(money::amount),
                    currency: i.currency,
                    website: i.website,
                    contact_name: contact.name,
                    contact_email: contact.email,
                    contact_phone: contact.phone,
                    contact_role: contact.role,
                    source_document: i.source_document,
                    translations: serde_json::to_value(&i.translations)
                        .unwrap_or_else(|_| serde_json::json!({})),
                }
            }
        }

        impl ProjectInput {
            /// The stored project in its writable form.
            pub fn from_stored(r: ProjectRow, funding: Vec<Funding>, sources: Vec<SourceLink>) -> Self {
                let contact = r.contact();
                let translations = Translations::from_stored(&r.translations);
                ProjectInput {
                    $($name: r.$name,)*
                    total_budget: r.total_budget.map(|a| Money::from_stored(a).to_string()),
                    currency: r.currency,
                    website: r.website,
                    contact,
                    source_document: r.source_document,
                    funding,
                    sources,
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
            $($(#[doc = $doc])* $(#[$record])* pub $name: $($ty)+,)*
            /// Total budget as a decimal string.
            #[schema(value_type = Option<String>, example = "48875.00")]
            pub total_budget: Option<Money>,
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
            /// The sources the project rests on (with `include=sources`, each with its source).
            pub sources: Vec<Citation>,
            /// All stored translations of the title, summary and aim.
            pub translations: Translations,
            /// The language `title`, `summary` and `aim` are given in: the one asked for with `lang` or
            /// `Accept-Language` where a translation exists, otherwise `lv` (the original).
            pub language: Lang,
            /// The lead organisation (with `include=lead_organisation`).
            #[serde(skip_serializing_if = "Option::is_none")]
            #[schema(nullable = false)]
            pub lead_organisation: Option<Organisation>,
            /// The main programme (with `include=programme`; absent when the project has none).
            #[serde(skip_serializing_if = "Option::is_none")]
            #[schema(nullable = false)]
            pub programme: Option<Programme>,
            /// Partners, each with its organisation (with `include=partners`).
            #[serde(skip_serializing_if = "Option::is_none")]
            #[schema(nullable = false)]
            pub partners: Option<Vec<Partner>>,
            /// Activities (with `include=activities`).
            #[serde(skip_serializing_if = "Option::is_none")]
            #[schema(nullable = false)]
            pub activities: Option<Vec<Activity>>,
            /// Metric values (with `include=metrics`).
            #[serde(skip_serializing_if = "Option::is_none")]
            #[schema(nullable = false)]
            pub metrics: Option<Vec<MetricValue>>,
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
            pub fn from_parts(r: ProjectRow, funding: Vec<Funding>, sources: Vec<Citation>) -> Self {
                let translations = Translations::from_stored(&r.translations);
                Project {
                    id: r.id,
                    $($name: r.$name,)*
                    total_budget: r.total_budget.map(Money::from_stored),
                    currency: r.currency,
                    website: r.website,
                    source_document: r.source_document,
                    funding,
                    sources,
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
        }
    };
}

project_model! {
    /// Reference number given by the funder (unique).
    reference: [Option<String>],
        input [
            validate(length(min = 1, max = 100), custom(function = "validation::trimmed")),
            schema(min_length = 1, max_length = 100, example = "1DP/1.5.2.2.2/12/APIA/SIF/176")
        ],
        record [schema(example = "1DP/1.5.2.2.2/12/APIA/SIF/176")];
    /// Title in the original language.
    title: [String],
        input [
            validate(length(min = 1, max = 500), custom(function = "validation::trimmed")),
            schema(
                min_length = 1,
                max_length = 500,
                example = "Koalīcija mazākumtautību politiskai līdzdalībai valsts sektorā"
            )
        ],
        record [schema(example = "Koalīcija mazākumtautību politiskai līdzdalībai valsts sektorā")];
    /// English title.
    title_en: [Option<String>],
        input [
            validate(length(min = 1, max = 500), custom(function = "validation::trimmed")),
            schema(
                min_length = 1,
                max_length = 500,
                example = "Coalition for minority political participation in the public sector"
            )
        ],
        record [schema(example = "Coalition for minority political participation in the public sector")];
    /// Short English summary.
    summary: [Option<String>],
        input [
            validate(length(max = 5000)),
            schema(
                max_length = 5000,
                example = "Builds a coalition of minority NGOs to take part in policy making."
            )
        ],
        record [schema(example = "Builds a coalition of minority NGOs to take part in policy making.")];
    /// The project's aim, as stated by it.
    aim: [Option<String>],
        input [
            validate(length(max = 5000)),
            schema(max_length = 5000, example = "stiprināt mazākumtautību un citu NVO kapacitāti")
        ],
        record [schema(example = "stiprināt mazākumtautību un citu NVO kapacitāti")];
    /// The problem the project addresses.
    problem: [Option<String>],
        input [
            validate(length(max = 5000)),
            schema(
                max_length = 5000,
                example = "demokrātiskas, saliedētas un pilsoniskas sabiedrības veidošana"
            )
        ],
        record [schema(example = "demokrātiskas, saliedētas un pilsoniskas sabiedrības veidošana")];
    /// Objectives, in order (at most 50, each at most 2000 characters).
    objectives: [Vec<String>],
        input [
            serde(default),
            validate(length(max = 50), custom(function = "texts_2000")),
            schema(max_items = 50, example = json!(["izveidot koalīciju mazākumtautību NVO pārstāvniecībai"]))
        ],
        record [schema(example = json!(["izveidot koalīciju mazākumtautību NVO pārstāvniecībai"]))];
    /// Lifecycle status.
    status: [ProjectStatus], input [], record [];
    /// The day the source stated the status, when it was read from a dated source: a status
    /// taken from a 2013 page says what was true then.
    status_stated_on: [Option<NaiveDate>],
        input [schema(example = "2013-03-08")],
        record [schema(example = "2013-03-08")];
    /// The organisation that runs the project.
    lead_organisation_id: [Uuid],
        input [schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")],
        record [schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")];
    /// The main programme the project is funded under.
    programme_id: [Option<Uuid>],
        input [schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7d")],
        record [schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7d")];
    /// First day of the project.
    start_date: [Option<NaiveDate>],
        input [schema(example = "2012-09-01")],
        record [schema(example = "2012-09-01")];
    /// Last day of the project (not before `start_date`).
    end_date: [Option<NaiveDate>],
        input [schema(example = "2013-08-31")],
        record [schema(example = "2013-08-31")];
    /// Precision of the dates; default `day`.
    date_precision: [DatePrecision], input [serde(default = "default_precision")], record [];
    /// Places where the project works, as named in the source.
    places: [Vec<String>],
        input [
            serde(default),
            validate(length(max = 100), custom(function = "texts_300")),
            schema(max_items = 100, example = json!(["Daugavpils", "Ilūkstes novads"]))
        ],
        record [schema(example = json!(["Daugavpils", "Ilūkstes novads"]))];
    /// Territory codes (ATVK, `/v1/territories`) of where the project works, as the source names
    /// the places: a 2013 project in "Ilūkstes novads" keeps that territory's code
    /// (`municipality_today` finds it under today's municipality).
    municipalities: [Vec<String>],
        input [
            serde(default),
            validate(length(max = 200), custom(function = "validation::territory_codes")),
            schema(max_items = 200, example = json!(["0050000", "0440801"]))
        ],
        record [schema(example = json!(["0050000", "0440801"]))];
    /// Places with points of their own (WGS 84), more precise than their territory's point.
    points: [PlacePoints],
        input [
            serde(default),
            validate(nested, custom(function = "crate::domain::geo::points")),
            schema(value_type = Vec<PlacePoint>, max_items = 100)
        ],
        record [schema(value_type = Vec<PlacePoint>)];
    /// Fields whose value was inferred rather than stated by the sources (`record`: the record
    /// itself is a synthesis, not something a source names).
    inferred: [Vec<String>],
        input [
            serde(default),
            validate(length(max = 50), custom(function = "validation::field_names")),
            schema(max_items = 50, example = json!(["status"]))
        ],
        record [schema(example = json!(["status"]))];
    /// Region codes (`/v1/vocabularies/regions`).
    regions: [Vec<String>],
        input [
            serde(default),
            validate(length(max = 20), custom(function = "codes")),
            schema(max_items = 20, example = json!(["latgale"]))
        ],
        record [schema(example = json!(["latgale"]))];
    /// Target group codes (`/v1/vocabularies/target_groups`).
    target_groups: [Vec<String>],
        input [
            serde(default),
            validate(length(max = 30), custom(function = "codes")),
            schema(max_items = 30, example = json!(["seniors", "youth"]))
        ],
        record [schema(example = json!(["seniors", "youth"]))];
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
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
    /// The person's role in the project, as the source gives it.
    #[validate(length(min = 1, max = 200), custom(function = "validation::trimmed"))]
    #[schema(min_length = 1, max_length = 200, example = "projekta vadītāja")]
    pub role: Option<String>,
}

/// One funding line: who pays which share (and amount) of the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "funding_line", skip_on_field_errors = false))]
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
    #[validate(custom(function = "money::money"))]
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
        .is_some_and(|s| !money::has_at_most_decimals(s, 2))
    {
        return blame(
            "share_percent",
            "invalid",
            "share_percent has at most 2 decimals",
        );
    }
    Ok(())
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

impl From<&FundingRow> for Funding {
    fn from(r: &FundingRow) -> Self {
        Funding {
            programme_id: r.programme_id,
            funder_id: r.funder_id,
            share_percent: r.share_percent.as_ref().map(money::to_f64),
            amount: r.amount.clone().map(|a| Money::from_stored(a).to_string()),
            currency: r.currency.clone(),
        }
    }
}

impl ProjectRow {
    /// The stored contact person, if any part of it is stored.
    pub fn contact(&self) -> Option<Contact> {
        (self.contact_name.is_some()
            || self.contact_email.is_some()
            || self.contact_phone.is_some()
            || self.contact_role.is_some())
        .then(|| Contact {
            name: self.contact_name.clone(),
            email: self.contact_email.clone(),
            phone: self.contact_phone.clone(),
            role: self.contact_role.clone(),
        })
    }
}

impl Project {
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

/// Replaces a project's funding lines with `funding`, in order.
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
                project_funding::share_percent.eq(line.share_percent.map(money::to_decimal)),
                project_funding::amount.eq(line.amount.as_deref().and_then(money::amount)),
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

crate::versioned!(ProjectRow, Project);

impl Record for Project {
    const NAME: &'static str = ProjectId::NAME;
    const RESOURCE: &'static str = "project";
    const RIGHTS: Rights = Rights::Project;
    type Key = ProjectId;
    type Row = ProjectRow;
    type Input = ProjectInput;
    type Parent = ();

    async fn fetch(
        conn: &mut AsyncPgConnection,
        id: &ProjectId,
        lock: Lock,
    ) -> ApiResult<Option<ProjectRow>> {
        let query = projects::table
            .find(id.uuid())
            .select(ProjectRow::as_select());
        crate::first_row!(query, conn, lock)
    }

    fn project(row: &ProjectRow) -> Option<ProjectId> {
        Some(ProjectId(row.id))
    }

    fn access_new(_: (), input: &ProjectInput) -> Access {
        Access::LeadProject {
            lead: OrganisationId(input.lead_organisation_id),
        }
    }

    /// Moving a project to another lead organisation needs the right to lead projects there.
    fn access_change(row: &ProjectRow, input: &ProjectInput) -> Option<Access> {
        (input.lead_organisation_id != row.lead_organisation_id).then_some(Access::LeadProject {
            lead: OrganisationId(input.lead_organisation_id),
        })
    }

    async fn read(conn: &mut AsyncPgConnection, row: ProjectRow) -> ApiResult<Self> {
        let funding = load_funding(conn, &[row.id]).await?.remove(&row.id);
        let sources = sources::load_one(conn, Citing::Project, row.id).await?;
        Ok(Project::from_parts(
            row,
            funding.unwrap_or_default(),
            sources,
        ))
    }

    async fn input(conn: &mut AsyncPgConnection, row: &ProjectRow) -> ApiResult<ProjectInput> {
        let funding = load_funding(conn, &[row.id]).await?.remove(&row.id);
        let sources = sources::load_one(conn, Citing::Project, row.id).await?;
        Ok(ProjectInput::from_stored(
            row.clone(),
            funding.unwrap_or_default(),
            sources.iter().map(SourceLink::from).collect(),
        ))
    }

    async fn insert(conn: &mut AsyncPgConnection, _: (), input: ProjectInput) -> ApiResult<Self> {
        let row: ProjectRow = diesel::insert_into(projects::table)
            .values((
                projects::id.eq(ProjectId::new_v7().uuid()),
                ProjectForm::from(&input),
            ))
            .returning(ProjectRow::as_returning())
            .get_result(conn)
            .await?;
        replace_funding(conn, row.id, &input.funding).await?;
        sources::check(conn, "sources", &input.sources).await?;
        sources::replace(conn, Citing::Project, row.id, &input.sources).await?;
        let citations = input.sources.into_iter().map(Citation::from).collect();
        Ok(Project::from_parts(row, input.funding, citations))
    }

    async fn store(
        conn: &mut AsyncPgConnection,
        row: &ProjectRow,
        input: ProjectInput,
    ) -> ApiResult<Self> {
        let row: ProjectRow = diesel::update(projects::table.find(row.id))
            .set(ProjectForm::from(&input))
            .returning(ProjectRow::as_returning())
            .get_result(conn)
            .await?;
        replace_funding(conn, row.id, &input.funding).await?;
        sources::check(conn, "sources", &input.sources).await?;
        sources::replace(conn, Citing::Project, row.id, &input.sources).await?;
        let citations = input.sources.into_iter().map(Citation::from).collect();
        Ok(Project::from_parts(row, input.funding, citations))
    }

    /// Deleting a project deletes its funding lines, partners, activities and metric values
    /// (by foreign key).
    async fn remove(conn: &mut AsyncPgConnection, row: &ProjectRow) -> ApiResult<()> {
        diesel::delete(projects::table.find(row.id))
            .execute(conn)
            .await?;
        Ok(())
    }

    fn location(&self) -> String {
        format!("/v1/projects/{}", self.id)
    }
}

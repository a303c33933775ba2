//! Types every layer shares: record ids, money, statuses and the other closed sets of values.
//! Nothing here knows HTTP routes or resources; values are parsed into these types at the edge
//! and never checked again further in.

pub mod language;
pub mod money;
mod text_enum;

use std::fmt;

use uuid::Uuid;

pub use language::Lang;
pub use money::Money;

/// A record id: a UUID that knows which kind of record it names, so an activity id cannot be
/// passed where a project id is expected.
pub trait Id:
    Copy + Eq + std::hash::Hash + fmt::Debug + fmt::Display + Send + Sync + 'static
{
    /// What the id names, for messages ("no project with id ...").
    const NAME: &'static str;
    fn from_uuid(id: Uuid) -> Self;
    fn uuid(self) -> Uuid;
    /// A new time-ordered (v7) id.
    fn new_v7() -> Self {
        Self::from_uuid(Uuid::now_v7())
    }
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident => $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl Id for $name {
            const NAME: &'static str = $what;
            fn from_uuid(id: Uuid) -> Self {
                $name(id)
            }
            fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                $name(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

id_type!(/// An organisation's id.
    OrganisationId => "organisation");
id_type!(/// A programme's id.
    ProgrammeId => "programme");
id_type!(/// A project's id.
    ProjectId => "project");
id_type!(/// A partnership's id (a project–organisation link).
    PartnerId => "partner");
id_type!(/// An activity's id.
    ActivityId => "activity");
id_type!(/// A metric value's id.
    MetricId => "metric value");
id_type!(/// An indicator's id (indicators are addressed by code in the API).
    IndicatorId => "indicator");
id_type!(/// A source's id.
    SourceId => "source");
id_type!(/// An API key's id.
    ApiKeyId => "API key");
id_type!(
    /// A webhook subscription.
    WebhookId => "webhook");

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

crate::text_enum! {
    /// What a number is: an achieved `actual`, a planned `target`, or a `baseline` before the project.
    MetricKind { Actual => "actual", Target => "target", Baseline => "baseline" }
}

crate::text_enum! {
    /// Where a number stands: `reported` as pushed by a partner, `verified` or `queried` by the
    /// organisation that administers the project's programme (or an operator).
    Verification { Reported => "reported", Verified => "verified", Queried => "queried" }
}

crate::text_enum! {
    /// How one project's values of an indicator combine over periods and activities: `sum` adds
    /// them (people trained), `max` takes the largest (a capacity), `latest` takes the most
    /// recent period's (a running total). Stats then add the per-project figures.
    Aggregation { Sum => "sum", Max => "max", Latest => "latest" }
}

crate::text_enum! {
    /// How the people an indicator counts relate to the others of the family it counts
    /// towards: `disjoint` members add up; `overlapping` ones may count the same people, and
    /// `subset` ones are part of the broader indicator's own figure, so both only bound the
    /// family's total from below.
    Relation { Disjoint => "disjoint", Overlapping => "overlapping", Subset => "subset" }
}

crate::text_enum! {
    /// How exact a number is: `exact`, `approximate` ("ap 30 tūkstoši"), `more_than`
    /// ("vairāk kā 1300"), `at_least`, `less_than` or `at_most`.
    Qualifier {
        Exact => "exact",
        Approximate => "approximate",
        MoreThan => "more_than",
        AtLeast => "at_least",
        LessThan => "less_than",
        AtMost => "at_most",
    }
}

impl Qualifier {
    /// Whether the number is exactly as stated.
    pub fn is_exact(self) -> bool {
        self == Qualifier::Exact
    }
}

pub mod geo;
pub use geo::{PlacePoint, PlacePoints};

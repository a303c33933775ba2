//! The one read rule: a caller sees published projects, plus the drafts (and contacts) of
//! projects its organisation leads, partners in, or administers the programme of (as the
//! programme's `administrator` or `co_administrator`, main programme or a funding line), with
//! `read:private` or `projects:write`; or everything (`admin`). Partners, activities and metric
//! values follow their project. Administering a programme gives reading, never writing.
//!
//! The rule is written here once, in Rust ([`super::Caller::ensure_visible`]) and as SQL
//! ([`Visibility::condition`]), which single reads, lists, exports, stats and the change feed
//! all use.

use uuid::Uuid;

use crate::domain::{Id, OrganisationId};

/// Which projects' private data (drafts, contacts) a caller may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Published projects only.
    Published,
    /// Published projects plus those this organisation leads, partners in or administers the
    /// programme of.
    PublishedAndOwn(OrganisationId),
    /// Everything.
    All,
}

impl Visibility {
    /// The rule as a SQL condition over a `projects` row aliased `alias` (`None`: every project
    /// is visible). `bind` registers the organisation's id and returns its placeholder.
    pub fn condition(self, alias: &str, bind: impl FnOnce(Uuid) -> String) -> Option<String> {
        match self {
            Visibility::All => None,
            Visibility::Published => Some(format!("{alias}.status <> 'draft'")),
            Visibility::PublishedAndOwn(org) => {
                let org = bind(org.uuid());
                Some(format!(
                    "({alias}.status <> 'draft' OR {alias}.lead_organisation_id = {org} OR EXISTS \
                     (SELECT 1 FROM project_partners vp WHERE vp.project_id = {alias}.id \
                     AND vp.organisation_id = {org}) OR {})",
                    administers(alias, &org)
                ))
            }
        }
    }

    /// The organisation `org` (a placeholder) administers a programme of the project `alias`.
    pub fn administers_condition(alias: &str, org: &str) -> String {
        administers(alias, org)
    }

    /// The rule for records that belong to the project in `project_column`: the project exists
    /// and is visible.
    pub fn project_condition(
        self,
        project_column: &str,
        bind: impl FnOnce(Uuid) -> String,
    ) -> Option<String> {
        self.condition("v", bind).map(|visible| {
            format!("EXISTS (SELECT 1 FROM projects v WHERE v.id = {project_column} AND {visible})")
        })
    }
}

/// SQL: organisation `org` administers the main programme, or a funding line's programme, of the
/// project aliased `alias`.
fn administers(alias: &str, org: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM programme_organisations vb WHERE vb.organisation_id = {org} \
         AND vb.role IN {ADMINISTERING} AND (vb.programme_id = {alias}.programme_id OR EXISTS \
         (SELECT 1 FROM project_funding vf WHERE vf.project_id = {alias}.id \
         AND vf.programme_id = vb.programme_id)))"
    )
}

/// Programme roles that administer a programme.
pub const ADMINISTERING: &str = "('administrator', 'co_administrator')";

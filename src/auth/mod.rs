//! Who is calling and what they may do: API keys, the caller of a request, and the access policy.
//!
//! Every rule about who may write or read what lives in this module ([`Caller::authorize`] for
//! writes, [`Caller::visibility`] for reads, and [`Visibility`]'s SQL form, which every list,
//! export and the change feed use); handlers only say what they are about to do.
//!
//! | scope            | allows                                                                |
//! |------------------|-----------------------------------------------------------------------|
//! | (anonymous)      | reading published records (never drafts, never contact details)       |
//! | `metrics:write`  | outcome numbers of projects the key's organisation leads or partners in |
//! | `projects:write` | creating and editing projects the organisation leads (with partners, activities, funding) |
//! | `read:private`   | drafts and contacts of projects the organisation leads or partners in, or whose programme it administers |
//! | `admin`          | everything: organisations, programmes, indicators, keys, any project  |
//! | `webhooks:manage`| webhook subscriptions of the key's own organisation                   |
//! | `metrics:verify` | verifying or querying numbers of projects in programmes the organisation administers |
//! | (any key)        | rotating itself: a successor with its scopes, and its own expiry      |
//!
//! A record's history may be read by whoever may change the record; contact values in it only
//! by those who may see the project's contacts.

pub mod keys;
pub mod middleware;
pub mod rate_limit;
mod visibility;

use std::collections::HashSet;
use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::domain::{Id, OrganisationId, ProjectId, ProjectStatus};
use crate::schema::{project_partners, projects};
use crate::web::error::{ApiError, ApiResult};

pub use visibility::{Visibility, ADMINISTERING};

crate::text_enum! {
    /// What an API key may do (see the module table).
    Scope {
        /// Push outcome numbers for projects the organisation leads or partners in.
        MetricsWrite => "metrics:write",
        /// Create and edit projects the organisation leads, with partners, activities and funding.
        ProjectsWrite => "projects:write",
        /// Read drafts and contact details of the organisation's own projects.
        ReadPrivate => "read:private",
        /// Everything, including organisations, programmes, indicators and API keys.
        Admin => "admin",
        /// Webhook subscriptions of the key's own organisation.
        WebhooksManage => "webhooks:manage",
        /// Marking outcome numbers verified or queried, in projects of programmes the key's
        /// organisation administers.
        MetricsVerify => "metrics:verify",
    }
}

/// An authenticated API key, as the policy needs it.
#[derive(Debug)]
pub struct KeyIdentity {
    pub id: Uuid,
    pub organisation_id: Option<Uuid>,
    pub scopes: Vec<Scope>,
}

/// The caller of a request, put in the request's extensions by [`middleware::authenticate`].
#[derive(Debug, Clone, Default)]
pub enum Caller {
    #[default]
    Anonymous,
    Key(Arc<KeyIdentity>),
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<ApiResult<Caller>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(req
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or_default()))
    }
}

/// A write, as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// Registry-wide records: organisations, programmes, indicators, vocabularies, API keys.
    Registry,
    /// Creating a project led by this organisation (or moving a project to it).
    LeadProject { lead: OrganisationId },
    /// Changing a project or its partners, activities and funding lines.
    EditProject { project: ProjectId },
    /// Writing outcome numbers of a project.
    WriteMetrics { project: ProjectId },
    /// Verifying or querying outcome numbers of a project.
    VerifyMetrics { project: ProjectId },
    /// Webhook subscriptions of an organisation (`None`: an operator's own).
    ManageWebhooks {
        organisation: Option<OrganisationId>,
    },
    /// The calling key itself: its successor and its expiry.
    OwnKey,
}

impl Caller {
    pub fn key(&self) -> Option<&KeyIdentity> {
        match self {
            Caller::Anonymous => None,
            Caller::Key(key) => Some(key),
        }
    }

    fn has(&self, scope: Scope) -> bool {
        self.key().is_some_and(|k| k.scopes.contains(&scope))
    }

    pub fn is_admin(&self) -> bool {
        self.has(Scope::Admin)
    }

    /// What this caller may read beyond published records.
    pub fn visibility(&self) -> Visibility {
        match self.key() {
            _ if self.is_admin() => Visibility::All,
            Some(KeyIdentity {
                organisation_id: Some(org),
                ..
            }) if self.has(Scope::ReadPrivate) || self.has(Scope::ProjectsWrite) => {
                Visibility::PublishedAndOwn(OrganisationId(*org))
            }
            _ => Visibility::Published,
        }
    }

    /// Refuses the write unless the policy allows it: 401 without a key, 404 when the project it
    /// concerns does not exist, 403 with the wrong scope or organisation. Project facts (lead,
    /// partners) are read from `conn`.
    pub async fn authorize(&self, conn: &mut AsyncPgConnection, access: Access) -> ApiResult<()> {
        let Some(key) = self.key() else {
            return Err(ApiError::key_required());
        };
        if let Access::EditProject { project }
        | Access::WriteMetrics { project }
        | Access::VerifyMetrics { project } = access
        {
            ensure_exists(conn, project).await?;
        }
        if self.is_admin() || matches!(access, Access::OwnKey) {
            return Ok(());
        }
        let (scope, what) = match access {
            Access::Registry => {
                return Err(forbidden("this change needs a key with the `admin` scope"));
            }
            Access::LeadProject { .. } | Access::EditProject { .. } => (
                Scope::ProjectsWrite,
                "projects the key's organisation leads",
            ),
            Access::WriteMetrics { .. } => (
                Scope::MetricsWrite,
                "projects the key's organisation leads or partners in",
            ),
            Access::VerifyMetrics { .. } => (
                Scope::MetricsVerify,
                "numbers of projects in programmes the key's organisation administers",
            ),
            Access::ManageWebhooks { .. } => (
                Scope::WebhooksManage,
                "webhook subscriptions of the key's own organisation",
            ),
            Access::OwnKey => unreachable!("any key may manage itself"),
        };
        if !key.scopes.contains(&scope) {
            return Err(forbidden(format!(
                "this change needs a key with the `{}` scope",
                scope.as_str()
            )));
        }
        let Some(org) = key.organisation_id.map(OrganisationId) else {
            return Err(forbidden("this key belongs to no organisation"));
        };
        let allowed = match access {
            Access::Registry | Access::OwnKey => false,
            Access::ManageWebhooks { organisation } => organisation == Some(org),
            Access::VerifyMetrics { project } => administers(conn, project, org).await?,
            Access::LeadProject { lead } => lead == org,
            Access::EditProject { project } => {
                project_role(conn, project, org).await? == Role::Lead
            }
            Access::WriteMetrics { project } => {
                project_role(conn, project, org).await? != Role::None
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(forbidden(format!("the key may only change {what}")))
        }
    }

    /// Of `projects`, those this caller may not push outcome numbers for (all of them when the
    /// key lacks `metrics:write`: then the whole request is refused with 403).
    pub async fn metric_projects_denied(
        &self,
        conn: &mut AsyncPgConnection,
        projects: &[Uuid],
    ) -> ApiResult<HashSet<Uuid>> {
        let Some(key) = self.key() else {
            return Err(ApiError::key_required());
        };
        if self.is_admin() {
            return Ok(HashSet::new());
        }
        if !key.scopes.contains(&Scope::MetricsWrite) {
            return Err(forbidden(
                "this change needs a key with the `metrics:write` scope",
            ));
        }
        let Some(org) = key.organisation_id else {
            return Ok(projects.iter().copied().collect());
        };
        let partnered = project_partners::table
            .filter(project_partners::organisation_id.eq(org))
            .select(project_partners::project_id);
        let allowed: HashSet<Uuid> = projects::table
            .filter(projects::id.eq_any(projects))
            .filter(
                projects::lead_organisation_id
                    .eq(org)
                    .or(projects::id.eq_any(partnered)),
            )
            .select(projects::id)
            .load::<Uuid>(conn)
            .await?
            .into_iter()
            .collect();
        Ok(projects
            .iter()
            .filter(|p| !allowed.contains(p))
            .copied()
            .collect())
    }

    /// Whether this caller may read the private parts (drafts, contacts) of `project`.
    pub async fn sees_private(
        &self,
        conn: &mut AsyncPgConnection,
        project: ProjectId,
    ) -> ApiResult<bool> {
        Ok(match self.visibility() {
            Visibility::All => true,
            Visibility::Published => false,
            Visibility::PublishedAndOwn(org) => {
                project_role(conn, project, org).await? != Role::None
                    || administers(conn, project, org).await?
            }
        })
    }

    /// 404 unless the project exists and this caller may see it (drafts are private).
    pub async fn ensure_visible(
        &self,
        conn: &mut AsyncPgConnection,
        project: ProjectId,
    ) -> ApiResult<()> {
        let status: Option<ProjectStatus> = projects::table
            .find(project.uuid())
            .select(projects::status)
            .first(conn)
            .await
            .optional()?;
        match status {
            Some(ProjectStatus::Draft) if !self.sees_private(conn, project).await? => {
                Err(ApiError::not_found(ProjectId::NAME, project))
            }
            Some(_) => Ok(()),
            None => Err(ApiError::not_found(ProjectId::NAME, project)),
        }
    }
}

fn forbidden(detail: impl Into<String>) -> ApiError {
    ApiError::Forbidden {
        detail: detail.into(),
        errors: Vec::new(),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Role {
    Lead,
    Partner,
    None,
}

/// 404 unless the project exists.
async fn ensure_exists(conn: &mut AsyncPgConnection, project: ProjectId) -> ApiResult<()> {
    let found: i64 = projects::table
        .find(project.uuid())
        .count()
        .get_result(conn)
        .await?;
    if found == 0 {
        return Err(ApiError::not_found(ProjectId::NAME, project));
    }
    Ok(())
}

/// Whether `org` administers a programme of `project` (its main programme or a funding line's):
/// the same rule as [`Visibility`]'s SQL form, which it runs.
async fn administers(
    conn: &mut AsyncPgConnection,
    project: ProjectId,
    org: OrganisationId,
) -> ApiResult<bool> {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    let found: Found = diesel::sql_query(format!(
        "SELECT EXISTS (SELECT 1 FROM projects p WHERE p.id = $1 AND {}) AS found",
        Visibility::administers_condition("p", "$2")
    ))
    .bind::<diesel::sql_types::Uuid, _>(project.uuid())
    .bind::<diesel::sql_types::Uuid, _>(org.uuid())
    .get_result(conn)
    .await?;
    Ok(found.found)
}

/// How `org` takes part in `project` (a missing project is a 404).
async fn project_role(
    conn: &mut AsyncPgConnection,
    project: ProjectId,
    org: OrganisationId,
) -> ApiResult<Role> {
    let (project, org) = (project.uuid(), org.uuid());
    let lead: Option<Uuid> = projects::table
        .find(project)
        .select(projects::lead_organisation_id)
        .first(conn)
        .await
        .optional()?;
    let Some(lead) = lead else {
        return Err(ApiError::not_found(ProjectId::NAME, project));
    };
    if lead == org {
        return Ok(Role::Lead);
    }
    let partners: i64 = project_partners::table
        .filter(project_partners::project_id.eq(project))
        .filter(project_partners::organisation_id.eq(org))
        .count()
        .get_result(conn)
        .await?;
    Ok(if partners > 0 {
        Role::Partner
    } else {
        Role::None
    })
}

//! A partnership's stored row, writable fields and published form, and how the write skeleton
//! stores it. Partners are addressed through their project.

use std::fmt;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::domain::{Id, PartnerId, ProjectId};
use crate::resources::organisations::Organisation;
use crate::resources::record::{self, Lock, Record, Rights};
use crate::schema::project_partners;
use crate::validation;
use crate::web::error::ApiResult;

/// A partner's address: its project and its own id.
#[derive(Debug, Clone, Copy)]
pub struct PartnerKey {
    pub project: ProjectId,
    pub partner: PartnerId,
}

impl fmt::Display for PartnerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.partner.fmt(f)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = project_partners, check_for_backend(diesel::pg::Pg))]
pub struct PartnerRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub organisation_id: Uuid,
    pub role: String,
    pub description: Option<String>,
    pub activity_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The writable fields of a partnership (create body; PATCH merges into it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema, Insertable, AsChangeset,
)]
#[diesel(table_name = project_partners, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
pub struct PartnerInput {
    /// The partner organisation.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub organisation_id: Uuid,
    /// Role: a code from `/v1/vocabularies/partner_roles`. One organisation may hold several roles.
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "partner")]
    pub role: String,
    /// What the partner does in the project.
    #[validate(length(max = 2000))]
    #[schema(
        max_length = 2000,
        example = "Took part in the steering group and published project news."
    )]
    pub description: Option<String>,
    /// The activity the partner's part is about (an activity of the same project): what the
    /// organisation did.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a83")]
    pub activity_id: Option<Uuid>,
}

/// An organisation's part in a project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Partner {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a82")]
    pub id: Uuid,
    /// The project.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub project_id: Uuid,
    /// The partner organisation.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub organisation_id: Uuid,
    /// Role code (`/v1/vocabularies/partner_roles`).
    #[schema(example = "partner")]
    pub role: String,
    /// What the partner does in the project.
    #[schema(example = "Took part in the steering group and published project news.")]
    pub description: Option<String>,
    /// The activity the partner's part is about.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a83")]
    pub activity_id: Option<Uuid>,
    /// When the record was created.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub updated_at: DateTime<Utc>,
    /// 1 at creation, +1 on every change.
    #[schema(example = 1, minimum = 1)]
    pub version: i32,
    /// The partner organisation (when embedded with `include=partners` on projects).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organisation: Option<Organisation>,
}

impl From<PartnerRow> for Partner {
    fn from(r: PartnerRow) -> Self {
        Partner {
            id: r.id,
            project_id: r.project_id,
            organisation_id: r.organisation_id,
            role: r.role,
            description: r.description,
            activity_id: r.activity_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            organisation: None,
        }
    }
}

crate::versioned!(PartnerRow, Partner);

impl Record for Partner {
    const NAME: &'static str = PartnerId::NAME;
    const RESOURCE: &'static str = "partner";
    const RIGHTS: Rights = Rights::Project;
    type Key = PartnerKey;
    type Row = PartnerRow;
    type Input = PartnerInput;
    type Parent = ProjectId;

    async fn fetch(
        conn: &mut AsyncPgConnection,
        key: &PartnerKey,
        lock: Lock,
    ) -> ApiResult<Option<PartnerRow>> {
        let query = project_partners::table
            .filter(project_partners::id.eq(key.partner.uuid()))
            .filter(project_partners::project_id.eq(key.project.uuid()))
            .select(PartnerRow::as_select());
        crate::first_row!(query, conn, lock)
    }

    fn project(row: &PartnerRow) -> Option<ProjectId> {
        Some(ProjectId(row.project_id))
    }

    crate::table_storage!(project_partners, row: PartnerRow, id: PartnerId, key: custom, parent = project_id);

    async fn read(_: &mut AsyncPgConnection, row: PartnerRow) -> ApiResult<Self> {
        Ok(Partner::from(row))
    }

    async fn input(_: &mut AsyncPgConnection, row: &PartnerRow) -> ApiResult<PartnerInput> {
        record::writable(&Partner::from(row.clone()))
    }

    fn location(&self) -> String {
        format!("/v1/projects/{}/partners/{}", self.project_id, self.id)
    }
}

//! `GET /v1/{resource}/{id}/history`: every change of a record — who, when, and the old and new
//! value of each changed field — read from the audit log, for whoever may change the record.
//!
//! The audit triggers record the changed fields (`audit_log.changes`) and what a change was
//! when it was more than an edit (`event`: a project `published` or `withdrawn` into draft, a
//! value `restored` or `verified`, a contact `contact_erased`). A project's history includes
//! its funding lines. Contact values are shown only to callers who may see the project's
//! contacts.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::ProjectId;
use crate::resources::record::{Ctx, Lock, Record, Versioned};
use crate::schema::audit_log;
use crate::web::error::ApiResult;
use crate::web::listing::{self, Filters, Paging, Source, Value};

static SOURCE: Source = Source {
    table: "audit_log",
    alias: "a",
    columns: &COLUMNS,
    sorts: &[],
    default_sort: "id",
    id_type: "bigint",
};
static COLUMNS: LazyLock<String> = crate::list_columns!(audit_log, HistoryRow, "a");

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
struct HistoryRow {
    id: i64,
    resource: String,
    record_id: Uuid,
    op: String,
    version: Option<i32>,
    api_key_id: Option<Uuid>,
    organisation_id: Option<Uuid>,
    changed_at: DateTime<Utc>,
    changes: Option<Json>,
    event: Option<String>,
}

crate::text_enum! {
    /// What a change did to the record.
    HistoryOp { Create => "create", Update => "update", Delete => "delete" }
}

/// One change of a record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// Sequence number of the change (increasing).
    #[schema(example = 1042)]
    pub id: i64,
    /// The kind of record changed: the record itself, or `funding` for a project's funding line.
    #[schema(example = "project")]
    pub resource: String,
    /// The changed record's id.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub record_id: Uuid,
    pub op: HistoryOp,
    /// What the change was when it was more than an edit: `published` (a project left draft, or
    /// a part of it was published with it), `withdrawn` (moved back to draft), `restored` (a
    /// metric value set back to an earlier revision), `verified` (verification changed),
    /// `contact_erased`.
    #[schema(example = "published")]
    pub event: Option<String>,
    /// The record's version after the change (null for deletes and funding lines).
    #[schema(example = 3)]
    pub version: Option<i32>,
    /// Each changed field with its value before and after (`null` before a create, after a
    /// delete). A contact field a reader may not see, or that was erased, has both values
    /// `null` and says `withheld` or `erased`.
    #[schema(value_type = Object, example = json!({"title": {"old": "Mēs kopā", "new": "Mēs kopā dzīvojam"}}))]
    pub changes: Json,
    /// The API key that made the change (null for changes made without a key).
    pub api_key_id: Option<Uuid>,
    /// The organisation of that key.
    pub organisation_id: Option<Uuid>,
    /// When the change was made.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// The record's history, oldest first: 404 when there is no such record, 403 for a caller who
/// may not change it.
pub async fn list<R: Record>(
    ctx: &Ctx,
    key: R::Key,
    params: HistoryParams,
) -> ApiResult<HttpResponse> {
    let order = SOURCE.order(None, None)?;
    let paging = Paging::parse(
        &SOURCE,
        &order,
        params.limit,
        params.cursor.as_deref(),
        None,
        false,
    )?;
    let caller = &ctx.caller;
    let mut conn = ctx.state.conn().await?;
    let row = R::fetch(&mut conn, &key, Lock::None)
        .await?
        .ok_or_else(|| R::not_found(&key))?;
    caller.authorize(&mut conn, R::access(&row)).await?;
    let project = R::project(&row).or((R::RESOURCE == "project").then(|| ProjectId(row.id())));
    let contacts_visible = match project {
        Some(project) => caller.sees_private(&mut conn, project).await?,
        None => true,
    };
    let mut filters = Filters::default();
    let id = filters.bind(Value::Uuid(row.id()));
    let resource = filters.bind(Value::Text(R::RESOURCE.to_owned()));
    if R::RESOURCE == "project" {
        filters.and(format!(
            "((a.resource = {resource} AND a.record_id = {id}) OR (a.resource = 'funding' AND a.project_id = {id}))"
        ));
    } else {
        filters.and(format!("a.resource = {resource} AND a.record_id = {id}"));
    }
    let rows = listing::page(&mut conn, &SOURCE, &filters, &order, &paging).await?;
    Ok(rows
        .map(|r: HistoryRow| entry(r, contacts_visible))
        .respond(&ctx.req))
}

fn entry(row: HistoryRow, contacts_visible: bool) -> HistoryEntry {
    let mut changes = row.changes.unwrap_or_else(|| json!({}));
    if !contacts_visible {
        if let Some(fields) = changes.as_object_mut() {
            for (field, change) in fields.iter_mut() {
                if field.starts_with("contact_") && change.get("erased").is_none() {
                    *change = json!({"old": null, "new": null, "withheld": true});
                }
            }
        }
    }
    HistoryEntry {
        id: row.id,
        resource: row.resource,
        record_id: row.record_id,
        op: row.op.parse().unwrap_or(HistoryOp::Update),
        event: row.event,
        version: row.version,
        changes,
        api_key_id: row.api_key_id,
        organisation_id: row.organisation_id,
        changed_at: row.changed_at,
    }
}

/// The match-info parameter `name` of the request.
pub fn path_param<'a>(ctx: &'a Ctx, name: &str) -> &'a str {
    ctx.req.match_info().get(name).unwrap_or_default()
}

/// An annotated `GET .../history` route for a resource: `history_route!(fn_name, Record,
/// "tag", "/path/{id}/history", "Summary", (path params), |ctx| key expression)`; the
/// calling module imports `actix_web::get` (utoipa recognises the route by that name).
#[macro_export]
macro_rules! history_route {
    ($name:ident, $record:ty, $tag:literal, $path:literal, $summary:literal, ($($param:tt)*), |$ctx:ident| $key:expr) => {
        #[doc = $summary]
        #[doc = ""]
        #[doc = "Every change, oldest first: who made it, when, and the old and new value of each"]
        #[doc = "changed field. For keys that may change the record; contact values only for keys"]
        #[doc = "that may see the project's contacts."]
        #[utoipa::path(
            tag = $tag,
            params($($param)*, $crate::resources::history::HistoryParams),
            security(("bearer" = [])),
            responses((status = 200, description = "One page of changes",
                body = $crate::web::pagination::Page<$crate::resources::history::HistoryEntry>,
                headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
        )]
        #[get($path)]
        pub async fn $name(
            $ctx: $crate::resources::record::Ctx,
            $crate::web::http::Query(params): $crate::web::http::Query<$crate::resources::history::HistoryParams>,
        ) -> $crate::web::error::ApiResult<actix_web::HttpResponse> {
            let key = { $key };
            $crate::resources::history::list::<$record>(&$ctx, key, params).await
        }
    };
}

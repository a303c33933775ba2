//! The change feed: every create, update and delete of published records, in an order a reader
//! can follow without ever skipping a change.
//!
//! Each write appends to `audit_log` (by trigger) with its transaction id. Transactions commit
//! in any order, so "rows after the last id I saw" would skip a row of a slow transaction that
//! commits after a faster one with a higher id was read. The feed therefore only serves rows of
//! transactions older than the oldest one still running (`pg_snapshot_xmin` of the current
//! snapshot): those are all settled, and every later commit has a transaction id at or above
//! that horizon. Rows are ordered by (transaction id, id) and the cursor is the last pair read;
//! a new row can only land after it.
//!
//! Visibility is applied as the feed is read: a change to a record that readers of this key may
//! not see now (a draft project, or a partner, activity or metric value of one) is served as a
//! `delete`, so a mirror drops what was withdrawn; a project's move into or out of draft logs
//! its partners, activities and metric values again so a mirror fetches them back.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Caller, Visibility};
use crate::state::AppState;
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::{self, Query};
use crate::web::listing::{Filters, Value};
use crate::web::pagination;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_changes);
}

/// The kinds of record the feed reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Organisation,
    Programme,
    Project,
    Partner,
    Activity,
    Indicator,
    Metric,
    Source,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Organisation => "organisation",
            Resource::Programme => "programme",
            Resource::Project => "project",
            Resource::Partner => "partner",
            Resource::Activity => "activity",
            Resource::Indicator => "indicator",
            Resource::Metric => "metric",
            Resource::Source => "source",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(raw.to_owned())).ok()
    }
}

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Created or changed: fetch `url` (or take `version` as the newest you must have).
    Upsert,
    /// Deleted, or no longer visible to you: drop it.
    Delete,
}

/// One change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Change {
    /// Position of this change; pass as `since` to read what came after it.
    #[schema(example = "eyJzIjoiY2hhbmdlcyIsImsiOnsidCI6Ijc0NSIsImkiOjEyfX0")]
    pub cursor: String,
    /// The kind of record.
    pub resource: Resource,
    /// The record's id.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub id: Uuid,
    /// `upsert` or `delete`.
    pub op: Op,
    /// The record's version after the change (`null` for deletes).
    #[schema(example = 2, minimum = 1)]
    pub version: Option<i32>,
    /// When the change was made.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub changed_at: DateTime<Utc>,
    /// Where the record is read (`null` where it can no longer be addressed).
    #[schema(example = "/v1/projects/0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub url: Option<String>,
}

/// A page of the change feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    /// Changes in commit-safe order.
    pub data: Vec<Change>,
    /// Pass as `since` for the next call; never null, so a reader can keep polling with it.
    #[schema(example = "eyJzIjoiY2hhbmdlcyIsImsiOnsidCI6Ijc0NSIsImkiOjEyfX0")]
    pub next_cursor: String,
    /// Whether more changes are ready now (otherwise poll again later).
    pub has_more: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangeParams {
    /// A `cursor`/`next_cursor` from this feed; `now` for the current position (take it before
    /// copying the lists, then follow the feed from it); absent for the beginning.
    #[param(example = "now")]
    pub since: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 1000, default = 200)]
    pub limit: Option<i64>,
    /// Only changes of this kind of record.
    pub resource: Option<Resource>,
}

/// Cursor sort name: change-feed cursors cannot be used on lists and vice versa.
const FEED: &str = "changes";

/// A place in the change log: after this transaction's change `i`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Position {
    /// Transaction id (xid8, as text).
    pub t: String,
    /// audit_log id.
    pub i: i64,
}

/// The kinds of audit-log rows the feed serves (funding lines and keys are history only).
const FEED_RESOURCES: &str =
    "a.resource IN ('organisation', 'programme', 'project', 'partner', 'activity', 'indicator', 'metric', 'source')";

/// What a reader of the feed asks for.
pub struct FeedQuery<'a> {
    pub since: Option<&'a Position>,
    pub limit: i64,
    /// Only these kinds (empty: all).
    pub resources: &'a [Resource],
    pub visibility: Visibility,
    /// Only changes of this project's records.
    pub project: Option<Uuid>,
    /// Only changes of the records of projects this organisation leads or partners in, and of
    /// the organisation itself.
    pub organisation: Option<Uuid>,
}

/// Up to `limit` changes after `since` that have settled (below the feed's horizon), in feed
/// order, and whether more are ready.
pub async fn read(
    conn: &mut diesel_async::AsyncPgConnection,
    query: &FeedQuery<'_>,
) -> ApiResult<(Vec<Change>, bool)> {
    let mut f = Filters::default();
    f.and("a.txid < pg_snapshot_xmin(pg_current_snapshot())".to_owned());
    f.and(FEED_RESOURCES.to_owned());
    if let Some(position) = query.since {
        let t = f.bind(Value::Text(position.t.clone()));
        let i = f.bind(Value::Int(position.i));
        f.and(format!("(a.txid, a.id) > ({t}::xid8, {i})"));
    }
    if !query.resources.is_empty() {
        let kinds = f.bind(Value::Texts(
            query
                .resources
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
        ));
        f.and(format!("a.resource = ANY({kinds})"));
    }
    if let Some(project) = query.project {
        let project = f.bind(Value::Uuid(project));
        f.and(format!("a.project_id = {project}"));
    }
    if let Some(org) = query.organisation {
        let org = f.bind(Value::Uuid(org));
        f.and(format!(
            "(a.project_id IN (SELECT id FROM projects WHERE lead_organisation_id = {org} \
             UNION SELECT project_id FROM project_partners WHERE organisation_id = {org}) \
             OR (a.resource = 'organisation' AND a.record_id = {org}))"
        ));
    }
    let visible = match query.visibility {
        Visibility::All => "true".to_owned(),
        Visibility::Published => "a.project_id IS NULL OR EXISTS (SELECT 1 FROM projects v \
             WHERE v.id = a.project_id AND v.status <> 'draft')"
            .to_owned(),
        Visibility::PublishedAndOwn(org) => {
            let org = f.bind(Value::Uuid(org.0));
            format!(
                "a.project_id IS NULL OR EXISTS (SELECT 1 FROM projects v WHERE v.id = a.project_id \
                 AND (v.status <> 'draft' OR v.lead_organisation_id = {org} OR EXISTS (SELECT 1 \
                 FROM project_partners vp WHERE vp.project_id = v.id AND vp.organisation_id = {org})))"
            )
        }
    };
    let mut sql = f.statement(&format!(
        "SELECT a.id, a.txid::text AS txid, a.resource, a.record_id, a.op, a.version, a.changed_at, \
         a.project_id, (SELECT i.code FROM indicators i WHERE a.resource = 'indicator' AND i.id = a.record_id) \
         AS indicator_code, ({visible}) AS visible FROM audit_log a"
    ));
    let limit_param = sql.bind(Value::Int(query.limit + 1));
    sql.push(&format!(" ORDER BY a.txid, a.id LIMIT {limit_param}"));
    let mut rows: Vec<Row> = sql.into_query().load(conn).await?;
    let has_more = rows.len() as i64 > query.limit;
    rows.truncate(query.limit as usize);
    Ok((rows.into_iter().filter_map(change).collect(), has_more))
}

/// The position a change's cursor names.
pub fn position(cursor: &str) -> Option<Position> {
    pagination::decode_cursor(Some(cursor), FEED).ok().flatten()
}

/// The feed's current position: everything before it has settled.
pub async fn now(conn: &mut diesel_async::AsyncPgConnection) -> ApiResult<Position> {
    let horizon: Horizon = diesel::sql_query(
        "SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::numeric - 1)::text AS t",
    )
    .get_result(conn)
    .await?;
    Ok(Position {
        t: horizon.t,
        i: i64::MAX,
    })
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    txid: String,
    #[diesel(sql_type = Text)]
    resource: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    record_id: Uuid,
    #[diesel(sql_type = Text)]
    op: String,
    #[diesel(sql_type = Nullable<Int4>)]
    version: Option<i32>,
    #[diesel(sql_type = Timestamptz)]
    changed_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    project_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    indicator_code: Option<String>,
    #[diesel(sql_type = Bool)]
    visible: bool,
}

#[derive(QueryableByName)]
struct Horizon {
    #[diesel(sql_type = Text)]
    t: String,
}

const MAX_LIMIT: i64 = 1000;

/// Follow changes
///
/// Every create, update and delete of the records you may read, oldest first, in an order
/// that never skips a change however writes interleave: a change appears once its transaction
/// and every older one have settled. Mirror the registry by taking `since=now`, copying the
/// lists, then applying this feed from that cursor: `upsert` → fetch `url`, `delete` → drop.
/// Deleting a project also logs deletes of its partners, activities and metric values.
#[utoipa::path(
    tag = "changes",
    params(ChangeParams),
    responses((status = 200, description = "Changes after `since`", body = ChangePage))
)]
#[get("/changes")]
async fn list_changes(
    state: web::Data<AppState>,
    caller: Caller,
    Query(params): Query<ChangeParams>,
) -> ApiResult<HttpResponse> {
    let limit = match params.limit {
        None => 200,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::bad_param(
                "limit",
                "out_of_range",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ))
        }
    };
    let mut conn = state.reader(&caller).await?;
    let since: Option<Position> = match params.since.as_deref() {
        // Everything below the horizon counts as seen; the id bound covers all its rows.
        Some("now") => Some(now(&mut conn).await?),
        raw => pagination::decode_cursor(raw, FEED).map_err(|_| {
            ApiError::bad_param(
                "since",
                "invalid",
                "since is a cursor this feed returned, or `now`",
            )
        })?,
    };
    if let Some(position) = &since {
        if position.t.is_empty() || !position.t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::bad_param(
                "since",
                "invalid",
                "since is a cursor this feed returned, or `now`",
            ));
        }
    }
    let resources: Vec<Resource> = params.resource.into_iter().collect();
    let (data, has_more) = read(
        &mut conn,
        &FeedQuery {
            since: since.as_ref(),
            limit,
            resources: &resources,
            visibility: caller.visibility(),
            project: None,
            organisation: None,
        },
    )
    .await?;
    let next_cursor = match (data.last(), since) {
        (Some(last), _) => last.cursor.clone(),
        (None, Some(position)) => pagination::encode_cursor(&position, FEED),
        (None, None) => pagination::encode_cursor(
            &Position {
                t: "0".to_owned(),
                i: 0,
            },
            FEED,
        ),
    };
    let page = ChangePage {
        data,
        next_cursor,
        has_more,
    };
    Ok(http::json_response(HttpResponse::Ok(), &page, None))
}

fn change(row: Row) -> Option<Change> {
    let resource = Resource::parse(&row.resource)?;
    let deleted = row.op == "delete" || !row.visible;
    let url = match resource {
        Resource::Organisation => Some(format!("/v1/organisations/{}", row.record_id)),
        Resource::Programme => Some(format!("/v1/programmes/{}", row.record_id)),
        Resource::Project => Some(format!("/v1/projects/{}", row.record_id)),
        Resource::Partner => row
            .project_id
            .map(|p| format!("/v1/projects/{p}/partners/{}", row.record_id)),
        Resource::Activity => Some(format!("/v1/activities/{}", row.record_id)),
        Resource::Indicator => row.indicator_code.map(|c| format!("/v1/indicators/{c}")),
        Resource::Metric => Some(format!("/v1/metrics/{}", row.record_id)),
        Resource::Source => Some(format!("/v1/sources/{}", row.record_id)),
    };
    Some(Change {
        cursor: pagination::encode_cursor(
            &Position {
                t: row.txid,
                i: row.id,
            },
            FEED,
        ),
        resource,
        id: row.record_id,
        op: if deleted { Op::Delete } else { Op::Upsert },
        version: if deleted { None } else { row.version },
        changed_at: row.changed_at,
        url,
    })
}

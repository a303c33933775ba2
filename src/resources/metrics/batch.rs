//! `POST /v1/metrics/batch`: partners push up to 10,000 outcome numbers in one all-or-nothing
//! request. Every item is checked first (shape, rules, references, permissions) and every bad
//! one is reported by index and field; only then is the whole batch upserted in one statement,
//! keyed by the natural key (project, indicator, activity, period, target group, kind).
//!
//! The work is set-based: a fixed handful of queries whatever the batch size (resolve projects,
//! indicators, activities and target groups; check permissions; one `INSERT ... ON CONFLICT`
//! over `unnest`ed arrays; read back the ids).

use std::collections::{HashMap, HashSet};

use actix_web::{post, web, HttpRequest, HttpResponse};
use bigdecimal::BigDecimal;
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Date, Integer, Nullable, Numeric, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::sheet::{self, Format};
use super::MetricInput;
use crate::auth::Caller;
use crate::domain::money;
use crate::domain::{MetricKind, Qualifier};
use crate::schema::{activities, indicators, metric_values, projects};
use crate::state::AppState;
use crate::telemetry::METRICS;
use crate::web::error::{validation_errors, ApiError, ApiResult, FieldError};
use crate::web::http::{self, Query, MAX_BATCH_BYTES};

/// Most items one batch may carry.
pub const MAX_ITEMS: usize = 10_000;

/// A batch of outcome numbers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 10,000 outcome numbers.
    #[schema(min_items = 1, max_items = 10000)]
    pub items: Vec<BatchItem>,
}

/// One outcome number in a batch: a metric value plus the project it belongs to.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    /// The project: its id, or its reference number.
    #[schema(
        min_length = 1,
        max_length = 100,
        example = "2012.EEZ/PP/2/MAC/016/037"
    )]
    pub project: String,
    /// Indicator code (`/v1/indicators`).
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "people_trained")]
    pub indicator: String,
    /// The activity the number belongs to (an activity of the same project).
    pub activity_id: Option<Uuid>,
    /// The activity by its `external_id` instead (within the same project).
    #[schema(min_length = 1, max_length = 100, example = "LSK-2013-course-7")]
    pub activity_external_id: Option<String>,
    /// First day of the period (with `period_end`; both null when unknown).
    #[schema(example = "2013-01-01")]
    pub period_start: Option<NaiveDate>,
    /// Last day of the period (not before `period_start`).
    #[schema(example = "2014-04-30")]
    pub period_end: Option<NaiveDate>,
    /// Target group code (`/v1/vocabularies/target_groups`).
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "seniors")]
    pub target_group: Option<String>,
    /// Actual, target or baseline; default `actual`.
    #[serde(default = "super::default_kind")]
    pub kind: MetricKind,
    /// The number (0 to 1e15, at most 4 decimals).
    #[schema(minimum = 0, maximum = 1e15, example = 130)]
    pub value: f64,
    /// Note on how the number was obtained or qualified.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// How exact `value` is; default `exact`.
    #[serde(default = "super::default_qualifier")]
    pub qualifier: Qualifier,
    /// The partner's own key for the value, unique within the project: pushing it again
    /// updates the value it names, even when its period or other natural-key fields changed.
    #[schema(min_length = 1, max_length = 100, example = "LSK-2013-trained")]
    pub external_id: Option<String>,
}

impl BatchItem {
    fn metric(&self) -> MetricInput {
        MetricInput {
            indicator: self.indicator.clone(),
            activity_id: self.activity_id,
            period_start: self.period_start,
            period_end: self.period_end,
            target_group: self.target_group.clone(),
            kind: self.kind,
            value: self.value,
            note: self.note.clone(),
            qualifier: self.qualifier,
            inferred: Vec::new(),
            sources: Vec::new(),
            external_id: self.external_id.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BatchParams {
    /// Validate and report what would happen, without writing anything.
    #[param(default = false)]
    pub dry_run: Option<bool>,
}

crate::text_enum! {
    /// What a batch did (or, in a dry run, would do) with an item.
    ItemOutcome { Created => "created", Updated => "updated", Unchanged => "unchanged" }
}

/// What happened to one item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemResult {
    /// Position of the item in the request.
    pub index: usize,
    /// The metric value's id (`null` in a dry run for a value that would be created).
    pub id: Option<Uuid>,
    pub outcome: ItemOutcome,
}

/// The import summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchSummary {
    /// True when nothing was written.
    pub dry_run: bool,
    /// Values created (or that would be).
    pub created: usize,
    /// Values whose number, qualifier or note changed (or would).
    pub updated: usize,
    /// Values already stored exactly so.
    pub unchanged: usize,
    /// One entry per item, in request order.
    pub items: Vec<ItemResult>,
}

/// A validated item, resolved to ids.
struct Resolved {
    index: usize,
    project_id: Uuid,
    indicator_id: Uuid,
    activity_id: Option<Uuid>,
    period_start: Option<NaiveDate>,
    period_end: Option<NaiveDate>,
    target_group: Option<String>,
    kind: MetricKind,
    value: BigDecimal,
    note: Option<String>,
    qualifier: Qualifier,
    external_id: Option<String>,
    /// The stored value the external id names when its natural key is another: it moves.
    moves: Option<Uuid>,
}

type NaturalKey = (
    Uuid,
    Uuid,
    Option<Uuid>,
    Option<NaiveDate>,
    Option<NaiveDate>,
    Option<String>,
    String,
);

impl Resolved {
    fn key(&self) -> NaturalKey {
        (
            self.project_id,
            self.indicator_id,
            self.activity_id,
            self.period_start,
            self.period_end,
            self.target_group.clone(),
            self.kind.as_str().to_owned(),
        )
    }
}

/// Push outcome numbers in bulk
///
/// Upserts up to 10,000 metric values by their natural key (project, indicator, activity,
/// period, target group, kind), or by the partner's `external_id`: all or nothing. The body is
/// JSON, or a spreadsheet (`text/csv` or XLSX) with one row per value and the items' field
/// names (or their Latvian aliases) as headers. A 422 lists every bad item as
/// `items[i].field` (for a spreadsheet: `row 7, column "value"`); a 403 lists the items whose
/// project the key may not write; a 409 names both records when an external id and the
/// natural key point at different ones. With `dry_run=true` the same checks run and the
/// summary says what would happen; nothing is written. Send an `Idempotency-Key` header to
/// make retries safe: a replay returns the first response.
#[utoipa::path(
    tag = "metrics",
    params(BatchParams),
    request_body(content(
        (BatchRequest = "application/json"),
        (String = "text/csv", example = "project;rādītājs;perioda sākums;perioda beigas;vērtība\n2012.EEZ/PP/2/MAC/016/037;people_trained;01.01.2013;30.04.2014;130,5\n"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The import summary", body = BatchSummary),
        (status = 409, description = "An external id and the natural key name different values",
            body = crate::web::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/metrics/batch")]
pub async fn push_metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Query(params): Query<BatchParams>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let dry_run = params.dry_run.unwrap_or(false);
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let format = Format::of(content_type)?;
    let body = http::read_raw_body(&req, payload, MAX_BATCH_BYTES).await?;
    let mut conn = state.writer(&caller).await?;
    let summary = import(&mut conn, &caller, format, &body, dry_run).await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// A batch in any of its formats, checked and (unless `dry_run`) stored in one transaction on
/// `conn` (a writer's connection: the audit trail reads who writes from it). The HTTP handler
/// and `kopa import` both come here.
pub async fn import(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    format: Format,
    body: &[u8],
    dry_run: bool,
) -> ApiResult<BatchSummary> {
    let (raw, sheet) = match format {
        Format::Json => (items_of(http::parse_json(body)?)?, None),
        Format::Csv => {
            let sheet = sheet::read_csv(body, MAX_ITEMS)?;
            (sheet.items.clone(), Some(sheet))
        }
        Format::Xlsx => {
            let sheet = sheet::read_xlsx(body, MAX_ITEMS)?;
            (sheet.items.clone(), Some(sheet))
        }
    };
    let result = async {
        let (items, mut errors) = parse_items(raw)?;
        if let Some(sheet) = &sheet {
            errors.extend(sheet.errors.iter().cloned());
        }
        conn.transaction(async |conn| -> ApiResult<BatchSummary> {
            let resolved = resolve(conn, caller, &items, errors).await?;
            if dry_run {
                preview(conn, &resolved).await
            } else {
                upsert(conn, &resolved).await
            }
        })
        .await
    }
    .await;
    let summary = match (result, &sheet) {
        (Ok(summary), _) => summary,
        (Err(error), None) => return Err(error),
        (Err(error), Some(sheet)) => return Err(error.map_fields(|errors| sheet.locate(errors))),
    };
    if !dry_run {
        METRICS.batch_items(summary.created + summary.updated);
    }
    Ok(summary)
}

/// The `items` of a JSON batch.
fn items_of(body: serde_json::Value) -> ApiResult<Vec<serde_json::Value>> {
    let serde_json::Value::Object(mut body) = body else {
        return Err(ApiError::invalid(
            "body",
            "invalid_type",
            "the body must be an object with an `items` array",
        ));
    };
    if let Some(unknown) = body.keys().find(|k| *k != "items") {
        return Err(ApiError::invalid(
            unknown.clone(),
            "unknown_field",
            format!("unknown field `{unknown}`"),
        ));
    }
    match body.remove("items") {
        Some(serde_json::Value::Array(items)) => Ok(items),
        Some(_) => Err(ApiError::invalid(
            "items",
            "invalid_type",
            "must be an array",
        )),
        None => Err(ApiError::invalid(
            "items",
            "required",
            "missing field `items`",
        )),
    }
}

/// Items that parsed, by index, and the problems of the others.
type Parsed = (Vec<(usize, BatchItem)>, Vec<FieldError>);

/// Shape and rules of every item: the items that parsed (with their index) and the problems of
/// all the others, so references are checked for every item that could be read.
fn parse_items(raw: Vec<serde_json::Value>) -> ApiResult<Parsed> {
    if raw.is_empty() || raw.len() > MAX_ITEMS {
        return Err(ApiError::invalid(
            "items",
            "length",
            format!("a batch holds 1 to {MAX_ITEMS} items, not {}", raw.len()),
        ));
    }
    let mut errors = Vec::new();
    let mut items = Vec::with_capacity(raw.len());
    for (index, value) in raw.into_iter().enumerate() {
        let prefix = format!("items[{index}]");
        match http::from_value::<BatchItem>(value) {
            Ok(item) => {
                if let Err(e) = item.metric().validate() {
                    errors.extend(validation_errors(&e).into_iter().map(|e| e.within(&prefix)));
                }
                if item.project.is_empty() || item.project.len() > 100 {
                    errors.push(FieldError::new(
                        format!("{prefix}.project"),
                        "length",
                        "a project id or reference of 1 to 100 characters",
                    ));
                }
                items.push((index, item));
            }
            Err(ApiError::Validation(found)) => {
                errors.extend(found.into_iter().map(|e| e.within(&prefix)));
            }
            Err(other) => return Err(other),
        }
    }
    Ok((items, errors))
}

#[derive(QueryableByName)]
struct Code {
    #[diesel(sql_type = Text)]
    code: String,
}

struct ProjectRef {
    id: Uuid,
    reference: Option<String>,
}

/// Resolves references in a constant number of queries, checks the caller may write each
/// project, and refuses duplicate natural keys within the batch.
async fn resolve(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    items: &[(usize, BatchItem)],
    mut errors: Vec<FieldError>,
) -> ApiResult<Vec<Resolved>> {
    let ids: Vec<Uuid> = items
        .iter()
        .filter_map(|(_, i)| i.project.parse().ok())
        .collect();
    let references: Vec<&str> = items
        .iter()
        .filter(|(_, i)| i.project.parse::<Uuid>().is_err())
        .map(|(_, i)| i.project.as_str())
        .collect();
    let found: Vec<ProjectRef> = projects::table
        .filter(
            projects::id
                .eq_any(&ids)
                .or(projects::reference.eq_any(&references)),
        )
        .select((projects::id, projects::reference))
        .load::<(Uuid, Option<String>)>(conn)
        .await?
        .into_iter()
        .map(|(id, reference)| ProjectRef { id, reference })
        .collect();
    let by_id: HashSet<Uuid> = found.iter().map(|p| p.id).collect();
    let by_reference: HashMap<&str, Uuid> = found
        .iter()
        .filter_map(|p| p.reference.as_deref().map(|r| (r, p.id)))
        .collect();

    let codes: Vec<&str> = items.iter().map(|(_, i)| i.indicator.as_str()).collect();
    let indicator_ids: HashMap<String, Uuid> = indicators::table
        .filter(indicators::code.eq_any(&codes))
        .select((indicators::code, indicators::id))
        .load::<(String, Uuid)>(conn)
        .await?
        .into_iter()
        .collect();
    let activity_ids: Vec<Uuid> = items.iter().filter_map(|(_, i)| i.activity_id).collect();
    let activity_projects: HashMap<Uuid, Uuid> = activities::table
        .filter(activities::id.eq_any(&activity_ids))
        .select((activities::id, activities::project_id))
        .load::<(Uuid, Uuid)>(conn)
        .await?
        .into_iter()
        .collect();
    let activity_externals: Vec<&str> = items
        .iter()
        .filter_map(|(_, i)| i.activity_external_id.as_deref())
        .collect();
    let activities_by_external: HashMap<(Uuid, String), Uuid> = if activity_externals.is_empty() {
        HashMap::new()
    } else {
        activities::table
            .filter(activities::project_id.eq_any(found.iter().map(|p| p.id)))
            .filter(activities::external_id.eq_any(&activity_externals))
            .select((
                activities::project_id,
                activities::external_id,
                activities::id,
            ))
            .load::<(Uuid, Option<String>, Uuid)>(conn)
            .await?
            .into_iter()
            .filter_map(|(project, external, id)| Some(((project, external?), id)))
            .collect()
    };
    let groups: Vec<&str> = items
        .iter()
        .filter_map(|(_, i)| i.target_group.as_deref())
        .collect();
    let known_groups: HashSet<String> =
        diesel::sql_query("SELECT code FROM target_groups WHERE code = ANY($1)")
            .bind::<Array<Text>, _>(&groups)
            .load::<Code>(conn)
            .await?
            .into_iter()
            .map(|c| c.code)
            .collect();

    let mut resolved = Vec::with_capacity(items.len());
    for &(index, ref item) in items {
        let field = |name: &str| format!("items[{index}].{name}");
        let project = match item.project.parse::<Uuid>() {
            Ok(id) => by_id.contains(&id).then_some(id),
            Err(_) => by_reference.get(item.project.as_str()).copied(),
        };
        let Some(project_id) = project else {
            errors.push(FieldError::new(
                field("project"),
                "unknown_reference",
                format!("no project with id or reference {:?}", item.project),
            ));
            continue;
        };
        let Some(&indicator_id) = indicator_ids.get(&item.indicator) else {
            errors.push(FieldError::new(
                field("indicator"),
                "unknown_reference",
                format!("no indicator with code {:?}", item.indicator),
            ));
            continue;
        };
        let mut activity_id = item.activity_id;
        if let Some(external) = &item.activity_external_id {
            match activities_by_external.get(&(project_id, external.clone())) {
                Some(&id) if item.activity_id.is_none_or(|given| given == id) => {
                    activity_id = Some(id)
                }
                Some(_) => errors.push(FieldError::new(
                    field("activity_external_id"),
                    "conflict",
                    "names another activity than activity_id",
                )),
                None => errors.push(FieldError::new(
                    field("activity_external_id"),
                    "unknown_reference",
                    format!("the project has no activity with external id {external:?}"),
                )),
            }
        } else if let Some(activity) = item.activity_id {
            match activity_projects.get(&activity) {
                Some(p) if *p == project_id => {}
                Some(_) => errors.push(FieldError::new(
                    field("activity_id"),
                    "unknown_reference",
                    "the activity belongs to another project",
                )),
                None => errors.push(FieldError::new(
                    field("activity_id"),
                    "unknown_reference",
                    format!("no activity with id {activity}"),
                )),
            }
        }
        if let Some(group) = &item.target_group {
            if !known_groups.contains(group) {
                errors.push(FieldError::new(
                    field("target_group"),
                    "unknown_code",
                    "not a code of /v1/vocabularies/target_groups",
                ));
            }
        }
        resolved.push(Resolved {
            index,
            project_id,
            indicator_id,
            activity_id,
            period_start: item.period_start,
            period_end: item.period_end,
            target_group: item.target_group.clone(),
            kind: item.kind,
            value: money::to_decimal(item.value),
            note: item.note.clone(),
            qualifier: item.qualifier,
            external_id: item.external_id.clone(),
            moves: None,
        });
    }
    let mut first_at: HashMap<NaturalKey, usize> = HashMap::new();
    let mut first_external: HashMap<(Uuid, &str), usize> = HashMap::new();
    for r in &resolved {
        if let Some(first) = first_at.insert(r.key(), r.index) {
            first_at.insert(r.key(), first);
            errors.push(FieldError::new(
                format!("items[{}]", r.index),
                "duplicate",
                format!("the same value (natural key) as items[{first}]"),
            ));
        }
        if let Some(external) = r.external_id.as_deref() {
            if let Some(&first) = first_external.get(&(r.project_id, external)) {
                errors.push(FieldError::new(
                    format!("items[{}].external_id", r.index),
                    "duplicate",
                    format!("the same external id as items[{first}]"),
                ));
            } else {
                first_external.insert((r.project_id, external), r.index);
            }
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| item_index(&e.field));
        return Err(ApiError::Validation(errors));
    }
    let projects: Vec<Uuid> = {
        let mut set: Vec<Uuid> = resolved.iter().map(|r| r.project_id).collect();
        set.sort();
        set.dedup();
        set
    };
    let denied = caller.metric_projects_denied(conn, &projects).await?;
    if !denied.is_empty() {
        let errors = resolved
            .iter()
            .filter(|r| denied.contains(&r.project_id))
            .map(|r| {
                FieldError::new(
                    format!("items[{}].project", r.index),
                    "forbidden",
                    "the key's organisation neither leads nor partners in this project",
                )
            })
            .collect();
        return Err(ApiError::Forbidden {
            detail: format!(
                "the key may not push numbers for {} of the batch's projects",
                denied.len()
            ),
            errors,
        });
    }
    match_external_ids(conn, &mut resolved).await?;
    Ok(resolved)
}

/// Matches the items' external ids against stored values: an external id that names a value
/// whose natural key is not the item's moves that value (`moves`); an external id and a natural
/// key that name two different values are a 409 naming both.
async fn match_external_ids(
    conn: &mut AsyncPgConnection,
    resolved: &mut [Resolved],
) -> ApiResult<()> {
    let externals: Vec<&str> = resolved
        .iter()
        .filter_map(|r| r.external_id.as_deref())
        .collect();
    if externals.is_empty() {
        return Ok(());
    }
    let projects: Vec<Uuid> = resolved.iter().map(|r| r.project_id).collect();
    let by_external: HashMap<(Uuid, String), Uuid> = metric_values::table
        .filter(metric_values::project_id.eq_any(&projects))
        .filter(metric_values::external_id.eq_any(&externals))
        .select((
            metric_values::project_id,
            metric_values::external_id,
            metric_values::id,
        ))
        .load::<(Uuid, Option<String>, Uuid)>(conn)
        .await?
        .into_iter()
        .filter_map(|(project, external, id)| Some(((project, external?), id)))
        .collect();
    let stored = stored(conn, resolved).await?;
    let mut conflicts = Vec::new();
    for r in resolved.iter_mut() {
        let Some(external) = r.external_id.clone() else {
            continue;
        };
        let named = by_external.get(&(r.project_id, external.clone())).copied();
        let keyed = stored.get(&r.key());
        match (named, keyed) {
            (Some(named), Some(keyed)) if named != keyed.id => conflicts.push(FieldError::new(
                format!("items[{}].external_id", r.index),
                "conflict",
                format!(
                    "external id {external:?} names /v1/metrics/{named}, but the natural key names /v1/metrics/{}",
                    keyed.id
                ),
            )),
            (Some(named), None) => r.moves = Some(named),
            (None, Some(keyed)) => {
                if let Some(other) = keyed.external_id.as_deref().filter(|o| **o != external) {
                    conflicts.push(FieldError::new(
                        format!("items[{}].external_id", r.index),
                        "conflict",
                        format!(
                            "external id {external:?} names no value, but the natural key names /v1/metrics/{} with external id {other:?}",
                            keyed.id
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Conflict {
            detail: format!(
                "{} item(s) name one value by external id and another by natural key",
                conflicts.len()
            ),
            errors: conflicts,
        })
    }
}

fn item_index(field: &str) -> usize {
    field
        .strip_prefix("items[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// The items as column arrays for `unnest`.
struct Columns {
    index: Vec<i32>,
    project_id: Vec<Uuid>,
    indicator_id: Vec<Uuid>,
    activity_id: Vec<Option<Uuid>>,
    period_start: Vec<Option<NaiveDate>>,
    period_end: Vec<Option<NaiveDate>>,
    target_group: Vec<Option<String>>,
    kind: Vec<String>,
    value: Vec<BigDecimal>,
    note: Vec<Option<String>>,
    qualifier: Vec<String>,
    external_id: Vec<Option<String>>,
    /// Ids for the values the batch creates (time-ordered v7, made here like everywhere else).
    id: Vec<Uuid>,
}

impl Columns {
    /// Sorted by natural key, so concurrent batches touch rows in one order (no deadlocks).
    fn of<'a>(items: impl Iterator<Item = &'a Resolved>) -> Columns {
        let mut order: Vec<&Resolved> = items.collect();
        order.sort_by_key(|r| r.key());
        Columns {
            index: order.iter().map(|r| r.index as i32).collect(),
            project_id: order.iter().map(|r| r.project_id).collect(),
            indicator_id: order.iter().map(|r| r.indicator_id).collect(),
            activity_id: order.iter().map(|r| r.activity_id).collect(),
            period_start: order.iter().map(|r| r.period_start).collect(),
            period_end: order.iter().map(|r| r.period_end).collect(),
            target_group: order.iter().map(|r| r.target_group.clone()).collect(),
            kind: order.iter().map(|r| r.kind.as_str().to_owned()).collect(),
            value: order.iter().map(|r| r.value.clone()).collect(),
            note: order.iter().map(|r| r.note.clone()).collect(),
            qualifier: order
                .iter()
                .map(|r| r.qualifier.as_str().to_owned())
                .collect(),
            external_id: order.iter().map(|r| r.external_id.clone()).collect(),
            id: order.iter().map(|_| Uuid::now_v7()).collect(),
        }
    }
}

const INPUT: &str = "unnest($1::int4[], $2::uuid[], $3::uuid[], $4::uuid[], $5::date[], $6::date[], \
     $7::text[], $8::text[], $9::numeric[], $10::text[], $11::uuid[], $12::text[], $13::text[]) \
     AS i(idx, project_id, indicator_id, activity_id, period_start, period_end, target_group, kind, value, note, id, qualifier, external_id)";

macro_rules! bind_columns {
    ($query:expr, $c:expr) => {
        $query
            .bind::<Array<Integer>, _>(&$c.index)
            .bind::<Array<diesel::sql_types::Uuid>, _>(&$c.project_id)
            .bind::<Array<diesel::sql_types::Uuid>, _>(&$c.indicator_id)
            .bind::<Array<Nullable<diesel::sql_types::Uuid>>, _>(&$c.activity_id)
            .bind::<Array<Nullable<Date>>, _>(&$c.period_start)
            .bind::<Array<Nullable<Date>>, _>(&$c.period_end)
            .bind::<Array<Nullable<Text>>, _>(&$c.target_group)
            .bind::<Array<Text>, _>(&$c.kind)
            .bind::<Array<Numeric>, _>(&$c.value)
            .bind::<Array<Nullable<Text>>, _>(&$c.note)
            .bind::<Array<diesel::sql_types::Uuid>, _>(&$c.id)
            .bind::<Array<Text>, _>(&$c.qualifier)
            .bind::<Array<Nullable<Text>>, _>(&$c.external_id)
    };
}

/// A stored value as the batch compares it.
struct Stored {
    id: Uuid,
    value: BigDecimal,
    note: Option<String>,
    qualifier: Qualifier,
    external_id: Option<String>,
}

impl Stored {
    /// Whether `r` would leave this value as it is.
    fn same(&self, r: &Resolved) -> bool {
        self.value == r.value
            && self.note == r.note
            && self.qualifier == r.qualifier
            && (r.external_id.is_none() || r.external_id == self.external_id)
    }
}

type StoredColumns = (
    Uuid,
    Uuid,
    Uuid,
    Option<Uuid>,
    Option<NaiveDate>,
    Option<NaiveDate>,
    Option<String>,
    MetricKind,
    BigDecimal,
    Option<String>,
    Qualifier,
    Option<String>,
);

/// Stored values of the batch's projects and indicators, by natural key. Matching happens
/// here rather than in SQL: the key's nullable columns would need `IS NOT DISTINCT FROM`,
/// which PostgreSQL cannot hash or index, while this is one index range scan.
async fn stored(
    conn: &mut AsyncPgConnection,
    resolved: &[Resolved],
) -> ApiResult<HashMap<NaturalKey, Stored>> {
    let mut projects: Vec<Uuid> = resolved.iter().map(|r| r.project_id).collect();
    projects.sort();
    projects.dedup();
    let mut indicators: Vec<Uuid> = resolved.iter().map(|r| r.indicator_id).collect();
    indicators.sort();
    indicators.dedup();
    let rows: Vec<StoredColumns> = metric_values::table
        .filter(metric_values::project_id.eq_any(&projects))
        .filter(metric_values::indicator_id.eq_any(&indicators))
        .select((
            metric_values::id,
            metric_values::project_id,
            metric_values::indicator_id,
            metric_values::activity_id,
            metric_values::period_start,
            metric_values::period_end,
            metric_values::target_group,
            metric_values::kind,
            metric_values::value,
            metric_values::note,
            metric_values::qualifier,
            metric_values::external_id,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                project,
                indicator,
                activity,
                start,
                end,
                group,
                kind,
                value,
                note,
                qualifier,
                external_id,
            )| {
                (
                    (
                        project,
                        indicator,
                        activity,
                        start,
                        end,
                        group,
                        kind.as_str().to_owned(),
                    ),
                    Stored {
                        id,
                        value,
                        note,
                        qualifier,
                        external_id,
                    },
                )
            },
        )
        .collect())
}

fn summary(dry_run: bool, mut items: Vec<ItemResult>) -> BatchSummary {
    items.sort_by_key(|i| i.index);
    let count = |o: ItemOutcome| items.iter().filter(|i| i.outcome == o).count();
    BatchSummary {
        dry_run,
        created: count(ItemOutcome::Created),
        updated: count(ItemOutcome::Updated),
        unchanged: count(ItemOutcome::Unchanged),
        items,
    }
}

async fn preview(conn: &mut AsyncPgConnection, resolved: &[Resolved]) -> ApiResult<BatchSummary> {
    let stored = stored(conn, resolved).await?;
    let items = resolved
        .iter()
        .map(|r| match stored.get(&r.key()) {
            None if r.moves.is_some() => ItemResult {
                index: r.index,
                id: r.moves,
                outcome: ItemOutcome::Updated,
            },
            None => ItemResult {
                index: r.index,
                id: None,
                outcome: ItemOutcome::Created,
            },
            Some(s) => ItemResult {
                index: r.index,
                id: Some(s.id),
                outcome: if s.same(r) {
                    ItemOutcome::Unchanged
                } else {
                    ItemOutcome::Updated
                },
            },
        })
        .collect();
    Ok(summary(true, items))
}

#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    project_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    indicator_id: Uuid,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    activity_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Date>)]
    period_start: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    period_end: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Text>)]
    target_group: Option<String>,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Bool)]
    created: bool,
}

async fn upsert(conn: &mut AsyncPgConnection, resolved: &[Resolved]) -> ApiResult<BatchSummary> {
    let mut results: HashMap<usize, ItemResult> = HashMap::with_capacity(resolved.len());
    // Values named by an external id under another natural key move to the item's key.
    for r in resolved {
        let Some(id) = r.moves else {
            continue;
        };
        diesel::update(metric_values::table.find(id))
            .set((
                metric_values::indicator_id.eq(r.indicator_id),
                metric_values::activity_id.eq(r.activity_id),
                metric_values::period_start.eq(r.period_start),
                metric_values::period_end.eq(r.period_end),
                metric_values::target_group.eq(&r.target_group),
                metric_values::kind.eq(r.kind),
                metric_values::value.eq(&r.value),
                metric_values::note.eq(&r.note),
                metric_values::qualifier.eq(r.qualifier),
            ))
            .execute(conn)
            .await?;
        results.insert(
            r.index,
            ItemResult {
                index: r.index,
                id: Some(id),
                outcome: ItemOutcome::Updated,
            },
        );
    }
    let columns = Columns::of(resolved.iter().filter(|r| r.moves.is_none()));
    let sql = format!(
        "INSERT INTO metric_values (id, project_id, indicator_id, activity_id, period_start, \
           period_end, target_group, kind, value, note, qualifier, external_id) \
         SELECT id, project_id, indicator_id, activity_id, period_start, period_end, \
           target_group, kind, value, note, qualifier, external_id FROM {INPUT} \
         ON CONFLICT ON CONSTRAINT metric_values_natural_key DO UPDATE \
           SET value = excluded.value, note = excluded.note, qualifier = excluded.qualifier, \
             external_id = coalesce(excluded.external_id, metric_values.external_id) \
           WHERE (metric_values.value, metric_values.note, metric_values.qualifier, metric_values.external_id) \
             IS DISTINCT FROM (excluded.value, excluded.note, excluded.qualifier, \
               coalesce(excluded.external_id, metric_values.external_id)) \
         RETURNING id, project_id, indicator_id, activity_id, period_start, period_end, \
           target_group, kind, (xmax = 0) AS created"
    );
    let written: Vec<Written> = bind_columns!(diesel::sql_query(sql), columns)
        .load(conn)
        .await?;
    let index: HashMap<NaturalKey, usize> = resolved.iter().map(|r| (r.key(), r.index)).collect();
    for w in written {
        let key = (
            w.project_id,
            w.indicator_id,
            w.activity_id,
            w.period_start,
            w.period_end,
            w.target_group,
            w.kind,
        );
        if let Some(&i) = index.get(&key) {
            let outcome = if w.created {
                ItemOutcome::Created
            } else {
                ItemOutcome::Updated
            };
            results.insert(
                i,
                ItemResult {
                    index: i,
                    id: Some(w.id),
                    outcome,
                },
            );
        }
    }
    if results.len() < resolved.len() {
        // The rest were already stored exactly so: read their ids.
        let stored = stored(conn, resolved).await?;
        for r in resolved {
            if let (false, Some(s)) = (results.contains_key(&r.index), stored.get(&r.key())) {
                results.insert(
                    r.index,
                    ItemResult {
                        index: r.index,
                        id: Some(s.id),
                        outcome: ItemOutcome::Unchanged,
                    },
                );
            }
        }
    }
    Ok(summary(false, results.into_values().collect()))
}

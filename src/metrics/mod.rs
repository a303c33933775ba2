//! Metric values: outcome numbers, indicator × project (× activity) × period (× target group),
//! as actual, target or baseline values; every change is kept as a revision.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::app::AppState;
use crate::auth::{Access, Caller};
use crate::decimal;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, IfMatch, Json, MergePatch, NoParams, Query};
use crate::pagination::{self, Page};
use crate::schema::{indicators, metric_revisions, metric_values};
use crate::validation;

mod list;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(batch::push_metrics)
        .service(list::list_metrics)
        .service(list_project_metrics)
        .service(create_metric)
        .service(find_metric)
        .service(update_metric)
        .service(delete_metric)
        .service(list_revisions);
}

pub mod batch;

crate::text_enum! {
    /// What a number is: an achieved `actual`, a planned `target`, or a `baseline` before the project.
    MetricKind { Actual => "actual", Target => "target", Baseline => "baseline" }
}

/// Largest accepted value (keeps every value exact in a JSON number and in `numeric(20,4)`).
pub const MAX_VALUE: f64 = 1e15;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = metric_values, check_for_backend(diesel::pg::Pg))]
pub struct MetricRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub indicator_id: Uuid,
    pub activity_id: Option<Uuid>,
    pub period_start: Option<NaiveDate>,
    pub period_end: Option<NaiveDate>,
    pub target_group: Option<String>,
    pub kind: MetricKind,
    pub value: BigDecimal,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The writable fields of a metric value (create body; PATCH merges into it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "metric_rules"))]
pub struct MetricInput {
    /// Indicator code (`/v1/indicators`).
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "people_trained")]
    pub indicator: String,
    /// The activity the number belongs to (an activity of the same project).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a83")]
    pub activity_id: Option<Uuid>,
    /// First day of the period the number covers (with `period_end`; both null when unknown).
    #[schema(example = "2013-01-01")]
    pub period_start: Option<NaiveDate>,
    /// Last day of the period (not before `period_start`).
    #[schema(example = "2014-04-30")]
    pub period_end: Option<NaiveDate>,
    /// Target group code the number is about (`/v1/vocabularies/target_groups`).
    #[validate(custom(function = "validation::code"))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "seniors")]
    pub target_group: Option<String>,
    /// Actual, target or baseline; default `actual`.
    #[serde(default = "default_kind")]
    pub kind: MetricKind,
    /// The number (0 to 1e15, at most 4 decimals).
    #[validate(range(min = 0.0, max = 1e15))]
    #[schema(minimum = 0, maximum = 1e15, example = 130)]
    pub value: f64,
    /// Note on how the number was obtained or qualified (e.g. "more than").
    #[validate(length(max = 2000))]
    #[schema(
        max_length = 2000,
        example = "Attended Latvian language, history and culture courses."
    )]
    pub note: Option<String>,
}

fn default_kind() -> MetricKind {
    MetricKind::Actual
}

fn metric_rules(input: &MetricInput) -> Result<(), ValidationError> {
    validation::period(
        input.period_start.as_ref(),
        input.period_end.as_ref(),
        "period_end",
    )?;
    if input.period_start.is_some() != input.period_end.is_some() {
        let mut err = ValidationError::new("required")
            .with_message("period_start and period_end go together".into());
        err.add_param(
            "field".into(),
            &if input.period_start.is_some() {
                "period_end"
            } else {
                "period_start"
            },
        );
        return Err(err);
    }
    if !decimal::has_at_most_decimals(input.value, 4) {
        let mut err =
            ValidationError::new("invalid").with_message("value has at most 4 decimals".into());
        err.add_param("field".into(), &"value");
        return Err(err);
    }
    Ok(())
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = metric_values, treat_none_as_null = true)]
pub(crate) struct MetricForm {
    pub(crate) indicator_id: Uuid,
    activity_id: Option<Uuid>,
    period_start: Option<NaiveDate>,
    period_end: Option<NaiveDate>,
    target_group: Option<String>,
    kind: MetricKind,
    value: BigDecimal,
    note: Option<String>,
}

/// One outcome number.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricValue {
    /// Time-ordered UUID (v7).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a84")]
    pub id: Uuid,
    /// The project.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a81")]
    pub project_id: Uuid,
    /// Indicator code.
    #[schema(example = "people_trained")]
    pub indicator: String,
    /// The activity, if the number belongs to one.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a83")]
    pub activity_id: Option<Uuid>,
    /// First day of the period.
    #[schema(example = "2013-01-01")]
    pub period_start: Option<NaiveDate>,
    /// Last day of the period.
    #[schema(example = "2014-04-30")]
    pub period_end: Option<NaiveDate>,
    /// Target group code.
    #[schema(example = "seniors")]
    pub target_group: Option<String>,
    /// Actual, target or baseline.
    pub kind: MetricKind,
    /// The number.
    #[schema(example = 130)]
    pub value: f64,
    /// Note.
    #[schema(example = "Attended Latvian language, history and culture courses.")]
    pub note: Option<String>,
    /// When the record was created.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub updated_at: DateTime<Utc>,
    /// 1 at creation, +1 on every change.
    #[schema(example = 1, minimum = 1)]
    pub version: i32,
}

impl MetricValue {
    pub fn from_parts(r: MetricRow, indicator: String) -> Self {
        MetricValue {
            id: r.id,
            project_id: r.project_id,
            indicator,
            activity_id: r.activity_id,
            period_start: r.period_start,
            period_end: r.period_end,
            target_group: r.target_group,
            kind: r.kind,
            value: decimal::to_f64(&r.value),
            note: r.note,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

impl MetricInput {
    pub fn from_stored(r: MetricRow, indicator: String) -> Self {
        MetricInput {
            indicator,
            activity_id: r.activity_id,
            period_start: r.period_start,
            period_end: r.period_end,
            target_group: r.target_group,
            kind: r.kind,
            value: decimal::to_f64(&r.value),
            note: r.note,
        }
    }
}

/// Resolves the indicator code into the stored form (422 naming `indicator` when unknown).
pub(crate) async fn form(
    conn: &mut AsyncPgConnection,
    input: &MetricInput,
) -> ApiResult<MetricForm> {
    let indicator_id: Uuid = indicators::table
        .filter(indicators::code.eq(&input.indicator))
        .select(indicators::id)
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| {
            ApiError::invalid(
                "indicator",
                "unknown_reference",
                format!("no indicator with code {:?}", input.indicator),
            )
        })?;
    Ok(MetricForm {
        indicator_id,
        activity_id: input.activity_id,
        period_start: input.period_start,
        period_end: input.period_end,
        target_group: input.target_group.clone(),
        kind: input.kind,
        value: decimal::to_decimal(input.value),
        note: input.note.clone(),
    })
}

/// Inserts a metric value of `project` (used by the API and the seeds).
pub async fn insert_metric(
    conn: &mut AsyncPgConnection,
    project: Uuid,
    input: &MetricInput,
) -> ApiResult<MetricValue> {
    let form = form(conn, input).await?;
    let row: MetricRow = diesel::insert_into(metric_values::table)
        .values((
            metric_values::id.eq(Uuid::now_v7()),
            metric_values::project_id.eq(project),
            form,
        ))
        .returning(MetricRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(MetricValue::from_parts(row, input.indicator.clone()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectMetricListParams {
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Include the total number of matching records.
    pub count: Option<bool>,
    /// Only values of this indicator (code).
    #[param(example = "people_trained")]
    pub indicator: Option<String>,
    /// Only values of this activity.
    pub activity: Option<Uuid>,
    /// Only actual, target or baseline values.
    pub kind: Option<MetricKind>,
}

/// Revisions are listed by id.
const SORT: &str = "id";

/// List a project's metric values
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Project id"), ProjectMetricListParams),
    responses((status = 200, description = "One page of metric values", body = Page<MetricValue>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/projects/{id}/metrics")]
async fn list_project_metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    Query(params): Query<ProjectMetricListParams>,
) -> ApiResult<HttpResponse> {
    let project = http::parse_id(&id, "project")?;
    let mut conn = state.reader(&caller).await?;
    caller.ensure_visible(&mut conn, project).await?;
    let params = list::MetricListParams {
        limit: params.limit,
        cursor: params.cursor,
        count: params.count,
        indicator: params.indicator,
        project: Some(project),
        activity: params.activity,
        kind: params.kind,
        ..Default::default()
    };
    list::page(state, conn, &req, &caller, params).await
}

/// Record a metric value for a project
///
/// One value per (indicator, activity, period, target group, kind): a second one is a 409 —
/// use `PATCH` to change it.
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Project id")),
    request_body = MetricInput,
    responses(
        (status = 201, description = "Created", body = MetricValue,
            headers(("ETag" = String, description = "Strong entity tag of the new record"),
                    ("Location" = String, description = "URL of the new record"))),
        (status = 409, description = "A value with the same natural key exists", body = crate::error::Problem,
            content_type = "application/problem+json"),
    )
)]
#[post("/projects/{id}/metrics")]
async fn create_metric(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    Json(input): Json<MetricInput>,
) -> ApiResult<HttpResponse> {
    let project = http::parse_id(&id, "project")?;
    validation::validate(&input)?;
    let mut conn = state.writer(&caller).await?;
    caller
        .authorize(&mut conn, Access::WriteMetrics { project })
        .await?;
    let value = insert_metric(&mut conn, project, &input).await?;
    let tag = http::etag(&value.id, value.version);
    Ok(http::created(
        format!("/v1/metrics/{}", value.id),
        tag,
        &value,
    ))
}

/// Get a metric value
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Metric value id"), NoParams),
    responses(
        (status = 200, description = "The metric value", body = MetricValue,
            headers(("ETag" = String, description = "Strong entity tag; send as If-None-Match or If-Match"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    )
)]
#[get("/metrics/{id}")]
async fn find_metric(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "metric value")?;
    let mut conn = state.reader(&caller).await?;
    let (row, code) = metric_values::table
        .inner_join(indicators::table)
        .filter(metric_values::id.eq(id))
        .select((MetricRow::as_select(), indicators::code))
        .first::<(MetricRow, String)>(&mut conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("metric value", id))?;
    caller
        .ensure_visible(&mut conn, row.project_id)
        .await
        .map_err(|_| ApiError::not_found("metric value", id))?;
    Ok(http::record_response(
        &req,
        http::etag(&row.id, row.version),
        &MetricValue::from_parts(row, code),
    ))
}

/// Update a metric value (JSON Merge Patch)
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Metric value id"), ("If-Match" = Option<String>, Header,
        description = "ETag the change is based on; a stale one gives 412"), NoParams),
    request_body(content = MetricInput, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields; `null` clears an optional field"),
    responses(
        (status = 200, description = "Updated", body = MetricValue, headers(("ETag" = String, description = "New entity tag"))),
        (status = 409, description = "A value with the same natural key exists", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/metrics/{id}")]
async fn update_metric(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "metric value")?;
    let precondition = IfMatch::from_request(&req);
    let mut conn = state.writer(&caller).await?;
    let value = conn
        .transaction(async |conn| -> ApiResult<MetricValue> {
            let (current, code) = lock(conn, id).await?;
            caller
                .authorize(
                    conn,
                    Access::WriteMetrics {
                        project: current.project_id,
                    },
                )
                .await?;
            precondition.check(&http::etag(&current.id, current.version))?;
            let input: MetricInput = http::merge(&MetricInput::from_stored(current, code), patch)?;
            validation::validate(&input)?;
            let form = form(conn, &input).await?;
            let row: MetricRow = diesel::update(metric_values::table.find(id))
                .set(form)
                .returning(MetricRow::as_returning())
                .get_result(conn)
                .await?;
            Ok(MetricValue::from_parts(row, input.indicator))
        })
        .await?;
    let tag = http::etag(&value.id, value.version);
    Ok(http::json_response(HttpResponse::Ok(), &value, Some(tag)))
}

/// Delete a metric value
///
/// The deletion is kept as the value's last revision.
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Metric value id"), ("If-Match" = Option<String>, Header,
        description = "ETag the deletion is based on; a stale one gives 412"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 412, description = "If-Match is stale", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/metrics/{id}")]
async fn delete_metric(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    _: Query<NoParams>,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "metric value")?;
    let precondition = IfMatch::from_request(&req);
    let mut conn = state.writer(&caller).await?;
    conn.transaction(async |conn| -> ApiResult<()> {
        let (current, _) = lock(conn, id).await?;
        caller
            .authorize(
                conn,
                Access::WriteMetrics {
                    project: current.project_id,
                },
            )
            .await?;
        precondition.check(&http::etag(&current.id, current.version))?;
        diesel::delete(metric_values::table.find(id))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<(MetricRow, String)> {
    let row: MetricRow = metric_values::table
        .find(id)
        .select(MetricRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("metric value", id))?;
    let code: String = indicators::table
        .find(row.indicator_id)
        .select(indicators::code)
        .first(conn)
        .await?;
    Ok((row, code))
}

crate::text_enum! {
    /// What a revision records.
    RevisionOp { Create => "create", Update => "update", Delete => "delete" }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = metric_revisions, check_for_backend(diesel::pg::Pg))]
struct RevisionRow {
    id: i64,
    op: RevisionOp,
    version: i32,
    old_value: Option<BigDecimal>,
    new_value: Option<BigDecimal>,
    api_key_id: Option<Uuid>,
    organisation_id: Option<Uuid>,
    changed_at: DateTime<Utc>,
}

/// One change of a metric value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricRevision {
    /// Sequence number of the revision (increasing).
    #[schema(example = 17)]
    pub id: i64,
    /// What happened.
    pub op: RevisionOp,
    /// The value's version after the change.
    #[schema(example = 2)]
    pub version: i32,
    /// The value before (null on create).
    #[schema(example = 120)]
    pub old_value: Option<f64>,
    /// The value after (null on delete).
    #[schema(example = 130)]
    pub new_value: Option<f64>,
    /// The API key that made the change (null for changes made without a key).
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a85")]
    pub api_key_id: Option<Uuid>,
    /// The organisation of that key.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub organisation_id: Option<Uuid>,
    /// When the change was committed.
    #[schema(example = "2026-11-23T10:00:00Z")]
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevisionListParams {
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// List a metric value's revisions
///
/// Oldest first. Revisions outlive the value: they stay readable after a delete.
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Metric value id"), RevisionListParams),
    responses((status = 200, description = "One page of revisions", body = Page<MetricRevision>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))))
)]
#[get("/metrics/{id}/revisions")]
async fn list_revisions(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    Query(params): Query<RevisionListParams>,
) -> ApiResult<HttpResponse> {
    let id = http::parse_id(&id, "metric value")?;
    let limit = pagination::limit(params.limit)?;
    let after: Option<i64> = pagination::decode_cursor(params.cursor.as_deref(), SORT)?;
    let mut conn = state.reader(&caller).await?;
    let mut query = metric_revisions::table
        .filter(metric_revisions::metric_value_id.eq(id))
        .select(RevisionRow::as_select())
        .order(metric_revisions::id)
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(metric_revisions::id.gt(after));
    }
    let rows: Vec<RevisionRow> = query.load(&mut conn).await?;
    let project: Option<Uuid> = metric_revisions::table
        .filter(metric_revisions::metric_value_id.eq(id))
        .select(metric_revisions::project_id)
        .first(&mut conn)
        .await
        .optional()?;
    // A deleted project takes its revisions' visibility with it: only admins see those.
    let visible = match project {
        Some(project) => {
            caller.ensure_visible(&mut conn, project).await.is_ok() || caller.is_admin()
        }
        None => false,
    };
    if !visible {
        return Err(ApiError::not_found("metric value", id));
    }
    let revisions = rows
        .into_iter()
        .map(|r| MetricRevision {
            id: r.id,
            op: r.op,
            version: r.version,
            old_value: r.old_value.as_ref().map(decimal::to_f64),
            new_value: r.new_value.as_ref().map(decimal::to_f64),
            api_key_id: r.api_key_id,
            organisation_id: r.organisation_id,
            changed_at: r.changed_at,
        })
        .collect();
    Ok(Page::from_rows(revisions, limit, SORT, |r: &MetricRevision| r.id).respond(&req))
}

//! What happens to a number after it is pushed: the programme's administrator (or an operator)
//! verifies or queries it, and anyone who may write it can set it back to an earlier revision.
//! Both are ordinary attributed changes, kept in the value's history and revisions.

use actix_web::{post, HttpResponse};
use bigdecimal::BigDecimal;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::{MetricValue, StoredMetric};
use crate::auth::Access;
use crate::domain::{money, MetricId, ProjectId, Verification};
use crate::resources::record::{self, Ctx, Key, Lock, Record, Versioned};
use crate::schema::{metric_revisions, metric_values};
use crate::validation;
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::{self, IfMatch, Json};

/// A verification decision.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationInput {
    /// `verified`, `queried`, or `reported` to withdraw a decision.
    pub status: Verification,
    /// Why: what was checked, or what is in doubt.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000, example = "Matches the signed attendance lists.")]
    pub note: Option<String>,
}

/// Which earlier revision to go back to.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreInput {
    /// The revision's `id` (`/v1/metrics/{id}/revisions`) whose value to restore.
    #[schema(example = 17, minimum = 1)]
    pub revision: i64,
}

/// A change of a value that is not an edit of its fields.
enum Review {
    Verify {
        input: VerificationInput,
        by: Option<uuid::Uuid>,
    },
    Restore {
        revision: i64,
    },
}

impl Review {
    fn event(&self) -> &'static str {
        match self {
            Review::Verify { .. } => "verified",
            Review::Restore { .. } => "restored",
        }
    }

    fn access(&self, project: ProjectId) -> Access {
        match self {
            Review::Verify { .. } => Access::VerifyMetrics { project },
            Review::Restore { .. } => Access::WriteMetrics { project },
        }
    }

    async fn apply(
        self,
        conn: &mut diesel_async::AsyncPgConnection,
        stored: &StoredMetric,
    ) -> ApiResult<()> {
        match self {
            Review::Verify { input, by } => {
                let decided = input.status != Verification::Reported;
                diesel::update(metric_values::table.find(stored.row.id))
                    .set((
                        metric_values::verification.eq(input.status),
                        metric_values::verification_note.eq(&input.note),
                        metric_values::verified_by.eq(by.filter(|_| decided)),
                        metric_values::verified_at.eq(decided.then(Utc::now)),
                    ))
                    .execute(conn)
                    .await?;
            }
            Review::Restore { revision } => {
                let value: Option<Option<BigDecimal>> = metric_revisions::table
                    .filter(metric_revisions::id.eq(revision))
                    .filter(metric_revisions::metric_value_id.eq(stored.row.id))
                    .select(metric_revisions::new_value)
                    .first(conn)
                    .await
                    .optional()?;
                let value = match value {
                    Some(Some(value)) => value,
                    Some(None) => {
                        return Err(ApiError::invalid(
                            "revision",
                            "invalid",
                            "that revision deleted the value; it has no number to restore",
                        ))
                    }
                    None => {
                        return Err(ApiError::invalid(
                            "revision",
                            "unknown_reference",
                            format!("the value has no revision {revision}"),
                        ))
                    }
                };
                let mut restored = MetricValue::input(conn, stored).await?;
                restored.value = money::to_f64(&value);
                MetricValue::store(conn, stored, restored).await?;
            }
        }
        Ok(())
    }
}

/// Applies `review` to the locked value after the checks every change of it makes (404, the
/// caller's right, `If-Match`), marked with its audit event; 200 with the value.
async fn review_value(ctx: &Ctx, id: MetricId, review: Review) -> ApiResult<HttpResponse> {
    let caller = &ctx.caller;
    let precondition = IfMatch::from_request(&ctx.req);
    let mut conn = ctx.state.writer(caller).await?;
    let value = conn
        .transaction(async |conn| -> ApiResult<MetricValue> {
            let stored = MetricValue::fetch(conn, &id, Lock::ForUpdate)
                .await?
                .ok_or_else(|| MetricValue::not_found(&id))?;
            caller
                .authorize(conn, review.access(ProjectId(stored.row.project_id)))
                .await?;
            precondition.check(&stored.etag())?;
            record::mark_event(conn, review.event()).await?;
            review.apply(conn, &stored).await?;
            let changed = MetricValue::fetch(conn, &id, Lock::None)
                .await?
                .ok_or_else(|| MetricValue::not_found(&id))?;
            MetricValue::read(conn, changed).await
        })
        .await?;
    let tag = value.etag();
    Ok(http::json_response(HttpResponse::Ok(), &value, Some(tag)))
}

/// Verify or query a metric value
///
/// For the organisation that administers the project's programme (main programme or a funding
/// line's; key scope `metrics:verify`) or an operator. The decision, its note, who made it and
/// when are kept on the value and in its history; a later change of the number makes it
/// `reported` again.
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Metric value id")),
    request_body = VerificationInput,
    security(("bearer" = [])),
    responses((status = 200, description = "The value with its verification", body = MetricValue,
        headers(("ETag" = String, description = "New entity tag"))))
)]
#[post("/metrics/{id}/verification")]
pub async fn verify_metric(
    ctx: Ctx,
    Key(id): Key<MetricId>,
    Json(input): Json<VerificationInput>,
) -> ApiResult<HttpResponse> {
    validation::validate(&input)?;
    let by = ctx.caller.key().and_then(|k| k.organisation_id);
    review_value(&ctx, id, Review::Verify { input, by }).await
}

/// Restore a metric value to an earlier revision
///
/// Sets the value back to the number a revision stored: a new revision, attributed to the
/// caller, marked `restored` in the value's history. For keys that may write the value.
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Metric value id")),
    request_body = RestoreInput,
    security(("bearer" = [])),
    responses((status = 200, description = "The restored value", body = MetricValue,
        headers(("ETag" = String, description = "New entity tag"))))
)]
#[post("/metrics/{id}/restore")]
pub async fn restore_metric(
    ctx: Ctx,
    Key(id): Key<MetricId>,
    Json(input): Json<RestoreInput>,
) -> ApiResult<HttpResponse> {
    review_value(
        &ctx,
        id,
        Review::Restore {
            revision: input.revision,
        },
    )
    .await
}

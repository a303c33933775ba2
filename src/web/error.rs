//! The one error type every handler returns, rendered as RFC 9457 `application/problem+json`.
//!
//! When to use what:
//! - `BadRequest` (400): the request itself is malformed — unparsable JSON, a bad or unknown
//!   query parameter, a bad cursor. Clients must change the request's syntax.
//! - `NotFound` (404): the addressed resource does not exist.
//! - `MethodNotAllowed` (405): the path exists but not with this method (`Allow` lists them).
//! - `Conflict` (409): the request is valid but collides with the registry's state — a unique
//!   key taken, a record still referenced, a concurrent edit without `If-Match`.
//! - `PreconditionFailed` (412): `If-Match` named a version that is no longer current.
//! - `PayloadTooLarge` (413), `UnsupportedMediaType` (415): body limits and content types.
//! - `Validation` (422): well-formed JSON whose content breaks a rule; every broken rule is
//!   listed with its field path.
//! - `Unavailable` (503): the database cannot be reached right now; retrying later helps.
//! - `Internal` (500): a bug. It is logged with the request id; the client sees only the id.
//!
//! Database errors convert here too (`From<diesel::result::Error>`), so constraint violations
//! become 409/422 naming the field instead of 500s.

use std::borrow::Cow;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::web::request_context;

/// One broken rule, named by the path of the field that broke it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FieldError {
    /// Path of the offending field or parameter, e.g. `end_date`, `funding[1].share_percent`,
    /// `items[3].value`, or a query parameter name such as `limit`.
    #[schema(example = "end_date")]
    pub field: String,
    /// Stable machine-readable code: `required`, `invalid`, `invalid_type`, `unknown_field`,
    /// `too_long`, `out_of_range`, `unknown_code`, `unknown_reference`, `taken`, ...
    #[schema(example = "out_of_range")]
    pub code: String,
    /// Human-readable explanation.
    #[schema(example = "end_date must not be before start_date")]
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    /// The same error for a field nested under `prefix` (e.g. `value` → `items[3].value`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = match self.field.as_str() {
            "" | "body" => prefix.to_owned(),
            field if field.starts_with('[') => format!("{prefix}{field}"),
            field => format!("{prefix}.{field}"),
        };
        self
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI reference naming the problem type, relative to the API root (e.g. `/problems/validation`).
    #[schema(example = "/problems/validation")]
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the problem type.
    #[schema(example = "Validation failed")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// Explanation specific to this occurrence.
    #[schema(example = "1 field is invalid")]
    pub detail: String,
    /// The request path this problem occurred on.
    #[schema(example = "/v1/projects")]
    pub instance: String,
    /// Every field that broke a rule (validation and some conflict problems).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub errors: Vec<FieldError>,
    /// The request id (also in the `X-Request-Id` header); quote it when reporting a 5xx.
    #[schema(example = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b", nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// No credentials where they are needed, or credentials that are unknown, revoked or expired.
    #[error("unauthorized: {detail}")]
    Unauthorized { detail: String, invalid_token: bool },
    /// Valid credentials that do not allow this request (scope or organisation).
    #[error("forbidden: {detail}")]
    Forbidden {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
    #[error("conflict: {detail}")]
    Conflict {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("precondition failed")]
    PreconditionFailed(String),
    #[error("payload too large")]
    PayloadTooLarge(String),
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("too many requests")]
    TooManyRequests { retry_after: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_param(param: &str, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::BadRequest {
            detail: format!("query parameter `{param}`: {message}"),
            errors: vec![FieldError::new(param, code, message)],
        }
    }

    pub fn invalid(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, code, message)])
    }

    /// 401 for a request that needs an API key and came without one.
    /// The same error with its field errors rewritten (a spreadsheet batch names rows and
    /// columns where a JSON batch names items).
    pub fn map_fields(self, f: impl FnOnce(Vec<FieldError>) -> Vec<FieldError>) -> Self {
        match self {
            ApiError::Validation(errors) => ApiError::Validation(f(errors)),
            ApiError::Forbidden { detail, errors } => ApiError::Forbidden {
                detail,
                errors: f(errors),
            },
            ApiError::Conflict { detail, errors } => ApiError::Conflict {
                detail,
                errors: f(errors),
            },
            ApiError::BadRequest { detail, errors } => ApiError::BadRequest {
                detail,
                errors: f(errors),
            },
            other => other,
        }
    }

    pub fn key_required() -> Self {
        ApiError::Unauthorized {
            detail: "this request needs an API key: send `Authorization: Bearer kopa_...`".into(),
            invalid_token: false,
        }
    }

    pub fn not_found(what: &str, key: impl std::fmt::Display) -> Self {
        ApiError::NotFound(format!("no {what} with id {key}"))
    }

    fn parts(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest { .. } => ("bad-request", "Bad request"),
            ApiError::Unauthorized { .. } => ("unauthorized", "Unauthorized"),
            ApiError::Forbidden { .. } => ("forbidden", "Forbidden"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::MethodNotAllowed(_) => ("method-not-allowed", "Method not allowed"),
            ApiError::Conflict { .. } => ("conflict", "Conflict"),
            ApiError::PreconditionFailed(_) => ("precondition-failed", "Precondition failed"),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            ApiError::UnsupportedMediaType(_) => {
                ("unsupported-media-type", "Unsupported media type")
            }
            ApiError::Validation(_) => ("validation", "Validation failed"),
            ApiError::TooManyRequests { .. } => ("rate-limited", "Too many requests"),
            ApiError::Unavailable(_) => ("unavailable", "Service unavailable"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    fn detail(&self) -> Cow<'_, str> {
        match self {
            ApiError::BadRequest { detail, .. }
            | ApiError::Conflict { detail, .. }
            | ApiError::Forbidden { detail, .. } => Cow::Borrowed(detail),
            ApiError::TooManyRequests { retry_after } => Cow::Owned(format!(
                "rate limit reached; retry in {retry_after} s (see the RateLimit-* headers)"
            )),
            ApiError::Unauthorized { detail: d, .. }
            | ApiError::NotFound(d)
            | ApiError::MethodNotAllowed(d)
            | ApiError::PreconditionFailed(d)
            | ApiError::PayloadTooLarge(d)
            | ApiError::UnsupportedMediaType(d)
            | ApiError::Unavailable(d) => Cow::Borrowed(d),
            ApiError::Validation(errors) => match errors.as_slice() {
                [one] => Cow::Owned(format!("{}: {}", one.field, one.message)),
                many => {
                    let mut fields: Vec<&str> = many.iter().map(|e| e.field.as_str()).collect();
                    fields.sort_unstable();
                    fields.dedup();
                    Cow::Owned(match (fields.len(), many.len()) {
                        (1, rules) => format!("{} breaks {rules} rules", fields[0]),
                        (n, rules) if n == rules => format!("{n} fields are invalid"),
                        (n, rules) => format!("{n} fields are invalid ({rules} problems)"),
                    })
                }
            },
            ApiError::Internal(_) => Cow::Borrowed(
                "an unexpected error occurred; quote the request_id when reporting it",
            ),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let context = request_context::current();
        if status.is_server_error() {
            tracing::error!(request_id = %context.request_id, error = ?self, "request failed");
        }
        let (slug, title) = self.parts();
        let errors = match self {
            ApiError::BadRequest { errors, .. }
            | ApiError::Conflict { errors, .. }
            | ApiError::Forbidden { errors, .. }
            | ApiError::Validation(errors) => errors.clone(),
            _ => Vec::new(),
        };
        let problem = Problem {
            problem_type: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: self.detail().into_owned(),
            instance: context.path,
            errors,
            request_id: status.is_server_error().then(|| context.request_id.clone()),
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            ApiError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "2"));
            }
            ApiError::TooManyRequests { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::Unauthorized {
                detail,
                invalid_token,
            } => {
                let error = if *invalid_token {
                    ", error=\"invalid_token\""
                } else {
                    ""
                };
                let detail = detail.replace('"', "'");
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"kopa\"{error}, error_description=\"{detail}\""),
                ));
            }
            _ => {}
        }
        response.body(serde_json::to_vec(&problem).unwrap_or_default())
    }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        // A commit that failed and whose rollback failed too: what the commit met decides (a
        // lost connection is a 503, like anywhere).
        let error = match error {
            DieselError::RollbackErrorOnCommit { commit_error, .. } => *commit_error,
            other => other,
        };
        match &error {
            DieselError::NotFound => {
                ApiError::NotFound("the requested record does not exist".into())
            }
            DieselError::DatabaseError(kind, info) => {
                let constraint = info.constraint_name().unwrap_or_default();
                match kind {
                    DatabaseErrorKind::UniqueViolation => {
                        let field = constraint_field(constraint);
                        ApiError::Conflict {
                            detail: format!("a record with this {field} already exists"),
                            errors: vec![FieldError::new(
                                field,
                                "taken",
                                format!("{field} is already taken"),
                            )],
                        }
                    }
                    DatabaseErrorKind::ForeignKeyViolation
                        if info.message().contains("update or delete on table") =>
                    {
                        let referencing = info
                            .message()
                            .rsplit(" on table ")
                            .next()
                            .unwrap_or_default()
                            .trim_matches('"');
                        ApiError::Conflict {
                            detail: format!("the record is still referenced by {referencing}"),
                            errors: Vec::new(),
                        }
                    }
                    DatabaseErrorKind::ForeignKeyViolation => {
                        let field = constraint_field(constraint);
                        if VOCABULARY_FIELDS.contains(&field) {
                            ApiError::invalid(field, "unknown_code", format!("{field} is not a code of its vocabulary (see /v1/vocabularies)"))
                        } else {
                            ApiError::invalid(
                                field,
                                "unknown_reference",
                                format!("{field} does not name an existing record"),
                            )
                        }
                    }
                    DatabaseErrorKind::CheckViolation => {
                        let field = constraint_field(constraint);
                        let code = if constraint.ends_with("regions_check")
                            || constraint.ends_with("target_groups_check")
                            || constraint.ends_with("municipalities_check")
                        {
                            "unknown_code"
                        } else {
                            "invalid"
                        };
                        ApiError::invalid(field, code, check_message(constraint, field))
                    }
                    DatabaseErrorKind::NotNullViolation => {
                        let field = info.column_name().unwrap_or("unknown").to_owned();
                        ApiError::invalid(field.clone(), "required", format!("{field} is required"))
                    }
                    DatabaseErrorKind::ClosedConnection => {
                        crate::telemetry::METRICS.database_error();
                        ApiError::Unavailable("the database connection was lost".into())
                    }
                    DatabaseErrorKind::SerializationFailure => ApiError::Conflict {
                        detail: "the record was changed concurrently; retry the request".into(),
                        errors: Vec::new(),
                    },
                    // The server is shutting down, restarting or in recovery (SQLSTATE class
                    // 57): the same as a lost connection for the client.
                    _ if UNAVAILABLE_MESSAGES
                        .iter()
                        .any(|m| info.message().to_lowercase().contains(m)) =>
                    {
                        crate::telemetry::METRICS.database_error();
                        ApiError::Unavailable(
                            "the database is restarting; nothing was written, retry shortly".into(),
                        )
                    }
                    _ if info.message().contains("statement timeout") => {
                        crate::telemetry::METRICS.database_error();
                        ApiError::Unavailable(
                            "the request took too long and was cancelled; nothing was written, retry later".into(),
                        )
                    }
                    _ => {
                        crate::telemetry::METRICS.database_error();
                        ApiError::Internal(anyhow::Error::new(error))
                    }
                }
            }
            // A connection that died inside a transaction leaves diesel-async's transaction
            // state unknown; the pool discards it, and the client should retry.
            DieselError::BrokenTransactionManager => {
                crate::telemetry::METRICS.database_error();
                ApiError::Unavailable(
                    "the database connection was lost during the request; retry shortly".into(),
                )
            }
            _ => {
                crate::telemetry::METRICS.database_error();
                ApiError::Internal(anyhow::Error::new(error))
            }
        }
    }
}

/// Messages of the errors PostgreSQL gives while it shuts down, starts or recovers.
const UNAVAILABLE_MESSAGES: &[&str] = &[
    "terminating connection due to administrator command",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "terminating connection because of crash of another server process",
    // The connection itself went away under a query (the client library's words).
    "connection closed",
    "closed the connection",
    "connection reset",
    "broken pipe",
    "unexpected eof",
    "could not receive data from server",
    "error communicating with the server",
];

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        tracing::warn!(%error, "database pool unavailable");
        crate::telemetry::METRICS.database_error();
        ApiError::Unavailable("the database is not reachable right now; retry shortly".into())
    }
}

/// Fields whose foreign key points at a vocabulary table rather than at a record.
const VOCABULARY_FIELDS: [&str; 5] = ["kind", "role", "region", "unit", "target_group"];

/// The API field a database constraint protects. Constraint names follow PostgreSQL's
/// `<table>_<column>_<suffix>` convention; the exceptions are listed here.
fn constraint_field(constraint: &str) -> &str {
    match constraint {
        "organisations_name_key" | "programmes_name_key" => "name",
        "project_partners_project_organisation_role_key" => "organisation_id",
        "metric_values_natural_key" => "indicator",
        "metric_values_indicator_id_fkey" => "indicator",
        "source_links_source_id_fkey" => "sources",
        "programme_organisations_organisation_id_fkey"
        | "programme_organisations_organisation_role_key"
        | "programme_organisations_role_fkey" => "organisations",
        "project_funding_total_check"
        | "project_funding_share_check"
        | "project_funding_source_check" => "funding",
        "project_funding_project_id_fkey" => "funding",
        "project_funding_programme_id_fkey" | "project_funding_funder_id_fkey" => "funding",
        "projects_budget_currency_check" => "currency",
        "project_funding_amount_currency_check" => "funding",
        c if c.ends_with("_period_check") => {
            if c.starts_with("metric_values") {
                "period_end"
            } else {
                "end_date"
            }
        }
        c => {
            let table_prefixes = [
                "organisations_",
                "programmes_",
                "projects_",
                "project_partners_",
                "activities_",
                "indicators_",
                "metric_values_",
                "sources_",
            ];
            let rest = table_prefixes
                .iter()
                .find_map(|p| c.strip_prefix(p))
                .unwrap_or(c);
            ["_fkey", "_check", "_key"]
                .iter()
                .find_map(|s| rest.strip_suffix(s))
                .unwrap_or(rest)
        }
    }
}

fn check_message(constraint: &str, field: &str) -> String {
    match constraint {
        "project_funding_total_check" => "funding shares add up to more than 100 percent".into(),
        c if c.ends_with("_period_check") => {
            format!("{field} must not be before the start of the period")
        }
        c if c.ends_with("regions_check")
            || c.ends_with("target_groups_check")
            || c.ends_with("municipalities_check") =>
        {
            format!("{field} contains a code that is not in the vocabulary")
        }
        _ => format!("{field} breaks a rule of the registry"),
    }
}

/// Flattens `validator`'s nested errors into field paths such as `funding[0].share_percent`.
pub fn validation_errors(errors: &validator::ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    flatten(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn flatten(errors: &validator::ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        let path = match (prefix.is_empty(), field.as_ref()) {
            (_, "__all__") => prefix.to_owned(),
            (true, f) => f.to_owned(),
            (false, f) => format!("{prefix}.{f}"),
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    // Struct-level rules name the field they blame in their `field` param.
                    let path = match (
                        field.as_ref(),
                        error.params.get("field").and_then(|v| v.as_str()),
                    ) {
                        ("__all__", Some(f)) if prefix.is_empty() => f.to_owned(),
                        ("__all__", Some(f)) => format!("{prefix}.{f}"),
                        _ => path.clone(),
                    };
                    let message = error
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| describe_validation(&path, error));
                    out.push(FieldError::new(
                        path.clone(),
                        error.code.to_string(),
                        message,
                    ));
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flatten(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

fn describe_validation(path: &str, error: &validator::ValidationError) -> String {
    let param = |name: &str| error.params.get(name).map(|v| v.to_string());
    match error.code.as_ref() {
        "length" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("{path} must be {min} to {max} characters long"),
            (None, Some(max)) => format!("{path} must be at most {max} characters long"),
            (Some(min), None) => format!("{path} must be at least {min} characters long"),
            _ => format!("{path} has an invalid length"),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("{path} must be between {min} and {max}"),
            (None, Some(max)) => format!("{path} must be at most {max}"),
            (Some(min), None) => format!("{path} must be at least {min}"),
            _ => format!("{path} is out of range"),
        },
        "email" => format!("{path} must be an email address"),
        "url" => format!("{path} must be an absolute http(s) URL"),
        code => format!("{path} is invalid ({code})"),
    }
}

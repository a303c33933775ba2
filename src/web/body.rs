//! Request bodies are checked against the spec's own schema for them before they are decoded,
//! so one 422 names every offending field at once: missing, mistyped, unknown and invalid ones
//! together, not only the first one serde stops at.
//!
//! 1. The JSON is validated against the component schema of its input type (the schema the
//!    committed `openapi.json` publishes, so the server and its contract cannot drift apart).
//! 2. Members of the wrong type (or format) are dropped and the rest is decoded, so the
//!    input's own rules (`validator`: lengths, ranges, cross-field rules such as a period that
//!    must not end before it starts) run over everything that could be read.
//! 3. The problem lists the structural errors and the rule errors; where a body could not be
//!    decoded at all (a required field is missing), the schema's rule errors stand in for them.

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use utoipa::openapi::OpenApi;
use validator::Validate;

use crate::web::error::{validation_errors, ApiError, ApiResult, FieldError};

/// Validators of the request-body schemas, by component name.
struct Schemas(HashMap<String, jsonschema::Validator>);

static SCHEMAS: OnceLock<Schemas> = OnceLock::new();

/// Builds the validators from the application's spec (once per process; every app has the
/// same spec).
pub fn install(spec: &OpenApi) {
    SCHEMAS.get_or_init(|| {
        let doc = serde_json::to_value(spec).unwrap_or_default();
        let components = doc["components"].clone();
        let names: Vec<String> = components["schemas"]
            .as_object()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        let validators = names
            .into_iter()
            .filter_map(|name| {
                let schema = json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "$ref": format!("#/components/schemas/{name}"),
                    "components": components,
                });
                let validator = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .map_err(|e| tracing::error!(schema = %name, error = %e, "unusable schema"))
                    .ok()?;
                Some((name, validator))
            })
            .collect();
        Schemas(validators)
    });
}

/// `/funding/1/share_percent` as `funding[1].share_percent`.
fn field_path(pointer: &str, member: Option<&str>) -> String {
    let mut path = String::new();
    let segments = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"));
    for segment in segments.chain(member.map(str::to_owned)) {
        if segment.parse::<usize>().is_ok() {
            path.push_str(&format!("[{segment}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&segment);
        }
    }
    if path.is_empty() {
        "body".to_owned()
    } else {
        path
    }
}

/// One finding of the schema check: where, what, and whether it is about the shape of the
/// body (then the member cannot be decoded) or about a rule its value breaks.
struct Finding {
    pointer: String,
    error: FieldError,
    structural: bool,
}

fn findings(error: &jsonschema::ValidationError<'_>, out: &mut Vec<Finding>) {
    let pointer = error.instance_path().to_string();
    let at = |member: Option<&str>| field_path(&pointer, member);
    let (field, code, structural) = match error.kind() {
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            // A nullable member is `oneOf: [T, null]`: report the branch that is not about
            // being null.
            let branch = context.iter().find(|errors| {
                !errors.iter().all(|e| {
                    matches!(e.kind(), ValidationErrorKind::Type { .. })
                        && e.instance_path().to_string() == pointer
                })
            });
            match branch {
                Some(errors) => errors.iter().for_each(|e| findings(e, out)),
                None => out.push(Finding {
                    pointer: pointer.clone(),
                    error: FieldError::new(at(None), "invalid_type", error.to_string()),
                    structural: true,
                }),
            }
            return;
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let field = at(Some(name));
            out.push(Finding {
                pointer: format!("{pointer}/{name}"),
                error: FieldError::new(field.clone(), "required", format!("{field} is required")),
                structural: true,
            });
            return;
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for name in unexpected {
                out.push(Finding {
                    pointer: format!("{pointer}/{name}"),
                    error: FieldError::new(
                        at(Some(name)),
                        "unknown_field",
                        format!("unknown field `{name}`"),
                    ),
                    structural: true,
                });
            }
            return;
        }
        ValidationErrorKind::Type { .. } => (at(None), "invalid_type", true),
        ValidationErrorKind::Format { .. } => (at(None), "invalid", true),
        ValidationErrorKind::Enum { .. } | ValidationErrorKind::Constant { .. } => {
            (at(None), "unknown_variant", true)
        }
        ValidationErrorKind::MinLength { .. }
        | ValidationErrorKind::MaxLength { .. }
        | ValidationErrorKind::MinItems { .. }
        | ValidationErrorKind::MaxItems { .. } => (at(None), "length", false),
        ValidationErrorKind::Minimum { .. }
        | ValidationErrorKind::Maximum { .. }
        | ValidationErrorKind::ExclusiveMinimum { .. }
        | ValidationErrorKind::ExclusiveMaximum { .. } => (at(None), "range", false),
        _ => (at(None), "invalid", false),
    };
    out.push(Finding {
        pointer,
        error: FieldError::new(field, code, error.to_string()),
        structural,
    });
}

/// Removes the member at `pointer` (so what remains can be decoded).
fn remove(value: &mut Value, pointer: &str) {
    let Some((parent, member)) = pointer.rsplit_once('/') else {
        return;
    };
    let member = member.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&member);
        }
        Some(Value::Array(items)) => {
            if let Ok(index) = member.parse::<usize>() {
                if index < items.len() {
                    items[index] = Value::Null;
                }
            }
        }
        _ => {}
    }
}

/// Decodes a body of type `T`: the schema check, then serde, then the input's rules, reporting
/// every error of all three in one 422. `T`'s schema is found by its component `name`; without
/// one (or before [`install`]), serde and the rules alone decide.
pub fn decode<T: DeserializeOwned + Validate>(name: &str, value: Value) -> ApiResult<T> {
    let validator = SCHEMAS.get().and_then(|s| s.0.get(name));
    let mut found = Vec::new();
    if let Some(validator) = validator {
        for error in validator.iter_errors(&value) {
            findings(&error, &mut found);
        }
    }
    if found.is_empty() {
        let input: T = from_value(value)?;
        return crate::validation::validate(&input).map(|()| input);
    }
    let mut readable = value;
    for finding in found.iter().filter(|f| f.structural) {
        remove(&mut readable, &finding.pointer);
    }
    let mut errors: Vec<FieldError> = found
        .iter()
        .filter(|f| f.structural)
        .map(|f| f.error.clone())
        .collect();
    match from_value::<T>(readable) {
        Ok(input) => {
            let reported: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
            let rules: Vec<FieldError> = match input.validate() {
                Ok(()) => Vec::new(),
                Err(rules) => validation_errors(&rules)
                    .into_iter()
                    .filter(|e| !reported.contains(&e.field))
                    .collect(),
            };
            if rules.is_empty() {
                // The schema saw a broken rule the input's own rules do not state.
                errors.extend(found.into_iter().filter(|f| !f.structural).map(|f| f.error));
            } else {
                errors.extend(rules);
            }
        }
        // What could not be decoded cannot be checked by its rules; the schema's rules say
        // what is wrong with it instead.
        Err(_) => errors.extend(found.into_iter().filter(|f| !f.structural).map(|f| f.error)),
    }
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    errors.dedup();
    Err(ApiError::Validation(errors))
}

/// Deserializes an already parsed JSON value (a merged patch) with the same error reporting.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        ApiError::Validation(vec![describe_serde_error(
            &error.path().to_string(),
            &error.inner().to_string(),
        )])
    })
}

/// Turns serde's messages into a field error whose path names the field itself.
fn describe_serde_error(path: &str, message: &str) -> FieldError {
    let message = message.split(" at line ").next().unwrap_or(message);
    let join = |name: &str| match path {
        "" | "." => name.to_owned(),
        p => format!("{p}.{name}"),
    };
    let quoted = message.split('`').nth(1);
    if let (true, Some(name)) = (message.starts_with("unknown field"), quoted) {
        // serde_path_to_error's path already ends at the unknown field.
        let field = if path.is_empty() || path == "." {
            name.to_owned()
        } else {
            path.to_owned()
        };
        return FieldError::new(field, "unknown_field", format!("unknown field `{name}`"));
    }
    if let (true, Some(name)) = (message.starts_with("missing field"), quoted) {
        return FieldError::new(
            join(name),
            "required",
            format!("{} is required", join(name)),
        );
    }
    let field = if path == "." || path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    let code = if message.starts_with("unknown variant") {
        "unknown_code"
    } else {
        "invalid_type"
    };
    FieldError::new(field, code, message.to_owned())
}

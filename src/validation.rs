//! Domain rules shared by the input types, beyond what `validator`'s built-ins express.

use std::sync::LazyLock;

use regex::Regex;
use validator::{Validate, ValidationError};

use crate::web::error::{validation_errors, ApiError, ApiResult};

/// Runs `validator` and turns its errors into a 422 naming every field.
pub fn validate<T: Validate>(input: &T) -> ApiResult<()> {
    input
        .validate()
        .map_err(|e| ApiError::Validation(validation_errors(&e)))
}

fn error(code: &'static str, message: &'static str) -> ValidationError {
    ValidationError::new(code).with_message(message.into())
}

/// ISO 3166-1 alpha-2 country code, upper case.
pub fn country(value: &str) -> Result<(), ValidationError> {
    if value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(error(
            "invalid",
            "must be an ISO 3166-1 alpha-2 code in upper case, e.g. LV",
        ))
    }
}

/// ISO 4217 currency code, upper case.
pub fn currency(value: &str) -> Result<(), ValidationError> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(error(
            "invalid",
            "must be an ISO 4217 currency code in upper case, e.g. EUR",
        ))
    }
}

/// `pattern` of a phone number in the spec: digits, spaces and `+ - ( ) .`, at least five digits.
pub const PHONE_PATTERN: &str = "^[ +().-]*([0-9][ +().-]*){5,}$";

/// `pattern` of a website in the spec: http(s), a host name (not an IP address), optional port,
/// then anything without whitespace.
pub const WEB_URL_PATTERN: &str =
    r"^https?://([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(:[0-9]{1,4})?([/?#][^\s]*)?$";

static PHONE: LazyLock<Regex> = LazyLock::new(|| Regex::new(PHONE_PATTERN).expect("valid regex"));
static WEB_URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(WEB_URL_PATTERN).expect("valid regex"));

/// A phone number as printed (see [`PHONE_PATTERN`]).
pub fn phone(value: &str) -> Result<(), ValidationError> {
    if PHONE.is_match(value) {
        Ok(())
    } else {
        Err(error(
            "invalid",
            "must be a phone number (digits, spaces and + - ( ) ., at least five digits)",
        ))
    }
}

/// An absolute http(s) URL with a host name (see [`WEB_URL_PATTERN`]).
pub fn web_url(value: &str) -> Result<(), ValidationError> {
    if WEB_URL.is_match(value) && validator::ValidateUrl::validate_url(&value) {
        Ok(())
    } else {
        Err(error(
            "url",
            "must be an absolute http(s) URL with a host name",
        ))
    }
}

/// A vocabulary code or identifier-like code: lower case letters, digits and `_`.
pub fn code(value: &str) -> Result<(), ValidationError> {
    let mut chars = value.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && value.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(error(
            "invalid",
            "must be a code of lower-case letters, digits and _ (at most 64)",
        ))
    }
}

/// Text that is not blank and has no leading or trailing whitespace.
pub fn trimmed(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        Err(error("blank", "must not be blank"))
    } else if value.trim() != value {
        Err(error("untrimmed", "must not start or end with whitespace"))
    } else {
        Ok(())
    }
}

/// `end` is not before `start` when both are known.
pub fn period<T: PartialOrd>(
    start: Option<&T>,
    end: Option<&T>,
    end_field: &'static str,
) -> Result<(), ValidationError> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => {
            let mut err = error("period", "the period must not end before it starts");
            err.add_param("field".into(), &end_field);
            Err(err)
        }
        _ => Ok(()),
    }
}

/// Names of fields (`inferred`): each a lower-case field name, none repeated.
pub fn field_names(values: &[String]) -> Result<(), ValidationError> {
    values.iter().try_for_each(|v| code(v))?;
    let mut unique = values.to_vec();
    unique.sort();
    unique.dedup();
    if unique.len() != values.len() {
        return Err(error("duplicate", "field names must not repeat"));
    }
    Ok(())
}

/// A territory code (ATVK): seven digits.
pub fn territory_codes(values: &[String]) -> Result<(), ValidationError> {
    if values
        .iter()
        .any(|v| v.len() != 7 || !v.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(error(
            "invalid",
            "territory codes are 7-digit ATVK codes (/v1/territories)",
        ));
    }
    let mut unique = values.to_vec();
    unique.sort();
    unique.dedup();
    if unique.len() != values.len() {
        return Err(error("duplicate", "codes must not repeat"));
    }
    Ok(())
}

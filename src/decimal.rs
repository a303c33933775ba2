//! Decimal conversions at the API boundary: money travels as decimal strings (exact), shares and
//! outcome numbers as JSON numbers with a fixed number of decimals stored as `numeric`.

use std::str::FromStr;

use bigdecimal::{BigDecimal, ToPrimitive};
use validator::ValidationError;

/// A money amount: up to 14 integer digits and 2 decimals, e.g. `"12500.00"`.
pub fn money(value: &str) -> Result<(), ValidationError> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let ok = !int.is_empty()
        && int.len() <= 14
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 2
        && (frac.is_empty() != value.contains('.'))
        && frac.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("invalid")
            .with_message("must be a decimal string like \"12500.00\" (at most 2 decimals)".into()))
    }
}

/// A number with at most `places` decimals (checked on its shortest decimal representation).
pub fn has_at_most_decimals(value: f64, places: usize) -> bool {
    value.is_finite()
        && format!("{value}")
            .split_once('.')
            .is_none_or(|(_, frac)| frac.len() <= places)
}

pub fn to_decimal(value: f64) -> BigDecimal {
    BigDecimal::from_str(&format!("{value}")).unwrap_or_default()
}

pub fn parse_money(value: &str) -> BigDecimal {
    BigDecimal::from_str(value).unwrap_or_default()
}

pub fn money_string(value: &BigDecimal) -> String {
    value.with_scale(2).to_string()
}

pub fn to_f64(value: &BigDecimal) -> f64 {
    value.normalized().to_f64().unwrap_or(0.0)
}

/// Deserializes an optional count that JSON may spell `487` or `487.0` (JSON Schema's `integer`
/// admits both); a fraction or a value outside `i32` is refused.
pub fn optional_count<'de, D>(deserializer: D) -> Result<Option<i32>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::{Deserialize, Error};
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = match number.as_i64() {
        Some(n) => Some(n),
        None => number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
            .map(|f| f as i64),
    };
    whole
        .and_then(|n| i32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| {
            D::Error::custom(format!(
                "expected a whole number up to {}, got {number}",
                i32::MAX
            ))
        })
}

//! Numbers at the API boundary: money travels as decimal strings (exact), shares and outcome
//! numbers as JSON numbers with a fixed number of decimals stored as `numeric`.

use std::str::FromStr;

use bigdecimal::{BigDecimal, ToPrimitive};

/// An exact amount of money: up to 14 integer digits and 2 decimals. It travels as a decimal
/// string (`"12500.00"`) and is parsed once, where it enters; inside it is a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money(BigDecimal);

/// What a money string must look like (also the spec's `pattern`).
pub const MONEY_RULE: &str = "must be a decimal string like \"12500.00\" (at most 2 decimals)";

impl Money {
    pub fn parse(value: &str) -> Result<Money, &'static str> {
        let (int, frac) = value.split_once('.').unwrap_or((value, ""));
        let ok = !int.is_empty()
            && int.len() <= 14
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.len() <= 2
            && (frac.is_empty() != value.contains('.'))
            && frac.bytes().all(|b| b.is_ascii_digit());
        match (ok, BigDecimal::from_str(value)) {
            (true, Ok(amount)) => Ok(Money(amount)),
            _ => Err(MONEY_RULE),
        }
    }

    /// An amount read back from a `numeric` column.
    pub fn from_stored(amount: BigDecimal) -> Money {
        Money(amount)
    }

    pub fn amount(&self) -> &BigDecimal {
        &self.0
    }
}

/// `validator` rule for money strings (see [`Money::parse`]).
pub fn money(value: &str) -> Result<(), validator::ValidationError> {
    Money::parse(value)
        .map(drop)
        .map_err(|rule| validator::ValidationError::new("invalid").with_message(rule.into()))
}

/// The amount of a money string that passed [`money`].
pub fn amount(value: &str) -> Option<BigDecimal> {
    Money::parse(value).ok().map(|m| m.0)
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.with_scale(2))
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Money::parse(&raw).map_err(serde::de::Error::custom)
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

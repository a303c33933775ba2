//! The string rules a query parameter declares in the spec (`minLength`, `maxLength`,
//! `pattern`), enforced from that same declaration: what the document promises to refuse is
//! refused, with every offending parameter named at once.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use regex::Regex;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;

use crate::web::error::FieldError;

/// One parameter's declared string rules.
struct Rule {
    name: String,
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<Regex>,
}

type Rules = Arc<[Rule]>;

static RULES: LazyLock<RwLock<HashMap<TypeId, Rules>>> = LazyLock::new(Default::default);

/// The rules of a parameter type, read from its `IntoParams` once per process.
fn rules<P: utoipa::IntoParams + 'static>() -> Rules {
    let id = TypeId::of::<P>();
    if let Some(rules) = RULES.read().ok().and_then(|r| r.get(&id).cloned()) {
        return rules;
    }
    let rules: Rules = P::into_params(|| None)
        .into_iter()
        .filter_map(|param| {
            let Some(RefOr::T(Schema::Object(object))) = param.schema else {
                return None;
            };
            let pattern = object.pattern.as_deref().map(|p| {
                Regex::new(p).unwrap_or_else(|e| panic!("pattern of `{}`: {e}", param.name))
            });
            (object.min_length.is_some() || object.max_length.is_some() || pattern.is_some())
                .then_some(Rule {
                    name: param.name,
                    min_length: object.min_length,
                    max_length: object.max_length,
                    pattern,
                })
        })
        .collect();
    if let Ok(mut cache) = RULES.write() {
        cache.insert(id, rules.clone());
    }
    rules
}

/// Every value in `query` that breaks a rule `P` declares for its name.
pub fn violations<P: utoipa::IntoParams + 'static>(query: &str) -> Vec<FieldError> {
    let rules = rules::<P>();
    if rules.is_empty() || query.is_empty() {
        return Vec::new();
    }
    let mut errors = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let Some(rule) = rules.iter().find(|r| r.name == name) else {
            continue;
        };
        let length = value.chars().count();
        if let Some(min) = rule.min_length.filter(|min| length < *min) {
            let message = if value.is_empty() {
                format!("`{name}` must not be empty; leave the parameter out instead")
            } else {
                format!("`{name}` must be at least {min} characters long")
            };
            errors.push(FieldError::new(name.as_ref(), "too_short", message));
        } else if let Some(max) = rule.max_length.filter(|max| length > *max) {
            errors.push(FieldError::new(
                name.as_ref(),
                "too_long",
                format!("`{name}` must be at most {max} characters long"),
            ));
        } else if let Some(pattern) = rule.pattern.as_ref().filter(|p| !p.is_match(&value)) {
            errors.push(FieldError::new(
                name.as_ref(),
                "invalid",
                format!("`{name}` must match {}", pattern.as_str()),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(utoipa::IntoParams)]
    #[allow(dead_code)]
    struct Example {
        #[param(min_length = 1, max_length = 5)]
        q: Option<String>,
        #[param(pattern = "^[a-z]{2,3}$")]
        language: Option<String>,
        limit: Option<u32>,
    }

    #[test]
    fn declared_rules_are_enforced_and_every_offender_is_named() {
        assert!(violations::<Example>("q=abc&language=lv&limit=3").is_empty());
        let errors = violations::<Example>("q=&language=LV&limit=");
        let named: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(named, [("q", "too_short"), ("language", "invalid")]);
        let errors = violations::<Example>("q=%C4%81%C4%81%C4%81%C4%81%C4%81");
        assert!(errors.is_empty(), "five characters, ten bytes: {errors:?}");
        assert_eq!(violations::<Example>("q=abcdef")[0].code, "too_long");
    }
}

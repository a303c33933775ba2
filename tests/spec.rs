//! The committed `openapi/openapi.json` must be exactly what the code generates, so every spec
//! change shows up in review. Regenerate with `KOPA_UPDATE_SPEC=1 cargo test --test spec`
//! (or `cargo run -- openapi > openapi/openapi.json`).

#[test]
fn committed_spec_matches_the_code() {
    let generated = format!(
        "{}\n",
        kopa::app::spec().to_pretty_json().expect("spec serializes")
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var_os("KOPA_UPDATE_SPEC").is_some() {
        std::fs::write(path, &generated).expect("write openapi/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json differs from the spec the code generates; \
         regenerate it with `KOPA_UPDATE_SPEC=1 cargo test --test spec` and review the diff"
    );
}

#[test]
fn spec_is_openapi_3_1_and_documents_problem_responses() {
    let spec: serde_json::Value =
        serde_json::from_str(&kopa::app::spec().to_json().unwrap()).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("400"), "{method} {path} lacks 400");
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path} lacks 404");
            }
            if operation.get("requestBody").is_some() {
                for status in ["413", "415", "422"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
    }
}

/// utoipa takes only literals in `#[schema(pattern = ...)]`, so the patterns are written twice;
/// this keeps every copy in the spec equal to the one the server enforces.
#[test]
fn spec_patterns_are_the_ones_the_server_enforces() {
    let spec: serde_json::Value =
        serde_json::from_str(&kopa::app::spec().to_json().unwrap()).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let mut checked = 0;
    // Request schemas (responses describe stored data and carry no input rules).
    for (name, schema) in schemas
        .iter()
        .filter(|(name, _)| name.ends_with("Input") || *name == "Contact")
    {
        let Some(properties) = schema["properties"].as_object() else {
            continue;
        };
        for (field, expected) in [
            ("website", kopa::validation::WEB_URL_PATTERN),
            ("phone", kopa::validation::PHONE_PATTERN),
            ("contact_phone", kopa::validation::PHONE_PATTERN),
        ] {
            if let Some(property) = properties.get(field) {
                let pattern = property["pattern"]
                    .as_str()
                    .or_else(|| property["oneOf"][0]["pattern"].as_str())
                    .or_else(|| property["anyOf"][0]["pattern"].as_str());
                assert_eq!(pattern, Some(expected), "{name}.{field}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 4, "only {checked} patterned fields found");
}

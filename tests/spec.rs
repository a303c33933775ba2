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

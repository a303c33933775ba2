//! One 422 names every offending field: missing, mistyped, unknown and rule-breaking ones
//! together, on creates and merge patches alike.

use serde_json::json;

use crate::support::{create_organisation, organisation, TestApp};

#[actix_web::test]
async fn a_body_with_several_mistakes_gets_one_422_naming_all_of_them() {
    let app = TestApp::new().await;
    let response = app
        .post_json(
            "/v1/organisations",
            &json!({"name": "", "country": 12, "colour": "red"}),
        )
        .await;
    response.assert_problem(422);
    let errors: Vec<(String, String)> = response.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("colour", "unknown_field"),
        ("country", "invalid_type"),
        ("kind", "required"),
        ("name", "length"),
    ] {
        assert!(
            errors.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} missing from {errors:?}"
        );
    }
    assert_eq!(errors.len(), 4, "{errors:?}");
}

#[actix_web::test]
async fn structural_and_rule_errors_come_together() {
    let app = TestApp::new().await;
    let org = create_organisation(&app, &organisation("Lead")).await;
    let response = app
        .post_json(
            "/v1/projects",
            &json!({"title": "  Untrimmed ", "status": "active",
                    "lead_organisation_id": org["id"], "objectives": "not a list",
                    "regions": "latgale", "start_date": "2013-05-01", "end_date": "2013-01-01",
                    "funding": [{"programme_id": null, "share_percent": 120}]}),
        )
        .await;
    response.assert_problem(422);
    let fields = response.error_fields();
    for field in [
        "objectives",
        "regions",
        "title",
        "end_date",
        "funding[0].share_percent",
        "funding[0].programme_id",
    ] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} missing from {fields:?}"
        );
    }
    // Without a required field nothing can be decoded, but the schema's rules still speak.
    let response = app
        .post_json(
            "/v1/projects",
            &json!({"title": "", "lead_organisation_id": org["id"], "places": [""]}),
        )
        .await;
    response.assert_problem(422);
    let fields = response.error_fields();
    assert!(fields.contains(&"status".to_owned()), "{fields:?}");
    assert!(fields.contains(&"title".to_owned()), "{fields:?}");

    // A merge patch is checked the same way, after it is merged.
    let project = app
        .post_json(
            "/v1/projects",
            &json!({"title": "Fine", "status": "active", "lead_organisation_id": org["id"]}),
        )
        .await;
    assert_eq!(project.status, 201, "{}", project.text);
    let patched = app
        .patch(
            &format!("/v1/projects/{}", project.body["id"].as_str().unwrap()),
            &json!({"title": "", "places": [1], "colour": "red"}),
            None,
        )
        .await;
    patched.assert_problem(422);
    let fields = patched.error_fields();
    assert!(fields.contains(&"colour".to_owned()), "{fields:?}");
    assert!(fields.contains(&"places[0]".to_owned()), "{fields:?}");
    assert!(fields.contains(&"title".to_owned()), "{fields:?}");
}

/// A query value that breaks a rule the spec declares for it (`minLength`, `maxLength`,
/// `pattern`) is refused, never read as "no filter"; every offender is named at once, on plain
/// lists and on lists with shared project filters alike.
#[actix_web::test]
async fn query_values_that_break_the_declared_rules_are_refused_all_at_once() {
    let app = TestApp::new().await;
    let response = app.get("/v1/organisations?org_id=&q=").await;
    response.assert_problem(400);
    let mut fields = response.error_fields();
    fields.sort();
    assert_eq!(fields, ["org_id", "q"], "{}", response.text);

    let response = app.get("/v1/sources?language=").await;
    response.assert_problem(400);
    assert_eq!(response.error_fields(), ["language"], "{}", response.text);
    assert_eq!(response.body["errors"][0]["code"], "invalid");
    app.get("/v1/sources?language=LV").await.assert_problem(400);
    assert_eq!(app.get("/v1/sources?language=lv").await.status, 200);

    let response = app.get("/v1/exports/organisations.csv?org_id=").await;
    response.assert_problem(400);

    let long = "a".repeat(201);
    let response = app
        .get(&format!("/v1/projects?q={long}&sort=sideways"))
        .await;
    response.assert_problem(400);
    let mut fields = response.error_fields();
    fields.sort();
    assert_eq!(fields, ["q", "sort"], "{}", response.text);
}

//! Indicator statistics: grouping, the aggregation rules, filters and drafts.

use serde_json::{json, Value};

use crate::seeds::load;
use crate::support::{create_organisation, organisation, TestApp};

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.post_json(path, &body).await;
    assert_eq!(response.status, 201, "POST {path}: {}", response.text);
    response.body
}

fn group<'a>(stats: &'a Value, key: Option<&str>) -> &'a Value {
    stats["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"].as_str() == key)
        .unwrap_or_else(|| panic!("no group {key:?} in {stats}"))
}

#[actix_web::test]
async fn sums_follow_each_indicators_aggregation_rule() {
    let app = TestApp::new().await;
    let org = create_organisation(&app, &organisation("Skaitītāju biedrība")).await;
    let org = org["id"].as_str().unwrap();
    for (code, aggregation) in [("members", "latest"), ("trained", "sum"), ("seats", "max")] {
        post(
            &app,
            "/v1/indicators",
            json!({"code": code, "name": code, "unit": "person", "aggregation": aggregation}),
        )
        .await;
    }
    let latgale = post(&app, "/v1/projects", json!({"title": "Latgalē", "status": "active", "lead_organisation_id": org, "regions": ["latgale"]})).await;
    let both = post(&app, "/v1/projects", json!({"title": "Rīgā un Latgalē", "status": "active", "lead_organisation_id": org, "regions": ["riga", "latgale"]})).await;
    let draft = post(&app, "/v1/projects", json!({"title": "Melnraksts", "status": "draft", "lead_organisation_id": org, "regions": ["riga"]})).await;
    let value = |project: &Value, code: &str, start: &str, end: &str, value: f64| {
        (
            format!("/v1/projects/{}/metrics", project["id"].as_str().unwrap()),
            json!({"indicator": code, "period_start": start, "period_end": end, "value": value}),
        )
    };
    for (path, body) in [
        value(&latgale, "members", "2012-01-01", "2012-12-31", 10.0),
        value(&latgale, "members", "2013-01-01", "2013-12-31", 15.0),
        value(&both, "members", "2013-01-01", "2013-06-30", 40.0),
        value(&latgale, "trained", "2012-01-01", "2012-12-31", 10.0),
        value(&latgale, "trained", "2013-01-01", "2013-12-31", 15.0),
        value(&both, "trained", "2013-01-01", "2013-06-30", 40.0),
        value(&latgale, "seats", "2012-01-01", "2012-12-31", 30.0),
        value(&latgale, "seats", "2013-01-01", "2013-12-31", 20.0),
        value(&draft, "trained", "2013-01-01", "2013-12-31", 1000.0),
    ] {
        post(&app, &path, body).await;
    }
    let admin = app.token();
    app.act_as(None);
    // latest: 15 (Latgalē's latest) + 40.
    let stats = app
        .get("/v1/stats/indicators/members?group_by=region")
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(stats.body["aggregation"], "latest");
    assert_eq!(group(&stats.body, Some("latgale"))["value"], 55.0);
    assert_eq!(group(&stats.body, Some("latgale"))["label"], "Latgale");
    assert_eq!(group(&stats.body, Some("riga"))["value"], 40.0);
    assert_eq!(
        stats.body["total"]["value"], 55.0,
        "each project counted once in the total"
    );
    assert_eq!(stats.body["total"]["projects"], 2);
    // sum: every value; the draft's 1000 is not published.
    let stats = app.get("/v1/stats/indicators/trained?group_by=year").await;
    assert_eq!(group(&stats.body, Some("2012"))["value"], 10.0);
    assert_eq!(group(&stats.body, Some("2013"))["value"], 55.0);
    assert_eq!(stats.body["total"]["value"], 65.0);
    assert_eq!(stats.body["total"]["values"], 3);
    // max: the larger of a project's values.
    let stats = app
        .get("/v1/stats/indicators/seats?group_by=organisation")
        .await;
    assert_eq!(group(&stats.body, Some(org))["value"], 30.0);
    assert_eq!(
        group(&stats.body, Some(org))["label"],
        "Skaitītāju biedrība"
    );
    // Project filters and value periods narrow it.
    let stats = app
        .get("/v1/stats/indicators/trained?group_by=region&region=riga")
        .await;
    assert_eq!(stats.body["total"]["value"], 40.0);
    let stats = app
        .get("/v1/stats/indicators/trained?group_by=programme&period_from=2013-01-01")
        .await;
    assert_eq!(
        group(&stats.body, None)["value"],
        55.0,
        "no programme is the null group"
    );
    // With a key that may read drafts the draft counts.
    app.act_as(admin.as_deref());
    let stats = app
        .get("/v1/stats/indicators/trained?group_by=region")
        .await;
    assert_eq!(stats.body["total"]["value"], 1065.0);
    app.act_as(None);
    for (query, param) in [
        ("group_by=colour", "group_by"),
        ("", "group_by"),
        ("group_by=region&kind=guess", "kind"),
        ("group_by=region&region=atlantis", "region"),
        ("group_by=region&period_from=2013", "period_from"),
        ("group_by=region&limit=5", "limit"),
    ] {
        let response = app
            .get(&format!("/v1/stats/indicators/trained?{query}"))
            .await;
        response.assert_problem(400);
        assert!(
            response.error_fields().contains(&param.to_owned()),
            "{query}: {}",
            response.text
        );
    }
    app.get("/v1/stats/indicators/nothing?group_by=region")
        .await
        .assert_problem(404);
}

#[actix_web::test]
async fn seeded_participants_by_region_and_target_group() {
    let app = TestApp::new().await;
    load(&app).await;
    app.act_as(None);
    let stats = app
        .get("/v1/stats/indicators/participants?group_by=target_group")
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(group(&stats.body, Some("young_parents"))["value"], 53.0);
    assert_eq!(
        group(&stats.body, Some("young_parents"))["label"],
        "Jaunie vecāki"
    );
    assert_eq!(group(&stats.body, None)["value"], 558.0);
    let stats = app
        .get("/v1/stats/indicators/participants?group_by=region&lang=en")
        .await;
    assert_eq!(group(&stats.body, Some("latgale"))["value"], 611.0);
}

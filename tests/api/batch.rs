//! `POST /v1/metrics/batch` and `Idempotency-Key`: all-or-nothing upserts by natural key,
//! per-item errors, dry runs, permissions, blind retries and concurrent retries.

use actix_web::test::TestRequest;
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::access::world;
use crate::support::{Resp, TestApp};

fn item(project: &str, year: u32, value: f64) -> Value {
    json!({
        "project": project,
        "indicator": "people_trained",
        "period_start": format!("{year}-01-01"),
        "period_end": format!("{year}-12-31"),
        "kind": "actual",
        "value": value,
    })
}

async fn push(app: &TestApp, query: &str, items: &[Value], key: Option<&str>) -> Resp {
    let mut request = TestRequest::post()
        .uri(&format!("/v1/metrics/batch{query}"))
        .set_json(json!({ "items": items }));
    if let Some(key) = key {
        request = request.insert_header(("Idempotency-Key", key));
    }
    app.request(request).await
}

async fn stored_values(app: &TestApp) -> Vec<String> {
    app.query_strings(
        "SELECT period_start::text || '=' || value::text FROM metric_values ORDER BY period_start",
    )
    .await
}

#[actix_web::test]
async fn a_batch_creates_then_updates_then_leaves_unchanged() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let items = vec![item(&w.project, 2013, 130.0), item(&w.project, 2014, 7.0)];

    let first = push(&app, "", &items, None).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(
        (
            first.body["created"].clone(),
            first.body["updated"].clone(),
            first.body["unchanged"].clone()
        ),
        (json!(2), json!(0), json!(0))
    );
    assert_eq!(first.body["items"][1]["index"], 1);
    assert_eq!(first.body["items"][1]["outcome"], "created");
    let ids: Vec<Value> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();

    // The project may also be named by its reference; here by id again, one value changed.
    let changed = vec![item(&w.project, 2013, 130.0), item(&w.project, 2014, 8.0)];
    let second = push(&app, "", &changed, None).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["updated"], 1);
    assert_eq!(second.body["unchanged"], 1);
    assert_eq!(second.body["items"][0]["outcome"], "unchanged");
    assert_eq!(second.body["items"][1]["outcome"], "updated");
    let again: Vec<Value> = second.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(ids, again, "upserts keep the records");
    assert_eq!(
        stored_values(&app).await,
        vec!["2013-01-01=130.0000", "2014-01-01=8.0000"]
    );

    // Every change left a revision: create, create, update.
    let revisions = app
        .query_strings("SELECT op || ':' || coalesce(old_value::text, '-') || '>' || coalesce(new_value::text, '-') FROM metric_revisions ORDER BY id")
        .await;
    assert_eq!(
        revisions,
        vec![
            "create:->130.0000",
            "create:->7.0000",
            "update:7.0000>8.0000"
        ]
    );
}

#[actix_web::test]
async fn projects_may_be_named_by_reference() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let patched = app
        .patch(
            &format!("/v1/projects/{}", w.project),
            &json!({"reference": "2012.EEZ/PP/2/MAC/016/037"}),
            None,
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let pushed = push(
        &app,
        "",
        &[item("2012.EEZ/PP/2/MAC/016/037", 2013, 1.0)],
        None,
    )
    .await;
    assert_eq!(pushed.status, 200, "{}", pushed.text);
    assert_eq!(pushed.body["created"], 1);
}

#[actix_web::test]
async fn a_dry_run_reports_without_writing() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    push(&app, "", &[item(&w.project, 2013, 130.0)], None).await;
    let items = vec![item(&w.project, 2013, 131.0), item(&w.project, 2014, 7.0)];
    let dry = push(&app, "?dry_run=true", &items, None).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(dry.body["dry_run"], true);
    assert_eq!(dry.body["updated"], 1);
    assert_eq!(dry.body["created"], 1);
    assert!(
        dry.body["items"][0]["id"].is_string(),
        "the existing value's id"
    );
    assert!(
        dry.body["items"][1]["id"].is_null(),
        "no id for a value not yet created"
    );
    assert_eq!(
        stored_values(&app).await,
        vec!["2013-01-01=130.0000"],
        "nothing written"
    );
}

#[actix_web::test]
async fn every_bad_item_is_reported_and_nothing_is_written() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let mut items = vec![item(&w.project, 2013, 1.0)];
    items.push(json!({"project": w.project, "indicator": "people_trained", "value": -5}));
    items.push(json!({"project": "no-such-reference", "indicator": "people_trained", "value": 1}));
    items.push(json!({"project": w.project, "indicator": "nonexistent", "value": 1}));
    items.push(json!({"project": w.project, "indicator": "people_trained", "value": "ten"}));
    items.push(
        json!({"project": w.project, "indicator": "people_trained", "value": 1, "colour": "red"}),
    );
    items.push(
        json!({"project": w.project, "indicator": "people_trained", "value": 1,
        "period_start": "2014-01-01", "period_end": "2013-01-01"}),
    );
    items.push(item(&w.project, 2013, 2.0));
    let response = push(&app, "", &items, None).await;
    response.assert_problem(422);
    let fields = response.error_fields();
    for expected in [
        "items[1].value",
        "items[2].project",
        "items[3].indicator",
        "items[4].value",
        "items[5].colour",
        "items[6].period_end",
        "items[7]",
    ] {
        assert!(
            fields.contains(&expected.to_owned()),
            "{expected} missing from {fields:?}"
        );
    }
    assert!(stored_values(&app).await.is_empty(), "all or nothing");
}

#[actix_web::test]
async fn one_bad_item_among_ten_thousand_writes_nothing() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let mut items: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({"project": w.project, "indicator": "people_trained", "kind": "actual",
                   "period_start": "2013-01-01", "period_end": "2013-12-31",
                   "note": format!("site {i}"), "value": i,
                   "target_group": if i % 2 == 0 { "seniors" } else { "youth" },
                   "activity_id": if i < 5_000 { Value::Null } else { json!(w.activity) }})
        })
        .collect();
    // Distinct natural keys: vary the period by item.
    for (i, item) in items.iter_mut().enumerate() {
        let day =
            chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + chrono::Days::new(i as u64 / 2);
        item["period_start"] = json!(day.to_string());
        item["period_end"] = json!(day.to_string());
    }
    items[7_777]["value"] = json!(0.12345);
    let response = push(&app, "", &items, None).await;
    response.assert_problem(422);
    assert_eq!(response.error_fields(), vec!["items[7777].value"]);
    assert!(stored_values(&app).await.is_empty());

    items[7_777]["value"] = json!(0.1234);
    let response = push(&app, "", &items, None).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        &response.text[..500.min(response.text.len())]
    );
    assert_eq!(response.body["created"], 10_000);
    assert_eq!(
        app.query_strings("SELECT count(*) FROM metric_values")
            .await,
        vec!["10000"]
    );

    let too_many: Vec<Value> = (0..10_001).map(|_| item(&w.project, 2013, 1.0)).collect();
    let refused = push(&app, "", &too_many, None).await;
    refused.assert_problem(422);
    assert_eq!(refused.error_fields(), vec!["items"]);
}

#[actix_web::test]
async fn a_key_may_push_only_for_its_own_projects() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let outsider = app.key(Some(&w.other), &["metrics:write"]).await;
    let partner = app.key(Some(&w.partner), &["metrics:write"]).await;
    let no_scope = app.key(Some(&w.lead), &["projects:write"]).await;

    app.act_as(Some(&outsider));
    let refused = push(&app, "", &[item(&w.project, 2013, 1.0)], None).await;
    refused.assert_problem(403);
    assert_eq!(refused.error_fields(), vec!["items[0].project"]);

    app.act_as(Some(&no_scope));
    push(&app, "", &[item(&w.project, 2013, 1.0)], None)
        .await
        .assert_problem(403);

    app.act_as(None);
    push(&app, "", &[item(&w.project, 2013, 1.0)], None)
        .await
        .assert_problem(401);

    app.act_as(Some(&partner));
    let accepted = push(
        &app,
        "",
        &[item(&w.project, 2013, 1.0), item(&w.draft, 2013, 2.0)],
        None,
    )
    .await;
    assert_eq!(
        accepted.status, 200,
        "a partner pushes, drafts too: {}",
        accepted.text
    );
    assert!(stored_values(&app).await.len() == 2);
}

#[actix_web::test]
async fn a_replay_returns_the_first_response_byte_for_byte() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let items = vec![item(&w.project, 2013, 130.0)];
    let first = push(&app, "", &items, Some("push-2013-1")).await;
    assert_eq!(first.status, 200);
    let replay = push(&app, "", &items, Some("push-2013-1")).await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.text, first.text, "byte for byte");
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        replay.body["created"], 1,
        "still the first answer, not 'unchanged'"
    );

    let other_body = push(
        &app,
        "",
        &[item(&w.project, 2013, 131.0)],
        Some("push-2013-1"),
    )
    .await;
    other_body.assert_problem(422);
    assert_eq!(other_body.error_fields(), vec!["Idempotency-Key"]);
    assert_eq!(stored_values(&app).await, vec!["2013-01-01=130.0000"]);

    // Keys are per caller: another key may use the same Idempotency-Key for its own request.
    let partner = app.key(Some(&w.partner), &["metrics:write"]).await;
    app.act_as(Some(&partner));
    let theirs = push(
        &app,
        "",
        &[item(&w.project, 2014, 5.0)],
        Some("push-2013-1"),
    )
    .await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    assert!(theirs.header("idempotent-replayed").is_none());

    // Other POSTs are idempotent too: a retried create makes one record.
    app.act_as(Some(&app.operator_token.clone()));
    let create = || {
        TestRequest::post()
            .uri("/v1/organisations")
            .insert_header(("Idempotency-Key", "org-1"))
            .set_json(crate::support::organisation("Retried NGO"))
    };
    let a = app.request(create()).await;
    let b = app.request(create()).await;
    assert_eq!((a.status, b.status), (201, 201));
    assert_eq!(a.body["id"], b.body["id"]);
    assert_eq!(a.header("location"), b.header("location"));

    let bad_key = app
        .request(
            TestRequest::post()
                .uri("/v1/organisations")
                .insert_header(("Idempotency-Key", ""))
                .set_json(crate::support::organisation("X")),
        )
        .await;
    bad_key.assert_problem(400);
}

#[actix_web::test]
async fn the_same_batch_sent_twenty_times_at_once_makes_one_set_of_rows() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let items: Vec<Value> = (0..200)
        .map(|i| item(&w.project, 1800 + i, i as f64))
        .collect();

    // With one Idempotency-Key: one request runs, the others get its answer or "in progress".
    let responses = join_all((0..20).map(|_| push(&app, "", &items, Some("nightly-sync")))).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    let created: Vec<&Resp> = responses.iter().filter(|r| r.status == 200).collect();
    assert!(!created.is_empty());
    assert!(
        created.iter().all(|r| r.body["created"] == 200),
        "every 200 is the first answer"
    );
    assert_eq!(
        app.query_strings("SELECT count(*) FROM metric_values")
            .await,
        vec!["200"]
    );

    // Without one: the natural key still keeps a single set of rows.
    let changed: Vec<Value> = (0..200)
        .map(|i| item(&w.project, 1800 + i, i as f64 + 1.0))
        .collect();
    let responses = join_all((0..20).map(|_| push(&app, "", &changed, None))).await;
    for response in &responses {
        assert_eq!(response.status, 200, "{}", response.text);
    }
    let updated: u64 = responses
        .iter()
        .map(|r| r.body["updated"].as_u64().unwrap())
        .sum();
    assert_eq!(
        updated, 200,
        "each value updated exactly once across the 20 requests"
    );
    assert_eq!(
        app.query_strings("SELECT count(*) FROM metric_values")
            .await,
        vec!["200"]
    );
    assert_eq!(
        app.query_strings("SELECT count(*) FROM metric_revisions WHERE op = 'update'")
            .await,
        vec!["200"]
    );
}

//! The change feed: commit-order safety, tombstones, drafts, and a mirror kept in sync by the
//! feed alone while writers run concurrently.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use actix_web::test::TestRequest;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Value};

use crate::support::{Resp, TestApp};

/// Reads the feed from `since` until nothing more is ready; returns the changes and the cursor.
async fn drain(app: &TestApp, since: Option<&str>) -> (Vec<Value>, String) {
    let mut changes = Vec::new();
    let mut cursor = since.map(str::to_owned);
    loop {
        let url = match &cursor {
            Some(c) => format!("/v1/changes?limit=7&since={c}"),
            None => "/v1/changes?limit=7".to_owned(),
        };
        let response = app.get(&url).await;
        assert_eq!(response.status, 200, "{}", response.text);
        changes.extend(response.body["data"].as_array().unwrap().iter().cloned());
        cursor = Some(response.body["next_cursor"].as_str().unwrap().to_owned());
        if !response.body["has_more"].as_bool().unwrap() {
            return (changes, cursor.unwrap());
        }
    }
}

/// Reads the feed until it has served every change written so far (`seen` counts what the
/// caller read before `since`). Transaction ids are cluster-wide, so a transaction of another
/// test's database can hold the feed back for a moment; a reader just polls again.
async fn catch_up(app: &TestApp, since: Option<&str>, seen: &mut usize) -> (Vec<Value>, String) {
    let written: usize = app
        // Funding lines and keys are audited for history, not served by the feed.
        .query_strings(
            "SELECT count(*)::text FROM audit_log WHERE resource NOT IN ('funding', 'api_key')",
        )
        .await[0]
        .parse()
        .unwrap();
    let mut changes = Vec::new();
    let mut cursor = since.map(str::to_owned);
    for _ in 0..200 {
        let (more, next) = drain(app, cursor.as_deref()).await;
        changes.extend(more);
        cursor = Some(next);
        if *seen + changes.len() >= written {
            *seen += changes.len();
            return (changes, cursor.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the feed did not catch up: {} of {written}",
        *seen + changes.len()
    );
}

fn ids_of(changes: &[Value]) -> Vec<(String, String)> {
    changes
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["op"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn post_as(app: &TestApp, token: &str, path: &str, body: Value) -> Resp {
    app.request(
        TestRequest::post()
            .uri(path)
            .set_json(body)
            .insert_header(("authorization", format!("Bearer {token}"))),
    )
    .await
}

async fn patch_as(app: &TestApp, token: &str, path: &str, body: Value) -> Resp {
    app.request(
        TestRequest::patch()
            .uri(path)
            .set_json(body)
            .insert_header(("authorization", format!("Bearer {token}"))),
    )
    .await
}

async fn delete_as(app: &TestApp, token: &str, path: &str) -> Resp {
    app.request(
        TestRequest::delete()
            .uri(path)
            .insert_header(("authorization", format!("Bearer {token}"))),
    )
    .await
}

#[actix_web::test]
async fn a_slow_transaction_is_never_skipped() {
    let app = TestApp::new().await;
    let admin = app.token().unwrap();
    app.act_as(None);
    let first = post_as(
        &app,
        &admin,
        "/v1/organisations",
        json!({"name": "Pirmā", "kind": "ngo"}),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.text);

    // A transaction writes first (lower audit id) and commits last.
    let mut slow = AsyncPgConnection::establish(&app.db_url).await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut slow).await.unwrap();
    diesel::sql_query(
        "INSERT INTO organisations (id, name, kind) VALUES ('01900000-0000-7000-8000-000000000001', 'Lēnā', 'ngo')",
    )
    .execute(&mut slow)
    .await
    .unwrap();
    let fast = post_as(
        &app,
        &admin,
        "/v1/organisations",
        json!({"name": "Ātrā", "kind": "ngo"}),
    )
    .await;
    assert_eq!(fast.status, 201);
    let fast_id = fast.body["id"].as_str().unwrap().to_owned();

    // The first change is served as soon as no older transaction is in flight anywhere; the
    // fast one never while the slow one is open.
    let mut changes = Vec::new();
    let mut cursor = None;
    for _ in 0..100 {
        let (more, next) = drain(&app, cursor.as_deref()).await;
        changes.extend(more);
        cursor = Some(next);
        if !changes.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (more, next) = drain(&app, cursor.as_deref()).await;
    changes.extend(more);
    let cursor = next;
    assert_eq!(
        ids_of(&changes),
        vec![(
            first.body["id"].as_str().unwrap().to_owned(),
            "upsert".to_owned()
        )],
        "nothing past a transaction still in flight is served"
    );
    diesel::sql_query("COMMIT")
        .execute(&mut slow)
        .await
        .unwrap();
    let mut seen = 1;
    let (changes, cursor) = catch_up(&app, Some(&cursor), &mut seen).await;
    assert_eq!(
        ids_of(&changes),
        vec![
            (
                "01900000-0000-7000-8000-000000000001".to_owned(),
                "upsert".to_owned()
            ),
            (fast_id.clone(), "upsert".to_owned())
        ]
    );
    assert_eq!(
        changes[0]["url"],
        "/v1/organisations/01900000-0000-7000-8000-000000000001"
    );

    // Deletes are tombstones; a cursor of `now` skips history.
    assert_eq!(
        delete_as(&app, &admin, &format!("/v1/organisations/{fast_id}"))
            .await
            .status,
        204
    );
    let (changes, _) = catch_up(&app, Some(&cursor), &mut seen).await;
    assert_eq!(ids_of(&changes), vec![(fast_id, "delete".to_owned())]);
    assert!(changes[0]["version"].is_null());
    let now = app.get("/v1/changes?since=now").await;
    assert_eq!(now.body["data"], json!([]));
    let (after_now, _) = drain(&app, now.body["next_cursor"].as_str()).await;
    assert!(after_now.is_empty());

    for bad in [
        "since=bogus",
        "since=",
        "limit=0",
        "limit=1001",
        "resource=widget",
        "from=0",
    ] {
        app.get(&format!("/v1/changes?{bad}"))
            .await
            .assert_problem(400);
    }
}

#[actix_web::test]
async fn drafts_stay_out_of_the_anonymous_feed_until_published() {
    let app = TestApp::new().await;
    let admin = app.token().unwrap();
    app.act_as(None);
    let org = post_as(
        &app,
        &admin,
        "/v1/organisations",
        json!({"name": "Melnrakstu biedrība", "kind": "ngo"}),
    )
    .await;
    let mut seen = 0;
    let (_, cursor) = catch_up(&app, None, &mut seen).await;
    let project = post_as(
        &app,
        &admin,
        "/v1/projects",
        json!({"title": "Slepens", "status": "draft", "lead_organisation_id": org.body["id"]}),
    )
    .await;
    let project_id = project.body["id"].as_str().unwrap().to_owned();
    let activity = post_as(
        &app,
        &admin,
        &format!("/v1/projects/{project_id}/activities"),
        json!({"title": "Tikšanās", "kind": "meeting"}),
    )
    .await;
    assert_eq!(activity.status, 201, "{}", activity.text);
    let (changes, cursor) = catch_up(&app, Some(&cursor), &mut seen).await;
    assert!(
        changes
            .iter()
            .all(|c| c["op"] == "delete" && c["version"].is_null()),
        "a draft shows only as tombstones, without versions: {changes:?}"
    );
    let published = patch_as(
        &app,
        &admin,
        &format!("/v1/projects/{project_id}"),
        json!({"status": "active"}),
    )
    .await;
    assert_eq!(published.status, 200);
    let (changes, _) = catch_up(&app, Some(&cursor), &mut seen).await;
    let upserts: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c["op"] == "upsert")
        .map(|c| c["resource"].as_str().unwrap())
        .collect();
    assert_eq!(
        upserts,
        BTreeSet::from(["activity", "project"]),
        "publishing brings the activity along"
    );
    // The admin sees the draft's history as upserts.
    app.act_as(Some(&admin));
    let (all, _) = catch_up(&app, None, &mut 0).await;
    assert!(all.iter().all(|c| c["op"] == "upsert"));
}

/// What an anonymous mirror must end up holding: every published record and its version.
async fn registry(app: &TestApp) -> BTreeMap<String, i64> {
    app.query_strings(
        "SELECT 'organisation/' || id || '/' || version FROM organisations \
         UNION ALL SELECT 'project/' || id || '/' || version FROM projects WHERE status <> 'draft' \
         UNION ALL SELECT 'activity/' || a.id || '/' || a.version FROM activities a \
           JOIN projects p ON p.id = a.project_id WHERE p.status <> 'draft'",
    )
    .await
    .into_iter()
    .map(|s| {
        let (key, version) = s.rsplit_once('/').unwrap();
        (key.to_owned(), version.parse().unwrap())
    })
    .collect()
}

#[actix_web::test]
async fn a_polling_mirror_equals_the_registry_after_concurrent_writes() {
    let app = TestApp::new().await;
    let admin = app.token().unwrap();
    app.act_as(None);
    let done = Cell::new(0usize);

    let writer = |w: usize| {
        let app = &app;
        let admin = &admin;
        let done = &done;
        async move {
            for round in 0..6 {
                let org = post_as(
                    app,
                    admin,
                    "/v1/organisations",
                    json!({"name": format!("Rakstītājs {w}-{round}"), "kind": "ngo"}),
                )
                .await;
                assert_eq!(org.status, 201, "{}", org.text);
                let status = if (w + round) % 3 == 0 {
                    "draft"
                } else {
                    "active"
                };
                let project = post_as(app, admin, "/v1/projects", json!({"title": format!("Projekts {w}-{round}"), "status": status, "lead_organisation_id": org.body["id"]})).await;
                assert_eq!(project.status, 201, "{}", project.text);
                let id = project.body["id"].as_str().unwrap().to_owned();
                post_as(
                    app,
                    admin,
                    &format!("/v1/projects/{id}/activities"),
                    json!({"title": "Kursi", "kind": "course"}),
                )
                .await;
                match round % 3 {
                    0 => {
                        patch_as(
                            app,
                            admin,
                            &format!("/v1/projects/{id}"),
                            json!({"status": "completed"}),
                        )
                        .await;
                    }
                    1 => {
                        delete_as(app, admin, &format!("/v1/projects/{id}")).await;
                    }
                    _ => {
                        patch_as(
                            app,
                            admin,
                            &format!("/v1/projects/{id}"),
                            json!({"status": "draft"}),
                        )
                        .await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            done.set(done.get() + 1);
        }
    };
    // Transactions that take their time between writing and committing.
    let slow_writer = |w: usize| {
        let url = app.db_url.clone();
        let done = &done;
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            for round in 0..5 {
                diesel::sql_query("BEGIN").execute(&mut conn).await.unwrap();
                diesel::sql_query(format!(
                    "INSERT INTO organisations (id, name, kind) VALUES (gen_random_uuid(), 'Lēnais {w}-{round}', 'ngo')"
                ))
                .execute(&mut conn)
                .await
                .unwrap();
                tokio::time::sleep(Duration::from_millis(25)).await;
                diesel::sql_query(format!(
                    "UPDATE organisations SET description = 'mainīts' WHERE name = 'Lēnais {w}-{round}'"
                ))
                .execute(&mut conn)
                .await
                .unwrap();
                diesel::sql_query("COMMIT")
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            done.set(done.get() + 1);
        }
    };
    let mirror = async {
        let mut mirror: BTreeMap<String, i64> = BTreeMap::new();
        let mut cursor: Option<String> = None;
        let mut polls = 0;
        loop {
            let finished = done.get() == 6;
            let (changes, next) = drain(&app, cursor.as_deref()).await;
            polls += 1;
            for c in &changes {
                let key = format!(
                    "{}/{}",
                    c["resource"].as_str().unwrap(),
                    c["id"].as_str().unwrap()
                );
                if c["resource"] == "partner" || c["resource"] == "metric" {
                    continue;
                }
                match c["op"].as_str().unwrap() {
                    "upsert" => {
                        mirror.insert(key, c["version"].as_i64().unwrap());
                    }
                    _ => {
                        mirror.remove(&key);
                    }
                }
            }
            cursor = Some(next);
            if finished && mirror == registry(&app).await {
                return (mirror, polls);
            }
            assert!(polls < 2000, "the mirror never converged");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let ((mirror, polls), ..) = tokio::join!(
        mirror,
        writer(0),
        writer(1),
        writer(2),
        writer(3),
        slow_writer(0),
        slow_writer(1)
    );
    assert!(
        polls > 3,
        "the mirror polled while writes were running ({polls} polls)"
    );
    let expected = registry(&app).await;
    assert!(expected.len() > 30);
    assert_eq!(
        mirror, expected,
        "the mirror holds exactly the published registry"
    );
}

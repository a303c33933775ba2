//! The response store: anonymous reads are answered from memory until a commit changes the
//! registry, in every instance; keyed reads never are.

use std::time::{Duration, Instant};

use actix_web::test::TestRequest;
use serde_json::json;

use crate::support::{create_organisation, organisation, TestApp};

/// Reads `path` anonymously on `app` until `found` holds, for at most `bound`; returns how long
/// it took.
async fn until(
    app: &TestApp,
    path: &str,
    bound: Duration,
    found: impl Fn(&str) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        app.act_as(None);
        let response = app.get(path).await;
        if found(&response.text) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < bound,
            "{path} still answers without the change after {bound:?}: {}",
            response.text
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn anonymous_reads_are_kept_until_a_commit_and_keyed_reads_never() {
    let writer = TestApp::new().await;
    let reader = writer.storing_sibling().await;
    let other = writer.storing_sibling().await;
    for app in [&reader, &other] {
        app.act_as(None);
        let first = app.get("/v1/organisations").await;
        assert_eq!(first.status, 200);
        assert_eq!(first.header("x-cache"), Some("miss"));
        let again = app.get("/v1/organisations").await;
        assert_eq!(again.header("x-cache"), Some("hit"));
        assert_eq!(again.text, first.text);
        let etag = again.header("etag").unwrap().to_owned();
        let not_modified = app
            .request(
                TestRequest::get()
                    .uri("/v1/organisations")
                    .insert_header(("if-none-match", etag)),
            )
            .await;
        assert_eq!(not_modified.status, 304);
        assert_eq!(not_modified.header("x-cache"), Some("hit"));
    }

    // A write through one instance is seen by anonymous readers of the others within the bound.
    writer.act_as(Some(&writer.operator_token.clone()));
    create_organisation(&writer, &organisation("Newly Registered Society")).await;
    for app in [&reader, &other] {
        let took = until(app, "/v1/organisations", Duration::from_secs(2), |text| {
            text.contains("Newly Registered Society")
        })
        .await;
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
    // A reader with a key is never answered from the store.
    reader.act_as(Some(&reader.operator_token.clone()));
    let keyed = reader.get("/v1/organisations").await;
    assert!(keyed.header("x-cache").is_none());

    // The change feed is never kept (its horizon moves without commits).
    reader.act_as(None);
    reader.get("/v1/changes").await;
    let feed = reader.get("/v1/changes").await;
    assert!(feed.header("x-cache").is_none());

    // Every kind of change counts: a project moving into draft disappears at once too.
    writer.act_as(Some(&writer.operator_token.clone()));
    let lead = create_organisation(&writer, &organisation("Lead")).await;
    let project = writer
        .post_json(
            "/v1/projects",
            &json!({"title": "Visible", "status": "active", "lead_organisation_id": lead["id"]}),
        )
        .await;
    let id = project.body["id"].as_str().unwrap().to_owned();
    until(&reader, "/v1/projects", Duration::from_secs(2), |text| {
        text.contains(&id)
    })
    .await;
    writer
        .patch(
            &format!("/v1/projects/{id}"),
            &json!({"status": "draft"}),
            None,
        )
        .await;
    until(&reader, "/v1/projects", Duration::from_secs(2), |text| {
        !text.contains(&id)
    })
    .await;
}

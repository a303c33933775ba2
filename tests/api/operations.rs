//! Operations endpoints: liveness, readiness, Prometheus metrics, request ids.

use actix_web::test::TestRequest;
use serde_json::json;

use crate::support::TestApp;

#[actix_web::test]
async fn health_and_readiness_answer_without_a_key() {
    let app = TestApp::new().await;
    app.act_as(None);
    let live = app.get("/healthz").await;
    assert_eq!(
        (live.status, live.body["status"].as_str()),
        (200, Some("ok"))
    );
    let ready = app.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.body["status"].as_str()),
        (200, Some("ok"))
    );
}

#[actix_web::test]
async fn readiness_fails_with_503_when_migrations_are_missing() {
    let app = TestApp::new().await;
    app.execute_sql("DELETE FROM __diesel_schema_migrations WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)")
        .await;
    let ready = app.get("/readyz").await;
    ready.assert_problem(503);
    assert!(ready.header("retry-after").is_some());
}

#[actix_web::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::new().await;
    let project = uuid::Uuid::now_v7();
    assert_eq!(
        app.get(&format!("/v1/projects/{project}")).await.status,
        404
    );
    let pushed = app
        .post_json("/v1/metrics/batch", &json!({"items": []}))
        .await;
    assert_eq!(pushed.status, 422);
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = &metrics.text;
    assert!(
        text.contains(
            r#"kopa_http_requests_total{method="GET",route="/v1/projects/{id}",status="404"}"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"kopa_http_request_duration_seconds_bucket{method="GET",route="/v1/projects/{id}""#
    ));
    for series in [
        "kopa_db_pool_connections",
        "kopa_db_pool_in_use",
        "kopa_db_pool_waiting",
        "kopa_database_errors_total",
        "kopa_batch_items_pushed_total",
    ] {
        assert!(text.contains(series), "{series} missing");
    }
}

#[actix_web::test]
async fn request_ids_are_taken_from_the_client_or_made() {
    let app = TestApp::new().await;
    let given = app
        .request(
            TestRequest::get()
                .uri("/healthz")
                .insert_header(("X-Request-Id", "trace-42")),
        )
        .await;
    assert_eq!(given.header("x-request-id"), Some("trace-42"));
    let made = app.get("/healthz").await;
    assert!(made.header("x-request-id").is_some_and(|id| id.len() == 36));
}

#[actix_web::test]
async fn a_statement_over_the_time_limit_is_cancelled_with_503() {
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};
    let app = TestApp::with_timeout(std::time::Duration::from_millis(500)).await;
    let mut blocker = diesel_async::AsyncPgConnection::establish(&app.db_url)
        .await
        .unwrap();
    blocker
        .batch_execute("BEGIN; LOCK TABLE organisations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let response = app.get("/v1/organisations").await;
    response.assert_problem(503);
    assert!(response.header("retry-after").is_some());
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    blocker.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        app.get("/v1/organisations").await.status,
        200,
        "the app carries on"
    );
}

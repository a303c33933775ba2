//! Caching and browser access: Cache-Control, list ETags with 304, CORS.

use actix_web::test::TestRequest;

use crate::support::TestApp;

#[actix_web::test]
async fn anonymous_reads_are_publicly_cacheable_and_lists_revalidate() {
    let app = TestApp::new().await;
    app.act_as(None);
    let first = app.get("/v1/organisations").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("cache-control"), Some("public, max-age=60"));
    assert!(first.header("vary").unwrap().contains("Authorization"));
    let tag = first
        .header("etag")
        .expect("lists carry an ETag")
        .to_owned();
    assert!(tag.starts_with("W/\""), "{tag}");

    let again = app
        .request(
            TestRequest::get()
                .uri("/v1/organisations")
                .insert_header(("If-None-Match", tag.as_str())),
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.text.is_empty());
    assert_eq!(again.header("etag"), Some(tag.as_str()));

    // A change makes a new tag.
    let operator = app.operator_token.clone();
    app.act_as(Some(&operator));
    let created = app
        .post_json(
            "/v1/organisations",
            &crate::support::organisation("Cache buster"),
        )
        .await;
    assert_eq!(created.status, 201);
    let keyed = app.get("/v1/organisations").await;
    assert_eq!(
        keyed.header("cache-control"),
        Some("private, no-cache"),
        "keyed reads stay private"
    );
    app.act_as(None);
    let changed = app
        .request(
            TestRequest::get()
                .uri("/v1/organisations")
                .insert_header(("If-None-Match", tag.as_str())),
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(tag.as_str()));
}

#[actix_web::test]
async fn browsers_on_other_origins_may_call_the_api() {
    let app = TestApp::new().await;
    let preflight = app
        .request(
            TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/v1/metrics/batch")
                .insert_header(("Origin", "https://ngo.example.lv"))
                .insert_header(("Access-Control-Request-Method", "POST"))
                .insert_header((
                    "Access-Control-Request-Headers",
                    "authorization, content-type, idempotency-key",
                )),
        )
        .await;
    assert_eq!(preflight.status, 200, "{}", preflight.text);
    assert!(preflight.header("access-control-allow-origin").is_some());
    app.act_as(None);
    let read = app
        .request(
            TestRequest::get()
                .uri("/v1/projects")
                .insert_header(("Origin", "https://ngo.example.lv")),
        )
        .await;
    assert_eq!(
        read.header("access-control-allow-origin"),
        Some("https://ngo.example.lv")
    );
    assert!(read
        .header("access-control-expose-headers")
        .unwrap()
        .to_lowercase()
        .contains("etag"));
}

//! Behaviour shared by every route: unknown paths and methods, docs, the spec, request ids and
//! the problem+json format of errors.

use actix_web::http::header;
use actix_web::test::TestRequest;
use serde_json::json;

use crate::support::{create_organisation, organisation, TestApp};

#[actix_web::test]
async fn unknown_path_is_404_problem() {
    let app = TestApp::new().await;
    for path in [
        "/nope",
        "/v1/nope",
        "/v1/organisations/x/y",
        "/v2/organisations",
    ] {
        let response = app.get(path).await;
        response.assert_problem(404);
        assert_eq!(response.body["instance"], path);
    }
}

#[actix_web::test]
async fn wrong_method_on_known_path_is_405_with_allow() {
    let app = TestApp::new().await;
    let id = uuid::Uuid::now_v7();
    for (request, allowed) in [
        (TestRequest::put().uri("/v1/organisations"), "GET, POST"),
        (TestRequest::delete().uri("/v1/organisations"), "GET, POST"),
        (
            TestRequest::put().uri(&format!("/v1/organisations/{id}")),
            "DELETE, GET, PATCH",
        ),
        (
            TestRequest::post().uri(&format!("/v1/organisations/{id}")),
            "DELETE, GET, PATCH",
        ),
        (TestRequest::post().uri("/openapi.json"), "GET"),
        // A literal path wins over a template: this is not PATCH /v1/metrics/{id}.
        (
            TestRequest::patch().uri("/v1/metrics/batch?dry_run=true"),
            "POST",
        ),
        (TestRequest::get().uri("/v1/metrics/batch"), "POST"),
    ] {
        let response = app.request(request).await;
        response.assert_problem(405);
        let allow = response.header("allow").expect("405 carries Allow");
        let mut methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        methods.sort_unstable();
        assert_eq!(methods.join(", "), allowed, "{}", response.text);
    }
}

#[actix_web::test]
async fn docs_redirects_to_docs_slash() {
    let app = TestApp::new().await;
    let response = app.get("/docs").await;
    assert!(
        (300..400).contains(&response.status),
        "a redirect, got {}",
        response.status
    );
    assert_eq!(response.header("location"), Some("/docs/"));
}

#[actix_web::test]
async fn docs_slash_serves_html() {
    let app = TestApp::new().await;
    let response = app.get("/docs/").await;
    assert_eq!(response.status, 200);
    assert!(
        response.content_type().starts_with("text/html"),
        "content-type {}",
        response.content_type()
    );
    assert!(
        response.text.to_ascii_lowercase().contains("<html"),
        "an HTML page"
    );
}

#[actix_web::test]
async fn root_redirects_to_docs() {
    let app = TestApp::new().await;
    let response = app.get("/").await;
    assert!(
        (300..400).contains(&response.status),
        "a redirect, got {}",
        response.status
    );
    assert_eq!(response.header("location"), Some("/docs/"));
}

#[actix_web::test]
async fn openapi_json_is_an_openapi_3_1_document() {
    let app = TestApp::new().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status, 200);
    assert!(
        response.content_type().starts_with("application/json"),
        "content-type {}",
        response.content_type()
    );
    let version = response.body["openapi"]
        .as_str()
        .expect("an `openapi` field");
    assert!(version.starts_with("3.1"), "OpenAPI version {version}");
    assert!(
        response.body["paths"]["/v1/organisations"].is_object(),
        "documents the organisation routes"
    );
    assert!(response.body["paths"]["/v1/organisations/{id}"]["patch"].is_object());
}

#[actix_web::test]
async fn request_id_is_echoed_when_sent() {
    let app = TestApp::new().await;
    let ok = app
        .request(
            TestRequest::get()
                .uri("/v1/organisations")
                .insert_header(("X-Request-Id", "trace-abc-123")),
        )
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-request-id"), Some("trace-abc-123"));

    let error = app
        .request(
            TestRequest::get()
                .uri("/nowhere")
                .insert_header(("X-Request-Id", "trace-err-9")),
        )
        .await;
    assert_eq!(error.status, 404);
    assert_eq!(
        error.header("x-request-id"),
        Some("trace-err-9"),
        "errors echo it too"
    );
}

#[actix_web::test]
async fn request_id_is_generated_when_absent_or_unusable() {
    let app = TestApp::new().await;
    let first = app.get("/v1/organisations").await;
    let second = app.get("/v1/organisations").await;
    let a = first
        .header("x-request-id")
        .expect("a generated request id");
    let b = second
        .header("x-request-id")
        .expect("a generated request id");
    assert!(
        uuid::Uuid::parse_str(a).is_ok(),
        "generated ids are UUIDs: {a}"
    );
    assert_ne!(a, b, "each request gets its own id");

    let too_long = "x".repeat(200);
    let replaced = app
        .request(
            TestRequest::get()
                .uri("/v1/organisations")
                .insert_header(("X-Request-Id", too_long.as_str())),
        )
        .await;
    let id = replaced.header("x-request-id").expect("a request id");
    assert_ne!(id, too_long);
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "an unusable id is replaced by a UUID: {id}"
    );
}

#[actix_web::test]
async fn every_error_response_is_problem_json() {
    let app = TestApp::new().await;
    let record = create_organisation(&app, &organisation("Problem child")).await;
    let path = format!("/v1/organisations/{}", record["id"].as_str().unwrap());
    let stale = "\"00000000000000000000000000000000-1\"";

    let json_post = |body: &str| {
        TestRequest::post()
            .uri("/v1/organisations")
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload(body.to_owned())
    };
    let cases: Vec<(u16, TestRequest)> = vec![
        (400, TestRequest::get().uri("/v1/organisations?limit=0")),
        (400, json_post("{")),
        (404, TestRequest::get().uri("/v1/organisations/nope")),
        (404, TestRequest::get().uri("/nowhere")),
        (405, TestRequest::put().uri("/v1/organisations")),
        (409, json_post(&organisation("Problem child").to_string())),
        (
            412,
            TestRequest::delete()
                .uri(&path)
                .insert_header((header::IF_MATCH, stale)),
        ),
        (
            413,
            json_post(&json!({"name": "x".repeat(300 * 1024)}).to_string()),
        ),
        (
            415,
            TestRequest::post()
                .uri("/v1/organisations")
                .insert_header((header::CONTENT_TYPE, "text/plain"))
                .set_payload("{}"),
        ),
        (422, json_post(r#"{"name": "No kind"}"#)),
    ];
    for (status, request) in cases {
        let response = app.request(request).await;
        response.assert_problem(status);
        assert!(
            response.body["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "a detail: {}",
            response.text
        );
        assert!(
            response.body.get("request_id").is_none(),
            "request_id only on 5xx: {}",
            response.text
        );
    }
}

//! Security headers (OWASP REST Security Cheat Sheet): every response says `nosniff` and may
//! not be framed; the Swagger UI pages get a policy that lets exactly Swagger UI run.

use actix_web::dev::Service;
use actix_web::http::header;
use actix_web::middleware::{from_fn, Next};
use actix_web::test::{self, TestRequest};
use actix_web::{web, App, HttpResponse};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use kopa::web::security::{API_POLICY, DOCS_POLICY};
use sha2::{Digest, Sha256};

use crate::support::{Resp, TestApp};

#[track_caller]
fn assert_secured(response: &Resp, policy: &str) {
    assert_eq!(
        response.header("x-content-type-options"),
        Some("nosniff"),
        "nosniff on {} {}",
        response.status,
        response.text
    );
    assert_eq!(
        response.header("content-security-policy"),
        Some(policy),
        "CSP on {} {}",
        response.status,
        response.text
    );
    assert_eq!(response.header("x-frame-options"), Some("DENY"));
}

#[actix_web::test]
async fn api_responses_carry_nosniff_and_may_not_be_framed() {
    let app = TestApp::new().await;
    assert_eq!(API_POLICY, "frame-ancestors 'none'");

    // A JSON read, anonymous and keyed: the caching headers stay as `caching` sets them.
    let keyed = app.get("/v1/organisations").await;
    assert_eq!(keyed.status, 200, "{}", keyed.text);
    assert_secured(&keyed, API_POLICY);
    assert_eq!(keyed.header("cache-control"), Some("private, no-cache"));
    app.act_as(None);
    let read = app.get("/v1/organisations").await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert!(read.content_type().starts_with("application/json"));
    assert_secured(&read, API_POLICY);
    assert_eq!(read.header("cache-control"), Some("public, max-age=60"));

    // A 304 revalidation.
    let tag = read.header("etag").expect("lists carry an ETag");
    let revalidated = app
        .request(
            TestRequest::get()
                .uri("/v1/organisations")
                .insert_header((header::IF_NONE_MATCH, tag)),
        )
        .await;
    assert_eq!(revalidated.status, 304);
    assert_secured(&revalidated, API_POLICY);

    // Problems: a 404 from a route, the 404 and 405 fallbacks, a 401 from the auth layer.
    for (status, request) in [
        (404, TestRequest::get().uri("/v1/organisations/nope")),
        (404, TestRequest::get().uri("/nowhere")),
        (405, TestRequest::put().uri("/v1/organisations")),
        (
            401,
            TestRequest::post()
                .uri("/v1/organisations")
                .insert_header((header::AUTHORIZATION, "Bearer kopa_unknown")),
        ),
    ] {
        let response = app.request(request).await;
        response.assert_problem(status);
        assert_secured(&response, API_POLICY);
    }

    // Operations endpoints, a CSV export, the spec, the redirects to the docs and a preflight.
    for path in [
        "/healthz",
        "/metrics",
        "/v1/projects?format=csv",
        "/openapi.json",
        "/docs",
        "/",
    ] {
        let response = app.get(path).await;
        assert!(response.status < 400, "{path}: {}", response.status);
        assert_secured(&response, API_POLICY);
    }
    let spec = app.get("/openapi.json").await;
    assert!(spec.content_type().starts_with("application/json"));
    let preflight = app
        .request(
            TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/v1/organisations")
                .insert_header(("Origin", "https://ngo.example.lv"))
                .insert_header(("Access-Control-Request-Method", "POST")),
        )
        .await;
    assert_eq!(preflight.status, 200, "{}", preflight.text);
    assert_secured(&preflight, API_POLICY);
}

/// The quoted value of every `name="..."` attribute in `html`.
fn attribute_values<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let marker = format!("{name}=\"");
    html.match_indices(&marker)
        .filter_map(|(at, _)| {
            let rest = &html[at + marker.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

#[actix_web::test]
async fn swagger_ui_gets_a_policy_that_lets_exactly_it_run() {
    let app = TestApp::new().await;
    app.act_as(None);
    for needed in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(DOCS_POLICY.contains(needed), "{needed} in {DOCS_POLICY}");
    }
    for refused in ["unsafe-inline", "unsafe-eval", "http:", "https:", "*"] {
        assert!(!DOCS_POLICY.contains(refused), "{refused} in {DOCS_POLICY}");
    }

    let page = app.get("/docs/").await;
    assert_eq!(page.status, 200);
    assert!(page.content_type().starts_with("text/html"));
    assert_secured(&page, DOCS_POLICY);

    // The policy holds only while the page has nothing inline: every script has a `src`, there
    // is no <style> element and no style attribute (script-src/style-src 'self' refuse them).
    let html = page.text.to_ascii_lowercase();
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count(),
        "an inline script in the Swagger UI page: revisit DOCS_POLICY\n{}",
        page.text
    );
    assert!(!html.contains("<style"), "an inline <style>: {}", page.text);
    assert!(
        !html.contains(" style="),
        "a style attribute: {}",
        page.text
    );

    // Everything the page loads comes from beside it, with the type nosniff insists on.
    let scripts = attribute_values(&page.text, "src");
    let links = attribute_values(&page.text, "href");
    assert!(scripts.len() >= 3 && links.len() >= 2, "{}", page.text);
    for (reference, expected_type) in
        scripts
            .iter()
            .map(|s| (*s, "javascript"))
            .chain(links.iter().map(|l| {
                let kind = if l.ends_with(".css") {
                    "text/css"
                } else {
                    "image/"
                };
                (*l, kind)
            }))
    {
        assert!(
            !reference.contains(':') && !reference.starts_with("//"),
            "{reference} is not from this origin"
        );
        let path = format!("/docs/{}", reference.trim_start_matches("./"));
        let asset = app.get(&path).await;
        assert_eq!(asset.status, 200, "{path}");
        assert!(
            asset.content_type().contains(expected_type),
            "{path} is served as {}",
            asset.content_type()
        );
        assert_secured(&asset, DOCS_POLICY);
    }

    // The configuration points Swagger UI at this origin's spec, and the spec's server is this
    // origin, so connect-src 'self' covers the spec and "Try it out".
    let initializer = app.get("/docs/swagger-initializer.js").await;
    assert!(
        initializer.text.contains("\"url\": \"/openapi.json\""),
        "{}",
        initializer.text
    );
    let spec = app.get("/openapi.json").await;
    assert_eq!(spec.body["servers"][0]["url"], "/", "{}", spec.text);

    // The scripts create exactly one <style> element (the top bar's logo), and the policy
    // allows exactly that one by its hash.
    let mut hashes = Vec::new();
    for script in &scripts {
        let source = app
            .get(&format!("/docs/{}", script.trim_start_matches("./")))
            .await
            .text;
        let marker = "createElement(\"style\",null,\"";
        for (at, _) in source.match_indices("createElement(\"style\"") {
            let rest = source[at..]
                .strip_prefix(marker)
                .unwrap_or_else(|| panic!("a <style> built otherwise in {script}"));
            let css = &rest[..rest.find('"').expect("a closing quote")];
            hashes.push(format!("'sha256-{}'", BASE64.encode(Sha256::digest(css))));
        }
    }
    let allowed: Vec<&str> = DOCS_POLICY
        .split(';')
        .find_map(|d| d.trim().strip_prefix("style-src "))
        .expect("style-src")
        .split_whitespace()
        .filter(|s| s.starts_with("'sha256-"))
        .collect();
    assert_eq!(hashes.len(), 1, "{hashes:?}: revisit DOCS_POLICY");
    assert_eq!(allowed, hashes, "the style hashes DOCS_POLICY allows");

    // Unknown files under /docs/ are docs responses too.
    let missing = app.get("/docs/nothing-here.js").await;
    assert_eq!(missing.status, 404);
    assert_secured(&missing, DOCS_POLICY);
}

async fn failing_middleware(
    _req: actix_web::dev::ServiceRequest,
    _next: Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    Err(actix_web::error::ErrorServiceUnavailable("down"))
}

#[actix_web::test]
async fn an_error_a_middleware_passes_up_is_rendered_with_the_headers() {
    let app = test::init_service(
        App::new()
            .route("/", web::get().to(HttpResponse::Ok))
            .wrap(from_fn(failing_middleware))
            .wrap(from_fn(kopa::web::security::headers)),
    )
    .await;
    let Err(error) = app.call(TestRequest::get().uri("/").to_request()).await else {
        panic!("the failing middleware's error passes up");
    };
    let response = error.error_response();
    assert_eq!(response.status(), 503);
    let headers = response.headers();
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(headers.get("content-security-policy").unwrap(), API_POLICY);
    assert_eq!(headers.get("x-frame-options").unwrap(), "DENY");
}

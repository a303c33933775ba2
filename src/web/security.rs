//! Security headers on every response, as the OWASP REST Security Cheat Sheet lists them for
//! API responses: `X-Content-Type-Options: nosniff` (a browser never reads a JSON or CSV body
//! as HTML or script), `Content-Security-Policy: frame-ancestors 'none'` and its older twin
//! `X-Frame-Options: DENY` (no page may frame a response: drag-and-drop clickjacking).
//!
//! The Swagger UI pages under `/docs/` are the one place that serves HTML, so they get a
//! policy that lets Swagger UI run and nothing more; see [`DOCS_POLICY`].
//!
//! The cheat sheet's other entries are handled elsewhere or elsewhere's job: `Content-Type` is
//! set by each response; `Cache-Control` by `caching` (deliberately cacheable for anonymous
//! reads of open data, rather than the cheat sheet's `no-store`); `Strict-Transport-Security` by
//! whatever terminates TLS in front of Kopa (Kopa itself speaks plain HTTP, where browsers
//! ignore the header).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;

/// Where Swagger UI's page and its assets are served.
pub const DOCS_PREFIX: &str = "/docs/";

/// Every response but the docs pages: nothing may frame it.
pub const API_POLICY: &str = "frame-ancestors 'none'";

/// Swagger UI's pages. What the vendored page loads: `index.html` pulls its stylesheets, its
/// favicons and its three scripts (`swagger-ui-bundle.js`, the standalone preset and
/// `swagger-initializer.js`, which carries the configuration) from beside itself, with no
/// inline `<script>` or `<style>`; `swagger-ui.css` draws its icons as `data:` images; the UI
/// then fetches `/openapi.json` and sends "Try it out" requests to the spec's server, `/`. The
/// one inline bit is the logo in the standalone layout's top bar: an SVG with a `<style>`
/// element (`.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}`), allowed
/// by its hash rather than by `'unsafe-inline'`. So: scripts, styles and connections to this
/// origin only (plus that one style block), images from this origin and `data:`, everything
/// else (fonts, frames, objects, workers, form targets, `<base>`) refused. Swagger UI's online
/// validator badge, an image from a third-party host that would be told the spec's address,
/// stays blocked (it shows only on hosts other than localhost; `SwaggerUi`'s config could turn
/// it off with `validator_url("none")`). `tests/api/security.rs` checks these facts against the served files, so a
/// Swagger UI upgrade that changes them fails there.
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Adds the security headers to whatever the rest of the app answers, errors included.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let policy = if req.path().starts_with(DOCS_PREFIX) {
        DOCS_POLICY
    } else {
        API_POLICY
    };
    match next.call(req).await {
        Ok(mut response) => {
            secure(response.headers_mut(), policy);
            Ok(response.map_into_boxed_body())
        }
        // An error a middleware passed up would be rendered outside the app, past this point;
        // render it here instead, so it carries the headers too.
        Err(error) => {
            let mut response = error.error_response();
            secure(response.headers_mut(), policy);
            Err(InternalError::from_response(error, response).into())
        }
    }
}

fn secure(headers: &mut HeaderMap, policy: &'static str) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

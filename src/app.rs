//! The HTTP application: state, routes, middleware, Swagger UI, and the fallback for unknown
//! routes and methods. Tests build the very same app.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::{from_fn, Compress};
use actix_web::{web, App, HttpRequest, HttpResponse};
use utoipa::openapi::OpenApi;
use utoipa_actix_web::{scope, AppExt};
use utoipa_swagger_ui::SwaggerUi;

use crate::resources::{
    activities, api_keys, changes, dump, health, indicators, metrics, organisations, partners,
    programmes, projects, sources, stats, territories, vocabularies, webhooks,
};
use crate::state::AppState;
use crate::web::error::ApiError;
use crate::web::{openapi, request_context};

/// Every versioned route. Shared by the server and by spec generation so the two cannot differ.
fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.configure(organisations::configure)
        .configure(programmes::configure)
        .configure(projects::configure)
        .configure(partners::configure)
        .configure(activities::configure)
        .configure(metrics::configure)
        .configure(indicators::configure)
        .configure(stats::configure)
        .configure(sources::configure)
        .configure(territories::configure)
        .configure(changes::configure)
        .configure(dump::configure)
        .configure(vocabularies::configure)
        .configure(api_keys::configure)
        .configure(webhooks::configure);
}

fn collect<T>(app: utoipa_actix_web::UtoipaApp<T>) -> (App<T>, OpenApi)
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    let (app, spec) = app.split_for_parts();
    let spec = openapi::finish(spec);
    crate::web::body::install(&spec);
    (app, spec)
}

/// The OpenAPI document the code describes (what `/openapi.json` serves).
pub fn spec() -> OpenApi {
    let app = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .service(scope("/v1").configure(routes))
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics);
    collect(app).1
}

pub fn build(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let store = web::Data::from(state.store.clone());
    let utoipa_app = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .app_data(state)
        .app_data(store)
        .service(scope("/v1").configure(routes))
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics);
    let (app, spec) = collect(utoipa_app);
    let allowed = web::Data::new(crate::web::openapi::RouteTable::new(&spec));
    app.app_data(allowed)
        .service(web::redirect("/docs", "/docs/"))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .url("/openapi.json", spec)
                // No badge from validator.swagger.io: it would send the spec's address to a
                // third party (and the docs' CSP refuses it anyway).
                .config(utoipa_swagger_ui::Config::new(["/openapi.json"]).validator_url("none")),
        )
        .default_service(web::to(fallback))
        .wrap(from_fn(crate::web::caching::middleware))
        .wrap(from_fn(crate::web::response_store::middleware))
        .wrap(from_fn(crate::web::idempotency::middleware))
        .wrap(from_fn(crate::auth::middleware::authenticate))
        .wrap(from_fn(reject_unsupported_methods))
        .wrap(cors())
        .wrap(Compress::default())
        .wrap(from_fn(request_context::middleware))
        .wrap(from_fn(crate::web::security::headers))
}

/// A method the spec does not list for a path is a 405, even where actix would route it to a
/// more general template (PATCH `/v1/metrics/batch` is not PATCH `/v1/metrics/{id}`).
async fn reject_unsupported_methods(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let refuse = req
        .app_data::<web::Data<crate::web::openapi::RouteTable>>()
        .map(|routes| routes.allowed_methods(req.path()))
        .filter(|allowed| {
            !allowed.is_empty()
                && !allowed.contains(&req.method().as_str())
                && req.method() != Method::HEAD
                && req.method() != Method::OPTIONS
        });
    match refuse {
        Some(_) => {
            let (request, _) = req.into_parts();
            let response = fallback(
                request.clone(),
                request
                    .app_data::<web::Data<crate::web::openapi::RouteTable>>()
                    .cloned()
                    .expect("route table"),
            )
            .await;
            Ok(ServiceResponse::new(request, response))
        }
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

/// Browsers on any origin may call the API: it authenticates with bearer keys, never cookies,
/// so an open CORS policy exposes nothing a page could not already send itself.
fn cors() -> actix_cors::Cors {
    actix_cors::Cors::default()
        .allow_any_origin()
        .allow_any_method()
        .allow_any_header()
        .expose_headers([
            "ETag",
            "Link",
            "Location",
            "Retry-After",
            "X-Request-Id",
            "Idempotent-Replayed",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
            "RateLimit-Policy",
        ])
        .max_age(3600)
}

/// Unknown path → 404; known path with a method it does not support → 405 with `Allow`.
async fn fallback(
    req: HttpRequest,
    routes: web::Data<crate::web::openapi::RouteTable>,
) -> HttpResponse {
    let allowed = routes.allowed_methods(req.path());
    if allowed.is_empty() || (req.method() == Method::GET && req.path() == "/") {
        if req.path() == "/" && req.method() == Method::GET {
            return HttpResponse::Found()
                .insert_header((header::LOCATION, "/docs/"))
                .finish();
        }
        return actix_web::ResponseError::error_response(&ApiError::NotFound(format!(
            "no resource at {}",
            req.path()
        )));
    }
    let mut response =
        actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed(format!(
            "{} is not supported here; allowed: {}",
            req.method(),
            allowed.join(", ")
        )));
    if let Ok(value) = header::HeaderValue::from_str(&allowed.join(", ")) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

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

use crate::db::{DbConn, DbPool};
use crate::error::{ApiError, ApiResult};
use crate::{
    activities, indicators, metrics, openapi, organisations, partners, programmes, projects,
    request_context, vocabularies,
};

pub struct AppState {
    pub pool: DbPool,
}

impl AppState {
    pub async fn conn(&self) -> ApiResult<DbConn> {
        Ok(self.pool.get().await?)
    }
}

/// Every versioned route. Shared by the server and by spec generation so the two cannot differ.
fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.configure(organisations::configure)
        .configure(programmes::configure)
        .configure(projects::configure)
        .configure(partners::configure)
        .configure(activities::configure)
        .configure(metrics::configure)
        .configure(indicators::configure)
        .configure(vocabularies::configure);
}

fn collect<T>(app: utoipa_actix_web::UtoipaApp<T>) -> (App<T>, OpenApi)
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    let (app, spec) = app.split_for_parts();
    (app, openapi::finish(spec))
}

/// The OpenAPI document the code describes (what `/openapi.json` serves).
pub fn spec() -> OpenApi {
    let app = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .service(scope("/v1").configure(routes));
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
    let utoipa_app = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .app_data(state)
        .service(scope("/v1").configure(routes));
    let (app, spec) = collect(utoipa_app);
    let allowed = web::Data::new(crate::openapi::RouteTable::new(&spec));
    app.app_data(allowed)
        .service(web::redirect("/docs", "/docs/"))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec))
        .default_service(web::to(fallback))
        .wrap(Compress::default())
        .wrap(from_fn(request_context::middleware))
}

/// Unknown path → 404; known path with a method it does not support → 405 with `Allow`.
async fn fallback(req: HttpRequest, routes: web::Data<crate::openapi::RouteTable>) -> HttpResponse {
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

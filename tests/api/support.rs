//! Test harness: one PostgreSQL server per test process, one migrated template database on it,
//! and one fresh database per test cloned from that template and dropped when the test ends.
//!
//! The server is `DATABASE_URL`'s when that is set, otherwise a private embedded cluster in a
//! temporary directory that is stopped and removed when the test process exits.
//!
//! Every `#[actix_web::test]` runs on its own runtime, so anything that must outlive one test
//! (the one-time set-up, the admin work of creating and dropping databases) runs on a separate
//! thread with its own short-lived runtime.

#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::Service;
use actix_web::http::header::{self, HeaderMap};
use actix_web::test::TestRequest;
use actix_web::{web, HttpResponse};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kopa::db::DbPool;
use kopa::embedded::EmbeddedPostgres;
use serde_json::Value;

/// The database server shared by every test of this process.
struct Server {
    /// URL of a database to run `CREATE DATABASE` / `DROP DATABASE` from.
    admin_url: String,
    /// `url(db)` is `prefix + db + suffix`.
    prefix: String,
    suffix: String,
    /// The migrated template every test database is cloned from.
    template: String,
    /// Whether the server is someone else's (then the template is dropped at exit).
    external: bool,
}

impl Server {
    fn url(&self, database: &str) -> String {
        format!("{}{}{}", self.prefix, database, self.suffix)
    }
}

static SERVER: OnceLock<Server> = OnceLock::new();
static EMBEDDED: OnceLock<(EmbeddedPostgres, PathBuf)> = OnceLock::new();
/// Clones of one template are made one at a time: PostgreSQL refuses to copy a database that
/// another session is using.
static CREATE_LOCK: Mutex<()> = Mutex::new(());

/// Runs `work` to completion on a fresh thread with its own current-thread runtime.
fn on_own_runtime<F, Fut, T>(work: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cannot build a tokio runtime");
        runtime.block_on(work())
    });
    match handle.join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

async fn admin_exec(admin_url: &str, sql: &str) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(admin_url).await?;
    diesel::sql_query(sql).execute(&mut conn).await?;
    Ok(())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Splits a `postgres://...` URL around its database name.
fn split_url(url: &str) -> (String, String) {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let (without_query, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    match without_query[scheme_end..].find('/') {
        Some(slash) => (
            without_query[..scheme_end + slash + 1].to_owned(),
            query.to_owned(),
        ),
        None => (format!("{without_query}/"), query.to_owned()),
    }
}

extern "C" fn cleanup_at_exit() {
    if let Some(server) = SERVER.get() {
        if server.external {
            let sql = format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&server.template)
            );
            let admin = server.admin_url.clone();
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = runtime.block_on(admin_exec(&admin, &sql));
            }
        }
    }
    if let Some((pg, dir)) = EMBEDDED.get() {
        let _ = pg.stop();
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        on_own_runtime(|| async {
            set_up()
                .await
                .unwrap_or_else(|e| panic!("test database set-up failed: {e:#}"))
        })
    })
}

async fn set_up() -> anyhow::Result<Server> {
    let (admin_url, prefix, suffix, external) =
        match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(url) => {
                let (prefix, suffix) = split_url(&url);
                (url, prefix, suffix, true)
            }
            None => {
                let dir = std::env::temp_dir().join(format!("kopa-test-{}", std::process::id()));
                let pg = EmbeddedPostgres::start(&dir, true)?;
                let admin_url = pg.url("postgres");
                let (prefix, suffix) = split_url(&admin_url);
                let _ = EMBEDDED.set((pg, dir));
                (admin_url, prefix, suffix, false)
            }
        };
    // Registered before anything else can fail, so the cluster never outlives the process.
    // SAFETY: `cleanup_at_exit` is a plain `extern "C" fn()` that does not unwind.
    unsafe {
        nix::libc::atexit(cleanup_at_exit);
    }
    let template = format!(
        "kopa_tpl_{}_{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let server = Server {
        admin_url,
        prefix,
        suffix,
        template,
        external,
    };
    admin_exec(
        &server.admin_url,
        &format!("CREATE DATABASE {}", quote_ident(&server.template)),
    )
    .await?;
    kopa::db::migrate(&server.url(&server.template)).await?;
    Ok(server)
}

fn create_database(name: &str) {
    let server = server();
    let sql = format!(
        "CREATE DATABASE {} TEMPLATE {}",
        quote_ident(name),
        quote_ident(&server.template)
    );
    let admin = server.admin_url.clone();
    // Held while the clone runs on its own runtime thread: clones from one template are serialized.
    let _guard = CREATE_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    on_own_runtime(move || async move {
        let mut attempt = 0;
        loop {
            match admin_exec(&admin, &sql).await {
                Ok(()) => return,
                Err(e)
                    if attempt < 20 && e.to_string().contains("being accessed by other users") =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => panic!("cannot create the test database: {e:#}"),
            }
        }
    })
}

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body parsed as JSON; `Null` when it is empty or not JSON (see `text`).
    pub body: Value,
    pub text: String,
    /// The body as sent.
    pub bytes: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }

    /// The `field` of the problem's `errors[index]`.
    pub fn error_field(&self, index: usize) -> &str {
        self.body["errors"][index]["field"]
            .as_str()
            .unwrap_or_default()
    }

    pub fn error_code(&self, index: usize) -> &str {
        self.body["errors"][index]["code"]
            .as_str()
            .unwrap_or_default()
    }

    /// Every `field` named in the problem's `errors`.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }

    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map_or_else(Vec::new, |errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
    }

    /// Asserts an RFC 9457 problem response with this status.
    #[track_caller]
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "problem responses are problem+json: {}",
            self.text
        );
        assert_eq!(
            self.body["status"], status,
            "problem body's status: {}",
            self.text
        );
        assert!(
            self.body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("/problems/")),
            "problem type: {}",
            self.text
        );
        assert!(
            self.body["title"].is_string(),
            "problem title: {}",
            self.text
        );
    }
}

async fn read<B: MessageBody>(response: HttpResponse<B>) -> Resp {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = match actix_web::body::to_bytes(response.into_body()).await {
        Ok(bytes) => bytes,
        Err(e) => panic!(
            "cannot read the response body: {}",
            Into::<Box<dyn std::error::Error>>::into(e)
        ),
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    Resp {
        status,
        headers,
        body,
        text,
        bytes: bytes.to_vec(),
    }
}

type Caller = Rc<dyn Fn(TestRequest) -> Pin<Box<dyn Future<Output = Resp>>>>;

/// The real app on its own freshly migrated database.
pub struct TestApp {
    call: Caller,
    pool: DbPool,
    /// Sent as the bearer token when set; [`TestApp::new`] starts with an operator (admin) key.
    token: std::cell::RefCell<Option<String>>,
    /// The operator key this app was created with.
    pub operator_token: String,
    database: String,
    /// URL of this test's database, for raw SQL set-up.
    pub db_url: String,
    /// Whether dropping this app drops the database (not for a [`TestApp::sibling`]).
    owns_database: bool,
}

impl TestApp {
    /// The app with rate limits off, acting with an operator key (scope `admin`).
    pub async fn new() -> TestApp {
        Self::with_limits(kopa::auth::rate_limit::RateLimits {
            anonymous: 0,
            key: 0,
        })
        .await
    }

    pub async fn with_limits(limits: kopa::auth::rate_limit::RateLimits) -> TestApp {
        Self::with_options(limits, Duration::from_secs(30)).await
    }

    /// The app with rate limits off and this statement timeout.
    pub async fn with_timeout(timeout: Duration) -> TestApp {
        let limits = kopa::auth::rate_limit::RateLimits {
            anonymous: 0,
            key: 0,
        };
        Self::with_options(limits, timeout).await
    }

    async fn with_options(
        limits: kopa::auth::rate_limit::RateLimits,
        timeout: Duration,
    ) -> TestApp {
        let database = format!("t_{}", uuid::Uuid::new_v4().simple());
        create_database(&database);
        let db_url = server().url(&database);
        let pool = kopa::db::pool(
            &kopa::db::with_statement_timeout(&db_url, timeout),
            4,
            Duration::from_secs(5),
        )
        .expect("cannot build the pool");
        let call = Self::instance(pool.clone(), limits).await;
        let operator = {
            let mut conn = pool.get().await.expect("a pooled connection");
            kopa::auth::keys::create(
                &mut conn,
                kopa::auth::keys::KeySpec {
                    organisation_id: None,
                    name: "test operator".into(),
                    scopes: vec![kopa::auth::Scope::Admin],
                    expires_at: None,
                    created_by: None,
                },
            )
            .await
            .expect("operator key")
            .1
        };
        TestApp {
            call,
            pool,
            token: std::cell::RefCell::new(Some(operator.clone())),
            operator_token: operator,
            database,
            db_url,
            owns_database: true,
        }
    }

    /// Another Kopa instance (own pool, own process state) on this app's database, acting
    /// with the same key; for scale-out tests.
    pub async fn sibling(&self) -> TestApp {
        let pool =
            kopa::db::pool(&self.db_url, 4, Duration::from_secs(5)).expect("cannot build the pool");
        let limits = kopa::auth::rate_limit::RateLimits {
            anonymous: 0,
            key: 0,
        };
        TestApp {
            call: Self::instance(pool.clone(), limits).await,
            pool,
            token: std::cell::RefCell::new(self.token()),
            operator_token: self.operator_token.clone(),
            database: self.database.clone(),
            db_url: self.db_url.clone(),
            owns_database: false,
        }
    }

    /// Another instance on this app's database that keeps anonymous reads in a response store
    /// following the database's change notifications, as `kopa serve` does.
    pub async fn storing_sibling(&self) -> TestApp {
        let pool =
            kopa::db::pool(&self.db_url, 4, Duration::from_secs(5)).expect("cannot build the pool");
        let store = std::sync::Arc::new(kopa::web::response_store::ResponseStore::new(16));
        actix_web::rt::spawn(kopa::web::response_store::listen(
            store.clone(),
            self.db_url.clone(),
            false,
        ));
        let limits = kopa::auth::rate_limit::RateLimits {
            anonymous: 0,
            key: 0,
        };
        let state = kopa::state::AppState::new(pool.clone(), limits).with_store(store);
        // The listener connects in the background; reads are kept once it listens.
        tokio::time::sleep(Duration::from_millis(300)).await;
        TestApp {
            call: Self::serve(state).await,
            pool,
            token: std::cell::RefCell::new(self.token()),
            operator_token: self.operator_token.clone(),
            database: self.database.clone(),
            db_url: self.db_url.clone(),
            owns_database: false,
        }
    }

    async fn instance(pool: DbPool, limits: kopa::auth::rate_limit::RateLimits) -> Caller {
        Self::serve(kopa::state::AppState::new(pool, limits)).await
    }

    async fn serve(state: kopa::state::AppState) -> Caller {
        // Webhook receivers in tests listen on loopback.
        let webhooks = kopa::state::DeliveryConfig {
            allow_private: true,
            ..Default::default()
        };
        let state = web::Data::new(state.with_webhooks(webhooks));
        let service = Rc::new(actix_web::test::init_service(kopa::app::build(state)).await);
        Rc::new(move |request: TestRequest| {
            let service = service.clone();
            Box::pin(async move {
                match service.call(request.to_request()).await {
                    Ok(response) => read(response.into_parts().1).await,
                    Err(error) => read(error.error_response()).await,
                }
            })
        })
    }

    pub async fn request(&self, request: TestRequest) -> Resp {
        let token = self.token.borrow().clone();
        let request = match token {
            Some(token) => {
                request.insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            }
            None => request,
        };
        (self.call)(request).await
    }

    /// This instance's connection pool (for running its background work in a test).
    pub fn pool(&self) -> DbPool {
        self.pool.clone()
    }

    /// Acts as `token` (`None`: anonymous) for the following requests.
    pub fn act_as(&self, token: Option<&str>) {
        *self.token.borrow_mut() = token.map(str::to_owned);
    }

    /// The token requests are sent with now.
    pub fn token(&self) -> Option<String> {
        self.token.borrow().clone()
    }

    /// Creates a key through the API (as the operator) and returns its secret.
    pub async fn key(&self, organisation: Option<&str>, scopes: &[&str]) -> String {
        let previous = self.token();
        let operator = self.operator_token.clone();
        self.act_as(Some(&operator));
        let response = self
            .post_json(
                "/v1/api-keys",
                &serde_json::json!({"organisation_id": organisation, "name": "test key", "scopes": scopes}),
            )
            .await;
        self.act_as(previous.as_deref());
        assert_eq!(response.status, 201, "creating a key: {}", response.text);
        response.body["key"]
            .as_str()
            .expect("the secret")
            .to_owned()
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(TestRequest::get().uri(path)).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Resp {
        self.request(TestRequest::post().uri(path).set_json(body))
            .await
    }

    /// A JSON Merge Patch, optionally conditional on `If-Match`.
    pub async fn patch(&self, path: &str, body: &Value, if_match: Option<&str>) -> Resp {
        let mut request = TestRequest::patch()
            .uri(path)
            .insert_header((header::CONTENT_TYPE, "application/merge-patch+json"))
            .set_payload(serde_json::to_vec(body).expect("serializable body"));
        if let Some(tag) = if_match {
            request = request.insert_header((header::IF_MATCH, tag));
        }
        self.request(request).await
    }

    pub async fn delete(&self, path: &str, if_match: Option<&str>) -> Resp {
        let mut request = TestRequest::delete().uri(path);
        if let Some(tag) = if_match {
            request = request.insert_header((header::IF_MATCH, tag));
        }
        self.request(request).await
    }

    /// Runs raw SQL on this test's database (set-up the API cannot do yet); returns affected rows.
    /// The first column of every row of `sql`, as text (cast in the SQL).
    pub async fn query_strings(&self, sql: &str) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let mut conn = self.pool.get().await.expect("a pooled connection");
        let wrapped = format!("SELECT q.c::text AS value FROM ({sql}) AS q(c)");
        diesel::sql_query(wrapped)
            .load::<Row>(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"))
            .into_iter()
            .map(|r| r.value)
            .collect()
    }

    pub async fn execute_sql(&self, sql: &str) -> usize {
        let mut conn = self.pool.get().await.expect("a pooled connection");
        diesel::sql_query(sql)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.pool.close();
        if !self.owns_database {
            return;
        }
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&self.database)
        );
        let Some(server) = SERVER.get() else { return };
        let admin = server.admin_url.clone();
        let database = self.database.clone();
        // Never panic here: this also runs while a failed test unwinds.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(admin_exec(&admin, &sql)).ok()
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: could not drop test database {database}");
        }
    }
}

/// A valid organisation body with a unique name.
pub fn organisation(name: &str) -> Value {
    serde_json::json!({
        "name": name,
        "short_name": "ORG",
        "kind": "ngo",
        "country": "LV",
        "registration_number": null,
        "website": "https://example.org",
        "email": "info@example.org",
        "phone": "+371 67000000",
        "description": "A test organisation."
    })
}

/// Creates an organisation through the API and returns its body.
pub async fn create_organisation(app: &TestApp, body: &Value) -> Value {
    let response = app.post_json("/v1/organisations", body).await;
    assert_eq!(
        response.status, 201,
        "creating an organisation: {}",
        response.text
    );
    response.body
}

//! Command line and environment settings (clap): every flag can also be set by environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kopa",
    version,
    about = "Kopa: an open registry API for social-integration projects"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (the default). Applies migrations and, on an empty registry, loads the seeds.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Load the seed files (idempotent: records are matched by natural keys).
    Seed(SeedArgs),
    /// Print the OpenAPI document to stdout.
    Openapi,
    /// Write the public registry as a Frictionless Data Package (datapackage.json and
    /// data/*.csv) into a folder: the same files `GET /v1/dump` serves zipped.
    Dump(DumpArgs),
    /// Load a data package (a folder, or the zip of `GET /v1/dump`) into an empty registry,
    /// keeping every id, version and timestamp.
    LoadDump(LoadDumpArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Push a spreadsheet (CSV or XLSX) or JSON batch of outcome numbers, as
    /// `POST /v1/metrics/batch` does: to a running server with --server, or straight into the
    /// database otherwise. Prints the import summary; a refused batch exits 1 with every
    /// problem listed by row and column.
    Import(ImportArgs),
    /// Exit 0 when the server at --bind answers `GET /healthz` with 200 (for container
    /// health checks; needs no curl in the image).
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The server's listen address (0.0.0.0 is probed on 127.0.0.1).
    #[arg(long, env = "KOPA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key and print it (the only time it is shown) on stdout.
    Create(KeyCreateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct KeyCreateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The organisation the key acts for: its id, registration number or name. Optional only for an
    /// operator key whose single scope is `admin`.
    #[arg(long)]
    pub organisation: Option<String>,
    /// A scope: metrics:write, projects:write, read:private or admin (repeat for several).
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
    /// A name to recognise the key by, e.g. the partner system that uses it.
    #[arg(long, default_value = "cli")]
    pub name: String,
    /// Expiry as an RFC 3339 timestamp (default: never).
    #[arg(long)]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The file: `.csv`, `.xlsx` or `.json` (by its extension).
    pub file: PathBuf,
    /// The API key to push with (`kopa_...`).
    #[arg(long, env = "KOPA_KEY", hide_env_values = true)]
    pub key: String,
    /// A running Kopa to push to, e.g. `https://kopa.example.org`; without it the batch goes
    /// straight into the database (DATABASE_URL or the embedded cluster).
    #[arg(long, env = "KOPA_SERVER")]
    pub server: Option<String>,
    /// Check the file and show what would happen, writing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// An Idempotency-Key for the push (only with --server), so a retry is safe.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL. Without it, Kopa runs a private PostgreSQL cluster under --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory of the embedded PostgreSQL cluster (used only without DATABASE_URL).
    #[arg(long, env = "KOPA_DATA_DIR", default_value = ".kopa")]
    pub data_dir: PathBuf,
    /// Maximum number of pooled database connections.
    #[arg(long, env = "KOPA_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,
    /// How long a request waits for a database connection before failing with 503 (milliseconds).
    #[arg(long, env = "KOPA_POOL_TIMEOUT_MS", default_value_t = 2000)]
    pub pool_timeout_ms: u64,
}

impl DatabaseArgs {
    pub fn pool_timeout(&self) -> Duration {
        Duration::from_millis(self.pool_timeout_ms)
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "KOPA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "KOPA_WORKERS")]
    pub workers: Option<usize>,
    /// Log filter, e.g. `info` or `kopa=debug,actix_web=info`.
    #[arg(long, env = "KOPA_LOG", default_value = "info")]
    pub log: String,
    /// Do not load the seed data into an empty registry at start-up.
    #[arg(long, env = "KOPA_NO_SEED", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_seed: bool,
    /// Directory of the seed files (default: the seeds built into kopa).
    #[arg(long, env = "KOPA_SEEDS_DIR")]
    pub seeds_dir: Option<PathBuf>,
    /// Requests per minute per client IP address for anonymous callers (0: no limit).
    #[arg(long, env = "KOPA_RATE_LIMIT_ANONYMOUS", default_value_t = 1200)]
    pub rate_limit_anonymous: u32,
    /// Longest one database statement of a request may run (lock waits included) before the
    /// request is answered 503 and its transaction rolled back (milliseconds).
    #[arg(long, env = "KOPA_STATEMENT_TIMEOUT_MS", default_value_t = 30_000)]
    pub statement_timeout_ms: u64,
    /// Memory for anonymous reads kept until the registry changes, in MiB (0: keep none).
    #[arg(long, env = "KOPA_RESPONSE_STORE_MB", default_value_t = 64)]
    pub response_store_mb: u64,
    /// Requests per minute per API key (0: no limit).
    #[arg(long, env = "KOPA_RATE_LIMIT_KEY", default_value_t = 6000)]
    pub rate_limit_key: u32,
    /// A read replica (streaming standby) of the database: anonymous reads go there; writes
    /// and every request made with an API key (so a writer reads its own writes) use the
    /// primary. Only with DATABASE_URL.
    #[arg(
        long,
        env = "DATABASE_READ_URL",
        hide_env_values = true,
        requires = "database_url"
    )]
    pub database_read_url: Option<String>,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Waits between the retries of a failed webhook delivery (`ms`, `s`, `m`, `h`, `d`); after
    /// the last one the subscription is disabled. The default retries for about 3.7 days.
    #[arg(long = "webhook-retry-schedule", env = "KOPA_WEBHOOK_RETRY_SCHEDULE",
        default_value = crate::state::DEFAULT_SCHEDULE, value_parser = crate::state::parse_schedule)]
    pub retry_schedule: std::vec::Vec<Duration>,
    /// How often the delivery worker looks for changes to deliver (milliseconds).
    #[arg(
        long = "webhook-interval-ms",
        env = "KOPA_WEBHOOK_INTERVAL_MS",
        default_value_t = 1000
    )]
    pub interval_ms: u64,
    /// How long a receiver may take to answer (milliseconds).
    #[arg(
        long = "webhook-timeout-ms",
        env = "KOPA_WEBHOOK_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub timeout_ms: u64,
    /// Allow webhook URLs on loopback and private networks (for testing; never in production).
    #[arg(long = "webhook-allow-private", env = "KOPA_WEBHOOK_ALLOW_PRIVATE",
        value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_private: bool,
}

impl WebhookArgs {
    pub fn delivery(&self) -> crate::state::DeliveryConfig {
        crate::state::DeliveryConfig {
            schedule: self.retry_schedule.clone(),
            interval: Duration::from_millis(self.interval_ms),
            timeout: Duration::from_millis(self.timeout_ms),
            allow_private: self.allow_private,
        }
    }
}

impl ServeArgs {
    pub fn rate_limits(&self) -> crate::auth::rate_limit::RateLimits {
        crate::auth::rate_limit::RateLimits {
            anonymous: self.rate_limit_anonymous,
            key: self.rate_limit_key,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Directory of the seed files (default: the seeds built into kopa).
    #[arg(long, env = "KOPA_SEEDS_DIR")]
    pub seeds_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct DumpArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The folder to write (created when missing).
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct LoadDumpArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The package: a folder with datapackage.json, or a zip.
    pub source: PathBuf,
}

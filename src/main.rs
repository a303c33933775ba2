use anyhow::{Context, Result};
use clap::Parser;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use kopa::config::{
    Cli, Command, DatabaseArgs, HealthcheckArgs, ImportArgs, KeysCommand, ServeArgs,
};
use kopa::embedded::EmbeddedPostgres;

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Openapi) => {
            println!("{}", kopa::app::spec().to_pretty_json()?);
            Ok(())
        }
        Some(Command::Migrate(db)) => {
            init_tracing("info");
            with_database(&db, false, |url| async move {
                let applied = kopa::db::migrate(&url).await?;
                tracing::info!(count = applied.len(), "migrations applied");
                Ok(())
            })
        }
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Seed(args)) => {
            init_tracing("info");
            with_database(&args.database, false, |url| async move {
                kopa::db::migrate(&url).await?;
                let mut conn =
                    <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(
                        &url,
                    )
                    .await?;
                let seeds = kopa::seed::Seeds::from_option(args.seeds_dir.as_deref());
                let report = kopa::seed::load(&mut conn, &seeds).await?;
                println!(
                    "seeds loaded: {} created, {} updated, {} unchanged, {} deleted",
                    report.created, report.updated, report.unchanged, report.deleted
                );
                Ok(())
            })
        }
        Some(Command::Keys(KeysCommand::Create(args))) => {
            init_tracing("warn");
            let database = args.database.clone();
            with_database(&database, false, |url| async move {
                kopa::db::migrate(&url).await?;
                let mut conn =
                    <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(
                        &url,
                    )
                    .await?;
                let (id, token) =
                    kopa::resources::api_keys::create_from_cli(&mut conn, &args).await?;
                eprintln!("API key {id} created; this is the only time the key is shown:");
                println!("{token}");
                Ok(())
            })
        }
        Some(Command::Dump(args)) => {
            init_tracing("warn");
            with_database(&args.database, false, |url| async move {
                kopa::db::migrate(&url).await?;
                let mut conn = AsyncPgConnection::establish(&url).await?;
                let package = kopa::dump::read(&mut conn)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}: {e:?}"))?;
                package.write_to(&args.dir)?;
                eprintln!("data package written to {}", args.dir.display());
                Ok(())
            })
        }
        Some(Command::LoadDump(args)) => {
            init_tracing("warn");
            with_database(&args.database, false, |url| async move {
                kopa::db::migrate(&url).await?;
                let mut conn = AsyncPgConnection::establish(&url).await?;
                let loaded = kopa::dump::load(&mut conn, &args.source).await?;
                for (table, rows) in loaded {
                    println!("{table}: {rows}");
                }
                Ok(())
            })
        }
        Some(Command::Import(args)) => import(&args),
        Some(Command::Healthcheck(args)) => healthcheck(&args),
        None => serve(cli.serve),
    }
}

fn init_tracing(filter: &str) {
    kopa::telemetry::init_logging(filter);
}

/// Runs `work` against `DATABASE_URL`, or against the embedded cluster, which is started first
/// and stopped cleanly afterwards whatever `work` returned. A cluster that was already running
/// is left running unless `stop_adopted` (a running `kopa serve` may be using it).
fn with_database<F, Fut>(db: &DatabaseArgs, stop_adopted: bool, work: F) -> Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let embedded = match &db.database_url {
        Some(_) => None,
        None => Some(EmbeddedPostgres::start(&db.data_dir, false)?),
    };
    let result = actix_web::rt::System::new().block_on(async {
        let url = match (&db.database_url, &embedded) {
            (Some(url), _) => url.clone(),
            (None, Some(pg)) => {
                kopa::db::ensure_database(&pg.url("postgres"), "kopa").await?;
                tracing::info!(port = pg.port, data_dir = %db.data_dir.display(), "embedded PostgreSQL running");
                pg.url("kopa")
            }
            (None, None) => unreachable!("either a URL or an embedded cluster"),
        };
        work(url).await
    });
    if let Some(pg) = embedded.filter(|pg| stop_adopted || !pg.adopted) {
        tracing::info!("stopping the embedded PostgreSQL");
        pg.stop().context("stopping the embedded PostgreSQL")?;
    }
    result
}

fn serve(args: ServeArgs) -> Result<()> {
    init_tracing(&args.log);
    let (pool_size, pool_timeout) = (args.database.pool_size, args.database.pool_timeout());
    let limits = args.rate_limits();
    let statement_timeout = std::time::Duration::from_millis(args.statement_timeout_ms);
    with_database(&args.database, true, |url| async move {
        kopa::db::migrate(&url).await?;
        let pool = kopa::db::pool(
            &kopa::db::with_statement_timeout(&url, statement_timeout),
            pool_size,
            pool_timeout,
        )?;
        if !args.no_seed {
            let mut conn = pool
                .get()
                .await
                .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
            if kopa::seed::registry_is_empty(&mut conn).await? {
                let seeds = kopa::seed::Seeds::from_option(args.seeds_dir.as_deref());
                let report = kopa::seed::load(&mut conn, &seeds).await.with_context(|| {
                    format!(
                        "loading {} (start with --no-seed to skip)",
                        seeds.describe()
                    )
                })?;
                tracing::info!(created = report.created, "empty registry: seed data loaded");
            }
        }
        actix_web::rt::spawn(kopa::web::idempotency::purge_periodically(pool.clone()));
        let delivery = args.webhooks.delivery();
        actix_web::rt::spawn(kopa::resources::webhooks::delivery::run(
            pool.clone(),
            delivery.clone(),
        ));
        let mut state = kopa::state::AppState::new(pool, limits).with_webhooks(delivery);
        let mut store = kopa::web::response_store::ResponseStore::new(args.response_store_mb);
        if let Some(read_url) = &args.database_read_url {
            let read_pool = kopa::db::pool(
                &kopa::db::with_statement_timeout(read_url, statement_timeout),
                pool_size,
                pool_timeout,
            )?;
            store = store.with_replica(read_pool.clone());
            state = state.with_read_pool(read_pool);
            tracing::info!("anonymous reads go to the read replica (DATABASE_READ_URL)");
        }
        let store = std::sync::Arc::new(store);
        actix_web::rt::spawn(kopa::web::response_store::listen(
            store.clone(),
            url.clone(),
            args.database_read_url.is_some(),
        ));
        let state = state.with_store(store);
        let state = actix_web::web::Data::new(state);
        let mut server = actix_web::HttpServer::new(move || kopa::app::build(state.clone()))
            .bind(args.bind)
            .with_context(|| format!("cannot listen on {}", args.bind))?
            .shutdown_timeout(10);
        if let Some(workers) = args.workers {
            server = server.workers(workers);
        }
        tracing::info!("Kopa listening on http://{} (docs at /docs)", args.bind);
        server.run().await?;
        Ok(())
    })
}

/// `kopa import`: to the server named, or into the database; exit 1 when the batch is refused.
fn import(args: &ImportArgs) -> Result<()> {
    init_tracing("warn");
    let accepted = match &args.server {
        Some(server) => {
            actix_web::rt::System::new().block_on(kopa::import::to_server(args, server))?
        }
        None => {
            let accepted = std::cell::Cell::new(false);
            let accepted_ref = &accepted;
            with_database(&args.database, false, |url| async move {
                kopa::db::migrate(&url).await?;
                accepted_ref.set(kopa::import::to_database(args, &url).await?);
                Ok(())
            })?;
            accepted.get()
        }
    };
    if !accepted {
        std::process::exit(1);
    }
    Ok(())
}

/// One plain HTTP/1.0 request to `/healthz`; the status line decides.
fn healthcheck(args: &HealthcheckArgs) -> Result<()> {
    use std::io::{Read, Write};
    let mut addr = args.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = std::time::Duration::from_secs(args.timeout);
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("nothing listens on {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(format!("GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    let mut answer = String::new();
    stream.take(256).read_to_string(&mut answer).ok();
    let status = answer.lines().next().unwrap_or_default();
    anyhow::ensure!(
        status.split_whitespace().nth(1) == Some("200"),
        "unhealthy: {status:?}"
    );
    println!("healthy");
    Ok(())
}

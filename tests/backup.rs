//! Backup and restore as the README's runbook does them: `pg_dump -Fc` of a seeded registry
//! that has seen writes, `pg_restore` into an empty database on a second, new cluster; every
//! table of the public schema must come back row for row, identity columns and API keys must
//! go on working, and a mirror following the change feed from before the backup must see what
//! is written after the restore. Runs its own two clusters on loopback and removes them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use actix_web::dev::Service;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use kopa::auth::keys::{self, KeySpec};
use kopa::auth::rate_limit::RateLimits;
use kopa::auth::Scope;
use kopa::embedded::EmbeddedPostgres;
use serde_json::{json, Value};

struct Cluster(EmbeddedPostgres);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.0.stop();
    }
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The runbook's step after restoring onto another server: the change feed orders changes by
/// the writing transaction's id, so the new server must hand out ids above every restored one
/// before anything is written (a fresh cluster starts near 1,000). Each loop turn commits one
/// transaction (the README runs it after `SET synchronous_commit = off`, as a statement of its
/// own: a transaction-controlling DO block must not share its query with another statement).
const ADVANCE_TRANSACTION_IDS: &str = "DO $$
BEGIN
    WHILE pg_current_xact_id() <= (SELECT coalesce(max(txid), '0') FROM audit_log) LOOP
        COMMIT;
    END LOOP;
END $$";

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Digest {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Text)]
    digest: String,
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = Text)]
    value: String,
}

async fn connect(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// A number (as text) from one row of `sql`, whose one column is named `value`.
async fn number(url: &str, sql: &str) -> String {
    let mut conn = connect(url).await;
    diesel::sql_query(sql)
        .get_result::<Number>(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .value
}

/// Every base table of the public schema with its row count and a digest of its rows in a
/// fixed order, plus every sequence's position.
async fn contents(url: &str) -> BTreeMap<String, (i64, String)> {
    let mut conn = connect(url).await;
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let mut contents = BTreeMap::new();
    for Name { name } in tables {
        let sql = format!(
            "SELECT count(*) AS n, coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') \
             AS digest FROM public.\"{}\" t",
            name.replace('"', "\"\"")
        );
        let Digest { n, digest } = diesel::sql_query(sql).get_result(&mut conn).await.unwrap();
        contents.insert(name, (n, digest));
    }
    let sequences: Vec<Name> = diesel::sql_query(
        "SELECT sequencename || '=' || coalesce(last_value::text, 'unused') AS name \
         FROM pg_sequences WHERE schemaname = 'public'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    for Name { name } in sequences {
        let (sequence, position) = name.split_once('=').unwrap();
        contents.insert(format!("sequence {sequence}"), (0, position.to_owned()));
    }
    contents
}

/// Runs a PostgreSQL client program from the directory the embedded cluster's server binaries
/// come from (the same version as the server), with a connection URL as its database.
fn client(program: &str, args: &[&str]) {
    let bin = kopa::embedded::find_binaries().expect("PostgreSQL binaries");
    let output = Command::new(bin.join(program))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The app on `url`, acting with `token`; a call answers the status and the body as JSON.
type App =
    Box<dyn Fn(TestRequest) -> std::pin::Pin<Box<dyn std::future::Future<Output = (u16, Value)>>>>;

async fn app(url: &str, token: &str) -> App {
    let pool = kopa::db::pool(url, 4, Duration::from_secs(5)).unwrap();
    let limits = RateLimits {
        anonymous: 0,
        key: 0,
    };
    let state = web::Data::new(kopa::state::AppState::new(pool, limits));
    let service = std::rc::Rc::new(test::init_service(kopa::app::build(state)).await);
    let auth = format!("Bearer {token}");
    Box::new(move |request: TestRequest| {
        let service = service.clone();
        let auth = auth.clone();
        Box::pin(async move {
            let response = service
                .call(request.insert_header(("Authorization", auth)).to_request())
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = test::read_body(response).await;
            (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
        })
    })
}

/// Follows the change feed (as an anonymous mirror would) from `since` to its end; returns the
/// ids of the records it reports and the cursor to continue from.
async fn follow_feed(url: &str, since: Option<&str>) -> (Vec<String>, String) {
    let pool = kopa::db::pool(url, 2, Duration::from_secs(5)).unwrap();
    let state = web::Data::new(kopa::state::AppState::new(
        pool,
        RateLimits {
            anonymous: 0,
            key: 0,
        },
    ));
    let service = test::init_service(kopa::app::build(state)).await;
    let mut cursor = since.map(str::to_owned);
    let mut ids = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/changes?limit=200&since={c}"),
            None => "/v1/changes?limit=200".to_owned(),
        };
        let page: Value =
            test::call_and_read_body_json(&service, TestRequest::get().uri(&path).to_request())
                .await;
        for change in page["data"].as_array().expect("a page of changes") {
            ids.push(change["id"].as_str().unwrap().to_owned());
        }
        cursor = Some(page["next_cursor"].as_str().unwrap().to_owned());
        if page["has_more"] != true {
            return (ids, cursor.unwrap());
        }
    }
}

#[actix_web::test]
async fn a_dump_restored_into_an_empty_database_on_a_new_cluster_has_every_row_and_goes_on() {
    let dir = Dir(std::env::temp_dir().join(format!("kopa-backup-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let source = Cluster(EmbeddedPostgres::start(&dir.0.join("source"), true).expect("source"));
    kopa::db::ensure_database(&source.0.url("postgres"), "kopa")
        .await
        .unwrap();
    let source_url = source.0.url("kopa");
    kopa::db::migrate(&source_url).await.unwrap();
    let report = kopa::seed::load(
        &mut connect(&source_url).await,
        &kopa::seed::Seeds::Embedded,
    )
    .await
    .unwrap();
    assert!(report.created > 0, "the seeds were loaded");

    // A registry that has been running a while is many transactions ahead of a fresh cluster;
    // a few thousand put this one ahead of the restore target even after the restore's own.
    let mut conn = connect(&source_url).await;
    conn.batch_execute("SET synchronous_commit = off")
        .await
        .unwrap();
    conn.batch_execute(
        "DO $$ BEGIN FOR i IN 1..5000 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$",
    )
    .await
    .unwrap();
    drop(conn);

    // A few writes through the API, by a key that must still work after the restore.
    let token = {
        let spec = KeySpec {
            organisation_id: None,
            name: "backup".into(),
            scopes: vec![Scope::Admin],
            expires_at: None,
            created_by: None,
        };
        keys::create(&mut connect(&source_url).await, spec)
            .await
            .unwrap()
            .1
    };
    let call = app(&source_url, &token).await;
    let mut created = Vec::new();
    for name in ["Rezerves kopijas biedrība", "Atjaunošanas fonds"] {
        let (status, body) = call(
            TestRequest::post()
                .uri("/v1/organisations")
                .set_json(json!({"name": name, "kind": "ngo"})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        created.push(body["id"].as_str().unwrap().to_owned());
    }
    let (status, body) = call(
        TestRequest::patch()
            .uri(&format!("/v1/organisations/{}", created[0]))
            .insert_header(("Content-Type", "application/merge-patch+json"))
            .set_payload(r#"{"short_name": "RKB"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        call(TestRequest::delete().uri(&format!("/v1/organisations/{}", created[1]))).await;
    assert_eq!(status, 204, "{body}");
    // Where a mirror of the registry stands when the backup is taken.
    let (seen, mirror_cursor) = follow_feed(&source_url, None).await;
    assert!(seen.contains(&created[0]), "the feed serves the writes");

    // The backup, with the server's own pg_dump.
    let dump = dir.0.join("kopa.dump");
    client(
        "pg_dump",
        &[
            "--format=custom",
            "--file",
            dump.to_str().unwrap(),
            "--dbname",
            &source_url,
        ],
    );
    let before = contents(&source_url).await;
    assert!(
        before.len() > 15 && before["audit_log"].0 > 0 && before["metric_revisions"].0 > 0,
        "{before:?}"
    );
    let mut restored_max_ids = Vec::new();
    for table in ["audit_log", "metric_revisions"] {
        let sql = format!("SELECT max(id)::text AS value FROM {table}");
        restored_max_ids.push((table, number(&source_url, &sql).await));
    }
    let restored_max_txid = number(
        &source_url,
        "SELECT max(txid)::text AS value FROM audit_log",
    )
    .await;
    drop(call);
    drop(source);

    // The restore: an empty database on a second, new cluster.
    let target = Cluster(EmbeddedPostgres::start(&dir.0.join("target"), true).expect("target"));
    kopa::db::ensure_database(&target.0.url("postgres"), "kopa")
        .await
        .unwrap();
    let target_url = target.0.url("kopa");
    client(
        "pg_restore",
        &[
            "--exit-on-error",
            "--dbname",
            &target_url,
            dump.to_str().unwrap(),
        ],
    );
    let after = contents(&target_url).await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "the same tables and sequences"
    );
    for (table, expected) in &before {
        assert_eq!(&after[table], expected, "{table} restored row for row");
    }
    let mut conn = connect(&target_url).await;
    assert!(
        kopa::db::is_migrated(&mut conn).await,
        "the restored registry counts as migrated"
    );

    // The new cluster is behind the restored change log; the runbook's step moves it past.
    let behind = number(
        &target_url,
        &format!("SELECT (pg_current_xact_id() <= '{restored_max_txid}'::xid8)::text AS value"),
    )
    .await;
    assert_eq!(
        behind, "true",
        "the test restores onto a cluster that is behind"
    );
    conn.batch_execute("SET synchronous_commit = off")
        .await
        .unwrap();
    conn.batch_execute(ADVANCE_TRANSACTION_IDS).await.unwrap();

    // Writes go on: the old key works, identity columns continue, the feed serves the write to
    // the mirror that was following it before the backup.
    let call = app(&target_url, &token).await;
    let (status, body) = call(
        TestRequest::post()
            .uri("/v1/organisations")
            .set_json(json!({"name": "Pēc atjaunošanas", "kind": "ngo"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let after_restore = body["id"].as_str().unwrap().to_owned();
    let (status, metrics) = call(TestRequest::get().uri("/v1/metrics?limit=1")).await;
    assert_eq!(status, 200, "{metrics}");
    let metric = &metrics["data"][0];
    let value = metric["value"].as_f64().expect("a numeric value");
    let (status, body) = call(
        TestRequest::patch()
            .uri(&format!("/v1/metrics/{}", metric["id"].as_str().unwrap()))
            .insert_header(("Content-Type", "application/merge-patch+json"))
            .set_payload(json!({"value": value + 1.0}).to_string()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let grown = contents(&target_url).await;
    assert_eq!(grown["audit_log"].0, before["audit_log"].0 + 2);
    assert_eq!(
        grown["metric_revisions"].0,
        before["metric_revisions"].0 + 1
    );
    // The post-restore rows (two audit rows, one revision) came after the restored ones.
    for ((table, restored_max), written) in restored_max_ids.iter().zip(["2", "1"]) {
        let sql = format!("SELECT count(*)::text AS value FROM {table} WHERE id > {restored_max}");
        assert_eq!(
            number(&target_url, &sql).await,
            written,
            "{table}: the identity continues past the restored rows"
        );
    }
    let (news, _) = follow_feed(&target_url, Some(&mirror_cursor)).await;
    assert!(
        news.contains(&after_restore),
        "the mirror sees the write made after the restore: {news:?}"
    );
    drop(call);
}

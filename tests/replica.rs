//! `DATABASE_READ_URL`: anonymous reads go to a streaming standby, writes and keyed reads to
//! the primary (so a writer reads its own writes). Runs its own primary and standby on loopback.

use std::time::{Duration, Instant};

use actix_web::dev::Service;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use diesel_async::RunQueryDsl;
use kopa::auth::keys::{self, KeySpec};
use kopa::auth::rate_limit::RateLimits;
use kopa::auth::Scope;
use kopa::embedded::EmbeddedPostgres;

struct Cluster(EmbeddedPostgres);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.0.stop();
    }
}

struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[actix_web::test]
async fn anonymous_reads_use_the_standby_and_writers_read_their_writes_on_the_primary() {
    let dir = Dir(std::env::temp_dir().join(format!("kopa-replica-{}", std::process::id())));
    let primary = Cluster(EmbeddedPostgres::start(&dir.0.join("primary"), true).expect("primary"));
    kopa::db::ensure_database(&primary.0.url("postgres"), "kopa")
        .await
        .unwrap();
    let url = primary.0.url("kopa");
    kopa::db::migrate(&url).await.unwrap();
    let standby = Cluster(
        primary
            .0
            .start_standby(&dir.0.join("standby"))
            .expect("a streaming standby"),
    );
    let read_url = standby.0.url("kopa");

    let pool = kopa::db::pool(&url, 4, Duration::from_secs(2)).unwrap();
    let read_pool = kopa::db::pool(&read_url, 4, Duration::from_secs(2)).unwrap();
    let token = {
        let mut conn = pool.get().await.unwrap();
        let spec = KeySpec {
            organisation_id: None,
            name: "replica".into(),
            scopes: vec![Scope::Admin],
            expires_at: None,
            created_by: None,
        };
        keys::create(&mut conn, spec).await.unwrap().1
    };
    let limits = RateLimits {
        anonymous: 0,
        key: 0,
    };
    // Anonymous reads are kept in a response store that follows the primary's notifications.
    let store = std::sync::Arc::new(
        kopa::web::response_store::ResponseStore::new(16).with_replica(read_pool.clone()),
    );
    actix_web::rt::spawn(kopa::web::response_store::listen(
        store.clone(),
        url.clone(),
        true,
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let state = web::Data::new(
        kopa::state::AppState::new(pool, limits)
            .with_read_pool(read_pool)
            .with_store(store),
    );
    let app = test::init_service(kopa::app::build(state)).await;
    let auth = ("Authorization", format!("Bearer {token}"));
    let get = |path: String, keyed: bool| {
        let mut request = TestRequest::get().uri(&path);
        if keyed {
            request = request.insert_header(auth.clone());
        }
        request.to_request()
    };

    // The standby really is one, and it is read-only.
    let mut standby_conn =
        <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&read_url)
            .await
            .unwrap();
    // Hold replay, so whatever is written now stays invisible on the standby.
    diesel::sql_query("SELECT pg_wal_replay_pause()")
        .execute(&mut standby_conn)
        .await
        .expect("the standby is in recovery");

    let created = app
        .call(
            TestRequest::post()
                .uri("/v1/organisations")
                .insert_header(auth.clone())
                .set_json(serde_json::json!({"name": "Replikas biedrība", "kind": "ngo"}))
                .to_request(),
        )
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body: serde_json::Value = test::read_body_json(created).await;
    let path = format!("/v1/organisations/{}", body["id"].as_str().unwrap());

    let keyed = app.call(get(path.clone(), true)).await.unwrap();
    assert_eq!(
        keyed.status(),
        200,
        "the writer reads its write on the primary"
    );
    let anonymous = app.call(get(path.clone(), false)).await.unwrap();
    assert_eq!(
        anonymous.status(),
        404,
        "anonymous reads come from the paused standby"
    );
    // The store heard of the commit, but the standby has not replayed it: what the standby
    // answers now is not kept, or it would outlive the replay.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..2 {
        let list = app
            .call(get("/v1/organisations".to_owned(), false))
            .await
            .unwrap();
        assert_ne!(
            list.headers().get("x-cache").and_then(|v| v.to_str().ok()),
            Some("hit"),
            "a response of the lagging standby is kept"
        );
    }

    diesel::sql_query("SELECT pg_wal_replay_resume()")
        .execute(&mut standby_conn)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let anonymous = app.call(get(path.clone(), false)).await.unwrap();
        if anonymous.status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the standby never caught up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = app
        .call(get("/v1/organisations?q=replikas".to_owned(), false))
        .await
        .unwrap();
    let list: serde_json::Value = test::read_body_json(list).await;
    assert_eq!(list["data"][0]["name"], "Replikas biedrība");
}

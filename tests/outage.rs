//! The database goes away under load and comes back: requests fail fast with 503 and
//! `Retry-After`, `/readyz` says not ready, nothing hangs, Kopa recovers by itself, and every
//! write that got a 2xx is still there. Runs on its own embedded cluster (fsync on), since it
//! stops the server.

use std::time::{Duration, Instant};

use actix_web::dev::Service;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use kopa::auth::keys::{self, KeySpec};
use kopa::auth::rate_limit::RateLimits;
use kopa::auth::Scope;
use kopa::embedded::EmbeddedPostgres;

struct Stopped(EmbeddedPostgres, std::path::PathBuf);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.stop();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

#[actix_web::test]
async fn a_database_outage_fails_fast_and_recovers_without_losing_acknowledged_writes() {
    let dir = std::env::temp_dir().join(format!("kopa-outage-{}", std::process::id()));
    let pg = EmbeddedPostgres::start(&dir, false).expect("embedded PostgreSQL");
    let guard = Stopped(pg, dir);
    let pg = &guard.0;
    kopa::db::ensure_database(&pg.url("postgres"), "kopa")
        .await
        .unwrap();
    let url = pg.url("kopa");
    kopa::db::migrate(&url).await.unwrap();
    let pool = kopa::db::pool(&url, 4, Duration::from_millis(1000)).unwrap();
    let token = {
        let mut conn = pool.get().await.unwrap();
        let spec = KeySpec {
            organisation_id: None,
            name: "outage".into(),
            scopes: vec![Scope::Admin],
            expires_at: None,
            created_by: None,
        };
        keys::create(&mut conn, spec).await.unwrap().1
    };
    let state = web::Data::new(kopa::state::AppState::new(
        pool.clone(),
        RateLimits {
            anonymous: 0,
            key: 0,
        },
    ));
    let app = test::init_service(kopa::app::build(state)).await;
    let auth = ("Authorization", format!("Bearer {token}"));

    // A writer that keeps creating organisations and remembers which ones were acknowledged.
    let writer = async {
        let mut acknowledged = Vec::new();
        let mut refused = 0;
        let started = Instant::now();
        let mut i = 0;
        while started.elapsed() < Duration::from_secs(12) {
            let name = format!("Outage test organisation {i}");
            let request = TestRequest::post()
                .uri("/v1/organisations")
                .insert_header(auth.clone())
                .set_json(serde_json::json!({"name": name, "kind": "ngo"}))
                .to_request();
            let sent = Instant::now();
            let response = app.call(request).await.unwrap();
            let status = response.status().as_u16();
            assert!(
                sent.elapsed() < Duration::from_secs(3),
                "a write hung for {:?}",
                sent.elapsed()
            );
            match status {
                201 => acknowledged.push(name),
                503 => {
                    assert!(response.headers().contains_key("retry-after"));
                    refused += 1;
                }
                other => panic!("unexpected status {other} during the outage"),
            }
            i += 1;
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        (acknowledged, refused)
    };

    // Meanwhile: take the database away, watch Kopa answer fast, bring it back.
    let outage = async {
        actix_web::rt::time::sleep(Duration::from_secs(2)).await;
        guard.0.stop().expect("stop PostgreSQL");
        let mut readiness = Vec::new();
        for _ in 0..3 {
            let sent = Instant::now();
            let ready = app
                .call(TestRequest::get().uri("/readyz").to_request())
                .await
                .unwrap();
            readiness.push((ready.status().as_u16(), sent.elapsed()));
            let read = app
                .call(TestRequest::get().uri("/v1/organisations").to_request())
                .await
                .unwrap();
            assert_eq!(
                read.status().as_u16(),
                503,
                "reads fail with 503 while it is down"
            );
            assert!(read.headers().contains_key("retry-after"));
            actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        }
        for (status, took) in &readiness {
            assert_eq!(*status, 503, "not ready while the database is down");
            assert!(*took <= Duration::from_secs(2), "readiness took {took:?}");
        }
        guard.0.restart(false).expect("restart PostgreSQL");
        let back = Instant::now();
        loop {
            let ready = app
                .call(TestRequest::get().uri("/readyz").to_request())
                .await
                .unwrap();
            if ready.status().as_u16() == 200 {
                break;
            }
            assert!(
                back.elapsed() < Duration::from_secs(20),
                "Kopa did not recover"
            );
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
    };

    let ((acknowledged, refused), ()) = tokio::join!(writer, outage);
    assert!(refused > 0, "the outage was seen by the writer");
    assert!(
        acknowledged.len() > 20,
        "writes went through before and after"
    );

    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let mut conn = pool.get().await.expect("the pool recovers");
    let stored: std::collections::HashSet<String> =
        diesel::sql_query("SELECT name FROM organisations")
            .load::<Name>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.name)
            .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|n| !stored.contains(*n))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
}

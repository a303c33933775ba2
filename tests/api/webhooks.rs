//! Webhooks against a real HTTP receiver on loopback: stopped and restarted while writers
//! commit (some in slow, overlapping transactions), delivered by two Kopa instances' workers.
//! Every change arrives at least once, in the feed's order, signed so the Standard Webhooks
//! library verifies it; no delivery is in flight twice at once; a draft's content never
//! reaches a public subscriber.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use kopa::db::DbPool;
use kopa::state::DeliveryConfig;
use serde_json::{json, Value};

use crate::access::world;
use crate::support::TestApp;

/// One delivery as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    id: String,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

#[derive(Default)]
struct Log {
    received: Mutex<Vec<Received>>,
    in_flight: Mutex<HashMap<String, usize>>,
    overlaps: AtomicUsize,
}

/// A receiver on a fixed loopback port that can be stopped and started again.
struct Receiver {
    port: u16,
    log: Arc<Log>,
    handle: Option<actix_web::dev::ServerHandle>,
}

async fn receive(req: HttpRequest, body: web::Bytes, log: web::Data<Arc<Log>>) -> HttpResponse {
    let path = req.path().to_owned();
    {
        let mut in_flight = log.in_flight.lock().unwrap();
        let n = in_flight.entry(path.clone()).or_default();
        *n += 1;
        if *n > 1 {
            log.overlaps.fetch_add(1, Ordering::SeqCst);
        }
    }
    // Long enough that a second sender of the same subscription would overlap.
    tokio::time::sleep(Duration::from_millis(15)).await;
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.insert(name, value);
        }
    }
    log.received.lock().unwrap().push(Received {
        path: path.clone(),
        id: req
            .headers()
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        headers,
        body: body.to_vec(),
    });
    *log.in_flight.lock().unwrap().get_mut(&path).unwrap() -= 1;
    HttpResponse::NoContent().finish()
}

impl Receiver {
    fn new() -> Receiver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut receiver = Receiver {
            port,
            log: Arc::new(Log::default()),
            handle: None,
        };
        receiver.start();
        receiver
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn start(&mut self) {
        let log = self.log.clone();
        let port = self.port;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(log.clone()))
                        .default_service(web::to(receive))
                })
                .workers(2)
                .bind(("127.0.0.1", port))
                .expect("the receiver's port")
                .disable_signals()
                .run();
                tx.send(server.handle()).unwrap();
                server.await.ok();
            })
        });
        self.handle = Some(rx.recv().unwrap());
    }

    async fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop(false).await;
        }
    }

    fn received(&self) -> Vec<Received> {
        self.log.received.lock().unwrap().clone()
    }
}

/// A delivery worker of one instance, running until `stop` is set.
fn worker(pool: DbPool, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    let config = DeliveryConfig {
        schedule: kopa::state::parse_schedule(
            "50ms,100ms,200ms,300ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s",
        )
        .unwrap(),
        interval: Duration::from_millis(40),
        timeout: Duration::from_secs(2),
        allow_private: true,
    };
    actix_web::rt::spawn(async move {
        let client = kopa::resources::webhooks::delivery::client(&config);
        while !stop.load(Ordering::SeqCst) {
            if let Err(error) =
                kopa::resources::webhooks::delivery::round(&pool, &config, &client).await
            {
                eprintln!("worker round: {error}");
            }
            tokio::time::sleep(config.interval).await;
        }
    })
}

/// A transaction that holds its change uncommitted for a while.
async fn slow_write(url: String, sql: String, hold: Duration) {
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    use diesel_async::RunQueryDsl as _;
    diesel::sql_query("BEGIN").execute(&mut conn).await.unwrap();
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    tokio::time::sleep(hold).await;
    diesel::sql_query("COMMIT")
        .execute(&mut conn)
        .await
        .unwrap();
}

fn verify(secret: &str, delivery: &Received) {
    let hook = standardwebhooks::Webhook::new(secret).unwrap();
    hook.verify(&delivery.body, &delivery.headers)
        .unwrap_or_else(|e| panic!("signature of {}: {e:?}", delivery.id));
}

/// The feed a reader with `token` sees after `since`, all pages.
async fn feed(app: &TestApp, token: Option<&str>, since: &str) -> Vec<Value> {
    app.act_as(token);
    let mut all = Vec::new();
    let mut cursor = since.to_owned();
    loop {
        let page = app
            .get(&format!("/v1/changes?limit=1000&since={cursor}"))
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        all.extend(page.body["data"].as_array().unwrap().iter().cloned());
        cursor = page.body["next_cursor"].as_str().unwrap().to_owned();
        if page.body["has_more"] == false {
            return all;
        }
    }
}

#[actix_web::test]
async fn every_change_arrives_in_order_signed_across_an_outage_and_two_instances() {
    let app = TestApp::new().await;
    let sibling = app.sibling().await;
    let w = world(&app).await;
    let admin = app.operator_token.clone();
    let public_key = app.key(Some(&w.other), &["webhooks:manage"]).await;
    let mut receiver = Receiver::new();

    let start = app.get("/v1/changes?since=now").await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let all = app
        .post_json(
            "/v1/webhooks",
            &json!({"url": receiver.url("/all"), "description": "everything"}),
        )
        .await;
    assert_eq!(all.status, 201, "{}", all.text);
    let all_secret = all.body["secret"].as_str().unwrap().to_owned();
    assert!(all_secret.starts_with("whsec_"));
    app.act_as(Some(&public_key));
    let public = app
        .post_json(
            "/v1/webhooks",
            &json!({"url": receiver.url("/public"), "resources": ["project", "activity", "metric"]}),
        )
        .await;
    assert_eq!(public.status, 201, "{}", public.text);
    assert_eq!(public.body["visibility"], "published");
    let public_secret = public.body["secret"].as_str().unwrap().to_owned();
    app.act_as(Some(&admin));

    let stop = Arc::new(AtomicBool::new(false));
    let workers = [
        worker(app.pool(), stop.clone()),
        worker(sibling.pool(), stop.clone()),
    ];

    // Writers: quick API writes, and slow raw transactions that overlap them and each other.
    let slow = |sql: String, ms: u64| {
        actix_web::rt::spawn(slow_write(
            app.db_url.clone(),
            sql,
            Duration::from_millis(ms),
        ))
    };
    let slow_a = slow(
        format!(
            "UPDATE organisations SET short_name = 'SLOW-A' WHERE id = '{}'",
            w.lead
        ),
        900,
    );
    let slow_b = slow(
        format!(
            "UPDATE activities SET participants = 11 WHERE id = '{}'",
            w.activity
        ),
        500,
    );
    for n in 0..6 {
        let changed = app
            .patch(
                &format!("/v1/projects/{}", w.project),
                &json!({"summary": format!("Edit {n}")}),
                None,
            )
            .await;
        assert_eq!(changed.status, 200, "{}", changed.text);
        let secret_edit = app
            .patch(
                &format!("/v1/projects/{}", w.draft),
                &json!({"summary": format!("Secret draft plan {n}")}),
                None,
            )
            .await;
        assert_eq!(secret_edit.status, 200);
        if n == 2 {
            receiver.stop().await;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let pushed = app
        .post_json(
            &format!("/v1/projects/{}/metrics", w.draft),
            &json!({"indicator": "people_trained", "value": 3}),
        )
        .await;
    assert_eq!(pushed.status, 201);
    slow_a.await.unwrap();
    slow_b.await.unwrap();
    receiver.start();

    let expected_all = feed(&app, Some(&admin), &start).await;
    let expected_public: Vec<Value> = feed(&app, None, &start)
        .await
        .into_iter()
        .filter(|c| ["project", "activity", "metric"].contains(&c["resource"].as_str().unwrap()))
        .collect();
    assert!(
        expected_all.len() >= 14,
        "{:?}",
        expected_all
            .iter()
            .map(|c| (c["resource"].clone(), c["op"].clone()))
            .collect::<Vec<_>>()
    );
    let ids = |changes: &[Value]| -> Vec<String> {
        changes
            .iter()
            .map(|c| c["cursor"].as_str().unwrap().to_owned())
            .collect()
    };
    let (want_all, want_public) = (ids(&expected_all), ids(&expected_public));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got: HashSet<(String, String)> = receiver
            .received()
            .into_iter()
            .map(|r| (r.path, r.id))
            .collect();
        let done = want_all
            .iter()
            .all(|id| got.contains(&("/all".into(), id.clone())))
            && want_public
                .iter()
                .all(|id| got.contains(&("/public".into(), id.clone())));
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not everything arrived: {} of {} and {} of {}",
            got.iter().filter(|(p, _)| p == "/all").count(),
            want_all.len(),
            got.iter().filter(|(p, _)| p == "/public").count(),
            want_public.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    receiver.stop().await;

    let received = receiver.received();
    for (path, want, secret) in [
        ("/all", &want_all, &all_secret),
        ("/public", &want_public, &public_secret),
    ] {
        let mut first_seen = Vec::new();
        for delivery in received.iter().filter(|r| r.path == path) {
            verify(secret, delivery);
            let body: Value = serde_json::from_slice(&delivery.body).unwrap();
            assert_eq!(
                body["cursor"],
                delivery.id.as_str(),
                "the cursor is the webhook-id"
            );
            if !first_seen.contains(&delivery.id) {
                first_seen.push(delivery.id.clone());
            }
        }
        assert_eq!(
            &first_seen, want,
            "{path}: first arrivals follow the feed's order"
        );
    }
    assert_eq!(
        receiver.log.overlaps.load(Ordering::SeqCst),
        0,
        "a subscription's deliveries were in flight twice at once"
    );
    // The public subscriber got the draft's changes only as tombstones.
    let draft_url = format!("/v1/projects/{}", w.draft);
    for delivery in received.iter().filter(|r| r.path == "/public") {
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        let text = String::from_utf8_lossy(&delivery.body);
        assert!(!text.contains("Secret draft plan"));
        if body["url"] == draft_url.as_str() || body["id"] == w.draft.as_str() {
            assert_eq!(body["op"], "delete", "{text}");
            assert_eq!(body["version"], Value::Null);
        }
    }
    assert!(received
        .iter()
        .any(|r| r.path == "/all" && String::from_utf8_lossy(&r.body).contains(&w.draft)));

    // Attempts are listed, failed ones with why.
    let id = all.body["id"].as_str().unwrap();
    app.act_as(Some(&admin));
    let attempts = app
        .get(&format!("/v1/webhooks/{id}/deliveries?limit=200"))
        .await;
    assert_eq!(attempts.status, 200, "{}", attempts.text);
    assert!(
        attempts.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["error"].is_string()),
        "the outage shows as failed attempts"
    );
}

#[actix_web::test]
async fn a_failing_subscription_is_disabled_and_says_why_and_pings_are_signed() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let owner = app.key(Some(&w.lead), &["webhooks:manage"]).await;
    let stranger = app.key(Some(&w.other), &["webhooks:manage"]).await;
    let metrics_only = app.key(Some(&w.lead), &["metrics:write"]).await;
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    app.act_as(Some(&metrics_only));
    app.post_json("/v1/webhooks", &json!({"url": "https://example.org/hook"}))
        .await
        .assert_problem(403);
    app.act_as(Some(&owner));
    app.post_json("/v1/webhooks", &json!({"url": "ftp://example.org/hook"}))
        .await
        .assert_problem(422);
    let created = app
        .post_json(
            "/v1/webhooks",
            &json!({"url": format!("http://127.0.0.1:{closed}/gone"), "project_id": w.project}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["owner_id"], w.lead.as_str());
    let path = format!("/v1/webhooks/{}", created.body["id"].as_str().unwrap());
    app.act_as(Some(&stranger));
    app.get(&path).await.assert_problem(403);
    let listed = app.get("/v1/webhooks").await;
    assert_eq!(listed.body["data"], json!([]));

    app.act_as(Some(&owner));
    let edited = app
        .patch(
            &format!("/v1/projects/{}", w.project),
            &json!({"summary": "x"}),
            None,
        )
        .await;
    assert_eq!(
        edited.status, 403,
        "the owner's key may not edit; the admin does it"
    );
    app.act_as(Some(&app.operator_token.clone()));
    app.patch(
        &format!("/v1/projects/{}", w.project),
        &json!({"summary": "x"}),
        None,
    )
    .await;
    let config = DeliveryConfig {
        schedule: kopa::state::parse_schedule("10ms,10ms").unwrap(),
        interval: Duration::from_millis(10),
        timeout: Duration::from_secs(1),
        allow_private: true,
    };
    let client = kopa::resources::webhooks::delivery::client(&config);
    // Changes settle once every transaction older than them has ended, and the other tests'
    // transactions share the cluster: deliver until the subscription gives up, within a
    // deadline that only a broken worker misses.
    app.act_as(Some(&owner));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let disabled = loop {
        kopa::resources::webhooks::delivery::round(&app.pool(), &config, &client)
            .await
            .unwrap();
        let now = app.get(&path).await;
        if now.body["enabled"] == false || std::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(disabled.body["enabled"], false, "{}", disabled.text);
    assert!(
        disabled.body["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("failed 3 times"),
        "{}",
        disabled.text
    );
    let attempts = app.get(&format!("{path}/deliveries")).await;
    assert_eq!(attempts.body["data"].as_array().unwrap().len(), 3);
    assert_eq!(
        attempts.body["data"][0]["error"],
        "the request failed: could not connect"
    );

    // Pointed at a live receiver, re-enabled and pinged; the rotated secret signs.
    let receiver = Receiver::new();
    let fixed = app
        .patch(
            &path,
            &json!({"url": receiver.url("/hook"), "enabled": true}),
            None,
        )
        .await;
    assert_eq!(fixed.status, 200, "{}", fixed.text);
    assert_eq!(fixed.body["disabled_reason"], Value::Null);
    let rotated = app.post_json(&format!("{path}/secret"), &json!({})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let secret = rotated.body["secret"].as_str().unwrap().to_owned();
    let ping = app.post_json(&format!("{path}/ping"), &json!({})).await;
    assert_eq!(ping.status, 200, "{}", ping.text);
    assert_eq!(ping.body["delivered"], true, "{}", ping.text);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while receiver.received().len() < 2 && std::time::Instant::now() < deadline {
        kopa::resources::webhooks::delivery::round(&app.pool(), &config, &client)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = receiver.received();
    assert!(received.len() >= 2, "the ping and the waiting change");
    for delivery in &received {
        verify(&secret, delivery);
        // The old secret signs too, for a day.
        verify(created.body["secret"].as_str().unwrap(), delivery);
    }
    assert!(received.iter().any(|r| r.id.starts_with("ping_")));
    app.delete(&path, None).await;
    assert_eq!(app.get(&path).await.status, 404);
}

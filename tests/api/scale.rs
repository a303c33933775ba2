//! Several Kopa instances on one database: nothing that matters lives in one process.

use actix_web::test::TestRequest;
use serde_json::json;

use crate::support::{organisation, TestApp};

#[actix_web::test]
async fn idempotent_retries_and_if_match_hold_across_instances() {
    let a = TestApp::new().await;
    let b = a.sibling().await;

    // A retry that lands on the other instance gets the first answer; nothing is created twice.
    let create = || {
        TestRequest::post()
            .uri("/v1/organisations")
            .insert_header(("Idempotency-Key", "create-across-instances"))
            .set_json(organisation("Scaled NGO"))
    };
    let first = a.request(create()).await;
    let retry = b.request(create()).await;
    assert_eq!((first.status, retry.status), (201, 201), "{}", retry.text);
    assert_eq!(retry.text, first.text);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let count = a
        .query_strings("SELECT count(*) FROM organisations WHERE name = 'Scaled NGO'")
        .await;
    assert_eq!(count, vec!["1"]);

    // An ETag read on one instance guards a write on the other, and goes stale for both.
    let path = format!("/v1/organisations/{}", first.body["id"].as_str().unwrap());
    let etag = a.get(&path).await.header("etag").unwrap().to_owned();
    let changed = b
        .patch(&path, &json!({"short_name": "SN"}), Some(&etag))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let stale = a
        .patch(&path, &json!({"short_name": "XX"}), Some(&etag))
        .await;
    stale.assert_problem(412);
    assert_eq!(b.get(&path).await.body["short_name"], "SN");
}

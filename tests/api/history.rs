//! Field-level history of every record, metric restores, verification, contact erasure and key
//! rotation, with who may do each (the access matrix of these verbs).

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::access::world;
use crate::support::{create_organisation, organisation, TestApp};

fn changes(entry: &Value) -> &serde_json::Map<String, Value> {
    entry["changes"].as_object().expect("changes is an object")
}

#[actix_web::test]
async fn every_change_keeps_its_fields_and_a_draft_move_says_so() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let project = format!("/v1/projects/{}", w.draft);
    let edited = app
        .patch(&project, &json!({"title": "Renamed", "summary": "S"}), None)
        .await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    let funded = app
        .patch(
            &project,
            &json!({"funding": [{"funder_id": w.lead, "share_percent": 50}]}),
            None,
        )
        .await;
    assert_eq!(funded.status, 200, "{}", funded.text);
    let published = app
        .patch(&project, &json!({"status": "active"}), None)
        .await;
    assert_eq!(published.status, 200, "{}", published.text);

    let history = app.get(&format!("{project}/history")).await;
    assert_eq!(history.status, 200, "{}", history.text);
    let entries = history.body["data"].as_array().unwrap();
    assert_eq!(entries[0]["op"], "create");
    assert_eq!(changes(&entries[0])["title"]["new"], "Draft project");
    let rename = entries
        .iter()
        .find(|e| changes(e).contains_key("summary"))
        .expect("the edit");
    assert_eq!(changes(rename)["title"]["old"], "Draft project");
    assert_eq!(changes(rename)["title"]["new"], "Renamed");
    assert!(!changes(rename).contains_key("version"), "no bookkeeping");
    assert!(
        entries.iter().any(|e| e["resource"] == "funding"
            && e["op"] == "create"
            && changes(e)["share_percent"]["new"] == json!(50.0)),
        "funding lines are in the project's history: {entries:?}"
    );
    let publication = entries
        .iter()
        .find(|e| e["event"] == "published")
        .expect("the move out of draft");
    assert_eq!(changes(publication)["status"]["old"], "draft");
    assert!(entries[0]["api_key_id"].is_string());

    // The project's partner is published with it, and says so.
    let partners = app.get(&format!("{project}/partners")).await;
    let partner = partners.body["data"][0]["id"].as_str().unwrap().to_owned();
    let partner_history = app
        .get(&format!("{project}/partners/{partner}/history"))
        .await;
    assert_eq!(partner_history.status, 200, "{}", partner_history.text);
    assert!(partner_history.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == "published"));

    // Every resource has one; an unknown record is a 404.
    for path in [
        format!("/v1/organisations/{}/history", w.lead),
        format!("/v1/activities/{}/history", w.activity),
        "/v1/indicators/people_trained/history".to_owned(),
    ] {
        let found = app.get(&path).await;
        assert_eq!(found.status, 200, "{path}: {}", found.text);
        assert_eq!(found.body["data"][0]["op"], "create", "{path}");
    }
    app.get(&format!("/v1/projects/{}/history", uuid::Uuid::now_v7()))
        .await
        .assert_problem(404);
    // Funding lines and keys stay out of the change feed.
    let feed = app.get("/v1/changes?limit=1000").await;
    assert!(feed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["resource"] != "funding" && c["resource"] != "api_key"));
}

#[actix_web::test]
async fn a_metric_value_is_restored_verified_and_queried_by_who_may() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    // The world's programme is administered by `w.administrator`.
    let partner = app.key(Some(&w.partner), &["metrics:write"]).await;
    let administrator = app.key(Some(&w.administrator), &["metrics:verify"]).await;
    let lead_verifier = app.key(Some(&w.lead), &["metrics:verify"]).await;
    let admin = app.operator_token.clone();

    app.act_as(Some(&partner));
    let created = app
        .post_json(
            &format!("/v1/projects/{}/metrics", w.project),
            &json!({"indicator": "people_trained", "value": 100}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["verification"], "reported");
    let metric = format!("/v1/metrics/{}", created.body["id"].as_str().unwrap());
    for value in [120, 130] {
        let changed = app.patch(&metric, &json!({"value": value}), None).await;
        assert_eq!(changed.status, 200, "{}", changed.text);
    }
    let revisions = app.get(&format!("{metric}/revisions")).await;
    let first = revisions.body["data"][0]["id"].as_i64().unwrap();

    // Restore: who may write the value; a new, attributed revision.
    app.act_as(None);
    app.post_json(&format!("{metric}/restore"), &json!({"revision": first}))
        .await
        .assert_problem(401);
    app.act_as(Some(&administrator));
    app.post_json(&format!("{metric}/restore"), &json!({"revision": first}))
        .await
        .assert_problem(403);
    app.act_as(Some(&partner));
    app.post_json(&format!("{metric}/restore"), &json!({"revision": 999_999}))
        .await
        .assert_problem(422);
    let restored = app
        .post_json(&format!("{metric}/restore"), &json!({"revision": first}))
        .await;
    assert_eq!(restored.status, 200, "{}", restored.text);
    assert_eq!(restored.body["value"], 100.0);
    let revisions = app.get(&format!("{metric}/revisions")).await;
    let last = revisions.body["data"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["old_value"].clone(), last["new_value"].clone()),
        (json!(130.0), json!(100.0))
    );
    assert_eq!(last["organisation_id"], w.partner.as_str());

    // Verification: the programme's administrator or an operator, nobody else.
    let verdict = json!({"status": "verified", "note": "Matches the attendance lists."});
    for (token, status) in [
        (None, 401),
        (Some(partner.as_str()), 403),
        (Some(lead_verifier.as_str()), 403),
    ] {
        app.act_as(token);
        let refused = app
            .post_json(&format!("{metric}/verification"), &verdict)
            .await;
        assert_eq!(refused.status, status, "{}", refused.text);
    }
    app.act_as(Some(&administrator));
    let verified = app
        .post_json(&format!("{metric}/verification"), &verdict)
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    assert_eq!(verified.body["verification"], "verified");
    assert_eq!(verified.body["verified_by"], w.administrator.as_str());
    app.act_as(Some(&admin));
    let queried = app
        .post_json(
            &format!("{metric}/verification"),
            &json!({"status": "queried", "note": "Which lists?"}),
        )
        .await;
    assert_eq!(queried.status, 200, "{}", queried.text);
    let verified_again = app
        .post_json(&format!("{metric}/verification"), &verdict)
        .await;
    assert_eq!(verified_again.status, 200);

    // Lists, exports and stats can ask for verified numbers only, and say what they leave out.
    let other = app
        .post_json(
            &format!("/v1/projects/{}/metrics", w.project),
            &json!({"indicator": "people_trained", "value": 7, "kind": "target"}),
        )
        .await;
    assert_eq!(other.status, 201);
    let only = app.get("/v1/metrics?verified=true").await;
    assert_eq!(only.body["data"].as_array().unwrap().len(), 1);
    let unverified = app.get("/v1/metrics?verified=false").await;
    assert_eq!(unverified.body["data"].as_array().unwrap().len(), 1);
    let csv = app.get("/v1/exports/metrics.csv?verified=true").await;
    assert_eq!(csv.text.lines().count(), 2, "{}", csv.text);
    assert!(csv.text.lines().next().unwrap().contains("verification"));
    let another = app
        .post_json(
            &format!("/v1/projects/{}/metrics", w.project),
            &json!({"indicator": "people_trained", "value": 5, "period_start": "2013-01-01", "period_end": "2013-12-31"}),
        )
        .await;
    assert_eq!(another.status, 201);
    let stats = app
        .get("/v1/stats/indicators/people_trained?group_by=year&verified=true")
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(stats.body["total"]["value"], 100.0);
    assert_eq!(stats.body["total"]["unverified"], 1);
    let all = app
        .get("/v1/stats/indicators/people_trained?group_by=year")
        .await;
    assert_eq!(all.body["total"]["value"], 105.0);

    // A changed number is reported again; the decisions stay in the history.
    app.act_as(Some(&partner));
    let changed = app.patch(&metric, &json!({"value": 101}), None).await;
    assert_eq!(changed.body["verification"], "reported");
    let history = app.get(&format!("{metric}/history")).await;
    assert_eq!(history.status, 200, "{}", history.text);
    let events: Vec<&str> = history.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(events, ["restored", "verified", "verified", "verified"]);
    // History is for those who may change the record.
    app.act_as(Some(&administrator));
    app.get(&format!("{metric}/history"))
        .await
        .assert_problem(403);
    app.act_as(None);
    app.get(&format!("{metric}/history"))
        .await
        .assert_problem(401);
}

#[actix_web::test]
async fn history_is_for_editors_and_contacts_for_who_may_see_them() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let project = format!("/v1/projects/{}/history", w.project);
    let lead_projects = app.key(Some(&w.lead), &["projects:write"]).await;
    let lead_metrics = app.key(Some(&w.lead), &["metrics:write"]).await;
    let partner_projects = app
        .key(Some(&w.partner), &["projects:write", "read:private"])
        .await;
    let lead_registry = app.key(Some(&w.lead), &["read:private"]).await;
    for (token, status) in [
        (None, 401),
        (Some(lead_metrics.as_str()), 403),
        (Some(lead_registry.as_str()), 403),
        (Some(partner_projects.as_str()), 403),
        (Some(lead_projects.as_str()), 200),
    ] {
        app.act_as(token);
        assert_eq!(app.get(&project).await.status, status, "{token:?}");
    }
    app.act_as(Some(&lead_projects));
    let seen = app.get(&project).await;
    assert_eq!(
        changes(&seen.body["data"][0])["contact_email"]["new"],
        "anna@example.org"
    );
    // Organisations' history is the operator's.
    app.act_as(Some(&lead_projects));
    app.get(&format!("/v1/organisations/{}/history", w.lead))
        .await
        .assert_problem(403);
}

#[actix_web::test]
async fn an_erased_contact_is_found_nowhere_afterwards() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let lead_projects = app.key(Some(&w.lead), &["projects:write"]).await;
    let partner_projects = app.key(Some(&w.partner), &["projects:write"]).await;
    app.act_as(Some(&lead_projects));
    // A stored idempotent response holding a contact.
    let created = app
        .request(
            TestRequest::post()
                .uri("/v1/projects")
                .insert_header(("Idempotency-Key", "with-contact"))
                .set_json(json!({"title": "Contact project", "status": "active",
                    "lead_organisation_id": w.lead,
                    "contact": {"name": "Jānis Ozols", "email": "janis@example.org", "phone": "+371 20000000"}})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/projects/{id}");
    let changed = app
        .patch(
            &path,
            &json!({"contact": {"name": "Jānis Ozols", "email": "ozols@example.org"}}),
            None,
        )
        .await;
    assert_eq!(changed.status, 200);
    let traces = || async {
        app.query_strings(
            "SELECT 'record' FROM projects WHERE concat(contact_name, contact_email, contact_phone) LIKE '%zols%' \
             UNION ALL SELECT 'history' FROM audit_log WHERE changes::text LIKE '%zols%' \
             UNION ALL SELECT 'stored response' FROM idempotency_records WHERE position('zols' in convert_from(body, 'UTF8')) > 0",
        )
        .await
    };
    assert!(!traces().await.is_empty());

    for (token, status) in [(None, 401), (Some(partner_projects.as_str()), 403)] {
        app.act_as(token);
        assert_eq!(
            app.delete(&format!("{path}/contact"), None).await.status,
            status
        );
    }
    app.act_as(Some(&lead_projects));
    let erased = app.delete(&format!("{path}/contact"), None).await;
    assert_eq!(erased.status, 204, "{}", erased.text);
    assert_eq!(traces().await, Vec::<String>::new());

    let record = app.get(&path).await;
    assert_eq!(record.body["contact"], Value::Null);
    let history = app.get(&format!("{path}/history")).await;
    let entries = history.body["data"].as_array().unwrap();
    let last = entries.last().unwrap();
    assert_eq!(last["event"], "contact_erased");
    assert_eq!(changes(last)["contact_email"]["erased"], true);
    assert_eq!(changes(&entries[0])["contact_name"]["erased"], true);
    // The replay still answers, without the contact.
    let replay = app
        .request(
            TestRequest::post()
                .uri("/v1/projects")
                .insert_header(("Idempotency-Key", "with-contact"))
                .set_json(json!({"title": "Contact project", "status": "active",
                    "lead_organisation_id": w.lead,
                    "contact": {"name": "Jānis Ozols", "email": "janis@example.org", "phone": "+371 20000000"}})),
        )
        .await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.body["id"], id.as_str());
    assert_eq!(replay.body["contact"], Value::Null);
}

#[actix_web::test]
async fn a_key_rotates_itself() {
    let app = TestApp::new().await;
    let org = create_organisation(&app, &organisation("Rotating NGO")).await;
    let org = org["id"].as_str().unwrap().to_owned();
    let limit = "2030-01-01T00:00:00Z";
    let old = {
        let created = app
            .post_json(
                "/v1/api-keys",
                &json!({"organisation_id": org, "name": "partner system", "scopes": ["metrics:write", "read:private"], "expires_at": limit}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        created.body["key"].as_str().unwrap().to_owned()
    };
    app.act_as(None);
    app.post_json("/v1/api-keys/current/successor", &json!({}))
        .await
        .assert_problem(401);
    app.act_as(Some(&old));
    app.post_json(
        "/v1/api-keys/current/successor",
        &json!({"expires_at": "2031-01-01T00:00:00Z"}),
    )
    .await
    .assert_problem(422);
    let successor = app
        .post_json(
            "/v1/api-keys/current/successor",
            &json!({"name": "partner system 2"}),
        )
        .await;
    assert_eq!(successor.status, 201, "{}", successor.text);
    assert_eq!(successor.body["organisation_id"], org.as_str());
    assert_eq!(
        successor.body["scopes"],
        json!(["metrics:write", "read:private"])
    );
    assert_eq!(successor.body["expires_at"], "2030-01-01T00:00:00Z");
    assert!(successor.body["predecessor_id"].is_string());
    let new = successor.body["key"].as_str().unwrap().to_owned();

    // The old key now ends within a day; it may end itself sooner, never later.
    app.act_as(Some(&old));
    app.post_json("/v1/api-keys/current/expiry", &json!({"expires_at": limit}))
        .await
        .assert_problem(422);
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let ended = app
        .post_json("/v1/api-keys/current/expiry", &json!({"expires_at": soon}))
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    app.post_json("/v1/api-keys/current/expiry", &json!({"expires_at": soon}))
        .await
        .assert_problem(401);
    app.act_as(Some(&new));
    let fine = app
        .post_json(
            "/v1/api-keys/current/expiry",
            &json!({"expires_at": "2029-06-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(fine.status, 200, "{}", fine.text);
    // Keys are audited too.
    let audited = app
        .query_strings("SELECT count(*) FROM audit_log WHERE resource = 'api_key'")
        .await;
    assert_ne!(audited, vec!["0"]);
}

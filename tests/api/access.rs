//! API keys and the access policy: who may read and write what, as a matrix of
//! caller × resource × verb, plus key lifecycle (revoked, expired, malformed) and rate limits.

use actix_web::http::header;
use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::support::{create_organisation, organisation, TestApp};

/// Four organisations around one published project and one draft:
/// `lead` leads both, `partner` partners in both, `administrator` administers their programme,
/// `other` has nothing to do with them.
pub struct World {
    pub lead: String,
    pub partner: String,
    pub administrator: String,
    pub other: String,
    pub project: String,
    pub draft: String,
    pub activity: String,
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

pub async fn world(app: &TestApp) -> World {
    let lead = id(&create_organisation(app, &organisation("Lead NGO")).await);
    let partner = id(&create_organisation(app, &organisation("Partner Municipality")).await);
    let other = id(&create_organisation(app, &organisation("Unrelated Society")).await);
    let administrator =
        id(&create_organisation(app, &organisation("Programme Administrator")).await);
    let programme = app
        .post_json(
            "/v1/programmes",
            &json!({"name": "Administered programme",
                    "organisations": [{"organisation_id": administrator, "role": "co_administrator"}]}),
        )
        .await;
    assert_eq!(programme.status, 201, "{}", programme.text);
    let programme = id(&programme.body);
    let mut projects = Vec::new();
    for (title, status) in [("Published project", "active"), ("Draft project", "draft")] {
        let created = app
            .post_json(
                "/v1/projects",
                &json!({"title": title, "status": status, "lead_organisation_id": lead,
                        "programme_id": programme,
                        "contact": {"name": "Anna Bērziņa", "email": "anna@example.org"}}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let project = id(&created.body);
        let partnered = app
            .post_json(
                &format!("/v1/projects/{project}/partners"),
                &json!({"organisation_id": partner, "role": "partner"}),
            )
            .await;
        assert_eq!(partnered.status, 201, "{}", partnered.text);
        projects.push(project);
    }
    let activity = app
        .post_json(
            &format!("/v1/projects/{}/activities", projects[0]),
            &json!({"title": "Language course", "kind": "course"}),
        )
        .await;
    assert_eq!(activity.status, 201, "{}", activity.text);
    let indicator = app
        .post_json(
            "/v1/indicators",
            &json!({"code": "people_trained", "name": "People trained", "unit": "person", "aggregation": "sum"}),
        )
        .await;
    assert_eq!(indicator.status, 201, "{}", indicator.text);
    World {
        lead,
        partner,
        administrator,
        other,
        draft: projects.pop().unwrap(),
        project: projects.pop().unwrap(),
        activity: id(&activity.body),
    }
}

enum Verb {
    Get,
    Post(Value),
    Patch(Value),
    Delete,
}

async fn call(app: &TestApp, token: Option<&str>, verb: &Verb, path: &str) -> u16 {
    app.act_as(token);
    let response = match verb {
        Verb::Get => app.get(path).await,
        Verb::Post(body) => app.post_json(path, body).await,
        Verb::Patch(body) => app.patch(path, body, None).await,
        Verb::Delete => app.delete(path, None).await,
    };
    if response.status == 401 {
        assert!(
            response.header("www-authenticate").is_some(),
            "401 without WWW-Authenticate on {path}"
        );
    }
    if response.status >= 400 {
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json"),
            "{path}: {}",
            response.text
        );
    }
    response.status
}

#[actix_web::test]
async fn the_authorization_matrix_holds() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let admin = app.operator_token.clone();
    let lead_projects = app.key(Some(&w.lead), &["projects:write"]).await;
    let lead_metrics = app.key(Some(&w.lead), &["metrics:write"]).await;
    let lead_private = app.key(Some(&w.lead), &["read:private"]).await;
    let partner_metrics = app.key(Some(&w.partner), &["metrics:write"]).await;
    let partner_projects = app
        .key(Some(&w.partner), &["projects:write", "read:private"])
        .await;
    let other_all = app
        .key(
            Some(&w.other),
            &[
                "projects:write",
                "metrics:write",
                "read:private",
                "metrics:verify",
            ],
        )
        .await;
    let administrator_private = app.key(Some(&w.administrator), &["read:private"]).await;
    let administrator_all = app
        .key(
            Some(&w.administrator),
            &[
                "projects:write",
                "metrics:write",
                "read:private",
                "metrics:verify",
                "webhooks:manage",
            ],
        )
        .await;

    let callers: [(&str, Option<&str>); 10] = [
        ("anonymous", None),
        ("admin", Some(&admin)),
        ("lead projects:write", Some(&lead_projects)),
        ("lead metrics:write", Some(&lead_metrics)),
        ("lead read:private", Some(&lead_private)),
        ("partner metrics:write", Some(&partner_metrics)),
        (
            "partner projects:write+read:private",
            Some(&partner_projects),
        ),
        ("other, all but admin", Some(&other_all)),
        (
            "programme administrator read:private",
            Some(&administrator_private),
        ),
        (
            "programme administrator, all but admin",
            Some(&administrator_all),
        ),
    ];
    let project = format!("/v1/projects/{}", w.project);
    let draft = format!("/v1/projects/{}", w.draft);
    let metric = |n: u32| {
        Verb::Post(
            json!({"indicator": "people_trained", "value": n, "period_start": format!("20{n:02}-01-01"), "period_end": format!("20{n:02}-12-31")}),
        )
    };
    app.act_as(Some(&admin));
    let pushed = app
        .post_json(
            &format!("{project}/metrics"),
            &json!({"indicator": "people_trained", "value": 1, "kind": "baseline"}),
        )
        .await;
    assert_eq!(pushed.status, 201, "{}", pushed.text);
    let value = format!("/v1/metrics/{}", pushed.body["id"].as_str().unwrap());
    let revision = app.get(&format!("{value}/revisions")).await.body["data"][0]["id"].clone();
    // (what, verb, path, expected status per caller in the order above)
    // The programme's administrator reads the private data of its projects, never writes them.
    let cases: Vec<(&str, Verb, String, [u16; 10])> = vec![
        (
            "read a published project",
            Verb::Get,
            project.clone(),
            [200; 10],
        ),
        (
            "read a draft",
            Verb::Get,
            draft.clone(),
            [404, 200, 200, 404, 200, 404, 200, 404, 200, 200],
        ),
        (
            "list a draft's partners",
            Verb::Get,
            format!("{draft}/partners"),
            [404, 200, 200, 404, 200, 404, 200, 404, 200, 200],
        ),
        (
            "create an organisation",
            Verb::Post(organisation("New body")),
            "/v1/organisations".into(),
            [401, 201, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "edit an organisation",
            Verb::Patch(json!({"short_name": "LN"})),
            format!("/v1/organisations/{}", w.lead),
            [401, 200, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "create an indicator",
            Verb::Post(
                json!({"code": "volunteers", "name": "Volunteers", "unit": "person", "aggregation": "sum"}),
            ),
            "/v1/indicators".into(),
            [401, 201, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "edit the project",
            Verb::Patch(json!({"summary": "Edited."})),
            project.clone(),
            [401, 200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "add an activity",
            Verb::Post(json!({"title": "Lecture", "kind": "lecture"})),
            format!("{project}/activities"),
            [401, 201, 201, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "edit an activity",
            Verb::Patch(json!({"participants": 12})),
            format!("/v1/activities/{}", w.activity),
            [401, 200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "push a number",
            metric(0),
            format!("{project}/metrics"),
            [401, 201, 403, 201, 403, 201, 403, 403, 403, 403],
        ),
        (
            "list API keys",
            Verb::Get,
            "/v1/api-keys".into(),
            [401, 200, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "read the project's history",
            Verb::Get,
            format!("{project}/history"),
            [401, 200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "read a number's history",
            Verb::Get,
            format!("{value}/history"),
            [401, 200, 403, 200, 403, 200, 403, 403, 403, 403],
        ),
        (
            "restore a number",
            Verb::Post(json!({"revision": revision})),
            format!("{value}/restore"),
            [401, 200, 403, 200, 403, 200, 403, 403, 403, 403],
        ),
        (
            "query a number (only its programme's administrator)",
            Verb::Post(json!({"status": "queried"})),
            format!("{value}/verification"),
            [401, 200, 403, 403, 403, 403, 403, 403, 403, 200],
        ),
        (
            "erase the project's contact",
            Verb::Delete,
            format!("{project}/contact"),
            [401, 204, 204, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "rotate one's own key",
            Verb::Post(json!({"name": "rotated"})),
            "/v1/api-keys/current/successor".into(),
            [401, 201, 201, 201, 201, 201, 201, 201, 201, 201],
        ),
    ];
    let mut failures = Vec::new();
    for (what, verb, path, expected) in &cases {
        for (i, (who, token)) in callers.iter().enumerate() {
            // Metric pushes by several callers need distinct natural keys.
            let verb = match verb {
                Verb::Post(body) if body.get("indicator").is_some() => metric(10 + i as u32),
                Verb::Post(body) if body.get("code").is_some() => {
                    let mut body = body.clone();
                    body["code"] = json!(format!("volunteers_{i}"));
                    Verb::Post(body)
                }
                Verb::Post(body) if body.get("kind") == Some(&json!("ngo")) => {
                    Verb::Post(organisation(&format!("New body {i}")))
                }
                Verb::Post(body) => Verb::Post(body.clone()),
                Verb::Patch(body) => Verb::Patch(body.clone()),
                Verb::Get => Verb::Get,
                Verb::Delete => Verb::Delete,
            };
            let status = call(&app, *token, &verb, path).await;
            if status != expected[i] {
                failures.push(format!(
                    "{what} as {who}: {status}, expected {}",
                    expected[i]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "policy violations:\n{}",
        failures.join("\n")
    );
}

/// Every write runs the same skeleton, so every resource answers in the same order: a record
/// that does not exist is 404 for any caller; a caller without the right gets 403 for any
/// record that does (before its `If-Match` is looked at); a stale `If-Match` is 412 before the
/// body's content is.
#[actix_web::test]
async fn writes_answer_404_then_403_then_412_then_422() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let admin = app.operator_token.clone();
    let outsider = app
        .key(Some(&w.other), &["projects:write", "metrics:write"])
        .await;
    let missing = "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b";
    app.act_as(Some(&admin));
    let metric = app
        .post_json(
            &format!("/v1/projects/{}/metrics", w.project),
            &json!({"indicator": "people_trained", "value": 5}),
        )
        .await;
    assert_eq!(metric.status, 201, "{}", metric.text);
    let records = [
        format!("/v1/organisations/{}", w.lead),
        format!("/v1/projects/{}", w.project),
        format!("/v1/projects/{}/partners/{}", w.project, {
            let partners = app
                .get(&format!("/v1/projects/{}/partners", w.project))
                .await;
            partners.body["data"][0]["id"].as_str().unwrap().to_owned()
        }),
        format!("/v1/activities/{}", w.activity),
        format!("/v1/metrics/{}", metric.body["id"].as_str().unwrap()),
        "/v1/indicators/people_trained".to_owned(),
    ];
    for path in &records {
        let gone = match path.rsplit_once('/') {
            Some((base, _)) if base.ends_with("indicators") => format!("{base}/no_such_code"),
            Some((base, _)) => format!("{base}/{missing}"),
            None => unreachable!(),
        };
        for token in [&admin, &outsider] {
            app.act_as(Some(token));
            let patched = app.patch(&gone, &json!({}), Some("\"stale\"")).await;
            assert_eq!(patched.status, 404, "PATCH {gone}: {}", patched.text);
            let deleted = app.delete(&gone, Some("\"stale\"")).await;
            assert_eq!(deleted.status, 404, "DELETE {gone}: {}", deleted.text);
        }
        app.act_as(Some(&outsider));
        let refused = app
            .patch(path, &json!({"no_such_field": 1}), Some("\"stale\""))
            .await;
        assert_eq!(
            refused.status, 403,
            "PATCH {path} without rights: {}",
            refused.text
        );
        let refused = app.delete(path, Some("\"stale\"")).await;
        assert_eq!(
            refused.status, 403,
            "DELETE {path} without rights: {}",
            refused.text
        );
        app.act_as(Some(&admin));
        let stale = app
            .patch(path, &json!({"no_such_field": 1}), Some("\"stale\""))
            .await;
        assert_eq!(
            stale.status, 412,
            "PATCH {path} with a stale If-Match: {}",
            stale.text
        );
        let invalid = app.patch(path, &json!({"no_such_field": 1}), None).await;
        assert_eq!(
            invalid.status, 422,
            "PATCH {path} with an unknown field: {}",
            invalid.text
        );
    }
}

#[actix_web::test]
async fn drafts_and_contacts_stay_private() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let own = app.key(Some(&w.lead), &["read:private"]).await;
    let foreign = app.key(Some(&w.other), &["read:private"]).await;

    app.act_as(None);
    let listed = app.get("/v1/projects").await;
    let ids: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![w.project.as_str()], "anonymous lists no drafts");
    let published = app.get(&format!("/v1/projects/{}", w.project)).await;
    assert!(
        published.body.get("contact").is_none(),
        "no contact for anonymous"
    );
    assert!(!published.text.contains("anna@example.org"));

    app.act_as(Some(&foreign));
    let listed = app.get("/v1/projects?count=true").await;
    assert_eq!(
        listed.body["total"], 1,
        "another organisation's drafts stay hidden"
    );
    let published = app.get(&format!("/v1/projects/{}", w.project)).await;
    assert!(
        published.body.get("contact").is_none(),
        "not its project: no contact"
    );

    app.act_as(Some(&own));
    let listed = app.get("/v1/projects?count=true").await;
    assert_eq!(listed.body["total"], 2, "its own draft is listed");
    let draft = app.get(&format!("/v1/projects/{}", w.draft)).await;
    assert_eq!(draft.status, 200);
    assert_eq!(draft.body["contact"]["email"], "anna@example.org");

    // The programme's co-administrator reads the drafts and contacts of the programme's
    // projects, in lists, single reads and exports alike.
    let administrator = app.key(Some(&w.administrator), &["read:private"]).await;
    app.act_as(Some(&administrator));
    let listed = app.get("/v1/projects?count=true").await;
    assert_eq!(listed.body["total"], 2, "the administered draft is listed");
    let draft = app.get(&format!("/v1/projects/{}", w.draft)).await;
    assert_eq!(draft.body["contact"]["email"], "anna@example.org");
    let csv = app.get("/v1/exports/projects.csv").await;
    assert!(csv.text.contains("Draft project"), "{}", csv.text);
}

#[actix_web::test]
async fn keys_are_shown_once_stored_hashed_and_can_be_revoked() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let created = app
        .post_json(
            "/v1/api-keys",
            &json!({"organisation_id": w.lead, "name": "LSK system", "scopes": ["metrics:write"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let key = created.body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("kopa_") && key.len() == 45, "{key}");
    assert_eq!(created.body["prefix"], &key[..12]);
    let stored = app
        .query_strings(&format!(
            "SELECT encode(secret_hash, 'hex') FROM api_keys WHERE id = '{}'",
            created.body["id"].as_str().unwrap()
        ))
        .await;
    assert!(!stored[0].contains(&key[5..]), "only a hash is stored");

    let listed = app.get("/v1/api-keys").await;
    assert_eq!(listed.status, 200);
    assert!(
        !listed.text.contains(&key),
        "listings never show the secret"
    );

    app.act_as(Some(&key));
    assert_eq!(app.get("/v1/projects").await.status, 200);
    app.act_as(Some(&app.operator_token.clone()));
    let revoked = app
        .delete(
            &format!("/v1/api-keys/{}", created.body["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    app.act_as(Some(&key));
    let refused = app.get("/v1/projects").await;
    refused.assert_problem(401);
    assert!(refused.detail().contains("revoked"), "{}", refused.text);
    assert!(refused
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));

    // Expired, unknown and malformed keys.
    app.act_as(Some(&app.operator_token.clone()));
    let expired = app
        .post_json(
            "/v1/api-keys",
            &json!({"organisation_id": w.lead, "name": "old", "scopes": ["metrics:write"], "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    let expired = expired.body["key"].as_str().unwrap().to_owned();
    for (token, says) in [
        (expired.as_str(), "expired"),
        ("kopa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "unknown"),
        ("not-a-key", "malformed"),
    ] {
        app.act_as(Some(token));
        let refused = app.get("/v1/organisations").await;
        refused.assert_problem(401);
        assert!(refused.detail().contains(says), "{token}: {}", refused.text);
    }
    let wrong_scheme = app
        .request(
            TestRequest::get()
                .uri("/v1/organisations")
                .insert_header((header::AUTHORIZATION, "Basic dXNlcjpwYXNz")),
        )
        .await;
    wrong_scheme.assert_problem(401);

    // last_used_at is kept.
    app.act_as(Some(&app.operator_token.clone()));
    let listed = app.get("/v1/api-keys").await;
    let used = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created.body["id"])
        .unwrap()
        .clone();
    assert!(used["last_used_at"].is_string(), "{used}");
}

#[actix_web::test]
async fn an_operator_key_without_organisation_must_be_admin_only() {
    let app = TestApp::new().await;
    let response = app
        .post_json(
            "/v1/api-keys",
            &json!({"name": "loose", "scopes": ["metrics:write"]}),
        )
        .await;
    response.assert_problem(422);
    assert_eq!(response.error_fields(), vec!["organisation_id"]);
}

#[actix_web::test]
async fn writes_are_attributed_to_the_key_and_its_organisation() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let key = app.key(Some(&w.partner), &["metrics:write"]).await;
    app.act_as(Some(&key));
    let pushed = app
        .post_json(
            &format!("/v1/projects/{}/metrics", w.project),
            &json!({"indicator": "people_trained", "value": 130}),
        )
        .await;
    assert_eq!(pushed.status, 201, "{}", pushed.text);
    let metric = pushed.body["id"].as_str().unwrap().to_owned();
    let revisions = app.get(&format!("/v1/metrics/{metric}/revisions")).await;
    let revision = &revisions.body["data"][0];
    assert_eq!(revision["organisation_id"], w.partner.as_str());
    assert!(revision["api_key_id"].is_string(), "{revision}");
    let audit = app
        .query_strings(&format!(
            "SELECT resource || ' ' || op || ' ' || coalesce(organisation_id::text, '-') \
             FROM audit_log WHERE record_id = '{metric}'"
        ))
        .await;
    assert_eq!(audit, vec![format!("metric create {}", w.partner)]);
}

#[actix_web::test]
async fn rate_limits_answer_429_with_headers() {
    let app = TestApp::with_limits(kopa::auth::rate_limit::RateLimits {
        anonymous: 3,
        key: 0,
    })
    .await;
    app.act_as(None);
    let mut last = None;
    for expected_remaining in ["2", "1", "0"] {
        let response = app
            .request(
                TestRequest::get()
                    .uri("/v1/vocabularies")
                    .peer_addr("10.1.2.3:5000".parse().unwrap()),
            )
            .await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("ratelimit-limit"), Some("3"));
        assert_eq!(
            response.header("ratelimit-remaining"),
            Some(expected_remaining)
        );
        last = Some(response);
    }
    assert!(last.unwrap().header("ratelimit-reset").is_some());
    let refused = app
        .request(
            TestRequest::get()
                .uri("/v1/vocabularies")
                .peer_addr("10.1.2.3:5000".parse().unwrap()),
        )
        .await;
    refused.assert_problem(429);
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let elsewhere = app
        .request(
            TestRequest::get()
                .uri("/v1/vocabularies")
                .peer_addr("10.9.9.9:5000".parse().unwrap()),
        )
        .await;
    assert_eq!(elsewhere.status, 200, "limits are per client");
}

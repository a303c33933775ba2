//! Response shapes, pinned: one single-record response and one list page of every resource,
//! plus the change feed, stats, a batch summary and two problem responses, each compared with
//! the accepted snapshot under `snapshots/`. A change to any field's name, type, presence or
//! order fails here until the snapshot is reviewed and accepted again (`cargo insta review`, or
//! `INSTA_UPDATE=always`); with `CI=true` a missing snapshot fails instead of being written.
//!
//! Everything the server makes up (ids, timestamps, cursors, key secrets and prefixes, request
//! ids) is redacted; a redacted field that is null stays null, so presence is still pinned.
//! Everything else comes from the fixed data the tests write through the API.

use std::time::Duration;

use insta::internals::Content;
use serde_json::{json, Value};

use crate::support::{create_organisation, organisation, Resp, TestApp};

/// Replaces a present string with `label`; a null stays null and any other value keeps its type
/// in the label (`[id:number]`), so a field that changes type or nullability still fails.
fn present(label: &'static str) -> insta::internals::Redaction {
    insta::dynamic_redaction(move |value: Content, _| {
        if value.is_nil() {
            value
        } else if value.as_str().is_some() {
            Content::from(label)
        } else {
            let kind = if value.as_bool().is_some() {
                "bool"
            } else if value.as_i64().is_some()
                || value.as_u64().is_some()
                || value.as_f64().is_some()
            {
                "number"
            } else {
                "other"
            };
            Content::from(format!("{}:{kind}]", label.trim_end_matches(']')))
        }
    })
}

/// Replaces every UUID inside a string (a URL, a problem's `instance`) with `[id]`.
fn ids_in_text() -> insta::internals::Redaction {
    insta::dynamic_redaction(|value: Content, _| match value.as_str() {
        Some(text) => {
            let uuid = regex::Regex::new(
                "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            )
            .expect("a valid pattern");
            Content::from(uuid.replace_all(text, "[id]").into_owned())
        }
        None => value,
    })
}

/// The redactions every snapshot shares: at any depth, so embedded records are covered too.
fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for field in [
        "id",
        "project_id",
        "organisation_id",
        "lead_organisation_id",
        "programme_id",
        "funder_id",
        "administrator_id",
        "activity_id",
        "api_key_id",
    ] {
        settings.add_redaction(&format!(".**.{field}"), present("[id]"));
    }
    for field in [
        "created_at",
        "updated_at",
        "changed_at",
        "last_used_at",
        "revoked_at",
    ] {
        settings.add_redaction(&format!(".**.{field}"), present("[timestamp]"));
    }
    settings.add_redaction(".**.cursor", present("[cursor]"));
    settings.add_redaction(".**.next_cursor", present("[cursor]"));
    settings.add_redaction(".**.prefix", present("[prefix]"));
    settings.add_redaction(".key", present("[secret]"));
    settings.add_redaction(".request_id", present("[request_id]"));
    settings.add_redaction(".**.url", ids_in_text());
    settings.add_redaction(".instance", ids_in_text());
    settings.add_redaction(".detail", ids_in_text());
    settings
}

/// Asserts `response` has `status` and its body matches the snapshot `name`.
#[track_caller]
fn snap(name: &str, response: &Resp, status: u16) {
    assert_eq!(response.status, status, "{name}: {}", response.text);
    settings().bind(|| insta::assert_json_snapshot!(name, response.body));
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.post_json(path, &body).await;
    assert_eq!(response.status, 201, "POST {path}: {}", response.text);
    response.body
}

/// A small registry with every kind of record, written through the API as the operator.
struct Registry {
    lead: String,
    programme: String,
    project: String,
    partner: String,
    activity: String,
    metric: String,
}

async fn registry(app: &TestApp) -> Registry {
    let lead = id(&create_organisation(app, &organisation("Izglītības iniciatīvu centrs")).await);
    let partner_org =
        id(&create_organisation(app, &organisation("Jēkabpils NVO resursu centrs")).await);
    let funder = id(&post(
        app,
        "/v1/organisations",
        json!({"name": "Sabiedrības integrācijas fonds", "short_name": "SIF", "kind": "foundation",
               "country": "LV", "registration_number": "90001237169", "website": "https://www.sif.gov.lv"}),
    )
    .await);
    let programme = id(&post(
        app,
        "/v1/programmes",
        json!({"name": "Eiropas Sociālā fonda apakšaktivitāte 1.5.2.2.2", "short_name": "ESF 1.5.2.2.2",
               "code": "1.5.2.2.2", "description": "Atbalsts sociālās integrācijas programmām.",
               "organisations": [{"organisation_id": funder, "role": "funder"},
                                 {"organisation_id": lead, "role": "administrator"}],
               "start_date": "2012-01-01",
               "end_date": "2014-12-31", "website": "https://www.esfondi.lv"}),
    )
    .await);
    post(
        app,
        "/v1/indicators",
        json!({"code": "people_trained", "name": "People trained", "name_lv": "Apmācītie cilvēki",
               "description": "People who finished a course or training.", "unit": "person",
               "aggregation": "sum"}),
    )
    .await;
    let project = id(&post(
        app,
        "/v1/projects",
        json!({
            "reference": "1DP/1.5.2.2.2/12/APIA/SIF/176",
            "title": "Koalīcija mazākumtautību politiskai līdzdalībai valsts sektorā",
            "title_en": "Coalition for minority political participation",
            "summary": "Builds a coalition of minority NGOs.",
            "aim": "stiprināt mazākumtautību NVO kapacitāti",
            "problem": "vāja mazākumtautību līdzdalība",
            "objectives": ["izveidot koalīciju", "apmācīt pārstāvjus"],
            "status": "active",
            "lead_organisation_id": lead,
            "programme_id": programme,
            "start_date": "2012-09-01",
            "end_date": "2013-08-31",
            "date_precision": "month",
            "places": ["Daugavpils", "Rīga"],
            "regions": ["latgale", "riga"],
            "target_groups": ["minority_ngos", "ngos"],
            "total_budget": "48875.5",
            "currency": "EUR",
            "website": "https://www.iic.lv",
            "contact": {"name": "Kristīne Liepiņa", "email": "kristine@iic.lv", "phone": "65235635"},
            "source_document": "003_6a0a2d907bb83948.txt",
            "funding": [
                {"programme_id": programme, "share_percent": 92.07, "amount": "45000", "currency": "EUR"},
                {"funder_id": lead, "share_percent": 7.93}
            ],
            "translations": {
                "en": {"title": "Coalition for minority political participation in the public sector",
                       "summary": "A coalition of minority NGOs.", "aim": "Strengthen minority NGOs."},
                "ru": {"title": "Коалиция за политическое участие меньшинств"}
            }
        }),
    )
    .await);
    // A second, plainer project so the list has more than one shape of record.
    post(
        app,
        "/v1/projects",
        json!({"title": "Latgales kopienu centri", "status": "completed", "lead_organisation_id": partner_org}),
    )
    .await;
    let partner = id(&post(
        app,
        &format!("/v1/projects/{project}/partners"),
        json!({"organisation_id": partner_org, "role": "partner", "description": "Regional workshops"}),
    )
    .await);
    let activity = id(&post(
        app,
        &format!("/v1/projects/{project}/activities"),
        json!({"title": "Latviešu valodas kursi", "kind": "course", "description": "Evening classes.",
               "start_date": "2012-10-01", "end_date": "2013-05-31", "place": "Daugavpils",
               "region": "latgale", "participants": 48, "target_groups": ["minority_ngos"]}),
    )
    .await);
    post(
        app,
        &format!("/v1/projects/{project}/activities"),
        json!({"title": "Noslēguma konference", "kind": "event"}),
    )
    .await;
    let metric = id(&post(
        app,
        &format!("/v1/projects/{project}/metrics"),
        json!({"indicator": "people_trained", "activity_id": activity, "period_start": "2012-10-01",
               "period_end": "2012-12-31", "target_group": "minority_ngos", "kind": "actual",
               "value": 40, "note": "First term."}),
    )
    .await);
    // An update, so the metric has two revisions and a version of 2.
    let patched = app
        .patch(
            &format!("/v1/metrics/{metric}"),
            &json!({"value": 48, "note": "First term, late joiners counted."}),
            None,
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    post(
        app,
        &format!("/v1/projects/{project}/metrics"),
        json!({"indicator": "people_trained", "period_start": "2013-01-01", "period_end": "2013-08-31",
               "kind": "target", "value": 120}),
    )
    .await;
    Registry {
        lead,
        programme,
        project,
        partner,
        activity,
        metric,
    }
}

#[actix_web::test]
async fn snapshots_of_records_and_lists() {
    let app = TestApp::new().await;
    let r = registry(&app).await;
    let private = app.key(Some(&r.lead), &["read:private"]).await;
    app.act_as(None);

    snap(
        "organisation",
        &app.get(&format!("/v1/organisations/{}", r.lead)).await,
        200,
    );
    snap(
        "organisation_list",
        &app.get("/v1/organisations?limit=2").await,
        200,
    );
    snap(
        "programme",
        &app.get(&format!("/v1/programmes/{}", r.programme)).await,
        200,
    );
    snap("programme_list", &app.get("/v1/programmes").await, 200);
    snap(
        "project",
        &app.get(&format!("/v1/projects/{}", r.project)).await,
        200,
    );
    snap(
        "project_included",
        &app.get(&format!(
            "/v1/projects/{}?include=partners,activities,metrics,lead_organisation,programme",
            r.project
        ))
        .await,
        200,
    );
    snap(
        "project_list",
        &app.get("/v1/projects?count=true").await,
        200,
    );
    snap(
        "partner",
        &app.get(&format!(
            "/v1/projects/{}/partners/{}",
            r.project, r.partner
        ))
        .await,
        200,
    );
    snap(
        "partner_list",
        &app.get(&format!("/v1/projects/{}/partners", r.project))
            .await,
        200,
    );
    snap(
        "activity",
        &app.get(&format!("/v1/activities/{}", r.activity)).await,
        200,
    );
    snap("activity_list", &app.get("/v1/activities").await, 200);
    snap(
        "indicator",
        &app.get("/v1/indicators/people_trained").await,
        200,
    );
    snap("indicator_list", &app.get("/v1/indicators").await, 200);
    snap(
        "metric",
        &app.get(&format!("/v1/metrics/{}", r.metric)).await,
        200,
    );
    snap("metric_list", &app.get("/v1/metrics").await, 200);

    // Revisions name who wrote them: read with a key.
    app.act_as(Some(&app.operator_token.clone()));
    snap(
        "metric_revision_list",
        &app.get(&format!("/v1/metrics/{}/revisions", r.metric))
            .await,
        200,
    );

    // The contact person is shown on a single read with a key that may see it.
    app.act_as(Some(&private));
    snap(
        "project_with_contact",
        &app.get(&format!("/v1/projects/{}", r.project)).await,
        200,
    );
}

#[actix_web::test]
async fn snapshots_of_vocabularies() {
    let app = TestApp::new().await;
    app.act_as(None);
    snap(
        "vocabulary",
        &app.get("/v1/vocabularies/partner_roles").await,
        200,
    );
    snap("vocabulary_list", &app.get("/v1/vocabularies").await, 200);
}

#[actix_web::test]
async fn snapshots_of_api_keys() {
    let app = TestApp::new().await;
    let org = id(&create_organisation(&app, &organisation("Atslēgu biedrība")).await);
    let created = app
        .post_json(
            "/v1/api-keys",
            &json!({"organisation_id": org, "name": "LSK system",
                    "scopes": ["metrics:write", "read:private"], "expires_at": "2030-01-01T00:00:00Z"}),
        )
        .await;
    snap("api_key_created", &created, 201);
    let revoked = app
        .delete(&format!("/v1/api-keys/{}", id(&created.body)), None)
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    app.key(Some(&org), &["projects:write"]).await;
    snap("api_key_list", &app.get("/v1/api-keys").await, 200);
}

/// Reads the first `count` changes once more are ready after them, polling while another
/// test's open transaction (transaction ids are cluster-wide) holds the feed back: until then
/// the page could be shorter, or end with `has_more: false`.
async fn first_changes(app: &TestApp, count: usize) -> Resp {
    for _ in 0..200 {
        let page = app.get(&format!("/v1/changes?limit={count}")).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let served = page.body["data"].as_array().map_or(0, Vec::len);
        if served == count && page.body["has_more"] == true {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the change feed did not serve {count} changes and more");
}

#[actix_web::test]
async fn snapshots_of_the_change_feed_stats_and_batches() {
    let app = TestApp::new().await;
    let r = registry(&app).await;

    let batch = app
        .post_json(
            "/v1/metrics/batch",
            &json!({"items": [
                {"project": r.project, "indicator": "people_trained", "activity_id": r.activity,
                 "period_start": "2012-10-01", "period_end": "2012-12-31",
                 "target_group": "minority_ngos", "kind": "actual", "value": 48,
                 "note": "First term, late joiners counted."},
                {"project": r.project, "indicator": "people_trained", "period_start": "2013-01-01",
                 "period_end": "2013-08-31", "kind": "target", "value": 130},
                {"project": "1DP/1.5.2.2.2/12/APIA/SIF/176", "indicator": "people_trained",
                 "period_start": "2013-01-01", "period_end": "2013-08-31", "kind": "actual", "value": 75}
            ]}),
        )
        .await;
    snap("metric_batch_summary", &batch, 200);

    app.act_as(None);
    snap(
        "stats_by_region",
        &app.get("/v1/stats/indicators/people_trained?group_by=region")
            .await,
        200,
    );
    snap("change_page", &first_changes(&app, 8).await, 200);
}

#[actix_web::test]
async fn snapshots_of_problems() {
    let app = TestApp::new().await;
    let lead = id(&create_organisation(&app, &organisation("Kļūdu biedrība")).await);
    let invalid = app
        .post_json(
            "/v1/projects",
            &json!({"title": "", "status": "active", "lead_organisation_id": lead,
                    "start_date": "2013-01-01", "end_date": "2012-01-01",
                    "website": "ftp://example.org", "regions": ["atlantis"],
                    "total_budget": "12.345", "currency": "EUR"}),
        )
        .await;
    invalid.assert_problem(422);
    assert!(invalid.error_fields().len() > 1, "{}", invalid.text);
    snap("problem_422", &invalid, 422);
    app.act_as(None);
    let missing = app
        .get("/v1/projects/01900000-0000-7000-8000-000000000404")
        .await;
    missing.assert_problem(404);
    snap("problem_404", &missing, 404);
}

//! Programmes, projects (with funding), partners, activities, indicators, metric values and
//! vocabularies: success paths, merge-patch semantics, ETags and the errors each can give.

use serde_json::{json, Value};

use crate::support::{create_organisation, organisation, TestApp};

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.post_json(path, &body).await;
    assert_eq!(response.status, 201, "POST {path}: {}", response.text);
    assert!(
        response.header("etag").is_some(),
        "POST {path} gives an ETag"
    );
    assert!(
        response.header("location").is_some(),
        "POST {path} gives a Location"
    );
    response.body
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// An organisation, a programme and a project led by it.
async fn project_fixture(app: &TestApp) -> (String, String, Value) {
    let org = id(&create_organisation(app, &organisation("Izglītības iniciatīvu centrs")).await);
    let programme = id(&created(
        app,
        "/v1/programmes",
        json!({"name": "Eiropas Sociālā fonda apakšaktivitāte 1.5.2.2.2", "code": "1.5.2.2.2", "organisations": [{"organisation_id": org, "role": "administrator"}]}),
    )
    .await);
    let project = created(
        app,
        "/v1/projects",
        json!({
            "reference": "1DP/1.5.2.2.2/12/APIA/SIF/176",
            "title": "Koalīcija mazākumtautību politiskai līdzdalībai valsts sektorā",
            "status": "completed",
            "lead_organisation_id": org,
            "programme_id": programme,
            "start_date": "2012-09-01",
            "end_date": "2013-08-31",
            "date_precision": "month",
            "regions": ["latvia"],
            "target_groups": ["minority_ngos", "ngos"],
            "objectives": ["izveidot koalīciju"],
            "contact": {"name": "Kristīne Liepiņa", "email": "kristine@iic.lv", "phone": "65235635"},
            "funding": [{"programme_id": programme, "share_percent": 92.07}]
        }),
    )
    .await;
    (org, programme, project)
}

#[actix_web::test]
async fn project_round_trip_keeps_funding_and_hides_the_contact() {
    let app = TestApp::new().await;
    let (_, programme, project) = project_fixture(&app).await;
    assert_eq!(project["version"], 1);
    assert_eq!(project["funding"][0]["share_percent"], 92.07);
    assert_eq!(project["funding"][0]["programme_id"], programme.as_str());
    assert!(
        project.get("contact").is_none(),
        "contacts are personal data: {project}"
    );

    let path = format!("/v1/projects/{}", id(&project));
    app.act_as(None);
    let fetched = app.get(&path).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["reference"], "1DP/1.5.2.2.2/12/APIA/SIF/176");
    assert_eq!(fetched.body["date_precision"], "month");
    assert!(
        !fetched.text.contains("kristine@iic.lv"),
        "anonymous: no contact"
    );
    let operator = app.operator_token.clone();
    app.act_as(Some(&operator));
    let private = app.get(&path).await;
    assert_eq!(
        private.body["contact"]["email"], "kristine@iic.lv",
        "admin sees it"
    );

    let by_reference = app
        .get("/v1/projects?reference=1DP%2F1.5.2.2.2%2F12%2FAPIA%2FSIF%2F176")
        .await;
    assert_eq!(by_reference.body["data"].as_array().unwrap().len(), 1);
    let by_group = app
        .get("/v1/projects?target_group=ngos&region=latvia&count=true")
        .await;
    assert_eq!(by_group.body["total"], 1);
    let none = app.get("/v1/projects?target_group=seniors").await;
    assert_eq!(none.body["data"].as_array().unwrap().len(), 0);
    let by_programme = app
        .get(&format!("/v1/projects?programme={programme}"))
        .await;
    assert_eq!(by_programme.body["data"].as_array().unwrap().len(), 1);
    let bad_status = app.get("/v1/projects?status=finished").await;
    bad_status.assert_problem(400);
    assert_eq!(bad_status.error_field(0), "status");
}

#[actix_web::test]
async fn project_patch_merges_replaces_arrays_and_keeps_the_contact() {
    let app = TestApp::new().await;
    let (org, _, project) = project_fixture(&app).await;
    let path = format!("/v1/projects/{}", id(&project));
    let etag = app.get(&path).await.header("etag").unwrap().to_owned();

    let patched = app
        .patch(
            &path,
            &json!({"title_en": "Minority coalition", "target_groups": ["ngos"], "funding": [
            {"funder_id": org, "share_percent": 75}, {"funder_id": org, "share_percent": 25}]}),
            Some(&etag),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.body["title_en"], "Minority coalition");
    assert_eq!(patched.body["target_groups"], json!(["ngos"]));
    assert_eq!(patched.body["funding"].as_array().unwrap().len(), 2);
    assert_eq!(
        patched.body["reference"], project["reference"],
        "untouched fields stay"
    );
    assert_ne!(patched.header("etag").unwrap(), etag);

    // The contact survived the patch: it is still stored.
    let stale = app
        .patch(&path, &json!({"title_en": null}), Some(&etag))
        .await;
    stale.assert_problem(412);

    let cleared = app.patch(&path, &json!({"title_en": null}), None).await;
    assert_eq!(cleared.status, 200);
    assert!(cleared.body["title_en"].is_null());

    let over = app.patch(&path, &json!({"funding": [{"funder_id": org, "share_percent": 60}, {"funder_id": org, "share_percent": 50}]}), None).await;
    over.assert_problem(422);
    assert_eq!(over.error_field(0), "funding");
    let period = app
        .patch(&path, &json!({"end_date": "2011-01-01"}), None)
        .await;
    period.assert_problem(422);
    assert_eq!(period.error_field(0), "end_date");
    let nested = app
        .patch(&path, &json!({"funding": [{"share_percent": 10}]}), None)
        .await;
    nested.assert_problem(422);
    assert_eq!(nested.error_field(0), "funding[0].programme_id");
    let unknown_code = app
        .patch(&path, &json!({"regions": ["atlantis"]}), None)
        .await;
    unknown_code.assert_problem(422);
    assert_eq!(unknown_code.error_field(0), "regions");
    assert_eq!(unknown_code.error_code(0), "unknown_code");
    let after = app.get(&path).await;
    assert_eq!(after.body["version"], 3, "failed patches change nothing");
}

#[actix_web::test]
async fn project_rules_and_conflicts() {
    let app = TestApp::new().await;
    let (org, _, _) = project_fixture(&app).await;
    let duplicate = app
        .post_json("/v1/projects", &json!({"reference": "1DP/1.5.2.2.2/12/APIA/SIF/176", "title": "Other", "status": "active", "lead_organisation_id": org}))
        .await;
    duplicate.assert_problem(409);
    assert_eq!(duplicate.error_field(0), "reference");

    let unknown_lead = app
        .post_json("/v1/projects", &json!({"title": "X", "status": "active", "lead_organisation_id": uuid::Uuid::now_v7()}))
        .await;
    unknown_lead.assert_problem(422);
    assert_eq!(unknown_lead.error_field(0), "lead_organisation_id");

    let bad_budget = app
        .post_json("/v1/projects", &json!({"title": "X", "status": "active", "lead_organisation_id": org, "total_budget": "12.345", "currency": "EUR"}))
        .await;
    bad_budget.assert_problem(422);
    assert_eq!(bad_budget.error_field(0), "total_budget");

    let money = created(
        &app,
        "/v1/projects",
        json!({"title": "Budgeted", "status": "planned", "lead_organisation_id": org, "total_budget": "48875.5", "currency": "EUR"}),
    )
    .await;
    assert_eq!(money["total_budget"], "48875.50");

    let referenced = app.delete(&format!("/v1/organisations/{org}"), None).await;
    referenced.assert_problem(409);
    assert!(
        referenced
            .error_fields()
            .iter()
            .any(|f| f == "projects.lead_organisation_id"),
        "{}",
        referenced.text
    );
}

#[actix_web::test]
async fn partners_activities_and_metrics_through_their_project() {
    let app = TestApp::new().await;
    let (_, _, project) = project_fixture(&app).await;
    let project_id = id(&project);
    let partner_org =
        id(&create_organisation(&app, &organisation("Jēkabpils NVO resursu centrs")).await);

    let partner = created(
        &app,
        &format!("/v1/projects/{project_id}/partners"),
        json!({"organisation_id": partner_org, "role": "partner"}),
    )
    .await;
    let twice = app
        .post_json(
            &format!("/v1/projects/{project_id}/partners"),
            &json!({"organisation_id": partner_org, "role": "partner"}),
        )
        .await;
    twice.assert_problem(409);
    assert_eq!(twice.error_field(0), "organisation_id");
    let bad_role = app
        .post_json(
            &format!("/v1/projects/{project_id}/partners"),
            &json!({"organisation_id": partner_org, "role": "boss"}),
        )
        .await;
    bad_role.assert_problem(422);
    assert_eq!(bad_role.error_code(0), "unknown_code");
    let partner_path = format!("/v1/projects/{project_id}/partners/{}", id(&partner));
    let role = app
        .patch(
            &partner_path,
            &json!({"role": "co_implementer", "description": "Regional workshops"}),
            None,
        )
        .await;
    assert_eq!(role.status, 200, "{}", role.text);
    assert_eq!(role.body["role"], "co_implementer");
    let listed = app
        .get(&format!(
            "/v1/projects/{project_id}/partners?role=co_implementer"
        ))
        .await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    let in_projects = app
        .get(&format!("/v1/projects?organisation={partner_org}"))
        .await;
    assert_eq!(
        in_projects.body["data"].as_array().unwrap().len(),
        1,
        "partners find their projects"
    );

    let activity = created(
        &app,
        &format!("/v1/projects/{project_id}/activities"),
        json!({"title": "NVO apmācības", "kind": "training", "start_date": "2013-01-10", "end_date": "2013-01-11", "participants": 94, "target_groups": ["ngos"]}),
    )
    .await;
    let activity_path = format!("/v1/activities/{}", id(&activity));
    assert_eq!(app.get(&activity_path).await.body["participants"], 94);
    let negative = app
        .patch(&activity_path, &json!({"participants": -1}), None)
        .await;
    negative.assert_problem(422);
    assert_eq!(negative.error_field(0), "participants");

    let indicator = created(&app, "/v1/indicators", json!({"code": "people_trained", "name": "People trained", "unit": "person", "aggregation": "sum"})).await;
    assert_eq!(indicator["code"], "people_trained");
    let metric = created(
        &app,
        &format!("/v1/projects/{project_id}/metrics"),
        json!({"indicator": "people_trained", "activity_id": id(&activity), "period_start": "2013-01-01", "period_end": "2013-08-31", "value": 94}),
    )
    .await;
    assert_eq!(metric["kind"], "actual");
    assert_eq!(metric["value"], 94.0);
    let same_key = app
        .post_json(&format!("/v1/projects/{project_id}/metrics"), &json!({"indicator": "people_trained", "activity_id": id(&activity), "period_start": "2013-01-01", "period_end": "2013-08-31", "value": 95}))
        .await;
    same_key.assert_problem(409);
    let unknown_indicator = app
        .post_json(
            &format!("/v1/projects/{project_id}/metrics"),
            &json!({"indicator": "nope", "value": 1}),
        )
        .await;
    unknown_indicator.assert_problem(422);
    assert_eq!(unknown_indicator.error_field(0), "indicator");
    let half_period = app
        .post_json(
            &format!("/v1/projects/{project_id}/metrics"),
            &json!({"indicator": "people_trained", "period_start": "2013-01-01", "value": 1}),
        )
        .await;
    half_period.assert_problem(422);
    assert_eq!(half_period.error_field(0), "period_end");

    let metric_path = format!("/v1/metrics/{}", id(&metric));
    let changed = app
        .patch(&metric_path, &json!({"value": 96.25}), None)
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["value"], 96.25);
    let revisions = app.get(&format!("{metric_path}/revisions")).await;
    let list = revisions.body["data"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["old_value"], 94.0);
    assert_eq!(list[1]["new_value"], 96.25);

    let across = app
        .get("/v1/metrics?indicator=people_trained&count=true")
        .await;
    assert_eq!(across.body["total"], 1);
    let in_use = app.delete("/v1/indicators/people_trained", None).await;
    in_use.assert_problem(409);

    // Deleting the activity takes its numbers along; the revisions remain.
    assert_eq!(app.delete(&activity_path, None).await.status, 204);
    assert_eq!(app.get(&metric_path).await.status, 404);
    let kept = app.get(&format!("{metric_path}/revisions")).await;
    assert_eq!(
        kept.body["data"].as_array().unwrap().last().unwrap()["op"],
        "delete"
    );

    // Deleting the project removes its partners.
    assert_eq!(
        app.delete(&format!("/v1/projects/{project_id}"), None)
            .await
            .status,
        204
    );
    app.get(&partner_path).await.assert_problem(404);
    app.get(&format!("/v1/projects/{project_id}/partners"))
        .await
        .assert_problem(404);
    assert_eq!(
        app.delete(&format!("/v1/organisations/{partner_org}"), None)
            .await
            .status,
        204
    );
}

#[actix_web::test]
async fn an_activity_number_must_belong_to_the_same_project() {
    let app = TestApp::new().await;
    let (org, _, project) = project_fixture(&app).await;
    let other = created(
        &app,
        "/v1/projects",
        json!({"title": "Other", "status": "active", "lead_organisation_id": org}),
    )
    .await;
    let activity = created(
        &app,
        &format!("/v1/projects/{}/activities", id(&other)),
        json!({"title": "Lekcija", "kind": "lecture"}),
    )
    .await;
    created(&app, "/v1/indicators", json!({"code": "participants", "name": "Participants", "unit": "person", "aggregation": "sum"})).await;
    let crossed = app
        .post_json(
            &format!("/v1/projects/{}/metrics", id(&project)),
            &json!({"indicator": "participants", "activity_id": id(&activity), "value": 71}),
        )
        .await;
    crossed.assert_problem(422);
    assert_eq!(crossed.error_field(0), "activity_id");
}

#[actix_web::test]
async fn programmes_and_indicators_crud() {
    let app = TestApp::new().await;
    let programme = created(
        &app,
        "/v1/programmes",
        json!({"name": "NVO fonds", "start_date": "2009-01-01", "end_date": "2014-12-31"}),
    )
    .await;
    let path = format!("/v1/programmes/{}", id(&programme));
    let etag = app.get(&path).await.header("etag").unwrap().to_owned();
    let not_modified = app
        .request(
            actix_web::test::TestRequest::get()
                .uri(&path)
                .insert_header(("If-None-Match", etag.as_str())),
        )
        .await;
    assert_eq!(not_modified.status, 304);
    let reversed = app
        .patch(&path, &json!({"end_date": "2008-01-01"}), None)
        .await;
    reversed.assert_problem(422);
    assert_eq!(reversed.error_field(0), "end_date");
    let duplicate = app
        .post_json("/v1/programmes", &json!({"name": "nvo FONDS"}))
        .await;
    duplicate.assert_problem(409);
    assert_eq!(duplicate.error_field(0), "name");
    assert_eq!(app.delete(&path, Some("\"stale\"")).await.status, 412);
    assert_eq!(app.delete(&path, Some(&etag)).await.status, 204);

    created(
        &app,
        "/v1/indicators",
        json!({"code": "volunteers", "name": "Volunteers", "unit": "person", "aggregation": "sum"}),
    )
    .await;
    let bad = app
        .post_json(
            "/v1/indicators",
            &json!({"code": "Bad Code", "name": "X", "unit": "person", "aggregation": "avg"}),
        )
        .await;
    bad.assert_problem(422);
    let renamed = app
        .patch(
            "/v1/indicators/volunteers",
            &json!({"code": "volunteers_involved"}),
            None,
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(app.get("/v1/indicators/volunteers").await.status, 404);
    assert_eq!(
        app.get("/v1/indicators/volunteers_involved").await.status,
        200
    );
    let page = app.get("/v1/indicators?limit=1").await;
    assert_eq!(page.body["data"][0]["code"], "volunteers_involved");
}

#[actix_web::test]
async fn vocabularies_list_their_terms() {
    let app = TestApp::new().await;
    let names = app.get("/v1/vocabularies").await;
    assert_eq!(names.body["data"].as_array().unwrap().len(), 8);
    let groups = app.get("/v1/vocabularies/target_groups").await;
    assert_eq!(groups.status, 200);
    let seniors = groups.body["terms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "seniors")
        .cloned()
        .unwrap();
    assert_eq!(seniors["label_lv"], "Seniori");
    app.get("/v1/vocabularies/colours")
        .await
        .assert_problem(404);
}

#[actix_web::test]
async fn nul_characters_are_refused_not_a_server_error() {
    let app = TestApp::new().await;
    let body = app
        .post_json(
            "/v1/organisations",
            &json!({"name": "Bad\u{0}Name", "kind": "ngo"}),
        )
        .await;
    body.assert_problem(422);
    assert_eq!(body.error_field(0), "name");
    let param = app.get("/v1/organisations?kind=%00").await;
    param.assert_problem(400);
    assert_eq!(param.error_field(0), "kind");
    app.get("/v1/indicators/%00").await.assert_problem(404);
    let patch_key = app.get("/v1/vocabularies/%00").await;
    patch_key.assert_problem(404);
}

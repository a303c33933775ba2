//! Who and on what source: programmes with all their bodies, sources as records cited with the
//! fields they give, inferred fields, exact and inexact numbers through stats, org-id.guide
//! identifiers, and the data licence on every data response.

use actix_web::http::header;
use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::seeds::load;
use crate::support::{create_organisation, organisation, TestApp};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.post_json(path, &body).await;
    assert_eq!(response.status, 201, "POST {path}: {}", response.text);
    response.body
}

const LICENSE: &str = "<https://creativecommons.org/licenses/by/4.0/>; rel=\"license\"";

fn licensed(response: &crate::support::Resp) -> bool {
    response
        .headers
        .get_all(header::LINK)
        .any(|v| v.to_str().is_ok_and(|v| v == LICENSE))
}

#[actix_web::test]
async fn every_data_response_names_the_data_licence() {
    let app = TestApp::new().await;
    load(&app).await;
    let project = app.get("/v1/projects?limit=1").await;
    let project_id = project.body["data"][0]["id"].as_str().unwrap().to_owned();
    for path in [
        "/v1/projects",
        "/v1/projects?limit=1",
        &format!("/v1/projects/{project_id}"),
        "/v1/organisations",
        "/v1/programmes?include=organisations",
        "/v1/sources",
        "/v1/territories",
        "/v1/vocabularies/regions",
        "/v1/changes?limit=2",
        "/v1/stats/indicators/participants?group_by=region",
        "/v1/exports/projects.csv",
        "/v1/exports/metrics.csv",
        "/v1/exports/activities.geojson",
        "/v1/exports/stats/indicators/participants.csv?group_by=year",
        "/v1/dump",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text);
        assert!(
            licensed(&response),
            "{path} names no licence: {:?}",
            response.headers
        );
    }
    // A page of a list keeps its `next` link beside the licence.
    let page = app.get("/v1/projects?limit=1").await;
    assert!(page
        .headers
        .get_all(header::LINK)
        .any(|v| v.to_str().unwrap().contains("rel=\"next\"")));
    // 304s too; errors and API keys are not data.
    let tag = app.get(&format!("/v1/projects/{project_id}")).await;
    let again = app
        .request(
            TestRequest::get()
                .uri(&format!("/v1/projects/{project_id}"))
                .insert_header((header::IF_NONE_MATCH, tag.header("etag").unwrap())),
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(licensed(&again));
    assert!(!licensed(&app.get("/v1/projects/not-an-id").await));
    assert!(!licensed(&app.get("/v1/api-keys").await));

    let spec: Value = serde_json::from_str(&kopa::app::spec().to_json().unwrap()).unwrap();
    assert_eq!(spec["info"]["x-data-license"]["name"], "CC-BY-4.0");
    assert_eq!(spec["info"]["license"]["identifier"], "MIT");
    assert!(spec["info"]["description"]
        .as_str()
        .unwrap()
        .contains("CC BY 4.0"));
}

/// A project with one value of indicator `count` per `(value, qualifier)`.
async fn values(app: &TestApp, lead: &str, title: &str, region: &str, values: &[(f64, &str)]) {
    let project = created(
        app,
        "/v1/projects",
        json!({"title": title, "status": "completed", "lead_organisation_id": lead, "regions": [region]}),
    )
    .await;
    for (i, (value, qualifier)) in values.iter().enumerate() {
        created(
            app,
            &format!("/v1/projects/{}/metrics", id(&project)),
            json!({"indicator": "count", "value": value, "qualifier": qualifier,
                   "period_start": format!("20{:02}-01-01", 10 + i), "period_end": format!("20{:02}-12-31", 10 + i)}),
        )
        .await;
    }
}

#[actix_web::test]
async fn stats_say_when_a_total_contains_inexact_values() {
    let app = TestApp::new().await;
    created(
        &app,
        "/v1/indicators",
        json!({"code": "count", "name": "Count", "unit": "person", "aggregation": "sum"}),
    )
    .await;
    let lead = id(&create_organisation(&app, &organisation("Counter")).await);
    values(
        &app,
        &lead,
        "Exact",
        "riga",
        &[(10.0, "exact"), (5.0, "exact")],
    )
    .await;
    values(
        &app,
        &lead,
        "More",
        "kurzeme",
        &[(10.0, "exact"), (5.0, "more_than")],
    )
    .await;
    values(
        &app,
        &lead,
        "Least",
        "zemgale",
        &[(10.0, "at_least"), (5.0, "exact")],
    )
    .await;
    values(
        &app,
        &lead,
        "Mixed",
        "latgale",
        &[(10.0, "at_least"), (5.0, "at_most")],
    )
    .await;
    values(
        &app,
        &lead,
        "About",
        "vidzeme",
        &[(10.0, "approximate"), (5.0, "more_than")],
    )
    .await;
    values(
        &app,
        &lead,
        "Less",
        "pieriga",
        &[(10.0, "less_than"), (5.0, "at_most")],
    )
    .await;
    let stats = app.get("/v1/stats/indicators/count?group_by=region").await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let by_region = |code: &str| -> (f64, String, i64) {
        let g = stats.body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == code)
            .unwrap();
        (
            g["value"].as_f64().unwrap(),
            g["qualifier"].as_str().unwrap().to_owned(),
            g["inexact_values"].as_i64().unwrap(),
        )
    };
    assert_eq!(by_region("riga"), (15.0, "exact".into(), 0));
    assert_eq!(by_region("kurzeme"), (15.0, "more_than".into(), 1));
    assert_eq!(by_region("zemgale"), (15.0, "at_least".into(), 1));
    assert_eq!(by_region("latgale"), (15.0, "approximate".into(), 2));
    assert_eq!(by_region("vidzeme"), (15.0, "approximate".into(), 2));
    assert_eq!(by_region("pieriga"), (15.0, "less_than".into(), 2));
    assert_eq!(stats.body["total"]["qualifier"], "approximate");
    assert_eq!(stats.body["total"]["inexact_values"], 8);
    let exact = app
        .get("/v1/stats/indicators/count?group_by=region&region=riga")
        .await;
    assert_eq!(exact.body["total"]["qualifier"], "exact");

    let csv = app
        .get("/v1/exports/stats/indicators/count.csv?group_by=region")
        .await;
    assert!(
        csv.text.lines().next().unwrap().contains("qualifier"),
        "{}",
        csv.text
    );
    assert!(csv.text.contains("more_than"));
    let more = app.get("/v1/metrics?qualifier=more_than&count=true").await;
    assert_eq!(more.body["total"], 2, "{}", more.text);

    // The seeds' "vairāk kā 1300" and "ap 30 tūkstoši".
    load(&app).await;
    let events = app
        .get("/v1/stats/indicators/ngo_events?group_by=year")
        .await;
    assert_eq!(events.body["total"]["value"], 1300.0);
    assert_eq!(events.body["total"]["qualifier"], "more_than");
    let visitors = app
        .get("/v1/stats/indicators/event_visitors?group_by=year")
        .await;
    assert_eq!(visitors.body["total"]["qualifier"], "approximate");
}

#[actix_web::test]
async fn batches_carry_qualifiers_and_an_unknown_one_is_refused() {
    let app = TestApp::new().await;
    load(&app).await;
    let body = |qualifier: &str| {
        json!({"items": [{"project": "2012.EEZ/PP/2/MAC/016/037", "indicator": "volunteers",
                          "period_start": "2014-01-01", "period_end": "2014-12-31",
                          "value": 60, "qualifier": qualifier}]})
    };
    let pushed = app.post_json("/v1/metrics/batch", &body("at_least")).await;
    assert_eq!(pushed.status, 200, "{}", pushed.text);
    assert_eq!(pushed.body["created"], 1);
    let changed = app.post_json("/v1/metrics/batch", &body("exact")).await;
    assert_eq!(changed.body["updated"], 1, "a new qualifier is a change");
    let refused = app.post_json("/v1/metrics/batch", &body("roughly")).await;
    refused.assert_problem(422);
    assert_eq!(
        refused.error_fields(),
        vec!["items[0].qualifier".to_owned()]
    );
}

#[actix_web::test]
async fn sources_are_records_cited_with_the_fields_they_give() {
    let app = TestApp::new().await;
    load(&app).await;
    let sources = app.get("/v1/sources?limit=200").await;
    let all = sources.body["data"].as_array().unwrap();
    assert!(
        all.len() >= 35,
        "every seed document and more-sources page: {}",
        all.len()
    );
    assert!(
        all.iter().all(|s| s["terms"].is_string()),
        "each says its terms"
    );
    let agenda = all
        .iter()
        .find(|s| s["title"] == "NVO dialoga platformas pirmās tikšanās programma")
        .expect("004's agenda is a source");
    assert!(agenda["url"].is_null());

    let projects = app.get("/v1/projects?q=daudzpusigi&include=sources").await;
    let project = &projects.body["data"][0];
    let status = project["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["fields"].as_array().unwrap().contains(&json!("status")))
        .unwrap();
    assert_eq!(status["source"]["published_on"], "2013-03-06");
    assert_eq!(project["status_stated_on"], "2013-03-06");
    assert_eq!(project["inferred"], json!(["status"]));
    // A status read from a 2013 page does not make the project active today.
    let active = app.get("/v1/projects?status=active&count=true").await;
    assert_eq!(active.body["total"], 0, "{}", active.text);

    let metrics = app.get("/v1/metrics?indicator=programmes_developed").await;
    assert_eq!(metrics.body["data"][0]["inferred"], json!(["value"]));
    assert_eq!(
        metrics.body["data"][0]["sources"].as_array().unwrap().len(),
        1
    );

    // Citing needs an existing source; a cited source cannot go.
    let lead = id(&create_organisation(&app, &organisation("Citer")).await);
    let refused = app
        .post_json(
            "/v1/projects",
            &json!({"title": "Cited", "status": "active", "lead_organisation_id": lead,
                    "sources": [{"source_id": "0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a90"}]}),
        )
        .await;
    refused.assert_problem(422);
    assert_eq!(
        refused.error_fields(),
        vec!["sources[0].source_id".to_owned()]
    );
    let source = agenda["id"].as_str().unwrap();
    let gone = app.delete(&format!("/v1/sources/{source}"), None).await;
    gone.assert_problem(409);
    let new = created(
        &app,
        "/v1/sources",
        json!({"title": "Gada pārskats", "publisher": "Citer", "language": "lv",
               "terms": "CC BY 4.0", "published_on": "2014-02-01"}),
    )
    .await;
    let organisation = created(
        &app,
        "/v1/organisations",
        json!({"name": "Cited body", "kind": "ngo", "country": "LV", "registration_number": "40008002279",
               "sources": [{"source_id": new["id"], "fields": ["registration_number"]}]}),
    )
    .await;
    assert_eq!(organisation["org_id"], "LV-RE-40008002279");
    assert_eq!(
        organisation["sources"][0]["fields"],
        json!(["registration_number"])
    );
    let by_identifier = app.get("/v1/organisations?org_id=LV-RE-40008002279").await;
    assert_eq!(by_identifier.body["data"].as_array().unwrap().len(), 1);
    for (country, number, expected) in [
        ("LV", "90009115622", Value::Null),
        ("NO", "864139442", json!("NO-BRC-864139442")),
        ("EE", "80011456", Value::Null),
    ] {
        let o = created(
            &app,
            "/v1/organisations",
            json!({"name": format!("Body {number}"), "kind": "municipality", "country": country,
                   "registration_number": number}),
        )
        .await;
        assert_eq!(o["org_id"], expected, "{country} {number}");
    }
}

#[actix_web::test]
async fn programmes_have_all_their_bodies_and_a_list_like_the_projects() {
    let app = TestApp::new().await;
    load(&app).await;
    let esf = app
        .get("/v1/programmes?q=administrativas%20kapacitates&include=organisations,projects")
        .await;
    assert_eq!(esf.status, 200, "{}", esf.text);
    let programme = &esf.body["data"][0];
    assert_eq!(programme["code"], "1.5.2.2.2");
    let roles: Vec<(String, String)> = programme["organisations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["organisation"]["name"].as_str().unwrap().to_owned(),
                b["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(roles.contains(&("Valsts kanceleja".into(), "administrator".into())));
    assert!(roles.contains(&(
        "Sabiedrības integrācijas fonds".into(),
        "co_administrator".into()
    )));
    assert_eq!(
        programme["administrator_id"],
        programme["organisations"][1]["organisation_id"]
    );
    assert_eq!(
        programme["projects"][0]["reference"],
        "1DP/1.5.2.2.2/12/APIA/SIF/176"
    );

    let sif = app
        .get("/v1/organisations?q=sabiedribas%20integracijas%20fonds")
        .await;
    let sif = id(&sif.body["data"][0]);
    let administered = app
        .get(&format!("/v1/programmes?administrator={sif}"))
        .await;
    assert_eq!(administered.body["data"].as_array().unwrap().len(), 1);
    let operated = app
        .get(&format!(
            "/v1/programmes?organisation={sif}&role=programme_operator"
        ))
        .await;
    assert_eq!(
        operated.body["data"][0]["short_name"], "NVO fonds",
        "{}",
        operated.text
    );
    let funders = app.get("/v1/programmes?role=funder&count=true").await;
    assert!(funders.body["total"].as_i64().unwrap() >= 3);
    let sorted = app.get("/v1/programmes?sort=-start_date&limit=1").await;
    assert_eq!(sorted.body["data"][0]["start_date"], "2009-01-01");
    let running = app.get("/v1/programmes?active_on=2013-06-01").await;
    assert_eq!(running.body["data"].as_array().unwrap().len(), 1);
    let export = app
        .get("/v1/exports/programmes.csv?role=co_administrator")
        .await;
    assert!(
        export
            .text
            .contains("Sabiedrības integrācijas fonds (Līdzadministrētājs)"),
        "{}",
        export.text
    );
    assert!(app.get("/v1/programmes?role=sponsor").await.status == 400);

    let single = app
        .get(&format!(
            "/v1/programmes/{}?include=organisations",
            id(programme)
        ))
        .await;
    assert_eq!(single.status, 200, "{}", single.text);
    assert!(single.body["organisations"][0]["organisation"].is_object());

    let refused = app
        .post_json(
            "/v1/programmes",
            &json!({"name": "Bodies", "organisations": [{"organisation_id": sif, "role": "sponsor"}]}),
        )
        .await;
    refused.assert_problem(422);
    assert_eq!(
        refused.error_fields(),
        vec!["organisations[0].role".to_owned()]
    );

    // The contact keeps its role, for keys that may see it.
    let coalition = app
        .get("/v1/projects?reference=1DP/1.5.2.2.2/12/APIA/SIF/176")
        .await;
    let coalition = id(&coalition.body["data"][0]);
    let private = app.get(&format!("/v1/projects/{coalition}")).await;
    assert_eq!(private.body["contact"]["role"], "projekta vadītāja");
}

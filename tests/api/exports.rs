//! Exports on operations of their own (`/v1/exports/*.csv`), the deprecated CSV on list paths,
//! and the data package (`GET /v1/dump`).

use std::collections::HashSet;
use std::io::Read;

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::access::world;
use crate::support::TestApp;

fn table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

#[actix_web::test]
async fn exports_have_operations_of_their_own_and_list_paths_declare_json_only() {
    let spec: Value = serde_json::from_str(&kopa::app::spec().to_json().unwrap()).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        let ok = &item["get"]["responses"]["200"]["content"];
        let Some(types) = ok.as_object() else {
            continue;
        };
        let types: Vec<&str> = types.keys().map(String::as_str).collect();
        if path.starts_with("/v1/exports/") && path.ends_with(".geojson") {
            assert_eq!(types, ["application/geo+json"], "{path}");
        } else if path.starts_with("/v1/exports/") {
            assert_eq!(types, ["text/csv"], "{path}");
        } else if !["/v1/dump", "/metrics", "/v1/projects/{id}/metrics/template"]
            .contains(&path.as_str())
        {
            // Files that are not lists: the dump, Prometheus' text and a sheet to fill in.
            assert_eq!(types, ["application/json"], "GET {path} declares {types:?}");
        }
    }
    for path in [
        "/v1/exports/projects.csv",
        "/v1/exports/projects-partners.csv",
        "/v1/exports/projects-funding.csv",
        "/v1/exports/organisations.csv",
        "/v1/exports/programmes.csv",
        "/v1/exports/indicators.csv",
        "/v1/exports/activities.csv",
        "/v1/exports/metrics.csv",
        "/v1/exports/stats/indicators/{code}.csv",
        "/v1/dump",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} is not in the spec"
        );
    }
}

#[actix_web::test]
async fn project_exports_are_complete_and_public() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let programme = app
        .post_json(
            "/v1/programmes",
            &json!({"name": "EEA and Norway Grants NGO Fund", "organisations": [{"organisation_id": w.other, "role": "funder"}]}),
        )
        .await;
    assert_eq!(programme.status, 201, "{}", programme.text);
    let programme_id = programme.body["id"].as_str().unwrap().to_owned();
    let patched = app
        .patch(
            &format!("/v1/projects/{}", w.project),
            &json!({"summary": "Courses; meetings", "aim": "To learn",
                    "funding": [{"programme_id": programme_id, "share_percent": 85,
                                 "amount": "41543.75", "currency": "EUR"},
                                {"funder_id": w.lead, "share_percent": 15}]}),
            None,
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);

    app.act_as(None);
    let projects = app.get("/v1/exports/projects.csv").await;
    assert_eq!(projects.status, 200, "{}", projects.text);
    assert!(projects.content_type().starts_with("text/csv"));
    assert!(projects.header("deprecation").is_none());
    let (header, rows) = table(&projects.text);
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, [w.project.as_str()], "drafts are not exported");
    let row = &rows[0];
    assert_eq!(row[column(&header, "summary")], "Courses; meetings");
    assert_eq!(row[column(&header, "aim")], "To learn");
    assert_eq!(
        row[column(&header, "partners")],
        "Partner Municipality (Sadarbības partneris)"
    );
    assert_eq!(
        row[column(&header, "funding")],
        "EEA and Norway Grants NGO Fund: 85% 41543.75 EUR; Lead NGO: 15%"
    );
    assert!(!projects.text.contains("anna@example.org"), "no contacts");

    let partners = app.get("/v1/exports/projects-partners.csv").await;
    let (header, rows) = table(&partners.text);
    assert_eq!(rows.len(), 1, "{}", partners.text);
    assert_eq!(rows[0][column(&header, "project_id")], w.project);
    assert_eq!(rows[0][column(&header, "organisation_id")], w.partner);
    assert_eq!(rows[0][column(&header, "role")], "partner");

    let funding = app.get("/v1/exports/projects-funding.csv?lang=en").await;
    let (header, rows) = table(&funding.text);
    assert_eq!(rows.len(), 2, "{}", funding.text);
    assert_eq!(rows[0][column(&header, "position")], "0");
    assert_eq!(rows[0][column(&header, "programme_id")], programme_id);
    assert_eq!(rows[0][column(&header, "amount")], "41543.75");
    assert_eq!(rows[1][column(&header, "funder_name")], "Lead NGO");

    // The same filters as the list, checked the same way.
    let bad = app.get("/v1/exports/projects.csv?region=atlantis").await;
    bad.assert_problem(400);
    let unknown = app.get("/v1/exports/projects.csv?limit=5").await;
    unknown.assert_problem(400);

    for path in [
        &format!("/v1/exports/programmes.csv?funder={}", w.other),
        "/v1/exports/indicators.csv",
    ] {
        let export = app.get(path).await;
        assert_eq!(export.status, 200, "{path}: {}", export.text);
        let (_, rows) = table(&export.text);
        assert_eq!(rows.len(), 1, "{path}: {}", export.text);
    }
}

#[actix_web::test]
async fn csv_on_list_paths_still_answers_marked_deprecated() {
    let app = TestApp::new().await;
    world(&app).await;
    app.act_as(None);
    for request in [
        TestRequest::get().uri("/v1/projects?format=csv&limit=5&region=latgale"),
        TestRequest::get()
            .uri("/v1/projects?region=latgale")
            .insert_header(("accept", "text/csv")),
    ] {
        let response = app.request(request).await;
        assert_eq!(response.status, 200, "{}", response.text);
        assert!(response.content_type().starts_with("text/csv"));
        assert_eq!(response.header("deprecation"), Some("@1764547200"));
        assert!(response.header("sunset").is_some());
        assert_eq!(
            response.header("link"),
            Some("</v1/exports/projects.csv?region=latgale>; rel=\"successor-version\"; type=\"text/csv\"")
        );
    }
    let json = app.get("/v1/projects").await;
    assert!(json.content_type().starts_with("application/json"));
    assert!(json.header("deprecation").is_none());
}

#[actix_web::test]
async fn stats_export_as_csv_with_a_total_row() {
    let app = TestApp::new().await;
    crate::seeds::load(&app).await;
    app.act_as(None);
    let export = app
        .get("/v1/exports/stats/indicators/participants.csv?group_by=region&lang=en")
        .await;
    assert_eq!(export.status, 200, "{}", export.text);
    let json = app
        .get("/v1/stats/indicators/participants?group_by=region&lang=en")
        .await;
    let (header, rows) = table(&export.text);
    let groups = json.body["groups"].as_array().unwrap();
    assert_eq!(rows.len(), groups.len() + 1);
    for (row, group) in rows.iter().zip(groups) {
        assert_eq!(
            row[column(&header, "label")],
            group["label"].as_str().unwrap_or("")
        );
        let value: f64 = row[column(&header, "value")].parse().unwrap();
        assert_eq!(value, group["value"].as_f64().unwrap());
    }
    let total = rows.last().unwrap();
    assert_eq!(total[column(&header, "key")], "total");
    let value: f64 = total[column(&header, "value")].parse().unwrap();
    assert_eq!(value, json.body["total"]["value"].as_f64().unwrap());
    let missing = app
        .get("/v1/exports/stats/indicators/nothing.csv?group_by=region")
        .await;
    missing.assert_problem(404);
}

#[actix_web::test]
async fn the_dump_is_a_public_data_package_with_an_etag() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    app.act_as(None);
    let dump = app.get("/v1/dump").await;
    assert_eq!(dump.status, 200, "{}", dump.text);
    assert_eq!(dump.content_type(), "application/zip");
    let etag = dump.header("etag").expect("an ETag").to_owned();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(dump.bytes.clone())).unwrap();
    let mut descriptor = String::new();
    zip.by_name("datapackage.json")
        .unwrap()
        .read_to_string(&mut descriptor)
        .unwrap();
    let descriptor: Value = serde_json::from_str(&descriptor).unwrap();
    assert_eq!(descriptor["licenses"][0]["name"], "CC-BY-4.0");
    let mut everything = String::new();
    for resource in descriptor["resources"].as_array().unwrap() {
        let mut text = String::new();
        zip.by_name(resource["path"].as_str().unwrap())
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        everything.push_str(&text);
    }
    let mut projects = String::new();
    zip.by_name("data/projects.csv")
        .unwrap()
        .read_to_string(&mut projects)
        .unwrap();
    let (_, rows) = table(&projects);
    let ids: HashSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, HashSet::from([w.project.as_str()]));
    assert!(!everything.contains(&w.draft), "nothing of the draft");
    assert!(!everything.contains("anna@example.org"), "no contacts");
    assert!(!everything.contains("Anna Bērziņa"), "no contacts");

    let again = app
        .request(
            TestRequest::get()
                .uri("/v1/dump")
                .insert_header(("if-none-match", etag.as_str())),
        )
        .await;
    assert_eq!(again.status, 304);
    app.act_as(Some(&app.operator_token.clone()));
    let changed = app
        .patch(
            &format!("/v1/organisations/{}", w.other),
            &json!({"short_name": "US"}),
            None,
        )
        .await;
    assert_eq!(changed.status, 200);
    app.act_as(None);
    let after = app
        .request(
            TestRequest::get()
                .uri("/v1/dump")
                .insert_header(("if-none-match", etag.as_str())),
        )
        .await;
    assert_eq!(after.status, 200, "a change makes a new dump");
    assert_ne!(after.header("etag"), Some(etag.as_str()));
}

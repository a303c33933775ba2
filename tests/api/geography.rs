//! Where projects ran: the territory vocabulary equals its reference file, lists filter by
//! municipality (as recorded and as today's), stats group by it, and the GeoJSON exports parse
//! as RFC 7946 with every point in Latvia (or abroad where the project says so).

use std::path::Path;

use actix_web::http::header;
use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::seeds::load;
use crate::support::{create_organisation, organisation, TestApp};

fn titles(response: &crate::support::Resp) -> Vec<String> {
    assert_eq!(response.status, 200, "{}", response.text);
    let mut titles: Vec<String> = response.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles
}

#[actix_web::test]
async fn the_territories_table_is_the_reference_file() {
    let app = TestApp::new().await;
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/reference/territories.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let listed = app.get("/v1/territories").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let served = listed.body["data"].as_array().unwrap();
    let expected = file["territories"].as_array().unwrap();
    assert_eq!(served.len(), expected.len());
    for (t, e) in served.iter().zip(expected) {
        for (api, json) in [
            ("code", "atvk"),
            ("label_en", "name_en"),
            ("label_lv", "name_lv"),
            ("kind", "kind"),
            ("region", "region"),
            ("iso", "iso"),
            ("lau", "lau"),
            ("lon", "lon"),
            ("lat", "lat"),
            ("valid_from", "valid_from"),
            ("valid_to", "valid_to"),
            ("successor", "successor"),
        ] {
            assert_eq!(t[api], e[json], "{} {api}", e["atvk"]);
        }
    }
    let current = app.get("/v1/territories?current=true").await;
    assert_eq!(current.body["data"].as_array().unwrap().len(), 42);
    let augsdaugava = app.get("/v1/territories?part_of=0022000").await;
    let codes: Vec<&str> = augsdaugava.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"0440801") && codes.contains(&"0440200") && codes.contains(&"0022000"),
        "{codes:?}"
    );
    let regions = app.get("/v1/vocabularies/regions").await;
    for region in file["regions"].as_array().unwrap() {
        let term = regions.body["terms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["code"] == region["code"])
            .unwrap();
        assert_eq!(
            term["codes"].get("nuts3").unwrap_or(&Value::Null),
            &region["nuts3"]
        );
        assert_eq!(
            term["codes"].get("nuts3_2024").unwrap_or(&Value::Null),
            &region["nuts3_2024"]
        );
    }
    let ilukste = app.get("/v1/territories/0440801").await;
    assert_eq!(ilukste.body["successor"], "0022000");
    assert_eq!(app.get("/v1/territories/9999999").await.status, 404);
}

#[actix_web::test]
async fn lists_and_stats_filter_and_group_by_municipality() {
    let app = TestApp::new().await;
    load(&app).await;
    let lsk = "Mēs kopā dzīvojam mūsu valstī";
    let balvi = "Balvu pilsētas sabiedrības integrācijas programmas izstrāde";
    // As recorded: the 2013 project names Ilūkstes novads, a territory until 2021.
    assert_eq!(
        titles(&app.get("/v1/projects?municipality=0440801").await),
        [lsk]
    );
    assert!(titles(&app.get("/v1/projects?municipality=0022000").await).is_empty());
    // Today's municipality finds the territories it took over.
    assert_eq!(
        titles(&app.get("/v1/projects?municipality_today=0022000").await),
        [lsk]
    );
    assert_eq!(
        titles(&app.get("/v1/projects?municipality_today=0002000").await),
        [lsk]
    );
    assert_eq!(
        titles(&app.get("/v1/projects?municipality_today=0024000").await),
        [balvi]
    );
    // A former code stands for its today's municipality.
    assert_eq!(
        titles(&app.get("/v1/projects?municipality_today=0380200").await),
        [balvi]
    );
    let meetings = app.get("/v1/activities?municipality_today=0001000").await;
    assert_eq!(
        titles(&meetings),
        [
            "Reģionālie nevalstisko organizāciju resursu centri",
            "projekta vadības grupas sanāksmes"
        ]
    );
    let values = app
        .get("/v1/metrics?municipality_today=0022000&count=true")
        .await;
    assert_eq!(values.body["total"], 11, "{}", values.text);
    let export = app
        .get("/v1/exports/projects.csv?municipality_today=0022000")
        .await;
    assert!(export.text.contains("Ilūkstes novads"), "{}", export.text);

    let stats = app
        .get("/v1/stats/indicators/participants?group_by=municipality_today")
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let group = stats.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "0022000")
        .unwrap_or_else(|| panic!("{}", stats.text));
    assert_eq!(group["label"], "Augšdaugavas novads");
    assert_eq!(group["value"], 53.0 + 487.0 + 71.0);
    let recorded = app
        .get("/v1/stats/indicators/participants?group_by=municipality&municipality=0440801")
        .await;
    assert!(recorded.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["key"] == "0440801" && g["label"] == "Ilūkstes novads"));

    for (path, param) in [
        ("/v1/projects?municipality=12", "municipality"),
        (
            "/v1/projects?municipality_today=9999999",
            "municipality_today",
        ),
        ("/v1/activities?municipality=9999999", "municipality"),
        (
            "/v1/stats/indicators/participants?group_by=region&municipality=0000000",
            "municipality",
        ),
    ] {
        let refused = app.get(path).await;
        refused.assert_problem(400);
        assert_eq!(
            refused.error_fields(),
            vec![param.to_owned()],
            "{path}: {}",
            refused.text
        );
    }
}

#[actix_web::test]
async fn unknown_territories_and_points_out_of_range_are_refused_naming_the_field() {
    let app = TestApp::new().await;
    let lead = create_organisation(&app, &organisation("Lead")).await;
    let lead = lead["id"].as_str().unwrap();
    for (body, field) in [
        (json!({"municipalities": ["9999999"]}), "municipalities"),
        (json!({"municipalities": ["riga"]}), "municipalities"),
        (
            json!({"points": [{"place": "Nowhere", "lon": 200, "lat": 57}]}),
            "points[0].lon",
        ),
        (
            json!({"points": [{"place": "Nowhere", "lon": 24, "lat": -91}]}),
            "points[0].lat",
        ),
    ] {
        let mut project =
            json!({"title": "Mapped", "status": "active", "lead_organisation_id": lead});
        for (k, v) in body.as_object().unwrap() {
            project[k] = v.clone();
        }
        let refused = app.post_json("/v1/projects", &project).await;
        refused.assert_problem(422);
        assert_eq!(
            refused.error_fields(),
            vec![field.to_owned()],
            "{}",
            refused.text
        );
    }
    assert_eq!(
        app.query_strings("SELECT count(*)::text FROM projects")
            .await,
        vec!["0".to_owned()],
        "nothing written"
    );
}

/// Every coordinate of a GeoJSON document, with the feature's properties.
fn points(text: &str) -> Vec<(Vec<f64>, serde_json::Map<String, Value>)> {
    let parsed: geojson::GeoJson = text.parse().expect("valid GeoJSON");
    let geojson::GeoJson::FeatureCollection(collection) = parsed else {
        panic!("not a FeatureCollection: {text}");
    };
    collection
        .features
        .into_iter()
        .map(|feature| {
            let geometry = feature.geometry.expect("every feature has a geometry");
            let geojson::Value::Point(position) = geometry.value else {
                panic!("not a point");
            };
            (position, feature.properties.expect("properties"))
        })
        .collect()
}

fn in_latvia(position: &[f64]) -> bool {
    (20.9..=28.3).contains(&position[0]) && (55.6..=58.1).contains(&position[1])
}

#[actix_web::test]
async fn geojson_exports_parse_and_every_point_lies_in_latvia_or_abroad_as_stated() {
    let app = TestApp::new().await;
    load(&app).await;
    let lead = create_organisation(&app, &organisation("Abroad NGO")).await;
    let created = app
        .post_json(
            "/v1/projects",
            &json!({"title": "Pieredzes apmaiņa Tbilisi", "status": "completed",
                    "lead_organisation_id": lead["id"], "regions": ["abroad"],
                    "points": [{"place": "Tbilisi", "lon": 44.79, "lat": 41.72}]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    let export = app.get("/v1/exports/projects.geojson").await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(export.content_type(), "application/geo+json");
    assert!(export.header("link").unwrap().contains("rel=\"license\""));
    let features = points(&export.text);
    assert!(features.len() >= 7, "{}", export.text);
    for (position, properties) in &features {
        assert_eq!(position.len(), 2);
        let abroad = properties["regions"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("abroad")));
        assert!(
            in_latvia(position) || abroad,
            "{position:?} is outside Latvia: {properties:?}"
        );
        for key in ["id", "title", "status", "place", "point"] {
            assert!(
                properties.contains_key(key),
                "{key} missing: {properties:?}"
            );
        }
    }
    assert!(features
        .iter()
        .any(|(p, props)| !in_latvia(p) && props["place"] == "Tbilisi"));
    let license: Value = serde_json::from_str(&export.text).unwrap();
    assert_eq!(license["license"]["name"], "CC-BY-4.0");

    // The same filters as the lists, and the negotiated representation of the list path.
    let filtered = app
        .get("/v1/exports/projects.geojson?municipality_today=0022000")
        .await;
    let filtered = points(&filtered.text);
    assert!(!filtered.is_empty());
    assert!(filtered
        .iter()
        .all(|(_, p)| p["title"] == "Mēs kopā dzīvojam mūsu valstī"));
    let negotiated = app
        .request(
            TestRequest::get()
                .uri("/v1/projects?municipality_today=0022000")
                .insert_header((header::ACCEPT, "application/geo+json")),
        )
        .await;
    assert_eq!(negotiated.content_type(), "application/geo+json");
    assert_eq!(points(&negotiated.text).len(), filtered.len());

    let activities = app.get("/v1/exports/activities.geojson").await;
    let activity_points = points(&activities.text);
    assert!(!activity_points.is_empty());
    assert!(activity_points.iter().all(|(p, _)| in_latvia(p)));
}

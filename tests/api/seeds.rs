//! The seed documents load into a fresh registry, their facts can be found through the API,
//! and a second load changes nothing.

use std::path::Path;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::Value;

use crate::support::TestApp;

pub async fn load(app: &TestApp) -> kopa::seed::SeedReport {
    let mut conn = AsyncPgConnection::establish(&app.db_url)
        .await
        .expect("connect");
    kopa::seed::load(
        &mut conn,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"),
    )
    .await
    .expect("seeds load")
}

async fn all(app: &TestApp, path: &str) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let response = app.get(&format!("{path}{separator}limit=200")).await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert!(
        response.body["next_cursor"].is_null(),
        "seed data fits one page"
    );
    response.body["data"].as_array().unwrap().clone()
}

fn find<'a>(items: &'a [Value], field: &str, value: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i[field] == value)
        .unwrap_or_else(|| panic!("no {field} = {value:?}"))
}

#[actix_web::test]
async fn seed_facts_are_served_and_a_second_load_changes_nothing() {
    let app = TestApp::new().await;
    let first = load(&app).await;
    assert!(first.created > 100, "{first:?}");
    assert_eq!(first.updated + first.unchanged, 0);

    let organisations = all(&app, "/v1/organisations").await;
    for name in [
        "Balvu pilsētas Dome",
        "Latvijas Sarkanais Krusts",
        "Norvēģijas Sarkanais Krusts",
        "Valsts kanceleja",
        "Sabiedrības integrācijas fonds",
        "Ilūkstes novada pašvaldība",
    ] {
        find(&organisations, "name", name);
    }
    assert_eq!(
        find(&organisations, "name", "Norvēģijas Sarkanais Krusts")["country"],
        "NO"
    );

    let projects = all(&app, "/v1/projects").await;
    assert_eq!(projects.len(), 5);
    let lsk = find(&projects, "reference", "2012.EEZ/PP/2/MAC/016/037");
    assert_eq!(lsk["title"], "Mēs kopā dzīvojam mūsu valstī");
    let coalition = find(&projects, "reference", "1DP/1.5.2.2.2/12/APIA/SIF/176");
    assert_eq!(coalition["funding"][0]["share_percent"], 92.07);
    assert_eq!(coalition["start_date"], "2012-09-01");
    assert_eq!(coalition["end_date"], "2013-08-31");
    assert_eq!(coalition["date_precision"], "month");
    assert!(coalition.get("contact").is_none());
    let balvi = find(
        &projects,
        "title",
        "Balvu pilsētas sabiedrības integrācijas programmas izstrāde",
    );
    assert_eq!(balvi["start_date"], "2008-12-01");
    assert_eq!(balvi["end_date"], "2009-05-31");
    let shares: Vec<f64> = find(
        &projects,
        "title",
        "Daudzpusīgi risinājumi sabiedrības izglītošanai un integrācijai",
    )["funding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["share_percent"].as_f64().unwrap())
        .collect();
    assert_eq!(shares, vec![75.0, 25.0]);

    let lsk_id = lsk["id"].as_str().unwrap();
    let partners = all(&app, &format!("/v1/projects/{lsk_id}/partners")).await;
    assert_eq!(partners.len(), 6);
    let norwegian = find(&organisations, "name", "Norvēģijas Sarkanais Krusts")["id"].clone();
    assert!(partners
        .iter()
        .any(|p| p["organisation_id"] == norwegian && p["role"] == "partner"));

    let metrics = all(&app, &format!("/v1/projects/{lsk_id}/metrics")).await;
    let values: Vec<f64> = metrics
        .iter()
        .map(|m| m["value"].as_f64().unwrap())
        .collect();
    for expected in [
        7.0, 130.0, 272.0, 330.0, 53.0, 3000.0, 487.0, 94.0, 61.0, 71.0,
    ] {
        assert!(
            values.contains(&expected),
            "LSK outcome {expected} missing from {values:?}"
        );
    }
    let activities = all(&app, &format!("/v1/projects/{lsk_id}/activities")).await;
    assert!(
        activities.iter().any(|a| a["participants"] == 487),
        "the intergenerational events"
    );

    let second = load(&app).await;
    assert_eq!(second.created, 0, "{second:?}");
    assert_eq!(second.updated, 0, "{second:?}");
    assert_eq!(second.unchanged, first.created);
    let again = app.get(&format!("/v1/projects/{lsk_id}")).await;
    assert_eq!(
        again.body["version"], 1,
        "a second load creates no new versions"
    );
}

//! The seed documents load into a fresh registry, their facts can be found through the API,
//! a second load changes nothing, and a registry seeded with the previous seed files upgrades in
//! place: records keep their ids, renames apply, nothing is left behind twice.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::Value;

use crate::support::TestApp;

pub async fn load(app: &TestApp) -> kopa::seed::SeedReport {
    load_from(app, &kopa::seed::Seeds::Embedded).await
}

async fn load_from(app: &TestApp, seeds: &kopa::seed::Seeds) -> kopa::seed::SeedReport {
    let mut conn = AsyncPgConnection::establish(&app.db_url)
        .await
        .expect("connect");
    kopa::seed::load(&mut conn, seeds)
        .await
        .expect("seeds load")
}

/// The seed files as they were before records had stable keys (main before this change).
fn old_seeds() -> kopa::seed::Seeds {
    kopa::seed::Seeds::Dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/seeds-before-territories"),
    )
}

/// How many rows each registry table holds.
async fn counts(app: &TestApp) -> Vec<String> {
    app.query_strings(
        "SELECT t || ' ' || n FROM (VALUES \
           ('organisations', (SELECT count(*) FROM organisations)), \
           ('programmes', (SELECT count(*) FROM programmes)), \
           ('programme_organisations', (SELECT count(*) FROM programme_organisations)), \
           ('projects', (SELECT count(*) FROM projects)), \
           ('project_partners', (SELECT count(*) FROM project_partners)), \
           ('project_funding', (SELECT count(*) FROM project_funding)), \
           ('activities', (SELECT count(*) FROM activities)), \
           ('metric_values', (SELECT count(*) FROM metric_values)), \
           ('sources', (SELECT count(*) FROM sources)), \
           ('source_links', (SELECT count(*) FROM source_links))) c(t, n) ORDER BY t",
    )
    .await
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
    assert_eq!(coalition["date_precision"], "day");
    assert_eq!(
        coalition["regions"],
        serde_json::json!(["kurzeme", "zemgale", "latgale", "vidzeme"])
    );
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

    assert_eq!(lsk["start_date"], "2013-11-01");
    assert_eq!(lsk["total_budget"], "101888.00");
    assert_eq!(
        lsk["municipalities"],
        serde_json::json!(["0050000", "0440200", "0440801", "0600202", "0760202"])
    );
    let dialogue = find(
        &projects,
        "title",
        "Daudzpusīgi risinājumi sabiedrības izglītošanai un integrācijai",
    );
    assert_eq!(dialogue["status"], "active");
    assert_eq!(dialogue["status_stated_on"], "2013-03-06");
    assert_eq!(dialogue["inferred"], serde_json::json!(["status"]));
    let secretariat = find(
        &projects,
        "title",
        "Sekretariāta sadarbība ar nevalstiskajām organizācijām un partneriem",
    );
    assert_eq!(
        secretariat["inferred"],
        serde_json::json!(["record", "end_date", "status"])
    );

    let second = load(&app).await;
    assert_eq!(second.created, 0, "{second:?}");
    assert_eq!(second.updated, 0, "{second:?}");
    assert_eq!(second.deleted, 0, "{second:?}");
    assert_eq!(second.unchanged, first.created);
    let again = app.get(&format!("/v1/projects/{lsk_id}")).await;
    assert_eq!(
        again.body["version"], 1,
        "a second load creates no new versions"
    );
}

#[actix_web::test]
async fn a_registry_seeded_with_the_old_files_upgrades_in_place() {
    let fresh = TestApp::new().await;
    load(&fresh).await;
    let expected = counts(&fresh).await;
    drop(fresh);

    let app = TestApp::new().await;
    let old = load_from(&app, &old_seeds()).await;
    assert!(old.created > 100, "{old:?}");
    let ids = |sql: &'static str| {
        let app = &app;
        async move { app.query_strings(sql).await }
    };
    let esf_before = ids("SELECT id::text FROM programmes WHERE name = 'Eiropas Sociālā fonda apakšaktivitāte 1.5.2.2.2'").await;
    let projects_before = ids("SELECT id::text FROM projects ORDER BY id").await;
    let metrics_before = ids("SELECT id::text FROM metric_values ORDER BY id").await;

    let upgrade = load(&app).await;
    assert!(upgrade.updated > 0, "{upgrade:?}");
    assert_eq!(
        counts(&app).await,
        expected,
        "no duplicates and nothing left behind"
    );
    // The ESF programme was renamed to its official name: same record.
    let esf_after = ids("SELECT id::text FROM programmes WHERE name = 'Nevalstisko organizāciju administratīvās kapacitātes stiprināšana'").await;
    assert_eq!(esf_after, esf_before, "the renamed programme kept its id");
    assert_eq!(
        ids("SELECT id::text FROM projects ORDER BY id").await,
        projects_before
    );
    assert_eq!(
        ids("SELECT id::text FROM metric_values ORDER BY id").await,
        metrics_before,
        "every value kept its id"
    );
    // The Naturalisation Board's role changed in place.
    assert_eq!(
        ids("SELECT role FROM project_partners pp JOIN organisations o ON o.id = pp.organisation_id \
             WHERE o.name = 'Naturalizācijas pārvalde'").await,
        vec!["co_implementer".to_owned()]
    );
    assert_eq!(
        ids("SELECT count(*)::text FROM organisations WHERE seed_key IS NULL").await,
        vec!["0".to_owned()],
        "every seeded organisation has its key"
    );

    let again = load(&app).await;
    assert_eq!(
        (again.created, again.updated, again.deleted),
        (0, 0, 0),
        "{again:?}"
    );
}

#[actix_web::test]
async fn merges_fold_records_into_one_and_the_embedded_seeds_equal_the_directory() {
    let app = TestApp::new().await;
    let dir =
        kopa::seed::Seeds::Dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    let from_dir = load_from(&app, &dir).await;
    let embedded = load(&app).await;
    assert_eq!(
        embedded.unchanged, from_dir.created,
        "the binary carries the same seeds"
    );

    // A seed that merges the Riga NGO centre into the Jelgava one: the Riga centre's
    // partnership moves over (it holds the same role, so it is dropped), the record goes.
    let work = std::env::temp_dir().join(format!("kopa-merge-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&work).unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let mut text = std::fs::read_to_string(&path).unwrap();
            if path.file_name().unwrap() == "001_integration_secretariat.json" {
                let mut doc: Value = serde_json::from_str(&text).unwrap();
                let orgs = doc["organisations"].as_array_mut().unwrap();
                orgs.retain(|o| o["key"] != "org:ngo-centre-riga");
                for o in orgs
                    .iter_mut()
                    .filter(|o| o["key"] == "org:ngo-centre-jelgava")
                {
                    o["merges"] = serde_json::json!(["org:ngo-centre-riga"]);
                }
                for project in doc["projects"].as_array_mut().unwrap() {
                    project["partners"]
                        .as_array_mut()
                        .unwrap()
                        .retain(|p| p["organisation"] != "org:ngo-centre-riga");
                }
                text = serde_json::to_string_pretty(&doc).unwrap();
            }
            std::fs::write(work.join(path.file_name().unwrap()), text).unwrap();
        }
    }
    let merged = load_from(&app, &kopa::seed::Seeds::Dir(work.clone())).await;
    let again = load_from(&app, &kopa::seed::Seeds::Dir(work.clone())).await;
    std::fs::remove_dir_all(&work).ok();
    assert!(merged.deleted >= 1, "{merged:?}");
    assert_eq!(
        (again.created, again.updated, again.deleted),
        (0, 0, 0),
        "{again:?}"
    );
    assert_eq!(
        app.query_strings("SELECT count(*)::text FROM organisations WHERE name LIKE 'Reģionālais nevalstisko organizāciju resursu centrs Rīgā'").await,
        vec!["0".to_owned()]
    );
}

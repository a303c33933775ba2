//! The read side third-party sites use: filters, sort, search, embedding, CSV and languages.

use std::collections::HashSet;

use serde_json::json;

use crate::seeds::load;
use crate::support::{create_organisation, organisation, TestApp};

fn titles(response: &crate::support::Resp) -> Vec<String> {
    response.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", response.text))
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn search_ignores_case_diacritics_and_word_endings() {
    let app = TestApp::new().await;
    load(&app).await;
    app.act_as(None);
    let red_cross = "Mēs kopā dzīvojam mūsu valstī";
    for q in [
        "ilukste",
        "Ilūkstes",
        "ILUKSTE",
        "dzive",
        "dzīvojam",
        "daugavpils novads",
    ] {
        let response = app.get(&format!("/v1/projects?q={}", urlencode(q))).await;
        assert_eq!(response.status, 200, "{}", response.text);
        assert!(
            titles(&response).iter().any(|t| t == red_cross),
            "q={q} finds the Red Cross project: {:?}",
            titles(&response)
        );
    }
    // A typo still finds it (trigram similarity), an unrelated word finds nothing.
    let response = app.get("/v1/projects?q=integracijas").await;
    assert!(titles(&response)
        .iter()
        .any(|t| t == "Balvu pilsētas sabiedrības integrācijas programmas izstrāde"));
    let response = app.get("/v1/projects?q=zzqqxx").await;
    assert_eq!(titles(&response), Vec::<String>::new());
    // Best match first: the only project whose title says "Balvu" leads for q=balvu.
    let response = app.get("/v1/projects?q=balvu%20programma").await;
    assert_eq!(
        titles(&response).first().map(String::as_str),
        Some("Balvu pilsētas sabiedrības integrācijas programmas izstrāde")
    );
    // Organisations and activities are searchable too.
    let response = app.get("/v1/organisations?q=ilukstes").await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert!(response.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["name"] == "Ilūkstes novada pašvaldība"));
    // A query with no letters or digits matches nothing (it is not an error).
    for path in [
        "/v1/projects?q=%20-%20",
        "/v1/organisations?q=%1A",
        "/v1/organisations?q=-&sort=relevance",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text);
        assert_eq!(response.body["data"], json!([]), "{path}");
    }
    app.get("/v1/projects?q=").await.assert_problem(400);
}

fn urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[actix_web::test]
async fn filters_combine_and_bad_values_name_the_parameter() {
    let app = TestApp::new().await;
    load(&app).await;
    app.act_as(None);
    let all = app.get("/v1/projects?count=true").await;
    let total = all.body["total"].as_i64().unwrap();
    assert!(total >= 5);
    for (query, expected) in [
        ("region=latgale&status=completed", None),
        ("active_on=2013-03-08", None),
        ("starts_after=2012-01-01&starts_before=2013-12-31", None),
        ("activity_kind=course", None),
        ("indicator=participants", None),
        ("target_group=ngos&region=latvia&active_on=2013-01-15", None),
        ("updated_since=2999-01-01T00:00:00Z", Some(0)),
        ("role=partner", None),
    ] {
        let response = app.get(&format!("/v1/projects?count=true&{query}")).await;
        assert_eq!(response.status, 200, "{query}: {}", response.text);
        let count = response.body["total"].as_i64().unwrap();
        let data = response.body["data"].as_array().unwrap();
        assert_eq!(count as usize, data.len(), "{query}");
        match expected {
            Some(n) => assert_eq!(count, n, "{query}"),
            None => assert!(
                count > 0 && count < total,
                "{query} narrows: {count} of {total}"
            ),
        }
    }
    // Every returned project really matches a combined filter.
    let response = app
        .get("/v1/projects?region=latvia&active_on=2013-03-08")
        .await;
    assert!(!response.body["data"].as_array().unwrap().is_empty());
    for p in response.body["data"].as_array().unwrap() {
        assert!(p["regions"].as_array().unwrap().contains(&json!("latvia")));
        assert!(p["start_date"].as_str().unwrap() <= "2013-03-08");
        assert!(p["end_date"].is_null() || p["end_date"].as_str().unwrap() >= "2013-03-08");
    }
    for (query, param) in [
        ("region=atlantis", "region"),
        ("target_group=Seniors", "target_group"),
        ("active_on=2013-13-01", "active_on"),
        ("updated_since=yesterday", "updated_since"),
        ("sort=budget", "sort"),
        ("sort=-relevance", "sort"),
        ("include=partners,,activities", "include"),
        ("include=", "include"),
        ("include=everything", "include"),
        ("include=partners&limit=200", "limit"),
        ("lang=de", "lang"),
        ("status=open", "status"),
        ("colour=red", "colour"),
    ] {
        let response = app.get(&format!("/v1/projects?{query}")).await;
        response.assert_problem(400);
        assert!(
            response.error_fields().contains(&param.to_owned()),
            "{query} names {param}: {}",
            response.text
        );
    }
}

#[actix_web::test]
async fn keyset_pages_are_stable_under_every_sort() {
    let app = TestApp::new().await;
    let org = create_organisation(&app, &organisation("Kārtotāju biedrība")).await;
    let org = org["id"].as_str().unwrap();
    let starts = [
        Some("2012-05-01"),
        None,
        Some("2010-01-01"),
        Some("2012-05-01"),
        Some("2014-02-02"),
        None,
        Some("2011-07-07"),
    ];
    for (i, start) in starts.iter().enumerate() {
        let response = app
            .post_json(
                "/v1/projects",
                &json!({"title": format!("Projekts {}", (b'G' - i as u8) as char), "status": "active",
                        "lead_organisation_id": org, "start_date": start}),
            )
            .await;
        assert_eq!(response.status, 201, "{}", response.text);
    }
    for sort in [
        "start_date",
        "-start_date",
        "title",
        "-title",
        "-id",
        "updated_at",
        "-end_date",
    ] {
        let mut seen = Vec::new();
        let mut url = format!("/v1/projects?sort={sort}&limit=2");
        loop {
            let response = app.get(&url).await;
            assert_eq!(response.status, 200, "{url}: {}", response.text);
            seen.extend(response.body["data"].as_array().unwrap().iter().cloned());
            match response.body["next_cursor"].as_str() {
                Some(cursor) => url = format!("/v1/projects?sort={sort}&limit=2&cursor={cursor}"),
                None => break,
            }
            // Inserting between pages never shifts what comes next.
            if seen.len() == 2 {
                app.post_json(
                    "/v1/projects",
                    &json!({"title": format!("Vēlāk {sort}"), "status": "active", "lead_organisation_id": org}),
                )
                .await;
            }
        }
        let ids: HashSet<&str> = seen.iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), seen.len(), "{sort}: no record twice");
        assert!(seen.len() >= starts.len(), "{sort}: every record");
        if sort.ends_with("start_date") {
            let dated: Vec<&str> = seen
                .iter()
                .filter_map(|p| p["start_date"].as_str())
                .collect();
            let mut expected = dated.clone();
            expected.sort();
            if sort.starts_with('-') {
                expected.reverse();
            }
            assert_eq!(dated, expected, "{sort} orders the dates");
            let first_undated = seen.iter().position(|p| p["start_date"].is_null()).unwrap();
            assert!(
                seen[first_undated..]
                    .iter()
                    .all(|p| p["start_date"].is_null()),
                "{sort}: unknown dates last"
            );
        }
        if sort == "title" {
            let t: Vec<&str> = seen.iter().map(|p| p["title"].as_str().unwrap()).collect();
            let mut sorted = t.clone();
            sorted.sort();
            assert_eq!(t, sorted);
        }
    }
    // A cursor of one order is refused under another.
    let response = app.get("/v1/projects?sort=title&limit=1").await;
    let cursor = response.body["next_cursor"].as_str().unwrap();
    let response = app
        .get(&format!("/v1/projects?sort=-title&limit=1&cursor={cursor}"))
        .await;
    response.assert_problem(400);
    assert_eq!(response.error_field(0), "cursor");
}

#[actix_web::test]
async fn include_embeds_related_records_on_lists_and_single_reads() {
    let app = TestApp::new().await;
    load(&app).await;
    app.act_as(None);
    let response = app
        .get("/v1/projects?include=partners,activities,metrics,lead_organisation,programme,funding&limit=50")
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    let projects = response.body["data"].as_array().unwrap();
    let red_cross = projects
        .iter()
        .find(|p| p["title"] == "Mēs kopā dzīvojam mūsu valstī")
        .unwrap();
    let partners = red_cross["partners"].as_array().unwrap();
    assert!(partners.len() >= 6, "the LSK project has six partners");
    assert!(partners
        .iter()
        .any(|p| p["organisation"]["name"] == "Ilūkstes novada pašvaldība"));
    assert!(!red_cross["activities"].as_array().unwrap().is_empty());
    assert!(!red_cross["metrics"].as_array().unwrap().is_empty());
    assert_eq!(
        red_cross["lead_organisation"]["id"],
        red_cross["lead_organisation_id"]
    );
    assert_eq!(red_cross["programme"]["id"], red_cross["programme_id"]);
    for p in projects {
        for key in ["partners", "activities", "metrics"] {
            assert!(p[key].is_array(), "every project embeds {key}");
        }
    }
    // Without include nothing is embedded.
    let plain = app.get("/v1/projects").await;
    assert!(plain.body["data"][0].get("partners").is_none());
    // A single read embeds the same, with a weak ETag of the whole response.
    let id = red_cross["id"].as_str().unwrap();
    let single = app
        .get(&format!(
            "/v1/projects/{id}?include=partners,activities,metrics"
        ))
        .await;
    assert_eq!(single.status, 200, "{}", single.text);
    assert_eq!(single.body["partners"], red_cross["partners"]);
    assert_eq!(single.body["metrics"], red_cross["metrics"]);
    let tag = single.header("etag").unwrap().to_owned();
    assert!(tag.starts_with("W/"), "{tag}");
    let again = app
        .request(
            actix_web::test::TestRequest::get()
                .uri(&format!(
                    "/v1/projects/{id}?include=partners,activities,metrics"
                ))
                .insert_header(("if-none-match", tag)),
        )
        .await;
    assert_eq!(again.status, 304);
}

#[actix_web::test]
async fn csv_exports_every_record_with_labels_beside_codes() {
    let app = TestApp::new().await;
    load(&app).await;
    app.act_as(None);
    let json = app.get("/v1/projects?count=true").await;
    let total = json.body["total"].as_u64().unwrap() as usize;
    for request in [
        actix_web::test::TestRequest::get()
            .uri("/v1/projects?limit=1")
            .insert_header(("accept", "text/csv")),
        actix_web::test::TestRequest::get().uri("/v1/projects?format=csv&limit=1"),
    ] {
        let response = app.request(request).await;
        assert_eq!(response.status, 200, "{}", response.text);
        assert!(response.content_type().starts_with("text/csv"));
        let mut reader = csv::Reader::from_reader(response.text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), total, "no page cap: limit does not apply");
        let red_cross = rows
            .iter()
            .find(|r| &r[column("title")] == "Mēs kopā dzīvojam mūsu valstī")
            .unwrap();
        assert_eq!(&red_cross[column("status")], "completed");
        assert_eq!(&red_cross[column("status_label")], "Pabeigts");
        assert!(red_cross[column("regions")].contains("latgale"));
        assert!(red_cross[column("region_labels")].contains("Latgale"));
        assert!(
            red_cross[column("target_groups")].contains("; "),
            "multi-valued joined"
        );
        assert!(red_cross[column("target_group_labels")].contains("Seniori"));
        assert_eq!(
            &red_cross[column("lead_organisation_name")],
            "Latvijas Sarkanais Krusts"
        );
    }
    // English labels with lang=en; filters apply to the export.
    let response = app
        .get("/v1/projects?format=csv&lang=en&region=latgale")
        .await;
    assert!(response.text.contains("Completed"));
    assert!(response.text.lines().count() < total + 1);
}

#[actix_web::test]
async fn languages_pick_a_translation_and_fall_back_to_the_original() {
    let app = TestApp::new().await;
    let org = create_organisation(&app, &organisation("Valodu biedrība")).await;
    let response = app
        .post_json(
            "/v1/projects",
            &json!({"title": "Mēs kopā", "title_en": "We together", "aim": "saliedēt",
                    "status": "active", "lead_organisation_id": org["id"],
                    "translations": {"ru": {"title": "Мы вместе", "aim": "сплотить"}}}),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text);
    let id = response.body["id"].as_str().unwrap().to_owned();
    assert_eq!(response.body["language"], "lv");
    let ru = app.get(&format!("/v1/projects/{id}?lang=ru")).await;
    assert_eq!(ru.body["title"], "Мы вместе");
    assert_eq!(ru.body["aim"], "сплотить");
    assert_eq!(ru.body["language"], "ru");
    assert_eq!(ru.header("content-language"), Some("ru"));
    let en = app
        .request(
            actix_web::test::TestRequest::get()
                .uri(&format!("/v1/projects/{id}"))
                .insert_header(("accept-language", "de, en;q=0.8")),
        )
        .await;
    assert_eq!(en.body["title"], "We together");
    assert_eq!(en.body["aim"], "saliedēt", "untranslated text falls back");
    assert_eq!(en.body["language"], "en");
    let list = app
        .get("/v1/projects?lang=ru&q=%D0%BC%D1%8B%20%D0%B2%D0%BC%D0%B5%D1%81%D1%82%D0%B5")
        .await;
    assert_eq!(
        titles(&list),
        vec!["Мы вместе".to_owned()],
        "search covers translations"
    );
    let lv = app.get(&format!("/v1/projects/{id}")).await;
    assert_eq!(lv.body["title"], "Mēs kopā");
    assert_eq!(lv.body["translations"]["ru"]["title"], "Мы вместе");
    let bad = app
        .post_json(
            "/v1/projects",
            &json!({"title": "X", "status": "active", "lead_organisation_id": org["id"],
                    "translations": {"de": {"title": "Wir"}}}),
        )
        .await;
    bad.assert_problem(422);
    assert_eq!(bad.error_field(0), "translations.de");
    // A translation need not translate the title.
    let partial = app
        .post_json(
            "/v1/projects",
            &json!({"title": "Tikai kopsavilkums", "status": "active", "lead_organisation_id": org["id"],
                    "translations": {"en": {"summary": "Only the summary is translated"}}}),
        )
        .await;
    assert_eq!(partial.status, 201, "{}", partial.text);
    let id = partial.body["id"].as_str().unwrap();
    let en = app.get(&format!("/v1/projects/{id}?lang=en")).await;
    assert_eq!(en.body["title"], "Tikai kopsavilkums");
    assert_eq!(en.body["summary"], "Only the summary is translated");
    assert_eq!(en.body["language"], "en");
}

#[actix_web::test]
async fn activities_and_metric_values_list_across_projects_and_export_as_csv() {
    let app = TestApp::new().await;
    load(&app).await;
    app.act_as(None);
    // Activity titles are searchable without diacritics.
    let response = app.get("/v1/activities?q=paaudzu%20pasakumi").await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert!(
        !response.body["data"].as_array().unwrap().is_empty(),
        "finds the intergenerational events: {}",
        response.text
    );
    let courses = app.get("/v1/activities?kind=course&count=true").await;
    assert_eq!(courses.status, 200, "{}", courses.text);
    for a in courses.body["data"].as_array().unwrap() {
        assert_eq!(a["kind"], "course");
    }
    app.get("/v1/activities?kind=picnic")
        .await
        .assert_problem(400);
    let csv = app.get("/v1/activities?format=csv").await;
    assert!(csv.content_type().starts_with("text/csv"));
    let all = app.get("/v1/activities?count=true").await.body["total"]
        .as_u64()
        .unwrap();
    assert_eq!(csv.text.lines().count() as u64, all + 1);
    assert!(csv.text.lines().next().unwrap().contains("kind_label"));

    let metrics = app
        .get("/v1/metrics?indicator=participants&region=latgale&count=true")
        .await;
    assert_eq!(metrics.status, 200, "{}", metrics.text);
    assert_eq!(metrics.body["total"], 3);
    let csv = app
        .request(
            actix_web::test::TestRequest::get()
                .uri("/v1/metrics?indicator=participants")
                .insert_header(("accept", "text/csv")),
        )
        .await;
    let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let parents = rows.iter().find(|r| &r[column("value")] == "53").unwrap();
    assert_eq!(&parents[column("target_group_label")], "Jaunie vecāki");
    assert_eq!(
        &parents[column("project_title")],
        "Mēs kopā dzīvojam mūsu valstī"
    );
    assert_eq!(&parents[column("unit")], "person");
}

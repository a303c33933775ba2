//! `/v1/organisations`: create, read, list, patch, delete and their error answers.

use std::collections::{HashMap, HashSet};

use actix_web::http::header;
use actix_web::test::TestRequest;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::support::{create_organisation, organisation, TestApp};

fn id_of(record: &Value) -> String {
    record["id"].as_str().expect("record has an id").to_owned()
}

fn path_of(record: &Value) -> String {
    format!("/v1/organisations/{}", id_of(record))
}

fn timestamp(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 timestamp: {value}"))
}

/// Fetches a record and returns (body, ETag).
async fn fetch(app: &TestApp, path: &str) -> (Value, String) {
    let response = app.get(path).await;
    assert_eq!(response.status, 200, "GET {path}: {}", response.text);
    let etag = response
        .header("etag")
        .expect("GET returns an ETag")
        .to_owned();
    (response.body, etag)
}

#[actix_web::test]
async fn create_returns_201_with_location_etag_and_body() {
    let app = TestApp::new().await;
    let body = organisation("Latvijas Sarkanais Krusts");
    let response = app.post_json("/v1/organisations", &body).await;

    assert_eq!(response.status, 201, "{}", response.text);
    assert_eq!(response.content_type(), "application/json");
    let id = response.body["id"].as_str().expect("id is a string");
    let uuid = uuid::Uuid::parse_str(id).expect("id is a UUID");
    assert_eq!(uuid.get_version_num(), 7, "ids are UUID v7");
    assert_eq!(
        response.header("location"),
        Some(format!("/v1/organisations/{id}").as_str())
    );
    let etag = response.header("etag").expect("201 carries an ETag");
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "a strong ETag: {etag}"
    );
    for field in [
        "name",
        "short_name",
        "kind",
        "country",
        "registration_number",
        "website",
        "email",
        "phone",
        "description",
    ] {
        assert_eq!(
            response.body[field], body[field],
            "field {field} is stored as sent"
        );
    }
    assert_eq!(response.body["version"], 1);
    assert_eq!(response.body["created_at"], response.body["updated_at"]);
    timestamp(&response.body["created_at"]);

    // The Location really points at the record.
    let (fetched, _) = fetch(&app, response.header("location").unwrap()).await;
    assert_eq!(fetched, response.body);
}

#[actix_web::test]
async fn create_with_only_required_fields_defaults_optional_ones_to_null() {
    let app = TestApp::new().await;
    let response = app
        .post_json(
            "/v1/organisations",
            &json!({"name": "Minimal", "kind": "municipality"}),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text);
    for field in [
        "short_name",
        "country",
        "registration_number",
        "website",
        "email",
        "phone",
        "description",
    ] {
        assert_eq!(
            response.body[field],
            Value::Null,
            "{field} defaults to null"
        );
    }
}

#[actix_web::test]
async fn create_without_required_field_is_422_naming_it() {
    let app = TestApp::new().await;
    let response = app
        .post_json("/v1/organisations", &json!({"name": "No kind"}))
        .await;
    response.assert_problem(422);
    assert_eq!(response.error_field(0), "kind");
    assert_eq!(response.error_code(0), "required");
}

#[actix_web::test]
async fn get_returns_record_with_etag_and_304_on_if_none_match() {
    let app = TestApp::new().await;
    let created = app
        .post_json("/v1/organisations", &organisation("Get Me"))
        .await;
    assert_eq!(created.status, 201);
    let created_etag = created.header("etag").unwrap().to_owned();
    let path = created.header("location").unwrap().to_owned();

    let response = app.get(&path).await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.content_type(), "application/json");
    assert_eq!(
        response.header("etag"),
        Some(created_etag.as_str()),
        "GET's ETag equals create's"
    );
    assert_eq!(response.body, created.body);

    let not_modified = app
        .request(
            TestRequest::get()
                .uri(&path)
                .insert_header((header::IF_NONE_MATCH, created_etag.as_str())),
        )
        .await;
    assert_eq!(not_modified.status, 304);
    assert!(
        not_modified.text.is_empty(),
        "304 has no body: {:?}",
        not_modified.text
    );
    assert_eq!(not_modified.header("etag"), Some(created_etag.as_str()));

    // A tag that does not match gives the full record.
    let other = app
        .request(
            TestRequest::get()
                .uri(&path)
                .insert_header((header::IF_NONE_MATCH, "\"something-else\"")),
        )
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.body, created.body);
}

#[actix_web::test]
async fn get_with_unknown_query_parameter_is_400() {
    let app = TestApp::new().await;
    let record = create_organisation(&app, &organisation("Params")).await;
    let response = app.get(&format!("{}?expand=all", path_of(&record))).await;
    response.assert_problem(400);
    assert_eq!(response.error_field(0), "expand");
}

#[actix_web::test]
async fn list_walks_pages_with_cursor_and_link_header() {
    let app = TestApp::new().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(id_of(
            &create_organisation(&app, &organisation(&format!("Paged {i}"))).await,
        ));
    }
    let mut expected = created.clone();
    expected.sort();

    let mut seen = Vec::new();
    let mut uri = "/v1/organisations?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let response = app.get(&uri).await;
        assert_eq!(response.status, 200, "{}", response.text);
        assert_eq!(response.content_type(), "application/json");
        pages += 1;
        let data = response.body["data"].as_array().expect("data is an array");
        assert!(data.len() <= 3, "a page holds at most `limit` records");
        seen.extend(data.iter().map(id_of));
        assert!(
            response.body.get("total").is_none(),
            "total only with count=true"
        );
        match response.body["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(data.len(), 3, "only the last page is short");
                let link = response
                    .header("link")
                    .expect("a Link header when there is a next page");
                assert!(link.ends_with("; rel=\"next\""), "Link: {link}");
                let target = link.trim_start_matches('<').split('>').next().unwrap();
                assert!(
                    target.starts_with("/v1/organisations?"),
                    "Link target: {target}"
                );
                assert!(
                    target.contains("limit=3"),
                    "Link keeps the other parameters: {target}"
                );
                assert!(
                    target.contains(&format!("cursor={cursor}")),
                    "Link carries the cursor: {target}"
                );
                uri = target.to_owned();
            }
            None => {
                assert_eq!(
                    response.body["next_cursor"],
                    Value::Null,
                    "next_cursor is present and null on the last page"
                );
                assert!(
                    !response
                        .header("link")
                        .unwrap_or_default()
                        .contains("rel=\"next\""),
                    "no next Link on the last page"
                );
                break;
            }
        }
        assert!(pages < 10, "pagination does not terminate");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected, "every record exactly once, in id order");
    // Ids are time-ordered: creation order is id order.
    assert_eq!(seen, created);
}

#[actix_web::test]
async fn list_count_gives_total() {
    let app = TestApp::new().await;
    for i in 0..5 {
        create_organisation(&app, &organisation(&format!("Counted {i}"))).await;
    }
    let response = app.get("/v1/organisations?limit=2&count=true").await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.body["total"], 5);
    assert_eq!(response.body["data"].as_array().unwrap().len(), 2);

    let page2 = app
        .get(&format!(
            "/v1/organisations?limit=2&count=true&cursor={}",
            response.body["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        page2.body["total"], 5,
        "total counts all matches, not what is left"
    );

    let filtered = app
        .get("/v1/organisations?count=true&kind=foundation")
        .await;
    assert_eq!(filtered.body["total"], 0, "total respects the filters");

    let without = app.get("/v1/organisations?count=false").await;
    assert_eq!(without.status, 200);
    assert!(without.body.get("total").is_none());
}

#[actix_web::test]
async fn list_filters_by_kind_and_country() {
    let app = TestApp::new().await;
    let mut ids: HashMap<&str, String> = HashMap::new();
    for (key, name, kind, country) in [
        ("ngo_lv", "NGO LV", "ngo", Some("LV")),
        ("ngo_ee", "NGO EE", "ngo", Some("EE")),
        ("muni_lv", "Municipality LV", "municipality", Some("LV")),
        ("ngo_none", "NGO nowhere", "ngo", None),
    ] {
        let record = create_organisation(
            &app,
            &json!({"name": name, "kind": kind, "country": country}),
        )
        .await;
        ids.insert(key, id_of(&record));
    }
    let listed = |response: &crate::support::Resp| -> HashSet<String> {
        assert_eq!(response.status, 200, "{}", response.text);
        response.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect()
    };
    let set = |keys: &[&str]| -> HashSet<String> { keys.iter().map(|k| ids[k].clone()).collect() };

    assert_eq!(
        listed(&app.get("/v1/organisations?kind=ngo").await),
        set(&["ngo_lv", "ngo_ee", "ngo_none"])
    );
    assert_eq!(
        listed(&app.get("/v1/organisations?country=LV").await),
        set(&["ngo_lv", "muni_lv"])
    );
    assert_eq!(
        listed(&app.get("/v1/organisations?kind=ngo&country=LV").await),
        set(&["ngo_lv"]),
        "filters combine with AND"
    );
    assert_eq!(
        listed(&app.get("/v1/organisations?kind=foundation").await),
        set(&[])
    );
    assert_eq!(listed(&app.get("/v1/organisations").await).len(), 4);
}

#[actix_web::test]
async fn list_rejects_unknown_query_parameter() {
    let app = TestApp::new().await;
    let response = app.get("/v1/organisations?colour=blue").await;
    response.assert_problem(400);
    assert_eq!(response.error_field(0), "colour");
    assert_eq!(response.error_code(0), "unknown_parameter");
}

#[actix_web::test]
async fn list_rejects_limit_out_of_range() {
    let app = TestApp::new().await;
    for limit in ["0", "201", "-1"] {
        let response = app.get(&format!("/v1/organisations?limit={limit}")).await;
        response.assert_problem(400);
        assert_eq!(
            response.error_field(0),
            "limit",
            "limit={limit}: {}",
            response.text
        );
    }
    let not_a_number = app.get("/v1/organisations?limit=ten").await;
    not_a_number.assert_problem(400);
    assert_eq!(
        not_a_number.error_field(0),
        "limit",
        "{}",
        not_a_number.text
    );
    for limit in ["1", "200"] {
        assert_eq!(
            app.get(&format!("/v1/organisations?limit={limit}"))
                .await
                .status,
            200,
            "limit={limit} is allowed"
        );
    }
}

#[actix_web::test]
async fn list_rejects_bad_cursor() {
    let app = TestApp::new().await;
    // Not base64; base64 of something that is not a cursor; a cursor of another sort order.
    for cursor in ["!!!not-a-cursor", "aGVsbG8", "eyJzIjoibmFtZSIsImsiOiJ4In0"] {
        let response = app.get(&format!("/v1/organisations?cursor={cursor}")).await;
        response.assert_problem(400);
        assert_eq!(
            response.error_field(0),
            "cursor",
            "cursor {cursor}: {}",
            response.text
        );
    }
}

#[actix_web::test]
async fn patch_merges_changes_and_clears_nulls() {
    let app = TestApp::new().await;
    let created = app
        .post_json("/v1/organisations", &organisation("Patchable"))
        .await;
    assert_eq!(created.status, 201);
    let before = created.body.clone();
    let path = path_of(&before);

    let response = app
        .patch(
            &path,
            &json!({"short_name": "PTC", "description": null}),
            None,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    let after = &response.body;
    assert_eq!(after["short_name"], "PTC", "the changed field");
    assert_eq!(
        after["description"],
        Value::Null,
        "null clears an optional field"
    );
    for field in [
        "id",
        "name",
        "kind",
        "country",
        "registration_number",
        "website",
        "email",
        "phone",
        "created_at",
    ] {
        assert_eq!(after[field], before[field], "{field} is kept");
    }
    assert_eq!(after["version"], 2);
    assert!(
        timestamp(&after["updated_at"]) >= timestamp(&before["updated_at"]),
        "updated_at does not go back"
    );
    let etag = response.header("etag").expect("PATCH returns the new ETag");
    assert_ne!(
        etag,
        created.header("etag").unwrap(),
        "the ETag changes with the version"
    );

    let (stored, stored_etag) = fetch(&app, &path).await;
    assert_eq!(&stored, after, "the change is stored");
    assert_eq!(stored_etag, etag);

    // An empty patch changes nothing but is still a valid request.
    let empty = app.patch(&path, &json!({}), None).await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.body["short_name"], "PTC");
}

#[actix_web::test]
async fn patch_refuses_unknown_members_even_when_null() {
    let app = TestApp::new().await;
    let created = app
        .post_json("/v1/organisations", &organisation("Strict patch"))
        .await;
    let path = path_of(&created.body);
    for patch in [json!({"": null}), json!({"colour": null, "name": "X"})] {
        let response = app.patch(&path, &patch, None).await;
        response.assert_problem(422);
        let unknown = patch
            .as_object()
            .unwrap()
            .keys()
            .find(|k| *k != "name")
            .unwrap();
        assert_eq!(
            response.error_fields(),
            vec![unknown.clone()],
            "{}",
            response.text
        );
    }
    let (stored, _) = fetch(&app, &path).await;
    assert_eq!(stored["version"], 1, "nothing changed");
}

#[actix_web::test]
async fn patch_with_stale_if_match_is_412_and_changes_nothing() {
    let app = TestApp::new().await;
    let created = app
        .post_json("/v1/organisations", &organisation("Contended"))
        .await;
    let stale = created.header("etag").unwrap().to_owned();
    let path = path_of(&created.body);
    let first = app
        .patch(&path, &json!({"short_name": "ONE"}), Some(&stale))
        .await;
    assert_eq!(first.status, 200, "{}", first.text);

    let second = app
        .patch(
            &path,
            &json!({"short_name": "TWO", "description": "overwritten"}),
            Some(&stale),
        )
        .await;
    second.assert_problem(412);
    let (stored, etag) = fetch(&app, &path).await;
    assert_eq!(stored, first.body, "a failed precondition changes nothing");
    assert_eq!(etag, first.header("etag").unwrap());
}

#[actix_web::test]
async fn patch_with_current_if_match_succeeds() {
    let app = TestApp::new().await;
    let created = app
        .post_json("/v1/organisations", &organisation("Careful"))
        .await;
    let path = path_of(&created.body);
    let (_, current) = fetch(&app, &path).await;
    let response = app
        .patch(&path, &json!({"phone": "+371 20000000"}), Some(&current))
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.body["phone"], "+371 20000000");
    assert_eq!(response.body["version"], 2);

    // `*` matches any current version.
    let star = app
        .patch(&path, &json!({"phone": "+371 20000001"}), Some("*"))
        .await;
    assert_eq!(star.status, 200, "{}", star.text);
    assert_eq!(star.body["version"], 3);
}

#[actix_web::test]
async fn patch_setting_required_name_to_null_is_422() {
    let app = TestApp::new().await;
    let record = create_organisation(&app, &organisation("Named")).await;
    let response = app
        .patch(&path_of(&record), &json!({"name": null}), None)
        .await;
    response.assert_problem(422);
    assert_eq!(response.error_field(0), "name", "{}", response.text);
    let (stored, _) = fetch(&app, &path_of(&record)).await;
    assert_eq!(stored["name"], "Named");
    assert_eq!(stored["version"], 1);
}

#[actix_web::test]
async fn patch_with_unknown_field_is_422() {
    let app = TestApp::new().await;
    let record = create_organisation(&app, &organisation("Strict")).await;
    let response = app
        .patch(&path_of(&record), &json!({"colour": "blue"}), None)
        .await;
    response.assert_problem(422);
    assert_eq!(response.error_code(0), "unknown_field", "{}", response.text);
    assert_eq!(response.error_field(0), "colour");
}

#[actix_web::test]
async fn patch_of_read_only_field_is_422() {
    let app = TestApp::new().await;
    let record = create_organisation(&app, &organisation("Read only")).await;
    let response = app
        .patch(&path_of(&record), &json!({"version": 99}), None)
        .await;
    response.assert_problem(422);
    assert_eq!(response.error_field(0), "version", "{}", response.text);
    let (stored, _) = fetch(&app, &path_of(&record)).await;
    assert_eq!(stored["version"], 1);
}

#[actix_web::test]
async fn patch_with_invalid_value_is_422() {
    let app = TestApp::new().await;
    let record = create_organisation(&app, &organisation("Valid")).await;
    let response = app
        .patch(&path_of(&record), &json!({"email": "nope"}), None)
        .await;
    response.assert_problem(422);
    assert_eq!(response.error_field(0), "email");
}

#[actix_web::test]
async fn patch_with_text_plain_is_415() {
    let app = TestApp::new().await;
    let record = create_organisation(&app, &organisation("Typed")).await;
    let request = TestRequest::patch()
        .uri(&path_of(&record))
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .set_payload(r#"{"short_name":"X"}"#);
    let response = app.request(request).await;
    response.assert_problem(415);
    let (stored, _) = fetch(&app, &path_of(&record)).await;
    assert_eq!(stored["short_name"], "ORG");
}

#[actix_web::test]
async fn patch_that_is_not_an_object_is_422() {
    let app = TestApp::new().await;
    let record = create_organisation(&app, &organisation("Object")).await;
    let response = app.patch(&path_of(&record), &json!(["name"]), None).await;
    response.assert_problem(422);
    assert_eq!(response.error_field(0), "body");
}

#[actix_web::test]
async fn patch_of_unknown_organisation_is_404() {
    let app = TestApp::new().await;
    let response = app
        .patch(
            &format!("/v1/organisations/{}", uuid::Uuid::now_v7()),
            &json!({"short_name": "X"}),
            None,
        )
        .await;
    response.assert_problem(404);
}

#[actix_web::test]
async fn patch_into_a_taken_name_is_409() {
    let app = TestApp::new().await;
    create_organisation(&app, &organisation("First")).await;
    let second = create_organisation(&app, &organisation("Second")).await;
    let response = app
        .patch(&path_of(&second), &json!({"name": "FIRST"}), None)
        .await;
    response.assert_problem(409);
    assert_eq!(response.error_field(0), "name");
}

#[actix_web::test]
async fn create_duplicate_name_is_409_case_insensitively_within_a_country() {
    let app = TestApp::new().await;
    create_organisation(
        &app,
        &json!({"name": "Rīgas Dome", "kind": "municipality", "country": "LV"}),
    )
    .await;

    let response = app
        .post_json(
            "/v1/organisations",
            &json!({"name": "RĪGAS DOME", "kind": "ngo", "country": "LV"}),
        )
        .await;
    response.assert_problem(409);
    assert_eq!(response.error_field(0), "name", "{}", response.text);
    assert_eq!(response.error_code(0), "taken");

    // The same name in another country is another organisation.
    let elsewhere = app
        .post_json(
            "/v1/organisations",
            &json!({"name": "Rīgas Dome", "kind": "ngo", "country": "EE"}),
        )
        .await;
    assert_eq!(elsewhere.status, 201, "{}", elsewhere.text);
}

#[actix_web::test]
async fn create_duplicate_registration_number_is_409() {
    let app = TestApp::new().await;
    create_organisation(
        &app,
        &json!({"name": "A", "kind": "ngo", "country": "LV", "registration_number": "40008002279"}),
    )
    .await;
    let response =
        app.post_json("/v1/organisations", &json!({"name": "B", "kind": "ngo", "country": "LV", "registration_number": "40008002279"})).await;
    response.assert_problem(409);
    assert_eq!(
        response.error_field(0),
        "registration_number",
        "{}",
        response.text
    );
}

#[actix_web::test]
async fn create_with_invalid_fields_is_422_naming_each() {
    let app = TestApp::new().await;
    let mut body = organisation("Invalid");
    body["email"] = json!("not-an-email");
    body["website"] = json!("ftp://example.org");
    body["country"] = json!("lv");
    let response = app.post_json("/v1/organisations", &body).await;
    response.assert_problem(422);
    let fields: HashSet<String> = response.error_fields().into_iter().collect();
    let expected: HashSet<String> = ["email", "website", "country"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(fields, expected, "{}", response.text);

    // Each one alone is rejected too.
    for (field, value) in [
        ("email", "a@"),
        ("website", "example.org"),
        ("country", "LVA"),
    ] {
        let mut body = organisation("Invalid alone");
        body[field] = json!(value);
        let response = app.post_json("/v1/organisations", &body).await;
        response.assert_problem(422);
        assert_eq!(
            response.error_fields(),
            vec![field.to_owned()],
            "{}",
            response.text
        );
    }
    assert_eq!(
        app.get("/v1/organisations?count=true").await.body["total"],
        0,
        "nothing was stored"
    );
}

#[actix_web::test]
async fn create_with_blank_or_untrimmed_name_is_422() {
    let app = TestApp::new().await;
    for name in ["", "   ", " padded "] {
        let response = app
            .post_json("/v1/organisations", &organisation(name))
            .await;
        response.assert_problem(422);
        assert_eq!(
            response.error_field(0),
            "name",
            "name {name:?}: {}",
            response.text
        );
    }
}

#[actix_web::test]
async fn create_with_wrong_type_is_422() {
    let app = TestApp::new().await;
    let mut body = organisation("Typed");
    body["name"] = json!(42);
    let response = app.post_json("/v1/organisations", &body).await;
    response.assert_problem(422);
    assert_eq!(response.error_field(0), "name");
    assert_eq!(response.error_code(0), "invalid_type");
}

#[actix_web::test]
async fn create_with_unknown_kind_is_422_unknown_code() {
    let app = TestApp::new().await;
    let mut body = organisation("Spaceship");
    body["kind"] = json!("spaceship");
    let response = app.post_json("/v1/organisations", &body).await;
    response.assert_problem(422);
    assert_eq!(response.error_field(0), "kind", "{}", response.text);
    assert_eq!(response.error_code(0), "unknown_code");
}

#[actix_web::test]
async fn create_with_unknown_field_is_422() {
    let app = TestApp::new().await;
    let mut body = organisation("Extra");
    body["founded"] = json!(1990);
    let response = app.post_json("/v1/organisations", &body).await;
    response.assert_problem(422);
    assert_eq!(response.error_field(0), "founded");
    assert_eq!(response.error_code(0), "unknown_field");
}

#[actix_web::test]
async fn create_with_malformed_json_is_400() {
    let app = TestApp::new().await;
    for payload in [
        r#"{"name": "Broken", "kind": "ngo""#,
        "not json",
        r#"{"name": "A", "kind": "ngo"} trailing"#,
        "",
    ] {
        let request = TestRequest::post()
            .uri("/v1/organisations")
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload(payload);
        let response = app.request(request).await;
        response.assert_problem(400);
        assert!(
            response.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("not valid JSON"),
            "{}",
            response.text
        );
    }
}

#[actix_web::test]
async fn create_with_body_over_256_kib_is_413() {
    let app = TestApp::new().await;
    let mut body = organisation("Huge");
    body["description"] = json!("x".repeat(256 * 1024 + 1));
    let response = app.post_json("/v1/organisations", &body).await;
    response.assert_problem(413);

    // The limit also holds while the body streams in, whatever Content-Length claimed.
    let request = TestRequest::post()
        .uri("/v1/organisations")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(serde_json::to_vec(&body).unwrap())
        .insert_header((header::CONTENT_LENGTH, "100"));
    app.request(request).await.assert_problem(413);
    assert_eq!(
        app.get("/v1/organisations?count=true").await.body["total"],
        0,
        "nothing was stored"
    );
}

#[actix_web::test]
async fn create_with_wrong_content_type_is_415() {
    let app = TestApp::new().await;
    let json_text = serde_json::to_vec(&organisation("Wrong type")).unwrap();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = TestRequest::post()
            .uri("/v1/organisations")
            .set_payload(json_text.clone());
        if let Some(content_type) = content_type {
            request = request.insert_header((header::CONTENT_TYPE, content_type));
        }
        let response = app.request(request).await;
        response.assert_problem(415);
    }
    // `application/json; charset=utf-8` is JSON.
    let request = TestRequest::post()
        .uri("/v1/organisations")
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .set_payload(json_text);
    assert_eq!(app.request(request).await.status, 201);
}

#[actix_web::test]
async fn get_with_non_uuid_id_is_404() {
    let app = TestApp::new().await;
    let response = app.get("/v1/organisations/not-a-uuid").await;
    response.assert_problem(404);
    assert_eq!(response.body["instance"], "/v1/organisations/not-a-uuid");
}

#[actix_web::test]
async fn get_unknown_uuid_is_404() {
    let app = TestApp::new().await;
    create_organisation(&app, &organisation("Exists")).await;
    let response = app
        .get(&format!("/v1/organisations/{}", uuid::Uuid::now_v7()))
        .await;
    response.assert_problem(404);
}

#[actix_web::test]
async fn delete_then_get_is_404() {
    let app = TestApp::new().await;
    let record = create_organisation(&app, &organisation("Doomed")).await;
    let keep = create_organisation(&app, &organisation("Kept")).await;
    let response = app.delete(&path_of(&record), None).await;
    assert_eq!(response.status, 204, "{}", response.text);
    assert!(response.text.is_empty());
    app.get(&path_of(&record)).await.assert_problem(404);
    app.delete(&path_of(&record), None)
        .await
        .assert_problem(404);
    assert_eq!(
        app.get(&path_of(&keep)).await.status,
        200,
        "only the addressed record is deleted"
    );
}

#[actix_web::test]
async fn delete_with_stale_if_match_is_412() {
    let app = TestApp::new().await;
    let created = app
        .post_json("/v1/organisations", &organisation("Guarded"))
        .await;
    let stale = created.header("etag").unwrap().to_owned();
    let path = path_of(&created.body);
    let patched = app.patch(&path, &json!({"short_name": "G"}), None).await;
    assert_eq!(patched.status, 200);

    app.delete(&path, Some(&stale)).await.assert_problem(412);
    assert_eq!(app.get(&path).await.status, 200, "still there");

    let current = patched.header("etag").unwrap();
    assert_eq!(app.delete(&path, Some(current)).await.status, 204);
    assert_eq!(app.get(&path).await.status, 404);
}

#[actix_web::test]
async fn delete_of_organisation_referenced_by_project_or_programme_is_409() {
    let app = TestApp::new().await;
    let lead = create_organisation(&app, &organisation("Lead")).await;
    let funder = create_organisation(&app, &organisation("Funder")).await;
    let project_id = uuid::Uuid::now_v7();
    let programme_id = uuid::Uuid::now_v7();
    app.execute_sql(&format!(
        "INSERT INTO projects (id, title, status, lead_organisation_id) VALUES ('{project_id}', 'A project', 'active', '{}')",
        id_of(&lead)
    ))
    .await;
    app.execute_sql(&format!(
        "INSERT INTO programmes (id, name) VALUES ('{programme_id}', 'A programme')"
    ))
    .await;
    app.execute_sql(&format!(
        "INSERT INTO programme_organisations (id, programme_id, position, organisation_id, role) VALUES (gen_random_uuid(), '{programme_id}', 0, '{}', 'funder')",
        id_of(&funder)
    ))
    .await;

    let response = app.delete(&path_of(&lead), None).await;
    response.assert_problem(409);
    assert_eq!(
        response.error_fields(),
        vec!["projects.lead_organisation_id".to_owned()],
        "{}",
        response.text
    );
    assert_eq!(
        app.get(&path_of(&lead)).await.status,
        200,
        "a refused delete keeps the record"
    );

    let response = app.delete(&path_of(&funder), None).await;
    response.assert_problem(409);
    assert_eq!(
        response.error_fields(),
        vec!["programme_organisations.organisation_id".to_owned()],
        "{}",
        response.text
    );
    assert_eq!(app.get(&path_of(&funder)).await.status, 200);

    // Once nothing refers to it, it can go.
    app.execute_sql(&format!("DELETE FROM projects WHERE id = '{project_id}'"))
        .await;
    assert_eq!(app.delete(&path_of(&lead), None).await.status, 204);
}

#[actix_web::test]
async fn pagination_is_stable_while_records_are_inserted() {
    let app = TestApp::new().await;
    let mut originals = HashSet::new();
    for i in 0..30 {
        originals.insert(id_of(
            &create_organisation(&app, &organisation(&format!("Original {i:02}"))).await,
        ));
    }

    // Between page fetches, insert one organisation through the API (its id sorts after every
    // existing one) and one with an id that sorts before every existing one (raw SQL: the API
    // only makes time-ordered ids). Offset pagination would repeat records after the latter.
    let mut seen: Vec<String> = Vec::new();
    let mut appended = HashSet::new();
    let mut prepended = HashSet::new();
    let mut cursor: Option<String> = None;
    for page in 0..100 {
        let uri = match &cursor {
            Some(c) => format!("/v1/organisations?limit=7&cursor={c}"),
            None => "/v1/organisations?limit=7".to_owned(),
        };
        let response = app.get(&uri).await;
        assert_eq!(response.status, 200, "{}", response.text);
        let data = response.body["data"].as_array().unwrap();
        assert!(data.len() <= 7);
        seen.extend(data.iter().map(id_of));
        cursor = response.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
        appended.insert(id_of(
            &create_organisation(&app, &organisation(&format!("Appended {page:02}"))).await,
        ));
        let early = format!("00000000-0000-7000-8000-{page:012}");
        app.execute_sql(&format!("INSERT INTO organisations (id, name, kind) VALUES ('{early}', 'Prepended {page:02}', 'ngo')")).await;
        prepended.insert(early);
    }
    assert!(cursor.is_none(), "the walk ends");
    assert!(appended.len() >= 4, "records were inserted during the walk");

    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no id is seen twice: {seen:?}");
    for id in &originals {
        assert!(unique.contains(id), "original {id} is seen");
    }
    // Keyset pagination by id: records inserted ahead of the cursor show up, records inserted
    // behind it do not shift anything.
    let expected: HashSet<String> = originals.union(&appended).cloned().collect();
    assert_eq!(
        unique, expected,
        "exactly the originals and the records inserted ahead of the cursor"
    );
    assert!(unique.is_disjoint(&prepended));
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "pages are in id order");
}

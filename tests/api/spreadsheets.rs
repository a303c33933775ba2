//! Spreadsheet batches (CSV with Latvian headers and decimal commas, XLSX written by a
//! spreadsheet library), the template, and partners' external ids.

use actix_web::test::TestRequest;
use serde_json::json;

use crate::access::world;
use crate::support::{Resp, TestApp};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn push_file(app: &TestApp, query: &str, content_type: &str, body: Vec<u8>) -> Resp {
    app.request(
        TestRequest::post()
            .uri(&format!("/v1/metrics/batch{query}"))
            .insert_header(("content-type", content_type))
            .set_payload(body),
    )
    .await
}

async fn values(app: &TestApp) -> Vec<String> {
    app.query_strings(
        "SELECT coalesce(period_start::text, '-') || '=' || value::text || coalesce(' ' || external_id, '') \
         FROM metric_values ORDER BY period_start NULLS FIRST, value",
    )
    .await
}

#[actix_web::test]
async fn a_csv_with_latvian_headers_and_decimal_commas_is_a_batch() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let csv = format!(
        "Projekts;Rādītājs;Perioda sākums;Perioda beigas;Veids;Vērtība;Piezīme;Ārējais ID\n\
         {p};people_trained;01.01.2013;31.12.2013;faktiskā;1 234,5;kursi;row-a\n\
         {p};people_trained;2014-01-01;2014-12-31;actual;7;;row-b\n\
         {p};people_trained;41640;42004;mērķis;12,25;;\n",
        p = w.project
    );
    let dry = push_file(&app, "?dry_run=true", "text/csv", csv.clone().into_bytes()).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(dry.body["created"], 3);
    assert!(values(&app).await.is_empty(), "a dry run writes nothing");

    let pushed = push_file(&app, "", "text/csv; charset=utf-8", csv.into_bytes()).await;
    assert_eq!(pushed.status, 200, "{}", pushed.text);
    assert_eq!(pushed.body["created"], 3);
    assert_eq!(
        values(&app).await,
        vec![
            "2013-01-01=1234.5000 row-a",
            "2014-01-01=7.0000 row-b",
            "2014-01-01=12.2500"
        ]
    );
}

#[actix_web::test]
async fn bad_cells_come_back_by_row_and_column_and_nothing_is_written() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let csv = format!(
        "projekts,rādītājs,perioda sākums,perioda beigas,vērtība,krāsa\n\
         {p},people_trained,2013-01-01,2013-12-31,5,zila\n\
         {p},people_trained,31.02.2014,2014-12-31,abc,\n\
         {p},no_such_indicator,2015-01-01,2015-12-31,3,\n\
         {p},people_trained,2016-01-01,2015-12-31,-1,\n",
        p = w.project
    );
    let refused = push_file(&app, "", "text/csv", csv.into_bytes()).await;
    refused.assert_problem(422);
    let fields = refused.error_fields();
    for expected in [
        "row 1, column \"krāsa\"",
        "row 3, column \"perioda sākums\"",
        "row 3, column \"vērtība\"",
        "row 4, column \"rādītājs\"",
        "row 5, column \"vērtība\"",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} missing from {fields:?}"
        );
    }
    assert!(
        fields.iter().any(|f| f.starts_with("row 5")),
        "the period ending before it starts: {fields:?}"
    );
    assert!(values(&app).await.is_empty());
}

#[actix_web::test]
async fn an_xlsx_written_by_a_spreadsheet_library_is_a_batch() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    let date_format = rust_xlsxwriter::Format::new().set_num_format("dd.mm.yyyy");
    for (col, header) in [
        "Projekts",
        "Rādītājs",
        "Perioda sākums",
        "Perioda beigas",
        "Vērtība",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    // A date cell, a date typed as text and a plain serial number.
    let start = rust_xlsxwriter::ExcelDateTime::from_ymd(2013, 1, 1).unwrap();
    sheet.write_string(1, 0, &w.project).unwrap();
    sheet.write_string(1, 1, "people_trained").unwrap();
    sheet
        .write_datetime_with_format(1, 2, &start, &date_format)
        .unwrap();
    sheet.write_string(1, 3, "31.12.2013").unwrap();
    sheet.write_number(1, 4, 130.0).unwrap();
    sheet.write_string(2, 0, &w.project).unwrap();
    sheet.write_string(2, 1, "people_trained").unwrap();
    sheet.write_number(2, 2, 41640.0).unwrap();
    sheet.write_number(2, 3, 42004.0).unwrap();
    sheet.write_string(2, 4, "7,5").unwrap();
    let body = workbook.save_to_buffer().unwrap();

    let pushed = push_file(&app, "", XLSX, body.clone()).await;
    assert_eq!(pushed.status, 200, "{}", pushed.text);
    assert_eq!(pushed.body["created"], 2);
    assert_eq!(
        values(&app).await,
        vec!["2013-01-01=130.0000", "2014-01-01=7.5000"]
    );
    let again = push_file(&app, "", XLSX, body).await;
    assert_eq!(again.body["unchanged"], 2, "{}", again.text);

    let broken = push_file(&app, "", XLSX, b"not a workbook".to_vec()).await;
    broken.assert_problem(422);
    let wrong_type = push_file(&app, "", "text/plain", b"x".to_vec()).await;
    wrong_type.assert_problem(415);
}

#[actix_web::test]
async fn the_template_is_a_sheet_to_fill_in_and_push_back() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let dated = app
        .patch(
            &format!("/v1/projects/{}", w.project),
            &json!({"start_date": "2013-03-01", "end_date": "2014-04-30"}),
            None,
        )
        .await;
    assert_eq!(dated.status, 200, "{}", dated.text);
    let template = app
        .get(&format!(
            "/v1/projects/{}/metrics/template?format=csv&lang=lv",
            w.project
        ))
        .await;
    assert_eq!(template.status, 200, "{}", template.text);
    let lines: Vec<&str> = template.text.lines().collect();
    assert_eq!(
        lines[0],
        "projekts,rādītājs,perioda sākums,perioda beigas,mērķa grupa,veids,vērtība,piezīme,ārējais id"
    );
    assert_eq!(lines.len(), 3, "one row per year: {lines:?}");
    assert!(lines[1].contains("2013-03-01,2013-12-31"), "{}", lines[1]);
    assert!(lines[2].contains("2014-01-01,2014-04-30"), "{}", lines[2]);
    let filled = template.text.replace(",actual,,", ",actual,12,");
    let pushed = push_file(&app, "", "text/csv", filled.into_bytes()).await;
    assert_eq!(pushed.status, 200, "{}", pushed.text);
    assert_eq!(pushed.body["created"], 2);

    let xlsx = app
        .get(&format!("/v1/projects/{}/metrics/template", w.project))
        .await;
    assert_eq!(xlsx.status, 200);
    assert_eq!(xlsx.content_type(), XLSX);
    let again = push_file(&app, "", XLSX, xlsx.bytes.clone()).await;
    assert_eq!(again.body["unchanged"], 2, "{}", again.text);

    app.act_as(None);
    let draft = app
        .get(&format!("/v1/projects/{}/metrics/template", w.draft))
        .await;
    draft.assert_problem(404);
}

#[actix_web::test]
async fn external_ids_update_what_they_name_and_conflicts_name_both() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let tagged = app
        .patch(
            &format!("/v1/activities/{}", w.activity),
            &json!({"external_id": "course-7"}),
            None,
        )
        .await;
    assert_eq!(tagged.status, 200, "{}", tagged.text);
    assert_eq!(tagged.body["external_id"], "course-7");
    let item = |ext: &str, year: u32, value: f64| {
        json!({"project": w.project, "indicator": "people_trained", "external_id": ext,
               "activity_external_id": "course-7",
               "period_start": format!("{year}-01-01"), "period_end": format!("{year}-12-31"), "value": value})
    };
    let push = |items: Vec<serde_json::Value>| {
        app.request(
            TestRequest::post()
                .uri("/v1/metrics/batch")
                .set_json(json!({ "items": items })),
        )
    };
    let first = push(vec![item("m-1", 2013, 10.0), item("m-2", 2014, 20.0)]).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let id = first.body["items"][0]["id"].as_str().unwrap().to_owned();
    let other = first.body["items"][1]["id"].as_str().unwrap().to_owned();
    let stored = app.get(&format!("/v1/metrics/{id}")).await;
    assert_eq!(stored.body["activity_id"], w.activity.as_str());
    assert_eq!(stored.body["external_id"], "m-1");

    // The same external id with another period moves the value it names.
    let moved = push(vec![item("m-1", 2015, 11.0)]).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["items"][0]["outcome"], "updated");
    assert_eq!(moved.body["items"][0]["id"], id.as_str());
    let stored = app.get(&format!("/v1/metrics/{id}")).await;
    assert_eq!(stored.body["period_start"], "2015-01-01");
    assert_eq!(stored.body["value"], 11.0);

    // m-1 names one value, the natural key (2014) another: 409 naming both.
    let conflict = push(vec![item("m-1", 2014, 5.0)]).await;
    conflict.assert_problem(409);
    let message = conflict.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&id) && message.contains(&other),
        "{message}"
    );
    assert_eq!(conflict.error_field(0), "items[0].external_id");

    // An unknown activity external id is a 422 naming it.
    let mut unknown = item("m-3", 2016, 1.0);
    unknown["activity_external_id"] = json!("nope");
    let refused = push(vec![unknown]).await;
    refused.assert_problem(422);
    assert_eq!(refused.error_field(0), "items[0].activity_external_id");

    // Single writes keep external ids unique within the project.
    let taken = app
        .post_json(
            &format!("/v1/projects/{}/metrics", w.project),
            &json!({"indicator": "people_trained", "value": 1, "external_id": "m-2"}),
        )
        .await;
    taken.assert_problem(409);
    assert_eq!(taken.error_field(0), "external_id");
}

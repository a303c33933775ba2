//! Answers: stats from rollups equal to direct aggregates after mixed writes, indicator
//! families, targets beside actuals, money totals, facets and multi-valued filters.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::support::{create_organisation, organisation, TestApp};

/// Deterministic pseudo-random numbers (no extra crate, the same run every time).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

async fn indicator(app: &TestApp, code: &str, aggregation: &str, towards: Option<(&str, &str)>) {
    let mut body =
        json!({"code": code, "name": code, "unit": "person", "aggregation": aggregation});
    if let Some((parent, relation)) = towards {
        body["counts_towards"] = json!(parent);
        body["relation"] = json!(relation);
    }
    let created = app.post_json("/v1/indicators", &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
}

/// What a stats group says: its figure, how many values are not verified, how many not exact.
type Figures = BTreeMap<String, (f64, i64, i64)>;

/// The figures of `code` per group key straight from the values: the oracle the rollups must
/// agree with (each project's values combined by the indicator's rule within the group, then
/// added over projects; unverified and inexact values counted).
async fn direct(app: &TestApp, code: &str, rule: &str, key: &str) -> Figures {
    let combine = match rule {
        "sum" => "sum(m.value)",
        "max" => "max(m.value)",
        _ => "(array_agg(m.value ORDER BY coalesce(m.period_end, m.period_start) DESC NULLS LAST, m.updated_at DESC, m.id DESC))[1]",
    };
    let (key, join) = match key {
        "region" => (
            "g.code",
            " LEFT JOIN LATERAL unnest(p.regions) AS g(code) ON true",
        ),
        "year" => (
            "extract(year FROM coalesce(m.period_end, m.period_start, p.end_date))::int::text",
            "",
        ),
        "target_group" => ("m.target_group", ""),
        _ => ("p.programme_id::text", ""),
    };
    let sql = format!(
        "SELECT coalesce(key, '-') || '=' || sum(v)::float8 || '|' || sum(u) || '|' || sum(x) FROM \
         (SELECT {key} AS key, m.project_id, {combine} AS v, \
         count(*) FILTER (WHERE m.verification <> 'verified') AS u, \
         count(*) FILTER (WHERE m.qualifier <> 'exact') AS x \
         FROM metric_values m JOIN projects p ON p.id = m.project_id JOIN indicators i ON i.id = m.indicator_id{join} \
         WHERE i.code = '{code}' AND m.kind = 'actual' AND p.status <> 'draft' GROUP BY 1, 2) x GROUP BY key"
    );
    app.query_strings(&sql)
        .await
        .into_iter()
        .map(|row| {
            let (k, figures) = row.rsplit_once('=').unwrap();
            let mut parts = figures.split('|');
            let mut next = || parts.next().unwrap();
            let value = next().parse().unwrap();
            let unverified = next().parse().unwrap();
            let inexact = next().parse().unwrap();
            (k.to_owned(), (value, unverified, inexact))
        })
        .collect()
}

async fn fast(app: &TestApp, code: &str, key: &str) -> Figures {
    app.act_as(None);
    let stats = app
        .get(&format!("/v1/stats/indicators/{code}?group_by={key}"))
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(stats.body["computed_from"], "rollups");
    stats.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["projects"].as_i64().unwrap() > 0)
        .map(|g| {
            (
                g["key"].as_str().unwrap_or("-").to_owned(),
                (
                    g["value"].as_f64().unwrap(),
                    g["unverified"].as_i64().unwrap(),
                    g["inexact_values"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

#[actix_web::test]
async fn rollups_equal_direct_aggregates_after_mixed_writes() {
    let app = TestApp::new().await;
    let admin = app.operator_token.clone();
    let lead = create_organisation(&app, &organisation("Lead")).await;
    let lead = lead["id"].as_str().unwrap().to_owned();
    let programme = app
        .post_json("/v1/programmes", &json!({"name": "Fund"}))
        .await;
    let programme = programme.body["id"].as_str().unwrap().to_owned();
    for (code, rule) in [
        ("reached", "sum"),
        ("capacity", "max"),
        ("running", "latest"),
    ] {
        indicator(&app, code, rule, None).await;
    }
    let regions = ["latgale", "kurzeme", "riga", "zemgale"];
    let mut projects = Vec::new();
    for i in 0..6 {
        let created = app
            .post_json(
                "/v1/projects",
                &json!({"title": format!("Project {i}"), "status": if i == 5 { "draft" } else { "active" },
                        "lead_organisation_id": lead,
                        "programme_id": if i % 2 == 0 { json!(programme) } else { json!(null) },
                        "end_date": format!("201{i}-12-31"),
                        "regions": [regions[i % 4], regions[(i + 1) % 4]]}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        projects.push(created.body["id"].as_str().unwrap().to_owned());
    }
    let mut rng = Lcg(20261201);
    let mut stored: Vec<String> = Vec::new();
    for round in 0..60 {
        app.act_as(Some(&admin));
        let project = &projects[rng.next(projects.len() as u64) as usize];
        let code = ["reached", "capacity", "running"][rng.next(3) as usize];
        match rng.next(10) {
            0..=3 => {
                let year = 2010 + rng.next(5);
                let periodless = rng.next(4) == 0;
                let group = ["seniors", "youth"][rng.next(2) as usize];
                let qualifier = ["exact", "exact", "approximate", "at_least"][rng.next(4) as usize];
                let mut item = json!({"project": project, "indicator": code, "value": rng.next(500),
                    "target_group": group, "qualifier": qualifier});
                if !periodless {
                    item["period_start"] = json!(format!("{year}-01-01"));
                    item["period_end"] = json!(format!("{year}-{:02}-28", 1 + rng.next(12)));
                }
                let pushed = app
                    .post_json("/v1/metrics/batch", &json!({"items": [item]}))
                    .await;
                assert_eq!(pushed.status, 200, "round {round}: {}", pushed.text);
                stored.push(pushed.body["items"][0]["id"].as_str().unwrap().to_owned());
            }
            5..=6 if !stored.is_empty() => {
                let id = &stored[rng.next(stored.len() as u64) as usize];
                let patched = app
                    .patch(
                        &format!("/v1/metrics/{id}"),
                        &json!({"value": rng.next(900)}),
                        None,
                    )
                    .await;
                assert!(matches!(patched.status, 200 | 404), "{}", patched.text);
            }
            4 if !stored.is_empty() => {
                // A verdict changes what the answer says about its values, not the figure.
                let id = &stored[rng.next(stored.len() as u64) as usize];
                let status = ["verified", "queried", "reported"][rng.next(3) as usize];
                let judged = app
                    .post_json(
                        &format!("/v1/metrics/{id}/verification"),
                        &json!({"status": status}),
                    )
                    .await;
                assert!(matches!(judged.status, 200 | 404), "{}", judged.text);
            }
            7 if !stored.is_empty() => {
                let id = stored.swap_remove(rng.next(stored.len() as u64) as usize);
                let deleted = app.delete(&format!("/v1/metrics/{id}"), None).await;
                assert!(matches!(deleted.status, 204 | 404), "{}", deleted.text);
            }
            8 => {
                // A project moving between draft and published changes what readers see.
                let status = if rng.next(2) == 0 { "draft" } else { "active" };
                let moved = app
                    .patch(
                        &format!("/v1/projects/{project}"),
                        &json!({"status": status}),
                        None,
                    )
                    .await;
                assert_eq!(moved.status, 200, "{}", moved.text);
            }
            _ => {
                let items: Vec<Value> = (0..5)
                    .map(|i| json!({"project": projects[i], "indicator": code,
                        "period_start": "2012-01-01", "period_end": "2012-12-31", "value": rng.next(50)}))
                    .collect();
                let pushed = app
                    .post_json("/v1/metrics/batch", &json!({"items": items}))
                    .await;
                assert_eq!(pushed.status, 200, "{}", pushed.text);
            }
        }
        if round % 15 == 14 {
            for (code, rule) in [
                ("reached", "sum"),
                ("capacity", "max"),
                ("running", "latest"),
            ] {
                for key in ["region", "year", "target_group", "programme"] {
                    assert_eq!(
                        fast(&app, code, key).await,
                        direct(&app, code, rule, key).await,
                        "{code} by {key} after round {round}"
                    );
                }
            }
        }
    }
    // Deleting a project takes its values and their rollups with it.
    app.act_as(Some(&admin));
    let deleted = app
        .delete(&format!("/v1/projects/{}", projects[0]), None)
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        fast(&app, "reached", "region").await,
        direct(&app, "reached", "sum", "region").await
    );
    let orphans = app
        .query_strings("SELECT count(*) FROM metric_rollups r WHERE NOT EXISTS (SELECT 1 FROM metric_values m WHERE m.project_id = r.project_id AND m.indicator_id = r.indicator_id AND m.kind = r.kind)")
        .await;
    assert_eq!(orphans, ["0"]);
}

#[actix_web::test]
async fn families_never_count_a_person_twice_and_targets_sit_beside_actuals() {
    let app = TestApp::new().await;
    let lead = create_organisation(&app, &organisation("Lead")).await;
    indicator(&app, "reached", "sum", None).await;
    indicator(&app, "seniors", "sum", Some(("reached", "disjoint"))).await;
    indicator(&app, "children", "sum", Some(("reached", "disjoint"))).await;
    indicator(&app, "trained", "sum", Some(("reached", "overlapping"))).await;
    let project = app
        .post_json(
            "/v1/projects",
            &json!({"title": "Family", "status": "active", "lead_organisation_id": lead["id"], "regions": ["latgale"]}),
        )
        .await;
    let project = project.body["id"].as_str().unwrap().to_owned();
    let push = |items: Value| {
        let app = &app;
        async move {
            let pushed = app
                .post_json("/v1/metrics/batch", &json!({"items": items}))
                .await;
            assert_eq!(pushed.status, 200, "{}", pushed.text);
        }
    };
    push(json!([
        {"project": project, "indicator": "seniors", "value": 40},
        {"project": project, "indicator": "children", "value": 35},
        {"project": project, "indicator": "trained", "value": 60},
        {"project": project, "indicator": "reached", "kind": "target", "value": 100},
    ]))
    .await;
    app.act_as(None);
    let stats = app
        .get("/v1/stats/indicators/reached?group_by=region")
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    // 40 + 35 (disjoint) is more than the 60 trained, who may overlap with them.
    assert_eq!(stats.body["total"]["value"], 75.0);
    assert_eq!(stats.body["family"].as_array().unwrap().len(), 3);
    let group = &stats.body["groups"][0];
    assert_eq!(group["key"], "latgale");
    assert_eq!(group["actual"], 75.0);
    assert_eq!(group["target"], 100.0);
    assert_eq!(group["progress"], 0.75);
    // The project's own count, when larger, is the total.
    app.act_as(Some(&app.operator_token.clone()));
    push(json!([{"project": project, "indicator": "reached", "value": 120}])).await;
    app.act_as(None);
    let stats = app
        .get("/v1/stats/indicators/reached?group_by=region")
        .await;
    assert_eq!(stats.body["total"]["value"], 120.0);
    // A member alone answers for itself.
    let seniors = app
        .get("/v1/stats/indicators/seniors?group_by=region")
        .await;
    assert_eq!(seniors.body["total"]["value"], 40.0);
    // Every indicator at once, each on its own.
    let all = app.get("/v1/stats/indicators").await;
    assert_eq!(all.status, 200, "{}", all.text);
    let figures: BTreeMap<String, (f64, Value)> = all.body["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["indicator"].as_str().unwrap().to_owned(),
                (i["value"].as_f64().unwrap(), i["target"].clone()),
            )
        })
        .collect();
    assert_eq!(figures["seniors"].0, 40.0);
    assert_eq!(figures["trained"].0, 60.0);
    assert_eq!(figures["reached"].0, 120.0);
    assert_eq!(figures["reached"].1, 100.0);
    // Period bounds read the values and say so.
    let bounded = app
        .get("/v1/stats/indicators/reached?group_by=region&period_from=2000-01-01")
        .await;
    assert_eq!(bounded.body["computed_from"], "values");
}

#[actix_web::test]
async fn the_seeded_catalogue_has_a_family_of_people_reached() {
    let app = TestApp::new().await;
    crate::seeds::load(&app).await;
    app.act_as(None);
    let family = app
        .get("/v1/stats/indicators/people_reached?group_by=target_group")
        .await;
    assert_eq!(family.status, 200, "{}", family.text);
    let participants = app
        .get("/v1/stats/indicators/participants?group_by=target_group")
        .await;
    let members = family.body["family"].as_array().unwrap();
    assert!(members.iter().any(|m| m["indicator"] == "participants"));
    assert!(
        family.body["total"]["value"].as_f64().unwrap()
            >= participants.body["total"]["value"].as_f64().unwrap()
    );
}

#[actix_web::test]
async fn money_totals_by_currency_count_lines_without_amounts() {
    let app = TestApp::new().await;
    let lead = create_organisation(&app, &organisation("Lead")).await;
    let funder = create_organisation(&app, &organisation("Funder")).await;
    let programme = app
        .post_json(
            "/v1/programmes",
            &json!({"name": "Fund", "organisations": [{"organisation_id": funder["id"], "role": "funder"}]}),
        )
        .await;
    for (title, region, funding) in [
        (
            "A",
            "latgale",
            json!([{"programme_id": programme.body["id"], "amount": "1000.50", "currency": "EUR", "share_percent": 80}, {"funder_id": lead["id"], "share_percent": 20}]),
        ),
        (
            "B",
            "latgale",
            json!([{"programme_id": programme.body["id"], "amount": "99.50", "currency": "EUR"}, {"programme_id": programme.body["id"], "amount": "300", "currency": "NOK"}]),
        ),
        (
            "C",
            "kurzeme",
            json!([{"funder_id": funder["id"], "share_percent": 50}]),
        ),
    ] {
        let created = app
            .post_json(
                "/v1/projects",
                &json!({"title": title, "status": "active", "lead_organisation_id": lead["id"],
                        "regions": [region], "funding": funding}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    app.act_as(None);
    let stats = app.get("/v1/stats/funding?group_by=region").await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let latgale = &stats.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "latgale")
        .unwrap()
        .clone();
    assert_eq!(
        latgale["amounts"],
        json!([{"currency": "EUR", "amount": "1100.00"}, {"currency": "NOK", "amount": "300.00"}])
    );
    assert_eq!(latgale["projects"], 2);
    assert_eq!(latgale["lines"], 4);
    assert_eq!(latgale["lines_without_amount"], 1);
    assert_eq!(stats.body["total"]["lines"], 5);
    assert_eq!(stats.body["total"]["lines_without_amount"], 2);
    let by_funder = app
        .get("/v1/stats/funding?group_by=funder&region=latgale")
        .await;
    let funder_group = by_funder.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == funder["id"])
        .unwrap()
        .clone();
    assert_eq!(funder_group["label"], "Funder");
    assert_eq!(
        funder_group["lines"], 3,
        "the programme's funder pays its lines"
    );
    let csv = app
        .get("/v1/exports/stats/funding.csv?group_by=region")
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.text.contains("latgale"));
}

#[actix_web::test]
async fn facets_equal_counted_lists_and_filters_take_several_values() {
    let app = TestApp::new().await;
    crate::seeds::load(&app).await;
    app.act_as(None);
    let page = app
        .get("/v1/projects?facets=status,region,target_group,programme&limit=1&count=true")
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let facets = page.body["facets"].as_object().unwrap();
    for (facet, parameter) in [
        ("status", "status"),
        ("region", "region"),
        ("target_group", "target_group"),
        ("programme", "programme"),
    ] {
        for count in facets[facet].as_array().unwrap() {
            let Some(value) = count["value"].as_str() else {
                continue;
            };
            let listed = app
                .get(&format!(
                    "/v1/projects?{parameter}={value}&count=true&limit=1"
                ))
                .await;
            assert_eq!(listed.body["total"], count["count"], "{facet}={value}");
        }
    }
    let either = app.get("/v1/projects?region=latgale,riga&count=true").await;
    let latgale = app.get("/v1/projects?region=latgale&count=true").await;
    let riga = app.get("/v1/projects?region=riga&count=true").await;
    let both = app
        .get("/v1/projects?region=latgale&target_group=seniors,youth&count=true")
        .await;
    assert!(either.body["total"].as_i64() >= latgale.body["total"].as_i64());
    assert!(either.body["total"].as_i64() >= riga.body["total"].as_i64());
    assert!(
        either.body["total"].as_i64().unwrap()
            <= latgale.body["total"].as_i64().unwrap() + riga.body["total"].as_i64().unwrap()
    );
    assert_eq!(both.status, 200);
    let bad = app.get("/v1/projects?region=latgale,atlantis").await;
    bad.assert_problem(400);
    assert_eq!(bad.error_field(0), "region");
}

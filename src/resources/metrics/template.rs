//! `GET /v1/projects/{id}/metrics/template`: a ready sheet for a partner to fill in and push
//! back to the batch — one row per expected number (each of the project's indicators for each
//! year of its period), with the numbers already stored filled in.

use actix_web::http::header;
use actix_web::{get, HttpResponse};
use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use utoipa::IntoParams;

use super::sheet::{COLUMNS, XLSX};
use crate::domain::{money, Lang, ProjectId};
use crate::resources::record::{Ctx, Parent};
use crate::schema::{indicators, metric_values, projects};
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::Query;

/// The columns a template has (the rest of [`COLUMNS`] are for partners who need them).
const TEMPLATE_COLUMNS: [&str; 9] = [
    "project",
    "indicator",
    "period_start",
    "period_end",
    "target_group",
    "kind",
    "value",
    "note",
    "external_id",
];

crate::text_enum! {
    /// The file a template comes as.
    TemplateFormat { Csv => "csv", Xlsx => "xlsx" }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TemplateParams {
    /// `xlsx` (the default) or `csv`.
    #[param(inline)]
    pub format: Option<TemplateFormat>,
    /// `lv` for Latvian column headers (the batch takes both).
    pub lang: Option<Lang>,
}

/// One expected number.
struct Line {
    indicator: String,
    period: Option<(NaiveDate, NaiveDate)>,
    value: Option<f64>,
    note: Option<String>,
    external_id: Option<String>,
}

/// A sheet to fill in for a project
///
/// One row per expected number: each indicator the project reports (every catalogued one when
/// it reports none yet) for each calendar year of its period (or each period it has reported,
/// when its dates are unknown), as `actual` values, with what is stored already filled in. Fill
/// in `value` and push the file to `POST /v1/metrics/batch` as it is.
#[utoipa::path(
    tag = "metrics",
    params(("id" = Uuid, Path, description = "Project id"), TemplateParams),
    responses((status = 200, description = "The sheet", content(
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (String = "text/csv"),
    )))
)]
#[get("/projects/{id}/metrics/template")]
pub async fn metric_template(
    ctx: Ctx,
    Query(params): Query<TemplateParams>,
    Parent(project): Parent<ProjectId>,
) -> ApiResult<HttpResponse> {
    let mut conn = ctx.state.reader(&ctx.caller).await?;
    ctx.caller.ensure_visible(&mut conn, project).await?;
    let (reference, start, end): (Option<String>, Option<NaiveDate>, Option<NaiveDate>) =
        projects::table
            .find(project.0)
            .select((
                projects::reference,
                projects::start_date,
                projects::end_date,
            ))
            .first(&mut conn)
            .await?;
    type StoredLine = (
        String,
        Option<NaiveDate>,
        Option<NaiveDate>,
        bigdecimal::BigDecimal,
        Option<String>,
        Option<String>,
    );
    let stored: Vec<StoredLine> = metric_values::table
        .inner_join(indicators::table)
        .filter(metric_values::project_id.eq(project.0))
        .filter(metric_values::kind.eq("actual"))
        .filter(metric_values::activity_id.is_null())
        .filter(metric_values::target_group.is_null())
        .select((
            indicators::code,
            metric_values::period_start,
            metric_values::period_end,
            metric_values::value,
            metric_values::note,
            metric_values::external_id,
        ))
        .order((indicators::code, metric_values::period_start))
        .load(&mut conn)
        .await?;
    let mut codes: Vec<String> = stored.iter().map(|s| s.0.clone()).collect();
    codes.dedup();
    if codes.is_empty() {
        codes = indicators::table
            .select(indicators::code)
            .order(indicators::code)
            .load(&mut conn)
            .await?;
    }
    let periods: Vec<Option<(NaiveDate, NaiveDate)>> = match (start, end) {
        (Some(start), Some(end)) if start <= end => (start.year()..=end.year())
            .filter_map(|year| {
                let first = NaiveDate::from_ymd_opt(year, 1, 1)?.max(start);
                let last = NaiveDate::from_ymd_opt(year, 12, 31)?.min(end);
                Some(Some((first, last)))
            })
            .collect(),
        _ => {
            let mut reported: Vec<Option<(NaiveDate, NaiveDate)>> =
                stored.iter().map(|s| s.1.zip(s.2)).collect();
            reported.sort();
            reported.dedup();
            if reported.is_empty() {
                vec![None]
            } else {
                reported
            }
        }
    };
    let mut lines = Vec::new();
    for code in &codes {
        for period in &periods {
            let found = stored
                .iter()
                .find(|s| &s.0 == code && s.1.zip(s.2) == *period);
            lines.push(Line {
                indicator: code.clone(),
                period: *period,
                value: found.map(|s| money::to_f64(&s.3)),
                note: found.and_then(|s| s.4.clone()),
                external_id: found.and_then(|s| s.5.clone()),
            });
        }
    }
    let project_name = reference.unwrap_or_else(|| project.0.to_string());
    let headers: Vec<&str> = TEMPLATE_COLUMNS
        .iter()
        .map(|field| match params.lang {
            Some(Lang::Lv) => COLUMNS
                .iter()
                .find(|c| c.field == *field)
                .map(|c| c.latvian)
                .unwrap_or(field),
            _ => field,
        })
        .collect();
    let rows: Vec<[String; 9]> = lines
        .into_iter()
        .map(|line| {
            [
                project_name.clone(),
                line.indicator,
                line.period.map(|p| p.0.to_string()).unwrap_or_default(),
                line.period.map(|p| p.1.to_string()).unwrap_or_default(),
                String::new(),
                "actual".to_owned(),
                line.value.map(|v| v.to_string()).unwrap_or_default(),
                line.note.unwrap_or_default(),
                line.external_id.unwrap_or_default(),
            ]
        })
        .collect();
    let file = format!("kopa-metrics-{}", project.0);
    match params.format.unwrap_or(TemplateFormat::Xlsx) {
        TemplateFormat::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(&headers).map_err(internal)?;
            for row in &rows {
                writer.write_record(row).map_err(internal)?;
            }
            let body = writer.into_inner().map_err(internal)?;
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}.csv\""),
                ))
                .body(body))
        }
        TemplateFormat::Xlsx => {
            let mut workbook = rust_xlsxwriter::Workbook::new();
            let sheet = workbook.add_worksheet();
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (col, name) in headers.iter().enumerate() {
                sheet
                    .write_string_with_format(0, col as u16, *name, &bold)
                    .map_err(internal)?;
            }
            for (r, row) in rows.iter().enumerate() {
                for (col, cell) in row.iter().enumerate() {
                    sheet
                        .write_string((r + 1) as u32, col as u16, cell)
                        .map_err(internal)?;
                }
            }
            let body = workbook.save_to_buffer().map_err(internal)?;
            Ok(HttpResponse::Ok()
                .content_type(XLSX)
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}.xlsx\""),
                ))
                .body(body))
        }
    }
}

fn internal(error: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Internal(anyhow::Error::new(error))
}

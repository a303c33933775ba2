//! Spreadsheets for partners without developers: a batch sent as CSV or XLSX becomes the same
//! items a JSON batch carries, and whatever is wrong is reported by row and column as the
//! partner sees them (`row 7, column "vērtība"`), not by item index.
//!
//! Headers are the batch's field names or their Latvian aliases ([`COLUMNS`]), compared without
//! case, diacritics or the difference between spaces and underscores. Cells are read the way
//! spreadsheets write them: dates as ISO (`2013-05-31`), Latvian (`31.05.2013`) or Excel serial
//! numbers, numbers with a decimal comma and spaces between thousands.

use std::collections::HashMap;
use std::io::Cursor;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::web::error::{ApiError, ApiResult, FieldError};

/// The media type of an XLSX workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What kind of cell a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Text,
    Date,
    Number,
    Kind,
}

/// A batch field as a sheet column: its name, its Latvian header and what its cells hold.
pub struct Column {
    pub field: &'static str,
    pub latvian: &'static str,
    cell: Cell,
}

/// Every column a sheet may have, in template order.
pub const COLUMNS: [Column; 11] = [
    column("project", "projekts", Cell::Text),
    column("indicator", "rādītājs", Cell::Text),
    column("period_start", "perioda sākums", Cell::Date),
    column("period_end", "perioda beigas", Cell::Date),
    column("target_group", "mērķa grupa", Cell::Text),
    column("kind", "veids", Cell::Kind),
    column("value", "vērtība", Cell::Number),
    column("note", "piezīme", Cell::Text),
    column("external_id", "ārējais id", Cell::Text),
    column("activity_id", "aktivitāte", Cell::Text),
    column("activity_external_id", "aktivitātes ārējais id", Cell::Text),
];

const fn column(field: &'static str, latvian: &'static str, cell: Cell) -> Column {
    Column {
        field,
        latvian,
        cell,
    }
}

/// Latvian words for the kinds of number.
const KINDS: [(&str, &str); 6] = [
    ("faktiska", "actual"),
    ("faktiskais", "actual"),
    ("merkis", "target"),
    ("planota", "target"),
    ("bazes", "baseline"),
    ("sakuma", "baseline"),
];

/// The body formats a batch may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

impl Format {
    /// The format `Content-Type` names; 415 for anything else.
    pub fn of(content_type: Option<&str>) -> ApiResult<Format> {
        let essence = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/json") | Some("application/merge-patch+json") => Ok(Format::Json),
            Some("text/csv") => Ok(Format::Csv),
            Some(XLSX) => Ok(Format::Xlsx),
            _ => Err(ApiError::UnsupportedMediaType(format!(
                "a batch is application/json, text/csv or {XLSX}"
            ))),
        }
    }
}

/// A sheet read into batch items, with where each item came from.
pub struct Sheet {
    /// One JSON item per non-empty row.
    pub items: Vec<Value>,
    /// The sheet row of each item (1-based, the header being row 1).
    rows: Vec<usize>,
    /// The header each field was given under, as written.
    headers: HashMap<&'static str, String>,
    /// Cells that could not be read at all.
    pub errors: Vec<FieldError>,
}

impl Sheet {
    /// `items[3].value` as `row 5, column "vērtība"`; errors about a whole item name its row.
    pub fn locate(&self, errors: Vec<FieldError>) -> Vec<FieldError> {
        let (mut located, from_items): (Vec<FieldError>, Vec<FieldError>) = errors
            .into_iter()
            .partition(|e| split_item_field(&e.field).is_none());
        for error in from_items {
            let Some((index, field)) = split_item_field(&error.field) else {
                continue;
            };
            let row = self.rows.get(index).copied().unwrap_or(index + 2);
            let place = match field {
                Some(field) => {
                    let header = self
                        .headers
                        .get(field.split(['.', '[']).next().unwrap_or(field))
                        .cloned()
                        .unwrap_or_else(|| field.to_owned());
                    cell_name(row, &header)
                }
                None => format!("row {row}"),
            };
            let message = relabel_items(&error.message, &self.rows);
            if !located.iter().any(|e| e.field == place) {
                located.push(FieldError {
                    field: place,
                    message,
                    ..error
                });
            }
        }
        located.sort_by_key(|e| row_of(&e.field));
        located
    }
}

fn cell_name(row: usize, header: &str) -> String {
    format!("row {row}, column {header:?}")
}

/// `items[7].value` → (7, Some("value")); `items[7]` → (7, None).
fn split_item_field(field: &str) -> Option<(usize, Option<&str>)> {
    let rest = field.strip_prefix("items[")?;
    let (index, rest) = rest.split_once(']')?;
    let index = index.parse().ok()?;
    Some((index, rest.strip_prefix('.')))
}

/// "the same value as items[2]" → "the same value as row 4".
fn relabel_items(message: &str, rows: &[usize]) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(start) = rest.find("items[") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        match after.split_once(']') {
            Some((n, tail)) if n.parse::<usize>().is_ok() => {
                let index: usize = n.parse().unwrap_or_default();
                let row = rows.get(index).copied().unwrap_or(index + 2);
                out.push_str(&format!("row {row}"));
                rest = tail;
            }
            _ => {
                out.push_str("items[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn row_of(field: &str) -> usize {
    field
        .strip_prefix("row ")
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Lower case, Latvian diacritics removed, `_` and runs of spaces as one space.
pub fn fold(text: &str) -> String {
    let plain: String = text
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ā' => 'a',
            'č' => 'c',
            'ē' => 'e',
            'ģ' => 'g',
            'ī' => 'i',
            'ķ' => 'k',
            'ļ' => 'l',
            'ņ' => 'n',
            'ō' => 'o',
            'ŗ' => 'r',
            'š' => 's',
            'ū' => 'u',
            'ž' => 'z',
            '_' | '-' => ' ',
            c => c,
        })
        .collect();
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn column_for(header: &str) -> Option<&'static Column> {
    let folded = fold(header);
    COLUMNS
        .iter()
        .find(|c| fold(c.field) == folded || fold(c.latvian) == folded)
}

/// A cell as read, before it is interpreted by its column.
#[derive(Debug, Clone)]
enum Raw {
    Empty,
    Text(String),
    Number(f64),
    /// A cell the spreadsheet formatted as a date.
    Date(NaiveDate),
}

impl Raw {
    fn text(value: &str) -> Raw {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            Raw::Empty
        } else {
            Raw::Text(trimmed.to_owned())
        }
    }
}

/// Reads a CSV body (comma or semicolon separated, as Excel writes it in Latvian locales).
pub fn read_csv(body: &[u8], max_rows: usize) -> ApiResult<Sheet> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid("body", "invalid_encoding", "a CSV batch is UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            ApiError::invalid(
                format!("row {}", n + 1),
                "invalid_csv",
                format!("not readable as CSV: {e}"),
            )
        })?;
        let line = record
            .position()
            .map(|p| p.line() as usize)
            .unwrap_or(n + 1);
        rows.push((line, record.iter().map(Raw::text).collect()));
    }
    build(rows, max_rows)
}

/// Reads the first worksheet of an XLSX workbook.
pub fn read_xlsx(body: &[u8], max_rows: usize) -> ApiResult<Sheet> {
    use calamine::{Data, Reader};
    let unreadable = |e: &dyn std::fmt::Display| {
        ApiError::invalid(
            "body",
            "invalid_xlsx",
            format!("not readable as an XLSX workbook: {e}"),
        )
    };
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(body)).map_err(|e| unreadable(&e))?;
    let range = match workbook.worksheet_range_at(0) {
        Some(Ok(range)) => range,
        Some(Err(e)) => return Err(unreadable(&e)),
        None => return Err(unreadable(&"the workbook has no worksheet")),
    };
    let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let first_column = range.start().map(|(_, c)| c as usize).unwrap_or(0);
    let rows = range
        .rows()
        .enumerate()
        .map(|(n, cells)| {
            let mut raw: Vec<Raw> = vec![Raw::Empty; first_column];
            raw.extend(cells.iter().map(|cell| match cell {
                Data::Empty => Raw::Empty,
                Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Raw::text(s),
                Data::Int(i) => Raw::Number(*i as f64),
                Data::Float(f) => Raw::Number(*f),
                Data::Bool(b) => Raw::Text(b.to_string()),
                Data::DateTime(d) => {
                    let (y, m, day, ..) = d.to_ymd_hms_milli();
                    NaiveDate::from_ymd_opt(y.into(), m.into(), day.into())
                        .map(Raw::Date)
                        .unwrap_or(Raw::Number(d.as_f64()))
                }
                Data::Error(e) => Raw::Text(format!("#{e:?}")),
            }));
            (first_row + n + 1, raw)
        })
        .collect();
    build(rows, max_rows)
}

/// The header row, then one item per non-empty row.
fn build(rows: Vec<(usize, Vec<Raw>)>, max_rows: usize) -> ApiResult<Sheet> {
    let mut rows = rows
        .into_iter()
        .filter(|(_, cells)| cells.iter().any(|c| !matches!(c, Raw::Empty)));
    let Some((header_row, header_cells)) = rows.next() else {
        return Err(ApiError::invalid(
            "body",
            "empty",
            "the sheet has no header row and no values",
        ));
    };
    let mut errors = Vec::new();
    let mut columns: Vec<Option<&'static Column>> = Vec::new();
    let mut headers = HashMap::new();
    for cell in &header_cells {
        let name = match cell {
            Raw::Empty => {
                columns.push(None);
                continue;
            }
            Raw::Text(t) => t.clone(),
            Raw::Number(n) => n.to_string(),
            Raw::Date(d) => d.to_string(),
        };
        match column_for(&name) {
            Some(column) if headers.contains_key(column.field) => {
                errors.push(FieldError::new(
                    cell_name(header_row, &name),
                    "duplicate",
                    format!("a second column for `{}`", column.field),
                ));
                columns.push(None);
            }
            Some(column) => {
                headers.insert(column.field, name);
                columns.push(Some(column));
            }
            None => {
                errors.push(FieldError::new(
                    cell_name(header_row, &name),
                    "unknown_field",
                    "not a column of a metric batch (see the README for the names and their Latvian aliases)",
                ));
                columns.push(None);
            }
        }
    }
    let mut items = Vec::new();
    let mut item_rows = Vec::new();
    for (row, cells) in rows {
        if items.len() == max_rows {
            return Err(ApiError::invalid(
                "body",
                "length",
                format!("a batch holds 1 to {max_rows} rows"),
            ));
        }
        let mut item = Map::new();
        for (cell, column) in cells.into_iter().zip(&columns) {
            let Some(column) = column else {
                continue;
            };
            let header = &headers[column.field];
            match interpret(column.cell, cell) {
                Ok(Value::Null) => {}
                Ok(value) => {
                    item.insert(column.field.to_owned(), value);
                }
                Err(message) => {
                    errors.push(FieldError::new(cell_name(row, header), "invalid", message))
                }
            }
        }
        items.push(Value::Object(item));
        item_rows.push(row);
    }
    if items.is_empty() && errors.is_empty() {
        return Err(ApiError::invalid(
            "body",
            "length",
            format!("a batch holds 1 to {max_rows} rows; this sheet has only its header"),
        ));
    }
    Ok(Sheet {
        items,
        rows: item_rows,
        headers,
        errors,
    })
}

/// A cell as its column's JSON value (`null` for an empty cell).
fn interpret(cell: Cell, raw: Raw) -> Result<Value, String> {
    match (cell, raw) {
        (_, Raw::Empty) => Ok(Value::Null),
        (Cell::Text, Raw::Text(t)) => Ok(Value::String(t)),
        (Cell::Text, Raw::Number(n)) if n.fract() == 0.0 && n.abs() < 1e15 => {
            Ok(Value::String(format!("{}", n as i64)))
        }
        (Cell::Text, Raw::Number(n)) => Ok(Value::String(n.to_string())),
        (Cell::Text, Raw::Date(d)) => Ok(Value::String(d.to_string())),
        (Cell::Kind, Raw::Text(t)) => {
            let folded = fold(&t);
            let kind = KINDS
                .iter()
                .find(|(lv, _)| *lv == folded)
                .map(|(_, en)| (*en).to_owned())
                .unwrap_or(folded);
            Ok(Value::String(kind))
        }
        (Cell::Kind, other) => Err(format!(
            "{} is not a kind: actual, target or baseline (faktiskā, mērķis, bāzes)",
            describe(&other)
        )),
        (Cell::Date, Raw::Date(d)) => Ok(Value::String(d.to_string())),
        (Cell::Date, Raw::Number(n)) => serial_date(n)
            .map(|d| Value::String(d.to_string()))
            .ok_or_else(|| format!("{n} is not a date")),
        (Cell::Date, Raw::Text(t)) => parse_date(&t)
            .map(|d| Value::String(d.to_string()))
            .ok_or_else(|| {
                format!("{t:?} is not a date: write 2013-05-31, 31.05.2013 or a spreadsheet date")
            }),
        (Cell::Number, Raw::Number(n)) => number(n),
        (Cell::Number, Raw::Text(t)) => parse_number(&t)
            .ok_or_else(|| format!("{t:?} is not a number"))
            .and_then(number),
        (Cell::Number, Raw::Date(d)) => Err(format!("{d} is a date, not a number")),
    }
}

fn describe(raw: &Raw) -> String {
    match raw {
        Raw::Empty => "an empty cell".into(),
        Raw::Text(t) => format!("{t:?}"),
        Raw::Number(n) => n.to_string(),
        Raw::Date(d) => d.to_string(),
    }
}

fn number(n: f64) -> Result<Value, String> {
    serde_json::Number::from_f64(n)
        .map(Value::Number)
        .ok_or_else(|| format!("{n} is not a number"))
}

/// `1 234,5`, `1234.5` and `1.234,5` as 1234.5: a comma is the decimal mark; spaces (also
/// non-breaking ones) group thousands, and so do dots before a decimal comma.
pub fn parse_number(text: &str) -> Option<f64> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .collect();
    let normal = if compact.contains(',') {
        compact.replace('.', "").replace(',', ".")
    } else {
        compact
    };
    if normal.is_empty()
        || !normal
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
    {
        return None;
    }
    normal.parse().ok().filter(|n: &f64| n.is_finite())
}

/// `2013-05-31`, `31.05.2013` (also `31.05.2013.` and `31/05/2013`) or an Excel serial number.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim().trim_end_matches('.');
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date);
    }
    for format in ["%d.%m.%Y", "%d/%m/%Y"] {
        match NaiveDate::parse_from_str(text, format) {
            Ok(date) if chrono::Datelike::year(&date) >= 1900 => return Some(date),
            _ => {}
        }
    }
    let serial: f64 = text.parse().ok()?;
    serial_date(serial)
}

/// An Excel serial date (days since 1899-12-30; the time of day is ignored).
fn serial_date(serial: f64) -> Option<NaiveDate> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_days(chrono::Days::new(serial as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_read_as_spreadsheets_write_them() {
        assert_eq!(parse_number("1 234,5"), Some(1234.5));
        assert_eq!(parse_number("1.234,5"), Some(1234.5));
        assert_eq!(parse_number("12.25"), Some(12.25));
        assert_eq!(parse_number("12,x"), None);
        let may = NaiveDate::from_ymd_opt(2009, 5, 31);
        assert_eq!(parse_date("31.05.2009"), may);
        assert_eq!(parse_date("31.05.2009."), may);
        assert_eq!(parse_date("2009-05-31"), may);
        assert_eq!(parse_date("39964"), may);
        assert_eq!(parse_date("31.13.2009"), None);
        assert_eq!(fold(" Mērķa_grupa "), "merka grupa");
    }
}

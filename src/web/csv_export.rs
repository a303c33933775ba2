//! CSV exports: the whole filtered list, one row per record, multi-valued fields joined with
//! `; ` and a label column beside each code column.
//!
//! Every export is read from one snapshot of the registry (a read-only `REPEATABLE READ`
//! transaction) into a temporary file, and the file is then streamed: a slow client holds no
//! transaction, no pooled connection and no change-feed horizon, and rows changed while it
//! reads neither appear twice nor go missing.

use std::future::Future;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::pin::Pin;

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use diesel_async::AsyncPgConnection;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::web::error::{ApiError, ApiResult};
use crate::web::listing::Cursor;

/// How many records each chunk of an export reads.
pub const CHUNK: i64 = 1000;

/// The representation asked for with `format=` (deprecated on list paths: exports have
/// operations of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
}

/// Whether a list request asks for CSV the old way: `format=csv`, or an `Accept` that prefers
/// `text/csv` to JSON (`format=json` always wins).
pub fn wanted(req: &HttpRequest, format: Option<Format>) -> bool {
    match format {
        Some(format) => format == Format::Csv,
        None => accepts(req, "text/csv"),
    }
}

/// Whether the request's `Accept` names `media` (and does not refuse it with `q=0`).
pub fn accepts(req: &HttpRequest, media: &str) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept.split(',').any(|entry| {
                let mut parts = entry.split(';');
                let named = parts.next().unwrap_or_default().trim();
                let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00"));
                named.eq_ignore_ascii_case(media) && !refused
            })
        })
}

/// One column of an export: its header and how a row's value is written. `R` is whatever a row
/// is made from (the record and the names and labels shown beside its ids and codes).
pub struct Column<R> {
    pub name: &'static str,
    pub value: fn(&R) -> String,
}

/// The header row of `columns`.
pub fn header<R>(columns: &[Column<R>]) -> Vec<&'static str> {
    columns.iter().map(|c| c.name).collect()
}

/// One CSV row: every column's value of `row`.
pub fn row<R>(columns: &[Column<R>], row: &R) -> Vec<String> {
    columns.iter().map(|c| (c.value)(row)).collect()
}

/// An optional value, empty when absent.
pub fn opt(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// Joins the values of a multi-valued field.
pub fn join<S: AsRef<str>>(values: &[S]) -> String {
    values
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join("; ")
}

fn io_error(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("writing an export: {error}"))
}

/// A CSV file being written: a temporary file that disappears when dropped.
pub struct CsvFile {
    writer: csv::Writer<BufWriter<std::fs::File>>,
}

impl CsvFile {
    pub fn new(header: &[&str]) -> ApiResult<Self> {
        let file = tempfile::tempfile().map_err(io_error)?;
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(BufWriter::with_capacity(64 * 1024, file));
        writer.write_record(header).map_err(io_error)?;
        Ok(CsvFile { writer })
    }

    pub fn write<I, S>(&mut self, record: I) -> ApiResult<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.writer.write_record(record).map_err(io_error)
    }

    /// The finished file, rewound.
    pub fn finish(self) -> ApiResult<std::fs::File> {
        let mut file = self
            .writer
            .into_inner()
            .map_err(io_error)?
            .into_inner()
            .map_err(io_error)?;
        file.flush().map_err(io_error)?;
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        Ok(file)
    }
}

/// One chunk of an export: its items and the cursor of the next chunk (`None` after the last).
pub type ChunkOf<'a, T> =
    Pin<Box<dyn Future<Output = ApiResult<(Vec<T>, Option<Cursor>)>> + Send + 'a>>;

/// One chunk of a CSV export: its rows.
pub type Chunk<'a> = ChunkOf<'a, Vec<String>>;

/// How an export reads its items, chunk by chunk, inside the snapshot.
pub type ChunkFnOf<C, T> =
    for<'a> fn(&'a mut AsyncPgConnection, &'a C, Option<Cursor>) -> ChunkOf<'a, T>;

/// How a CSV export reads its rows.
pub type ChunkFn<C> = ChunkFnOf<C, Vec<String>>;

/// Reads every chunk `chunk` gives (from `cursor` on) from one snapshot of the registry (a
/// read-only `REPEATABLE READ` transaction), handing each item to `write`: the loop every
/// export (CSV, GeoJSON) runs.
pub async fn read_snapshot<C: Sync, T>(
    conn: &mut AsyncPgConnection,
    context: &C,
    cursor: Option<Cursor>,
    chunk: ChunkFnOf<C, T>,
    mut write: impl FnMut(T) -> ApiResult<()> + Send,
) -> ApiResult<()> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(async |conn| -> ApiResult<()> {
            let mut next = cursor;
            loop {
                let (items, after) = chunk(conn, context, next).await?;
                for item in items {
                    write(item)?;
                }
                match after {
                    Some(cursor) => next = Some(cursor),
                    None => return Ok(()),
                }
            }
        })
        .await
}

/// Writes a whole CSV export (every chunk `chunk` reads, from `cursor` on) from one snapshot
/// into a temporary file.
pub async fn snapshot<C: Sync>(
    conn: &mut AsyncPgConnection,
    header: &[&str],
    context: &C,
    cursor: Option<Cursor>,
    chunk: ChunkFn<C>,
) -> ApiResult<std::fs::File> {
    let mut file = CsvFile::new(header)?;
    read_snapshot(conn, context, cursor, chunk, |row| file.write(row)).await?;
    file.finish()
}

/// 200 streaming a finished file, with its length.
pub fn respond_file(
    file: std::fs::File,
    filename: &str,
    content_type: &str,
) -> ApiResult<HttpResponse> {
    let length = file.metadata().map_err(io_error)?.len();
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buffer = vec![0; 64 * 1024];
        match file.read(&mut buffer) {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buffer)), Some(file)))
            }
            Err(error) => {
                tracing::error!(%error, "reading an export file failed");
                Some((Err(error), None))
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(SizedStream::new(length, chunks)))
}

/// A CSV export as a response: the snapshot first (a failing query is still a proper error
/// response), then the file.
pub async fn export<C: Sync>(
    conn: &mut AsyncPgConnection,
    name: &str,
    header: &[&str],
    context: &C,
    cursor: Option<Cursor>,
    chunk: ChunkFn<C>,
) -> ApiResult<HttpResponse> {
    let file = snapshot(conn, header, context, cursor, chunk).await?;
    respond_file(file, &format!("{name}.csv"), "text/csv; charset=utf-8")
}

/// When CSV on list paths stops being served (`Sunset`, RFC 8594).
pub const SUNSET: &str = "Sun, 31 Oct 2027 00:00:00 GMT";
/// When it was deprecated (`Deprecation`, RFC 9745: 2026-12-01T00:00:00Z).
pub const DEPRECATED_AT: &str = "@1764547200";

/// Marks a CSV answered on a list path as deprecated, pointing at its export operation.
pub fn deprecated(
    mut response: HttpResponse,
    req: &HttpRequest,
    export_path: &str,
) -> HttpResponse {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(req.query_string().as_bytes()) {
        if !matches!(
            k.as_ref(),
            "format" | "limit" | "count" | "include" | "cursor"
        ) {
            query.append_pair(&k, &v);
        }
    }
    let query = query.finish();
    let successor = match (query.is_empty(), export_path.contains('?')) {
        (true, _) => export_path.to_owned(),
        (false, true) => format!("{export_path}&{query}"),
        (false, false) => format!("{export_path}?{query}"),
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("deprecation", DEPRECATED_AT.to_owned()),
        ("sunset", SUNSET.to_owned()),
        (
            "link",
            format!("<{successor}>; rel=\"successor-version\"; type=\"text/csv\""),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::HeaderName::from_static(name), value);
        }
    }
    response
}

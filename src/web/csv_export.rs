//! CSV exports of the public lists: `Accept: text/csv` or `format=csv`. The whole filtered list
//! is streamed in keyset chunks (no page cap, flat memory), one row per record, multi-valued
//! fields joined with `; ` and a label column beside each code column.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use diesel_async::AsyncPgConnection;

use crate::db::DbConn;
use crate::state::Reader;
use crate::web::error::ApiResult;
use crate::web::listing::Cursor;

/// How many records each chunk of an export reads.
pub const CHUNK: i64 = 1000;

/// The representation asked for with `format=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
}

/// Whether the request asks for CSV: `format=csv`, or an `Accept` that prefers `text/csv` to
/// JSON (`format=json` always wins).
pub fn wanted(req: &HttpRequest, format: Option<Format>) -> bool {
    match format {
        Some(format) => format == Format::Csv,
        None => req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| {
                accept.split(',').any(|entry| {
                    let mut parts = entry.split(';');
                    let media = parts.next().unwrap_or_default().trim();
                    let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00"));
                    media.eq_ignore_ascii_case("text/csv") && !refused
                })
            }),
    }
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

fn encode(rows: &[Vec<String>]) -> Bytes {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(rows.len() * 256));
    for row in rows {
        // Writing to memory cannot fail.
        let _ = writer.write_record(row);
    }
    Bytes::from(writer.into_inner().unwrap_or_default())
}

/// A streaming CSV response: `header`, then the rows `fetch` returns chunk by chunk. `fetch`
/// gets the cursor it returned last (`None` first) and returns rows and the next cursor
/// (`None` when done). An error after the first chunk can only cut the stream short; it is
/// logged and the response ends without its final CRLF, which clients see as truncated.
fn respond<C, F, Fut>(
    filename: &str,
    header_row: &[&str],
    first: Vec<Vec<String>>,
    next: Option<C>,
    fetch: F,
) -> HttpResponse
where
    C: 'static,
    F: FnMut(C) -> Fut + 'static,
    Fut: Future<Output = ApiResult<(Vec<Vec<String>>, Option<C>)>> + 'static,
{
    let mut head = vec![header_row.iter().map(|s| (*s).to_owned()).collect()];
    head.extend(first);
    let first = encode(&head);
    let rest = futures_util::stream::unfold((next, fetch), |(cursor, mut fetch)| async move {
        let cursor = cursor?;
        match fetch(cursor).await {
            Ok((rows, next)) => Some((Ok::<_, std::io::Error>(encode(&rows)), (next, fetch))),
            Err(error) => {
                tracing::error!(%error, "CSV export stopped");
                Some((Err(std::io::Error::other("export failed")), (None, fetch)))
            }
        }
    });
    let body =
        futures_util::StreamExt::chain(futures_util::stream::once(async move { Ok(first) }), rest);
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}.csv\""),
        ))
        .streaming(body)
}

/// One chunk of an export: its rows and the cursor of the next chunk (`None` after the last).
pub type Chunk<'a> =
    Pin<Box<dyn Future<Output = ApiResult<(Vec<Vec<String>>, Option<Cursor>)>> + 'a>>;

/// Streams an export: the first chunk is read before answering (so a failing query is still a
/// proper error response), the rest chunk by chunk on pooled connections as the client reads.
pub async fn export<C: 'static>(
    reader: Reader,
    mut conn: DbConn,
    filename: &str,
    header_row: &[&str],
    context: C,
    cursor: Option<Cursor>,
    chunk: for<'a> fn(&'a mut AsyncPgConnection, &'a C, Option<Cursor>) -> Chunk<'a>,
) -> ApiResult<HttpResponse> {
    let context = Rc::new(context);
    let (first, next) = chunk(&mut conn, &context, cursor).await?;
    drop(conn);
    Ok(respond(filename, header_row, first, next, move |cursor| {
        let reader = reader.clone();
        let context = context.clone();
        async move {
            let mut conn = reader.conn().await?;
            chunk(&mut conn, &context, Some(cursor)).await
        }
    }))
}

//! GeoJSON exports (RFC 7946): a `FeatureCollection` of points, read from one snapshot of the
//! registry into a temporary file and then streamed, like the CSV exports; and the
//! `Accept: application/geo+json` negotiation of list paths.

use std::io::{BufWriter, Seek, SeekFrom, Write};

use actix_web::{HttpRequest, HttpResponse};
use diesel_async::AsyncPgConnection;
use serde_json::{json, Value};

use crate::web::csv_export::{self, ChunkFnOf};
use crate::web::error::{ApiError, ApiResult};
use crate::web::listing::Cursor;

/// The media type of GeoJSON.
pub const MEDIA_TYPE: &str = "application/geo+json";

/// Whether a list request asks for GeoJSON: an `Accept` naming `application/geo+json` (not
/// refused with `q=0`).
pub fn wanted(req: &HttpRequest) -> bool {
    csv_export::accepts(req, MEDIA_TYPE)
}

/// A point feature: `lon`/`lat` (WGS 84) and its properties.
pub fn point(id: String, lon: f64, lat: f64, properties: Value) -> Value {
    json!({
        "type": "Feature",
        "id": id,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    })
}

fn io_error(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("writing a GeoJSON export: {error}"))
}

/// Writes every feature `chunk` reads from one snapshot into a temporary file, as one
/// FeatureCollection that names the data licence, and answers with it.
pub async fn export<C: Sync>(
    conn: &mut AsyncPgConnection,
    name: &str,
    context: &C,
    cursor: Option<Cursor>,
    chunk: ChunkFnOf<C, Value>,
) -> ApiResult<HttpResponse> {
    let mut out = BufWriter::with_capacity(64 * 1024, tempfile::tempfile().map_err(io_error)?);
    out.write_all(
        br#"{"type":"FeatureCollection","license":{"name":"CC-BY-4.0","url":"https://creativecommons.org/licenses/by/4.0/"},"features":["#,
    )
    .map_err(io_error)?;
    let mut first = true;
    csv_export::read_snapshot(conn, context, cursor, chunk, |feature| {
        if !std::mem::take(&mut first) {
            out.write_all(b",").map_err(io_error)?;
        }
        serde_json::to_writer(&mut out, &feature).map_err(io_error)
    })
    .await?;
    out.write_all(b"]}\n").map_err(io_error)?;
    let mut file = out.into_inner().map_err(io_error)?;
    file.flush().map_err(io_error)?;
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    csv_export::respond_file(file, &format!("{name}.geojson"), MEDIA_TYPE)
}

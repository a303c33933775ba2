//! `kopa import FILE --key ...`: a partner's spreadsheet pushed from the command line, with a
//! progress bar, either to a running server (`--server`, the same request a client sends) or
//! straight into the database through the very same batch code the server runs.

use std::time::Duration;

use anyhow::{Context, Result};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::stream;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::auth::{keys, Caller};
use crate::config::ImportArgs;
use crate::resources::metrics::batch;
use crate::resources::metrics::sheet::{Format, XLSX};
use crate::web::error::ApiError;

/// Bytes sent per step of the upload's progress bar.
const CHUNK: usize = 64 * 1024;

/// The body's media type, by the file's extension.
fn media_type(file: &std::path::Path) -> Result<&'static str> {
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => Ok("text/csv"),
        Some("xlsx") => Ok(XLSX),
        Some("json") => Ok("application/json"),
        _ => anyhow::bail!(
            "{}: a batch file ends in .csv, .xlsx or .json",
            file.display()
        ),
    }
}

fn bar(length: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

fn waiting(bar: &ProgressBar, message: &'static str) {
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
}

/// Prints the summary (stdout) or the problem (stderr); `Ok(false)` when the batch was refused.
fn report(status: u16, body: &Value) -> Result<bool> {
    if (200..300).contains(&status) {
        println!("{}", serde_json::to_string_pretty(body)?);
        return Ok(true);
    }
    eprintln!(
        "refused ({status}): {}",
        body["detail"]
            .as_str()
            .or(body["title"].as_str())
            .unwrap_or("")
    );
    for error in body["errors"].as_array().into_iter().flatten() {
        eprintln!(
            "  {}: {}",
            error["field"].as_str().unwrap_or("?"),
            error["message"].as_str().unwrap_or("?")
        );
    }
    Ok(false)
}

/// Pushes the file to a running Kopa.
pub async fn to_server(args: &ImportArgs, server: &str) -> Result<bool> {
    let content_type = media_type(&args.file)?;
    let body = std::fs::read(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let progress = bar(body.len() as u64, "uploading");
    let chunks: Vec<Vec<u8>> = body.chunks(CHUNK).map(<[u8]>::to_vec).collect();
    let counted = progress.clone();
    let upload = stream::iter(chunks.into_iter().map(move |chunk| {
        counted.inc(chunk.len() as u64);
        Ok::<_, std::io::Error>(chunk)
    }));
    let url = format!(
        "{}/v1/metrics/batch{}",
        server.trim_end_matches('/'),
        if args.dry_run { "?dry_run=true" } else { "" }
    );
    let mut request = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&args.key)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::CONTENT_LENGTH, body.len())
        .body(reqwest::Body::wrap_stream(upload));
    if let Some(key) = &args.idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    let sent = request.send();
    let response = {
        let response = sent.await;
        waiting(&progress, "the server is checking the batch");
        response.with_context(|| format!("cannot reach {url}"))?
    };
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    progress.finish_and_clear();
    report(status, &answer)
}

/// Pushes the file straight into the database at `url`, as the key's organisation.
pub async fn to_database(args: &ImportArgs, url: &str) -> Result<bool> {
    let content_type = media_type(&args.file)?;
    let body = std::fs::read(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let progress = bar(body.len() as u64, "read");
    progress.inc(body.len() as u64);
    waiting(&progress, "checking and storing the batch");
    let mut conn = AsyncPgConnection::establish(url).await?;
    let caller = match keys::authenticate(&mut conn, &args.key).await {
        Ok(identity) => Caller::Key(std::sync::Arc::new(identity)),
        Err(error) => {
            progress.finish_and_clear();
            return problem(error);
        }
    };
    crate::state::attribute(&mut conn, &caller).await?;
    let format = Format::of(Some(content_type)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let result = batch::import(&mut conn, &caller, format, &body, args.dry_run).await;
    progress.finish_and_clear();
    match result {
        Ok(summary) => report(200, &serde_json::to_value(summary)?),
        Err(error) => problem(error),
    }
}

fn problem(error: ApiError) -> Result<bool> {
    let response = actix_web::ResponseError::error_response(&error);
    let status = response.status().as_u16();
    let body = actix_web::body::MessageBody::try_into_bytes(response.into_body())
        .map(|bytes| serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    report(status, &body)
}

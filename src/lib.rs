//! Kopa: an open registry API for civil-society and social-integration projects.
//!
//! One module per resource (routes, request/response types and queries side by side); the
//! shared plumbing is `app` (routing), `error` (problem+json), `http` (extractors, ETags),
//! `pagination` (keyset cursors), `db` (pool, migrations) and `embedded` (private PostgreSQL).

pub mod app;
pub mod config;
pub mod db;
pub mod embedded;
pub mod error;
pub mod http;
pub mod openapi;
pub mod organisations;
pub mod pagination;
pub mod request_context;
pub mod schema;
pub mod validation;

//! Kopa: an open registry API for civil-society and social-integration projects.
//!
//! One module per resource (routes, request/response types and queries side by side); the
//! shared plumbing is `app` (routing), `error` (problem+json), `http` (extractors, ETags),
//! `pagination` (keyset cursors), `db` (pool, migrations) and `embedded` (private PostgreSQL).

pub mod activities;
pub mod api_keys;
pub mod app;
pub mod auth;
pub mod caching;
pub mod changes;
pub mod config;
pub mod csv_export;
pub mod db;
pub mod decimal;
pub mod embedded;
pub mod error;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod indicators;
pub mod language;
pub mod listing;
pub mod metrics;
pub mod openapi;
pub mod organisations;
pub mod pagination;
pub mod partners;
pub mod programmes;
pub mod projects;
pub mod request_context;
pub mod schema;
pub mod seed;
pub mod stats;
pub mod telemetry;
pub mod text_enum;
pub mod validation;
pub mod vocabularies;

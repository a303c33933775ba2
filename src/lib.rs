//! Kopa: an open registry API for civil-society and social-integration projects.
//!
//! Dependencies run one way, from the routes down to the plumbing:
//!
//! - `app` builds the HTTP application and the OpenAPI document: the only module that names
//!   every resource.
//! - `resources` holds one module per resource (routes, request/response types and queries side
//!   by side); `resources::record` is the write skeleton they share.
//! - `state` (pools, rate limiter) and `auth` (keys, the caller, the one access policy) sit below
//!   every route.
//! - `web` is HTTP plumbing: problem+json errors, extractors, pagination, the list machine, CSV,
//!   caching, idempotency, the spec's finishing pass.
//! - `domain` holds the types the others share: ids, money, statuses; `schema` and `db` the
//!   database.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod dump;
pub mod embedded;
pub mod import;
pub mod resources;
pub mod schema;
pub mod seed;
pub mod state;
pub mod telemetry;
pub mod validation;
pub mod web;

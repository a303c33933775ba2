//! HTTP plumbing shared by every resource; it knows no resource.

pub mod body;
pub mod caching;
pub mod csv_export;
pub mod error;
pub mod geojson;
pub mod http;
pub mod idempotency;
pub mod listing;
pub mod openapi;
pub mod pagination;
pub mod params;
pub mod request_context;
pub mod response_store;
pub mod security;

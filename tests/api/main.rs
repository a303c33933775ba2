//! HTTP-level tests: the real app against a real PostgreSQL, one fresh database per test
//! (cloned from a migrated template). See `support` for the harness.

mod access;
mod answers;
mod batch;
mod caching;
mod changes;
mod exports;
mod general;
mod geography;
mod history;
mod operations;
mod organisations;
mod problems;
mod provenance;
mod reading;
mod resources;
mod scale;
mod security;
mod seeds;
mod snapshots;
mod spreadsheets;
mod stats;
mod store;
mod support;
mod webhooks;

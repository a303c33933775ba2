//! HTTP-level tests: the real app against a real PostgreSQL, one fresh database per test
//! (cloned from a migrated template). See `support` for the harness.

mod access;
mod batch;
mod general;
mod organisations;
mod resources;
mod seeds;
mod support;

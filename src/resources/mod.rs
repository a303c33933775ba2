//! The registry's resources, one module each. `record` is the write skeleton they share.

pub mod activities;
pub mod api_keys;
pub mod changes;
pub mod dump;
pub mod health;
pub mod history;
pub mod indicators;
pub mod lookup;
pub mod metrics;
pub mod organisations;
pub mod partners;
pub mod programmes;
pub mod projects;
pub mod record;
pub mod sources;
pub mod stats;
pub mod territories;
pub mod vocabularies;
pub mod webhooks;

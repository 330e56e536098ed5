//! Schema migrations, applied in order on connect (`SeaStore::connect`).
//!
//! Each migration names tables and columns by string, never through today's entity types, so an
//! old migration keeps meaning what it meant when it was written.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

mod m20261127_000001_initial;
mod m20261127_000002_delivery;
mod m20261127_000003_users;
mod m20261127_000004_api_token_last_used;
mod m20261127_000005_deployment_destination;
mod m20261127_000006_audit_changes;
mod m20261203_000007_readiness_probe;
mod m20261206_000008_worker_names;
mod m20261206_000009_health_drift;
mod m20261206_000010_worker_routes;
mod m20261206_000011_events_debug_secret;

/// Every migration of the store, oldest first.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_initial::Migration),
            Box::new(m20261127_000002_delivery::Migration),
            Box::new(m20261127_000003_users::Migration),
            Box::new(m20261127_000004_api_token_last_used::Migration),
            Box::new(m20261127_000005_deployment_destination::Migration),
            Box::new(m20261127_000006_audit_changes::Migration),
            Box::new(m20261203_000007_readiness_probe::Migration),
            Box::new(m20261206_000008_worker_names::Migration),
            Box::new(m20261206_000009_health_drift::Migration),
            Box::new(m20261206_000010_worker_routes::Migration),
            Box::new(m20261206_000011_events_debug_secret::Migration),
        ]
    }
}

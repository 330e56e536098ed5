//! `worker_names`: the worker (script) name each customer environment holds.
//!
//! A row is a name claimed by one customer environment: `live` when a worker was deployed under
//! it and not removed, otherwise a reservation (the name the environment's next deploy uses).
//! The primary key makes a name belong to one environment at most, which is how two customers
//! whose ids map to one worker name are told apart: the second is refused.
//!
//! Backfill: every environment that ever went live ran under the first naming rule
//! (`c15t-{customer}[-{environment}]`, `_` kept), so that name is recorded live; the name
//! today's rule gives (`_` written `-`) is reserved beside it where it differs and is free, so
//! the first deploy after the upgrade renames the worker. Environments never deployed claim
//! their name when their customer is next saved or deployed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, string, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The first rule's name of a deployment row's environment, as SQL both backends speak.
const LEGACY_NAME: &str = "CASE WHEN environment = 'production' THEN 'c15t-' || customer_id \
                           ELSE 'c15t-' || customer_id || '-' || environment END";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("worker_names")
                    .col(string("name").primary_key())
                    .col(string("customer_id"))
                    .col(string("environment"))
                    .col(boolean("live"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_worker_names_customer")
                            .from("worker_names", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_worker_names_environment")
                    .table("worker_names")
                    .col("customer_id")
                    .col("environment")
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // `WHERE` before `ON CONFLICT` is required by SQLite's parser for INSERT … SELECT.
        let went_live = "FROM deployments WHERE status IN ('succeeded', 'rolled_back') \
                         AND customer_id IN (SELECT id FROM customers) \
                         GROUP BY customer_id, environment";
        db.execute_unprepared(&format!(
            "INSERT INTO worker_names (name, customer_id, environment, live, created_at, \
             updated_at) SELECT {LEGACY_NAME}, customer_id, environment, TRUE, MIN(created_at), \
             MIN(created_at) {went_live} ON CONFLICT DO NOTHING"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO worker_names (name, customer_id, environment, live, created_at, \
             updated_at) SELECT REPLACE({LEGACY_NAME}, '_', '-'), customer_id, environment, \
             FALSE, MIN(created_at), MIN(created_at) {went_live} ON CONFLICT DO NOTHING"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("worker_names").to_owned())
            .await
    }
}

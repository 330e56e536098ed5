//! `worker_routes`: where each customer environment's Cloudflare worker was last made to
//! answer (its `workers.dev` switch and custom domain) and the custom domain's state.
//!
//! No backfill: an environment without a row was deployed before routing existed, so it
//! answers on `workers.dev` only, which is what an environment without routing settings wants.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, string, string_null, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("worker_routes")
                    .col(string("customer_id"))
                    .col(string("environment"))
                    .col(string("worker"))
                    .col(boolean("workers_dev"))
                    .col(string_null("hostname"))
                    .col(string_null("domain_id"))
                    .col(string_null("zone_id"))
                    .col(string_null("zone_name"))
                    .col(string_null("domain_state"))
                    .col(string_null("message"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("customer_id").col("environment"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_worker_routes_customer")
                            .from("worker_routes", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("worker_routes").to_owned())
            .await
    }
}

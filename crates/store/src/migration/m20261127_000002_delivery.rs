//! Delivery: per-customer delivery settings, the webhook delivery log, worker health, and the
//! deployment columns deploy tracking needs (the job that made a deployment, the fingerprints
//! of the secrets it was deployed with, the JavaScript entry module it uploaded and the name of
//! the runtime module beside it, so that a rollback can upload the same release again).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, boolean, integer, integer_null, string,
    string_null, text, text_null, timestamp_with_time_zone,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("deliveries")
                    .col(string("customer_id").primary_key())
                    .col(text("settings"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deliveries_customer")
                            .from("deliveries", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // SQLite adds one column per statement.
        for column in [
            big_integer_null("job_id"),
            text_null("secret_fingerprints"),
            text_null("entry_module"),
            string_null("runtime_module"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("deployments")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_deployments_job")
                    .table("deployments")
                    .col("job_id")
                    .to_owned(),
            )
            .await?;

        // History: no foreign key, entries outlive the customer.
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .col(big_pk_auto("id"))
                    .col(string("customer_id"))
                    .col(string("message_id"))
                    .col(string("event_type"))
                    .col(integer("attempt"))
                    .col(integer_null("status_code"))
                    .col(string("outcome"))
                    .col(text_null("error"))
                    .col(big_integer("duration_ms"))
                    .col(timestamp_with_time_zone("at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_customer")
                    .table("webhook_deliveries")
                    .col("customer_id")
                    .col("id")
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("health_checks")
                    .col(big_integer("deployment_id").primary_key())
                    .col(string("customer_id"))
                    .col(string("environment"))
                    .col(text("url"))
                    .col(boolean("up"))
                    .col(integer_null("status_code"))
                    .col(big_integer_null("latency_ms"))
                    .col(text_null("error"))
                    .col(integer("consecutive_failures"))
                    .col(big_integer("checks"))
                    .col(timestamp_with_time_zone("checked_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_health_checks_customer")
                    .table("health_checks")
                    .col("customer_id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["health_checks", "webhook_deliveries", "deliveries"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("ix_deployments_job")
                    .table("deployments")
                    .to_owned(),
            )
            .await?;
        for column in [
            "runtime_module",
            "entry_module",
            "secret_fingerprints",
            "job_id",
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("deployments")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

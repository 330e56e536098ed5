//! The first schema: customers, destinations, vaults, API tokens, deployments, audit log, jobs.
//!
//! Times are `timestamp with time zone` (TEXT in RFC 3339 on SQLite, always `+00:00`, so text
//! order is time order); JSON is TEXT on both backends.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, boolean, integer, string, string_null, text,
    text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("customers")
                    .col(string("id").primary_key())
                    .col(string("display_name"))
                    .col(text_null("environments"))
                    .col(text("trusted_origins"))
                    .col(string_null("log_level"))
                    .col(string("database_provider"))
                    .col(text("database_url"))
                    .col(text("database_token_ref"))
                    .col(big_integer("revision"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("destinations")
                    .col(string("customer_id"))
                    .col(string("id"))
                    .col(integer("position"))
                    .col(text("name"))
                    .col(string("kind"))
                    .col(boolean("enabled"))
                    .col(string_null("environment"))
                    .col(string_null("category"))
                    .col(text("settings"))
                    .primary_key(Index::create().col("customer_id").col("id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_destinations_customer")
                            .from("destinations", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("vaults")
                    .col(string("customer_id").primary_key())
                    .col(text("ciphertext"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_vaults_customer")
                            .from("vaults", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("api_tokens")
                    .col(big_pk_auto("id"))
                    .col(string("customer_id"))
                    .col(text("name"))
                    .col(string("token_hash").unique_key())
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_tokens_customer")
                            .from("api_tokens", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_api_tokens_customer")
                    .table("api_tokens")
                    .col("customer_id")
                    .to_owned(),
            )
            .await?;

        // No foreign key to `customers`: deployment history outlives a deleted customer.
        manager
            .create_table(
                Table::create()
                    .table("deployments")
                    .col(big_pk_auto("id"))
                    .col(string("customer_id"))
                    .col(string("environment"))
                    .col(string("target"))
                    .col(big_integer("config_revision"))
                    .col(string("content_hash"))
                    .col(text("files"))
                    .col(string("status"))
                    .col(text_null("url"))
                    .col(text_null("error"))
                    .col(text_null("remote_version"))
                    .col(big_integer_null("rollback_of"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("started_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_deployments_customer")
                    .table("deployments")
                    .col("customer_id")
                    .col("environment")
                    .col("id")
                    .to_owned(),
            )
            .await?;

        // Append-only; no foreign key so entries outlive what they describe.
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(big_pk_auto("id"))
                    .col(timestamp_with_time_zone("at"))
                    .col(text("actor"))
                    .col(string("action"))
                    .col(text("resource"))
                    .col(string_null("customer_id"))
                    .col(text_null("before_json"))
                    .col(text_null("after_json"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_log_customer")
                    .table("audit_log")
                    .col("customer_id")
                    .col("id")
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("jobs")
                    .col(big_pk_auto("id"))
                    .col(string("kind"))
                    .col(text("payload"))
                    .col(string_null("dedupe_key"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("run_at"))
                    .col(integer("attempts"))
                    .col(integer("max_attempts"))
                    .col(string_null("locked_by"))
                    .col(timestamp_with_time_zone_null("lease_expires_at"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_jobs_status_run_at")
                    .table("jobs")
                    .col("status")
                    .col("run_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_jobs_dedupe_key")
                    .table("jobs")
                    .col("dedupe_key")
                    .col("status")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "jobs",
            "audit_log",
            "deployments",
            "api_tokens",
            "vaults",
            "destinations",
            "customers",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

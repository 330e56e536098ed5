//! `customers.events_debug_secret_ref`: the secret reference (JSON of a `RawValue`) of the
//! customer's events debug secret, NULL when debug mode is off.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("customers")
                    .add_column(text_null("events_debug_secret_ref"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("customers")
                    .drop_column("events_debug_secret_ref")
                    .to_owned(),
            )
            .await
    }
}

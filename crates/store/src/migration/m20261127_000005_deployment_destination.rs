//! Deployments remember where they went (`cloudflare:<account id>`, `file`, `webhook`), so a
//! customer moved to another account or target is not "already live" there. Rows from before
//! have none and count as live wherever the customer deploys now (the behaviour they were
//! recorded under), so an upgrade shows no environment out of sync.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("deployments")
                    .add_column(string_null("destination"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("deployments")
                    .drop_column("destination")
                    .to_owned(),
            )
            .await
    }
}

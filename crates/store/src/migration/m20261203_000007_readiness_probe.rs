//! A one-row table that readiness probes write to (`Store::write_probe`): a committed write is
//! the only honest proof that the database takes writes (it is not read-only, not full, and
//! its write lock is not held forever).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("readiness_probe")
                    .col(integer("id").primary_key())
                    .col(timestamp_with_time_zone("checked_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("readiness_probe").to_owned())
            .await
    }
}

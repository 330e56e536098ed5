//! `health_checks.drift_json`: how a worker's live state differed from its deployment at the
//! latest probe (a `Drift` as JSON), NULL when it matched or was not read.

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
                    .table("health_checks")
                    .add_column(text_null("drift_json"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("health_checks")
                    .drop_column("drift_json")
                    .to_owned(),
            )
            .await
    }
}

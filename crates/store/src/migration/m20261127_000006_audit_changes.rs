//! Audit entries store what changed, not two whole configs (issue 19: adding destinations one
//! by one grew the log quadratically). Adds `audit_log.changes_json` and rewrites each earlier
//! entry that has a state before and after into its diff (`crate::diff`, the function new
//! entries are written with), in batches of 100 so memory stays bounded by the batch. The entry
//! says the same thing in the new form; entries of creations and deletions keep their state.
//! The read side also still understands the old form.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

const BATCH: i64 = 100;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("audit_log")
                    .add_column(text_null("changes_json"))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        // PostgreSQL numbers its parameters; SQLite takes them in order.
        let sql = |text: &str| match backend {
            DbBackend::Postgres => text.to_owned(),
            _ => text.replace("$1", "?").replace("$2", "?"),
        };
        let mut after_id = 0i64;
        loop {
            let rows = db
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    sql("SELECT id, before_json, after_json FROM audit_log \
                         WHERE id > $1 AND before_json IS NOT NULL AND after_json IS NOT NULL \
                         ORDER BY id LIMIT $2"),
                    [after_id.into(), BATCH.into()],
                ))
                .await?;
            if rows.is_empty() {
                return Ok(());
            }
            for row in rows {
                let id: i64 = row.try_get("", "id")?;
                after_id = id;
                let before: String = row.try_get("", "before_json")?;
                let after: String = row.try_get("", "after_json")?;
                let (Ok(before), Ok(after)) = (
                    serde_json::from_str::<serde_json::Value>(&before),
                    serde_json::from_str::<serde_json::Value>(&after),
                ) else {
                    // Left as it is; the read side reports an unreadable entry by id.
                    continue;
                };
                let changes = serde_json::to_string(&crate::diff::changes(&before, &after))
                    .map_err(|e| DbErr::Custom(format!("audit entry {id}: {e}")))?;
                db.execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql(
                        "UPDATE audit_log SET changes_json = $1, before_json = NULL, \
                         after_json = NULL WHERE id = $2",
                    ),
                    [changes.into(), id.into()],
                ))
                .await?;
            }
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("audit_log")
                    .drop_column("changes_json")
                    .to_owned(),
            )
            .await
    }
}

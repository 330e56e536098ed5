//! The append-only audit log.

use c15t_model::CustomerId;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entity::audit;
use crate::error::db;
use crate::{AuditRecord, NewAudit, StoreError};

use super::{SeaStore, json_from, ts};

fn audit_record(row: audit::Model) -> Result<AuditRecord, StoreError> {
    let what = |field: &str| format!("{field} of audit entry {}", row.id);
    let mut before: Option<serde_json::Value> = row
        .before_json
        .as_deref()
        .map(|j| json_from(&what("before"), j))
        .transpose()?;
    let mut after: Option<serde_json::Value> = row
        .after_json
        .as_deref()
        .map(|j| json_from(&what("after"), j))
        .transpose()?;
    let changes = match (row.changes_json.as_deref(), &before, &after) {
        (Some(json), _, _) => json_from(&what("changes"), json)?,
        // An entry written before changes were stored (or by an older replica): its diff.
        (None, Some(b), Some(a)) => {
            let changes = crate::diff::changes(b, a);
            (before, after) = (None, None);
            changes
        }
        (None, _, _) => Vec::new(),
    };
    Ok(AuditRecord {
        id: row.id,
        at: row.at,
        before,
        after,
        changes,
        actor: row.actor,
        action: row.action,
        resource: row.resource,
        customer: row.customer_id,
    })
}

pub(super) async fn insert_audit<C: ConnectionTrait>(
    conn: &C,
    entry: NewAudit<'_>,
    now: DateTime<Utc>,
    op: &'static str,
) -> Result<(), StoreError> {
    // A change to something that exists before and after stores only what changed.
    let (before, after, changes) = match (entry.before, entry.after) {
        (Some(b), Some(a)) => {
            let changes = serde_json::to_string(&crate::diff::changes(&b, &a)).map_err(|e| {
                StoreError::Invalid {
                    what: format!("audit changes ({e})"),
                }
            })?;
            (None, None, Some(changes))
        }
        (b, a) => (b, a, None),
    };
    audit::ActiveModel {
        id: NotSet,
        at: Set(ts(now)),
        actor: Set(entry.actor.to_owned()),
        action: Set(entry.action.to_owned()),
        resource: Set(entry.resource.to_owned()),
        customer_id: Set(entry.customer.map(|c| c.to_string())),
        before_json: Set(before.map(|v| v.to_string())),
        after_json: Set(after.map(|v| v.to_string())),
        changes_json: Set(changes),
    }
    .insert(conn)
    .await
    .map_err(db(op))?;
    Ok(())
}

pub(super) async fn audit_page(
    store: &SeaStore,
    customer: Option<&CustomerId>,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<AuditRecord>, StoreError> {
    const OP: &str = "listing the audit log";
    let mut query = audit::Entity::find();
    if let Some(customer) = customer {
        query = query.filter(audit::Column::CustomerId.eq(customer.as_str()));
    }
    if let Some(before) = before {
        query = query.filter(audit::Column::Id.lt(before));
    }
    query
        .order_by_desc(audit::Column::Id)
        .limit(limit)
        .all(&store.db)
        .await
        .map_err(db(OP))?
        .into_iter()
        .map(audit_record)
        .collect()
}

pub(super) async fn audit_append(
    store: &SeaStore,
    entry: NewAudit<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    insert_audit(&store.db, entry, now, "appending to the audit log").await
}

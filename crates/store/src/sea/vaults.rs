//! Customers' sealed secret vaults.

use c15t_model::CustomerId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};

use crate::entity::vault;
use crate::error::db;
use crate::{NewAudit, StoreError, VaultSwap};

use super::audit::insert_audit;
use super::{SeaStore, customer_resource, parse_id, ts};

/// Replaces a customer's vault if it is still `swap.old` (creates it when `old` is `None` and
/// there is none yet); [`StoreError::VaultChanged`] otherwise.
pub(super) async fn swap_vault(
    txn: &DatabaseTransaction,
    customer: &CustomerId,
    swap: VaultSwap<'_>,
    now: DateTime<Utc>,
    op: &'static str,
) -> Result<(), StoreError> {
    let changed = || StoreError::VaultChanged {
        resource: customer_resource(customer.as_str()),
    };
    match swap.old {
        Some(old) => {
            let swapped = vault::Entity::update_many()
                .col_expr(vault::Column::Ciphertext, Expr::value(swap.new))
                .col_expr(vault::Column::UpdatedAt, Expr::value(now))
                .filter(vault::Column::CustomerId.eq(customer.as_str()))
                .filter(vault::Column::Ciphertext.eq(old))
                .exec(txn)
                .await
                .map_err(db(op))?;
            if swapped.rows_affected == 0 {
                return Err(changed());
            }
        }
        None => {
            let inserted = vault::Entity::insert(vault::ActiveModel {
                customer_id: Set(customer.to_string()),
                ciphertext: Set(swap.new.to_owned()),
                updated_at: Set(now),
            })
            .on_conflict(
                OnConflict::column(vault::Column::CustomerId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await
            .map_err(db(op))?;
            if inserted == 0 {
                return Err(changed());
            }
        }
    }
    Ok(())
}

pub(super) async fn vault_list(store: &SeaStore) -> Result<Vec<(CustomerId, String)>, StoreError> {
    const OP: &str = "listing vaults";
    vault::Entity::find()
        .order_by_asc(vault::Column::CustomerId)
        .all(&store.db)
        .await
        .map_err(db(OP))?
        .into_iter()
        .map(|v| Ok((parse_id("vault customer", &v.customer_id)?, v.ciphertext)))
        .collect()
}

pub(super) async fn vault_latest(
    store: &SeaStore,
) -> Result<Option<(CustomerId, String)>, StoreError> {
    const OP: &str = "reading the latest vault";
    vault::Entity::find()
        .order_by_desc(vault::Column::UpdatedAt)
        .order_by_desc(vault::Column::CustomerId)
        .one(&store.db)
        .await
        .map_err(db(OP))?
        .map(|v| Ok((parse_id("vault customer", &v.customer_id)?, v.ciphertext)))
        .transpose()
}

pub(super) async fn vault_reseal(
    store: &SeaStore,
    actor: &str,
    customer: &CustomerId,
    old: &str,
    new: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "resealing a vault";
    let now = ts(now);
    let (_turn, txn) = store.begin_write(OP).await?;
    let swapped = vault::Entity::update_many()
        .col_expr(vault::Column::Ciphertext, Expr::value(new))
        .col_expr(vault::Column::UpdatedAt, Expr::value(now))
        .filter(vault::Column::CustomerId.eq(customer.as_str()))
        .filter(vault::Column::Ciphertext.eq(old))
        .exec(&txn)
        .await
        .map_err(db(OP))?;
    if swapped.rows_affected == 0 {
        return Ok(false);
    }
    let resource = format!("customer/{customer}/vault");
    let entry = NewAudit {
        actor,
        action: "keys.rotate",
        resource: &resource,
        customer: Some(customer),
        before: None,
        after: None,
    };
    insert_audit(&txn, entry, now, OP).await?;
    txn.commit().await.map_err(db(OP))?;
    Ok(true)
}

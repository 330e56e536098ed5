//! API tokens.

use c15t_model::CustomerId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::entity::{api_token, customer};
use crate::error::{db, db_error};
use crate::{ApiTokenRecord, NewApiToken, NewAudit, StoreError};

use super::audit::insert_audit;
use super::{SeaStore, customer_resource, parse_id, ts};

fn token_record(row: api_token::Model) -> Result<ApiTokenRecord, StoreError> {
    let hint_start = row
        .token_hash
        .char_indices()
        .rev()
        .nth(3)
        .map_or(0, |(i, _)| i);
    Ok(ApiTokenRecord {
        id: row.id,
        customer: parse_id("api token customer", &row.customer_id)?,
        hint: row.token_hash[hint_start..].to_owned(),
        name: row.name,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
        last_used_at: row.last_used_at,
    })
}

pub(super) async fn api_token_create(
    store: &SeaStore,
    actor: &str,
    token: NewApiToken<'_>,
    now: DateTime<Utc>,
) -> Result<ApiTokenRecord, StoreError> {
    const OP: &str = "creating an API token";
    let now = ts(now);
    let (_turn, txn) = store.begin_write(OP).await?;
    let exists = customer::Entity::find_by_id(token.customer.as_str())
        .one(&txn)
        .await
        .map_err(db(OP))?;
    if exists.is_none() {
        return Err(StoreError::not_found(customer_resource(
            token.customer.as_str(),
        )));
    }
    let row = api_token::ActiveModel {
        id: NotSet,
        customer_id: Set(token.customer.to_string()),
        name: Set(token.name.to_owned()),
        token_hash: Set(token.token_hash.to_owned()),
        created_at: Set(now),
        revoked_at: Set(None),
        last_used_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(|e| db_error(OP, Some("an API token with this hash"), e))?;
    let record = token_record(row)?;
    let resource = format!("customer/{}/api-token/{}", token.customer, record.id);
    let entry = NewAudit {
        actor,
        action: "api_token.create",
        resource: &resource,
        customer: Some(token.customer),
        before: None,
        after: Some(serde_json::json!({
            "id": record.id,
            "name": record.name,
            "hint": record.hint,
        })),
    };
    insert_audit(&txn, entry, now, OP).await?;
    txn.commit().await.map_err(db(OP))?;
    Ok(record)
}

pub(super) async fn api_token_list(
    store: &SeaStore,
    customer: &CustomerId,
) -> Result<Vec<ApiTokenRecord>, StoreError> {
    const OP: &str = "listing API tokens";
    api_token::Entity::find()
        .filter(api_token::Column::CustomerId.eq(customer.as_str()))
        .order_by_asc(api_token::Column::Id)
        .all(&store.db)
        .await
        .map_err(db(OP))?
        .into_iter()
        .map(token_record)
        .collect()
}

pub(super) async fn api_token_revoke(
    store: &SeaStore,
    actor: &str,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "revoking an API token";
    let now = ts(now);
    let (_turn, txn) = store.begin_write(OP).await?;
    let revoked = api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(now))
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec_with_returning(&txn)
        .await
        .map_err(db(OP))?;
    let Some(row) = revoked.into_iter().next() else {
        return Ok(false);
    };
    let record = token_record(row)?;
    let resource = format!("customer/{}/api-token/{id}", record.customer);
    let entry = NewAudit {
        actor,
        action: "api_token.revoke",
        resource: &resource,
        customer: Some(&record.customer),
        before: None,
        after: None,
    };
    insert_audit(&txn, entry, now, OP).await?;
    txn.commit().await.map_err(db(OP))?;
    Ok(true)
}

pub(super) async fn api_token_find(
    store: &SeaStore,
    token_hash: &str,
) -> Result<Option<ApiTokenRecord>, StoreError> {
    const OP: &str = "looking up an API token";
    api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(token_hash))
        .filter(api_token::Column::RevokedAt.is_null())
        .one(&store.db)
        .await
        .map_err(db(OP))?
        .map(token_record)
        .transpose()
}

pub(super) async fn api_token_touch(
    store: &SeaStore,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "recording an API token's use";
    let touched = api_token::Entity::update_many()
        .col_expr(api_token::Column::LastUsedAt, Expr::value(ts(now)))
        .filter(api_token::Column::Id.eq(id))
        .exec(&store.db)
        .await
        .map_err(db(OP))?;
    Ok(touched.rows_affected > 0)
}

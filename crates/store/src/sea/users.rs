//! Users of the console and their sessions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::entity::{customer, session, user};
use crate::error::{db, db_error};
use crate::{NewAudit, NewSession, NewUser, SessionRecord, StoreError, UserRecord};

use super::audit::insert_audit;
use super::{SeaStore, customer_resource, parse_id, ts};

fn user_record(row: user::Model) -> Result<UserRecord, StoreError> {
    let what = format!("user {}", row.id);
    Ok(UserRecord {
        id: row.id,
        role: parse_id(&format!("role of {what}"), &row.role)?,
        customer: row
            .customer_id
            .as_deref()
            .map(|c| parse_id(&format!("customer of {what}"), c))
            .transpose()?,
        email: row.email,
        password_hash: row.password_hash,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn session_record(row: session::Model) -> SessionRecord {
    SessionRecord {
        id: row.id,
        user_id: row.user_id,
        csrf_token: row.csrf_token,
        created_at: row.created_at,
        expires_at: row.expires_at,
    }
}

pub(super) async fn user_create(
    store: &SeaStore,
    actor: &str,
    user: NewUser<'_>,
    now: DateTime<Utc>,
) -> Result<UserRecord, StoreError> {
    const OP: &str = "creating a user";
    let now = ts(now);
    let (_turn, txn) = store.begin_write(OP).await?;
    if let Some(customer) = user.customer {
        let exists = customer::Entity::find_by_id(customer.as_str())
            .one(&txn)
            .await
            .map_err(db(OP))?;
        if exists.is_none() {
            return Err(StoreError::not_found(customer_resource(customer.as_str())));
        }
    }
    let resource = format!("user `{}`", user.email);
    let row = user::ActiveModel {
        id: NotSet,
        email: Set(user.email.to_owned()),
        password_hash: Set(user.password_hash.to_owned()),
        role: Set(user.role.as_str().to_owned()),
        customer_id: Set(user.customer.map(ToString::to_string)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| db_error(OP, Some(&resource), e))?;
    let record = user_record(row)?;
    let entry = NewAudit {
        actor,
        action: "user.create",
        resource: &format!("user/{}", record.id),
        customer: user.customer,
        before: None,
        after: Some(serde_json::json!({
            "email": record.email,
            "role": record.role.as_str(),
        })),
    };
    insert_audit(&txn, entry, now, OP).await?;
    txn.commit().await.map_err(db(OP))?;
    Ok(record)
}

pub(super) async fn user_find(
    store: &SeaStore,
    email: &str,
) -> Result<Option<UserRecord>, StoreError> {
    const OP: &str = "looking up a user";
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&store.db)
        .await
        .map_err(db(OP))?
        .map(user_record)
        .transpose()
}

pub(super) async fn user_get(store: &SeaStore, id: i64) -> Result<Option<UserRecord>, StoreError> {
    const OP: &str = "reading a user";
    user::Entity::find_by_id(id)
        .one(&store.db)
        .await
        .map_err(db(OP))?
        .map(user_record)
        .transpose()
}

pub(super) async fn user_list(store: &SeaStore) -> Result<Vec<UserRecord>, StoreError> {
    const OP: &str = "listing users";
    user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(&store.db)
        .await
        .map_err(db(OP))?
        .into_iter()
        .map(user_record)
        .collect()
}

pub(super) async fn user_password_set(
    store: &SeaStore,
    actor: &str,
    id: i64,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "changing a password";
    let now = ts(now);
    let (_turn, txn) = store.begin_write(OP).await?;
    let updated = user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .exec(&txn)
        .await
        .map_err(db(OP))?;
    if updated.rows_affected == 0 {
        return Ok(false);
    }
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(id))
        .exec(&txn)
        .await
        .map_err(db(OP))?;
    let entry = NewAudit {
        actor,
        action: "user.password",
        resource: &format!("user/{id}"),
        customer: None,
        before: None,
        after: None,
    };
    insert_audit(&txn, entry, now, OP).await?;
    txn.commit().await.map_err(db(OP))?;
    Ok(true)
}

pub(super) async fn session_create(
    store: &SeaStore,
    new: NewSession<'_>,
    now: DateTime<Utc>,
) -> Result<SessionRecord, StoreError> {
    const OP: &str = "starting a session";
    let row = session::ActiveModel {
        id: NotSet,
        user_id: Set(new.user_id),
        token_hash: Set(new.token_hash.to_owned()),
        csrf_token: Set(new.csrf_token.to_owned()),
        created_at: Set(ts(now)),
        expires_at: Set(ts(new.expires_at)),
    }
    .insert(&store.db)
    .await
    .map_err(|e| db_error(OP, Some("a session with this token"), e))?;
    Ok(session_record(row))
}

pub(super) async fn session_find(
    store: &SeaStore,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<SessionRecord>, StoreError> {
    const OP: &str = "looking up a session";
    Ok(session::Entity::find()
        .filter(session::Column::TokenHash.eq(token_hash))
        .filter(session::Column::ExpiresAt.gt(ts(now)))
        .one(&store.db)
        .await
        .map_err(db(OP))?
        .map(session_record))
}

pub(super) async fn session_delete(store: &SeaStore, token_hash: &str) -> Result<bool, StoreError> {
    const OP: &str = "ending a session";
    let deleted = session::Entity::delete_many()
        .filter(session::Column::TokenHash.eq(token_hash))
        .exec(&store.db)
        .await
        .map_err(db(OP))?;
    Ok(deleted.rows_affected > 0)
}

pub(super) async fn session_purge(store: &SeaStore, now: DateTime<Utc>) -> Result<u64, StoreError> {
    const OP: &str = "deleting expired sessions";
    let deleted = session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(ts(now)))
        .exec(&store.db)
        .await
        .map_err(db(OP))?;
    Ok(deleted.rows_affected)
}

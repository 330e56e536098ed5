//! Delivery settings and the log of webhook deliveries.

use c15t_model::CustomerId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entity::{customer, delivery, webhook_delivery};
use crate::error::db;
use crate::{
    DeliveryChange, DeliveryRecord, NewAudit, NewWebhookDelivery, StoreError, WebhookDeliveryRecord,
};

use super::audit::insert_audit;
use super::jobs::enqueue_job;
use super::vaults::swap_vault;
use super::{
    SeaStore, customer_resource, from_i32, from_i64, json_from, json_to, parse_id, to_i32, to_i64,
    ts,
};

fn webhook_delivery_record(
    row: webhook_delivery::Model,
) -> Result<WebhookDeliveryRecord, StoreError> {
    let what = |field: &str| format!("{field} of webhook delivery {}", row.id);
    Ok(WebhookDeliveryRecord {
        id: row.id,
        attempt: NewWebhookDelivery {
            customer: parse_id(&what("customer"), &row.customer_id)?,
            attempt: from_i32(&what("attempt"), row.attempt)?,
            status_code: row
                .status_code
                .map(|c| u16::try_from(c).map_err(|_| StoreError::corrupt(what("status code"))))
                .transpose()?,
            duration_ms: from_i64(&what("duration"), row.duration_ms)?,
            message_id: row.message_id,
            event_type: row.event_type,
            outcome: row.outcome,
            error: row.error,
            at: row.at,
        },
    })
}

pub(super) async fn delivery_get(
    store: &SeaStore,
    customer: &CustomerId,
) -> Result<Option<DeliveryRecord>, StoreError> {
    const OP: &str = "reading delivery settings";
    delivery::Entity::find_by_id(customer.as_str())
        .one(&store.db)
        .await
        .map_err(db(OP))?
        .map(|row| {
            Ok(DeliveryRecord {
                delivery: json_from(&format!("delivery settings of {customer}"), &row.settings)?,
                updated_at: row.updated_at,
            })
        })
        .transpose()
}

pub(super) async fn delivery_put(
    store: &SeaStore,
    change: DeliveryChange<'_>,
) -> Result<(), StoreError> {
    const OP: &str = "saving delivery settings";
    let now = ts(change.now);
    let id = change.customer;
    let settings = json_to("delivery settings", change.delivery)?;
    let (_turn, txn) = store.begin_write(OP).await?;
    if customer::Entity::find_by_id(id.as_str())
        .one(&txn)
        .await
        .map_err(db(OP))?
        .is_none()
    {
        return Err(StoreError::not_found(customer_resource(id.as_str())));
    }
    let before = delivery::Entity::find_by_id(id.as_str())
        .one(&txn)
        .await
        .map_err(db(OP))?
        .map(|row| json_from::<serde_json::Value>("delivery settings", &row.settings))
        .transpose()?;
    if let Some(swap) = change.vault {
        swap_vault(&txn, id, swap, now, OP).await?;
    }
    delivery::Entity::insert(delivery::ActiveModel {
        customer_id: Set(id.to_string()),
        settings: Set(settings),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(delivery::Column::CustomerId)
            .update_columns([delivery::Column::Settings, delivery::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await
    .map_err(db(OP))?;
    let resource = format!("customer/{id}/delivery");
    let after = serde_json::to_value(change.delivery).map_err(|e| StoreError::Invalid {
        what: format!("delivery settings ({e})"),
    })?;
    let entry = NewAudit {
        actor: change.actor,
        action: change.action,
        resource: &resource,
        customer: Some(id),
        before,
        after: Some(after),
    };
    insert_audit(&txn, entry, now, OP).await?;
    for job in change.jobs {
        enqueue_job(&txn, store.backend, job.clone(), change.now, OP).await?;
    }
    txn.commit().await.map_err(db(OP))
}

pub(super) async fn webhook_delivery_append(
    store: &SeaStore,
    attempt: NewWebhookDelivery,
) -> Result<WebhookDeliveryRecord, StoreError> {
    const OP: &str = "logging a webhook delivery";
    let row = webhook_delivery::ActiveModel {
        id: NotSet,
        customer_id: Set(attempt.customer.to_string()),
        message_id: Set(attempt.message_id.clone()),
        event_type: Set(attempt.event_type.clone()),
        attempt: Set(to_i32("attempt", attempt.attempt)?),
        status_code: Set(attempt.status_code.map(i32::from)),
        outcome: Set(attempt.outcome.clone()),
        error: Set(attempt.error.clone()),
        duration_ms: Set(to_i64("duration", attempt.duration_ms)?),
        at: Set(ts(attempt.at)),
    }
    .insert(&store.db)
    .await
    .map_err(db(OP))?;
    webhook_delivery_record(row)
}

pub(super) async fn webhook_delivery_list(
    store: &SeaStore,
    customer: &CustomerId,
    limit: u64,
) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
    const OP: &str = "listing webhook deliveries";
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::CustomerId.eq(customer.as_str()))
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(&store.db)
        .await
        .map_err(db(OP))?
        .into_iter()
        .map(webhook_delivery_record)
        .collect()
}

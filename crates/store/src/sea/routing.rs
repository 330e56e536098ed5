//! Worker routes and custom domains.

use c15t_model::CustomerId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::worker_route;
use crate::error::db;
use crate::{DomainRecord, DomainState, RouteRecord, StoreError};

use super::{SeaStore, parse_id, ts};

pub(super) async fn routes(
    store: &SeaStore,
    customer: &CustomerId,
) -> Result<Vec<RouteRecord>, StoreError> {
    const OP: &str = "reading worker routes";
    worker_route::Entity::find()
        .filter(worker_route::Column::CustomerId.eq(customer.as_str()))
        .order_by_asc(worker_route::Column::Environment)
        .all(&store.db)
        .await
        .map_err(db(OP))?
        .into_iter()
        .map(|row| {
            let domain = match row.hostname {
                Some(hostname) => Some(DomainRecord {
                    hostname,
                    id: row.domain_id,
                    zone_id: row.zone_id,
                    zone_name: row.zone_name,
                    state: row
                        .domain_state
                        .as_deref()
                        .and_then(DomainState::parse)
                        .ok_or_else(|| {
                            StoreError::corrupt(format!(
                                "custom domain state {:?}",
                                row.domain_state
                            ))
                        })?,
                    message: row.message,
                }),
                None => None,
            };
            Ok(RouteRecord {
                customer: parse_id("worker route customer", &row.customer_id)?,
                environment: parse_id("worker route environment", &row.environment)?,
                worker: row.worker,
                workers_dev: row.workers_dev,
                domain,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

pub(super) async fn route_put(store: &SeaStore, route: &RouteRecord) -> Result<(), StoreError> {
    const OP: &str = "recording a worker's routes";
    let domain = route.domain.as_ref();
    let row = worker_route::ActiveModel {
        customer_id: Set(route.customer.to_string()),
        environment: Set(route.environment.to_string()),
        worker: Set(route.worker.clone()),
        workers_dev: Set(route.workers_dev),
        hostname: Set(domain.map(|d| d.hostname.clone())),
        domain_id: Set(domain.and_then(|d| d.id.clone())),
        zone_id: Set(domain.and_then(|d| d.zone_id.clone())),
        zone_name: Set(domain.and_then(|d| d.zone_name.clone())),
        domain_state: Set(domain.map(|d| d.state.as_str().to_owned())),
        message: Set(domain.and_then(|d| d.message.clone())),
        updated_at: Set(ts(route.updated_at)),
    };
    let (_turn, txn) = store.begin_write(OP).await?;
    worker_route::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                worker_route::Column::CustomerId,
                worker_route::Column::Environment,
            ])
            .update_columns([
                worker_route::Column::Worker,
                worker_route::Column::WorkersDev,
                worker_route::Column::Hostname,
                worker_route::Column::DomainId,
                worker_route::Column::ZoneId,
                worker_route::Column::ZoneName,
                worker_route::Column::DomainState,
                worker_route::Column::Message,
                worker_route::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(db(OP))?;
    txn.commit().await.map_err(db(OP))
}

//! Worker health, as the health probes last saw it.

use c15t_model::CustomerId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::health_check;
use crate::error::db;
use crate::{HealthProbe, HealthRecord, StoreError};

use super::{SeaStore, from_i32, from_i64, json_from, json_to, parse_id, to_i64, ts};

fn health_of(row: health_check::Model) -> Result<HealthRecord, StoreError> {
    let what = |field: &str| format!("{field} of the health of deployment {}", row.deployment_id);
    Ok(HealthRecord {
        consecutive_failures: from_i32(&what("consecutive failures"), row.consecutive_failures)?,
        checks: from_i64(&what("checks"), row.checks)?,
        probe: HealthProbe {
            deployment_id: row.deployment_id,
            customer: parse_id(&what("customer"), &row.customer_id)?,
            environment: parse_id(&what("environment"), &row.environment)?,
            status_code: row
                .status_code
                .map(|c| u16::try_from(c).map_err(|_| StoreError::corrupt(what("status code"))))
                .transpose()?,
            latency_ms: row
                .latency_ms
                .map(|l| from_i64(&what("latency"), l))
                .transpose()?,
            drift: row
                .drift_json
                .as_deref()
                .map(|d| json_from(&what("drift"), d))
                .transpose()?,
            url: row.url,
            up: row.up,
            error: row.error,
            checked_at: row.checked_at,
        },
    })
}

pub(super) async fn health_record(
    store: &SeaStore,
    probe: HealthProbe,
) -> Result<HealthRecord, StoreError> {
    const OP: &str = "recording a health probe";
    let (_turn, txn) = store.begin_write(OP).await?;
    let previous = health_check::Entity::find_by_id(probe.deployment_id)
        .one(&txn)
        .await
        .map_err(db(OP))?;
    let (failures, checks) = match &previous {
        Some(p) => (p.consecutive_failures, p.checks),
        None => (0, 0),
    };
    let failures = if probe.up {
        0
    } else {
        failures.saturating_add(1)
    };
    let row = health_check::ActiveModel {
        deployment_id: Set(probe.deployment_id),
        customer_id: Set(probe.customer.to_string()),
        environment: Set(probe.environment.to_string()),
        url: Set(probe.url.clone()),
        up: Set(probe.up),
        status_code: Set(probe.status_code.map(i32::from)),
        latency_ms: Set(probe.latency_ms.map(|l| to_i64("latency", l)).transpose()?),
        error: Set(probe.error.clone()),
        consecutive_failures: Set(failures),
        checks: Set(checks.saturating_add(1)),
        checked_at: Set(ts(probe.checked_at)),
        drift_json: Set(probe
            .drift
            .as_ref()
            .map(|d| json_to("drift", d))
            .transpose()?),
    };
    health_check::Entity::insert(row)
        .on_conflict(
            OnConflict::column(health_check::Column::DeploymentId)
                .update_columns([
                    health_check::Column::Url,
                    health_check::Column::Up,
                    health_check::Column::StatusCode,
                    health_check::Column::LatencyMs,
                    health_check::Column::Error,
                    health_check::Column::ConsecutiveFailures,
                    health_check::Column::Checks,
                    health_check::Column::CheckedAt,
                    health_check::Column::DriftJson,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(db(OP))?;
    txn.commit().await.map_err(db(OP))?;
    Ok(HealthRecord {
        probe,
        consecutive_failures: from_i32("consecutive failures", failures)?,
        checks: from_i64("checks", checks.saturating_add(1))?,
    })
}

pub(super) async fn health_list(
    store: &SeaStore,
    customer: Option<&CustomerId>,
) -> Result<Vec<HealthRecord>, StoreError> {
    const OP: &str = "listing worker health";
    let mut query = health_check::Entity::find();
    if let Some(c) = customer {
        query = query.filter(health_check::Column::CustomerId.eq(c.as_str()));
    }
    query
        .order_by_asc(health_check::Column::DeploymentId)
        .all(&store.db)
        .await
        .map_err(db(OP))?
        .into_iter()
        .map(health_of)
        .collect()
}

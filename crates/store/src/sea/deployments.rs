//! Deployments and their releases.

use std::collections::BTreeMap;

use c15t_model::{CustomerId, Environment};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

use crate::entity::deployment;
use crate::error::db;
use crate::{DeploymentRecord, DeploymentStatus, DeploymentUpdate, NewDeployment, StoreError};

use super::{SeaStore, from_i64, json_from, json_to, parse_id, to_i64, ts};

fn deployment_record(row: deployment::Model) -> Result<DeploymentRecord, StoreError> {
    let what = |field: &str| format!("{field} of deployment {}", row.id);
    Ok(DeploymentRecord {
        id: row.id,
        customer: parse_id(&what("customer"), &row.customer_id)?,
        environment: parse_id(&what("environment"), &row.environment)?,
        config_revision: from_i64(&what("config revision"), row.config_revision)?,
        status: parse_id(&what("status"), &row.status)?,
        target: row.target,
        content_hash: row.content_hash,
        url: row.url,
        error: row.error,
        remote_version: row.remote_version,
        rollback_of: row.rollback_of,
        job_id: row.job_id,
        secret_fingerprints: match row.secret_fingerprints.as_deref() {
            None | Some("") => BTreeMap::new(),
            Some(json) => json_from(&what("secret fingerprints"), json)?,
        },
        runtime_module: row.runtime_module,
        destination: row.destination,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        updated_at: row.updated_at,
    })
}

/// Selects every deployment column but the release (`files`, `entry_module`), which can be
/// large: stand-ins keep the row type.
fn without_release(query: Select<deployment::Entity>) -> Select<deployment::Entity> {
    query
        .select_only()
        .columns([
            deployment::Column::Id,
            deployment::Column::CustomerId,
            deployment::Column::Environment,
            deployment::Column::Target,
            deployment::Column::ConfigRevision,
            deployment::Column::ContentHash,
            deployment::Column::Status,
            deployment::Column::Url,
            deployment::Column::Error,
            deployment::Column::RemoteVersion,
            deployment::Column::RollbackOf,
            deployment::Column::CreatedAt,
            deployment::Column::StartedAt,
            deployment::Column::FinishedAt,
            deployment::Column::UpdatedAt,
            deployment::Column::JobId,
            deployment::Column::SecretFingerprints,
            deployment::Column::RuntimeModule,
            deployment::Column::Destination,
        ])
        .column_as(Expr::value(""), "files")
        .column_as(Expr::value(Option::<String>::None), "entry_module")
}

pub(super) async fn deployment_create(
    store: &SeaStore,
    d: NewDeployment,
    now: DateTime<Utc>,
) -> Result<DeploymentRecord, StoreError> {
    const OP: &str = "recording a deployment";
    let now = ts(now);
    let row = deployment::ActiveModel {
        id: NotSet,
        customer_id: Set(d.customer.to_string()),
        environment: Set(d.environment.to_string()),
        target: Set(d.target),
        config_revision: Set(to_i64("config revision", d.config_revision)?),
        content_hash: Set(d.content_hash),
        files: Set(json_to("deployment files", &d.files)?),
        status: Set(DeploymentStatus::Pending.as_str().to_owned()),
        url: Set(None),
        error: Set(None),
        remote_version: Set(None),
        rollback_of: Set(d.rollback_of),
        job_id: Set(d.job_id),
        secret_fingerprints: Set(Some(json_to(
            "secret fingerprints",
            &d.secret_fingerprints,
        )?)),
        entry_module: Set(d.entry_module),
        runtime_module: Set(d.runtime_module),
        destination: Set(Some(d.destination)),
        created_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        updated_at: Set(now),
    }
    .insert(&store.db)
    .await
    .map_err(db(OP))?;
    deployment_record(row)
}

pub(super) async fn deployment_update(
    store: &SeaStore,
    id: i64,
    update: DeploymentUpdate,
    now: DateTime<Utc>,
) -> Result<DeploymentRecord, StoreError> {
    const OP: &str = "updating a deployment";
    let now = ts(now);
    let (_turn, txn) = store.begin_write(OP).await?;
    let row = deployment::Entity::find_by_id(id)
        .one(&txn)
        .await
        .map_err(db(OP))?
        .ok_or_else(|| StoreError::not_found(format!("deployment {id}")))?;
    let started_at = match (row.started_at, update.status) {
        (None, DeploymentStatus::Running) => Some(now),
        (started, _) => started,
    };
    let finished_at = if update.status.is_final() {
        row.finished_at.or(Some(now))
    } else {
        row.finished_at
    };
    let mut active: deployment::ActiveModel = row.into();
    active.status = Set(update.status.as_str().to_owned());
    if let Some(url) = update.url {
        active.url = Set(Some(url));
    }
    if let Some(error) = update.error {
        active.error = Set(Some(error));
    }
    if let Some(version) = update.remote_version {
        active.remote_version = Set(Some(version));
    }
    active.started_at = Set(started_at);
    active.finished_at = Set(finished_at);
    active.updated_at = Set(now);
    let row = active.update(&txn).await.map_err(db(OP))?;
    txn.commit().await.map_err(db(OP))?;
    deployment_record(row)
}

pub(super) async fn deployment_get(
    store: &SeaStore,
    id: i64,
) -> Result<Option<DeploymentRecord>, StoreError> {
    const OP: &str = "reading a deployment";
    deployment::Entity::find_by_id(id)
        .one(&store.db)
        .await
        .map_err(db(OP))?
        .map(deployment_record)
        .transpose()
}

pub(super) async fn deployment_list(
    store: &SeaStore,
    customer: &CustomerId,
    environment: Option<&Environment>,
    limit: u64,
) -> Result<Vec<DeploymentRecord>, StoreError> {
    const OP: &str = "listing deployments";
    let mut query =
        deployment::Entity::find().filter(deployment::Column::CustomerId.eq(customer.as_str()));
    if let Some(env) = environment {
        query = query.filter(deployment::Column::Environment.eq(env.as_str()));
    }
    without_release(query)
        .order_by_desc(deployment::Column::Id)
        .limit(limit)
        .all(&store.db)
        .await
        .map_err(db(OP))?
        .into_iter()
        .map(deployment_record)
        .collect()
}

pub(super) async fn deployment_files(
    store: &SeaStore,
    id: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    const OP: &str = "reading deployment files";
    let files: Option<String> = deployment::Entity::find_by_id(id)
        .select_only()
        .column(deployment::Column::Files)
        .into_tuple()
        .one(&store.db)
        .await
        .map_err(db(OP))?;
    let files = files.ok_or_else(|| StoreError::not_found(format!("deployment {id}")))?;
    json_from(&format!("files of deployment {id}"), &files)
}

pub(super) async fn deployment_entry(
    store: &SeaStore,
    id: i64,
) -> Result<Option<String>, StoreError> {
    const OP: &str = "reading a deployment's entry module";
    let entry: Option<Option<String>> = deployment::Entity::find_by_id(id)
        .select_only()
        .column(deployment::Column::EntryModule)
        .into_tuple()
        .one(&store.db)
        .await
        .map_err(db(OP))?;
    entry.ok_or_else(|| StoreError::not_found(format!("deployment {id}")))
}

pub(super) async fn deployment_for_job(
    store: &SeaStore,
    job_id: i64,
) -> Result<Option<DeploymentRecord>, StoreError> {
    const OP: &str = "finding a job's deployment";
    deployment::Entity::find()
        .filter(deployment::Column::JobId.eq(job_id))
        .order_by_desc(deployment::Column::Id)
        .one(&store.db)
        .await
        .map_err(db(OP))?
        .map(deployment_record)
        .transpose()
}

pub(super) async fn deployment_unfinished(
    store: &SeaStore,
) -> Result<Vec<DeploymentRecord>, StoreError> {
    const OP: &str = "listing unfinished deployments";
    deployment::Entity::find()
        .filter(deployment::Column::Status.is_in([
            DeploymentStatus::Pending.as_str(),
            DeploymentStatus::Running.as_str(),
        ]))
        .order_by_asc(deployment::Column::Id)
        .all(&store.db)
        .await
        .map_err(db(OP))?
        .into_iter()
        .map(deployment_record)
        .collect()
}

pub(super) async fn deployment_live(
    store: &SeaStore,
    customer: Option<&CustomerId>,
) -> Result<Vec<DeploymentRecord>, StoreError> {
    const OP: &str = "listing live deployments";
    // The newest succeeded deployment of each (customer, environment).
    let newest = Query::select()
        .expr(Expr::col(deployment::Column::Id).max())
        .from(deployment::Entity)
        .and_where(deployment::Column::Status.eq(DeploymentStatus::Succeeded.as_str()))
        .and_where_option(customer.map(|c| deployment::Column::CustomerId.eq(c.as_str())))
        .group_by_columns([
            deployment::Column::CustomerId,
            deployment::Column::Environment,
        ])
        .to_owned();
    without_release(deployment::Entity::find())
        .filter(deployment::Column::Id.in_subquery(newest))
        .order_by_asc(deployment::Column::CustomerId)
        .order_by_asc(deployment::Column::Environment)
        .all(&store.db)
        .await
        .map_err(db(OP))?
        .into_iter()
        .map(deployment_record)
        .collect()
}

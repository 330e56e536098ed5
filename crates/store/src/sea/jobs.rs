//! The durable job queue.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition,
    ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::entity::job;
use crate::error::db;
use crate::{JobCounts, JobRecord, JobStatus, NewJob, StoreError};

use super::{SeaStore, from_i32, from_i64, json_from, parse_id, to_i32, ts};

fn job_record(row: job::Model) -> Result<JobRecord, StoreError> {
    let what = |field: &str| format!("{field} of job {}", row.id);
    Ok(JobRecord {
        id: row.id,
        payload: json_from(&what("payload"), &row.payload)?,
        status: parse_id(&what("status"), &row.status)?,
        attempts: from_i32(&what("attempts"), row.attempts)?,
        max_attempts: from_i32(&what("max_attempts"), row.max_attempts)?,
        kind: row.kind,
        dedupe_key: row.dedupe_key,
        run_at: row.run_at,
        locked_by: row.locked_by,
        lease_expires_at: row.lease_expires_at,
        last_error: row.last_error,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> Result<DateTime<Utc>, StoreError> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .map(ts)
        .ok_or_else(|| StoreError::Invalid {
            what: format!("a lease of {lease:?}"),
        })
}

/// Enqueues `job` in `txn`: a pending job with the same kind and dedupe key takes the new
/// payload, start and attempts instead of a second job being added.
pub(super) async fn enqueue_job(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    job: NewJob,
    now: DateTime<Utc>,
    op: &'static str,
) -> Result<JobRecord, StoreError> {
    let now = ts(now);
    let run_at = ts(job.run_at);
    let payload = job.payload.to_string();
    let max_attempts = to_i32("max_attempts", job.max_attempts)?;
    if let Some(key) = &job.dedupe_key {
        if backend == DbBackend::Postgres {
            // Two enqueues of one key must not both insert; SQLite's `BEGIN IMMEDIATE`
            // serialises them already.
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtext($1))",
                [key.clone().into()],
            ))
            .await
            .map_err(db(op))?;
        }
        let updated = job::Entity::update_many()
            .col_expr(job::Column::Payload, Expr::value(payload.clone()))
            .col_expr(job::Column::RunAt, Expr::value(run_at))
            .col_expr(job::Column::MaxAttempts, Expr::value(max_attempts))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::DedupeKey.eq(key.as_str()))
            .filter(job::Column::Kind.eq(job.kind.as_str()))
            .filter(job::Column::Status.eq(JobStatus::Pending.as_str()))
            .exec_with_returning(txn)
            .await
            .map_err(db(op))?;
        if let Some(row) = updated.into_iter().min_by_key(|r| r.id) {
            return job_record(row);
        }
    }
    let row = job::ActiveModel {
        id: NotSet,
        kind: Set(job.kind),
        payload: Set(payload),
        dedupe_key: Set(job.dedupe_key),
        status: Set(JobStatus::Pending.as_str().to_owned()),
        run_at: Set(run_at),
        attempts: Set(0),
        max_attempts: Set(max_attempts),
        locked_by: Set(None),
        lease_expires_at: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await
    .map_err(db(op))?;
    job_record(row)
}

fn due_condition(kinds: &[&str], now: DateTime<Utc>) -> Condition {
    let due = Condition::any()
        .add(
            Condition::all()
                .add(job::Column::Status.eq(JobStatus::Pending.as_str()))
                .add(job::Column::RunAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(job::Column::Status.eq(JobStatus::Running.as_str()))
                .add(job::Column::LeaseExpiresAt.lte(now))
                .add(Expr::col(job::Column::Attempts).lt(Expr::col(job::Column::MaxAttempts))),
        );
    let mut cond = Condition::all().add(due);
    if !kinds.is_empty() {
        cond = cond.add(job::Column::Kind.is_in(kinds.iter().copied()));
    }
    cond
}

pub(super) async fn job_enqueue(
    store: &SeaStore,
    job: NewJob,
    now: DateTime<Utc>,
) -> Result<JobRecord, StoreError> {
    const OP: &str = "enqueueing a job";
    let (_turn, txn) = store.begin_write(OP).await?;
    let record = enqueue_job(&txn, store.backend, job, now, OP).await?;
    txn.commit().await.map_err(db(OP))?;
    Ok(record)
}

pub(super) async fn job_claim(
    store: &SeaStore,
    worker: &str,
    kinds: &[&str],
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Option<JobRecord>, StoreError> {
    const OP: &str = "claiming a job";
    let now = ts(now);
    let expires = lease_end(now, lease)?;
    let claim = job::Entity::update_many()
        .col_expr(
            job::Column::Status,
            Expr::value(JobStatus::Running.as_str()),
        )
        .col_expr(job::Column::LockedBy, Expr::value(worker))
        .col_expr(job::Column::LeaseExpiresAt, Expr::value(expires))
        .col_expr(
            job::Column::Attempts,
            Expr::col(job::Column::Attempts).add(1),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now));
    let claimed = if store.backend == DbBackend::Postgres {
        let (_turn, txn) = store.begin_write(OP).await?;
        let candidate = job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(due_condition(kinds, now))
            .order_by(job::Column::RunAt, Order::Asc)
            .order_by(job::Column::Id, Order::Asc)
            .limit(1)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .into_tuple::<i64>()
            .one(&txn)
            .await
            .map_err(db(OP))?;
        let Some(id) = candidate else {
            return Ok(None);
        };
        let rows = claim
            .filter(job::Column::Id.eq(id))
            .exec_with_returning(&txn)
            .await
            .map_err(db(OP))?;
        txn.commit().await.map_err(db(OP))?;
        rows
    } else {
        let candidate = Query::select()
            .column(job::Column::Id)
            .from(job::Entity)
            .cond_where(due_condition(kinds, now))
            .order_by(job::Column::RunAt, Order::Asc)
            .order_by(job::Column::Id, Order::Asc)
            .limit(1)
            .to_owned();
        claim
            .filter(job::Column::Id.in_subquery(candidate))
            .exec_with_returning(&store.db)
            .await
            .map_err(db(OP))?
    };
    claimed.into_iter().next().map(job_record).transpose()
}

pub(super) async fn job_heartbeat(
    store: &SeaStore,
    id: i64,
    worker: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "extending a job lease";
    let now = ts(now);
    let res = job::Entity::update_many()
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(lease_end(now, lease)?),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.eq(JobStatus::Running.as_str()))
        .filter(job::Column::LockedBy.eq(worker))
        .exec(&store.db)
        .await
        .map_err(db(OP))?;
    Ok(res.rows_affected == 1)
}

pub(super) async fn job_complete(
    store: &SeaStore,
    id: i64,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "completing a job";
    let res = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(JobStatus::Done.as_str()))
        .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(ts(now)))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.eq(JobStatus::Running.as_str()))
        .filter(job::Column::LockedBy.eq(worker))
        .exec(&store.db)
        .await
        .map_err(db(OP))?;
    Ok(res.rows_affected == 1)
}

pub(super) async fn job_fail(
    store: &SeaStore,
    id: i64,
    worker: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "recording a job failure";
    let now = ts(now);
    let (_turn, txn) = store.begin_write(OP).await?;
    let held = job::Entity::find_by_id(id)
        .filter(job::Column::Status.eq(JobStatus::Running.as_str()))
        .filter(job::Column::LockedBy.eq(worker))
        .one(&txn)
        .await
        .map_err(db(OP))?;
    let Some(row) = held else {
        return Ok(false);
    };
    let (status, run_at) = match retry_at {
        Some(at) if row.attempts < row.max_attempts => (JobStatus::Pending, ts(at)),
        _ => (JobStatus::Failed, row.run_at),
    };
    // `attempts` guards against a takeover between the read and this write.
    let res = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(status.as_str()))
        .col_expr(job::Column::RunAt, Expr::value(run_at))
        .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::LastError, Expr::value(error))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.eq(JobStatus::Running.as_str()))
        .filter(job::Column::LockedBy.eq(worker))
        .filter(job::Column::Attempts.eq(row.attempts))
        .exec(&txn)
        .await
        .map_err(db(OP))?;
    txn.commit().await.map_err(db(OP))?;
    Ok(res.rows_affected == 1)
}

pub(super) async fn job_release(
    store: &SeaStore,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    const OP: &str = "releasing jobs";
    let now = ts(now);
    let res = job::Entity::update_many()
        .col_expr(
            job::Column::Status,
            Expr::value(JobStatus::Pending.as_str()),
        )
        .col_expr(job::Column::RunAt, Expr::value(now))
        .col_expr(
            job::Column::Attempts,
            Expr::col(job::Column::Attempts).sub(1),
        )
        .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Status.eq(JobStatus::Running.as_str()))
        .filter(job::Column::LockedBy.eq(worker))
        .filter(job::Column::Attempts.gt(0))
        .exec(&store.db)
        .await
        .map_err(db(OP))?;
    Ok(res.rows_affected)
}

pub(super) async fn job_get(store: &SeaStore, id: i64) -> Result<Option<JobRecord>, StoreError> {
    const OP: &str = "reading a job";
    job::Entity::find_by_id(id)
        .one(&store.db)
        .await
        .map_err(db(OP))?
        .map(job_record)
        .transpose()
}

pub(super) async fn job_counts(store: &SeaStore) -> Result<JobCounts, StoreError> {
    const OP: &str = "counting jobs";
    let rows: Vec<(String, i64)> = job::Entity::find()
        .select_only()
        .column(job::Column::Status)
        .column_as(job::Column::Id.count(), "n")
        .group_by(job::Column::Status)
        .into_tuple()
        .all(&store.db)
        .await
        .map_err(db(OP))?;
    let mut counts = JobCounts::default();
    for (status, n) in rows {
        let n = from_i64("job count", n)?;
        match parse_id::<JobStatus>("job status", &status)? {
            JobStatus::Pending => counts.pending = n,
            JobStatus::Running => counts.running = n,
            JobStatus::Done => counts.done = n,
            JobStatus::Failed => counts.failed = n,
        }
    }
    Ok(counts)
}

pub(super) async fn job_reap(
    store: &SeaStore,
    now: DateTime<Utc>,
) -> Result<Vec<JobRecord>, StoreError> {
    const OP: &str = "reaping abandoned jobs";
    let now = ts(now);
    let rows = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(JobStatus::Failed.as_str()))
        .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(
            job::Column::LastError,
            Expr::value("the runner holding the job stopped before finishing it, on every attempt"),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Status.eq(JobStatus::Running.as_str()))
        .filter(job::Column::LeaseExpiresAt.lte(now))
        .filter(Expr::col(job::Column::Attempts).gte(Expr::col(job::Column::MaxAttempts)))
        .exec_with_returning(&store.db)
        .await
        .map_err(db(OP))?;
    rows.into_iter().map(job_record).collect()
}

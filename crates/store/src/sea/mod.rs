//! [`SeaStore`]: the SeaORM backend of [`Store`], one code path for SQLite and PostgreSQL.
//!
//! Concurrency rules, which the conformance tests exercise on both backends:
//! - Every write that reads before it writes runs in one transaction. On SQLite it starts with
//!   `BEGIN IMMEDIATE`, so it holds the write lock from the start and never fails half-way with
//!   `SQLITE_BUSY` (other writers wait up to `busy_timeout`).
//! - A config change first bumps the revision with `UPDATE … WHERE id = ? AND revision = ?`;
//!   that statement both checks and locks, so two editors can never both win.
//! - Claiming a job is `SELECT … FOR UPDATE SKIP LOCKED` then `UPDATE` on PostgreSQL, and a
//!   single `UPDATE … WHERE id = (SELECT …) RETURNING *` on SQLite (which serialises writers).

mod audit;
mod customers;
mod delivery;
mod deployments;
mod health;
mod jobs;
mod routing;
mod tokens;
mod users;
mod vaults;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use c15t_model::{CustomerId, DestinationSpec, Environment};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, IsolationLevel, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::error::{db, db_error};
use crate::migration::Migrator;
use crate::{
    ApiTokenRecord, AuditRecord, ConfigChange, CustomerSummary, DeliveryChange, DeliveryRecord,
    DeploymentRecord, DeploymentUpdate, HealthProbe, HealthRecord, JobCounts, JobRecord,
    NewApiToken, NewAudit, NewDeployment, NewJob, NewSession, NewUser, NewWebhookDelivery,
    Revision, RouteRecord, SessionRecord, Store, StoreError, StoredConfig, UserRecord,
    WebhookDeliveryRecord, WorkerNameRecord,
};

use customers::DestinationCache;

/// The embedded default: `c15t.db` in the working directory, created on first use.
pub fn default_database_url() -> String {
    "sqlite://c15t.db?mode=rwc".to_owned()
}

/// Key of the PostgreSQL advisory lock held while migrating, so replicas that start together
/// migrate one after the other.
const MIGRATION_LOCK: i64 = 0x6331_3574_0001;

/// Connections kept open to a SQLite file. WAL lets readers run beside the one writer.
const SQLITE_POOL: u32 = 4;

/// The page cache of each SQLite connection, in KiB (SQLite's default is 2,000 KiB). Reads
/// that miss it are served from the operating system's file cache, so a small cache costs
/// little time and keeps the server's resident memory flat however large the database grows.
const SQLITE_CACHE_KIB: u32 = 512;

/// The least free space on a SQLite database's disk for it to count as able to take writes:
/// room for the write-ahead log to grow by a few thousand pages.
const SQLITE_MIN_FREE_KIB: u64 = 8 * 1024;

/// The SeaORM store, over SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
    backend: DbBackend,
    /// The directory of a SQLite database file (not of an in-memory one), whose disk the write
    /// probe checks.
    sqlite_dir: Option<PathBuf>,
    /// SQLite's writers queue here, one at a time, before they take a pooled connection: a
    /// writer waiting for SQLite's write lock would otherwise hold one of the few connections
    /// (in SQLite's busy handler) that reads need, and a burst of writes would stall every read.
    /// `None` on PostgreSQL, whose writers lock rows, not the database.
    sqlite_writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Customers' destinations as last read, by the revision they were read at.
    destinations: Arc<DestinationCache>,
}

/// The turn of a SQLite writer (see [`SeaStore::begin_write`]), held until its transaction ends.
type WriteTurn = Option<tokio::sync::OwnedMutexGuard<()>>;

/// The file a `sqlite:` URL opens, or `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// The directory of the file a `sqlite:` URL opens, or `None` for an in-memory database.
fn sqlite_dir(url: &str) -> Option<PathBuf> {
    let path = sqlite_path(url)?;
    let parent = path.parent().unwrap_or(Path::new(""));
    Some(if parent.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        parent.to_path_buf()
    })
}

/// `ReadOnlyFilesystem` when a `sqlite:` URL's file exists on a read-only filesystem without
/// its `-shm` file: the reason SQLite could not open it, told in words.
#[cfg(unix)]
fn read_only_without_wal(url: &str) -> Option<StoreError> {
    let path = sqlite_path(url)?;
    let dir = sqlite_dir(url)?;
    let mut shm = path.clone().into_os_string();
    shm.push("-shm");
    let read_only = rustix::fs::statvfs(&dir)
        .is_ok_and(|s| s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY));
    (read_only && path.exists() && !Path::new(&shm).exists())
        .then_some(StoreError::ReadOnlyFilesystem { path, dir })
}

#[cfg(not(unix))]
fn read_only_without_wal(_url: &str) -> Option<StoreError> {
    None
}

/// `DiskFull` when the disk holding `dir` has less than [`SQLITE_MIN_FREE_KIB`] free.
#[cfg(unix)]
fn check_free_space(dir: &Path) -> Result<(), StoreError> {
    // A statvfs that fails (the directory went away) is left to the write that follows.
    let Ok(stats) = rustix::fs::statvfs(dir) else {
        return Ok(());
    };
    let available_kib = stats.f_bavail.saturating_mul(stats.f_frsize) / 1024;
    if available_kib < SQLITE_MIN_FREE_KIB {
        return Err(StoreError::DiskFull {
            available_kib,
            needed_kib: SQLITE_MIN_FREE_KIB,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_free_space(_dir: &Path) -> Result<(), StoreError> {
    Ok(())
}

impl SeaStore {
    /// Connects and applies pending migrations.
    ///
    /// `url` is a `postgres://` URL, a `sqlite:` URL, or a plain file path (opened as SQLite and
    /// created if missing). SQLite files are put in WAL mode with foreign keys on, a 5 s
    /// busy timeout and a 512 KiB page cache per connection.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let url = if url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
        {
            url.to_owned()
        } else {
            // TODO-correctness: a path containing `?` or `#` would need escaping here.
            format!("sqlite://{url}?mode=rwc")
        };
        let mut options = ConnectOptions::new(url.clone());
        options.sqlx_logging(false);
        if url.starts_with("sqlite:") {
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            // Every connection to `:memory:` is a database of its own: keep exactly one.
            options.max_connections(if in_memory { 1 } else { SQLITE_POOL });
            options.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
                    .synchronous(SqliteSynchronous::Normal)
                    .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
            });
            options.map_sqlx_sqlite_pool_opts(|pool| pool.after_release(release_check));
        }
        let db = match Database::connect(options).await {
            Ok(db) => db,
            Err(e) => {
                if let Some(refused) = read_only_without_wal(&url) {
                    return Err(refused);
                }
                return Err(db_error("connecting to the database", None, e));
            }
        };
        let backend = db.get_database_backend();
        let sqlite_dir = sqlite_dir(&url);
        let sqlite_writer =
            (backend == DbBackend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        let store = Self {
            db,
            backend,
            sqlite_dir,
            sqlite_writer,
            destinations: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations in one transaction (serialised between processes).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        const OP: &str = "migrating the database schema";
        let (_turn, txn) = self.begin_write(OP).await?;
        if self.backend == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                .await
                .map_err(db(OP))?;
        }
        Migrator::up(&txn, None).await.map_err(db(OP))?;
        txn.commit().await.map_err(db(OP))
    }

    /// The underlying connection, for tests of this crate and for raw SQL in scratch tables.
    #[doc(hidden)]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// A write transaction: `BEGIN IMMEDIATE` on SQLite, read committed on PostgreSQL. On
    /// SQLite the writer first waits for its turn (keep the returned turn until the
    /// transaction ends), so waiting writers hold no pooled connection.
    async fn begin_write(
        &self,
        op: &'static str,
    ) -> Result<(WriteTurn, DatabaseTransaction), StoreError> {
        let turn = match &self.sqlite_writer {
            Some(writer) => Some(Arc::clone(writer).lock_owned().await),
            None => None,
        };
        let txn = self
            .db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .map_err(db(op))?;
        Ok((turn, txn))
    }

    /// A read-only snapshot: repeatable read on PostgreSQL; on SQLite (WAL) every transaction
    /// reads one snapshot already.
    async fn begin_read(&self, op: &'static str) -> Result<DatabaseTransaction, StoreError> {
        let options = if self.backend == DbBackend::Postgres {
            TransactionOptions {
                isolation_level: Some(IsolationLevel::RepeatableRead),
                access_mode: Some(AccessMode::ReadOnly),
                ..TransactionOptions::default()
            }
        } else {
            TransactionOptions::default()
        };
        self.db.begin_with_options(options).await.map_err(db(op))
    }

    /// One committed write of the probe row (and, on SQLite, enough free disk first).
    async fn probe_writes(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        const OP: &str = "probing that the database takes writes";
        if let Some(dir) = &self.sqlite_dir {
            check_free_space(dir)?;
        }
        let upsert = Query::insert()
            .into_table("readiness_probe")
            .columns(["id", "checked_at"])
            .values_panic([1.into(), ts(now).into()])
            .on_conflict(
                OnConflict::column("id")
                    .update_column("checked_at")
                    .to_owned(),
            )
            .to_owned();
        let (_turn, txn) = self.begin_write(OP).await?;
        txn.execute(&upsert).await.map_err(db(OP))?;
        txn.commit().await.map_err(db(OP))
    }
}

/// Run on every SQLite connection handed back to the pool: a connection that is still inside a
/// transaction is closed instead of being reused.
///
/// After a failed write (the disk filled during `COMMIT`, say) SQLite may have rolled the
/// transaction back itself, or kept it open, and the driver's count of open transactions may
/// no longer agree with either. A connection left like that holds the write lock for ever
/// (every other write is `database is locked`) and shows its own uncommitted rows to whoever
/// reads through it next. So: `ROLLBACK` (which fails, harmlessly, when no transaction is
/// open; it runs after any rollback the driver queued, on the same connection thread), and
/// keep the connection only if there was nothing to roll back and the driver agrees.
fn release_check(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    _meta: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, sea_orm::sqlx::Error>> + Send + '_>> {
    use sea_orm::sqlx::{Connection as _, Executor as _};
    Box::pin(async move {
        let was_open = conn.execute("ROLLBACK").await.is_ok();
        if was_open || conn.is_in_transaction() {
            tracing::warn!(
                "closing a SQLite connection left inside a transaction by a failed write"
            );
            return Ok(false);
        }
        Ok(true)
    })
}

// ---------------------------------------------------------------------------------------------
// Conversions between rows and model types shared by every resource (each resource's own
// row conversions are in its file).

/// Times are kept to the microsecond: PostgreSQL's precision, and on SQLite it keeps the RFC
/// 3339 text at 0 or 6 fraction digits, which sorts in time order.
fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

fn customer_resource(id: &str) -> String {
    format!("customer `{id}`")
}

fn to_i64(what: &str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Invalid {
        what: format!("{what} {value} (too large)"),
    })
}

fn to_i32(what: &str, value: u32) -> Result<i32, StoreError> {
    i32::try_from(value).map_err(|_| StoreError::Invalid {
        what: format!("{what} {value} (too large)"),
    })
}

fn from_i64(what: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("{what} is negative ({value})")))
}

fn from_i32(what: &str, value: i32) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::corrupt(format!("{what} is negative ({value})")))
}

fn parse_id<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e| StoreError::corrupt(format!("{what} `{value}`: {e}")))
}

fn json_from<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(format!("{what}: {e}")))
}

fn json_to<T: serde::Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid {
        what: format!("{what} ({e})"),
    })
}

#[async_trait::async_trait]
impl Store for SeaStore {
    // Customers, their configs and destinations, worker names (customers.rs).
    async fn customer_list(&self) -> Result<Vec<CustomerSummary>, StoreError> {
        customers::customer_list(self).await
    }

    async fn customer_page(
        &self,
        after: Option<&CustomerId>,
        limit: u64,
    ) -> Result<Vec<CustomerSummary>, StoreError> {
        customers::customer_page(self, after, limit).await
    }

    async fn customer_revisions(&self) -> Result<Vec<(CustomerId, Revision)>, StoreError> {
        customers::customer_revisions(self).await
    }

    async fn customer_revision(&self, id: &CustomerId) -> Result<Option<Revision>, StoreError> {
        customers::customer_revision(self, id).await
    }

    async fn worker_names(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<WorkerNameRecord>, StoreError> {
        customers::worker_names(self, customer).await
    }

    async fn worker_name_claim(
        &self,
        customer: &CustomerId,
        environment: &Environment,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        customers::worker_name_claim(self, customer, environment, name, now).await
    }

    async fn worker_name_live(
        &self,
        customer: &CustomerId,
        environment: &Environment,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        customers::worker_name_live(self, customer, environment, name, now).await
    }

    async fn customer_get(&self, id: &CustomerId) -> Result<Option<StoredConfig>, StoreError> {
        customers::customer_get(self, id).await
    }

    async fn customer_configs(
        &self,
        after: Option<&CustomerId>,
        limit: u64,
    ) -> Result<Vec<StoredConfig>, StoreError> {
        customers::customer_configs(self, after, limit).await
    }

    async fn config_put(&self, change: ConfigChange<'_>) -> Result<Revision, StoreError> {
        customers::config_put(self, change).await
    }

    async fn customer_delete(
        &self,
        actor: &str,
        id: &CustomerId,
        expected_revision: Revision,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        customers::customer_delete(self, actor, id, expected_revision, now).await
    }

    async fn destination_list(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<DestinationSpec>, StoreError> {
        customers::destination_list(self, customer).await
    }

    // Worker routes and custom domains (routing.rs).
    async fn routes(&self, customer: &CustomerId) -> Result<Vec<RouteRecord>, StoreError> {
        routing::routes(self, customer).await
    }

    async fn route_put(&self, route: &RouteRecord) -> Result<(), StoreError> {
        routing::route_put(self, route).await
    }

    // Vaults (vaults.rs).
    async fn vault_list(&self) -> Result<Vec<(CustomerId, String)>, StoreError> {
        vaults::vault_list(self).await
    }

    async fn vault_latest(&self) -> Result<Option<(CustomerId, String)>, StoreError> {
        vaults::vault_latest(self).await
    }

    async fn vault_reseal(
        &self,
        actor: &str,
        customer: &CustomerId,
        old: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        vaults::vault_reseal(self, actor, customer, old, new, now).await
    }

    // API tokens (tokens.rs).
    async fn api_token_create(
        &self,
        actor: &str,
        token: NewApiToken<'_>,
        now: DateTime<Utc>,
    ) -> Result<ApiTokenRecord, StoreError> {
        tokens::api_token_create(self, actor, token, now).await
    }

    async fn api_token_list(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<ApiTokenRecord>, StoreError> {
        tokens::api_token_list(self, customer).await
    }

    async fn api_token_revoke(
        &self,
        actor: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        tokens::api_token_revoke(self, actor, id, now).await
    }

    async fn api_token_find(&self, token_hash: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        tokens::api_token_find(self, token_hash).await
    }

    async fn api_token_touch(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        tokens::api_token_touch(self, id, now).await
    }

    // Deployments (deployments.rs).
    async fn deployment_create(
        &self,
        d: NewDeployment,
        now: DateTime<Utc>,
    ) -> Result<DeploymentRecord, StoreError> {
        deployments::deployment_create(self, d, now).await
    }

    async fn deployment_update(
        &self,
        id: i64,
        update: DeploymentUpdate,
        now: DateTime<Utc>,
    ) -> Result<DeploymentRecord, StoreError> {
        deployments::deployment_update(self, id, update, now).await
    }

    async fn deployment_get(&self, id: i64) -> Result<Option<DeploymentRecord>, StoreError> {
        deployments::deployment_get(self, id).await
    }

    async fn deployment_list(
        &self,
        customer: &CustomerId,
        environment: Option<&Environment>,
        limit: u64,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        deployments::deployment_list(self, customer, environment, limit).await
    }

    async fn deployment_files(&self, id: i64) -> Result<Vec<(String, String)>, StoreError> {
        deployments::deployment_files(self, id).await
    }

    async fn deployment_entry(&self, id: i64) -> Result<Option<String>, StoreError> {
        deployments::deployment_entry(self, id).await
    }

    async fn deployment_for_job(
        &self,
        job_id: i64,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        deployments::deployment_for_job(self, job_id).await
    }

    async fn deployment_unfinished(&self) -> Result<Vec<DeploymentRecord>, StoreError> {
        deployments::deployment_unfinished(self).await
    }

    async fn deployment_live(
        &self,
        customer: Option<&CustomerId>,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        deployments::deployment_live(self, customer).await
    }

    // Delivery settings and webhook deliveries (delivery.rs).
    async fn delivery_get(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        delivery::delivery_get(self, customer).await
    }

    async fn delivery_put(&self, change: DeliveryChange<'_>) -> Result<(), StoreError> {
        delivery::delivery_put(self, change).await
    }

    async fn webhook_delivery_append(
        &self,
        attempt: NewWebhookDelivery,
    ) -> Result<WebhookDeliveryRecord, StoreError> {
        delivery::webhook_delivery_append(self, attempt).await
    }

    async fn webhook_delivery_list(
        &self,
        customer: &CustomerId,
        limit: u64,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
        delivery::webhook_delivery_list(self, customer, limit).await
    }

    // Worker health (health.rs).
    async fn health_record(&self, probe: HealthProbe) -> Result<HealthRecord, StoreError> {
        health::health_record(self, probe).await
    }

    async fn health_list(
        &self,
        customer: Option<&CustomerId>,
    ) -> Result<Vec<HealthRecord>, StoreError> {
        health::health_list(self, customer).await
    }

    // The audit log (audit.rs).
    async fn audit_page(
        &self,
        customer: Option<&CustomerId>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        audit::audit_page(self, customer, before, limit).await
    }

    async fn audit_append(
        &self,
        entry: NewAudit<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        audit::audit_append(self, entry, now).await
    }

    // The job queue (jobs.rs).
    async fn job_enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<JobRecord, StoreError> {
        jobs::job_enqueue(self, job, now).await
    }

    async fn job_claim(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<JobRecord>, StoreError> {
        jobs::job_claim(self, worker, kinds, lease, now).await
    }

    async fn job_heartbeat(
        &self,
        id: i64,
        worker: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        jobs::job_heartbeat(self, id, worker, lease, now).await
    }

    async fn job_complete(
        &self,
        id: i64,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        jobs::job_complete(self, id, worker, now).await
    }

    async fn job_fail(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        jobs::job_fail(self, id, worker, error, retry_at, now).await
    }

    async fn job_release(&self, worker: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        jobs::job_release(self, worker, now).await
    }

    async fn job_get(&self, id: i64) -> Result<Option<JobRecord>, StoreError> {
        jobs::job_get(self, id).await
    }

    async fn job_counts(&self) -> Result<JobCounts, StoreError> {
        jobs::job_counts(self).await
    }

    async fn job_reap(&self, now: DateTime<Utc>) -> Result<Vec<JobRecord>, StoreError> {
        jobs::job_reap(self, now).await
    }

    // Users and sessions (users.rs).
    async fn user_create(
        &self,
        actor: &str,
        user: NewUser<'_>,
        now: DateTime<Utc>,
    ) -> Result<UserRecord, StoreError> {
        users::user_create(self, actor, user, now).await
    }

    async fn user_find(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        users::user_find(self, email).await
    }

    async fn user_get(&self, id: i64) -> Result<Option<UserRecord>, StoreError> {
        users::user_get(self, id).await
    }

    async fn user_list(&self) -> Result<Vec<UserRecord>, StoreError> {
        users::user_list(self).await
    }

    async fn user_password_set(
        &self,
        actor: &str,
        id: i64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        users::user_password_set(self, actor, id, password_hash, now).await
    }

    async fn session_create(
        &self,
        new: NewSession<'_>,
        now: DateTime<Utc>,
    ) -> Result<SessionRecord, StoreError> {
        users::session_create(self, new, now).await
    }

    async fn session_find(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        users::session_find(self, token_hash, now).await
    }

    async fn session_delete(&self, token_hash: &str) -> Result<bool, StoreError> {
        users::session_delete(self, token_hash).await
    }

    async fn session_purge(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        users::session_purge(self, now).await
    }

    // The database itself (here).
    async fn write_probe(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.probe_writes(now).await
    }
}

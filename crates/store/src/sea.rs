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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use c15t_model::{
    CustomerId, CustomerSpec, DatabaseSpec, DestinationSpec, Environment, RawValue, SecretRef,
};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict, Query};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition,
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, FromQueryResult, IsolationLevel, Order, QueryFilter, QueryOrder, QuerySelect,
    Select, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::entity::{
    api_token, audit, customer, delivery, deployment, destination, health_check, job, session,
    user, vault, webhook_delivery, worker_name, worker_route,
};
use crate::error::{db, db_error};
use crate::migration::Migrator;
use crate::{
    ApiTokenRecord, AuditRecord, ConfigChange, CustomerSummary, DeliveryChange, DeliveryRecord,
    DeploymentRecord, DeploymentStatus, DeploymentUpdate, HealthProbe, HealthRecord, JobCounts,
    JobRecord, JobStatus, NewApiToken, NewAudit, NewDeployment, NewJob, NewWebhookDelivery,
    Revision, Store, StoreError, StoredConfig, VaultSwap, WebhookDeliveryRecord, WorkerNameRecord,
};
use crate::{DomainRecord, DomainState, RouteRecord};
use crate::{NewSession, NewUser, SessionRecord, UserRecord};

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

/// The most customers whose destinations [`DestinationCache`] keeps.
const DESTINATION_CACHE_CUSTOMERS: usize = 256;

/// Customers' parsed destinations, each under the revision (and creation time) of the customer
/// row it was read with. A customer's destinations change only with its revision, so an entry
/// whose key matches the row just read is what the table holds, on every replica; a customer
/// deleted and created again has another creation time. Only destinations read from committed
/// state are put here, never what a write is about to commit, so a write that fails leaves
/// nothing behind. Decoding a customer's 200 destination rows costs more than the rest of a
/// config read together; this spares reads and edits of unchanged customers that cost.
#[derive(Debug, Default)]
struct DestinationCache {
    entries: std::sync::Mutex<HashMap<String, CachedDestinations>>,
}

#[derive(Debug)]
struct CachedDestinations {
    revision: i64,
    created_at: DateTime<Utc>,
    destinations: Arc<Vec<DestinationSpec>>,
}

impl DestinationCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedDestinations>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, row: &customer::Model) -> Option<Arc<Vec<DestinationSpec>>> {
        let entries = self.lock();
        let entry = entries.get(&row.id)?;
        (entry.revision == row.revision && entry.created_at == row.created_at)
            .then(|| Arc::clone(&entry.destinations))
    }

    fn put(&self, row: &customer::Model, destinations: Arc<Vec<DestinationSpec>>) {
        let mut entries = self.lock();
        if entries.len() >= DESTINATION_CACHE_CUSTOMERS && !entries.contains_key(&row.id) {
            // Any entry makes room: a miss costs one read of the table.
            if let Some(key) = entries.keys().next().cloned() {
                entries.remove(&key);
            }
        }
        entries.insert(
            row.id.clone(),
            CachedDestinations {
                revision: row.revision,
                created_at: row.created_at,
                destinations,
            },
        );
    }

    fn forget(&self, id: &str) {
        self.lock().remove(id);
    }
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
// Conversions between rows and model types.

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

/// serde_json writes a non-finite float as `null`, which would not read back: refuse it.
fn check_finite(path: &str, value: &RawValue) -> Result<(), StoreError> {
    match value {
        RawValue::Float(f) if !f.is_finite() => Err(StoreError::Invalid {
            what: format!("{path}: the number {f}"),
        }),
        RawValue::Table(t) => t
            .iter()
            .try_for_each(|(k, v)| check_finite(&format!("{path}.{k}"), v)),
        RawValue::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_finite(&format!("{path}[{i}]"), v)),
        _ => Ok(()),
    }
}

/// The rows of a spec: the customer row (revision and times filled in by the caller) and the
/// destination rows in order.
fn spec_rows(
    spec: &CustomerSpec,
) -> Result<(customer::ActiveModel, Vec<destination::ActiveModel>), StoreError> {
    check_finite("database.auth_token", &spec.database.auth_token)?;
    let customer = customer::ActiveModel {
        id: Set(spec.id.clone()),
        display_name: Set(spec.name.clone()),
        environments: Set(spec
            .environments
            .as_ref()
            .map(|e| json_to("environments", e))
            .transpose()?),
        trusted_origins: Set(json_to("trusted_origins", &spec.trusted_origins)?),
        log_level: Set(spec.log_level.clone()),
        database_provider: Set(spec.database.provider.clone()),
        database_url: Set(spec.database.url.clone()),
        database_token_ref: Set(json_to("database.auth_token", &spec.database.auth_token)?),
        events_debug_secret_ref: Set(spec
            .events_debug_secret
            .as_ref()
            .map(|s| json_to("events_debug_secret", s))
            .transpose()?),
        revision: NotSet,
        created_at: NotSet,
        updated_at: NotSet,
    };
    let mut destinations = Vec::with_capacity(spec.destinations.len());
    for (i, d) in spec.destinations.iter().enumerate() {
        for (k, v) in &d.settings {
            check_finite(&format!("destinations[{i}].settings.{k}"), v)?;
        }
        let position = i32::try_from(i).map_err(|_| StoreError::Invalid {
            what: "more than 2^31 destinations".to_owned(),
        })?;
        destinations.push(destination::ActiveModel {
            customer_id: Set(spec.id.clone()),
            id: Set(d.id.clone()),
            position: Set(position),
            name: Set(d.name.clone()),
            kind: Set(d.kind.clone()),
            enabled: Set(d.enabled),
            environment: Set(d.environment.clone()),
            category: Set(d.category.clone()),
            settings: Set(json_to(
                &format!("destinations[{i}].settings"),
                &d.settings,
            )?),
        });
    }
    Ok((customer, destinations))
}

fn destination_spec(row: destination::Model) -> Result<DestinationSpec, StoreError> {
    let what = format!(
        "settings of destination `{}` of customer `{}`",
        row.id, row.customer_id
    );
    Ok(DestinationSpec {
        settings: json_from::<BTreeMap<String, RawValue>>(&what, &row.settings)?,
        id: row.id,
        name: row.name,
        kind: row.kind,
        enabled: row.enabled,
        environment: row.environment,
        category: row.category,
    })
}

/// The customer columns `customer_configs` reads (all of [`customer::Model`]).
macro_rules! config_columns {
    () => {
        "c.id, c.display_name, c.environments, c.trusted_origins, c.log_level, \
         c.database_provider, c.database_url, c.database_token_ref, c.events_debug_secret_ref, \
         c.revision, c.created_at, c.updated_at"
    };
}

/// A page of customers with their destinations (a JSON array of `[id, name, kind, enabled,
/// environment, category, settings]` in position order; SQLite's `json_group_array` keeps the
/// order of its input rows) and vault ciphertext. `_AFTER` takes the last id seen, then the limit.
macro_rules! sqlite_configs {
    ($filter:literal) => {
        concat!(
            "SELECT ",
            config_columns!(),
            ", (SELECT json_group_array(json_array(d.id, d.name, d.kind, d.enabled, \
             d.environment, d.category, json(d.settings))) \
             FROM (SELECT * FROM destinations WHERE customer_id = c.id ORDER BY position) AS d) \
             AS destinations, v.ciphertext AS vault \
             FROM (SELECT * FROM customers ",
            $filter,
            " ORDER BY id LIMIT ?) AS c LEFT JOIN vaults AS v ON v.customer_id = c.id \
             ORDER BY c.id"
        )
    };
}

/// As [`sqlite_configs`] on PostgreSQL (`json_agg` is NULL for a customer without destinations).
macro_rules! pg_configs {
    ($filter:literal, $limit:literal) => {
        concat!(
            "SELECT ",
            config_columns!(),
            ", (SELECT json_agg(json_build_array(d.id, d.name, d.kind, d.enabled, \
             d.environment, d.category, d.settings::json) ORDER BY d.position)::text \
             FROM destinations AS d WHERE d.customer_id = c.id) AS destinations, \
             v.ciphertext AS vault \
             FROM (SELECT * FROM customers ",
            $filter,
            " ORDER BY id LIMIT ",
            $limit,
            ") AS c LEFT JOIN vaults AS v ON v.customer_id = c.id ORDER BY c.id"
        )
    };
}

const SQLITE_CONFIGS: &str = sqlite_configs!("");
const SQLITE_CONFIGS_AFTER: &str = sqlite_configs!("WHERE id > ?");
const PG_CONFIGS: &str = pg_configs!("", "$1");
const PG_CONFIGS_AFTER: &str = pg_configs!("WHERE id > $1", "$2");

/// One element of the destinations array `customer_configs` reads: `[id, name, kind, enabled,
/// environment, category, settings]`, `enabled` a boolean (PostgreSQL) or 0/1 (SQLite).
struct JsonDestination(DestinationSpec);

impl<'de> serde::Deserialize<'de> for JsonDestination {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(JsonDestinationVisitor)
    }
}

struct JsonDestinationVisitor;

impl<'de> serde::de::Visitor<'de> for JsonDestinationVisitor {
    type Value = JsonDestination;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[id, name, kind, enabled, environment, category, settings]")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<JsonDestination, A::Error> {
        use serde::de::Error;
        let missing = |i: usize| A::Error::invalid_length(i, &"7 elements");
        let id: String = seq.next_element()?.ok_or_else(|| missing(0))?;
        let name: String = seq.next_element()?.ok_or_else(|| missing(1))?;
        let kind: String = seq.next_element()?.ok_or_else(|| missing(2))?;
        let JsonBool(enabled) = seq.next_element()?.ok_or_else(|| missing(3))?;
        let environment: Option<String> = seq.next_element()?.ok_or_else(|| missing(4))?;
        let category: Option<String> = seq.next_element()?.ok_or_else(|| missing(5))?;
        let settings: BTreeMap<String, FastRaw> = seq.next_element()?.ok_or_else(|| missing(6))?;
        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            return Err(A::Error::invalid_length(8, &"7 elements"));
        }
        Ok(JsonDestination(DestinationSpec {
            settings: settings.into_iter().map(|(k, v)| (k, v.0)).collect(),
            id,
            name,
            kind,
            enabled,
            environment,
            category,
        }))
    }
}

/// A boolean as JSON `true`/`false` or SQLite's `0`/`1`.
struct JsonBool(bool);

impl<'de> serde::Deserialize<'de> for JsonBool {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonBoolVisitor).map(JsonBool)
    }
}

struct JsonBoolVisitor;

impl serde::de::Visitor<'_> for JsonBoolVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a boolean, 0 or 1")
    }

    fn visit_bool<E>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<bool, E> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(E::invalid_value(serde::de::Unexpected::Unsigned(v), &self)),
        }
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<bool, E> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(E::invalid_value(serde::de::Unexpected::Signed(v), &self)),
        }
    }
}

fn customer_spec_with(
    row: &customer::Model,
    destinations: Vec<DestinationSpec>,
) -> Result<CustomerSpec, StoreError> {
    let what = |field: &str| format!("{field} of customer `{}`", row.id);
    Ok(CustomerSpec {
        events_debug_secret: row
            .events_debug_secret_ref
            .as_deref()
            .map(|text| {
                serde_json::from_str::<FastRaw>(text)
                    .map(|v| v.0)
                    .map_err(|e| {
                        StoreError::corrupt(format!("{}: {e}", what("events_debug_secret")))
                    })
            })
            .transpose()?,
        id: row.id.clone(),
        name: row.display_name.clone(),
        environments: row
            .environments
            .as_deref()
            .map(|e| json_from(&what("environments"), e))
            .transpose()?,
        trusted_origins: json_from(&what("trusted_origins"), &row.trusted_origins)?,
        log_level: row.log_level.clone(),
        database: DatabaseSpec {
            provider: row.database_provider.clone(),
            url: row.database_url.clone(),
            auth_token: serde_json::from_str::<FastRaw>(&row.database_token_ref)
                .map(|v| v.0)
                .map_err(|e| {
                    StoreError::corrupt(format!("{}: {e}", what("database.auth_token")))
                })?,
        },
        destinations,
    })
}

/// A destination's settings JSON, decoded as `BTreeMap<String, RawValue>` would be but
/// without serde's buffering of untagged enums (see [`FastRaw`]).
#[cfg(test)]
fn raw_settings(text: &str) -> Result<BTreeMap<String, RawValue>, serde_json::Error> {
    let map: BTreeMap<String, FastRaw> = serde_json::from_str(text)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// Decodes a [`RawValue`] directly, with the result of its derived (untagged) `Deserialize`:
/// the first variant that fits, in declaration order. So an integer that fits `i64` is an
/// `Integer`, other numbers `Float`; an object with exactly one entry `env` or `stored` whose
/// value is a string is a `Secret`, any other object a `Table`; `null` is an error.
struct FastRaw(RawValue);

impl<'de> serde::Deserialize<'de> for FastRaw {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FastRawVisitor).map(FastRaw)
    }
}

struct FastRawVisitor;

impl<'de> serde::de::Visitor<'de> for FastRawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a setting value (boolean, number, string, table or array)")
    }

    fn visit_bool<E>(self, v: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue::Integer(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<RawValue, E> {
        #[allow(clippy::cast_precision_loss, reason = "as the derived decoding does")]
        Ok(i64::try_from(v).map_or(RawValue::Float(v as f64), RawValue::Integer))
    }

    fn visit_f64<E>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue::Text(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<RawValue, E> {
        Ok(RawValue::Text(v))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(FastRaw(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawValue::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut table = BTreeMap::new();
        while let Some((key, FastRaw(value))) = map.next_entry::<String, FastRaw>()? {
            table.insert(key, value);
        }
        if table.len() == 1
            && let Some((key, RawValue::Text(_))) = table.first_key_value()
            && (key == "env" || key == "stored")
        {
            let Some((key, RawValue::Text(text))) = table.pop_first() else {
                unreachable!("checked above");
            };
            let reference = if key == "env" {
                SecretRef::Env(text)
            } else {
                SecretRef::Stored(text)
            };
            return Ok(RawValue::Secret(reference));
        }
        Ok(RawValue::Table(table))
    }
}

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

fn health_record(row: health_check::Model) -> Result<HealthRecord, StoreError> {
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

fn lease_end(now: DateTime<Utc>, lease: Duration) -> Result<DateTime<Utc>, StoreError> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .map(ts)
        .ok_or_else(|| StoreError::Invalid {
            what: format!("a lease of {lease:?}"),
        })
}

// ---------------------------------------------------------------------------------------------
// Shared steps, on a connection or inside a transaction.

/// A customer's destinations, in order.
async fn load_destinations<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    op: &'static str,
) -> Result<Vec<DestinationSpec>, StoreError> {
    destination::Entity::find()
        .filter(destination::Column::CustomerId.eq(id))
        .order_by_asc(destination::Column::Position)
        .all(conn)
        .await
        .map_err(db(op))?
        .into_iter()
        .map(destination_spec)
        .collect()
}

impl SeaStore {
    /// A customer row and its config, the destinations through the cache. Only for a read
    /// transaction: the row and the destinations must come from one committed snapshot (never
    /// two statements of their own, never a write transaction, which sees its own uncommitted
    /// rows).
    async fn load_config_committed<C: ConnectionTrait>(
        &self,
        conn: &C,
        id: &str,
        op: &'static str,
    ) -> Result<Option<(customer::Model, CustomerSpec)>, StoreError> {
        let Some(row) = customer::Entity::find_by_id(id)
            .one(conn)
            .await
            .map_err(db(op))?
        else {
            return Ok(None);
        };
        let destinations = match self.destinations.get(&row) {
            Some(cached) => cached,
            None => {
                let read = Arc::new(load_destinations(conn, id, op).await?);
                self.destinations.put(&row, Arc::clone(&read));
                read
            }
        };
        let spec = customer_spec_with(&row, (*destinations).clone())?;
        Ok(Some((row, spec)))
    }

    /// The config a write transaction replaces, read after [`bump_revision`] confirmed it is
    /// at `expected` (the row it reads then says `expected + 1`): from the cache when it holds
    /// that revision, else from the table.
    async fn load_replaced(
        &self,
        txn: &DatabaseTransaction,
        id: &str,
        expected: Revision,
        op: &'static str,
    ) -> Result<Option<(customer::Model, CustomerSpec)>, StoreError> {
        let Some(row) = customer::Entity::find_by_id(id)
            .one(txn)
            .await
            .map_err(db(op))?
        else {
            return Ok(None);
        };
        let mut as_before = row.clone();
        as_before.revision = i64::try_from(expected).unwrap_or(i64::MAX);
        let destinations = match self.destinations.get(&as_before) {
            Some(cached) => (*cached).clone(),
            None => load_destinations(txn, id, op).await?,
        };
        let spec = customer_spec_with(&row, destinations)?;
        Ok(Some((row, spec)))
    }
}

/// Rows of destinations inserted by one statement: 9 columns each, so 4,500 bind parameters,
/// far under SQLite's 32,766 and PostgreSQL's 65,535 whatever the number of destinations.
const DESTINATION_ROWS_PER_INSERT: usize = 500;

/// Inserts `rows` in statements of at most [`DESTINATION_ROWS_PER_INSERT`] rows.
async fn insert_destinations(
    txn: &DatabaseTransaction,
    rows: Vec<destination::ActiveModel>,
    op: &'static str,
) -> Result<(), StoreError> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(DESTINATION_ROWS_PER_INSERT).collect();
        destination::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await
            .map_err(db(op))?;
    }
    Ok(())
}

/// Bumps the revision if it is still `expected`: the check-and-lock of every change.
async fn bump_revision(
    txn: &DatabaseTransaction,
    id: &str,
    expected: Revision,
    now: DateTime<Utc>,
    op: &'static str,
) -> Result<(), StoreError> {
    // A revision past what the column holds was never stored: stale (a 409), not an error.
    if let Ok(stored) = i64::try_from(expected) {
        let bumped = customer::Entity::update_many()
            .col_expr(
                customer::Column::Revision,
                Expr::col(customer::Column::Revision).add(1),
            )
            .col_expr(customer::Column::UpdatedAt, Expr::value(now))
            .filter(customer::Column::Id.eq(id))
            .filter(customer::Column::Revision.eq(stored))
            .exec(txn)
            .await
            .map_err(db(op))?;
        if bumped.rows_affected == 1 {
            return Ok(());
        }
    }
    let actual = customer::Entity::find_by_id(id)
        .one(txn)
        .await
        .map_err(db(op))?;
    Err(match actual {
        None => StoreError::not_found(customer_resource(id)),
        Some(row) => StoreError::Conflict {
            resource: customer_resource(id),
            expected,
            actual: from_i64("revision", row.revision)?,
        },
    })
}

/// Claims worker name `name` for `environment` of `customer` (as a reservation, or `live`),
/// in the caller's transaction; see [`Store::worker_name_claim`].
async fn claim_worker_name<C: ConnectionTrait>(
    conn: &C,
    customer: &str,
    environment: &str,
    name: &str,
    live: bool,
    now: DateTime<Utc>,
    op: &'static str,
) -> Result<(), StoreError> {
    let taken = |holder_customer: String, holder_environment: String| StoreError::WorkerNameTaken {
        name: name.to_owned(),
        customer: customer.to_owned(),
        environment: environment.to_owned(),
        holder_customer,
        holder_environment,
    };
    match worker_name::Entity::find_by_id(name)
        .one(conn)
        .await
        .map_err(db(op))?
    {
        Some(row) if row.customer_id == customer && row.environment == environment => {
            if live && !row.live {
                let mut row: worker_name::ActiveModel = row.into();
                row.live = Set(true);
                row.updated_at = Set(now);
                row.update(conn).await.map_err(db(op))?;
            }
            Ok(())
        }
        Some(row) => Err(taken(row.customer_id, row.environment)),
        None => {
            let row = worker_name::ActiveModel {
                name: Set(name.to_owned()),
                customer_id: Set(customer.to_owned()),
                environment: Set(environment.to_owned()),
                live: Set(live),
                created_at: Set(now),
                updated_at: Set(now),
            };
            match worker_name::Entity::insert(row)
                .exec_without_returning(conn)
                .await
            {
                Ok(_) => Ok(()),
                // Another transaction claimed it since the read (PostgreSQL; SQLite writers
                // take turns).
                Err(e)
                    if matches!(
                        e.sql_err(),
                        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                    ) =>
                {
                    Err(taken(
                        "another customer".to_owned(),
                        "(claimed at the same moment)".to_owned(),
                    ))
                }
                Err(e) => Err(db(op)(e)),
            }
        }
    }
}

/// Makes a saved config's environments hold the names today's rule gives them, and releases
/// the reservations it no longer needs (live names stay: their workers exist).
async fn sync_worker_names<C: ConnectionTrait>(
    conn: &C,
    id: &CustomerId,
    spec: &CustomerSpec,
    now: DateTime<Utc>,
    op: &'static str,
) -> Result<(), StoreError> {
    let names = spec
        .environments
        .clone()
        .unwrap_or_else(|| vec![Environment::PRODUCTION.to_owned()]);
    let mut wanted = Vec::with_capacity(names.len());
    for name in &names {
        let env = Environment::new(name.as_str()).map_err(|e| StoreError::Invalid {
            what: format!("environment `{name}` ({e})"),
        })?;
        let worker = c15t_model::worker_name(id, &env);
        claim_worker_name(conn, id.as_str(), env.as_str(), &worker, false, now, op).await?;
        wanted.push(worker);
    }
    worker_name::Entity::delete_many()
        .filter(worker_name::Column::CustomerId.eq(id.as_str()))
        .filter(worker_name::Column::Live.eq(false))
        .filter(worker_name::Column::Name.is_not_in(wanted))
        .exec(conn)
        .await
        .map_err(db(op))?;
    Ok(())
}

async fn insert_audit<C: ConnectionTrait>(
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

/// Audit JSON of a spec (secrets are fingerprints in a spec, never values).
fn spec_value(spec: &CustomerSpec) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(spec).map_err(|e| StoreError::Invalid {
        what: format!("customer config ({e})"),
    })
}

/// Enqueues `job` in `txn`: a pending job with the same kind and dedupe key takes the new
/// payload, start and attempts instead of a second job being added.
async fn enqueue_job(
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

/// Replaces a customer's vault if it is still `swap.old` (creates it when `old` is `None` and
/// there is none yet); [`StoreError::VaultChanged`] otherwise.
async fn swap_vault(
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

/// Customer rows as summaries, with their destination counts.
fn summaries(
    rows: Vec<customer::Model>,
    counts: &HashMap<String, i64>,
) -> Result<Vec<CustomerSummary>, StoreError> {
    rows.into_iter()
        .map(|row| {
            let count = counts.get(&row.id).copied().unwrap_or(0);
            Ok(CustomerSummary {
                id: parse_id("customer id", &row.id)?,
                revision: from_i64("revision", row.revision)?,
                destination_count: from_i64("destination count", count)?,
                display_name: row.display_name,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

#[async_trait::async_trait]
impl Store for SeaStore {
    async fn customer_list(&self) -> Result<Vec<CustomerSummary>, StoreError> {
        const OP: &str = "listing customers";
        let txn = self.begin_read(OP).await?;
        let rows = customer::Entity::find()
            .order_by_asc(customer::Column::Id)
            .all(&txn)
            .await
            .map_err(db(OP))?;
        let counts: HashMap<String, i64> = destination::Entity::find()
            .select_only()
            .column(destination::Column::CustomerId)
            .column_as(destination::Column::Id.count(), "n")
            .group_by(destination::Column::CustomerId)
            .into_tuple::<(String, i64)>()
            .all(&txn)
            .await
            .map_err(db(OP))?
            .into_iter()
            .collect();
        txn.commit().await.map_err(db(OP))?;
        summaries(rows, &counts)
    }

    async fn customer_page(
        &self,
        after: Option<&CustomerId>,
        limit: u64,
    ) -> Result<Vec<CustomerSummary>, StoreError> {
        const OP: &str = "listing a page of customers";
        let txn = self.begin_read(OP).await?;
        let mut query = customer::Entity::find().order_by_asc(customer::Column::Id);
        if let Some(after) = after {
            query = query.filter(customer::Column::Id.gt(after.as_str()));
        }
        let rows = query.limit(limit).all(&txn).await.map_err(db(OP))?;
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let mut counts = HashMap::new();
        // In chunks, so no page size reaches the driver's limit on bound variables.
        for chunk in ids.chunks(500) {
            let found = destination::Entity::find()
                .select_only()
                .column(destination::Column::CustomerId)
                .column_as(destination::Column::Id.count(), "n")
                .filter(destination::Column::CustomerId.is_in(chunk.iter().cloned()))
                .group_by(destination::Column::CustomerId)
                .into_tuple::<(String, i64)>()
                .all(&txn)
                .await
                .map_err(db(OP))?;
            counts.extend(found);
        }
        txn.commit().await.map_err(db(OP))?;
        summaries(rows, &counts)
    }

    async fn customer_revisions(&self) -> Result<Vec<(CustomerId, Revision)>, StoreError> {
        const OP: &str = "reading customer revisions";
        customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .column(customer::Column::Revision)
            .order_by_asc(customer::Column::Id)
            .into_tuple::<(String, i64)>()
            .all(&self.db)
            .await
            .map_err(db(OP))?
            .into_iter()
            .map(|(id, revision)| {
                Ok((
                    parse_id("customer id", &id)?,
                    from_i64("revision", revision)?,
                ))
            })
            .collect()
    }

    async fn customer_revision(&self, id: &CustomerId) -> Result<Option<Revision>, StoreError> {
        const OP: &str = "reading a customer's revision";
        customer::Entity::find_by_id(id.as_str())
            .select_only()
            .column(customer::Column::Revision)
            .into_tuple::<i64>()
            .one(&self.db)
            .await
            .map_err(db(OP))?
            .map(|revision| from_i64("revision", revision))
            .transpose()
    }

    async fn routes(&self, customer: &CustomerId) -> Result<Vec<RouteRecord>, StoreError> {
        const OP: &str = "reading worker routes";
        worker_route::Entity::find()
            .filter(worker_route::Column::CustomerId.eq(customer.as_str()))
            .order_by_asc(worker_route::Column::Environment)
            .all(&self.db)
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

    async fn route_put(&self, route: &RouteRecord) -> Result<(), StoreError> {
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
        let (_turn, txn) = self.begin_write(OP).await?;
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

    async fn worker_names(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<WorkerNameRecord>, StoreError> {
        const OP: &str = "reading worker names";
        worker_name::Entity::find()
            .filter(worker_name::Column::CustomerId.eq(customer.as_str()))
            .order_by_asc(worker_name::Column::Environment)
            .order_by_asc(worker_name::Column::Name)
            .all(&self.db)
            .await
            .map_err(db(OP))?
            .into_iter()
            .map(|row| {
                Ok(WorkerNameRecord {
                    customer: parse_id("worker name customer", &row.customer_id)?,
                    environment: parse_id("worker name environment", &row.environment)?,
                    name: row.name,
                    live: row.live,
                })
            })
            .collect()
    }

    async fn worker_name_claim(
        &self,
        customer: &CustomerId,
        environment: &Environment,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const OP: &str = "claiming a worker name";
        let (_turn, txn) = self.begin_write(OP).await?;
        claim_worker_name(
            &txn,
            customer.as_str(),
            environment.as_str(),
            name,
            false,
            ts(now),
            OP,
        )
        .await?;
        txn.commit().await.map_err(db(OP))
    }

    async fn worker_name_live(
        &self,
        customer: &CustomerId,
        environment: &Environment,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const OP: &str = "recording a worker's name";
        let (_turn, txn) = self.begin_write(OP).await?;
        claim_worker_name(
            &txn,
            customer.as_str(),
            environment.as_str(),
            name,
            true,
            ts(now),
            OP,
        )
        .await?;
        worker_name::Entity::delete_many()
            .filter(worker_name::Column::CustomerId.eq(customer.as_str()))
            .filter(worker_name::Column::Environment.eq(environment.as_str()))
            .filter(worker_name::Column::Live.eq(true))
            .filter(worker_name::Column::Name.ne(name))
            .exec(&txn)
            .await
            .map_err(db(OP))?;
        txn.commit().await.map_err(db(OP))
    }

    async fn customer_get(&self, id: &CustomerId) -> Result<Option<StoredConfig>, StoreError> {
        const OP: &str = "reading a customer config";
        let txn = self.begin_read(OP).await?;
        let Some((row, spec)) = self.load_config_committed(&txn, id.as_str(), OP).await? else {
            return Ok(None);
        };
        let vault = vault::Entity::find_by_id(id.as_str())
            .one(&txn)
            .await
            .map_err(db(OP))?;
        txn.commit().await.map_err(db(OP))?;
        Ok(Some(StoredConfig {
            spec,
            revision: from_i64("revision", row.revision)?,
            vault: vault.map(|v| v.ciphertext),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }))
    }

    async fn customer_configs(
        &self,
        after: Option<&CustomerId>,
        limit: u64,
    ) -> Result<Vec<StoredConfig>, StoreError> {
        const OP: &str = "reading a page of customer configs";
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // One query per page, one row per customer: its destinations come aggregated as a
        // JSON array (in position order) and its vault ciphertext joined, so the driver hands
        // over a row per customer instead of one per customer, destination and vault.
        let sql = match (self.backend, after.is_some()) {
            (DbBackend::Postgres, true) => PG_CONFIGS_AFTER,
            (DbBackend::Postgres, false) => PG_CONFIGS,
            (_, true) => SQLITE_CONFIGS_AFTER,
            (_, false) => SQLITE_CONFIGS,
        };
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(2);
        if let Some(after) = after {
            values.push(after.as_str().into());
        }
        values.push(limit.into());
        let txn = self.begin_read(OP).await?;
        if self.backend == DbBackend::Postgres {
            // The planner's estimate for the per-customer aggregate, on tables not yet analysed,
            // can pass the JIT thresholds; compiling then costs far more than the query itself.
            txn.execute_unprepared("SET LOCAL jit = off")
                .await
                .map_err(db(OP))?;
        }
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(self.backend, sql, values))
            .await
            .map_err(db(OP))?;
        txn.commit().await.map_err(db(OP))?;
        rows.iter()
            .map(|r| {
                let row = customer::Model::from_query_result(r, "").map_err(db(OP))?;
                let destinations: Option<String> = r.try_get("", "destinations").map_err(db(OP))?;
                let vault: Option<String> = r.try_get("", "vault").map_err(db(OP))?;
                let own = match destinations.as_deref() {
                    None => Vec::new(),
                    Some(text) => serde_json::from_str::<Vec<JsonDestination>>(text)
                        .map_err(|e| {
                            StoreError::corrupt(format!(
                                "destinations of customer `{}`: {e}",
                                row.id
                            ))
                        })?
                        .into_iter()
                        .map(|d| d.0)
                        .collect(),
                };
                let spec = customer_spec_with(&row, own)?;
                Ok(StoredConfig {
                    spec,
                    revision: from_i64("revision", row.revision)?,
                    vault,
                    created_at: row.created_at,
                    updated_at: row.updated_at,
                })
            })
            .collect()
    }

    async fn config_put(&self, change: ConfigChange<'_>) -> Result<Revision, StoreError> {
        const OP: &str = "saving a customer config";
        let now = ts(change.now);
        let spec = change.spec;
        let id: CustomerId = spec.id.parse().map_err(|e| StoreError::Invalid {
            what: format!("customer id `{}` ({e})", spec.id),
        })?;
        let resource = customer_resource(id.as_str());
        let (mut row, destinations) = spec_rows(spec)?;
        let after = spec_value(spec)?;

        let (_turn, txn) = self.begin_write(OP).await?;
        let (before, revision) = match change.expected_revision {
            None => {
                let exists = customer::Entity::find_by_id(id.as_str())
                    .one(&txn)
                    .await
                    .map_err(db(OP))?;
                if exists.is_some() {
                    return Err(StoreError::AlreadyExists { resource });
                }
                row.revision = Set(1);
                row.created_at = Set(now);
                row.updated_at = Set(now);
                customer::Entity::insert(row)
                    .exec_without_returning(&txn)
                    .await
                    .map_err(|e| db_error(OP, Some(&resource), e))?;
                (None, 1)
            }
            Some(expected) => {
                bump_revision(&txn, id.as_str(), expected, now, OP).await?;
                // The bump holds the row; read the old config before overwriting it.
                let (_, old) = self
                    .load_replaced(&txn, id.as_str(), expected, OP)
                    .await?
                    .ok_or_else(|| StoreError::not_found(resource.clone()))?;
                row.updated_at = Set(now);
                customer::Entity::update(row)
                    .exec(&txn)
                    .await
                    .map_err(db(OP))?;
                destination::Entity::delete_many()
                    .filter(destination::Column::CustomerId.eq(id.as_str()))
                    .exec(&txn)
                    .await
                    .map_err(db(OP))?;
                (Some(spec_value(&old)?), expected + 1)
            }
        };
        insert_destinations(&txn, destinations, OP).await?;
        sync_worker_names(&txn, &id, spec, now, OP).await?;
        if let Some(swap) = change.vault {
            swap_vault(&txn, &id, swap, now, OP).await?;
        }
        let entry = NewAudit {
            actor: change.actor,
            action: change.action,
            resource: change.resource,
            customer: Some(&id),
            before,
            after: Some(after),
        };
        insert_audit(&txn, entry, now, OP).await?;
        for job in change.jobs {
            enqueue_job(&txn, self.backend, job.clone(), change.now, OP).await?;
        }
        txn.commit().await.map_err(db(OP))?;
        Ok(revision)
    }

    async fn customer_delete(
        &self,
        actor: &str,
        id: &CustomerId,
        expected_revision: Revision,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const OP: &str = "deleting a customer";
        let now = ts(now);
        let (_turn, txn) = self.begin_write(OP).await?;
        bump_revision(&txn, id.as_str(), expected_revision, now, OP).await?;
        let (_, old) = self
            .load_replaced(&txn, id.as_str(), expected_revision, OP)
            .await?
            .ok_or_else(|| StoreError::not_found(customer_resource(id.as_str())))?;
        // Destinations, vault and tokens go by `ON DELETE CASCADE`.
        customer::Entity::delete_by_id(id.as_str())
            .exec(&txn)
            .await
            .map_err(db(OP))?;
        let resource = format!("customer/{id}");
        let entry = NewAudit {
            actor,
            action: "customer.delete",
            resource: &resource,
            customer: Some(id),
            before: Some(spec_value(&old)?),
            after: None,
        };
        insert_audit(&txn, entry, now, OP).await?;
        txn.commit().await.map_err(db(OP))?;
        self.destinations.forget(id.as_str());
        Ok(())
    }

    async fn destination_list(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<DestinationSpec>, StoreError> {
        const OP: &str = "listing destinations";
        // One snapshot: the row's revision must be that of the destinations read with it.
        let txn = self.begin_read(OP).await?;
        let (_, spec) = self
            .load_config_committed(&txn, customer.as_str(), OP)
            .await?
            .ok_or_else(|| StoreError::not_found(customer_resource(customer.as_str())))?;
        txn.commit().await.map_err(db(OP))?;
        Ok(spec.destinations)
    }

    async fn vault_list(&self) -> Result<Vec<(CustomerId, String)>, StoreError> {
        const OP: &str = "listing vaults";
        vault::Entity::find()
            .order_by_asc(vault::Column::CustomerId)
            .all(&self.db)
            .await
            .map_err(db(OP))?
            .into_iter()
            .map(|v| Ok((parse_id("vault customer", &v.customer_id)?, v.ciphertext)))
            .collect()
    }

    async fn vault_latest(&self) -> Result<Option<(CustomerId, String)>, StoreError> {
        const OP: &str = "reading the latest vault";
        vault::Entity::find()
            .order_by_desc(vault::Column::UpdatedAt)
            .order_by_desc(vault::Column::CustomerId)
            .one(&self.db)
            .await
            .map_err(db(OP))?
            .map(|v| Ok((parse_id("vault customer", &v.customer_id)?, v.ciphertext)))
            .transpose()
    }

    async fn vault_reseal(
        &self,
        actor: &str,
        customer: &CustomerId,
        old: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const OP: &str = "resealing a vault";
        let now = ts(now);
        let (_turn, txn) = self.begin_write(OP).await?;
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

    async fn api_token_create(
        &self,
        actor: &str,
        token: NewApiToken<'_>,
        now: DateTime<Utc>,
    ) -> Result<ApiTokenRecord, StoreError> {
        const OP: &str = "creating an API token";
        let now = ts(now);
        let (_turn, txn) = self.begin_write(OP).await?;
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

    async fn api_token_list(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<ApiTokenRecord>, StoreError> {
        const OP: &str = "listing API tokens";
        api_token::Entity::find()
            .filter(api_token::Column::CustomerId.eq(customer.as_str()))
            .order_by_asc(api_token::Column::Id)
            .all(&self.db)
            .await
            .map_err(db(OP))?
            .into_iter()
            .map(token_record)
            .collect()
    }

    async fn api_token_revoke(
        &self,
        actor: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const OP: &str = "revoking an API token";
        let now = ts(now);
        let (_turn, txn) = self.begin_write(OP).await?;
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

    async fn api_token_find(&self, token_hash: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        const OP: &str = "looking up an API token";
        api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(token_hash))
            .filter(api_token::Column::RevokedAt.is_null())
            .one(&self.db)
            .await
            .map_err(db(OP))?
            .map(token_record)
            .transpose()
    }

    async fn deployment_create(
        &self,
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
        .insert(&self.db)
        .await
        .map_err(db(OP))?;
        deployment_record(row)
    }

    async fn deployment_update(
        &self,
        id: i64,
        update: DeploymentUpdate,
        now: DateTime<Utc>,
    ) -> Result<DeploymentRecord, StoreError> {
        const OP: &str = "updating a deployment";
        let now = ts(now);
        let (_turn, txn) = self.begin_write(OP).await?;
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

    async fn deployment_get(&self, id: i64) -> Result<Option<DeploymentRecord>, StoreError> {
        const OP: &str = "reading a deployment";
        deployment::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db(OP))?
            .map(deployment_record)
            .transpose()
    }

    async fn deployment_list(
        &self,
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
            .all(&self.db)
            .await
            .map_err(db(OP))?
            .into_iter()
            .map(deployment_record)
            .collect()
    }

    async fn deployment_files(&self, id: i64) -> Result<Vec<(String, String)>, StoreError> {
        const OP: &str = "reading deployment files";
        let files: Option<String> = deployment::Entity::find_by_id(id)
            .select_only()
            .column(deployment::Column::Files)
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(db(OP))?;
        let files = files.ok_or_else(|| StoreError::not_found(format!("deployment {id}")))?;
        json_from(&format!("files of deployment {id}"), &files)
    }

    async fn audit_page(
        &self,
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
            .all(&self.db)
            .await
            .map_err(db(OP))?
            .into_iter()
            .map(audit_record)
            .collect()
    }

    async fn audit_append(
        &self,
        entry: NewAudit<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        insert_audit(&self.db, entry, now, "appending to the audit log").await
    }

    async fn job_enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<JobRecord, StoreError> {
        const OP: &str = "enqueueing a job";
        let (_turn, txn) = self.begin_write(OP).await?;
        let record = enqueue_job(&txn, self.backend, job, now, OP).await?;
        txn.commit().await.map_err(db(OP))?;
        Ok(record)
    }

    async fn job_claim(
        &self,
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
        let claimed = if self.backend == DbBackend::Postgres {
            let (_turn, txn) = self.begin_write(OP).await?;
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
                .exec_with_returning(&self.db)
                .await
                .map_err(db(OP))?
        };
        claimed.into_iter().next().map(job_record).transpose()
    }

    async fn job_heartbeat(
        &self,
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
            .exec(&self.db)
            .await
            .map_err(db(OP))?;
        Ok(res.rows_affected == 1)
    }

    async fn job_complete(
        &self,
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
            .exec(&self.db)
            .await
            .map_err(db(OP))?;
        Ok(res.rows_affected == 1)
    }

    async fn job_fail(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const OP: &str = "recording a job failure";
        let now = ts(now);
        let (_turn, txn) = self.begin_write(OP).await?;
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

    async fn job_release(&self, worker: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
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
            .exec(&self.db)
            .await
            .map_err(db(OP))?;
        Ok(res.rows_affected)
    }

    async fn job_get(&self, id: i64) -> Result<Option<JobRecord>, StoreError> {
        const OP: &str = "reading a job";
        job::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db(OP))?
            .map(job_record)
            .transpose()
    }

    async fn job_counts(&self) -> Result<JobCounts, StoreError> {
        const OP: &str = "counting jobs";
        let rows: Vec<(String, i64)> = job::Entity::find()
            .select_only()
            .column(job::Column::Status)
            .column_as(job::Column::Id.count(), "n")
            .group_by(job::Column::Status)
            .into_tuple()
            .all(&self.db)
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

    async fn job_reap(&self, now: DateTime<Utc>) -> Result<Vec<JobRecord>, StoreError> {
        const OP: &str = "reaping abandoned jobs";
        let now = ts(now);
        let rows = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(JobStatus::Failed.as_str()))
            .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
            .col_expr(
                job::Column::LastError,
                Expr::value(
                    "the runner holding the job stopped before finishing it, on every attempt",
                ),
            )
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Status.eq(JobStatus::Running.as_str()))
            .filter(job::Column::LeaseExpiresAt.lte(now))
            .filter(Expr::col(job::Column::Attempts).gte(Expr::col(job::Column::MaxAttempts)))
            .exec_with_returning(&self.db)
            .await
            .map_err(db(OP))?;
        rows.into_iter().map(job_record).collect()
    }

    async fn deployment_entry(&self, id: i64) -> Result<Option<String>, StoreError> {
        const OP: &str = "reading a deployment's entry module";
        let entry: Option<Option<String>> = deployment::Entity::find_by_id(id)
            .select_only()
            .column(deployment::Column::EntryModule)
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(db(OP))?;
        entry.ok_or_else(|| StoreError::not_found(format!("deployment {id}")))
    }

    async fn deployment_for_job(
        &self,
        job_id: i64,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        const OP: &str = "finding a job's deployment";
        deployment::Entity::find()
            .filter(deployment::Column::JobId.eq(job_id))
            .order_by_desc(deployment::Column::Id)
            .one(&self.db)
            .await
            .map_err(db(OP))?
            .map(deployment_record)
            .transpose()
    }

    async fn deployment_unfinished(&self) -> Result<Vec<DeploymentRecord>, StoreError> {
        const OP: &str = "listing unfinished deployments";
        deployment::Entity::find()
            .filter(deployment::Column::Status.is_in([
                DeploymentStatus::Pending.as_str(),
                DeploymentStatus::Running.as_str(),
            ]))
            .order_by_asc(deployment::Column::Id)
            .all(&self.db)
            .await
            .map_err(db(OP))?
            .into_iter()
            .map(deployment_record)
            .collect()
    }

    async fn deployment_live(
        &self,
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
            .all(&self.db)
            .await
            .map_err(db(OP))?
            .into_iter()
            .map(deployment_record)
            .collect()
    }

    async fn delivery_get(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        const OP: &str = "reading delivery settings";
        delivery::Entity::find_by_id(customer.as_str())
            .one(&self.db)
            .await
            .map_err(db(OP))?
            .map(|row| {
                Ok(DeliveryRecord {
                    delivery: json_from(
                        &format!("delivery settings of {customer}"),
                        &row.settings,
                    )?,
                    updated_at: row.updated_at,
                })
            })
            .transpose()
    }

    async fn delivery_put(&self, change: DeliveryChange<'_>) -> Result<(), StoreError> {
        const OP: &str = "saving delivery settings";
        let now = ts(change.now);
        let id = change.customer;
        let settings = json_to("delivery settings", change.delivery)?;
        let (_turn, txn) = self.begin_write(OP).await?;
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
            enqueue_job(&txn, self.backend, job.clone(), change.now, OP).await?;
        }
        txn.commit().await.map_err(db(OP))
    }

    async fn webhook_delivery_append(
        &self,
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
        .insert(&self.db)
        .await
        .map_err(db(OP))?;
        webhook_delivery_record(row)
    }

    async fn webhook_delivery_list(
        &self,
        customer: &CustomerId,
        limit: u64,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
        const OP: &str = "listing webhook deliveries";
        webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::CustomerId.eq(customer.as_str()))
            .order_by_desc(webhook_delivery::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(db(OP))?
            .into_iter()
            .map(webhook_delivery_record)
            .collect()
    }

    async fn health_record(&self, probe: HealthProbe) -> Result<HealthRecord, StoreError> {
        const OP: &str = "recording a health probe";
        let (_turn, txn) = self.begin_write(OP).await?;
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

    async fn health_list(
        &self,
        customer: Option<&CustomerId>,
    ) -> Result<Vec<HealthRecord>, StoreError> {
        const OP: &str = "listing worker health";
        let mut query = health_check::Entity::find();
        if let Some(c) = customer {
            query = query.filter(health_check::Column::CustomerId.eq(c.as_str()));
        }
        query
            .order_by_asc(health_check::Column::DeploymentId)
            .all(&self.db)
            .await
            .map_err(db(OP))?
            .into_iter()
            .map(health_record)
            .collect()
    }

    async fn user_create(
        &self,
        actor: &str,
        user: NewUser<'_>,
        now: DateTime<Utc>,
    ) -> Result<UserRecord, StoreError> {
        const OP: &str = "creating a user";
        let now = ts(now);
        let (_turn, txn) = self.begin_write(OP).await?;
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

    async fn user_find(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        const OP: &str = "looking up a user";
        user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(&self.db)
            .await
            .map_err(db(OP))?
            .map(user_record)
            .transpose()
    }

    async fn user_get(&self, id: i64) -> Result<Option<UserRecord>, StoreError> {
        const OP: &str = "reading a user";
        user::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db(OP))?
            .map(user_record)
            .transpose()
    }

    async fn user_list(&self) -> Result<Vec<UserRecord>, StoreError> {
        const OP: &str = "listing users";
        user::Entity::find()
            .order_by_asc(user::Column::Id)
            .all(&self.db)
            .await
            .map_err(db(OP))?
            .into_iter()
            .map(user_record)
            .collect()
    }

    async fn user_password_set(
        &self,
        actor: &str,
        id: i64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const OP: &str = "changing a password";
        let now = ts(now);
        let (_turn, txn) = self.begin_write(OP).await?;
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

    async fn session_create(
        &self,
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
        .insert(&self.db)
        .await
        .map_err(|e| db_error(OP, Some("a session with this token"), e))?;
        Ok(session_record(row))
    }

    async fn session_find(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        const OP: &str = "looking up a session";
        Ok(session::Entity::find()
            .filter(session::Column::TokenHash.eq(token_hash))
            .filter(session::Column::ExpiresAt.gt(ts(now)))
            .one(&self.db)
            .await
            .map_err(db(OP))?
            .map(session_record))
    }

    async fn session_delete(&self, token_hash: &str) -> Result<bool, StoreError> {
        const OP: &str = "ending a session";
        let deleted = session::Entity::delete_many()
            .filter(session::Column::TokenHash.eq(token_hash))
            .exec(&self.db)
            .await
            .map_err(db(OP))?;
        Ok(deleted.rows_affected > 0)
    }

    async fn session_purge(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        const OP: &str = "deleting expired sessions";
        let deleted = session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lte(ts(now)))
            .exec(&self.db)
            .await
            .map_err(db(OP))?;
        Ok(deleted.rows_affected)
    }

    async fn api_token_touch(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        const OP: &str = "recording an API token's use";
        let touched = api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(ts(now)))
            .filter(api_token::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(db(OP))?;
        Ok(touched.rows_affected > 0)
    }

    async fn write_probe(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_settings_decoding_matches_the_derived_one() {
        let text = r#"{"a": true, "b": -3, "c": 18446744073709551615, "d": 1.5, "e": "x\"y",
            "f": {"stored": "hmac-sha256:00"}, "g": {"env": "TOKEN"}, "h": {"env": 5},
            "i": {"env": "A", "stored": "B"}, "j": {"other": "x"}, "k": [1, "two", {"env": "E"}],
            "l": {}, "m": [], "n": 9223372036854775807}"#;
        let derived: BTreeMap<String, RawValue> = serde_json::from_str(text).unwrap();
        assert_eq!(raw_settings(text).unwrap(), derived);
        assert!(matches!(
            derived["f"],
            RawValue::Secret(SecretRef::Stored(_))
        ));
        for bad in [r#"{"a": null}"#, "[1]", r#"{"a": 1"#] {
            assert!(raw_settings(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<BTreeMap<String, RawValue>>(bad).is_err());
        }
        let token = r#"{"stored": "hmac-sha256:ab"}"#;
        assert_eq!(
            serde_json::from_str::<FastRaw>(token).unwrap().0,
            serde_json::from_str::<RawValue>(token).unwrap()
        );
    }
}

//! Customers and their configs: the customer and destination rows of a spec, the config
//! reads (with the destination cache), revision bumps and the worker names environments hold.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use c15t_model::{
    CustomerId, CustomerSpec, DatabaseSpec, DestinationSpec, Environment, RawValue, SecretRef,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseTransaction, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::entity::{customer, destination, vault, worker_name};
use crate::error::{db, db_error};
use crate::{
    ConfigChange, CustomerSummary, NewAudit, Revision, StoreError, StoredConfig, WorkerNameRecord,
};

use super::audit::insert_audit;
use super::jobs::enqueue_job;
use super::vaults::swap_vault;
use super::{SeaStore, customer_resource, from_i64, json_from, json_to, parse_id, ts};

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
pub(super) struct DestinationCache {
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

/// A customer row and its config, the destinations through the cache. Only for a read
/// transaction: the row and the destinations must come from one committed snapshot (never
/// two statements of their own, never a write transaction, which sees its own uncommitted
/// rows).
async fn load_config_committed<C: ConnectionTrait>(
    store: &SeaStore,
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
    let destinations = match store.destinations.get(&row) {
        Some(cached) => cached,
        None => {
            let read = Arc::new(load_destinations(conn, id, op).await?);
            store.destinations.put(&row, Arc::clone(&read));
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
    store: &SeaStore,
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
    let destinations = match store.destinations.get(&as_before) {
        Some(cached) => (*cached).clone(),
        None => load_destinations(txn, id, op).await?,
    };
    let spec = customer_spec_with(&row, destinations)?;
    Ok(Some((row, spec)))
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
/// in the caller's transaction; see
/// [`Store::worker_name_claim`](crate::Store::worker_name_claim).
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

/// Audit JSON of a spec (secrets are fingerprints in a spec, never values).
fn spec_value(spec: &CustomerSpec) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(spec).map_err(|e| StoreError::Invalid {
        what: format!("customer config ({e})"),
    })
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

pub(super) async fn customer_list(store: &SeaStore) -> Result<Vec<CustomerSummary>, StoreError> {
    const OP: &str = "listing customers";
    let txn = store.begin_read(OP).await?;
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

pub(super) async fn customer_page(
    store: &SeaStore,
    after: Option<&CustomerId>,
    limit: u64,
) -> Result<Vec<CustomerSummary>, StoreError> {
    const OP: &str = "listing a page of customers";
    let txn = store.begin_read(OP).await?;
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

pub(super) async fn customer_revisions(
    store: &SeaStore,
) -> Result<Vec<(CustomerId, Revision)>, StoreError> {
    const OP: &str = "reading customer revisions";
    customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .column(customer::Column::Revision)
        .order_by_asc(customer::Column::Id)
        .into_tuple::<(String, i64)>()
        .all(&store.db)
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

pub(super) async fn customer_revision(
    store: &SeaStore,
    id: &CustomerId,
) -> Result<Option<Revision>, StoreError> {
    const OP: &str = "reading a customer's revision";
    customer::Entity::find_by_id(id.as_str())
        .select_only()
        .column(customer::Column::Revision)
        .into_tuple::<i64>()
        .one(&store.db)
        .await
        .map_err(db(OP))?
        .map(|revision| from_i64("revision", revision))
        .transpose()
}

pub(super) async fn worker_names(
    store: &SeaStore,
    customer: &CustomerId,
) -> Result<Vec<WorkerNameRecord>, StoreError> {
    const OP: &str = "reading worker names";
    worker_name::Entity::find()
        .filter(worker_name::Column::CustomerId.eq(customer.as_str()))
        .order_by_asc(worker_name::Column::Environment)
        .order_by_asc(worker_name::Column::Name)
        .all(&store.db)
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

pub(super) async fn worker_name_claim(
    store: &SeaStore,
    customer: &CustomerId,
    environment: &Environment,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const OP: &str = "claiming a worker name";
    let (_turn, txn) = store.begin_write(OP).await?;
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

pub(super) async fn worker_name_live(
    store: &SeaStore,
    customer: &CustomerId,
    environment: &Environment,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const OP: &str = "recording a worker's name";
    let (_turn, txn) = store.begin_write(OP).await?;
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

pub(super) async fn customer_get(
    store: &SeaStore,
    id: &CustomerId,
) -> Result<Option<StoredConfig>, StoreError> {
    const OP: &str = "reading a customer config";
    let txn = store.begin_read(OP).await?;
    let Some((row, spec)) = load_config_committed(store, &txn, id.as_str(), OP).await? else {
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

pub(super) async fn customer_configs(
    store: &SeaStore,
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
    let sql = match (store.backend, after.is_some()) {
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
    let txn = store.begin_read(OP).await?;
    if store.backend == DbBackend::Postgres {
        // The planner's estimate for the per-customer aggregate, on tables not yet analysed,
        // can pass the JIT thresholds; compiling then costs far more than the query itself.
        txn.execute_unprepared("SET LOCAL jit = off")
            .await
            .map_err(db(OP))?;
    }
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(store.backend, sql, values))
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
                        StoreError::corrupt(format!("destinations of customer `{}`: {e}", row.id))
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

pub(super) async fn config_put(
    store: &SeaStore,
    change: ConfigChange<'_>,
) -> Result<Revision, StoreError> {
    const OP: &str = "saving a customer config";
    let now = ts(change.now);
    let spec = change.spec;
    let id: CustomerId = spec.id.parse().map_err(|e| StoreError::Invalid {
        what: format!("customer id `{}` ({e})", spec.id),
    })?;
    let resource = customer_resource(id.as_str());
    let (mut row, destinations) = spec_rows(spec)?;
    let after = spec_value(spec)?;

    let (_turn, txn) = store.begin_write(OP).await?;
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
            let (_, old) = load_replaced(store, &txn, id.as_str(), expected, OP)
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
        enqueue_job(&txn, store.backend, job.clone(), change.now, OP).await?;
    }
    txn.commit().await.map_err(db(OP))?;
    Ok(revision)
}

pub(super) async fn customer_delete(
    store: &SeaStore,
    actor: &str,
    id: &CustomerId,
    expected_revision: Revision,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const OP: &str = "deleting a customer";
    let now = ts(now);
    let (_turn, txn) = store.begin_write(OP).await?;
    bump_revision(&txn, id.as_str(), expected_revision, now, OP).await?;
    let (_, old) = load_replaced(store, &txn, id.as_str(), expected_revision, OP)
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
    store.destinations.forget(id.as_str());
    Ok(())
}

pub(super) async fn destination_list(
    store: &SeaStore,
    customer: &CustomerId,
) -> Result<Vec<DestinationSpec>, StoreError> {
    const OP: &str = "listing destinations";
    // One snapshot: the row's revision must be that of the destinations read with it.
    let txn = store.begin_read(OP).await?;
    let (_, spec) = load_config_committed(store, &txn, customer.as_str(), OP)
        .await?
        .ok_or_else(|| StoreError::not_found(customer_resource(customer.as_str())))?;
    txn.commit().await.map_err(db(OP))?;
    Ok(spec.destinations)
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

//! The worker-config cache: each customer environment's generated `src/index.ts` and its ETag,
//! so that CI polling the download costs a hash-map read instead of a database read and a
//! generation.
//!
//! Validation is fleet-wide, not per customer: at most once per [`REVALIDATE_AFTER`], one
//! request reads every customer's current revision (one light query of ids and revisions,
//! `Control::customer_revisions`) while the others keep serving from the previous snapshot (for
//! up to [`REFRESH_TIMEOUT`] if that read is slow, so load never turns into a stampede on the
//! database); an entry is served while its revision is the current one, and
//! regenerated once when it moved. So the database sees about one read a second however many
//! customers are polled. Changes made through this process drop the customer's entries and
//! the revision snapshot at once. Staleness bound with several replicas: a change made
//! through another replica shows here within [`REVALIDATE_AFTER`] plus one revision read
//! (normally milliseconds; at most [`REFRESH_TIMEOUT`] when the database is slow).
//!
//! Entries are kept gzip-compressed (a generated entry is a few KiB of TypeScript and
//! compresses about 2:1 or better), which keeps 10,000 customers' files in a few MiB; clients
//! that accept gzip get the compressed bytes as they are, others get them inflated.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;
use c15t_model::{CustomerId, Environment};
use sha2::{Digest, Sha256};

use crate::ApiError;

/// How long a revision snapshot is trusted before one request reads the revisions again.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(1);

/// How long the other requests keep using the previous snapshot while one request reads the
/// revisions again. Longer than any healthy read: were it shorter, a read slowed down by load
/// would send every request to the database at once. A refresh that never reports back (its
/// request was cancelled) is given up after this.
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(10);

/// The path of the worker entry in a generated project.
pub const ENTRY_PATH: &str = "src/index.ts";

/// One generated entry file, compressed.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The config revision it was generated from.
    pub(crate) revision: u64,
    /// The file, gzip-compressed.
    pub(crate) gzip: Bytes,
    /// A strong ETag of the file itself: its SHA-256, quoted.
    pub(crate) etag: HeaderValue,
    /// The strong ETag of the gzip representation (a different byte sequence).
    pub(crate) gzip_etag: HeaderValue,
}

impl Entry {
    pub(crate) fn new(revision: u64, body: &str) -> Result<Self, ApiError> {
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        let tag = |t: String| {
            HeaderValue::try_from(t).map_err(|_| ApiError::bad_request("unrepresentable ETag"))
        };
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzip = encoder
            .write_all(body.as_bytes())
            .and_then(|()| encoder.finish())
            .map_err(|e| ApiError::bad_request(format!("compressing the entry failed: {e}")))?;
        Ok(Self {
            revision,
            gzip: Bytes::from(gzip),
            etag: tag(format!("\"sha256-{hash}\""))?,
            gzip_etag: tag(format!("\"sha256-{hash}-gzip\""))?,
        })
    }

    /// The file itself.
    pub(crate) fn body(&self) -> Result<Bytes, ApiError> {
        let mut out = Vec::with_capacity(self.gzip.len() * 3);
        flate2::read::GzDecoder::new(&self.gzip[..])
            .read_to_end(&mut out)
            .map_err(|e| ApiError::bad_request(format!("inflating the entry failed: {e}")))?;
        Ok(Bytes::from(out))
    }
}

/// Every customer's revision as last read.
#[derive(Debug)]
struct Revisions {
    /// When they were read (`None`: never, or invalidated).
    at: Option<Instant>,
    map: Arc<HashMap<CustomerId, u64>>,
    /// A request is reading them again.
    refreshing: bool,
    /// Since when (a refresh whose request was cancelled is given up after
    /// [`REFRESH_TIMEOUT`]).
    refresh_started: Option<Instant>,
}

/// What a request should do about the revision snapshot.
pub(crate) enum Snapshot {
    /// Use these revisions.
    Use(Arc<HashMap<CustomerId, u64>>),
    /// Read the revisions and [`WorkerCache::set_revisions`] them.
    Refresh,
}

/// Cached entry files by customer, then environment (for the configured target).
#[derive(Debug)]
pub(crate) struct WorkerCache {
    entries: RwLock<HashMap<CustomerId, HashMap<Environment, Arc<Entry>>>>,
    revisions: RwLock<Revisions>,
}

impl Default for WorkerCache {
    fn default() -> Self {
        Self {
            entries: RwLock::default(),
            revisions: RwLock::new(Revisions {
                at: None,
                map: Arc::default(),
                refreshing: false,
                refresh_started: None,
            }),
        }
    }
}

impl WorkerCache {
    /// The revision snapshot, or `Refresh` for the one request that should read it again;
    /// while it does, the others use the previous snapshot (for at most one more period).
    pub(crate) fn snapshot(&self) -> Snapshot {
        // Fresh enough, or another request is reading the revisions now: use what there is
        // (before the first read that is nothing, and requests read their own customer), so
        // that load never sends every request to the database at once.
        let fresh = |r: &Revisions| {
            r.at.is_some_and(|at| at.elapsed() < REVALIDATE_AFTER)
                || (r.refreshing
                    && r.refresh_started
                        .is_some_and(|since| since.elapsed() < REFRESH_TIMEOUT))
        };
        {
            let r = self
                .revisions
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if fresh(&r) {
                return Snapshot::Use(Arc::clone(&r.map));
            }
        }
        let mut r = self
            .revisions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if fresh(&r) {
            return Snapshot::Use(Arc::clone(&r.map));
        }
        r.refreshing = true;
        r.refresh_started = Some(Instant::now());
        Snapshot::Refresh
    }

    /// Stores revisions read at `at` (taken before the read started).
    pub(crate) fn set_revisions(
        &self,
        at: Instant,
        map: HashMap<CustomerId, u64>,
    ) -> Arc<HashMap<CustomerId, u64>> {
        let map = Arc::new(map);
        let mut r = self
            .revisions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // An invalidation during the read wins: the next request reads again.
        if r.refreshing {
            r.at = Some(at);
            r.map = Arc::clone(&map);
        }
        r.refreshing = false;
        map
    }

    /// The read failed: the next request tries again.
    pub(crate) fn refresh_failed(&self) {
        self.revisions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .refreshing = false;
    }

    pub(crate) fn get(&self, customer: &CustomerId, env: &Environment) -> Option<Arc<Entry>> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(customer)
            .and_then(|envs| envs.get(env))
            .map(Arc::clone)
    }

    pub(crate) fn put(&self, customer: CustomerId, env: Environment, entry: Arc<Entry>) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(customer)
            .or_default()
            .insert(env, entry);
    }

    /// Stores `entry` unless a request stored one meanwhile (which is at least as new).
    pub(crate) fn put_if_absent(&self, customer: CustomerId, env: Environment, entry: Arc<Entry>) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(customer)
            .or_default()
            .entry(env)
            .or_insert(entry);
    }

    /// Drops every entry of `customer` and the revision snapshot (after a change through this
    /// process), so the next request sees the change.
    pub(crate) fn forget(&self, customer: &CustomerId) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(customer);
        let mut r = self
            .revisions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.at = None;
        r.refreshing = false;
    }
}

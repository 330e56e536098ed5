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
//! Entries are kept deflated against a dictionary of earlier entries (see [`Dictionary`]): a
//! generated entry is a few KiB of TypeScript from one template and shrinks to about 150
//! bytes, so 10,000 customers' files take a few MiB. Requests get them inflated; clients that
//! accept gzip get a gzip copy made on their first request and kept with the entry.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;
use c15t_model::{CustomerId, Environment};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
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

/// The longest shared dictionary: deflate reaches back 32 KiB, so a dictionary of at most
/// 24 KiB stays within reach of every byte of an entry of up to 8 KiB.
const MAX_DICTIONARY: usize = 24 * 1024;

/// An entry that deflates to more than this fraction of its size against the current
/// dictionary (and more than [`MIN_POOR`] bytes) brings text the dictionary lacks, such as a
/// destination kind no earlier entry had: it is appended to the dictionary while there is room.
const POOR_RATIO: usize = 8;

/// See [`POOR_RATIO`].
const MIN_POOR: usize = 128;

/// A deflate dictionary shared by the cached entries compressed against it.
///
/// Generated entries are one template filled in: with a few earlier entries as its preset
/// dictionary, an entry of about 3 KiB deflates to about 150 bytes (gzip alone: about 1.3 KiB),
/// which is what keeps 10,000 customers' entries in a few MiB. The dictionary grows (as a new
/// version; entries keep the version they were compressed against) with entries that compress
/// poorly against it, up to [`MAX_DICTIONARY`]. It holds generated source only, which is
/// never secret, and never leaves the process.
#[derive(Debug, Default)]
pub(crate) struct Dictionary {
    bytes: Box<[u8]>,
}

/// The current dictionary, for new entries.
#[derive(Debug, Default)]
struct Dictionaries {
    current: RwLock<Arc<Dictionary>>,
}

impl Dictionaries {
    fn current(&self) -> Arc<Dictionary> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// A dictionary that includes `body`, grown from `seen` (unless another entry grew it
    /// meanwhile: then the newer one), or `None` when there is no room left.
    fn grow(&self, seen: &Arc<Dictionary>, body: &[u8]) -> Option<Arc<Dictionary>> {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !Arc::ptr_eq(&current, seen) {
            return Some(Arc::clone(&current));
        }
        if seen.bytes.len() + body.len() > MAX_DICTIONARY {
            return None;
        }
        // Appended at the end: the newest text is the nearest, so the cheapest to refer to.
        let mut bytes = Vec::with_capacity(seen.bytes.len() + body.len());
        bytes.extend_from_slice(&seen.bytes);
        bytes.extend_from_slice(body);
        let grown = Arc::new(Dictionary {
            bytes: bytes.into_boxed_slice(),
        });
        *current = Arc::clone(&grown);
        Some(grown)
    }
}

thread_local! {
    // Reused per thread: a deflate state is a few hundred KiB and an inflate state tens of KiB,
    // too much to allocate and free per entry and per request.
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::best(), false));
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// Raw deflate of `body` with `dictionary` preset.
fn deflate(body: &[u8], dictionary: &[u8]) -> Result<Box<[u8]>, ApiError> {
    let failed = |e: &dyn std::fmt::Display| {
        ApiError::Internal(format!("compressing the entry failed: {e}"))
    };
    DEFLATE.with_borrow_mut(|deflater| {
        deflater.reset();
        if !dictionary.is_empty() {
            deflater
                .set_dictionary(dictionary)
                .map_err(|e| failed(&e))?;
        }
        let mut out = Vec::with_capacity(body.len() / 4 + 64);
        loop {
            let read = usize::try_from(deflater.total_in()).map_err(|e| failed(&e))?;
            let status = deflater
                .compress_vec(&body[read..], &mut out, FlushCompress::Finish)
                .map_err(|e| failed(&e))?;
            if status == Status::StreamEnd {
                return Ok(out.into_boxed_slice());
            }
            // Out of room: more, and go on where it stopped.
            out.reserve(out.capacity().max(256));
        }
    })
}

/// Inflates `deflated` (compressed against `dictionary`) into exactly `len` bytes.
fn inflate(deflated: &[u8], dictionary: &[u8], len: usize) -> Result<Vec<u8>, ApiError> {
    let failed = |what: &dyn std::fmt::Display| {
        ApiError::Internal(format!("inflating the entry failed: {what}"))
    };
    INFLATE.with_borrow_mut(|inflater| {
        inflater.reset(false);
        if !dictionary.is_empty() {
            inflater
                .set_dictionary(dictionary)
                .map_err(|e| failed(&e))?;
        }
        let mut out = Vec::with_capacity(len);
        let status = inflater
            .decompress_vec(deflated, &mut out, FlushDecompress::Finish)
            .map_err(|e| failed(&e))?;
        if status != Status::StreamEnd || out.len() != len {
            return Err(failed(&format_args!(
                "{} of {len} bytes, {status:?}",
                out.len()
            )));
        }
        Ok(out)
    })
}

/// One generated entry file, compressed.
///
/// Kept small, since the cache holds one per customer environment: deflated against a shared
/// [`Dictionary`], and the content hash the ETags are spelled from (rather than the header
/// values). The gzip representation is made on the first request that accepts it.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The config revision it was generated from.
    pub(crate) revision: u64,
    /// The file, raw deflate against `dictionary`.
    deflated: Box<[u8]>,
    dictionary: Arc<Dictionary>,
    /// The file's length.
    len: usize,
    /// The SHA-256 of the file.
    hash: [u8; 32],
    /// The file gzip-compressed, once a client asked for it.
    gzip: OnceLock<Bytes>,
}

impl Entry {
    /// A strong ETag of the file itself: its SHA-256, quoted.
    pub(crate) fn etag(&self) -> HeaderValue {
        self.tag("")
    }

    /// The strong ETag of the gzip representation (a different byte sequence).
    pub(crate) fn gzip_etag(&self) -> HeaderValue {
        self.tag("-gzip")
    }

    fn tag(&self, suffix: &str) -> HeaderValue {
        let text = format!("\"sha256-{}{suffix}\"", hex::encode(self.hash));
        // Hex digits, a dash and quotes are always a valid header value.
        HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
    }

    /// The file itself.
    pub(crate) fn body(&self) -> Result<Bytes, ApiError> {
        inflate(&self.deflated, &self.dictionary.bytes, self.len).map(Bytes::from)
    }

    /// The file gzip-compressed (made once, on first use).
    pub(crate) fn gzip(&self) -> Result<Bytes, ApiError> {
        if let Some(gzip) = self.gzip.get() {
            return Ok(gzip.clone());
        }
        let body = self.body()?;
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 2), Compression::best());
        let gzip = encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .map_err(|e| ApiError::Internal(format!("compressing the entry failed: {e}")))?;
        // `Bytes::from(Vec)` would keep the vector's spare capacity for the entry's life.
        Ok(self
            .gzip
            .get_or_init(|| Bytes::from(gzip.into_boxed_slice()))
            .clone())
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

/// A customer's cached entries by environment: a customer has a handful of environments, so a
/// short list (searched in order) costs far less memory than a map per customer.
type Environments = Vec<(Environment, Arc<Entry>)>;

/// Cached entry files by customer, then environment (for the configured target).
#[derive(Debug)]
pub(crate) struct WorkerCache {
    entries: RwLock<HashMap<CustomerId, Environments>>,
    revisions: RwLock<Revisions>,
    dictionaries: Dictionaries,
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
            dictionaries: Dictionaries::default(),
        }
    }
}

impl WorkerCache {
    /// A cache entry for `body`, generated from `revision` (compressed against the shared
    /// dictionary, which it may grow).
    pub(crate) fn entry(&self, revision: u64, body: &str) -> Result<Arc<Entry>, ApiError> {
        let body = body.as_bytes();
        let mut dictionary = self.dictionaries.current();
        let mut deflated = deflate(body, &dictionary.bytes)?;
        if deflated.len() > MIN_POOR
            && deflated.len().saturating_mul(POOR_RATIO) > body.len()
            && let Some(grown) = self.dictionaries.grow(&dictionary, body)
        {
            deflated = deflate(body, &grown.bytes)?;
            dictionary = grown;
        }
        Ok(Arc::new(Entry {
            revision,
            deflated,
            dictionary,
            len: body.len(),
            hash: Sha256::digest(body).into(),
            gzip: OnceLock::new(),
        }))
    }

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
            .and_then(|envs| envs.iter().find(|(e, _)| e == env))
            .map(|(_, entry)| Arc::clone(entry))
    }

    /// Stores `entry`, replacing the environment's previous one.
    pub(crate) fn put(&self, customer: CustomerId, env: Environment, entry: Arc<Entry>) {
        self.store(customer, env, entry, true);
    }

    /// Stores `entry` unless a request stored one meanwhile (which is at least as new).
    pub(crate) fn put_if_absent(&self, customer: CustomerId, env: Environment, entry: Arc<Entry>) {
        self.store(customer, env, entry, false);
    }

    fn store(&self, customer: CustomerId, env: Environment, entry: Arc<Entry>, replace: bool) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let envs = entries.entry(customer).or_default();
        match envs.iter_mut().find(|(e, _)| *e == env) {
            Some(slot) if replace => slot.1 = entry,
            Some(_) => {}
            None => {
                envs.push((env, entry));
                envs.shrink_to_fit();
            }
        }
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

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use proptest::prelude::*;

    use super::*;

    /// Text shaped like a generated entry: one template, per-customer values.
    fn generated(customer: usize, kinds: &[&str]) -> String {
        let mut text = format!(
            "// Generated by c15t-control-plane. Do not edit.\n// Customer cust_{customer:06}, \
             environment production, config revision 1.\nimport {{ c15tInstance }} from \
             '@c15t/backend/v2';\n"
        );
        for kind in kinds {
            text.push_str(&format!(
                "import {{ {kind} }} from '@c15t/destinations';\n\t\t\t{kind}(\n\t\t\t\t{{\n\t\t\t\t\t\
                 id: '{customer:012}',\n\t\t\t\t\tapiKey: env.{upper}_API_KEY,\n\t\t\t\t}},\n\
                 \t\t\t\ttrue,\n\t\t\t),\n",
                upper = kind.to_uppercase()
            ));
        }
        text.push_str(&format!(
            "\ttrustedOrigins: ['https://www.customer-{customer}.example.com'],\n\tlogger: {{ \
             level: 'info', appName: 'c15t-cust_{customer:06}' }},\n}});\nexport default {{ \
             fetch: (request, env) => instance(env).handler(request) }};\n"
        ));
        text
    }

    #[test]
    fn entries_round_trip_and_shrink_against_the_shared_dictionary() {
        let cache = WorkerCache::default();
        let kinds = [
            "metaPixel",
            "posthog",
            "googleAnalytics",
            "tiktokPixel",
            "matomo",
        ];
        let mut entries = Vec::new();
        for customer in 0..500 {
            let chosen: Vec<&str> = kinds
                .iter()
                .enumerate()
                .filter(|(i, _)| (customer >> i) & 1 == 1)
                .map(|(_, k)| *k)
                .collect();
            let body = generated(customer, &chosen);
            entries.push((body.clone(), cache.entry(7, &body).unwrap()));
        }
        let (mut plain, mut deflated) = (0, 0);
        for (body, entry) in &entries {
            assert_eq!(entry.revision, 7);
            assert_eq!(entry.body().unwrap(), body.as_bytes());
            assert_eq!(
                entry.etag().to_str().unwrap(),
                format!("\"sha256-{}\"", hex::encode(Sha256::digest(body)))
            );
            plain += body.len();
            deflated += entry.deflated.len();
        }
        // Entries made before the dictionary grew still inflate with the version they used.
        let dictionary = cache.dictionaries.current();
        assert!(dictionary.bytes.len() <= MAX_DICTIONARY);
        assert!(
            deflated * 10 < plain,
            "{deflated} deflated bytes for {plain} bytes of entries"
        );
    }

    #[test]
    fn the_gzip_copy_is_made_once_and_inflates_to_the_file() {
        let cache = WorkerCache::default();
        let body = generated(1, &["metaPixel"]);
        let entry = cache.entry(1, &body).unwrap();
        let gzip = entry.gzip().unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gzip[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, body);
        assert_eq!(entry.gzip().unwrap().as_ptr(), gzip.as_ptr());
        assert_ne!(entry.gzip_etag(), entry.etag());
    }

    #[test]
    fn the_dictionary_stops_growing_at_its_limit() {
        let cache = WorkerCache::default();
        let mut entries = Vec::new();
        // Incompressible text: every entry compresses poorly and asks for room.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..40 {
            let body: String = (0..4096)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(b'!' + u8::try_from(state % 90).unwrap())
                })
                .collect();
            entries.push((cache.entry(1, &body).unwrap(), body));
        }
        let size = cache.dictionaries.current().bytes.len();
        assert!(
            size <= MAX_DICTIONARY && size > MAX_DICTIONARY - 4096,
            "{size}"
        );
        for (entry, body) in &entries {
            assert_eq!(entry.body().unwrap(), body.as_bytes());
        }
    }

    proptest! {
        // Best compression is slow in debug builds.
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_bodies_round_trip_in_any_order(
            bodies in proptest::collection::vec(".{0,3000}", 1..24),
            order in proptest::collection::vec(any::<prop::sample::Index>(), 0..48),
        ) {
            let cache = WorkerCache::default();
            let entries: Vec<_> = bodies
                .iter()
                .map(|b| cache.entry(3, b).unwrap())
                .collect();
            for index in order {
                let i = index.index(bodies.len());
                prop_assert_eq!(entries[i].body().unwrap(), bodies[i].as_bytes());
            }
            for (entry, body) in entries.iter().zip(&bodies) {
                prop_assert_eq!(entry.body().unwrap(), body.as_bytes());
            }
        }
    }
}

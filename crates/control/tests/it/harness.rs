//! Test environments: a key file and a database (a SQLite file, or a fresh PostgreSQL database
//! dropped when the test ends) in a temporary directory, and `Control`s wired to them.

use c15t_store::Store as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use c15t_control::{Clock, Control, KeySource, Secret};
use c15t_model::{CustomerId, CustomerSpec};
use c15t_secrets::{Keyring, Vault};
use c15t_store::SeaStore;
use chrono::{DateTime, TimeZone, Utc};

/// A clock that always says 2026-01-01 12:00:00 UTC.
#[derive(Debug)]
pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }
}

/// A key file and a database, kept alive for one test.
#[derive(Debug)]
pub struct TestEnv {
    dir: tempfile::TempDir,
    pub url: String,
    _postgres: Option<c15t_testkit::postgres::TestDatabase>,
}

impl TestEnv {
    /// A SQLite file and a new key file in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("c15t.db").display());
        c15t_control::keys_init(&dir.path().join("c15t.key")).unwrap();
        Self {
            dir,
            url,
            _postgres: None,
        }
    }

    /// A fresh PostgreSQL database and a new key file.
    pub async fn postgres() -> Self {
        let db = c15t_testkit::postgres::TestDatabase::create("c15t_ctl_test").await;
        let dir = tempfile::tempdir().unwrap();
        c15t_control::keys_init(&dir.path().join("c15t.key")).unwrap();
        Self {
            dir,
            url: db.url().to_owned(),
            _postgres: Some(db),
        }
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("c15t.key")
    }

    /// A new store connection.
    pub async fn store(&self) -> SeaStore {
        SeaStore::connect(&self.url).await.unwrap()
    }

    /// A `Control` on its own connection, with the key file as it is now.
    pub async fn control(&self) -> Control {
        Control::new(
            Arc::new(self.store().await),
            KeySource::load(self.key_path()).unwrap(),
            Arc::new(FixedClock),
        )
    }

    /// The key file as it is now.
    pub fn keyring(&self) -> Keyring {
        Keyring::load(&self.key_path()).unwrap()
    }

    /// A customer's vault, opened with the key file as it is now, as plain key/value pairs.
    pub async fn vault(&self, id: &CustomerId) -> BTreeMap<String, String> {
        let stored = self.store().await.customer_get(id).await.unwrap().unwrap();
        let ciphertext = stored.vault.expect("the customer has a vault");
        plain(&self.keyring().open(&ciphertext).unwrap())
    }
}

/// A vault's entries with their values exposed, for comparisons.
pub fn plain(vault: &Vault) -> BTreeMap<String, String> {
    vault
        .iter()
        .map(|(k, v)| (k.to_owned(), v.expose().to_owned()))
        .collect()
}

pub fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cust_abc123.toml")
}

/// The design document's example customer file, parsed.
pub fn example() -> CustomerSpec {
    toml::from_str(&std::fs::read_to_string(example_path()).unwrap()).unwrap()
}

pub fn id(text: &str) -> CustomerId {
    CustomerId::new(text).unwrap()
}

/// Values for the example's `{ env = "VAR" }` references, made unique by `tag`.
pub fn secrets(tag: &str) -> BTreeMap<String, String> {
    [
        "TURSO_AUTH_TOKEN",
        "META_PIXEL_ACCESS_TOKEN",
        "GA4_API_SECRET",
    ]
    .into_iter()
    .map(|var| (var.to_owned(), format!("{var}-value-{tag}")))
    .collect()
}

/// A resolver reading from `values` (what the CLI reads from the environment).
pub fn resolver(values: &BTreeMap<String, String>) -> impl Fn(&str) -> Option<Secret> + '_ {
    |var| values.get(var).map(|v| Secret::new(v.clone()))
}

/// A runtime module for `target` standing in for the esbuild bundle: it exports every name a
/// generated entry imports. The fake Cloudflare stores modules, it does not run them (the
/// deploy crate's runtime test runs the real bundle in workerd).
pub fn stand_in_runtime(
    target: &c15t_codegen::TargetProfile,
) -> c15t_deploy::runtime::RuntimeBundle {
    let mut js = String::from("// c15t runtime stand-in for tests\n");
    for name in c15t_codegen::runtime_export_names(target) {
        js.push_str(&format!("export const {name} = () => {{}};\n"));
    }
    c15t_deploy::runtime::RuntimeBundle::from_bytes(target, js.into_bytes()).unwrap()
}

/// Delivery options for tests: the fake Cloudflare, a stand-in runtime, loopback webhooks
/// allowed, no debounce, short retries.
pub fn test_delivery(cloudflare_api: &str) -> c15t_control::DeliveryOptions {
    use std::time::Duration;
    let target = &c15t_codegen::target::BACKEND_2;
    c15t_control::DeliveryOptions {
        target,
        cloudflare_api: cloudflare_api.to_owned(),
        cloudflare_retry: c15t_deploy::cloudflare::RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            request_timeout: Duration::from_secs(5),
        },
        runtimes: vec![Arc::new(stand_in_runtime(target))],
        ssrf: c15t_control::SsrfPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
            allow_http: true,
        },
        webhook_schedule: c15t_control::RetrySchedule {
            delays: vec![
                Duration::ZERO,
                Duration::from_millis(10),
                Duration::from_millis(10),
            ],
            max_retry_after: Duration::from_millis(50),
        },
        debounce: Duration::ZERO,
        deploy_backoff: vec![Duration::from_millis(10)],
        // Existing tests deploy at once; the rollout tests set a gradual rollout.
        rollout: c15t_model::Rollout::Immediate,
        ..c15t_control::DeliveryOptions::default()
    }
}

impl TestEnv {
    /// A `Control` on the wall clock (jobs become due as time passes) delivering with
    /// `options`.
    pub async fn delivering(&self, options: c15t_control::DeliveryOptions) -> Control {
        Control::new(
            Arc::new(self.store().await),
            KeySource::load(self.key_path()).unwrap(),
            Arc::new(c15t_control::SystemClock),
        )
        .with_delivery(options)
    }
}

//! The c15t control plane's application layer: every use case once (customers, destinations,
//! import, generation from the store, key rotation, audit), called by the CLI and the server.
//!
//! A change is always: load the customer's config and vault, apply the change, validate the
//! whole config with `c15t-model` (every problem at once), seal the vault, and write both in one
//! store transaction that checks the revision the change was based on and appends an audit
//! entry. Secret values exist in plaintext only inside a [`Secret`] between being read from the
//! user and being sealed into the vault, and when a deploy builds a worker's secret bindings.

mod api_support;
mod config;
mod connection;
mod delivery;
mod deploy;
mod deployers;
mod error;
mod health;
mod import;
mod jobs;
mod keys;
mod operate;
mod plan;
mod release;
mod rollout;
mod routing;
mod settings;
mod tokens;
mod users;
mod views;

use std::path::PathBuf;
use std::sync::Arc;

use std::future::Future;

use c15t_model::{Catalogue, CustomerId, Environment};
use c15t_secrets::Keyring;
use c15t_store::Store;
use chrono::{DateTime, Utc};

/// Runtime bundles: the c15t runtime module built once per target with esbuild and uploaded
/// beside every managed worker (`c15tctl runtime build`).
pub mod runtime {
    pub use c15t_deploy::runtime::{RuntimeBuild, RuntimeBundle, RuntimeError};
}

pub use api_support::ConfigPage;
pub use c15t_codegen::{GeneratedFile, Project, TargetProfile};
pub use c15t_deploy::ArchiveFormat;
pub use c15t_net::{RetrySchedule, SsrfPolicy};
pub use c15t_secrets::Secret;
pub use c15t_vendors::{
    ConnectionReport, Outcome as ConnectionOutcome, Testers, VendorEndpoints, VendorOptions,
};
pub use config::{
    AUDIT_PAGE_MAX, CUSTOMER_PAGE_MAX, CustomerPatch, CustomerView, DestinationPatch,
    parse_setting, vault_key_database, vault_key_destination, vault_key_events_debug,
};
pub use delivery::{DeliveryChanged, DeliveryOptions, DeliveryPatch, DeliveryView, HealthGate};
pub use deploy::{DeployFailure, DeployReport, DeploymentView};
pub use error::ControlError;
pub use health::{HealthOptions, HealthReport};
pub use import::{ImportOutcome, SecretResolver};
pub use jobs::{JOB_DEPLOY, JOB_NOTIFY, JOB_WEBHOOK, RunnerOptions, RunnerReport};
pub use keys::{KeyFileOpened, RotationReport, keys_init, keys_init_for};
pub use operate::{Database, NotReady, ProjectArchive, default_database_url, open_database};
pub use plan::{
    Change, DeploymentSummary, EnvironmentPlan, EventForwarding, EventsState, FileChange,
    HealthSummary, PLAN_PAGE_MAX, PlanPage, SecretChange, SyncStatus, event_forwarding,
};
pub use release::{generate_project, secret_values};
pub use routing::{DomainStatus, RouteStatus};
pub use settings::{DEFAULT_CLOUDFLARE_API, DeliverySettings};
pub use tokens::{API_TOKEN_PREFIX, CreatedToken, api_token_hash};
pub use users::{
    NewLogin, PASSWORD_MAX, PASSWORD_MIN, SessionView, UserView, normalise_email,
    session_token_hash,
};
pub use views::{ApiToken, AuditChange, AuditRecord, CustomerSummary, DbFault, JobCounts};

/// Source of the current time; tests pass a fixed clock.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Where the control plane's age identity lives, and the keyring once loaded.
#[derive(Debug, Clone)]
pub struct KeySource {
    /// Path of the key file.
    pub path: PathBuf,
    /// The loaded keyring, if the file exists.
    pub keyring: Option<Arc<Keyring>>,
}

impl KeySource {
    /// Loads the key file at `path` if it exists.
    pub fn load(path: PathBuf) -> Result<Self, ControlError> {
        let keyring = if path.exists() {
            Some(Arc::new(Keyring::load(&path)?))
        } else {
            None
        };
        Ok(Self { path, keyring })
    }

    fn keyring(&self) -> Result<&Keyring, ControlError> {
        self.keyring.as_deref().ok_or_else(|| {
            ControlError::BadRequest(format!(
                "no key file at {}: run `c15tctl keys init` (or set C15T_KEY_FILE) before storing secrets",
                self.path.display()
            ))
        })
    }
}

/// The application: a store, the keys, the catalogue and a clock.
#[derive(Debug, Clone)]
pub struct Control {
    store: Arc<dyn Store>,
    keys: KeySource,
    catalogue: Catalogue,
    clock: Arc<dyn Clock>,
    delivery: Arc<DeliveryOptions>,
    /// Connection testers of destination vendors; `None` builds the defaults on use.
    vendors: Option<Testers>,
    /// When this process last looked for orphaned deployments (ms since the epoch).
    orphan_sweep: Arc<std::sync::atomic::AtomicI64>,
    /// Tasks started by [`Control::detach`] that have not finished.
    detached: Arc<std::sync::atomic::AtomicUsize>,
}

impl Control {
    /// Wires the application together.
    pub fn new(store: Arc<dyn Store>, keys: KeySource, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            keys,
            catalogue: Catalogue::builtin(),
            clock,
            delivery: Arc::new(DeliveryOptions::default()),
            vendors: None,
            orphan_sweep: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN)),
            detached: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        }
    }

    /// Whether [`jobs::ORPHAN_SWEEP`] has passed since the last sweep (and, if so, claims
    /// this one).
    pub(crate) fn orphan_sweep_due(&self) -> bool {
        use std::sync::atomic::Ordering;
        let now = self.clock.now().timestamp_millis();
        let last = self.orphan_sweep.load(Ordering::Relaxed);
        let every = jobs::ORPHAN_SWEEP.as_millis() as i64;
        (last == i64::MIN || now - last >= every)
            && self
                .orphan_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Runs `work` as a task of the application, not of the caller, and waits for its
    /// result: a request handler awaiting this and dropped (its client went away) leaves the
    /// work running to its end, recorded as usual. The task starts when this is first polled.
    pub async fn detach<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> T {
        /// Counts the task out when it ends (completes or panics).
        struct InFlight(Arc<std::sync::atomic::AtomicUsize>);
        impl Drop for InFlight {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        self.detached
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let in_flight = InFlight(Arc::clone(&self.detached));
        let work = async move {
            let _in_flight = in_flight;
            work.await
        };
        match tokio::spawn(work).await {
            Ok(value) => value,
            // The task is never aborted, so this is its panic: passed on to the caller.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// How many tasks started by [`Control::detach`] (deploys, rollbacks, connection tests
    /// whose requests may be gone) are still running: a graceful shutdown waits for 0.
    pub fn detached_in_flight(&self) -> usize {
        self.detached.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// [`Control::deploy`] in a task of its own ([`Control::detach`]).
    pub async fn deploy_detached(
        &self,
        actor: &str,
        customer: &CustomerId,
        environment: &Environment,
    ) -> Result<DeployReport, DeployFailure> {
        let (control, actor, customer, environment) = (
            self.clone(),
            actor.to_owned(),
            customer.clone(),
            environment.clone(),
        );
        self.detach(async move { control.deploy(&actor, &customer, &environment).await })
            .await
    }

    /// [`Control::rollback`] in a task of its own ([`Control::detach`]).
    pub async fn rollback_detached(
        &self,
        actor: &str,
        customer: &CustomerId,
        to: i64,
    ) -> Result<DeployReport, DeployFailure> {
        let (control, actor, customer) = (self.clone(), actor.to_owned(), customer.clone());
        self.detach(async move { control.rollback(&actor, &customer, to).await })
            .await
    }

    /// [`Control::destination_test`] in a task of its own ([`Control::detach`]).
    pub async fn destination_test_detached(
        &self,
        customer: &CustomerId,
        destination: &str,
    ) -> Result<ConnectionReport, ControlError> {
        let (control, customer, destination) =
            (self.clone(), customer.clone(), destination.to_owned());
        self.detach(async move { control.destination_test(&customer, &destination).await })
            .await
    }

    /// A 256-bit key for `purpose` (e.g. signing the admin UI's login CSRF tokens), derived from
    /// the key file's fingerprint key, so every replica sharing the key file derives the same
    /// one and it survives key rotation; `None` without a key file.
    pub fn derived_key(&self, purpose: &str) -> Option<[u8; 32]> {
        use sha2::Digest as _;
        let keyring = self.keys.keyring.as_deref()?;
        let label = Secret::new(format!("c15t derived key: {purpose}"));
        let mac = keyring.fingerprint(&label).to_string();
        Some(sha2::Sha256::digest(mac.as_bytes()).into())
    }

    /// The same application delivering with `options`.
    pub fn with_delivery(mut self, options: DeliveryOptions) -> Self {
        self.delivery = Arc::new(options);
        self
    }

    /// The delivery options in force.
    pub fn delivery_options(&self) -> &DeliveryOptions {
        &self.delivery
    }

    /// The destination catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }
}

/// The catalogue as JSON, one object per kind with its settings: what `GET /api/v1/catalogue`
/// answers and `c15tctl catalogue --json` prints.
pub fn catalogue_json(catalogue: &Catalogue) -> Vec<serde_json::Value> {
    use c15t_model::FieldType;
    catalogue
        .kinds()
        .iter()
        .map(|k| {
            serde_json::json!({
                "slug": k.slug,
                "display_name": k.display_name,
                "factory": k.factory_name(),
                "default_category": k.default_category,
                "docs_url": k.docs_url,
                "fields": k.fields.iter().map(|f| serde_json::json!({
                    "key": f.key,
                    "label": f.label,
                    "type": f.ty.name(),
                    "values": match f.ty { FieldType::Enum(v) => Some(v), _ => None },
                    "required": f.required,
                    "secret": f.secret,
                    "pattern": f.pattern.map(|p| p.regex),
                    "pattern_description": f.pattern.map(|p| p.expected),
                    "description": f.description,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

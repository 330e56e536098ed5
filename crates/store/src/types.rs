//! The records the store returns and the inputs it takes.

use crate::diff::AuditChange;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub use c15t_model::UserRole;
pub use c15t_model::health::{Drift, DriftKind, HealthProbe, HealthRecord};
use c15t_model::{CustomerId, CustomerSpec, Delivery, Environment};
use chrono::{DateTime, Utc};

/// A customer's config revision: 1 on creation, +1 on every change.
pub type Revision = u64;

/// One line of the customer list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSummary {
    /// The customer.
    pub id: CustomerId,
    /// Display name.
    pub display_name: String,
    /// Current config revision.
    pub revision: Revision,
    /// How many destinations the customer has.
    pub destination_count: u64,
    /// When the config last changed.
    pub updated_at: DateTime<Utc>,
}

/// A customer's whole stored config.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConfig {
    /// The declarative config, destinations in order; secrets are fingerprints only.
    pub spec: CustomerSpec,
    /// Current config revision.
    pub revision: Revision,
    /// The sealed secret vault (armored ciphertext), if one was stored.
    pub vault: Option<String>,
    /// When the customer was created.
    pub created_at: DateTime<Utc>,
    /// When the config last changed.
    pub updated_at: DateTime<Utc>,
}

/// A change to a customer's config (see [`crate::Store::config_put`]).
#[derive(Debug, Clone, Copy)]
pub struct ConfigChange<'a> {
    /// Who made the change (for the audit log).
    pub actor: &'a str,
    /// What was done, e.g. `destination.update`.
    pub action: &'a str,
    /// What it was done to, e.g. `customer/cust_abc123/destination/meta`.
    pub resource: &'a str,
    /// The whole new config; its `id` names the customer.
    pub spec: &'a CustomerSpec,
    /// The new vault, if it changed, with the ciphertext it replaces; `None` keeps the stored
    /// one.
    pub vault: Option<VaultSwap<'a>>,
    /// The revision the change is based on; `None` creates the customer.
    pub expected_revision: Option<Revision>,
    /// Jobs to enqueue with the change, in its transaction (as by
    /// [`crate::Store::job_enqueue`]): the follow-up the customer's strategy asks for, which
    /// then happens exactly when the change is stored.
    pub jobs: &'a [NewJob],
    /// When.
    pub now: DateTime<Utc>,
}

/// A new API token.
#[derive(Debug, Clone, Copy)]
pub struct NewApiToken<'a> {
    /// Whose token it is.
    pub customer: &'a CustomerId,
    /// A name people recognise it by.
    pub name: &'a str,
    /// Hex SHA-256 of the token; the token itself is never stored.
    pub token_hash: &'a str,
}

/// A stored API token, without its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// Token id.
    pub id: i64,
    /// Whose token it is.
    pub customer: CustomerId,
    /// Its name.
    pub name: String,
    /// The last four hex digits of the hash, to tell tokens apart.
    pub hint: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (recorded at most about once a second).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Where a deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeploymentStatus {
    /// Recorded, not started.
    Pending,
    /// Being deployed.
    Running,
    /// Live.
    Succeeded,
    /// Did not go live.
    Failed,
    /// Was live and has been replaced by a rollback.
    RolledBack,
    /// Failed its health probes during a gradual deploy; the version it was replacing was
    /// put back at 100% of traffic.
    RolledBackAutomatically,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Waiting for `run_at`.
    Pending,
    /// Claimed by a worker under a lease.
    Running,
    /// Completed.
    Done,
    /// Out of attempts, or failed without a retry.
    Failed,
}

macro_rules! string_enum {
    ($ty:ident { $($variant:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),* }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok(Self::$variant),)*
                    other => Err(format!("unknown {} `{other}`", stringify!($ty))),
                }
            }
        }
    };
}

string_enum!(DeploymentStatus {
    Pending => "pending",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    RolledBack => "rolled_back",
    RolledBackAutomatically => "rolled_back_automatically",
});

string_enum!(JobStatus {
    Pending => "pending",
    Running => "running",
    Done => "done",
    Failed => "failed",
});

impl DeploymentStatus {
    /// Whether the deployment has finished (no further status change is expected).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::RolledBack | Self::RolledBackAutomatically
        )
    }
}

/// A deploy attempt to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeployment {
    /// The customer.
    pub customer: CustomerId,
    /// The environment deployed to.
    pub environment: Environment,
    /// The codegen target profile.
    pub target: String,
    /// The config revision deployed.
    pub config_revision: Revision,
    /// The generated project's content hash.
    pub content_hash: String,
    /// The generated files (path, contents).
    pub files: Vec<(String, String)>,
    /// The deployment this one rolls back to, if it is a rollback.
    pub rollback_of: Option<i64>,
    /// The job that made this deployment, if a job did.
    pub job_id: Option<i64>,
    /// Secret binding name to the fingerprint of the value deployed (never a value).
    pub secret_fingerprints: BTreeMap<String, String>,
    /// The JavaScript entry module a managed deploy uploads (kept so a rollback can upload
    /// the same release again; see [`crate::Store::deployment_entry`]).
    pub entry_module: Option<String>,
    /// The content-addressed name of the runtime module uploaded beside the entry.
    pub runtime_module: Option<String>,
    /// Where the release goes: the deploy target with what tells two apart, e.g.
    /// `cloudflare:<account id>`, `file`, `webhook`. A release live at another destination is
    /// not live here.
    pub destination: String,
}

/// A change of a deployment's status; `None` fields keep their stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentUpdate {
    /// The new status.
    pub status: DeploymentStatus,
    /// The worker's URL.
    pub url: Option<String>,
    /// What went wrong.
    pub error: Option<String>,
    /// The provider's version id of the uploaded worker.
    pub remote_version: Option<String>,
}

/// A recorded deploy attempt (without its files; see [`crate::Store::deployment_files`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRecord {
    /// Deployment id.
    pub id: i64,
    /// The customer.
    pub customer: CustomerId,
    /// The environment.
    pub environment: Environment,
    /// The codegen target profile.
    pub target: String,
    /// The config revision deployed.
    pub config_revision: Revision,
    /// The generated project's content hash.
    pub content_hash: String,
    /// Where it is.
    pub status: DeploymentStatus,
    /// The worker's URL.
    pub url: Option<String>,
    /// What went wrong.
    pub error: Option<String>,
    /// The provider's version id.
    pub remote_version: Option<String>,
    /// The deployment this one rolled back to.
    pub rollback_of: Option<i64>,
    /// The job that made this deployment.
    pub job_id: Option<i64>,
    /// Secret binding name to the fingerprint of the value deployed.
    pub secret_fingerprints: BTreeMap<String, String>,
    /// The runtime module's name, for managed deploys.
    pub runtime_module: Option<String>,
    /// Where the release went (see [`NewDeployment::destination`]); `None` for deployments
    /// recorded before destinations were (they count as live at the current destination).
    pub destination: Option<String>,
    /// Recorded at.
    pub created_at: DateTime<Utc>,
    /// Started running at.
    pub started_at: Option<DateTime<Utc>>,
    /// Reached a final status at.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
}

/// An audit entry to append. When both `before` and `after` are given, only what changed is
/// stored (see [`AuditChange`]).
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    /// Who.
    pub actor: &'a str,
    /// What, e.g. `deployment.start`.
    pub action: &'a str,
    /// To what, e.g. `customer/cust_abc123/deployment/7`.
    pub resource: &'a str,
    /// The customer concerned, if any.
    pub customer: Option<&'a CustomerId>,
    /// State before; secret values must already be fingerprints.
    pub before: Option<serde_json::Value>,
    /// State after; secret values must already be fingerprints.
    pub after: Option<serde_json::Value>,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Entry id (increasing).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub resource: String,
    /// The customer concerned (a plain string: the customer may since have been deleted).
    pub customer: Option<String>,
    /// State before, of an entry without one after (a deletion).
    pub before: Option<serde_json::Value>,
    /// State after, of an entry without one before (a creation).
    pub after: Option<serde_json::Value>,
    /// What changed, of an entry with a state before and after (empty otherwise).
    pub changes: Vec<AuditChange>,
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What to do, e.g. `deploy`.
    pub kind: String,
    /// Its arguments.
    pub payload: serde_json::Value,
    /// Jobs with the same key collapse while pending: the latest payload wins.
    pub dedupe_key: Option<String>,
    /// Not before.
    pub run_at: DateTime<Utc>,
    /// Attempts before the job is `Failed`.
    pub max_attempts: u32,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// Job id.
    pub id: i64,
    /// What to do.
    pub kind: String,
    /// Its arguments.
    pub payload: serde_json::Value,
    /// Dedupe key.
    pub dedupe_key: Option<String>,
    /// Where it is.
    pub status: JobStatus,
    /// Due at.
    pub run_at: DateTime<Utc>,
    /// Attempts so far (a claim counts as one).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The worker holding it.
    pub locked_by: Option<String>,
    /// When the holder's lease ends.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The last failure.
    pub last_error: Option<String>,
    /// Enqueued at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
}

/// Jobs by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Waiting.
    pub pending: u64,
    /// Claimed.
    pub running: u64,
    /// Completed.
    pub done: u64,
    /// Given up.
    pub failed: u64,
}

/// A customer's stored delivery settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The settings.
    pub delivery: Delivery,
    /// When they last changed.
    pub updated_at: DateTime<Utc>,
}

/// A change of a customer's vault that must not race another: the ciphertext read and the one
/// to store.
#[derive(Debug, Clone, Copy)]
pub struct VaultSwap<'a> {
    /// The ciphertext the change was based on (`None`: the customer had no vault).
    pub old: Option<&'a str>,
    /// The new ciphertext.
    pub new: &'a str,
}

/// A change of a customer's delivery settings (see [`crate::Store::delivery_put`]).
#[derive(Debug, Clone, Copy)]
pub struct DeliveryChange<'a> {
    /// Who (for the audit log).
    pub actor: &'a str,
    /// What was done, e.g. `delivery.update`.
    pub action: &'a str,
    /// Whose settings.
    pub customer: &'a CustomerId,
    /// The whole new settings.
    pub delivery: &'a Delivery,
    /// A vault change made together with the settings (a new API token or webhook secret).
    pub vault: Option<VaultSwap<'a>>,
    /// Jobs the change asks for (deploys of the environments out of sync when a customer
    /// turns automatic), enqueued in its transaction with the same dedupe rule as
    /// [`crate::Store::job_enqueue`].
    pub jobs: &'a [NewJob],
    /// When.
    pub now: DateTime<Utc>,
}

/// One delivery attempt of a webhook message, for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookDelivery {
    /// Whose endpoint.
    pub customer: CustomerId,
    /// The message's `webhook-id` (the same on every attempt).
    pub message_id: String,
    /// The event type, e.g. `deployment.succeeded`.
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The HTTP status answered, if any.
    pub status_code: Option<u16>,
    /// `delivered`, `retry`, `gone`, `failed` or `refused`.
    pub outcome: String,
    /// What went wrong (never a secret).
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: u64,
    /// When.
    pub at: DateTime<Utc>,
}

/// A logged webhook delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDeliveryRecord {
    /// Log entry id (increasing).
    pub id: i64,
    /// The attempt.
    pub attempt: NewWebhookDelivery,
}

/// A user to create.
#[derive(Clone, Copy)]
pub struct NewUser<'a> {
    /// Email address, already normalised (trimmed, lower-case); unique.
    pub email: &'a str,
    /// The password's PHC string (argon2id).
    pub password_hash: &'a str,
    /// What the user may do.
    pub role: UserRole,
    /// The customer of a customer admin; `None` for an operator.
    pub customer: Option<&'a CustomerId>,
}

impl fmt::Debug for NewUser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("password_hash", &"***")
            .field("role", &self.role)
            .field("customer", &self.customer)
            .finish()
    }
}

/// A stored user.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Row id.
    pub id: i64,
    /// Email address (normalised).
    pub email: String,
    /// The password's PHC string (argon2id); never shown.
    pub password_hash: String,
    /// What the user may do.
    pub role: UserRole,
    /// The customer of a customer admin.
    pub customer: Option<CustomerId>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user last changed.
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("password_hash", &"***")
            .field("role", &self.role)
            .field("customer", &self.customer)
            .finish_non_exhaustive()
    }
}

/// A session to create.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    /// The user who logged in.
    pub user_id: i64,
    /// SHA-256 (hex) of the session token the cookie holds.
    pub token_hash: &'a str,
    /// The session's CSRF synchronizer token.
    pub csrf_token: &'a str,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

/// A stored session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Row id.
    pub id: i64,
    /// The user.
    pub user_id: i64,
    /// The session's CSRF synchronizer token.
    pub csrf_token: String,
    /// When the session started.
    pub created_at: DateTime<Utc>,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("csrf_token", &"***")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A worker name one customer environment holds (see [`crate::Store::worker_names`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerNameRecord {
    /// The worker (script) name.
    pub name: String,
    /// The customer holding it.
    pub customer: CustomerId,
    /// The environment holding it.
    pub environment: Environment,
    /// `true` when a worker was deployed under this name and not removed; `false` for a
    /// reservation (the name the environment's next deploy uses).
    pub live: bool,
}

/// The state of a custom domain (see [`RouteRecord`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainState {
    /// Attached on Cloudflare, not answering yet (its DNS record or certificate is being
    /// set up).
    Pending,
    /// Attached and answering: the worker's `/status` answered on the hostname.
    Active,
    /// Cloudflare refused it, or it is no longer attached; the record's message says why.
    Error,
}

impl DomainState {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Error => "error",
        }
    }

    /// The state named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Active, Self::Error]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A custom domain as last attached (see [`RouteRecord`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DomainRecord {
    /// The hostname.
    pub hostname: String,
    /// Cloudflare's id of the attached domain (none when attaching failed).
    pub id: Option<String>,
    /// The zone holding it, as Cloudflare answered (or as configured).
    pub zone_id: Option<String>,
    /// The zone's name.
    pub zone_name: Option<String>,
    /// Its state.
    pub state: DomainState,
    /// Cloudflare's message, or the last probe's answer, when not active.
    pub message: Option<String>,
}

/// Where one environment's Cloudflare worker was last made to answer
/// (see [`crate::Store::routes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRecord {
    /// The customer.
    pub customer: CustomerId,
    /// The environment.
    pub environment: Environment,
    /// The worker the routes were applied to.
    pub worker: String,
    /// Whether the worker answers on `workers.dev`.
    pub workers_dev: bool,
    /// Its custom domain, if one was attached.
    pub domain: Option<DomainRecord>,
    /// When this was last written.
    pub updated_at: DateTime<Utc>,
}

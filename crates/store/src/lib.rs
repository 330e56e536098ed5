//! Storage of the c15t control plane: customers' declarative configs (with a per-customer
//! revision for optimistic concurrency), sealed secret vaults, API tokens, deployments, an
//! append-only audit log and a durable job queue, behind the [`Store`] trait.
//!
//! [`SeaStore`] is the one backend; it serves SQLite (the embedded default) and PostgreSQL.
//! This crate is the only one that knows SeaORM: callers see model types and the records here.
//! Times are always passed in (`now`), never read from the clock, so behaviour is reproducible.

mod diff;
mod entity;
mod error;
mod migration;
mod sea;
mod types;

pub use diff::{AuditChange, changes as audit_changes};
pub use error::{DbFault, StoreError};
pub use sea::{SeaStore, default_database_url};
pub use types::{
    ApiTokenRecord, AuditRecord, ConfigChange, CustomerSummary, DeliveryChange, DeliveryRecord,
    DeploymentRecord, DeploymentStatus, DeploymentUpdate, Drift, DriftKind, HealthProbe,
    HealthRecord, JobCounts, JobRecord, JobStatus, NewApiToken, NewAudit, NewDeployment, NewJob,
    NewWebhookDelivery, Revision, StoredConfig, VaultSwap, WebhookDeliveryRecord, WorkerNameRecord,
};
pub use types::{DomainRecord, DomainState, RouteRecord};
pub use types::{NewSession, NewUser, SessionRecord, UserRecord, UserRole};

use std::time::Duration;

use c15t_model::{CustomerId, DestinationSpec, Environment};
use chrono::{DateTime, Utc};

/// Everything the control plane persists. Methods are named resource first.
///
/// Writers that change a customer's config pass the revision they read; a write based on a
/// revision that has moved fails with [`StoreError::Conflict`] and changes nothing.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Every customer, ordered by id.
    async fn customer_list(&self) -> Result<Vec<CustomerSummary>, StoreError>;
    /// One page of customers in id order: at most `limit` with ids after `after` (from the
    /// first when `None`). Pass the last id of a page as `after` to get the next one.
    async fn customer_page(
        &self,
        after: Option<&CustomerId>,
        limit: u64,
    ) -> Result<Vec<CustomerSummary>, StoreError>;
    /// Every customer's id and current revision, ordered by id: the cheapest way to tell which
    /// customers changed (caches revalidate with it).
    async fn customer_revisions(&self) -> Result<Vec<(CustomerId, Revision)>, StoreError>;
    /// A customer's current revision (one primary-key read), or `None` if there is no such
    /// customer: the cheap way to tell that a customer exists.
    async fn customer_revision(&self, id: &CustomerId) -> Result<Option<Revision>, StoreError>;
    /// The worker names a customer's environments hold, by environment then name.
    ///
    /// Every environment of a saved config holds the name [`c15t_model::worker_name`] gives
    /// it ([`Store::config_put`] claims it, in the change's transaction, and refuses with
    /// [`StoreError::WorkerNameTaken`] a name another environment holds). An environment that
    /// was deployed also holds, live, the name its worker runs under; the two differ when the
    /// naming rule changed since (a pending rename).
    async fn worker_names(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<WorkerNameRecord>, StoreError>;
    /// Claims `name` for `environment` of `customer` (a reservation; nothing changes if it
    /// holds it already). [`StoreError::WorkerNameTaken`] if another environment holds it.
    async fn worker_name_claim(
        &self,
        customer: &CustomerId,
        environment: &Environment,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Records that the environment's worker now runs under `name` (claimed if it was not),
    /// and under no other name: the environment's other live names are released.
    async fn worker_name_live(
        &self,
        customer: &CustomerId,
        environment: &Environment,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Where each environment of `customer` was last made to answer on Cloudflare, by
    /// environment; an environment without a record answers on `workers.dev` only.
    async fn routes(&self, customer: &CustomerId) -> Result<Vec<RouteRecord>, StoreError>;
    /// Records (replacing) where an environment's worker answers now.
    async fn route_put(&self, route: &RouteRecord) -> Result<(), StoreError>;
    /// A customer's whole config, or `None` if there is no such customer.
    async fn customer_get(&self, id: &CustomerId) -> Result<Option<StoredConfig>, StoreError>;
    /// One page of whole configs (vaults included) in id order: at most `limit` customers
    /// whose id sorts after `after` (from the first when `None`). For bulk reads such as
    /// preparing every worker of the fleet; pass the last id of a page as `after` to get the
    /// next, and stop at an empty page. Each page is one consistent snapshot; pages are not
    /// (a customer changed between pages is seen as it was when its page was read).
    async fn customer_configs(
        &self,
        after: Option<&CustomerId>,
        limit: u64,
    ) -> Result<Vec<StoredConfig>, StoreError>;
    /// Creates (`expected_revision: None`) or replaces a customer's config in one transaction,
    /// appending an audit entry and enqueueing the change's jobs; returns the new revision.
    async fn config_put(&self, change: ConfigChange<'_>) -> Result<Revision, StoreError>;
    /// Deletes a customer with its destinations, vault and API tokens. Deployments and audit
    /// entries are history and stay.
    async fn customer_delete(
        &self,
        actor: &str,
        id: &CustomerId,
        expected_revision: Revision,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// A customer's destinations in configured order.
    async fn destination_list(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<DestinationSpec>, StoreError>;

    /// Every stored vault, for key rotation and for checking the key file at start.
    async fn vault_list(&self) -> Result<Vec<(CustomerId, String)>, StoreError>;
    /// The most recently written vault (by `updated_at`, then customer id), if any: the one
    /// readiness probes try to open.
    async fn vault_latest(&self) -> Result<Option<(CustomerId, String)>, StoreError>;
    /// Replaces a vault's ciphertext if it is still `old` (compare-and-swap), without bumping
    /// the config revision; `false` if it changed meanwhile.
    async fn vault_reseal(
        &self,
        actor: &str,
        customer: &CustomerId,
        old: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Stores a new API token (its hash only).
    async fn api_token_create(
        &self,
        actor: &str,
        token: NewApiToken<'_>,
        now: DateTime<Utc>,
    ) -> Result<ApiTokenRecord, StoreError>;
    /// A customer's tokens, revoked ones included, oldest first.
    async fn api_token_list(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<ApiTokenRecord>, StoreError>;
    /// Revokes a token; `false` if there is no such token or it was already revoked.
    async fn api_token_revoke(
        &self,
        actor: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// The non-revoked token with this hash.
    async fn api_token_find(&self, token_hash: &str) -> Result<Option<ApiTokenRecord>, StoreError>;

    /// Records a new deploy attempt, `Pending`.
    async fn deployment_create(
        &self,
        d: NewDeployment,
        now: DateTime<Utc>,
    ) -> Result<DeploymentRecord, StoreError>;
    /// Moves a deployment on; `started_at` is set on `Running`, `finished_at` on a final status.
    async fn deployment_update(
        &self,
        id: i64,
        update: DeploymentUpdate,
        now: DateTime<Utc>,
    ) -> Result<DeploymentRecord, StoreError>;
    /// One deployment.
    async fn deployment_get(&self, id: i64) -> Result<Option<DeploymentRecord>, StoreError>;
    /// A customer's deployments, newest first, at most `limit`.
    async fn deployment_list(
        &self,
        customer: &CustomerId,
        environment: Option<&Environment>,
        limit: u64,
    ) -> Result<Vec<DeploymentRecord>, StoreError>;
    /// The generated files of a deployment (`NotFound` if there is no such deployment).
    async fn deployment_files(&self, id: i64) -> Result<Vec<(String, String)>, StoreError>;
    /// The JavaScript entry module a deployment uploaded, if it uploaded one (`NotFound` if
    /// there is no such deployment).
    async fn deployment_entry(&self, id: i64) -> Result<Option<String>, StoreError>;
    /// The newest deployment made by job `job_id`, if any (a job retried after its runner
    /// died finds the deployment its first attempt recorded).
    async fn deployment_for_job(&self, job_id: i64)
    -> Result<Option<DeploymentRecord>, StoreError>;
    /// Every deployment not yet final (`Pending` or `Running`), oldest first, for the reaper
    /// that fails those whose runner is gone.
    async fn deployment_unfinished(&self) -> Result<Vec<DeploymentRecord>, StoreError>;
    /// The live deployment of every customer and environment (the newest `Succeeded` one of
    /// each), ordered by customer and environment; of one customer when given.
    async fn deployment_live(
        &self,
        customer: Option<&CustomerId>,
    ) -> Result<Vec<DeploymentRecord>, StoreError>;

    /// A customer's delivery settings, `None` if never set.
    async fn delivery_get(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<DeliveryRecord>, StoreError>;
    /// Replaces a customer's delivery settings (and, with [`VaultSwap`], its vault, if the
    /// vault is still the one read: else [`StoreError::Conflict`]) in one transaction with an
    /// audit entry. The config revision does not move: delivery settings change no generated
    /// file.
    async fn delivery_put(&self, change: DeliveryChange<'_>) -> Result<(), StoreError>;

    /// Appends one webhook delivery attempt to the delivery log.
    async fn webhook_delivery_append(
        &self,
        attempt: NewWebhookDelivery,
    ) -> Result<WebhookDeliveryRecord, StoreError>;
    /// A customer's delivery log, newest first, at most `limit`.
    async fn webhook_delivery_list(
        &self,
        customer: &CustomerId,
        limit: u64,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError>;

    /// Records a health probe of a deployment (replacing its previous one, counting failures in
    /// a row).
    async fn health_record(&self, probe: HealthProbe) -> Result<HealthRecord, StoreError>;
    /// The latest health of deployments, of one customer when given, by deployment id.
    async fn health_list(
        &self,
        customer: Option<&CustomerId>,
    ) -> Result<Vec<HealthRecord>, StoreError>;

    /// Audit entries, newest first, at most `limit`, optionally of one customer.
    async fn audit_list(
        &self,
        customer: Option<&CustomerId>,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.audit_page(customer, None, limit).await
    }
    /// One page of audit entries, newest first: at most `limit` entries with an id below
    /// `before` (from the newest when `None`), optionally of one customer. Pass the last id of
    /// a page as `before` to get the next (older) one; an empty page is the end. Entries are
    /// appended with increasing ids and never change, so paging sees each entry exactly once.
    async fn audit_page(
        &self,
        customer: Option<&CustomerId>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// Appends an audit entry for an action that is not a config change.
    async fn audit_append(&self, entry: NewAudit<'_>, now: DateTime<Utc>)
    -> Result<(), StoreError>;

    /// Enqueues a job; with a dedupe key, a still-pending job with that key is updated instead.
    async fn job_enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<JobRecord, StoreError>;
    /// Claims the due job of one of `kinds` (any kind when empty) with the oldest `run_at`.
    async fn job_claim(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<JobRecord>, StoreError>;
    /// Extends the lease of a job `worker` still holds.
    async fn job_heartbeat(
        &self,
        id: i64,
        worker: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Marks a job done if `worker` still holds it.
    async fn job_complete(
        &self,
        id: i64,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Records a failure: back to `Pending` at `retry_at` while attempts remain, else `Failed`.
    async fn job_fail(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Graceful shutdown: every job `worker` holds goes back to `Pending`, due now, and the
    /// interrupted attempt is not counted. Returns how many.
    async fn job_release(&self, worker: &str, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Gives up on jobs whose runner died once too often: a `Running` job whose lease expired
    /// with no attempts left becomes `Failed`. Returns those jobs, so their owners can record
    /// the failure (for example on the deployment the job was making).
    async fn job_reap(&self, now: DateTime<Utc>) -> Result<Vec<JobRecord>, StoreError>;
    /// One job.
    async fn job_get(&self, id: i64) -> Result<Option<JobRecord>, StoreError>;
    /// Jobs by status, for metrics.
    async fn job_counts(&self) -> Result<JobCounts, StoreError>;

    /// Creates a user (`AlreadyExists` if the email is taken; `NotFound` if a customer admin's
    /// customer does not exist), with an audit entry that never holds the password hash.
    async fn user_create(
        &self,
        actor: &str,
        user: NewUser<'_>,
        now: DateTime<Utc>,
    ) -> Result<UserRecord, StoreError>;
    /// The user with this (normalised) email.
    async fn user_find(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    /// One user.
    async fn user_get(&self, id: i64) -> Result<Option<UserRecord>, StoreError>;
    /// Every user, by id.
    async fn user_list(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Replaces a user's password hash and ends every session of the user; `false` if there
    /// is no such user.
    async fn user_password_set(
        &self,
        actor: &str,
        id: i64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Starts a session.
    async fn session_create(
        &self,
        session: NewSession<'_>,
        now: DateTime<Utc>,
    ) -> Result<SessionRecord, StoreError>;
    /// The session with this token hash if it has not expired at `now`.
    async fn session_find(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Ends a session; `false` if there was none with this token hash.
    async fn session_delete(&self, token_hash: &str) -> Result<bool, StoreError>;
    /// Deletes the sessions that expired before `now`; returns how many.
    async fn session_purge(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Records that the token `id` authenticated a request at `now` (no audit entry: this is
    /// bookkeeping, not a change); `false` if there is no such token.
    async fn api_token_touch(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Readiness: commits one small write (the time of the probe, in a table of its own) and,
    /// for a SQLite file, checks the free space on its disk. An error whose
    /// [`StoreError::fault`] is set says why the database cannot take writes now.
    async fn write_probe(&self, now: DateTime<Utc>) -> Result<(), StoreError>;
}

//! Durable jobs: what a config change enqueues under each strategy ([`strategy`]), the
//! runner that claims jobs with leases and executes them ([`runner`]), and the customer's
//! webhook notifications ([`notify`]).
//!
//! Kinds:
//! - `deploy` (automatic strategy): deploys one customer environment's *current* config. One
//!   pending job per environment (dedupe key), whose start moves back by the debounce window on
//!   every edit, so a burst of edits ships once, the latest revision.
//! - `notify` (notify strategy): announces the environment's current release with a signed
//!   `worker_config.updated` webhook; deduplicated the same way.
//! - `webhook`: one event message (`deployment.succeeded|failed`) to the customer's endpoint,
//!   retried on the webhook schedule.
//!
//! A runner holds a job under a lease it renews while working. A runner that dies (even by
//! SIGKILL) leaves the job to be claimed again when the lease ends; deploys resume the
//! deployment they recorded (see [`crate::deploy`]) and webhook messages keep their id, so the
//! customer sees each effect once. A job whose runners die on every attempt is reaped as
//! failed, and so is the deployment it was making.

mod notify;
mod runner;
mod strategy;

use std::time::Duration;

use c15t_model::{CustomerId, Environment};
use serde::{Deserialize, Serialize};

pub(crate) use runner::ORPHAN_SWEEP;
pub use runner::{RunnerOptions, RunnerReport};

/// Job kind: deploy one environment.
pub const JOB_DEPLOY: &str = "deploy";
/// Job kind: announce one environment's release by webhook (notify strategy).
pub const JOB_NOTIFY: &str = "notify";
/// Job kind: deliver one webhook event message.
pub const JOB_WEBHOOK: &str = "webhook";

/// The actor recorded for what jobs do.
pub(crate) const JOB_ACTOR: &str = "c15t-jobs";

#[derive(Debug, Serialize, Deserialize)]
/// The payload of a `deploy` or `notify` job.
pub(crate) struct EnvironmentJob {
    pub(crate) customer: CustomerId,
    pub(crate) environment: Environment,
    /// Who made the change that enqueued the job.
    pub(crate) actor: String,
}

/// What the runner does with a job after one attempt.
pub(crate) enum JobOutcome {
    /// Completed.
    Done,
    /// Try again `after`.
    Retry { after: Duration, error: String },
    /// Failed for good.
    GiveUp { error: String },
}

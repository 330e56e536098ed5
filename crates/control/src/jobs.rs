//! Durable jobs: what a config change enqueues under each strategy, and the runner that
//! claims jobs with leases and executes them.
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

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use c15t_codegen::Input;
use c15t_deploy::webhook::{
    MessageId, NextStep, WebhookEvent, WebhookMessage, WorkerConfigUpdated,
};
use c15t_model::{CustomerId, Delivery, DeployTarget, Environment, Strategy};
use c15t_secrets::Vault;
use c15t_store::{DeliveryChange, JobRecord, JobStatus, NewJob, NewWebhookDelivery};
use serde::{Deserialize, Serialize};

use crate::deploy::{DeployRun, error_chain};
use crate::{Control, ControlError, SyncStatus};

/// Job kind: deploy one environment.
pub const JOB_DEPLOY: &str = "deploy";
/// Job kind: announce one environment's release by webhook (notify strategy).
pub const JOB_NOTIFY: &str = "notify";
/// Job kind: deliver one webhook event message.
pub const JOB_WEBHOOK: &str = "webhook";

/// A deployment made without a job (by a request's task or the CLI) still unfinished after
/// this long has lost its runner: every retry budget ends long before.
pub const ORPHAN_AFTER: Duration = Duration::from_secs(15 * 60);
/// How often a runner looks for deployments whose runner is gone.
pub const ORPHAN_SWEEP: Duration = Duration::from_secs(10);

fn bump_by(bump: &impl Fn(fn(&mut RunnerReport)), n: u64) {
    for _ in 0..n {
        bump(|r| r.reaped += 1);
    }
}

/// The actor recorded for what jobs do.
const JOB_ACTOR: &str = "c15t-jobs";

#[derive(Debug, Serialize, Deserialize)]
struct EnvironmentJob {
    customer: CustomerId,
    environment: Environment,
    /// Who made the change that enqueued the job.
    actor: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct WebhookJob {
    customer: CustomerId,
    message_id: String,
    event_type: String,
    body: String,
}

/// How a job runner runs.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// This runner's name in job leases (unique per process).
    pub worker: String,
    /// How long a claim holds before another runner may take the job over; renewed every
    /// third of it while the job runs.
    pub lease: Duration,
    /// How long to wait when no job is due.
    pub poll: Duration,
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// Return once no job is due instead of waiting for more.
    pub once: bool,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            worker: format!("runner-{}", std::process::id()),
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            concurrency: 4,
            once: false,
        }
    }
}

/// What a runner did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunnerReport {
    /// Jobs completed.
    pub completed: u64,
    /// Job attempts that failed (retried later or given up).
    pub failed: u64,
    /// Jobs given up on because their runners died on every attempt.
    pub reaped: u64,
}

enum JobOutcome {
    Done,
    Retry { after: Duration, error: String },
    GiveUp { error: String },
}

impl Control {
    /// The jobs a change of the customer's config asks for under its strategy: automatic, a
    /// deploy of each environment; notify, a webhook announcement of each; manual and gitops,
    /// none (the plan shows the environments out of sync). They are stored with the change,
    /// in its transaction (see [`c15t_store::ConfigChange::jobs`]).
    pub(crate) async fn strategy_jobs(
        &self,
        actor: &str,
        customer: &CustomerId,
        environments: &[Environment],
    ) -> Result<Vec<NewJob>, ControlError> {
        let strategy = self.delivery_settings(customer).await?.strategy;
        let kind = match strategy {
            Strategy::Automatic => JOB_DEPLOY,
            Strategy::Notify => JOB_NOTIFY,
            Strategy::Manual | Strategy::Gitops => return Ok(Vec::new()),
        };
        environments
            .iter()
            .map(|environment| self.environment_job(kind, actor, customer, environment))
            .collect()
    }

    /// The deploys a delivery change asks for. A customer that turns automatic has its
    /// environments brought in line at once, not at its next edit: a deploy of each one that
    /// is not synced (out of sync, never deployed, or its newest attempt failed). One that is
    /// automatic and gets another deploy target has every environment deployed there. Nothing
    /// without a target, and nothing while the config does not plan (it would not deploy; the
    /// next valid edit enqueues the deploys). They are stored with the change, in its
    /// transaction (see [`c15t_store::DeliveryChange::jobs`]).
    pub(crate) async fn catch_up_jobs(
        &self,
        actor: &str,
        customer: &CustomerId,
        before: &Delivery,
        after: &Delivery,
    ) -> Result<Vec<NewJob>, ControlError> {
        let moved = before.target != after.target;
        let rerouted: Vec<&Environment> = before
            .routing
            .keys()
            .chain(after.routing.keys())
            .filter(|e| before.routing.get(*e) != after.routing.get(*e))
            .collect();
        if after.strategy != Strategy::Automatic
            || after.target == DeployTarget::None
            || (before.strategy == Strategy::Automatic && !moved && rerouted.is_empty())
        {
            return Ok(Vec::new());
        }
        if before.strategy == Strategy::Automatic && !moved {
            // Only routes changed: deploy the environments they belong to.
            let mut jobs = Vec::new();
            for environment in rerouted {
                if !jobs.iter().any(|(e, _)| e == &environment) {
                    jobs.push((
                        environment,
                        self.environment_job(JOB_DEPLOY, actor, customer, environment)?,
                    ));
                }
            }
            return Ok(jobs.into_iter().map(|(_, job)| job).collect());
        }
        let plans = match self.plan(customer, None).await {
            Ok(plans) => plans,
            Err(e) => {
                tracing::warn!(%customer, error = %e, "turned automatic, but the config does not plan; nothing deployed until it does");
                return Ok(Vec::new());
            }
        };
        plans
            .iter()
            .filter(|plan| moved || plan.status != SyncStatus::Synced)
            .map(|plan| self.environment_job(JOB_DEPLOY, actor, customer, &plan.environment))
            .collect()
    }

    /// Enqueues a deploy of one environment through the job queue (debounced like edits).
    pub async fn enqueue_deploy(
        &self,
        actor: &str,
        customer: &CustomerId,
        environment: &Environment,
    ) -> Result<i64, ControlError> {
        let job = self.environment_job(JOB_DEPLOY, actor, customer, environment)?;
        let job = self.store.job_enqueue(job, self.clock.now()).await?;
        tracing::debug!(kind = JOB_DEPLOY, %customer, %environment, job = job.id, "job enqueued");
        Ok(job.id)
    }

    /// A `kind` job for one environment: one pending per environment (dedupe key), starting
    /// after the debounce window.
    fn environment_job(
        &self,
        kind: &str,
        actor: &str,
        customer: &CustomerId,
        environment: &Environment,
    ) -> Result<NewJob, ControlError> {
        let debounce = chrono::Duration::from_std(self.delivery.debounce).unwrap_or_default();
        let max_attempts = if kind == JOB_DEPLOY {
            self.delivery.deploy_attempts
        } else {
            self.delivery.webhook_schedule.attempts()
        };
        let payload = serde_json::to_value(EnvironmentJob {
            customer: customer.clone(),
            environment: environment.clone(),
            actor: actor.to_owned(),
        })
        .map_err(|e| ControlError::BadRequest(format!("job payload: {e}")))?;
        Ok(NewJob {
            kind: kind.to_owned(),
            payload,
            dedupe_key: Some(format!("{kind}:{customer}:{environment}")),
            run_at: self.clock.now() + debounce,
            max_attempts: max_attempts.max(1),
        })
    }

    /// Enqueues `event` for the customer's webhook endpoint, if it has an enabled one.
    pub(crate) async fn announce(
        &self,
        _vault: &Vault,
        customer: &CustomerId,
        event: WebhookEvent,
    ) -> Result<(), ControlError> {
        let delivery = self.delivery_settings(customer).await?;
        if !delivery.webhook.as_ref().is_some_and(|w| w.enabled) {
            return Ok(());
        }
        self.enqueue_event(customer, &event).await.map(drop)
    }

    /// Enqueues one webhook message of `event` to the customer's endpoint (delivered by the
    /// job runner, retried on the webhook schedule); returns the message id.
    pub async fn enqueue_event(
        &self,
        customer: &CustomerId,
        event: &WebhookEvent,
    ) -> Result<String, ControlError> {
        let message = WebhookMessage::new(MessageId::random(), event);
        let payload = serde_json::to_value(WebhookJob {
            customer: customer.clone(),
            message_id: message.id().as_str().to_owned(),
            event_type: message.event_type().to_owned(),
            body: message.body().to_owned(),
        })
        .map_err(|e| ControlError::BadRequest(format!("job payload: {e}")))?;
        let now = self.clock.now();
        self.store
            .job_enqueue(
                NewJob {
                    kind: JOB_WEBHOOK.to_owned(),
                    payload,
                    dedupe_key: None,
                    run_at: now,
                    max_attempts: self.delivery.webhook_schedule.attempts().max(1),
                },
                now,
            )
            .await?;
        Ok(message.id().as_str().to_owned())
    }

    /// Runs jobs until `shutdown` completes (or, with [`RunnerOptions::once`], until no job is
    /// due). Jobs in flight when `shutdown` completes are finished first.
    pub async fn run_jobs(
        &self,
        options: &RunnerOptions,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<RunnerReport, ControlError> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let report = Arc::new(std::sync::Mutex::new(RunnerReport::default()));
        let outage = Arc::new(OutageLog::default());
        let mut lanes = tokio::task::JoinSet::new();
        for lane in 0..options.concurrency.max(1) {
            let control = self.clone();
            let mut options = options.clone();
            options.worker = format!("{}/{lane}", options.worker);
            let mut stop = stop_rx.clone();
            let report = Arc::clone(&report);
            let outage = Arc::clone(&outage);
            lanes.spawn(async move { control.lane(&options, &mut stop, &report, &outage).await });
        }
        let all = async {
            let mut first_error = None;
            while let Some(done) = lanes.join_next().await {
                match done {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        first_error.get_or_insert(e);
                    }
                    Err(panic) => {
                        first_error.get_or_insert(ControlError::BadRequest(format!(
                            "a job runner lane panicked: {panic}"
                        )));
                    }
                }
            }
            first_error
        };
        tokio::pin!(all);
        tokio::pin!(shutdown);
        let error = tokio::select! {
            e = &mut all => e,
            () = &mut shutdown => {
                let _ = stop_tx.send(true);
                all.await
            }
        };
        if let Some(e) = error {
            return Err(e);
        }
        let report = *report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(report)
    }

    async fn lane(
        &self,
        options: &RunnerOptions,
        stop: &mut tokio::sync::watch::Receiver<bool>,
        report: &std::sync::Mutex<RunnerReport>,
        outage: &OutageLog,
    ) -> Result<(), ControlError> {
        let bump = |f: fn(&mut RunnerReport)| {
            f(&mut report
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner));
        };
        let mut backoff = QueueBackoff::default();
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let claimed = match self.reap_and_claim(options, &bump).await {
                Ok(claimed) => {
                    if backoff.recovered() && outage.ended() {
                        tracing::info!(worker = %options.worker, "job queue available again");
                    }
                    claimed
                }
                // A runner outlives a database that is briefly away (or full, or read-only);
                // it backs off so a long outage is a few log lines, not a storm. A one-off run
                // reports it.
                Err(e) if !options.once => {
                    let wait = backoff.failed();
                    let retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                    // The lanes fail together; one of them speaks for all, as often as the
                    // backoff allows.
                    if outage.should_warn(std::time::Instant::now(), wait) {
                        tracing::warn!(
                            worker = %options.worker,
                            error = %error_chain(&e),
                            retry_in_ms,
                            "job queue unavailable; retrying"
                        );
                    } else {
                        tracing::debug!(
                            worker = %options.worker,
                            error = %error_chain(&e),
                            retry_in_ms,
                            "job queue unavailable; retrying"
                        );
                    }
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(job) = claimed else {
                if options.once {
                    return Ok(());
                }
                tokio::select! {
                    () = tokio::time::sleep(options.poll) => {}
                    _ = stop.changed() => {}
                }
                continue;
            };
            let outcome = self.with_heartbeat(options, &job).await;
            let now = self.clock.now();
            // Should recording the outcome fail, the lease runs out and the job runs again:
            // its effects are idempotent (see the module documentation).
            let recorded = match outcome {
                JobOutcome::Done => {
                    bump(|r| r.completed += 1);
                    self.store.job_complete(job.id, &options.worker, now).await
                }
                JobOutcome::Retry { after, error } => {
                    bump(|r| r.failed += 1);
                    let at = now + chrono::Duration::from_std(after).unwrap_or_default();
                    self.store
                        .job_fail(job.id, &options.worker, &error, Some(at), now)
                        .await
                }
                JobOutcome::GiveUp { error } => {
                    bump(|r| r.failed += 1);
                    self.store
                        .job_fail(job.id, &options.worker, &error, None, now)
                        .await
                }
            };
            if let Err(e) = recorded {
                tracing::warn!(job = job.id, error = %e, "could not record a job's outcome; it will run again after its lease");
            }
        }
    }

    async fn reap_and_claim(
        &self,
        options: &RunnerOptions,
        bump: &impl Fn(fn(&mut RunnerReport)),
    ) -> Result<Option<JobRecord>, ControlError> {
        for job in self.store.job_reap(self.clock.now()).await? {
            self.reaped(&job).await?;
            bump(|r| r.reaped += 1);
        }
        if self.orphan_sweep_due() {
            let failed = self.reap_orphaned_deployments().await?;
            bump_by(bump, failed);
        }
        Ok(self
            .store
            .job_claim(&options.worker, &[], options.lease, self.clock.now())
            .await?)
    }

    /// Executes `job` while renewing its lease.
    async fn with_heartbeat(&self, options: &RunnerOptions, job: &JobRecord) -> JobOutcome {
        let beat = {
            let store = Arc::clone(&self.store);
            let clock = Arc::clone(&self.clock);
            let worker = options.worker.clone();
            let lease = options.lease;
            let id = job.id;
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(lease / 3);
                interval.tick().await;
                loop {
                    interval.tick().await;
                    match store.job_heartbeat(id, &worker, lease, clock.now()).await {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            tracing::warn!(job = id, error = %e, "could not renew a job lease")
                        }
                    }
                }
            })
        };
        let outcome = self.execute(job).await;
        beat.abort();
        outcome
    }

    async fn execute(&self, job: &JobRecord) -> JobOutcome {
        let result = match job.kind.as_str() {
            JOB_DEPLOY => self.execute_deploy(job).await,
            JOB_NOTIFY => self.execute_notify(job).await,
            JOB_WEBHOOK => self.execute_webhook(job).await,
            other => Ok(JobOutcome::GiveUp {
                error: format!("unknown job kind `{other}`"),
            }),
        };
        result.unwrap_or_else(|e| JobOutcome::Retry {
            after: self.delivery.deploy_delay(job.attempts),
            error: error_chain(&e),
        })
    }

    async fn execute_deploy(&self, job: &JobRecord) -> Result<JobOutcome, ControlError> {
        let payload: EnvironmentJob = serde_json::from_value(job.payload.clone())
            .map_err(|e| ControlError::BadRequest(format!("deploy job {}: {e}", job.id)))?;
        let run = DeployRun {
            job_id: Some(job.id),
            last_attempt: job.attempts >= job.max_attempts,
        };
        let actor = format!("{JOB_ACTOR} (for {})", payload.actor);
        match self
            .deploy_run(&actor, &payload.customer, &payload.environment, run)
            .await
        {
            Ok(_) => Ok(JobOutcome::Done),
            Err(failure) if failure.retryable && !run.last_attempt => Ok(JobOutcome::Retry {
                after: self.delivery.deploy_delay(job.attempts),
                error: error_chain(&failure.error),
            }),
            Err(failure) => {
                let error = error_chain(&failure.error);
                // A failure before a deployment was recorded (no config, no target) still
                // shows in the history.
                if let Ok(None) = self.store.deployment_for_job(job.id).await {
                    tracing::warn!(job = job.id, %error, "deploy job failed before deploying");
                }
                Ok(JobOutcome::GiveUp { error })
            }
        }
    }

    async fn execute_notify(&self, job: &JobRecord) -> Result<JobOutcome, ControlError> {
        let payload: EnvironmentJob = serde_json::from_value(job.payload.clone())
            .map_err(|e| ControlError::BadRequest(format!("notify job {}: {e}", job.id)))?;
        let Some(stored) = self.store.customer_get(&payload.customer).await? else {
            return Ok(JobOutcome::GiveUp {
                error: format!("customer `{}` no longer exists", payload.customer),
            });
        };
        let config = self.validated(&stored)?;
        let project = c15t_codegen::generate(&Input {
            config: &config,
            environment: &payload.environment,
            target: self.target(),
            revision: stored.revision,
        })?;
        let revision = stored.revision.to_string();
        let id = MessageId::derived(&[
            payload.customer.as_str(),
            payload.environment.as_str(),
            &revision,
            &project.content_hash,
        ]);
        let event = WebhookEvent::WorkerConfigUpdated {
            timestamp: self.clock.now().into(),
            data: WorkerConfigUpdated {
                customer: payload.customer.clone(),
                environment: payload.environment.clone(),
                revision: stored.revision,
                content_hash: project.content_hash.clone(),
                download_url: format!(
                    "{}/api/control-plane/customers/{}/worker-config",
                    self.delivery.public_base_url.trim_end_matches('/'),
                    payload.customer
                ),
            },
        };
        let message = WebhookMessage::new(id, &event);
        self.deliver(job, &payload.customer, &message).await
    }

    async fn execute_webhook(&self, job: &JobRecord) -> Result<JobOutcome, ControlError> {
        let payload: WebhookJob = serde_json::from_value(job.payload.clone())
            .map_err(|e| ControlError::BadRequest(format!("webhook job {}: {e}", job.id)))?;
        let id = MessageId::parse(&payload.message_id)?;
        let message = WebhookMessage::from_parts(id, payload.event_type, payload.body);
        self.deliver(job, &payload.customer, &message).await
    }

    /// One delivery attempt of `message`, logged, with what the job does next.
    async fn deliver(
        &self,
        job: &JobRecord,
        customer: &CustomerId,
        message: &WebhookMessage,
    ) -> Result<JobOutcome, ControlError> {
        let Some(stored) = self.store.customer_get(customer).await? else {
            return Ok(JobOutcome::GiveUp {
                error: format!("customer `{customer}` no longer exists"),
            });
        };
        let mut delivery = self.delivery_settings(customer).await?;
        let vault = match &stored.vault {
            Some(sealed) => self.keys.keyring()?.open(sealed)?,
            None => Vault::default(),
        };
        let Some(endpoint) = self.webhook_endpoint(&delivery, &vault)? else {
            return Ok(JobOutcome::GiveUp {
                error: "the customer's webhook endpoint is not set or was disabled".to_owned(),
            });
        };
        let notifier = self.notifier()?;
        let started = std::time::Instant::now();
        let result = notifier.send(&endpoint, message).await;
        let step = self.delivery.webhook_schedule.after(job.attempts, &result);
        let (status_code, error) = match &result {
            Ok(a) if a.is_delivered() => (Some(a.status), None),
            Ok(a) => (
                Some(a.status),
                Some(format!("answered {}: {}", a.status, a.response_excerpt)),
            ),
            Err(e) => (None, Some(error_chain(e))),
        };
        let outcome = match step {
            NextStep::Done => "delivered",
            NextStep::RetryIn(_) => "retry",
            NextStep::GiveUp => "failed",
            NextStep::DisableEndpoint => "gone",
        };
        self.store
            .webhook_delivery_append(NewWebhookDelivery {
                customer: customer.clone(),
                message_id: message.id().as_str().to_owned(),
                event_type: message.event_type().to_owned(),
                attempt: job.attempts,
                status_code,
                outcome: outcome.to_owned(),
                error: error.clone(),
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                at: self.clock.now(),
            })
            .await?;
        Ok(match step {
            NextStep::Done => JobOutcome::Done,
            NextStep::RetryIn(after) => JobOutcome::Retry {
                after,
                error: error.unwrap_or_default(),
            },
            NextStep::GiveUp => JobOutcome::GiveUp {
                error: error.unwrap_or_default(),
            },
            NextStep::DisableEndpoint => {
                if let Some(webhook) = delivery.webhook.as_mut() {
                    webhook.enabled = false;
                    webhook.disabled_reason = Some(format!(
                        "the endpoint answered 410 Gone on {}",
                        self.clock.now().format("%Y-%m-%d %H:%M UTC")
                    ));
                }
                self.store
                    .delivery_put(DeliveryChange {
                        actor: JOB_ACTOR,
                        action: "delivery.webhook.disable",
                        customer,
                        delivery: &delivery,
                        vault: None,
                        jobs: &[],
                        now: self.clock.now(),
                    })
                    .await?;
                tracing::warn!(%customer, "webhook endpoint answered 410 Gone; disabled");
                JobOutcome::GiveUp {
                    error: "the endpoint answered 410 Gone and was disabled".to_owned(),
                }
            }
        })
    }

    /// Fails every deployment whose runner is gone: one still `pending` or `running` whose
    /// job is finished or missing (nothing will ever finish it), or, made without a job (by a
    /// request or the CLI, in a task of their process), older than [`ORPHAN_AFTER`], far past
    /// any deploy's retry budget. A deployment whose job is pending or running is left to the
    /// job (a retry resumes it; [`Control::run_jobs`] reaps a job whose runners all died).
    /// Returns how many were failed. The runner calls it every [`ORPHAN_SWEEP`].
    pub async fn reap_orphaned_deployments(&self) -> Result<u64, ControlError> {
        let now = self.clock.now();
        let orphan_after = chrono::Duration::from_std(ORPHAN_AFTER).unwrap_or_default();
        let mut failed = 0;
        for d in self.store.deployment_unfinished().await? {
            let gone = match d.job_id {
                Some(job) => !matches!(
                    self.store.job_get(job).await?.map(|j| j.status),
                    Some(JobStatus::Pending | JobStatus::Running)
                ),
                None => d.created_at + orphan_after < now,
            };
            if gone {
                tracing::warn!(deployment = d.id, job = ?d.job_id, "deployment without a live runner; failed");
                self.settle_split(&d).await;
                self.fail_deployment(
                    JOB_ACTOR,
                    d.id,
                    "the runner of this deploy is gone (no live job lease); nothing will finish it",
                    "deployment",
                )
                .await?;
                failed += 1;
            }
        }
        Ok(failed)
    }

    /// A job given up on because its runners kept dying: its deployment fails too.
    async fn reaped(&self, job: &JobRecord) -> Result<(), ControlError> {
        tracing::warn!(job = job.id, kind = %job.kind, "job abandoned by its runners on every attempt; failed");
        if job.kind == JOB_DEPLOY
            && let Some(d) = self.store.deployment_for_job(job.id).await?
            && !d.status.is_final()
        {
            self.settle_split(&d).await;
            self.fail_deployment(
                JOB_ACTOR,
                d.id,
                "the job runner stopped before finishing this deploy, on every attempt",
                "deployment",
            )
            .await?;
        }
        Ok(())
    }
}

/// The wait between a runner's attempts to reach a job queue that failed: 250 ms, doubling up
/// to [`QueueBackoff::MAX`], back to the start once the queue answers.
#[derive(Debug, Default)]
pub(crate) struct QueueBackoff {
    failures: u32,
}

impl QueueBackoff {
    /// The first wait.
    pub(crate) const FIRST: Duration = Duration::from_millis(250);
    /// The longest wait.
    pub(crate) const MAX: Duration = Duration::from_secs(30);

    /// Records a failure; returns how long to wait before the next attempt.
    pub(crate) fn failed(&mut self) -> Duration {
        let wait = Self::FIRST
            .saturating_mul(1 << self.failures.min(16))
            .min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        wait
    }

    /// Records a success; `true` if it ends a run of failures.
    pub(crate) fn recovered(&mut self) -> bool {
        std::mem::take(&mut self.failures) > 0
    }
}

/// What a runner's lanes share about an outage of the job queue, so that it is logged once per
/// backoff step, not once per lane.
#[derive(Debug, Default)]
pub(crate) struct OutageLog {
    /// Whether an outage is under way, and when the next warning is due.
    state: std::sync::Mutex<(bool, Option<std::time::Instant>)>,
}

impl OutageLog {
    /// Records a lane's failure (after which it waits `wait`); `true` if this one is logged:
    /// the first of an outage, then the first after each wait has passed.
    pub(crate) fn should_warn(&self, now: std::time::Instant, wait: Duration) -> bool {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = !state.0 || state.1.is_none_or(|at| now >= at);
        if due {
            *state = (true, now.checked_add(wait));
        }
        due
    }

    /// Records a success; `true` for the first one after an outage was logged.
    pub(crate) fn ended(&self) -> bool {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut state.0)
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_250_ms_to_30_s_and_restarts_after_a_success() {
        let mut b = QueueBackoff::default();
        let waits: Vec<u128> = (0..10).map(|_| b.failed().as_millis()).collect();
        assert_eq!(
            waits,
            [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert!(b.recovered());
        assert!(!b.recovered());
        assert_eq!(b.failed(), QueueBackoff::FIRST);
    }

    #[test]
    fn an_outage_is_logged_once_per_wait_whatever_the_number_of_lanes() {
        let log = OutageLog::default();
        let t0 = std::time::Instant::now();
        let wait = Duration::from_millis(250);
        let first: Vec<bool> = (0..4).map(|_| log.should_warn(t0, wait)).collect();
        assert_eq!(first, [true, false, false, false]);
        assert!(!log.should_warn(t0 + Duration::from_millis(100), wait));
        assert!(log.should_warn(t0 + wait, wait * 2));
        assert!(!log.should_warn(t0 + wait, wait * 2));
        assert!(log.ended());
        assert!(!log.ended(), "the end of an outage is told once");
        assert!(
            log.should_warn(t0 + wait, wait),
            "a new outage is told at once"
        );
    }
}

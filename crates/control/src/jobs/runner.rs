//! The job runner: lanes that claim due jobs under leases they renew, execute them, and
//! record what happened; and the sweeps that fail what a dead runner left behind.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use c15t_store::{JobRecord, JobStatus};
use serde::Serialize;

use super::{EnvironmentJob, JOB_ACTOR, JOB_DEPLOY, JOB_NOTIFY, JOB_WEBHOOK, JobOutcome};
use crate::deploy::{DeployRun, error_chain};
use crate::{Control, ControlError};

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

impl Control {
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

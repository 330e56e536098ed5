//! What a change enqueues: the jobs each delivery strategy asks for.

use c15t_model::{CustomerId, Delivery, DeployTarget, Environment, Strategy};
use c15t_store::NewJob;

use super::{EnvironmentJob, JOB_DEPLOY, JOB_NOTIFY};
use crate::{Control, ControlError, SyncStatus};

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
}

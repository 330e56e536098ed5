//! The deployer of a customer's deploy target, chosen once per deploy
//! ([`Control::deployer_for`]).
//!
//! [`Deployer`] is the control plane's side of [`c15t_deploy::Deployer`]: the same two
//! operations (ship a new release, restore an earlier one), failing with a [`DeployFailure`]
//! that says whether a job may try again. Files and webhooks are `c15t-deploy`'s deployers as
//! they are ([`Plain`]); Cloudflare ([`Managed`]) adds the control plane's own steps around
//! the upload: the health-gated gradual rollout, the environment's routes, and the second half
//! of a worker rename. A new delivery model is one more implementation here.

use async_trait::async_trait;
use c15t_deploy::cloudflare::{CloudflareAccount, CloudflareDeployer, canonical_version_id};
use c15t_deploy::webhook::WebhookDeployer;
use c15t_deploy::{DeployError, DeployOutcome, FileDeployer, Release};
use c15t_model::delivery::CLOUDFLARE_TOKEN_KEY;
use c15t_model::{CustomerId, Delivery, DeployTarget, Environment, Routing};
use c15t_secrets::{Secret, Vault};

use crate::deploy::DeployFailure;
use crate::{Control, ControlError};

/// Ships releases to one customer environment's deploy target.
#[async_trait]
pub(crate) trait Deployer: Send + Sync {
    /// Makes `release` live (a deploy).
    async fn deploy(&self, release: &Release) -> Result<DeployOutcome, DeployFailure>;

    /// Makes the earlier `release` live again (a rollback); `earlier` is the platform's id
    /// recorded when it was deployed, as stored.
    async fn restore(
        &self,
        release: &Release,
        earlier: Option<&str>,
    ) -> Result<DeployOutcome, DeployFailure>;
}

/// A `c15t-deploy` failure as a deploy's failure: retryable as the deployer says.
pub(crate) fn deploy_failure(e: DeployError) -> DeployFailure {
    DeployFailure {
        retryable: e.is_retryable(),
        error: ControlError::Deploy(e),
    }
}

/// A `c15t-deploy` deployer that needs nothing around it (files, webhooks).
struct Plain<D>(D);

#[async_trait]
impl<D: c15t_deploy::Deployer> Deployer for Plain<D> {
    async fn deploy(&self, release: &Release) -> Result<DeployOutcome, DeployFailure> {
        self.0.deploy(release).await.map_err(deploy_failure)
    }

    async fn restore(
        &self,
        release: &Release,
        earlier: Option<&str>,
    ) -> Result<DeployOutcome, DeployFailure> {
        self.0
            .restore(release, earlier)
            .await
            .map_err(deploy_failure)
    }
}

/// A Cloudflare environment: the upload (gradual where configured), then its routes, then the
/// old script's deletion when the worker was renamed.
struct Managed<'a> {
    control: &'a Control,
    deployer: CloudflareDeployer,
    delivery: &'a Delivery,
    customer: CustomerId,
    environment: Environment,
    routing: Routing,
}

impl Managed<'_> {
    /// Where the new worker is probed before it takes traffic or replaces a renamed one:
    /// workers.dev when it answers there, else its custom domain.
    async fn probe_base(&self, worker: &str) -> Result<String, DeployFailure> {
        match (&self.routing.hostname, self.routing.workers_dev) {
            (Some(hostname), false) => Ok(format!("https://{hostname}")),
            _ => self
                .deployer
                .workers_dev_url(worker)
                .await
                .map_err(deploy_failure),
        }
    }

    /// What follows an upload: routes, and the rename's second half.
    async fn settle(
        &self,
        release: &Release,
        probe_base: &str,
        outcome: DeployOutcome,
    ) -> Result<DeployOutcome, DeployFailure> {
        let worker = release.worker_name();
        let outcome = self
            .control
            .apply_routes(
                &self.deployer,
                &self.customer,
                &self.environment,
                worker,
                &self.routing,
                outcome,
            )
            .await?;
        if let Some(old) = self
            .control
            .renamed_from(&self.customer, &self.environment, worker)
            .await?
        {
            self.control
                .finish_rename(&self.deployer, worker, &old, probe_base)
                .await?;
        }
        Ok(outcome)
    }
}

#[async_trait]
impl Deployer for Managed<'_> {
    async fn deploy(&self, release: &Release) -> Result<DeployOutcome, DeployFailure> {
        let probe_base = self.probe_base(release.worker_name()).await?;
        let rollout = self
            .delivery
            .rollout
            .clone()
            .unwrap_or_else(|| self.control.delivery.rollout.clone());
        let outcome = self
            .control
            .roll_out(&self.deployer, release, &rollout, &probe_base)
            .await?;
        self.settle(release, &probe_base, outcome).await
    }

    async fn restore(
        &self,
        release: &Release,
        earlier: Option<&str>,
    ) -> Result<DeployOutcome, DeployFailure> {
        let probe_base = self.probe_base(release.worker_name()).await?;
        // Stored in any form (records written before ids were normalised may lack the
        // hyphens); a value that is no Cloudflare version id (a webhook delivery's id, from
        // before the customer moved here) restores by uploading the release again.
        let earlier = earlier.and_then(|v| canonical_version_id(v).ok());
        let outcome = self
            .deployer
            .restore(release, earlier.as_deref())
            .await
            .map_err(deploy_failure)?;
        self.settle(release, &probe_base, outcome).await
    }
}

impl Control {
    /// The deployer of `delivery`'s target for the customer's `environment`, built with the
    /// customer's `vault` (tokens, signing secrets) and the operator's options. Does no I/O.
    pub(crate) fn deployer_for<'a>(
        &'a self,
        delivery: &'a Delivery,
        vault: &Vault,
        customer: &CustomerId,
        environment: &Environment,
    ) -> Result<Box<dyn Deployer + 'a>, ControlError> {
        Ok(match &delivery.target {
            DeployTarget::None => {
                return Err(ControlError::BadRequest(format!(
                    "customer `{customer}` has no deploy target; set one with `c15tctl \
                     delivery set --customer {customer} --target cloudflare|file|webhook`"
                )));
            }
            DeployTarget::Cloudflare { account_id } => {
                let routing = crate::routing::wanted(delivery, environment);
                let deployer = self
                    .cloudflare_deployer(account_id, vault, customer)?
                    .with_workers_dev(routing.workers_dev);
                Box::new(Managed {
                    control: self,
                    deployer,
                    delivery,
                    customer: customer.clone(),
                    environment: environment.clone(),
                    routing,
                })
            }
            DeployTarget::File => {
                let root = self.delivery.file_root.clone().ok_or_else(|| {
                    ControlError::BadRequest(
                        "customer deploys to files but the control plane has no file deploy \
                         root; start it with --deploy-root (C15T_DEPLOY_ROOT)"
                            .to_owned(),
                    )
                })?;
                Box::new(Plain(FileDeployer::new(root)))
            }
            DeployTarget::Webhook => {
                let endpoint = self.webhook_endpoint(delivery, vault)?.ok_or_else(|| {
                    ControlError::BadRequest(format!(
                        "customer `{customer}` is delivered by webhook but its endpoint is not \
                         set or was disabled; set it with `c15tctl delivery set --webhook-url`"
                    ))
                })?;
                Box::new(Plain(WebhookDeployer::new(
                    self.notifier()?,
                    endpoint,
                    &self.delivery.public_base_url,
                )?))
            }
        })
    }

    /// The Cloudflare deployer of a customer's account.
    pub(crate) fn cloudflare_deployer(
        &self,
        account_id: &str,
        vault: &Vault,
        customer: &CustomerId,
    ) -> Result<CloudflareDeployer, ControlError> {
        let token = vault.get(CLOUDFLARE_TOKEN_KEY).ok_or_else(|| {
            ControlError::BadRequest(format!(
                "customer `{customer}` deploys to Cloudflare but has no API token; set one with \
                 `c15tctl delivery set --customer {customer} --cloudflare-token`"
            ))
        })?;
        let mut account =
            CloudflareAccount::new(account_id, Secret::new(token.expose().to_owned()));
        account.api_base = url::Url::parse(&self.delivery.cloudflare_api).map_err(|e| {
            ControlError::BadRequest(format!(
                "the Cloudflare API base `{}` is not a URL: {e}",
                self.delivery.cloudflare_api
            ))
        })?;
        Ok(CloudflareDeployer::new(
            account,
            &self.delivery.cloudflare_limits,
            self.delivery.cloudflare_retry,
            self.delivery.http.clone(),
        )?)
    }

    /// The name the environment's worker runs under, if it was deployed.
    pub(crate) async fn live_worker_name(
        &self,
        customer: &CustomerId,
        environment: &Environment,
    ) -> Result<Option<String>, ControlError> {
        Ok(self
            .store
            .worker_names(customer)
            .await?
            .into_iter()
            .find(|n| n.live && &n.environment == environment)
            .map(|n| n.name))
    }

    /// The name the environment's worker runs under when a deploy to `worker` renames it.
    async fn renamed_from(
        &self,
        customer: &CustomerId,
        environment: &Environment,
        worker: &str,
    ) -> Result<Option<String>, ControlError> {
        Ok(self
            .live_worker_name(customer, environment)
            .await?
            .filter(|live| live != worker))
    }

    /// The second half of a rename on Cloudflare: once the worker under its new name answers
    /// healthy, deletes the script under the old one. Until then the old worker keeps
    /// serving, and a failed probe fails the deploy (the next deploy tries again).
    async fn finish_rename(
        &self,
        deployer: &CloudflareDeployer,
        worker: &str,
        old: &str,
        base: &str,
    ) -> Result<(), ControlError> {
        let gate = self.delivery.health_gate;
        let url = format!("{}/status", base.trim_end_matches('/'));
        let mut last = String::new();
        for attempt in 1..=gate.attempts.max(1) {
            let answer = self.probe_url(&url, gate.timeout).await;
            if answer.up {
                deployer.delete_script(old).await?;
                tracing::info!(
                    worker,
                    old,
                    "renamed worker; deleted the script under its old name"
                );
                return Ok(());
            }
            last = answer.error.unwrap_or_else(|| "not healthy".to_owned());
            if attempt < gate.attempts {
                tokio::time::sleep(gate.interval).await;
            }
        }
        Err(ControlError::WorkerUnhealthy {
            worker: worker.to_owned(),
            url,
            reason: format!(
                "{last} (after {} probes); the worker under its old name `{old}` still serves \
                 and was not deleted",
                gate.attempts.max(1)
            ),
        })
    }
}

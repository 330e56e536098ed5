//! Deploy, rollback and deployment history: the seed's "Deployment Status" made real.
//!
//! A deploy generates the environment's project from the current config, resolves its secret
//! bindings, records a deployment (`pending` → `running` → `succeeded | failed`), hands the
//! release to the customer's deployer and records what came back; then it audits and, where
//! the customer has a webhook endpoint, announces the outcome. A release whose content and
//! secrets are already live is recorded as an unchanged deployment without calling the
//! deployer.
//!
//! A deploy made by a job carries the job's id: when the runner that held the job died, the
//! next attempt finds the deployment the first one recorded and finishes it, so the customer
//! sees one deployment, and the deployers' own idempotence (the Cloudflare deployer checks
//! what is live before uploading) keeps it to one upload.

use std::collections::BTreeMap;

use c15t_deploy::webhook::{DeploymentFailed, DeploymentSucceeded, WebhookEvent};
use c15t_deploy::{DeployOutcome, Release};
use c15t_model::{CustomerId, Delivery, DeployTarget, Environment};
use c15t_secrets::Vault;
use c15t_store::{
    DeploymentRecord, DeploymentStatus, DeploymentUpdate, NewAudit, NewDeployment, StoredConfig,
};
use serde::Serialize;

use crate::{Control, ControlError};

/// What a deploy did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// The recorded deployment.
    pub deployment: DeploymentView,
    /// `true` when the release was already live and the deployer was not called.
    pub unchanged: bool,
    /// For rollbacks: secret bindings whose value now differs from the one the restored
    /// deployment ran with (the current values were deployed; see [`Control::rollback`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets_changed: Vec<String>,
    /// The drift this deploy repaired: the worker was not what had been deployed (another
    /// version, a traffic split, or no script) and now runs the configured release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_drift: Option<c15t_model::health::Drift>,
}

/// A deployment as listings show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentView {
    /// Deployment id.
    pub id: i64,
    /// The customer.
    pub customer: CustomerId,
    /// The environment.
    pub environment: Environment,
    /// Config revision deployed.
    pub revision: u64,
    /// Target profile.
    pub target: String,
    /// Content hash of the generated project.
    pub content_hash: String,
    /// Where it is.
    pub status: String,
    /// The worker's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Where it went: `cloudflare:<account id>`, `file` or `webhook` (absent on deployments
    /// recorded before destinations were).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The platform's version id (or the webhook message id of a notify deploy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_version: Option<String>,
    /// The deployment this one restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<i64>,
    /// Secret bindings and the fingerprints of the values deployed.
    pub secrets: BTreeMap<String, String>,
    /// Recorded at.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Finished at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The latest health probe of this deployment, if it was probed (listings fill it in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::HealthSummary>,
}

impl From<DeploymentRecord> for DeploymentView {
    fn from(d: DeploymentRecord) -> Self {
        Self {
            id: d.id,
            customer: d.customer,
            environment: d.environment,
            revision: d.config_revision,
            target: d.target,
            content_hash: d.content_hash,
            status: d.status.to_string(),
            url: d.url,
            destination: d.destination,
            error: d.error,
            remote_version: d.remote_version,
            rollback_of: d.rollback_of,
            secrets: d.secret_fingerprints,
            created_at: d.created_at,
            finished_at: d.finished_at,
            health: None,
        }
    }
}

/// Why a deploy did not succeed, and whether the job that ran it should try again.
#[derive(Debug)]
pub struct DeployFailure {
    /// What went wrong.
    pub error: ControlError,
    /// Whether the same deploy may succeed later.
    pub retryable: bool,
}

impl From<ControlError> for DeployFailure {
    fn from(error: ControlError) -> Self {
        // A database that failed may answer again; everything else needs a change first.
        let retryable = matches!(error, ControlError::Store(_));
        Self { error, retryable }
    }
}

/// How a deploy is being run.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DeployRun {
    /// The job running it.
    pub(crate) job_id: Option<i64>,
    /// Whether a retryable failure ends the deployment (no attempt left, or not a job).
    pub(crate) last_attempt: bool,
}

impl Control {
    /// Deploys a customer's environment now (outside the job queue), e.g. `c15tctl deploy`.
    pub async fn deploy(
        &self,
        actor: &str,
        customer: &CustomerId,
        environment: &Environment,
    ) -> Result<DeployReport, DeployFailure> {
        self.deploy_run(
            actor,
            customer,
            environment,
            DeployRun {
                job_id: None,
                last_attempt: true,
            },
        )
        .await
    }

    pub(crate) async fn deploy_run(
        &self,
        actor: &str,
        customer: &CustomerId,
        environment: &Environment,
        run: DeployRun,
    ) -> Result<DeployReport, DeployFailure> {
        let prepared = self.prepare(customer, environment).await?;
        let delivery = self.delivery_settings(customer).await?;
        // The name today's rule gives: claimed when the customer was saved, unless the
        // customer was saved before names were claimed.
        self.store
            .worker_name_claim(
                customer,
                environment,
                &c15t_model::worker_name(customer, environment),
                self.clock.now(),
            )
            .await
            .map_err(ControlError::from)?;
        let revision = prepared.stored.revision;

        let resumed = match run.job_id {
            Some(job) => self
                .store
                .deployment_for_job(job)
                .await
                .map_err(ControlError::from)?,
            None => None,
        };
        // The job's deploy finished but its runner stopped before saying so: nothing to redo.
        if let Some(done) = resumed.as_ref().filter(|d| d.status.is_final()) {
            if done.status == DeploymentStatus::Failed {
                return Err(ControlError::BadRequest(format!(
                    "deployment {} of this job failed: {}",
                    done.id,
                    done.error.as_deref().unwrap_or("unknown error")
                ))
                .into());
            }
            return Ok(DeployReport {
                deployment: done.clone().into(),
                unchanged: false,
                secrets_changed: Vec::new(),
                restored_drift: None,
            });
        }
        // Drift the deploy repairs: what the latest probe saw, or, when the release is what
        // was deployed last, what Cloudflare says now (the probe may be a minute old).
        let mut drift = None;
        if resumed.is_none() {
            let live = self
                .store
                .deployment_live(Some(customer))
                .await
                .map_err(ControlError::from)?
                .into_iter()
                .find(|d| &d.environment == environment);
            if let Some(live) = &live {
                drift = self
                    .store
                    .health_list(Some(customer))
                    .await
                    .map_err(ControlError::from)?
                    .into_iter()
                    .find(|h| h.probe.deployment_id == live.id)
                    .and_then(|h| h.probe.drift);
            }
            let destination = delivery.target.destination();
            // Routes that differ from the wanted ones are applied by deploying, even when the
            // release is live.
            let routed = !delivery.target.is_cloudflare()
                || crate::routing::routes_match(
                    &crate::routing::wanted(&delivery, environment),
                    self.route_of(customer, environment).await?.as_ref(),
                );
            if let Some(live) = live.filter(|l| {
                routed
                    && l.content_hash == prepared.project.content_hash
                    && l.secret_fingerprints == prepared.fingerprints
                    && l.destination.as_deref().is_none_or(|d| d == destination)
            }) {
                match self.drift(&live).await {
                    Ok(None) => {
                        return self
                            .record_unchanged(actor, &live, destination, revision, run.job_id)
                            .await;
                    }
                    Ok(Some(now)) => drift = Some(now),
                    // Cloudflare cannot be read: the deployer's own check decides.
                    Err(e) => {
                        tracing::warn!(%customer, %environment, error = %error_chain(&e), "could not read the live deployment");
                        if drift.is_none() {
                            return self
                                .record_unchanged(actor, &live, destination, revision, run.job_id)
                                .await;
                        }
                    }
                }
            }
        }

        let mut vault = self.open_vault(&prepared.stored)?;
        let fingerprints = prepared.fingerprints.clone();
        let shipment = self.shipment(prepared, &delivery.target, &mut vault)?;
        let deployment = match resumed {
            Some(d) => d,
            None => self
                .store
                .deployment_create(
                    NewDeployment {
                        customer: customer.clone(),
                        environment: environment.clone(),
                        target: self.target().id.to_owned(),
                        config_revision: revision,
                        content_hash: shipment.release.content_hash().to_owned(),
                        files: shipment
                            .release
                            .files()
                            .iter()
                            .map(|f| (f.path.clone(), f.contents.clone()))
                            .collect(),
                        rollback_of: None,
                        job_id: run.job_id,
                        secret_fingerprints: fingerprints,
                        entry_module: shipment.entry_module.clone(),
                        runtime_module: shipment.runtime_module.clone(),
                        destination: delivery.target.destination(),
                    },
                    self.clock.now(),
                )
                .await
                .map_err(ControlError::from)?,
        };
        let deployment = self
            .ship(
                actor,
                &delivery,
                &vault,
                deployment,
                &shipment.release,
                run,
                "deployment",
            )
            .await?;
        if let Some(drift) = &drift {
            self.audit_drift_restored(actor, &deployment, drift).await?;
        }
        Ok(DeployReport {
            deployment: deployment.into(),
            unchanged: false,
            secrets_changed: Vec::new(),
            restored_drift: drift,
        })
    }

    /// Audits that `deployment` replaced a drifted worker, with what the drift was.
    async fn audit_drift_restored(
        &self,
        actor: &str,
        deployment: &DeploymentRecord,
        drift: &c15t_model::health::Drift,
    ) -> Result<(), ControlError> {
        let resource = format!(
            "customer/{}/deployment/{}",
            deployment.customer, deployment.id
        );
        tracing::info!(customer = %deployment.customer, environment = %deployment.environment, id = deployment.id, kind = drift.kind.as_str(), "restored a drifted worker");
        self.store
            .audit_append(
                NewAudit {
                    actor,
                    action: "deployment.drift_restored",
                    resource: &resource,
                    customer: Some(&deployment.customer),
                    before: Some(serde_json::to_value(drift).unwrap_or_default()),
                    after: Some(serde_json::json!({
                        "environment": deployment.environment,
                        "remote_version": deployment.remote_version,
                    })),
                },
                self.clock.now(),
            )
            .await?;
        Ok(())
    }

    pub(crate) fn open_vault(&self, stored: &StoredConfig) -> Result<Vault, ControlError> {
        Ok(match &stored.vault {
            Some(sealed) => self.keys.keyring()?.open(sealed)?,
            None => Vault::default(),
        })
    }

    /// Records that `live` is already what a deploy to `destination` would ship.
    async fn record_unchanged(
        &self,
        actor: &str,
        live: &DeploymentRecord,
        destination: String,
        revision: u64,
        job_id: Option<i64>,
    ) -> Result<DeployReport, DeployFailure> {
        let now = self.clock.now();
        let files = self
            .store
            .deployment_files(live.id)
            .await
            .map_err(ControlError::from)?;
        let entry_module = self
            .store
            .deployment_entry(live.id)
            .await
            .map_err(ControlError::from)?;
        let created = self
            .store
            .deployment_create(
                NewDeployment {
                    customer: live.customer.clone(),
                    environment: live.environment.clone(),
                    target: live.target.clone(),
                    config_revision: revision.max(live.config_revision),
                    content_hash: live.content_hash.clone(),
                    files,
                    rollback_of: None,
                    job_id,
                    secret_fingerprints: live.secret_fingerprints.clone(),
                    entry_module,
                    runtime_module: live.runtime_module.clone(),
                    destination,
                },
                now,
            )
            .await
            .map_err(ControlError::from)?;
        let done = self
            .store
            .deployment_update(
                created.id,
                DeploymentUpdate {
                    status: DeploymentStatus::Succeeded,
                    url: live.url.clone(),
                    error: None,
                    remote_version: live.remote_version.clone(),
                },
                now,
            )
            .await
            .map_err(ControlError::from)?;
        self.audit_deployment(actor, "deployment.unchanged", &done, None)
            .await?;
        tracing::info!(customer = %done.customer, environment = %done.environment, id = done.id, "already live; recorded as unchanged");
        Ok(DeployReport {
            deployment: done.into(),
            unchanged: true,
            secrets_changed: Vec::new(),
            restored_drift: None,
        })
    }

    /// Runs the deployer on `release` for the recorded `deployment` and records the outcome.
    #[allow(clippy::too_many_arguments)]
    async fn ship(
        &self,
        actor: &str,
        delivery: &Delivery,
        vault: &Vault,
        deployment: DeploymentRecord,
        release: &Release,
        run: DeployRun,
        what: &str,
    ) -> Result<DeploymentRecord, DeployFailure> {
        let customer = deployment.customer.clone();
        let running = self
            .store
            .deployment_update(
                deployment.id,
                DeploymentUpdate {
                    status: DeploymentStatus::Running,
                    url: None,
                    error: None,
                    remote_version: None,
                },
                self.clock.now(),
            )
            .await
            .map_err(ControlError::from)?;
        if deployment.status == DeploymentStatus::Pending {
            self.audit_deployment(actor, &format!("{what}.start"), &running, None)
                .await?;
        }
        let outcome = self
            .run_deployer(delivery, vault, &deployment, release)
            .await;
        let outcome = match outcome {
            Ok(outcome) => self
                .store
                .worker_name_live(
                    &customer,
                    &deployment.environment,
                    release.worker_name(),
                    self.clock.now(),
                )
                .await
                .map(|()| outcome)
                .map_err(|e| DeployFailure::from(ControlError::from(e))),
            Err(failure) => Err(failure),
        };
        match outcome {
            Ok(outcome) => {
                let done = self
                    .store
                    .deployment_update(
                        deployment.id,
                        DeploymentUpdate {
                            status: DeploymentStatus::Succeeded,
                            url: outcome.url.clone(),
                            error: None,
                            remote_version: outcome.remote_version.clone().or(outcome.delivery_id),
                        },
                        self.clock.now(),
                    )
                    .await
                    .map_err(ControlError::from)?;
                self.audit_deployment(actor, &format!("{what}.succeed"), &done, None)
                    .await?;
                tracing::info!(%customer, environment = %done.environment, id = done.id, url = ?done.url, "deployed");
                if !matches!(delivery.target, DeployTarget::Webhook) {
                    self.announce(
                        vault,
                        &customer,
                        WebhookEvent::DeploymentSucceeded {
                            timestamp: self.clock.now().into(),
                            data: DeploymentSucceeded {
                                customer: customer.clone(),
                                environment: done.environment.clone(),
                                deployment_id: done.id.to_string(),
                                revision: done.config_revision,
                                content_hash: done.content_hash.clone(),
                                url: done.url.clone(),
                            },
                        },
                    )
                    .await?;
                }
                Ok(done)
            }
            Err(failure) => {
                let message = error_chain(&failure.error);
                if failure.retryable && !run.last_attempt {
                    // The job tries again; the deployment stays running with the reason.
                    self.store
                        .deployment_update(
                            deployment.id,
                            DeploymentUpdate {
                                status: DeploymentStatus::Running,
                                url: None,
                                error: Some(format!("attempt failed, retrying: {message}")),
                                remote_version: None,
                            },
                            self.clock.now(),
                        )
                        .await
                        .map_err(ControlError::from)?;
                    return Err(failure);
                }
                if matches!(failure.error, ControlError::RolledBackAutomatically { .. }) {
                    self.record_automatic_rollback(actor, deployment.id, &message)
                        .await?;
                } else {
                    self.fail_deployment(actor, deployment.id, &message, what)
                        .await?;
                }
                Err(failure)
            }
        }
    }

    /// Records that a gradual deploy's version failed its probe and was taken out of
    /// traffic (audit and `deployment.rolled_back` webhook included).
    async fn record_automatic_rollback(
        &self,
        actor: &str,
        id: i64,
        message: &str,
    ) -> Result<(), ControlError> {
        self.end_unsuccessfully(
            actor,
            id,
            message,
            DeploymentStatus::RolledBackAutomatically,
            "deployment.rolled_back_automatically",
        )
        .await
    }

    /// Records a deployment as failed (audit and webhook included).
    pub(crate) async fn fail_deployment(
        &self,
        actor: &str,
        id: i64,
        message: &str,
        what: &str,
    ) -> Result<(), ControlError> {
        self.end_unsuccessfully(
            actor,
            id,
            message,
            DeploymentStatus::Failed,
            &format!("{what}.fail"),
        )
        .await
    }

    /// Ends deployment `id` as `status` (failed, or rolled back automatically) with
    /// `message`: recorded, audited as `action`, and announced by webhook
    /// (`deployment.failed`, or `deployment.rolled_back`).
    async fn end_unsuccessfully(
        &self,
        actor: &str,
        id: i64,
        message: &str,
        status: DeploymentStatus,
        action: &str,
    ) -> Result<(), ControlError> {
        let done = self
            .store
            .deployment_update(
                id,
                DeploymentUpdate {
                    status,
                    url: None,
                    error: Some(message.to_owned()),
                    remote_version: None,
                },
                self.clock.now(),
            )
            .await?;
        self.audit_deployment(actor, action, &done, Some(message))
            .await?;
        // The server's DeployCounter counts these two messages; its unit test pins them.
        if status == DeploymentStatus::RolledBackAutomatically {
            tracing::warn!(customer = %done.customer, environment = %done.environment, id, error = message, "deploy rolled back automatically");
        } else {
            tracing::warn!(customer = %done.customer, environment = %done.environment, id, error = message, "deploy failed");
        }
        let customer = done.customer.clone();
        if let Some(stored) = self.store.customer_get(&customer).await? {
            let vault = self.open_vault(&stored).unwrap_or_default();
            let timestamp = self.clock.now().into();
            let data = DeploymentFailed {
                customer: customer.clone(),
                environment: done.environment.clone(),
                deployment_id: done.id.to_string(),
                revision: done.config_revision,
                content_hash: done.content_hash.clone(),
                error: message.to_owned(),
            };
            let event = if status == DeploymentStatus::RolledBackAutomatically {
                WebhookEvent::DeploymentRolledBack { timestamp, data }
            } else {
                WebhookEvent::DeploymentFailed { timestamp, data }
            };
            self.announce(&vault, &customer, event).await?;
        }
        Ok(())
    }

    /// Hands `release` to the deployer of `delivery`'s target: a new release is deployed, a
    /// rollback's restores the deployment it points at.
    async fn run_deployer(
        &self,
        delivery: &Delivery,
        vault: &Vault,
        deployment: &DeploymentRecord,
        release: &Release,
    ) -> Result<DeployOutcome, DeployFailure> {
        let deployer = self.deployer_for(
            delivery,
            vault,
            &deployment.customer,
            &deployment.environment,
        )?;
        match deployment.rollback_of {
            None => deployer.deploy(release).await,
            Some(id) => {
                let earlier = self
                    .store
                    .deployment_get(id)
                    .await
                    .map_err(ControlError::from)?
                    .and_then(|d| d.remote_version);
                deployer.restore(release, earlier.as_deref()).await
            }
        }
    }

    pub(crate) async fn audit_deployment(
        &self,
        actor: &str,
        action: &str,
        d: &DeploymentRecord,
        error: Option<&str>,
    ) -> Result<(), ControlError> {
        let resource = format!("customer/{}/deployment/{}", d.customer, d.id);
        let mut after = serde_json::json!({
            "environment": d.environment,
            "revision": d.config_revision,
            "content_hash": d.content_hash,
            "status": d.status.as_str(),
            "url": d.url,
            "remote_version": d.remote_version,
            "rollback_of": d.rollback_of,
        });
        if let Some(error) = error {
            after["error"] = serde_json::Value::String(error.to_owned());
        }
        self.store
            .audit_append(
                NewAudit {
                    actor,
                    action,
                    resource: &resource,
                    customer: Some(&d.customer),
                    before: None,
                    after: Some(after),
                },
                self.clock.now(),
            )
            .await?;
        Ok(())
    }

    /// A customer's deployments, newest first.
    pub async fn deployments(
        &self,
        customer: &CustomerId,
        environment: Option<&Environment>,
        limit: u64,
    ) -> Result<Vec<DeploymentView>, ControlError> {
        if self.store.customer_get(customer).await?.is_none()
            && self
                .store
                .deployment_list(customer, environment, 1)
                .await?
                .is_empty()
        {
            return Err(crate::config::not_found(customer));
        }
        let health = self.store.health_list(Some(customer)).await?;
        Ok(self
            .store
            .deployment_list(customer, environment, limit)
            .await?
            .into_iter()
            .map(|d| {
                let probe = health.iter().find(|h| h.probe.deployment_id == d.id);
                DeploymentView {
                    health: probe.map(crate::HealthSummary::from),
                    ..DeploymentView::from(d)
                }
            })
            .collect())
    }

    /// One deployment of a customer (`NotFound` if it is another customer's).
    pub async fn deployment(
        &self,
        customer: &CustomerId,
        id: i64,
    ) -> Result<DeploymentView, ControlError> {
        self.deployment_record(customer, id).await.map(Into::into)
    }

    async fn deployment_record(
        &self,
        customer: &CustomerId,
        id: i64,
    ) -> Result<DeploymentRecord, ControlError> {
        self.store
            .deployment_get(id)
            .await?
            .filter(|d| &d.customer == customer)
            .ok_or_else(|| ControlError::NotFound {
                resource: format!("deployment {id} of customer `{customer}`"),
            })
    }

    /// The generated files of one of a customer's deployments.
    pub async fn deployment_files(
        &self,
        customer: &CustomerId,
        id: i64,
    ) -> Result<Vec<(String, String)>, ControlError> {
        self.deployment_record(customer, id).await?;
        Ok(self.store.deployment_files(id).await?)
    }

    /// Makes an earlier successful deployment live again, recorded as a new deployment that
    /// points at the one it restored.
    ///
    /// Secrets: a rollback never brings back a secret value that was changed since (a changed
    /// secret is usually a rotated or revoked one). The restored release runs with the
    /// customer's current value of each of its secret bindings; the report lists the bindings
    /// whose value differs from the one the restored deployment ran with. When none differ, a
    /// Cloudflare rollback reuses the earlier version (Cloudflare's deployments API), so the
    /// worker serves the earlier upload byte for byte; otherwise the stored release is
    /// uploaded again with the current secrets. A binding that has no value any more (its
    /// destination was removed) is taken from the vault if a value with the recorded
    /// fingerprint is still there, else the rollback is refused before anything changes.
    pub async fn rollback(
        &self,
        actor: &str,
        customer: &CustomerId,
        to: i64,
    ) -> Result<DeployReport, DeployFailure> {
        let earlier = self.deployment_record(customer, to).await?;
        if !matches!(
            earlier.status,
            DeploymentStatus::Succeeded | DeploymentStatus::RolledBack
        ) {
            return Err(ControlError::BadRequest(format!(
                "deployment {to} {}; only a deployment that went live can be restored",
                match earlier.status {
                    DeploymentStatus::Failed => "failed",
                    _ => "has not finished",
                }
            ))
            .into());
        }
        let env = earlier.environment.clone();
        let live = self
            .store
            .deployment_live(Some(customer))
            .await
            .map_err(ControlError::from)?
            .into_iter()
            .find(|d| d.environment == env);
        if live.as_ref().is_some_and(|l| {
            l.content_hash == earlier.content_hash
                && l.secret_fingerprints == earlier.secret_fingerprints
        }) {
            return Err(ControlError::BadRequest(format!(
                "deployment {to} is what `{env}` runs already; nothing to roll back"
            ))
            .into());
        }
        let stored = self
            .store
            .customer_get(customer)
            .await
            .map_err(ControlError::from)?
            .ok_or_else(|| crate::config::not_found(customer))?;
        let config = self.validated(&stored)?;
        let delivery = self.delivery_settings(customer).await?;
        let vault = self.open_vault(&stored)?;
        let restoration = self
            .restoration(&earlier, &config, &delivery.target, &vault)
            .await?;
        let release = &restoration.shipment.release;
        let deployment = self
            .store
            .deployment_create(
                NewDeployment {
                    customer: customer.clone(),
                    environment: env.clone(),
                    target: earlier.target.clone(),
                    config_revision: earlier.config_revision,
                    content_hash: release.content_hash().to_owned(),
                    files: restoration.files.clone(),
                    rollback_of: Some(to),
                    job_id: None,
                    secret_fingerprints: restoration.fingerprints.clone(),
                    entry_module: restoration.shipment.entry_module.clone(),
                    runtime_module: restoration.shipment.runtime_module.clone(),
                    destination: delivery.target.destination(),
                },
                self.clock.now(),
            )
            .await
            .map_err(ControlError::from)?;
        let run = DeployRun {
            job_id: None,
            last_attempt: true,
        };
        let done = self
            .ship(
                actor, &delivery, &vault, deployment, release, run, "rollback",
            )
            .await?;
        if let Some(previous) = live {
            self.store
                .deployment_update(
                    previous.id,
                    DeploymentUpdate {
                        status: DeploymentStatus::RolledBack,
                        url: None,
                        error: None,
                        remote_version: None,
                    },
                    self.clock.now(),
                )
                .await
                .map_err(ControlError::from)?;
        }
        Ok(DeployReport {
            deployment: done.into(),
            unchanged: false,
            secrets_changed: restoration.secrets_changed,
            restored_drift: None,
        })
    }
}

/// An error and its sources, one line (for deployment records and logs; never holds a
/// secret: no error of ours carries one).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

//! Gradual, health-gated Cloudflare deploys.
//!
//! A release replacing a live one is uploaded as a version without traffic and deployed at
//! 0% beside the live version ([`CloudflareDeployer::stage`]); it is probed through
//! Cloudflare's version override (`Cloudflare-Workers-Version-Overrides:
//! <worker>="<version id>"`, which reaches a version of the current deployment even at 0%)
//! on c15t's `GET /status` and `GET /init`; then it takes each step's share of traffic, and
//! during each step's dwell it is probed every [`HealthGate::interval`]. A probe that fails
//! [`HealthGate::attempts`] times in a row puts the earlier version back at 100% at once
//! (forced: its secrets were live moments ago) and the deployment ends
//! `rolled_back_automatically` with the probe's answer.
//!
//! Resumable: everything the rollout knows is in Cloudflare's deployment (which versions,
//! which shares) and in the release's tag, so a runner that died mid-rollout leaves a split
//! that the job's next attempt finds ([`Staged::Beside`] with the share reached) and carries
//! on from the next step. While a deployment of the environment is running, drift detection
//! does not call the split drift.

use std::time::{Duration, Instant};

use c15t_deploy::cloudflare::{CloudflareDeployer, Staged};
use c15t_deploy::{DeployOutcome, Deployer, Release};
use c15t_model::Rollout;

use c15t_store::DeploymentRecord;

use crate::deploy::DeployFailure;
use crate::{Control, ControlError};

/// Paths probed on a staged version: c15t's health check and its banner endpoint.
const PROBED: [&str; 2] = ["/status", "/init"];

impl Control {
    /// Makes `release` live on Cloudflare as `rollout` says (see the module documentation).
    pub(crate) async fn roll_out(
        &self,
        deployer: &CloudflareDeployer,
        release: &Release,
        rollout: &Rollout,
        base: &str,
    ) -> Result<DeployOutcome, DeployFailure> {
        let deploy_error = |e: c15t_deploy::DeployError| DeployFailure {
            retryable: e.is_retryable(),
            error: ControlError::Deploy(e),
        };
        let Rollout::Gradual { steps, dwell_secs } = rollout else {
            return deployer.deploy(release).await.map_err(deploy_error);
        };
        let worker = release.worker_name();
        let (new, old, share) = match deployer.stage(release).await.map_err(deploy_error)? {
            Staged::Fresh | Staged::Live(_) => {
                return deployer.deploy(release).await.map_err(deploy_error);
            }
            Staged::Beside { new, old, share } => (new, old, share),
        };
        let dwell = Duration::from_secs(*dwell_secs);
        if share <= 0.0
            && let Err(reason) = self.probe_version(base, worker, &new).await
        {
            return Err(self.undo(deployer, worker, &old, &new, 0, reason).await);
        }
        for &step in steps.iter().filter(|s| f64::from(**s) > share) {
            let shares: Vec<(&str, f64)> = if step >= 100 {
                vec![(new.as_str(), 100.0)]
            } else {
                vec![
                    (new.as_str(), f64::from(step)),
                    (old.as_str(), f64::from(100 - step)),
                ]
            };
            deployer
                .split(worker, &shares, false)
                .await
                .map_err(deploy_error)?;
            tracing::info!(worker, version = %new, step, "rollout step");
            if step >= 100 {
                break;
            }
            let started = Instant::now();
            loop {
                if let Err(reason) = self.probe_version(base, worker, &new).await {
                    return Err(self.undo(deployer, worker, &old, &new, step, reason).await);
                }
                let left = dwell.saturating_sub(started.elapsed());
                if left.is_zero() {
                    break;
                }
                tokio::time::sleep(left.min(self.delivery.health_gate.interval)).await;
            }
        }
        // The new version serves everything: the plain deploy enables the route and answers
        // with the URL and version (it finds the release live and uploads nothing).
        deployer.deploy(release).await.map_err(deploy_error)
    }

    /// Probes version `version` of `worker` through a version override, on every path of
    /// [`PROBED`]; `Err` with the last answer when one path failed
    /// [`HealthGate::attempts`](crate::HealthGate) times in a row.
    async fn probe_version(&self, base: &str, worker: &str, version: &str) -> Result<(), String> {
        let gate = self.delivery.health_gate;
        let header = format!("{worker}=\"{version}\"");
        for path in PROBED {
            let url = format!("{}{path}", base.trim_end_matches('/'));
            let mut last = String::new();
            let mut up = false;
            for attempt in 1..=gate.attempts.max(1) {
                let answer = self
                    .probe_url_with(
                        &url,
                        gate.timeout,
                        Some(("Cloudflare-Workers-Version-Overrides", &header)),
                    )
                    .await;
                if answer.up {
                    up = true;
                    break;
                }
                last = format!(
                    "GET {path}: {}",
                    answer.error.unwrap_or_else(|| "not healthy".to_owned())
                );
                if attempt < gate.attempts {
                    tokio::time::sleep(gate.interval).await;
                }
            }
            if !up {
                return Err(last);
            }
        }
        Ok(())
    }

    /// Puts `old` back at 100% of `worker`'s traffic and says why.
    async fn undo(
        &self,
        deployer: &CloudflareDeployer,
        worker: &str,
        old: &str,
        new: &str,
        step: u8,
        reason: String,
    ) -> DeployFailure {
        tracing::warn!(
            worker,
            version = new,
            step,
            reason,
            "rollout failed its probe; rolling back"
        );
        if let Err(e) = deployer.split(worker, &[(old, 100.0)], true).await {
            // The split stays; the job tries again (the next attempt finds it and probes).
            return DeployFailure {
                retryable: true,
                error: ControlError::Deploy(e),
            };
        }
        DeployFailure {
            retryable: false,
            error: ControlError::RolledBackAutomatically {
                worker: worker.to_owned(),
                version: new.to_owned(),
                step,
                reason,
            },
        }
    }

    /// Undoes the split a rollout left when its runner is gone for good (the reaper fails
    /// `orphan`): if the worker's live deployment splits traffic and one of its versions is
    /// the environment's live deployment's, that version gets 100% again. Best effort: a
    /// failure is logged, and drift detection then shows the split until a deploy repairs it.
    pub(crate) async fn settle_split(&self, orphan: &DeploymentRecord) {
        if let Err(e) = self.try_settle_split(orphan).await {
            tracing::warn!(deployment = orphan.id, error = %crate::deploy::error_chain(&e), "could not undo the split of an abandoned rollout");
        }
    }

    async fn try_settle_split(&self, orphan: &DeploymentRecord) -> Result<(), ControlError> {
        let Some(account) = orphan
            .destination
            .as_deref()
            .and_then(|d| d.strip_prefix("cloudflare:"))
        else {
            return Ok(());
        };
        let customer = &orphan.customer;
        let Some(live) = self
            .store
            .deployment_live(Some(customer))
            .await?
            .into_iter()
            .find(|d| d.environment == orphan.environment)
        else {
            return Ok(());
        };
        let Some(ours) = live
            .remote_version
            .as_deref()
            .and_then(|v| c15t_deploy::cloudflare::canonical_version_id(v).ok())
        else {
            return Ok(());
        };
        let Some(stored) = self.store.customer_get(customer).await? else {
            return Ok(());
        };
        let vault = self.open_vault(&stored)?;
        let deployer = self.cloudflare_deployer(account, &vault, customer)?;
        let worker = self
            .live_worker_name(customer, &orphan.environment)
            .await?
            .unwrap_or_else(|| c15t_model::worker_name(customer, &orphan.environment));
        let Some(current) = deployer.live_deployment(&worker).await? else {
            return Ok(());
        };
        if !current.is_whole() && current.versions.iter().any(|(id, _)| id == &ours) {
            deployer.split(&worker, &[(&ours, 100.0)], true).await?;
            tracing::warn!(deployment = orphan.id, worker, version = %ours, "abandoned rollout undone: the live version serves all traffic again");
        }
        Ok(())
    }
}

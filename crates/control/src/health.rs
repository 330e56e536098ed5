//! Worker health: probes each live worker's c15t `/status` endpoint and records up/down,
//! latency and the last error per deployment.
//!
//! c15t's `GET /status` answers 200 with the API version and a timestamp after a lightweight
//! database check, and 503 when the database is unreachable, so a 2xx answer is "up" and
//! anything else (another status, a timeout, a refused connection) is "down" with the reason.

use std::future::Future;
use std::time::{Duration, Instant};

use c15t_deploy::cloudflare::{LiveDeployment, canonical_version_id};
use c15t_model::CustomerId;
use c15t_model::health::{Drift, DriftKind, HealthProbe, HealthRecord};
use c15t_store::DeploymentRecord;
use serde::Serialize;

use crate::{Control, ControlError};

/// How the health monitor probes.
#[derive(Debug, Clone)]
pub struct HealthOptions {
    /// Time between probe rounds.
    pub interval: Duration,
    /// Timeout of one probe.
    pub timeout: Duration,
    /// Path probed under the worker's URL.
    pub path: String,
    /// Probes in flight at once.
    pub concurrency: usize,
}

impl Default for HealthOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            path: "/status".to_owned(),
            concurrency: 16,
        }
    }
}

/// What one probe saw.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) up: bool,
    pub(crate) status_code: Option<u16>,
    pub(crate) latency_ms: Option<u64>,
    pub(crate) error: Option<String>,
}

/// One probe round.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HealthReport {
    /// Every live deployment probed, with its latest health.
    pub workers: Vec<HealthRecord>,
    /// How many answered healthy.
    pub up: usize,
    /// How many did not.
    pub down: usize,
}

impl Control {
    /// Probes every live worker (of one customer when given) once and records the results.
    /// Deployments without a URL (file and webhook deliveries) are not probed.
    pub async fn health_check(
        &self,
        options: &HealthOptions,
        customer: Option<&CustomerId>,
    ) -> Result<HealthReport, ControlError> {
        let live: Vec<DeploymentRecord> = self
            .store
            .deployment_live(customer)
            .await?
            .into_iter()
            .filter(|d| d.url.is_some())
            .collect();
        let semaphore =
            std::sync::Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
        let mut probes = tokio::task::JoinSet::new();
        for deployment in live {
            let control = self.clone();
            let options = options.clone();
            let semaphore = std::sync::Arc::clone(&semaphore);
            probes.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                control.probe(&options, &deployment).await
            });
        }
        let mut report = HealthReport::default();
        while let Some(result) = probes.join_next().await {
            let record = result.map_err(|e| {
                ControlError::BadRequest(format!("a health probe task failed: {e}"))
            })??;
            if record.probe.up {
                report.up += 1;
            } else {
                report.down += 1;
            }
            report.workers.push(record);
        }
        report.workers.sort_by_key(|r| r.probe.deployment_id);
        Ok(report)
    }

    async fn probe(
        &self,
        options: &HealthOptions,
        deployment: &DeploymentRecord,
    ) -> Result<HealthRecord, ControlError> {
        let base = deployment.url.as_deref().unwrap_or_default();
        let url = format!("{}{}", base.trim_end_matches('/'), options.path);
        let answer = self.probe_url(&url, options.timeout).await;
        if !answer.up {
            tracing::warn!(customer = %deployment.customer, environment = %deployment.environment, deployment = deployment.id, error = ?answer.error, "worker unhealthy");
        }
        self.refresh_domain(deployment, &answer).await;
        let Answer {
            up,
            status_code,
            latency_ms,
            error,
        } = answer;
        let drift = match self.drift(deployment).await {
            Ok(drift) => drift,
            Err(e) => {
                tracing::warn!(customer = %deployment.customer, environment = %deployment.environment, deployment = deployment.id, error = %crate::deploy::error_chain(&e), "could not read the worker's live deployment");
                None
            }
        };
        if let Some(drift) = &drift {
            tracing::warn!(customer = %deployment.customer, environment = %deployment.environment, deployment = deployment.id, kind = drift.kind.as_str(), detail = %drift.detail, "worker drifted");
        }
        Ok(self
            .store
            .health_record(HealthProbe {
                deployment_id: deployment.id,
                customer: deployment.customer.clone(),
                environment: deployment.environment.clone(),
                url,
                up,
                status_code,
                latency_ms,
                error,
                drift,
                checked_at: self.clock.now(),
            })
            .await?)
    }

    /// How the Cloudflare worker of `deployment` differs from it, read from Cloudflare's
    /// deployments API; `None` when it matches or the deployment is not on Cloudflare.
    pub(crate) async fn drift(
        &self,
        deployment: &DeploymentRecord,
    ) -> Result<Option<Drift>, ControlError> {
        let Some(account) = deployment
            .destination
            .as_deref()
            .and_then(|d| d.strip_prefix("cloudflare:"))
        else {
            return Ok(None);
        };
        let customer = &deployment.customer;
        let newest = self
            .store
            .deployment_list(customer, Some(&deployment.environment), 1)
            .await?;
        if newest
            .first()
            .is_some_and(|d| d.id != deployment.id && !d.status.is_final())
        {
            // A deploy is under way (a gradual one splits traffic on purpose).
            return Ok(None);
        }
        let Some(stored) = self.store.customer_get(customer).await? else {
            return Ok(None);
        };
        let vault = self.open_vault(&stored)?;
        let deployer = self.cloudflare_deployer(account, &vault, customer)?;
        let worker = self
            .live_worker_name(customer, &deployment.environment)
            .await?
            .unwrap_or_else(|| c15t_model::worker_name(customer, &deployment.environment));
        let live = deployer.live_deployment(&worker).await?;
        Ok(drift_of(
            &worker,
            deployment.remote_version.as_deref(),
            live,
        ))
    }

    /// One `GET` of `url` (a worker's URL): up on a 2xx answer within `timeout`. It goes
    /// through [`crate::DeliveryOptions::workers_edge`] when one is set.
    pub(crate) async fn probe_url(&self, url: &str, timeout: Duration) -> Answer {
        self.probe_url_with(url, timeout, None).await
    }

    /// [`Control::probe_url`] with one extra request header (a version override).
    pub(crate) async fn probe_url_with(
        &self,
        url: &str,
        timeout: Duration,
        header: Option<(&str, &str)>,
    ) -> Answer {
        let request = match self.edge_target(url) {
            Some((target, host)) => self
                .delivery
                .http
                .get(target)
                .header(reqwest::header::HOST, host),
            None => self.delivery.http.get(url),
        };
        let request = match header {
            Some((name, value)) => request.header(name, value),
            None => request,
        };
        let started = Instant::now();
        let answer = request.timeout(timeout).send().await;
        let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (up, status_code, latency_ms, error) = match answer {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    (true, Some(status.as_u16()), Some(latency), None)
                } else {
                    (
                        false,
                        Some(status.as_u16()),
                        Some(latency),
                        Some(format!("answered {status}")),
                    )
                }
            }
            Err(e) if e.is_timeout() => (
                false,
                None,
                None,
                Some(format!("no answer within {timeout:?}")),
            ),
            Err(e) => (false, None, None, Some(crate::deploy::error_chain(&e))),
        };
        Answer {
            up,
            status_code,
            latency_ms,
            error,
        }
    }

    /// `(edge URL, host)` for a worker's URL (on `workers.dev` or a custom domain) when an
    /// edge is configured.
    fn edge_target(&self, url: &str) -> Option<(String, String)> {
        let edge = self.delivery.workers_edge.as_deref()?;
        let parsed = url::Url::parse(url).ok()?;
        let host = parsed.host_str()?;
        let mut target = format!("{}{}", edge.trim_end_matches('/'), parsed.path());
        if let Some(query) = parsed.query() {
            target.push('?');
            target.push_str(query);
        }
        Some((target, host.to_owned()))
    }

    /// Probes every live worker every [`HealthOptions::interval`] until `shutdown` completes.
    pub async fn health_monitor(
        &self,
        options: &HealthOptions,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ControlError> {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.health_check(options, None).await {
                tracing::warn!(error = %crate::deploy::error_chain(&e), "health round failed");
            }
            tokio::select! {
                () = tokio::time::sleep(options.interval) => {}
                () = &mut shutdown => return Ok(()),
            }
        }
    }

    /// The latest health of a customer's live workers (all customers when `None`).
    pub async fn health(
        &self,
        customer: Option<&CustomerId>,
    ) -> Result<Vec<HealthRecord>, ControlError> {
        let live = self.store.deployment_live(customer).await?;
        let health = self.store.health_list(customer).await?;
        Ok(health
            .into_iter()
            .filter(|h| live.iter().any(|d| d.id == h.probe.deployment_id))
            .collect())
    }
}

/// How `live` differs from the deployment that made `expected` (its version id) live on
/// `worker`: missing, split, a version without our tag, or another version of ours.
fn drift_of(worker: &str, expected: Option<&str>, live: Option<LiveDeployment>) -> Option<Drift> {
    let Some(live) = live else {
        return Some(Drift {
            kind: DriftKind::Missing,
            detail: format!("the script `{worker}` or its deployment is gone"),
            author: None,
            source: None,
            versions: Vec::new(),
        });
    };
    let versions: Vec<String> = live
        .versions
        .iter()
        .map(|(id, share)| format!("{id} {share}%"))
        .collect();
    let ours = live
        .top
        .tag
        .as_deref()
        .is_some_and(|t| t.starts_with("c15t-"));
    let expected = expected.and_then(|v| canonical_version_id(v).ok());
    let (kind, detail) = if !live.is_whole() {
        (
            DriftKind::Split,
            format!("traffic is split between {} versions", live.versions.len()),
        )
    } else if !ours {
        (
            DriftKind::Foreign,
            format!(
                "version {} serves all traffic and was not deployed by the control plane",
                live.top.id
            ),
        )
    } else if expected.as_deref().is_some_and(|e| e != live.top.id) {
        (
            DriftKind::OtherVersion,
            format!(
                "version {} serves all traffic, not version {} this deployment made live",
                live.top.id,
                expected.unwrap_or_default()
            ),
        )
    } else {
        return None;
    };
    Some(Drift {
        kind,
        detail,
        author: live.author_email,
        source: live.source,
        versions,
    })
}

//! Worker health: probes each live worker's c15t `/status` endpoint and records up/down,
//! latency and the last error per deployment.
//!
//! c15t's `GET /status` answers 200 with the API version and a timestamp after a lightweight
//! database check, and 503 when the database is unreachable, so a 2xx answer is "up" and
//! anything else (another status, a timeout, a refused connection) is "down" with the reason.

use std::future::Future;
use std::time::{Duration, Instant};

use c15t_model::CustomerId;
use c15t_store::{DeploymentRecord, HealthProbe, HealthRecord};
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
        let started = Instant::now();
        let answer = self
            .delivery
            .http
            .get(&url)
            .timeout(options.timeout)
            .send()
            .await;
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
                Some(format!("no answer within {:?}", options.timeout)),
            ),
            Err(e) => (false, None, None, Some(crate::deploy::error_chain(&e))),
        };
        if !up {
            tracing::warn!(customer = %deployment.customer, environment = %deployment.environment, deployment = deployment.id, error = ?error, "worker unhealthy");
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
                checked_at: self.clock.now(),
            })
            .await?)
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

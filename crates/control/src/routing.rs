//! Where a customer environment's Cloudflare worker answers: its `workers.dev` route and its
//! custom domain.
//!
//! Settings ([`c15t_model::Routing`], per environment in the delivery settings) say what is
//! wanted; every Cloudflare deploy applies them after the release is live and records what it
//! applied ([`c15t_store::RouteRecord`]):
//!
//! 1. the `workers.dev` switch, through the deployer ([`CloudflareDeployer::with_workers_dev`]);
//! 2. a hostname no longer wanted (removed or changed) is detached by the id Cloudflare gave it;
//! 3. the wanted hostname is attached (`PUT …/workers/domains`, an upsert: a worker renamed
//!    since takes its hostname along) and probed once on `/status`: `active` when it answers,
//!    otherwise `pending` (Cloudflare is still creating its DNS record or certificate) with the
//!    answer; Cloudflare refusing it (no such zone, a hostname another account uses) records
//!    `error` with Cloudflare's message and fails the deployment.
//!
//! The worker's URL is then `https://{hostname}`. Cloudflare's answer carries no state, so the
//! state is what the hostname does: each health probe of the worker turns a pending domain
//! active once it answers, and a domain that stops answering is looked up again: no longer
//! attached (someone detached it) is `error`. A deploy whose release is live already still
//! runs when the recorded routes differ from the wanted ones (or the domain is in error), so
//! changing a hostname is applied by deploying, and shows in the plan as pending until then.

use c15t_deploy::DeployOutcome;
use c15t_deploy::cloudflare::CloudflareDeployer;
use c15t_model::{CustomerId, Delivery, Environment, Routing};
use c15t_store::{DeploymentRecord, DomainRecord, DomainState, RouteRecord};
use serde::Serialize;

use crate::deploy::DeployFailure;
use crate::health::Answer;
use crate::{Control, ControlError};

/// Where an environment's worker answers, as last applied, beside what is wanted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteStatus {
    /// The environment.
    pub environment: Environment,
    /// The routing the settings want.
    pub wanted: Routing,
    /// Whether the worker answers on `workers.dev`, as last applied (`None`: never applied;
    /// workers deployed before routing existed answer there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers_dev: Option<bool>,
    /// The custom domain as last attached, with its state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainStatus>,
    /// Whether the next deploy changes the routes (the wanted differ from the applied, or
    /// the domain is in error).
    pub pending: bool,
}

/// A custom domain's state, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainStatus {
    /// The hostname.
    pub hostname: String,
    /// `pending`, `active` or `error`.
    pub state: &'static str,
    /// Cloudflare's message, or the last probe's answer, when not active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The zone holding it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

impl From<&DomainRecord> for DomainStatus {
    fn from(d: &DomainRecord) -> Self {
        Self {
            hostname: d.hostname.clone(),
            state: d.state.as_str(),
            message: d.message.clone(),
            zone_name: d.zone_name.clone(),
        }
    }
}

/// Whether `applied` is what `wanted` asks for (an environment never routed answers on
/// `workers.dev` only, which is the default). A domain in error is never what is wanted.
pub(crate) fn routes_match(wanted: &Routing, applied: Option<&RouteRecord>) -> bool {
    let Some(applied) = applied else {
        return wanted.is_default();
    };
    applied.workers_dev == wanted.workers_dev
        && applied.domain.as_ref().map(|d| d.hostname.as_str()) == wanted.hostname.as_deref()
        && applied
            .domain
            .as_ref()
            .is_none_or(|d| d.state != DomainState::Error)
}

/// The routing `delivery` wants for `environment`.
pub(crate) fn wanted(delivery: &Delivery, environment: &Environment) -> Routing {
    delivery
        .routing
        .get(environment)
        .cloned()
        .unwrap_or_default()
}

/// Where `environment` answers per `applied` (the customer's recorded routes) beside what
/// `delivery` wants; pending only for Cloudflare deploys.
pub(crate) fn route_status(
    delivery: &Delivery,
    environment: Environment,
    applied: &[RouteRecord],
) -> RouteStatus {
    let record = applied.iter().find(|r| r.environment == environment);
    let wanted = wanted(delivery, &environment);
    RouteStatus {
        pending: delivery.target.is_cloudflare() && !routes_match(&wanted, record),
        workers_dev: record.map(|r| r.workers_dev),
        domain: record
            .and_then(|r| r.domain.as_ref())
            .map(DomainStatus::from),
        wanted,
        environment,
    }
}

impl Control {
    /// Where each environment of `customer` answers and what the settings want (only
    /// environments deployed to Cloudflare or with routing settings).
    pub async fn routes(&self, customer: &CustomerId) -> Result<Vec<RouteStatus>, ControlError> {
        let delivery = self.delivery_settings(customer).await?;
        let applied = self.store.routes(customer).await?;
        let mut environments: Vec<Environment> = delivery.routing.keys().cloned().collect();
        for route in &applied {
            if !environments.contains(&route.environment) {
                environments.push(route.environment.clone());
            }
        }
        environments.sort();
        Ok(environments
            .into_iter()
            .map(|environment| route_status(&delivery, environment, &applied))
            .collect())
    }

    /// The route recorded for one environment.
    pub(crate) async fn route_of(
        &self,
        customer: &CustomerId,
        environment: &Environment,
    ) -> Result<Option<RouteRecord>, ControlError> {
        Ok(self
            .store
            .routes(customer)
            .await?
            .into_iter()
            .find(|r| &r.environment == environment))
    }

    /// Applies `routing` to `worker`, whose release `deployer` just made live (see the module
    /// documentation), records it, and returns `outcome` with the worker's URL.
    pub(crate) async fn apply_routes(
        &self,
        deployer: &CloudflareDeployer,
        customer: &CustomerId,
        environment: &Environment,
        worker: &str,
        routing: &Routing,
        mut outcome: DeployOutcome,
    ) -> Result<DeployOutcome, DeployFailure> {
        let deploy_error = |e: c15t_deploy::DeployError| DeployFailure {
            retryable: e.is_retryable(),
            error: ControlError::Deploy(e),
        };
        let previous = self.route_of(customer, environment).await?;
        if let Some(old) = previous.as_ref().and_then(|r| r.domain.as_ref())
            && routing.hostname.as_deref() != Some(old.hostname.as_str())
            && let Some(id) = &old.id
        {
            deployer.detach_domain(id).await.map_err(deploy_error)?;
        }
        let mut record = RouteRecord {
            customer: customer.clone(),
            environment: environment.clone(),
            worker: worker.to_owned(),
            workers_dev: routing.workers_dev,
            domain: None,
            updated_at: self.clock.now(),
        };
        if let Some(hostname) = &routing.hostname {
            match deployer
                .attach_domain(worker, hostname, routing.zone_id.as_deref())
                .await
            {
                Ok(domain) => {
                    let url = format!("https://{hostname}/status");
                    let answer = self
                        .probe_url(&url, self.delivery.health_gate.timeout)
                        .await;
                    record.domain = Some(DomainRecord {
                        hostname: hostname.clone(),
                        id: Some(domain.id),
                        zone_id: Some(domain.zone_id).filter(|z| !z.is_empty()),
                        zone_name: Some(domain.zone_name).filter(|z| !z.is_empty()),
                        state: if answer.up {
                            DomainState::Active
                        } else {
                            DomainState::Pending
                        },
                        message: answer.error,
                    });
                    outcome.url = Some(format!("https://{hostname}"));
                }
                Err(e) => {
                    record.domain = Some(DomainRecord {
                        hostname: hostname.clone(),
                        id: None,
                        zone_id: routing.zone_id.clone(),
                        zone_name: None,
                        state: DomainState::Error,
                        message: Some(e.to_string()),
                    });
                    self.store
                        .route_put(&record)
                        .await
                        .map_err(ControlError::from)?;
                    tracing::warn!(%customer, %environment, hostname, error = %e, "custom domain refused");
                    return Err(deploy_error(e));
                }
            }
        }
        self.store
            .route_put(&record)
            .await
            .map_err(ControlError::from)?;
        Ok(outcome)
    }

    /// Updates the custom domain state of `deployment`'s environment from a probe of its URL
    /// (see the module documentation). Failures to read Cloudflare are logged, not returned:
    /// the health probe goes on.
    pub(crate) async fn refresh_domain(&self, deployment: &DeploymentRecord, answer: &Answer) {
        let result = async {
            let Some(mut route) = self
                .route_of(&deployment.customer, &deployment.environment)
                .await?
            else {
                return Ok(());
            };
            let Some(domain) = route.domain.as_mut() else {
                return Ok(());
            };
            let probed = deployment
                .url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
                .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
            if probed.as_deref() != Some(domain.hostname.as_str()) {
                return Ok(());
            }
            let (state, message) = match (domain.state, answer.up) {
                (DomainState::Active, true) => return Ok(()),
                (_, true) => (DomainState::Active, None),
                (DomainState::Error, false) => return Ok(()),
                (DomainState::Pending, false) => (DomainState::Pending, answer.error.clone()),
                (DomainState::Active, false) => {
                    // Down: the worker, or the domain? Ask Cloudflare whether it is attached.
                    let Some(account) = deployment
                        .destination
                        .as_deref()
                        .and_then(|d| d.strip_prefix("cloudflare:"))
                    else {
                        return Ok(());
                    };
                    let Some(stored) = self.store.customer_get(&deployment.customer).await? else {
                        return Ok(());
                    };
                    let vault = self.open_vault(&stored)?;
                    let deployer =
                        self.cloudflare_deployer(account, &vault, &deployment.customer)?;
                    let attached = deployer
                        .domains(&route.worker)
                        .await?
                        .iter()
                        .any(|d| d.hostname == domain.hostname);
                    if attached {
                        return Ok(());
                    }
                    (
                        DomainState::Error,
                        Some(format!(
                            "{} is no longer attached to worker `{}` (detached outside the \
                             control plane); deploy to attach it again",
                            domain.hostname, route.worker
                        )),
                    )
                }
            };
            if (state, &message) == (domain.state, &domain.message) {
                return Ok(());
            }
            tracing::info!(customer = %deployment.customer, environment = %deployment.environment, hostname = %domain.hostname, state = state.as_str(), "custom domain state changed");
            domain.state = state;
            domain.message = message;
            route.updated_at = self.clock.now();
            self.store.route_put(&route).await?;
            Ok::<_, ControlError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(customer = %deployment.customer, environment = %deployment.environment, error = %crate::deploy::error_chain(&e), "could not update the custom domain's state");
        }
    }
}

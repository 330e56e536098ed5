//! Delivery settings (strategy, deploy target, webhook endpoint and their secrets) and the
//! operator's delivery options (API bases, deploy root, runtime bundles, limits).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use c15t_codegen::TargetProfile;
use c15t_deploy::cloudflare::{CloudflareLimits, DEFAULT_API_BASE, RetryPolicy};
use c15t_deploy::runtime::RuntimeBundle;
use c15t_deploy::webhook::WebhookSecret;
use c15t_model::delivery::{CLOUDFLARE_TOKEN_KEY, WEBHOOK_SECRETS_KEY};
use c15t_model::{CustomerId, Delivery, DeployTarget, Strategy, WebhookEndpoint};
use c15t_net::{RetrySchedule, SsrfPolicy};
use c15t_secrets::{Secret, Vault};
use c15t_store::{DeliveryChange, VaultSwap};
use serde::Serialize;

use crate::{Control, ControlError};

/// How the operator's control plane delivers: where the outside services are, where files go,
/// which runtime bundles exist, and the limits and schedules deploys and webhooks follow.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// The target profile deploys generate for.
    pub target: &'static TargetProfile,
    /// Cloudflare's API base (a test points it at a fake).
    pub cloudflare_api: String,
    /// The per-token request limiters, shared by every Cloudflare deploy of the process.
    pub cloudflare_limits: Arc<CloudflareLimits>,
    /// Retries of one Cloudflare API call.
    pub cloudflare_retry: RetryPolicy,
    /// Where file deploys write (`<root>/<customer>/<environment>`).
    pub file_root: Option<PathBuf>,
    /// Runtime bundles managed deploys upload beside the generated entry, one per target.
    pub runtimes: Vec<Arc<RuntimeBundle>>,
    /// Where customers reach this control plane (download URLs in webhooks).
    pub public_base_url: String,
    /// Which webhook URLs may be reached.
    pub ssrf: SsrfPolicy,
    /// Timeout of one webhook attempt.
    pub webhook_timeout: Duration,
    /// When failed webhook deliveries are tried again.
    pub webhook_schedule: RetrySchedule,
    /// How long an automatic deploy or notification waits for more edits before it runs:
    /// a burst of edits within this window ships once.
    pub debounce: Duration,
    /// Attempts of a deploy job before its deployment is recorded as failed.
    pub deploy_attempts: u32,
    /// When a failed deploy attempt is tried again (the last delay repeats).
    pub deploy_backoff: Vec<Duration>,
    /// The HTTP client for Cloudflare and health probes (one connection pool).
    pub http: reqwest::Client,
    /// Where probes of workers (`https://*.workers.dev` and custom domains) are sent instead,
    /// with the worker's hostname in the `Host` header (an egress proxy that routes by host,
    /// or a test's fake edge); `None` reaches the workers directly.
    pub workers_edge: Option<String>,
    /// How a deploy that must see its worker healthy before going on (a rename, before the
    /// old script is deleted; each step of a gradual rollout) probes it.
    pub health_gate: HealthGate,
    /// How Cloudflare releases take traffic unless a customer's delivery settings say
    /// otherwise (default: 10% → 50% → 100%, a minute apart).
    pub rollout: c15t_model::Rollout,
}

/// Probes a deploy makes before it goes on: up to `attempts` `GET {url}/status`, `interval`
/// apart, each waiting at most `timeout`; the first healthy answer passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthGate {
    /// Probes at most.
    pub attempts: u32,
    /// Time between probes (a new worker may take seconds to answer on workers.dev).
    pub interval: Duration,
    /// Timeout of one probe.
    pub timeout: Duration,
}

impl Default for HealthGate {
    fn default() -> Self {
        Self {
            attempts: 6,
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            target: &c15t_codegen::target::BACKEND_2,
            cloudflare_api: DEFAULT_API_BASE.to_owned(),
            cloudflare_limits: CloudflareLimits::cloudflare(),
            cloudflare_retry: RetryPolicy::default(),
            file_root: None,
            runtimes: Vec::new(),
            public_base_url: "http://127.0.0.1:8080".to_owned(),
            ssrf: SsrfPolicy::default(),
            webhook_timeout: c15t_deploy::webhook::DEFAULT_TIMEOUT,
            webhook_schedule: RetrySchedule::default(),
            debounce: Duration::from_secs(2),
            deploy_attempts: 5,
            deploy_backoff: [5, 30, 120, 600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            http: reqwest::Client::new(),
            workers_edge: None,
            health_gate: HealthGate::default(),
            rollout: c15t_model::Rollout::default(),
        }
    }
}

impl DeliveryOptions {
    /// The runtime bundle for `target`, if the operator supplied one.
    pub fn runtime_for(&self, target: &str) -> Option<&Arc<RuntimeBundle>> {
        self.runtimes.iter().find(|r| r.target() == target)
    }

    /// The runtime bundle named `module_name` (rollbacks upload the one they were deployed
    /// with).
    pub fn runtime_named(&self, module_name: &str) -> Option<&Arc<RuntimeBundle>> {
        self.runtimes
            .iter()
            .find(|r| r.module_name() == module_name)
    }

    /// The wait before deploy attempt `attempt + 1`.
    pub(crate) fn deploy_delay(&self, attempt: u32) -> Duration {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.deploy_backoff
            .get(index)
            .or(self.deploy_backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(30))
    }
}

/// A change of a customer's delivery settings; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct DeliveryPatch {
    /// New strategy.
    pub strategy: Option<Strategy>,
    /// New deploy target.
    pub target: Option<DeployTarget>,
    /// New Cloudflare API token.
    pub cloudflare_token: Option<Secret>,
    /// New webhook URL (`Some(None)` removes the endpoint and its secrets).
    pub webhook_url: Option<Option<String>>,
    /// Re-enable a webhook endpoint that was disabled (for example after a 410).
    pub webhook_enable: bool,
    /// Start a signing-secret rotation: a new secret signs beside the current one.
    pub rotate_webhook_secret: bool,
    /// Finish a rotation: only the newest secret signs.
    pub retire_old_webhook_secrets: bool,
    /// New rollout (`Some(None)` follows the operator's default again).
    pub rollout: Option<Option<c15t_model::Rollout>>,
    /// New routing of environments: each listed environment's routing is replaced (the
    /// default routing, `workers.dev` only, removes its entry).
    pub routing: Vec<(c15t_model::Environment, c15t_model::Routing)>,
}

/// A customer's delivery settings as shown: secrets as fingerprints only.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    /// The settings.
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Fingerprint of the Cloudflare API token, if set.
    pub cloudflare_token: Option<String>,
    /// Fingerprints of the webhook signing secrets, newest first.
    pub webhook_secrets: Vec<String>,
    /// Where each routed or Cloudflare-deployed environment answers (see
    /// [`Control::routes`]).
    pub routes: Vec<crate::RouteStatus>,
}

/// The result of a delivery change: the new settings and, once, a newly generated webhook
/// signing secret for the customer to configure on their receiver.
#[derive(Debug)]
pub struct DeliveryChanged {
    /// The settings now stored.
    pub view: DeliveryView,
    /// The new `whsec_` secret, shown once.
    pub new_webhook_secret: Option<Secret>,
}

impl Control {
    /// A customer's delivery settings (the defaults if never set: manual, no target).
    pub async fn delivery_settings(&self, customer: &CustomerId) -> Result<Delivery, ControlError> {
        Ok(self
            .store
            .delivery_get(customer)
            .await?
            .map(|r| r.delivery)
            .unwrap_or_default())
    }

    /// A customer's delivery settings with secret fingerprints.
    pub async fn delivery_show(&self, customer: &CustomerId) -> Result<DeliveryView, ControlError> {
        let stored = self
            .store
            .customer_get(customer)
            .await?
            .ok_or_else(|| crate::config::not_found(customer))?;
        let delivery = self.delivery_settings(customer).await?;
        let vault = match &stored.vault {
            Some(sealed) if delivery.target != DeployTarget::None || delivery.webhook.is_some() => {
                self.keys.keyring()?.open(sealed)?
            }
            _ => Vault::default(),
        };
        let mut view = self.view(delivery, &vault)?;
        view.routes = self.routes(customer).await?;
        Ok(view)
    }

    fn view(&self, delivery: Delivery, vault: &Vault) -> Result<DeliveryView, ControlError> {
        let fingerprint = |s: &Secret| -> Result<String, ControlError> {
            Ok(self.keys.keyring()?.fingerprint(s).to_string())
        };
        let cloudflare_token = vault
            .get(CLOUDFLARE_TOKEN_KEY)
            .map(fingerprint)
            .transpose()?;
        let webhook_secrets = match vault.get(WEBHOOK_SECRETS_KEY) {
            Some(list) => list
                .expose()
                .split_whitespace()
                .map(|s| fingerprint(&Secret::new(s.to_owned())))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        Ok(DeliveryView {
            delivery,
            cloudflare_token,
            webhook_secrets,
            routes: Vec::new(),
        })
    }

    /// Changes a customer's delivery settings. Secrets go into the customer's vault in the
    /// same transaction; the config revision does not move (no generated file changes).
    /// Setting a webhook URL for the first time generates its signing secret, returned once.
    pub async fn delivery_set(
        &self,
        actor: &str,
        customer: &CustomerId,
        patch: DeliveryPatch,
    ) -> Result<DeliveryChanged, ControlError> {
        let stored = self
            .store
            .customer_get(customer)
            .await?
            .ok_or_else(|| crate::config::not_found(customer))?;
        let before = self.delivery_settings(customer).await?;
        let mut delivery = before.clone();
        if let Some(strategy) = patch.strategy {
            delivery.strategy = strategy;
        }
        if let Some(target) = patch.target {
            delivery.target = target;
        }
        if let Some(rollout) = patch.rollout {
            delivery.rollout = rollout;
        }
        if !patch.routing.is_empty() {
            let environments = self.validated(&stored)?.environments;
            for (environment, routing) in patch.routing {
                if !environments.contains(&environment) {
                    return Err(ControlError::BadRequest(format!(
                        "routing.{environment}: customer `{customer}` has no environment \
                         `{environment}`; its environments: {}",
                        environments
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                let routing = routing.normalized();
                if routing.is_default() {
                    delivery.routing.remove(&environment);
                } else {
                    delivery.routing.insert(environment, routing);
                }
            }
        }
        let needs_vault = patch.cloudflare_token.is_some()
            || patch.webhook_url.is_some()
            || patch.rotate_webhook_secret
            || patch.retire_old_webhook_secrets;
        let keyring = if needs_vault {
            Some(self.keys.keyring()?)
        } else {
            None
        };
        let mut vault = match (&stored.vault, keyring) {
            (Some(sealed), Some(keyring)) => keyring.open(sealed)?,
            _ => Vault::default(),
        };
        let mut vault_changed = false;
        if let Some(token) = patch.cloudflare_token {
            if token.expose().trim().is_empty() {
                return Err(ControlError::BadRequest(
                    "cloudflare_token: must not be empty; create an API token with \"Workers \
                     Scripts: Edit\" on the account"
                        .to_owned(),
                ));
            }
            vault.insert(CLOUDFLARE_TOKEN_KEY.to_owned(), token);
            vault_changed = true;
        }
        let mut new_webhook_secret = None;
        match patch.webhook_url {
            Some(Some(url)) => {
                let first = delivery.webhook.is_none() || vault.get(WEBHOOK_SECRETS_KEY).is_none();
                delivery.webhook = Some(WebhookEndpoint {
                    url,
                    enabled: true,
                    disabled_reason: None,
                });
                if first {
                    let secret = WebhookSecret::generate();
                    new_webhook_secret = Some(Secret::new(secret.expose().expose().to_owned()));
                    vault.insert(
                        WEBHOOK_SECRETS_KEY.to_owned(),
                        Secret::new(secret.expose().expose().to_owned()),
                    );
                    vault_changed = true;
                }
            }
            Some(None) => {
                delivery.webhook = None;
                if vault.remove(WEBHOOK_SECRETS_KEY).is_some() {
                    vault_changed = true;
                }
            }
            None => {}
        }
        if patch.webhook_enable {
            let webhook = delivery.webhook.as_mut().ok_or_else(|| {
                ControlError::BadRequest(
                    "webhook: there is no webhook endpoint to enable; set its URL first".to_owned(),
                )
            })?;
            webhook.enabled = true;
            webhook.disabled_reason = None;
        }
        if patch.rotate_webhook_secret || patch.retire_old_webhook_secrets {
            if delivery.webhook.is_none() {
                return Err(ControlError::BadRequest(
                    "webhook: there is no webhook endpoint whose secret could rotate; set its \
                     URL first"
                        .to_owned(),
                ));
            }
            let current: Vec<String> = vault
                .get(WEBHOOK_SECRETS_KEY)
                .map(|s| s.expose().split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            let mut next = current;
            if patch.rotate_webhook_secret {
                let secret = WebhookSecret::generate();
                new_webhook_secret = Some(Secret::new(secret.expose().expose().to_owned()));
                next.insert(0, secret.expose().expose().to_owned());
                // A rotation overlaps two secrets, never more.
                next.truncate(2);
            }
            if patch.retire_old_webhook_secrets {
                next.truncate(1);
            }
            vault.insert(WEBHOOK_SECRETS_KEY.to_owned(), Secret::new(next.join(" ")));
            vault_changed = true;
        }
        delivery.validate()?;
        let jobs = self
            .catch_up_jobs(actor, customer, &before, &delivery)
            .await?;
        let sealed = match (vault_changed, keyring) {
            (true, Some(keyring)) => Some(keyring.seal(&vault)?),
            _ => None,
        };
        self.store
            .delivery_put(DeliveryChange {
                actor,
                action: "delivery.update",
                customer,
                delivery: &delivery,
                vault: sealed.as_deref().map(|new| VaultSwap {
                    old: stored.vault.as_deref(),
                    new,
                }),
                jobs: &jobs,
                now: self.clock.now(),
            })
            .await?;
        tracing::info!(actor, %customer, strategy = %delivery.strategy, target = delivery.target.kind(), deploys = jobs.len(), "delivery settings changed");
        let mut view = if keyring.is_some() {
            self.view(delivery, &vault)?
        } else {
            self.delivery_show_with(delivery, stored.vault.as_deref())?
        };
        view.routes = self.routes(customer).await?;
        Ok(DeliveryChanged {
            view,
            new_webhook_secret,
        })
    }

    fn delivery_show_with(
        &self,
        delivery: Delivery,
        sealed: Option<&str>,
    ) -> Result<DeliveryView, ControlError> {
        let vault = match (sealed, &self.keys.keyring) {
            (Some(sealed), Some(keyring)) => keyring.open(sealed)?,
            _ => Vault::default(),
        };
        self.view(delivery, &vault)
    }

    /// Sets a customer's deployment strategy.
    pub async fn strategy_set(
        &self,
        actor: &str,
        customer: &CustomerId,
        strategy: Strategy,
    ) -> Result<DeliveryView, ControlError> {
        Ok(self
            .delivery_set(
                actor,
                customer,
                DeliveryPatch {
                    strategy: Some(strategy),
                    ..DeliveryPatch::default()
                },
            )
            .await?
            .view)
    }
}

//! Plan and diff: what the current config would deploy, compared with what is live.
//!
//! For each customer environment the plan generates the project the current config gives and
//! compares it with the environment's live deployment (its newest succeeded one): the content
//! hash decides whether anything changed, a unified diff per file shows what, and secret
//! bindings are compared by fingerprint, never by value. Planning never decrypts a vault: the
//! stored config already carries every secret's fingerprint.

use std::collections::BTreeMap;

use c15t_codegen::{Project, TargetProfile};
use c15t_model::health::HealthRecord;
use c15t_model::{CustomerConfig, CustomerId, Delivery, DestinationId, Environment, Strategy};
use c15t_store::{DeploymentRecord, DeploymentStatus, Revision, RouteRecord, StoredConfig};
use serde::Serialize;
use similar::TextDiff;

use crate::release::secret_fingerprints;
use crate::{Control, ControlError};

/// Whether an environment runs what its config says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// The live deployment is what the config generates, with the same secrets.
    Synced,
    /// The config generates something else than what is live.
    OutOfSync,
    /// Nothing was ever deployed.
    NeverDeployed,
    /// The newest attempt to deploy the current config failed.
    Failed,
    /// The worker on the platform is not what was deployed (somebody deployed another
    /// version, split its traffic, or deleted it; see [`EnvironmentPlan::drift`]). A deploy
    /// restores what the config generates.
    Drifted,
}

impl SyncStatus {
    /// The displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synced => "synced",
            Self::OutOfSync => "out_of_sync",
            Self::NeverDeployed => "never_deployed",
            Self::Failed => "failed",
            Self::Drifted => "drifted",
        }
    }
}

/// How something changed between the live deployment and the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Only in the config's version.
    Added,
    /// Only in the live version.
    Removed,
    /// In both, different.
    Changed,
}

/// The most customers one page of [`Control::plan_page`] plans.
pub const PLAN_PAGE_MAX: u64 = 100;

/// One page of the fleet's plan.
#[derive(Debug)]
pub struct PlanPage {
    /// Every environment of the page's customers.
    pub plans: Vec<EnvironmentPlan>,
    /// The customers of the page whose plan failed, and why.
    pub failures: Vec<(CustomerId, ControlError)>,
    /// The page's last customer when the page was full: the `after` of the next page.
    pub next: Option<CustomerId>,
}

/// One generated file that differs from the live deployment's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Path in the project.
    pub path: String,
    /// How it changed.
    pub change: Change,
    /// Unified diff (`--- deployed/<path>` / `+++ pending/<path>`), three lines of context.
    pub diff: String,
}

/// One secret binding that differs from the live deployment's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretChange {
    /// Binding name, e.g. `META_PIXEL_ACCESS_TOKEN`.
    pub binding: String,
    /// How it changed.
    pub change: Change,
    /// Fingerprint of the live value.
    pub deployed: Option<String>,
    /// Fingerprint of the configured value.
    pub pending: Option<String>,
}

/// Whether a destination's worker forwards server-side events (`POST /analytics/events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventsState {
    /// Its vendor's server API gets the events whose purpose the subject granted.
    Forwards,
    /// Its server API lacks a setting (its secret): only the browser pixel runs.
    BrowserOnly,
}

/// Server-side events of one enabled destination whose kind has a server API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventForwarding {
    /// The destination.
    pub destination: DestinationId,
    /// Its kind's slug.
    pub kind: &'static str,
    /// The vendor API events go to, e.g. `Meta Conversions API`.
    pub api: &'static str,
    /// Whether it forwards.
    pub state: EventsState,
    /// The settings the API needs that are not set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<&'static str>,
}

/// Which destinations of `env` forward server-side events, in configured order; kinds
/// without a server API (browser only by nature) and disabled destinations are left out.
pub fn event_forwarding(config: &CustomerConfig, env: &Environment) -> Vec<EventForwarding> {
    config
        .destinations_for(env)
        .filter(|d| d.enabled)
        .filter_map(|d| {
            let events = d.kind.events?;
            let missing: Vec<&'static str> = events
                .requires
                .iter()
                .copied()
                .filter(|key| !d.settings.contains_key(*key))
                .collect();
            Some(EventForwarding {
                destination: d.id.clone(),
                kind: d.kind.slug,
                api: events.api,
                state: if missing.is_empty() {
                    EventsState::Forwards
                } else {
                    EventsState::BrowserOnly
                },
                missing,
            })
        })
        .collect()
}

/// The plan of one customer environment.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentPlan {
    /// The customer.
    pub customer: CustomerId,
    /// The environment.
    pub environment: Environment,
    /// The config revision planned.
    pub revision: Revision,
    /// The customer's deployment strategy.
    pub strategy: Strategy,
    /// Where the environment stands.
    pub status: SyncStatus,
    /// The worker's name (the one a deploy uses).
    pub worker_name: String,
    /// The name the live worker runs under when a deploy will rename it (the naming rule
    /// changed since it was first deployed): the deploy brings up [`Self::worker_name`] and
    /// deletes this one once the new worker answers healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rename_from: Option<String>,
    /// Content hash of the project the config generates.
    pub content_hash: String,
    /// The live deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<DeploymentSummary>,
    /// The newest attempt, when it failed after (or without) the live one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_attempt: Option<DeploymentSummary>,
    /// Files that differ from the live deployment's (all files when never deployed).
    pub files: Vec<FileChange>,
    /// Secret bindings that differ from the live deployment's.
    pub secrets: Vec<SecretChange>,
    /// The live deployment's latest health probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSummary>,
    /// How the live worker differs from the live deployment, as the latest probe saw it
    /// (then `status` is `drifted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<c15t_model::health::Drift>,
    /// Where the worker answers (Cloudflare deploys only): the wanted routing, the applied
    /// one and the custom domain's state; `pending` routes make the environment out of sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<crate::RouteStatus>,
    /// Which destinations forward server-side events and which are browser only.
    pub events: Vec<EventForwarding>,
}

/// A deployment, as plans and listings show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentSummary {
    /// Deployment id.
    pub id: i64,
    /// Config revision deployed.
    pub revision: Revision,
    /// Content hash deployed.
    pub content_hash: String,
    /// Status.
    pub status: String,
    /// Worker URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&DeploymentRecord> for DeploymentSummary {
    fn from(d: &DeploymentRecord) -> Self {
        Self {
            id: d.id,
            revision: d.config_revision,
            content_hash: d.content_hash.clone(),
            status: d.status.to_string(),
            url: d.url.clone(),
            error: d.error.clone(),
            finished_at: d.finished_at,
        }
    }
}

/// A deployment's latest health probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthSummary {
    /// Whether the worker answered healthy.
    pub up: bool,
    /// Answer time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Failed probes in a row.
    pub consecutive_failures: u32,
    /// When it was probed.
    pub checked_at: chrono::DateTime<chrono::Utc>,
}

impl From<&HealthRecord> for HealthSummary {
    fn from(h: &HealthRecord) -> Self {
        Self {
            up: h.probe.up,
            latency_ms: h.probe.latency_ms,
            error: h.probe.error.clone(),
            consecutive_failures: h.consecutive_failures,
            checked_at: h.probe.checked_at,
        }
    }
}

/// Unified diffs of every file that differs between `deployed` and `pending`.
pub(crate) fn file_changes(
    deployed: &[(String, String)],
    pending: &[(String, String)],
) -> Vec<FileChange> {
    let old: BTreeMap<&str, &str> = deployed
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let new: BTreeMap<&str, &str> = pending
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let mut paths: Vec<&str> = old.keys().chain(new.keys()).copied().collect();
    paths.sort_unstable();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let (before, after) = (old.get(path).copied(), new.get(path).copied());
            let change = match (before, after) {
                (Some(a), Some(b)) if a == b => return None,
                (Some(_), Some(_)) => Change::Changed,
                (None, Some(_)) => Change::Added,
                (Some(_), None) => Change::Removed,
                (None, None) => return None,
            };
            let diff = TextDiff::from_lines(before.unwrap_or(""), after.unwrap_or(""))
                .unified_diff()
                .context_radius(3)
                .header(&format!("deployed/{path}"), &format!("pending/{path}"))
                .to_string();
            Some(FileChange {
                path: path.to_owned(),
                change,
                diff,
            })
        })
        .collect()
}

/// Secret bindings whose fingerprint differs.
pub(crate) fn secret_changes(
    deployed: &BTreeMap<String, String>,
    pending: &BTreeMap<String, String>,
) -> Vec<SecretChange> {
    let mut names: Vec<&String> = deployed.keys().chain(pending.keys()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let (before, after) = (deployed.get(name), pending.get(name));
            let change = match (before, after) {
                (Some(a), Some(b)) if a == b => return None,
                (Some(_), Some(_)) => Change::Changed,
                (None, Some(_)) => Change::Added,
                (Some(_), None) => Change::Removed,
                (None, None) => return None,
            };
            Some(SecretChange {
                binding: name.clone(),
                change,
                deployed: before.cloned(),
                pending: after.cloned(),
            })
        })
        .collect()
}

fn project_files(project: &Project) -> Vec<(String, String)> {
    project
        .files
        .iter()
        .map(|f| (f.path.to_owned(), f.contents.clone()))
        .collect()
}

impl Control {
    /// The plan of one customer's environments (all of them, or `environment` only).
    pub async fn plan(
        &self,
        customer: &CustomerId,
        environment: Option<&Environment>,
    ) -> Result<Vec<EnvironmentPlan>, ControlError> {
        let stored = self
            .store
            .customer_get(customer)
            .await?
            .ok_or_else(|| crate::config::not_found(customer))?;
        let live = self.store.deployment_live(Some(customer)).await?;
        let health = self.store.health_list(Some(customer)).await?;
        self.plan_customer(&stored, &live, &health, environment)
            .await
    }

    /// The plan of every customer's every environment, in customer id order. A customer whose
    /// stored config no longer validates (for example after a catalogue change) is reported
    /// in the second list and does not stop the others.
    pub async fn plan_all(
        &self,
    ) -> Result<(Vec<EnvironmentPlan>, Vec<(CustomerId, ControlError)>), ControlError> {
        let mut plans = Vec::new();
        let mut failures = Vec::new();
        let live = self.store.deployment_live(None).await?;
        let health = self.store.health_list(None).await?;
        let mut after: Option<CustomerId> = None;
        loop {
            let page = self.store.customer_configs(after.as_ref(), 500).await?;
            let Some(next) = self
                .plan_configs(&page, &live, &health, &mut plans, &mut failures)
                .await?
            else {
                break;
            };
            after = Some(next);
        }
        Ok((plans, failures))
    }

    /// One page of [`Control::plan_all`]: the plans of at most `limit` customers (at most
    /// [`PLAN_PAGE_MAX`]) with ids after `after`, the customers that failed, and the last
    /// customer of the page when it was full (pass it as `after` for the next page).
    pub async fn plan_page(
        &self,
        after: Option<&CustomerId>,
        limit: u64,
    ) -> Result<PlanPage, ControlError> {
        let limit = limit.clamp(1, PLAN_PAGE_MAX);
        let page = self.store.customer_configs(after, limit).await?;
        let mut live = Vec::new();
        let mut health = Vec::new();
        for stored in &page {
            if let Ok(id) = stored.spec.id.parse::<CustomerId>() {
                live.extend(self.store.deployment_live(Some(&id)).await?);
                health.extend(self.store.health_list(Some(&id)).await?);
            }
        }
        let mut plans = Vec::new();
        let mut failures = Vec::new();
        let last = self
            .plan_configs(&page, &live, &health, &mut plans, &mut failures)
            .await?;
        let full = u64::try_from(page.len()).unwrap_or(u64::MAX) >= limit;
        Ok(PlanPage {
            plans,
            failures,
            next: last.filter(|_| full),
        })
    }

    /// Plans every environment of the customers of `page` into `plans` (or their error into
    /// `failures`); the id of the page's last customer, `None` for an empty page.
    async fn plan_configs(
        &self,
        page: &[StoredConfig],
        live: &[DeploymentRecord],
        health: &[HealthRecord],
        plans: &mut Vec<EnvironmentPlan>,
        failures: &mut Vec<(CustomerId, ControlError)>,
    ) -> Result<Option<CustomerId>, ControlError> {
        let Some(last) = page.last() else {
            return Ok(None);
        };
        let next: CustomerId = last
            .spec
            .id
            .parse()
            .map_err(|e| ControlError::BadRequest(format!("stored customer id: {e}")))?;
        for stored in page {
            let id: CustomerId = match stored.spec.id.parse() {
                Ok(id) => id,
                Err(_) => continue,
            };
            let outcome = self.plan_customer(stored, live, health, None).await;
            match outcome {
                Ok(p) => plans.extend(p),
                Err(e) => failures.push((id, e)),
            }
        }
        Ok(Some(next))
    }

    /// The plans of one customer's environments (all of them, or `only`), given the live
    /// deployments and health records of (at least) this customer.
    async fn plan_customer(
        &self,
        stored: &StoredConfig,
        live: &[DeploymentRecord],
        health: &[HealthRecord],
        only: Option<&Environment>,
    ) -> Result<Vec<EnvironmentPlan>, ControlError> {
        let config = self.validated(stored)?;
        let id = &config.customer.id;
        if let Some(env) = only
            && !config.has_environment(env)
        {
            return Err(ControlError::NotFound {
                resource: format!("environment `{env}` of customer `{id}`"),
            });
        }
        let delivery = self.delivery_settings(id).await?;
        let routes = self.store.routes(id).await?;
        let mut plans = Vec::new();
        for env in &config.environments {
            if only.is_some_and(|e| e != env) {
                continue;
            }
            let live = live
                .iter()
                .find(|d| &d.customer == id && &d.environment == env);
            let health = live.and_then(|l| health.iter().find(|h| h.probe.deployment_id == l.id));
            plans.push(
                self.plan_environment(stored, &config, env, (&delivery, &routes), live, health)
                    .await?,
            );
        }
        Ok(plans)
    }

    async fn plan_environment(
        &self,
        stored: &StoredConfig,
        config: &CustomerConfig,
        env: &Environment,
        (delivery, routes): (&Delivery, &[RouteRecord]),
        live: Option<&DeploymentRecord>,
        health: Option<&HealthRecord>,
    ) -> Result<EnvironmentPlan, ControlError> {
        let strategy = delivery.strategy;
        let destination = delivery.target.destination();
        let destination = destination.as_str();
        let routing = delivery
            .target
            .is_cloudflare()
            .then(|| crate::routing::route_status(delivery, env.clone(), routes));
        let project = self.generated(stored, config, env, self.target())?;
        let pending_secrets = secret_fingerprints(config, env);
        let rename_from = self
            .live_worker_name(&config.customer.id, env)
            .await?
            .filter(|live| live != &project.worker_name);
        let newest = self
            .store
            .deployment_list(&config.customer.id, Some(env), 1)
            .await?
            .into_iter()
            .next();
        let failed_attempt = newest.filter(|n| {
            matches!(
                n.status,
                DeploymentStatus::Failed | DeploymentStatus::RolledBackAutomatically
            ) && live.is_none_or(|l| n.id > l.id)
        });
        let (status, files, secrets) = match live {
            None => (
                if failed_attempt.is_some() {
                    SyncStatus::Failed
                } else {
                    SyncStatus::NeverDeployed
                },
                file_changes(&[], &project_files(&project)),
                secret_changes(&BTreeMap::new(), &pending_secrets),
            ),
            Some(live) => {
                let secrets = secret_changes(&live.secret_fingerprints, &pending_secrets);
                // Live elsewhere (another account or target) is not live here. Deployments
                // recorded before destinations were count as here.
                if live.content_hash == project.content_hash
                    && secrets.is_empty()
                    && live.destination.as_deref().is_none_or(|d| d == destination)
                    && routing.as_ref().is_none_or(|r| !r.pending)
                {
                    (SyncStatus::Synced, Vec::new(), secrets)
                } else {
                    let deployed = self.store.deployment_files(live.id).await?;
                    let files = file_changes(&deployed, &project_files(&project));
                    let status = if failed_attempt.is_some() {
                        SyncStatus::Failed
                    } else {
                        SyncStatus::OutOfSync
                    };
                    (status, files, secrets)
                }
            }
        };
        let drift = live.and(health).and_then(|h| h.probe.drift.clone());
        let status = if drift.is_some() {
            SyncStatus::Drifted
        } else {
            status
        };
        Ok(EnvironmentPlan {
            customer: config.customer.id.clone(),
            environment: env.clone(),
            revision: stored.revision,
            strategy,
            status,
            worker_name: project.worker_name,
            rename_from,
            content_hash: project.content_hash,
            live: live.map(DeploymentSummary::from),
            failed_attempt: failed_attempt.as_ref().map(DeploymentSummary::from),
            files,
            secrets,
            health: health.map(HealthSummary::from),
            drift,
            routing,
            events: event_forwarding(config, env),
        })
    }

    /// The target profile deploys generate for.
    pub fn target(&self) -> &'static TargetProfile {
        self.delivery.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
            .collect()
    }

    #[test]
    fn event_forwarding_names_the_api_or_what_it_lacks() {
        let spec: c15t_model::CustomerSpec = toml::from_str(
            r#"
            id = "cust_ev"
            name = "Events"
            environments = ["production", "staging"]
            [database]
            provider = "turso"
            url = "libsql://x.turso.io"
            auth_token = { env = "TURSO" }
            [[destinations]]
            id = "meta"
            name = "Meta"
            type = "meta-pixel"
            settings = { pixelId = "1234567890" }
            [[destinations]]
            id = "ga4"
            name = "GA4"
            type = "google-analytics"
            settings = { measurementId = "G-ABC123XYZ", apiSecret = { env = "GA4" } }
            [[destinations]]
            id = "hotjar"
            name = "Hotjar"
            type = "hotjar"
            settings = { siteId = "1234567" }
            [[destinations]]
            id = "posthog"
            name = "PostHog"
            type = "posthog"
            enabled = false
            settings = { apiKey = "phc_abc12345XYZ" }
            [[destinations]]
            id = "linkedin"
            name = "LinkedIn"
            type = "linkedin-insight"
            settings = { partnerId = "123456", accessToken = { env = "LI" } }
            [[destinations]]
            id = "tiktok-staging"
            name = "TikTok"
            type = "tiktok-pixel"
            environment = "staging"
            settings = { pixelId = "C4D45N9U9OSI64ECRUG0" }
            "#,
        )
        .expect("customer file");
        let config = spec
            .validate(&c15t_model::Catalogue::builtin())
            .expect("valid");
        let production = event_forwarding(&config, &Environment::production());
        let summary: Vec<(&str, EventsState, Vec<&str>)> = production
            .iter()
            .map(|e| (e.destination.as_str(), e.state, e.missing.clone()))
            .collect();
        // Hotjar has no server API and PostHog is disabled: neither is listed.
        assert_eq!(
            summary,
            [
                ("meta", EventsState::BrowserOnly, vec!["accessToken"]),
                ("ga4", EventsState::Forwards, vec![]),
                (
                    "linkedin",
                    EventsState::BrowserOnly,
                    vec!["conversionRuleId"]
                ),
            ]
        );
        assert_eq!(production[1].api, "GA4 Measurement Protocol");
        let staging = Environment::new("staging").expect("environment");
        let staging: Vec<String> = event_forwarding(&config, &staging)
            .into_iter()
            .map(|e| e.destination.to_string())
            .collect();
        assert_eq!(staging, ["meta", "ga4", "linkedin", "tiktok-staging"]);
    }

    #[test]
    fn file_changes_are_unified_diffs() {
        let deployed = files(&[("a.ts", "one\ntwo\n"), ("gone.txt", "x\n"), ("same", "s\n")]);
        let pending = files(&[
            ("a.ts", "one\nthree\n"),
            ("new.txt", "y\n"),
            ("same", "s\n"),
        ]);
        let changes = file_changes(&deployed, &pending);
        let summary: Vec<(&str, Change)> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.change))
            .collect();
        assert_eq!(
            summary,
            [
                ("a.ts", Change::Changed),
                ("gone.txt", Change::Removed),
                ("new.txt", Change::Added)
            ]
        );
        assert_eq!(
            changes[0].diff,
            "--- deployed/a.ts\n+++ pending/a.ts\n@@ -1,2 +1,2 @@\n one\n-two\n+three\n"
        );
    }

    #[test]
    fn secret_changes_compare_fingerprints() {
        let deployed: BTreeMap<String, String> = [("A", "fp1"), ("B", "fp2"), ("C", "fp3")]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        let pending: BTreeMap<String, String> = [("A", "fp1"), ("B", "fp9"), ("D", "fp4")]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        let changes = secret_changes(&deployed, &pending);
        let summary: Vec<(&str, Change)> = changes
            .iter()
            .map(|c| (c.binding.as_str(), c.change))
            .collect();
        assert_eq!(
            summary,
            [
                ("B", Change::Changed),
                ("C", Change::Removed),
                ("D", Change::Added)
            ]
        );
        assert_eq!(changes[0].deployed.as_deref(), Some("fp2"));
        assert_eq!(changes[0].pending.as_deref(), Some("fp9"));
    }
}

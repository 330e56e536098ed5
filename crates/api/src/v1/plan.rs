//! Plans: what each customer environment would deploy, compared with what is live (one
//! customer's, or the fleet's a page of customers at a time).

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use c15t_control::{
    Change, DeploymentSummary, EnvironmentPlan, EventForwarding, EventsState, FileChange,
    RouteStatus, SecretChange, SyncStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::delivery::{DomainOut, strategy_schema};
use super::health::{DriftOut, HealthSummaryOut};
use super::{CustomerIdParam, CustomerPath, EnvironmentParam, after_id, environment, link_next};
use crate::auth::{OperatorOnly, Scoped};
use crate::{ApiError, ApiState, ErrorBody, Query};

super::resource!(plan, fleet_plan);

/// Optional environment filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentQuery {
    /// One environment only.
    #[param(inline)]
    pub environment: Option<EnvironmentParam>,
}

/// One page of the fleet's plan, by customer in id order.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlanPageQuery {
    /// The plans of at most this many customers (default 20; more than 100 is taken as 100).
    #[param(minimum = 1)]
    pub limit: Option<u64>,
    /// Only customers whose id sorts after this one: the last customer of the previous page
    /// (the `Link: rel="next"` header gives the next page's URL).
    #[param(inline)]
    pub after: Option<CustomerIdParam>,
}

/// The plan of one customer environment: where it stands, and what a deploy would change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnvironmentPlanOut {
    /// The customer.
    pub customer: String,
    /// The environment.
    pub environment: String,
    /// The config revision planned.
    pub revision: u64,
    /// The customer's deployment strategy.
    #[schema(schema_with = strategy_schema)]
    pub strategy: String,
    /// Where the environment stands.
    pub status: SyncStatusOut,
    /// The worker's name (the one a deploy uses).
    pub worker_name: String,
    /// The name the live worker runs under when a deploy will rename it: the deploy brings up
    /// `worker_name` and deletes this one once the new worker answers healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rename_from: Option<String>,
    /// Content hash of the project the config generates.
    pub content_hash: String,
    /// The live deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<DeploymentSummaryOut>,
    /// The newest attempt, when it failed after (or without) the live one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_attempt: Option<DeploymentSummaryOut>,
    /// Files that differ from the live deployment's (all files when never deployed).
    pub files: Vec<FileChangeOut>,
    /// Secret bindings that differ from the live deployment's, by fingerprint.
    pub secrets: Vec<SecretChangeOut>,
    /// The live deployment's latest health probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSummaryOut>,
    /// How the live worker differs from the live deployment, as the latest probe saw it
    /// (then `status` is `drifted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftOut>,
    /// Where the worker answers (Cloudflare deploys only): the wanted routing, the applied
    /// one and the custom domain's state; `pending` routes make the environment out of sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<RouteStatusOut>,
    /// Which destinations forward server-side events and which are browser only.
    pub events: Vec<EventForwardingOut>,
}

impl From<EnvironmentPlan> for EnvironmentPlanOut {
    fn from(p: EnvironmentPlan) -> Self {
        Self {
            customer: p.customer.to_string(),
            environment: p.environment.to_string(),
            revision: p.revision,
            strategy: p.strategy.as_str().to_owned(),
            status: p.status.into(),
            worker_name: p.worker_name,
            rename_from: p.rename_from,
            content_hash: p.content_hash,
            live: p.live.map(Into::into),
            failed_attempt: p.failed_attempt.map(Into::into),
            files: p.files.into_iter().map(Into::into).collect(),
            secrets: p.secrets.into_iter().map(Into::into).collect(),
            health: p.health.map(Into::into),
            drift: p.drift.map(Into::into),
            routing: p.routing.map(Into::into),
            events: p.events.into_iter().map(Into::into).collect(),
        }
    }
}

/// Whether an environment runs what its config says: `synced`; `out_of_sync` (the config
/// generates something else than what is live); `never_deployed`; `failed` (the newest
/// attempt to deploy the current config failed); `drifted` (the worker on the platform is not
/// what was deployed; a deploy restores it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatusOut {
    /// The live deployment is what the config generates, with the same secrets.
    Synced,
    /// The config generates something else than what is live.
    OutOfSync,
    /// Nothing was ever deployed.
    NeverDeployed,
    /// The newest attempt to deploy the current config failed.
    Failed,
    /// The worker on the platform is not what was deployed.
    Drifted,
}

impl From<SyncStatus> for SyncStatusOut {
    fn from(s: SyncStatus) -> Self {
        match s {
            SyncStatus::Synced => Self::Synced,
            SyncStatus::OutOfSync => Self::OutOfSync,
            SyncStatus::NeverDeployed => Self::NeverDeployed,
            SyncStatus::Failed => Self::Failed,
            SyncStatus::Drifted => Self::Drifted,
        }
    }
}

/// How something changed between the live deployment and the config: `added` (only in the
/// config's version), `removed` (only in the live one) or `changed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOut {
    /// Only in the config's version.
    Added,
    /// Only in the live version.
    Removed,
    /// In both, different.
    Changed,
}

impl From<Change> for ChangeOut {
    fn from(c: Change) -> Self {
        match c {
            Change::Added => Self::Added,
            Change::Removed => Self::Removed,
            Change::Changed => Self::Changed,
        }
    }
}

/// One generated file that differs from the live deployment's.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileChangeOut {
    /// Path in the project.
    pub path: String,
    /// How it changed.
    pub change: ChangeOut,
    /// Unified diff (`--- deployed/<path>` / `+++ pending/<path>`), three lines of context.
    pub diff: String,
}

impl From<FileChange> for FileChangeOut {
    fn from(f: FileChange) -> Self {
        Self {
            path: f.path,
            change: f.change.into(),
            diff: f.diff,
        }
    }
}

/// One secret binding that differs from the live deployment's, by fingerprint (never by
/// value).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SecretChangeOut {
    /// Binding name, e.g. `META_PIXEL_ACCESS_TOKEN`.
    pub binding: String,
    /// How it changed.
    pub change: ChangeOut,
    /// Fingerprint of the live value (`null` when added).
    #[schema(required = true)]
    pub deployed: Option<String>,
    /// Fingerprint of the configured value (`null` when removed).
    #[schema(required = true)]
    pub pending: Option<String>,
}

impl From<SecretChange> for SecretChangeOut {
    fn from(s: SecretChange) -> Self {
        Self {
            binding: s.binding,
            change: s.change.into(),
            deployed: s.deployed,
            pending: s.pending,
        }
    }
}

/// A deployment, as plans show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeploymentSummaryOut {
    /// Deployment id.
    pub id: i64,
    /// Config revision deployed.
    pub revision: u64,
    /// Content hash deployed.
    pub content_hash: String,
    /// Status: `pending`, `running`, `succeeded`, `failed`, `rolled_back` or
    /// `rolled_back_automatically`.
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

impl From<DeploymentSummary> for DeploymentSummaryOut {
    fn from(d: DeploymentSummary) -> Self {
        Self {
            id: d.id,
            revision: d.revision,
            content_hash: d.content_hash,
            status: d.status,
            url: d.url,
            error: d.error,
            finished_at: d.finished_at,
        }
    }
}

/// Where an environment's worker answers, as last applied, beside what is wanted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouteStatusOut {
    /// The environment.
    pub environment: String,
    /// The routing the settings want.
    pub wanted: RoutingOut,
    /// Whether the worker answers on `workers.dev`, as last applied (absent: never applied;
    /// workers deployed before routing existed answer there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers_dev: Option<bool>,
    /// The custom domain as last attached, with its state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainOut>,
    /// Whether the next deploy changes the routes (the wanted differ from the applied, or
    /// the domain is in error).
    pub pending: bool,
}

impl From<RouteStatus> for RouteStatusOut {
    fn from(r: RouteStatus) -> Self {
        Self {
            environment: r.environment.to_string(),
            wanted: RoutingOut {
                hostname: r.wanted.hostname,
                zone_id: r.wanted.zone_id,
                workers_dev: r.wanted.workers_dev,
            },
            workers_dev: r.workers_dev,
            domain: r.domain.as_ref().map(DomainOut::from),
            pending: r.pending,
        }
    }
}

/// The routing of one environment, as the settings want it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoutingOut {
    /// A hostname on one of the customer's Cloudflare zones, attached as a Workers custom
    /// domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The zone holding the hostname (32 hex digits), if the settings name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Whether the worker also answers on `workers.dev`.
    pub workers_dev: bool,
}

/// Whether a destination's worker forwards server-side events: `forwards` (its vendor's
/// server API gets the events whose purpose the subject granted) or `browser_only` (its
/// server API lacks a setting: only the browser pixel runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventsStateOut {
    /// Its vendor's server API gets the events whose purpose the subject granted.
    Forwards,
    /// Its server API lacks a setting (its secret): only the browser pixel runs.
    BrowserOnly,
}

impl From<EventsState> for EventsStateOut {
    fn from(s: EventsState) -> Self {
        match s {
            EventsState::Forwards => Self::Forwards,
            EventsState::BrowserOnly => Self::BrowserOnly,
        }
    }
}

/// Server-side events of one enabled destination whose kind has a server API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventForwardingOut {
    /// The destination.
    pub destination: String,
    /// Its kind's slug.
    pub kind: String,
    /// The vendor API events go to, e.g. `Meta Conversions API`.
    pub api: String,
    /// Whether it forwards.
    pub state: EventsStateOut,
    /// The settings the API needs that are not set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl From<EventForwarding> for EventForwardingOut {
    fn from(e: EventForwarding) -> Self {
        Self {
            destination: e.destination.to_string(),
            kind: e.kind.to_owned(),
            api: e.api.to_owned(),
            state: e.state.into(),
            missing: e.missing.into_iter().map(str::to_owned).collect(),
        }
    }
}

/// The fleet's plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FleetPlanOut {
    /// Each customer environment's plan.
    pub plans: Vec<EnvironmentPlanOut>,
    /// Customers whose stored config could not be planned.
    pub failures: Vec<FleetFailureOut>,
}

/// A customer the fleet plan could not cover.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FleetFailureOut {
    /// The customer.
    pub customer: String,
    /// Why.
    pub error: String,
}

/// What each of the customer's environments would deploy, compared with what is live.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/plan", tag = "deploy",
    params(CustomerPath, EnvironmentQuery),
    responses(
        (status = 200, description = "One plan per environment: status, file diffs, secret changes by fingerprint", body = Vec<EnvironmentPlanOut>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn plan(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    Query(query): Query<EnvironmentQuery>,
) -> Result<Response, ApiError> {
    let env = query
        .environment
        .as_ref()
        .map(|e| environment(e.as_str()))
        .transpose()?;
    let plans: Vec<EnvironmentPlanOut> = state
        .control()
        .plan(&id, env.as_ref())
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(plans).into_response())
}

/// The plan of every customer's every environment (operators only), a page of customers (at
/// most 100) at a time, in id order.
#[utoipa::path(get, path = "/api/v1/plan", tag = "deploy",
    params(PlanPageQuery),
    responses(
        (status = 200, body = FleetPlanOut, headers(("Link" = String, description = "`<...?limit=N&after=ID>; rel=\"next\"` when the page is full: the next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn fleet_plan(
    _: OperatorOnly,
    State(state): State<ApiState>,
    Query(query): Query<PlanPageQuery>,
) -> Result<Response, ApiError> {
    let after = after_id(query.after.as_ref())?;
    let limit = query
        .limit
        .unwrap_or(20)
        .clamp(1, c15t_control::PLAN_PAGE_MAX);
    let page = state.control().plan_page(after.as_ref(), limit).await?;
    let mut response = Json(FleetPlanOut {
        plans: page.plans.into_iter().map(Into::into).collect(),
        failures: page
            .failures
            .into_iter()
            .map(|(customer, error)| FleetFailureOut {
                customer: customer.to_string(),
                error: error.to_string(),
            })
            .collect(),
    })
    .into_response();
    link_next(&mut response, "/api/v1/plan", limit, page.next.as_ref());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use c15t_control::{
        Change, DeploymentSummary, DomainStatus, EnvironmentPlan, EventForwarding, EventsState,
        FileChange, HealthSummary, RouteStatus, SecretChange, SyncStatus,
    };
    use c15t_model::{CustomerId, DestinationId, Environment, Routing, Strategy};

    use super::super::health::tests::{at, drifts};
    use super::super::tests::assert_same_json;
    use super::EnvironmentPlanOut;

    /// A plan with every optional part, and one with none of them.
    fn plans() -> Vec<EnvironmentPlan> {
        let [drift, _] = drifts();
        let live = DeploymentSummary {
            id: 12,
            revision: 6,
            content_hash: "sha256:9f86d081884c7d65".to_owned(),
            status: "succeeded".to_owned(),
            url: Some("https://c15t-cust-a.example.workers.dev".to_owned()),
            error: None,
            finished_at: Some(at(30)),
        };
        let full = EnvironmentPlan {
            customer: CustomerId::new("cust_a").unwrap(),
            environment: Environment::production(),
            revision: 7,
            strategy: Strategy::Automatic,
            status: SyncStatus::Drifted,
            worker_name: "c15t-cust-a".to_owned(),
            rename_from: Some("c15t-cust_a".to_owned()),
            content_hash: "sha256:60303ae22b998861".to_owned(),
            live: Some(live.clone()),
            failed_attempt: Some(DeploymentSummary {
                id: 13,
                revision: 7,
                status: "failed".to_owned(),
                url: None,
                error: Some("Cloudflare answered 403".to_owned()),
                finished_at: None,
                ..live
            }),
            files: vec![
                FileChange {
                    path: "src/index.ts".to_owned(),
                    change: Change::Changed,
                    diff: "--- deployed/src/index.ts\n+++ pending/src/index.ts\n".to_owned(),
                },
                FileChange {
                    path: "src/new.ts".to_owned(),
                    change: Change::Added,
                    diff: String::new(),
                },
                FileChange {
                    path: "src/old.ts".to_owned(),
                    change: Change::Removed,
                    diff: String::new(),
                },
            ],
            secrets: vec![
                SecretChange {
                    binding: "META_PIXEL_ACCESS_TOKEN".to_owned(),
                    change: Change::Added,
                    deployed: None,
                    pending: Some("hmac-sha256:0123".to_owned()),
                },
                SecretChange {
                    binding: "GA4_API_SECRET".to_owned(),
                    change: Change::Removed,
                    deployed: Some("hmac-sha256:4567".to_owned()),
                    pending: None,
                },
            ],
            health: Some(HealthSummary {
                up: false,
                latency_ms: Some(310),
                error: Some("status 500".to_owned()),
                consecutive_failures: 2,
                checked_at: at(90),
            }),
            drift: Some(drift),
            routing: Some(RouteStatus {
                environment: Environment::production(),
                wanted: Routing {
                    hostname: Some("consent.example.com".to_owned()),
                    zone_id: Some("0123456789abcdef0123456789abcdef".to_owned()),
                    workers_dev: false,
                },
                workers_dev: Some(true),
                domain: Some(DomainStatus {
                    hostname: "consent.example.com".to_owned(),
                    state: "pending",
                    message: Some("no answer yet".to_owned()),
                    zone_name: Some("example.com".to_owned()),
                }),
                pending: true,
            }),
            events: vec![
                EventForwarding {
                    destination: DestinationId::new("meta").unwrap(),
                    kind: "meta-pixel",
                    api: "Meta Conversions API",
                    state: EventsState::BrowserOnly,
                    missing: vec!["accessToken"],
                },
                EventForwarding {
                    destination: DestinationId::new("ga4").unwrap(),
                    kind: "google-analytics",
                    api: "GA4 Measurement Protocol",
                    state: EventsState::Forwards,
                    missing: Vec::new(),
                },
            ],
        };
        let bare = EnvironmentPlan {
            environment: Environment::new("staging").unwrap(),
            strategy: Strategy::Manual,
            status: SyncStatus::NeverDeployed,
            worker_name: "c15t-cust-a-staging".to_owned(),
            rename_from: None,
            live: None,
            failed_attempt: None,
            files: Vec::new(),
            secrets: Vec::new(),
            health: None,
            drift: None,
            routing: Some(RouteStatus {
                environment: Environment::new("staging").unwrap(),
                wanted: Routing::default(),
                workers_dev: None,
                domain: None,
                pending: false,
            }),
            events: Vec::new(),
            ..full.clone()
        };
        let mut plans = vec![full, bare];
        for (status, strategy) in [
            (SyncStatus::Synced, Strategy::Notify),
            (SyncStatus::OutOfSync, Strategy::Gitops),
            (SyncStatus::Failed, Strategy::Manual),
        ] {
            plans.push(EnvironmentPlan {
                status,
                strategy,
                routing: None,
                ..plans[1].clone()
            });
        }
        plans
    }

    #[test]
    fn plans_are_answered_as_the_control_plane_serialises_them() {
        let plans = plans();
        let answered: Vec<EnvironmentPlanOut> = plans.iter().cloned().map(Into::into).collect();
        assert_same_json(&plans, &answered);
    }
}

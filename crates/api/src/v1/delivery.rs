//! Delivery settings: the deployment strategy, the deploy target, the webhook endpoint, the
//! rollout and each environment's routing (secrets as fingerprints).

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use c15t_control::{DeliveryPatch, DeliveryView, DomainStatus, RouteStatus, Secret};
use c15t_model::{DeployTarget, WebhookEndpoint};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::Object;

use super::{CustomerPath, SecretState, nullable, one_of};
use crate::auth::Scoped;
use crate::{ApiError, ApiState, Body, ErrorBody};

super::resource!(delivery_get, delivery_update, strategy_set);

/// Delivery settings (strategy, deploy target, webhook endpoint), secrets as fingerprints.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryOut {
    /// `manual`, `automatic`, `notify` or `gitops`.
    pub strategy: String,
    /// The deploy target: `{"type": "none" | "file" | "webhook"}` or
    /// `{"type": "cloudflare", "account_id": "..."}`.
    pub target: DeployTargetOut,
    /// The webhook endpoint: `{"url", "enabled", "disabled_reason"?}`, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookOut>,
    /// How a Cloudflare release takes traffic: `{"mode": "immediate"}` or
    /// `{"mode": "gradual", "steps": [10, 50, 100], "dwell_secs": 60}`; absent when the
    /// operator's default applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// Where each environment's Cloudflare worker answers: its custom domain and the
    /// `workers.dev` switch, wanted and applied, with the domain's state.
    pub routing: Vec<RouteOut>,
    /// The Cloudflare API token (write-only).
    pub cloudflare_token: SecretState,
    /// The webhook signing secrets, newest first (write-only).
    pub webhook_secrets: Vec<SecretState>,
    /// A newly generated `whsec_` signing secret: present only in the answer to the change
    /// that created it, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_webhook_secret: Option<String>,
}

impl DeliveryOut {
    /// The settings as shown, with a new signing secret if one was just made.
    pub fn new(view: DeliveryView, new_webhook_secret: Option<String>) -> Self {
        Self {
            strategy: view.delivery.strategy.as_str().to_owned(),
            target: DeployTargetOut::from(view.delivery.target),
            webhook: view.delivery.webhook.map(WebhookOut::from),
            rollout: view.delivery.rollout.map(Rollout::from),
            routing: view.routes.iter().map(RouteOut::from).collect(),
            cloudflare_token: SecretState::fingerprint(view.cloudflare_token),
            webhook_secrets: view
                .webhook_secrets
                .into_iter()
                .map(|f| SecretState::fingerprint(Some(f)))
                .collect(),
            new_webhook_secret,
        }
    }
}

/// Where a customer's deploys go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeployTargetOut {
    /// Not configured: deploys fail with a message saying how to configure one.
    None,
    /// The customer's Cloudflare account (its API token is `cloudflare_token`).
    Cloudflare {
        /// The Cloudflare account id (32 hex digits).
        #[schema(pattern = "^[0-9a-fA-F]{32}$")]
        account_id: String,
    },
    /// The operator's file deploy root (self-hosting).
    File,
    /// The customer's webhook endpoint: each release is announced there, they deploy it.
    Webhook,
}

impl From<DeployTarget> for DeployTargetOut {
    fn from(target: DeployTarget) -> Self {
        match target {
            DeployTarget::None => Self::None,
            DeployTarget::Cloudflare { account_id } => Self::Cloudflare { account_id },
            DeployTarget::File => Self::File,
            DeployTarget::Webhook => Self::Webhook,
        }
    }
}

/// A customer's webhook endpoint (its signing secrets are `webhook_secrets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookOut {
    /// Where events are POSTed (`https://`).
    pub url: String,
    /// Whether events are sent; turned off when the endpoint answers 410 Gone.
    pub enabled: bool,
    /// Why it was turned off, when it was turned off automatically.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
}

impl From<WebhookEndpoint> for WebhookOut {
    fn from(w: WebhookEndpoint) -> Self {
        Self {
            url: w.url,
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
        }
    }
}

/// How a Cloudflare release takes traffic: all at once, or in increasing steps a dwell apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Rollout {
    /// All traffic at once.
    Immediate,
    /// Traffic in steps.
    Gradual {
        /// Percentages of traffic, increasing, ending at 100.
        steps: Vec<u8>,
        /// Seconds between steps.
        dwell_secs: u64,
    },
}

impl From<c15t_model::Rollout> for Rollout {
    fn from(rollout: c15t_model::Rollout) -> Self {
        match rollout {
            c15t_model::Rollout::Immediate => Self::Immediate,
            c15t_model::Rollout::Gradual { steps, dwell_secs } => {
                Self::Gradual { steps, dwell_secs }
            }
        }
    }
}

/// Where one environment's Cloudflare worker answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouteOut {
    /// The environment.
    pub environment: String,
    /// The custom domain the settings want, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The zone the settings name for it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Whether the settings want the worker on `workers.dev`.
    pub workers_dev: bool,
    /// Whether it answers on `workers.dev` as last deployed (absent: never deployed with
    /// routes; such workers answer there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_workers_dev: Option<bool>,
    /// The custom domain as last attached, with its state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainOut>,
    /// Whether the next deploy changes the routes.
    pub pending: bool,
}

/// A custom domain's state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DomainOut {
    /// The hostname.
    pub hostname: String,
    /// `pending` (attached, not answering yet), `active` (answering) or `error`.
    pub state: String,
    /// Cloudflare's message, or the last probe's answer, when not active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The zone holding it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

impl From<&DomainStatus> for DomainOut {
    fn from(d: &DomainStatus) -> Self {
        Self {
            hostname: d.hostname.clone(),
            state: d.state.to_owned(),
            message: d.message.clone(),
            zone_name: d.zone_name.clone(),
        }
    }
}

impl From<&RouteStatus> for RouteOut {
    fn from(r: &RouteStatus) -> Self {
        Self {
            environment: r.environment.to_string(),
            hostname: r.wanted.hostname.clone(),
            zone_id: r.wanted.zone_id.clone(),
            workers_dev: r.wanted.workers_dev,
            applied_workers_dev: r.workers_dev,
            domain: r.domain.as_ref().map(DomainOut::from),
            pending: r.pending,
        }
    }
}

/// The routing of one environment, as a change sets it (replacing what was set).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingIn {
    /// A hostname on one of the customer's Cloudflare zones (`consent.example.com`), attached
    /// as a Workers custom domain; absent or `null` for none.
    #[serde(default)]
    pub hostname: Option<String>,
    /// The zone holding the hostname (32 hex digits); Cloudflare finds it when absent.
    #[serde(default)]
    pub zone_id: Option<String>,
    /// Whether the worker answers on `workers.dev` too (default `true`; `false` needs a
    /// hostname).
    #[serde(default = "yes")]
    pub workers_dev: bool,
}

fn yes() -> bool {
    true
}

/// Changes to the delivery settings; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryUpdate {
    /// `manual`, `automatic`, `notify` or `gitops`.
    #[schema(schema_with = strategy_or_null_schema)]
    pub strategy: Option<c15t_model::Strategy>,
    /// The deploy target, e.g. `{"type": "cloudflare", "account_id": "..."}`.
    #[schema(schema_with = target_or_null_schema)]
    pub target: Option<c15t_model::DeployTarget>,
    /// A new Cloudflare API token (write-only).
    pub cloudflare_token: Option<String>,
    /// The webhook URL; `null` removes the endpoint and its secrets.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub webhook_url: Option<Option<String>>,
    /// Re-enable a disabled webhook endpoint.
    #[serde(default)]
    pub webhook_enable: bool,
    /// Start a signing-secret rotation (the new secret is in the answer, once).
    #[serde(default)]
    pub rotate_webhook_secret: bool,
    /// Finish a rotation.
    #[serde(default)]
    pub retire_old_webhook_secrets: bool,
    /// How a Cloudflare release takes traffic: `{"mode": "immediate"}` or
    /// `{"mode": "gradual", "steps": [10, 50, 100], "dwell_secs": 60}` (steps increasing,
    /// ending at 100); `null` follows the operator's default.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Rollout>)]
    pub rollout: Option<Option<c15t_model::Rollout>>,
    /// Routing by environment name: each environment listed gets this routing (`{}` is the
    /// default, `workers.dev` only); environments not listed keep theirs.
    #[serde(default)]
    pub routing: Option<BTreeMap<String, RoutingIn>>,
}

/// A strategy to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyUpdate {
    /// `manual`, `automatic`, `notify` or `gitops`.
    #[schema(schema_with = strategy_schema)]
    pub strategy: c15t_model::Strategy,
}

fn strategies() -> Vec<&'static str> {
    c15t_model::Strategy::ALL
        .iter()
        .map(|s| s.as_str())
        .collect()
}

const STRATEGY: &str = "What happens after a change: `automatic` deploys, `manual` waits for a \
                        deploy, `notify` sends a signed webhook, `gitops` (pending, as manual).";

/// A deployment strategy (the model's names).
pub(super) fn strategy_schema() -> Object {
    super::enum_schema(STRATEGY, strategies())
}

fn strategy_or_null_schema() -> Object {
    one_of(STRATEGY, strategies())
}

/// `{"type": "none" | "file" | "webhook"}` or `{"type": "cloudflare", "account_id": <32 hex>}`,
/// or `null` (unchanged).
fn target_or_null_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{
        AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
    };
    let kind = |values: Vec<&str>| {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(values))
            .build()
    };
    let plain = ObjectBuilder::new()
        .property("type", kind(vec!["none", "file", "webhook"]))
        .required("type")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some(
            "No target, the file deploy root (self-hosting), or the customer's webhook.",
        ))
        .build();
    let cloudflare = ObjectBuilder::new()
        .property("type", kind(vec!["cloudflare"]))
        .property(
            "account_id",
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .pattern(Some("^[0-9a-fA-F]{32}$"))
                .description(Some("The Cloudflare account id (32 hex digits).")),
        )
        .required("type")
        .required("account_id")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some(
            "The customer's Cloudflare account (its API token is `cloudflare_token`).",
        ))
        .build();
    Schema::OneOf(
        OneOfBuilder::new()
            .item(plain)
            .item(cloudflare)
            .item(ObjectBuilder::new().schema_type(SchemaType::new(Type::Null)))
            .description(Some(
                "The deploy target; absent or `null` leaves it unchanged.",
            ))
            .build(),
    )
}

/// The delivery settings: strategy, deploy target, webhook endpoint (secrets as fingerprints).
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/delivery", tag = "delivery",
    params(CustomerPath),
    responses(
        (status = 200, body = DeliveryOut),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn delivery_get(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
) -> Result<Response, ApiError> {
    let view = state.control().delivery_show(&id).await?;
    Ok(Json(DeliveryOut::new(view, None)).into_response())
}

/// Changes the delivery settings. A new webhook signing secret is in the answer, once.
#[utoipa::path(patch, path = "/api/v1/customers/{customerId}/delivery", tag = "delivery",
    params(CustomerPath),
    request_body = DeliveryUpdate,
    responses(
        (status = 200, body = DeliveryOut),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn delivery_update(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    Body(body): Body<DeliveryUpdate>,
) -> Result<Response, ApiError> {
    let mut routing = Vec::new();
    for (environment, value) in body.routing.unwrap_or_default() {
        let environment = environment
            .parse::<c15t_model::Environment>()
            .map_err(|e| {
                ApiError::invalid_field(format!("routing.{environment}"), e.to_string())
            })?;
        let value = c15t_model::Routing {
            hostname: value.hostname,
            zone_id: value.zone_id,
            workers_dev: value.workers_dev,
        };
        routing.push((environment, value));
    }
    let patch = DeliveryPatch {
        routing,
        strategy: body.strategy,
        target: body.target,
        cloudflare_token: body.cloudflare_token.map(Secret::new),
        webhook_url: body.webhook_url,
        webhook_enable: body.webhook_enable,
        rotate_webhook_secret: body.rotate_webhook_secret,
        retire_old_webhook_secrets: body.retire_old_webhook_secrets,
        rollout: body.rollout,
    };
    let changed = state
        .control()
        .delivery_set(&principal.actor(), &id, patch)
        .await?;
    let new_secret = changed.new_webhook_secret.map(|s| s.expose().to_owned());
    Ok(Json(DeliveryOut::new(changed.view, new_secret)).into_response())
}

/// Sets the deployment strategy.
#[utoipa::path(put, path = "/api/v1/customers/{customerId}/strategy", tag = "delivery",
    params(CustomerPath),
    request_body = StrategyUpdate,
    responses(
        (status = 200, body = DeliveryOut),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn strategy_set(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    Body(body): Body<StrategyUpdate>,
) -> Result<Response, ApiError> {
    let view = state
        .control()
        .strategy_set(&principal.actor(), &id, body.strategy)
        .await?;
    Ok(Json(DeliveryOut::new(view, None)).into_response())
}

#[cfg(test)]
mod tests {
    use c15t_control::{DeliveryView, DomainStatus, RouteStatus};
    use c15t_model::{Delivery, DeployTarget, Environment, Routing, Strategy, WebhookEndpoint};

    use super::DeliveryOut;

    /// The target, webhook and rollout are answered as the model serialises them (they were
    /// `serde_json::to_value` of the model's values before they had types of their own).
    #[test]
    fn delivery_settings_keep_the_models_shapes() {
        let targets = [
            DeployTarget::None,
            DeployTarget::Cloudflare {
                account_id: "0123456789abcdef0123456789abcdef".to_owned(),
            },
            DeployTarget::File,
            DeployTarget::Webhook,
        ];
        let webhooks = [
            None,
            Some(WebhookEndpoint {
                url: "https://hooks.example.com/c15t".to_owned(),
                enabled: true,
                disabled_reason: None,
            }),
            Some(WebhookEndpoint {
                url: "https://hooks.example.com/gone".to_owned(),
                enabled: false,
                disabled_reason: Some("the endpoint answered 410 Gone".to_owned()),
            }),
        ];
        let rollouts = [
            None,
            Some(c15t_model::Rollout::Immediate),
            Some(c15t_model::Rollout::default()),
        ];
        for (i, target) in targets.into_iter().enumerate() {
            let delivery = Delivery {
                strategy: Strategy::Notify,
                target,
                webhook: webhooks[i % webhooks.len()].clone(),
                rollout: rollouts[i % rollouts.len()].clone(),
                routing: Default::default(),
            };
            let view = DeliveryView {
                delivery: delivery.clone(),
                cloudflare_token: Some("hmac-sha256:89ab".to_owned()),
                webhook_secrets: vec!["hmac-sha256:cdef".to_owned()],
                routes: vec![RouteStatus {
                    environment: Environment::production(),
                    wanted: Routing::default(),
                    workers_dev: Some(true),
                    domain: Some(DomainStatus {
                        hostname: "consent.example.com".to_owned(),
                        state: "active",
                        message: None,
                        zone_name: None,
                    }),
                    pending: false,
                }],
            };
            let out = serde_json::to_value(DeliveryOut::new(view, None)).unwrap();
            let model = serde_json::to_value(&delivery).unwrap();
            for key in ["target", "webhook", "rollout"] {
                assert_eq!(
                    serde_json::to_string(&out.get(key)).unwrap(),
                    serde_json::to_string(&model.get(key)).unwrap(),
                    "{key}"
                );
            }
        }
    }
}

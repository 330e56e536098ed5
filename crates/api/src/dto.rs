//! Request and response bodies of the REST API, with their OpenAPI schemas. Request bodies
//! refuse unknown fields; responses show secrets as `{"set": true, "fingerprint": ...}`, never
//! a value.

use std::collections::BTreeMap;

use c15t_control::{ApiToken, CustomerSummary};
use c15t_control::{CustomerView, DeliveryView};
use c15t_model::{DestinationSpec, RawValue, SecretRef};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A write-only secret as responses show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SecretState {
    /// Whether a value is stored.
    pub set: bool,
    /// `hmac-sha256:<32 hex>` of the value: tells a change without showing the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl SecretState {
    fn of(value: &RawValue) -> Option<Self> {
        match value {
            RawValue::Secret(SecretRef::Stored(fingerprint)) => Some(Self {
                set: true,
                fingerprint: Some(fingerprint.clone()),
            }),
            RawValue::Secret(SecretRef::Env(_)) => Some(Self {
                set: true,
                fingerprint: None,
            }),
            _ => None,
        }
    }

    fn fingerprint(fingerprint: Option<String>) -> Self {
        Self {
            set: fingerprint.is_some(),
            fingerprint,
        }
    }
}

/// One line of the customer list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerSummaryOut {
    /// Customer id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Current config revision.
    pub revision: u64,
    /// Number of destinations.
    pub destination_count: u64,
    /// When the config last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<CustomerSummary> for CustomerSummaryOut {
    fn from(c: CustomerSummary) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.display_name,
            revision: c.revision,
            destination_count: c.destination_count,
            updated_at: c.updated_at,
        }
    }
}

/// A customer's database binding.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DatabaseOut {
    /// Provider (`turso`).
    pub provider: String,
    /// Database URL.
    pub url: String,
    /// The auth token (write-only).
    pub auth_token: SecretState,
}

/// A customer and its destinations.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerOut {
    /// Customer id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Environments (`["production"]` when never set).
    pub environments: Vec<String>,
    /// Origins allowed to call the worker.
    pub trusted_origins: Vec<String>,
    /// c15t log level, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// The consent database.
    pub database: DatabaseOut,
    /// Destinations in order.
    pub destinations: Vec<DestinationOut>,
    /// Config revision: send it back as `If-Match` when changing the customer.
    pub revision: u64,
}

impl From<CustomerView> for CustomerOut {
    fn from(view: CustomerView) -> Self {
        let spec = view.spec;
        Self {
            id: spec.id,
            name: spec.name,
            environments: spec
                .environments
                .unwrap_or_else(|| vec![c15t_model::Environment::PRODUCTION.to_owned()]),
            trusted_origins: spec.trusted_origins,
            log_level: spec.log_level,
            database: DatabaseOut {
                provider: spec.database.provider,
                url: spec.database.url,
                auth_token: SecretState::of(&spec.database.auth_token).unwrap_or(SecretState {
                    set: false,
                    fingerprint: None,
                }),
            },
            destinations: spec
                .destinations
                .into_iter()
                .map(|d| DestinationOut::new(d, view.revision))
                .collect(),
            revision: view.revision,
        }
    }
}

/// A destination.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DestinationOut {
    /// Id, unique within the customer.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Catalogue slug, e.g. `meta-pixel`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether it runs.
    pub enabled: bool,
    /// The one environment it runs in (every environment when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Consent category, if not the kind's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Settings by key; secret settings as `{"set": true, "fingerprint": "..."}`.
    #[schema(value_type = Object)]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// The customer's config revision.
    pub revision: u64,
}

impl DestinationOut {
    /// The destination as shown, with the customer's `revision`.
    pub fn new(d: DestinationSpec, revision: u64) -> Self {
        let settings = d
            .settings
            .iter()
            .map(|(k, v)| {
                let shown = match SecretState::of(v) {
                    Some(secret) => serde_json::to_value(secret),
                    None => serde_json::to_value(v),
                };
                (k.clone(), shown.unwrap_or(serde_json::Value::Null))
            })
            .collect();
        Self {
            id: d.id,
            name: d.name,
            kind: d.kind,
            enabled: d.enabled,
            environment: d.environment,
            category: d.category,
            settings,
            revision,
        }
    }
}

/// A new customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerCreate {
    /// Customer id, e.g. `cust_abc123`.
    #[schema(pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")]
    pub id: String,
    /// Display name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Environments; `["production"]` when omitted.
    #[serde(default)]
    #[schema(schema_with = environments_or_null_schema)]
    pub environments: Option<Vec<String>>,
    /// Origins allowed to call the worker.
    #[serde(default)]
    #[schema(schema_with = origins_schema)]
    pub trusted_origins: Vec<String>,
    /// c15t log level.
    #[serde(default)]
    #[schema(schema_with = log_level_schema)]
    pub log_level: Option<String>,
    /// The consent database.
    pub database: DatabaseIn,
}

/// A database binding to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseIn {
    /// Database URL.
    #[schema(schema_with = database_url_schema)]
    pub url: String,
    /// The auth token (stored encrypted, never shown again).
    pub auth_token: String,
}

/// Changes to a customer; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerUpdate {
    /// New display name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// New environments.
    #[schema(schema_with = environments_or_null_schema)]
    pub environments: Option<Vec<String>>,
    /// New trusted origins.
    #[schema(schema_with = origins_or_null_schema)]
    pub trusted_origins: Option<Vec<String>>,
    /// New log level.
    #[schema(schema_with = log_level_schema)]
    pub log_level: Option<String>,
    /// New database URL.
    #[schema(schema_with = database_url_or_null_schema)]
    pub database_url: Option<String>,
    /// New database auth token (write-only).
    pub database_token: Option<String>,
    /// The secret that unlocks `POST /analytics/events?debug=1` on the customer's workers
    /// (write-only; at least 16 characters); `null` turns debug mode off.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 16)]
    pub events_debug_secret: Option<Option<String>>,
    /// The revision this change is based on (or send `If-Match`).
    pub revision: Option<u64>,
}

/// A new destination.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationCreate {
    /// Id, unique within the customer.
    #[schema(pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")]
    pub id: String,
    /// Display name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Catalogue slug, e.g. `meta-pixel`.
    #[serde(rename = "type")]
    #[schema(schema_with = kind_schema)]
    pub kind: String,
    /// Whether it runs (default `true`).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The one environment it runs in; every environment when absent.
    #[serde(default)]
    #[schema(pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,15}[a-z0-9])?$")]
    pub environment: Option<String>,
    /// Consent category; the kind's default when absent.
    #[serde(default)]
    #[schema(schema_with = category_schema)]
    pub category: Option<String>,
    /// Non-secret settings (strings, numbers, booleans).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Secret settings (write-only).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// The revision this change is based on (or send `If-Match`).
    #[serde(default)]
    pub revision: Option<u64>,
}

/// Changes to a destination; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationUpdate {
    /// New display name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// The one environment it runs in; `null` for every environment.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,15}[a-z0-9])?$")]
    pub environment: Option<Option<String>>,
    /// New consent category.
    #[schema(schema_with = category_schema)]
    pub category: Option<String>,
    /// Non-secret settings to set.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Settings to remove.
    #[serde(default)]
    pub unset: Vec<String>,
    /// Secret settings to set (write-only).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// The revision this change is based on (or send `If-Match`).
    pub revision: Option<u64>,
}

/// A field that distinguishes absent (`None`) from `null` (`Some(None)`).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Converts API settings into the model's values. Secret references are refused: secret
/// values go in `secrets`, and only the control plane makes references.
pub fn settings(
    prefix: &str,
    input: BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, RawValue>, crate::ApiError> {
    let mut out = BTreeMap::new();
    for (key, value) in input {
        let raw: RawValue = serde_json::from_value(value).map_err(|_| {
            crate::ApiError::invalid_field(
                format!("{prefix}.{key}"),
                "must be a string, a number or a boolean",
            )
        })?;
        if matches!(raw, RawValue::Secret(_)) {
            return Err(crate::ApiError::invalid_field(
                format!("{prefix}.{key}"),
                "secret values go in `secrets`, as plain strings",
            ));
        }
        out.insert(key, raw);
    }
    Ok(out)
}

/// Delivery settings (strategy, deploy target, webhook endpoint), secrets as fingerprints.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryOut {
    /// `manual`, `automatic`, `notify` or `gitops`.
    pub strategy: String,
    /// The deploy target: `{"type": "none" | "file" | "webhook"}` or
    /// `{"type": "cloudflare", "account_id": "..."}`.
    #[schema(value_type = Object)]
    pub target: serde_json::Value,
    /// The webhook endpoint: `{"url", "enabled", "disabled_reason"?}`, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub webhook: Option<serde_json::Value>,
    /// How a Cloudflare release takes traffic: `{"mode": "immediate"}` or
    /// `{"mode": "gradual", "steps": [10, 50, 100], "dwell_secs": 60}`; absent when the
    /// operator's default applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub rollout: Option<serde_json::Value>,
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
            target: serde_json::to_value(&view.delivery.target).unwrap_or(serde_json::Value::Null),
            webhook: view
                .delivery
                .webhook
                .as_ref()
                .and_then(|w| serde_json::to_value(w).ok()),
            rollout: view
                .delivery
                .rollout
                .as_ref()
                .and_then(|r| serde_json::to_value(r).ok()),
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

impl From<&c15t_control::RouteStatus> for RouteOut {
    fn from(r: &c15t_control::RouteStatus) -> Self {
        Self {
            environment: r.environment.to_string(),
            hostname: r.wanted.hostname.clone(),
            zone_id: r.wanted.zone_id.clone(),
            workers_dev: r.wanted.workers_dev,
            applied_workers_dev: r.workers_dev,
            domain: r.domain.as_ref().map(|d| DomainOut {
                hostname: d.hostname.clone(),
                state: d.state.to_owned(),
                message: d.message.clone(),
                zone_name: d.zone_name.clone(),
            }),
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
    #[schema(value_type = Option<Object>)]
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

/// An API token as listed (never its value).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenOut {
    /// Token id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The last four hex digits of its hash.
    pub hint: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (recorded at most about once a second).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiToken> for TokenOut {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id,
            name: t.name,
            hint: t.hint,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// A token just created: the value is shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenCreated {
    /// The token.
    #[serde(flatten)]
    pub record: TokenOut,
    /// The token's value (`c15t_...`): store it now, it is never shown again.
    pub token: String,
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    /// A name people recognise it by, e.g. `ci`: 1 to 100 characters, not only spaces, no
    /// control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
}

/// A deploy accepted into the job queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeployAccepted {
    /// The job that will deploy.
    pub job_id: i64,
    /// The customer.
    pub customer: String,
    /// The environment.
    pub environment: String,
}

/// The fleet's plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FleetPlanOut {
    /// Each customer environment's plan.
    #[schema(value_type = Vec<Object>)]
    pub plans: Vec<serde_json::Value>,
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

/// The API's own health.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// A string that is one of `values`, or `null` (as absent), described.
fn one_of(description: &str, values: Vec<&str>) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    let values = values
        .into_iter()
        .map(serde_json::Value::from)
        .chain([serde_json::Value::Null]);
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

/// `type` of a destination: a slug of the built-in catalogue.
fn kind_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    let slugs: Vec<&str> = c15t_model::Catalogue::builtin()
        .kinds()
        .iter()
        .map(|k| k.slug)
        .collect();
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .enum_values(Some(slugs))
        .description(Some(
            "Catalogue slug, e.g. `meta-pixel` (`GET /api/v1/catalogue` lists each with its \
             settings).",
        ))
        .build()
}

/// A consent category (c15t's purposes).
fn category_schema() -> utoipa::openapi::Object {
    one_of(
        "Consent category; the kind's default when absent.",
        c15t_model::ConsentCategory::ALL
            .iter()
            .map(|c| c.as_str())
            .collect(),
    )
}

/// A c15t log level.
fn log_level_schema() -> utoipa::openapi::Object {
    one_of(
        "c15t log level (`info` when never set).",
        c15t_model::LogLevel::ALL
            .iter()
            .map(|l| l.as_str())
            .collect(),
    )
}

/// An environment name, as the model's `Environment` checks it (`production`, `staging`).
pub const ENVIRONMENT_PATTERN: &str = r"^[a-z0-9](?:[a-z0-9_-]{0,15}[a-z0-9])?$";

/// A trusted origin's shape as the model's `TrustedOrigin` checks it: an optional scheme, an
/// optional leading `*.` wildcard, dot-separated host labels (or a bracketed IPv6 address) and
/// an optional port. The model also refuses what a pattern does not say: `javascript:`,
/// `data:`, `file:`, `blob:`, `about:` and `vbscript:` schemes, port 0 or over 65535, and
/// hosts over 253 characters.
pub const ORIGIN_PATTERN: &str = r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:(?:\*\.)?[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?(?:\.[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$";

/// A database URL as the model checks it: `libsql`, `https`, `http`, `wss` or `ws`, a host
/// name without credentials or a bracketed IPv6 address, an optional port, then an optional
/// path, query or fragment of printable ASCII without `"`, `<`, `>`, `\`, `^`, a backtick, `{`, `|` or `}` (a real URL parser checks
/// the rest). The model also refuses
/// what a pattern does not say: a malformed IPv6 address, port 0 or over 65535.
pub const DATABASE_URL_PATTERN: &str = r"^(?:libsql|https?|wss?)://(?:[a-zA-Z0-9_-][a-zA-Z0-9._-]*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?(?:[/?#][!#-;=?-\[\]_a-z~]*)?$";

fn string_schema(pattern: &str, nullable: bool, description: &str) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    let ty = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(ty)
        .pattern(Some(pattern))
        .description(Some(description))
        .build()
}

fn array_schema(
    item: utoipa::openapi::Object,
    min_items: usize,
    nullable: bool,
    description: &str,
) -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{SchemaType, Type};
    let ty = if nullable {
        SchemaType::from_iter([Type::Array, Type::Null])
    } else {
        SchemaType::new(Type::Array)
    };
    utoipa::openapi::schema::ArrayBuilder::new()
        .schema_type(ty)
        .items(item)
        .min_items((min_items > 0).then_some(min_items))
        .unique_items(true)
        .description(Some(description))
        .build()
}

fn environments_or_null_schema() -> utoipa::openapi::schema::Array {
    array_schema(
        string_schema(
            ENVIRONMENT_PATTERN,
            false,
            "An environment, e.g. `production`.",
        ),
        1,
        true,
        "Environments, each listed once: lowercase letters, digits, `-` and `_`, 1 to 17 \
         characters.",
    )
}

fn origins(nullable: bool) -> utoipa::openapi::schema::Array {
    array_schema(
        string_schema(
            ORIGIN_PATTERN,
            false,
            "An origin, e.g. `https://example.com`, `*.example.com` or `capacitor://localhost`.",
        ),
        0,
        nullable,
        "Origins allowed to call the worker, each listed once. Not allowed: `*` alone, paths, \
         credentials, `javascript:`/`data:`/`file:`/`blob:`/`about:`/`vbscript:` schemes.",
    )
}

fn origins_schema() -> utoipa::openapi::schema::Array {
    origins(false)
}

fn origins_or_null_schema() -> utoipa::openapi::schema::Array {
    origins(true)
}

const DATABASE_URL: &str = "The consent database's URL: `libsql://`, `https://`, `http://`, \
                            `wss://` or `ws://`, no credentials (the token is `auth_token`).";

fn database_url_schema() -> utoipa::openapi::Object {
    string_schema(DATABASE_URL_PATTERN, false, DATABASE_URL)
}

fn database_url_or_null_schema() -> utoipa::openapi::Object {
    string_schema(DATABASE_URL_PATTERN, true, DATABASE_URL)
}

fn strategies() -> Vec<&'static str> {
    c15t_model::Strategy::ALL
        .iter()
        .map(|s| s.as_str())
        .collect()
}

const STRATEGY: &str = "What happens after a change: `automatic` deploys, `manual` waits for a \
                        deploy, `notify` sends a signed webhook, `gitops` (pending, as manual).";

fn strategy_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .enum_values(Some(strategies()))
        .description(Some(STRATEGY))
        .build()
}

fn strategy_or_null_schema() -> utoipa::openapi::Object {
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

/// `DestinationCreate` with the catalogue in it: the struct's own schema, and one branch per
/// destination kind naming its settings (typed, with the catalogue's patterns, required where
/// the kind requires them) and its secret settings, so that a client reading the document knows
/// what each kind takes. `type` selects the branch.
pub fn destination_create_by_kind(
    base: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
) -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{
        AdditionalProperties, AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
    };
    let closed = || Some(AdditionalProperties::FreeForm(false));
    let mut kinds = OneOfBuilder::new();
    for kind in c15t_model::Catalogue::builtin().kinds() {
        let mut settings = ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Object))
            .additional_properties(closed());
        let mut secrets = ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Object))
            .additional_properties(closed());
        let (mut needs_settings, mut needs_secrets) = (false, false);
        for field in kind.fields {
            let description = format!("{}: {}", field.label, field.description);
            if field.secret {
                secrets = secrets.property(
                    field.key,
                    ObjectBuilder::new()
                        .schema_type(SchemaType::new(Type::String))
                        .min_length(Some(1))
                        .description(Some(description)),
                );
                if field.required {
                    secrets = secrets.required(field.key);
                    needs_secrets = true;
                }
                continue;
            }
            settings = settings.property(field.key, setting_schema(field, description));
            if field.required {
                settings = settings.required(field.key);
                needs_settings = true;
            }
        }
        let mut branch = ObjectBuilder::new()
            .title(Some(kind.slug))
            .property(
                "type",
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .enum_values(Some([kind.slug])),
            )
            .required("type")
            .property("settings", settings)
            .property("secrets", secrets)
            .description(Some(kind.display_name));
        if needs_settings {
            branch = branch.required("settings");
        }
        if needs_secrets {
            branch = branch.required("secrets");
        }
        kinds = kinds.item(branch);
    }
    Schema::AllOf(
        AllOfBuilder::new()
            .item(base)
            .item(kinds)
            .description(Some(
                "A new destination: `type` names a catalogue kind, `settings` its plain \
                 settings and `secrets` its secret ones (write-only, stored encrypted).",
            ))
            .build(),
    )
}

/// One plain setting of a kind, typed as the catalogue checks it.
fn setting_schema(
    field: &c15t_model::FieldSpec,
    description: String,
) -> utoipa::openapi::schema::Object {
    use c15t_model::FieldType;
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let text = |pattern: Option<&str>| {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .max_length(Some(c15t_model::SETTING_MAX))
            .pattern(pattern.map(str::to_owned))
    };
    let builder = match field.ty {
        FieldType::String => text(field.pattern.map(|p| p.regex)),
        // A URL's own pattern (if any) is the stricter rule; else the shape every URL has.
        FieldType::Url => text(Some(field.pattern.map_or(SETTING_URL_PATTERN, |p| p.regex))),
        FieldType::Enum(values) => ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(values.iter().copied())),
        FieldType::Bool => ObjectBuilder::new().schema_type(SchemaType::new(Type::Boolean)),
        FieldType::Number { integer, min, max } => ObjectBuilder::new()
            .schema_type(SchemaType::new(if integer {
                Type::Integer
            } else {
                Type::Number
            }))
            .minimum(min)
            .maximum(max),
    };
    builder.description(Some(description)).build()
}

/// A setting URL as the model checks it: `http` or `https`, a host without credentials, then
/// printable ASCII without `"`, `<`, `>`, `\`, `^`, a backtick, `{`, `|` or `}` (a real URL parser checks the rest).
const SETTING_URL_PATTERN: &str = r"^https?://(?:[a-zA-Z0-9_-][a-zA-Z0-9._-]*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?(?:[/?#][!#-;=?-\[\]_a-z~]*)?$";

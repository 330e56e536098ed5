//! Customers: the fleet's list (a page at a time), creation and deletion (operators only),
//! and one customer with its destinations.

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use c15t_control::{CustomerPatch, CustomerSummary, CustomerView, Secret};
use c15t_model::{CustomerId, CustomerSpec, DatabaseSpec, Environment, RawValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::Object;
use utoipa::openapi::schema::{Array, ArrayBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};

use super::destinations::DestinationOut;
use super::{
    CustomerIdParam, CustomerPath, IfMatch, IfMatchDeletion, SecretState, after_id,
    expected_revision, link_next, nullable, one_of, string_schema, tagged,
};
use crate::auth::{OperatorOnly, Scoped};
use crate::{ApiError, ApiState, Body, ErrorBody, Query};

super::resource!(
    customer_list,
    customer_create,
    customer_get,
    customer_update,
    customer_delete,
);

/// One page of customers, in id order.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CustomerPageQuery {
    /// At most this many customers (default 100; more than 500 is taken as 500).
    #[param(minimum = 1)]
    pub limit: Option<u64>,
    /// Only customers whose id sorts after this one: the `id` of the last customer of the
    /// previous page (the `Link: rel="next"` header gives the next page's URL).
    #[param(inline)]
    pub after: Option<CustomerIdParam>,
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
                .unwrap_or_else(|| vec![Environment::PRODUCTION.to_owned()]),
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

/// A new customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerCreate {
    /// Customer id, e.g. `cust_abc123`.
    #[schema(schema_with = customer_id_schema)]
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

/// A new customer's id, with the model's pattern.
fn customer_id_schema() -> Object {
    string_schema(
        CustomerId::PATTERN,
        false,
        "Customer id, e.g. `cust_abc123`.",
    )
}

/// A c15t log level.
fn log_level_schema() -> Object {
    one_of(
        "c15t log level (`info` when never set).",
        c15t_model::LogLevel::ALL
            .iter()
            .map(|l| l.as_str())
            .collect(),
    )
}

fn array_schema(item: Object, min_items: usize, nullable: bool, description: &str) -> Array {
    let ty = if nullable {
        SchemaType::from_iter([Type::Array, Type::Null])
    } else {
        SchemaType::new(Type::Array)
    };
    ArrayBuilder::new()
        .schema_type(ty)
        .items(item)
        .min_items((min_items > 0).then_some(min_items))
        .unique_items(true)
        .description(Some(description))
        .build()
}

fn environments_or_null_schema() -> Array {
    array_schema(
        string_schema(
            Environment::PATTERN,
            false,
            "An environment, e.g. `production`.",
        ),
        1,
        true,
        "Environments, each listed once: lowercase letters, digits, `-` and `_`, 1 to 17 \
         characters.",
    )
}

fn origins(nullable: bool) -> Array {
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

fn origins_schema() -> Array {
    origins(false)
}

fn origins_or_null_schema() -> Array {
    origins(true)
}

const DATABASE_URL: &str = "The consent database's URL: `libsql://`, `https://`, `http://`, \
                            `wss://` or `ws://`, no credentials (the token is `auth_token`).";

fn database_url_schema() -> Object {
    string_schema(DATABASE_URL_PATTERN, false, DATABASE_URL)
}

fn database_url_or_null_schema() -> Object {
    string_schema(DATABASE_URL_PATTERN, true, DATABASE_URL)
}

/// Answers with the customer as it is now (after a change).
async fn customer_now(
    state: &ApiState,
    id: &CustomerId,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let view = state.control().customer_show(id).await?;
    let revision = view.revision;
    Ok(tagged(status, revision, CustomerOut::from(view)))
}

/// Every customer (operators only), one page (at most 500) at a time, in id order.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers",
    params(CustomerPageQuery),
    responses(
        (status = 200, body = Vec<CustomerSummaryOut>, headers(("Link" = String, description = "`<...?limit=N&after=ID>; rel=\"next\"` when the page is full: the next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn customer_list(
    _: OperatorOnly,
    State(state): State<ApiState>,
    Query(query): Query<CustomerPageQuery>,
) -> Result<Response, ApiError> {
    let after = after_id(query.after.as_ref())?;
    let limit = query
        .limit
        .unwrap_or(100)
        .clamp(1, c15t_control::CUSTOMER_PAGE_MAX);
    let page = state.control().customer_page(after.as_ref(), limit).await?;
    let next = (u64::try_from(page.len()).unwrap_or(u64::MAX) >= limit)
        .then(|| page.last().map(|c| c.id.clone()))
        .flatten();
    let list: Vec<CustomerSummaryOut> = page.into_iter().map(Into::into).collect();
    let mut response = Json(list).into_response();
    link_next(&mut response, "/api/v1/customers", limit, next.as_ref());
    Ok(response)
}

/// Creates a customer without destinations (operators only).
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers",
    request_body = CustomerCreate,
    responses(
        (status = 201, body = CustomerOut, headers(("ETag" = String, description = "The revision"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn customer_create(
    OperatorOnly(principal): OperatorOnly,
    State(state): State<ApiState>,
    Body(body): Body<CustomerCreate>,
) -> Result<Response, ApiError> {
    let spec = CustomerSpec {
        events_debug_secret: None,
        id: body.id.clone(),
        name: body.name,
        environments: body.environments,
        trusted_origins: body.trusted_origins,
        log_level: body.log_level,
        database: DatabaseSpec {
            provider: "turso".to_owned(),
            url: body.database.url,
            auth_token: RawValue::Text(String::new()),
        },
        destinations: Vec::new(),
    };
    // An invalid id is reported by validation with its field path.
    state
        .control()
        .customer_add(
            &principal.actor(),
            spec,
            Secret::new(body.database.auth_token),
        )
        .await?;
    let id = CustomerId::new(&body.id).map_err(|e| ApiError::invalid_field("id", e.to_string()))?;
    state.changed(&id);
    customer_now(&state, &id, StatusCode::CREATED).await
}

/// One customer with its destinations.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}", tag = "customers",
    params(CustomerPath),
    responses(
        (status = 200, body = CustomerOut, headers(("ETag" = String, description = "The revision"))),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn customer_get(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
) -> Result<Response, ApiError> {
    customer_now(&state, &id, StatusCode::OK).await
}

/// Changes a customer's own fields.
#[utoipa::path(patch, path = "/api/v1/customers/{customerId}", tag = "customers",
    params(CustomerPath, IfMatch),
    request_body = CustomerUpdate,
    responses(
        (status = 200, body = CustomerOut, headers(("ETag" = String, description = "The revision"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn customer_update(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    headers: HeaderMap,
    Body(body): Body<CustomerUpdate>,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&headers, body.revision)?;
    let patch = CustomerPatch {
        name: body.name,
        environments: body.environments,
        trusted_origins: body.trusted_origins,
        log_level: body.log_level,
        database_url: body.database_url,
        database_token: body.database_token.map(Secret::new),
        events_debug_secret: body
            .events_debug_secret
            .map(|secret| secret.map(Secret::new)),
    };
    let result = state
        .control()
        .customer_edit(&principal.actor(), &id, patch, expected)
        .await;
    // Forgotten whatever the outcome: a failed write may still have committed (a
    // connection lost during COMMIT), and a cached revision must never outlive it.
    state.changed(&id);
    result?;
    customer_now(&state, &id, StatusCode::OK).await
}

/// Deletes a customer with its destinations, secrets and tokens (operators only; deployments
/// and the audit log stay).
#[utoipa::path(delete, path = "/api/v1/customers/{customerId}", tag = "customers",
    params(CustomerPath, IfMatchDeletion),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn customer_delete(
    OperatorOnly(principal): OperatorOnly,
    State(state): State<ApiState>,
    CustomerPath(customer): CustomerPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = principal.customer(&customer)?;
    let expected = expected_revision(&headers, None)?;
    let result = state
        .control()
        .customer_remove(&principal.actor(), &id, expected)
        .await;
    // Forgotten whatever the outcome: a failed write may still have committed (a
    // connection lost during COMMIT), and a cached revision must never outlive it.
    state.changed(&id);
    result?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

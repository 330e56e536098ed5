//! The REST API under `/api/v1`: thin handlers that check who may see what, call `Control`, and
//! shape the answer. Errors go through [`ApiError`].

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use c15t_control::{CustomerPatch, DeliveryPatch, DestinationPatch, Secret};
use c15t_model::{
    CustomerId, CustomerSpec, DatabaseSpec, DestinationId, DestinationSpec, Environment, RawValue,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{OperatorOnly, Scoped};
use crate::dto::{
    CustomerCreate, CustomerOut, CustomerSummaryOut, CustomerUpdate, DeliveryOut, DeliveryUpdate,
    DeployAccepted, DestinationCreate, DestinationOut, DestinationUpdate, FleetFailureOut,
    FleetPlanOut, StrategyUpdate, TokenCreate, TokenCreated, TokenOut, settings,
};
use crate::{ApiError, ApiState, Body, ErrorBody, Principal, Query};

/// The revision a change is based on: `If-Match: "<revision>"` (the `ETag` as given; `W/` and
/// the bare number are accepted too), else the body's `revision`. `If-Match: *` asks for no
/// revision check (RFC 9110: any current representation), and so does a request without
/// either.
fn expected_revision(headers: &HeaderMap, body: Option<u64>) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(body);
    };
    let invalid = || {
        ApiError::client(
            StatusCode::BAD_REQUEST,
            "invalid_if_match",
            "If-Match must be a revision as the ETag gave it, e.g. `\"7\"`, or `*`",
        )
    };
    let text = value.to_str().map_err(|_| invalid())?;
    if text == "*" {
        return Ok(None);
    }
    let digits = match text.strip_prefix("W/") {
        Some(weak) => quoted(weak).ok_or_else(invalid)?,
        None if text.starts_with('"') => quoted(text).ok_or_else(invalid)?,
        None => text,
    };
    revision_number(digits).map(Some).ok_or_else(invalid)
}

/// `t` without its surrounding double quotes, if it has them.
fn quoted(t: &str) -> Option<&str> {
    t.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
}

/// A revision as the `ETag` spells it: decimal, no sign, no leading zero, at most 19 digits
/// (the `If-Match` parameters' documented pattern says the same).
fn revision_number(digits: &str) -> Option<u64> {
    let well_formed = !digits.is_empty()
        && digits.len() <= 19
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if well_formed {
        digits.parse().ok()
    } else {
        None
    }
}

/// `body` as JSON with `ETag: "<revision>"`.
fn tagged(status: StatusCode, revision: u64, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(etag) = HeaderValue::try_from(format!("\"{revision}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

fn secrets(input: BTreeMap<String, String>) -> BTreeMap<String, Secret> {
    input
        .into_iter()
        .map(|(k, v)| (k, Secret::new(v)))
        .collect()
}

fn environment(text: &str) -> Result<Environment, ApiError> {
    Environment::new(text).map_err(|e| ApiError::invalid_id("environment", text, e))
}

/// The `destinationId` of a destination's path, checked as an id: a malformed one is a 400
/// that shows at most a short prefix of it.
#[derive(Debug)]
pub struct DestinationPath(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for DestinationPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let Path((_customer, destination)) =
            Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::bad_request(e.body_text()))?;
        DestinationId::new(destination.as_str())
            .map_err(|e| ApiError::invalid_id("destinationId", &destination, e))?;
        Ok(Self(destination))
    }
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

/// Answers with one destination as it is now (after a change).
async fn destination_now(
    state: &ApiState,
    customer: &CustomerId,
    id: &str,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let view = state.control().customer_show(customer).await?;
    let destination = view
        .spec
        .destinations
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "destination `{id}` of customer `{customer}` does not exist"
            ))
        })?;
    Ok(tagged(
        status,
        view.revision,
        DestinationOut::new(destination, view.revision),
    ))
}

/// Optional environment filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentQuery {
    /// One environment only.
    #[param(pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,15}[a-z0-9])?$")]
    pub environment: Option<String>,
}

/// Listing limits.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// One environment only.
    #[param(pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,15}[a-z0-9])?$")]
    pub environment: Option<String>,
    /// At most this many entries (default 50, at most 1000).
    pub limit: Option<u64>,
}

/// One page of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// At most this many entries (default 50; more than 200 is taken as 200).
    #[param(minimum = 1)]
    pub limit: Option<u64>,
    /// Only entries older than this entry id: the `id` of the last entry of the previous page
    /// (the `Link: rel="next"` header gives the next page's URL).
    pub before: Option<i64>,
}

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
    #[param(pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")]
    pub after: Option<String>,
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
    #[param(pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")]
    pub after: Option<String>,
}

/// `after` as a customer id (400 `invalid_parameter` otherwise).
fn after_id(after: Option<&str>) -> Result<Option<CustomerId>, ApiError> {
    after
        .map(|sent| CustomerId::new(sent).map_err(|e| ApiError::invalid_id("after", sent, e)))
        .transpose()
}

/// `Link: <path?limit=N&after=ID>; rel="next"` on `response` when there is a next page.
fn link_next(response: &mut Response, path: &str, limit: u64, next: Option<&CustomerId>) {
    if let Some(next) = next
        && let Ok(link) = HeaderValue::from_str(&format!(
            "<{path}?limit={limit}&after={next}>; rel=\"next\""
        ))
    {
        response.headers_mut().insert(header::LINK, link);
    }
}

/// Whether to deploy synchronously.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeployQuery {
    /// Deploy now and answer with the result, instead of enqueueing a job (202).
    #[serde(default)]
    pub wait: bool,
}

fn limit(limit: Option<u64>) -> u64 {
    limit.unwrap_or(50).clamp(1, 1000)
}

// ---------------------------------------------------------------------------------------------
// Catalogue

/// The destination kinds and their settings.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "catalogue",
    responses(
        (status = 200, description = "Every destination kind with its settings", body = Vec<Object>),
        (status = 401, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn catalogue(_principal: Principal, State(state): State<ApiState>) -> Response {
    Json(c15t_control::catalogue_json(state.control().catalogue())).into_response()
}

// ---------------------------------------------------------------------------------------------
// Customers

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
    let after = after_id(query.after.as_deref())?;
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
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")),
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
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("If-Match" = Option<String>, Header, description = "The revision the change is based on, as the `ETag` gave it (`\"7\"`); `*` for any", pattern = r#"^(?:\*|(?:W/)?"(?:0|[1-9][0-9]{0,18})"|(?:0|[1-9][0-9]{0,18}))$"#)),
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
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("If-Match" = Option<String>, Header, description = "The revision the deletion is based on, as the `ETag` gave it (`\"7\"`); `*` for any", pattern = r#"^(?:\*|(?:W/)?"(?:0|[1-9][0-9]{0,18})"|(?:0|[1-9][0-9]{0,18}))$"#)),
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
    Path(customer): Path<String>,
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

// ---------------------------------------------------------------------------------------------
// Destinations

/// A customer's destinations.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/destinations", tag = "destinations",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")),
    responses(
        (status = 200, body = Vec<DestinationOut>, headers(("ETag" = String, description = "The revision"))),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_list(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
) -> Result<Response, ApiError> {
    let view = state.control().customer_show(&id).await?;
    let revision = view.revision;
    let list: Vec<DestinationOut> = view
        .spec
        .destinations
        .into_iter()
        .map(|d| DestinationOut::new(d, revision))
        .collect();
    Ok(tagged(StatusCode::OK, revision, list))
}

/// Adds a destination; secret settings go in `secrets` and are stored encrypted.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/destinations", tag = "destinations",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("If-Match" = Option<String>, Header, description = "The revision the change is based on, as the `ETag` gave it (`\"7\"`); `*` for any", pattern = r#"^(?:\*|(?:W/)?"(?:0|[1-9][0-9]{0,18})"|(?:0|[1-9][0-9]{0,18}))$"#)),
    request_body = DestinationCreate,
    responses(
        (status = 201, body = DestinationOut, headers(("ETag" = String, description = "The revision"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_create(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    headers: HeaderMap,
    Body(body): Body<DestinationCreate>,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&headers, body.revision)?;
    let destination = DestinationSpec {
        id: body.id.clone(),
        name: body.name,
        kind: body.kind,
        enabled: body.enabled.unwrap_or(true),
        environment: body.environment,
        category: body.category,
        settings: settings("settings", body.settings)?,
    };
    let result = state
        .control()
        .destination_add(
            &principal.actor(),
            &id,
            destination,
            secrets(body.secrets),
            expected,
        )
        .await;
    // Forgotten whatever the outcome: a failed write may still have committed (a
    // connection lost during COMMIT), and a cached revision must never outlive it.
    state.changed(&id);
    result?;
    destination_now(&state, &id, &body.id, StatusCode::CREATED).await
}

/// One destination.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/destinations/{destinationId}", tag = "destinations",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("destinationId" = String, Path, description = "The destination's id", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")),
    responses(
        (status = 200, body = DestinationOut, headers(("ETag" = String, description = "The revision"))),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_get(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
) -> Result<Response, ApiError> {
    destination_now(&state, &id, &destination, StatusCode::OK).await
}

async fn edit_destination(
    principal: &Principal,
    state: &ApiState,
    id: &CustomerId,
    destination: &str,
    patch: DestinationPatch,
    expected: Option<u64>,
) -> Result<Response, ApiError> {
    let result = state
        .control()
        .destination_edit(&principal.actor(), id, destination, patch, expected)
        .await;
    // Forgotten whatever the outcome: a failed write may still have committed (a
    // connection lost during COMMIT), and a cached revision must never outlive it.
    state.changed(id);
    result?;
    destination_now(state, id, destination, StatusCode::OK).await
}

/// Changes a destination.
#[utoipa::path(patch, path = "/api/v1/customers/{customerId}/destinations/{destinationId}", tag = "destinations",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("destinationId" = String, Path, description = "The destination's id", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$"),
        ("If-Match" = Option<String>, Header, description = "The revision the change is based on, as the `ETag` gave it (`\"7\"`); `*` for any", pattern = r#"^(?:\*|(?:W/)?"(?:0|[1-9][0-9]{0,18})"|(?:0|[1-9][0-9]{0,18}))$"#)),
    request_body = DestinationUpdate,
    responses(
        (status = 200, body = DestinationOut, headers(("ETag" = String, description = "The revision"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_update(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
    headers: HeaderMap,
    Body(body): Body<DestinationUpdate>,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&headers, body.revision)?;
    let patch = DestinationPatch {
        name: body.name,
        enabled: body.enabled,
        environment: body.environment,
        category: body.category,
        set: settings("settings", body.settings)?,
        unset: body.unset,
        secrets: secrets(body.secrets),
    };
    edit_destination(&principal, &state, &id, &destination, patch, expected).await
}

/// Enables a destination.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/destinations/{destinationId}/enable", tag = "destinations",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("destinationId" = String, Path, description = "The destination's id", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$"),
        ("If-Match" = Option<String>, Header, description = "The revision the change is based on, as the `ETag` gave it (`\"7\"`); `*` for any", pattern = r#"^(?:\*|(?:W/)?"(?:0|[1-9][0-9]{0,18})"|(?:0|[1-9][0-9]{0,18}))$"#)),
    responses(
        (status = 200, body = DestinationOut, headers(("ETag" = String, description = "The revision"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_enable(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&headers, None)?;
    let patch = DestinationPatch {
        enabled: Some(true),
        ..DestinationPatch::default()
    };
    edit_destination(&principal, &state, &id, &destination, patch, expected).await
}

/// Disables a destination.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/destinations/{destinationId}/disable", tag = "destinations",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("destinationId" = String, Path, description = "The destination's id", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$"),
        ("If-Match" = Option<String>, Header, description = "The revision the change is based on, as the `ETag` gave it (`\"7\"`); `*` for any", pattern = r#"^(?:\*|(?:W/)?"(?:0|[1-9][0-9]{0,18})"|(?:0|[1-9][0-9]{0,18}))$"#)),
    responses(
        (status = 200, body = DestinationOut, headers(("ETag" = String, description = "The revision"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_disable(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&headers, None)?;
    let patch = DestinationPatch {
        enabled: Some(false),
        ..DestinationPatch::default()
    };
    edit_destination(&principal, &state, &id, &destination, patch, expected).await
}

/// Removes a destination and its secrets.
#[utoipa::path(delete, path = "/api/v1/customers/{customerId}/destinations/{destinationId}", tag = "destinations",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("destinationId" = String, Path, description = "The destination's id", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$"),
        ("If-Match" = Option<String>, Header, description = "The revision the change is based on, as the `ETag` gave it (`\"7\"`); `*` for any", pattern = r#"^(?:\*|(?:W/)?"(?:0|[1-9][0-9]{0,18})"|(?:0|[1-9][0-9]{0,18}))$"#)),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_delete(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&headers, None)?;
    let result = state
        .control()
        .destination_remove(&principal.actor(), &id, &destination, expected)
        .await;
    // Forgotten whatever the outcome: a failed write may still have committed (a
    // connection lost during COMMIT), and a cached revision must never outlive it.
    state.changed(&id);
    result?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// Plan, deploy, deployments, rollback

fn json_value(value: impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// What each of the customer's environments would deploy, compared with what is live.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/plan", tag = "deploy",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), EnvironmentQuery),
    responses(
        (status = 200, description = "One plan per environment: status, file diffs, secret changes by fingerprint", body = Vec<Object>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn plan(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    Query(query): Query<EnvironmentQuery>,
) -> Result<Response, ApiError> {
    let env = query.environment.as_deref().map(environment).transpose()?;
    let plans = state.control().plan(&id, env.as_ref()).await?;
    Ok(Json(json_value(plans)).into_response())
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
    let after = after_id(query.after.as_deref())?;
    let limit = query
        .limit
        .unwrap_or(20)
        .clamp(1, c15t_control::PLAN_PAGE_MAX);
    let page = state.control().plan_page(after.as_ref(), limit).await?;
    let mut response = Json(FleetPlanOut {
        plans: page.plans.into_iter().map(json_value).collect(),
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

/// Deploys one environment: enqueued as a job (202), or run now with `?wait=true`.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/environments/{environment}/deploy", tag = "deploy",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("environment" = String, Path, description = "The environment, e.g. `production`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,15}[a-z0-9])?$"), DeployQuery),
    responses(
        (status = 202, description = "Enqueued", body = DeployAccepted),
        (status = 200, description = "Deployed (`?wait=true`): the deploy report", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn deploy(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    Path((_customer, env)): Path<(String, String)>,
    Query(query): Query<DeployQuery>,
) -> Result<Response, ApiError> {
    let env = environment(&env)?;
    // Both paths check that the environment is one of the customer's.
    let plan = state.control().plan(&id, Some(&env)).await?;
    drop(plan);
    if query.wait {
        let report = state
            .control()
            .deploy_detached(&principal.actor(), &id, &env)
            .await
            .map_err(|f| ApiError::from(f.error))?;
        return Ok(Json(json_value(report)).into_response());
    }
    let job_id = state
        .control()
        .enqueue_deploy(&principal.actor(), &id, &env)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DeployAccepted {
            job_id,
            customer: id.to_string(),
            environment: env.to_string(),
        }),
    )
        .into_response())
}

/// A customer's deployments, newest first.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/deployments", tag = "deploy",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ListQuery),
    responses(
        (status = 200, description = "Deployments, newest first", body = Vec<Object>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn deployment_list(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let env = query.environment.as_deref().map(environment).transpose()?;
    let list = state
        .control()
        .deployments(&id, env.as_ref(), limit(query.limit))
        .await?;
    Ok(Json(json_value(list)).into_response())
}

fn deployment_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid_id("deploymentId", text, "must be a deployment number"))
}

/// One deployment.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/deployments/{deploymentId}", tag = "deploy",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("deploymentId" = String, Path, description = "The deployment's id")),
    responses(
        (status = 200, description = "The deployment", body = Object),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn deployment_get(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    Path((_customer, deployment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let deployment = deployment_id(&deployment)?;
    let view = state.control().deployment(&id, deployment).await?;
    Ok(Json(json_value(view)).into_response())
}

/// A generated file of a deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileOut {
    /// Path in the project.
    pub path: String,
    /// Contents.
    pub contents: String,
}

/// The generated files a deployment shipped (no secret values: those are worker bindings).
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/deployments/{deploymentId}/files", tag = "deploy",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("deploymentId" = String, Path, description = "The deployment's id")),
    responses(
        (status = 200, body = Vec<FileOut>),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn deployment_files(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    Path((_customer, deployment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let deployment = deployment_id(&deployment)?;
    let files: Vec<FileOut> = state
        .control()
        .deployment_files(&id, deployment)
        .await?
        .into_iter()
        .map(|(path, contents)| FileOut { path, contents })
        .collect();
    Ok(Json(files).into_response())
}

/// Makes an earlier successful deployment live again (recorded as a new deployment).
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/deployments/{deploymentId}/rollback", tag = "deploy",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("deploymentId" = String, Path, description = "The deployment to restore")),
    responses(
        (status = 200, description = "The deploy report", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn rollback(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    Path((_customer, deployment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let deployment = deployment_id(&deployment)?;
    let report = state
        .control()
        .rollback_detached(&principal.actor(), &id, deployment)
        .await
        .map_err(|f| ApiError::from(f.error))?;
    Ok(Json(json_value(report)).into_response())
}

/// The latest health probes of the customer's live workers.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/health", tag = "deploy",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")),
    responses(
        (status = 200, description = "One probe record per live worker", body = Vec<Object>),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn health(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
) -> Result<Response, ApiError> {
    // A customer that does not exist is a 404, not an empty list.
    state.control().customer_revision(&id).await?;
    let records = state.control().health(Some(&id)).await?;
    Ok(Json(json_value(records)).into_response())
}

/// Tests a destination's stored settings against its vendor (Meta's Graph API, GA4's
/// Measurement Protocol validation server, PostHog, Matomo); kinds without a documented check
/// answer `unsupported`. The test itself succeeding or failing is the report's `result`, not
/// the HTTP status.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/destinations/{destinationId}/test", tag = "destinations",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("destinationId" = String, Path, description = "The destination's id", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")),
    responses(
        (status = 200, description = "The report: kind, result (ok, bad_credentials, not_found, rejected, unreachable, vendor_error, unsupported), the vendor's message (secrets redacted), latency", body = Object),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_test(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
) -> Result<Response, ApiError> {
    let report = state
        .control()
        .destination_test_detached(&id, &destination)
        .await?;
    Ok(Json(json_value(report)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Delivery and strategy

/// The delivery settings: strategy, deploy target, webhook endpoint (secrets as fingerprints).
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/delivery", tag = "delivery",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")),
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
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")),
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
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")),
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

// ---------------------------------------------------------------------------------------------
// Audit

/// An audit entry (config JSON with fingerprints only, never secret values). A change to
/// something that existed before and after (a config or delivery edit) carries `changes`; a
/// creation carries `after`, a deletion `before`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    /// Entry id (increasing); the cursor (`before`) of the next page.
    pub id: i64,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Who.
    pub actor: String,
    /// What, e.g. `destination.update`.
    pub action: String,
    /// To what.
    pub resource: String,
    /// The customer concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// State before, of a deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// State after, of a creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// What changed, of an edit: one entry per value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AuditChangeOut>,
}

/// One value an edit changed. Secrets appear as references (`{"stored":
/// "hmac-sha256:..."}`), never as values.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditChangeOut {
    /// Where, in the customer file's syntax with destinations by id, e.g.
    /// `destinations[id=meta-prod].settings.pixelId`; `destinations(order)` for a reordering.
    pub path: String,
    /// The value before; absent when the value was added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// The value after; absent when the value was removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

fn audit_out(r: c15t_control::AuditRecord) -> AuditOut {
    AuditOut {
        id: r.id,
        at: r.at,
        actor: r.actor,
        action: r.action,
        resource: r.resource,
        customer: r.customer,
        before: r.before,
        after: r.after,
        changes: r
            .changes
            .into_iter()
            .map(|c| AuditChangeOut {
                path: c.path,
                before: c.before,
                after: c.after,
            })
            .collect(),
    }
}

/// An audit page as JSON, written entry by entry (no second copy of the page is built), with
/// `Link: <path?limit=N&before=ID>; rel="next"` when the page is full.
fn audit_page(
    path: &str,
    limit: u64,
    records: Vec<c15t_control::AuditRecord>,
) -> Result<Response, ApiError> {
    let full = records.len() as u64 >= limit;
    let next = records.last().map(|r| r.id).filter(|_| full);
    let mut body = Vec::with_capacity(256 * records.len());
    body.push(b'[');
    for (i, record) in records.into_iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        serde_json::to_writer(&mut body, &audit_out(record))
            .map_err(|e| ApiError::Internal(format!("writing the audit page: {e}")))?;
    }
    body.push(b']');
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(next) = next
        && let Ok(link) = HeaderValue::from_str(&format!(
            "<{path}?limit={limit}&before={next}>; rel=\"next\""
        ))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

fn audit_limit(limit: Option<u64>) -> u64 {
    limit.unwrap_or(50).clamp(1, c15t_control::AUDIT_PAGE_MAX)
}

/// A customer's audit log, newest first, one page (at most 200 entries) at a time.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/audit", tag = "audit",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), AuditQuery),
    responses(
        (status = 200, body = Vec<AuditOut>, headers(("Link" = String, description = "`<...?limit=N&before=ID>; rel=\"next\"` when the page is full: the next (older) page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn customer_audit(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    state.control().customer_revision(&id).await?;
    let limit = audit_limit(query.limit);
    let records = state
        .control()
        .audit_page(Some(&id), query.before, limit)
        .await?;
    audit_page(&format!("/api/v1/customers/{id}/audit"), limit, records)
}

/// The whole audit log, newest first, one page (at most 200 entries) at a time (operators
/// only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = Vec<AuditOut>, headers(("Link" = String, description = "`<...?limit=N&before=ID>; rel=\"next\"` when the page is full: the next (older) page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn audit(
    _: OperatorOnly,
    State(state): State<ApiState>,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let limit = audit_limit(query.limit);
    let records = state
        .control()
        .audit_page(None, query.before, limit)
        .await?;
    audit_page("/api/v1/audit", limit, records)
}

// ---------------------------------------------------------------------------------------------
// API tokens

/// A customer's API tokens (never their values).
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/tokens", tag = "tokens",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")),
    responses(
        (status = 200, body = Vec<TokenOut>),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn token_list(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
) -> Result<Response, ApiError> {
    let list: Vec<TokenOut> = state
        .control()
        .api_token_list(&id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(list).into_response())
}

/// Creates an API token for the customer; its value is in this answer only.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/tokens", tag = "tokens",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")),
    request_body = TokenCreate,
    responses(
        (status = 201, body = TokenCreated),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn token_create(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    Body(body): Body<TokenCreate>,
) -> Result<Response, ApiError> {
    let created = state
        .control()
        .api_token_create(&principal.actor(), &id, &body.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            record: created.record.into(),
            token: created.token.expose().to_owned(),
        }),
    )
        .into_response())
}

/// Revokes an API token (within a second on every replica).
#[utoipa::path(delete, path = "/api/v1/customers/{customerId}/tokens/{tokenId}", tag = "tokens",
    params(("customerId" = String, Path, description = "The customer's id, e.g. `cust_abc123`", pattern = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$"), ("tokenId" = String, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn token_revoke(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    Path((_customer, token)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let token_id: i64 = token
        .parse()
        .map_err(|_| ApiError::invalid_id("tokenId", &token, "must be a token number"))?;
    state
        .control()
        .api_token_revoke(&principal.actor(), &id, token_id)
        .await?;
    state.token_revoked();
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! The REST API under `/api/v1`, one module per resource. Each holds its thin handlers (check
//! who may see what, call `Control`, shape the answer), its request and response bodies with
//! their OpenAPI schemas and `From` conversions, and its routes. Errors go through
//! [`ApiError`].
//!
//! Adding an endpoint: write the handler in its resource's module with its `#[utoipa::path]`
//! (method, path, parameters, answers) and add its name to that module's `resource!` list.
//! The route and the document's operation both come from that one attribute ([`Routes`]).
//!
//! The path and header parameters that many operations share are defined here once, with
//! the model's patterns ([`CustomerPath`], [`DestinationPath`], [`EnvironmentPath`],
//! [`IfMatch`]).

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodFilter;
use c15t_control::Secret;
use c15t_model::{CustomerId, DestinationId, Environment, RawValue, SecretRef};
use serde::{Deserialize, Serialize};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Object, RefOr, Required};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::{ApiError, ApiState};

/// Declares a resource module's operations: the handlers named (each with its
/// `#[utoipa::path]`) become the module's `routes()`, each routed at the path and method its
/// attribute documents.
macro_rules! resource {
    ($($handler:ident),+ $(,)?) => {
        /// This module's operations, as the handlers' `#[utoipa::path]` attributes describe them.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($handler),+))]
        struct Operations;

        /// This module's routes, each with its documented operation.
        pub(crate) fn routes() -> $crate::v1::Routes {
            let mut routes =
                $crate::v1::Routes::new(<Operations as utoipa::OpenApi>::openapi());
            $(routes = routes.handler(stringify!($handler), $handler);)+
            routes
        }
    };
}
pub(crate) use resource;

pub mod audit;
pub mod catalogue;
pub mod connection;
pub mod customers;
pub mod delivery;
pub mod deploy;
pub mod destinations;
pub mod health;
pub mod plan;
pub mod tokens;

/// Every `/api/v1` route, with the operations that document them.
pub(crate) fn routes() -> Routes {
    Routes::default()
        .merge(catalogue::routes())
        .merge(customers::routes())
        .merge(destinations::routes())
        .merge(connection::routes())
        .merge(plan::routes())
        .merge(deploy::routes())
        .merge(health::routes())
        .merge(delivery::routes())
        .merge(audit::routes())
        .merge(tokens::routes())
}

// ---------------------------------------------------------------------------------------------
// Routes with their documentation

/// Routes and the OpenAPI operations that document them, built together: a handler is routed
/// at the path and method of its documented operation (found by its operation id, the
/// handler's name), so the two cannot disagree.
pub struct Routes {
    router: Router<ApiState>,
    doc: OpenApi,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("router", &self.router)
            .field("paths", &self.doc.paths.paths.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for Routes {
    fn default() -> Self {
        Self::new(OpenApi::default())
    }
}

impl Routes {
    /// No routes yet, documented by `doc` (one module's operations).
    pub(crate) fn new(doc: OpenApi) -> Self {
        Self {
            router: Router::new(),
            doc,
        }
    }

    /// Routes `handler` where the operation `operation_id` of the document says.
    ///
    /// Panics when the document has no such operation: a handler without its
    /// `#[utoipa::path]` (or with another operation id), a programming error every test finds.
    pub(crate) fn handler<H, T>(mut self, operation_id: &str, handler: H) -> Self
    where
        H: Handler<T, ApiState>,
        T: 'static,
    {
        let (path, method) = operation(&self.doc, operation_id).unwrap_or_else(|| {
            panic!("the document has no operation `{operation_id}`: give it a #[utoipa::path]")
        });
        self.router = self.router.route(&path, axum::routing::on(method, handler));
        self
    }

    /// These routes and `other`'s, with both documents' operations and schemas.
    pub(crate) fn merge(mut self, other: Self) -> Self {
        self.router = self.router.merge(other.router);
        self.doc.merge(other.doc);
        self
    }

    /// The router and the document (its operations and the schemas they name).
    pub(crate) fn into_parts(self) -> (Router<ApiState>, OpenApi) {
        (self.router, self.doc)
    }
}

/// The path and method of the operation `id` of `doc`.
fn operation(doc: &OpenApi, id: &str) -> Option<(String, MethodFilter)> {
    doc.paths.paths.iter().find_map(|(path, item)| {
        [
            (MethodFilter::GET, &item.get),
            (MethodFilter::PUT, &item.put),
            (MethodFilter::POST, &item.post),
            (MethodFilter::DELETE, &item.delete),
            (MethodFilter::PATCH, &item.patch),
        ]
        .into_iter()
        .find(|(_, op)| {
            op.as_ref()
                .is_some_and(|op| op.operation_id.as_deref() == Some(id))
        })
        .map(|(method, _)| (path.clone(), method))
    })
}

// ---------------------------------------------------------------------------------------------
// Shared parameters

/// A string schema with `pattern`.
fn pattern_string(pattern: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .pattern(Some(pattern))
        .build()
}

/// A required path parameter matching `pattern`.
fn path_parameter(name: &str, description: &str, pattern: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .description(Some(description))
        .required(Required::True)
        .schema(Some(pattern_string(pattern)))
        .build()
}

/// The `customerId` path parameter, described by `description`, with the model's pattern.
pub(crate) fn customer_id_parameter(description: &str) -> Parameter {
    path_parameter("customerId", description, CustomerId::PATTERN)
}

/// The `{customerId}` path parameter of a customer's routes, documented with the model's
/// pattern ([`CustomerId::PATTERN`]). The customer is read by the [`crate::auth::Scoped`]
/// extractor; as an extractor itself this is the parameter's text, unchecked (for routes
/// that check who may name it another way, such as operator-only ones).
#[derive(Debug)]
pub struct CustomerPath(pub String);

impl IntoParams for CustomerPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![customer_id_parameter(
            "The customer's id, e.g. `cust_abc123`",
        )]
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CustomerPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        params
            .into_iter()
            .find(|(name, _)| name == "customerId")
            .map(|(_, value)| Self(value))
            .ok_or_else(|| ApiError::Hidden.into_response())
    }
}

/// The second parameter of a `/customers/{customerId}/.../{second}` path, as sent.
async fn second_parameter<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<String, PathRejection> {
    let Path((_customer, second)) =
        Path::<(String, String)>::from_request_parts(parts, state).await?;
    Ok(second)
}

/// The `destinationId` of a destination's path, checked as an id: a malformed one is a 400
/// that shows at most a short prefix of it. Documented with the model's pattern
/// ([`DestinationId::PATTERN`]).
#[derive(Debug)]
pub struct DestinationPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DestinationPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let destination = second_parameter(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        DestinationId::new(destination.as_str())
            .map_err(|e| ApiError::invalid_id("destinationId", &destination, e))?;
        Ok(Self(destination))
    }
}

impl IntoParams for DestinationPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![path_parameter(
            "destinationId",
            "The destination's id",
            DestinationId::PATTERN,
        )]
    }
}

/// The `{environment}` of a customer environment's path, as sent (the handler checks it);
/// documented with the model's pattern ([`Environment::PATTERN`]).
#[derive(Debug)]
pub struct EnvironmentPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for EnvironmentPath {
    type Rejection = PathRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PathRejection> {
        second_parameter(parts, state).await.map(Self)
    }
}

impl IntoParams for EnvironmentPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![path_parameter(
            "environment",
            "The environment, e.g. `production`",
            Environment::PATTERN,
        )]
    }
}

/// The `{deploymentId}` of a deployment's path, as sent (the handler reads it as a number).
#[derive(Debug)]
pub struct DeploymentPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DeploymentPath {
    type Rejection = PathRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PathRejection> {
        second_parameter(parts, state).await.map(Self)
    }
}

/// The `{tokenId}` of an API token's path, as sent.
#[derive(Debug)]
pub struct TokenPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for TokenPath {
    type Rejection = PathRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PathRejection> {
        second_parameter(parts, state).await.map(Self)
    }
}

/// What `If-Match` may be: `*`, or a revision as the `ETag` gives it (`"7"`), weak (`W/"7"`)
/// or bare (`7`); a revision is decimal without sign or leading zero, at most 19 digits (see
/// `expected_revision`).
pub const IF_MATCH_PATTERN: &str =
    r#"^(?:\*|(?:W/)?"(?:0|[1-9][0-9]{0,18})"|(?:0|[1-9][0-9]{0,18}))$"#;

/// The optional `If-Match` header of an operation that changes something.
fn if_match(what: &str) -> Parameter {
    ParameterBuilder::new()
        .name("If-Match")
        .parameter_in(ParameterIn::Header)
        .description(Some(format!(
            "The revision the {what} is based on, as the `ETag` gave it (`\"7\"`); `*` for any"
        )))
        .required(Required::False)
        .schema(Some(pattern_string(IF_MATCH_PATTERN)))
        .build()
}

/// The `If-Match` header of a change: the revision it is based on (`expected_revision`
/// reads it).
#[derive(Debug)]
pub struct IfMatch;

impl IntoParams for IfMatch {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![if_match("change")]
    }
}

/// The `If-Match` header of a deletion (see [`IfMatch`]).
#[derive(Debug)]
pub struct IfMatchDeletion;

impl IntoParams for IfMatchDeletion {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![if_match("deletion")]
    }
}

/// A query parameter naming an environment, as sent (the handler checks it); documented with
/// the model's pattern ([`Environment::PATTERN`]).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct EnvironmentParam(pub String);

impl EnvironmentParam {
    /// The text sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialSchema for EnvironmentParam {
    fn schema() -> RefOr<Schema> {
        pattern_string(Environment::PATTERN).into()
    }
}

impl ToSchema for EnvironmentParam {}

/// A query parameter naming a customer, as sent (the handler checks it); documented with the
/// model's pattern ([`CustomerId::PATTERN`]).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct CustomerIdParam(pub String);

impl CustomerIdParam {
    /// The text sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialSchema for CustomerIdParam {
    fn schema() -> RefOr<Schema> {
        pattern_string(CustomerId::PATTERN).into()
    }
}

impl ToSchema for CustomerIdParam {}

// ---------------------------------------------------------------------------------------------
// Helpers of several resources

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
/// (what [`IF_MATCH_PATTERN`] says too).
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

/// Secret values as sent, kept as [`Secret`]s.
fn secrets(input: BTreeMap<String, String>) -> BTreeMap<String, Secret> {
    input
        .into_iter()
        .map(|(k, v)| (k, Secret::new(v)))
        .collect()
}

/// An environment of a path or query (400 `invalid_parameter` when not well formed).
fn environment(text: &str) -> Result<Environment, ApiError> {
    Environment::new(text).map_err(|e| ApiError::invalid_id("environment", text, e))
}

/// `after` as a customer id (400 `invalid_parameter` otherwise).
fn after_id(after: Option<&CustomerIdParam>) -> Result<Option<CustomerId>, ApiError> {
    after
        .map(|sent| {
            CustomerId::new(sent.as_str())
                .map_err(|e| ApiError::invalid_id("after", sent.as_str(), e))
        })
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

/// A field that distinguishes absent (`None`) from `null` (`Some(None)`).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

// ---------------------------------------------------------------------------------------------
// Shared bodies and schemas

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
    /// How a setting's value is shown, if it is a secret.
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

    /// A secret stored with `fingerprint`, or none.
    fn fingerprint(fingerprint: Option<String>) -> Self {
        Self {
            set: fingerprint.is_some(),
            fingerprint,
        }
    }
}

/// A string that is one of `values`, described.
fn enum_schema<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

/// A string that is one of `values`, or `null` (as absent), described.
fn one_of(description: &str, values: Vec<&str>) -> Object {
    let values = values
        .into_iter()
        .map(serde_json::Value::from)
        .chain([serde_json::Value::Null]);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

/// A string (or, when `nullable`, a string or `null`) matching `pattern`, described.
fn string_schema(pattern: &str, nullable: bool, description: &str) -> Object {
    let ty = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .pattern(Some(pattern))
        .description(Some(description))
        .build()
}

#[cfg(test)]
mod tests {
    /// What a control or model value serialises to and what its DTO does are the same bytes
    /// (keys in the same order, the same absent and `null` fields).
    pub(crate) fn assert_same_json(control: &impl serde::Serialize, dto: &impl serde::Serialize) {
        let control = serde_json::to_string(control).unwrap();
        let dto = serde_json::to_string(dto).unwrap();
        assert_eq!(dto, control);
    }
}

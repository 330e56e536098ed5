//! The c15t control plane's HTTP layer: the REST API under `/api/v1`, the seed's
//! `/api/control-plane` download endpoints (the worker entry also at `/customers/{id}/worker-config`,
//! the path of the seed's CI recipe), the OpenAPI document (`/api/openapi.json`, with a
//! docs UI at `/api/docs`), operational endpoints and the admin web UI. Every handler calls
//! `c15t-control`; none touches the store.
//!
//! Access: `Authorization: Bearer <token>`. Operator tokens (the server's configuration) see
//! every customer. Customer API tokens see their own customer only: naming another customer
//! gets the same 404 as naming one that does not exist, and fleet-wide routes (customer
//! list and create, customer deletion, the fleet plan, the whole audit log) answer 403
//! `forbidden` to every customer token, whatever the customer.
//!
//! Bounds worth knowing when several replicas share one database: a customer token revoked
//! through another replica stops working here within [`auth::TOKEN_CACHE_TTL`] (1 s), and a
//! change made through another replica shows in `worker-config` within
//! [`cache::REVALIDATE_AFTER`] (1 s). Changes through this process take effect at once.

pub mod auth;
pub mod cache;
pub mod download;
mod error;
mod json;
pub mod ops;
mod rate;
pub mod v1;

pub use rate::{RateLimit, RateLimits};

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use c15t_control::Control;
use c15t_model::CustomerId;
use serde::de::DeserializeOwned;
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;

pub use auth::{OperatorToken, Principal};
pub use error::{ApiError, ErrorBody, FieldError, HIDDEN_MESSAGE};

/// The largest request body accepted (larger ones get 413).
pub const BODY_LIMIT: usize = 256 * 1024;

/// What the API needs: the application and the operator tokens, plus its caches. Cheap to
/// clone (shared).
#[derive(Debug, Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    control: Control,
    operator_tokens: Vec<OperatorToken>,
    public_base_url: Option<String>,
    tokens: auth::TokenCache,
    workers: cache::WorkerCache,
    warm_up: bool,
    /// Buckets of customer tokens, of operator tokens (`None`: no limit).
    limiters: (Option<Arc<rate::Limiter>>, Option<Arc<rate::Limiter>>),
}

/// Customers generated per store read while warming the worker-config cache.
const WARM_PAGE: u64 = 100;

impl ApiState {
    /// The API over `control`, accepting `operator_tokens` (besides customer API tokens).
    pub fn new(control: Control, operator_tokens: Vec<OperatorToken>) -> Self {
        Self {
            inner: Arc::new(Inner {
                control,
                operator_tokens,
                public_base_url: None,
                tokens: auth::TokenCache::default(),
                workers: cache::WorkerCache::default(),
                warm_up: true,
                limiters: (None, None),
            }),
        }
    }

    /// The same API without the worker-config warm-up [`router`] starts (tests that count
    /// database reads, tools that serve a handful of requests).
    pub fn without_warm_up(self) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| shared.copy());
        Self {
            inner: Arc::new(Inner {
                warm_up: false,
                ..inner
            }),
        }
    }

    /// Fills the worker-config cache with every customer's production entry, a page of
    /// customers per store read, so that the first download of each customer is already a
    /// cache hit. Generating and compressing run on the blocking pool, so that requests served
    /// meanwhile never wait behind a page of it. Returns how many entries were generated.
    /// [`router`] runs this in the background unless [`ApiState::without_warm_up`].
    pub async fn warm_worker_cache(&self) -> Result<usize, ApiError> {
        let env = c15t_model::Environment::production();
        let mut after: Option<CustomerId> = None;
        let mut count = 0;
        loop {
            let page = self
                .control()
                .config_page(after.as_ref(), WARM_PAGE)
                .await?;
            if page.is_empty() {
                return Ok(count);
            }
            after.clone_from(&page.next);
            let state = self.clone();
            let env = env.clone();
            count += tokio::task::spawn_blocking(move || state.warm_page(&page, &env))
                .await
                .map_err(|e| ApiError::Internal(format!("warming the cache stopped: {e}")))??;
        }
    }

    /// Generates and caches the entries of one page (CPU work: call it on a blocking thread).
    fn warm_page(
        &self,
        page: &c15t_control::ConfigPage,
        env: &c15t_model::Environment,
    ) -> Result<usize, ApiError> {
        let control = self.control();
        let entries = control.generate_page(page, env, control.target());
        let count = entries.len();
        for (customer, revision, source) in entries {
            let entry = self.inner.workers.entry(revision, &source)?;
            self.inner
                .workers
                .put_if_absent(customer, env.clone(), entry);
        }
        Ok(count)
    }

    /// The same API announcing `url` as its server in the served OpenAPI document (the
    /// committed document names no server).
    pub fn with_public_base_url(self, url: impl Into<String>) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| shared.copy());
        Self {
            inner: Arc::new(Inner {
                public_base_url: Some(url.into()),
                ..inner
            }),
        }
    }

    /// The same API limiting each token's request rate to `limits` (see [`RateLimits`]); an
    /// [`ApiState::new`] has no limits.
    pub fn with_rate_limits(self, limits: RateLimits) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| shared.copy());
        Self {
            inner: Arc::new(Inner {
                limiters: (
                    limits.customer.map(|l| Arc::new(rate::Limiter::new(l))),
                    limits.operator.map(|l| Arc::new(rate::Limiter::new(l))),
                ),
                ..inner
            }),
        }
    }

    /// The application.
    pub fn control(&self) -> &Control {
        &self.inner.control
    }

    /// Called after this process changed `customer`: its cached downloads go at once.
    pub fn changed(&self, customer: &CustomerId) {
        self.inner.workers.forget(customer);
    }

    /// Called after this process revoked a token: cached lookups go at once.
    pub fn token_revoked(&self) {
        self.inner.tokens.clear();
    }
}

impl Inner {
    /// The same settings with empty caches.
    fn copy(&self) -> Self {
        Self {
            control: self.control.clone(),
            operator_tokens: self.operator_tokens.clone(),
            public_base_url: self.public_base_url.clone(),
            tokens: auth::TokenCache::default(),
            workers: cache::WorkerCache::default(),
            warm_up: self.warm_up,
            limiters: self.limiters.clone(),
        }
    }
}

/// A JSON request body whose rejections (malformed JSON, wrong types, unknown fields, a key
/// given twice in any object, too large, wrong content type) are [`ApiError`]s.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json::is_json_content_type(req.headers()) {
            return Err(ApiError::client(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::too_large(BODY_LIMIT)
                } else {
                    ApiError::bad_request(rejection.body_text())
                }
            })?;
        if let Some(path) = json::duplicate_key(&bytes) {
            return Err(ApiError::duplicate_key(path));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Self(value))
    }
}

/// Query parameters whose rejections are [`ApiError`]s.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// Refuses a declared body over [`BODY_LIMIT`] before any handler runs (bodies without a
/// length are cut off while read, see `DefaultBodyLimit`).
async fn limit_body(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return ApiError::too_large(BODY_LIMIT).into_response();
    }
    next.run(request).await
}

/// The OpenAPI document: the `bearer` scheme every route but the document's own needs.
#[derive(Debug)]
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An operator token (server configuration) or a customer API token \
                         (`c15t_...`, created through the API or `c15tctl token create`)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Optional header parameters are absent or a string: a header cannot be JSON `null` (utoipa
/// marks every `Option` header nullable, and clients then send the text `null`).
struct HeadersNotNull;

impl utoipa::Modify for HeadersNotNull {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::schema::{Schema, SchemaType, Type};
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if !matches!(parameter.parameter_in, ParameterIn::Header) {
                        continue;
                    }
                    if let Some(RefOr::T(Schema::Object(object))) = &mut parameter.schema
                        && let SchemaType::Array(types) = &object.schema_type
                    {
                        let mut rest: Vec<Type> = types
                            .iter()
                            .filter(|t| **t != Type::Null)
                            .cloned()
                            .collect();
                        object.schema_type = if rest.len() == 1 {
                            SchemaType::Type(rest.remove(0))
                        } else {
                            SchemaType::Array(rest)
                        };
                    }
                }
            }
        }
    }
}

/// Every operation may answer 400 (an id in the path that is not well formed, two
/// `Authorization` headers), 429 (the token's rate limit) and 503 (a database fault):
/// documented here once for the operations that do not list them.
struct BadRequests;

impl utoipa::Modify for BadRequests {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                for (status, description) in [
                    (
                        "429",
                        "The token is over its request rate limit (`rate_limited`; by default 20 \
                         requests a second for a customer token, 200 for an operator token, with \
                         bursts of up to 10 seconds' worth): retry after `Retry-After` seconds",
                    ),
                    (
                        "503",
                        "The control plane's database cannot take the request: full \
                         (`database_full`), read-only (`database_read_only`) or unreachable \
                         (`database_unavailable`); nothing was changed. Retry after \
                         `Retry-After` seconds; `/readyz` names the fault too",
                    ),
                ] {
                    responses.entry(status.to_owned()).or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(description)
                                .header(
                                    "Retry-After",
                                    HeaderBuilder::new()
                                        .schema(
                                            ObjectBuilder::new()
                                                .schema_type(Type::Integer)
                                                .minimum(Some(0)),
                                        )
                                        .description(Some("Seconds to wait before retrying"))
                                        .build(),
                                )
                                .content(
                                    "application/json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                                        .build(),
                                )
                                .build(),
                        )
                    });
                }
                operation
                    .responses
                    .responses
                    .entry("400".to_owned())
                    .or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(
                                    "An id in the path that is not well formed (`invalid_parameter`, \
                                     showing at most 32 characters of it) or more than one \
                                     `Authorization` header (`duplicate_authorization`)",
                                )
                                .content(
                                    "application/json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                                        .build(),
                                )
                                .build(),
                        )
                    });
            }
        }
    }
}

/// `DestinationCreate` names each destination kind's settings (see
/// [`v1::destinations::destination_create_by_kind`]).
struct DestinationKinds;

impl utoipa::Modify for DestinationKinds {
    fn modify(&self, openapi: &mut OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        if let Some(base) = components.schemas.remove("DestinationCreate") {
            components.schemas.insert(
                "DestinationCreate".to_owned(),
                v1::destinations::destination_create_by_kind(base).into(),
            );
        }
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "c15t control plane API",
        description = "Customers, destinations, plans, deploys and downloads of the c15t \
            control plane. Send `Authorization: Bearer <token>`. Customer tokens see their own \
            customer only (another customer's resources answer 404, exactly as missing ones); \
            fleet-wide routes answer 403 to them. Changes take the revision they are based on \
            as `If-Match: \"<revision>\"` (or a `revision` field) and answer 409 with \
            `current_revision` when it is stale; without one (or with `If-Match: *`) a change \
            applies to the current revision, whatever other writers do meanwhile. A change \
            that changes nothing writes nothing (no revision, no audit entry, no deploy). JSON \
            bodies must not repeat a key in any object (400 `duplicate_key`). Text fields \
            refuse control characters (422). Secrets are write-only."
    ),
    tags(
        (name = "customers", description = "Customers (list, create and delete: operators only)"),
        (name = "destinations", description = "A customer's analytics destinations"),
        (name = "catalogue", description = "Destination kinds and their settings"),
        (name = "deploy", description = "Plan, deploy, deployments, rollback, worker health"),
        (name = "delivery", description = "Strategy, deploy target, webhook endpoint"),
        (name = "audit", description = "The append-only audit log"),
        (name = "tokens", description = "Customer API tokens"),
        (name = "downloads", description = "The seed's CI downloads"),
    )
)]
struct ApiDoc;

/// Every route the document describes, each with its operation: the resources of
/// [`v1`] and the seed's [`download`]s.
fn routes() -> v1::Routes {
    v1::routes().merge(download::routes())
}

/// The whole document around `operations` (the routes' operations and schemas): the API's
/// description and tags, then the modifiers that see every operation.
fn document(operations: OpenApi) -> OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(operations);
    let modifiers: [&dyn utoipa::Modify; 4] =
        [&Security, &HeadersNotNull, &DestinationKinds, &BadRequests];
    for modifier in modifiers {
        modifier.modify(&mut document);
    }
    document
}

/// The OpenAPI 3.1 document of the API, as committed in `docs/openapi.json`.
pub fn openapi() -> OpenApi {
    document(routes().into_parts().1)
}

/// The committed form of [`openapi`]: pretty JSON with a final newline.
pub fn openapi_json() -> String {
    let mut text = openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// The API's routes: `/api/v1/...`, `/api/control-plane/...`, `/api/openapi.json` and
/// `/api/docs`. The server adds its operational layers ([`ops::layer`]) and the UI.
///
/// Called inside a tokio runtime, it also starts [`ApiState::warm_worker_cache`] in the
/// background (unless [`ApiState::without_warm_up`]).
pub fn router(state: ApiState) -> Router {
    if state.inner.warm_up
        && let Ok(runtime) = tokio::runtime::Handle::try_current()
    {
        let warming = state.clone();
        runtime.spawn(async move {
            let started = std::time::Instant::now();
            match warming.warm_worker_cache().await {
                Ok(entries) => tracing::info!(
                    target: "c15t_api::cache",
                    entries,
                    millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "worker-config cache warmed"
                ),
                Err(e) => tracing::warn!(
                    target: "c15t_api::cache",
                    error = ?e,
                    "could not warm the worker-config cache"
                ),
            }
        });
    }
    let (api_routes, operations) = routes().into_parts();
    let whole = document(operations);
    let mut served = whole.clone();
    if let Some(url) = &state.inner.public_base_url {
        served.servers = Some(vec![utoipa::openapi::Server::new(url.clone())]);
    }
    let served = Arc::new(
        served
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")),
    );
    let api = api_routes
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(limit_body))
        .with_state(state);
    use utoipa_scalar::Servable as _;
    let docs: Router = utoipa_scalar::Scalar::with_url("/api/docs", whole).into();
    api.route(
        "/api/openapi.json",
        get(move || {
            let served = Arc::clone(&served);
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    served.as_str().to_owned(),
                )
            }
        }),
    )
    .merge(docs)
}

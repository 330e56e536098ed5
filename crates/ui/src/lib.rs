//! The admin web UI: server-rendered pages (maud) with htmx for partial updates, served under
//! `/ui` by the server itself. No JavaScript framework and no Node build step: the stylesheet
//! and htmx are embedded in the binary.
//!
//! Mount it with [`router`]: `app.merge(c15t_ui::router(UiState::new(control, &public_url)))`,
//! served with `into_make_service_with_connect_info::<SocketAddr>()` so that failed logins are
//! also counted per client address (without it they are counted per email only).
//!
//! Security:
//! - People log in with an email and password ([`Control::login`], argon2id). The session token
//!   lives only in the `c15t_session` cookie (HttpOnly, SameSite=Lax, Path=/, `Secure` when the
//!   public URL is https); the database holds its SHA-256.
//! - Every POST carries the session's CSRF synchronizer token (hidden `_csrf` field, or the
//!   `X-CSRF-Token` header that htmx sends from `hx-headers` on `<body>`); the login form, which
//!   has no session yet, uses a double-submit cookie. A request without a matching token is
//!   refused with 403 before anything happens.
//! - Failed logins are slowed down per email and per client address ([`throttle`]): after three
//!   failures in a row each further attempt must wait twice as long as the last (1 s, 2 s, ... up
//!   to 15 minutes). TODO-scalability: the counters live in this process's memory, so each
//!   replica counts on its own and a restart forgets them.
//! - An operator sees every customer; a customer admin sees only their own customer: any other
//!   customer's page answers the same 404 as a customer that does not exist.
//! - Pages show secrets only as fingerprints; secret inputs are write-only.

mod assets;
mod auth;
mod forms;
mod pages;
pub mod throttle;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use c15t_control::{Control, ControlError};

pub use auth::{CSRF_HEADER, SESSION_COOKIE};

/// What the UI needs: the application, whether cookies must be `Secure`, how long a session
/// lasts, the failed-login counters and the key that signs login CSRF tokens.
#[derive(Clone)]
pub struct UiState {
    control: Control,
    secure_cookies: bool,
    session_ttl: Duration,
    throttle: Arc<throttle::LoginThrottle>,
    login_key: Arc<auth::LoginKey>,
}

impl std::fmt::Debug for UiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiState")
            .field("secure_cookies", &self.secure_cookies)
            .field("session_ttl", &self.session_ttl)
            .finish_non_exhaustive()
    }
}

impl UiState {
    /// The UI of `control`, reached by people at `public_url` (e.g. `https://cp.example.com`):
    /// cookies are `Secure` when it is https. Sessions last 12 hours.
    pub fn new(control: Control, public_url: &str) -> Self {
        Self {
            secure_cookies: public_url.trim_start().starts_with("https://"),
            session_ttl: Duration::from_secs(12 * 60 * 60),
            throttle: Arc::new(throttle::LoginThrottle::default()),
            login_key: Arc::new(auth::LoginKey::for_control(&control)),
            control,
        }
    }

    /// The same UI with sessions lasting `ttl`.
    pub fn with_session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// The same UI with failed logins counted by `throttle` (tests use a short schedule).
    pub fn with_throttle(mut self, throttle: throttle::LoginThrottle) -> Self {
        self.throttle = Arc::new(throttle);
        self
    }
}

/// The admin UI's routes, all under `/ui` (plus `/` redirecting there is left to the server).
pub fn router(state: UiState) -> Router {
    let customer = Router::new()
        .route("/", get(pages::customer_overview))
        .route("/strategy", post(pages::strategy_set))
        .route("/rollout", post(pages::rollout_set))
        .route("/routing", post(pages::routing_set))
        .route("/deploy", post(pages::deploy))
        .route("/worker-config", get(pages::worker_config))
        .route("/diff", get(pages::diff))
        .route("/deployments", get(pages::deployments))
        .route("/deployments/{deployment}/rollback", post(pages::rollback))
        .route("/audit", get(pages::audit))
        .route("/tokens", get(pages::tokens).post(pages::token_create))
        .route("/tokens/{token}/revoke", post(pages::token_revoke))
        .route("/destinations/new", get(pages::destination_new))
        .route("/destinations", post(pages::destination_create))
        .route(
            "/destinations/{destination}",
            get(pages::destination_edit_form).post(pages::destination_update),
        )
        .route(
            "/destinations/{destination}/enabled",
            post(pages::destination_toggle),
        )
        .route(
            "/destinations/{destination}/test",
            post(pages::destination_test),
        )
        .route(
            "/destinations/{destination}/redeploy",
            post(pages::destination_redeploy),
        );
    Router::new()
        .route("/ui", get(pages::home))
        .route("/ui/", get(pages::home))
        .route("/ui/assets/{file}", get(assets::serve))
        .route("/ui/login", get(auth::login_form).post(auth::login))
        .route("/ui/logout", post(auth::logout))
        .route("/ui/customers", get(pages::customers))
        .nest("/ui/customers/{customer}", customer)
        .route("/ui/{*rest}", axum::routing::any(pages::not_found))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::csrf_guard,
        ))
        .layer(axum::middleware::from_fn(htmx_login_redirect))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// An htmx request whose session ended would follow the redirect to the login page inside the
/// XMLHttpRequest and swap the login form into a table cell; tell htmx to load the login page
/// instead.
async fn htmx_login_redirect(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let htmx = request.headers().contains_key("hx-request");
    let response = next.run(request).await;
    let to_login = response.status().is_redirection()
        && response
            .headers()
            .get(axum::http::header::LOCATION)
            .is_some_and(|l| l == "/ui/login");
    if htmx && to_login {
        return (StatusCode::OK, [("hx-redirect", "/ui/login")]).into_response();
    }
    response
}

/// Headers on every UI answer: pages are never framed (clickjacking), load scripts and styles
/// from this origin only, and are not cached (they show tokens and configuration).
async fn security_headers(mut response: Response) -> Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Why a UI request failed, rendered as a page.
#[derive(Debug)]
pub(crate) enum UiError {
    /// Not logged in: go to the login page.
    Login,
    /// The page does not exist or is not the user's to see.
    NotFound,
    /// The request lacked a valid CSRF token.
    Csrf,
    /// A use case refused the request (message for people; never a secret).
    Control(ControlError),
}

impl From<ControlError> for UiError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::NotFound { .. } => Self::NotFound,
            other => Self::Control(other),
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            Self::Login => Redirect::to("/ui/login").into_response(),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                views::message_page("Not found", "There is no such page."),
            )
                .into_response(),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                views::message_page(
                    "Request refused",
                    "The form was stale or did not come from this site; reload the page and try again.",
                ),
            )
                .into_response(),
            Self::Control(e) => {
                let (status, message) = control_message(&e);
                if status.is_server_error() {
                    tracing::error!(error = %error_chain(&e), "admin UI request failed");
                }
                (status, views::message_page("Something went wrong", &message)).into_response()
            }
        }
    }
}

/// The status and the message people see for a failed use case. Server-side failures show no
/// internals.
pub(crate) fn control_message(e: &ControlError) -> (StatusCode, String) {
    match e {
        ControlError::Invalid(_)
        | ControlError::BadRequest(_)
        | ControlError::MissingSecret { .. } => (StatusCode::BAD_REQUEST, e.to_string()),
        ControlError::NotFound { .. } => (StatusCode::NOT_FOUND, e.to_string()),
        ControlError::AlreadyExists { .. }
        | ControlError::Conflict { .. }
        | ControlError::SecretsChanged { .. } => (StatusCode::CONFLICT, e.to_string()),
        ControlError::Deploy(_) | ControlError::Webhook(_) => {
            (StatusCode::BAD_GATEWAY, error_chain(e))
        }
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the control plane failed; the error is in its log".to_owned(),
        ),
    }
}

/// An error and its sources, `: `-separated.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

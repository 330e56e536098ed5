//! Fakes of the vendor endpoints the connection tests call: Meta's Graph API (pixel lookup),
//! Google Analytics' Measurement Protocol validation server, PostHog's `/flags` endpoint and
//! Matomo's Reporting API.
//!
//! [`FakeVendors::start`] serves all four on one `127.0.0.1` port, on the paths the real
//! services use, so one base URL stands in for each vendor's base. Each fake checks the
//! request the way its vendor documents it, knows which credentials are valid (registered by
//! the test), and answers with the vendor's documented success and error shapes:
//!
//! - `GET /{version}/{pixel-id}?fields=...&access_token=...`: the pixel's requested fields, or
//!   Graph API errors `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`
//!   (400; code 104 without a token, 190 for an unknown token, 100/33 for a pixel that does
//!   not exist or that the token may not read).
//! - `POST /debug/mp/collect?measurement_id=...&api_secret=...`: `200` with
//!   `{"validationMessages": [...]}`, empty when the event is well formed. Like Google's
//!   validation server it does not check the API secret.
//! - `POST /flags/?v=2` with `{"api_key" | "token", "distinct_id"}`: `200` with
//!   `{"flags": {}, ...}` for a known key, `401` with PostHog's DRF error body otherwise.
//! - `POST /index.php?module=API&method=SitesManager.getSiteFromId&idSite=...&format=JSON` with
//!   `token_auth` (body or query): the site, or `200` with `{"result": "error", "message"}` as
//!   Matomo answers an unknown token, a token without access, or an unknown site.
//!
//! Every request is recorded; [`FakeVendors::set_delay`] slows answers down (timeouts) and
//! [`FakeVendors::fail_with`] replaces the next answers with a fixed status and body.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// A Graph API version path segment the fake accepts, like `v21.0`.
fn is_graph_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        })
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET` or `POST`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The body as text.
    pub body: String,
}

impl Recorded {
    /// A query parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct Book {
    /// Pixel id -> (name, tokens that may read it).
    pixels: BTreeMap<String, (String, BTreeSet<String>)>,
    /// Every token Meta knows (valid tokens), whatever they may read.
    meta_tokens: BTreeSet<String>,
    /// PostHog project API keys.
    posthog_keys: BTreeSet<String>,
    /// Matomo site id -> (name, tokens with view access).
    matomo_sites: BTreeMap<String, (String, BTreeSet<String>)>,
    /// Every Matomo token that authenticates.
    matomo_tokens: BTreeSet<String>,
    delay: Duration,
    failure: Option<(u16, String)>,
    requests: Vec<Recorded>,
}

type Shared = Arc<Mutex<Book>>;

/// The running fakes; they stop when this is dropped.
#[derive(Debug)]
pub struct FakeVendors {
    addr: SocketAddr,
    state: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeVendors {
    /// Starts the fakes on `127.0.0.1` on an ephemeral port.
    pub async fn start() -> Self {
        let state = Shared::default();
        let app = Router::new()
            .route("/{version}/{object}", get(meta_object))
            .route("/debug/mp/collect", post(ga4_validate))
            .route("/flags", post(posthog_flags))
            .route("/flags/", post(posthog_flags))
            .route("/index.php", post(matomo_api))
            .fallback(not_found)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("fake vendors");
        });
        Self {
            addr,
            state,
            stop: Some(stop),
        }
    }

    /// `http://127.0.0.1:<port>`: the base URL of every fake vendor.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers a Meta pixel that `token` may read (the token becomes valid).
    pub fn add_meta_pixel(&self, pixel_id: &str, name: &str, token: &str) {
        let mut state = self.lock();
        state.meta_tokens.insert(token.to_owned());
        state
            .pixels
            .entry(pixel_id.to_owned())
            .or_insert_with(|| (name.to_owned(), BTreeSet::new()))
            .1
            .insert(token.to_owned());
    }

    /// Registers a valid Meta token that may read no pixel.
    pub fn add_meta_token(&self, token: &str) {
        self.lock().meta_tokens.insert(token.to_owned());
    }

    /// Registers a PostHog project API key.
    pub fn add_posthog_key(&self, key: &str) {
        self.lock().posthog_keys.insert(key.to_owned());
    }

    /// Registers a Matomo site that `token` may view (the token becomes valid).
    pub fn add_matomo_site(&self, site_id: u32, name: &str, token: &str) {
        let mut state = self.lock();
        state.matomo_tokens.insert(token.to_owned());
        state
            .matomo_sites
            .entry(site_id.to_string())
            .or_insert_with(|| (name.to_owned(), BTreeSet::new()))
            .1
            .insert(token.to_owned());
    }

    /// Registers a valid Matomo token with access to no site.
    pub fn add_matomo_token(&self, token: &str) {
        self.lock().matomo_tokens.insert(token.to_owned());
    }

    /// Waits this long before every answer.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Answers every following request with `status` and `body` (JSON); `None` restores the
    /// normal answers.
    pub fn fail_with(&self, failure: Option<(u16, &str)>) {
        self.lock().failure = failure.map(|(s, b)| (s, b.to_owned()));
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.state.lock().expect("fake vendors lock")
    }
}

impl Drop for FakeVendors {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Records the request, waits the configured delay, and returns a scripted failure if one
/// is set.
async fn arrive(
    state: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    let query = uri
        .query()
        .map(|q| url_pairs(q).into_iter().collect::<Vec<(String, String)>>())
        .unwrap_or_default();
    let (delay, failure) = {
        let mut s = state.lock().expect("fake vendors lock");
        s.requests.push(Recorded {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query,
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: String::from_utf8_lossy(body).into_owned(),
        });
        (s.delay, s.failure.clone())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    failure.map(|(status, body)| {
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    })
}

/// Decodes `application/x-www-form-urlencoded` pairs (query strings).
fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn fbtrace() -> String {
    format!("A{:010x}", rand::random::<u64>() & 0xff_ffff_ffff)
}

fn graph_error(message: String, kind: &str, code: u32, subcode: Option<u32>) -> Response {
    let mut error = json!({
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": fbtrace(),
    });
    if let Some(sub) = subcode {
        error["error_subcode"] = json!(sub);
    }
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "error": error }).to_string(),
    )
        .into_response()
}

async fn meta_object(
    State(state): State<Shared>,
    Path((version, object)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(failure) = arrive(&state, &method, &uri, &headers, b"").await {
        return failure;
    }
    if !is_graph_version(&version) {
        return graph_error(
            format!("Unknown path components: /{version}/{object}"),
            "OAuthException",
            2500,
            None,
        );
    }
    let Some(token) = query.get("access_token").filter(|t| !t.is_empty()) else {
        return graph_error(
            "An access token is required to request this resource.".to_owned(),
            "OAuthException",
            104,
            None,
        );
    };
    let s = state.lock().expect("fake vendors lock");
    if !s.meta_tokens.contains(token) {
        return graph_error(
            "Invalid OAuth access token - Cannot parse access token".to_owned(),
            "OAuthException",
            190,
            None,
        );
    }
    let readable = s
        .pixels
        .get(&object)
        .filter(|(_, tokens)| tokens.contains(token));
    let Some((name, _)) = readable else {
        return graph_error(
            format!(
                "Unsupported get request. Object with ID '{object}' does not exist, cannot be \
                 loaded due to missing permissions, or does not support this operation. Please \
                 read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
            "GraphMethodException",
            100,
            Some(33),
        );
    };
    let fields = query.get("fields").map_or("id", String::as_str);
    let mut body = serde_json::Map::new();
    for field in fields.split(',') {
        match field {
            "id" => {
                body.insert("id".to_owned(), json!(object));
            }
            "name" => {
                body.insert("name".to_owned(), json!(name));
            }
            _ => {
                return graph_error(
                    format!(
                        "(#100) Tried accessing nonexisting field ({field}) on node type (AdsPixel)"
                    ),
                    "OAuthException",
                    100,
                    None,
                );
            }
        }
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        Value::Object(body).to_string(),
    )
        .into_response()
}

fn validation(messages: Vec<Value>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "validationMessages": messages }).to_string(),
    )
        .into_response()
}

fn message(field: &str, description: &str, code: &str) -> Value {
    json!({ "fieldPath": field, "description": description, "validationCode": code })
}

/// GA4 event names: a letter first, then letters, digits and underscores, at most 40.
fn valid_event_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

async fn ga4_validate(
    State(state): State<Shared>,
    Query(query): Query<BTreeMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(failure) = arrive(&state, &method, &uri, &headers, &body).await {
        return failure;
    }
    let mut messages = Vec::new();
    match query.get("measurement_id").map(String::as_str) {
        None | Some("") => messages.push(message(
            "measurement_id",
            "Measurement ID is required for web streams.",
            "VALUE_REQUIRED",
        )),
        Some(id) if !id.starts_with("G-") => messages.push(message(
            "measurement_id",
            &format!("Measurement ID [{id}] is invalid."),
            "VALUE_INVALID",
        )),
        Some(_) => {}
    }
    // Like Google's validation server, the API secret is not checked.
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "error": { "code": 400, "message": "Invalid JSON payload received.", "status": "INVALID_ARGUMENT" } }).to_string(),
        )
            .into_response();
    };
    if payload
        .get("client_id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        messages.push(message(
            "client_id",
            "client_id is required for web streams.",
            "VALUE_REQUIRED",
        ));
    }
    match payload.get("events").and_then(Value::as_array) {
        None => messages.push(message("events", "Events are required.", "VALUE_REQUIRED")),
        Some(events) if events.len() > 25 => messages.push(message(
            "events",
            "A request may contain at most 25 events.",
            "EXCEEDED_MAX_ENTITIES",
        )),
        Some(events) => {
            for (i, event) in events.iter().enumerate() {
                let name = event.get("name").and_then(Value::as_str).unwrap_or("");
                if !valid_event_name(name) {
                    messages.push(message(
                        "events",
                        &format!(
                            "Event at index: [{i}] has invalid name [{name}]. Names must start \
                             with an alphabetic character."
                        ),
                        "NAME_INVALID",
                    ));
                } else if ["ga_", "google_", "firebase_"]
                    .iter()
                    .any(|p| name.starts_with(p))
                {
                    messages.push(message(
                        "events",
                        &format!("Event at index: [{i}] has reserved name [{name}]."),
                        "NAME_RESERVED",
                    ));
                }
            }
        }
    }
    validation(messages)
}

async fn posthog_flags(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(failure) = arrive(&state, &method, &uri, &headers, &body).await {
        return failure;
    }
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let key = payload
        .get("api_key")
        .or_else(|| payload.get("token"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let known = state
        .lock()
        .expect("fake vendors lock")
        .posthog_keys
        .contains(key);
    if !known {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            json!({
                "type": "authentication_error",
                "code": "invalid_api_key",
                "detail": "Project API key invalid. You can find your project API key in PostHog project settings.",
                "attr": null,
            })
            .to_string(),
        )
            .into_response();
    }
    if payload
        .get("distinct_id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            json!({
                "type": "validation_error",
                "code": "invalid_payload",
                "detail": "The distinct_id field is missing from the request.",
                "attr": null,
            })
            .to_string(),
        )
            .into_response();
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "flags": {},
            "errorsWhileComputingFlags": false,
            "quotaLimited": [],
            "requestId": format!("{:032x}", rand::random::<u128>()),
        })
        .to_string(),
    )
        .into_response()
}

fn matomo_error(message: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "result": "error", "message": message }).to_string(),
    )
        .into_response()
}

async fn matomo_api(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(failure) = arrive(&state, &method, &uri, &headers, &body).await {
        return failure;
    }
    // Matomo reads its parameters from the query and a form body alike.
    let mut params: BTreeMap<String, String> = url_pairs(uri.query().unwrap_or_default())
        .into_iter()
        .collect();
    params.extend(url_pairs(&String::from_utf8_lossy(&body)));
    let param = |k: &str| params.get(k).map_or("", String::as_str);
    if param("module") != "API" {
        return (StatusCode::OK, "<html><body>Matomo login</body></html>").into_response();
    }
    if param("format") != "JSON" || param("method") != "SitesManager.getSiteFromId" {
        return matomo_error(format!(
            "The method '{}' does not exist or is not available in the module 'SitesManager'.",
            param("method")
        ));
    }
    let site = param("idSite");
    let token = param("token_auth");
    let s = state.lock().expect("fake vendors lock");
    if !token.is_empty() && !s.matomo_tokens.contains(token) {
        return matomo_error(
            "Unable to authenticate with the provided token. It is either invalid or expired."
                .to_owned(),
        );
    }
    match s.matomo_sites.get(site) {
        None if s.matomo_tokens.contains(token) && site.parse::<u32>().is_ok() => {
            matomo_error(format!(
                "An unexpected website was found in the request: website id was set to '{site}' ."
            ))
        }
        Some((name, tokens)) if tokens.contains(token) => (
            [(header::CONTENT_TYPE, "application/json")],
            json!({
                "idsite": site.parse::<u32>().unwrap_or_default(),
                "name": name,
                "main_url": "https://example.com",
                "ecommerce": 0,
                "timezone": "UTC",
                "currency": "EUR",
            })
            .to_string(),
        )
            .into_response(),
        _ => matomo_error(format!(
            "You can't access this resource as it requires 'view' access for the website id = {site}."
        )),
    }
}

async fn not_found(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let _ = arrive(&state, &method, &uri, &headers, b"").await;
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_pairs() {
        assert_eq!(
            url_pairs("a=1&access_token=EA%2Fb%2Bc&fields=id%2Cname&x"),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("access_token".to_owned(), "EA/b+c".to_owned()),
                ("fields".to_owned(), "id,name".to_owned()),
                ("x".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn graph_versions() {
        assert!(is_graph_version("v21.0"));
        assert!(!is_graph_version("v21"));
        assert!(!is_graph_version("debug"));
    }
}

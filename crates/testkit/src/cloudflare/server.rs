//! The HTTP server: accept loop, per-request pipeline (rate limit, faults, auth) and the
//! test-facing handle.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use chrono::Utc;
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::api::{self, ApiError, Call, Reply, State, code, lock};
use super::model::{Faults, IdForms, RateLimit, RecordedRequest, Script};

use crate::fault::DropConnection;

/// The path prefix of every route, as in `https://api.cloudflare.com/client/v4`.
const PREFIX: &str = "/client/v4/";

/// Default upload limit: Cloudflare allows 10 MB (compressed) Workers on paid plans.
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// A fake Cloudflare API on `127.0.0.1`; dropping it stops the server and closes its
/// connections.
pub struct FakeCloudflare {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl fmt::Debug for FakeCloudflare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeCloudflare")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeCloudflare {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.accept.abort();
    }
}

impl FakeCloudflare {
    /// Starts the fake on `127.0.0.1` with an ephemeral port.
    ///
    /// # Panics
    ///
    /// If no port on `127.0.0.1` can be bound.
    pub async fn start() -> FakeCloudflare {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0 for the fake Cloudflare API");
        let addr = listener
            .local_addr()
            .expect("local address of the fake Cloudflare API");
        let state = Arc::new(Mutex::new(State::new(DEFAULT_BODY_LIMIT)));
        let (shutdown, mut stop) = watch::channel(false);
        let accept = tokio::spawn({
            let state = Arc::clone(&state);
            async move {
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            tokio::spawn(serve(stream, Arc::clone(&state), stop.clone()));
                        }
                    }
                }
            }
        });
        FakeCloudflare {
            addr,
            state,
            shutdown,
            accept,
        }
    }

    /// Where requests to `https://{script}.{subdomain}.workers.dev` and to attached custom
    /// domains go instead, with that host in the `Host` header (see [`super::edge`]).
    pub fn edge_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How the worker `script` answers on the edge from now on (any account).
    pub fn set_worker_health(&self, script: &str, health: super::edge::WorkerHealth) {
        lock(&self.state)
            .worker_health
            .insert(script.to_owned(), health);
    }

    /// How version `version_id` (canonical) answers on the edge from now on; takes
    /// precedence over [`FakeCloudflare::set_worker_health`].
    pub fn set_version_health(&self, version_id: &str, health: super::edge::WorkerHealth) {
        lock(&self.state)
            .version_health
            .insert(version_id.to_owned(), health);
    }

    /// `(script, version id)` of every request the edge routed to a version, oldest first.
    pub fn edge_hits(&self) -> Vec<(String, String)> {
        lock(&self.state).edge_hits.clone()
    }

    /// Adds a zone (`example.com`) to an account, as onboarding a domain to Cloudflare does;
    /// returns its id (32 hex digits).
    pub fn add_zone(&self, account_id: &str, zone_name: &str) -> String {
        let mut state = lock(&self.state);
        let id = state.new_hex_id("zone");
        state
            .account(account_id)
            .zones
            .insert(id.clone(), zone_name.to_ascii_lowercase());
        id
    }

    /// The Workers custom domains attached in an account.
    pub fn domains(&self, account_id: &str) -> Vec<super::domains::Domain> {
        lock(&self.state)
            .accounts
            .get(account_id)
            .map(|a| a.domains.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Holds back (or releases) the certificate of a custom hostname: while held, the edge
    /// answers requests to it with 525, as a hostname whose certificate is still being issued
    /// fails its TLS handshake.
    pub fn set_hostname_pending(&self, hostname: &str, pending: bool) {
        let mut state = lock(&self.state);
        let hostname = hostname.to_ascii_lowercase();
        if pending {
            state.pending_hostnames.insert(hostname);
        } else {
            state.pending_hostnames.remove(&hostname);
        }
    }

    /// How many requests the workers.dev edge answered.
    pub fn edge_request_count(&self) -> usize {
        lock(&self.state).edge_requests
    }

    /// The base URL to use in place of `https://api.cloudflare.com/client/v4`.
    pub fn base_url(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    /// Registers an account with its workers.dev subdomain and an API token allowed on it.
    ///
    /// A token may be registered for several accounts; an account may have several tokens.
    pub fn add_account(&self, account_id: &str, subdomain: &str, token: &str) {
        let mut state = lock(&self.state);
        state
            .accounts
            .entry(account_id.to_owned())
            .or_default()
            .subdomain = subdomain.to_owned();
        state
            .tokens
            .entry(token.to_owned())
            .or_default()
            .insert(account_id.to_owned());
    }

    /// How ids are written in answers from now on (see [`IdForm`]).
    pub fn set_id_forms(&self, forms: IdForms) {
        lock(&self.state).id_forms = forms;
    }

    /// Replaces the injected faults and reseeds their RNG with `faults.seed`.
    pub fn set_faults(&self, faults: Faults) {
        let mut state = lock(&self.state);
        state.fault_rng = StdRng::seed_from_u64(faults.seed);
        state.faults = faults;
        state.faults_injected = 0;
    }

    /// Sets (or, with `None`, removes) the per-token rate limit; forgets earlier requests.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        let mut state = lock(&self.state);
        state.rate_limit = limit;
        state.rate_windows.clear();
    }

    /// Sets the largest request body accepted (default [`DEFAULT_BODY_LIMIT`]); larger
    /// uploads are refused with code 10027.
    pub fn set_body_limit(&self, bytes: usize) {
        lock(&self.state).body_limit = bytes;
    }

    /// A snapshot of a script, if it exists.
    pub fn script(&self, account_id: &str, name: &str) -> Option<Script> {
        lock(&self.state)
            .accounts
            .get(account_id)?
            .scripts
            .get(name)
            .cloned()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// How many requests were received (answered or dropped).
    pub fn request_count(&self) -> usize {
        lock(&self.state).requests.len()
    }

    /// How many requests were answered `429`.
    pub fn rate_limited_count(&self) -> usize {
        lock(&self.state).rate_limited
    }

    /// How many script uploads (`PUT` script) and version uploads (`POST` versions) of this
    /// script succeeded, including those whose answer was then dropped.
    pub fn upload_count(&self, account_id: &str, name: &str) -> usize {
        lock(&self.state)
            .uploads
            .get(&(account_id.to_owned(), name.to_owned()))
            .copied()
            .unwrap_or_default()
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    state: Arc<Mutex<State>>,
    mut stop: watch::Receiver<bool>,
) {
    let service = service_fn(move |request| {
        let state = Arc::clone(&state);
        async move { handle(&state, request).await }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = stop.changed() => {}
    }
}

/// What the fault RNG decided for one request.
#[derive(Debug, Default)]
struct FaultDraw {
    slow: bool,
    error: bool,
    drop: bool,
    drop_after_apply: bool,
}

fn draw_faults(state: &mut State, method: &http::Method, path: &str) -> FaultDraw {
    let faults: &Faults = &state.faults;
    if faults
        .path_contains
        .as_deref()
        .is_some_and(|part| !path.contains(part))
        || faults.method.as_ref().is_some_and(|only| only != method)
        || faults
            .max_faults
            .is_some_and(|max| state.faults_injected >= max)
    {
        return FaultDraw::default();
    }
    let (slow_rate, error_rate, drop_rate, after_rate) = (
        faults.slow_rate,
        faults.error_rate,
        faults.drop_rate,
        faults.drop_after_apply_rate,
    );
    let rng = &mut state.fault_rng;
    let mut hit = |rate: f64| {
        let roll: f64 = rng.random();
        roll < rate
    };
    let draw = FaultDraw {
        slow: hit(slow_rate),
        error: hit(error_rate),
        drop: hit(drop_rate),
        drop_after_apply: hit(after_rate),
    };
    if draw.slow || draw.error || draw.drop || draw.drop_after_apply {
        state.faults_injected += 1;
    }
    draw
}

/// Counts the request against its token's window; `Some(seconds)` to wait when over it.
fn rate_limit(state: &mut State, key: &str, now: Instant) -> Option<u64> {
    let limit = state.rate_limit.clone()?;
    let window = state.rate_windows.entry(key.to_owned()).or_default();
    while window
        .front()
        .is_some_and(|at| now.duration_since(*at) >= limit.window)
    {
        window.pop_front();
    }
    if window.len() < limit.requests as usize {
        window.push_back(now);
        return None;
    }
    let wait = window
        .front()
        .map(|oldest| limit.window.saturating_sub(now.duration_since(*oldest)))
        .unwrap_or(limit.window);
    // Cloudflare rounds up, and never says 0.
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Some(seconds.max(1))
}

/// The bearer token, `Ok(None)` without an `Authorization` header, `Err` when malformed.
fn bearer(request: &Request<Incoming>) -> Result<Option<String>, ()> {
    let mut values = request.headers().get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    let value = value.to_str().map_err(|_| ())?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme == "Bearer" && !token.is_empty() && !token.contains(' ') =>
        {
            Ok(Some(token.to_owned()))
        }
        _ => Err(()),
    }
}

fn authorize(
    state: &State,
    token: Result<Option<&str>, ()>,
    segments: &[String],
) -> Result<(), ApiError> {
    let token = match token {
        Ok(Some(token)) => token,
        Ok(None) | Err(()) => {
            return Err(ApiError::bad_request(
                code::INVALID_HEADERS,
                "Invalid request headers: send `Authorization: Bearer <API token>`",
            ));
        }
    };
    let Some(accounts) = state.tokens.get(token) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            code::AUTH,
            "Authentication error",
        ));
    };
    if let [first, account, ..] = segments
        && first == "accounts"
        && !accounts.contains(account)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            code::AUTH,
            "Authentication error",
        ));
    }
    Ok(())
}

fn response(reply: Reply) -> Response<Body> {
    let mut response = Response::new(Body::from(reply.body.to_string()));
    *response.status_mut() = reply.status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(seconds) = reply.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

async fn handle(
    state: &Mutex<State>,
    request: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    if let Some(host) = request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
    {
        let overrides = request
            .headers()
            .get("cloudflare-workers-version-overrides")
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned);
        let bare = host
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if let Some((script, subdomain)) = super::edge::worker_host(&host) {
            let target = super::edge::Host::WorkersDev { script, subdomain };
            return Ok(super::edge::serve(state, target, overrides.as_deref()).await);
        }
        let custom = {
            let state = lock(state);
            super::domains::route(&state, &bare).is_some()
                || state.pending_hostnames.contains(&bare)
        };
        if custom {
            let target = super::edge::Host::Custom(&bare);
            return Ok(super::edge::serve(state, target, overrides.as_deref()).await);
        }
    }
    let arrived = Instant::now();
    let method = request.method().clone();
    let token = bearer(&request);
    let token_ref = token.as_ref().map(Option::as_deref).map_err(|_| ());
    let mut record = RecordedRequest {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        status: None,
        token_sha256: token_ref
            .ok()
            .flatten()
            .map(|token| api::hex(&Sha256::digest(token.as_bytes()))),
        // A short token's last four characters would be most of it.
        token_last4: token_ref
            .ok()
            .flatten()
            .filter(|token| token.chars().count() > 8)
            .map(|token| {
                let start = token.char_indices().rev().nth(3).map_or(0, |(i, _)| i);
                token[start..].to_owned()
            }),
        at: Utc::now(),
    };
    let finish = |record: &mut RecordedRequest, reply: Reply| {
        record.status = Some(reply.status.as_u16());
        let mut state = lock(state);
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            state.rate_limited += 1;
        }
        state.requests.push(record.clone());
        Ok(response(reply))
    };
    let lost = |record: &RecordedRequest| {
        lock(state).requests.push(record.clone());
        Err(DropConnection)
    };

    let source = match request
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        Some(agent) if agent.starts_with("wrangler") => "wrangler",
        _ => "api",
    }
    .to_owned();
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    // Read the whole body before answering anything, even when it is too large or the answer
    // is an error: answering while the client still sends makes it see a reset connection
    // instead of the answer.
    let Ok(body) = axum::body::to_bytes(Body::new(request.into_body()), usize::MAX).await else {
        return lost(&record);
    };

    let (wait, faults) = {
        let mut state = lock(state);
        let key = token_ref.ok().flatten().unwrap_or_default().to_owned();
        let wait = rate_limit(&mut state, &key, arrived);
        let faults = if wait.is_none() {
            draw_faults(&mut state, &method, &record.path)
        } else {
            FaultDraw::default()
        };
        (wait, faults)
    };
    if let Some(seconds) = wait {
        let mut reply = Reply::from(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            code::RATE_LIMITED,
            "Please wait and consider throttling your request speed",
        ));
        reply.retry_after = Some(seconds);
        return finish(&mut record, reply);
    }
    if faults.slow {
        let slow_for = lock(state).faults.slow_for;
        tokio::time::sleep(slow_for).await;
    }
    if faults.error {
        let error = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::INTERNAL,
            "workers.api.error.unknown",
        );
        return finish(&mut record, error.into());
    }
    if faults.drop {
        return lost(&record);
    }

    let Some(rest) = record.path.strip_prefix(PREFIX) else {
        let error = ApiError::new(
            StatusCode::NOT_FOUND,
            code::NO_ROUTE,
            "No route for that URI",
        );
        return finish(&mut record, error.into());
    };
    let segments: Vec<String> = rest.split('/').map(str::to_owned).collect();
    let authorized = authorize(&lock(state), token_ref, &segments);
    if let Err(error) = authorized {
        return finish(&mut record, error.into());
    }

    let body_limit = lock(state).body_limit;
    if body.len() > body_limit {
        let error = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::TOO_LARGE,
            format!("Your Worker exceeded the size limit of {body_limit} bytes"),
        );
        return finish(&mut record, error.into());
    }
    let call = Call {
        method,
        segments,
        query: record.query.clone(),
        content_type,
        body,
        token_sha256: record.token_sha256.clone(),
        source,
    };
    let reply = api::dispatch(state, call).await;
    if faults.drop_after_apply {
        return lost(&record);
    }
    finish(&mut record, reply)
}

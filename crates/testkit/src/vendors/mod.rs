//! Fakes of the vendor endpoints c15t talks to: the calls connection tests make, the server
//! event APIs a customer's worker forwards consented events to, and the script hosts a
//! browser loads vendor tags from.
//!
//! [`FakeVendors::start`] serves every vendor on one `127.0.0.1` port, each on the paths the
//! real service uses, so one base URL stands in for every vendor's base (a test points each of
//! its per-vendor base URLs at [`FakeVendors::base_url`]). Each fake checks requests the way
//! its vendor documents them, knows which credentials are valid (registered by the test with
//! the `add_*` methods), and answers with the vendor's documented success and error shapes.
//! Where a vendor's documentation leaves an answer open, the module of that vendor says what
//! the fake assumes.
//!
//! Connection-test endpoints:
//!
//! - Meta Graph API pixel lookup, `GET /{version}/{pixel-id}?fields=...&access_token=...`
//!   ([`meta`]).
//! - GA4 Measurement Protocol validation server, `POST /debug/mp/collect` ([`google`]).
//! - PostHog `POST /flags/?v=2` ([`posthog`]).
//! - Matomo Reporting API, `POST /index.php?module=API&method=SitesManager.getSiteFromId`
//!   ([`matomo`]).
//!
//! Server event APIs (what the worker sends):
//!
//! | vendor | endpoint | module |
//! |---|---|---|
//! | Meta Conversions API | `POST /{v21.0}/{pixel_id}/events` | [`meta`] |
//! | GA4 Measurement Protocol | `POST /mp/collect`, `POST /debug/mp/collect` | [`google`] |
//! | TikTok Events API 2.0 | `POST /open_api/v1.3/event/track/` | [`tiktok`] |
//! | LinkedIn Conversions API | `POST /rest/conversionEvents` | [`linkedin`] |
//! | Reddit Conversions API v3 | `POST /api/v3/pixels/{pixel_id}/conversion_events` | [`reddit`] |
//! | Snapchat Conversions API v3 | `POST /v3/{pixel_id}/events`, `.../events/validate` | [`snapchat`] |
//! | PostHog capture | `POST /i/v0/e/`, `/capture/`, `/batch/` | [`posthog`] |
//! | Mixpanel ingestion | `POST /track`, `POST /import?strict=1` | [`mixpanel`] |
//! | Amplitude HTTP V2 | `POST /2/httpapi` | [`amplitude`] |
//! | Segment HTTP tracking API | `POST /v1/track`, `GET /v1/projects/{writeKey}/settings` | [`segment`] |
//! | Plausible Events API | `POST /api/event` | [`plausible`] |
//! | Umami | `POST /api/send` | [`umami`] |
//! | Matomo Tracking API | `GET`/`POST /matomo.php` | [`matomo`] |
//!
//! Script hosts (what a browser loads, and what connection tests of client-only kinds
//! fetch): see [`scripts`].
//!
//! Every request is recorded with its method, path, query, all headers and body
//! ([`FakeVendors::requests`], [`FakeVendors::requests_to`]). Vendors that accept a request
//! with `2xx` and then silently discard it (GA4 collect, PostHog capture, Segment, Plausible)
//! record why in [`Recorded::dropped`], so a test can tell "sent" from "counted".
//! [`FakeVendors::set_delay`] slows answers down (timeouts); [`FakeVendors::fail_with`]
//! replaces every answer with a fixed status and body, and [`FakeVendors::fail_path`] does so
//! for the paths under one prefix only (one vendor answers 500 while the others work).

pub mod amplitude;
pub mod google;
pub mod linkedin;
pub mod matomo;
pub mod meta;
pub mod mixpanel;
pub mod plausible;
pub mod posthog;
pub mod reddit;
pub mod scripts;
pub mod segment;
pub mod snapchat;
pub mod tiktok;
pub mod umami;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::Value;
use tokio::sync::oneshot;

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The request's number among all requests the fakes received (in arrival order).
    pub seq: u64,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path.
    pub path: String,
    /// The query parameters, in order, decoded.
    pub query: Vec<(String, String)>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// Every header, in order, names in lower case (values that are not text are skipped).
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
    /// Why the vendor accepted this request but would not count it (unknown key, missing
    /// field, ...); `None` when it was counted or answered with an error.
    pub dropped: Option<String>,
}

impl Recorded {
    /// A query parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The body's `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        url_pairs(&self.body)
    }
}

/// Which credentials may use which objects (pixels, conversion rules, sites) at one vendor.
#[derive(Debug, Default)]
pub(crate) struct Access {
    /// Object id -> tokens that may use it.
    objects: BTreeMap<String, BTreeSet<String>>,
    /// Every token the vendor knows.
    tokens: BTreeSet<String>,
}

impl Access {
    fn grant(&mut self, object: &str, token: &str) {
        self.tokens.insert(token.to_owned());
        self.objects
            .entry(object.to_owned())
            .or_default()
            .insert(token.to_owned());
    }

    fn add_token(&mut self, token: &str) {
        self.tokens.insert(token.to_owned());
    }

    pub(crate) fn knows_token(&self, token: &str) -> bool {
        self.tokens.contains(token)
    }

    pub(crate) fn may(&self, object: &str, token: &str) -> bool {
        self.objects.get(object).is_some_and(|t| t.contains(token))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Book {
    /// Meta pixel id -> name.
    pub(crate) meta_names: BTreeMap<String, String>,
    pub(crate) meta: Access,
    pub(crate) posthog_keys: BTreeSet<String>,
    /// Matomo site id -> name.
    pub(crate) matomo_names: BTreeMap<String, String>,
    pub(crate) matomo: Access,
    pub(crate) tiktok: Access,
    pub(crate) linkedin: Access,
    pub(crate) reddit: Access,
    pub(crate) snapchat: Access,
    /// Mixpanel project token -> API secret.
    pub(crate) mixpanel: BTreeMap<String, Option<String>>,
    pub(crate) amplitude_keys: BTreeSet<String>,
    pub(crate) segment_keys: BTreeSet<String>,
    pub(crate) plausible_domains: BTreeSet<String>,
    pub(crate) umami_websites: BTreeSet<String>,
    /// (script host vendor, id) pairs whose script exists.
    pub(crate) scripts: BTreeSet<(String, String)>,
    delay: Duration,
    /// (path prefix, status, body); the longest matching prefix wins, `""` matches every path.
    failures: Vec<(String, u16, String)>,
    requests: Vec<Recorded>,
}

pub(crate) type Shared = Arc<Mutex<Book>>;

pub(crate) fn lock(state: &Shared) -> MutexGuard<'_, Book> {
    state.lock().expect("fake vendors lock")
}

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
            // Meta Graph API (and Snapchat's `/v3/...`, which shares the shape).
            .route("/{version}/{object}", get(meta::object))
            .route("/{version}/{object}/events", post(meta::events_or_snapchat))
            .route("/v3/{pixel}/events/validate", post(snapchat::validate))
            .route("/signals/config/{pixel}", get(scripts::meta_config))
            // Google.
            .route("/debug/mp/collect", post(google::validate))
            .route("/mp/collect", post(google::collect))
            .route("/gtm.js", get(scripts::gtm))
            .route("/gtag/js", get(scripts::gtag))
            // PostHog.
            .route("/flags", post(posthog::flags))
            .route("/flags/", post(posthog::flags))
            .route("/i/v0/e", post(posthog::capture))
            .route("/i/v0/e/", post(posthog::capture))
            .route("/capture", post(posthog::capture))
            .route("/capture/", post(posthog::capture))
            .route("/e", post(posthog::capture))
            .route("/e/", post(posthog::capture))
            .route("/batch", post(posthog::capture))
            .route("/batch/", post(posthog::capture))
            // Matomo.
            .route("/index.php", post(matomo::api))
            .route("/matomo.php", any(matomo::track))
            // TikTok.
            .route("/open_api/v1.3/event/track/", post(tiktok::track))
            .route("/open_api/v1.3/event/track", post(tiktok::track))
            .route("/i18n/pixel/events.js", get(scripts::tiktok))
            // LinkedIn.
            .route("/rest/conversionEvents", post(linkedin::conversion_events))
            .route(
                "/li.lms-analytics/insight.min.js",
                get(scripts::static_script),
            )
            // Reddit.
            .route(
                "/api/v3/pixels/{pixel}/conversion_events",
                post(reddit::conversion_events),
            )
            .route("/ads/pixel.js", get(scripts::static_script))
            // Snapchat.
            .route("/scevent.min.js", get(scripts::static_script))
            // Mixpanel.
            .route("/track", post(mixpanel::track))
            .route("/track/", post(mixpanel::track))
            .route("/import", post(mixpanel::import))
            .route(
                "/libs/mixpanel-2-latest.min.js",
                get(scripts::static_script),
            )
            // Amplitude.
            .route("/2/httpapi", post(amplitude::httpapi))
            // Segment.
            .route("/v1/track", post(segment::track))
            .route("/v1/page", post(segment::page))
            .route("/v1/projects/{key}/settings", get(segment::settings))
            // Plausible and Umami.
            .route("/api/event", post(plausible::event))
            .route("/js/{file}", get(scripts::js_file))
            .route("/api/send", post(umami::send))
            // Other script hosts.
            .route("/tag/{id}", get(scripts::clarity))
            .route("/c/{file}", get(scripts::hotjar))
            .route("/uwt.js", get(scripts::static_script))
            .route("/bat.js", get(scripts::static_script))
            .route("/script.js", get(scripts::static_script))
            .route("/beacon.min.js", get(scripts::static_script))
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

    /// Registers a Meta pixel that `token` may read and send events to (the token becomes
    /// valid).
    pub fn add_meta_pixel(&self, pixel_id: &str, name: &str, token: &str) {
        let mut s = self.lock();
        s.meta.grant(pixel_id, token);
        s.meta_names
            .entry(pixel_id.to_owned())
            .or_insert_with(|| name.to_owned());
    }

    /// Registers a valid Meta token that may use no pixel.
    pub fn add_meta_token(&self, token: &str) {
        self.lock().meta.add_token(token);
    }

    /// Registers a PostHog project API key.
    pub fn add_posthog_key(&self, key: &str) {
        self.lock().posthog_keys.insert(key.to_owned());
    }

    /// Registers a Matomo site that `token` may view and track into (the token becomes
    /// valid).
    pub fn add_matomo_site(&self, site_id: u32, name: &str, token: &str) {
        let mut s = self.lock();
        let id = site_id.to_string();
        s.matomo.grant(&id, token);
        s.matomo_names.entry(id).or_insert_with(|| name.to_owned());
    }

    /// Registers a valid Matomo token with access to no site.
    pub fn add_matomo_token(&self, token: &str) {
        self.lock().matomo.add_token(token);
    }

    /// Registers a TikTok pixel code that the Events API `token` may send events to.
    pub fn add_tiktok_pixel(&self, pixel_code: &str, token: &str) {
        self.lock().tiktok.grant(pixel_code, token);
        self.add_script("tiktok", pixel_code);
    }

    /// Registers a valid TikTok token that may use no pixel.
    pub fn add_tiktok_token(&self, token: &str) {
        self.lock().tiktok.add_token(token);
    }

    /// Registers a LinkedIn conversion rule (`urn:lla:llaPartnerConversion:<id>`, give the
    /// id) that `token` may send conversions to.
    pub fn add_linkedin_conversion(&self, conversion_id: &str, token: &str) {
        self.lock().linkedin.grant(conversion_id, token);
    }

    /// Registers a valid LinkedIn token that may use no conversion rule.
    pub fn add_linkedin_token(&self, token: &str) {
        self.lock().linkedin.add_token(token);
    }

    /// Registers a Reddit pixel that the conversion access `token` may send events to.
    pub fn add_reddit_pixel(&self, pixel_id: &str, token: &str) {
        self.lock().reddit.grant(pixel_id, token);
    }

    /// Registers a valid Reddit token that may use no pixel.
    pub fn add_reddit_token(&self, token: &str) {
        self.lock().reddit.add_token(token);
    }

    /// Registers a Snapchat pixel that the Conversions API `token` may send events to.
    pub fn add_snapchat_pixel(&self, pixel_id: &str, token: &str) {
        self.lock().snapchat.grant(pixel_id, token);
    }

    /// Registers a valid Snapchat token that may use no pixel.
    pub fn add_snapchat_token(&self, token: &str) {
        self.lock().snapchat.add_token(token);
    }

    /// Registers a Mixpanel project by its project token, with its API secret if `/import`
    /// should accept it.
    pub fn add_mixpanel_project(&self, token: &str, api_secret: Option<&str>) {
        self.lock()
            .mixpanel
            .insert(token.to_owned(), api_secret.map(str::to_owned));
    }

    /// Registers an Amplitude project API key.
    pub fn add_amplitude_key(&self, key: &str) {
        self.lock().amplitude_keys.insert(key.to_owned());
    }

    /// Registers a Segment source write key.
    pub fn add_segment_key(&self, write_key: &str) {
        self.lock().segment_keys.insert(write_key.to_owned());
    }

    /// Registers a site (domain) at Plausible.
    pub fn add_plausible_domain(&self, domain: &str) {
        self.lock().plausible_domains.insert(domain.to_owned());
    }

    /// Registers an Umami website id.
    pub fn add_umami_website(&self, website_id: &str) {
        self.lock().umami_websites.insert(website_id.to_owned());
    }

    /// Makes a script host serve the script of `id` (`vendor` as in [`scripts`]: `gtm`, `gtag`,
    /// `clarity`, `hotjar`, `tiktok`, `meta`, `heap`).
    pub fn add_script(&self, vendor: &str, id: &str) {
        self.lock()
            .scripts
            .insert((vendor.to_owned(), id.to_owned()));
    }

    /// Waits this long before every answer.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Answers every following request with `status` and `body` (JSON); `None` restores the
    /// normal answers (of every path, including those set with [`Self::fail_path`]).
    pub fn fail_with(&self, failure: Option<(u16, &str)>) {
        let mut s = self.lock();
        match failure {
            Some((status, body)) => s.failures.push((String::new(), status, body.to_owned())),
            None => s.failures.clear(),
        }
    }

    /// Answers every following request whose path starts with `prefix` (e.g.
    /// `/open_api/`) with `status` and `body`; `None` restores that prefix's normal answers.
    pub fn fail_path(&self, prefix: &str, failure: Option<(u16, &str)>) {
        let mut s = self.lock();
        s.failures.retain(|(p, _, _)| p != prefix);
        if let Some((status, body)) = failure {
            s.failures
                .push((prefix.to_owned(), status, body.to_owned()));
        }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// The requests whose path starts with `prefix`, in arrival order.
    pub fn requests_to(&self, prefix: &str) -> Vec<Recorded> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        lock(&self.state)
    }
}

impl Drop for FakeVendors {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A whole request as the fakes see it.
#[derive(Debug)]
pub(crate) struct Req {
    /// This request's number, which its [`Recorded`] carries too.
    pub(crate) seq: u64,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Numbers requests across every fake, so a handler can mark its own record.
static NEXT_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl<S: Send + Sync> FromRequest<S> for Req {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            seq: NEXT_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        })
    }
}

impl Req {
    /// The query's pairs, decoded.
    pub(crate) fn query(&self) -> Vec<(String, String)> {
        url_pairs(self.uri.query().unwrap_or_default())
    }

    /// A query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.query()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The token of an `Authorization: Bearer ...` header.
    pub(crate) fn bearer(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
    }

    /// The user name of an `Authorization: Basic ...` header.
    pub(crate) fn basic_user(&self) -> Option<(String, String)> {
        use base64::Engine as _;
        let encoded = self.header("authorization")?.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':').unwrap_or((&text, ""));
        Some((user.to_owned(), password.to_owned()))
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Whether the body was sent as a form.
    pub(crate) fn is_form(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    }

    /// The body's form pairs.
    pub(crate) fn form(&self) -> Vec<(String, String)> {
        url_pairs(&String::from_utf8_lossy(&self.body))
    }
}

/// Records the request, waits the configured delay, and returns a scripted failure if one
/// applies to its path.
pub(crate) async fn arrive(state: &Shared, req: &Req) -> Option<Response> {
    let path = req.uri.path().to_owned();
    let (delay, failure) = {
        let mut s = lock(state);
        s.requests.push(Recorded {
            seq: req.seq,
            method: req.method.to_string(),
            path: path.clone(),
            query: req.query(),
            user_agent: req.header("user-agent").map(str::to_owned),
            headers: req
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            dropped: None,
        });
        let failure = s
            .failures
            .iter()
            .filter(|(prefix, _, _)| path.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _, _)| prefix.len())
            .map(|(_, status, body)| (*status, body.clone()));
        (s.delay, failure)
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

/// Marks the last recorded request as accepted but not counted, for `reason`.
/// Marks `req`'s record as accepted but not counted (others may have arrived since).
pub(crate) fn mark_dropped(state: &Shared, req: &Req, reason: impl Into<String>) {
    if let Some(record) = lock(state)
        .requests
        .iter_mut()
        .rev()
        .find(|r| r.seq == req.seq)
    {
        record.dropped = Some(reason.into());
    }
}

/// A JSON answer.
pub(crate) fn json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Whether `text` is a SHA-256 digest as vendors want hashed identifiers: 64 lower-case hex
/// digits.
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A random hex id of `len` digits, for vendors' request and trace ids.
pub(crate) fn hex_id(len: usize) -> String {
    let mut out = String::new();
    while out.len() < len {
        out.push_str(&format!("{:032x}", rand::random::<u128>()));
    }
    out.truncate(len);
    out
}

/// Decodes `application/x-www-form-urlencoded` pairs (query strings, form bodies).
pub(crate) fn url_pairs(query: &str) -> Vec<(String, String)> {
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

async fn not_found(State(state): State<Shared>, req: Req) -> Response {
    let _ = arrive(&state, &req).await;
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
    fn sha256_digests_are_lower_case_hex() {
        assert!(is_sha256_hex(&"a1".repeat(32)));
        assert!(!is_sha256_hex(&"A1".repeat(32)));
        assert!(!is_sha256_hex("user@example.com"));
    }
}

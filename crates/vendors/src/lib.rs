//! Connection testers of destination vendors: one cheap, documented call per kind that tells
//! whether a destination's stored settings work at the vendor (the pixel exists and the token
//! may read it, the key is a real project key, ...), with the vendor's own message.
//!
//! [`Testers::test`] takes a kind's slug and its [`Settings`] (plain values and the decrypted
//! secret values of that one destination) and always returns a [`ConnectionReport`]: a vendor
//! that refuses, times out or cannot be reached is a result to show, not an error. Every kind
//! of the catalogue has a check: the vendor's test-event facility where it has one, else the
//! cheapest authenticated call that writes nothing, else the public id's documented format and
//! the vendor's script for it; the message says how far the check went. A kind whose check
//! needs a credential the destination does not have (Matomo without `tokenAuth`, GA4 and
//! Meta fall back to their browser tag) reports [`Outcome::Unsupported`] with the reason.
//!
//! | kind | call | bad credentials when |
//! |---|---|---|
//! | `meta-pixel` | with `testEventCode`: a test event `POST {meta_graph}/v21.0/{pixelId}/events`; else `GET {meta_graph}/v21.0/{pixelId}?fields=id,name&access_token=…`; without a token, the pixel's script | an `OAuthException` (code 190, 102, 104) or a permission error (10, 200–299) |
//! | `google-analytics` | `POST {ga4_mp}/debug/mp/collect?measurement_id=…&api_secret=…`; without a secret, `gtag/js?id=` | never: Google's validation server does not check API secrets |
//! | `posthog` | `POST {host}/flags/?v=2` with `{"api_key", "distinct_id"}` | `401` |
//! | `matomo` | `POST {matomoUrl}/index.php?module=API&method=SitesManager.getSiteFromId&idSite=…` with `token_auth` in the body | an error `message` about the token or access |
//! | `tiktok-pixel` | with `testEventCode`: a test event `POST {tiktok_business}/open_api/v1.3/event/track/`; else the pixel's script | `code` 40001 (40001 naming the pixel: not found) |
//! | `reddit-pixel` | `POST {reddit_ads}/api/v3/pixels/{pixelId}/conversion_events` with `test_mode: true`; without a token, the script | `401` (`403`: not found) |
//! | `snapchat-pixel` | `POST {snapchat_capi}/v3/{pixelId}/events/validate`; without a token, the script | `401`/`403` |
//! | `mixpanel` | with `apiSecret`: `POST {apiHost}/import?strict=1` with an empty batch; else the token's format and script | `401`/`403` |
//! | `amplitude` | `POST {amplitude_api}/2/httpapi` with one event refused by design (4-character `device_id`) | `400 Invalid API key` |
//! | `segment` | `GET {segment_cdn}/v1/projects/{writeKey}/settings` | `404` |
//! | `plausible`, `umami` | the id's format, then `{host}/js/script.js` / `{host}/script.js` | never (their APIs accept unknown sites) |
//! | `google-tag-manager`, `microsoft-clarity`, `hotjar`, `heap` | the id's format, then the script whose URL names it | never; `404` is not found |
//! | `x-pixel`, `microsoft-uet`, `fathom`, `cloudflare-web-analytics`, `linkedin-insight` | the id's format, then the vendor's shared script | never |
//! | every other kind | the id's format (the catalogue's pattern) only, said so in the message | never |
//!
//! The docs of the modules `ads`, `products` and `client` give each call's documentation.
//!
//! PostHog is checked at `/flags` rather than at the capture endpoint because capture answers
//! `200` to every well-formed key, known or not (PostHog/posthog#54670), and because a test
//! must not write an event into the customer's data.
//!
//! **Invariant:** no report, `Debug` output, error or log line carries a secret value. Secret
//! values are plaintext only inside [`c15t_secrets::Secret`] and in the one request that uses
//! them; HTTP client errors are stripped of their URL (where Meta and Google take the
//! credential), and every vendor message is passed through [`redact`] before it is reported.
//!
//! **Invariant:** a customer-supplied base URL (PostHog's `host`, Matomo's `matomoUrl`) is reached only through
//! [`c15t_net::SsrfPolicy`]: names are resolved by its guarded resolver, IP
//! literals are checked before sending, plain `http://` only where the operator allows it,
//! and redirects are not followed. Operator-configured bases ([`VendorEndpoints`]) are trusted.

mod ads;
mod client;
mod ga4;
mod http;
mod matomo;
mod meta;
mod posthog;
mod products;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use c15t_net::{GuardedResolver, SsrfPolicy};
use c15t_secrets::Secret;
use serde::Serialize;
use url::Url;

pub use meta::META_GRAPH_VERSION;

/// Timeout of one connection test (connecting, sending and reading the answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `distinct_id` / `client_id` the tests identify themselves with at vendors that ask for
/// one.
pub const TEST_CLIENT_ID: &str = "c15t-connection-test";

/// Base URLs of the vendors' APIs and script hosts; tests point them at fakes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorEndpoints {
    /// Meta's Graph API (`https://graph.facebook.com`).
    pub meta_graph: Url,
    /// Google Analytics' Measurement Protocol host (`https://www.google-analytics.com`).
    pub ga4_mp: Url,
    /// PostHog's ingestion host used when a destination sets no `host`
    /// (`https://us.i.posthog.com`, PostHog's own default).
    pub posthog: Url,
    /// TikTok's Business API (Events API 2.0) (`https://business-api.tiktok.com`).
    pub tiktok_business: Url,
    /// Reddit's Ads API (Conversions API v3) (`https://ads-api.reddit.com`).
    pub reddit_ads: Url,
    /// Snapchat's Conversions API (`https://tr.snapchat.com`).
    pub snapchat_capi: Url,
    /// Mixpanel's ingestion API, when a destination sets no `apiHost` (`https://api.mixpanel.com`).
    pub mixpanel_api: Url,
    /// Amplitude's HTTP V2 API (US data centre) (`https://api2.amplitude.com`).
    pub amplitude_api: Url,
    /// Amplitude's HTTP V2 API for `serverZone` `EU` (`https://api.eu.amplitude.com`).
    pub amplitude_eu_api: Url,
    /// Segment's CDN, which serves a source's settings by write key (`https://cdn.segment.com`).
    pub segment_cdn: Url,
    /// Plausible, when a destination sets no `apiHost` (`https://plausible.io`).
    pub plausible: Url,
    /// Umami Cloud, when a destination sets no `hostUrl` (`https://cloud.umami.is`).
    pub umami: Url,
    /// Google Tag Manager's script host (`https://www.googletagmanager.com`).
    pub gtm_scripts: Url,
    /// Microsoft Clarity's script host (`https://www.clarity.ms`).
    pub clarity_scripts: Url,
    /// X's (Twitter's) ads script host (`https://static.ads-twitter.com`).
    pub x_scripts: Url,
    /// Microsoft UET's script host (`https://bat.bing.com`).
    pub uet_scripts: Url,
    /// Hotjar's script host (`https://static.hotjar.com`).
    pub hotjar_scripts: Url,
    /// Fathom's script host (`https://cdn.usefathom.com`).
    pub fathom_scripts: Url,
    /// Cloudflare Web Analytics' beacon host (`https://static.cloudflareinsights.com`).
    pub cloudflare_scripts: Url,
    /// TikTok's pixel script host (`https://analytics.tiktok.com`).
    pub tiktok_scripts: Url,
    /// LinkedIn's Insight Tag host (`https://snap.licdn.com`).
    pub linkedin_scripts: Url,
    /// Reddit's pixel script host (`https://www.redditstatic.com`).
    pub reddit_scripts: Url,
    /// Snapchat's pixel script host (`https://sc-static.net`).
    pub snapchat_scripts: Url,
    /// Mixpanel's script CDN (`https://cdn.mxpnl.com`).
    pub mixpanel_scripts: Url,
    /// Heap's script CDN (`https://cdn.heapanalytics.com`).
    pub heap_scripts: Url,
    /// Meta's pixel script host (`https://connect.facebook.net`).
    pub meta_scripts: Url,
}

impl Default for VendorEndpoints {
    fn default() -> Self {
        Self {
            meta_graph: fixed_url("https://graph.facebook.com"),
            ga4_mp: fixed_url("https://www.google-analytics.com"),
            posthog: fixed_url("https://us.i.posthog.com"),
            tiktok_business: fixed_url("https://business-api.tiktok.com"),
            reddit_ads: fixed_url("https://ads-api.reddit.com"),
            snapchat_capi: fixed_url("https://tr.snapchat.com"),
            mixpanel_api: fixed_url("https://api.mixpanel.com"),
            amplitude_api: fixed_url("https://api2.amplitude.com"),
            amplitude_eu_api: fixed_url("https://api.eu.amplitude.com"),
            segment_cdn: fixed_url("https://cdn.segment.com"),
            plausible: fixed_url("https://plausible.io"),
            umami: fixed_url("https://cloud.umami.is"),
            gtm_scripts: fixed_url("https://www.googletagmanager.com"),
            clarity_scripts: fixed_url("https://www.clarity.ms"),
            x_scripts: fixed_url("https://static.ads-twitter.com"),
            uet_scripts: fixed_url("https://bat.bing.com"),
            hotjar_scripts: fixed_url("https://static.hotjar.com"),
            fathom_scripts: fixed_url("https://cdn.usefathom.com"),
            cloudflare_scripts: fixed_url("https://static.cloudflareinsights.com"),
            tiktok_scripts: fixed_url("https://analytics.tiktok.com"),
            linkedin_scripts: fixed_url("https://snap.licdn.com"),
            reddit_scripts: fixed_url("https://www.redditstatic.com"),
            snapchat_scripts: fixed_url("https://sc-static.net"),
            mixpanel_scripts: fixed_url("https://cdn.mxpnl.com"),
            heap_scripts: fixed_url("https://cdn.heapanalytics.com"),
            meta_scripts: fixed_url("https://connect.facebook.net"),
        }
    }
}

impl VendorEndpoints {
    /// Every base at `base` (one fake serving every vendor on its real paths).
    pub fn all_at(base: &Url) -> Self {
        Self {
            meta_graph: base.clone(),
            ga4_mp: base.clone(),
            posthog: base.clone(),
            tiktok_business: base.clone(),
            reddit_ads: base.clone(),
            snapchat_capi: base.clone(),
            mixpanel_api: base.clone(),
            amplitude_api: base.clone(),
            amplitude_eu_api: base.clone(),
            segment_cdn: base.clone(),
            plausible: base.clone(),
            umami: base.clone(),
            gtm_scripts: base.clone(),
            clarity_scripts: base.clone(),
            x_scripts: base.clone(),
            uet_scripts: base.clone(),
            hotjar_scripts: base.clone(),
            fathom_scripts: base.clone(),
            cloudflare_scripts: base.clone(),
            tiktok_scripts: base.clone(),
            linkedin_scripts: base.clone(),
            reddit_scripts: base.clone(),
            snapchat_scripts: base.clone(),
            mixpanel_scripts: base.clone(),
            heap_scripts: base.clone(),
            meta_scripts: base.clone(),
        }
    }
}

fn fixed_url(text: &str) -> Url {
    Url::parse(text).unwrap_or_else(|e| panic!("built-in vendor URL {text} is invalid: {e}"))
}

/// How connection tests run.
#[derive(Debug, Clone, Default)]
pub struct VendorOptions {
    /// Where the vendors are.
    pub endpoints: VendorEndpoints,
    /// Timeout of one test; [`DEFAULT_TIMEOUT`] when `None`.
    pub timeout: Option<Duration>,
    /// Which addresses customer-supplied URLs may reach.
    pub ssrf: SsrfPolicy,
}

/// Why the testers could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// The HTTP client could not be built (for example, no TLS roots).
    #[error("could not build the HTTP client for connection tests")]
    Client {
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
}

/// A destination's settings as a tester needs them: plain values as text, and the decrypted
/// values of its secret settings. `Debug` shows secrets as `***`.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: BTreeMap<String, String>,
    secrets: BTreeMap<String, Secret>,
}

impl Settings {
    /// No settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a plain setting.
    pub fn insert_value(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.values.insert(key.into(), value.into());
    }

    /// Sets a secret setting.
    pub fn insert_secret(&mut self, key: impl Into<String>, value: Secret) {
        self.secrets.insert(key.into(), value);
    }

    /// The same settings with a plain value added.
    pub fn with_value(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert_value(key, value);
        self
    }

    /// The same settings with a secret added.
    pub fn with_secret(mut self, key: impl Into<String>, value: Secret) -> Self {
        self.insert_secret(key, value);
        self
    }

    /// A plain setting; empty text counts as unset.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A secret setting; an empty value counts as unset.
    pub fn secret(&self, key: &str) -> Option<&Secret> {
        self.secrets.get(key).filter(|s| !s.expose().is_empty())
    }

    /// Every secret value, for redaction.
    fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.secrets.values().map(Secret::expose)
    }
}

/// What a connection test found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The vendor accepted the settings.
    Ok,
    /// The vendor refused the credentials (invalid, expired, or without permission).
    BadCredentials,
    /// The credentials work but the vendor does not know the configured object (pixel).
    NotFound,
    /// The vendor answered that the settings are malformed; the message lists its findings.
    Rejected,
    /// No answer: connection refused, DNS failure, timeout, or an address the SSRF policy
    /// refuses.
    Unreachable,
    /// The vendor answered with an error this tester does not recognise.
    VendorError {
        /// The HTTP status of the answer.
        status: u16,
    },
    /// This destination cannot be tested; the message says why.
    Unsupported,
}

impl Outcome {
    /// A short label: `ok`, `bad credentials`, `not found`, `rejected`, `unreachable`,
    /// `vendor error`, `unsupported`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::BadCredentials => "bad credentials",
            Self::NotFound => "not found",
            Self::Rejected => "rejected",
            Self::Unreachable => "unreachable",
            Self::VendorError { .. } => "vendor error",
            Self::Unsupported => "unsupported",
        }
    }
}

/// The result of one connection test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionReport {
    /// The destination's kind, e.g. `meta-pixel`.
    pub kind: String,
    /// What the test found (serialised flat: `"result": "bad_credentials"`, plus `status` for
    /// a vendor error).
    #[serde(flatten)]
    pub outcome: Outcome,
    /// What happened, in words, with the vendor's own message where it sent one (secret values
    /// replaced by `***`).
    pub message: String,
    /// How long the vendor took to answer, in milliseconds (`None` when no request was made or
    /// none was answered).
    pub latency_ms: Option<u64>,
}

impl ConnectionReport {
    /// Whether the settings work.
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }

    fn unsupported(kind: &str, reason: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            outcome: Outcome::Unsupported,
            message: reason.into(),
            latency_ms: None,
        }
    }
}

/// A tester's finding before redaction and timing are added.
#[derive(Debug)]
pub(crate) struct Finding {
    pub(crate) outcome: Outcome,
    pub(crate) message: String,
}

impl Finding {
    pub(crate) fn new(outcome: Outcome, message: impl Into<String>) -> Self {
        Self {
            outcome,
            message: message.into(),
        }
    }
}

/// The connection testers of every supported kind, sharing two HTTP clients: one for the
/// operator's configured vendor bases, one guarded by the SSRF policy for customer-supplied
/// hosts.
#[derive(Debug, Clone)]
pub struct Testers {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    trusted: reqwest::Client,
    guarded: reqwest::Client,
    endpoints: VendorEndpoints,
    ssrf: SsrfPolicy,
    timeout: Duration,
}

impl Testers {
    /// Testers with `options`.
    pub fn new(options: VendorOptions) -> Result<Self, VendorError> {
        let trusted = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(http::USER_AGENT)
            .build()
            .map_err(|source| VendorError::Client { source })?;
        let policy = Arc::new(options.ssrf.clone());
        let guarded = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(http::USER_AGENT)
            .dns_resolver(Arc::new(GuardedResolver::new(policy)))
            .build()
            .map_err(|source| VendorError::Client { source })?;
        Ok(Self {
            inner: Arc::new(Inner {
                trusted,
                guarded,
                endpoints: options.endpoints,
                ssrf: options.ssrf,
                timeout: options.timeout.unwrap_or(DEFAULT_TIMEOUT),
            }),
        })
    }

    /// Whether `kind` has a tester (a caller may skip decrypting secrets otherwise): every
    /// kind of the built-in catalogue.
    pub fn supports(kind: &str) -> bool {
        c15t_model::catalogue::Catalogue::builtin()
            .get(kind)
            .is_some()
    }

    /// The timeout of one test.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Tests a destination of `kind` with `settings` against its vendor.
    pub async fn test(&self, kind: &str, settings: &Settings) -> ConnectionReport {
        let call = http::Call::new(&self.inner, settings.secret_values().collect());
        let started = std::time::Instant::now();
        let e = &self.inner.endpoints;
        let result = match kind {
            "meta-pixel" if settings.secret("accessToken").is_none() => {
                self.client(&call, kind, settings, NO_SERVER_TOKEN).await
            }
            "meta-pixel" => meta::check(&call, &e.meta_graph, settings).await,
            "google-analytics" if settings.secret("apiSecret").is_none() => {
                let check = client::ClientCheck {
                    key: "measurementId",
                    vendor: "Google Analytics",
                    script: client::Script::ForId(|e, id| {
                        let mut url = http::endpoint(&e.gtm_scripts, &["gtag", "js"]);
                        url.query_pairs_mut().append_pair("id", id);
                        url
                    }),
                };
                client::check(
                    &call,
                    e,
                    kind,
                    check,
                    settings,
                    Some(
                        "no Measurement Protocol API secret is stored, so only the browser tag \
                         was checked",
                    ),
                )
                .await
            }
            "google-analytics" => ga4::check(&call, &e.ga4_mp, settings).await,
            "posthog" => posthog::check(&call, &e.posthog, settings).await,
            "matomo" => matomo::check(&call, settings).await,
            "tiktok-pixel" => match (
                settings.value("pixelId"),
                settings.secret("accessToken"),
                settings.value("testEventCode"),
            ) {
                (Some(pixel), Some(token), Some(code)) => {
                    ads::tiktok(&call, &e.tiktok_business, pixel, token.expose(), code).await
                }
                (_, Some(_), None) => {
                    self.client(
                        &call,
                        kind,
                        settings,
                        "the Events API token was not tested: store a test event code (Events \
                         Manager > Test events) to test it without sending a real event",
                    )
                    .await
                }
                _ => self.client(&call, kind, settings, NO_SERVER_TOKEN).await,
            },
            "reddit-pixel" => match (settings.value("pixelId"), settings.secret("accessToken")) {
                (Some(pixel), Some(token)) => {
                    ads::reddit(&call, &e.reddit_ads, pixel, token.expose()).await
                }
                _ => self.client(&call, kind, settings, NO_SERVER_TOKEN).await,
            },
            "snapchat-pixel" => match (settings.value("pixelId"), settings.secret("accessToken")) {
                (Some(pixel), Some(token)) => {
                    ads::snapchat(&call, &e.snapchat_capi, pixel, token.expose()).await
                }
                _ => self.client(&call, kind, settings, NO_SERVER_TOKEN).await,
            },
            "linkedin-insight" => {
                let note = if settings.secret("accessToken").is_some() {
                    "the Conversions API token was not tested: LinkedIn offers no test mode, and \
                     checking it needs a conversion rule this destination does not store"
                } else {
                    NO_SERVER_TOKEN
                };
                self.client(&call, kind, settings, note).await
            }
            "mixpanel" => match products::mixpanel(&call, &e.mixpanel_api, settings).await {
                Some(tested) => tested,
                None => {
                    self.client(
                        &call,
                        kind,
                        settings,
                        "no API secret is stored, so only the project token's format was \
                         checked (Mixpanel's /track would record an event)",
                    )
                    .await
                }
            },
            "amplitude" => {
                products::amplitude(&call, &e.amplitude_api, &e.amplitude_eu_api, settings).await
            }
            "segment" => products::segment(&call, &e.segment_cdn, settings).await,
            "plausible" => products::self_hostable(&call, kind, &e.plausible, settings).await,
            "umami" => products::self_hostable(&call, kind, &e.umami, settings).await,
            other if client::check_of(other).is_some() => {
                self.client(&call, kind, settings, "").await
            }
            other => {
                return ConnectionReport::unsupported(
                    kind,
                    format!(
                        "no connection test for `{other}`: it is not a destination type of this control plane"
                    ),
                );
            }
        };
        let (finding, answered) = match result {
            Tested::Answered(finding) => (finding, true),
            Tested::NoAnswer(finding) => (finding, false),
            Tested::Skipped(reason) => return ConnectionReport::unsupported(kind, reason),
        };
        let latency =
            answered.then(|| u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        let message = redact(&finding.message, settings.secret_values());
        tracing::info!(kind, outcome = finding.outcome.label(), latency_ms = ?latency, "connection test");
        ConnectionReport {
            kind: kind.to_owned(),
            outcome: finding.outcome,
            message,
            latency_ms: latency,
        }
    }
}

/// Why a kind with a server API was checked like a client-only kind.
const NO_SERVER_TOKEN: &str =
    "no server API access token is stored, so only the browser tag was checked";

impl Testers {
    /// The client-only check of `kind` ([`client`]), with `note` on success.
    async fn client(
        &self,
        call: &http::Call<'_>,
        kind: &str,
        settings: &Settings,
        note: &str,
    ) -> Tested {
        let Some(check) = client::check_of(kind) else {
            return Tested::Skipped(format!("no connection test for `{kind}`"));
        };
        let note = (!note.is_empty()).then_some(note);
        client::check(call, &self.inner.endpoints, kind, check, settings, note).await
    }
}

/// How a tester's run ended.
#[derive(Debug)]
pub(crate) enum Tested {
    /// The vendor answered.
    Answered(Finding),
    /// No answer (or refused before sending).
    NoAnswer(Finding),
    /// Not tested, for this reason (a credential the check needs is not set).
    Skipped(String),
}

/// `text` with every secret value (its URL-encoded and HTTP Basic forms too) replaced by
/// `***`.
///
/// Values shorter than four characters are left alone: replacing them would mangle ordinary
/// words while hiding nothing worth hiding.
pub fn redact<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = text.to_owned();
    let mut values: Vec<String> = Vec::new();
    for secret in secrets {
        if secret.chars().count() < 4 {
            continue;
        }
        values.push(secret.to_owned());
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        if encoded != secret {
            values.push(encoded);
        }
        // As HTTP Basic credentials carry it (`base64("secret:")`, Mixpanel's and Segment's).
        values.push(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{secret}:"),
        ));
    }
    // Longest first, so a secret that contains another is replaced whole.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for value in values {
        out = out.replace(&value, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_replaces_plain_and_encoded_values() {
        let text = "token EAAB/x+y= echoed as EAAB%2Fx%2By%3D, short abc kept";
        assert_eq!(
            redact(text, ["EAAB/x+y=", "abc"]),
            "token *** echoed as ***, short abc kept"
        );
    }

    #[test]
    fn report_serialises_flat() {
        let report = ConnectionReport {
            kind: "posthog".to_owned(),
            outcome: Outcome::VendorError { status: 502 },
            message: "bad gateway".to_owned(),
            latency_ms: Some(12),
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "posthog",
                "result": "vendor_error",
                "status": 502,
                "message": "bad gateway",
                "latency_ms": 12,
            })
        );
    }

    #[test]
    fn settings_debug_hides_secrets() {
        let settings = Settings::new()
            .with_value("pixelId", "1234567890")
            .with_secret("accessToken", Secret::from("EAAsecret-value"));
        let debug = format!("{settings:?}");
        assert!(debug.contains("1234567890"), "{debug}");
        assert!(!debug.contains("EAAsecret-value"), "{debug}");
    }
}

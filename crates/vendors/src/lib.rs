//! Connection testers of destination vendors: one cheap, documented call per kind that tells
//! whether a destination's stored settings work at the vendor (the pixel exists and the token
//! may read it, the key is a real project key, ...), with the vendor's own message.
//!
//! [`Testers::test`] takes a kind's slug and its [`Settings`] (plain values and the decrypted
//! secret values of that one destination) and always returns a [`ConnectionReport`]: a vendor
//! that refuses, times out or cannot be reached is a result to show, not an error. Kinds whose
//! vendor has no validation endpoint (or whose check needs a credential the destination does
//! not have) report [`Outcome::Unsupported`] with the reason, never a made-up success.
//!
//! | kind | call | bad credentials when |
//! |---|---|---|
//! | `meta-pixel` | `GET {meta_graph}/v21.0/{pixelId}?fields=id,name&access_token=…` | an `OAuthException` (code 190, 102, 104) or a permission error (10, 200–299) |
//! | `google-analytics` | `POST {ga4_mp}/debug/mp/collect?measurement_id=…&api_secret=…` | never: Google's validation server does not check API secrets; it reports malformed events as `validationMessages` |
//! | `posthog` | `POST {host}/flags/?v=2` with `{"api_key", "distinct_id"}` | `401` |
//! | `matomo` | `POST {matomoUrl}/index.php?module=API&method=SitesManager.getSiteFromId&idSite=…` with `token_auth` in the body | an error `message` about the token or access |
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
//! [`c15t_deploy::webhook::SsrfPolicy`]: names are resolved by its guarded resolver, IP
//! literals are checked before sending, plain `http://` only where the operator allows it,
//! and redirects are not followed. Operator-configured bases ([`VendorEndpoints`]) are trusted.

mod ga4;
mod http;
mod matomo;
mod meta;
mod posthog;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use c15t_deploy::webhook::{GuardedResolver, SsrfPolicy};
use c15t_secrets::Secret;
use serde::Serialize;
use url::Url;

pub use meta::META_GRAPH_VERSION;

/// Timeout of one connection test (connecting, sending and reading the answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `distinct_id` / `client_id` the tests identify themselves with at vendors that ask for
/// one.
pub const TEST_CLIENT_ID: &str = "c15t-connection-test";

/// Base URLs of the vendors' APIs; tests point them at fakes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorEndpoints {
    /// Meta's Graph API (`https://graph.facebook.com`).
    pub meta_graph: Url,
    /// Google Analytics' Measurement Protocol host (`https://www.google-analytics.com`).
    pub ga4_mp: Url,
    /// PostHog's ingestion host used when a destination sets no `host`
    /// (`https://us.i.posthog.com`, PostHog's own default).
    pub posthog: Url,
}

impl Default for VendorEndpoints {
    fn default() -> Self {
        Self {
            meta_graph: fixed_url("https://graph.facebook.com"),
            ga4_mp: fixed_url("https://www.google-analytics.com"),
            posthog: fixed_url("https://us.i.posthog.com"),
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

/// The kinds with a tester, and why the others have none.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "google-tag-manager",
        "a Tag Manager container ID is public and Google offers no API to check it without \
         an OAuth login to the account",
    ),
    (
        "microsoft-clarity",
        "Clarity's project ID is public and Microsoft offers no API to check it",
    ),
    (
        "x-pixel",
        "X offers no API to check a pixel ID without an Ads API login",
    ),
    (
        "microsoft-uet",
        "Microsoft Advertising offers no API to check a UET tag ID without an OAuth login",
    ),
    (
        "hotjar",
        "Hotjar offers no API to check a site ID without an account login",
    ),
    (
        "fathom",
        "Fathom's site ID is public and checking it needs an account API token, which this \
         destination does not store",
    ),
    (
        "cloudflare-web-analytics",
        "the site token is public and checking it needs a Cloudflare account API token, which \
         this destination does not store",
    ),
];

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

    /// Whether `kind` has a tester (a caller may skip decrypting secrets otherwise).
    pub fn supports(kind: &str) -> bool {
        matches!(
            kind,
            "meta-pixel" | "google-analytics" | "posthog" | "matomo"
        )
    }

    /// The timeout of one test.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Tests a destination of `kind` with `settings` against its vendor.
    pub async fn test(&self, kind: &str, settings: &Settings) -> ConnectionReport {
        let call = http::Call::new(&self.inner);
        let started = std::time::Instant::now();
        let result = match kind {
            "meta-pixel" => meta::check(&call, &self.inner.endpoints.meta_graph, settings).await,
            "google-analytics" => ga4::check(&call, &self.inner.endpoints.ga4_mp, settings).await,
            "posthog" => posthog::check(&call, &self.inner.endpoints.posthog, settings).await,
            "matomo" => matomo::check(&call, settings).await,
            other => {
                let reason = UNSUPPORTED.iter().find(|(k, _)| *k == other).map_or_else(
                    || {
                        format!(
                            "no connection test is implemented for destinations of type `{other}`"
                        )
                    },
                    |(_, why)| format!("no connection test for `{other}`: {why}"),
                );
                return ConnectionReport::unsupported(kind, reason);
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

/// `text` with every secret value (and its URL-encoded form) replaced by `***`.
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

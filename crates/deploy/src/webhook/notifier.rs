//! [`WebhookNotifier`]: one signed delivery attempt of a message to an endpoint.

use std::error::Error as _;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use c15t_net::{GuardedResolver, RefusedAddr, ResolveFailed, SsrfPolicy};
use c15t_secrets::Secret;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use url::{Host, Url};

use super::secret::signature_header;
use super::time::{parse_http_date, system_now, unix_seconds};
use super::{WebhookError, WebhookMessage, WebhookSecret};

/// The default time an endpoint has to answer (the spec recommends 15 to 30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// How much of a response body is kept for the delivery log.
pub const EXCERPT_BYTES: usize = 200;

/// A customer's endpoint: where messages go and the secrets that sign them.
///
/// `Debug` shows the URL without its query (receivers often put a token there) and the
/// secrets as `whsec_***`.
#[derive(Clone)]
pub struct WebhookEndpoint {
    url: Url,
    secrets: Vec<WebhookSecret>,
}

impl WebhookEndpoint {
    /// Checks `url` (`https://` or `http://`, a host, no credentials, no fragment) and takes
    /// the signing secrets, newest first (more than one during a rotation: each message
    /// carries one signature per secret). Whether the URL may be reached is checked when
    /// sending, under the notifier's [`SsrfPolicy`].
    pub fn new(url: &str, secrets: Vec<WebhookSecret>) -> Result<Self, WebhookError> {
        let invalid = |reason: &str| WebhookError::InvalidUrl {
            reason: reason.to_owned(),
        };
        let url = Url::parse(url.trim()).map_err(|e| WebhookError::InvalidUrl {
            reason: format!("{e}; expected an absolute URL like https://example.com/webhooks"),
        })?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(invalid("only https:// URLs can receive webhooks"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "it contains a user name or password; remove them (receivers authenticate \
                 deliveries by their signature)",
            ));
        }
        if url.fragment().is_some() {
            return Err(invalid(
                "it contains a fragment (#...), which is never sent",
            ));
        }
        let host = match url.host() {
            Some(host) => host.to_string(),
            None => return Err(invalid("it has no host")),
        };
        if secrets.is_empty() {
            return Err(WebhookError::NoSecret { host });
        }
        Ok(Self { url, secrets })
    }

    /// An endpoint whose secrets come as a customer's vault keeps them: `whsec_` values,
    /// space-separated, newest first (`c15t_model::delivery::WEBHOOK_SECRETS_KEY`).
    pub fn with_secret_list(url: &str, secrets: &Secret) -> Result<Self, WebhookError> {
        Self::new(url, WebhookSecret::parse_list(secrets.expose())?)
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The endpoint's host, as errors and logs name it.
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or_default().to_owned()
    }

    /// The signing secrets, newest first.
    pub fn secrets(&self) -> &[WebhookSecret] {
        &self.secrets
    }
}

impl fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.url.clone();
        if shown.query().is_some() {
            shown.set_query(Some("***"));
        }
        f.debug_struct("WebhookEndpoint")
            .field("url", &shown.as_str())
            .field("secrets", &self.secrets)
            .finish()
    }
}

/// How an attempt that got an HTTP answer ended.
///
/// Following the Standard Webhooks spec, every answer other than `2xx` is a failed delivery to
/// be retried on the schedule, except `410 Gone`. There is deliberately no "rejected, do not
/// retry" outcome for other `4xx` answers: a `401` or `404` is usually a receiver being
/// deployed or a secret being rotated, which the retry window (about 17.5 hours) rides out.
/// `3xx` answers are failures too: redirects are never followed (the customer should update
/// the URL), and following one would also bypass the SSRF guard's view of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// `2xx`: delivered.
    Delivered,
    /// Any other status but `410`: try again, no sooner than `after` if the endpoint sent
    /// `Retry-After` (delta-seconds or an IMF-fixdate).
    Retry {
        /// The endpoint's `Retry-After`.
        after: Option<Duration>,
    },
    /// `410 Gone`: the endpoint wants no more webhooks and must be disabled.
    Gone,
}

/// One attempt that got an HTTP answer, for the delivery log.
///
/// Attempts that got no answer (timeout, refused connection, DNS) are errors instead
/// ([`WebhookError::is_retryable`] says whether to try again), so `status` is always known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// The response status.
    pub status: u16,
    /// From sending the request to having read the excerpt.
    pub duration: Duration,
    /// What to do next.
    pub outcome: DeliveryOutcome,
    /// The first [`EXCERPT_BYTES`] bytes of the body (cut at a character boundary; invalid
    /// UTF-8 replaced), for the delivery log.
    pub response_excerpt: String,
}

impl DeliveryAttempt {
    /// Whether the message was delivered.
    pub fn is_delivered(&self) -> bool {
        self.outcome == DeliveryOutcome::Delivered
    }

    /// The attempt as a `Result`: `Ok` if delivered, otherwise [`WebhookError::Undelivered`]
    /// (retryable) or [`WebhookError::Gone`].
    pub fn into_result(self, host: &str) -> Result<Self, WebhookError> {
        match self.outcome {
            DeliveryOutcome::Delivered => Ok(self),
            DeliveryOutcome::Gone => Err(WebhookError::Gone {
                host: host.to_owned(),
            }),
            DeliveryOutcome::Retry { after } => Err(WebhookError::Undelivered {
                host: host.to_owned(),
                status: self.status,
                retry_after: after,
            }),
        }
    }
}

/// Sends signed Standard Webhooks messages, one attempt per [`WebhookNotifier::send`].
///
/// The retry loop is the caller's (the control layer's durable job queue, driven by
/// [`c15t_net::RetrySchedule`]); every retry of a message sends the same id and body with a new
/// timestamp and signatures.
///
/// The HTTP client follows no redirects, uses no proxy from the environment (a proxy would
/// hide the real target from the SSRF guard) and resolves names only through the guard.
#[derive(Clone)]
pub struct WebhookNotifier {
    client: reqwest::Client,
    policy: Arc<SsrfPolicy>,
    timeout: Duration,
    clock: fn() -> SystemTime,
}

impl WebhookNotifier {
    /// A notifier under `policy`, with the default timeout ([`DEFAULT_TIMEOUT`]).
    pub fn new(policy: SsrfPolicy) -> Result<Self, WebhookError> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(&policy))))
            .build()
            .map_err(|source| WebhookError::Client { source })?;
        Ok(Self {
            client,
            policy,
            timeout: DEFAULT_TIMEOUT,
            clock: system_now,
        })
    }

    /// The same notifier with another timeout per attempt (connecting, sending and reading
    /// the excerpt).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same notifier reading the time from `clock` (for `webhook-timestamp` and HTTP-date
    /// `Retry-After`s); tests use it to send stale timestamps.
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// The policy this notifier enforces.
    pub fn policy(&self) -> &SsrfPolicy {
        &self.policy
    }

    /// The timeout per attempt.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// One attempt to deliver `message` to `endpoint`.
    ///
    /// `Ok` when the endpoint answered (whatever the status; see [`DeliveryOutcome`]); `Err`
    /// when the attempt was refused before connecting (plain HTTP, an address the policy
    /// refuses: not retryable) or got no answer (timeout, connection or DNS failure:
    /// retryable).
    pub async fn send(
        &self,
        endpoint: &WebhookEndpoint,
        message: &WebhookMessage,
    ) -> Result<DeliveryAttempt, WebhookError> {
        let host = endpoint.host();
        self.check_url(endpoint.url(), &host)?;

        let now = (self.clock)();
        let timestamp = unix_seconds(now);
        let id = message.id().as_str();
        let body = message.body();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("c15t-control-plane/", env!("CARGO_PKG_VERSION"))),
        );
        headers.insert("webhook-id", header_value(id));
        headers.insert("webhook-timestamp", header_value(&timestamp.to_string()));
        headers.insert(
            "webhook-signature",
            header_value(&signature_header(
                endpoint.secrets(),
                id,
                timestamp,
                body.as_bytes(),
            )),
        );

        let started = Instant::now();
        let result = self
            .receive(endpoint.url().clone(), headers, body.to_owned(), now)
            .await;
        let duration = started.elapsed();
        let (status, retry_after, response_excerpt) =
            result.map_err(|e| self.classify(e, &host))?;

        let outcome = match status {
            200..=299 => DeliveryOutcome::Delivered,
            410 => DeliveryOutcome::Gone,
            _ => DeliveryOutcome::Retry { after: retry_after },
        };
        tracing::info!(
            message_id = id,
            event_type = message.event_type(),
            host = %host,
            status,
            duration_ms = duration.as_millis() as u64,
            ?outcome,
            "webhook attempt"
        );
        Ok(DeliveryAttempt {
            status,
            duration,
            outcome,
            response_excerpt,
        })
    }

    /// Scheme and IP-literal checks; names go through the guarded resolver instead.
    fn check_url(&self, url: &Url, host: &str) -> Result<(), WebhookError> {
        match url.scheme() {
            "https" => {}
            "http" if self.policy.allow_http => {}
            "http" => {
                return Err(WebhookError::InsecureScheme {
                    host: host.to_owned(),
                });
            }
            other => {
                return Err(WebhookError::InvalidUrl {
                    reason: format!("scheme `{other}` cannot receive webhooks; use https://"),
                });
            }
        }
        let literal = match url.host() {
            Some(Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(Host::Ipv6(a)) => Some(IpAddr::V6(a)),
            Some(Host::Domain(_)) => None,
            None => {
                return Err(WebhookError::InvalidUrl {
                    reason: "it has no host".to_owned(),
                });
            }
        };
        if let Some(addr) = literal {
            self.policy
                .check(addr)
                .map_err(|range| WebhookError::Refused {
                    host: host.to_owned(),
                    addr,
                    range: range.kind,
                    net: range.net,
                })?;
        }
        Ok(())
    }

    /// Sends and reads the status, `Retry-After` and the body's first bytes.
    async fn receive(
        &self,
        url: Url,
        headers: HeaderMap,
        body: String,
        now: SystemTime,
    ) -> Result<(u16, Option<Duration>, String), reqwest::Error> {
        let mut response = self
            .client
            .post(url)
            .headers(headers)
            .body(body)
            .timeout(self.timeout)
            .send()
            .await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        let mut excerpt = Vec::new();
        // Reading stops after the excerpt: a receiver's large error page is not our concern.
        // A receiver that sends its status and then stalls the body has still answered.
        while excerpt.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        Ok((status, retry_after, utf8_excerpt(&excerpt)))
    }

    fn classify(&self, e: reqwest::Error, host: &str) -> WebhookError {
        let mut source = e.source();
        while let Some(err) = source {
            if let Some(refused) = err.downcast_ref::<RefusedAddr>() {
                return WebhookError::Refused {
                    host: host.to_owned(),
                    addr: refused.addr,
                    range: refused.range.kind,
                    net: refused.range.net,
                };
            }
            if let Some(ResolveFailed(io)) = err.downcast_ref::<ResolveFailed>() {
                return WebhookError::Resolve {
                    host: host.to_owned(),
                    source: std::io::Error::new(io.kind(), io.to_string()),
                };
            }
            source = err.source();
        }
        if e.is_timeout() {
            return WebhookError::Timeout {
                host: host.to_owned(),
                after: self.timeout,
            };
        }
        WebhookError::Transport {
            host: host.to_owned(),
            source: e.without_url(),
        }
    }
}

impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Ids, timestamps and signatures are ASCII by construction.
fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("webhook header values are visible ASCII")
}

/// `Retry-After` as delta-seconds or an HTTP date (relative to `now`; a past date is zero).
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// Lossy UTF-8, without a replacement character where the cut split a character.
fn utf8_excerpt(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_700);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(77))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn excerpts_cut_at_character_boundaries() {
        let text = "é".repeat(150);
        let cut = &text.as_bytes()[..EXCERPT_BYTES - 1];
        assert_eq!(utf8_excerpt(cut), "é".repeat(99));
        assert_eq!(utf8_excerpt(b"ok\xff"), "ok\u{fffd}");
    }

    #[test]
    fn endpoint_urls_are_checked() {
        let secret = || vec![WebhookSecret::generate()];
        for (url, needle) in [
            ("ftp://example.com/x", "only https://"),
            ("https://user:pw@example.com/x", "user name or password"),
            ("https://example.com/x#frag", "fragment"),
            ("example.com/x", "absolute URL"),
        ] {
            let err = WebhookEndpoint::new(url, secret())
                .expect_err(url)
                .to_string();
            assert!(err.contains(needle), "{url}: {err}");
            assert!(!err.contains("pw"), "{err}");
        }
        let err = WebhookEndpoint::new("https://example.com/x", vec![])
            .expect_err("no secret")
            .to_string();
        assert!(err.contains("no signing secret"), "{err}");
        let listed = [WebhookSecret::generate(), WebhookSecret::generate()];
        let ep = WebhookEndpoint::with_secret_list(
            "https://example.com/x",
            &WebhookSecret::join(&listed),
        )
        .expect("from the vault's list");
        assert_eq!(ep.secrets(), listed);
        let err = WebhookEndpoint::with_secret_list("https://example.com/x", &Secret::from(" "))
            .expect_err("empty list");
        assert!(err.to_string().contains("no secret given"), "{err}");
        let ep = WebhookEndpoint::new("https://example.com/x?token=abc", secret()).expect("ok");
        let debug = format!("{ep:?}");
        assert!(
            !debug.contains("abc") && debug.contains("whsec_***"),
            "{debug}"
        );
    }
}

//! [`Api`]: one account's authenticated, rate-limited, retrying client of Cloudflare's v4 API
//! and its response envelope.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use c15t_secrets::Secret;
use http::{HeaderValue, StatusCode, header};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use url::Url;

use super::RetryPolicy;
use super::limits::TokenLimiter;
use crate::DeployError;

/// A failed attempt: the error, and how long Cloudflare asked us to wait (`Retry-After`).
pub(crate) struct Failure {
    pub(crate) error: DeployError,
    pub(crate) retry_after: Option<Duration>,
}

impl From<DeployError> for Failure {
    fn from(error: DeployError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

/// The authenticated client of one account.
pub(crate) struct Api {
    http: reqwest::Client,
    base: Url,
    /// `Bearer <token>`, marked sensitive so that no HTTP layer logs it.
    authorization: HeaderValue,
    /// Kept only to scrub it from error messages a server might echo it in.
    token: Secret,
    limiter: Arc<TokenLimiter>,
    pub(crate) retry: RetryPolicy,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base.as_str())
            .field("token", &self.token)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Api {
    pub(crate) fn new(
        http: reqwest::Client,
        base: Url,
        token: Secret,
        limiter: Arc<TokenLimiter>,
        retry: RetryPolicy,
    ) -> Result<Self, DeployError> {
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(DeployError::InvalidApiBase {
                url: base.to_string(),
            });
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| DeployError::InvalidApiToken)?;
        authorization.set_sensitive(true);
        Ok(Self {
            http,
            base,
            authorization,
            token,
            limiter,
            retry,
        })
    }

    /// The token (for keying fingerprints).
    pub(crate) fn token(&self) -> &Secret {
        &self.token
    }

    /// `{base}/{segments…}`, each segment percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("the API base is an http(s) URL, which has a path");
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    /// A request to `url`; authentication and the timeout are added when it is sent.
    pub(crate) fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends a request that is safe to repeat (a read, or a write that sets a state), retrying
    /// per the policy; returns the envelope's `result`.
    pub(crate) async fn call(
        &self,
        operation: &'static str,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Value, DeployError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.once(operation, make()).await {
                Ok(result) => return Ok(result),
                Err(failure) => self.pause(operation, attempt, failure).await?,
            }
        }
    }

    /// After a failed `attempt` (1-based): the error if it is final, or waits before the next.
    pub(crate) async fn pause(
        &self,
        operation: &'static str,
        attempt: u32,
        failure: Failure,
    ) -> Result<(), DeployError> {
        if !failure.error.is_retryable() || attempt >= self.retry.attempts() {
            return Err(failure.error);
        }
        let delay = self.retry.delay(attempt, failure.retry_after);
        tracing::debug!(
            operation,
            attempt,
            delay_ms = delay.as_millis() as u64,
            error = %failure.error,
            "cloudflare request failed; retrying"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Sends one request once (after waiting for a slot of the token's rate limit) and reads
    /// Cloudflare's envelope.
    pub(crate) async fn once(
        &self,
        operation: &'static str,
        request: RequestBuilder,
    ) -> Result<Value, Failure> {
        let permit = self.limiter.acquire().await;
        let request = request
            .header(header::AUTHORIZATION, self.authorization.clone())
            .timeout(self.retry.request_timeout);
        let response = request.send().await.map_err(|e| transport(operation, e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .bytes()
            .await
            .map_err(|e| transport(operation, e))?;
        drop(permit);
        self.envelope(operation, status, &body)
            .map_err(|error| Failure { error, retry_after })
    }

    fn envelope(
        &self,
        operation: &'static str,
        status: StatusCode,
        body: &[u8],
    ) -> Result<Value, DeployError> {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let success = parsed
            .as_ref()
            .and_then(|v| v.get("success"))
            .and_then(Value::as_bool);
        if status.is_success() {
            return match (parsed, success) {
                (Some(mut envelope), Some(true) | None) => Ok(envelope
                    .get_mut("result")
                    .map(Value::take)
                    .unwrap_or_default()),
                (Some(envelope), Some(false)) => Err(DeployError::Cloudflare {
                    operation,
                    status: status.as_u16(),
                    errors: self.errors(&envelope),
                    retryable: false,
                }),
                (None, _) => Err(DeployError::CloudflareProtocol {
                    operation,
                    detail: format!("HTTP {status} with a body that is not JSON"),
                }),
            };
        }
        Err(DeployError::Cloudflare {
            operation,
            status: status.as_u16(),
            errors: parsed.map(|v| self.errors(&v)).unwrap_or_default(),
            retryable: status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT
                || status.is_server_error(),
        })
    }

    /// `errors[].code` and `errors[].message`, with the token scrubbed should a server ever
    /// echo it.
    fn errors(&self, envelope: &Value) -> Vec<(i64, String)> {
        let token = self.token.expose();
        envelope
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| {
                let code = e.get("code").and_then(Value::as_i64).unwrap_or_default();
                let mut message = e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if !token.is_empty() && message.contains(token) {
                    message = message.replace(token, "***");
                }
                (code, message)
            })
            .collect()
    }
}

fn transport(operation: &'static str, source: reqwest::Error) -> Failure {
    let reason = if source.is_timeout() {
        "the request timed out"
    } else if source.is_connect() {
        "could not connect"
    } else if source.is_body() || source.is_decode() {
        "the connection failed while the answer was read"
    } else if source.is_request() {
        "the connection failed"
    } else {
        "the request failed"
    };
    // reqwest's errors name the URL (account id and script name, no secret) and never a header.
    Failure::from(DeployError::CloudflareTransport {
        operation,
        reason,
        source,
    })
}

//! [`WebhookError`]: why a webhook could not be built or delivered, and whether trying again
//! may help.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

/// Why a webhook secret, endpoint or delivery failed.
///
/// No variant carries a secret, a signature or a URL's path or query (where receivers often
/// keep a token of their own): errors name the endpoint by its host only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A signing secret is not a Standard Webhooks `whsec_` secret.
    #[error("invalid webhook signing secret: {reason}")]
    InvalidSecret {
        /// What is wrong with it (never the secret itself).
        reason: String,
    },
    /// An endpoint URL cannot be used.
    #[error("invalid webhook URL: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// A stored message cannot be used (a malformed id).
    #[error("invalid webhook message: {reason}")]
    InvalidMessage {
        /// What is wrong with it.
        reason: String,
    },
    /// An endpoint has no signing secret; every delivery must be signed.
    #[error("the webhook endpoint at `{host}` has no signing secret; generate one first")]
    NoSecret {
        /// The endpoint's host.
        host: String,
    },
    /// The endpoint is `http://` and the operator has not allowed plain HTTP.
    #[error(
        "refusing to send a webhook to `{host}` over plain http; use an https:// URL (an \
         operator may allow http for testing)"
    )]
    InsecureScheme {
        /// The endpoint's host.
        host: String,
    },
    /// The endpoint's host is, or resolves to, an address the SSRF policy refuses.
    #[error(
        "refusing to send a webhook to `{host}`: {addr} is a {range} address ({net}); webhook \
         endpoints must be public, unless an operator allow-lists the range"
    )]
    Refused {
        /// The endpoint's host as written in the URL.
        host: String,
        /// The refused address.
        addr: IpAddr,
        /// The kind of range, e.g. `loopback`.
        range: &'static str,
        /// The refused range.
        net: IpNet,
    },
    /// The endpoint's host name could not be resolved (or resolved to nothing).
    #[error("could not resolve the webhook host `{host}`")]
    Resolve {
        /// The endpoint's host.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// The endpoint did not answer within the timeout.
    #[error("the webhook endpoint at `{host}` did not answer within {after:?}")]
    Timeout {
        /// The endpoint's host.
        host: String,
        /// The timeout.
        after: Duration,
    },
    /// Connecting or talking to the endpoint failed (refused, reset, TLS).
    #[error("could not deliver the webhook to `{host}`")]
    Transport {
        /// The endpoint's host.
        host: String,
        /// The HTTP client's error, without the URL.
        #[source]
        source: reqwest::Error,
    },
    /// The HTTP client could not be built (for example, no TLS roots).
    #[error("could not build the webhook HTTP client")]
    Client {
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The endpoint answered with a status other than `2xx` or `410`; the delivery failed and
    /// may be retried.
    #[error("the webhook endpoint at `{host}` answered {status}")]
    Undelivered {
        /// The endpoint's host.
        host: String,
        /// The response status.
        status: u16,
        /// The endpoint's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The endpoint answered `410 Gone`: it wants no more webhooks. Disable it; retrying is
    /// pointless.
    #[error(
        "the webhook endpoint at `{host}` answered 410 Gone; it has been turned off, and the \
         customer must set it up again to receive events"
    )]
    Gone {
        /// The endpoint's host.
        host: String,
    },
}

impl WebhookError {
    /// Whether sending the same message again later may succeed.
    ///
    /// Network failures, timeouts and failed answers are retryable (the Standard Webhooks spec
    /// counts every non-`2xx` answer as a failure to retry on the schedule); refusals of our own
    /// (bad secret or URL, SSRF policy, plain HTTP) and `410 Gone` are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Resolve { .. }
            | Self::Timeout { .. }
            | Self::Transport { .. }
            | Self::Undelivered { .. } => true,
            Self::InvalidSecret { .. }
            | Self::InvalidUrl { .. }
            | Self::InvalidMessage { .. }
            | Self::NoSecret { .. }
            | Self::InsecureScheme { .. }
            | Self::Refused { .. }
            | Self::Client { .. }
            | Self::Gone { .. } => false,
        }
    }

    /// The delay the endpoint asked for with `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Undelivered { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the endpoint must be disabled (it answered `410 Gone`).
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Gone { .. })
    }
}

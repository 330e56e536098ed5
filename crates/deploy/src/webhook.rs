//! The Standard Webhooks notifier: signed event messages to customers' endpoints, sent through
//! the SSRF guard of `c15t-net` ([`c15t_net::GuardedResolver`]) and retried by the control
//! layer on its retry schedule ([`c15t_net::RetrySchedule`]), and the [`WebhookDeployer`] of
//! the notify delivery model.
//!
//! Messages follow <https://www.standardwebhooks.com/>: a POST of a JSON body with
//! `webhook-id` (the same on every attempt of a message), `webhook-timestamp` (unix seconds
//! of the attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//! one per active `whsec_` secret, space-separated).
//!
//! **Invariant:** a signing secret is plaintext only inside [`WebhookSecret`] (a
//! [`c15t_secrets::Secret`]) and while a signature is computed; no `Debug`, `Display`, error
//! or log line shows one.
//!
//! **Invariant:** no connection is made to an address [`c15t_net::SsrfPolicy`] refuses: names
//! are resolved and checked in one step inside the HTTP client, so the checked address is the
//! one connected to; redirects are not followed and environment proxies are not used.

mod deployer;
mod error;
mod event;
mod notifier;
mod secret;
mod time;
mod verdict;

pub use deployer::WebhookDeployer;
pub use error::WebhookError;
pub use event::{
    DeploymentFailed, DeploymentSucceeded, MessageId, WebhookEvent, WebhookMessage,
    WorkerConfigUpdated,
};
pub use notifier::{
    DEFAULT_TIMEOUT, DeliveryAttempt, DeliveryOutcome, EXCERPT_BYTES, WebhookEndpoint,
    WebhookNotifier,
};
pub use secret::{SECRET_PREFIX, WebhookSecret, signature_header};

//! [`WebhookDeployer`]: the notify delivery model, where a deploy is an announcement.

use std::fmt;

use async_trait::async_trait;
use url::Url;

use super::time::system_now;
use super::{
    MessageId, WebhookEndpoint, WebhookError, WebhookEvent, WebhookMessage, WebhookNotifier,
    WorkerConfigUpdated,
};
use crate::{DeployError, DeployOutcome, Deployer, Release};

/// Announces each release to one customer's endpoint with a signed `worker_config.updated`
/// message; the customer downloads the project from the control plane and deploys it
/// themselves.
///
/// One deployer serves one customer's endpoint (its secrets come from that customer's
/// vault), so the control layer builds one per notify deploy.
///
/// A deploy is one delivery attempt. The message id is derived from the release (customer,
/// environment, revision, content hash), so deploying the same release again, as the job
/// queue does when an attempt fails, is a retry of the same message to the receiver.
#[derive(Debug)]
pub struct WebhookDeployer {
    notifier: WebhookNotifier,
    endpoint: WebhookEndpoint,
    public_base_url: Url,
}

impl WebhookDeployer {
    /// `public_base_url` is where the control plane's API is reachable from the customer's
    /// side (`https://control.example.com`); download URLs are built under it.
    pub fn new(
        notifier: WebhookNotifier,
        endpoint: WebhookEndpoint,
        public_base_url: &str,
    ) -> Result<Self, WebhookError> {
        let invalid = |reason: String| WebhookError::InvalidUrl { reason };
        let public_base_url = Url::parse(public_base_url.trim()).map_err(|e| {
            invalid(format!(
                "the control plane's public base URL: {e}; expected e.g. https://control.example.com"
            ))
        })?;
        if !matches!(public_base_url.scheme(), "https" | "http")
            || public_base_url.cannot_be_a_base()
            || public_base_url.query().is_some()
            || public_base_url.fragment().is_some()
        {
            return Err(invalid(
                "the control plane's public base URL must be an http(s) URL without a query or \
                 fragment, e.g. https://control.example.com"
                    .to_owned(),
            ));
        }
        Ok(Self {
            notifier,
            endpoint,
            public_base_url,
        })
    }

    /// Where the customer downloads the release's worker configuration:
    /// `{base}/api/control-plane/customers/{customerId}/worker-config`.
    pub fn download_url(&self, release: &Release) -> String {
        // Customer ids are `[a-z0-9_-]`, safe in a path segment as they are.
        format!(
            "{}/api/control-plane/customers/{}/worker-config",
            self.public_base_url.as_str().trim_end_matches('/'),
            release.customer()
        )
    }

    /// The message announcing `release`: always the same id for the same release.
    pub fn message(&self, release: &Release) -> WebhookMessage {
        let revision = release.revision().to_string();
        let id = MessageId::derived(&[
            "worker_config.updated",
            release.customer().as_str(),
            release.environment().as_str(),
            &revision,
            release.content_hash(),
        ]);
        let event = WebhookEvent::WorkerConfigUpdated {
            timestamp: system_now(),
            data: WorkerConfigUpdated {
                customer: release.customer().clone(),
                environment: release.environment().clone(),
                revision: release.revision(),
                content_hash: release.content_hash().to_owned(),
                download_url: self.download_url(release),
            },
        };
        WebhookMessage::new(id, &event)
    }
}

#[async_trait]
impl Deployer for WebhookDeployer {
    async fn deploy(&self, release: &Release) -> Result<DeployOutcome, DeployError> {
        let message = self.message(release);
        let attempt = self.notifier.send(&self.endpoint, &message).await?;
        attempt.into_result(&self.endpoint.host())?;
        Ok(DeployOutcome {
            delivery_id: Some(message.id().to_string()),
            ..DeployOutcome::default()
        })
    }
}

impl fmt::Display for WebhookDeployer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "webhook to {}", self.endpoint.host())
    }
}

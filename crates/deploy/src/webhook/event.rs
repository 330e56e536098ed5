//! [`WebhookEvent`]s (the JSON payloads) and [`WebhookMessage`]s (an event with its id and
//! the exact bytes that are signed and sent).

use std::fmt;
use std::time::SystemTime;

use c15t_model::{CustomerId, Environment};
use rand::RngCore;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::WebhookError;
use super::time::rfc3339;

/// An event, serialized in the Standard Webhooks recommended payload structure:
/// `{"type": "worker_config.updated", "timestamp": "2026-11-27T05:17:27.123Z", "data": {...}}`.
///
/// `timestamp` is when the event happened (not when it was delivered), RFC 3339 in UTC. Data
/// keys are camelCase, as in c15t's own JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum WebhookEvent {
    /// A new worker configuration is ready to download (notify delivery).
    #[serde(rename = "worker_config.updated")]
    WorkerConfigUpdated {
        /// When the release was announced.
        #[serde(serialize_with = "as_rfc3339")]
        timestamp: SystemTime,
        /// What changed.
        data: WorkerConfigUpdated,
    },
    /// A deployment went live.
    #[serde(rename = "deployment.succeeded")]
    DeploymentSucceeded {
        /// When it went live.
        #[serde(serialize_with = "as_rfc3339")]
        timestamp: SystemTime,
        /// Which deployment.
        data: DeploymentSucceeded,
    },
    /// A deployment failed for good (after its retries).
    #[serde(rename = "deployment.failed")]
    DeploymentFailed {
        /// When it failed.
        #[serde(serialize_with = "as_rfc3339")]
        timestamp: SystemTime,
        /// Which deployment and why.
        data: DeploymentFailed,
    },
    /// A release failed its health probes during a gradual deploy and the version it was
    /// replacing was put back at 100% of traffic.
    #[serde(rename = "deployment.rolled_back")]
    DeploymentRolledBack {
        /// When the earlier version was put back.
        #[serde(serialize_with = "as_rfc3339")]
        timestamp: SystemTime,
        /// Which deployment and what the probe saw (`error`).
        data: DeploymentFailed,
    },
}

impl WebhookEvent {
    /// The event type, e.g. `worker_config.updated`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::WorkerConfigUpdated { .. } => "worker_config.updated",
            Self::DeploymentSucceeded { .. } => "deployment.succeeded",
            Self::DeploymentFailed { .. } => "deployment.failed",
            Self::DeploymentRolledBack { .. } => "deployment.rolled_back",
        }
    }
}

/// The data of `worker_config.updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerConfigUpdated {
    /// The customer (`customerId`).
    #[serde(rename = "customerId")]
    pub customer: CustomerId,
    /// The environment.
    pub environment: Environment,
    /// The configuration revision the worker was generated from.
    pub revision: u64,
    /// The project's content hash (`sha256:...`), to check a download against.
    pub content_hash: String,
    /// Where the control plane serves the project.
    pub download_url: String,
}

/// The data of `deployment.succeeded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSucceeded {
    /// The customer (`customerId`).
    #[serde(rename = "customerId")]
    pub customer: CustomerId,
    /// The environment.
    pub environment: Environment,
    /// The control plane's id of the deployment.
    pub deployment_id: String,
    /// The configuration revision deployed.
    pub revision: u64,
    /// The deployed project's content hash.
    pub content_hash: String,
    /// Where the worker answers, when the deployer knows (`null` otherwise).
    pub url: Option<String>,
}

/// The data of `deployment.failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentFailed {
    /// The customer (`customerId`).
    #[serde(rename = "customerId")]
    pub customer: CustomerId,
    /// The environment.
    pub environment: Environment,
    /// The control plane's id of the deployment.
    pub deployment_id: String,
    /// The configuration revision that failed to deploy.
    pub revision: u64,
    /// The project's content hash.
    pub content_hash: String,
    /// Why it failed, as the deploy error's message (which never contains a secret).
    pub error: String,
}

fn as_rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// A message id: `msg_` and 1 to 60 characters of `[A-Za-z0-9_-]`.
///
/// The id is the receiver's idempotency key: every attempt of one message carries the same id.
/// It never contains `.`, which would make the signed content `{id}.{timestamp}.{body}`
/// ambiguous.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

impl MessageId {
    /// A random id: `msg_` and 32 hex digits (128 bits).
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("msg_{}", hex::encode(bytes)))
    }

    /// A deterministic id: `msg_` and 32 hex digits of a SHA-256 over `parts` (each
    /// length-prefixed). The same announcement (same customer, environment, revision, content
    /// hash) always gets the same id, so announcing it again is a retry to the receiver, not
    /// a new event.
    pub fn derived(parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        Self(format!("msg_{}", hex::encode(&hasher.finalize()[..16])))
    }

    /// Checks a stored id.
    pub fn parse(s: &str) -> Result<Self, WebhookError> {
        let rest = s
            .strip_prefix("msg_")
            .ok_or_else(|| WebhookError::InvalidMessage {
                reason: format!("message id {s:?} does not start with `msg_`"),
            })?;
        if rest.is_empty()
            || rest.len() > 60
            || !rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(WebhookError::InvalidMessage {
                reason: format!(
                    "message id {s:?} must be `msg_` and 1 to 60 characters of A-Z, a-z, 0-9, \
                     `_` or `-`"
                ),
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.0)
    }
}

/// One message: its id, its event type and the exact body that is signed and sent.
///
/// The body is fixed when the message is made, so every attempt sends (and signs) the same
/// bytes; the control layer stores `id`, `event_type` and `body` for its retry queue and
/// rebuilds the message with [`WebhookMessage::from_parts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMessage {
    id: MessageId,
    event_type: String,
    body: String,
}

impl WebhookMessage {
    /// Serializes `event` (compact JSON) under `id`.
    pub fn new(id: MessageId, event: &WebhookEvent) -> Self {
        Self {
            id,
            event_type: event.event_type().to_owned(),
            body: serde_json::to_string(event).expect("events serialize"),
        }
    }

    /// A stored message, sent byte for byte as it was first built.
    pub fn from_parts(id: MessageId, event_type: String, body: String) -> Self {
        Self {
            id,
            event_type,
            body,
        }
    }

    /// The message id (`webhook-id`).
    pub fn id(&self) -> &MessageId {
        &self.id
    }

    /// The event type, e.g. `worker_config.updated`.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The JSON body.
    pub fn body(&self) -> &str {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn events_follow_the_recommended_structure() {
        let event = WebhookEvent::DeploymentFailed {
            timestamp: UNIX_EPOCH + Duration::from_millis(1_667_507_170_344),
            data: DeploymentFailed {
                customer: CustomerId::new("acme").expect("id"),
                environment: Environment::production(),
                deployment_id: "dep_1".to_owned(),
                revision: 3,
                content_hash: "sha256:ab".to_owned(),
                error: "boom".to_owned(),
            },
        };
        let msg = WebhookMessage::new(MessageId::parse("msg_1").expect("id"), &event);
        assert_eq!(msg.event_type(), "deployment.failed");
        assert_eq!(
            msg.body(),
            r#"{"type":"deployment.failed","timestamp":"2022-11-03T20:26:10.344Z","data":{"customerId":"acme","environment":"production","deploymentId":"dep_1","revision":3,"contentHash":"sha256:ab","error":"boom"}}"#
        );
    }

    #[test]
    fn message_ids() {
        let a = MessageId::random();
        assert_ne!(a, MessageId::random());
        assert_eq!(MessageId::parse(a.as_str()).expect("valid"), a);
        assert_eq!(
            MessageId::derived(&["a", "b"]),
            MessageId::derived(&["a", "b"])
        );
        assert_ne!(
            MessageId::derived(&["a", "b"]),
            MessageId::derived(&["ab", ""])
        );
        for bad in ["msg_", "evt_1", "msg_a.b", "msg_a b"] {
            assert!(MessageId::parse(bad).is_err(), "{bad}");
        }
    }
}

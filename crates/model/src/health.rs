//! The health of deployed workers: probes of their `/status` endpoint and how their live
//! state on the platform differs from what the control plane deployed (drift). Values only;
//! the control layer probes and the store keeps them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CustomerId, Environment};

/// The result of one health probe of a live deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthProbe {
    /// The deployment probed.
    pub deployment_id: i64,
    /// Its customer.
    pub customer: CustomerId,
    /// Its environment.
    pub environment: Environment,
    /// The URL probed.
    pub url: String,
    /// Whether the worker answered healthy.
    pub up: bool,
    /// The HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// How long the answer took, if it answered.
    pub latency_ms: Option<u64>,
    /// Why it is down.
    pub error: Option<String>,
    /// How the worker's live state on its platform differs from this deployment (read with
    /// the probe, for Cloudflare deployments); `None` when it matches or was not read.
    pub drift: Option<Drift>,
    /// When.
    pub checked_at: DateTime<Utc>,
}

/// What kind of difference between a worker's live state and its deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// The script, or any deployment of it, is gone.
    Missing,
    /// Traffic is split between versions, which the control plane did not do.
    Split,
    /// The serving version was not uploaded by the control plane (no `c15t-` tag), e.g.
    /// `wrangler deploy` or a dashboard edit.
    Foreign,
    /// The serving version is one of ours, but not the one this deployment made live (e.g.
    /// `wrangler rollback`).
    OtherVersion,
}

impl DriftKind {
    /// The displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Split => "split",
            Self::Foreign => "foreign",
            Self::OtherVersion => "other_version",
        }
    }
}

/// How a worker's live state differs from what the control plane deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// What differs.
    pub kind: DriftKind,
    /// One line for people.
    pub detail: String,
    /// Who made the live deployment (Cloudflare's `author_email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Where it was made (Cloudflare's `source`: `api`, `wrangler`, `dash`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The live versions and their traffic shares, as `<version id> <percentage>%`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
}

/// The latest health of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthRecord {
    /// The latest probe.
    #[serde(flatten)]
    pub probe: HealthProbe,
    /// Failed probes in a row (0 when up).
    pub consecutive_failures: u32,
    /// Probes so far.
    pub checks: u64,
}

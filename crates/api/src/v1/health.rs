//! The health of a customer's live workers: their latest probes, and how a worker's live
//! state differs from its deployment (drift, also shown by plans and deploy reports).

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use c15t_model::health::{Drift, DriftKind, HealthRecord};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::CustomerPath;
use crate::auth::Scoped;
use crate::{ApiError, ApiState, ErrorBody};

super::resource!(health);

/// The latest health probe of a live deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HealthRecordOut {
    /// The deployment probed.
    pub deployment_id: i64,
    /// Its customer.
    pub customer: String,
    /// Its environment.
    pub environment: String,
    /// The URL probed.
    pub url: String,
    /// Whether the worker answered healthy.
    pub up: bool,
    /// The HTTP status, if it answered.
    #[schema(required = true)]
    pub status_code: Option<u16>,
    /// How long the answer took, if it answered.
    #[schema(required = true)]
    pub latency_ms: Option<u64>,
    /// Why it is down.
    #[schema(required = true)]
    pub error: Option<String>,
    /// How the worker's live state on its platform differs from this deployment (read with
    /// the probe, for Cloudflare deployments); `null` when it matches or was not read.
    #[schema(required = true)]
    pub drift: Option<DriftOut>,
    /// When it was probed.
    pub checked_at: DateTime<Utc>,
    /// Failed probes in a row (0 when up).
    pub consecutive_failures: u32,
    /// Probes so far.
    pub checks: u64,
}

impl From<HealthRecord> for HealthRecordOut {
    fn from(h: HealthRecord) -> Self {
        let probe = h.probe;
        Self {
            deployment_id: probe.deployment_id,
            customer: probe.customer.to_string(),
            environment: probe.environment.to_string(),
            url: probe.url,
            up: probe.up,
            status_code: probe.status_code,
            latency_ms: probe.latency_ms,
            error: probe.error,
            drift: probe.drift.map(DriftOut::from),
            checked_at: probe.checked_at,
            consecutive_failures: h.consecutive_failures,
            checks: h.checks,
        }
    }
}

/// How a worker's live state differs from what the control plane deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DriftOut {
    /// What differs.
    pub kind: DriftKindOut,
    /// One line for people.
    pub detail: String,
    /// Who made the live deployment (Cloudflare's `author_email`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Where it was made (Cloudflare's `source`: `api`, `wrangler`, `dash`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The live versions and their traffic shares, as `<version id> <percentage>%`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
}

impl From<Drift> for DriftOut {
    fn from(d: Drift) -> Self {
        Self {
            kind: d.kind.into(),
            detail: d.detail,
            author: d.author,
            source: d.source,
            versions: d.versions,
        }
    }
}

/// What kind of difference between a worker's live state and its deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftKindOut {
    /// The script, or any deployment of it, is gone.
    Missing,
    /// Traffic is split between versions, which the control plane did not do.
    Split,
    /// The serving version was not uploaded by the control plane (e.g. `wrangler deploy` or
    /// a dashboard edit).
    Foreign,
    /// The serving version is one of the control plane's, but not the one this deployment
    /// made live (e.g. `wrangler rollback`).
    OtherVersion,
}

impl From<DriftKind> for DriftKindOut {
    fn from(kind: DriftKind) -> Self {
        match kind {
            DriftKind::Missing => Self::Missing,
            DriftKind::Split => Self::Split,
            DriftKind::Foreign => Self::Foreign,
            DriftKind::OtherVersion => Self::OtherVersion,
        }
    }
}

/// A deployment's latest health probe, as plans and deployments show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HealthSummaryOut {
    /// Whether the worker answered healthy.
    pub up: bool,
    /// Answer time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Failed probes in a row.
    pub consecutive_failures: u32,
    /// When it was probed.
    pub checked_at: DateTime<Utc>,
}

impl From<c15t_control::HealthSummary> for HealthSummaryOut {
    fn from(h: c15t_control::HealthSummary) -> Self {
        Self {
            up: h.up,
            latency_ms: h.latency_ms,
            error: h.error,
            consecutive_failures: h.consecutive_failures,
            checked_at: h.checked_at,
        }
    }
}

/// The latest health probes of the customer's live workers.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/health", tag = "deploy",
    params(CustomerPath),
    responses(
        (status = 200, description = "One probe record per live worker", body = Vec<HealthRecordOut>),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn health(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
) -> Result<Response, ApiError> {
    // A customer that does not exist is a 404, not an empty list.
    state.control().customer_revision(&id).await?;
    let records: Vec<HealthRecordOut> = state
        .control()
        .health(Some(&id))
        .await?
        .into_iter()
        .map(HealthRecordOut::from)
        .collect();
    Ok(Json(records).into_response())
}

#[cfg(test)]
pub(crate) mod tests {
    use c15t_model::health::{Drift, DriftKind, HealthProbe, HealthRecord};
    use c15t_model::{CustomerId, Environment};
    use chrono::TimeZone as _;

    use super::super::tests::assert_same_json;
    use super::HealthRecordOut;

    /// A time with sub-second digits, as probes record them.
    pub(crate) fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc
            .timestamp_opt(1_767_225_600 + seconds, 123_456_789)
            .unwrap()
    }

    /// Drift with every field set, and with none of the optional ones.
    pub(crate) fn drifts() -> [Drift; 2] {
        [
            Drift {
                kind: DriftKind::Split,
                detail: "traffic is split between 2 versions".to_owned(),
                author: Some("ops@example.com".to_owned()),
                source: Some("wrangler".to_owned()),
                versions: vec!["a1b2 90%".to_owned(), "c3d4 10%".to_owned()],
            },
            Drift {
                kind: DriftKind::OtherVersion,
                detail: "another version of ours serves".to_owned(),
                author: None,
                source: None,
                versions: Vec::new(),
            },
        ]
    }

    #[test]
    fn health_records_are_answered_as_the_model_serialises_them() {
        let [split, other] = drifts();
        let up = HealthProbe {
            deployment_id: 7,
            customer: CustomerId::new("cust_a").unwrap(),
            environment: Environment::production(),
            url: "https://c15t-cust-a.example.workers.dev/status".to_owned(),
            up: true,
            status_code: Some(200),
            latency_ms: Some(42),
            error: None,
            drift: None,
            checked_at: at(0),
        };
        let down = HealthProbe {
            deployment_id: 9,
            environment: Environment::new("staging").unwrap(),
            up: false,
            status_code: None,
            latency_ms: None,
            error: Some("connection refused".to_owned()),
            drift: Some(split),
            checked_at: at(60),
            ..up.clone()
        };
        let drifted = HealthProbe {
            drift: Some(other),
            ..up.clone()
        };
        for (probe, consecutive_failures, checks) in [(up, 0, 12), (down, 3, 40), (drifted, 0, 1)] {
            let record = HealthRecord {
                probe,
                consecutive_failures,
                checks,
            };
            assert_same_json(&vec![record.clone()], &vec![HealthRecordOut::from(record)]);
        }
    }
}

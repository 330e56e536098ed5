//! A destination's connection test: its stored settings tried against its vendor.

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use c15t_control::{ConnectionOutcome, ConnectionReport};
use serde::Serialize;
use utoipa::ToSchema;

use super::{CustomerPath, DestinationPath};
use crate::auth::Scoped;
use crate::{ApiError, ApiState, ErrorBody};

super::resource!(destination_test);

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConnectionReportOut {
    /// The destination's kind, e.g. `meta-pixel`.
    pub kind: String,
    /// What the test found.
    pub result: ConnectionResult,
    /// The HTTP status of the vendor's answer, for `vendor_error` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What happened, in words, with the vendor's own message where it sent one (secret
    /// values replaced by `***`).
    pub message: String,
    /// How long the vendor took to answer, in milliseconds; `null` when no request was made
    /// or none was answered.
    #[schema(required = true)]
    pub latency_ms: Option<u64>,
}

/// What a connection test found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionResult {
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
    /// The vendor answered with an error the test does not recognise (its HTTP status is
    /// `status`).
    VendorError,
    /// This destination cannot be tested; the message says why.
    Unsupported,
}

impl From<ConnectionReport> for ConnectionReportOut {
    fn from(r: ConnectionReport) -> Self {
        let (result, status) = match r.outcome {
            ConnectionOutcome::Ok => (ConnectionResult::Ok, None),
            ConnectionOutcome::BadCredentials => (ConnectionResult::BadCredentials, None),
            ConnectionOutcome::NotFound => (ConnectionResult::NotFound, None),
            ConnectionOutcome::Rejected => (ConnectionResult::Rejected, None),
            ConnectionOutcome::Unreachable => (ConnectionResult::Unreachable, None),
            ConnectionOutcome::VendorError { status } => {
                (ConnectionResult::VendorError, Some(status))
            }
            ConnectionOutcome::Unsupported => (ConnectionResult::Unsupported, None),
        };
        Self {
            kind: r.kind,
            result,
            status,
            message: r.message,
            latency_ms: r.latency_ms,
        }
    }
}

/// Tests a destination's stored settings against its vendor (Meta's Graph API, GA4's
/// Measurement Protocol validation server, PostHog, Matomo); kinds without a documented check
/// answer `unsupported`. The test itself succeeding or failing is the report's `result`, not
/// the HTTP status.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/destinations/{destinationId}/test", tag = "destinations",
    params(CustomerPath, DestinationPath),
    responses(
        (status = 200, description = "The report: kind, result (ok, bad_credentials, not_found, rejected, unreachable, vendor_error, unsupported), the vendor's message (secrets redacted), latency", body = ConnectionReportOut),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_test(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
) -> Result<Response, ApiError> {
    let report = state
        .control()
        .destination_test_detached(&id, &destination)
        .await?;
    Ok(Json(ConnectionReportOut::from(report)).into_response())
}

#[cfg(test)]
mod tests {
    use c15t_control::{ConnectionOutcome, ConnectionReport};

    use super::super::tests::assert_same_json;
    use super::ConnectionReportOut;

    #[test]
    fn a_connection_report_is_answered_as_the_control_plane_serialises_it() {
        for (outcome, latency_ms) in [
            (ConnectionOutcome::Ok, Some(84)),
            (ConnectionOutcome::BadCredentials, Some(120)),
            (ConnectionOutcome::NotFound, Some(95)),
            (ConnectionOutcome::Rejected, Some(101)),
            (ConnectionOutcome::Unreachable, None),
            (ConnectionOutcome::VendorError { status: 503 }, Some(2_003)),
            (ConnectionOutcome::Unsupported, None),
        ] {
            let report = ConnectionReport {
                kind: "meta-pixel".to_owned(),
                outcome,
                message: "Meta answered: Invalid OAuth access token `***`".to_owned(),
                latency_ms,
            };
            assert_same_json(&report, &ConnectionReportOut::from(report.clone()));
        }
    }
}

//! Google Analytics 4: sends one test event to the Measurement Protocol validation server
//! (`POST /debug/mp/collect`), which checks the request and never records it.
//!
//! The server answers `200` with `{"validationMessages": [...]}`, each message with
//! `fieldPath`, `description` and `validationCode`
//! (<https://developers.google.com/analytics/devguides/collection/protocol/ga4/validating-events>).
//! It does not check the API secret, so "ok" means the stream ID and request are well formed;
//! the message says so rather than claiming more.

use reqwest::Method;
use serde_json::json;
use url::Url;

use crate::http::{Base, Call, endpoint};
use crate::{Finding, Outcome, Settings, TEST_CLIENT_ID, Tested};

/// The test event's name (a valid, non-reserved GA4 event name).
pub(crate) const TEST_EVENT: &str = "c15t_connection_test";

pub(crate) async fn check(call: &Call<'_>, base: &Url, settings: &Settings) -> Tested {
    let Some(measurement_id) = settings.value("measurementId") else {
        return Tested::Skipped("the destination has no `measurementId`".to_owned());
    };
    let Some(secret) = settings.secret("apiSecret") else {
        return Tested::Skipped(
            "no Measurement Protocol API secret is stored; Google's validation server is only \
             reached with one (the browser tag itself works without it)"
                .to_owned(),
        );
    };
    let mut url = endpoint(base, &["debug", "mp", "collect"]);
    url.query_pairs_mut()
        .append_pair("measurement_id", measurement_id)
        .append_pair("api_secret", secret.expose());
    let body = json!({
        "client_id": TEST_CLIENT_ID,
        "events": [{ "name": TEST_EVENT, "params": { "engagement_time_msec": 1 } }],
    });
    let request = call.request(Base::Trusted, Method::POST, url).json(&body);
    let answer = match call.send(request).await {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    if !(200..300).contains(&answer.status) {
        return Tested::Answered(Finding::new(
            Outcome::VendorError {
                status: answer.status,
            },
            format!(
                "Google's validation server answered {}: {}",
                answer.status,
                answer.excerpt()
            ),
        ));
    }
    let Some(messages) = answer
        .json()
        .and_then(|j| j.get("validationMessages").cloned())
        .and_then(|m| m.as_array().cloned())
    else {
        return Tested::Answered(Finding::new(
            Outcome::VendorError {
                status: answer.status,
            },
            format!(
                "Google's validation server answered without `validationMessages`: {}",
                answer.excerpt()
            ),
        ));
    };
    if messages.is_empty() {
        return Tested::Answered(Finding::new(
            Outcome::Ok,
            format!(
                "Google's validation server accepted a test event for {measurement_id}; it does \
                 not check API secrets, so compare the stored secret with Admin > Data streams > \
                 Measurement Protocol API secrets if server-side events do not arrive"
            ),
        ));
    }
    let findings: Vec<String> = messages
        .iter()
        .map(|m| {
            let field = m.get("fieldPath").and_then(|v| v.as_str()).unwrap_or("?");
            let description = m
                .get("description")
                .and_then(|v| v.as_str())
                .unwrap_or("(no description)");
            let code = m
                .get("validationCode")
                .and_then(|v| v.as_str())
                .unwrap_or("?");
            format!("{field}: {description} ({code})")
        })
        .collect();
    Tested::Answered(Finding::new(
        Outcome::Rejected,
        format!(
            "Google's validation server rejected the test event: {}",
            findings.join("; ")
        ),
    ))
}

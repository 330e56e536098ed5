//! PostHog: asks the feature-flag endpoint (`POST {host}/flags/?v=2`) to evaluate flags for a
//! test user with the project API key.
//!
//! `/flags` answers `401` to an unknown key, with a DRF-style body `{"type", "code",
//! "detail", "attr"}`; the capture endpoints answer `200` to any well-formed key and would
//! record an event, so they cannot tell a working key from a wrong one. The host is the
//! destination's `host` setting (customer-supplied, so the SSRF policy applies) or PostHog's
//! default.

use reqwest::Method;
use serde_json::json;
use url::Url;

use crate::http::{Base, Call, endpoint, host_of};
use crate::{Finding, Outcome, Settings, TEST_CLIENT_ID, Tested};

pub(crate) async fn check(call: &Call<'_>, default_host: &Url, settings: &Settings) -> Tested {
    let Some(api_key) = settings.value("apiKey") else {
        return Tested::Skipped("the destination has no `apiKey`".to_owned());
    };
    let host = match settings.value("host") {
        Some(text) => match Url::parse(text) {
            Ok(url) => url,
            Err(e) => {
                return Tested::NoAnswer(Finding::new(
                    Outcome::Unreachable,
                    format!("the `host` setting is not a URL ({e}); fix it and test again"),
                ));
            }
        },
        None => default_host.clone(),
    };
    let mut url = endpoint(&host, &["flags", ""]);
    url.query_pairs_mut().append_pair("v", "2");
    let body = json!({ "api_key": api_key, "distinct_id": TEST_CLIENT_ID });
    let request = call.request(Base::Customer, Method::POST, url).json(&body);
    let answer = match call.send(request).await {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    let shown = host_of(&host);
    let detail = answer
        .json()
        .and_then(|j| {
            j.get("detail")
                .or_else(|| j.get("message"))
                .and_then(|d| d.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| answer.excerpt());
    let finding = match answer.status {
        200..=299 => Finding::new(
            Outcome::Ok,
            format!("PostHog at `{shown}` accepted the project API key"),
        ),
        401 | 403 => Finding::new(
            Outcome::BadCredentials,
            format!(
                "PostHog at `{shown}` refused the project API key: {detail}; copy it from \
                 Project settings > Project API key (it starts with `phc_`) and check that \
                 the host is your project's region"
            ),
        ),
        404 => Finding::new(
            Outcome::VendorError { status: 404 },
            format!(
                "`{shown}` has no PostHog `/flags` endpoint; is the `host` setting your \
                 PostHog ingestion host (e.g. https://eu.i.posthog.com)?"
            ),
        ),
        status => Finding::new(
            Outcome::VendorError { status },
            format!("PostHog at `{shown}` answered {status}: {detail}"),
        ),
    };
    Tested::Answered(finding)
}

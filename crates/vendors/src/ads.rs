//! Ad platforms' server event APIs, tested with their test-event facilities so nothing
//! reaches the customer's reports:
//!
//! - Meta Conversions API with the destination's `testEventCode`
//!   (<https://developers.facebook.com/docs/marketing-api/conversions-api/using-the-api#testEvents>):
//!   events with a `test_event_code` show only in Events Manager's Test events tab.
//! - TikTok Events API 2.0 with `testEventCode`
//!   (<https://business-api.tiktok.com/portal/docs?id=1771100865818625>): answered HTTP 200
//!   with `{"code", "message"}`; 0 is ok, 40001 an access token that is wrong, revoked or
//!   may not use the pixel, 40002 a bad parameter.
//! - Reddit Conversions API v3 with `test_mode: true`
//!   (<https://ads-api.reddit.com/docs/v3/operations/Post%20Conversion%20Events>).
//! - Snapchat's Test Event Tool, `POST /v3/{pixel}/events/validate`
//!   (<https://developers.snap.com/api/marketing-api/Conversions-API/VerifySetUp>), which
//!   validates without recording.
//!
//! The test events identify the connection test (`c15t-control-plane` user agent, a
//! `c15t_connection_test` event id, an example email's SHA-256) and carry no visitor data.

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Value, json};
use url::Url;

use crate::http::{Answer, Base, Call, USER_AGENT, endpoint};
use crate::{Finding, Outcome, Tested};

/// SHA-256 of `connection-test@c15t.dev`, the identity test events carry (vendors refuse
/// events without any user identifier).
const TEST_EMAIL_SHA256: &str = "b38fb784ae484e8193a95aab6feb153793c8e69f50e3cc8617e4010adc40823e";

/// The page test events claim to come from.
const TEST_URL: &str = "https://c15t.dev/connection-test";

/// The event id of test events.
const TEST_EVENT_ID: &str = "c15t_connection_test";

#[allow(
    clippy::disallowed_methods,
    reason = "a test event must carry the current time: vendors refuse old events"
)]
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn vendor_error(vendor: &str, answer: &Answer) -> Tested {
    Tested::Answered(Finding::new(
        Outcome::VendorError {
            status: answer.status,
        },
        format!("{vendor} answered {}: {}", answer.status, answer.excerpt()),
    ))
}

fn text<'a>(json: Option<&'a Value>, key: &str) -> Option<&'a str> {
    json.and_then(|j| j.get(key)).and_then(Value::as_str)
}

/// Meta: one test `PageView` under the destination's test event code.
pub(crate) async fn meta_test_event(
    call: &Call<'_>,
    base: &Url,
    pixel: &str,
    token: &str,
    code: &str,
) -> Tested {
    let url = endpoint(base, &[crate::META_GRAPH_VERSION, pixel, "events"]);
    let body = json!({
        "access_token": token,
        "test_event_code": code,
        "data": [{
            "event_name": "PageView",
            "event_time": now_secs(),
            "event_id": TEST_EVENT_ID,
            "action_source": "website",
            "event_source_url": TEST_URL,
            "user_data": { "em": [TEST_EMAIL_SHA256], "client_user_agent": USER_AGENT },
        }],
    });
    let answer = match call
        .send(call.request(Base::Trusted, Method::POST, url).json(&body))
        .await
    {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    let json = answer.json();
    if (200..300).contains(&answer.status) {
        let received = json
            .as_ref()
            .and_then(|j| j.get("events_received"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        return Tested::Answered(Finding::new(
            Outcome::Ok,
            format!(
                "Meta's Conversions API accepted a test event for pixel {pixel} ({received} \
                 received); it shows under Events Manager > Test events with code {code}"
            ),
        ));
    }
    crate::meta::graph_error(&answer, json.as_ref())
}

/// TikTok: one test `ViewContent` under the destination's test event code.
pub(crate) async fn tiktok(
    call: &Call<'_>,
    base: &Url,
    pixel: &str,
    token: &str,
    code: &str,
) -> Tested {
    let url = endpoint(base, &["open_api", "v1.3", "event", "track", ""]);
    let body = json!({
        "event_source": "web",
        "event_source_id": pixel,
        "test_event_code": code,
        "data": [{
            "event": "ViewContent",
            "event_time": now_secs(),
            "event_id": TEST_EVENT_ID,
            "user": { "email": TEST_EMAIL_SHA256, "user_agent": USER_AGENT },
            "page": { "url": TEST_URL },
            "properties": {},
        }],
    });
    let Ok(mut token) = HeaderValue::from_str(token) else {
        return Tested::NoAnswer(Finding::new(
            Outcome::BadCredentials,
            "the stored TikTok access token contains characters no HTTP header may carry; \
             copy it again from Events Manager",
        ));
    };
    token.set_sensitive(true);
    let request = call
        .request(Base::Trusted, Method::POST, url)
        .header(HeaderName::from_static("access-token"), token)
        .json(&body);
    let answer = match call.send(request).await {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    let json = answer.json();
    let Some(code_value) = json
        .as_ref()
        .and_then(|j| j.get("code"))
        .and_then(Value::as_i64)
    else {
        return vendor_error("TikTok's Events API", &answer);
    };
    let message = text(json.as_ref(), "message").unwrap_or("(no message)");
    let finding = match code_value {
        0 => Finding::new(
            Outcome::Ok,
            format!(
                "TikTok's Events API accepted a test event for pixel {pixel}; it shows under \
                 Events Manager > Test events with code {code}"
            ),
        ),
        40001 if message.to_ascii_lowercase().contains("pixel") => Finding::new(
            Outcome::NotFound,
            format!(
                "TikTok refused pixel {pixel} for this token: {message} (code 40001); check the \
                 pixel code and generate the token from that pixel's settings"
            ),
        ),
        40001 | 40100..=40199 => Finding::new(
            Outcome::BadCredentials,
            format!(
                "the token was refused by TikTok: {message} (code {code_value}); generate a new \
                 Events API access token in Events Manager"
            ),
        ),
        40002 => Finding::new(
            Outcome::Rejected,
            format!("TikTok rejected the test event: {message} (code 40002)"),
        ),
        other => Finding::new(
            Outcome::VendorError {
                status: answer.status,
            },
            format!("TikTok answered code {other}: {message}"),
        ),
    };
    Tested::Answered(finding)
}

/// Reddit: one `PAGE_VISIT` in test mode.
pub(crate) async fn reddit(call: &Call<'_>, base: &Url, pixel: &str, token: &str) -> Tested {
    let url = endpoint(base, &["api", "v3", "pixels", pixel, "conversion_events"]);
    let body = json!({ "data": {
        "test_mode": true,
        "events": [{
            "event_at": now_secs() * 1000,
            "action_source": "WEBSITE",
            "type": { "tracking_type": "PAGE_VISIT" },
            "user": { "email": TEST_EMAIL_SHA256, "user_agent": USER_AGENT },
            "metadata": { "conversion_id": TEST_EVENT_ID },
        }],
    }});
    let Ok(mut auth) = HeaderValue::from_str(&format!("Bearer {token}")) else {
        return Tested::NoAnswer(Finding::new(
            Outcome::BadCredentials,
            "the stored Reddit access token contains characters no HTTP header may carry",
        ));
    };
    auth.set_sensitive(true);
    let request = call
        .request(Base::Trusted, Method::POST, url)
        .header(reqwest::header::AUTHORIZATION, auth)
        .json(&body);
    let answer = match call.send(request).await {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    let json = answer.json();
    let message = json
        .as_ref()
        .and_then(|j| {
            j.get("error")
                .and_then(|e| e.get("message"))
                .or_else(|| j.get("message"))
        })
        .and_then(Value::as_str)
        .map_or_else(|| answer.excerpt(), str::to_owned);
    let finding = match answer.status {
        200..=299 => Finding::new(
            Outcome::Ok,
            format!("Reddit's Conversions API accepted a test-mode event for pixel {pixel}"),
        ),
        401 => Finding::new(
            Outcome::BadCredentials,
            format!(
                "the token was refused by Reddit: {message}; generate a conversion access token \
                 in Events Manager > Conversions API"
            ),
        ),
        403 | 404 => Finding::new(
            Outcome::NotFound,
            format!("Reddit refused pixel {pixel} for this token: {message}; check the pixel ID"),
        ),
        400 | 422 => Finding::new(
            Outcome::Rejected,
            format!("Reddit rejected the test event: {message}"),
        ),
        status => Finding::new(
            Outcome::VendorError { status },
            format!("Reddit answered {status}: {message}"),
        ),
    };
    Tested::Answered(finding)
}

/// Snapchat: one `PAGE_VIEW` to the Test Event Tool.
pub(crate) async fn snapchat(call: &Call<'_>, base: &Url, pixel: &str, token: &str) -> Tested {
    let mut url = endpoint(base, &["v3", pixel, "events", "validate"]);
    url.query_pairs_mut().append_pair("access_token", token);
    let body = json!({ "data": [{
        "event_name": "PAGE_VIEW",
        "event_time": now_secs(),
        "event_id": TEST_EVENT_ID,
        "action_source": "WEB",
        "event_source_url": TEST_URL,
        "user_data": { "em": [TEST_EMAIL_SHA256], "client_user_agent": USER_AGENT },
    }]});
    let answer = match call
        .send(call.request(Base::Trusted, Method::POST, url).json(&body))
        .await
    {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    let json = answer.json();
    let reason = text(json.as_ref(), "reason").map_or_else(|| answer.excerpt(), str::to_owned);
    let status_text = text(json.as_ref(), "status").unwrap_or("");
    let finding = match answer.status {
        200..=299 if status_text != "INVALID" => Finding::new(
            Outcome::Ok,
            format!("Snapchat's Test Event Tool validated a test event for pixel {pixel}"),
        ),
        401 | 403 => Finding::new(
            Outcome::BadCredentials,
            format!(
                "the token was refused by Snapchat: {reason}; generate a Conversions API token \
                 for this pixel in Ads Manager > Business Details"
            ),
        ),
        404 => Finding::new(
            Outcome::NotFound,
            format!("Snapchat does not know pixel {pixel}: {reason}"),
        ),
        200..=299 | 400 => Finding::new(
            Outcome::Rejected,
            format!("Snapchat rejected the test event: {reason}"),
        ),
        status => Finding::new(
            Outcome::VendorError { status },
            format!("Snapchat answered {status}: {reason}"),
        ),
    };
    Tested::Answered(finding)
}

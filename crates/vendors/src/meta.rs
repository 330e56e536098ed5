//! Meta Pixel: looks the pixel up in the Graph API with the destination's Conversions API
//! token (`GET /{version}/{pixel-id}?fields=id,name`).
//!
//! Graph API errors are `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`
//! (<https://developers.facebook.com/docs/graph-api/guides/error-handling>): code 190 (and 102,
//! 104) is an invalid, expired or missing token, 10 and 200-299 are missing permissions, and
//! code 100 with subcode 33 is an object that does not exist or that the token may not read.
//!
//! With a `testEventCode`, the check sends one test event to the Conversions API instead
//! ([`crate::ads::meta_test_event`]): that proves the token may send events, which the
//! lookup does not, and test events stay out of the pixel's reports.

use reqwest::Method;
use url::Url;

use crate::http::{Answer, Base, Call, endpoint};
use crate::{Finding, Outcome, Settings, Tested};

/// The Graph API version the test calls.
pub const META_GRAPH_VERSION: &str = "v21.0";

pub(crate) async fn check(call: &Call<'_>, base: &Url, settings: &Settings) -> Tested {
    let Some(pixel) = settings.value("pixelId") else {
        return Tested::Skipped("the destination has no `pixelId`".to_owned());
    };
    let Some(token) = settings.secret("accessToken") else {
        return Tested::Skipped(
            "no Conversions API access token is stored; Meta's Graph API needs one to look the \
             pixel up (the browser pixel itself works without it)"
                .to_owned(),
        );
    };
    if let Some(code) = settings.value("testEventCode") {
        return crate::ads::meta_test_event(call, base, pixel, token.expose(), code).await;
    }
    let mut url = endpoint(base, &[META_GRAPH_VERSION, pixel]);
    url.query_pairs_mut()
        .append_pair("fields", "id,name")
        .append_pair("access_token", token.expose());
    let answer = match call
        .send(call.request(Base::Trusted, Method::GET, url))
        .await
    {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    let json = answer.json();
    if (200..300).contains(&answer.status) {
        let name = json
            .as_ref()
            .and_then(|j| j.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or("(unnamed)");
        return Tested::Answered(Finding::new(
            Outcome::Ok,
            format!("Meta knows pixel {pixel} (`{name}`) and the access token may read it"),
        ));
    }
    graph_error(&answer, json.as_ref())
}

/// A Graph API error answer as a finding.
pub(crate) fn graph_error(answer: &Answer, json: Option<&serde_json::Value>) -> Tested {
    let error = json.and_then(|j| j.get("error"));
    let Some(error) = error else {
        return Tested::Answered(Finding::new(
            Outcome::VendorError {
                status: answer.status,
            },
            format!(
                "Meta's Graph API answered {} without an error object: {}",
                answer.status,
                answer.excerpt()
            ),
        ));
    };
    let code = error.get("code").and_then(|c| c.as_i64());
    let subcode = error.get("error_subcode").and_then(|c| c.as_i64());
    let kind = error
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("error");
    let mut vendor_message = error
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("(no message)")
        .to_owned();
    // Conversions API errors explain themselves in `error_user_msg`.
    if let Some(user_message) = error.get("error_user_msg").and_then(|m| m.as_str()) {
        vendor_message = format!("{vendor_message}: {user_message}");
    }
    let detail = match (code, subcode) {
        (Some(code), Some(sub)) => format!("{kind}, code {code}, subcode {sub}"),
        (Some(code), None) => format!("{kind}, code {code}"),
        _ => kind.to_owned(),
    };
    let (outcome, advice) = match (code, subcode) {
        (Some(102 | 104 | 190), _) => (
            Outcome::BadCredentials,
            "generate a new Conversions API access token in Events Manager and store it",
        ),
        (Some(10 | 200..=299), _) => (
            Outcome::BadCredentials,
            "the token may not read this pixel; generate it from the pixel's own settings",
        ),
        (Some(100), Some(33)) | (Some(803), _) => (
            Outcome::NotFound,
            "check the pixel ID in Events Manager > Data sources",
        ),
        (Some(100), Some(_)) if error.get("error_user_msg").is_some() => (
            Outcome::Rejected,
            "the test event was refused; check the pixel's settings in Events Manager",
        ),
        _ => (
            Outcome::VendorError {
                status: answer.status,
            },
            "try again later; if it persists, check the pixel in Events Manager",
        ),
    };
    Tested::Answered(Finding::new(
        outcome,
        format!("Meta: {vendor_message} ({detail}); {advice}"),
    ))
}

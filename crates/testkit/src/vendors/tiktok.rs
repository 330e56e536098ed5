//! TikTok Events API 2.0: `POST /open_api/v1.3/event/track/`
//! (<https://business-api.tiktok.com/portal/docs?id=1771100865818625>; return codes
//! <https://business-api.tiktok.com/portal/docs?id=1737172488964097>).
//!
//! The access token goes in the `Access-Token` header; the body is `{"event_source": "web",
//! "event_source_id": <pixel code>, "test_event_code"?, "data": [{"event", "event_time"
//! (Unix seconds), "event_id"?, "user": {"email"?, "phone"?, "external_id"? (SHA-256 hex,
//! a string or a list), "ip"?, "user_agent"?, "ttclid"?, "ttp"?}, "page": {"url"},
//! "properties"?}]}` (1 to 1,000 events). TikTok answers HTTP `200` whatever happened, with
//! `{"code", "message", "request_id", "data"}`: `code` 0 is success, 40001 an access token
//! that is missing, incorrect or revoked, or that may not use the pixel, 40002 a parameter
//! error (TikTok's wording: `Invalid value for <field>: ...`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Req, Shared, arrive, hex_id, is_sha256_hex, json, lock, now_secs};

/// `event_source` values TikTok accepts.
const SOURCES: &[&str] = &["web", "app", "offline", "crm"];

fn answer(code: u32, message: String) -> Response {
    json(
        StatusCode::OK,
        &json!({
            "code": code,
            "message": message,
            "request_id": format!("{}{}", chrono::Utc::now().format("%Y%m%d%H%M%S"), hex_id(20).to_uppercase()),
            "data": {},
        }),
    )
}

fn invalid(field: &str, why: &str) -> Response {
    answer(40002, format!("Invalid value for {field}: {why}"))
}

pub(crate) async fn track(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let token = req.header("access-token").unwrap_or("").to_owned();
    if token.is_empty() || !lock(&state).tiktok.knows_token(&token) {
        return answer(
            40001,
            "Access token is incorrect or has been revoked.".to_owned(),
        );
    }
    let Some(body) = req.json() else {
        return answer(40002, "Request body is not valid JSON.".to_owned());
    };
    let source = body
        .get("event_source")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !SOURCES.contains(&source) {
        return invalid("event_source", "must be one of web, app, offline, crm.");
    }
    let Some(pixel) = body
        .get("event_source_id")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    else {
        return invalid("event_source_id", "not a valid string.");
    };
    if !lock(&state).tiktok.may(pixel, &token) {
        return answer(
            40001,
            format!(
                "No permission to operate pixel code: {pixel}. Check that the pixel exists and that the access token was generated for it."
            ),
        );
    }
    if let Some(code) = body.get("test_event_code")
        && code.as_str().is_none_or(|c| c.is_empty())
    {
        return invalid("test_event_code", "not a valid string.");
    }
    let Some(events) = body.get("data").and_then(Value::as_array) else {
        return invalid("data", "field is required.");
    };
    if events.is_empty() || events.len() > 1000 {
        return invalid("data", "must contain 1 to 1000 events.");
    }
    for (i, event) in events.iter().enumerate() {
        if let Err(response) = check_event(i, event, source) {
            return response;
        }
    }
    answer(0, "OK".to_owned())
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the answer, built once per request"
)]
fn check_event(i: usize, event: &Value, source: &str) -> Result<(), Response> {
    if event
        .get("event")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(invalid(&format!("data[{i}].event"), "field is required."));
    }
    let Some(time) = event.get("event_time").and_then(Value::as_i64) else {
        return Err(invalid(
            &format!("data[{i}].event_time"),
            "must be a Unix timestamp in seconds.",
        ));
    };
    if time > now_secs() + 300 {
        return Err(invalid(
            &format!("data[{i}].event_time"),
            "must be a Unix timestamp in seconds, not in the future.",
        ));
    }
    if let Some(id) = event.get("event_id")
        && !id.is_string()
    {
        return Err(invalid(
            &format!("data[{i}].event_id"),
            "not a valid string.",
        ));
    }
    if let Some(user) = event.get("user") {
        let Some(user) = user.as_object() else {
            return Err(invalid(&format!("data[{i}].user"), "must be an object."));
        };
        for key in ["email", "phone", "external_id"] {
            let Some(value) = user.get(key) else { continue };
            let values: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            if values
                .iter()
                .any(|v| !v.as_str().is_some_and(is_sha256_hex))
            {
                return Err(invalid(
                    &format!("data[{i}].user.{key}"),
                    "must be SHA-256 hashed (64 lower-case hex digits).",
                ));
            }
        }
        for key in ["ip", "user_agent", "ttclid", "ttp"] {
            if let Some(value) = user.get(key)
                && !value.is_string()
            {
                return Err(invalid(
                    &format!("data[{i}].user.{key}"),
                    "not a valid string.",
                ));
            }
        }
    }
    if source == "web"
        && event
            .get("page")
            .and_then(|p| p.get("url"))
            .and_then(Value::as_str)
            .is_none_or(|u| !(u.starts_with("http://") || u.starts_with("https://")))
    {
        return Err(invalid(
            &format!("data[{i}].page.url"),
            "a web event needs the page URL.",
        ));
    }
    if let Some(props) = event.get("properties")
        && !props.is_object()
    {
        return Err(invalid(
            &format!("data[{i}].properties"),
            "must be an object.",
        ));
    }
    Ok(())
}

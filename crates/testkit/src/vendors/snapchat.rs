//! Snapchat Conversions API v3: `POST /v3/{pixel_id}/events?access_token=...` and the Test
//! Event Tool `POST /v3/{pixel_id}/events/validate?access_token=...`
//! (<https://developers.snap.com/api/marketing-api/Conversions-API/UsingTheAPI>,
//! <https://developers.snap.com/api/marketing-api/Conversions-API/VerifySetUp>).
//!
//! The token comes in the `access_token` query parameter (or `Authorization: Bearer`). Body
//! `{"data": [{"event_name", "event_time" (Unix seconds, or milliseconds), "action_source"
//! ("WEB", "MOBILE_APP", "OFFLINE"), "event_source_url" (required for `WEB`), "event_id"?,
//! "user_data": {"em"?, "ph"? (lists of SHA-256 hex), "client_ip_address"?,
//! "client_user_agent"?, ...}, "custom_data"?}]}`. A `PURCHASE` needs `custom_data.currency`
//! and `value`. An unknown token, or one that may not use the pixel, is `401`; a bad event is
//! `400` with `{"status": "INVALID", "reason"}` (the validate endpoint documents these);
//! success is `200` with `{"status": "OK", "reason": "All records processed"}`, and for
//! `/validate` `{"status": "VALID", ...}`. Validated events are not recorded by Snapchat.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Req, Shared, arrive, is_sha256_hex, json, lock, now_secs};

const ACTION_SOURCES: &[&str] = &["WEB", "MOBILE_APP", "OFFLINE"];

fn invalid(reason: String) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({ "status": "INVALID", "reason": reason }),
    )
}

pub(crate) async fn validate(
    state: State<Shared>,
    Path(pixel): Path<String>,
    req: Req,
) -> Response {
    events(state, pixel, req, true).await
}

pub(crate) async fn events(
    State(state): State<Shared>,
    pixel: String,
    req: Req,
    validate: bool,
) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let token = req
        .param("access_token")
        .or_else(|| req.bearer().map(str::to_owned))
        .unwrap_or_default();
    {
        let s = lock(&state);
        if !s.snapchat.knows_token(&token) {
            return json(
                StatusCode::UNAUTHORIZED,
                &json!({ "status": "UNAUTHORIZED", "reason": "Invalid access token" }),
            );
        }
        if !s.snapchat.may(&pixel, &token) {
            return json(
                StatusCode::UNAUTHORIZED,
                &json!({ "status": "UNAUTHORIZED", "reason": format!("The access token is not authorized for asset {pixel}") }),
            );
        }
    }
    let Some(events) = req
        .json()
        .and_then(|b| b.get("data").and_then(Value::as_array).cloned())
    else {
        return invalid("The body must be a JSON object with a `data` list.".to_owned());
    };
    if events.is_empty() || events.len() > 2000 {
        return invalid("data must contain 1 to 2000 events.".to_owned());
    }
    for (i, event) in events.iter().enumerate() {
        if let Err(reason) = check_event(event) {
            return invalid(format!("data[{i}]: {reason}"));
        }
    }
    if validate {
        json(
            StatusCode::OK,
            &json!({ "status": "VALID", "reason": format!("{} events validated", events.len()) }),
        )
    } else {
        json(
            StatusCode::OK,
            &json!({ "status": "OK", "reason": "All records processed" }),
        )
    }
}

fn check_event(event: &Value) -> Result<(), String> {
    let name = event
        .get("event_name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        return Err("event_name is required".to_owned());
    }
    let Some(mut time) = event.get("event_time").and_then(Value::as_i64) else {
        return Err("event_time is required".to_owned());
    };
    if time > 100_000_000_000 {
        time /= 1000;
    }
    let now = now_secs();
    if time > now + 300 || time < now - 37 * 24 * 3600 {
        return Err("Timestamp invalid or out of range".to_owned());
    }
    let source = event
        .get("action_source")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !ACTION_SOURCES.contains(&source) {
        return Err(format!(
            "action_source must be one of {}",
            ACTION_SOURCES.join(", ")
        ));
    }
    if source == "WEB"
        && event
            .get("event_source_url")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return Err("event_source_url is required for WEB events".to_owned());
    }
    let Some(user) = event.get("user_data").and_then(Value::as_object) else {
        return Err("Insufficient PII: user_data is required".to_owned());
    };
    for key in ["em", "ph", "fn", "ln", "external_id"] {
        let Some(value) = user.get(key) else { continue };
        let values: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        if values
            .iter()
            .any(|v| !v.as_str().is_some_and(is_sha256_hex))
        {
            return Err(format!(
                "Unhashed PII: user_data.{key} must be SHA-256 hashed"
            ));
        }
    }
    if name == "PURCHASE" {
        let custom = event.get("custom_data");
        let has = |k: &str| custom.and_then(|c| c.get(k)).is_some_and(|v| !v.is_null());
        if !has("currency") || !has("value") {
            return Err("Missing price and/or currency in Purchase events".to_owned());
        }
    }
    Ok(())
}

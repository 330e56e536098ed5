//! Reddit Conversions API v3: `POST /api/v3/pixels/{pixel_id}/conversion_events`
//! (<https://ads-api.reddit.com/docs/v3/operations/Post%20Conversion%20Events>; v2.0's
//! `/api/v2.0/conversions/events/{account_id}` is deprecated, so only v3 is served).
//!
//! `Authorization: Bearer <conversion access token>`; body `{"data": {"test_mode"?: bool,
//! "events": [{"event_at" (epoch ms, at most 7 days old), "action_source" ("WEBSITE",
//! "APP", "PHYSICAL_STORE", "OTHER"), "type": {"tracking_type", "custom_event_name"?},
//! "click_id"?, "event_source_url"?, "user"?: {"email"?, "phone_number"?, "external_id"? (SHA-256 hex),
//! "ip_address"?, "user_agent"?, ...}, "metadata"?: {"conversion_id"?, ...}}]}}`. An
//! unknown token is `401`, a token that may not use the pixel `403`, a bad event `400`
//! with `{"error": {"code", "message"}}`; success is `200` with `{"data": {"message"}}`.
//! With `test_mode` the events are checked the same way and not recorded by Reddit.
//! TODO-correctness: Reddit's docs do not spell out the error bodies; the shapes here are
//! the fake's assumption.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Req, Shared, arrive, is_sha256_hex, json, lock, now_secs};

const TRACKING_TYPES: &[&str] = &[
    "PAGE_VISIT",
    "VIEW_CONTENT",
    "SEARCH",
    "ADD_TO_CART",
    "ADD_TO_WISHLIST",
    "PURCHASE",
    "LEAD",
    "SIGN_UP",
    "CUSTOM",
];

const ACTION_SOURCES: &[&str] = &["WEBSITE", "APP", "PHYSICAL_STORE", "OTHER"];

fn error(status: StatusCode, code: &str, message: String) -> Response {
    json(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

pub(crate) async fn conversion_events(
    State(state): State<Shared>,
    Path(pixel): Path<String>,
    req: Req,
) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let token = req.bearer().unwrap_or("").to_owned();
    {
        let s = lock(&state);
        if !s.reddit.knows_token(&token) {
            return error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "The access token is invalid or expired.".to_owned(),
            );
        }
        if !s.reddit.may(&pixel, &token) {
            return error(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                format!("The access token may not send conversion events to pixel {pixel}."),
            );
        }
    }
    let Some(data) = req.json().and_then(|b| b.get("data").cloned()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "The body must be a JSON object with a `data` object.".to_owned(),
        );
    };
    if let Some(test) = data.get("test_mode")
        && !test.is_boolean()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "data.test_mode must be a boolean.".to_owned(),
        );
    }
    let Some(events) = data.get("events").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "data.events is required.".to_owned(),
        );
    };
    if events.is_empty() || events.len() > 1000 {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "data.events must contain 1 to 1000 events.".to_owned(),
        );
    }
    for (i, event) in events.iter().enumerate() {
        if let Err(message) = check_event(event) {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                format!("data.events[{i}]: {message}"),
            );
        }
    }
    json(
        StatusCode::OK,
        &json!({ "data": { "message": format!("Successfully processed {} conversion events.", events.len()) } }),
    )
}

fn check_event(event: &Value) -> Result<(), String> {
    let Some(at) = event.get("event_at").and_then(Value::as_i64) else {
        return Err("event_at is required (epoch milliseconds)".to_owned());
    };
    let now_ms = now_secs() * 1000;
    if at > now_ms + 60_000 || at < now_ms - 7 * 24 * 3600 * 1000 {
        return Err("event_at must be epoch milliseconds within the past 7 days".to_owned());
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
    let tracking = event
        .get("type")
        .and_then(|t| t.get("tracking_type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if !TRACKING_TYPES.contains(&tracking) {
        return Err(format!(
            "type.tracking_type must be one of {}",
            TRACKING_TYPES.join(", ")
        ));
    }
    if tracking == "CUSTOM"
        && event
            .get("type")
            .and_then(|t| t.get("custom_event_name"))
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return Err("a CUSTOM event needs type.custom_event_name".to_owned());
    }
    if let Some(user) = event.get("user") {
        for key in ["email", "phone_number", "external_id"] {
            if let Some(value) = user.get(key)
                && !value.as_str().is_some_and(is_sha256_hex)
            {
                return Err(format!("user.{key} must be a SHA-256 hex digest"));
            }
        }
    }
    Ok(())
}

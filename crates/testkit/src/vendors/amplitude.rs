//! Amplitude HTTP V2 API: `POST /2/httpapi`
//! (<https://amplitude.com/docs/apis/analytics/http-v2>,
//! <https://amplitude.com/docs/apis/analytics/http-api-batching-retries>).
//!
//! Body `{"api_key", "events": [{"user_id" | "device_id" (one is required, each at least
//! 5 characters unless `options.min_id_length` says otherwise), "event_type", "time"?
//! (epoch ms, an integer), "insert_id"?, "ip"?, "event_properties"?, ...}],
//! "options"?: {"min_id_length"}}` (at most 2,000 events). Success is `200` `{"code": 200,
//! "events_ingested", "payload_size_bytes", "server_upload_time"}`. Errors are `400`:
//! `{"code": 400, "error": "Request missing required field", "missing_field"}` for a
//! missing `api_key` or `events`, `{"code": 400, "error": "Invalid API key: <key>"}` for an
//! unknown key, and `{"code": 400, "error": "Invalid field values on some events",
//! "events_with_invalid_fields": {field: [indices]}, "events_with_missing_fields": {...}}`
//! (ids shorter than `min_id_length`, default 5: `{"code": 400, "error": "Invalid id length
//! for user_id or device_id", "events_with_invalid_id_lengths": {field: [indices]}}`)
//! for bad events, in which case nothing of the request is ingested (Amplitude's guidance is
//! to drop the listed events and resend the rest).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Req, Shared, arrive, json, lock};

fn missing(field: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({ "code": 400, "error": "Request missing required field", "missing_field": field }),
    )
}

pub(crate) async fn httpapi(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let Some(body) = req.json() else {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({ "code": 400, "error": "Invalid JSON request body" }),
        );
    };
    let Some(key) = body
        .get("api_key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
    else {
        return missing("api_key");
    };
    if !lock(&state).amplitude_keys.contains(key) {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({ "code": 400, "error": format!("Invalid API key: {key}") }),
        );
    }
    let Some(events) = body.get("events").and_then(Value::as_array) else {
        return missing("events");
    };
    if events.len() > 2000 {
        return json(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({ "code": 413, "error": "Payload too large" }),
        );
    }
    let min = body
        .get("options")
        .and_then(|o| o.get("min_id_length"))
        .and_then(Value::as_u64)
        .unwrap_or(5) as usize;
    let mut invalid: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut short: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut absent: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, event) in events.iter().enumerate() {
        if event
            .get("event_type")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            absent.entry("event_type").or_default().push(i);
        }
        let user = event.get("user_id");
        let device = event.get("device_id");
        if user.is_none() && device.is_none() {
            absent.entry("user_id or device_id").or_default().push(i);
        }
        for (name, value) in [("user_id", user), ("device_id", device)] {
            if let Some(value) = value
                && value.as_str().is_none_or(|v| v.chars().count() < min)
            {
                short.entry(name).or_default().push(i);
            }
        }
        if device
            .and_then(Value::as_str)
            .is_some_and(|d| d.chars().all(|c| c == '0' || c == '-'))
        {
            invalid.entry("device_id").or_default().push(i);
        }
        if let Some(time) = event.get("time")
            && !time.is_i64()
        {
            invalid.entry("time").or_default().push(i);
        }
    }
    if !short.is_empty() {
        // As Amplitude answers ids under `min_id_length` (amplitude/Amplitude-TypeScript#81).
        return json(
            StatusCode::BAD_REQUEST,
            &json!({
                "code": 400,
                "error": "Invalid id length for user_id or device_id",
                "events_with_invalid_id_lengths": short,
            }),
        );
    }
    if !invalid.is_empty() || !absent.is_empty() {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({
                "code": 400,
                "error": "Invalid field values on some events",
                "events_with_invalid_fields": invalid,
                "events_with_missing_fields": absent,
            }),
        );
    }
    json(
        StatusCode::OK,
        &json!({
            "code": 200,
            "events_ingested": events.len(),
            "payload_size_bytes": req.body.len(),
            "server_upload_time": chrono::Utc::now().timestamp_millis(),
        }),
    )
}

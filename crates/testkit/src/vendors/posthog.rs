//! PostHog: the feature-flag endpoint connection tests call and the capture endpoints.
//!
//! - `POST /flags/?v=2` with `{"api_key" | "token", "distinct_id"}`: `200` with
//!   `{"flags": {}, ...}` for a known key, `401` with PostHog's DRF error body `{"type",
//!   "code", "detail", "attr"}` otherwise
//!   (<https://posthog.com/docs/api/flags>).
//! - `POST /i/v0/e/`, `/e/`, `/capture/` (one event `{"api_key" | "token", "event",
//!   "distinct_id" (or `properties.distinct_id`), "properties"?, "timestamp"?}`) and
//!   `/batch/` (`{"api_key", "batch": [events]}`)
//!   (<https://posthog.com/docs/api/capture>): `200 {"status": "Ok"}` for a well-formed
//!   request; `401` without a key; `400` (`invalid_payload`) for an event without a name or
//!   `distinct_id`, or a timestamp that is not ISO 8601. Like PostHog, an unknown key is
//!   still answered `200` (PostHog/posthog#54670); the fake records it as
//!   [`super::Recorded::dropped`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Req, Shared, arrive, json, lock, mark_dropped};

fn invalid_payload(detail: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({
            "type": "validation_error",
            "code": "invalid_payload",
            "detail": detail,
            "attr": null,
        }),
    )
}

pub(crate) async fn capture(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let Some(payload) = req.json() else {
        return invalid_payload("Malformed request data: the body is not JSON.");
    };
    let key = payload
        .get("api_key")
        .or_else(|| payload.get("token"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if key.is_empty() {
        return json(
            StatusCode::UNAUTHORIZED,
            &json!({
                "type": "authentication_error",
                "code": "invalid_api_key",
                "detail": "API key not provided. You can find your project API key in PostHog project settings.",
                "attr": null,
            }),
        );
    }
    let events: Vec<&Value> = match payload.get("batch") {
        Some(Value::Array(batch)) => batch.iter().collect(),
        Some(_) => return invalid_payload("The batch field must be a list of events."),
        None => vec![&payload],
    };
    if events.is_empty() {
        return invalid_payload("No events in the request.");
    }
    for event in &events {
        if event
            .get("event")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return invalid_payload("Invalid payload: All events must have the event name field.");
        }
        let distinct = event
            .get("distinct_id")
            .or_else(|| event.get("properties").and_then(|p| p.get("distinct_id")));
        let distinct_ok = match distinct {
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Number(_)) => true,
            _ => false,
        };
        if !distinct_ok {
            return invalid_payload("Invalid payload: All events must have the distinct_id field.");
        }
        if let Some(ts) = event.get("timestamp")
            && ts
                .as_str()
                .is_none_or(|t| chrono::DateTime::parse_from_rfc3339(t).is_err())
        {
            return invalid_payload("Invalid payload: timestamp must be an ISO 8601 date.");
        }
    }
    if !lock(&state).posthog_keys.contains(key) {
        mark_dropped(&state, &req, "unknown project API key");
    }
    json(StatusCode::OK, &json!({ "status": "Ok" }))
}

pub(crate) async fn flags(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let payload: Value = req.json().unwrap_or(Value::Null);
    let key = payload
        .get("api_key")
        .or_else(|| payload.get("token"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let known = lock(&state).posthog_keys.contains(key);
    if !known {
        return json(
            StatusCode::UNAUTHORIZED,
            &json!({
                "type": "authentication_error",
                "code": "invalid_api_key",
                "detail": "Project API key invalid. You can find your project API key in PostHog project settings.",
                "attr": null,
            }),
        );
    }
    if payload
        .get("distinct_id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({
                "type": "validation_error",
                "code": "invalid_payload",
                "detail": "The distinct_id field is missing from the request.",
                "attr": null,
            }),
        );
    }
    json(
        StatusCode::OK,
        &json!({
            "flags": {},
            "errorsWhileComputingFlags": false,
            "quotaLimited": [],
            "requestId": format!("{:032x}", rand::random::<u128>()),
        }),
    )
}

//! Google: the GA4 Measurement Protocol (collection and validation) and Tag Manager's
//! container script.
//!
//! - `POST /mp/collect?measurement_id=...&api_secret=...`
//!   (<https://developers.google.com/analytics/devguides/collection/protocol/ga4/sending-events>):
//!   like Google, always `204` with an empty body, whatever the request; a request Google
//!   would discard (what the validation server would report) is recorded with
//!   [`super::Recorded::dropped`].
//! - `POST /debug/mp/collect?measurement_id=...&api_secret=...`
//!   (<https://developers.google.com/analytics/devguides/collection/protocol/ga4/validating-events>):
//!   `200` with `{"validationMessages": [{"fieldPath", "description", "validationCode"}]}`,
//!   empty when the request is well formed. Like Google's validation server it does not check
//!   the API secret. Body `{"client_id", "user_id"?, "events": [{"name", "params"}] (at most
//!   25, names a letter then letters, digits and `_`, at most 40, not reserved),
//!   "consent"?: {"ad_user_data", "ad_personalization"} (each `GRANTED` or `DENIED`),
//!   "user_data"?: {"sha256_email_address", "sha256_phone_number", ...} (SHA-256 hex)}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Req, Shared, arrive, is_sha256_hex, json, mark_dropped};

pub(crate) async fn collect(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let findings = findings(&req);
    if req.param("api_secret").is_none_or(|s| s.is_empty()) {
        mark_dropped(&state, &req, "no api_secret");
    } else if !findings.is_empty() {
        let text: Vec<String> = findings
            .iter()
            .filter_map(|m| {
                m.get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        mark_dropped(&state, &req, text.join("; "));
    }
    StatusCode::NO_CONTENT.into_response()
}

fn check_consent_and_user_data(payload: &Value, messages: &mut Vec<Value>) {
    if let Some(consent) = payload.get("consent") {
        for key in ["ad_user_data", "ad_personalization"] {
            if let Some(value) = consent.get(key)
                && !matches!(value.as_str(), Some("GRANTED" | "DENIED"))
            {
                messages.push(message(
                    &format!("consent.{key}"),
                    &format!("consent.{key} must be GRANTED or DENIED."),
                    "VALUE_INVALID",
                ));
            }
        }
    }
    if let Some(user) = payload.get("user_data").and_then(Value::as_object) {
        for (key, value) in user {
            if !key.starts_with("sha256_") {
                continue;
            }
            let values: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            if values
                .iter()
                .any(|v| !v.as_str().is_some_and(is_sha256_hex))
            {
                messages.push(message(
                    &format!("user_data.{key}"),
                    &format!("user_data.{key} must be a SHA-256 hex digest."),
                    "VALUE_INVALID",
                ));
            }
        }
    }
}

fn message(field: &str, description: &str, code: &str) -> Value {
    json!({ "fieldPath": field, "description": description, "validationCode": code })
}

/// GA4 event names: a letter first, then letters, digits and underscores, at most 40.
fn valid_event_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) async fn validate(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    json(
        StatusCode::OK,
        &json!({ "validationMessages": findings(&req) }),
    )
}

/// What Google's validation server would say about a request (empty: well formed).
fn findings(req: &Req) -> Vec<Value> {
    let mut messages = Vec::new();
    match req.param("measurement_id").as_deref() {
        None | Some("") => messages.push(message(
            "measurement_id",
            "Measurement ID is required for web streams.",
            "VALUE_REQUIRED",
        )),
        Some(id) if !id.starts_with("G-") => messages.push(message(
            "measurement_id",
            &format!("Measurement ID [{id}] is invalid."),
            "VALUE_INVALID",
        )),
        Some(_) => {}
    }
    // Like Google's validation server, the API secret is not checked.
    let Some(payload) = req.json() else {
        messages.push(message(
            "",
            "Unable to parse the request body as JSON.",
            "VALUE_INVALID",
        ));
        return messages;
    };
    if payload
        .get("client_id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        messages.push(message(
            "client_id",
            "client_id is required for web streams.",
            "VALUE_REQUIRED",
        ));
    }
    match payload.get("events").and_then(Value::as_array) {
        None => messages.push(message("events", "Events are required.", "VALUE_REQUIRED")),
        Some(events) if events.len() > 25 => messages.push(message(
            "events",
            "A request may contain at most 25 events.",
            "EXCEEDED_MAX_ENTITIES",
        )),
        Some(events) => {
            for (i, event) in events.iter().enumerate() {
                let name = event.get("name").and_then(Value::as_str).unwrap_or("");
                if !valid_event_name(name) {
                    messages.push(message(
                        "events",
                        &format!(
                            "Event at index: [{i}] has invalid name [{name}]. Names must start \
                             with an alphabetic character."
                        ),
                        "NAME_INVALID",
                    ));
                } else if ["ga_", "google_", "firebase_"]
                    .iter()
                    .any(|p| name.starts_with(p))
                {
                    messages.push(message(
                        "events",
                        &format!("Event at index: [{i}] has reserved name [{name}]."),
                        "NAME_RESERVED",
                    ));
                }
            }
        }
    }
    check_consent_and_user_data(&payload, &mut messages);
    messages
}

//! Plausible Events API: `POST /api/event` (<https://plausible.io/docs/events-api>).
//!
//! Headers: `User-Agent` (required; Plausible derives the visitor from it) and
//! `X-Forwarded-For` (the visitor's IP), `Content-Type: application/json` (or
//! `text/plain`). Body `{"domain", "name", "url", "referrer"?, "props"? (at most 30, plain
//! values), "revenue"?}`. A well-formed event is `202` with body `ok`; a missing field is
//! `400` `{"errors": {field: ["can't be blank"]}}`. An event for a domain Plausible does not
//! know is still `202`, with the `x-plausible-dropped: 1` header Plausible sets on discarded
//! events, and is recorded as [`super::Recorded::dropped`].

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Req, Shared, arrive, json, lock, mark_dropped};

pub(crate) async fn event(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let body = req.json().unwrap_or(Value::Null);
    let mut errors: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for field in ["domain", "name", "url"] {
        if body
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            errors.entry(field).or_default().push("can't be blank");
        }
    }
    if let Some(props) = body.get("props") {
        match props.as_object() {
            Some(map) if map.len() > 30 => {
                errors
                    .entry("props")
                    .or_default()
                    .push("should have at most 30 item(s)");
            }
            Some(map) if map.values().any(|v| v.is_object() || v.is_array()) => {
                errors
                    .entry("props")
                    .or_default()
                    .push("must be a map of plain values");
            }
            Some(_) => {}
            None => errors.entry("props").or_default().push("is invalid"),
        }
    }
    if req.header("user-agent").is_none_or(str::is_empty) {
        errors
            .entry("user_agent")
            .or_default()
            .push("can't be blank");
    }
    if !errors.is_empty() {
        return json(StatusCode::BAD_REQUEST, &json!({ "errors": errors }));
    }
    let domain = body.get("domain").and_then(Value::as_str).unwrap_or("");
    let known = domain
        .split(',')
        .any(|d| lock(&state).plausible_domains.contains(d.trim()));
    if !known {
        mark_dropped(&state, &req, format!("unknown domain `{domain}`"));
        return (StatusCode::ACCEPTED, [("x-plausible-dropped", "1")], "ok").into_response();
    }
    if req.header("x-forwarded-for").is_none() {
        mark_dropped(
            &state,
            &req,
            "no X-Forwarded-For: every event would count as the worker's IP",
        );
    }
    (StatusCode::ACCEPTED, "ok").into_response()
}

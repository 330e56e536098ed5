//! Umami: `POST /api/send` (<https://umami.is/docs/api/sending-stats>; the handler is
//! `src/app/api/send/route.ts` in umami-software/umami).
//!
//! Body `{"type": "event" | "identify", "payload": {"website" (UUID), "hostname"?, "url"?,
//! "referrer"?, "title"?, "name"? (at most 50 characters), "data"? (an object),
//! "language"?, "screen"?}}`; a `User-Agent` header is required (Umami derives the session
//! from it and the IP). A payload that fails Umami's schema is `400` with the schema's
//! message; an unknown website `400` `Website not found.`; a bot's user agent `200`
//! `{"beep": "boop"}` (nothing recorded); success `200` `{"cache", "sessionId",
//! "visitId"}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Req, Shared, arrive, hex_id, json, lock, mark_dropped};

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, message.to_owned()).into_response()
}

fn is_uuid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(crate) async fn send(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let Some(body) = req.json() else {
        return bad_request("Invalid JSON body.");
    };
    if !matches!(
        body.get("type").and_then(Value::as_str),
        Some("event" | "identify")
    ) {
        return bad_request("type: Invalid enum value. Expected 'event' | 'identify'");
    }
    let Some(payload) = body.get("payload").and_then(Value::as_object) else {
        return bad_request("payload: Required");
    };
    let website = payload.get("website").and_then(Value::as_str).unwrap_or("");
    if !is_uuid(website) {
        return bad_request("payload.website: Invalid uuid");
    }
    if let Some(name) = payload.get("name")
        && name.as_str().is_none_or(|n| n.chars().count() > 50)
    {
        return bad_request("payload.name: String must contain at most 50 character(s)");
    }
    if let Some(data) = payload.get("data")
        && !data.is_object()
    {
        return bad_request("payload.data: Expected object");
    }
    let agent = req.header("user-agent").unwrap_or("");
    if agent.is_empty() {
        return bad_request("User-Agent header is required.");
    }
    if !lock(&state).umami_websites.contains(website) {
        return bad_request("Website not found.");
    }
    let lower = agent.to_ascii_lowercase();
    if ["bot", "crawler", "spider", "headless"]
        .iter()
        .any(|b| lower.contains(b))
    {
        mark_dropped(&state, &req, "bot user agent");
        return json(StatusCode::OK, &json!({ "beep": "boop" }));
    }
    json(
        StatusCode::OK,
        &json!({ "cache": hex_id(32), "sessionId": uuidish(), "visitId": uuidish() }),
    )
}

fn uuidish() -> String {
    let h = hex_id(32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

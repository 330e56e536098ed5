//! Meta's Graph API: the pixel lookup connection tests make, and the Conversions API.
//!
//! - `GET /{version}/{pixel-id}?fields=...&access_token=...`: the pixel's requested fields
//!   (`id`, `name`), or Graph API errors `{"error": {"message", "type", "code",
//!   "error_subcode", "fbtrace_id"}}` (400; code 104 without a token, 190 for an unknown
//!   token, 100/33 for a pixel that does not exist or that the token may not read)
//!   (<https://developers.facebook.com/docs/graph-api/guides/error-handling>).
//! - `POST /{version}/{pixel-id}/events` (Conversions API,
//!   <https://developers.facebook.com/docs/marketing-api/conversions-api/using-the-api> and
//!   <https://developers.facebook.com/docs/marketing-api/conversions-api/parameters>): the
//!   `access_token` as a query, form or JSON body parameter; body `{"data": [...],
//!   "test_event_code"?}` (JSON, or a form whose `data` is the JSON array). Each event needs
//!   `event_name`, `event_time` (Unix seconds, not in the future, at most 7 days old),
//!   `action_source` (one of Meta's values) and `user_data`; `em`/`ph` (and the other hashed
//!   keys) are arrays of lower-case SHA-256 hex digests, `client_ip_address` and
//!   `client_user_agent` are plain; a `website` event also needs `client_user_agent` and
//!   `event_source_url`. Success is `{"events_received", "messages": [], "fbtrace_id"}`;
//!   a bad parameter is Graph error 100 (`OAuthException`) with `error_user_title` and
//!   `error_user_msg`, as Meta answers it, and nothing of the batch is recorded.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Req, Shared, arrive, is_sha256_hex, json, lock, now_secs};

/// `action_source` values Meta accepts.
const ACTION_SOURCES: &[&str] = &[
    "email",
    "website",
    "app",
    "phone_call",
    "chat",
    "physical_store",
    "system_generated",
    "business_messaging",
    "other",
];

/// `user_data` keys Meta wants hashed (SHA-256, lower-case hex).
const HASHED_KEYS: &[&str] = &[
    "em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country",
];

/// How old an event may be, in seconds (7 days).
const MAX_AGE: i64 = 7 * 24 * 60 * 60;

/// A Graph API version path segment, like `v21.0`.
pub(crate) fn is_graph_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        })
}

fn fbtrace() -> String {
    format!("A{:010x}", rand::random::<u64>() & 0xff_ffff_ffff)
}

fn graph_error(message: String, kind: &str, code: u32, subcode: Option<u32>) -> Response {
    let mut error = json!({
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": fbtrace(),
    });
    if let Some(sub) = subcode {
        error["error_subcode"] = json!(sub);
    }
    json(StatusCode::BAD_REQUEST, &json!({ "error": error }))
}

/// Error 100 as the Conversions API answers a bad event, with Meta's user-facing title and
/// message.
fn invalid_parameter(title: &str, message: String) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({ "error": {
            "message": "Invalid parameter",
            "type": "OAuthException",
            "code": 100,
            "error_subcode": 2_804_019,
            "is_transient": false,
            "error_user_title": title,
            "error_user_msg": message,
            "fbtrace_id": fbtrace(),
        }}),
    )
}

fn no_token() -> Response {
    graph_error(
        "An access token is required to request this resource.".to_owned(),
        "OAuthException",
        104,
        None,
    )
}

fn bad_token() -> Response {
    graph_error(
        "Invalid OAuth access token - Cannot parse access token".to_owned(),
        "OAuthException",
        190,
        None,
    )
}

fn unknown_object(object: &str, operation: &str) -> Response {
    graph_error(
        format!(
            "Unsupported {operation} request. Object with ID '{object}' does not exist, cannot \
             be loaded due to missing permissions, or does not support this operation. Please \
             read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
        ),
        "GraphMethodException",
        100,
        Some(33),
    )
}

pub(crate) async fn object(
    State(state): State<Shared>,
    Path((version, object)): Path<(String, String)>,
    req: Req,
) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    if !is_graph_version(&version) {
        return graph_error(
            format!("Unknown path components: /{version}/{object}"),
            "OAuthException",
            2500,
            None,
        );
    }
    let Some(token) = req.param("access_token").filter(|t| !t.is_empty()) else {
        return no_token();
    };
    let s = lock(&state);
    if !s.meta.knows_token(&token) {
        return bad_token();
    }
    if !s.meta.may(&object, &token) {
        return unknown_object(&object, "get");
    }
    let name = s.meta_names.get(&object).cloned().unwrap_or_default();
    let fields = req.param("fields").unwrap_or_else(|| "id".to_owned());
    let mut body = serde_json::Map::new();
    for field in fields.split(',') {
        match field {
            "id" => {
                body.insert("id".to_owned(), json!(object));
            }
            "name" => {
                body.insert("name".to_owned(), json!(name));
            }
            _ => {
                return graph_error(
                    format!(
                        "(#100) Tried accessing nonexisting field ({field}) on node type (AdsPixel)"
                    ),
                    "OAuthException",
                    100,
                    None,
                );
            }
        }
    }
    json(StatusCode::OK, &Value::Object(body))
}

/// `POST /{version}/{id}/events`: Meta's Conversions API, or Snapchat's when the version
/// segment is `v3` (both vendors chose this path shape).
pub(crate) async fn events_or_snapchat(
    state: State<Shared>,
    Path((version, object)): Path<(String, String)>,
    req: Req,
) -> Response {
    if version == "v3" {
        return super::snapchat::events(state, object, req, false).await;
    }
    let State(state) = state;
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    if !is_graph_version(&version) {
        return graph_error(
            format!("Unknown path components: /{version}/{object}/events"),
            "OAuthException",
            2500,
            None,
        );
    }
    // Parameters may come in the query, a form body or a JSON body.
    let mut params: Vec<(String, Value)> = req
        .query()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    if req.is_form() {
        params.extend(req.form().into_iter().map(|(k, v)| (k, Value::String(v))));
    } else if let Some(Value::Object(body)) = req.json() {
        params.extend(body);
    } else if !req.body.is_empty() {
        return invalid_parameter(
            "Invalid body",
            "The request body is neither JSON nor a form.".to_owned(),
        );
    }
    let param = |name: &str| params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
    let Some(token) = param("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
    else {
        return no_token();
    };
    {
        let s = lock(&state);
        if !s.meta.knows_token(&token) {
            return bad_token();
        }
        if !s.meta.may(&object, &token) {
            return unknown_object(&object, "post");
        }
    }
    // In a form, `data` is the JSON array as text.
    let data = match param("data") {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text).ok(),
        Some(other) => Some(other.clone()),
        None => None,
    };
    let Some(Value::Array(events)) = data else {
        return graph_error(
            "(#100) The parameter data is required".to_owned(),
            "OAuthException",
            100,
            None,
        );
    };
    if events.is_empty() || events.len() > 1000 {
        return invalid_parameter(
            "Invalid number of events",
            format!(
                "A request must contain 1 to 1000 events; it contained {}.",
                events.len()
            ),
        );
    }
    for (i, event) in events.iter().enumerate() {
        if let Err((title, message)) = check_event(event) {
            return invalid_parameter(title, format!("Event at index {i}: {message}"));
        }
    }
    json(
        StatusCode::OK,
        &json!({
            "events_received": events.len(),
            "messages": [],
            "fbtrace_id": fbtrace(),
        }),
    )
}

fn check_event(event: &Value) -> Result<(), (&'static str, String)> {
    if event
        .get("event_name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err((
            "Missing event name",
            "The parameter event_name is required.".to_owned(),
        ));
    }
    let Some(time) = event.get("event_time").and_then(Value::as_i64) else {
        return Err((
            "Missing event time",
            "The parameter event_time is required and must be a Unix timestamp in seconds."
                .to_owned(),
        ));
    };
    let now = now_secs();
    // Milliseconds would be far in the future; Meta refuses future timestamps.
    if time > now + 60 {
        return Err((
            "Event Timestamp In Future",
            format!("The timestamp {time} for this event is in the future."),
        ));
    }
    if time < now - MAX_AGE {
        return Err((
            "Event Timestamp Too Old",
            format!("The timestamp {time} for this event is more than 7 days in the past."),
        ));
    }
    let source = event
        .get("action_source")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !ACTION_SOURCES.contains(&source) {
        return Err((
            "Invalid action source",
            format!(
                "The parameter action_source is required and must be one of {}; got `{source}`.",
                ACTION_SOURCES.join(", ")
            ),
        ));
    }
    let Some(user) = event.get("user_data").and_then(Value::as_object) else {
        return Err((
            "Missing user data",
            "The parameter user_data is required.".to_owned(),
        ));
    };
    for key in HASHED_KEYS {
        let Some(value) = user.get(*key) else {
            continue;
        };
        let values: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for v in values {
            if !v.as_str().is_some_and(is_sha256_hex) {
                return Err((
                    "Unhashed user data",
                    format!("user_data.{key} must be SHA-256 hashed (64 lower-case hex digits)."),
                ));
            }
        }
    }
    for key in ["client_ip_address", "client_user_agent"] {
        if let Some(value) = user.get(key)
            && (!value.is_string() || value.as_str().is_some_and(is_sha256_hex))
        {
            return Err((
                "Invalid user data",
                format!("user_data.{key} must be sent in plain text, not hashed."),
            ));
        }
    }
    if source == "website" {
        if user
            .get("client_user_agent")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err((
                "Missing client user agent",
                "user_data.client_user_agent is required for website events.".to_owned(),
            ));
        }
        if event
            .get("event_source_url")
            .and_then(Value::as_str)
            .is_none_or(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err((
                "Missing event source URL",
                "event_source_url is required for website events.".to_owned(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_versions() {
        assert!(is_graph_version("v21.0"));
        assert!(!is_graph_version("v21"));
        assert!(!is_graph_version("debug"));
    }
}

//! Segment: the HTTP tracking API's `POST /v1/track` and `POST /v1/page` (a page view: the same
//! checks but `event`) and the CDN's source settings.
//!
//! - `POST /v1/track`
//!   (<https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/>):
//!   the write key as the HTTP Basic user name (empty password) or as `writeKey` in the
//!   body; body `{"userId" | "anonymousId", "event", "properties"?, "context"?,
//!   "timestamp"?, "messageId"?}` (at most 32 KB). Segment documents that it answers `200`
//!   `{"success": true}` to every request except malformed JSON and oversized payloads
//!   (`400`), so an unknown write key or a call without `userId`/`anonymousId` or `event`
//!   is also `200`, and recorded here as [`super::Recorded::dropped`].
//! - `GET /v1/projects/{writeKey}/settings` (`cdn.segment.com`, what analytics.js loads
//!   first): the source's settings for a known write key, `404` otherwise.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Req, Shared, arrive, json, lock, mark_dropped};

/// `POST /v1/track`: an event, which needs a name.
pub(crate) async fn track(State(state): State<Shared>, req: Req) -> Response {
    call(state, req, true).await
}

/// `POST /v1/page`: a page view, which needs no name.
pub(crate) async fn page(State(state): State<Shared>, req: Req) -> Response {
    call(state, req, false).await
}

async fn call(state: Shared, req: Req, needs_event: bool) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    if req.body.len() > 32 * 1024 {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({ "success": false, "message": "Message too large: the limit is 32KB" }),
        );
    }
    let Some(body) = req.json().filter(Value::is_object) else {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({ "success": false, "message": "Invalid JSON" }),
        );
    };
    let key = req
        .basic_user()
        .map(|(user, _)| user)
        .or_else(|| {
            body.get("writeKey")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let has = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    };
    if !lock(&state).segment_keys.contains(&key) {
        mark_dropped(&state, &req, "unknown write key");
    } else if !has("userId") && !has("anonymousId") {
        mark_dropped(&state, &req, "neither userId nor anonymousId");
    } else if needs_event && !has("event") {
        mark_dropped(&state, &req, "no event name");
    }
    json(StatusCode::OK, &json!({ "success": true }))
}

pub(crate) async fn settings(
    State(state): State<Shared>,
    Path(key): Path<String>,
    req: Req,
) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    if !lock(&state).segment_keys.contains(&key) {
        return json(
            StatusCode::NOT_FOUND,
            &json!({ "errors": [{ "message": "Not Found" }] }),
        );
    }
    json(
        StatusCode::OK,
        &json!({
            "integrations": { "Segment.io": { "apiKey": key, "apiHost": "api.segment.io/v1" } },
            "plan": { "track": { "__default": { "enabled": true } } },
        }),
    )
}

//! Mixpanel's ingestion API: `POST /track` and `POST /import`
//! (<https://developer.mixpanel.com/reference/track-event>,
//! <https://developer.mixpanel.com/reference/import-events>,
//! <https://docs.mixpanel.com/troubleshooting/errors/400-bad-request>).
//!
//! - `/track`: a JSON list of events (or a form whose `data` is that list), each
//!   `{"event", "properties": {"token", "distinct_id"?, "time"?, "$insert_id"?}}`. Mixpanel
//!   answers `1` (accepted) or `0`; with `verbose=1`, `{"status": 1, "error": null}` or
//!   `{"status": 0, "error": "..."}`. An unknown project token is `0` / `status: 0`.
//! - `/import?strict=1`: HTTP Basic auth with the project's API secret as the user name
//!   (an unknown secret is `401` `{"code": 401, "error": "Invalid credentials", "status":
//!   "Unauthorized"}`); a JSON list (or NDJSON) of events, each needing `event`,
//!   `properties.time` (seconds or milliseconds, not before 1971 nor more than an hour
//!   ahead), `properties.distinct_id` (not a placeholder such as `null` or `anonymous`),
//!   `properties.$insert_id` (at most 36 letters, digits and `-`) and the project's
//!   `properties.token`. Success is `200` `{"code": 200, "num_records_imported",
//!   "status": "OK"}`; with failed records `400` `{"code": 400, "error": "some data points
//!   in the request failed validation", "status": "Bad Request", "num_records_imported",
//!   "failed_records": [{"index", "insert_id", "field", "message"}]}` (the valid records
//!   are imported). An empty list imports nothing and is answered `200` with
//!   `num_records_imported: 0` (TODO-correctness: Mixpanel does not document this case).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Req, Shared, arrive, json, lock, now_secs};

const PLACEHOLDERS: &[&str] = &[
    "anon",
    "anonymous",
    "nil",
    "none",
    "null",
    "n/a",
    "na",
    "undefined",
    "unknown",
    "00000000-0000-0000-0000-000000000000",
    "<nil>",
    "0",
    "-1",
    "lmy47d",
    "[]",
    "{}",
];

/// The events of a request: a JSON list, one JSON object, NDJSON, or a form's `data`.
fn events(req: &Req) -> Option<Vec<Value>> {
    let text = if req.is_form() {
        req.form().into_iter().find(|(k, _)| k == "data")?.1
    } else {
        String::from_utf8_lossy(&req.body).into_owned()
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(items)) => Some(items),
        Ok(one @ Value::Object(_)) => Some(vec![one]),
        Ok(_) => None,
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).ok())
            .collect(),
    }
}

pub(crate) async fn track(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let verbose = req.param("verbose").as_deref() == Some("1");
    let verdict = match events(&req) {
        None => Err("data, missing or empty".to_owned()),
        Some(events) if events.is_empty() => Err("data, missing or empty".to_owned()),
        Some(events) => {
            let s = lock(&state);
            events.iter().try_for_each(|e| {
                let token = e
                    .get("properties")
                    .and_then(|p| p.get("token"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if e.get("event")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    Err("event name is missing".to_owned())
                } else if !s.mixpanel.contains_key(token) {
                    Err(format!("token, invalid project token `{token}`"))
                } else {
                    Ok(())
                }
            })
        }
    };
    if verbose {
        match verdict {
            Ok(()) => json(StatusCode::OK, &json!({ "status": 1, "error": null })),
            Err(e) => json(StatusCode::OK, &json!({ "status": 0, "error": e })),
        }
    } else {
        let body = if verdict.is_ok() { "1" } else { "0" };
        (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
    }
}

pub(crate) async fn import(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let secret = req.basic_user().map(|(user, _)| user).unwrap_or_default();
    let project = lock(&state)
        .mixpanel
        .iter()
        .find(|(_, s)| s.as_deref() == Some(secret.as_str()) && !secret.is_empty())
        .map(|(token, _)| token.clone());
    let Some(project) = project else {
        return json(
            StatusCode::UNAUTHORIZED,
            &json!({ "code": 401, "error": "Invalid credentials", "status": "Unauthorized" }),
        );
    };
    let Some(events) = events(&req) else {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({ "code": 400, "error": "unable to parse the request body as JSON or NDJSON", "status": "Bad Request", "num_records_imported": 0 }),
        );
    };
    let strict = req.param("strict").as_deref() == Some("1");
    let mut failed = Vec::new();
    for (i, event) in events.iter().enumerate() {
        if let Err((field, message)) = check_event(event, &project) {
            let insert_id = event
                .get("properties")
                .and_then(|p| p.get("$insert_id"))
                .cloned()
                .unwrap_or(Value::Null);
            failed.push(
                json!({ "index": i, "insert_id": insert_id, "field": field, "message": message }),
            );
        }
    }
    let imported = events.len() - failed.len();
    if failed.is_empty() {
        json(
            StatusCode::OK,
            &json!({ "code": 200, "num_records_imported": imported, "status": "OK" }),
        )
    } else if strict {
        json(
            StatusCode::BAD_REQUEST,
            &json!({
                "code": 400,
                "error": "some data points in the request failed validation",
                "status": "Bad Request",
                "num_records_imported": imported,
                "failed_records": failed,
            }),
        )
    } else {
        // Without strict mode Mixpanel skips validation reporting.
        json(
            StatusCode::OK,
            &json!({ "code": 200, "num_records_imported": imported, "status": "OK" }),
        )
    }
}

fn check_event(event: &Value, project: &str) -> Result<(), (String, String)> {
    if event
        .get("event")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err((
            "event".to_owned(),
            "'event' must be a non-empty string".to_owned(),
        ));
    }
    let Some(props) = event.get("properties").and_then(Value::as_object) else {
        return Err((
            "properties".to_owned(),
            "'properties' must be an object".to_owned(),
        ));
    };
    let Some(mut time) = props.get("time").and_then(Value::as_i64) else {
        return Err((
            "properties.time".to_owned(),
            "'properties.time' is invalid: must be specified as seconds since epoch".to_owned(),
        ));
    };
    if time > 100_000_000_000 {
        time /= 1000;
    }
    if time < 31_536_000 || time > now_secs() + 3600 {
        return Err((
            "properties.time".to_owned(),
            "'properties.time' is invalid: must be after 1971-01-01 and at most one hour in the future".to_owned(),
        ));
    }
    match props.get("distinct_id") {
        Some(Value::String(id)) if !PLACEHOLDERS.contains(&id.to_ascii_lowercase().as_str()) => {}
        Some(Value::Number(_)) => {}
        _ => {
            return Err((
                "properties.distinct_id".to_owned(),
                "'properties.distinct_id' is invalid: a placeholder or missing value".to_owned(),
            ));
        }
    }
    let insert_id = props
        .get("$insert_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    if insert_id.is_empty()
        || insert_id.len() > 36
        || !insert_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err((
            "properties.$insert_id".to_owned(),
            "'properties.$insert_id' is invalid: at most 36 letters, digits and dashes".to_owned(),
        ));
    }
    if let Some(token) = props.get("token").and_then(Value::as_str)
        && token != project
    {
        return Err((
            "properties.token".to_owned(),
            "'properties.token' does not match the project of the credentials".to_owned(),
        ));
    }
    Ok(())
}

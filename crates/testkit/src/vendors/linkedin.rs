//! LinkedIn Conversions API: `POST /rest/conversionEvents`
//! (<https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/conversions-api>).
//!
//! Headers: `Authorization: Bearer <token>` (an unknown token is `401` with
//! `{"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message"}`),
//! `LinkedIn-Version: YYYYMM` (missing: `400` `VERSION_MISSING`; not six digits: `400`
//! `NONEXISTENT_VERSION`) and `X-Restli-Protocol-Version: 2.0.0`. Body: one event
//! `{"conversion": "urn:lla:llaPartnerConversion:<id>", "conversionHappenedAt" (epoch ms,
//! at most 90 days old), "conversionValue"?, "eventId"?, "user": {"userIds": [{"idType":
//! "SHA256_EMAIL" | "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID" | "ACXIOM_ID" |
//! "ORACLE_MOAT_ID", "idValue"}], "userInfo"?: {"firstName", "lastName", ...}}}`, or with
//! `X-RestLi-Method: BATCH_CREATE` `{"elements": [events]}`. A conversion rule the token
//! may not use is `403` (`ACCESS_DENIED`); a bad event `400`/`422` with LinkedIn's
//! `{"status", "code", "message"}`. Success is `201` with an empty body (batch: `200` with
//! `{"elements": [{"status": 201}]}`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Req, Shared, arrive, is_sha256_hex, json, lock, now_secs};

const ID_TYPES: &[&str] = &[
    "SHA256_EMAIL",
    "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID",
    "ACXIOM_ID",
    "ORACLE_MOAT_ID",
];

const RULE_PREFIX: &str = "urn:lla:llaPartnerConversion:";

fn error(status: StatusCode, code: &str, message: String) -> Response {
    json(
        status,
        &json!({ "status": status.as_u16(), "code": code, "message": message }),
    )
}

pub(crate) async fn conversion_events(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let token = req.bearer().unwrap_or("").to_owned();
    if !lock(&state).linkedin.knows_token(&token) {
        return json(
            StatusCode::UNAUTHORIZED,
            &json!({
                "status": 401,
                "serviceErrorCode": 65600,
                "code": "INVALID_ACCESS_TOKEN",
                "message": "Invalid access token",
            }),
        );
    }
    match req.header("linkedin-version") {
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.".to_owned(),
            );
        }
        Some(v) if !(v.len() == 6 && v.bytes().all(|b| b.is_ascii_digit())) => {
            return error(
                StatusCode::BAD_REQUEST,
                "NONEXISTENT_VERSION",
                format!("Requested version {v} is not active"),
            );
        }
        Some(_) => {}
    }
    if req.header("x-restli-protocol-version") != Some("2.0.0") {
        return error(
            StatusCode::BAD_REQUEST,
            "ILLEGAL_ARGUMENT",
            "X-Restli-Protocol-Version must be 2.0.0".to_owned(),
        );
    }
    let Some(body) = req.json() else {
        return error(
            StatusCode::BAD_REQUEST,
            "ILLEGAL_ARGUMENT",
            "The request body is not valid JSON".to_owned(),
        );
    };
    let batch = req
        .header("x-restli-method")
        .is_some_and(|m| m.eq_ignore_ascii_case("BATCH_CREATE"));
    let events: Vec<Value> = if batch {
        match body.get("elements").and_then(Value::as_array) {
            Some(elements) if !elements.is_empty() => elements.clone(),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "ILLEGAL_ARGUMENT",
                    "A batch create needs a non-empty `elements` list".to_owned(),
                );
            }
        }
    } else {
        vec![body]
    };
    for (i, event) in events.iter().enumerate() {
        let Some(rule) = event
            .get("conversion")
            .and_then(Value::as_str)
            .and_then(|c| c.strip_prefix(RULE_PREFIX))
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        else {
            return error(
                StatusCode::BAD_REQUEST,
                "FIELD_VALUE_DOES_NOT_MATCH_PATTERN",
                format!("/elements/{i}/conversion must be a URN like {RULE_PREFIX}12345"),
            );
        };
        if !lock(&state).linkedin.may(rule, &token) {
            return error(
                StatusCode::FORBIDDEN,
                "ACCESS_DENIED",
                format!("Not enough permissions to access conversion {RULE_PREFIX}{rule}"),
            );
        }
        let Some(at) = event.get("conversionHappenedAt").and_then(Value::as_i64) else {
            return error(
                StatusCode::BAD_REQUEST,
                "MISSING_FIELD",
                format!("/elements/{i}/conversionHappenedAt is required (epoch milliseconds)"),
            );
        };
        let now_ms = now_secs() * 1000;
        if at > now_ms + 60_000 || at < now_ms - 90 * 24 * 3600 * 1000 {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_VALUE",
                format!(
                    "/elements/{i}/conversionHappenedAt must be epoch milliseconds within the past 90 days"
                ),
            );
        }
        let ids = event
            .get("user")
            .and_then(|u| u.get("userIds"))
            .and_then(Value::as_array);
        let Some(ids) = ids.filter(|ids| !ids.is_empty()) else {
            return error(
                StatusCode::BAD_REQUEST,
                "MISSING_FIELD",
                format!("/elements/{i}/user/userIds must contain at least one id"),
            );
        };
        for id in ids {
            let kind = id.get("idType").and_then(Value::as_str).unwrap_or("");
            let value = id.get("idValue").and_then(Value::as_str).unwrap_or("");
            if !ID_TYPES.contains(&kind) || value.is_empty() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_VALUE",
                    format!(
                        "/elements/{i}/user/userIds: idType `{kind}` with idValue `{value}` is not valid"
                    ),
                );
            }
            if kind == "SHA256_EMAIL" && !is_sha256_hex(value) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_VALUE",
                    format!(
                        "/elements/{i}/user/userIds: a SHA256_EMAIL must be a SHA-256 hex digest"
                    ),
                );
            }
        }
    }
    if batch {
        let statuses: Vec<Value> = events.iter().map(|_| json!({ "status": 201 })).collect();
        json(StatusCode::OK, &json!({ "elements": statuses }))
    } else {
        StatusCode::CREATED.into_response()
    }
}

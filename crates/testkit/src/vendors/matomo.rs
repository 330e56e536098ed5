//! Matomo: the Reporting API connection tests call, and the Tracking HTTP API.
//!
//! - `POST /index.php?module=API&method=SitesManager.getSiteFromId&idSite=...&format=JSON`
//!   with `token_auth` (body or query)
//!   (<https://developer.matomo.org/api-reference/reporting-api>): the site, or `200` with
//!   `{"result": "error", "message"}` as Matomo answers an unknown token, a token without
//!   access, or an unknown site.
//! - `GET` or `POST /matomo.php` (parameters in the query or a form body)
//!   (<https://developer.matomo.org/api-reference/tracking-api>): `idsite` and `rec=1` are
//!   required (without `rec=1` Matomo tracks nothing and the fake records the request as
//!   dropped); `url`; a page view (`action_name`) or an event (`e_c` and `e_a` together);
//!   `_id` is 16 hex digits; `cip`, `cdt`, `country`, `region`, `city`, `lat`, `long` may only
//!   be overridden with a `token_auth` that has write access to the site. The answer is
//!   Matomo's 1x1 GIF (`200`, `image/gif`), or `204` with `send_image=0`; an unknown site is
//!   `400` with Matomo's `An unexpected website was found in the request` message, a missing
//!   `idsite` or a forbidden override `400` with Matomo's text.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Req, Shared, arrive, json, lock, mark_dropped, url_pairs};

/// Tracking parameters only a `token_auth` with write access may set.
const AUTHENTICATED: &[&str] = &["cip", "cdt", "country", "region", "city", "lat", "long"];

/// The smallest transparent GIF, as Matomo sends it.
const GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x00, 0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Matomo reads its parameters from the query and a form body alike.
fn params(req: &Req) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> = req.query().into_iter().collect();
    params.extend(url_pairs(&String::from_utf8_lossy(&req.body)));
    params
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

pub(crate) async fn track(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let params = params(&req);
    let param = |k: &str| params.get(k).map_or("", String::as_str);
    let site = param("idsite");
    if site.is_empty() || site.parse::<u32>().is_err() {
        return bad_request(
            "Invalid idSite: the request must contain a numeric idsite parameter.".to_owned(),
        );
    }
    {
        let s = lock(&state);
        if !s.matomo_names.contains_key(site) {
            return bad_request(format!(
                "An unexpected website was found in the request: website id was set to '{site}' ."
            ));
        }
        let overrides: Vec<&str> = AUTHENTICATED
            .iter()
            .copied()
            .filter(|k| !param(k).is_empty())
            .collect();
        if !overrides.is_empty() && !s.matomo.may(site, param("token_auth")) {
            return bad_request(format!(
                "You must specify a valid token_auth with write access to site {site} to set {}.",
                overrides.join(", ")
            ));
        }
    }
    let visitor = param("_id");
    let well_formed = visitor.len() == 16 && visitor.bytes().all(|b| b.is_ascii_hexdigit());
    if !visitor.is_empty() && !well_formed {
        return bad_request(format!(
            "Visitor ID (_id) {visitor} is not valid: it must be 16 hexadecimal characters."
        ));
    }
    let event = !param("e_c").is_empty() || !param("e_a").is_empty();
    if event && (param("e_c").is_empty() || param("e_a").is_empty()) {
        return bad_request(
            "An event requires both an event category (e_c) and an event action (e_a).".to_owned(),
        );
    }
    if param("rec") != "1" {
        mark_dropped(&state, &req, "rec=1 is missing, so Matomo tracks nothing");
    } else if param("url").is_empty() {
        mark_dropped(&state, &req, "no url");
    }
    if param("send_image") == "0" {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (StatusCode::OK, [(header::CONTENT_TYPE, "image/gif")], GIF).into_response()
    }
}

fn matomo_error(message: String) -> Response {
    json(
        StatusCode::OK,
        &json!({ "result": "error", "message": message }),
    )
}

pub(crate) async fn api(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let params = params(&req);
    let param = |k: &str| params.get(k).map_or("", String::as_str);
    if param("module") != "API" {
        return (StatusCode::OK, "<html><body>Matomo login</body></html>").into_response();
    }
    if param("format") != "JSON" || param("method") != "SitesManager.getSiteFromId" {
        return matomo_error(format!(
            "The method '{}' does not exist or is not available in the module 'SitesManager'.",
            param("method")
        ));
    }
    let site = param("idSite");
    let token = param("token_auth");
    let s = lock(&state);
    if !token.is_empty() && !s.matomo.knows_token(token) {
        return matomo_error(
            "Unable to authenticate with the provided token. It is either invalid or expired."
                .to_owned(),
        );
    }
    let name = s.matomo_names.get(site);
    match name {
        None if s.matomo.knows_token(token) && site.parse::<u32>().is_ok() => {
            matomo_error(format!(
                "An unexpected website was found in the request: website id was set to '{site}' ."
            ))
        }
        Some(name) if s.matomo.may(site, token) => json(
            StatusCode::OK,
            &json!({
                "idsite": site.parse::<u32>().unwrap_or_default(),
                "name": name,
                "main_url": "https://example.com",
                "ecommerce": 0,
                "timezone": "UTC",
                "currency": "EUR",
            }),
        ),
        _ => matomo_error(format!(
            "You can't access this resource as it requires 'view' access for the website id = {site}."
        )),
    }
}

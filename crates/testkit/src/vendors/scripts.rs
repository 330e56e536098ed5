//! The script hosts a browser loads vendor tags from, for connection tests of client-only
//! kinds (and browser-free checks that a public id has a script).
//!
//! A script whose URL names the id answers `200` with JavaScript only for ids registered with
//! [`super::FakeVendors::add_script`] (vendor names in brackets), `404` otherwise, as the
//! real hosts answer an id they do not know:
//!
//! - `GET /gtm.js?id=GTM-...` (`www.googletagmanager.com`) \[`gtm`\]
//! - `GET /gtag/js?id=G-...` (`www.googletagmanager.com`, the GA4 tag) \[`gtag`\]
//! - `GET /tag/{projectId}` (`www.clarity.ms`) \[`clarity`\]
//! - `GET /c/hotjar-{siteId}.js?sv=6` (`static.hotjar.com`) \[`hotjar`\]
//! - `GET /i18n/pixel/events.js?sdkid={pixelCode}` (`analytics.tiktok.com`) \[`tiktok`\]
//! - `GET /signals/config/{pixelId}` (`connect.facebook.net`) \[`meta`\]
//! - `GET /js/heap-{envId}.js` (`cdn.heapanalytics.com`) \[`heap`\]
//!
//! Scripts without an id in their URL are always served: `/uwt.js` (X), `/bat.js`
//! (Microsoft UET), `/script.js` (Fathom, Umami), `/js/script.js` (Plausible),
//! `/beacon.min.js` (Cloudflare Web Analytics), `/li.lms-analytics/insight.min.js`
//! (LinkedIn), `/ads/pixel.js` (Reddit), `/scevent.min.js` (Snapchat),
//! `/libs/mixpanel-2-latest.min.js` (Mixpanel).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Req, Shared, arrive, lock};

fn script(state: &Shared, vendor: &str, id: Option<&str>) -> Response {
    let known = match id {
        None => true,
        Some(id) => lock(state)
            .scripts
            .contains(&(vendor.to_owned(), id.to_owned())),
    };
    if known {
        (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            )],
            format!("/* fake {vendor} script */\n"),
        )
            .into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html><body>Not Found</body></html>",
        )
            .into_response()
    }
}

pub(crate) async fn static_script(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    script(&state, "static", None)
}

pub(crate) async fn gtm(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let id = req.param("id").unwrap_or_default();
    script(&state, "gtm", Some(&id))
}

pub(crate) async fn gtag(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let id = req.param("id").unwrap_or_default();
    script(&state, "gtag", Some(&id))
}

pub(crate) async fn tiktok(State(state): State<Shared>, req: Req) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    let id = req.param("sdkid").unwrap_or_default();
    script(&state, "tiktok", Some(&id))
}

pub(crate) async fn clarity(
    State(state): State<Shared>,
    Path(id): Path<String>,
    req: Req,
) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    script(&state, "clarity", Some(&id))
}

pub(crate) async fn meta_config(
    State(state): State<Shared>,
    Path(id): Path<String>,
    req: Req,
) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    script(&state, "meta", Some(&id))
}

pub(crate) async fn hotjar(
    State(state): State<Shared>,
    Path(file): Path<String>,
    req: Req,
) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    match file
        .strip_prefix("hotjar-")
        .and_then(|f| f.strip_suffix(".js"))
    {
        Some(id) => script(&state, "hotjar", Some(id)),
        None => script(&state, "hotjar", Some("")),
    }
}

pub(crate) async fn js_file(
    State(state): State<Shared>,
    Path(file): Path<String>,
    req: Req,
) -> Response {
    if let Some(failure) = arrive(&state, &req).await {
        return failure;
    }
    if file == "script.js" {
        return script(&state, "plausible", None);
    }
    match file
        .strip_prefix("heap-")
        .and_then(|f| f.strip_suffix(".js"))
    {
        Some(id) => script(&state, "heap", Some(id)),
        None => script(&state, "js", Some("")),
    }
}

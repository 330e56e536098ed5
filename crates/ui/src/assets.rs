//! The UI's static files, embedded in the binary: the stylesheet and htmx (vendored from the
//! `htmx.org` npm package, 2.0.11, Zero-Clause BSD: `assets/htmx.LICENSE`).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const HTMX: &[u8] = include_bytes!("../assets/htmx.min.js");
const CSS: &str = include_str!("../assets/ui.css");

/// `GET /ui/assets/{file}`.
pub(super) async fn serve(Path(file): Path<String>) -> Response {
    let (content_type, body): (&str, &[u8]) = match file.as_str() {
        "htmx.min.js" => ("text/javascript; charset=utf-8", HTMX),
        "ui.css" => ("text/css; charset=utf-8", CSS.as_bytes()),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

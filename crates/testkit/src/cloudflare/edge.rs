//! The fake's `workers.dev` edge: requests whose `Host` is `{script}.{subdomain}.workers.dev`
//! are answered as the deployed worker would answer them.
//!
//! Point the code under test's "workers.dev edge" at [`super::FakeCloudflare::edge_url`]: it
//! sends `GET http://127.0.0.1:PORT/status` with `Host: c15t-x.acme.workers.dev`, as a proxy
//! that routes by host would. As on Cloudflare, a host whose script does not exist, has no
//! deployment or has its `workers.dev` route disabled answers 404 (Cloudflare's "There is
//! nothing here yet" page). A deployed worker answers c15t's `GET /status` with 200 and
//! `{"status":"ok","version":…,"timestamp":…}` unless the test scripted otherwise with
//! [`super::FakeCloudflare::set_worker_health`].

use std::time::Duration;

use axum::body::Body;
use chrono::Utc;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};

use super::api::{State, lock};

/// How a fake worker answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkerHealth {
    /// 200, as c15t's `/status` with a reachable database.
    #[default]
    Healthy,
    /// This status (c15t answers 503 when its database is unreachable).
    Status(u16),
    /// No answer for a minute (a probe times out).
    Hang,
}

/// The workers.dev host's script and subdomain, if it is one.
pub(crate) fn worker_host(host: &str) -> Option<(&str, &str)> {
    let host = host.split(':').next()?;
    let rest = host.strip_suffix(".workers.dev")?;
    rest.split_once('.')
}

pub(crate) async fn serve(
    state: &std::sync::Mutex<State>,
    script: &str,
    subdomain: &str,
) -> Response<Body> {
    let health = {
        let mut state = lock(state);
        state.edge_requests += 1;
        let deployed = state.accounts.values().any(|account| {
            account.subdomain == subdomain
                && account
                    .scripts
                    .get(script)
                    .is_some_and(|s| s.subdomain_enabled && s.live_deployment().is_some())
        });
        if !deployed {
            return answer(
                StatusCode::NOT_FOUND,
                "text/plain",
                "There is nothing here yet".to_owned(),
            );
        }
        state.worker_health.get(script).copied().unwrap_or_default()
    };
    match health {
        WorkerHealth::Healthy => answer(
            StatusCode::OK,
            "application/json",
            serde_json::json!({
                "status": "ok",
                "version": "2.0.0",
                "timestamp": Utc::now().to_rfc3339(),
            })
            .to_string(),
        ),
        WorkerHealth::Status(code) => answer(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "application/json",
            serde_json::json!({ "status": "error" }).to_string(),
        ),
        WorkerHealth::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            answer(StatusCode::GATEWAY_TIMEOUT, "text/plain", String::new())
        }
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

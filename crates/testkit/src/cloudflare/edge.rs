//! The fake's `workers.dev` edge: requests whose `Host` is `{script}.{subdomain}.workers.dev`
//! are answered as the deployed worker would answer them.
//!
//! Point the code under test's "workers.dev edge" at [`super::FakeCloudflare::edge_url`]: it
//! sends `GET http://127.0.0.1:PORT/status` with `Host: c15t-x.acme.workers.dev`, as a proxy
//! that routes by host would. As on Cloudflare, a host whose script does not exist, has no
//! deployment or has its `workers.dev` route disabled answers 404 (Cloudflare's "There is
//! nothing here yet" page). A deployed worker answers c15t's `GET /status` with 200 and
//! `{"status":"ok","version":…,"timestamp":…}` unless the test scripted otherwise with
//! [`super::FakeCloudflare::set_version_health`] or [`super::FakeCloudflare::set_worker_health`].
//!
//! Which version answers: as Cloudflare documents
//! ([version overrides](https://developers.cloudflare.com/workers/versions-and-deployments/version-overrides/)),
//! a `Cloudflare-Workers-Version-Overrides` header (a structured-field dictionary,
//! `worker-name="<version id>"`) naming this script and a version of its current deployment
//! (0% included) picks that version; otherwise the request is routed by the deployment's
//! percentages (drawn from a seeded RNG, so a test sees the same split every run). Every
//! request the edge routed is recorded with its version
//! ([`super::FakeCloudflare::edge_hits`]).

use std::time::Duration;

use axum::body::Body;
use chrono::Utc;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};

use rand::Rng;

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
    /// Healthy for this many requests (to this version, or to the script), then 503: a
    /// release that breaks once it takes traffic.
    HealthyFor(usize),
}

/// The workers.dev host's script and subdomain, if it is one.
pub(crate) fn worker_host(host: &str) -> Option<(&str, &str)> {
    let host = host.split(':').next()?;
    let rest = host.strip_suffix(".workers.dev")?;
    rest.split_once('.')
}

/// The version id a `Cloudflare-Workers-Version-Overrides` value asks for `script`, if any
/// (RFC 8941 dictionary members `key="string"`, separated by commas).
fn override_for<'a>(header: &'a str, script: &str) -> Option<&'a str> {
    header.split(',').find_map(|member| {
        let (key, value) = member.trim().split_once('=')?;
        if key.trim() != script {
            return None;
        }
        value.trim().strip_prefix('"')?.strip_suffix('"')
    })
}

/// Which worker a request's `Host` names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Host<'a> {
    /// `{script}.{subdomain}.workers.dev`.
    WorkersDev {
        /// The script.
        script: &'a str,
        /// The account's subdomain.
        subdomain: &'a str,
    },
    /// A hostname attached as a Workers custom domain.
    Custom(&'a str),
}

pub(crate) async fn serve(
    state: &std::sync::Mutex<State>,
    host: Host<'_>,
    overrides: Option<&str>,
) -> Response<Body> {
    let health = {
        let mut state = lock(state);
        state.edge_requests += 1;
        let found = match host {
            Host::WorkersDev { script, subdomain } => state
                .accounts
                .values()
                .filter(|account| account.subdomain == subdomain)
                .find_map(|account| account.scripts.get(script))
                .filter(|s| s.subdomain_enabled)
                .and_then(|s| Some((s.name.clone(), s.live_deployment()?.clone()))),
            Host::Custom(hostname) => {
                if state.pending_hostnames.contains(hostname) {
                    // The certificate is not issued yet: the TLS handshake would fail.
                    return answer(
                        StatusCode::from_u16(525).unwrap_or(StatusCode::BAD_GATEWAY),
                        "text/plain",
                        "SSL handshake failed".to_owned(),
                    );
                }
                super::domains::route(&state, hostname).and_then(|(account, script)| {
                    let s = state.accounts.get(account)?.scripts.get(script)?;
                    Some((s.name.clone(), s.live_deployment()?.clone()))
                })
            }
        };
        let Some((script, deployment)) = found else {
            return answer(
                StatusCode::NOT_FOUND,
                "text/plain",
                "There is nothing here yet".to_owned(),
            );
        };
        let script = script.as_str();
        let wanted = overrides
            .and_then(|h| override_for(h, script))
            .filter(|w| deployment.versions.iter().any(|v| v.version_id == *w));
        let version = match wanted {
            Some(version) => version.to_owned(),
            None => {
                let draw: f64 = state.edge_rng.random_range(0.0..100.0);
                let mut sum = 0.0;
                deployment
                    .versions
                    .iter()
                    .find(|v| {
                        sum += v.percentage;
                        v.percentage > 0.0 && draw < sum
                    })
                    .or_else(|| deployment.versions.iter().find(|v| v.percentage > 0.0))
                    .map(|v| v.version_id.clone())
                    .unwrap_or_default()
            }
        };
        state.edge_hits.push((script.to_owned(), version.clone()));
        let served = state
            .edge_hits
            .iter()
            .filter(|(s, v)| s == script && v == &version)
            .count();
        let (health, per_script) = match state.version_health.get(&version) {
            Some(h) => (*h, false),
            None => (
                state.worker_health.get(script).copied().unwrap_or_default(),
                true,
            ),
        };
        match health {
            WorkerHealth::HealthyFor(n) => {
                let count = if per_script {
                    state.edge_hits.iter().filter(|(s, _)| s == script).count()
                } else {
                    served
                };
                if count <= n {
                    WorkerHealth::Healthy
                } else {
                    WorkerHealth::Status(503)
                }
            }
            other => other,
        }
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
        WorkerHealth::HealthyFor(_) => unreachable!("resolved above"),
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

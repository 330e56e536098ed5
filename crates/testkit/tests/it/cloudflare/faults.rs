//! Rate limits and injected faults: 429s, 500s, slow answers and lost connections.

use std::time::{Duration, Instant};

use c15t_testkit::cloudflare::{Faults, RateLimit};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::json;

use super::support::{
    ACCOUNT, Api, OTHER_ACCOUNT, OTHER_TOKEN, SCRIPT, assert_error, form, metadata, path, start,
};

fn subdomain_path() -> String {
    format!("/accounts/{ACCOUNT}/workers/subdomain")
}

#[tokio::test]
async fn over_the_rate_limit_answers_429_with_retry_after() {
    let (fake, api) = start().await;
    fake.set_rate_limit(Some(RateLimit {
        requests: 3,
        window: Duration::from_secs(60),
    }));
    for _ in 0..3 {
        assert_eq!(api.get(&subdomain_path()).await.0, StatusCode::OK);
    }
    let response = api
        .raw(reqwest::Method::GET, &subdomain_path())
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = response.json().await.expect("envelope");
    assert_eq!(body["errors"][0]["code"], json!(971));
    assert_eq!(body["success"], json!(false));

    // The limit is per token: another token still has its budget.
    let other = api.with_token(Some(OTHER_TOKEN));
    assert_eq!(
        other
            .get(&format!("/accounts/{OTHER_ACCOUNT}/workers/subdomain"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(fake.rate_limited_count(), 1);
    assert_eq!(fake.request_count(), 5);
    assert_eq!(fake.requests()[3].status, Some(429));
}

#[tokio::test]
async fn the_rate_limit_window_slides() {
    let (fake, api) = start().await;
    fake.set_rate_limit(Some(RateLimit {
        requests: 1,
        window: Duration::from_millis(200),
    }));
    assert_eq!(api.get(&subdomain_path()).await.0, StatusCode::OK);
    assert_error(
        api.get(&subdomain_path()).await,
        StatusCode::TOO_MANY_REQUESTS,
        971,
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(api.get(&subdomain_path()).await.0, StatusCode::OK);
    fake.set_rate_limit(None);
    for _ in 0..5 {
        assert_eq!(api.get(&subdomain_path()).await.0, StatusCode::OK);
    }
    assert_eq!(fake.rate_limited_count(), 1);
}

#[tokio::test]
async fn error_faults_answer_500_before_any_effect() {
    let (fake, api) = start().await;
    fake.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    assert_error(
        api.upload(SCRIPT, form(&metadata())).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        10013,
    );
    assert!(fake.script(ACCOUNT, SCRIPT).is_none());
    assert_eq!(fake.upload_count(ACCOUNT, SCRIPT), 0);
}

async fn upload_error(api: &Api) -> reqwest::Error {
    api.raw(reqwest::Method::PUT, &path(SCRIPT, ""))
        .multipart(form(&metadata()))
        .send()
        .await
        .expect_err("the connection is dropped")
}

#[tokio::test]
async fn dropped_connections_are_connection_errors_not_statuses() {
    let (fake, api) = start().await;
    fake.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let error = upload_error(&api).await;
    assert!(error.status().is_none(), "{error}");
    assert!(
        fake.script(ACCOUNT, SCRIPT).is_none(),
        "dropped before any effect"
    );
    assert_eq!(fake.requests().last().map(|r| r.status), Some(None));
}

#[tokio::test]
async fn drop_after_apply_stores_the_upload_but_loses_the_answer() {
    let (fake, api) = start().await;
    fake.set_faults(Faults {
        drop_after_apply_rate: 1.0,
        ..Faults::default()
    });
    let error = upload_error(&api).await;
    assert!(error.status().is_none(), "{error}");
    let script = fake
        .script(ACCOUNT, SCRIPT)
        .expect("the upload took effect");
    assert_eq!(
        script.live_version().and_then(|v| v.message()),
        Some("release r1")
    );
    assert_eq!(fake.upload_count(ACCOUNT, SCRIPT), 1);

    fake.set_faults(Faults::default());
    let (status, versions) = api.get(&path(SCRIPT, "/versions")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        versions["result"]["items"][0]["annotations"]["workers/message"],
        json!("release r1")
    );
}

#[tokio::test]
async fn slow_faults_delay_the_answer() {
    let (fake, api) = start().await;
    fake.set_faults(Faults {
        slow_rate: 1.0,
        slow_for: Duration::from_millis(300),
        ..Faults::default()
    });
    let started = Instant::now();
    assert_eq!(api.get(&subdomain_path()).await.0, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn faults_apply_only_to_matching_paths() {
    let (fake, api) = start().await;
    fake.set_faults(Faults {
        error_rate: 1.0,
        path_contains: Some("/deployments".to_owned()),
        ..Faults::default()
    });
    api.deploy(SCRIPT, "r1").await;
    assert_eq!(api.get(&path(SCRIPT, "/versions")).await.0, StatusCode::OK);
    assert_error(
        api.get(&path(SCRIPT, "/deployments")).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        10013,
    );
}

#[tokio::test]
async fn faults_are_deterministic_for_a_seed() {
    async fn statuses(seed: u64) -> Vec<StatusCode> {
        let (fake, api) = start().await;
        fake.set_faults(Faults {
            error_rate: 0.5,
            seed,
            ..Faults::default()
        });
        let mut statuses = Vec::new();
        for _ in 0..24 {
            statuses.push(api.get(&subdomain_path()).await.0);
        }
        statuses
    }
    let first = statuses(7).await;
    assert_eq!(first, statuses(7).await);
    assert!(
        first.contains(&StatusCode::OK) && first.contains(&StatusCode::INTERNAL_SERVER_ERROR),
        "{first:?}"
    );
    assert_ne!(first, statuses(8).await);
}

#[tokio::test]
async fn max_faults_loses_only_the_first_answer_of_a_method() {
    let (fake, api) = start().await;
    fake.set_faults(Faults {
        drop_after_apply_rate: 1.0,
        method: Some(reqwest::Method::PUT),
        max_faults: Some(1),
        ..Faults::default()
    });
    let error = upload_error(&api).await;
    assert!(error.status().is_none(), "{error}");
    // GETs are not PUTs: they meet no fault.
    assert_eq!(api.get(&path(SCRIPT, "/versions")).await.0, StatusCode::OK);
    // The retry goes through: the one fault is spent.
    let (status, body) = api.upload(SCRIPT, form(&metadata())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        fake.upload_count(ACCOUNT, SCRIPT),
        2,
        "the lost answer's upload happened too"
    );
}

#[tokio::test]
async fn dropping_the_fake_stops_the_server() {
    let (fake, api) = start().await;
    assert_eq!(api.get(&subdomain_path()).await.0, StatusCode::OK);
    drop(fake);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let error = api
        .raw(reqwest::Method::GET, &subdomain_path())
        .send()
        .await
        .expect_err("stopped");
    assert!(error.status().is_none(), "{error}");
}

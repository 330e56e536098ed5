//! Issue 19: quotas and bounded work for every caller. A customer token could add destinations
//! without end (the 3,641st answered 500) and ask for audit pages of any size (667 MB built in
//! memory); now the 201st destination is a 422 naming the limit, and audit pages are capped at
//! 200 entries, with a cursor to the older ones.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::{Auth, TestApi};

const DESTINATIONS: &str = "/api/v1/customers/cust_a/destinations";

/// Adds Google Analytics destinations to `cust_a` (which has one) up to the quota.
async fn fill_to_quota(api: &TestApi) {
    for i in 1..c15t_model::DESTINATIONS_MAX {
        let body = json!({"id": format!("ga-{i}"), "name": "GA", "type": "google-analytics", "settings": {"measurementId": "G-ABC123"}});
        let answer = api
            .post(DESTINATIONS, Auth::Bearer(&api.token_a), &body)
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{i}: {}", answer.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_past_the_quota_are_422_naming_the_limit() {
    let api = TestApi::new().await;
    fill_to_quota(&api).await;
    let before = api.fingerprint().await;
    let body = json!({"id": "one-too-many", "name": "GA", "type": "google-analytics", "settings": {"measurementId": "G-ABC123"}});
    let answer = api
        .post(DESTINATIONS, Auth::Bearer(&api.token_a), &body)
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let problems = answer.json()["fields"].clone();
    assert_eq!(
        problems,
        json!([{
            "path": "destinations",
            "message": "at most 200 destinations per customer (limit DESTINATIONS_MAX), got 201",
        }]),
        "{}",
        answer.text()
    );
    assert_eq!(
        api.fingerprint().await,
        before,
        "the refused add changed something"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_pages_are_capped_and_the_cursor_reaches_every_entry_once() {
    let api = TestApi::new().await;
    fill_to_quota(&api).await;
    for uri in ["/api/v1/customers/cust_a/audit", "/api/v1/audit"] {
        let auth = if uri == "/api/v1/audit" {
            Auth::Bearer(crate::harness::OPERATOR)
        } else {
            Auth::Bearer(&api.token_a)
        };
        let first = api.get(&format!("{uri}?limit=1000"), auth).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text());
        assert_eq!(
            first.json().as_array().unwrap().len(),
            200,
            "limit is capped at 200"
        );

        let mut seen = Vec::new();
        let mut next = Some(format!("{uri}?limit=70"));
        while let Some(page_uri) = next.take() {
            let page = api.get(&page_uri, auth).await;
            assert_eq!(page.status, StatusCode::OK, "{page_uri}: {}", page.text());
            let entries = page.json().as_array().unwrap().clone();
            assert!(entries.len() <= 70);
            seen.extend(entries.iter().map(|e| e["id"].as_i64().unwrap()));
            next = page.headers.get("link").map(|link| {
                let link = link.to_str().unwrap();
                let target = link
                    .strip_prefix('<')
                    .and_then(|l| l.split_once(">; rel=\"next\""))
                    .unwrap_or_else(|| panic!("{link}"))
                    .0;
                assert_eq!(
                    target,
                    format!("{uri}?limit=70&before={}", seen.last().unwrap())
                );
                target.to_owned()
            });
        }
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "an entry came twice");
        assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");
        // Customer created, Meta added, 199 Google Analytics added (+ tokens for the fleet).
        assert!(seen.len() >= 201, "{}", seen.len());
        // Each destination add stores the destination, not the config.
        let newest = &first.json()[0];
        if uri != "/api/v1/audit" {
            assert_eq!(newest["action"], "destination.create");
            assert!(newest.get("before").is_none() && newest.get("after").is_none());
            let size = newest.to_string().len();
            assert!(size < 1_000, "{size} bytes: {newest}");
        }
    }
}

/// An audit page is bounded whatever the caller asks: 200 entries of a customer at its
/// destination quota, each storing what changed, stay under 256 KiB (the unbounded pages of
/// before were 38 MB by default and 667 MB on request). The server's resident memory under
/// this load is measured on the real binary by `cargo xtask soak`, not here: this binary runs
/// tests in parallel, so its own RSS is not this test's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_page_is_bounded_in_bytes() {
    let api = TestApi::new().await;
    fill_to_quota(&api).await;
    for (uri, auth) in [
        (
            "/api/v1/customers/cust_a/audit?limit=1000",
            Auth::Bearer(&api.token_a),
        ),
        (
            "/api/v1/audit?limit=1000",
            Auth::Bearer(crate::harness::OPERATOR),
        ),
    ] {
        let page = api.get(uri, auth).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}: {}", page.text());
        assert_eq!(page.json().as_array().unwrap().len(), 200, "{uri}");
        let bytes = page.body.len();
        assert!(bytes < 256 * 1024, "{uri}: a page of {bytes} bytes");
    }
}

/// Each token has its own request rate limit: past its burst a token gets 429 `rate_limited`
/// with a `Retry-After` in whole seconds, while another customer's token and the operator are
/// served; a refused request does nothing (its add is not stored); after the wait, the token is
/// served again. (Before, a token could send requests without any bound.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_token_is_limited_to_its_rate_with_retry_after() {
    use std::num::NonZeroU32;
    let limit = c15t_api::RateLimit {
        per_second: NonZeroU32::new(1).unwrap(),
        burst: NonZeroU32::new(5).unwrap(),
    };
    let api = TestApi::with_rate_limits(c15t_api::RateLimits {
        customer: Some(limit),
        operator: None,
    })
    .await;
    let uri = "/api/v1/customers/cust_a";
    for i in 0..5 {
        let answer = api.get(uri, Auth::Bearer(&api.token_a)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {i}: {}",
            answer.text()
        );
    }
    let body = json!({"id": "over-the-limit", "name": "GA", "type": "google-analytics", "settings": {"measurementId": "G-ABC123"}});
    let before = api.fingerprint().await;
    let refused = api
        .post(DESTINATIONS, Auth::Bearer(&api.token_a), &body)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
    assert_eq!(refused.json()["code"], "rate_limited");
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    assert_eq!(
        api.fingerprint().await,
        before,
        "a refused request changed something"
    );

    // Other tokens have their own buckets; operators are not limited here.
    let other = api
        .get("/api/v1/customers/cust_b", Auth::Bearer(&api.token_b))
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text());
    for _ in 0..20 {
        let operator = api.get(uri, Auth::Bearer(crate::harness::OPERATOR)).await;
        assert_eq!(operator.status, StatusCode::OK);
    }
    // An unknown token is a 401 whatever the limit (it gets no bucket).
    let unknown = api.get(uri, Auth::Bearer("c15t_unknown")).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);

    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    let again = api.get(uri, Auth::Bearer(&api.token_a)).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "after Retry-After: {}",
        again.text()
    );
}

/// Follows `Link: rel="next"` from `first`, returning every page's JSON.
async fn pages(api: &TestApi, first: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(uri) = next.take() {
        let page = api.get(&uri, Auth::Bearer(crate::harness::OPERATOR)).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}: {}", page.text());
        out.push(page.json());
        next = page.headers.get("link").map(|link| {
            let link = link.to_str().unwrap();
            link.strip_prefix('<')
                .and_then(|l| l.split_once(">; rel=\"next\""))
                .unwrap_or_else(|| panic!("{link}"))
                .0
                .to_owned()
        });
        assert!(out.len() < 100, "the pages do not end");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_list_and_the_fleet_plan_are_paged_and_reach_every_customer_once() {
    let api = TestApi::new().await;
    for i in 0..5 {
        let body = json!({"id": format!("cust_p{i}"), "name": "Paged", "database": {"url": "libsql://p.turso.io", "auth_token": "t"}});
        let created = api
            .post(
                "/api/v1/customers",
                Auth::Bearer(crate::harness::OPERATOR),
                &body,
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    }
    let expected = [
        "cust_a", "cust_b", "cust_p0", "cust_p1", "cust_p2", "cust_p3", "cust_p4",
    ];

    let customers = pages(&api, "/api/v1/customers?limit=3").await;
    assert_eq!(
        customers
            .iter()
            .map(|p| p.as_array().unwrap().len())
            .collect::<Vec<_>>(),
        [3, 3, 1]
    );
    let ids: Vec<String> = customers
        .iter()
        .flat_map(|p| p.as_array().unwrap().clone())
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected);
    // Without a limit, one page of up to 100.
    let all = pages(&api, "/api/v1/customers").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].as_array().unwrap().len(), expected.len());

    let plan = pages(&api, "/api/v1/plan?limit=2").await;
    assert_eq!(plan.len(), 4, "7 customers in pages of 2");
    let mut planned: Vec<(String, String)> = plan
        .iter()
        .flat_map(|p| p["plans"].as_array().unwrap().clone())
        .map(|p| {
            (
                p["customer"].as_str().unwrap().to_owned(),
                p["environment"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let unique: HashSet<_> = planned.iter().cloned().collect();
    assert_eq!(unique.len(), planned.len(), "an environment came twice");
    planned.dedup_by(|a, b| a.0 == b.0);
    assert_eq!(
        planned.into_iter().map(|p| p.0).collect::<Vec<_>>(),
        expected
    );

    // A cursor that is not a customer id is a 400 that shows no more than a prefix of it.
    let long = "X".repeat(5000);
    for uri in [
        format!("/api/v1/customers?after={long}"),
        format!("/api/v1/plan?after={long}"),
    ] {
        let bad = api.get(&uri, Auth::Bearer(crate::harness::OPERATOR)).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
        assert_eq!(bad.json()["code"], "invalid_parameter");
        assert!(bad.body.len() < 600, "{}", bad.text());
    }
}

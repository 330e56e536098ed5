//! Issue 19's input findings, each refused or made harmless: control characters in text fields
//! (422 on every backend), edits without a revision under concurrency (all applied), webhook URLs
//! parsed, a `PATCH` that changes nothing writing nothing, integers range-checked, duplicate
//! JSON keys refused at every level, bad path ids answered with a short 400, and two
//! `Authorization` headers refused.

use axum::http::{Method, StatusCode};

use crate::harness::{Auth, OPERATOR, TestApi};

const META: &str = "/api/v1/customers/cust_a/destinations/meta";

fn paths(answer: &crate::harness::Answer) -> Vec<String> {
    answer.json()["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .map(|f| f["path"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn control_characters_in_text_fields_are_refused_with_422() {
    let api = TestApi::new().await;
    let before = api.fingerprint().await;
    let cases = [
        (
            Method::POST,
            "/api/v1/customers",
            r#"{"id": "cust_nul", "name": "Bad\u0000Name", "database": {"url": "libsql://x.turso.io", "auth_token": "t"}}"#,
            "name",
        ),
        (
            Method::PATCH,
            "/api/v1/customers/cust_a",
            r#"{"name": "Tab\tbed"}"#,
            "name",
        ),
        (
            Method::PATCH,
            META,
            r#"{"name": "Meta\u0000"}"#,
            "destinations[0].name",
        ),
        (
            Method::POST,
            "/api/v1/customers/cust_a/destinations",
            r#"{"id": "ga", "name": "GA\u001b[31m", "type": "google-analytics", "settings": {"measurementId": "G-ABC123"}}"#,
            "destinations[1].name",
        ),
    ];
    for (method, uri, body, path) in cases {
        let answer = api
            .call(method.clone(), uri, Auth::Bearer(OPERATOR), &[], Some(body))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {uri} {body}: {}",
            answer.text()
        );
        assert!(
            paths(&answer).contains(&path.to_owned()),
            "{}",
            answer.text()
        );
        assert!(
            answer.text().contains("control character"),
            "{}",
            answer.text()
        );
        assert_eq!(api.fingerprint().await, before, "{method} {uri} {body}");
    }
    let missing = api
        .get("/api/v1/customers/cust_nul", Auth::Bearer(OPERATOR))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_edits_without_a_revision_all_apply() {
    let api = std::sync::Arc::new(TestApi::new().await);
    let (revision, audit) = api.fingerprint().await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let headers: &[(&str, &str)] = if i % 2 == 0 {
                &[]
            } else {
                &[("if-match", "*")]
            };
            api.call(
                Method::PATCH,
                META,
                Auth::Bearer(OPERATOR),
                headers,
                Some(&format!(r#"{{"name": "Meta {i}"}}"#)),
            )
            .await
        }));
    }
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    assert_eq!(api.fingerprint().await, (revision + 20, audit + 20));

    // A stale revision is still refused.
    let stale = api
        .call(
            Method::PATCH,
            META,
            Auth::Bearer(OPERATOR),
            &[("if-match", &format!("\"{revision}\""))],
            Some(r#"{"name": "Late"}"#),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text());
    assert_eq!(api.fingerprint().await, (revision + 20, audit + 20));
}

#[tokio::test]
async fn webhook_urls_are_parsed_and_checked() {
    let api = TestApi::new().await;
    for url in [
        "https://x<script>alert(1)</script>",
        "https://exa\u{202e}mple.com/hook",
        "https://example.com/a\u{200b}b",
        "https://exa mple.com/",
        "https://[::1/hook",
        "https://example.com:99999/",
        "javascript://example.com/%0aalert(1)",
        "https://example.com/<script>",
        "https://ex%41mple.com/",
    ] {
        let body = serde_json::json!({"webhook_url": url}).to_string();
        let answer = api
            .call(
                Method::PATCH,
                "/api/v1/customers/cust_a/delivery",
                Auth::Bearer(OPERATOR),
                &[],
                Some(&body),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url:?}: {}",
            answer.text()
        );
        assert!(
            paths(&answer).contains(&"webhook.url".to_owned()),
            "{}",
            answer.text()
        );
    }
    let stored = api
        .control
        .delivery_settings(&crate::harness::id("cust_a"))
        .await
        .unwrap();
    assert_eq!(stored.webhook, None);
    let ok = api
        .call(
            Method::PATCH,
            "/api/v1/customers/cust_a/delivery",
            Auth::Bearer(OPERATOR),
            &[],
            Some(r#"{"webhook_url": "https://hooks.example.com/c15t?x=1"}"#),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
}

#[tokio::test]
async fn a_patch_that_changes_nothing_changes_nothing() {
    let api = TestApi::new().await;
    let strategy = api
        .call(
            Method::PUT,
            "/api/v1/customers/cust_a/strategy",
            Auth::Bearer(OPERATOR),
            &[],
            Some(r#"{"strategy": "automatic"}"#),
        )
        .await;
    assert!(strategy.status.is_success(), "{}", strategy.text());
    let before = api.fingerprint().await;
    let jobs_before = api.control.job_counts().await.unwrap();
    for (uri, body) in [
        (META, "{}"),
        (META, r#"{"unset": ["nope"]}"#),
        (META, r#"{"name": "Meta", "enabled": true}"#),
        (META, r#"{"settings": {"pixelId": "123456"}}"#),
        ("/api/v1/customers/cust_a", "{}"),
        ("/api/v1/customers/cust_a", r#"{"name": "Customer cust_a"}"#),
    ] {
        let answer = api
            .call(Method::PATCH, uri, Auth::Bearer(OPERATOR), &[], Some(body))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{uri} {body}: {}",
            answer.text()
        );
        assert_eq!(answer.json()["revision"], before.0, "{uri} {body}");
        assert_eq!(
            api.fingerprint().await,
            before,
            "{uri} {body} wrote something"
        );
    }
    assert_eq!(
        api.control.job_counts().await.unwrap(),
        jobs_before,
        "a change of nothing enqueued a deploy"
    );
    // Based on a stale revision, even an empty change is a conflict.
    let stale = api
        .call(
            Method::PATCH,
            META,
            Auth::Bearer(OPERATOR),
            &[("if-match", "\"999\"")],
            Some("{}"),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text());
}

#[tokio::test]
async fn integers_are_range_checked_against_the_catalogue() {
    let api = TestApi::new().await;
    let before = api.fingerprint().await;
    for site in [
        "18446744073709551616",
        "9223372036854775808",
        "9007199254740993",
        "-5",
        "1e300",
        "2.5",
    ] {
        let body = format!(
            r#"{{"id": "matomo", "name": "Matomo", "type": "matomo", "settings": {{"matomoUrl": "https://analytics.example.com", "siteId": {site}}}}}"#
        );
        let answer = api
            .call(
                Method::POST,
                "/api/v1/customers/cust_a/destinations",
                Auth::Bearer(OPERATOR),
                &[],
                Some(&body),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "siteId {site}: {}",
            answer.text()
        );
        assert!(
            paths(&answer).contains(&"destinations[1].settings.siteId".to_owned()),
            "{}",
            answer.text()
        );
        assert_eq!(api.fingerprint().await, before);
    }
    let ok = api
        .call(
            Method::POST,
            "/api/v1/customers/cust_a/destinations",
            Auth::Bearer(OPERATOR),
            &[],
            Some(r#"{"id": "matomo", "name": "Matomo", "type": "matomo", "settings": {"matomoUrl": "https://analytics.example.com", "siteId": 9007199254740991}}"#),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());
    assert_eq!(ok.json()["settings"]["siteId"], 9007199254740991_i64);
}

#[tokio::test]
async fn duplicate_json_keys_are_refused_at_every_level() {
    let api = TestApi::new().await;
    let before = api.fingerprint().await;
    for (method, uri, body, key) in [
        (
            Method::PATCH,
            META,
            r#"{"settings": {"pixelId": "111", "pixelId": "222"}}"#,
            "settings.pixelId",
        ),
        (Method::PATCH, META, r#"{"name": "a", "name": "b"}"#, "name"),
        (
            Method::PATCH,
            META,
            r#"{"secrets": {"accessToken": "a", "accessToken": "b"}}"#,
            "secrets.accessToken",
        ),
        (
            Method::POST,
            "/api/v1/customers",
            r#"{"id": "cust_d", "name": "D", "database": {"url": "libsql://x.turso.io", "url": "libsql://y.turso.io", "auth_token": "t"}}"#,
            "database.url",
        ),
        (
            Method::PATCH,
            "/api/v1/customers/cust_a",
            r#"{"trusted_origins": [{"a": 1, "a": 2}]}"#,
            "trusted_origins[0].a",
        ),
    ] {
        let answer = api
            .call(method.clone(), uri, Auth::Bearer(OPERATOR), &[], Some(body))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{method} {uri} {body}: {}",
            answer.text()
        );
        assert_eq!(answer.json()["code"], "duplicate_key", "{}", answer.text());
        assert_eq!(paths(&answer), [key], "{}", answer.text());
        assert_eq!(api.fingerprint().await, before);
    }
}

#[tokio::test]
async fn bad_path_ids_get_a_400_that_echoes_a_short_prefix() {
    let api = TestApi::new().await;
    let long = "A".repeat(60_000);
    for uri in [
        format!("/api/v1/customers/{long}"),
        format!("/api/v1/customers/cust_a/destinations/{long}"),
        format!("/api/v1/customers/cust_a/destinations/{long}/enable"),
        format!("/api/v1/customers/cust_a/deployments/{long}"),
        format!("/api/v1/customers/cust_a/environments/{long}/deploy"),
        format!("/api/v1/customers/cust_a/tokens/{long}"),
    ] {
        let method = if uri.ends_with("/enable") || uri.ends_with("/deploy") {
            Method::POST
        } else if uri.contains("/tokens/") {
            Method::DELETE
        } else {
            Method::GET
        };
        for auth in [Auth::Bearer(OPERATOR), Auth::Bearer(&api.token_a)] {
            let answer = api.call(method.clone(), &uri, auth, &[], None).await;
            let short: String = uri.chars().take(60).collect();
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{method} {short}: {}",
                answer.text().chars().take(300).collect::<String>()
            );
            assert_eq!(answer.json()["code"], "invalid_parameter");
            assert!(
                answer.body.len() < 600,
                "{method} {short}: {} bytes",
                answer.body.len()
            );
        }
    }
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let api = TestApi::new().await;
    for second in [format!("Bearer {OPERATOR}"), "Bearer nope".to_owned()] {
        let answer = api
            .call(
                Method::GET,
                "/api/v1/customers/cust_a",
                Auth::Bearer(OPERATOR),
                &[("authorization", &second)],
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
        assert_eq!(answer.json()["code"], "duplicate_authorization");
    }
}

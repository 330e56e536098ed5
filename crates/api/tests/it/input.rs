//! Bad input gets 400/413/415/422 with a machine-readable code and field paths, and changes
//! nothing; secrets are write-only; stale revisions get 409 with the current one.

use axum::http::{Method, StatusCode};

use crate::harness::{Auth, CANARY, OPERATOR, TestApi, assert_no_secret};

const DESTINATIONS: &str = "/api/v1/customers/cust_a/destinations";
const META: &str = "/api/v1/customers/cust_a/destinations/meta";

#[tokio::test]
async fn bad_input_is_refused_with_codes_and_paths_and_changes_nothing() {
    let api = TestApi::new().await;
    let before = api.fingerprint().await;
    let valid_ga = r#""id": "ga", "name": "GA", "type": "google-analytics""#;
    let cases: Vec<(Method, &str, String, StatusCode, &str)> = vec![
        (
            Method::POST,
            DESTINATIONS,
            "{\"id\": ".to_owned(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            Method::POST,
            DESTINATIONS,
            "[]".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Method::POST,
            DESTINATIONS,
            r#"{"id": 5, "name": "x", "type": "meta-pixel"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Method::POST,
            DESTINATIONS,
            format!("{{{valid_ga}, \"colour\": \"red\"}}"),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Method::PATCH,
            META,
            r#"{"enabled": "yes"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Method::PATCH,
            META,
            r#"{"settings": {"pixelId": "abc"}}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_config",
        ),
        (
            Method::PATCH,
            META,
            r#"{"settings": {"accessToken": {"env": "X"}}}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_config",
        ),
        (
            Method::POST,
            DESTINATIONS,
            r#"{"id": "m2", "name": "M", "type": "meta-pixel", "settings": {"pixelId": "12x"}}"#
                .to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_config",
        ),
        (
            Method::POST,
            DESTINATIONS,
            r#"{"id": "m2", "name": "M", "type": "meta-pixle"}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_config",
        ),
        (
            Method::PATCH,
            "/api/v1/customers/cust_a",
            r#"{"name": 7}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Method::PATCH,
            "/api/v1/customers/cust_a",
            format!("{{\"name\": \"{}\"}}", "x".repeat(300 * 1024)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            Method::PATCH,
            "/api/v1/customers/cust_a/delivery",
            r#"{"strategy": "sometimes"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Method::POST,
            "/api/v1/customers/cust_a/tokens",
            r#"{"name": "ci", "scope": "all"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
    ];
    for (method, uri, body, status, code) in cases {
        let answer = api
            .call(
                method.clone(),
                uri,
                Auth::Bearer(OPERATOR),
                &[],
                Some(&body),
            )
            .await;
        let short: String = body.chars().take(80).collect();
        assert_eq!(
            answer.status,
            status,
            "{method} {uri} {short}: {}",
            answer.text()
        );
        let json = answer.json();
        assert_eq!(json["code"], code, "{method} {uri} {short}: {json}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(
            api.fingerprint().await,
            before,
            "{method} {uri} {short} changed something"
        );
    }

    // Invalid settings name their field paths.
    let answer = api
        .call(
            Method::PATCH,
            META,
            Auth::Bearer(OPERATOR),
            &[],
            Some(r#"{"settings": {"pixelId": "abc"}}"#),
        )
        .await;
    let fields = answer.json()["fields"].clone();
    assert!(
        fields
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "destinations[0].settings.pixelId"),
        "{fields}"
    );

    // A body sent without a length is cut off at the limit too.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(300 * 1024));
    let request = axum::http::Request::builder()
        .method(Method::PATCH)
        .uri("/api/v1/customers/cust_a")
        .header("authorization", format!("Bearer {OPERATOR}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from_stream(futures_stream(big)))
        .unwrap();
    let response = tower::ServiceExt::oneshot(api.router.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(api.fingerprint().await, before);

    // Without a JSON content type.
    let request = axum::http::Request::builder()
        .method(Method::PATCH)
        .uri("/api/v1/customers/cust_a")
        .header("authorization", format!("Bearer {OPERATOR}"))
        .body(axum::body::Body::from("{}"))
        .unwrap();
    let response = tower::ServiceExt::oneshot(api.router.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(api.fingerprint().await, before);
}

/// A body of unknown length (no `Content-Length`).
fn futures_stream(
    text: String,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::once(async move { Ok(text.into_bytes()) })
}

#[tokio::test]
async fn changes_carry_the_revision_they_read_and_secrets_stay_write_only() {
    let api = TestApi::new().await;
    let read = api.get(META, Auth::Bearer(&api.token_a)).await;
    assert_eq!(read.status, StatusCode::OK);
    let etag = read.headers["etag"].to_str().unwrap().to_owned();
    let revision = read.json()["revision"].as_u64().unwrap();
    assert_eq!(etag, format!("\"{revision}\""));
    let secret = &read.json()["settings"]["accessToken"];
    assert_eq!(secret["set"], true, "{secret}");
    assert!(
        secret["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    assert_no_secret(&read, "a destination");

    // A change based on the revision read succeeds and moves it.
    let changed = api
        .call(
            Method::PATCH,
            META,
            Auth::Bearer(&api.token_a),
            &[("if-match", &etag)],
            Some(&format!(
                r#"{{"secrets": {{"accessToken": "{CANARY}-2"}}}}"#
            )),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    assert_no_secret(&changed, "a changed destination");
    assert!(!changed.text().contains("-2\""), "{}", changed.text());
    let now = changed.json()["revision"].as_u64().unwrap();
    assert!(now > revision);
    assert_ne!(
        changed.json()["settings"]["accessToken"]["fingerprint"],
        secret["fingerprint"]
    );

    // The same revision again is stale: 409 with the current revision, nothing stored.
    let before = api.fingerprint().await;
    for (headers, body) in [
        (
            vec![("if-match", etag.as_str())],
            r#"{"name": "Renamed"}"#.to_owned(),
        ),
        (
            vec![],
            format!(r#"{{"name": "Renamed", "revision": {revision}}}"#),
        ),
    ] {
        let stale = api
            .call(
                Method::PATCH,
                META,
                Auth::Bearer(&api.token_a),
                &headers,
                Some(&body),
            )
            .await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text());
        assert_eq!(stale.json()["code"], "conflict");
        assert_eq!(stale.json()["current_revision"], now);
        assert_eq!(api.fingerprint().await, before);
    }

    // Customers show the database token as set, never its value; audit entries neither.
    for uri in [
        "/api/v1/customers/cust_a",
        "/api/v1/customers/cust_a/audit",
        "/api/v1/customers/cust_a/plan",
        "/api/v1/customers/cust_a/delivery",
        "/api/v1/audit",
    ] {
        let answer = api.get(uri, Auth::Bearer(OPERATOR)).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
        assert_no_secret(&answer, uri);
    }
    let customer = api
        .get("/api/v1/customers/cust_a", Auth::Bearer(OPERATOR))
        .await;
    assert_eq!(customer.json()["database"]["auth_token"]["set"], true);

    // Delivery secrets: write-only too.
    let delivery = api
        .call(
            Method::PATCH,
            "/api/v1/customers/cust_a/delivery",
            Auth::Bearer(&api.token_a),
            &[],
            Some(&format!(
                r#"{{"target": {{"type": "cloudflare", "account_id": "0123456789abcdef0123456789abcdef"}}, "cloudflare_token": "{CANARY}"}}"#
            )),
        )
        .await;
    assert_eq!(delivery.status, StatusCode::OK, "{}", delivery.text());
    assert_no_secret(&delivery, "delivery settings");
    assert_eq!(delivery.json()["cloudflare_token"]["set"], true);

    // Routing per environment: a bad hostname names its field and stores nothing; a good
    // one is kept canonically and shown as pending until a deploy applies it.
    let routing = |body: &'static str| {
        api.call(
            Method::PATCH,
            "/api/v1/customers/cust_a/delivery",
            Auth::Bearer(&api.token_a),
            &[],
            Some(body),
        )
    };
    let bad = routing(r#"{"routing": {"production": {"hostname": "*.example.com"}}}"#).await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad.text()
    );
    assert!(
        bad.text().contains("routing.production.hostname"),
        "{}",
        bad.text()
    );
    let unknown =
        routing(r#"{"routing": {"production": {"hostname": "a.example.com", "tls": true}}}"#).await;
    assert_eq!(
        unknown.status,
        StatusCode::BAD_REQUEST,
        "{}",
        unknown.text()
    );
    let good = routing(
        r#"{"routing": {"production": {"hostname": "Consent.Example.com", "workers_dev": false}}}"#,
    )
    .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.text());
    let route = &good.json()["routing"][0];
    assert_eq!(route["environment"], "production");
    assert_eq!(route["hostname"], "consent.example.com");
    assert_eq!(route["workers_dev"], false);
    assert_eq!(route["pending"], true);
    let reset = routing(r#"{"routing": {"production": {}}}"#).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text());
    assert_eq!(reset.json()["routing"], serde_json::json!([]));
}

#[tokio::test]
async fn customers_and_destinations_round_trip() {
    let api = TestApi::new().await;
    let created = api
        .call(
            Method::POST,
            "/api/v1/customers",
            Auth::Bearer(OPERATOR),
            &[],
            Some(r#"{"id": "cust_new", "name": "New", "database": {"url": "libsql://new.turso.io", "auth_token": "tok-123"}}"#),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert!(!created.text().contains("tok-123"));
    let added = api
        .call(
            Method::POST,
            "/api/v1/customers/cust_new/destinations",
            Auth::Bearer(OPERATOR),
            &[],
            Some(r#"{"id": "ga", "name": "GA", "type": "google-analytics", "settings": {"measurementId": "G-ABC123"}, "secrets": {"apiSecret": "ga-secret-value"}}"#),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    assert!(!added.text().contains("ga-secret-value"));
    assert_eq!(added.json()["settings"]["apiSecret"]["set"], true);
    assert_eq!(added.json()["settings"]["measurementId"], "G-ABC123");
    let disabled = api
        .call(
            Method::POST,
            "/api/v1/customers/cust_a/destinations/meta/disable",
            Auth::Bearer(&api.token_a),
            &[],
            None,
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
    assert_eq!(disabled.json()["enabled"], false);
    let list = api.get("/api/v1/customers", Auth::Bearer(OPERATOR)).await;
    let ids: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["cust_a", "cust_b", "cust_new"]);
    let deleted = api
        .call(
            Method::DELETE,
            "/api/v1/customers/cust_new",
            Auth::Bearer(OPERATOR),
            &[],
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    let gone = api
        .get("/api/v1/customers/cust_new", Auth::Bearer(OPERATOR))
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let queued = api
        .call(
            Method::POST,
            "/api/v1/customers/cust_a/environments/production/deploy",
            Auth::Bearer(&api.token_a),
            &[],
            None,
        )
        .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.text());
    assert!(queued.json()["job_id"].as_i64().is_some());
}

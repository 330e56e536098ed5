//! Secrets and subdomains: secrets reach the worker, and never come back out.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::support::{ACCOUNT, Api, SCRIPT, SECRET_VALUE, SUBDOMAIN, assert_error, path, start};

const PUT_SECRET: &str = "another-secret-value-9f8e7d";

/// Every GET a client can make about the script, as raw text.
async fn everything_readable(api: &Api) -> Vec<String> {
    let mut paths = vec![
        path(SCRIPT, "/versions?per_page=100"),
        path(SCRIPT, "/deployments"),
        path(SCRIPT, "/secrets"),
        path(SCRIPT, "/subdomain"),
        format!("/accounts/{ACCOUNT}/workers/subdomain"),
    ];
    let (_, versions) = api.get(&path(SCRIPT, "/versions?per_page=100")).await;
    for item in versions["result"]["items"].as_array().expect("items") {
        paths.push(path(
            SCRIPT,
            &format!("/versions/{}", item["id"].as_str().expect("id")),
        ));
    }
    let mut bodies = Vec::new();
    for path in paths {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        bodies.push(body.to_string());
    }
    bodies
}

#[tokio::test]
async fn put_secret_creates_and_deploys_a_version_and_is_never_returned() {
    let (fake, api) = start().await;
    let first = api.deploy(SCRIPT, "r1").await;
    let secret = json!({ "name": "META_ACCESS_TOKEN", "text": PUT_SECRET, "type": "secret_text" });
    let (status, body) = api
        .json(Method::PUT, &path(SCRIPT, "/secrets"), &secret)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"],
        json!({ "name": "META_ACCESS_TOKEN", "type": "secret_text" })
    );

    let script = fake.script(ACCOUNT, SCRIPT).expect("stored");
    let live = script.live_version().expect("live");
    assert_ne!(live.id, first);
    assert_eq!(live.number, 2);
    assert_eq!(live.annotations["workers/triggered_by"], json!("secret"));
    assert_eq!(
        live.module("index.js"),
        script.version(&first).and_then(|v| v.module("index.js"))
    );
    assert_eq!(
        script.secrets.get("META_ACCESS_TOKEN").map(String::as_str),
        Some(PUT_SECRET)
    );
    assert_eq!(
        script.secrets.get("TURSO_AUTH_TOKEN").map(String::as_str),
        Some(SECRET_VALUE)
    );
    assert_eq!(
        fake.upload_count(ACCOUNT, SCRIPT),
        1,
        "a secret is not an upload"
    );

    let (_, listed) = api.get(&path(SCRIPT, "/secrets")).await;
    assert_eq!(
        listed["result"],
        json!([
            { "name": "TURSO_AUTH_TOKEN", "type": "secret_text" },
            { "name": "META_ACCESS_TOKEN", "type": "secret_text" },
        ])
    );
    for body in everything_readable(&api).await {
        assert!(
            !body.contains(SECRET_VALUE),
            "uploaded secret leaked: {body}"
        );
        assert!(!body.contains(PUT_SECRET), "put secret leaked: {body}");
    }
}

#[tokio::test]
async fn bad_secrets_are_refused() {
    let (fake, api) = start().await;
    let secret = json!({ "name": "A", "text": "x", "type": "secret_text" });
    assert_error(
        api.json(Method::PUT, &path(SCRIPT, "/secrets"), &secret)
            .await,
        StatusCode::NOT_FOUND,
        10007,
    );
    api.deploy(SCRIPT, "r1").await;
    let cases: [Value; 4] = [
        json!({ "name": "A", "text": "x" }),
        json!({ "name": "A", "text": "x", "type": "plain_text" }),
        json!({ "name": "", "text": "x", "type": "secret_text" }),
        json!({ "name": "A", "text": 1, "type": "secret_text" }),
    ];
    for case in cases {
        assert_error(
            api.json(Method::PUT, &path(SCRIPT, "/secrets"), &case)
                .await,
            StatusCode::BAD_REQUEST,
            10001,
        );
    }
    let clash = json!({ "name": "LOG_LEVEL", "text": "x", "type": "secret_text" });
    assert_error(
        api.json(Method::PUT, &path(SCRIPT, "/secrets"), &clash)
            .await,
        StatusCode::BAD_REQUEST,
        10053,
    );
    assert_eq!(
        fake.script(ACCOUNT, SCRIPT).expect("stored").versions.len(),
        1
    );
}

#[tokio::test]
async fn subdomains_are_read_and_toggled() {
    let (fake, api) = start().await;
    let (status, body) = api
        .get(&format!("/accounts/{ACCOUNT}/workers/subdomain"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"], json!({ "subdomain": SUBDOMAIN }));

    let toggle = json!({ "enabled": true, "previews_enabled": false });
    assert_error(
        api.json(Method::POST, &path(SCRIPT, "/subdomain"), &toggle)
            .await,
        StatusCode::NOT_FOUND,
        10007,
    );
    api.deploy(SCRIPT, "r1").await;
    let (_, before) = api.get(&path(SCRIPT, "/subdomain")).await;
    assert_eq!(
        before["result"],
        json!({ "enabled": false, "previews_enabled": false })
    );
    let (status, body) = api
        .json(Method::POST, &path(SCRIPT, "/subdomain"), &toggle)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], toggle);
    let (_, after) = api.get(&path(SCRIPT, "/subdomain")).await;
    assert_eq!(after["result"], toggle);
    assert!(
        fake.script(ACCOUNT, SCRIPT)
            .expect("stored")
            .subdomain_enabled
    );
    let bad = json!({ "enabled": "yes" });
    assert_error(
        api.json(Method::POST, &path(SCRIPT, "/subdomain"), &bad)
            .await,
        StatusCode::BAD_REQUEST,
        10001,
    );
}

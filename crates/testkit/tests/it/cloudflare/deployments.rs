//! Deployments: rollbacks, splits, and the checks on what a deployment may name.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::support::{ACCOUNT, SCRIPT, assert_error, path, start};

fn deployment(versions: Value) -> Value {
    json!({
        "strategy": "percentage",
        "versions": versions,
        "annotations": { "workers/message": "rollback to r1" },
    })
}

#[tokio::test]
async fn rollback_deployment_makes_an_earlier_version_live() {
    let (fake, api) = start().await;
    let first = api.deploy(SCRIPT, "r1").await;
    let second = api.deploy(SCRIPT, "r2").await;
    assert_eq!(
        fake.script(ACCOUNT, SCRIPT)
            .and_then(|s| s.live_version().map(|v| v.id.clone())),
        Some(second.clone())
    );

    let body = deployment(json!([{ "version_id": first, "percentage": 100 }]));
    let (status, created) = api
        .json(Method::POST, &path(SCRIPT, "/deployments"), &body)
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["result"]["strategy"], json!("percentage"));
    assert_eq!(
        created["result"]["annotations"]["workers/message"],
        json!("rollback to r1")
    );

    let script = fake.script(ACCOUNT, SCRIPT).expect("stored");
    assert_eq!(
        script.live_version().map(|v| v.id.as_str()),
        Some(first.as_str())
    );
    assert_eq!(script.deployments.len(), 3);
    assert_eq!(script.versions.len(), 2, "a rollback uploads nothing");

    let (_, listed) = api.get(&path(SCRIPT, "/deployments")).await;
    let deployments = listed["result"]["deployments"]
        .as_array()
        .expect("deployments");
    assert_eq!(deployments.len(), 3);
    assert_eq!(
        deployments[0]["id"], created["result"]["id"],
        "newest first"
    );
    assert_eq!(deployments[0]["versions"][0]["version_id"], json!(first));
    assert_eq!(deployments[1]["versions"][0]["version_id"], json!(second));
}

#[tokio::test]
async fn split_deployments_have_no_single_live_version() {
    let (fake, api) = start().await;
    let first = api.deploy(SCRIPT, "r1").await;
    let second = api.deploy(SCRIPT, "r2").await;
    let body = deployment(json!([
        { "version_id": first, "percentage": 10 },
        { "version_id": second, "percentage": 90 },
    ]));
    let (status, created) = api
        .json(Method::POST, &path(SCRIPT, "/deployments"), &body)
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert!(
        fake.script(ACCOUNT, SCRIPT)
            .expect("stored")
            .live_version()
            .is_none()
    );
}

#[tokio::test]
async fn invalid_deployments_are_refused_and_change_nothing() {
    let (fake, api) = start().await;
    let first = api.deploy(SCRIPT, "r1").await;
    let second = api.deploy(SCRIPT, "r2").await;
    let cases = [
        (
            "sum below 100",
            deployment(json!([{ "version_id": first, "percentage": 50 }])),
            10221,
        ),
        (
            "sum above 100",
            deployment(
                json!([{ "version_id": first, "percentage": 60 }, { "version_id": second, "percentage": 50 }]),
            ),
            10221,
        ),
        (
            "negative percent",
            deployment(
                json!([{ "version_id": first, "percentage": -10 }, { "version_id": second, "percentage": 110 }]),
            ),
            10221,
        ),
        (
            "unknown version",
            deployment(
                json!([{ "version_id": "00000000-0000-4000-8000-000000000000", "percentage": 100 }]),
            ),
            10222,
        ),
        ("no versions", deployment(json!([])), 10221),
        (
            "three versions",
            deployment(json!([
                { "version_id": first, "percentage": 40 },
                { "version_id": second, "percentage": 30 },
                { "version_id": first, "percentage": 30 },
            ])),
            10221,
        ),
        (
            "same version twice",
            deployment(
                json!([{ "version_id": first, "percentage": 50 }, { "version_id": first, "percentage": 50 }]),
            ),
            10221,
        ),
        (
            "no strategy",
            json!({ "versions": [{ "version_id": first, "percentage": 100 }] }),
            10221,
        ),
        (
            "other strategy",
            json!({ "strategy": "immediate", "versions": [{ "version_id": first, "percentage": 100 }] }),
            10221,
        ),
        (
            "percentage as text",
            deployment(json!([{ "version_id": first, "percentage": "100" }])),
            10221,
        ),
        (
            "message too long",
            json!({
                "strategy": "percentage",
                "versions": [{ "version_id": first, "percentage": 100 }],
                "annotations": { "workers/message": "x".repeat(51) },
            }),
            10221,
        ),
    ];
    for (what, body, code) in cases {
        let (status, answer) = api
            .json(Method::POST, &path(SCRIPT, "/deployments"), &body)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {answer}");
        assert_eq!(answer["errors"][0]["code"], json!(code), "{what}: {answer}");
    }
    let not_json = api
        .raw(Method::POST, &path(SCRIPT, "/deployments"))
        .header("content-type", "application/json")
        .body("{");
    assert_error(api.send(not_json).await, StatusCode::BAD_REQUEST, 10001);
    let script = fake.script(ACCOUNT, SCRIPT).expect("stored");
    assert_eq!(script.deployments.len(), 2);
    assert_eq!(
        script.live_version().map(|v| v.id.as_str()),
        Some(second.as_str())
    );
    // 0% is allowed: the version is in the deployment, reachable only by a version override
    // (Cloudflare's "smoke test" of a new version).
    let (status, answer) = api
        .json(
            Method::POST,
            &path(SCRIPT, "/deployments"),
            &deployment(
                json!([{ "version_id": first, "percentage": 0 }, { "version_id": second, "percentage": 100 }]),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "zero percent: {answer}");
    let script = fake.script(ACCOUNT, SCRIPT).expect("stored");
    assert_eq!(script.deployments.len(), 3);
}

#[tokio::test]
async fn rolling_back_across_a_secret_change_needs_force() {
    let (fake, api) = start().await;
    let first = api.deploy(SCRIPT, "r1").await;
    let secret = json!({ "name": "META_ACCESS_TOKEN", "text": "new", "type": "secret_text" });
    let (status, body) = api
        .json(Method::PUT, &path(SCRIPT, "/secrets"), &secret)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let rollback = deployment(json!([{ "version_id": first, "percentage": 100 }]));
    let (status, refused) = api
        .json(Method::POST, &path(SCRIPT, "/deployments"), &rollback)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["errors"][0]["code"], json!(10220));
    let message = refused["errors"][0]["message"].as_str().expect("message");
    assert!(
        message.ends_with("The following secrets have changed: META_ACCESS_TOKEN"),
        "{message}"
    );
    assert!(
        !message.contains("new"),
        "no secret value in errors: {message}"
    );
    assert_ne!(
        fake.script(ACCOUNT, SCRIPT)
            .and_then(|s| s.live_version().map(|v| v.id.clone())),
        Some(first.clone())
    );

    let (status, body) = api
        .json(
            Method::POST,
            &path(SCRIPT, "/deployments?force=true"),
            &rollback,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let script = fake.script(ACCOUNT, SCRIPT).expect("stored");
    assert_eq!(
        script.live_version().map(|v| v.id.as_str()),
        Some(first.as_str())
    );
    assert!(
        !script.secrets.contains_key("META_ACCESS_TOKEN"),
        "the old version's secrets are live"
    );
}

//! Authentication and routing errors, answered as Cloudflare answers them.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::support::{
    ACCOUNT, OTHER_ACCOUNT, OTHER_TOKEN, SCRIPT, TOKEN, assert_error, form, metadata, path, start,
};

#[tokio::test]
async fn missing_or_malformed_authorization_is_400() {
    let (fake, api) = start().await;
    let anonymous = api.with_token(None);
    assert_error(
        anonymous.upload(SCRIPT, form(&metadata())).await,
        StatusCode::BAD_REQUEST,
        6003,
    );
    let basic = anonymous
        .raw(Method::GET, &path(SCRIPT, "/versions"))
        .basic_auth("user", Some("pass"));
    assert_error(anonymous.send(basic).await, StatusCode::BAD_REQUEST, 6003);
    // A second Authorization header next to a valid bearer token is refused, not ignored.
    let doubled = api
        .raw(Method::GET, &path(SCRIPT, "/versions"))
        .basic_auth("user", Some("pass"));
    assert_error(api.send(doubled).await, StatusCode::BAD_REQUEST, 6003);
    assert!(fake.script(ACCOUNT, SCRIPT).is_none());
}

#[tokio::test]
async fn unknown_token_is_401_and_foreign_account_is_403() {
    let (fake, api) = start().await;
    let stranger = api.with_token(Some("not-a-registered-token"));
    assert_error(
        stranger.upload(SCRIPT, form(&metadata())).await,
        StatusCode::UNAUTHORIZED,
        10000,
    );
    // OTHER_TOKEN is valid, but only for OTHER_ACCOUNT.
    let other = api.with_token(Some(OTHER_TOKEN));
    assert_error(
        other.upload(SCRIPT, form(&metadata())).await,
        StatusCode::FORBIDDEN,
        10000,
    );
    assert!(fake.script(ACCOUNT, SCRIPT).is_none());
    let (status, body) = other
        .get(&format!("/accounts/{OTHER_ACCOUNT}/workers/subdomain"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], json!({ "subdomain": "other" }));
}

#[tokio::test]
async fn unknown_scripts_are_404_script_not_found() {
    let (_fake, api) = start().await;
    for rest in ["/versions", "/deployments", "/secrets", "/subdomain"] {
        let (status, body) = api.get(&path("no-such-script", rest)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{rest}: {body}");
        assert_eq!(body["errors"][0]["code"], json!(10007), "{rest}: {body}");
        assert_eq!(
            body["errors"][0]["message"],
            json!("workers.api.error.script_not_found")
        );
    }
    assert_error(
        api.get("/accounts/x/unknown").await,
        StatusCode::FORBIDDEN,
        10000,
    );
    assert_error(
        api.get(&format!("/accounts/{ACCOUNT}/unknown")).await,
        StatusCode::NOT_FOUND,
        7003,
    );
    assert_error(
        api.json(Method::PATCH, &path(SCRIPT, "/deployments"), &json!({}))
            .await,
        StatusCode::METHOD_NOT_ALLOWED,
        10405,
    );
}

#[tokio::test]
async fn requests_are_recorded_without_the_token() {
    let (fake, api) = start().await;
    api.get(&format!("/accounts/{ACCOUNT}/workers/subdomain"))
        .await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(fake.request_count(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.path,
        format!("/client/v4/accounts/{ACCOUNT}/workers/subdomain")
    );
    assert_eq!(request.status, Some(200));
    assert_eq!(
        request.token_last4.as_deref(),
        Some(&TOKEN[TOKEN.len() - 4..])
    );
    let hash = request.token_sha256.as_deref().expect("hash");
    assert_eq!(hash.len(), 64);
    assert!(!format!("{request:?}").contains(TOKEN));
}

#[tokio::test]
async fn tokens_verify_and_scripts_list() {
    let (_fake, api) = start().await;
    let (status, body) = api.get("/user/tokens/verify").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["status"], json!("active"));
    let stranger = api.with_token(Some("not-a-registered-token"));
    assert_error(
        stranger.get("/user/tokens/verify").await,
        StatusCode::UNAUTHORIZED,
        10000,
    );

    let scripts = format!("/accounts/{ACCOUNT}/workers/scripts");
    let (_, empty) = api.get(&scripts).await;
    assert_eq!(empty["result"], json!([]));
    api.deploy(SCRIPT, "r1").await;
    let (_, listed) = api.get(&scripts).await;
    assert_eq!(listed["result"][0]["id"], json!(SCRIPT));
}

#[tokio::test]
async fn json_bodies_need_a_json_content_type() {
    let (_fake, api) = start().await;
    api.deploy(SCRIPT, "r1").await;
    let form_encoded = api
        .raw(Method::POST, &path(SCRIPT, "/subdomain"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("enabled=true");
    assert_error(api.send(form_encoded).await, StatusCode::BAD_REQUEST, 10001);
}

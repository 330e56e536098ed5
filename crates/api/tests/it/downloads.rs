//! The seed's download endpoints: the CI recipe, ETags, 304s, the cache's invalidation, and no
//! secret in any file.

use axum::http::{Method, StatusCode};

use crate::harness::{Auth, OPERATOR, TestApi, assert_no_secret};

const WORKER: &str = "/api/control-plane/customers/cust_a/worker-config";

#[tokio::test]
async fn worker_config_serves_the_generated_entry_for_the_ci_recipe() {
    let api = TestApi::new().await;
    // curl -H "Authorization: Bearer $TOKEN" .../worker-config > src/index.ts
    let answer = api
        .call(
            Method::GET,
            WORKER,
            Auth::Raw(&format!("Bearer {}", api.token_a)),
            &[],
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.headers["content-type"], "text/typescript");
    assert_eq!(
        answer.headers["content-disposition"],
        "attachment; filename=\"c15t-worker-cust_a.ts\""
    );
    assert_no_secret(&answer, "worker-config");
    let project = api
        .control
        .generate(
            &crate::harness::id("cust_a"),
            &c15t_model::Environment::production(),
            api.control.target(),
        )
        .await
        .unwrap();
    assert_eq!(
        answer.text(),
        project.file("src/index.ts").unwrap().contents
    );

    let etag = answer.headers["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with("\"sha256-") && etag.ends_with('"'),
        "{etag}"
    );
    let again = api
        .call(
            Method::GET,
            WORKER,
            Auth::Bearer(&api.token_a),
            &[("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.headers["etag"].to_str().unwrap(), etag);

    // A change through the API shows at once (this process drops its cached copy).
    let changed = api
        .call(
            Method::PATCH,
            "/api/v1/customers/cust_a/destinations/meta",
            Auth::Bearer(OPERATOR),
            &[],
            Some(r#"{"settings": {"pixelId": "654321"}}"#),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let fresh = api
        .call(
            Method::GET,
            WORKER,
            Auth::Bearer(&api.token_a),
            &[("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_ne!(fresh.headers["etag"].to_str().unwrap(), etag);
    assert!(fresh.text().contains("654321"));

    // Another environment, and one the customer does not have.
    let staging = api
        .get(
            &format!("{WORKER}?environment=staging"),
            Auth::Bearer(&api.token_a),
        )
        .await;
    assert_eq!(staging.status, StatusCode::OK);
    let nowhere = api
        .get(
            &format!("{WORKER}?environment=qa"),
            Auth::Bearer(&api.token_a),
        )
        .await;
    assert!(nowhere.status.is_client_error(), "{}", nowhere.status);
}

#[tokio::test]
async fn a_change_through_another_process_shows_within_the_revalidation_bound() {
    let api = TestApi::new().await;
    let first = api.get(WORKER, Auth::Bearer(&api.token_a)).await;
    // A change that bypasses this API (another replica, the CLI).
    api.control
        .destination_edit(
            "elsewhere",
            &crate::harness::id("cust_a"),
            "meta",
            c15t_control::DestinationPatch {
                set: [(
                    "pixelId".to_owned(),
                    c15t_model::RawValue::Text("777777".to_owned()),
                )]
                .into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    tokio::time::sleep(c15t_api::cache::REVALIDATE_AFTER + std::time::Duration::from_millis(100))
        .await;
    let later = api.get(WORKER, Auth::Bearer(&api.token_a)).await;
    assert_ne!(first.headers["etag"], later.headers["etag"]);
    assert!(later.text().contains("777777"));
}

#[tokio::test]
async fn the_project_archive_has_the_project_and_no_secret() {
    let api = TestApi::new().await;
    for (format, content_type, magic) in [
        ("tar.gz", "application/gzip", &[0x1f_u8, 0x8b][..]),
        ("zip", "application/zip", &b"PK"[..]),
    ] {
        let uri = format!("/api/control-plane/customers/cust_a/worker-project?format={format}");
        let answer = api.get(&uri, Auth::Bearer(&api.token_a)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        assert_eq!(answer.headers["content-type"], content_type);
        assert!(answer.body.starts_with(magic));
        assert!(
            answer.headers["content-disposition"]
                .to_str()
                .unwrap()
                .ends_with(&format!(".{format}\"")),
        );
        let etag = answer.headers["etag"].to_str().unwrap().to_owned();
        let again = api
            .call(
                Method::GET,
                &uri,
                Auth::Bearer(&api.token_a),
                &[("if-none-match", &etag)],
                None,
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    }
    let zip = api
        .get(
            "/api/control-plane/customers/cust_a/worker-project?format=zip",
            Auth::Bearer(OPERATOR),
        )
        .await;
    // Deflated, so search the stored names and the (uncompressed) canary check is on tar below.
    assert!(
        zip.body
            .windows(b"wrangler.jsonc".len())
            .any(|w| w == b"wrangler.jsonc")
    );
    let bad = api
        .get(
            "/api/control-plane/customers/cust_a/worker-project?format=rar",
            Auth::Bearer(OPERATOR),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["code"], "invalid_parameter");
    assert_eq!(bad.json()["fields"][0]["path"], "format");
}

#[tokio::test]
async fn worker_config_is_gzip_encoded_for_clients_that_accept_it() {
    use std::io::Read as _;
    let api = TestApi::new().await;
    let plain = api.get(WORKER, Auth::Bearer(&api.token_a)).await;
    let gzip = api
        .call(
            Method::GET,
            WORKER,
            Auth::Bearer(&api.token_a),
            &[("accept-encoding", "br, gzip")],
            None,
        )
        .await;
    assert_eq!(gzip.status, StatusCode::OK);
    assert_eq!(gzip.headers["content-encoding"], "gzip");
    assert_eq!(gzip.headers["vary"], "accept-encoding");
    assert_ne!(gzip.headers["etag"], plain.headers["etag"]);
    let mut inflated = String::new();
    flate2::read::GzDecoder::new(&gzip.body[..])
        .read_to_string(&mut inflated)
        .unwrap();
    assert_eq!(inflated, plain.text());
    let refused = api
        .call(
            Method::GET,
            WORKER,
            Auth::Bearer(&api.token_a),
            &[("accept-encoding", "gzip;q=0")],
            None,
        )
        .await;
    assert!(refused.headers.get("content-encoding").is_none());
    assert_eq!(refused.body, plain.body);
    let etag = gzip.headers["etag"].to_str().unwrap();
    let again = api
        .call(
            Method::GET,
            WORKER,
            Auth::Bearer(&api.token_a),
            &[("accept-encoding", "gzip"), ("if-none-match", etag)],
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn warming_generates_every_customers_production_entry() {
    let api = TestApi::new().await;
    let state = c15t_api::ApiState::new(api.control.clone(), Vec::new()).without_warm_up();
    assert_eq!(state.warm_worker_cache().await.unwrap(), 2);
    // Warming again keeps what is there and still reports what it generated.
    assert_eq!(state.warm_worker_cache().await.unwrap(), 2);
}

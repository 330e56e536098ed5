//! Script and version uploads: what is stored, what is answered, what is refused.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::support::{
    ACCOUNT, MAIN_JS, SCRIPT, SECRET_VALUE, assert_error, form, metadata, module, path, start,
};

#[tokio::test]
async fn well_formed_upload_is_stored_deployed_and_readable() {
    let (fake, api) = start().await;
    let (status, body) = api.upload(SCRIPT, form(&metadata())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], json!(true));
    let result = &body["result"];
    assert_eq!(result["id"], json!(SCRIPT));
    assert_eq!(result["has_modules"], json!(true));
    assert!(result["etag"].as_str().is_some_and(|etag| etag.len() == 64));
    assert!(
        result["created_on"]
            .as_str()
            .is_some_and(|on| on.ends_with('Z'))
    );
    let version_id = result["deployment_id"]
        .as_str()
        .expect("version id")
        .to_owned();

    let (status, versions) = api.get(&path(SCRIPT, "/versions")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(versions["result"]["items"][0]["id"], json!(version_id));
    assert_eq!(versions["result"]["items"][0]["number"], json!(1));
    assert_eq!(versions["result_info"]["total_count"], json!(1));

    let (status, detail) = api
        .get(&path(SCRIPT, &format!("/versions/{version_id}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    let detail = &detail["result"];
    assert_eq!(
        detail["annotations"]["workers/message"],
        json!("release r1")
    );
    assert_eq!(detail["annotations"]["workers/tag"], json!("r1"));
    assert_eq!(
        detail["annotations"]["workers/triggered_by"],
        json!("upload")
    );
    assert_eq!(
        detail["resources"]["script_runtime"]["compatibility_date"],
        json!("2025-01-01")
    );
    assert_eq!(
        detail["resources"]["bindings"],
        json!([
            { "type": "plain_text", "name": "LOG_LEVEL", "text": "info" },
            { "type": "secret_text", "name": "TURSO_AUTH_TOKEN" },
            { "type": "json", "name": "TRUSTED_ORIGINS", "json": ["https://example.com"] },
        ])
    );

    let (status, deployments) = api.get(&path(SCRIPT, "/deployments")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        deployments["result"]["deployments"][0]["versions"],
        json!([{ "version_id": version_id, "percentage": 100.0 }])
    );

    let script = fake.script(ACCOUNT, SCRIPT).expect("stored");
    let live = script.live_version().expect("deployed");
    assert_eq!(live.id, version_id);
    assert_eq!(live.main_module, "index.js");
    assert_eq!(
        live.module("index.js").expect("module").bytes.as_ref(),
        MAIN_JS.as_bytes()
    );
    assert_eq!(
        live.module("index.js").expect("module").content_type,
        "application/javascript+module"
    );
    assert_eq!(live.compatibility_flags, ["nodejs_compat"]);
    assert_eq!(live.metadata, metadata());
    assert_eq!(live.message(), Some("release r1"));
    assert_eq!(
        script.secrets.get("TURSO_AUTH_TOKEN").map(String::as_str),
        Some(SECRET_VALUE)
    );
    assert_eq!(fake.upload_count(ACCOUNT, SCRIPT), 1);
}

#[tokio::test]
async fn source_maps_and_other_modules_ride_along() {
    let (fake, api) = start().await;
    let upload = form(&metadata())
        .part(
            "index.js.map",
            module("index.js.map", "application/source-map", "{}"),
        )
        .part(
            "lib.js",
            module("lib.js", "text/javascript+module", "export const x = 1;"),
        );
    let (status, body) = api.upload(SCRIPT, upload).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let live = fake
        .script(ACCOUNT, SCRIPT)
        .and_then(|s| s.live_version().cloned())
        .expect("live");
    let names: Vec<&str> = live.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["index.js", "index.js.map", "lib.js"]);
}

/// One malformed upload and what Cloudflare answers.
struct Case {
    what: &'static str,
    form: Form,
    status: StatusCode,
    code: u64,
}

fn with(change: impl FnOnce(&mut Value)) -> Form {
    let mut metadata = metadata();
    change(&mut metadata);
    form(&metadata)
}

fn malformed_cases() -> Vec<Case> {
    let invalid = |what, form| Case {
        what,
        form,
        status: StatusCode::BAD_REQUEST,
        code: 10021,
    };
    vec![
        invalid(
            "no metadata part",
            Form::new().part(
                "index.js",
                module("index.js", "application/javascript+module", MAIN_JS),
            ),
        ),
        invalid(
            "metadata is not JSON",
            Form::new().text("metadata", "{not json").part(
                "index.js",
                module("index.js", "application/javascript+module", MAIN_JS),
            ),
        ),
        invalid(
            "metadata part with a non-JSON content type",
            Form::new()
                .part(
                    "metadata",
                    Part::text(metadata().to_string())
                        .mime_str("text/html")
                        .expect("mime"),
                )
                .part(
                    "index.js",
                    module("index.js", "application/javascript+module", MAIN_JS),
                ),
        ),
        invalid(
            "main_module missing",
            with(|m| drop(m.as_object_mut().and_then(|o| o.remove("main_module")))),
        ),
        invalid(
            "main_module names no part",
            with(|m| m["main_module"] = json!("worker.js")),
        ),
        invalid(
            "main module is commonjs",
            Form::new().text("metadata", metadata().to_string()).part(
                "index.js",
                module("index.js", "application/javascript", MAIN_JS),
            ),
        ),
        invalid(
            "main module is a source map",
            Form::new().text("metadata", metadata().to_string()).part(
                "index.js",
                module("index.js", "application/source-map", MAIN_JS),
            ),
        ),
        invalid(
            "module part with an unknown content type",
            form(&metadata()).part("x.bin", module("x.bin", "image/png", "png")),
        ),
        invalid(
            "module filename differs from its part name",
            Form::new().text("metadata", metadata().to_string()).part(
                "index.js",
                module("worker.js", "application/javascript+module", MAIN_JS),
            ),
        ),
        invalid(
            "module part without filename",
            Form::new().text("metadata", metadata().to_string()).part(
                "index.js",
                Part::text(MAIN_JS)
                    .mime_str("application/javascript+module")
                    .expect("mime"),
            ),
        ),
        invalid(
            "compatibility_date missing",
            with(|m| {
                drop(
                    m.as_object_mut()
                        .and_then(|o| o.remove("compatibility_date")),
                )
            }),
        ),
        invalid(
            "compatibility_date not YYYY-MM-DD",
            with(|m| m["compatibility_date"] = json!("2025-1-01")),
        ),
        invalid(
            "compatibility_date not a date",
            with(|m| m["compatibility_date"] = json!("2025-02-30")),
        ),
        invalid(
            "compatibility_date in the future",
            with(|m| m["compatibility_date"] = json!("2999-01-01")),
        ),
        invalid(
            "compatibility_flags not strings",
            with(|m| m["compatibility_flags"] = json!([1])),
        ),
        invalid(
            "unknown binding type",
            with(|m| {
                m["bindings"] =
                    json!([{ "type": "kv_namespace", "name": "KV", "namespace_id": "x" }])
            }),
        ),
        invalid(
            "binding without type",
            with(|m| m["bindings"] = json!([{ "name": "KV", "text": "x" }])),
        ),
        invalid(
            "duplicate binding names",
            with(|m| {
                m["bindings"] = json!([
                    { "type": "plain_text", "name": "A", "text": "1" },
                    { "type": "secret_text", "name": "A", "text": "2" },
                ]);
            }),
        ),
        invalid(
            "plain_text binding without text",
            with(|m| m["bindings"] = json!([{ "type": "plain_text", "name": "A" }])),
        ),
        invalid(
            "message over 100 characters",
            with(|m| m["annotations"]["workers/message"] = json!("x".repeat(101))),
        ),
        invalid(
            "unknown annotation",
            with(|m| m["annotations"]["release"] = json!("r1")),
        ),
        invalid(
            "duplicate module part",
            form(&metadata()).part(
                "index.js",
                module("index.js", "application/javascript+module", MAIN_JS),
            ),
        ),
    ]
}

#[tokio::test]
async fn malformed_uploads_are_refused_and_change_nothing() {
    let (fake, api) = start().await;
    for case in malformed_cases() {
        let (status, body) = api.upload(SCRIPT, case.form).await;
        assert_eq!(status, case.status, "{}: {body}", case.what);
        assert_eq!(body["success"], json!(false), "{}: {body}", case.what);
        assert_eq!(
            body["errors"][0]["code"],
            json!(case.code),
            "{}: {body}",
            case.what
        );
    }
    assert!(fake.script(ACCOUNT, SCRIPT).is_none());
    assert_eq!(fake.upload_count(ACCOUNT, SCRIPT), 0);
}

#[tokio::test]
async fn bad_script_names_are_refused() {
    let (fake, api) = start().await;
    let too_long = "a".repeat(64);
    for name in [
        "Upper",
        "-leading-dash",
        "_leading",
        "dot.name",
        too_long.as_str(),
    ] {
        assert_error(
            api.upload(name, form(&metadata())).await,
            StatusCode::BAD_REQUEST,
            10016,
        );
    }
    let longest = "a".repeat(63);
    let (status, body) = api.upload(&longest, form(&metadata())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(fake.upload_count(ACCOUNT, &longest), 1);
}

#[tokio::test]
async fn non_multipart_and_oversized_bodies_are_refused() {
    let (fake, api) = start().await;
    let json_upload = api
        .raw(reqwest::Method::PUT, &path(SCRIPT, ""))
        .json(&metadata());
    assert_error(api.send(json_upload).await, StatusCode::BAD_REQUEST, 10001);

    fake.set_body_limit(4096);
    let big = format!("{MAIN_JS}//{}", "x".repeat(8192));
    let upload = Form::new().text("metadata", metadata().to_string()).part(
        "index.js",
        module("index.js", "application/javascript+module", &big),
    );
    assert_error(
        api.upload(SCRIPT, upload).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        10027,
    );
    assert!(fake.script(ACCOUNT, SCRIPT).is_none());
}

#[tokio::test]
async fn keep_bindings_carries_secrets_into_the_next_version() {
    let (fake, api) = start().await;
    api.deploy(SCRIPT, "first").await;
    let mut next = metadata();
    next["bindings"] = json!([{ "type": "plain_text", "name": "LOG_LEVEL", "text": "debug" }]);
    next["keep_bindings"] = json!(["secret_text"]);
    let (status, body) = api.upload(SCRIPT, form(&next)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let script = fake.script(ACCOUNT, SCRIPT).expect("stored");
    let live = script.live_version().expect("live");
    assert_eq!(live.number, 2);
    assert_eq!(
        live.binding("LOG_LEVEL").and_then(|b| b.text.as_deref()),
        Some("debug")
    );
    assert_eq!(
        live.binding("TURSO_AUTH_TOKEN")
            .and_then(|b| b.text.as_deref()),
        Some(SECRET_VALUE)
    );
    assert!(
        live.binding("TRUSTED_ORIGINS").is_none(),
        "json bindings were not kept"
    );
}

#[tokio::test]
async fn version_upload_does_not_deploy() {
    let (fake, api) = start().await;
    assert_error(
        api.upload_version(SCRIPT, form(&metadata())).await,
        StatusCode::NOT_FOUND,
        10007,
    );

    let first = api.deploy(SCRIPT, "first").await;
    let (status, body) = api.upload_version(SCRIPT, form(&metadata())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["number"], json!(2));
    assert_eq!(
        body["result"]["annotations"]["workers/triggered_by"],
        json!("version_upload")
    );
    let script = fake.script(ACCOUNT, SCRIPT).expect("stored");
    assert_eq!(script.versions.len(), 2);
    assert_eq!(
        script.live_version().map(|v| v.id.as_str()),
        Some(first.as_str())
    );
    assert_eq!(fake.upload_count(ACCOUNT, SCRIPT), 2);

    assert_error(
        api.upload_version(SCRIPT, with(|m| m["main_module"] = json!("nope.js")))
            .await,
        StatusCode::BAD_REQUEST,
        10021,
    );
}

#[tokio::test]
async fn versions_are_listed_newest_first_in_pages() {
    let (_fake, api) = start().await;
    let ids = [
        api.deploy(SCRIPT, "one").await,
        api.deploy(SCRIPT, "two").await,
        api.deploy(SCRIPT, "three").await,
    ];
    let (status, page1) = api.get(&path(SCRIPT, "/versions?per_page=2")).await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<&Value> = page1["result"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(listed, [&json!(ids[2]), &json!(ids[1])]);
    assert_eq!(page1["result_info"]["total_pages"], json!(2));
    let (_, page2) = api.get(&path(SCRIPT, "/versions?per_page=2&page=2")).await;
    assert_eq!(page2["result"]["items"][0]["id"], json!(ids[0]));
    assert_eq!(
        page2["result"]["items"][0]["annotations"]["workers/message"],
        json!("one")
    );
    assert_error(
        api.get(&path(SCRIPT, "/versions?per_page=0")).await,
        StatusCode::BAD_REQUEST,
        10001,
    );
    assert_error(
        api.get(&path(SCRIPT, "/versions/not-a-version")).await,
        StatusCode::NOT_FOUND,
        10222,
    );
}

#[tokio::test]
async fn deleted_scripts_are_gone() {
    let (fake, api) = start().await;
    api.deploy(SCRIPT, "first").await;
    let (status, body) = api
        .send(api.raw(reqwest::Method::DELETE, &path(SCRIPT, "")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(fake.script(ACCOUNT, SCRIPT).is_none());
    assert_error(
        api.get(&path(SCRIPT, "/versions")).await,
        StatusCode::NOT_FOUND,
        10007,
    );
    assert_error(
        api.send(api.raw(reqwest::Method::DELETE, &path(SCRIPT, "")))
            .await,
        StatusCode::NOT_FOUND,
        10007,
    );
}

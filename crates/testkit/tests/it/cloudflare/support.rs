//! Shared fixtures: one registered account, well-formed uploads, and request helpers.

use c15t_testkit::cloudflare::FakeCloudflare;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

pub const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
pub const SUBDOMAIN: &str = "c15t-tests";
pub const TOKEN: &str = "cf-token-for-tests-WXYZ";
pub const OTHER_ACCOUNT: &str = "fedcba9876543210fedcba9876543210";
pub const OTHER_TOKEN: &str = "cf-token-of-another-account";
pub const SCRIPT: &str = "c15t-acme-production";
pub const MAIN_JS: &str = "export default { fetch() { return new Response('ok'); } };\n";
/// The value of the secret binding in [`metadata`]; must never come back from a GET.
pub const SECRET_VALUE: &str = "s3cr3t-value-that-must-not-leak";

/// A fake with two accounts, each with its own token, and a client for it.
pub async fn start() -> (FakeCloudflare, Api) {
    let fake = FakeCloudflare::start().await;
    fake.add_account(ACCOUNT, SUBDOMAIN, TOKEN);
    fake.add_account(OTHER_ACCOUNT, "other", OTHER_TOKEN);
    let api = Api {
        client: Client::new(),
        base: fake.base_url(),
        token: Some(TOKEN.to_owned()),
    };
    (fake, api)
}

/// Well-formed upload metadata with one binding of each supported type.
pub fn metadata() -> Value {
    json!({
        "main_module": "index.js",
        "compatibility_date": "2025-01-01",
        "compatibility_flags": ["nodejs_compat"],
        "bindings": [
            { "type": "plain_text", "name": "LOG_LEVEL", "text": "info" },
            { "type": "secret_text", "name": "TURSO_AUTH_TOKEN", "text": SECRET_VALUE },
            { "type": "json", "name": "TRUSTED_ORIGINS", "json": ["https://example.com"] },
        ],
        "annotations": { "workers/message": "release r1", "workers/tag": "r1" },
    })
}

/// One module part as wrangler sends it: part name and filename both the module name.
pub fn module(name: &str, content_type: &str, source: &str) -> Part {
    Part::bytes(source.as_bytes().to_vec())
        .file_name(name.to_owned())
        .mime_str(content_type)
        .expect("valid content type")
}

/// A well-formed upload form with `metadata` and `index.js`.
pub fn form(metadata: &Value) -> Form {
    Form::new().text("metadata", metadata.to_string()).part(
        "index.js",
        module("index.js", "application/javascript+module", MAIN_JS),
    )
}

/// A client of the fake, with the token it sends.
#[derive(Debug, Clone)]
pub struct Api {
    pub client: Client,
    pub base: String,
    pub token: Option<String>,
}

impl Api {
    pub fn with_token(&self, token: Option<&str>) -> Api {
        Api {
            token: token.map(str::to_owned),
            ..self.clone()
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("the fake answers");
        let status = response.status();
        let body = response.json().await.expect("a JSON envelope");
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn json(&self, method: Method, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.request(method, path).json(body)).await
    }

    pub async fn upload(&self, script: &str, form: Form) -> (StatusCode, Value) {
        let path = format!("/accounts/{ACCOUNT}/workers/scripts/{script}");
        self.send(self.request(Method::PUT, &path).multipart(form))
            .await
    }

    pub async fn upload_version(&self, script: &str, form: Form) -> (StatusCode, Value) {
        let path = format!("/accounts/{ACCOUNT}/workers/scripts/{script}/versions");
        self.send(self.request(Method::POST, &path).multipart(form))
            .await
    }

    /// Uploads the well-formed worker with `message` and returns the new version id.
    pub async fn deploy(&self, script: &str, message: &str) -> String {
        let mut metadata = metadata();
        metadata["annotations"]["workers/message"] = json!(message);
        let (status, body) = self.upload(script, form(&metadata)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["result"]["deployment_id"]
            .as_str()
            .expect("deployment_id")
            .to_owned()
    }

    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.request(method, path)
    }
}

/// Path of a script's sub-resource, relative to the base URL.
pub fn path(script: &str, rest: &str) -> String {
    format!("/accounts/{ACCOUNT}/workers/scripts/{script}{rest}")
}

/// Asserts a failed envelope with `status` and the first error's `code`.
#[track_caller]
pub fn assert_error(actual: (StatusCode, Value), status: StatusCode, code: u64) {
    let (actual_status, body) = actual;
    assert_eq!(actual_status, status, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["errors"][0]["code"], json!(code), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

//! A test API: a SQLite store and a key file in a temporary directory, two customers with a
//! destination each (one secret setting), an operator token, a live and a revoked customer
//! token for the first customer and a token for the second.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use c15t_api::{ApiState, OperatorToken};
use c15t_control::{Control, KeySource, Secret, SystemClock};
use c15t_model::{CustomerId, CustomerSpec, DatabaseSpec, DestinationSpec, RawValue};
use c15t_store::SeaStore;
use tower::ServiceExt;

/// A secret value that must never appear in any response.
pub const CANARY: &str = "EAAB-canary-7f3e9c-secret-value";
/// The database token of every test customer, equally secret.
pub const DB_CANARY: &str = "db-canary-91ab-secret-token";

pub const OPERATOR: &str = "operator-test-token";

/// The test API.
pub struct TestApi {
    pub router: Router,
    pub control: Control,
    /// A live token of `cust_a`.
    pub token_a: String,
    /// A revoked token of `cust_a`, and its id.
    pub revoked: String,
    pub revoked_id: i64,
    /// A token of `cust_b`.
    pub token_b: String,
    _dir: tempfile::TempDir,
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    /// The raw `Authorization` header value.
    Raw(&'a str),
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn id(s: &str) -> CustomerId {
    CustomerId::new(s).unwrap()
}

async fn add_customer(control: &Control, customer: &str) {
    let spec = CustomerSpec {
        events_debug_secret: None,
        id: customer.to_owned(),
        name: format!("Customer {customer}"),
        environments: Some(vec!["production".to_owned(), "staging".to_owned()]),
        trusted_origins: vec!["https://example.com".to_owned()],
        log_level: None,
        database: DatabaseSpec {
            provider: "turso".to_owned(),
            url: "libsql://example.turso.io".to_owned(),
            auth_token: RawValue::Text(String::new()),
        },
        destinations: Vec::new(),
    };
    control
        .customer_add("test", spec, Secret::new(DB_CANARY.to_owned()))
        .await
        .unwrap();
    let destination = DestinationSpec {
        id: "meta".to_owned(),
        name: "Meta".to_owned(),
        kind: "meta-pixel".to_owned(),
        enabled: true,
        environment: None,
        category: None,
        settings: BTreeMap::from([("pixelId".to_owned(), RawValue::Text("123456".to_owned()))]),
    };
    let secrets = BTreeMap::from([("accessToken".to_owned(), Secret::new(CANARY.to_owned()))]);
    control
        .destination_add("test", &id(customer), destination, secrets, None)
        .await
        .unwrap();
}

impl TestApi {
    pub async fn new() -> Self {
        Self::with_rate_limits(c15t_api::RateLimits::default()).await
    }

    /// The API with `limits` on each token's request rate.
    pub async fn with_rate_limits(limits: c15t_api::RateLimits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("c15t.db").display());
        let key = dir.path().join("c15t.key");
        c15t_control::keys_init(&key).unwrap();
        let store = SeaStore::connect(&url).await.unwrap();
        let control = Control::new(
            Arc::new(store),
            KeySource::load(key).unwrap(),
            Arc::new(SystemClock),
        );
        add_customer(&control, "cust_a").await;
        add_customer(&control, "cust_b").await;
        let token_a = control
            .api_token_create("test", &id("cust_a"), "ci")
            .await
            .unwrap();
        let revoked = control
            .api_token_create("test", &id("cust_a"), "old")
            .await
            .unwrap();
        control
            .api_token_revoke("test", &id("cust_a"), revoked.record.id)
            .await
            .unwrap();
        let token_b = control
            .api_token_create("test", &id("cust_b"), "ci")
            .await
            .unwrap();
        let state = ApiState::new(control.clone(), vec![OperatorToken::from_token(OPERATOR)])
            .with_rate_limits(limits);
        Self {
            router: c15t_api::router(state),
            control,
            token_a: token_a.token.expose().to_owned(),
            revoked: revoked.token.expose().to_owned(),
            revoked_id: revoked.record.id,
            token_b: token_b.token.expose().to_owned(),
            _dir: dir,
        }
    }

    /// Sends a request; `body` is sent as JSON.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        auth: Auth<'_>,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        match auth {
            Auth::None => {}
            Auth::Bearer(token) => {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            Auth::Raw(value) => request = request.header("authorization", value),
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Body::from(body.unwrap_or_default().to_owned()))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str, auth: Auth<'_>) -> Answer {
        self.call(Method::GET, uri, auth, &[], None).await
    }

    /// `POST`s `body` as JSON.
    pub async fn post(&self, uri: &str, auth: Auth<'_>, body: &serde_json::Value) -> Answer {
        self.call(Method::POST, uri, auth, &[], Some(&body.to_string()))
            .await
    }

    /// `cust_a`'s revision and audit log length, to show a failed request changed nothing.
    pub async fn fingerprint(&self) -> (u64, usize) {
        let revision = self
            .control
            .customer_show(&id("cust_a"))
            .await
            .unwrap()
            .revision;
        let audit = self
            .control
            .audit(Some(&id("cust_a")), 1000)
            .await
            .unwrap()
            .len();
        (revision, audit)
    }
}

/// Panics if `answer` shows a secret value.
pub fn assert_no_secret(answer: &Answer, what: &str) {
    let text = answer.text();
    for secret in [CANARY, DB_CANARY] {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

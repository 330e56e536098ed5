//! Every route of the OpenAPI document, called as every kind of principal: only intended access
//! succeeds, and another customer's resources look exactly like missing ones.

use axum::http::{Method, StatusCode};

use crate::harness::{Answer, Auth, OPERATOR, TestApi, assert_no_secret};

/// A route of the document.
struct Route {
    method: Method,
    path: String,
    operator_only: bool,
    has_body: bool,
}

fn routes() -> Vec<Route> {
    let doc = serde_json::to_value(c15t_api::openapi()).unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            assert!(
                op["security"].is_array(),
                "{method} {path} must declare its security"
            );
            routes.push(Route {
                method,
                path: path.clone(),
                operator_only: op["responses"].get("403").is_some(),
                has_body: op.get("requestBody").is_some(),
            });
        }
    }
    assert!(routes.len() >= 30, "{} routes", routes.len());
    routes
}

impl Route {
    fn uri(&self, customer: &str, token_id: i64) -> String {
        self.path
            .replace("{customerId}", customer)
            .replace("{destinationId}", "meta")
            .replace("{deploymentId}", "1")
            .replace("{environment}", "production")
            .replace("{tokenId}", &token_id.to_string())
    }

    /// Calls the route. Changes are sent with a stale `If-Match` and bodies with an unknown
    /// field, so a request that gets through authorisation is refused before it changes
    /// anything (and the walk can go on with the same data).
    async fn call(&self, api: &TestApi, customer: &str, auth: Auth<'_>) -> Answer {
        let uri = self.uri(customer, api.revoked_id);
        let mutating = self.method != Method::GET;
        let headers: &[(&str, &str)] = if mutating {
            &[("if-match", "\"999\"")]
        } else {
            &[]
        };
        let body = self.has_body.then_some(r#"{"not_a_field": 1}"#);
        api.call(self.method.clone(), &uri, auth, headers, body)
            .await
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

fn assert_let_through(route: &Route, who: &str, answer: &Answer) {
    assert!(
        !matches!(
            answer.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) && answer.status != StatusCode::METHOD_NOT_ALLOWED,
        "{} as {who}: {} {}",
        route.name(),
        answer.status,
        answer.text()
    );
    if answer.status == StatusCode::NOT_FOUND {
        assert_ne!(
            answer.json()["message"],
            c15t_api::HIDDEN_MESSAGE,
            "{} as {who} was hidden",
            route.name()
        );
    }
    assert!(
        answer.status.as_u16() < 500,
        "{} as {who}: {}",
        route.name(),
        answer.text()
    );
}

#[tokio::test]
async fn every_route_admits_only_intended_principals() {
    let api = TestApi::new().await;
    for route in routes() {
        let name = route.name();
        let scoped = route.path.contains("{customerId}");

        let answer = route.call(&api, "cust_a", Auth::Bearer(OPERATOR)).await;
        assert_let_through(&route, "operator", &answer);
        assert_no_secret(&answer, &name);

        let answer = route.call(&api, "cust_a", Auth::Bearer(&api.token_a)).await;
        if route.operator_only {
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{name} as owner");
            assert_eq!(answer.json()["code"], "forbidden");
        } else {
            assert_let_through(&route, "owner", &answer);
            assert_no_secret(&answer, &name);
        }

        // Another customer's token: its answer for cust_a is byte for byte its answer for a
        // customer that does not exist.
        let other = route.call(&api, "cust_a", Auth::Bearer(&api.token_b)).await;
        let missing = route
            .call(&api, "cust_zz", Auth::Bearer(&api.token_b))
            .await;
        if route.operator_only {
            assert_eq!(other.status, StatusCode::FORBIDDEN, "{name} as other");
        } else if scoped {
            assert_eq!(
                other.status,
                StatusCode::NOT_FOUND,
                "{name} as other: {}",
                other.text()
            );
        }
        if scoped {
            assert_eq!(other.status, missing.status, "{name}");
            assert_eq!(other.body, missing.body, "{name}");
        }

        for (who, auth) in [
            ("revoked token", Auth::Bearer(&api.revoked)),
            ("no token", Auth::None),
            ("unknown token", Auth::Bearer("c15t_not-a-real-token")),
            ("basic auth", Auth::Raw("Basic dXNlcjpwYXNz")),
            ("empty bearer", Auth::Raw("Bearer")),
            ("two tokens", Auth::Raw("Bearer a b")),
        ] {
            let answer = route.call(&api, "cust_a", auth).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name} with {who}");
            assert_eq!(
                answer.headers.get("www-authenticate").map(|v| v.as_bytes()),
                Some(&b"Bearer"[..]),
                "{name} with {who}"
            );
            assert_eq!(answer.json()["code"], "unauthorized");
        }
    }
}

#[tokio::test]
async fn the_served_document_is_the_committed_one_and_is_public() {
    let api = TestApi::new().await;
    let answer = api.get("/api/openapi.json", Auth::None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let served = answer.json();
    assert_eq!(served["openapi"], "3.1.0");
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json"),
    )
    .expect("docs/openapi.json: run `cargo xtask openapi`");
    assert_eq!(
        committed,
        c15t_api::openapi_json(),
        "docs/openapi.json is stale: run `cargo xtask openapi`"
    );
    let docs = api.get("/api/docs", Auth::None).await;
    assert_eq!(docs.status, StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_token_stops_working_at_once_and_last_use_is_recorded() {
    let api = TestApi::new().await;
    let created = api
        .call(
            Method::POST,
            "/api/v1/customers/cust_a/tokens",
            Auth::Bearer(&api.token_a),
            &[],
            Some(r#"{"name": "deploy bot"}"#),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let created = created.json();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(
        token.starts_with("c15t_") && token.len() == 5 + 43,
        "{token}"
    );

    let uri = "/api/v1/customers/cust_a";
    assert_eq!(
        api.get(uri, Auth::Bearer(&token)).await.status,
        StatusCode::OK
    );
    let list = api
        .get("/api/v1/customers/cust_a/tokens", Auth::Bearer(&token))
        .await;
    let text = list.text();
    assert!(!text.contains(&token), "a listing shows a token: {text}");
    let listed = list.json();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == created["id"])
        .unwrap();
    assert!(entry["last_used_at"].is_string(), "{entry}");

    let revoke = api
        .call(
            Method::DELETE,
            &format!("/api/v1/customers/cust_a/tokens/{}", created["id"]),
            Auth::Bearer(OPERATOR),
            &[],
            None,
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT, "{}", revoke.text());
    assert_eq!(
        api.get(uri, Auth::Bearer(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_token_revoked_elsewhere_stops_working_within_the_cache_bound() {
    let api = TestApi::new().await;
    let uri = "/api/v1/customers/cust_a";
    assert_eq!(
        api.get(uri, Auth::Bearer(&api.token_a)).await.status,
        StatusCode::OK
    );
    // Revoked through another process (the CLI, another replica): this one's cache does not
    // hear of it.
    let tokens = api
        .control
        .api_token_list(&crate::harness::id("cust_a"))
        .await
        .unwrap();
    let live = tokens.iter().find(|t| t.revoked_at.is_none()).unwrap();
    api.control
        .api_token_revoke("elsewhere", &crate::harness::id("cust_a"), live.id)
        .await
        .unwrap();
    tokio::time::sleep(c15t_api::auth::TOKEN_CACHE_TTL + std::time::Duration::from_millis(50))
        .await;
    assert_eq!(
        api.get(uri, Auth::Bearer(&api.token_a)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn every_operation_names_each_parameter_once_and_ids_carry_the_models_rule() {
    use c15t_model::{CustomerId, DestinationId, Environment};
    // Samples: the model's edge cases, then pseudo-random strings over a mixed alphabet.
    let mut samples: Vec<String> = [
        "",
        "a",
        "cust_abc123",
        "production",
        "Cust",
        "cust_",
        "cust-",
        "-cust",
        "_cust",
        "cust/1",
        "cust.1",
        "cust 1",
        "0",
        "a-b_c",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    samples.push("a".repeat(17));
    samples.push("a".repeat(18));
    samples.push("a".repeat(40));
    samples.push("a".repeat(41));
    samples.push("a".repeat(64));
    samples.push("a".repeat(65));
    // Half the strings over the allowed characters only, half with some refused ones mixed in.
    let (allowed, mixed) = (&b"ab09_-"[..], &b"ab09_-A./"[..]);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..2_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = usize::try_from(state % 70).unwrap();
        let alphabet = if state & 1 == 0 { allowed } else { mixed };
        let text: String = (0..len)
            .map(|i| {
                let bits = usize::try_from((state >> (i % 50)) & 0xff).unwrap();
                char::from(alphabet[bits % alphabet.len()])
            })
            .collect();
        samples.push(text);
    }
    let model = |name: &str, text: &str| match name {
        "customerId" => CustomerId::new(text).is_ok(),
        "destinationId" => DestinationId::new(text).is_ok(),
        _ => Environment::new(text).is_ok(),
    };
    // Names Windows reserves are refused by the model, beyond what a pattern says.
    let reserved = |text: &str| {
        ["con", "prn", "aux", "nul"].contains(&text)
            || (text.len() == 4 && (text.starts_with("com") || text.starts_with("lpt")))
    };

    let doc = serde_json::to_value(c15t_api::openapi()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let mut seen = std::collections::HashSet::new();
            for p in &params {
                let key = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                assert!(seen.insert(key), "{method} {path} names {key:?} twice");
                let id = key.1 == "path"
                    && ["customerId", "destinationId", "environment"].contains(&key.0);
                if !id && key != ("environment", "query") {
                    continue;
                }
                let pattern = p["schema"]["pattern"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}: {} has no pattern", key.0));
                let re = regex::Regex::new(pattern).unwrap();
                for text in samples.iter().filter(|t| !reserved(t)) {
                    assert_eq!(
                        re.is_match(text),
                        model(key.0, text),
                        "{method} {path}: {} pattern {pattern} and the model disagree on {text:?}",
                        key.0
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "only {checked} id parameters checked");
}

//! Worker names: DNS-safe names claimed once per customer environment, and the rename of a
//! worker deployed under the first rule's name (`c15t-cust_abc123`), health-gated.

use c15t_store::Store as _;
use std::time::Duration;

use c15t_control::{Control, ControlError, DeliveryPatch, HealthGate, HealthOptions, Secret};
use c15t_model::{DeployTarget, Environment, Strategy};
use c15t_testkit::cloudflare::{FakeCloudflare, WorkerHealth};

use crate::harness::{TestEnv, example, id, resolver, secrets, test_delivery};

pub(crate) const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
pub(crate) const TOKEN: &str = "cf-token-for-tests-0001";
const LEGACY: &str = "c15t-cust_abc123";
const CURRENT: &str = "c15t-cust-abc123";

/// A control plane on `env` delivering the example customer (manual) to the fake, whose
/// edge answers its probes.
pub(crate) async fn control_on(env: &TestEnv, cf: &FakeCloudflare) -> Control {
    let gate = HealthGate {
        attempts: 3,
        interval: Duration::from_millis(20),
        timeout: Duration::from_millis(500),
    };
    control_with(env, cf, c15t_model::Rollout::Immediate, gate).await
}

/// [`control_on`] with a rollout and a health gate.
pub(crate) async fn control_with(
    env: &TestEnv,
    cf: &FakeCloudflare,
    rollout: c15t_model::Rollout,
    gate: HealthGate,
) -> Control {
    let mut options = test_delivery(&cf.base_url());
    options.workers_edge = Some(cf.edge_url());
    options.health_gate = gate;
    options.rollout = rollout;
    let control = env.delivering(options).await;
    let values = secrets("names");
    control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();
    control
        .delivery_set(
            "ops",
            &id("cust_abc123"),
            DeliveryPatch {
                strategy: Some(Strategy::Manual),
                target: Some(DeployTarget::Cloudflare {
                    account_id: ACCOUNT.to_owned(),
                }),
                cloudflare_token: Some(Secret::new(TOKEN.to_owned())),
                ..DeliveryPatch::default()
            },
        )
        .await
        .unwrap();
    control
}

/// Uploads a one-module worker straight through Cloudflare's API, as `wrangler deploy` would
/// (with wrangler's `User-Agent` when `agent` says so), enables its `workers.dev` route and
/// returns the new version's id.
pub(crate) async fn raw_upload(cf: &FakeCloudflare, name: &str, agent: &str) -> String {
    let http = reqwest::Client::new();
    let base = format!(
        "{}/accounts/{ACCOUNT}/workers/scripts/{name}",
        cf.base_url()
    );
    let metadata = serde_json::json!({
        "main_module": "index.js",
        "compatibility_date": "2025-01-01",
        "bindings": [],
    });
    let form = reqwest::multipart::Form::new()
        .text("metadata", metadata.to_string())
        .part(
            "index.js",
            reqwest::multipart::Part::text("export default { fetch: () => new Response('ok') };")
                .file_name("index.js")
                .mime_str("application/javascript+module")
                .unwrap(),
        );
    let put = http
        .put(&base)
        .bearer_auth(TOKEN)
        .header(reqwest::header::USER_AGENT, agent)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let answer: serde_json::Value = put.json().await.unwrap();
    assert_eq!(answer["success"], true, "{answer}");
    let enable = http
        .post(format!("{base}/subdomain"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "enabled": true }))
        .send()
        .await
        .unwrap();
    assert!(enable.status().is_success());
    answer["result"]["deployment_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A worker as an installation from before the rule change left it: uploaded under the first
/// rule's name, with the store recording that name live.
async fn legacy_worker(env: &TestEnv, cf: &FakeCloudflare) {
    raw_upload(cf, LEGACY, "c15t-control-plane/0.1").await;
    env.store()
        .await
        .worker_name_live(
            &id("cust_abc123"),
            &Environment::production(),
            LEGACY,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_worker_under_its_first_name_is_renamed_once_the_new_one_is_healthy() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let control = control_on(&env, &cf).await;
    let cust = id("cust_abc123");
    let production = Environment::production();
    legacy_worker(&env, &cf).await;

    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].worker_name, CURRENT);
    assert_eq!(plan[0].rename_from.as_deref(), Some(LEGACY));
    let json = serde_json::to_value(&plan[0]).unwrap();
    assert_eq!(json["rename_from"], LEGACY);

    // The new worker does not answer healthy: the deploy fails, the old worker stays.
    cf.set_worker_health(CURRENT, WorkerHealth::Status(503));
    let failure = control
        .deploy("ops", &cust, &production)
        .await
        .expect_err("an unhealthy new worker stops the rename");
    let message = failure.error.to_string();
    assert!(
        matches!(failure.error, ControlError::WorkerUnhealthy { .. }),
        "{message}"
    );
    assert!(
        message.contains(CURRENT) && message.contains("503"),
        "{message}"
    );
    assert!(
        message.contains(&format!("`{LEGACY}` still serves")),
        "{message}"
    );
    assert!(
        cf.script(ACCOUNT, LEGACY).is_some(),
        "the old script is kept"
    );
    let history = control
        .deployments(&cust, Some(&production), 1)
        .await
        .unwrap();
    assert_eq!(history[0].status, "failed");
    assert!(
        history[0]
            .error
            .as_deref()
            .unwrap()
            .contains("still serves")
    );
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(
        plan[0].rename_from.as_deref(),
        Some(LEGACY),
        "still pending"
    );

    // Healthy: the deploy renames, and only then deletes the old script.
    cf.set_worker_health(CURRENT, WorkerHealth::Healthy);
    let report = control.deploy("ops", &cust, &production).await.unwrap();
    assert_eq!(report.deployment.status, "succeeded");
    assert_eq!(
        report.deployment.url.as_deref(),
        Some("https://c15t-cust-abc123.acme.workers.dev")
    );
    assert!(
        cf.script(ACCOUNT, LEGACY).is_none(),
        "the old script is deleted"
    );
    assert!(cf.script(ACCOUNT, CURRENT).is_some());
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].rename_from, None);
    let names = env.store().await.worker_names(&cust).await.unwrap();
    let live: Vec<_> = names
        .iter()
        .filter(|n| n.live)
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(live, [CURRENT]);

    // The monitor reaches the worker at its recorded URL (through the edge).
    let options = HealthOptions {
        timeout: Duration::from_millis(500),
        ..HealthOptions::default()
    };
    let health = control.health_check(&options, Some(&cust)).await.unwrap();
    assert_eq!((health.up, health.down), (1, 0), "{health:?}");

    // An environment deployed for the first time gets today's name directly.
    let staging = Environment::new("staging").unwrap();
    let first = control.deploy("ops", &cust, &staging).await.unwrap();
    assert!(
        first
            .deployment
            .url
            .as_deref()
            .unwrap()
            .contains("c15t-cust-abc123-staging.")
    );
}

#[tokio::test]
async fn a_customer_whose_worker_name_is_taken_is_refused_naming_the_holder() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let control = control_on(&env, &cf).await;
    let values = secrets("twin");
    let mut twin = example();
    twin.id = "cust-abc123".to_owned();
    let err = control
        .import("ops", twin, &resolver(&values))
        .await
        .expect_err("cust-abc123 would deploy to cust_abc123's worker");
    let message = err.to_string();
    assert!(matches!(err, ControlError::WorkerNameTaken(_)), "{message}");
    assert!(
        message.contains("`c15t-cust-abc123`") && message.contains("customer `cust_abc123`"),
        "{message}"
    );
    assert!(
        control.customer_show(&id("cust-abc123")).await.is_err(),
        "nothing was stored"
    );
}

//! Requests never own long work: deploys whose requests are cancelled at random points (the
//! client future dropped, its connection closed) still end, each exactly once, and no
//! deployment stays `running`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use c15t_api::{ApiState, OperatorToken};
use c15t_control::{Control, DeliveryPatch, KeySource, Secret, SystemClock};
use c15t_model::{CustomerId, DeployTarget, Strategy};
use c15t_store::{SeaStore, Store};
use c15t_testkit::cloudflare::{FakeCloudflare, Faults};

use crate::fixtures::{customer, delivery};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const CF_TOKEN: &str = "cf-token-cancel-test";
const OPERATOR: &str = "operator-cancel-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_whose_requests_are_cancelled_still_end_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("c15t.key");
    c15t_control::keys_init(&key).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c15t.db").display());
    let store: Arc<dyn Store> = Arc::new(SeaStore::connect(&url).await.unwrap());
    let cloudflare = FakeCloudflare::start().await;
    cloudflare.add_account(ACCOUNT, "acme", CF_TOKEN);
    // Every Cloudflare answer is slow, so requests are cancelled mid-deploy.
    cloudflare.set_faults(Faults {
        slow_rate: 1.0,
        slow_for: Duration::from_millis(15),
        ..Faults::default()
    });
    let control = Control::new(
        Arc::clone(&store),
        KeySource::load(key).unwrap(),
        Arc::new(SystemClock),
    )
    .with_delivery(delivery(&cloudflare.base_url()));
    control
        .customer_add(
            "test",
            customer("cust_acme", "Acme"),
            Secret::new("turso".to_owned()),
        )
        .await
        .unwrap();
    let acme = CustomerId::new("cust_acme").unwrap();
    control
        .delivery_set(
            "test",
            &acme,
            DeliveryPatch {
                strategy: Some(Strategy::Manual),
                target: Some(DeployTarget::Cloudflare {
                    account_id: ACCOUNT.to_owned(),
                }),
                cloudflare_token: Some(Secret::new(CF_TOKEN.to_owned())),
                ..DeliveryPatch::default()
            },
        )
        .await
        .unwrap();
    let app = c15t_api::router(ApiState::new(
        control.clone(),
        vec![OperatorToken::from_token(OPERATOR)],
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let uri = format!(
        "http://{addr}/api/v1/customers/cust_acme/environments/production/deploy?wait=true"
    );
    // A fixed-seed LCG: the same random cancellation points on every run.
    let mut seed: u64 = 0x5eed_c15f;
    let mut cancelled = 0;
    for _ in 0..200 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis((seed >> 33) % 120);
        // A fresh client per request: dropping the future closes its connection.
        let client = reqwest::Client::new();
        let request = client.post(&uri).bearer_auth(OPERATOR).send();
        if tokio::time::timeout(delay, request).await.is_err() {
            cancelled += 1;
        }
        drop(client);
    }
    assert!(cancelled > 50, "only {cancelled} requests were cancelled");

    let deadline = Instant::now() + Duration::from_secs(120);
    let unfinished = loop {
        // Every detached deploy has ended (one still before its deployment record would not
        // show as unfinished yet), and none left its deployment unfinished.
        let unfinished = store.deployment_unfinished().await.unwrap();
        let quiet = control.detached_in_flight() == 0;
        if (quiet && unfinished.is_empty()) || Instant::now() > deadline {
            break unfinished;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(control.detached_in_flight(), 0, "deploys still running");
    assert!(
        unfinished.is_empty(),
        "{} deployments left unfinished: {:?}",
        unfinished.len(),
        unfinished
            .iter()
            .map(|d| (d.id, d.status))
            .collect::<Vec<_>>()
    );
    let all = control.deployments(&acme, None, 1000).await.unwrap();
    assert!(!all.is_empty());
    assert!(
        all.len() <= 200,
        "{} deployments for 200 requests",
        all.len()
    );
    for d in &all {
        assert!(
            d.status == "succeeded" || d.status == "failed",
            "deployment {} ended as {}",
            d.id,
            d.status
        );
    }
    // The release went live (concurrent deploys of one environment may each upload it: there
    // is no per-environment lock, a separate matter).
    assert!(cloudflare.upload_count(ACCOUNT, "c15t-cust-acme") >= 1);
}

//! Fleet rollout (issue 14): a gradual, health-gated deploy of every customer of a fleet, each
//! in its own Cloudflare account, against the testkit's fake Cloudflare with Cloudflare's rate
//! limit (1,200 requests per token per 5 minutes) switched on.
//!
//! A plain binary (`harness = false`). It seeds the customers (the design's example customer
//! under N ids, each with its own account and API token), deploys each once (a first release
//! goes live at once), changes every customer's Meta pixel id, then times the gradual deploy
//! of all of them: staged at 0% and probed through the version override, then 10% → 50% →
//! 100% with a 1 s dwell (scaled down from the minute of the default), probed during each
//! dwell. It reports the total time, Cloudflare API requests per account (most and median,
//! against the limit of 1,200 per 5 minutes) and the 429s (there must be none).
//!
//! ```text
//! cargo bench -p c15t-control --bench rollout
//! C15T_BENCH_CUSTOMERS=200 C15T_BENCH_CONCURRENCY=50 cargo bench -p c15t-control --bench rollout
//! ```
//!
//! Without `--bench` (as `cargo test --benches` runs it) it rolls out 5 customers.

#![allow(clippy::print_stdout, reason = "a bench binary reports on stdout")]

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use c15t_control::{
    Control, DeliveryOptions, DeliveryPatch, DestinationPatch, HealthGate, KeySource, Secret,
    SystemClock,
};
use c15t_deploy::cloudflare::{CloudflareLimits, RetryPolicy};
use c15t_model::{CustomerSpec, DeployTarget, Environment, RawValue, Rollout, Strategy};
use c15t_secrets::Keyring;
use c15t_store::SeaStore;
use c15t_testkit::cloudflare::{FakeCloudflare, RateLimit};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn example() -> CustomerSpec {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/cust_abc123.toml"
    );
    toml::from_str(&std::fs::read_to_string(path).expect("the example customer")).expect("parses")
}

fn account(i: usize) -> String {
    format!("{i:032x}")
}

fn token(i: usize) -> String {
    format!("cf-bench-token-{i:08}")
}

fn customer(i: usize) -> String {
    format!("bench{i:05}")
}

/// Runs `f` for every customer index, at most `concurrency` at once; panics on a failure.
async fn each<F, Fut>(customers: usize, concurrency: usize, f: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..customers {
        let permit = Arc::clone(&semaphore)
            .acquire_owned()
            .await
            .expect("semaphore");
        let work = f(i);
        tasks.spawn(async move {
            work.await;
            drop(permit);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a task panicked");
    }
}

#[tokio::main]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let customers = env_usize("C15T_BENCH_CUSTOMERS", if bench { 1000 } else { 5 });
    let concurrency = env_usize("C15T_BENCH_CONCURRENCY", 100);
    let dwell_secs = env_usize("C15T_BENCH_DWELL_SECS", 1) as u64;

    let cf = FakeCloudflare::start().await;
    cf.set_rate_limit(Some(RateLimit {
        requests: 1200,
        window: Duration::from_secs(300),
    }));
    for i in 0..customers {
        cf.add_account(&account(i), &format!("sub{i}"), &token(i));
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c15t.db").display());
    let store = Arc::new(SeaStore::connect(&url).await.expect("opens SQLite"));
    let keys = KeySource {
        path: "unused-key-file".into(),
        keyring: Some(Arc::new(Keyring::generate())),
    };
    let target = &c15t_codegen::target::BACKEND_2;
    let mut runtime = String::from("// c15t runtime stand-in for the bench\n");
    for name in c15t_codegen::runtime_export_names(target) {
        runtime.push_str(&format!("export const {name} = () => {{}};\n"));
    }
    let runtime = c15t_deploy::runtime::RuntimeBundle::from_bytes(target, runtime.into_bytes())
        .expect("the stand-in runtime");
    let options = DeliveryOptions {
        target,
        cloudflare_api: cf.base_url(),
        cloudflare_limits: CloudflareLimits::cloudflare(),
        cloudflare_retry: RetryPolicy {
            base_delay: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        runtimes: vec![Arc::new(runtime)],
        workers_edge: Some(cf.edge_url()),
        health_gate: HealthGate {
            attempts: 3,
            interval: Duration::from_millis(250),
            timeout: Duration::from_secs(5),
        },
        rollout: Rollout::Gradual {
            steps: vec![10, 50, 100],
            dwell_secs,
        },
        ..DeliveryOptions::default()
    };
    let control = Control::new(store, keys, Arc::new(SystemClock)).with_delivery(options);

    let started = Instant::now();
    let production = Environment::production();
    // The resolver is not `Sync`, so imports run one after the other (not timed).
    for i in 0..customers {
        let mut spec = example();
        spec.id = customer(i);
        spec.environments = Some(vec!["production".to_owned()]);
        let resolver = |var: &str| Some(Secret::new(format!("{var}-value-{i}")));
        control
            .import("bench", spec, &resolver)
            .await
            .expect("import");
        let id = customer(i).parse().expect("id");
        control
            .delivery_set(
                "bench",
                &id,
                DeliveryPatch {
                    strategy: Some(Strategy::Manual),
                    target: Some(DeployTarget::Cloudflare {
                        account_id: account(i),
                    }),
                    cloudflare_token: Some(Secret::new(token(i))),
                    ..DeliveryPatch::default()
                },
            )
            .await
            .expect("delivery");
    }
    each(customers, concurrency, |i| {
        let control = control.clone();
        let production = production.clone();
        async move {
            let id = customer(i).parse().expect("id");
            control
                .deploy("bench", &id, &production)
                .await
                .map_err(|f| f.error)
                .expect("first deploy");
            control
                .destination_edit(
                    "bench",
                    &id,
                    "meta-prod",
                    DestinationPatch {
                        set: [(
                            "pixelId".to_owned(),
                            RawValue::Text(format!("{:012}", 900_000_000_000 + i)),
                        )]
                        .into(),
                        ..DestinationPatch::default()
                    },
                    None,
                )
                .await
                .expect("edit");
        }
    })
    .await;
    println!(
        "setup: {customers} customers imported, first release deployed and edited in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let requests_before = cf.requests().len();

    let started = Instant::now();
    each(customers, concurrency, |i| {
        let control = control.clone();
        let production = production.clone();
        async move {
            let id = customer(i).parse().expect("id");
            let report = control
                .deploy("bench", &id, &production)
                .await
                .map_err(|f| f.error)
                .expect("gradual deploy");
            assert_eq!(report.deployment.status, "succeeded");
        }
    })
    .await;
    let elapsed = started.elapsed();

    let requests = cf.requests();
    let mut per_token: HashMap<String, usize> = HashMap::new();
    for r in &requests {
        if let Some(t) = &r.token_sha256 {
            *per_token.entry(t.clone()).or_default() += 1;
        }
    }
    let mut counts: Vec<usize> = per_token.values().copied().collect();
    counts.sort_unstable();
    let rollout_requests = requests.len() - requests_before;
    let splits = requests
        .iter()
        .skip(requests_before)
        .filter(|r| r.method == "POST" && r.path.ends_with("/deployments"))
        .count();
    println!(
        "gradual deploy of {customers} customers (10% -> 50% -> 100%, {dwell_secs} s dwell, \
         {concurrency} at once): {:.1} s",
        elapsed.as_secs_f64()
    );
    println!(
        "Cloudflare API requests: {rollout_requests} during the rollout ({:.1} per customer, \
         {splits} deployments created), {} in all",
        rollout_requests as f64 / customers as f64,
        requests.len()
    );
    println!(
        "requests per account over the whole run: most {}, median {} (limit 1,200 per 5 \
         minutes)",
        counts.last().copied().unwrap_or_default(),
        counts.get(counts.len() / 2).copied().unwrap_or_default()
    );
    println!(
        "edge probes: {}; answered 429: {}",
        cf.edge_request_count(),
        cf.rate_limited_count()
    );
    assert_eq!(cf.rate_limited_count(), 0, "no request may be rate limited");
    assert_eq!(splits, customers * 4, "0%, 10%, 50%, 100% per customer");
}

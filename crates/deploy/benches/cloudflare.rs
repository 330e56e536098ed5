//! Benchmarks of the Cloudflare deployer against the fake Cloudflare API (a bench binary, not
//! criterion: what is measured is async and spans many requests).
//!
//! ```text
//! cargo bench -p c15t-deploy --bench cloudflare                       # both parts
//! cargo bench -p c15t-deploy --bench cloudflare -- latency            # deploy latency only
//! cargo bench -p c15t-deploy --bench cloudflare -- limiter 1000 120 3000
//!                                       # customers, fake limit, window in ms
//! ```
//!
//! - `latency`: 300 deploys of distinct releases (30 workers x 10 revisions) one after the
//!   other, then 300 deploys of releases already live; p50, p90, p99 and max of each. Goal:
//!   p99 <= 200 ms.
//! - `limiter`: N customers, one deployer each, all with one API token, deploy at once
//!   against a fake limit of L requests per W; reports the fake's 429s (goal: none) and how
//!   much of the allowed rate was used, per full window of the run (goal: >= 95%).

#![allow(
    clippy::print_stdout,
    reason = "a bench binary reports its numbers on standard output"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use c15t_deploy::cloudflare::{
    CloudflareAccount, CloudflareDeployer, CloudflareLimits, RetryPolicy,
};
use c15t_deploy::{Deployer, Module, Release, ReleaseFile, ReleaseMeta};
use c15t_model::{CustomerId, Environment};
use c15t_secrets::Secret;
use c15t_testkit::cloudflare::{FakeCloudflare, RateLimit};
use url::Url;

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const TOKEN: &str = "bench-token";

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let which = args.first().map(String::as_str);
    if matches!(which, None | Some("latency")) {
        runtime.block_on(latency());
    }
    if matches!(which, None | Some("limiter")) {
        let num = |i: usize, default: u64| {
            args.get(i)
                .map(|a| a.parse::<u64>().expect("a number"))
                .unwrap_or(default)
        };
        runtime.block_on(limiter(
            num(1, 1000) as usize,
            num(2, 120) as u32,
            Duration::from_millis(num(3, 3000)),
        ));
    }
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(200),
        request_timeout: Duration::from_secs(30),
    }
}

fn deployer(
    cf: &FakeCloudflare,
    limits: &CloudflareLimits,
    http: &reqwest::Client,
) -> CloudflareDeployer {
    let account = CloudflareAccount {
        api_base: Url::parse(&cf.base_url()).expect("base url"),
        account_id: ACCOUNT.to_owned(),
        api_token: Secret::from(TOKEN),
    };
    CloudflareDeployer::new(account, limits, retry(), http.clone()).expect("deployer")
}

/// A release of realistic size: a small entry module and a ~300 KB runtime module.
fn release(customer: &str, rev: u64) -> Release {
    release_of_size(customer, rev, 300_000)
}

/// A release small enough that the limiter, not the upload, is what a run measures.
fn small(customer: &str) -> Release {
    release_of_size(customer, 1, 0)
}

fn release_of_size(customer: &str, rev: u64, runtime_len: usize) -> Release {
    let meta = ReleaseMeta {
        customer: CustomerId::new(customer).expect("customer id"),
        environment: Environment::production(),
        revision: rev,
        target: "c15t-backend-2".to_owned(),
    };
    let files = vec![ReleaseFile {
        path: "src/index.ts".to_owned(),
        contents: format!("// {customer} {rev}\n"),
    }];
    let runtime = format!("runtime-{rev:08x}.js");
    let mut runtime_src = String::from("export const x = 1;\n");
    while runtime_src.len() < runtime_len {
        runtime_src.push_str("export const x = 'c15t runtime filler line for a realistic size';\n");
    }
    let modules = vec![
        Module {
            name: "index.js".to_owned(),
            content_type: "application/javascript+module".to_owned(),
            bytes: format!("import './{runtime}'; export default {{}}; // {rev}\n").into_bytes(),
        },
        Module {
            name: runtime,
            content_type: "application/javascript+module".to_owned(),
            bytes: runtime_src.into_bytes(),
        },
    ];
    Release::from_files(
        meta,
        format!("c15t-{customer}-production"),
        files,
        vec![("TURSO_DATABASE_URL".to_owned(), "libsql://x".to_owned())],
        vec![("TURSO_AUTH_TOKEN".to_owned(), Secret::from("s"))],
    )
    .with_modules(modules)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn report(label: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{label}: n={} p50={:.1?} p90={:.1?} p99={:.1?} max={:.1?}",
        times.len(),
        percentile(&times, 0.50),
        percentile(&times, 0.90),
        percentile(&times, 0.99),
        times[times.len() - 1],
    );
}

async fn latency() {
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "bench", TOKEN);
    // Cloudflare's own limit would make this a test of the limiter; the fake has none here.
    let limits_off = CloudflareLimits::new(usize::MAX, Duration::from_secs(1));
    let d = deployer(&cf, &limits_off, &reqwest::Client::new());
    let releases: Vec<_> = (1..=10)
        .flat_map(|rev| (0..30).map(move |w| release(&format!("w{w:02}"), rev)))
        .collect();
    // Warm up the connection pool and the account subdomain cache.
    d.deploy(&release("warmup", 1))
        .await
        .expect("warm-up deploy");

    let mut fresh = Vec::new();
    for r in &releases {
        let start = Instant::now();
        d.deploy(r).await.expect("deploy");
        fresh.push(start.elapsed());
    }
    report("deploy, new release (upload)", fresh);

    let last: Vec<_> = (0..30).map(|w| release(&format!("w{w:02}"), 10)).collect();
    let mut live = Vec::new();
    for _ in 0..10 {
        for r in &last {
            let start = Instant::now();
            d.deploy(r).await.expect("deploy");
            live.push(start.elapsed());
        }
    }
    report("deploy, release already live (no upload)", live);
    println!(
        "requests: {}, uploads of w00: {} (10 releases)",
        cf.request_count(),
        cf.upload_count(ACCOUNT, "c15t-w00-production")
    );
}

async fn limiter(customers: usize, limit: u32, window: Duration) {
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "bench", TOKEN);
    cf.set_rate_limit(Some(RateLimit {
        requests: limit,
        window,
    }));
    let limits = CloudflareLimits::new(limit as usize, window);
    let releases: Arc<Vec<_>> =
        Arc::new((0..customers).map(|c| small(&format!("c{c:04}"))).collect());
    println!(
        "limiter: {customers} customers, one token, fake limit {limit} per {window:?}; \
         expect about {:.0} s",
        (customers * 4) as f64 / (f64::from(limit) / window.as_secs_f64())
    );
    // One client (one connection pool) for the process, as a server would share it.
    let http = reqwest::Client::new();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..customers {
        let d = deployer(&cf, &limits, &http);
        let releases = Arc::clone(&releases);
        tasks.push(tokio::spawn(async move { d.deploy(&releases[c]).await }));
    }
    let mut failed = 0;
    for t in tasks {
        if t.await.expect("task").is_err() {
            failed += 1;
        }
    }
    let elapsed = start.elapsed();

    let requests = cf.requests();
    let first = requests.first().expect("requests").at;
    let window_ms = window.as_millis() as i64;
    let mut per_window = vec![0u32; 0];
    for r in &requests {
        if r.status == Some(429) {
            continue;
        }
        let i = ((r.at - first).num_milliseconds() / window_ms) as usize;
        if per_window.len() <= i {
            per_window.resize(i + 1, 0);
        }
        per_window[i] += 1;
    }
    // The last window is partial: the run ended inside it.
    let full = &per_window[..per_window.len().saturating_sub(1)];
    let used: u32 = full.iter().sum();
    let utilisation = if full.is_empty() {
        f64::NAN
    } else {
        f64::from(used) / (full.len() as f64 * f64::from(limit))
    };
    println!(
        "limiter: {} requests in {elapsed:.1?}, {} answered 429, {failed} deploys failed",
        requests.len(),
        cf.rate_limited_count()
    );
    println!(
        "limiter: requests per full window {full:?}; {:.1}% of the allowed rate used",
        utilisation * 100.0
    );
}

//! What a server-side event costs a worker (a bench binary: what is measured spans processes).
//!
//! ```text
//! cargo bench -p c15t-deploy --bench events                 # 300 timed events, 2,000 for throughput
//! cargo bench -p c15t-deploy --bench events -- 1000 5000 16 # timed events, throughput events, clients
//! ```
//!
//! A generated worker's upload runs in workerd (`wrangler dev`, no bundling) with the real
//! `@c15t/backend` on the fake libSQL server and five destinations with server APIs (Meta,
//! GA4, PostHog, TikTok, Mixpanel) whose vendor bases point at the vendor fakes; one subject
//! granted every purpose through c15t's `POST /subjects`.
//!
//! - `cpu`: events one at a time in debug mode (the answer waits until all five vendors
//!   answered), and the `workerd` processes' CPU time (`/proc`, user + system) over them,
//!   per event; the same for bodies refused at validation (the request's own cost), so the
//!   difference is what the consent lookup and the fan-out cost.
//! - `throughput`: N events from C concurrent clients in the normal mode (`202`, forwarding in
//!   `waitUntil`), until the fakes received all 5 x N vendor requests: events per second on
//!   one isolate, end to end.
//!
//! The fakes (vendors, libSQL) run in this process on the same two cores as workerd.

#![allow(
    clippy::print_stdout,
    reason = "a bench binary reports its numbers on standard output"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use c15t_codegen::{Input, TargetProfile, generate, generate_worker_module};
use c15t_deploy::runtime::{RuntimeBuild, RuntimeBundle, worker_modules};
use c15t_model::{Catalogue, CustomerSpec, Environment};
use c15t_testkit::libsql::FakeLibsql;
use c15t_testkit::vendors::FakeVendors;
use c15t_testkit::workerd::UnbundledWorker;
use serde_json::json;

const CUSTOMER: &str = r#"
id = "cust_bench"
name = "Bench"
environments = ["production"]
trusted_origins = ["https://shop.example"]
log_level = "error"

[database]
provider = "turso"
url = "libsql://cust-bench.turso.io"
auth_token = { env = "TURSO_AUTH_TOKEN" }

[[destinations]]
id = "meta"
name = "Meta"
type = "meta-pixel"
[destinations.settings]
pixelId = "1234567890"
accessToken = { env = "META" }

[[destinations]]
id = "ga4"
name = "GA4"
type = "google-analytics"
[destinations.settings]
measurementId = "G-ABC123XYZ"
apiSecret = { env = "GA4" }

[[destinations]]
id = "posthog"
name = "PostHog"
type = "posthog"
[destinations.settings]
apiKey = "phc_benchproject0123"

[[destinations]]
id = "tiktok"
name = "TikTok"
type = "tiktok-pixel"
[destinations.settings]
pixelId = "C4D45N9U9OSI64ECRUG0"
accessToken = { env = "TIKTOK" }

[[destinations]]
id = "mixpanel"
name = "Mixpanel"
type = "mixpanel"
[destinations.settings]
token = "0123456789abcdef0123456789abcdef"
"#;

const SUBJECT: &str = "sub_2jv6z8n4q9Ab";
/// A subject that refused everything but the necessary.
const REFUSER: &str = "sub_3kw7a9p5r1Cd";
const DEBUG: &str = "bench-debug-secret";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .filter_map(|a| a.parse().ok())
        .collect();
    let timed = args.first().copied().unwrap_or(300);
    let total = args.get(1).copied().unwrap_or(2_000);
    let clients = args.get(2).copied().unwrap_or(8).max(1);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let vendors = runtime.block_on(FakeVendors::start());
    vendors.add_meta_pixel("1234567890", "Bench", "bench-meta-token");
    vendors.add_posthog_key("phc_benchproject0123");
    vendors.add_tiktok_pixel("C4D45N9U9OSI64ECRUG0", "bench-tiktok-token");
    vendors.add_mixpanel_project("0123456789abcdef0123456789abcdef", None);
    let node_modules = workspace_root().join("tools/ts/node_modules");
    let database = FakeLibsql::start("bench-libsql");
    database.migrate_c15t(&node_modules);

    let target = TargetProfile::default();
    let bundle = RuntimeBundle::build(&RuntimeBuild {
        target: &target,
        node_modules: node_modules.clone(),
        destinations_module: None,
        esbuild: None,
    })
    .expect("runtime builds");
    let spec: CustomerSpec = toml::from_str(CUSTOMER).expect("customer file");
    let config = spec
        .validate(&Catalogue::builtin())
        .expect("valid customer");
    let environment = Environment::production();
    let input = Input {
        config: &config,
        environment: &environment,
        target: &target,
        revision: 1,
    };
    let entry = generate_worker_module(&input, &bundle.specifier()).expect("entry");
    let project = generate(&input).expect("project");
    let modules = worker_modules(entry, &bundle);
    let modules: Vec<(&str, &[u8])> = modules
        .iter()
        .map(|m| (m.name.as_str(), m.bytes.as_slice()))
        .collect();
    let base = vendors.base_url();
    let mut vars = vec![
        ("TURSO_DATABASE_URL".to_owned(), database.url().to_owned()),
        ("TURSO_AUTH_TOKEN".to_owned(), "bench-libsql".to_owned()),
        (
            "META_PIXEL_ACCESS_TOKEN".to_owned(),
            "bench-meta-token".to_owned(),
        ),
        (
            "GOOGLE_ANALYTICS_API_SECRET".to_owned(),
            "bench-ga4".to_owned(),
        ),
        (
            "TIKTOK_PIXEL_ACCESS_TOKEN".to_owned(),
            "bench-tiktok-token".to_owned(),
        ),
        ("C15T_EVENTS_DEBUG_SECRET".to_owned(), DEBUG.to_owned()),
    ];
    for name in ["META", "GA4", "POSTHOG", "TIKTOK", "MIXPANEL"] {
        vars.push((format!("C15T_ENDPOINT_{name}"), base.clone()));
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let worker = UnbundledWorker::start(
        &node_modules.join(".bin/wrangler"),
        &project
            .file("wrangler.jsonc")
            .expect("wrangler.jsonc")
            .contents,
        &modules,
        &vars,
        "/spec.json",
    );
    let server = &worker.server;
    let consent = json!({
        "subjectId": SUBJECT,
        "domain": "shop.example",
        "type": "cookie_banner",
        "preferences": { "necessary": true, "measurement": true, "marketing": true },
        "givenAt": 1_767_225_600_000_i64,
    })
    .to_string();
    let answer = server
        .request(
            "POST",
            "/subjects",
            &[("Content-Type", "application/json")],
            consent.as_bytes(),
        )
        .expect("POST /subjects");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let refusal = json!({
        "subjectId": REFUSER,
        "domain": "shop.example",
        "type": "cookie_banner",
        "preferences": { "necessary": true, "measurement": false, "marketing": false },
        "givenAt": 1_767_225_600_000_i64,
    })
    .to_string();
    let answer = server
        .request(
            "POST",
            "/subjects",
            &[("Content-Type", "application/json")],
            refusal.as_bytes(),
        )
        .expect("POST /subjects");
    assert_eq!(answer.status, 200, "{}", answer.body);

    let event = |n: usize| {
        json!({
            "event": "Purchase",
            "eventId": format!("evt-{n}"),
            "subjectId": SUBJECT,
            "url": "https://shop.example/checkout/done",
            "properties": { "value": 42.5, "currency": "EUR", "contentIds": ["sku-1"] },
            "user": { "email": "person@example.com", "phone": "+44 20 7946 0958" },
        })
        .to_string()
    };
    let auth = format!("Bearer {DEBUG}");
    let debug_headers = [
        ("Content-Type", "application/json"),
        ("User-Agent", "Mozilla/5.0 (bench)"),
        ("Authorization", auth.as_str()),
    ];
    let post = |path: &str, body: &str, headers: &[(&str, &str)]| {
        server
            .request("POST", path, headers, body.as_bytes())
            .expect("POST")
    };

    // Warm up the isolate (JIT, the c15t instance, connections).
    for n in 0..50 {
        let answer = post("/analytics/events?debug=1", &event(n), &debug_headers);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let report = answer.json();
        let sent = report["destinations"]
            .as_array()
            .map_or(0, |d| d.iter().filter(|d| d["outcome"] == "sent").count());
        assert_eq!(sent, 5, "{report}");
    }

    // cpu: full events, then refused bodies, one at a time.
    let cpu_before = worker.workerd_cpu();
    let started = Instant::now();
    for n in 0..timed {
        let answer = post(
            "/analytics/events?debug=1",
            &event(1_000 + n),
            &debug_headers,
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let wall = started.elapsed();
    let full_cpu = worker.workerd_cpu().saturating_sub(cpu_before);
    let cpu_before = worker.workerd_cpu();
    for _ in 0..timed {
        let answer = post(
            "/analytics/events?debug=1",
            r#"{"event":"Purchase","extra":true}"#,
            &debug_headers,
        );
        assert_eq!(answer.status, 400, "{}", answer.body);
    }
    let refused_cpu = worker.workerd_cpu().saturating_sub(cpu_before);
    // The consent lookup alone: a subject that granted nothing gets nothing forwarded.
    let cpu_before = worker.workerd_cpu();
    for n in 0..timed {
        let body = event(2_000 + n).replace(SUBJECT, REFUSER);
        let answer = post("/analytics/events?debug=1", &body, &debug_headers);
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let lookup_cpu = worker.workerd_cpu().saturating_sub(cpu_before);

    // throughput: 202s from concurrent clients until every vendor request arrived.
    let before = vendors.requests().len();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..clients {
            let next = Arc::clone(&next);
            scope.spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let answer = post(
                        "/analytics/events",
                        &event(100_000 + n),
                        &[
                            ("Content-Type", "application/json"),
                            ("User-Agent", "Mozilla/5.0 (bench)"),
                        ],
                    );
                    assert_eq!(answer.status, 202, "{}", answer.body);
                }
            });
        }
    });
    let accepted = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    while vendors.requests().len() < before + 5 * total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let forwarded = started.elapsed();
    let arrived = vendors.requests().len() - before;

    let per = |d: Duration| d.as_secs_f64() * 1_000.0 / timed as f64;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "== server-side events in workerd, 5 destinations (load average {})\n\
         cpu: {timed} events one at a time in debug mode: workerd CPU {:.2} ms per event \
         (wall {:.2} ms per event)\n\
         cpu: {timed} bodies refused at validation: workerd CPU {:.2} ms per request\n\
         cpu: {timed} events of a subject that granted nothing (consent lookup, no fan-out): \
         {:.2} ms per event\n\
         cpu: consent lookup {:.2} ms, fan-out to 5 vendors {:.2} ms CPU per event\n\
         throughput: {total} events from {clients} clients accepted in {:.2} s ({:.0} events/s); \
         all {arrived} of {} vendor requests arrived after {:.2} s ({:.0} events/s end to end)",
        load.trim(),
        per(full_cpu),
        per(wall),
        per(refused_cpu),
        per(lookup_cpu),
        per(lookup_cpu) - per(refused_cpu),
        per(full_cpu) - per(lookup_cpu),
        accepted.as_secs_f64(),
        total as f64 / accepted.as_secs_f64(),
        5 * total,
        forwarded.as_secs_f64(),
        total as f64 / forwarded.as_secs_f64(),
    );
}

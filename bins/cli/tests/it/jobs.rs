//! The job runner as a process: `c15tctl jobs run` killed with SIGKILL in the middle of a
//! deploy loses nothing; another runner finishes the job once the lease ends, and the
//! customer sees one deployment and one upload per environment.

use std::time::{Duration, Instant};

use c15t_testkit::cloudflare::{FakeCloudflare, Faults};

use crate::workspace::{Workspace, example};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const TOKEN: &str = "cf-token-sigkill-test";

/// A runtime module standing in for the esbuild bundle (the fake stores modules, it does not
/// run them): it exports every name a generated entry imports.
fn stand_in_runtime(ws: &Workspace) -> String {
    let target = c15t_codegen::TargetProfile::default();
    let mut js = String::from("// c15t runtime stand-in\n");
    for name in c15t_codegen::runtime_export_names(&target) {
        js.push_str(&format!("export const {name} = () => {{}};\n"));
    }
    let path = ws.path().join("runtime.js");
    std::fs::write(&path, js).unwrap();
    path.display().to_string()
}

fn deployments(ws: &Workspace, envs: &[(&str, &str)], env: &str) -> Vec<serde_json::Value> {
    let o = ws.run(
        &[
            "deployments",
            "--customer",
            "cust_abc123",
            "--env",
            env,
            "--json",
        ],
        envs,
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_deploy_loses_nothing() {
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let ws = Workspace::new("warn");
    let runtime = stand_in_runtime(&ws);
    let api = cf.base_url();
    let envs: Vec<(&str, &str)> = vec![
        ("C15T_CLOUDFLARE_API", api.as_str()),
        ("C15T_RUNTIME", runtime.as_str()),
        ("C15T_DEBOUNCE_MS", "0"),
        ("C15T_RETRY_BASE_MS", "10"),
        ("C15T_ROLLOUT", "immediate"),
        ("CF_TOKEN", TOKEN),
        ("TURSO_AUTH_TOKEN", "turso-token-value"),
        ("META_PIXEL_ACCESS_TOKEN", "meta-token-value"),
        ("GA4_API_SECRET", "ga4-secret-value"),
    ];
    for args in [
        vec!["keys", "init"],
        vec!["import", "--config", example().to_str().unwrap()],
        vec![
            "delivery",
            "set",
            "--customer",
            "cust_abc123",
            "--target",
            "cloudflare",
            "--account-id",
            ACCOUNT,
            "--cloudflare-token=env:CF_TOKEN",
            "--strategy",
            "automatic",
        ],
    ] {
        let o = ws.run(&args, &envs, None);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    // Every upload hangs for a while, so the runner is killed in the middle of one.
    cf.set_faults(Faults {
        slow_rate: 1.0,
        slow_for: Duration::from_secs(2),
        method: Some(http::Method::PUT),
        ..Faults::default()
    });
    let o = ws.run(
        &[
            "destination",
            "edit",
            "--customer",
            "cust_abc123",
            "meta-prod",
            "--set",
            "pixelId=7777777777",
        ],
        &envs,
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let mut runner = ws
        .command(
            &["jobs", "run", "--concurrency", "1", "--lease-secs", "1"],
            &envs,
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until its first deploy is recorded as running, then kill it without warning.
    let started = Instant::now();
    let running = loop {
        let all: Vec<_> = ["production", "staging"]
            .iter()
            .flat_map(|env| deployments(&ws, &envs, env))
            .collect();
        if let Some(d) = all.iter().find(|d| d["status"] == "running") {
            break d.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no deploy started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(300));
    runner.kill().unwrap(); // SIGKILL
    runner.wait().unwrap();

    // Whatever the killed runner sent has landed or died by now; the lease has ended.
    std::thread::sleep(Duration::from_secs(3));
    cf.set_faults(Faults::default());
    let o = ws.run(&["jobs", "run", "--once", "--lease-secs", "1"], &envs, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    for (env, worker) in [
        ("production", "c15t-cust-abc123"),
        ("staging", "c15t-cust-abc123-staging"),
    ] {
        let list = deployments(&ws, &envs, env);
        assert_eq!(
            list.len(),
            1,
            "{env}: one deployment, not one per attempt: {list:?}"
        );
        assert_eq!(list[0]["status"], "succeeded", "{env}: {list:?}");
        assert_eq!(cf.upload_count(ACCOUNT, worker), 1, "{env}: uploaded once");
        let live = cf.script(ACCOUNT, worker).unwrap();
        let entry = live.live_version().unwrap().modules[0].bytes.to_vec();
        assert!(String::from_utf8(entry).unwrap().contains("'7777777777'") || env == "staging");
    }
    let interrupted = deployments(&ws, &envs, running["environment"].as_str().unwrap());
    assert_eq!(
        interrupted[0]["id"], running["id"],
        "the interrupted deployment itself was finished"
    );
    let o = ws.run(&["jobs", "status", "--json"], &envs, None);
    let counts: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(counts["done"], 2, "{counts}");
    assert_eq!(counts["failed"], 0, "{counts}");
}

#[test]
fn plan_deploy_and_rollback_to_files() {
    let ws = Workspace::new("warn");
    let root = ws.path().join("deployed");
    let root_text = root.display().to_string();
    let envs: Vec<(&str, &str)> = vec![
        ("C15T_DEPLOY_ROOT", root_text.as_str()),
        ("TURSO_AUTH_TOKEN", "turso-token-value"),
        ("META_PIXEL_ACCESS_TOKEN", "meta-token-value"),
        ("GA4_API_SECRET", "ga4-secret-value"),
    ];
    let ok = |args: &[&str]| {
        let o = ws.run(args, &envs, None);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    ok(&["keys", "init"]);
    ok(&["import", "--config", example().to_str().unwrap()]);
    ok(&[
        "delivery",
        "set",
        "--customer",
        "cust_abc123",
        "--target",
        "file",
    ]);

    let plan = ok(&["plan"]);
    assert!(
        plan.contains("cust_abc123 production: never_deployed"),
        "{plan}"
    );
    // Which destinations forward server-side events (their server secrets are set).
    for line in [
        "  events: meta-prod: server-side events to Meta Conversions API",
        "  events: ga4-prod: server-side events to GA4 Measurement Protocol",
        "  events: posthog: server-side events to PostHog capture API",
    ] {
        assert!(plan.contains(line), "{plan}");
    }
    assert!(
        plan.contains("2 environment(s), 2 to deploy, 0 synced"),
        "{plan}"
    );
    let deployed = ok(&["deploy", "--all"]);
    assert!(deployed.contains("2 deployed, 0 failed"), "{deployed}");
    let index = root.join("cust_abc123/production/src/index.ts");
    let first = std::fs::read_to_string(&index).unwrap();
    assert!(
        !first.contains("meta-token-value"),
        "file deploys never write secrets"
    );
    assert!(ok(&["plan"]).contains("0 to deploy, 2 synced"));

    // The events debug secret: generated, shown once, bound by the next deploy, refused when
    // short, and switched off again.
    let edited = ok(&[
        "customer",
        "edit",
        "cust_abc123",
        "--events-debug-secret",
        "generate",
    ]);
    let secret = edited
        .split("deploy to bind it): ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no secret shown: {edited}"))
        .to_owned();
    assert!(
        secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()),
        "{edited}"
    );
    let plan = ok(&["plan"]);
    assert!(
        plan.contains("secret C15T_EVENTS_DEBUG_SECRET added"),
        "{plan}"
    );
    assert!(plan.contains("2 to deploy"), "{plan}");
    let shown = ok(&["customer", "show", "cust_abc123", "--json"]);
    assert!(!shown.contains(&secret), "the secret is never shown again");
    assert!(shown.contains("events_debug_secret"), "{shown}");
    let short = ws.run(
        &[
            "customer",
            "edit",
            "cust_abc123",
            "--events-debug-secret",
            "stdin",
        ],
        &envs,
        Some("too-short"),
    );
    assert!(!short.status.success());
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(stderr.contains("at least 16 characters"), "{stderr}");
    ok(&[
        "customer",
        "edit",
        "cust_abc123",
        "--events-debug-secret",
        "none",
    ]);
    // Off again: nothing to bind (only the revision in the headers changed).
    let plan = ok(&["plan"]);
    assert!(!plan.contains("C15T_EVENTS_DEBUG_SECRET"), "{plan}");
    ok(&["deploy", "--all"]);
    assert!(ok(&["plan"]).contains("0 to deploy, 2 synced"));

    ok(&[
        "destination",
        "edit",
        "--customer",
        "cust_abc123",
        "meta-prod",
        "--set",
        "pixelId=8888888888",
    ]);
    let plan = ok(&["plan", "--customer", "cust_abc123", "--env", "production"]);
    assert!(plan.contains("production: out_of_sync"), "{plan}");
    assert!(plan.contains("+\t\t\t\t\tpixelId: '8888888888',"), "{plan}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["plan", "--customer", "cust_abc123", "--json"])).unwrap();
    assert_eq!(json["environments"][0]["status"], "out_of_sync");
    assert_eq!(
        json["environments"][0]["events"][0],
        serde_json::json!({
            "destination": "meta-prod",
            "kind": "meta-pixel",
            "api": "Meta Conversions API",
            "state": "forwards",
        })
    );

    ok(&["deploy", "--customer", "cust_abc123", "--env", "production"]);
    assert!(
        std::fs::read_to_string(&index)
            .unwrap()
            .contains("'8888888888'")
    );
    let list: Vec<serde_json::Value> = serde_json::from_str(&ok(&[
        "deployments",
        "--customer",
        "cust_abc123",
        "--env",
        "production",
        "--json",
    ]))
    .unwrap();
    let first_id = list.last().unwrap()["id"].as_i64().unwrap().to_string();
    let rolled = ok(&["rollback", "--customer", "cust_abc123", "--to", &first_id]);
    assert!(
        rolled.contains(&format!("rolled back to #{first_id}")),
        "{rolled}"
    );
    assert_eq!(
        std::fs::read_to_string(&index).unwrap(),
        first,
        "byte for byte"
    );
    let table = ok(&[
        "deployments",
        "--customer",
        "cust_abc123",
        "--env",
        "production",
    ]);
    assert!(
        table.contains(&format!("(rollback to #{first_id})")),
        "{table}"
    );
    assert!(table.contains("rolled_back"), "{table}");

    // A failed deployment of a customer without a target says how to set one.
    ok(&[
        "delivery",
        "set",
        "--customer",
        "cust_abc123",
        "--target",
        "none",
    ]);
    let o = ws.run(
        &["deploy", "--customer", "cust_abc123", "--env", "staging"],
        &envs,
        None,
    );
    assert!(!o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("has no deploy target; set one with"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_domain_is_set_deployed_and_shown() {
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    cf.add_zone(ACCOUNT, "customer.com");
    let ws = Workspace::new("warn");
    let runtime = stand_in_runtime(&ws);
    let api = cf.base_url();
    let edge = cf.edge_url();
    let envs: Vec<(&str, &str)> = vec![
        ("C15T_CLOUDFLARE_API", api.as_str()),
        ("C15T_WORKERS_EDGE", edge.as_str()),
        ("C15T_RUNTIME", runtime.as_str()),
        ("C15T_ROLLOUT", "immediate"),
        ("CF_TOKEN", TOKEN),
        ("TURSO_AUTH_TOKEN", "turso-token-value"),
        ("META_PIXEL_ACCESS_TOKEN", "meta-token-value"),
        ("GA4_API_SECRET", "ga4-secret-value"),
    ];
    let run = |args: &[&str]| ws.run(args, &envs, None);
    let ok = |args: &[&str]| {
        let o = run(args);
        assert!(
            o.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    ok(&["keys", "init"]);
    ok(&["import", "--config", example().to_str().unwrap()]);
    ok(&[
        "delivery",
        "set",
        "--customer",
        "cust_abc123",
        "--target",
        "cloudflare",
        "--account-id",
        ACCOUNT,
        "--cloudflare-token=env:CF_TOKEN",
    ]);

    // workers.dev off without a hostname would leave the worker unreachable: refused.
    let refused = run(&[
        "delivery",
        "set",
        "--customer",
        "cust_abc123",
        "--environment",
        "production",
        "--workers-dev",
        "off",
    ]);
    assert!(!refused.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(text.contains("routing.production.workers_dev"), "{text}");

    let set = ok(&[
        "delivery",
        "set",
        "--customer",
        "cust_abc123",
        "--environment",
        "production",
        "--hostname",
        "consent.customer.com",
        "--workers-dev",
        "off",
    ]);
    assert!(
        set.contains(
            "custom domain consent.customer.com (not attached yet); workers.dev off; PENDING"
        ),
        "{set}"
    );
    let plan = ok(&["plan", "--customer", "cust_abc123"]);
    assert!(
        plan.contains("routing: custom domain consent.customer.com"),
        "{plan}"
    );

    let deployed = ok(&["deploy", "--customer", "cust_abc123", "--env", "production"]);
    assert!(
        deployed.contains("https://consent.customer.com"),
        "{deployed}"
    );
    let shown = ok(&["delivery", "show", "--customer", "cust_abc123"]);
    assert!(
        shown.contains(
            "custom domain consent.customer.com: active (zone customer.com); workers.dev off"
        ),
        "{shown}"
    );
    assert!(!shown.contains("PENDING"), "{shown}");
    assert_eq!(cf.domains(ACCOUNT).len(), 1);

    // `none` removes it; the next deploy detaches it.
    ok(&[
        "delivery",
        "set",
        "--customer",
        "cust_abc123",
        "--environment",
        "production",
        "--hostname",
        "none",
        "--workers-dev",
        "on",
    ]);
    ok(&["deploy", "--customer", "cust_abc123", "--env", "production"]);
    assert!(cf.domains(ACCOUNT).is_empty());
}

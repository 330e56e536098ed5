//! `c15tctl destination test` against the vendor fakes: the stored token reaches Meta, the
//! report is printed (text or JSON) without the secret, and a refused test exits 6.

use c15t_testkit::vendors::FakeVendors;

use crate::workspace::Workspace;

const META_TOKEN: &str = "EAAcli-canary-meta-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_test_reports_what_the_vendor_says() {
    let fake = FakeVendors::start().await;
    fake.add_meta_pixel("1234567890", "ABC pixel", META_TOKEN);
    fake.add_posthog_key("phc_yyyyyyyyyyyyyyyy");
    let ws = Workspace::new("debug").with_example("turso-cli", META_TOKEN, "ga4-cli-secret");
    let base = fake.base_url();
    let envs: Vec<(&str, &str)> = vec![
        ("C15T_META_GRAPH_URL", base.as_str()),
        ("C15T_GA4_MP_URL", base.as_str()),
        ("C15T_WEBHOOK_ALLOW", "127.0.0.1/32"),
        ("C15T_WEBHOOK_ALLOW_HTTP", "true"),
    ];
    let test = |args: &[&str]| {
        let mut all = vec!["destination", "test", "--customer", "cust_abc123"];
        all.extend_from_slice(args);
        ws.run(&all, &envs, None)
    };

    let o = test(&["meta-prod", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["result"], "ok", "{report}");
    assert_eq!(report["kind"], "meta-pixel");
    assert!(report["latency_ms"].is_u64());
    assert_eq!(fake.requests()[0].param("access_token"), Some(META_TOKEN));

    let o = test(&["ga4-prod"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("ga4-prod (google-analytics): ok after "),
        "{out}"
    );

    // The example's PostHog host is the real EU one; point it at the fake by flag instead of
    // by environment: a customer host is set with `destination edit`.
    ws.ok(&[
        "destination",
        "edit",
        "--customer",
        "cust_abc123",
        "posthog",
        "--set",
        &format!("host={base}"),
    ]);
    let o = test(&["posthog", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Meta no longer knows the token: bad credentials, exit 6, and no token anywhere.
    let fresh = FakeVendors::start().await;
    let fresh_base = fresh.base_url();
    let o = ws.run(
        &[
            "destination",
            "test",
            "--customer",
            "cust_abc123",
            "meta-prod",
            "--meta-graph-url",
            &fresh_base,
        ],
        &envs,
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        out.contains("meta-prod (meta-pixel): bad credentials after"),
        "{out}"
    );
    assert!(out.contains("Invalid OAuth access token"), "{out}");
    assert!(
        err.contains("the connection test of destination `meta-prod` failed: bad credentials"),
        "{err}"
    );
    for text in [&out, &err] {
        assert!(!text.contains(META_TOKEN), "the token leaked: {text}");
    }

    // An unreachable vendor is a report too, and a missing destination exits 5.
    let o = test(&[
        "meta-prod",
        "--meta-graph-url",
        "http://127.0.0.1:9",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(6));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["result"], "unreachable", "{report}");
    let o = test(&["nope"]);
    assert_eq!(o.status.code(), Some(5));
}

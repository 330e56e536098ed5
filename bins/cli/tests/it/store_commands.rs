//! `c15tctl` on the store end to end: exit codes (2 invalid, 4 conflict, 5 not found), `--json`
//! on every listing, generation from a stored customer, and the key file's creation.

use std::os::unix::fs::PermissionsExt;

use crate::workspace::{Workspace, text};

fn ws() -> Workspace {
    Workspace::new("warn").with_example("turso-token", "meta-token", "ga4-secret")
}

fn revision(ws: &Workspace) -> u64 {
    ws.json(&["customer", "show", "cust_abc123", "--json"])["revision"]
        .as_u64()
        .expect("revision")
}

#[test]
fn keys_init_creates_a_private_key_file_and_never_overwrites_it() {
    let ws = Workspace::new("warn");
    let out = ws.ok(&["keys", "init"]);
    assert!(out.contains("(public key age1"), "{out}");
    let mode = std::fs::metadata(ws.key_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let before = std::fs::read(ws.key_file()).unwrap();

    let o = ws.run(&["keys", "init"], &[], None);
    assert!(!o.status.success());
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("already exists; refusing to overwrite it"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(ws.key_file()).unwrap(), before);
}

#[test]
fn storing_a_secret_without_a_key_file_says_to_run_keys_init() {
    let ws = Workspace::new("warn");
    let o = ws.run(
        &[
            "customer",
            "add",
            "--id",
            "cust_x",
            "--name",
            "X",
            "--turso-url",
            "libsql://x.turso.io",
            "--turso-token-from",
            "env:TOKEN",
        ],
        &[("TOKEN", "t")],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("run `c15tctl keys init`"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn every_listing_prints_json() {
    let ws = ws();
    let example = crate::workspace::example();
    let import = ws.run(
        &["import", "--config", example.to_str().unwrap(), "--json"],
        &[
            ("TURSO_AUTH_TOKEN", "turso-token"),
            ("META_PIXEL_ACCESS_TOKEN", "meta-token"),
            ("GA4_API_SECRET", "ga4-secret"),
        ],
        None,
    );
    let import: serde_json::Value = serde_json::from_slice(&import.stdout).unwrap();
    assert_eq!(
        import,
        serde_json::json!({"outcome": "unchanged", "revision": 1})
    );

    let customers = ws.json(&["customer", "list", "--json"]);
    assert_eq!(customers.as_array().unwrap().len(), 1);
    assert_eq!(customers[0]["id"], "cust_abc123");
    assert_eq!(customers[0]["revision"], 1);
    assert_eq!(customers[0]["destinations"], 3);

    let customer = ws.json(&["customer", "show", "cust_abc123", "--json"]);
    assert_eq!(customer["revision"], 1);
    assert_eq!(customer["spec"]["name"], "Customer ABC");
    let token = customer["spec"]["database"]["auth_token"]["stored"]
        .as_str()
        .unwrap();
    assert!(token.starts_with("hmac-sha256:"), "{token}");

    let destinations = ws.json(&["destination", "list", "--customer", "cust_abc123", "--json"]);
    let ids: Vec<&str> = destinations
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["meta-prod", "ga4-prod", "posthog"]);

    let meta = ws.json(&[
        "destination",
        "show",
        "--customer",
        "cust_abc123",
        "meta-prod",
        "--json",
    ]);
    assert_eq!(meta["type"], "meta-pixel");
    assert_eq!(meta["settings"]["pixelId"], "1234567890");
    assert!(
        meta["settings"]["accessToken"]["stored"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );

    let audit = ws.json(&["audit", "--json"]);
    let audit = audit.as_array().unwrap();
    assert_eq!(audit.len(), 1, "the unchanged import wrote an audit entry");
    assert_eq!(audit[0]["action"], "customer.import");
    assert_eq!(audit[0]["actor"], "cli-test");
    assert_eq!(audit[0]["customer"], "cust_abc123");
    let filtered = ws.json(&["audit", "--customer", "cust_abc123", "--json"]);
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let none = ws.json(&["audit", "--customer", "cust_other", "--json"]);
    assert_eq!(none, serde_json::json!([]));

    // The human forms show fingerprints, never values.
    let shown = ws.ok(&["customer", "show", "cust_abc123"]);
    assert!(shown.contains("token (secret, hmac-sha256:"), "{shown}");
    for value in ["turso-token", "meta-token", "ga4-secret"] {
        assert!(!shown.contains(value), "{shown}");
    }
}

#[test]
fn invalid_change_exits_2_with_every_problem_and_writes_nothing() {
    let ws = ws();
    let o = ws.run(
        &[
            "destination",
            "add",
            "--customer",
            "cust_abc123",
            "--id",
            "meta-bad",
            "--type",
            "meta-pixel",
            "--env",
            "qa",
            "--set",
            "pixelId=12ab",
            "--set",
            "pixelid=123456",
            "--secret",
            "accessToken=env:TOKEN",
        ],
        &[("TOKEN", "a-token-value")],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("3 problems found"), "{err}");
    for path in [
        "destinations[3].settings.pixelId: must contain only digits",
        "destinations[3].settings.pixelid: ",
        "destinations[3].environment: ",
    ] {
        assert!(err.contains(path), "`{path}` missing from: {err}");
    }
    assert!(!err.contains("a-token-value"), "{err}");
    assert_eq!(revision(&ws), 1);
    assert_eq!(ws.json(&["audit", "--json"]).as_array().unwrap().len(), 1);

    // An unknown type is listed with a suggestion.
    let o = ws.run(
        &[
            "destination",
            "add",
            "--customer",
            "cust_abc123",
            "--id",
            "x",
            "--type",
            "post-hog",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("did you mean `posthog`?"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(revision(&ws), 1);
}

#[test]
fn stale_expected_revision_exits_4_and_changes_nothing() {
    let ws = ws();
    ws.ok(&[
        "destination",
        "edit",
        "--customer",
        "cust_abc123",
        "posthog",
        "--name",
        "PostHog EU",
        "--expect-revision",
        "1",
    ]);
    assert_eq!(revision(&ws), 2);

    let stale: [&[&str]; 3] = [
        &[
            "destination",
            "edit",
            "--customer",
            "cust_abc123",
            "meta-prod",
            "--name",
            "Lost",
            "--expect-revision",
            "1",
        ],
        &[
            "destination",
            "remove",
            "--customer",
            "cust_abc123",
            "ga4-prod",
            "--expect-revision",
            "1",
        ],
        &[
            "customer",
            "edit",
            "cust_abc123",
            "--name",
            "Lost",
            "--expect-revision",
            "1",
        ],
    ];
    for args in stale {
        let o = ws.run(args, &[], None);
        assert_eq!(o.status.code(), Some(4), "{args:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(
                "customer `cust_abc123` changed since revision 1 (now 2); reload and apply your change again"
            ),
            "{}",
            text(&o.stderr)
        );
    }
    let customer = ws.json(&["customer", "show", "cust_abc123", "--json"]);
    assert_eq!(customer["revision"], 2);
    assert_eq!(customer["spec"]["name"], "Customer ABC");
    assert_eq!(
        customer["spec"]["destinations"][0]["name"],
        "Production Meta Pixel"
    );
    assert_eq!(
        customer["spec"]["destinations"].as_array().unwrap().len(),
        3
    );

    // With the current revision the same change goes through.
    ws.ok(&[
        "destination",
        "remove",
        "--customer",
        "cust_abc123",
        "ga4-prod",
        "--expect-revision",
        "2",
    ]);
    assert_eq!(revision(&ws), 3);
}

#[test]
fn missing_customer_or_destination_exits_5() {
    let ws = ws();
    let out = ws.path().join("out");
    let out = out.to_str().unwrap();
    let cases: [&[&str]; 7] = [
        &["customer", "show", "cust_nobody"],
        &["customer", "edit", "cust_nobody", "--name", "x"],
        &["customer", "remove", "cust_nobody"],
        &["destination", "list", "--customer", "cust_nobody"],
        &["destination", "show", "--customer", "cust_abc123", "nope"],
        &[
            "destination",
            "disable",
            "--customer",
            "cust_abc123",
            "nope",
        ],
        &["generate", "--customer", "cust_nobody", "--out", out],
    ];
    for args in cases {
        let o = ws.run(args, &[], None);
        assert_eq!(o.status.code(), Some(5), "{args:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("does not exist"),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    assert!(!ws.path().join("out").exists());
}

#[test]
fn generate_customer_writes_the_stored_project() {
    let ws = ws();
    let out = ws.path().join("out");
    let stdout = ws.ok(&[
        "generate",
        "--customer",
        "cust_abc123",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        stdout.starts_with("generated c15t-cust-abc123 (12 files, sha256:"),
        "{stdout}"
    );
    for file in crate::PROJECT_FILES {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let index = std::fs::read_to_string(out.join("src/index.ts")).unwrap();
    assert!(index.contains("environment production, config revision 1, input "));
    assert!(index.contains("accessToken: env.META_PIXEL_ACCESS_TOKEN,"));
    assert!(!index.contains("meta-token"));

    // A change shows in the next generation, with the new revision.
    ws.ok(&[
        "destination",
        "disable",
        "--customer",
        "cust_abc123",
        "meta-prod",
    ]);
    ws.ok(&[
        "generate",
        "--customer",
        "cust_abc123",
        "--out",
        out.to_str().unwrap(),
    ]);
    let again = std::fs::read_to_string(out.join("src/index.ts")).unwrap();
    assert!(again.contains("config revision 2, input "), "{again}");
    assert_ne!(again, index);

    // --revision belongs to file input only.
    let o = ws.run(
        &[
            "generate",
            "--customer",
            "cust_abc123",
            "--out",
            out.to_str().unwrap(),
            "--revision",
            "7",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}

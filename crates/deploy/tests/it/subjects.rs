//! Consent recorded for real: a generated worker's upload running in workerd, with the real
//! `@c15t/backend` talking through `@libsql/kysely-libsql` to the fake libSQL server (a real
//! SQLite database migrated by c15t's own migrator), answers `POST /subjects` and
//! `GET /subjects/:id` end to end.

use c15t_codegen::{Input, TargetProfile, generate, generate_worker_module};
use c15t_deploy::runtime::{RuntimeBundle, worker_modules};
use c15t_model::Environment;
use c15t_testkit::libsql::FakeLibsql;
use serde_json::json;

use crate::runtime::{node_modules, run_upload, runtime_build, seed_example};

/// The example customer's trusted origin (`examples/cust_abc123.toml`).
const TRUSTED_ORIGIN: &str = "https://customer-abc123.com";

#[test]
fn a_generated_worker_records_and_reads_consent_in_a_real_database() {
    let token = "libsql-token-canary-42";
    let database = FakeLibsql::start(token);
    database.migrate_c15t(&node_modules());

    let target = TargetProfile::default();
    let runtime = RuntimeBundle::build(&runtime_build(&target)).expect("runtime builds");
    let config = seed_example();
    let environment = Environment::production();
    let input = Input {
        config: &config,
        environment: &environment,
        target: &target,
        revision: 1,
    };
    let entry = generate_worker_module(&input, &runtime.specifier()).expect("entry generates");
    let project = generate(&input).expect("project generates");
    // `.dev.vars` overrides the config's database URL var with the fake's.
    let running = run_upload(
        &project,
        &worker_modules(entry, &runtime),
        &[
            ("TURSO_DATABASE_URL", database.url()),
            ("TURSO_AUTH_TOKEN", token),
            ("META_PIXEL_ACCESS_TOKEN", "unused"),
            ("GOOGLE_ANALYTICS_API_SECRET", "unused"),
        ],
    );
    let server = &running.server;

    // `GET /status` checks the database.
    let status = server
        .request("GET", "/status", &[], b"")
        .expect("GET /status");
    assert_eq!(status.status, 200, "{}", status.body);

    let subject_id = "sub_2jv6z8n4q9Ab";
    let given_at: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let body = json!({
        "subjectId": subject_id,
        "domain": "customer-abc123.com",
        "type": "cookie_banner",
        "preferences": { "necessary": true, "measurement": true, "marketing": false },
        "givenAt": given_at,
    })
    .to_string();
    let posted = server
        .request(
            "POST",
            "/subjects",
            &[
                ("Content-Type", "application/json"),
                ("Origin", TRUSTED_ORIGIN),
            ],
            body.as_bytes(),
        )
        .expect("POST /subjects");
    assert_eq!(posted.status, 200, "{}", posted.body);
    let recorded = posted.json();
    assert_eq!(recorded["subjectId"], subject_id, "{recorded}");
    assert_eq!(recorded["domain"], "customer-abc123.com", "{recorded}");
    assert_eq!(recorded["type"], "cookie_banner", "{recorded}");
    assert!(recorded["consentId"].is_string(), "{recorded}");
    assert_eq!(
        recorded["appliedPreferences"],
        json!({ "necessary": true, "measurement": true, "marketing": false }),
        "{recorded}"
    );
    // A trusted origin is echoed for CORS.
    assert_eq!(
        posted.header("access-control-allow-origin"),
        Some(TRUSTED_ORIGIN)
    );

    let read = server
        .request("GET", &format!("/subjects/{subject_id}"), &[], b"")
        .expect("GET /subjects/:id");
    assert_eq!(read.status, 200, "{}", read.body);
    let subject = read.json();
    assert_eq!(subject["subject"]["id"], subject_id, "{subject}");
    let consents = subject["consents"].as_array().expect("consents");
    assert_eq!(consents.len(), 1, "{subject}");
    assert_eq!(consents[0]["id"], recorded["consentId"], "{subject}");
    assert_eq!(consents[0]["type"], "cookie_banner", "{subject}");
    // c15t 2.2.1 stores the granted purposes only, so a denied one reads back as absent.
    assert_eq!(
        consents[0]["preferences"],
        json!({ "necessary": true, "measurement": true }),
        "{subject}"
    );

    // The consent is a row of the real database.
    let rows = database.query("SELECT count(*) FROM consent");
    assert_eq!(rows[0][0]["value"], "1", "{rows:?}");

    // An untrusted origin gets no CORS grant, but c15t still records what it is sent: the
    // browser, not the server, enforces CORS.
    let other = json!({
        "subjectId": "sub_3kw7a9p5r1Cd",
        "domain": "elsewhere.example",
        "type": "cookie_banner",
        "preferences": { "marketing": true },
        "givenAt": given_at,
    })
    .to_string();
    let untrusted = server
        .request(
            "POST",
            "/subjects",
            &[
                ("Content-Type", "application/json"),
                ("Origin", "https://evil.example"),
            ],
            other.as_bytes(),
        )
        .expect("POST /subjects from an untrusted origin");
    assert_eq!(untrusted.status, 200, "{}", untrusted.body);
    assert_eq!(untrusted.header("access-control-allow-origin"), None);

    // A body c15t's schema refuses (no `sub_` id) is a client error, nothing stored.
    let invalid = json!({
        "subjectId": "not-a-subject",
        "domain": "customer-abc123.com",
        "type": "cookie_banner",
        "preferences": {},
        "givenAt": given_at,
    })
    .to_string();
    let refused = server
        .request(
            "POST",
            "/subjects",
            &[("Content-Type", "application/json")],
            invalid.as_bytes(),
        )
        .expect("POST /subjects with a bad id");
    assert_eq!(refused.status / 100, 4, "{}", refused.body);
    let rows = database.query("SELECT count(*) FROM consent");
    assert_eq!(rows[0][0]["value"], "2", "{rows:?}");
}

//! `c15tctl user add|list|password`: admin UI accounts, with passwords read from standard input
//! or the environment and never printed or stored in plaintext.

use crate::workspace::{Workspace, text};

const PASSWORD: &str = "cli-canary-password-42";

#[test]
fn users_are_added_from_stdin_and_the_password_is_never_stored_or_printed() {
    let ws = Workspace::new("trace").with_example("turso-cli", "EAAcli-meta", "ga4-cli-secret");

    let o = ws.run(
        &[
            "user",
            "add",
            "--email",
            "Ops@Example.com",
            "--operator",
            "--password",
            "stdin",
        ],
        &[],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("ops@example.com"));
    assert!(!text(&o.stdout).contains(PASSWORD) && !text(&o.stderr).contains(PASSWORD));

    let o = ws.run(
        &[
            "user",
            "add",
            "--email",
            "admin@abc.example",
            "--customer",
            "cust_abc123",
            "--password",
            "env:ADMIN_PASSWORD",
        ],
        &[("ADMIN_PASSWORD", "another long password")],
        None,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));

    let users = ws.json(&["user", "list", "--json"]);
    assert_eq!(users[0]["email"], "ops@example.com");
    assert_eq!(users[0]["role"], "operator");
    assert_eq!(users[1]["role"], "customer_admin");
    assert_eq!(users[1]["customer"], "cust_abc123");

    // Refusals: taken email (exit 2), unknown customer (5), short password (2), both roles or
    // none (clap, 2), a password on the command line (2).
    let stdin = Some("yet another long password\n");
    let taken = ws.run(
        &[
            "user",
            "add",
            "--email",
            "ops@example.com",
            "--operator",
            "--password",
            "stdin",
        ],
        &[],
        stdin,
    );
    assert_eq!(taken.status.code(), Some(2), "{}", text(&taken.stderr));
    assert!(text(&taken.stderr).contains("already exists"));
    let unknown = ws.run(
        &[
            "user",
            "add",
            "--email",
            "b@example.com",
            "--customer",
            "cust_nope",
            "--password",
            "stdin",
        ],
        &[],
        stdin,
    );
    assert_eq!(unknown.status.code(), Some(5), "{}", text(&unknown.stderr));
    let short = ws.run(
        &[
            "user",
            "add",
            "--email",
            "c@example.com",
            "--operator",
            "--password",
            "stdin",
        ],
        &[],
        Some("short\n"),
    );
    assert_eq!(short.status.code(), Some(2));
    assert!(text(&short.stderr).contains("at least 12 characters"));
    let both = ws.run(
        &[
            "user",
            "add",
            "--email",
            "d@example.com",
            "--operator",
            "--customer",
            "cust_abc123",
        ],
        &[],
        stdin,
    );
    assert_eq!(both.status.code(), Some(2));
    let argv = ws.run(
        &[
            "user",
            "add",
            "--email",
            "e@example.com",
            "--operator",
            "--password",
            PASSWORD,
        ],
        &[],
        None,
    );
    assert_eq!(argv.status.code(), Some(2));
    assert!(
        !text(&argv.stderr).contains(PASSWORD),
        "the refused value is not echoed"
    );

    let changed = ws.run(
        &[
            "user",
            "password",
            "--email",
            "ops@example.com",
            "--password",
            "stdin",
        ],
        &[],
        Some("a brand new password\n"),
    );
    assert!(changed.status.success(), "{}", text(&changed.stderr));

    // Only the argon2id hash is stored.
    let db = std::fs::read(ws.db_file()).unwrap();
    let db = String::from_utf8_lossy(&db);
    assert!(!db.contains(PASSWORD) && !db.contains("a brand new password"));
    assert!(db.contains("$argon2id$"));
}

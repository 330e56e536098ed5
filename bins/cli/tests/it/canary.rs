//! The canary: secret values with unique markers go in through every way the CLI takes them
//! (environment on import, `env:VAR`, stdin), every command runs with trace logging, and no
//! marker may appear in any output, log line, generated file or database file. To show the
//! test can fail, the markers are then found by decrypting the vault with the real `age` CLI.

use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use c15t_model::CustomerId;
use c15t_store::{SeaStore, Store};

use crate::workspace::{Workspace, example, text};

/// The secret values, each unique to this run.
#[derive(Clone)]
struct Markers {
    turso: String,
    meta: String,
    ga4: String,
    add_token: String,
    edit_token: String,
    stdin: String,
    env: String,
    edit_secret: String,
    refused_set: String,
    in_file: String,
    removed_customer: String,
}

impl Markers {
    fn new() -> Self {
        let seed = RandomState::new().hash_one(std::process::id());
        let m = |name: &str| format!("CANARY{name}x{seed:016x}");
        Self {
            turso: m("TURSO"),
            meta: m("META"),
            ga4: m("GAFOUR"),
            add_token: m("ADDTOKEN"),
            edit_token: m("EDITTOKEN"),
            stdin: m("STDIN"),
            env: m("ENVVAR"),
            edit_secret: m("EDITSECRET"),
            refused_set: m("REFUSEDSET"),
            in_file: m("INFILE"),
            removed_customer: m("REMOVED"),
        }
    }

    fn all(&self) -> [(&'static str, &str); 11] {
        [
            ("turso", &self.turso),
            ("meta", &self.meta),
            ("ga4", &self.ga4),
            ("add_token", &self.add_token),
            ("edit_token", &self.edit_token),
            ("stdin", &self.stdin),
            ("env", &self.env),
            ("edit_secret", &self.edit_secret),
            ("refused_set", &self.refused_set),
            ("in_file", &self.in_file),
            ("removed_customer", &self.removed_customer),
        ]
    }

    /// Names of the markers found in `bytes`.
    fn found_in(&self, bytes: &[u8]) -> Vec<&'static str> {
        self.all()
            .into_iter()
            .filter(|(_, m)| bytes.windows(m.len()).any(|w| w == m.as_bytes()))
            .map(|(name, _)| name)
            .collect()
    }
}

struct Canary {
    ws: Workspace,
    markers: Markers,
    commands: usize,
}

impl Canary {
    fn assert_clean(&self, what: &str, bytes: &[u8]) {
        let found = self.markers.found_in(bytes);
        assert!(found.is_empty(), "secret markers {found:?} found in {what}");
    }

    /// The database files, read between commands (no process has them open).
    fn check_database(&self, after: &str) {
        for name in ["c15t.db", "c15t.db-wal", "c15t.db-shm"] {
            if let Ok(bytes) = std::fs::read(self.ws.path().join(name)) {
                self.assert_clean(&format!("{name} after `{after}`"), &bytes);
            }
        }
    }

    /// Runs one command with trace logging and checks its exit code and everything it printed.
    fn run(
        &mut self,
        args: &[&str],
        envs: &[(&str, &str)],
        stdin: Option<&str>,
        code: i32,
    ) -> Output {
        let o = self.ws.run(args, envs, stdin);
        let label = args.join(" ");
        assert_eq!(
            o.status.code(),
            Some(code),
            "`{label}`: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        self.assert_clean(&format!("stdout of `{label}`"), &o.stdout);
        self.assert_clean(&format!("stderr (trace logs) of `{label}`"), &o.stderr);
        self.check_database(&label);
        self.commands += 1;
        o
    }

    fn ok(&mut self, args: &[&str]) -> Output {
        self.run(args, &[], None, 0)
    }
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// `age --decrypt -i key_file` of a customer's vault, read from the database through the store.
fn decrypt_with_age(ws: &Workspace, customer: &str) -> Vec<u8> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let vault = rt.block_on(async {
        let store = SeaStore::connect(&ws.database_url()).await.unwrap();
        let stored = store
            .customer_get(&CustomerId::new(customer).unwrap())
            .await
            .unwrap()
            .unwrap();
        stored.vault.expect("a vault")
    });
    assert!(vault.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    let mut age = Command::new("age")
        .arg("--decrypt")
        .arg("-i")
        .arg(ws.key_file())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the `age` CLI is needed by this test (apt-get install age)");
    age.stdin
        .take()
        .unwrap()
        .write_all(vault.as_bytes())
        .unwrap();
    let o = age.wait_with_output().unwrap();
    assert!(o.status.success(), "age: {}", text(&o.stderr));
    o.stdout
}

#[test]
fn secret_markers_never_leave_the_vault() {
    let m = Markers::new();
    let mut c = Canary {
        ws: Workspace::new("trace"),
        markers: m.clone(),
        commands: 0,
    };
    let example = example();
    let example = example.to_str().unwrap();
    let import_env = [
        ("TURSO_AUTH_TOKEN", m.turso.as_str()),
        ("META_PIXEL_ACCESS_TOKEN", m.meta.as_str()),
        ("GA4_API_SECRET", m.ga4.as_str()),
    ];
    // A customer file with a secret written in it (outside the working directory, which is
    // scanned at the end): refused, and the value not shown.
    let elsewhere = tempfile::tempdir().unwrap();
    let bad = elsewhere.path().join("bad.toml");
    let bad_text = std::fs::read_to_string(example).unwrap().replace(
        "accessToken = { env = \"META_PIXEL_ACCESS_TOKEN\" }",
        &format!("accessToken = \"{}\"", m.in_file),
    );
    assert!(bad_text.contains(&m.in_file));
    std::fs::write(&bad, bad_text).unwrap();
    let bad = bad.to_str().unwrap();
    let out = |name: &str| c.ws.path().join("out").join(name);
    let (out_prod, out_staging, out_new, out_file) = (
        out("prod").display().to_string(),
        out("staging").display().to_string(),
        out("new").display().to_string(),
        out("file").display().to_string(),
    );

    // File commands and the catalogue, with the secrets in the environment.
    c.run(&["catalogue"], &import_env, None, 0);
    c.run(&["catalogue", "--json"], &import_env, None, 0);
    c.run(&["targets"], &import_env, None, 0);
    c.run(&["validate", "--config", example], &import_env, None, 0);
    c.run(
        &["generate", "--config", example, "--out", &out_file],
        &import_env,
        None,
        0,
    );
    c.run(&["validate", "--config", bad], &[], None, 2);
    c.run(
        &["generate", "--config", bad, "--out", &out_file],
        &[],
        None,
        2,
    );

    // Keys, schema, import.
    c.ok(&["keys", "init"]);
    c.ok(&["db", "migrate"]);
    c.run(&["import", "--config", bad], &import_env, None, 2);
    let imported = c.run(&["import", "--config", example], &import_env, None, 0);
    // The logs really were on (and scanned): the import logs its change.
    assert!(
        text(&imported.stderr).contains("configuration changed"),
        "{}",
        text(&imported.stderr)
    );
    c.run(
        &["import", "--config", example, "--json"],
        &import_env,
        None,
        0,
    );

    // Customers.
    c.ok(&["customer", "list"]);
    c.ok(&["customer", "list", "--json"]);
    c.ok(&["customer", "show", "cust_abc123"]);
    c.ok(&["customer", "show", "cust_abc123", "--json"]);
    c.run(
        &[
            "customer",
            "add",
            "--id",
            "cust_new",
            "--name",
            "New customer",
            "--origin",
            "https://new.example.com",
            "--turso-url",
            "libsql://cust-new.turso.io",
            "--turso-token-from",
            "env:NEW_TURSO_TOKEN",
        ],
        &[("NEW_TURSO_TOKEN", &m.add_token)],
        None,
        0,
    );
    c.run(
        &[
            "customer",
            "edit",
            "cust_new",
            "--name",
            "New customer, renamed",
            "--log-level",
            "debug",
            "--turso-token-from",
            "env:EDIT_TURSO_TOKEN",
        ],
        &[("EDIT_TURSO_TOKEN", &m.edit_token)],
        None,
        0,
    );
    c.run(
        &[
            "customer",
            "add",
            "--id",
            "cust_tmp",
            "--name",
            "Removed later",
            "--turso-url",
            "libsql://cust-tmp.turso.io",
            "--turso-token-from",
            "stdin",
        ],
        &[],
        Some(&format!("{}\n", m.removed_customer)),
        0,
    );

    // Destinations: a secret from stdin, from an environment variable, and one refused on the
    // command line.
    c.run(
        &[
            "destination",
            "add",
            "--customer",
            "cust_abc123",
            "--id",
            "meta-stdin",
            "--type",
            "meta-pixel",
            "--set",
            "pixelId=11111111",
            "--secret",
            "accessToken=stdin",
        ],
        &[],
        Some(&format!("{}\n", m.stdin)),
        0,
    );
    c.run(
        &[
            "destination",
            "add",
            "--customer",
            "cust_new",
            "--id",
            "meta-env",
            "--type",
            "meta-pixel",
            "--env",
            "production",
            "--set",
            "pixelId=22222222",
            "--secret",
            "accessToken=env:DEST_TOKEN",
        ],
        &[("DEST_TOKEN", &m.env)],
        None,
        0,
    );
    let set_arg = format!("accessToken={}", m.refused_set);
    let refused = c.run(
        &[
            "destination",
            "add",
            "--customer",
            "cust_new",
            "--id",
            "meta-set",
            "--type",
            "meta-pixel",
            "--set",
            "pixelId=33333333",
            "--set",
            &set_arg,
        ],
        &[],
        None,
        2,
    );
    assert!(
        text(&refused.stderr).contains("`accessToken` is a secret; use `--secret accessToken`"),
        "{}",
        text(&refused.stderr)
    );
    let secret_on_command_line = format!("accessToken={}", m.refused_set);
    c.run(
        &[
            "destination",
            "edit",
            "--customer",
            "cust_new",
            "meta-env",
            "--secret",
            &secret_on_command_line,
        ],
        &[],
        None,
        2,
    );
    for customer in ["cust_abc123", "cust_new"] {
        c.ok(&["destination", "list", "--customer", customer]);
        c.ok(&["destination", "list", "--customer", customer, "--json"]);
    }
    for (customer, id) in [
        ("cust_abc123", "meta-prod"),
        ("cust_abc123", "meta-stdin"),
        ("cust_abc123", "ga4-prod"),
        ("cust_new", "meta-env"),
    ] {
        c.ok(&["destination", "show", "--customer", customer, id]);
        c.ok(&["destination", "show", "--customer", customer, id, "--json"]);
    }
    c.run(
        &[
            "destination",
            "edit",
            "--customer",
            "cust_new",
            "meta-env",
            "--name",
            "Meta, edited",
            "--secret",
            "accessToken=stdin",
        ],
        &[],
        Some(&format!("{}\n", m.edit_secret)),
        0,
    );
    c.ok(&[
        "destination",
        "edit",
        "--customer",
        "cust_abc123",
        "meta-stdin",
        "--set",
        "testEventCode=TEST123",
    ]);
    c.ok(&[
        "destination",
        "disable",
        "--customer",
        "cust_abc123",
        "meta-stdin",
    ]);
    c.ok(&[
        "destination",
        "enable",
        "--customer",
        "cust_abc123",
        "meta-stdin",
    ]);
    c.ok(&[
        "destination",
        "remove",
        "--customer",
        "cust_abc123",
        "ga4-prod",
    ]);

    // Generation, audit, rotation, and everything read again with the rotated key.
    let generate_all = |c: &mut Canary| {
        c.ok(&["generate", "--customer", "cust_abc123", "--out", &out_prod]);
        c.ok(&[
            "generate",
            "--customer",
            "cust_abc123",
            "--env",
            "staging",
            "--target",
            "seed-v2",
            "--out",
            &out_staging,
        ]);
        c.ok(&["generate", "--customer", "cust_new", "--out", &out_new]);
    };
    generate_all(&mut c);
    c.ok(&["audit"]);
    c.ok(&["audit", "--json"]);
    c.ok(&["audit", "--customer", "cust_abc123", "--json"]);
    c.ok(&["keys", "rotate"]);
    c.ok(&["keys", "rotate"]);
    // The values are stored, encrypted: the real `age` CLI finds them with the (rotated) key
    // file. This also proves that the scans would catch a marker.
    let abc = decrypt_with_age(&c.ws, "cust_abc123");
    assert_eq!(c.markers.found_in(&abc), ["turso", "meta", "stdin"]);
    // Re-importing the file puts the customer back as the file says: `meta-stdin` and its
    // secret go, `ga4-prod` and its secret come back.
    c.run(&["import", "--config", example], &import_env, None, 0);
    c.ok(&["customer", "show", "cust_new", "--json"]);
    c.ok(&["destination", "show", "--customer", "cust_new", "meta-env"]);
    c.ok(&["customer", "remove", "cust_tmp"]);
    generate_all(&mut c);
    c.ok(&["audit", "--json", "--limit", "1000"]);
    c.ok(&["db", "migrate"]);
    c.ok(&["customer", "list", "--json"]);
    assert!(c.commands >= 50, "{} commands", c.commands);

    // Every file in the working directory: database files, key file, generated projects.
    let mut files = Vec::new();
    files_under(c.ws.path(), &mut files);
    for path in &files {
        c.assert_clean(&path.display().to_string(), &std::fs::read(path).unwrap());
    }
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(c.ws.path()).unwrap().display().to_string())
        .collect();
    for expected in [
        "c15t.db",
        "c15t.key",
        "out/prod/src/index.ts",
        "out/prod/.dev.vars.example",
        "out/staging/src/index.ts",
        "out/new/wrangler.jsonc",
        "out/file/src/index.ts",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }

    let abc = decrypt_with_age(&c.ws, "cust_abc123");
    assert_eq!(c.markers.found_in(&abc), ["turso", "meta", "ga4"]);
    let new = decrypt_with_age(&c.ws, "cust_new");
    // Replaced values (the first token, the first env secret) are gone from the vault.
    assert_eq!(c.markers.found_in(&new), ["edit_token", "edit_secret"]);
}

//! A temporary working directory for `c15tctl` on the store: a SQLite database and a key file in
//! it, passed through `C15T_DATABASE_URL` and `C15T_KEY_FILE`, and one way to run the binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Environment variables a developer's shell might set that would change what a test does.
const SCRUBBED: &[&str] = &[
    "C15T_DATABASE_URL",
    "C15T_KEY_FILE",
    "C15T_ACTOR",
    "C15T_CLOUDFLARE_API",
    "C15T_WORKERS_EDGE",
    "C15T_ROLLOUT",
    "C15T_ROLLOUT_DWELL_SECS",
    "C15T_DEPLOY_ROOT",
    "C15T_RUNTIME",
    "C15T_PUBLIC_URL",
    "C15T_WEBHOOK_ALLOW",
    "C15T_WEBHOOK_ALLOW_HTTP",
    "C15T_DEBOUNCE_MS",
    "C15T_RETRY_BASE_MS",
    "C15T_CLOUDFLARE_LIMIT",
    "C15T_CLOUDFLARE_WINDOW_SECS",
    "C15T_META_GRAPH_URL",
    "C15T_GA4_MP_URL",
    "C15T_POSTHOG_URL",
    "C15T_VENDOR_TIMEOUT_MS",
    "RUST_LOG",
    "TURSO_AUTH_TOKEN",
    "META_PIXEL_ACCESS_TOKEN",
    "GA4_API_SECRET",
];

/// The example customer file of the design document.
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cust_abc123.toml")
}

#[derive(Debug)]
pub struct Workspace {
    dir: tempfile::TempDir,
    log: &'static str,
}

impl Workspace {
    /// A fresh directory; `log` is the `RUST_LOG` every command runs with.
    pub fn new(log: &'static str) -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            log,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db_file(&self) -> PathBuf {
        self.path().join("c15t.db")
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.db_file().display())
    }

    pub fn key_file(&self) -> PathBuf {
        self.path().join("c15t.key")
    }

    /// `c15tctl args` set up to run in the directory with extra environment variables (for
    /// callers that start it themselves, e.g. to kill it).
    pub fn command(&self, args: &[&str], envs: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_c15tctl"));
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        cmd.current_dir(self.path())
            .args(args)
            .env("C15T_DATABASE_URL", self.database_url())
            .env("C15T_KEY_FILE", self.key_file())
            .env("C15T_ACTOR", "cli-test")
            .env("RUST_LOG", self.log)
            .envs(envs.iter().copied());
        cmd
    }

    /// Runs `c15tctl args` in the directory with extra environment variables and, if given,
    /// `stdin` as its standard input (otherwise standard input is empty).
    pub fn run(&self, args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut cmd = self.command(args, envs);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run c15tctl");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(text.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("wait for c15tctl")
    }

    /// Runs a command that must succeed and returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args, &[], None);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
        text(&o.stdout)
    }

    /// Runs a command that must succeed and parses its standard output as JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
    }

    /// `keys init` and an import of the example file with the given secret values.
    pub fn with_example(self, turso: &str, meta: &str, ga4: &str) -> Self {
        self.ok(&["keys", "init"]);
        let example = example();
        let o = self.run(
            &["import", "--config", example.to_str().unwrap()],
            &[
                ("TURSO_AUTH_TOKEN", turso),
                ("META_PIXEL_ACCESS_TOKEN", meta),
                ("GA4_API_SECRET", ga4),
            ],
            None,
        );
        assert!(o.status.success(), "import: {}", text(&o.stderr));
        self
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

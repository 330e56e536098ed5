//! Issue 19, findings 5 and 6: the database failing under a running server. A SQLite disk that
//! fills up and frees again (a 16 MiB tmpfs, filled to the last byte during writes), a SQLite
//! file on a read-only filesystem, and PostgreSQL ending every connection under load.
//!
//! The SQLite faults run the real server inside its own user, mount and PID namespaces
//! (`unshare`), where a shell mounts a tmpfs on the database's directory, arranges the fault
//! and then becomes the server: no fake filesystem, no fault injected into our own code.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::harness::{Env, Server};

const OPERATOR: &str = "fault-test-operator-token-0123456789";

/// Runs as `sh -c SCRIPT sh DB CTL MODE server args...` in fresh namespaces: mounts a 16 MiB
/// tmpfs on `DB`, arranges `MODE`, then replaces itself with the server.
///
/// - `full`: a background loop fills the tmpfs to the last byte once `CTL/fill` exists (and
///   then writes `CTL/filled`), and frees it once `CTL/free` exists (then `CTL/freed`).
/// - `read-only`: copies `CTL/seed/` into the tmpfs and remounts it read-only.
const SCRIPT: &str = r#"
set -eu
db=$1; ctl=$2; mode=$3; shift 3
mount -t tmpfs -o size=16m,mode=0755 tmpfs "$db"
case "$mode" in
  full)
    (
      while [ ! -e "$ctl/fill" ]; do sleep 0.05; done
      head -c 64m /dev/zero > "$db/ballast" 2>/dev/null || true
      touch "$ctl/filled"
      while [ ! -e "$ctl/free" ]; do sleep 0.05; done
      rm -f "$db/ballast"
      touch "$ctl/freed"
    ) &
    ;;
  read-only)
    cp -a "$ctl/seed/." "$db/"
    mount -o remount,ro "$db"
    ;;
esac
exec "$@"
"#;

/// The command that runs `SCRIPT` in fresh user, mount and PID namespaces with the fault
/// `mode` arranged on `env`'s `db` subdirectory and `ctl` as the control directory; the server
/// and its arguments follow.
fn fault_wrapper(env: &Env, ctl: &Path, mode: &str) -> Vec<OsString> {
    [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "--",
        "sh",
        "-c",
        SCRIPT,
        "sh",
    ]
    .into_iter()
    .map(OsString::from)
    .chain([
        env.dir.path().join("db").into_os_string(),
        ctl.as_os_str().to_owned(),
        mode.into(),
    ])
    .collect()
}

/// Starts the server on `env` (a database in its `db` subdirectory) inside the namespaces,
/// with the fault `mode` arranged and `ctl` as the control directory.
fn start_with_fault(env: &Env, ctl: &Path, mode: &str) -> Server {
    let wrapper = fault_wrapper(env, ctl, mode);
    let wrapper: Vec<&OsStr> = wrapper.iter().map(OsString::as_os_str).collect();
    env.start_wrapped(&wrapper, &[], &[("C15T_OPERATOR_TOKENS", OPERATOR)])
}

fn control_dir(env: &Env) -> PathBuf {
    let ctl = env.dir.path().join("ctl");
    std::fs::create_dir_all(&ctl).unwrap();
    ctl
}

/// Waits at most 20 s for the file `path` to appear.
fn wait_for(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An answer, read whole.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The revision its `ETag` names.
    fn revision(&self) -> u64 {
        let etag = self.headers["etag"].to_str().unwrap();
        etag.trim_matches('"').parse().unwrap()
    }

    /// `true` for the documented answer to a full, read-only or unreachable database: 503 with
    /// the fault's code and a `Retry-After`.
    fn is_fault(&self, code: &str) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE
            && self.json()["code"] == code
            && self.headers.contains_key("retry-after")
    }
}

/// The operator's client of one server.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(server: &Server) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: server.url(""),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(OPERATOR);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    async fn create_customer(&self, id: &str) -> Answer {
        let body = json!({
            "id": id,
            "name": "Fault test",
            "database": {"url": "libsql://fault.turso.io", "auth_token": "t"},
        });
        self.send(reqwest::Method::POST, "/api/v1/customers", Some(body))
            .await
    }

    async fn rename(&self, id: &str, name: &str) -> Answer {
        self.send(
            reqwest::Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(json!({ "name": name })),
        )
        .await
    }

    async fn get_customer(&self, id: &str) -> Answer {
        self.send(
            reqwest::Method::GET,
            &format!("/api/v1/customers/{id}"),
            None,
        )
        .await
    }

    async fn readyz(&self) -> Answer {
        self.send(reqwest::Method::GET, "/readyz", None).await
    }
}

/// Asserts the stored customer is the last committed one: its revision and name.
async fn assert_committed(api: &Api, id: &str, revision: u64, name: &str) {
    let read = api.get_customer(id).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(
        (
            read.revision(),
            read.json()["name"].as_str().unwrap_or_default()
        ),
        (revision, name),
        "a read saw a revision that was never committed"
    );
}

fn count(logs: &str, needle: &str) -> usize {
    logs.lines().filter(|line| line.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_503_and_the_server_recovers_within_seconds_once_space_returns() {
    let env = Env::sqlite_in("db");
    let ctl = control_dir(&env);
    let server = start_with_fault(&env, &ctl, "full");
    let api = Api::new(&server);
    let created = api.create_customer("cust_full").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let mut committed = (created.revision(), "Fault test".to_owned());

    // The disk fills to the last byte; writes go on until SQLite cannot write any more.
    std::fs::write(ctl.join("fill"), "").unwrap();
    wait_for(&ctl.join("filled"));
    let mut full_at = None;
    for i in 0..5000 {
        let name = format!("Renamed {i}");
        let answer = api.rename("cust_full", &name).await;
        if answer.status == StatusCode::OK {
            committed = (answer.revision(), name);
            continue;
        }
        assert!(
            answer.is_fault("database_full"),
            "write {i} while the disk is full: {} {}\n{}",
            answer.status,
            answer.body,
            server.logs()
        );
        assert!(
            answer.json()["message"]
                .as_str()
                .is_some_and(|m| m.contains("full")),
            "{}",
            answer.body
        );
        full_at = Some(i);
        break;
    }
    assert!(full_at.is_some(), "5,000 writes fitted on a full disk");

    // While it stays full: every write is the same 503, every read the last committed state,
    // and readiness says why.
    for i in 0..10 {
        let answer = api.rename("cust_full", &format!("Never {i}")).await;
        assert!(
            answer.is_fault("database_full") || answer.status == StatusCode::OK,
            "a write on the full disk: {} {}",
            answer.status,
            answer.body
        );
        if answer.status == StatusCode::OK {
            committed = (answer.revision(), format!("Never {i}"));
        }
        assert_committed(&api, "cust_full", committed.0, &committed.1).await;
    }
    let ready = api.readyz().await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        ready.body
    );
    assert_eq!(ready.body, "not ready: the database is full\n");

    // Space returns: within seconds, without a restart, writes succeed again.
    std::fs::write(ctl.join("free"), "").unwrap();
    wait_for(&ctl.join("freed"));
    let freed = Instant::now();
    loop {
        let answer = api.rename("cust_full", "Recovered").await;
        if answer.status == StatusCode::OK {
            committed = (answer.revision(), "Recovered".to_owned());
            break;
        }
        assert!(
            freed.elapsed() < Duration::from_secs(10),
            "still failing 10 s after space returned: {} {}\n{}",
            answer.status,
            answer.body,
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..30 {
        let name = format!("After {i}");
        let answer = api.rename("cust_full", &name).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "write {i} after recovery: {}",
            answer.body
        );
        assert_eq!(answer.revision(), committed.0 + 1);
        committed = (answer.revision(), name);
        assert_committed(&api, "cust_full", committed.0, &committed.1).await;
    }
    let other = api.create_customer("cust_after").await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    let ready = api.readyz().await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (StatusCode::OK, "ready\n")
    );

    let logs = server.logs();
    assert_eq!(count(&logs, "database is locked"), 0, "{logs}");
    assert!(count(&logs, "job queue unavailable") <= 6, "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_is_not_ready_and_its_writes_are_503_without_a_log_storm() {
    let env = Env::sqlite_in("db");
    let ctl = control_dir(&env);
    // A database with a customer in it, as a filesystem that turns read-only under a running
    // server leaves it: the database, its write-ahead log and its index, copied while the
    // server that wrote them is idle.
    let seed = ctl.join("seed");
    std::fs::create_dir(&seed).unwrap();
    let revision = {
        let mut server = env.start_with(&[], &[("C15T_OPERATOR_TOKENS", OPERATOR)]);
        let api = Api::new(&server);
        let created = api.create_customer("cust_ro").await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let mut copied = Vec::new();
        for entry in std::fs::read_dir(env.dir.path().join("db")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), seed.join(entry.file_name())).unwrap();
            copied.push(entry.file_name().to_string_lossy().into_owned());
        }
        copied.sort();
        assert_eq!(copied, ["c15t.db", "c15t.db-shm", "c15t.db-wal"]);
        server.terminate();
        assert!(server.wait(Duration::from_secs(30)).success());
        created.revision()
    };

    let server = start_with_fault(&env, &ctl, "read-only");
    let api = Api::new(&server);
    let started = Instant::now();
    let ready = api.readyz().await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        ready.body
    );
    assert_eq!(ready.body, "not ready: the database is read-only\n");
    // Reads are served; writes are 503 naming the fault, and change nothing.
    assert_committed(&api, "cust_ro", revision, "Fault test").await;
    for i in 0..5 {
        let answer = api.rename("cust_ro", &format!("Never {i}")).await;
        assert!(
            answer.is_fault("database_read_only"),
            "{} {}",
            answer.status,
            answer.body
        );
        let created = api.create_customer(&format!("cust_ro{i}")).await;
        assert!(created.is_fault("database_read_only"), "{}", created.body);
    }
    assert_committed(&api, "cust_ro", revision, "Fault test").await;

    // Over five seconds the job runner backs off: a handful of warnings, not twenty.
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(started.elapsed())).await;
    let logs = server.logs();
    let warnings = count(&logs, "job queue unavailable");
    assert!(warnings <= 6, "{warnings} runner warnings in 5 s:\n{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanly_closed_database_on_a_read_only_filesystem_stops_the_start_with_the_reason() {
    let env = Env::sqlite_in("db");
    let ctl = control_dir(&env);
    {
        let mut server = env.start(&[]);
        server.terminate();
        assert!(server.wait(Duration::from_secs(30)).success());
    }
    // The database file alone, as a shutdown whose last connection checkpoints leaves it (it
    // removes the write-ahead log and its index).
    let seed = ctl.join("seed");
    std::fs::create_dir(&seed).unwrap();
    std::fs::copy(
        env.dir.path().join("db").join("c15t.db"),
        seed.join("c15t.db"),
    )
    .unwrap();

    let wrapper = fault_wrapper(&env, &ctl, "read-only");
    let output = std::process::Command::new(&wrapper[0])
        .args(&wrapper[1..])
        .arg(env!("CARGO_BIN_EXE_c15t-server"))
        .args(["--listen", "127.0.0.1:0", "--database-url", &env.url])
        .arg("--key-file")
        .arg(env.key_path())
        .env("C15T_HEALTH_INTERVAL_SECS", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it started:\n{log}");
    assert!(
        log.contains("is on a read-only filesystem and its -wal and -shm files are missing"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ending_every_connection_under_load_is_survived_within_seconds() {
    let env = Env::postgres().await;
    let server = env.start_with(&[], &[("C15T_OPERATOR_TOKENS", OPERATOR)]);
    let api = Api::new(&server);
    let created = api.create_customer("cust_pg").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let admin = Database::connect(env.url.as_str()).await.unwrap();
    let terminate = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()";

    for round in 0..3 {
        // Every connection the server holds ends, as on a PostgreSQL restart.
        let ended = admin
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                terminate,
            ))
            .await
            .unwrap()
            .unwrap();
        let ended: i64 = ended.try_get_by_index(0).unwrap();
        assert!(ended > 0, "round {round}: the server held no connection");
        let since = Instant::now();
        let mut in_a_row = 0;
        let mut i = 0;
        while in_a_row < 50 {
            i += 1;
            let name = format!("Round {round} write {i}");
            let write = api.rename("cust_pg", &name).await;
            let read = api.get_customer("cust_pg").await;
            for answer in [&write, &read] {
                assert!(
                    answer.status.is_success() || answer.is_fault("database_unavailable"),
                    "round {round}: {} {}",
                    answer.status,
                    answer.body
                );
            }
            if write.status.is_success() && read.status.is_success() {
                assert_eq!(read.revision(), write.revision());
                in_a_row += 1;
            } else {
                in_a_row = 0;
                assert!(
                    since.elapsed() < Duration::from_secs(5),
                    "round {round}: still failing after 5 s\n{}",
                    server.logs()
                );
            }
        }
        let ready = api.readyz().await;
        assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    }
    admin.close().await.unwrap();
}

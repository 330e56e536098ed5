//! Test environments (a temporary directory with a SQLite file, or a fresh PostgreSQL database
//! dropped at the end) and a running `c15t-server` process whose log lines are collected.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// A directory for the key file and a database.
#[derive(Debug)]
pub struct Env {
    pub dir: tempfile::TempDir,
    pub url: String,
    _postgres: Option<c15t_testkit::postgres::TestDatabase>,
}

impl Env {
    /// A SQLite file in a temporary directory (no key file yet: the server creates it).
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("c15t.db").display());
        Self {
            dir,
            url,
            _postgres: None,
        }
    }

    /// A SQLite file in the subdirectory `sub` of a temporary directory (which is created; the
    /// key file stays beside it, so a test may mount another filesystem on `sub`).
    pub fn sqlite_in(sub: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join(sub).join("c15t.db").display()
        );
        Self {
            dir,
            url,
            _postgres: None,
        }
    }

    /// A fresh PostgreSQL database.
    pub async fn postgres() -> Self {
        let db = c15t_testkit::postgres::TestDatabase::create("c15t_srv_test").await;
        Self {
            dir: tempfile::tempdir().unwrap(),
            url: db.url().to_owned(),
            _postgres: Some(db),
        }
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("c15t.key")
    }

    /// Starts a server on this environment with `args` added.
    pub fn start(&self, args: &[&str]) -> Server {
        Server::start(self, args, &[])
    }

    /// Starts a server with `args` added and the environment variables `vars` set.
    pub fn start_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Server {
        Server::start(self, args, vars)
    }

    /// Starts a server with `args` added and the environment variables `vars` set, as the last
    /// arguments of the command `wrapper` (which must end by executing them, as
    /// `unshare ... sh -c '...; exec "$@"'` does).
    pub fn start_wrapped(
        &self,
        wrapper: &[&std::ffi::OsStr],
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Server {
        Server::spawn(self, Some(wrapper), args, vars)
    }

    /// Runs a server on this environment that is expected to stop by itself (a refused
    /// start): its exit status and log once it exited, or `None` and the log if it was still
    /// running after `limit` (it is killed then).
    pub fn run_to_exit(&self, limit: Duration) -> (Option<ExitStatus>, String) {
        let mut child = command()
            .env("C15T_HEALTH_INTERVAL_SECS", "0")
            .current_dir(self.dir.path())
            .args(["--listen", "127.0.0.1:0"])
            .args(["--database-url", &self.url])
            .arg("--key-file")
            .arg(self.key_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start c15t-server");
        let stderr = child.stderr.take().expect("stderr is piped");
        let reader =
            std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                break Some(status);
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, reader.join().unwrap_or_default())
    }
}

/// A running `c15t-server`, killed on drop if it is still running.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

/// A `Command` for the server binary with no `C15T_*` variable inherited.
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_c15t-server"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("C15T_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "info");
    cmd
}

impl Server {
    fn start(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Self {
        Self::spawn(env, None, args, vars)
    }

    fn spawn(
        env: &Env,
        wrapper: Option<&[&std::ffi::OsStr]>,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Self {
        let mut cmd = command();
        if let Some((program, rest)) = wrapper.and_then(<[_]>::split_first) {
            let mut wrapped = Command::new(program);
            wrapped.args(rest).arg(cmd.get_program()).env_clear();
            for (key, value) in std::env::vars_os() {
                if !key.to_string_lossy().starts_with("C15T_") {
                    wrapped.env(&key, value);
                }
            }
            for (key, value) in cmd.get_envs() {
                if let Some(value) = value {
                    wrapped.env(key, value);
                }
            }
            cmd = wrapped;
        }
        let mut child = cmd
            // No health probes unless a test asks (a flag overrides the variable).
            .env("C15T_HEALTH_INTERVAL_SECS", "0")
            .envs(vars.iter().copied())
            .current_dir(env.dir.path())
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(["--database-url", &env.url])
            .arg("--key-file")
            .arg(env.key_path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start c15t-server");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
                        && json["message"] == "listening"
                        && let Some(addr) = json["addr"].as_str()
                    {
                        let _ = addr_tx.send(addr.parse::<SocketAddr>().expect("address"));
                    }
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let addr = match addr_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the server did not start listening; its log:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        };
        Self { child, addr, logs }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// The exit status if the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait for the server")
    }

    /// Waits at most `limit` for the process to exit.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "the server did not exit within {limit:?}; its log:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every log line so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// The log once it contains `needle` (lines reach it through a pipe and a reader thread,
    /// so a line the server wrote before answering may arrive after the answer), or as it is
    /// after 10 s.
    pub async fn logs_containing(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let logs = self.logs();
            if logs.contains(needle) || Instant::now() > deadline {
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

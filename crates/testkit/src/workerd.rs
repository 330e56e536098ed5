//! Generated workers running for real in workerd through `wrangler dev` (from the npm
//! toolchain `cargo xtask npm` installs): started on free loopback ports, asked over plain
//! HTTP/1.1, stopped with their whole process group (wrangler starts workerd as a child) on
//! drop.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long workerd gets to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// A `wrangler dev` process serving a project directory.
#[derive(Debug)]
pub struct WranglerDev {
    child: Child,
    port: u16,
}

impl WranglerDev {
    /// Starts `wrangler` (the `.bin/wrangler` of a `node_modules`) as `wrangler dev` in `dir`,
    /// which holds the project's wrangler config (and `.dev.vars` for its secrets).
    ///
    /// # Panics
    /// When wrangler cannot be started.
    pub fn start(wrangler: &Path, dir: &Path) -> Self {
        let port = free_port();
        let inspector = free_port();
        let child = Command::new(wrangler)
            .args(["dev", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--inspector-port",
                &inspector.to_string(),
                "--log-level",
                "warn",
            ])
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {} dev: {e}", wrangler.display()));
        Self { child, port }
    }

    /// The loopback port it serves.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `GET path`: the status line and the body.
    ///
    /// # Errors
    /// When nothing answers on the port (yet).
    pub fn get(&self, path: &str) -> std::io::Result<(String, String)> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response.lines().next().unwrap_or_default().to_owned();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// `GET path` once workerd answers (it takes seconds to start).
    ///
    /// # Panics
    /// When it has not answered within 90 seconds.
    pub fn get_when_ready(&self, path: &str) -> (String, String) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.get(path) {
                Ok(response) => return response,
                Err(e) if Instant::now() >= deadline => {
                    panic!("wrangler dev did not answer on port {}: {e}", self.port)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }
}

impl Drop for WranglerDev {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// The path of c15t's analytics scripts route for a consent state given as JSON, e.g.
/// `{"marketing":true}`.
pub fn consent_path(json: &str) -> String {
    let encoded: String = json
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("/analytics/scripts?consent={encoded}")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

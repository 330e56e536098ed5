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

    /// `method path` with `headers` and `body` (a `Content-Length` is added): the status, the
    /// headers and the body (de-chunked).
    ///
    /// # Errors
    /// When nothing answers on the port (yet), or the answer is not HTTP/1.1.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<HttpResponse> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        // Read until the body is complete rather than until the peer closes: wrangler's proxy
        // may keep the connection open for seconds after answering.
        let mut raw = Vec::new();
        let mut buf = [0_u8; 16 * 1024];
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if HttpResponse::is_complete(&raw) {
                break;
            }
        }
        HttpResponse::parse(&raw)
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

/// An HTTP/1.1 answer read by [`WranglerDev::request`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked, as text (lossy).
    pub body: String,
}

impl HttpResponse {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// When it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }

    /// Whether `raw` holds a whole response: its head and, by `Content-Length` or the last
    /// chunk, all of its body.
    fn is_complete(raw: &[u8]) -> bool {
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let body = &raw[split + 4..];
        let value = |name: &str| {
            head.split("\r\n")
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.trim() == name)
                .map(|(_, v)| v.trim().to_owned())
        };
        if let Some(length) = value("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body.len() >= length
        } else if value("transfer-encoding").is_some_and(|v| v == "chunked") {
            dechunk(body).is_some()
        } else {
            false
        }
    }

    fn parse(raw: &[u8]) -> std::io::Result<Self> {
        let invalid =
            |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned());
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| invalid("no end of the response head"))?;
        let head = String::from_utf8_lossy(&raw[..split]);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| invalid("no status line"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        if chunked {
            body = dechunk(&body).ok_or_else(|| invalid("a malformed chunked body"))?;
        }
        Ok(Self {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// The payload of a `Transfer-Encoding: chunked` body.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
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

/// Modules run as they are, the way a deployer uploads them: `wrangler dev` without bundling
/// in a directory holding only these files (no `node_modules`, so nothing else can load).
#[derive(Debug)]
pub struct UnbundledWorker {
    /// The running worker.
    pub server: WranglerDev,
    _dir: tempfile::TempDir,
}

impl UnbundledWorker {
    /// Writes `modules` (the first is `main`), the project's `wrangler.jsonc` made unbundled
    /// (`main` the first module, `no_bundle`, every `.js` an ES module) and `vars` as
    /// `.dev.vars`, starts `wrangler` there and waits until `ready_path` answers.
    ///
    /// # Panics
    /// When the config is not JSON, a file cannot be written or the worker does not start.
    pub fn start(
        wrangler: &Path,
        wrangler_jsonc: &str,
        modules: &[(&str, &[u8])],
        vars: &[(&str, &str)],
        ready_path: &str,
    ) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("c15t-upload-")
            .tempdir()
            .expect("temp dir");
        for (name, bytes) in modules {
            std::fs::write(dir.path().join(name), bytes).expect("write module");
        }
        // Generated configs hold whole-line `//` comments only.
        let json: String = wrangler_jsonc
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut config: serde_json::Value =
            serde_json::from_str(&json).expect("wrangler.jsonc is JSON");
        let object = config.as_object_mut().expect("an object");
        object.remove("$schema");
        let main = modules.first().map_or("index.js", |(name, _)| name);
        object.insert("main".into(), main.into());
        object.insert("no_bundle".into(), true.into());
        object.insert("find_additional_modules".into(), true.into());
        object.insert(
            "rules".into(),
            serde_json::json!([{ "type": "ESModule", "globs": ["**/*.js"], "fallthrough": false }]),
        );
        std::fs::write(dir.path().join("wrangler.json"), config.to_string())
            .expect("write wrangler.json");
        let dev_vars: String = vars
            .iter()
            .map(|(name, value)| format!("{name}={value}\n"))
            .collect();
        std::fs::write(dir.path().join(".dev.vars"), dev_vars).expect("write .dev.vars");
        let server = WranglerDev::start(wrangler, dir.path());
        server.get_when_ready(ready_path);
        Self { server, _dir: dir }
    }

    /// CPU time (user + system) the worker's `workerd` processes have used so far, from
    /// `/proc` (Linux): what running the worker costs, without wrangler's own Node.js.
    pub fn workerd_cpu(&self) -> Duration {
        let ticks = clock_ticks();
        let mut total = 0u64;
        for pid in descendants(self.server.child.id()) {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // `pid (comm) state ...`: the name may hold spaces, so split after the last `)`.
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            if !head.ends_with("(workerd") {
                continue;
            }
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
            let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
            let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
            total += utime + stime;
        }
        Duration::from_secs_f64(total as f64 / ticks as f64)
    }
}

/// The unit of `/proc/<pid>/stat`'s times: `USER_HZ`, which Linux fixes at 100 for user space
/// on every architecture this runs on (whatever the kernel's own tick rate).
fn clock_ticks() -> u64 {
    100
}

/// A process and all its descendants, from `/proc/<pid>/task/*/children`.
fn descendants(root: u32) -> Vec<u32> {
    let mut all = vec![root];
    let mut next = 0;
    while next < all.len() {
        let pid = all[next];
        next += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
                all.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
    }
    all
}

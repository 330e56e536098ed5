//! Headless Chromium driven through chromedriver: a minimal client of the W3C WebDriver
//! protocol (<https://www.w3.org/TR/webdriver2/>), the dozen commands the browser tests need,
//! over the workspace's HTTP client.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`;
//! `.ci/run` installs them). `C15T_CHROMEDRIVER` overrides the driver (default `chromedriver`
//! on the PATH) and `C15T_CHROMIUM` the browser binary (default `/usr/bin/chromium`).
//!
//! ```no_run
//! # async fn demo() {
//! use c15t_testkit::webdriver::Chromedriver;
//! let driver = Chromedriver::start().await;
//! let browser = driver.chromium(&["--window-size=1280,900"]).await;
//! browser.goto("http://127.0.0.1:8080/").await.unwrap();
//! let title = browser.execute("return document.title", &[]).await.unwrap();
//! browser.close().await.unwrap();
//! # }
//! ```

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long chromedriver gets to listen on its port.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The switches every session's Chromium starts with: headless, no sandbox (tests run as
/// root in containers), and none of the background traffic a fresh profile makes (component
/// updates, sync, QUIC probes, first-run pages), so a test sees only the requests its page
/// makes.
pub const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// A chromedriver process on a free loopback port, started in a process group of its own
/// and ended with that group (the Chromium processes it started included) when dropped.
#[derive(Debug)]
pub struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    /// Starts chromedriver (`C15T_CHROMEDRIVER` or `chromedriver` on the PATH) and waits until
    /// it listens.
    ///
    /// # Panics
    /// When it cannot be started or does not listen within 20 seconds.
    pub async fn start() -> Self {
        let program =
            std::env::var("C15T_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
        let port = free_port();
        let child = Command::new(&program)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "`{program}` is needed by the browser tests (Debian: apt-get install chromium chromium-driver): {e}"
                )
            });
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }

    /// The driver's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A session of headless Chromium (`C15T_CHROMIUM` or `/usr/bin/chromium`) started with
    /// [`CHROMIUM_ARGS`], a fresh profile (`--user-data-dir`, removed when the client is
    /// closed or dropped) and `args`.
    ///
    /// # Panics
    /// When chromedriver cannot start the browser.
    pub async fn chromium(&self, args: &[&str]) -> Client {
        let binary =
            std::env::var("C15T_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let profile = tempfile::Builder::new()
            .prefix("c15t-chromium-")
            .tempdir()
            .expect("temp dir for the Chromium profile");
        let mut all: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        all.push(format!("--user-data-dir={}", profile.path().display()));
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": binary, "args": all },
        });
        let mut client = Client::start(&self.url, capabilities)
            .await
            .unwrap_or_else(|e| panic!("chromedriver starts a Chromium session: {e}"));
        client.profile = Some(profile);
        client
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// One browser session.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    session: String,
    profile: Option<tempfile::TempDir>,
}

/// An element of the current page.
#[derive(Debug)]
pub struct Element<'a> {
    client: &'a Client,
    id: String,
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let answer: Value = response.json().await.map_err(|e| e.to_string())?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() {
        Ok(value)
    } else {
        Err(format!(
            "{}: {}",
            value["error"].as_str().unwrap_or("error"),
            value["message"].as_str().unwrap_or_default()
        ))
    }
}

impl Client {
    /// Starts a session with `capabilities` at the driver listening on `driver` (its base
    /// URL). [`Chromedriver::chromium`] is the usual way to get one.
    ///
    /// # Errors
    /// The driver's error when it refuses the session.
    pub async fn start(driver: &str, capabilities: Value) -> Result<Self, String> {
        let http = reqwest::Client::new();
        let body = json!({ "capabilities": { "alwaysMatch": capabilities } });
        let value = call(
            &http,
            reqwest::Method::POST,
            &format!("{driver}/session"),
            Some(body),
        )
        .await?;
        let id = value["sessionId"].as_str().ok_or("no session id")?;
        Ok(Self {
            http,
            session: format!("{driver}/session/{id}"),
            profile: None,
        })
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        call(
            &self.http,
            reqwest::Method::GET,
            &format!("{}{path}", self.session),
            None,
        )
        .await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}{path}", self.session),
            Some(body),
        )
        .await
    }

    /// Navigates to `url` and waits for the page to load.
    ///
    /// # Errors
    /// The driver's error (e.g. a page load timeout).
    pub async fn goto(&self, url: &str) -> Result<(), String> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// The current page's URL.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn current_url(&self) -> Result<String, String> {
        Ok(self
            .get("/url")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The first element matching a CSS selector.
    ///
    /// # Errors
    /// `no such element` when nothing matches (yet).
    pub async fn find(&self, selector: &str) -> Result<Element<'_>, String> {
        let value = self
            .post(
                "/element",
                json!({ "using": "css selector", "value": selector }),
            )
            .await?;
        let id = value[ELEMENT].as_str().ok_or("no element reference")?;
        Ok(Element {
            client: self,
            id: id.to_owned(),
        })
    }

    /// The page's HTML as the browser has it now.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn source(&self) -> Result<String, String> {
        Ok(self
            .get("/source")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Runs `script` (a function body: `return` gives the answer) in the page with `args` as
    /// `arguments`, and answers what it returned, as WebDriver serialises it (JSON values;
    /// return `JSON.parse(JSON.stringify(x))` for anything else).
    ///
    /// # Errors
    /// The driver's error, e.g. `javascript error` when the script throws.
    pub async fn execute(&self, script: &str, args: &[Value]) -> Result<Value, String> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// A PNG of the viewport.
    ///
    /// # Errors
    /// The driver's error, or a screenshot that is not base64.
    pub async fn screenshot(&self) -> Result<Vec<u8>, String> {
        let value = self.get("/screenshot").await?;
        base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    /// Ends the session (and closes the browser).
    ///
    /// # Errors
    /// The driver's error.
    pub async fn close(mut self) -> Result<(), String> {
        let result = call(&self.http, reqwest::Method::DELETE, &self.session, None)
            .await
            .map(drop);
        drop(self.profile.take());
        result
    }
}

impl Element<'_> {
    fn path(&self, what: &str) -> String {
        format!("/element/{}/{what}", self.id)
    }

    /// Clicks it.
    ///
    /// # Errors
    /// The driver's error (e.g. the element is stale or covered).
    pub async fn click(&self) -> Result<(), String> {
        self.client
            .post(&self.path("click"), json!({}))
            .await
            .map(drop)
    }

    /// Empties an input.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn clear(&self) -> Result<(), String> {
        self.client
            .post(&self.path("clear"), json!({}))
            .await
            .map(drop)
    }

    /// Types `text` into it.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn send_keys(&self, text: &str) -> Result<(), String> {
        self.client
            .post(&self.path("value"), json!({ "text": text }))
            .await
            .map(drop)
    }

    /// Its rendered text.
    ///
    /// # Errors
    /// The driver's error (e.g. a stale element after a navigation).
    pub async fn text(&self) -> Result<String, String> {
        Ok(self
            .client
            .get(&self.path("text"))
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// An HTML attribute.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn attr(&self, name: &str) -> Result<Option<String>, String> {
        Ok(self
            .client
            .get(&self.path(&format!("attribute/{name}")))
            .await?
            .as_str()
            .map(str::to_owned))
    }

    /// A DOM property (e.g. an input's current `value`).
    ///
    /// # Errors
    /// The driver's error.
    pub async fn prop(&self, name: &str) -> Result<Option<String>, String> {
        Ok(self
            .client
            .get(&self.path(&format!("property/{name}")))
            .await?
            .as_str()
            .map(str::to_owned))
    }
}

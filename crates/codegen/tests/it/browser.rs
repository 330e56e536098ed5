//! What a visitor of a customer's site gets, proved in headless Chromium.
//!
//! The generated worker of a customer with Meta Pixel, Google Analytics 4, TikTok Pixel and
//! PostHog runs for real in workerd (`wrangler dev`). A test page on `127.0.0.1` (the
//! customer's trusted origin) runs the real c15t 2.2.0 browser client, headless
//! (`getOrCreateConsentRuntime`, bundled by the pinned esbuild from `tools/ts`), and the
//! worker's client module: `loadDestinations({ backendURL })` from
//! `<worker>/analytics/client.js`, which fetches the descriptors from `/analytics/scripts`,
//! builds each c15t `Script` with the real `@c15t/scripts` vendor functions and hands them to
//! the page's consent store (`window.c15tStore`).
//!
//! c15t runs in its **offline mode**: consent is stored in the browser only (cookie and
//! localStorage), because the worker's database (Turso) is not reachable in the test. Offline
//! mode resolves the visitor to the United Kingdom (`GB`, UK GDPR), so the model is opt-in
//! and nothing but `necessary` is granted until the visitor accepts.
//!
//! The vendors' script hosts are mapped by Chromium's `--host-resolver-rules` to
//! [`FakeAssets`], an HTTPS server with a self-signed certificate that records every request;
//! every other host name fails to resolve, so nothing reaches the internet.
//!
//! What is asserted:
//! - before consent: no request to Meta's or TikTok's script host and no `fbq`; gtag loads
//!   (it is `alwaysLoad`) in denied consent mode: `dataLayer` holds
//!   `['consent', 'default', {..., analytics_storage: 'denied', ad_storage: 'denied', ...}]`;
//! - after "Accept all" (`saveConsents('all')`): `fbevents.js` and TikTok's `events.js` are
//!   requested, `fbq.queue` holds `['init', '1234567890']`, `dataLayer` holds a
//!   `['consent', 'update', {...granted}]`;
//! - after withdrawing consent (`saveConsents('necessary')`): c15t reloads the page (its
//!   default `reloadOnConsentRevoked`; the Meta and TikTok scripts are
//!   `persistAfterConsentRevoked`, so without the reload they would stay), and the fresh page
//!   loads neither Meta nor TikTok again while gtag starts denied again.
//!
//! Screenshots go to `target/destinations-screenshots/`. Needs `cargo xtask npm` (the npm
//! toolchain in `tools/ts`) and `chromium` + `chromedriver` (see [`c15t_testkit::webdriver`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use c15t_codegen::{Project, TargetProfile};
use c15t_model::{Catalogue, CustomerSpec, Environment};
use c15t_testkit::assets::{AssetRequest, FakeAssets, VENDOR_HOSTS};
use c15t_testkit::webdriver::{Chromedriver, Client};
use c15t_testkit::workerd::WranglerDev;
use serde_json::{Value, json};

use crate::support::{Case, workspace_root};

const PIXEL: &str = "1234567890";
const MEASUREMENT_ID: &str = "G-ABC123XYZ";
const TIKTOK_PIXEL: &str = "C4D45N9U9OSI64ECRUG0";
const POSTHOG_KEY: &str = "phc_browsertest0123456789";
/// Secrets the worker holds; none may reach the browser.
const META_TOKEN: &str = "EAAbrowsercanary0123456789";
const TIKTOK_TOKEN: &str = "tiktokcanary0123456789";

const META_HOST: &str = "connect.facebook.net";
const TIKTOK_HOST: &str = "analytics.tiktok.com";
const GTAG_HOST: &str = "www.googletagmanager.com";
const POSTHOG_ASSETS_HOST: &str = "eu-assets.i.posthog.com";

/// How long the page gets for each thing the test waits for.
const WAIT: Duration = Duration::from_secs(60);

/// Where the worker's `@c15t/destinations` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // one of the two is in use
enum Destinations {
    /// The built runtime, `crates/codegen/runtime/c15t-destinations.js`, by a wrangler alias
    /// (a runtime build tried without regenerating; projects from before vendoring).
    Aliased,
    /// The project's own `vendor/c15t-destinations` (`"@c15t/destinations":
    /// "file:vendor/c15t-destinations"`), linked into `node_modules` as `npm ci` does.
    Vendored,
}

/// The one line that chooses: generated projects vendor the runtime, so `Vendored` is what a
/// customer deploys; `Aliased` runs a project against the runtime file directly.
const DESTINATIONS: Destinations = Destinations::Vendored;

/// The customer, trusting the test page's origin.
fn customer(page_origin: &str) -> Case {
    let toml = format!(
        r#"
id = "cust_browser"
name = "Browser Shop"
environments = ["production"]
trusted_origins = ["{page_origin}"]

[database]
provider = "turso"
url = "libsql://cust-browser.turso.io"
auth_token = {{ env = "TURSO_AUTH_TOKEN" }}

[[destinations]]
id = "meta"
name = "Meta Pixel"
type = "meta-pixel"
[destinations.settings]
pixelId = "{PIXEL}"
accessToken = {{ env = "META_PIXEL_ACCESS_TOKEN" }}

[[destinations]]
id = "ga4"
name = "Google Analytics"
type = "google-analytics"
[destinations.settings]
measurementId = "{MEASUREMENT_ID}"
apiSecret = {{ env = "GA4_API_SECRET" }}

[[destinations]]
id = "tiktok"
name = "TikTok Pixel"
type = "tiktok-pixel"
[destinations.settings]
pixelId = "{TIKTOK_PIXEL}"
accessToken = {{ env = "TIKTOK_ACCESS_TOKEN" }}

[[destinations]]
id = "posthog"
name = "PostHog"
type = "posthog"
[destinations.settings]
apiKey = "{POSTHOG_KEY}"
host = "https://eu.i.posthog.com"
"#
    );
    let spec: CustomerSpec = toml::from_str(&toml).expect("customer TOML");
    Case {
        name: "browser".to_owned(),
        config: spec
            .validate(&Catalogue::builtin())
            .expect("valid customer"),
        environment: Environment::new(Environment::PRODUCTION.to_owned()).expect("environment"),
        target: &TargetProfile::ALL[0],
        revision: 1,
    }
}

fn tools() -> PathBuf {
    let tools = workspace_root().join("tools/ts");
    assert!(
        tools.join("node_modules/.bin/esbuild").is_file(),
        "{}/node_modules is missing: run `cargo xtask npm`",
        tools.display()
    );
    tools
}

/// Writes the project with its `node_modules` and `@c15t/destinations` as [`DESTINATIONS`]
/// says, and the worker's secrets in `.dev.vars`.
fn write_project(project: &Project) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("c15t-browser-")
        .tempdir()
        .expect("temp dir");
    for file in &project.files {
        let path = dir.path().join(file.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &file.contents).expect("write");
    }
    let toolchain = tools().join("node_modules");
    match DESTINATIONS {
        Destinations::Aliased => {
            std::os::unix::fs::symlink(&toolchain, dir.path().join("node_modules"))
                .expect("link node_modules");
            let runtime =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/c15t-destinations.js");
            assert!(
                runtime.is_file(),
                "{} is missing: it is built by packages/destinations (`npm run build` there)",
                runtime.display()
            );
            alias(dir.path(), "@c15t/destinations", &runtime);
        }
        Destinations::Vendored => crate::typescript::link_node_modules(&toolchain, dir.path()),
    }
    std::fs::write(
        dir.path().join(".dev.vars"),
        format!(
            "TURSO_AUTH_TOKEN=unused\nMETA_PIXEL_ACCESS_TOKEN={META_TOKEN}\n\
             GA4_API_SECRET=unused\nTIKTOK_ACCESS_TOKEN={TIKTOK_TOKEN}\n"
        ),
    )
    .expect("write .dev.vars");
    dir
}

/// Sets `alias[module] = target` in the project's wrangler config (JSONC whose only comments
/// are whole `//` lines).
fn alias(dir: &Path, module: &str, target: &Path) {
    let config_path = dir.join("wrangler.jsonc");
    let text = std::fs::read_to_string(&config_path).expect("wrangler.jsonc");
    let json: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut config: Value = serde_json::from_str(&json).expect("wrangler.jsonc is JSON");
    config["alias"] = json!({ module: target });
    std::fs::write(&config_path, config.to_string()).expect("write wrangler.jsonc");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/browser")
        .join(name)
}

/// The page's script (`tests/fixtures/browser/page.js` with the real `c15t` package) bundled
/// by the pinned esbuild.
fn bundle_page() -> String {
    let tools = tools();
    let out = tempfile::tempdir().expect("temp dir");
    let outfile = out.path().join("page.js");
    let output = Command::new(tools.join("node_modules/.bin/esbuild"))
        .arg(fixture("page.js"))
        .args([
            "--bundle",
            "--format=esm",
            "--platform=browser",
            "--target=es2022",
            "--log-level=warning",
        ])
        .arg(format!("--outfile={}", outfile.display()))
        // The fixture lies outside tools/ts: resolve its imports from the toolchain.
        .env("NODE_PATH", tools.join("node_modules"))
        .output()
        .expect("run esbuild");
    assert!(
        output.status.success(),
        "esbuild failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bundle = std::fs::read_to_string(outfile).expect("bundle");
    assert!(
        bundle.contains("c15t:pending-consent-sync"),
        "c15t is not in the bundle"
    );
    bundle
}

/// The customer's site: `/` (the page, naming the worker) and `/page.js`, counting page loads.
struct Site {
    origin: String,
    loads: Arc<AtomicUsize>,
    listener: Option<tokio::net::TcpListener>,
}

impl Site {
    async fn bind() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the test page's server");
        let port = listener.local_addr().expect("address").port();
        Self {
            origin: format!("http://127.0.0.1:{port}"),
            loads: Arc::new(AtomicUsize::new(0)),
            listener: Some(listener),
        }
    }

    fn serve(&mut self, worker: &str, bundle: String) {
        let html = std::fs::read_to_string(fixture("index.html"))
            .expect("index.html")
            .replace("{{WORKER}}", worker);
        let loads = Arc::clone(&self.loads);
        let app =
            Router::new()
                .route(
                    "/",
                    get(move || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        let html = html.clone();
                        async move { ([(header::CACHE_CONTROL, "no-store")], Html(html)) }
                    }),
                )
                .route(
                    "/page.js",
                    get(move || {
                        let bundle = bundle.clone();
                        async move {
                            ([(header::CONTENT_TYPE, "text/javascript")], bundle).into_response()
                        }
                    }),
                );
        let listener = self.listener.take().expect("served once");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("test page server") });
    }

    fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }
}

/// What the page holds now (see the script).
async fn page_state(browser: &Client) -> Value {
    browser
        .execute(
            r"
            const store = window.c15tStore;
            const calls = (list) => Array.isArray(list) ? list.map((args) => Array.from(args)) : null;
            const state = store ? store.getState() : null;
            return JSON.parse(JSON.stringify({
                marker: window.__marker ?? null,
                navigation: performance.getEntriesByType('navigation')[0]?.type ?? null,
                errors: window.__errors ?? [],
                destinations: window.__destinations ?? null,
                model: state?.model ?? null,
                activeUI: state?.activeUI ?? null,
                consents: state?.consents ?? null,
                registered: (state?.scripts ?? []).map((s) => s.id),
                loaded: state ? state.getLoadedScriptIds() : [],
                dataLayer: calls(window.dataLayer),
                fbq: typeof window.fbq === 'function' ? calls(window.fbq.queue) : null,
                ttqDefined: window.ttq !== undefined,
                posthog: calls(window.posthog),
                posthogInit: window.posthog?._i ?? null,
                revocationReload: JSON.parse(sessionStorage.getItem('c15t-test:revocation-reload') ?? 'null'),
                pendingSync: localStorage.getItem('c15t:pending-consent-sync'),
                scriptTags: [...document.querySelectorAll('script[src]')].map((s) => s.src),
            }));
            ",
            &[],
        )
        .await
        .unwrap_or_else(|e| json!({ "unavailable": e }))
}

/// Polls `check` until it answers `Some`, failing after [`WAIT`] with `what` and the last page
/// state and asset requests.
async fn wait_for<T>(
    what: &str,
    browser: &Client,
    assets: &FakeAssets,
    mut check: impl FnMut(&Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        let state = page_state(browser).await;
        let failed = state["destinations"]
            .as_str()
            .is_some_and(|d| d.starts_with("failed"));
        if failed || state["errors"].as_array().is_some_and(|e| !e.is_empty()) {
            panic!(
                "{what}: the page failed.\npage: {state:#}\nvendor requests:\n{}",
                list(&assets.requests())
            );
        }
        if let Some(found) = check(&state) {
            return found;
        }
        if Instant::now() >= deadline {
            panic!(
                "{what}: not within {WAIT:?}.\npage: {state:#}\nvendor requests:\n{}",
                list(&assets.requests())
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn list(requests: &[AssetRequest]) -> String {
    requests
        .iter()
        .map(|r| format!("  {r}\n"))
        .collect::<String>()
}

/// The `gtag('consent', mode, {...})` calls in `dataLayer`, in order.
fn consent_calls(state: &Value, mode: &str) -> Vec<Value> {
    state["dataLayer"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|call| call[0] == "consent" && call[1] == mode)
        .map(|call| call[2].clone())
        .collect()
}

fn has_call(calls: &Value, expected: &[&str]) -> bool {
    calls.as_array().into_iter().flatten().any(|call| {
        call.as_array().is_some_and(|args| {
            args.len() >= expected.len() && args.iter().zip(expected).all(|(a, e)| a == *e)
        })
    })
}

fn vendor_tags(state: &Value, host: &str) -> usize {
    state["scriptTags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|src| {
            src.as_str()
                .is_some_and(|s| s.starts_with(&format!("https://{host}/")))
        })
        .count()
}

fn screenshots_dir() -> PathBuf {
    let dir = workspace_root().join("target/destinations-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.expect("screenshot");
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).expect("write screenshot");
}

/// The Google consent mode state `@c15t/scripts` maps c15t's categories to (its default
/// mapping) for the page's categories: `security_storage` is `necessary` (always granted),
/// `analytics_storage` is `measurement`, the `ad_*` are `marketing`; the page offers no
/// `functionality` or `experience`, so their storage stays denied.
fn google_consent(measurement: &str, marketing: &str) -> Value {
    json!({
        "security_storage": "granted",
        "functionality_storage": "denied",
        "analytics_storage": measurement,
        "ad_storage": marketing,
        "ad_user_data": marketing,
        "ad_personalization": marketing,
        "personalization_storage": "denied",
    })
}

/// How many times `path` was asked of `host`.
fn asked(assets: &FakeAssets, host: &str, path: &str) -> usize {
    assets
        .requests_to(host)
        .iter()
        .filter(|r| r.path == path)
        .count()
}

/// Waits for the page's destinations: the four scripts registered with c15t's store, gtag's
/// and PostHog's scripts (both `alwaysLoad`) requested once more than `before` says, gtag
/// with its denied defaults in `dataLayer`, PostHog opted out.
async fn wait_for_denied_start(browser: &Client, assets: &FakeAssets, before: (usize, usize)) {
    let state = wait_for(
        "the destinations registered and gtag loaded in denied mode",
        browser,
        assets,
        |state| {
            let registered = state["registered"].as_array().map_or(0, Vec::len);
            let gtag = asked(assets, GTAG_HOST, "/gtag/js");
            let posthog = asked(assets, POSTHOG_ASSETS_HOST, "/static/array.js");
            (registered == 4
                && gtag > before.0
                && posthog > before.1
                && !consent_calls(state, "default").is_empty()
                && has_call(&state["posthog"], &["opt_out_capturing"]))
            .then(|| state.clone())
        },
    )
    .await;
    assert_eq!(state["destinations"], "loaded", "{state:#}");
    assert_eq!(state["errors"], json!([]), "the page had errors: {state:#}");
    assert_eq!(state["model"], "opt-in", "{state:#}");
    assert_eq!(
        state["consents"]["marketing"], false,
        "marketing is granted before consent: {state:#}"
    );
    assert_eq!(state["consents"]["measurement"], false, "{state:#}");
    let defaults = consent_calls(&state, "default");
    assert_eq!(defaults, [google_consent("denied", "denied")], "{state:#}");
    assert!(
        consent_calls(&state, "update").is_empty(),
        "a consent update before consent: {state:#}"
    );
    assert!(
        has_call(&state["dataLayer"], &["config", MEASUREMENT_ID]),
        "{state:#}"
    );
    assert!(
        !has_call(&state["posthog"], &["opt_in_capturing"]),
        "PostHog opted in before consent: {state:#}"
    );
    assert_eq!(state["posthogInit"][0][0], POSTHOG_KEY, "{state:#}");
    assert_eq!(
        state["posthogInit"][0][1]["api_host"], "https://eu.i.posthog.com",
        "{state:#}"
    );
}

/// How many times gtag's and PostHog's scripts have been asked for.
fn always_loaded(assets: &FakeAssets) -> (usize, usize) {
    (
        asked(assets, GTAG_HOST, "/gtag/js"),
        asked(assets, POSTHOG_ASSETS_HOST, "/static/array.js"),
    )
}

/// Nothing of Meta or TikTok on the page, and no more requests to their script hosts than
/// `before` (Meta's, TikTok's) had been made (checked once gtag, loaded in the same pass of
/// c15t's script loader, has been requested).
fn assert_no_marketing(state: &Value, assets: &FakeAssets, before: (usize, usize)) {
    let requests = assets.requests();
    assert_eq!(
        assets.requests_to(META_HOST).len(),
        before.0,
        "Meta's script host was asked without consent:\n{}",
        list(&requests)
    );
    assert_eq!(
        assets.requests_to(TIKTOK_HOST).len(),
        before.1,
        "TikTok's script host was asked without consent:\n{}",
        list(&requests)
    );
    assert_eq!(
        state["fbq"],
        Value::Null,
        "fbq exists without consent: {state:#}"
    );
    assert_eq!(
        state["ttqDefined"], false,
        "ttq exists without consent: {state:#}"
    );
    assert_eq!(vendor_tags(state, META_HOST), 0, "{state:#}");
    assert_eq!(vendor_tags(state, TIKTOK_HOST), 0, "{state:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_gets_the_customers_destinations_only_as_consented() {
    let bundle = bundle_page();
    let assets = FakeAssets::start().await;
    let mut site = Site::bind().await;
    let case = customer(&site.origin);
    let project = case.generate();
    let dir = write_project(&project);

    let worker = WranglerDev::start(&dir.path().join("node_modules/.bin/wrangler"), dir.path());
    let worker_url = format!("http://127.0.0.1:{}", worker.port());
    let (status, body) =
        tokio::task::block_in_place(|| worker.get_when_ready("/analytics/scripts"));
    assert!(status.contains(" 200 "), "{status}: {body}");
    // The descriptors the client module builds the page's scripts from: the customer's
    // public settings as `@c15t/scripts` options, never a secret.
    let descriptors: Value = serde_json::from_str(&body).expect("descriptors are JSON");
    let script = |id: &str, kind: &str, vendor: &str, function: &str, options: Value| {
        let category = if kind.ends_with("pixel") {
            "marketing"
        } else {
            "measurement"
        };
        json!({
            "id": id, "type": kind, "vendor": vendor, "function": function, "options": options,
            "category": category, "alwaysLoad": category == "measurement",
        })
    };
    assert_eq!(
        descriptors,
        json!({ "scripts": [
            script("meta", "meta-pixel", "meta-pixel", "metaPixel", json!({ "pixelId": PIXEL })),
            script("ga4", "google-analytics", "google-tag", "gtag",
                json!({ "id": MEASUREMENT_ID, "category": "measurement" })),
            script("tiktok", "tiktok-pixel", "tiktok-pixel", "tiktokPixel",
                json!({ "pixelId": TIKTOK_PIXEL })),
            script("posthog", "posthog", "posthog", "posthog",
                json!({ "id": POSTHOG_KEY, "apiHost": "https://eu.i.posthog.com" })),
        ]}),
        "{body}"
    );
    assert!(
        !body.contains(META_TOKEN) && !body.contains(TIKTOK_TOKEN),
        "a secret leaked into the descriptors: {body}"
    );
    site.serve(&worker_url, bundle);

    let driver = Chromedriver::start().await;
    let rules = format!(
        "--host-resolver-rules={}",
        assets.host_resolver_rules(VENDOR_HOSTS)
    );
    let browser = driver
        .chromium(&[
            &rules,
            "--ignore-certificate-errors",
            "--window-size=1200,900",
            "--lang=en-US",
        ])
        .await;
    // A failure in `visit` panics: dropping the driver then ends the browser with it.
    visit(&browser, &assets, &site).await;
    browser.close().await.expect("close the browser");
    drop(worker);
    assert!(
        assets
            .requests()
            .iter()
            .all(|r| VENDOR_HOSTS.contains(&r.host.as_str())),
        "{}",
        list(&assets.requests())
    );
}

async fn visit(browser: &Client, assets: &FakeAssets, site: &Site) {
    // Before consent: the banner; gtag and PostHog (both `alwaysLoad`) start denied, Meta and
    // TikTok are not loaded.
    browser
        .goto(&format!("{}/", site.origin))
        .await
        .expect("open the page");
    wait_for_denied_start(browser, assets, (0, 0)).await;
    let state = page_state(browser).await;
    assert_eq!(state["activeUI"], "banner", "{state:#}");
    assert_no_marketing(&state, assets, (0, 0));
    screenshot(browser, "01-before-consent").await;

    // Accept all: Meta's and TikTok's scripts are requested, the pixel is initialised and
    // Google's consent mode is updated to granted.
    browser
        .find("#accept")
        .await
        .expect("the banner's accept button")
        .click()
        .await
        .expect("click accept");
    let state = wait_for(
        "Meta and TikTok loaded after consent",
        browser,
        assets,
        |state| {
            let meta = assets
                .requests_to(META_HOST)
                .iter()
                .any(|r| r.path == "/en_US/fbevents.js");
            let tiktok = assets.requests_to(TIKTOK_HOST).iter().any(|r| {
                r.path == "/i18n/pixel/events.js"
                    && r.query == format!("sdkid={TIKTOK_PIXEL}&lib=ttq")
            });
            let granted = !consent_calls(state, "update").is_empty();
            (meta
                && tiktok
                && granted
                && has_call(&state["fbq"], &["init", PIXEL])
                && has_call(&state["posthog"], &["opt_in_capturing"]))
            .then(|| state.clone())
        },
    )
    .await;
    assert_eq!(state["consents"]["marketing"], true, "{state:#}");
    assert_eq!(state["consents"]["measurement"], true, "{state:#}");
    assert_eq!(state["activeUI"], "none", "{state:#}");
    assert!(has_call(&state["fbq"], &["track", "PageView"]), "{state:#}");
    assert_eq!(
        consent_calls(&state, "update").last(),
        Some(&google_consent("granted", "granted")),
        "{state:#}"
    );
    assert_eq!(vendor_tags(&state, META_HOST), 1, "{state:#}");
    assert_eq!(
        assets.requests_to(META_HOST).len(),
        1,
        "{}",
        list(&assets.requests())
    );
    screenshot(browser, "02-after-consent").await;

    // Withdraw consent: c15t stores the new choice and reloads the page
    // (`reloadOnConsentRevoked`, on by default), the only way to unload what the pixels ran.
    // The fresh page starts denied and never asks Meta or TikTok again.
    let always_before = always_loaded(assets);
    let marketing_before = (
        assets.requests_to(META_HOST).len(),
        assets.requests_to(TIKTOK_HOST).len(),
    );
    let loads_before = site.loads();
    browser
        .execute("window.__marker = 'before-revoke'; return true", &[])
        .await
        .expect("mark the page");
    browser
        .find("#revoke")
        .await
        .expect("the withdraw button")
        .click()
        .await
        .expect("click withdraw");
    wait_for("c15t reloading the page", browser, assets, |state| {
        (site.loads() > loads_before
            && state["marker"].is_null()
            && state["navigation"] == "reload")
            .then_some(())
    })
    .await;
    wait_for_denied_start(browser, assets, always_before).await;
    let state = page_state(browser).await;
    assert_eq!(
        state["activeUI"], "none",
        "the stored choice is kept: {state:#}"
    );
    assert_no_marketing(&state, assets, marketing_before);
    // What c15t did before reloading: the withdrawn choice, and the sync to the backend
    // deferred to the fresh page (offline mode's backend is the browser), which consumed it.
    let reload = &state["revocationReload"];
    assert_eq!(reload["preferences"]["marketing"], false, "{state:#}");
    assert_eq!(reload["preferences"]["measurement"], false, "{state:#}");
    assert_eq!(reload["pendingSync"]["type"], "necessary", "{state:#}");
    assert_eq!(
        reload["pendingSync"]["preferences"]["marketing"], false,
        "{state:#}"
    );
    assert_eq!(state["pendingSync"], Value::Null, "{state:#}");
    let stored = browser
        .execute(
            "return JSON.parse(localStorage.getItem('c15t') ?? 'null')",
            &[],
        )
        .await
        .expect("read c15t's storage");
    assert_eq!(stored["consents"]["marketing"], false, "{stored:#}");
    screenshot(browser, "03-after-withdrawing").await;
}

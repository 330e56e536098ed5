//! The admin UI in a real browser: headless Chromium driven through chromedriver (the W3C
//! WebDriver protocol, spoken by the small client in [`c15t_testkit::webdriver`]) against the
//! UI router served on 127.0.0.1 with a SQLite store, the fake Cloudflare API and the fake
//! vendor endpoints. Screenshots of the main pages are written to `target/ui-screenshots/`.
//!
//! Needs `chromium` and `chromedriver` on the PATH (Debian: `apt-get install chromium
//! chromium-driver`; `C15T_CHROMEDRIVER` and `C15T_CHROMIUM` override the paths).
//!
//! Beside it, HTTP-level checks of what a browser does not show: CSRF refusals, the login
//! throttle and the session cookie's attributes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use c15t_control::{
    Control, DeliveryPatch, KeySource, Secret, SystemClock, Testers, VendorOptions,
};
use c15t_model::{CustomerId, CustomerSpec, DatabaseSpec, DeployTarget, RawValue, Strategy};
use c15t_store::{SeaStore, UserRole};
use c15t_testkit::cloudflare::FakeCloudflare;
use c15t_testkit::vendors::FakeVendors;
use c15t_testkit::webdriver::{Chromedriver, Client, Element};
use c15t_ui::{UiState, router, throttle::LoginThrottle};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const CF_TOKEN: &str = "cf-token-ui-test";
const PIXEL: &str = "1234567890";
const PIXEL_EDITED: &str = "9876543210";
const META_TOKEN: &str = "EAAui-test-token-never-shown";
const OPERATOR: (&str, &str) = ("ops@example.com", "operator password 1");
const ADMIN: (&str, &str) = ("admin@acme.example", "customer admin password");

/// A stand-in for the bundled c15t runtime: the named exports the generated entry imports.
pub(crate) fn stand_in_runtime(
    target: &c15t_codegen::TargetProfile,
) -> c15t_deploy::runtime::RuntimeBundle {
    let mut js = String::from("// c15t runtime stand-in for tests\n");
    for name in c15t_codegen::runtime_export_names(target) {
        js.push_str(&format!("export const {name} = () => {{}};\n"));
    }
    c15t_deploy::runtime::RuntimeBundle::from_bytes(target, js.into_bytes()).unwrap()
}

pub(crate) fn delivery(cloudflare_api: &str) -> c15t_control::DeliveryOptions {
    let target = &c15t_codegen::target::BACKEND_2;
    c15t_control::DeliveryOptions {
        target,
        cloudflare_api: cloudflare_api.to_owned(),
        cloudflare_retry: c15t_deploy::cloudflare::RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            request_timeout: Duration::from_secs(5),
        },
        runtimes: vec![Arc::new(stand_in_runtime(target))],
        debounce: Duration::ZERO,
        rollout: c15t_model::Rollout::Immediate,
        ..c15t_control::DeliveryOptions::default()
    }
}

fn testers(fake: &FakeVendors) -> Testers {
    let base = url::Url::parse(&fake.base_url()).unwrap();
    Testers::new(VendorOptions {
        endpoints: c15t_vendors::VendorEndpoints::all_at(&base),
        timeout: Some(Duration::from_secs(5)),
        ssrf: c15t_control::SsrfPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
            allow_http: true,
        },
    })
    .unwrap()
}

pub(crate) fn customer(id: &str, name: &str) -> CustomerSpec {
    CustomerSpec {
        events_debug_secret: None,
        id: id.to_owned(),
        name: name.to_owned(),
        environments: Some(vec!["production".to_owned()]),
        trusted_origins: vec![format!("https://{id}.example"), format!("*.{id}.example")],
        log_level: None,
        database: DatabaseSpec {
            provider: "turso".to_owned(),
            url: format!("libsql://{}.turso.io", id.replace('_', "-")),
            auth_token: RawValue::Text(String::new()),
        },
        destinations: Vec::new(),
    }
}

/// The UI on 127.0.0.1 over a fresh SQLite store with two customers, an operator and a
/// customer admin of `cust_acme`.
struct App {
    _dir: tempfile::TempDir,
    _cloudflare: FakeCloudflare,
    _vendors: FakeVendors,
    base: String,
}

async fn start(throttle: LoginThrottle) -> App {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("c15t.key");
    c15t_control::keys_init(&key).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c15t.db").display());
    let store = SeaStore::connect(&url).await.unwrap();
    let cloudflare = FakeCloudflare::start().await;
    cloudflare.add_account(ACCOUNT, "acme", CF_TOKEN);
    let vendors = FakeVendors::start().await;
    vendors.add_meta_pixel(PIXEL, "Acme pixel", META_TOKEN);
    vendors.add_meta_pixel(PIXEL_EDITED, "Acme pixel 2", META_TOKEN);
    let control = Control::new(
        Arc::new(store),
        KeySource::load(key).unwrap(),
        Arc::new(SystemClock),
    )
    .with_delivery(delivery(&cloudflare.base_url()))
    .with_vendors(testers(&vendors));
    for (id, name) in [("cust_acme", "Acme Inc."), ("cust_other", "Other Ltd.")] {
        control
            .customer_add(
                "test",
                customer(id, name),
                Secret::new(format!("turso-{id}")),
            )
            .await
            .unwrap();
    }
    let acme = CustomerId::new("cust_acme").unwrap();
    control
        .delivery_set(
            "test",
            &acme,
            DeliveryPatch {
                strategy: Some(Strategy::Manual),
                target: Some(DeployTarget::Cloudflare {
                    account_id: ACCOUNT.to_owned(),
                }),
                cloudflare_token: Some(Secret::new(CF_TOKEN.to_owned())),
                ..DeliveryPatch::default()
            },
        )
        .await
        .unwrap();
    assert!(
        control
            .user_ensure_operator(OPERATOR.0, &Secret::new(OPERATOR.1.to_owned()))
            .await
            .unwrap()
    );
    control
        .user_add(
            "test",
            ADMIN.0,
            &Secret::new(ADMIN.1.to_owned()),
            UserRole::CustomerAdmin,
            Some(&acme),
        )
        .await
        .unwrap();
    let app = router(UiState::new(control, "http://127.0.0.1").with_throttle(throttle));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    App {
        _dir: dir,
        _cloudflare: cloudflare,
        _vendors: vendors,
        base: format!("http://{addr}"),
    }
}

/// Headless Chromium at the size the screenshots are taken.
async fn browser(driver: &Chromedriver) -> Client {
    driver
        .chromium(&["--window-size=1280,1100", "--lang=en-US"])
        .await
}

fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
}

/// The first element matching `selector`, waiting up to 10 seconds for it to appear.
async fn css<'a>(c: &'a Client, selector: &str) -> Element<'a> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.find(selector).await {
            Ok(element) => return element,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no element `{selector}`: {e}"),
        }
    }
}

/// The text of the first element matching `selector`, retried while a navigation replaces
/// the page under it.
async fn text_of(c: &Client, selector: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match css(c, selector).await.text().await {
            Ok(text) => return text,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no text of `{selector}`: {e}"),
        }
    }
}

async fn page_text(c: &Client) -> String {
    text_of(c, "body").await
}

/// Waits until the page's text contains `needle`.
async fn wait_text(c: &Client, selector: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = text_of(c, selector).await;
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "`{needle}` never appeared in `{selector}`: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(c: &Client, selector: &str, value: &str) {
    let input = css(c, selector).await;
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

async fn click(c: &Client, selector: &str) {
    css(c, selector).await.click().await.unwrap();
}

async fn login(c: &Client, base: &str, (email, password): (&str, &str)) {
    c.goto(&format!("{base}/ui/login")).await.unwrap();
    fill(c, "#email", email).await;
    fill(c, "#password", password).await;
    click(c, "#login").await;
    wait_text(c, "header.top", email).await;
}

async fn logout(c: &Client) {
    click(c, "#logout").await;
    css(c, "#password").await;
}

/// Waits until the browser is at `expected` (a click that submits a form returns before the
/// navigation it starts has finished).
async fn wait_path(c: &Client, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = path(c).await;
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the browser stayed at `{now}`, expected `{expected}`"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn path(c: &Client) -> String {
    url::Url::parse(&c.current_url().await.unwrap())
        .unwrap()
        .path()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_configures_deploys_and_rolls_back_in_a_browser() {
    let app = start(LoginThrottle::default()).await;
    let driver = Chromedriver::start().await;
    let c = browser(&driver).await;
    let base = app.base.clone();
    let result = async {
        // Not logged in: the login page; a wrong password is refused.
        c.goto(&format!("{base}/ui/customers/cust_acme"))
            .await
            .unwrap();
        wait_path(&c, "/ui/login").await;
        fill(&c, "#email", OPERATOR.0).await;
        fill(&c, "#password", "not the password").await;
        click(&c, "#login").await;
        let error = text_of(&c, "#login-error").await;
        assert!(error.contains("wrong"), "{error}");
        screenshot(&c, "01-login-refused").await;

        login(&c, &base, OPERATOR).await;
        wait_path(&c, "/ui/customers").await;
        let list = text_of(&c, "#customers").await;
        assert!(
            list.contains("Acme Inc.") && list.contains("Other Ltd."),
            "{list}"
        );
        screenshot(&c, "02-customers").await;

        click(&c, "a[href='/ui/customers/cust_acme']").await;
        let settings = text_of(&c, "#settings").await;
        assert!(settings.contains("https://cust_acme.example"), "{settings}");
        assert!(settings.contains("turso"), "{settings}");
        assert!(settings.contains("cloudflare"), "{settings}");

        // Add a Meta Pixel: first with a pixel ID that is not digits.
        click(&c, "#add-destination").await;
        click(&c, "#kind-meta-pixel").await;
        fill(&c, "#f-id", "meta-prod").await;
        fill(&c, "#f-name", "Meta Pixel").await;
        fill(&c, "#f-pixelId", "12ab").await;
        fill(&c, "#f-accessToken", META_TOKEN).await;
        click(&c, "#save").await;
        let error = text_of(&c, "p[id='error-settings.pixelId']").await;
        assert!(error.contains("digits"), "{error}");
        let invalid = css(&c, "#f-pixelId")
            .await
            .attr("aria-invalid")
            .await
            .unwrap();
        assert_eq!(invalid.as_deref(), Some("true"));
        // The typed secret is not sent back to the browser.
        let token_value = css(&c, "#f-accessToken").await.prop("value").await.unwrap();
        assert_eq!(token_value.as_deref(), Some(""));
        assert!(!c.source().await.unwrap().contains(META_TOKEN));
        screenshot(&c, "03-destination-invalid").await;

        fill(&c, "#f-pixelId", PIXEL).await;
        fill(&c, "#f-accessToken", META_TOKEN).await;
        click(&c, "#save").await;
        let row = text_of(&c, "#destination-meta-prod").await;
        assert!(
            row.contains("Meta Pixel") && row.contains("Pending"),
            "{row}"
        );
        // With its Conversions API token set, it forwards server-side events.
        let events = text_of(&c, "#destination-meta-prod td.events").await;
        assert_eq!(events, "Meta Conversions API");

        // Test its connection against the fake Graph API (htmx swaps the result in).
        click(&c, "#destination-meta-prod button[hx-post$='/test']").await;
        let report = wait_text(&c, "#test-meta-prod", "Connection:").await;
        assert!(report.contains("Connection: ok"), "{report}");
        assert!(!c.source().await.unwrap().contains(META_TOKEN));
        screenshot(&c, "04-destination-added-tested").await;

        // Deploy to the fake Cloudflare: Deployed, with the worker URL.
        click(&c, "#deploy").await;
        wait_path(&c, "/ui/customers/cust_acme/deployments").await;
        wait_text(&c, "#deployments", "succeeded").await;
        c.goto(&format!("{base}/ui/customers/cust_acme"))
            .await
            .unwrap();
        let row = text_of(&c, "#destination-meta-prod").await;
        assert!(row.contains("Deployed"), "{row}");
        let worker = text_of(&c, "#env-production .worker-url").await;
        assert!(worker.contains("workers.dev"), "{worker}");
        screenshot(&c, "05-overview-deployed").await;

        // Edit the pixel ID: pending again, and the diff shows the change.
        click(
            &c,
            "#destination-meta-prod a[href$='/destinations/meta-prod']",
        )
        .await;
        let state = text_of(&c, "form.destination").await;
        assert!(state.contains("Set, fingerprint hmac-sha256:"), "{state}");
        fill(&c, "#f-pixelId", PIXEL_EDITED).await;
        click(&c, "#save").await;
        let row = text_of(&c, "#destination-meta-prod").await;
        assert!(row.contains("Pending"), "{row}");
        c.goto(&format!("{base}/ui/customers/cust_acme/diff"))
            .await
            .unwrap();
        let added = text_of(&c, "#plan-production").await;
        assert!(
            added.contains(PIXEL_EDITED) && added.contains(PIXEL),
            "{added}"
        );
        let add_line = text_of(&c, "#plan-production pre.diff span.add").await;
        assert!(!add_line.is_empty());
        screenshot(&c, "06-diff").await;

        // Deploy the edit, then roll back to the first deployment.
        click(&c, "#plan-production button.primary").await;
        wait_text(&c, "#deployments", "succeeded").await;
        click(&c, "#deployment-1 button").await;
        let history = wait_text(&c, "#deployments", "rollback to #1").await;
        assert!(history.contains("live"), "{history}");
        screenshot(&c, "07-deployments-rolled-back").await;
        c.goto(&format!("{base}/ui/customers/cust_acme/diff"))
            .await
            .unwrap();
        let plan = text_of(&c, "#plan-production").await;
        assert!(
            plan.contains("Pending changes"),
            "the rolled-back worker lags the config: {plan}"
        );

        // The audit log names who did what.
        click(&c, "nav.tabs a[href$='/audit']").await;
        let audit = text_of(&c, "#audit").await;
        assert!(
            audit.contains("ui:ops@example.com") && audit.contains("destination.create"),
            "{audit}"
        );
        screenshot(&c, "08-audit").await;

        // An API token is shown once; the list shows its end only.
        click(&c, "nav.tabs a[href$='/tokens']").await;
        fill(&c, "#token-name", "ci").await;
        click(&c, "#create-token").await;
        let token = text_of(&c, "#new-token pre.token").await;
        assert!(token.starts_with("c15t_"), "{token}");
        screenshot(&c, "09-token-created").await;
        c.goto(&format!("{base}/ui/customers/cust_acme/tokens"))
            .await
            .unwrap();
        assert!(!page_text(&c).await.contains(&token));
        click(&c, "#tokens button.danger").await;
        wait_text(&c, "#tokens", "revoked").await;

        // The enabled switch saves by htmx and re-renders the table.
        c.goto(&format!("{base}/ui/customers/cust_acme"))
            .await
            .unwrap();
        click(&c, "#destination-meta-prod input[name='enabled']").await;
        wait_text(&c, "#destination-meta-prod", "Disabled").await;
        click(&c, "#destination-meta-prod input[name='enabled']").await;
        wait_text(&c, "#destination-meta-prod", "Enabled").await;

        // Deployment settings switch by htmx.
        c.goto(&format!("{base}/ui/customers/cust_acme"))
            .await
            .unwrap();
        click(&c, "#strategy input[value='automatic']").await;
        wait_text(&c, "#strategy", "Saved: Automatic").await;
        screenshot(&c, "10-overview-strategy").await;

        logout(&c).await;
        c.goto(&format!("{base}/ui/customers/cust_acme"))
            .await
            .unwrap();
        wait_path(&c, "/ui/login").await;

        // A customer admin sees their customer only; another customer is the same 404 as one
        // that does not exist.
        login(&c, &base, ADMIN).await;
        wait_path(&c, "/ui/customers/cust_acme").await;
        c.goto(&format!("{base}/ui/customers/cust_other"))
            .await
            .unwrap();
        let other = page_text(&c).await;
        screenshot(&c, "11-admin-other-customer-404").await;
        c.goto(&format!("{base}/ui/customers/cust_missing"))
            .await
            .unwrap();
        let missing = page_text(&c).await;
        assert!(other.contains("Not found"), "{other}");
        assert_eq!(other, missing);
        c.goto(&format!("{base}/ui/customers")).await.unwrap();
        assert!(page_text(&c).await.contains("Not found"));
        c.goto(&format!("{base}/ui/customers/cust_other/deployments"))
            .await
            .unwrap();
        assert!(page_text(&c).await.contains("Not found"));
        c.goto(&format!("{base}/ui")).await.unwrap();
        wait_path(&c, "/ui/customers/cust_acme").await;
        logout(&c).await;
    }
    .await;
    c.close().await.unwrap();
    result
}

/// A plain HTTP client that keeps cookies and does not follow redirects.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The login form's CSRF cookie and field value.
async fn login_csrf(client: &reqwest::Client, base: &str) -> String {
    let response = client.get(format!("{base}/ui/login")).send().await.unwrap();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("c15t_login="))
        .unwrap();
    cookie
        .trim_start_matches("c15t_login=")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn post_login(
    client: &reqwest::Client,
    base: &str,
    csrf: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/ui/login"))
        .header("cookie", format!("c15t_login={csrf}"))
        .form(&[
            ("_csrf", csrf),
            ("email", OPERATOR.0),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn posts_need_the_session_csrf_token_and_failed_logins_slow_down() {
    let app = start(LoginThrottle::new(
        2,
        Duration::from_secs(60),
        Duration::from_secs(60),
    ))
    .await;
    let base = &app.base;
    let client = http();

    // The login form itself is CSRF-protected by its cookie.
    let csrf = login_csrf(&client, base).await;
    let forged = client
        .post(format!("{base}/ui/login"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", OPERATOR.0),
            ("password", OPERATOR.1),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    // A good login: an HttpOnly, SameSite session cookie (not Secure over plain http).
    let ok = post_login(&client, base, &csrf, OPERATOR.1).await;
    assert_eq!(ok.status(), 303);
    let session_cookie = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("c15t_session="))
        .unwrap();
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"));
    assert!(session_cookie.contains("Path=/") && !session_cookie.contains("Secure"));
    let session = session_cookie.split(';').next().unwrap().to_owned();

    // With the session but without its CSRF token, a change is refused and nothing changes.
    let refused = client
        .post(format!("{base}/ui/customers/cust_acme/strategy"))
        .header("cookie", &session)
        .form(&[("strategy", "automatic")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let wrong = client
        .post(format!("{base}/ui/customers/cust_acme/strategy"))
        .header("cookie", &session)
        .header("x-csrf-token", "0".repeat(64))
        .form(&[("strategy", "automatic")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let page = client
        .get(format!("{base}/ui/customers/cust_acme"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"value="manual" checked"#),
        "the strategy did not change"
    );
    assert!(
        !page.contains(CF_TOKEN),
        "the Cloudflare token is never shown"
    );
    let token = page
        .split(r#"name="_csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let accepted = client
        .post(format!("{base}/ui/customers/cust_acme/strategy"))
        .header("cookie", &session)
        .header("x-csrf-token", &token)
        .header("hx-request", "true")
        .form(&[("strategy", "automatic")])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    assert!(accepted.text().await.unwrap().contains("Saved: Automatic"));

    // The rollout form: a bad value names the field and what is allowed; a good one is kept.
    let rollout = |steps: &'static str| {
        client
            .post(format!("{base}/ui/customers/cust_acme/rollout"))
            .header("cookie", &session)
            .header("x-csrf-token", &token)
            .header("hx-request", "true")
            .form(&[("steps", steps), ("dwell_secs", "30")])
            .send()
    };
    let bad = rollout("50,10,100").await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("steps must increase"));
    let good = rollout("20, 100").await.unwrap();
    assert_eq!(good.status(), 200);
    let text = good.text().await.unwrap();
    assert!(
        text.contains("Saved.") && text.contains("20% → 100% every 30s"),
        "{text}"
    );

    // The Domains form: a bad hostname names the field; a good one is saved, pending.
    let domain = |hostname: &'static str| {
        client
            .post(format!("{base}/ui/customers/cust_acme/routing"))
            .header("cookie", &session)
            .header("x-csrf-token", &token)
            .header("hx-request", "true")
            .form(&[
                ("environment", "production"),
                ("hostname", hostname),
                ("zone_id", ""),
                ("workers_dev", "on"),
            ])
            .send()
    };
    let bad = domain("consent.example.com/x").await.unwrap();
    assert_eq!(bad.status(), 400);
    let text = bad.text().await.unwrap();
    assert!(text.contains("routing.production.hostname"), "{text}");
    let good = domain("consent.example.com").await.unwrap();
    assert_eq!(good.status(), 200);
    let text = good.text().await.unwrap();
    assert!(
        text.contains("Saved production") && text.contains("not attached yet"),
        "{text}"
    );
    assert!(text.contains(r#"value="consent.example.com""#), "{text}");

    // A customer admin's session cannot change another customer: the same 404 as a customer
    // that does not exist, and nothing is created.
    let admin_csrf = login_csrf(&client, base).await;
    let admin_login = client
        .post(format!("{base}/ui/login"))
        .header("cookie", format!("c15t_login={admin_csrf}"))
        .form(&[
            ("_csrf", admin_csrf.as_str()),
            ("email", ADMIN.0),
            ("password", ADMIN.1),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(admin_login.status(), 303);
    let admin_session = admin_login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("c15t_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let own = client
        .get(format!("{base}/ui/customers/cust_acme/tokens"))
        .header("cookie", &admin_session)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.headers()["x-frame-options"], "DENY");
    assert_eq!(own.headers()["cache-control"], "no-store");
    let admin_token = own
        .text()
        .await
        .unwrap()
        .split(r#"name="_csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let mut bodies = Vec::new();
    for customer in ["cust_other", "cust_missing"] {
        let denied = client
            .post(format!("{base}/ui/customers/{customer}/tokens"))
            .header("cookie", &admin_session)
            .form(&[("_csrf", admin_token.as_str()), ("name", "stolen")])
            .send()
            .await
            .unwrap();
        assert_eq!(denied.status(), 404, "{customer}");
        bodies.push(denied.text().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);

    // Two wrong passwords are free; the third attempt must wait, even with the right one.
    for _ in 0..2 {
        let refused = post_login(&client, base, &csrf, "wrong password!").await;
        assert_eq!(refused.status(), 401);
    }
    let throttled = post_login(&client, base, &csrf, OPERATOR.1).await;
    assert_eq!(throttled.status(), 429);
    assert!(
        throttled
            .text()
            .await
            .unwrap()
            .contains("Too many failed logins")
    );

    // Logging out ends the session in the database: the old cookie no longer works.
    let logout = client
        .post(format!("{base}/ui/logout"))
        .header("cookie", &session)
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    let after = client
        .get(format!("{base}/ui/customers"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303);
    assert_eq!(after.headers()["location"], "/ui/login");
    // htmx is told to load the login page rather than swap it into the page.
    let fragment = client
        .post(format!("{base}/ui/customers/cust_acme/destinations/x/test"))
        .header("cookie", &session)
        .header("hx-request", "true")
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(fragment.status(), 200);
    assert_eq!(fragment.headers()["hx-redirect"], "/ui/login");
}

#[tokio::test]
async fn the_login_csrf_token_is_signed_by_the_server() {
    let app = start(LoginThrottle::default()).await;
    let base = &app.base;
    let client = http();
    // Any value a client puts in both the cookie and the field is not enough.
    for forged in ["a", &"0".repeat(64), "1700000000.00.00"] {
        let refused = post_login(&client, base, forged, OPERATOR.1).await;
        assert_eq!(refused.status(), 403, "{forged}");
    }
    // The server's token, tampered with, neither.
    let csrf = login_csrf(&client, base).await;
    let mut tampered = csrf.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        post_login(&client, base, &tampered, OPERATOR.1)
            .await
            .status(),
        403
    );
    // The token the server gave works.
    assert_eq!(
        post_login(&client, base, &csrf, OPERATOR.1).await.status(),
        303
    );
}

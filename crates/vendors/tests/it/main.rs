//! The connection testers against the vendor fakes of `c15t-testkit` on 127.0.0.1: every
//! outcome a user can see, per supported kind, and no secret in any report.

use std::time::Duration;

use c15t_net::SsrfPolicy;
use c15t_secrets::Secret;
use c15t_testkit::vendors::FakeVendors;
use c15t_vendors::{ConnectionReport, Outcome, Settings, Testers, VendorEndpoints, VendorOptions};
use url::Url;

const PIXEL: &str = "1234567890";
const META_TOKEN: &str = "EAAGm0PX4ZCpsBAcanary-meta-token";
const GA4_ID: &str = "G-ABC123XYZ";
const GA4_SECRET: &str = "ga4-canary-secret-value";
const POSTHOG_KEY: &str = "phc_validprojectkey0001";
const MATOMO_TOKEN: &str = "matomo-canary-token-0123456789";

/// Loopback over plain http, as the fakes need; production allows neither.
fn loopback() -> SsrfPolicy {
    SsrfPolicy {
        allow: vec!["127.0.0.1/32".parse().unwrap()],
        allow_http: true,
    }
}

fn testers(base: &str, timeout: Duration, ssrf: SsrfPolicy) -> Testers {
    let url = Url::parse(base).unwrap();
    Testers::new(VendorOptions {
        endpoints: VendorEndpoints::all_at(&url),
        timeout: Some(timeout),
        ssrf,
    })
    .unwrap()
}

async fn fakes() -> (FakeVendors, Testers) {
    let fake = FakeVendors::start().await;
    fake.add_meta_pixel(PIXEL, "Shop pixel", META_TOKEN);
    fake.add_meta_token("EAAother-valid-token");
    fake.add_posthog_key(POSTHOG_KEY);
    fake.add_matomo_site(3, "Shop", MATOMO_TOKEN);
    fake.add_matomo_token("matomo-other-valid-token");
    let t = testers(&fake.base_url(), Duration::from_secs(5), loopback());
    (fake, t)
}

fn meta(token: &str) -> Settings {
    Settings::new()
        .with_value("pixelId", PIXEL)
        .with_secret("accessToken", Secret::from(token))
}

fn ga4() -> Settings {
    Settings::new()
        .with_value("measurementId", GA4_ID)
        .with_secret("apiSecret", Secret::from(GA4_SECRET))
}

fn posthog(host: &str, key: &str) -> Settings {
    Settings::new()
        .with_value("apiKey", key)
        .with_value("host", host)
}

fn matomo(base: &str, site: &str, token: &str) -> Settings {
    Settings::new()
        .with_value("matomoUrl", base)
        .with_value("siteId", site)
        .with_secret("tokenAuth", Secret::from(token))
}

/// No secret value in the report, its JSON or its `Debug`.
fn assert_clean(report: &ConnectionReport) {
    let shown = format!(
        "{report:?} {} {}",
        serde_json::to_string(report).unwrap(),
        report.message
    );
    for secret in [
        MATOMO_TOKEN,
        "matomo-other-valid-token",
        META_TOKEN,
        "EAAother-valid-token",
        "EAAwrong-token-canary",
        GA4_SECRET,
    ] {
        assert!(!shown.contains(secret), "a secret leaked: {shown}");
    }
}

fn check(report: &ConnectionReport, outcome: Outcome, needle: &str) {
    assert_clean(report);
    assert_eq!(report.outcome, outcome, "{report:?}");
    assert!(
        report.message.contains(needle),
        "{:?} lacks {needle:?}",
        report.message
    );
}

#[tokio::test]
async fn meta_ok_sends_the_documented_request() {
    let (fake, t) = fakes().await;
    let report = t.test("meta-pixel", &meta(META_TOKEN)).await;
    check(&report, Outcome::Ok, "`Shop pixel`");
    assert!(report.latency_ms.is_some());
    let requests = fake.requests();
    let [request] = requests.as_slice() else {
        panic!("one request: {requests:?}")
    };
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, format!("/v21.0/{PIXEL}"));
    assert_eq!(request.param("fields"), Some("id,name"));
    assert_eq!(request.param("access_token"), Some(META_TOKEN));
    assert!(
        request
            .user_agent
            .as_deref()
            .unwrap()
            .starts_with("c15t-control-plane/")
    );
}

#[tokio::test]
async fn meta_bad_token_is_bad_credentials_with_metas_message() {
    let (_fake, t) = fakes().await;
    let report = t.test("meta-pixel", &meta("EAAwrong-token-canary")).await;
    check(
        &report,
        Outcome::BadCredentials,
        "Meta: Invalid OAuth access token - Cannot parse access token (OAuthException, code 190)",
    );
}

#[tokio::test]
async fn meta_unknown_pixel_is_not_found() {
    let (_fake, t) = fakes().await;
    // A valid token that may not read the pixel, and a pixel nobody has.
    for settings in [
        meta("EAAother-valid-token"),
        meta(META_TOKEN).with_value("pixelId", "99999999"),
    ] {
        let report = t.test("meta-pixel", &settings).await;
        check(&report, Outcome::NotFound, "subcode 33");
        assert!(report.message.contains("check the pixel ID"), "{report:?}");
    }
}

#[tokio::test]
async fn meta_without_a_token_checks_the_browser_pixel_only() {
    let (fake, t) = fakes().await;
    let settings = Settings::new().with_value("pixelId", PIXEL);
    let report = t.test("meta-pixel", &settings).await;
    check(
        &report,
        Outcome::NotFound,
        "Meta has no script for 1234567890",
    );
    fake.add_script("meta", PIXEL);
    let report = t.test("meta-pixel", &settings).await;
    check(&report, Outcome::Ok, "only the browser tag was checked");
    let requests = fake.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.path == format!("/signals/config/{PIXEL}"))
    );
}

#[tokio::test]
async fn a_vendor_that_echoes_the_token_is_redacted() {
    let (fake, t) = fakes().await;
    let body = format!(
        r#"{{"error":{{"message":"token {META_TOKEN} is odd","type":"OAuthException","code":1}}}}"#
    );
    fake.fail_with(Some((500, &body)));
    let report = t.test("meta-pixel", &meta(META_TOKEN)).await;
    check(
        &report,
        Outcome::VendorError { status: 500 },
        "token *** is odd",
    );
}

#[tokio::test]
async fn a_token_cut_by_the_excerpt_is_still_redacted() {
    // An answer that is not Graph JSON is reported by its first 200 characters; the token
    // starts at 190, so an excerpt taken before redaction would show its first 10.
    let (fake, t) = fakes().await;
    let body = format!("{}{META_TOKEN} and more", "x".repeat(190));
    fake.fail_with(Some((502, &body)));
    let report = t.test("meta-pixel", &meta(META_TOKEN)).await;
    assert!(!report.message.contains(&META_TOKEN[..8]), "{report:?}");
    assert!(report.message.contains("xxx***"), "{report:?}");
}

#[tokio::test]
async fn ga4_ok_sends_a_valid_event_to_the_validation_server() {
    let (fake, t) = fakes().await;
    let report = t.test("google-analytics", &ga4()).await;
    check(&report, Outcome::Ok, "does not check API secrets");
    let requests = fake.requests();
    let [request] = requests.as_slice() else {
        panic!("one request: {requests:?}")
    };
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/debug/mp/collect")
    );
    assert_eq!(request.param("measurement_id"), Some(GA4_ID));
    assert_eq!(request.param("api_secret"), Some(GA4_SECRET));
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["events"][0]["name"], "c15t_connection_test");
    assert_eq!(body["client_id"], "c15t-connection-test");
}

#[tokio::test]
async fn ga4_validation_messages_are_reported() {
    let (fake, t) = fakes().await;
    fake.fail_with(Some((
        200,
        r#"{"validationMessages":[{"fieldPath":"measurement_id","description":"Measurement ID is required for web streams.","validationCode":"VALUE_REQUIRED"}]}"#,
    )));
    let report = t.test("google-analytics", &ga4()).await;
    check(
        &report,
        Outcome::Rejected,
        "measurement_id: Measurement ID is required for web streams. (VALUE_REQUIRED)",
    );
}

#[tokio::test]
async fn ga4_without_a_secret_checks_the_browser_tag() {
    let (fake, t) = fakes().await;
    let settings = Settings::new().with_value("measurementId", GA4_ID);
    let report = t.test("google-analytics", &settings).await;
    // The fake serves no `/gtag/js`: Google would answer 404 for an unknown stream too.
    check(&report, Outcome::NotFound, "Google Analytics has no script");
    assert_eq!(fake.requests()[0].path, "/gtag/js");
    assert_eq!(fake.requests()[0].param("id"), Some(GA4_ID));
    fake.add_script("gtag", GA4_ID);
    let report = t.test("google-analytics", &settings).await;
    check(&report, Outcome::Ok, "only the browser tag was checked");
}

#[tokio::test]
async fn posthog_ok_and_bad_key() {
    let (fake, t) = fakes().await;
    let base = fake.base_url();
    let report = t.test("posthog", &posthog(&base, POSTHOG_KEY)).await;
    check(&report, Outcome::Ok, "accepted the project API key");
    let report = t
        .test("posthog", &posthog(&base, "phc_unknownkey000"))
        .await;
    check(
        &report,
        Outcome::BadCredentials,
        "refused the project API key: Project API key invalid.",
    );
    let requests = fake.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.method == "POST" && r.path == "/flags/")
    );
    assert_eq!(requests[0].param("v"), Some("2"));
    let body: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(body["api_key"], POSTHOG_KEY);
    assert_eq!(body["distinct_id"], "c15t-connection-test");
}

#[tokio::test]
async fn posthog_uses_the_default_host_without_a_host_setting() {
    let (fake, t) = fakes().await;
    let settings = Settings::new().with_value("apiKey", POSTHOG_KEY);
    let report = t.test("posthog", &settings).await;
    check(&report, Outcome::Ok, &fake.addr().to_string());
}

#[tokio::test]
async fn posthog_host_is_guarded_by_the_ssrf_policy() {
    let fake = FakeVendors::start().await;
    fake.add_posthog_key(POSTHOG_KEY);
    // The strict policy: no loopback, no plain http.
    let strict = testers(
        &fake.base_url(),
        Duration::from_secs(5),
        SsrfPolicy::strict(),
    );
    let report = strict
        .test("posthog", &posthog(&fake.base_url(), POSTHOG_KEY))
        .await;
    check(&report, Outcome::Unreachable, "over http");
    let https_only = testers(
        &fake.base_url(),
        Duration::from_secs(5),
        SsrfPolicy {
            allow: Vec::new(),
            allow_http: true,
        },
    );
    let report = https_only
        .test("posthog", &posthog(&fake.base_url(), POSTHOG_KEY))
        .await;
    check(
        &report,
        Outcome::Unreachable,
        "127.0.0.1 is a loopback address",
    );
    // By name: the guarded resolver refuses what `localhost` resolves to.
    let by_name = format!("http://localhost:{}", fake.addr().port());
    let report = https_only
        .test("posthog", &posthog(&by_name, POSTHOG_KEY))
        .await;
    check(&report, Outcome::Unreachable, "loopback address");
    assert!(fake.requests().is_empty(), "nothing reached the fake");
}

/// A port nothing listens on.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn unreachable_vendors() {
    let closed = closed_port().await;
    let t = testers(&closed, Duration::from_secs(5), loopback());
    for (kind, settings) in [
        ("meta-pixel", meta(META_TOKEN)),
        ("google-analytics", ga4()),
        ("posthog", posthog(&closed, POSTHOG_KEY)),
        ("matomo", matomo(&closed, "3", MATOMO_TOKEN)),
    ] {
        let report = t.test(kind, &settings).await;
        check(&report, Outcome::Unreachable, "could not reach `127.0.0.1:");
        assert!(
            report
                .message
                .ends_with("the connection was refused (nothing listens there)"),
            "{report:?}"
        );
        assert_eq!(report.latency_ms, None);
    }
    // A name that does not resolve (`.invalid` never does) says so, without the resolver's text.
    let report = t
        .test(
            "posthog",
            &posthog("http://c15t-vendor.invalid", POSTHOG_KEY),
        )
        .await;
    check(
        &report,
        Outcome::Unreachable,
        "could not reach `c15t-vendor.invalid`",
    );
    assert!(
        report
            .message
            .ends_with("the name does not resolve (check the host, or the server's DNS)"),
        "{report:?}"
    );
}

#[tokio::test]
async fn slow_vendors_time_out() {
    let (fake, _) = fakes().await;
    fake.set_delay(Duration::from_secs(3));
    let t = testers(&fake.base_url(), Duration::from_millis(200), loopback());
    let base = fake.base_url();
    for (kind, settings) in [
        ("meta-pixel", meta(META_TOKEN)),
        ("google-analytics", ga4()),
        ("posthog", posthog(&base, POSTHOG_KEY)),
        ("matomo", matomo(&base, "3", MATOMO_TOKEN)),
    ] {
        let started = std::time::Instant::now();
        let report = t.test(kind, &settings).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{kind} waited too long"
        );
        check(&report, Outcome::Unreachable, "did not answer within 0.2 s");
    }
}

#[tokio::test]
async fn vendor_errors_keep_the_status() {
    let (fake, t) = fakes().await;
    fake.fail_with(Some((503, r#"{"detail":"Service unavailable"}"#)));
    let base = fake.base_url();
    for (kind, settings) in [
        ("meta-pixel", meta(META_TOKEN)),
        ("google-analytics", ga4()),
        ("posthog", posthog(&base, POSTHOG_KEY)),
        ("matomo", matomo(&base, "3", MATOMO_TOKEN)),
    ] {
        let report = t.test(kind, &settings).await;
        check(&report, Outcome::VendorError { status: 503 }, "503");
    }
}

#[tokio::test]
async fn unknown_kinds_are_unsupported() {
    let (fake, t) = fakes().await;
    let report = t.test("made-up-kind", &Settings::new()).await;
    check(&report, Outcome::Unsupported, "`made-up-kind`");
    assert!(Testers::supports("hotjar"));
    assert!(Testers::supports("posthog"));
    assert!(!Testers::supports("made-up-kind"));
    assert!(fake.requests().is_empty());
}

mod kinds;

#[tokio::test]
async fn matomo_outcomes() {
    let (fake, t) = fakes().await;
    let base = fake.base_url();
    let report = t.test("matomo", &matomo(&base, "3", MATOMO_TOKEN)).await;
    check(&report, Outcome::Ok, "has site 3 (`Shop`)");
    let requests = fake.requests();
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/index.php")
    );
    assert_eq!(request.param("method"), Some("SitesManager.getSiteFromId"));
    assert_eq!(request.param("idSite"), Some("3"));
    assert_eq!(
        request.param("token_auth"),
        None,
        "the token stays out of the URL"
    );
    assert_eq!(request.body, format!("token_auth={MATOMO_TOKEN}"));

    let report = t
        .test("matomo", &matomo(&base, "3", "wrong-matomo-token"))
        .await;
    check(
        &report,
        Outcome::BadCredentials,
        "Matomo: Unable to authenticate",
    );
    let report = t
        .test("matomo", &matomo(&base, "3", "matomo-other-valid-token"))
        .await;
    check(&report, Outcome::BadCredentials, "requires 'view' access");
    let report = t.test("matomo", &matomo(&base, "42", MATOMO_TOKEN)).await;
    check(&report, Outcome::NotFound, "unexpected website");

    let without = Settings::new()
        .with_value("matomoUrl", base.as_str())
        .with_value("siteId", "3");
    let report = t.test("matomo", &without).await;
    check(&report, Outcome::Unsupported, "no auth token is stored");

    // matomoUrl is customer-supplied: the strict policy refuses the loopback fake.
    let strict = testers(&base, Duration::from_secs(5), SsrfPolicy::strict());
    let before = fake.requests().len();
    let report = strict
        .test("matomo", &matomo(&base, "3", MATOMO_TOKEN))
        .await;
    check(&report, Outcome::Unreachable, "refusing to connect");
    assert_eq!(fake.requests().len(), before);
}

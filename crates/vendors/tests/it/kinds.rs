//! The testers of the kinds beyond the first four, against the fakes: ok, bad credentials,
//! not found, rejected, unreachable, and no secret in any report.

use std::time::Duration;

use c15t_secrets::Secret;
use c15t_vendors::{ConnectionReport, Outcome, Settings};

use super::{check, closed_port, fakes, loopback, testers};

const TIKTOK_PIXEL: &str = "C4ABCDEFGHIJKLMNOPQ1";
const TIKTOK_TOKEN: &str = "tiktok-canary-token-0001";
const REDDIT_PIXEL: &str = "a2_abc123def4";
const REDDIT_TOKEN: &str = "reddit-canary-token-0001";
const SNAP_PIXEL: &str = "1ec32188-754e-4be2-8e55-c949a984a39f";
const SNAP_TOKEN: &str = "snap-canary-token-0001";
const MIXPANEL_TOKEN: &str = "0123456789abcdef0123456789abcdef";
const MIXPANEL_SECRET: &str = "mixpanel-canary-secret-01";
const AMPLITUDE_KEY: &str = "0123456789abcdef0123456789abcdef";
const SEGMENT_KEY: &str = "SegmentWriteKey0001";

const SECRETS: &[&str] = &[
    TIKTOK_TOKEN,
    REDDIT_TOKEN,
    SNAP_TOKEN,
    MIXPANEL_SECRET,
    "wrong-canary-token",
];

fn clean(report: &ConnectionReport, outcome: Outcome, needle: &str) {
    check(report, outcome, needle);
    let shown = format!("{report:?} {}", serde_json::to_string(report).unwrap());
    for secret in SECRETS {
        assert!(!shown.contains(secret), "a secret leaked: {shown}");
    }
}

fn secret(value: &str) -> Secret {
    Secret::from(value)
}

fn tiktok(token: &str) -> Settings {
    Settings::new()
        .with_value("pixelId", TIKTOK_PIXEL)
        .with_value("testEventCode", "TEST12345")
        .with_secret("accessToken", secret(token))
}

#[tokio::test]
async fn tiktok_uses_the_test_event_code() {
    let (fake, t) = fakes().await;
    fake.add_tiktok_pixel(TIKTOK_PIXEL, TIKTOK_TOKEN);
    fake.add_tiktok_token("tiktok-other-token");
    let report = t.test("tiktok-pixel", &tiktok(TIKTOK_TOKEN)).await;
    clean(&report, Outcome::Ok, "accepted a test event");
    let sent = fake.requests_to("/open_api/");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("access-token"), Some(TIKTOK_TOKEN));
    let body = sent[0].json().unwrap();
    assert_eq!(body["test_event_code"], "TEST12345");
    assert_eq!(body["event_source_id"], TIKTOK_PIXEL);

    let report = t.test("tiktok-pixel", &tiktok("wrong-canary-token")).await;
    clean(
        &report,
        Outcome::BadCredentials,
        "the token was refused by TikTok: Access token is incorrect or has been revoked. (code 40001)",
    );
    let report = t.test("tiktok-pixel", &tiktok("tiktok-other-token")).await;
    clean(
        &report,
        Outcome::NotFound,
        "No permission to operate pixel code",
    );

    fake.fail_path(
        "/open_api/",
        Some((200, r#"{"code":40002,"message":"Invalid value for data[0].event: field is required.","request_id":"x","data":{}}"#)),
    );
    let report = t.test("tiktok-pixel", &tiktok(TIKTOK_TOKEN)).await;
    clean(
        &report,
        Outcome::Rejected,
        "Invalid value for data[0].event",
    );
}

#[tokio::test]
async fn tiktok_without_a_test_code_checks_the_pixel_script() {
    let (fake, t) = fakes().await;
    let settings = Settings::new()
        .with_value("pixelId", TIKTOK_PIXEL)
        .with_secret("accessToken", secret(TIKTOK_TOKEN));
    let report = t.test("tiktok-pixel", &settings).await;
    clean(&report, Outcome::NotFound, "TikTok has no script");
    fake.add_tiktok_pixel(TIKTOK_PIXEL, TIKTOK_TOKEN);
    let report = t.test("tiktok-pixel", &settings).await;
    clean(&report, Outcome::Ok, "store a test event code");
    assert!(fake.requests_to("/open_api/").is_empty());
    let bad = Settings::new().with_value("pixelId", "lowercase");
    let report = t.test("tiktok-pixel", &bad).await;
    clean(
        &report,
        Outcome::Rejected,
        "be 20 upper-case letters and digits",
    );
}

#[tokio::test]
async fn reddit_sends_a_test_mode_event() {
    let (fake, t) = fakes().await;
    fake.add_reddit_pixel(REDDIT_PIXEL, REDDIT_TOKEN);
    fake.add_reddit_token("reddit-other-token");
    let settings = |token: &str| {
        Settings::new()
            .with_value("pixelId", REDDIT_PIXEL)
            .with_secret("accessToken", secret(token))
    };
    let report = t.test("reddit-pixel", &settings(REDDIT_TOKEN)).await;
    clean(&report, Outcome::Ok, "test-mode event");
    let sent = fake.requests_to("/api/v3/pixels/");
    assert_eq!(
        sent[0].path,
        format!("/api/v3/pixels/{REDDIT_PIXEL}/conversion_events")
    );
    assert_eq!(sent[0].json().unwrap()["data"]["test_mode"], true);
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {REDDIT_TOKEN}").as_str())
    );
    let report = t
        .test("reddit-pixel", &settings("wrong-canary-token"))
        .await;
    clean(
        &report,
        Outcome::BadCredentials,
        "the token was refused by Reddit",
    );
    let report = t
        .test("reddit-pixel", &settings("reddit-other-token"))
        .await;
    clean(&report, Outcome::NotFound, "check the pixel ID");
}

#[tokio::test]
async fn snapchat_uses_the_validate_endpoint() {
    let (fake, t) = fakes().await;
    fake.add_snapchat_pixel(SNAP_PIXEL, SNAP_TOKEN);
    let settings = |token: &str| {
        Settings::new()
            .with_value("pixelId", SNAP_PIXEL)
            .with_secret("accessToken", secret(token))
    };
    let report = t.test("snapchat-pixel", &settings(SNAP_TOKEN)).await;
    clean(&report, Outcome::Ok, "validated a test event");
    let sent = fake.requests_to("/v3/");
    assert_eq!(sent[0].path, format!("/v3/{SNAP_PIXEL}/events/validate"));
    let report = t
        .test("snapchat-pixel", &settings("wrong-canary-token"))
        .await;
    clean(&report, Outcome::BadCredentials, "Invalid access token");
    fake.fail_path(
        "/v3/",
        Some((400, r#"{"status":"INVALID","reason":"Insufficient PII"}"#)),
    );
    let report = t.test("snapchat-pixel", &settings(SNAP_TOKEN)).await;
    clean(&report, Outcome::Rejected, "Insufficient PII");
}

#[tokio::test]
async fn mixpanel_checks_the_secret_with_an_empty_import() {
    let (fake, t) = fakes().await;
    fake.add_mixpanel_project(MIXPANEL_TOKEN, Some(MIXPANEL_SECRET));
    let settings = |s: &str| {
        Settings::new()
            .with_value("token", MIXPANEL_TOKEN)
            .with_secret("apiSecret", secret(s))
    };
    let report = t.test("mixpanel", &settings(MIXPANEL_SECRET)).await;
    clean(&report, Outcome::Ok, "nothing was written");
    let sent = fake.requests_to("/import");
    assert_eq!(sent[0].param("strict"), Some("1"));
    assert_eq!(sent[0].body, "[]");
    let report = t.test("mixpanel", &settings("wrong-canary-token")).await;
    clean(&report, Outcome::BadCredentials, "Invalid credentials");
    let report = t
        .test(
            "mixpanel",
            &Settings::new().with_value("token", MIXPANEL_TOKEN),
        )
        .await;
    clean(&report, Outcome::Ok, "no API secret is stored");
}

#[tokio::test]
async fn amplitude_ingests_nothing() {
    let (fake, t) = fakes().await;
    fake.add_amplitude_key(AMPLITUDE_KEY);
    let report = t
        .test(
            "amplitude",
            &Settings::new().with_value("apiKey", AMPLITUDE_KEY),
        )
        .await;
    clean(&report, Outcome::Ok, "nothing was ingested");
    let other = "ffffffffffffffffffffffffffffffff";
    let report = t
        .test(
            "amplitude",
            &Settings::new()
                .with_value("apiKey", other)
                .with_value("serverZone", "EU"),
        )
        .await;
    clean(&report, Outcome::BadCredentials, "Invalid API key: ffff");
    assert!(fake.requests_to("/2/httpapi").len() == 2);
}

#[tokio::test]
async fn segment_looks_the_write_key_up() {
    let (fake, t) = fakes().await;
    fake.add_segment_key(SEGMENT_KEY);
    let report = t
        .test(
            "segment",
            &Settings::new().with_value("writeKey", SEGMENT_KEY),
        )
        .await;
    clean(&report, Outcome::Ok, "Segment knows the write key");
    let report = t
        .test(
            "segment",
            &Settings::new().with_value("writeKey", "UnknownKey0001"),
        )
        .await;
    clean(
        &report,
        Outcome::BadCredentials,
        "does not know this write key",
    );
}

#[tokio::test]
async fn self_hosted_analytics_check_their_tracker() {
    let (fake, t) = fakes().await;
    let base = fake.base_url();
    let report = t
        .test(
            "plausible",
            &Settings::new()
                .with_value("domain", "shop.example.com")
                .with_value("apiHost", &base),
        )
        .await;
    clean(&report, Outcome::Ok, "serves its tracker");
    let report = t
        .test(
            "umami",
            &Settings::new()
                .with_value("websiteId", SNAP_PIXEL)
                .with_value("hostUrl", &base),
        )
        .await;
    clean(&report, Outcome::Ok, "Umami at `127.0.0.1");
    let report = t
        .test(
            "umami",
            &Settings::new().with_value("websiteId", "not-a-uuid"),
        )
        .await;
    clean(&report, Outcome::Rejected, "not a valid ID");
}

#[tokio::test]
async fn client_only_kinds_check_format_and_script() {
    let (fake, t) = fakes().await;
    fake.add_script("gtm", "GTM-ABC123");
    fake.add_script("clarity", "abcdef1234");
    fake.add_script("hotjar", "1234567");
    let cases = [
        (
            "google-tag-manager",
            "containerId",
            "GTM-ABC123",
            Outcome::Ok,
            "serves its script",
        ),
        (
            "google-tag-manager",
            "containerId",
            "GTM-ZZZ999",
            Outcome::NotFound,
            "has no script for GTM-ZZZ999",
        ),
        (
            "google-tag-manager",
            "containerId",
            "UA-1",
            Outcome::Rejected,
            "look like `GTM-XXXXXXX`",
        ),
        (
            "microsoft-clarity",
            "projectId",
            "abcdef1234",
            Outcome::Ok,
            "serves its script",
        ),
        (
            "hotjar",
            "siteId",
            "1234567",
            Outcome::Ok,
            "serves its script",
        ),
        (
            "hotjar",
            "siteId",
            "7654321",
            Outcome::NotFound,
            "Hotjar has no script",
        ),
        (
            "x-pixel",
            "pixelId",
            "o1abc",
            Outcome::Ok,
            "no public way to confirm",
        ),
        (
            "microsoft-uet",
            "tagId",
            "12345678",
            Outcome::Ok,
            "script loads",
        ),
        ("fathom", "siteId", "ABCDEFGH", Outcome::Ok, "script loads"),
        (
            "cloudflare-web-analytics",
            "token",
            "0123456789abcdef0123456789abcdef",
            Outcome::Ok,
            "script loads",
        ),
        (
            "linkedin-insight",
            "partnerId",
            "123456",
            Outcome::Ok,
            "only the browser tag",
        ),
        (
            "intercom",
            "appId",
            "abcd1234",
            Outcome::Ok,
            "only its format was checked",
        ),
    ];
    for (kind, key, value, outcome, needle) in cases {
        let report = t.test(kind, &Settings::new().with_value(key, value)).await;
        clean(&report, outcome, needle);
    }
    assert_eq!(
        fake.requests_to("/gtm.js")[0].param("id"),
        Some("GTM-ABC123")
    );
    assert_eq!(fake.requests_to("/c/")[0].path, "/c/hotjar-1234567.js");
}

#[tokio::test]
async fn meta_with_a_test_event_code_sends_a_test_event() {
    let (fake, t) = fakes().await;
    let settings = |token: &str| {
        Settings::new()
            .with_value("pixelId", super::PIXEL)
            .with_value("testEventCode", "TEST777")
            .with_secret("accessToken", secret(token))
    };
    let report = t.test("meta-pixel", &settings(super::META_TOKEN)).await;
    check(&report, Outcome::Ok, "Test events with code TEST777");
    let sent = fake.requests();
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].path, format!("/v21.0/{}/events", super::PIXEL));
    assert_eq!(sent[0].json().unwrap()["test_event_code"], "TEST777");
    let report = t
        .test("meta-pixel", &settings("EAAwrong-token-canary"))
        .await;
    check(&report, Outcome::BadCredentials, "code 190");
}

#[tokio::test]
async fn one_vendor_can_fail_while_others_work() {
    let (fake, t) = fakes().await;
    fake.add_segment_key(SEGMENT_KEY);
    fake.add_tiktok_pixel(TIKTOK_PIXEL, TIKTOK_TOKEN);
    fake.fail_path("/open_api/", Some((500, r#"{"message":"down"}"#)));
    let report = t.test("tiktok-pixel", &tiktok(TIKTOK_TOKEN)).await;
    clean(
        &report,
        Outcome::VendorError { status: 500 },
        "TikTok's Events API answered 500",
    );
    let report = t
        .test(
            "segment",
            &Settings::new().with_value("writeKey", SEGMENT_KEY),
        )
        .await;
    clean(&report, Outcome::Ok, "Segment knows");
    fake.fail_path("/open_api/", None);
    let report = t.test("tiktok-pixel", &tiktok(TIKTOK_TOKEN)).await;
    clean(&report, Outcome::Ok, "accepted a test event");
}

#[tokio::test]
async fn new_kinds_report_unreachable_vendors() {
    let closed = closed_port().await;
    let t = testers(&closed, Duration::from_secs(5), loopback());
    let cases = [
        ("tiktok-pixel", tiktok(TIKTOK_TOKEN)),
        (
            "reddit-pixel",
            Settings::new()
                .with_value("pixelId", REDDIT_PIXEL)
                .with_secret("accessToken", secret(REDDIT_TOKEN)),
        ),
        (
            "snapchat-pixel",
            Settings::new()
                .with_value("pixelId", SNAP_PIXEL)
                .with_secret("accessToken", secret(SNAP_TOKEN)),
        ),
        (
            "mixpanel",
            Settings::new()
                .with_value("token", MIXPANEL_TOKEN)
                .with_secret("apiSecret", secret(MIXPANEL_SECRET)),
        ),
        (
            "amplitude",
            Settings::new().with_value("apiKey", AMPLITUDE_KEY),
        ),
        (
            "segment",
            Settings::new().with_value("writeKey", SEGMENT_KEY),
        ),
        ("hotjar", Settings::new().with_value("siteId", "1234567")),
    ];
    for (kind, settings) in cases {
        let report = t.test(kind, &settings).await;
        clean(&report, Outcome::Unreachable, "could not reach `127.0.0.1:");
        assert_eq!(report.latency_ms, None);
    }
}

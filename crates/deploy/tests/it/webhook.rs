//! The Standard Webhooks notifier against the fake receiver (`c15t_testkit::webhook`) and the
//! official `standardwebhooks` npm library: signatures verify (also during a rotation and with
//! unicode bodies), answers map to outcomes, the timeout holds, the SSRF guard refuses private
//! targets unless allow-listed, and secrets never show.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use c15t_deploy::webhook::{
    DeliveryOutcome, MessageId, WebhookDeployer, WebhookEndpoint, WebhookError, WebhookEvent,
    WebhookMessage, WebhookNotifier, WebhookSecret, WorkerConfigUpdated, signature_header,
};
use c15t_deploy::{DeployError, Deployer};
use c15t_model::{CustomerId, Environment};
use c15t_net::{NextStep, RetrySchedule, SsrfPolicy};
use c15t_testkit::webhook::{Respond, Verification, WebhookReceiver};
use serde_json::{Value, json};

use crate::support;

/// The operator's opt-in to the fake receiver: loopback IPv4 and plain HTTP.
fn loopback_policy() -> SsrfPolicy {
    SsrfPolicy {
        allow: vec!["127.0.0.1/32".parse().expect("net")],
        allow_http: true,
    }
}

fn notifier(policy: SsrfPolicy) -> WebhookNotifier {
    WebhookNotifier::new(policy).expect("notifier")
}

fn secret_value(secret: &WebhookSecret) -> String {
    secret.expose().expose().to_owned()
}

/// The part of a secret that must never show (the prefix alone is harmless).
fn key_text(secret: &WebhookSecret) -> String {
    secret_value(secret)["whsec_".len()..].to_owned()
}

#[allow(
    clippy::disallowed_methods,
    reason = "signatures checked by a real verifier must carry the current time"
)]
fn now() -> SystemTime {
    SystemTime::now()
}

fn unix_now() -> u64 {
    now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn event(note: &str) -> WebhookEvent {
    WebhookEvent::WorkerConfigUpdated {
        timestamp: now(),
        data: WorkerConfigUpdated {
            customer: CustomerId::new("acme").expect("id"),
            environment: Environment::production(),
            revision: 7,
            content_hash: format!("sha256:{note}"),
            download_url:
                "https://control.example.com/api/control-plane/customers/acme/worker-config"
                    .to_owned(),
        },
    }
}

fn message(note: &str) -> WebhookMessage {
    WebhookMessage::new(MessageId::random(), &event(note))
}

// ---------------------------------------------------------------------------------------------
// The official library

/// Runs the fixture script with the official library on `cases`, returning one result each.
fn official_verify(cases: &Value) -> Vec<Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tools = root.join("tools/ts");
    assert!(
        tools.join("node_modules/standardwebhooks").is_dir(),
        "{} is missing: run `cargo xtask npm` (the README's test command does) to install the \
         pinned TypeScript toolchain",
        tools.join("node_modules/standardwebhooks").display()
    );
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/verify-webhook.mjs");
    let mut child = Command::new("node")
        .arg(&script)
        .arg(&tools)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (is Node.js installed?)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(cases.to_string().as_bytes())
        .expect("write cases");
    let output = child.wait_with_output().expect("node finishes");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("node prints JSON")
}

fn case(secret: &WebhookSecret, id: &str, timestamp: u64, signature: &str, body: &str) -> Value {
    json!({
        "secret": secret_value(secret),
        "body": body,
        "headers": {
            "webhook-id": id,
            "webhook-timestamp": timestamp.to_string(),
            "webhook-signature": signature,
        },
    })
}

#[test]
fn the_official_library_verifies_our_signatures() {
    let new = WebhookSecret::generate();
    let old = WebhookSecret::generate();
    let stranger = WebhookSecret::generate();
    let ts = unix_now();
    let bodies = [
        message("plain").body().to_owned(),
        message("Grüße 🍪 — 中文, ünïcödé \u{2028} \"quoted\"")
            .body()
            .to_owned(),
        r#"{"emoji":"👩‍👩‍👧‍👦","rtl":"مرحبا","nul":"\u0000"}"#.to_owned(),
    ];
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let id = format!("msg_case{i}");
        let single = signature_header(std::slice::from_ref(&new), &id, ts, body.as_bytes());
        let rotation = signature_header(&[new.clone(), old.clone()], &id, ts, body.as_bytes());
        // One secret, and both sides of a rotation.
        cases.push(case(&new, &id, ts, &single, body));
        expected.push(true);
        cases.push(case(&new, &id, ts, &rotation, body));
        expected.push(true);
        cases.push(case(&old, &id, ts, &rotation, body));
        expected.push(true);
        // A receiver with another secret, a tampered body, timestamp or id.
        cases.push(case(&stranger, &id, ts, &rotation, body));
        expected.push(false);
        let tampered = body
            .replacen("sha256", "sha257", 1)
            .replacen("emoji", "emojI", 1);
        assert_ne!(&tampered, body);
        cases.push(case(&new, &id, ts, &rotation, &tampered));
        expected.push(false);
        cases.push(case(&new, &id, ts - 1, &rotation, body));
        expected.push(false);
        cases.push(case(&new, &format!("{id}x"), ts, &rotation, body));
        expected.push(false);
    }
    let results = official_verify(&Value::Array(cases));
    assert_eq!(results.len(), expected.len());
    for (i, (result, ok)) in results.iter().zip(&expected).enumerate() {
        assert_eq!(result["ok"], json!(ok), "case {i}: {result}");
    }
    // What verified parsed as the JSON we sent.
    assert_eq!(
        results[7]["payload"]["data"]["contentHash"],
        json!("sha256:Grüße 🍪 — 中文, ünïcödé \u{2028} \"quoted\"")
    );
}

#[tokio::test]
async fn the_official_library_verifies_a_delivery_as_sent() {
    let secret = WebhookSecret::generate();
    let receiver = WebhookReceiver::start(vec![secret_value(&secret)]).await;
    let endpoint = WebhookEndpoint::new(&receiver.url(), vec![secret.clone()]).expect("endpoint");
    let msg = message("über");
    notifier(loopback_policy())
        .send(&endpoint, &msg)
        .await
        .expect("sent");
    let delivery = receiver.deliveries().pop().expect("one delivery");
    let headers: serde_json::Map<String, Value> = delivery
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), json!(v)))
        .collect();
    let results = official_verify(&json!([{
        "secret": secret_value(&secret),
        "body": delivery.text(),
        "headers": headers,
    }]));
    assert_eq!(results[0]["ok"], json!(true), "{}", results[0]);
    assert_eq!(
        results[0]["payload"]["type"],
        json!("worker_config.updated")
    );
}

// ---------------------------------------------------------------------------------------------
// Deliveries and outcomes

#[tokio::test]
async fn a_delivery_is_signed_and_recorded() {
    let secret = WebhookSecret::generate();
    let receiver = WebhookReceiver::start(vec![secret_value(&secret)]).await;
    let endpoint = WebhookEndpoint::new(&receiver.url(), vec![secret]).expect("endpoint");
    let msg = message("a");
    let attempt = notifier(loopback_policy())
        .send(&endpoint, &msg)
        .await
        .expect("sent");
    assert_eq!(attempt.status, 200);
    assert_eq!(attempt.outcome, DeliveryOutcome::Delivered);
    assert_eq!(attempt.response_excerpt, "ok");

    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(d.verification, Verification::Verified { secret: 0 });
    assert_eq!(d.id(), Some(msg.id().as_str()));
    assert_eq!(d.text(), msg.body());
    assert_eq!(d.header("content-type"), Some("application/json"));
    assert!(d.timestamp().expect("timestamp").abs_diff(unix_now()) <= 5);
    let body = d.json();
    assert_eq!(body["type"], json!("worker_config.updated"));
    assert_eq!(body["data"]["customerId"], json!("acme"));
    assert!(
        body["timestamp"]
            .as_str()
            .expect("timestamp")
            .ends_with('Z')
    );
}

#[tokio::test]
async fn a_rotation_verifies_with_the_old_or_the_new_secret() {
    let new = WebhookSecret::generate();
    let old = WebhookSecret::generate();
    let only_old = WebhookReceiver::start(vec![secret_value(&old)]).await;
    let both = WebhookReceiver::start(vec![secret_value(&new), secret_value(&old)]).await;
    let unrelated = WebhookReceiver::start(vec![secret_value(&WebhookSecret::generate())]).await;
    let n = notifier(loopback_policy());
    for receiver in [&only_old, &both, &unrelated] {
        let endpoint = WebhookEndpoint::new(&receiver.url(), vec![new.clone(), old.clone()])
            .expect("endpoint");
        n.send(&endpoint, &message("r")).await.expect("sent");
    }
    assert_eq!(only_old.deliveries()[0].matched_secret(), Some(0));
    assert_eq!(both.deliveries()[0].matched_secret(), Some(0));
    let sigs = both.deliveries()[0]
        .header("webhook-signature")
        .expect("signature")
        .to_owned();
    assert_eq!(sigs.split(' ').count(), 2, "{sigs}");
    assert!(sigs.split(' ').all(|s| s.starts_with("v1,")), "{sigs}");
    assert!(!unrelated.deliveries()[0].verified());
}

#[tokio::test]
async fn a_stale_timestamp_fails_verification() {
    fn ten_minutes_ago() -> SystemTime {
        now() - Duration::from_secs(600)
    }
    let secret = WebhookSecret::generate();
    let receiver = WebhookReceiver::start(vec![secret_value(&secret)]).await;
    let endpoint = WebhookEndpoint::new(&receiver.url(), vec![secret]).expect("endpoint");
    notifier(loopback_policy())
        .with_clock(ten_minutes_ago)
        .send(&endpoint, &message("stale"))
        .await
        .expect("sent");
    assert!(matches!(
        &receiver.deliveries()[0].verification,
        Verification::Failed(reason) if reason.contains("5 minutes")
    ));
}

#[tokio::test]
async fn answers_map_to_outcomes_and_retries_keep_the_id() {
    let secret = WebhookSecret::generate();
    let receiver = WebhookReceiver::start(vec![secret_value(&secret)]).await;
    receiver.respond_with(vec![
        Respond::Status(500),
        Respond::RetryAfter(429, 120),
        Respond::Status(302),
        Respond::Status(404),
        Respond::Body(503, "ä".repeat(300)),
        Respond::Status(410),
        Respond::Ok,
    ]);
    let endpoint = WebhookEndpoint::new(&receiver.url(), vec![secret]).expect("endpoint");
    let n = notifier(loopback_policy());
    let msg = message("retry");
    let schedule = RetrySchedule::default();
    let mut outcomes = Vec::new();
    let mut steps = Vec::new();
    for attempt in 1..=7 {
        let result = n.send(&endpoint, &msg).await;
        steps.push(schedule.after(attempt, &result));
        let attempt = result.expect("answered");
        outcomes.push((attempt.status, attempt.outcome));
        if attempt.status == 503 {
            assert_eq!(attempt.response_excerpt, "ä".repeat(100));
        }
    }
    let retry = DeliveryOutcome::Retry { after: None };
    assert_eq!(
        outcomes,
        vec![
            (500, retry),
            (
                429,
                DeliveryOutcome::Retry {
                    after: Some(Duration::from_secs(120))
                }
            ),
            (302, retry),
            (404, retry),
            (503, retry),
            (410, DeliveryOutcome::Gone),
            (200, DeliveryOutcome::Delivered),
        ]
    );
    let secs = |s| NextStep::RetryIn(Duration::from_secs(s));
    assert_eq!(
        steps,
        vec![
            secs(5),
            secs(300),
            secs(1800),
            secs(7200),
            secs(18_000),
            NextStep::DisableEndpoint,
            NextStep::Done,
        ]
    );
    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 7, "redirects are not followed");
    assert!(deliveries.iter().all(|d| d.id() == Some(msg.id().as_str())));
    assert!(deliveries.iter().all(|d| d.text() == msg.body()));
    assert!(deliveries.iter().all(|d| d.verified()));
}

#[tokio::test]
async fn retry_after_as_a_date_is_honoured() {
    let secret = WebhookSecret::generate();
    let receiver = WebhookReceiver::start(vec![secret_value(&secret)]).await;
    // 2000-01-01T00:01:40Z, 100 s after the notifier's fixed clock.
    receiver.respond_with(vec![Respond::RetryAfterRaw(
        503,
        "Sat, 01 Jan 2000 00:01:40 GMT".to_owned(),
    )]);
    fn y2k() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(946_684_800)
    }
    let endpoint = WebhookEndpoint::new(&receiver.url(), vec![secret]).expect("endpoint");
    let attempt = notifier(loopback_policy())
        .with_clock(y2k)
        .send(&endpoint, &message("date"))
        .await
        .expect("answered");
    assert_eq!(
        attempt.outcome,
        DeliveryOutcome::Retry {
            after: Some(Duration::from_secs(100))
        }
    );
}

#[tokio::test]
async fn a_slow_endpoint_times_out_and_is_retryable() {
    let secret = WebhookSecret::generate();
    let receiver = WebhookReceiver::start(vec![secret_value(&secret)]).await;
    receiver.respond_with(vec![Respond::Slow(Duration::from_secs(5))]);
    let endpoint = WebhookEndpoint::new(&receiver.url(), vec![secret]).expect("endpoint");
    let n = notifier(loopback_policy()).with_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = n
        .send(&endpoint, &message("slow"))
        .await
        .expect_err("timed out");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout held"
    );
    assert!(matches!(err, WebhookError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains("did not answer within 300ms"),
        "{err}"
    );
    assert_eq!(
        RetrySchedule::default().after(1, &Err(err)),
        NextStep::RetryIn(Duration::from_secs(5))
    );
    // The next attempt (the script is used up) is delivered.
    let attempt = n.send(&endpoint, &message("slow")).await.expect("sent");
    assert!(attempt.is_delivered());
}

#[tokio::test]
async fn a_closed_port_is_a_retryable_transport_error() {
    let secret = WebhookSecret::generate();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let endpoint = WebhookEndpoint::new(
        &format!("http://127.0.0.1:{port}/x?token=tok123"),
        vec![secret],
    )
    .expect("endpoint");
    let err = notifier(loopback_policy())
        .send(&endpoint, &message("closed"))
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, WebhookError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    let chain = error_chain(&err);
    assert!(
        !chain.contains("tok123"),
        "errors do not show the URL's query: {chain}"
    );
}

// ---------------------------------------------------------------------------------------------
// The SSRF guard

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[tokio::test]
async fn the_guard_refuses_private_targets_unless_allow_listed() {
    let secret = WebhookSecret::generate();
    let receiver = WebhookReceiver::start(vec![secret_value(&secret)]).await;
    let port = receiver.addr().port();
    let http_only = notifier(SsrfPolicy {
        allow: vec![],
        allow_http: true,
    });
    let cases = [
        (
            format!("http://127.0.0.1:{port}/webhooks"),
            "127.0.0.1",
            "loopback",
            "127.0.0.0/8",
        ),
        (
            "http://10.0.0.1/hook".to_owned(),
            "10.0.0.1",
            "private",
            "10.0.0.0/8",
        ),
        (
            "http://169.254.169.254/latest/meta-data".to_owned(),
            "169.254.169.254",
            "link-local",
            "169.254.0.0/16",
        ),
        (
            format!("http://[::1]:{port}/webhooks"),
            "[::1]",
            "loopback",
            "::1/128",
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/webhooks"),
            "[::ffff:7f00:1]",
            "loopback",
            "127.0.0.0/8",
        ),
        (
            format!("http://localhost:{port}/webhooks"),
            "localhost",
            "loopback",
            "",
        ),
        (
            "http://100.64.1.1/".to_owned(),
            "100.64.1.1",
            "carrier-grade NAT",
            "100.64.0.0/10",
        ),
        (
            "http://[fd12::1]/".to_owned(),
            "[fd12::1]",
            "unique local",
            "fc00::/7",
        ),
    ];
    for (url, host, kind, net) in cases {
        let endpoint = WebhookEndpoint::new(&url, vec![secret.clone()]).expect("endpoint");
        let err = http_only
            .send(&endpoint, &message("ssrf"))
            .await
            .expect_err(&url);
        assert!(
            matches!(err, WebhookError::Refused { .. }),
            "{url}: {err:?}"
        );
        assert!(!err.is_retryable(), "{url}");
        let text = err.to_string();
        assert!(text.contains(&format!("`{host}`")), "{url}: {text}");
        assert!(text.contains(kind) && text.contains(net), "{url}: {text}");
        assert!(text.contains("allow-list"), "{text}");
        let next = RetrySchedule::default().after(1, &Err(err));
        assert_eq!(next, NextStep::GiveUp, "{url}");
    }
    assert!(receiver.deliveries().is_empty(), "nothing got through");

    // The operator's allow-list opens loopback, by address and by name.
    let allowed = notifier(SsrfPolicy {
        allow: vec!["127.0.0.1/32".parse().expect("net")],
        allow_http: true,
    });
    for url in [
        format!("http://127.0.0.1:{port}/webhooks"),
        format!("http://localhost:{port}/webhooks"),
        format!("http://[::ffff:127.0.0.1]:{port}/webhooks"),
    ] {
        let endpoint = WebhookEndpoint::new(&url, vec![secret.clone()]).expect("endpoint");
        let attempt = allowed
            .send(&endpoint, &message("allowed"))
            .await
            .unwrap_or_else(|e| panic!("{url}: {}", error_chain(&e)));
        assert!(attempt.is_delivered(), "{url}");
    }
    // ...but not the rest of 127/8.
    let endpoint =
        WebhookEndpoint::new("http://127.0.0.2/", vec![secret.clone()]).expect("endpoint");
    let err = allowed
        .send(&endpoint, &message("x"))
        .await
        .expect_err("127.0.0.2 is not allow-listed");
    assert!(matches!(err, WebhookError::Refused { .. }), "{err:?}");
    assert_eq!(receiver.deliveries().len(), 3);
}

#[tokio::test]
async fn plain_http_needs_the_operators_consent() {
    let secret = WebhookSecret::generate();
    let receiver = WebhookReceiver::start(vec![secret_value(&secret)]).await;
    let endpoint = WebhookEndpoint::new(&receiver.url(), vec![secret]).expect("endpoint");
    let strict_but_loopback = notifier(SsrfPolicy {
        allow: vec!["127.0.0.1/32".parse().expect("net")],
        allow_http: false,
    });
    let err = strict_but_loopback
        .send(&endpoint, &message("http"))
        .await
        .expect_err("http refused");
    assert!(
        matches!(err, WebhookError::InsecureScheme { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("https://"), "{err}");
    assert!(receiver.deliveries().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The notify deployer

#[tokio::test]
async fn the_deployer_announces_a_release() {
    let secret = WebhookSecret::generate();
    let receiver = WebhookReceiver::start(vec![secret_value(&secret)]).await;
    let endpoint = WebhookEndpoint::new(&receiver.url(), vec![secret]).expect("endpoint");
    let deployer = WebhookDeployer::new(
        notifier(loopback_policy()),
        endpoint,
        "https://control.example.com/",
    )
    .expect("deployer");
    let release = support::release("notify", false);
    let outcome = deployer.deploy(&release).await.expect("deployed");
    let id = outcome.delivery_id.clone().expect("a delivery id");
    assert!(id.starts_with("msg_"), "{id}");
    assert_eq!(outcome.url, None);

    let d = &receiver.deliveries()[0];
    assert!(d.verified());
    assert_eq!(d.id(), Some(id.as_str()));
    let body = d.json();
    assert_eq!(body["type"], json!("worker_config.updated"));
    assert_eq!(
        body["data"],
        json!({
            "customerId": "acme",
            "environment": "production",
            "revision": 7,
            "contentHash": release.content_hash(),
            "downloadUrl": "https://control.example.com/api/control-plane/customers/acme/worker-config",
        })
    );

    // Deploying the same release again is a retry of the same message; another release is a
    // new message.
    let again = deployer.deploy(&release).await.expect("deployed again");
    assert_eq!(again, outcome);
    let other = deployer
        .deploy(&support::release("notify-2", false))
        .await
        .expect("deployed");
    assert_ne!(other.delivery_id, outcome.delivery_id);
}

#[tokio::test]
async fn deployer_failures_say_whether_to_retry() {
    let secret = WebhookSecret::generate();
    let receiver = WebhookReceiver::start(vec![secret_value(&secret)]).await;
    receiver.respond_with(vec![Respond::RetryAfter(503, 30), Respond::Status(410)]);
    let endpoint = WebhookEndpoint::new(&receiver.url(), vec![secret.clone()]).expect("endpoint");
    let deployer = WebhookDeployer::new(
        notifier(loopback_policy()),
        endpoint,
        "https://control.example.com",
    )
    .expect("deployer");
    let release = support::release("fail", false);

    let err = deployer.deploy(&release).await.expect_err("503");
    assert!(err.is_retryable(), "{err}");
    match &err {
        DeployError::Webhook(e) => assert_eq!(e.retry_after(), Some(Duration::from_secs(30))),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("answered 503"), "{err}");

    let err = deployer.deploy(&release).await.expect_err("410");
    assert!(!err.is_retryable(), "{err}");
    assert!(
        matches!(&err, DeployError::Webhook(e) if e.is_gone()),
        "{err:?}"
    );

    let refused = WebhookDeployer::new(
        notifier(SsrfPolicy::strict()),
        WebhookEndpoint::new("https://169.254.169.254/", vec![secret]).expect("endpoint"),
        "https://control.example.com",
    )
    .expect("deployer");
    let err = refused.deploy(&release).await.expect_err("refused");
    assert!(!err.is_retryable(), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Secrets never show

#[tokio::test]
async fn secrets_never_show_in_debug_or_errors() {
    let secret = WebhookSecret::generate();
    let old = WebhookSecret::generate();
    let needles = [key_text(&secret), key_text(&old)];
    let receiver = WebhookReceiver::start(vec![secret_value(&secret)]).await;
    receiver.respond_with(vec![Respond::Status(500), Respond::Status(410)]);
    let endpoint =
        WebhookEndpoint::new(&receiver.url(), vec![secret.clone(), old.clone()]).expect("endpoint");
    let n = notifier(loopback_policy()).with_timeout(Duration::from_secs(5));
    let deployer = WebhookDeployer::new(n.clone(), endpoint.clone(), "https://control.example.com")
        .expect("deployer");

    let mut shown = vec![
        format!("{secret:?}"),
        format!("{endpoint:?}"),
        format!("{n:?}"),
        format!("{deployer:?}"),
        format!("{deployer}"),
    ];
    let release = support::release("s", false);
    for _ in 0..2 {
        let err = deployer.deploy(&release).await.expect_err("500, then 410");
        shown.push(format!("{err:?}"));
        shown.push(error_chain(&err));
    }
    let refused = WebhookEndpoint::new("http://10.1.2.3/", vec![secret.clone()]).expect("endpoint");
    let err = n.send(&refused, &message("x")).await.expect_err("refused");
    shown.push(format!("{err:?}"));
    shown.push(error_chain(&err));
    let err = WebhookEndpoint::new("http://u:p@example.com/", vec![secret.clone()])
        .expect_err("credentials");
    shown.push(format!("{err:?}"));
    // A malformed secret's error does not echo it either.
    let bad = format!("whsec_{}!", needles[0]);
    let err = WebhookSecret::parse(&bad).expect_err("bad base64");
    shown.push(format!("{err:?} {err}"));

    for text in &shown {
        for needle in &needles {
            assert!(!text.contains(needle.as_str()), "a secret shows in {text}");
        }
    }
    assert!(shown[1].contains("whsec_***"), "{}", shown[1]);
}

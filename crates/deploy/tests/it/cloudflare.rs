//! The Cloudflare deployer against the fake Cloudflare API: what arrives, idempotence under
//! injected faults, rate limits, errors and rollback.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use c15t_deploy::cloudflare::{
    CloudflareAccount, CloudflareDeployer, CloudflareLimits, RetryPolicy,
};
use c15t_deploy::{DeployError, Deployer, Module, Release, ReleaseMeta};
use c15t_model::{CustomerId, Environment};
use c15t_secrets::Secret;
use c15t_testkit::cloudflare::{FakeCloudflare, Faults, IdForm, IdForms, RateLimit};
use url::Url;

use crate::support::{CANARY, file};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const SUBDOMAIN: &str = "acme-sub";
const TOKEN: &str = "cf-token-3b9e1d7c-never-in-an-error";

/// Small delays so that fault tests run in seconds; many attempts so that 30% faults never
/// exhaust them.
fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 25,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(40),
        request_timeout: Duration::from_secs(5),
    }
}

fn deployer(cf: &FakeCloudflare, limits: &CloudflareLimits, token: &str) -> CloudflareDeployer {
    deployer_at(&cf.base_url(), ACCOUNT, limits, token, fast_retry())
}

fn deployer_at(
    base: &str,
    account: &str,
    limits: &CloudflareLimits,
    token: &str,
    retry: RetryPolicy,
) -> CloudflareDeployer {
    let account = CloudflareAccount {
        api_base: Url::parse(base).expect("base url"),
        account_id: account.to_owned(),
        api_token: Secret::from(token),
    };
    CloudflareDeployer::new(account, limits, retry, reqwest::Client::new()).expect("deployer")
}

fn unlimited() -> Arc<CloudflareLimits> {
    CloudflareLimits::new(1_000_000, Duration::from_secs(1))
}

async fn fake() -> FakeCloudflare {
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, SUBDOMAIN, TOKEN);
    cf
}

/// Release `rev` of `customer`'s production worker: an entry module and a content-addressed
/// runtime module, both marked with the revision, one var and one secret.
fn release(customer: &str, rev: u64, secret: &str) -> Release {
    let meta = ReleaseMeta {
        customer: CustomerId::new(customer).expect("customer id"),
        environment: Environment::production(),
        revision: rev,
        target: "c15t-backend-2".to_owned(),
    };
    let files = vec![
        file(
            "src/index.ts",
            &format!("export default {{}}; // {customer} {rev}\n"),
        ),
        file(
            "wrangler.jsonc",
            &format!("{{ \"name\": \"c15t-{customer}-production\" }}\n"),
        ),
    ];
    let runtime = format!("runtime-{rev:08x}.js");
    let modules = vec![
        Module {
            name: "index.js".to_owned(),
            content_type: "application/javascript+module".to_owned(),
            bytes: format!(
                "import {{ run }} from './{runtime}';\n\
                 export default {{ fetch: (r, env) => run(r, env, '{customer}', {rev}) }};\n"
            )
            .into_bytes(),
        },
        Module {
            name: runtime,
            content_type: "application/javascript+module".to_owned(),
            bytes: format!("export function run() {{ return new Response('{rev}'); }}\n")
                .into_bytes(),
        },
    ];
    Release::from_files(
        meta,
        format!("c15t-{customer}-production"),
        files,
        vec![(
            "TURSO_DATABASE_URL".to_owned(),
            format!("libsql://{customer}.turso.io"),
        )],
        vec![("TURSO_AUTH_TOKEN".to_owned(), Secret::from(secret))],
    )
    .with_modules(modules)
}

/// Every message of `err` and its sources, `Display` and `Debug`.
fn chain(err: &DeployError) -> String {
    let mut out = format!("{err}\n{err:?}\n");
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(&format!("{s}\n{s:?}\n"));
        source = s.source();
    }
    out
}

fn assert_modules(live: &c15t_testkit::cloudflare::Version, release: &Release) {
    let got: Vec<_> = live
        .modules
        .iter()
        .map(|m| (m.name.as_str(), m.content_type.as_str(), m.bytes.as_ref()))
        .collect();
    let want: Vec<_> = release
        .modules()
        .iter()
        .map(|m| (m.name.as_str(), m.content_type.as_str(), m.bytes.as_slice()))
        .collect();
    assert_eq!(got, want, "live modules differ from the release's");
}

#[tokio::test]
async fn deploy_uploads_modules_bindings_and_annotations() {
    let cf = fake().await;
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN);
    let r = release("acme", 1, CANARY);

    let outcome = d.deploy(&r).await.expect("deploy");

    let script = cf.script(ACCOUNT, "c15t-acme-production").expect("script");
    let live = script.live_version().expect("live version");
    assert_modules(live, &r);
    assert_eq!(live.main_module, "index.js");
    assert_eq!(live.compatibility_date, "2026-04-26");
    assert!(live.compatibility_flags.is_empty());

    let var = live.binding("TURSO_DATABASE_URL").expect("var binding");
    assert_eq!(var.kind, "plain_text");
    assert_eq!(var.text.as_deref(), Some("libsql://acme.turso.io"));
    let secret = live.binding("TURSO_AUTH_TOKEN").expect("secret binding");
    assert_eq!(secret.kind, "secret_text");
    assert_eq!(
        script.secrets.get("TURSO_AUTH_TOKEN").map(String::as_str),
        Some(CANARY)
    );
    assert_eq!(live.bindings.len(), 2);

    let meta = &live.metadata;
    let mut keys: Vec<_> = meta.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "annotations",
            "bindings",
            "compatibility_date",
            "compatibility_flags",
            "main_module"
        ]
    );
    assert_eq!(meta["bindings"][0]["type"], "plain_text");
    assert_eq!(meta["bindings"][1]["type"], "secret_text");

    assert_eq!(live.tag(), Some(d.release_tag(&r).as_str()));
    let hash = r
        .content_hash()
        .strip_prefix("sha256:")
        .expect("hash prefix");
    assert!(
        d.release_tag(&r)
            .starts_with(&format!("c15t-{}-", &hash[..32]))
    );
    assert_eq!(
        live.message(),
        Some(format!("c15t acme production rev 1 {}", r.content_hash()).as_str())
    );

    for m in &live.modules {
        assert!(
            !m.bytes
                .windows(CANARY.len())
                .any(|w| w == CANARY.as_bytes()),
            "module {} contains the secret",
            m.name
        );
    }
    assert!(script.subdomain_enabled);
    assert_eq!(
        outcome.url.as_deref(),
        Some("https://c15t-acme-production.acme-sub.workers.dev")
    );
    assert_eq!(outcome.remote_version.as_deref(), Some(live.id.as_str()));
    assert!(!format!("{d:?}").contains(TOKEN));
}

#[tokio::test]
async fn same_release_twice_is_uploaded_once_and_a_secret_change_is_a_new_upload() {
    let cf = fake().await;
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN);

    let first = d.deploy(&release("acme", 1, "one")).await.expect("deploy");
    let again = d
        .deploy(&release("acme", 1, "one"))
        .await
        .expect("deploy again");
    assert_eq!(first, again);
    assert_eq!(cf.upload_count(ACCOUNT, "c15t-acme-production"), 1);

    // Same files, same content hash; only the secret value differs.
    let rotated = d.deploy(&release("acme", 1, "two")).await.expect("deploy");
    assert_ne!(rotated.remote_version, first.remote_version);
    assert_eq!(cf.upload_count(ACCOUNT, "c15t-acme-production"), 2);
    let script = cf.script(ACCOUNT, "c15t-acme-production").expect("script");
    assert_eq!(script.secrets["TURSO_AUTH_TOKEN"], "two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_never_lose_a_deploy_or_duplicate_an_upload() {
    const WORKERS: usize = 20;
    const RELEASES: u64 = 10;
    let cf = fake().await;
    cf.set_faults(Faults {
        error_rate: 0.10,
        slow_rate: 0.05,
        slow_for: Duration::from_millis(20),
        drop_rate: 0.075,
        drop_after_apply_rate: 0.075,
        seed: 7,
        ..Faults::default()
    });
    let limits = unlimited();
    let d = Arc::new(deployer(&cf, &limits, TOKEN));

    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let d = Arc::clone(&d);
        tasks.push(tokio::spawn(async move {
            let customer = format!("cust{w:02}");
            let mut last = None;
            for rev in 1..=RELEASES {
                let r = release(&customer, rev, &format!("secret-{rev}"));
                last = Some(d.deploy(&r).await.expect("deploy under faults"));
            }
            last.expect("deployed")
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("task"));
    }

    for (w, outcome) in outcomes.iter().enumerate() {
        let customer = format!("cust{w:02}");
        let name = format!("c15t-{customer}-production");
        let last = release(&customer, RELEASES, &format!("secret-{RELEASES}"));
        let script = cf.script(ACCOUNT, &name).expect("script");
        let live = script.live_version().expect("live");
        assert_modules(live, &last);
        assert_eq!(live.tag(), Some(d.release_tag(&last).as_str()));
        assert_eq!(outcome.remote_version.as_deref(), Some(live.id.as_str()));
        assert_eq!(
            script.secrets["TURSO_AUTH_TOKEN"],
            format!("secret-{RELEASES}")
        );
        assert_eq!(
            cf.upload_count(ACCOUNT, &name),
            RELEASES as usize,
            "{name}: every release uploaded exactly once"
        );
    }
    // The scenario did exercise lost answers to applied uploads and failed uploads.
    let requests = cf.requests();
    let puts = |status: Option<u16>| {
        requests
            .iter()
            .filter(|r| r.method == "PUT" && r.status == status)
            .count()
    };
    assert!(puts(None) > 0, "no upload lost its answer");
    assert!(puts(Some(500)) > 0, "no upload failed with a 500");
}

#[tokio::test]
async fn a_lost_answer_to_an_applied_upload_is_not_uploaded_again() {
    let cf = fake().await;
    cf.set_faults(Faults {
        drop_after_apply_rate: 1.0,
        method: Some(http::Method::PUT),
        max_faults: Some(1),
        ..Faults::default()
    });
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN);
    let r = release("acme", 1, "s");

    let outcome = d.deploy(&r).await.expect("deploy");

    let name = "c15t-acme-production";
    assert_eq!(cf.upload_count(ACCOUNT, name), 1);
    let script = cf.script(ACCOUNT, name).expect("script");
    let live = script.live_version().expect("live");
    assert_eq!(outcome.remote_version.as_deref(), Some(live.id.as_str()));
    assert!(
        cf.requests()
            .iter()
            .any(|r| r.method == "PUT" && r.status.is_none()),
        "the upload's answer was not lost"
    );
}

#[tokio::test]
async fn a_lost_answer_to_an_applied_rollback_is_not_deployed_again() {
    let cf = fake().await;
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN);
    let name = "c15t-acme-production";
    let v1 = d
        .deploy(&release("acme", 1, "s"))
        .await
        .expect("deploy 1")
        .remote_version
        .expect("v1");
    d.deploy(&release("acme", 2, "s")).await.expect("deploy 2");
    let before = cf.script(ACCOUNT, name).expect("script").deployments.len();
    cf.set_faults(Faults {
        drop_after_apply_rate: 1.0,
        method: Some(http::Method::POST),
        path_contains: Some("/deployments".to_owned()),
        max_faults: Some(1),
        ..Faults::default()
    });

    d.rollback(name, &v1).await.expect("rollback");

    let script = cf.script(ACCOUNT, name).expect("script");
    assert_eq!(script.live_version().expect("live").id, v1);
    assert_eq!(script.deployments.len(), before + 1, "one deployment made");
}

#[tokio::test]
async fn rate_limited_requests_wait_for_retry_after() {
    let cf = fake().await;
    cf.set_rate_limit(Some(RateLimit {
        requests: 2,
        window: Duration::from_secs(1),
    }));
    // Our own limiter is out of the way: Cloudflare's 429 is what is tested.
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN);

    d.deploy(&release("acme", 1, "s")).await.expect("deploy");

    assert!(cf.rate_limited_count() > 0, "the fake never limited");
    let requests = cf.requests();
    for (i, r) in requests.iter().enumerate() {
        if r.status == Some(429)
            && let Some(next) = requests.get(i + 1)
        {
            let gap_ms = (next.at - r.at).num_milliseconds();
            assert!(
                gap_ms >= 950,
                "retried {gap_ms} ms after a 429 with Retry-After: 1"
            );
        }
    }
}

#[tokio::test]
async fn bad_token_fails_at_once_with_cloudflares_code_and_without_the_token() {
    let cf = fake().await;
    let limits = unlimited();
    let wrong = "cf-token-wrong-5a7c0e1f-secret";
    let d = deployer(&cf, &limits, wrong);

    let err = d
        .deploy(&release("acme", 1, "s"))
        .await
        .expect_err("bad token");

    match &err {
        DeployError::Cloudflare {
            status,
            errors,
            retryable,
            ..
        } => {
            assert_eq!(*status, 401);
            assert!(errors.iter().any(|(code, _)| *code == 10000), "{errors:?}");
            assert!(!retryable);
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(cf.request_count(), 1, "a 401 is not retried");
    let text = chain(&err);
    assert!(text.contains("10000"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    assert!(!text.contains("5a7c0e1f"), "{text}");
}

#[tokio::test]
async fn unreachable_api_is_a_retryable_transport_error_without_the_token() {
    let limits = unlimited();
    // Nothing listens on port 1 of the loopback address.
    let d = deployer_at(
        "http://127.0.0.1:1/client/v4",
        ACCOUNT,
        &limits,
        TOKEN,
        RetryPolicy {
            max_attempts: 2,
            ..fast_retry()
        },
    );
    let err = d
        .deploy(&release("acme", 1, "s"))
        .await
        .expect_err("unreachable");
    assert!(
        matches!(err, DeployError::CloudflareTransport { .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let text = chain(&err);
    assert!(!text.contains(TOKEN), "{text}");
}

#[tokio::test]
async fn release_without_modules_or_target_is_refused_before_any_request() {
    let cf = fake().await;
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN);

    let bare = release("acme", 1, "s").with_modules(Vec::new());
    let err = d.deploy(&bare).await.expect_err("no modules");
    assert!(matches!(err, DeployError::NoModules { .. }), "{err:?}");
    assert!(!err.is_retryable());

    let r = release("acme", 1, "s");
    let mut meta = r.meta().clone();
    meta.target = "backend-99".to_owned();
    let unknown = Release::from_files(
        meta,
        r.worker_name().to_owned(),
        r.files().to_vec(),
        r.vars().to_vec(),
        r.secrets().to_vec(),
    )
    .with_modules(r.modules().to_vec());
    let err = d.deploy(&unknown).await.expect_err("unknown target");
    assert!(matches!(err, DeployError::UnknownTarget { .. }), "{err:?}");
    assert_eq!(cf.request_count(), 0);
}

#[tokio::test]
async fn rollback_makes_the_earlier_release_live_byte_for_byte() {
    let cf = fake().await;
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN);
    let r1 = release("acme", 1, "same");
    let r2 = release("acme", 2, "same");
    let v1 = d
        .deploy(&r1)
        .await
        .expect("deploy 1")
        .remote_version
        .expect("v1");
    d.deploy(&r2).await.expect("deploy 2");

    let outcome = d
        .rollback("c15t-acme-production", &v1)
        .await
        .expect("rollback");

    let script = cf.script(ACCOUNT, "c15t-acme-production").expect("script");
    let live = script.live_version().expect("live");
    assert_eq!(live.id, v1);
    assert_modules(live, &r1);
    assert_eq!(outcome.remote_version.as_deref(), Some(v1.as_str()));
    assert_eq!(
        outcome.url.as_deref(),
        Some("https://c15t-acme-production.acme-sub.workers.dev")
    );
    assert_eq!(cf.upload_count(ACCOUNT, "c15t-acme-production"), 2);

    // Rolling back to what is live changes nothing.
    let deployments = script.deployments.len();
    d.rollback("c15t-acme-production", &v1)
        .await
        .expect("again");
    let script = cf.script(ACCOUNT, "c15t-acme-production").expect("script");
    assert_eq!(script.deployments.len(), deployments);

    // And deploying r1 now is a no-op: it is live.
    d.deploy(&r1).await.expect("deploy 1 again");
    assert_eq!(cf.upload_count(ACCOUNT, "c15t-acme-production"), 2);
}

#[tokio::test]
async fn rollback_across_a_secret_change_is_refused_and_restore_uploads_again() {
    let cf = fake().await;
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN);
    let name = "c15t-acme-production";
    let v1 = d
        .deploy(&release("acme", 1, "old-secret"))
        .await
        .expect("deploy 1")
        .remote_version
        .expect("v1");
    let v2 = d
        .deploy(&release("acme", 2, "new-secret"))
        .await
        .expect("deploy 2")
        .remote_version
        .expect("v2");

    let err = d.rollback(name, &v1).await.expect_err("secrets changed");
    assert!(
        matches!(err, DeployError::RollbackSecretsChanged { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let script = cf.script(ACCOUNT, name).expect("script");
    assert_eq!(
        script.live_version().expect("live").id,
        v2,
        "nothing changed"
    );

    // The control layer re-deploys the stored release 1 with today's secrets.
    let r1_now = release("acme", 1, "new-secret");
    let outcome = d.restore(&r1_now, Some(&v1)).await.expect("restore");
    let script = cf.script(ACCOUNT, name).expect("script");
    let live = script.live_version().expect("live");
    assert_ne!(live.id, v1, "a new version, not the old one");
    assert_eq!(outcome.remote_version.as_deref(), Some(live.id.as_str()));
    assert_modules(live, &r1_now);
    assert_eq!(script.secrets["TURSO_AUTH_TOKEN"], "new-secret");
    assert_eq!(cf.upload_count(ACCOUNT, name), 3);

    // With unchanged secrets, restore rolls back instead of uploading.
    let r2 = release("acme", 2, "new-secret");
    let outcome = d.restore(&r2, Some(&v2)).await.expect("restore 2");
    assert_eq!(outcome.remote_version.as_deref(), Some(v2.as_str()));
    assert_eq!(cf.upload_count(ACCOUNT, name), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployers_sharing_a_token_stay_under_its_rate_limit() {
    const CUSTOMERS: usize = 30;
    let cf = fake().await;
    let limit = RateLimit {
        requests: 30,
        window: Duration::from_millis(500),
    };
    cf.set_rate_limit(Some(limit.clone()));
    let limits = CloudflareLimits::new(limit.requests as usize, limit.window);

    let mut tasks = Vec::new();
    for c in 0..CUSTOMERS {
        // One deployer per customer, as the control plane builds them, all with one token.
        let d = deployer(&cf, &limits, TOKEN);
        tasks.push(tokio::spawn(async move {
            d.deploy(&release(&format!("cust{c:02}"), 1, "s")).await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("deploy");
    }
    assert_eq!(cf.rate_limited_count(), 0);
    for c in 0..CUSTOMERS {
        let name = format!("c15t-cust{c:02}-production");
        assert_eq!(cf.upload_count(ACCOUNT, &name), 1);
    }
}

#[test]
fn unusable_token_or_base_is_refused_when_the_deployer_is_built() {
    let limits = unlimited();
    let account = |base: &str, token: &str| CloudflareAccount {
        api_base: Url::parse(base).expect("url"),
        account_id: ACCOUNT.to_owned(),
        api_token: Secret::from(token),
    };
    let pasted = "secret-token-abc\n";
    let err = CloudflareDeployer::new(
        account("https://api.cloudflare.com/client/v4", pasted),
        &limits,
        fast_retry(),
        reqwest::Client::new(),
    )
    .expect_err("a newline cannot be sent in a header");
    assert!(matches!(err, DeployError::InvalidApiToken), "{err:?}");
    assert!(!chain(&err).contains("secret-token-abc"));

    let err = CloudflareDeployer::new(
        account("mailto:ops@example.com", TOKEN),
        &limits,
        fast_retry(),
        reqwest::Client::new(),
    )
    .expect_err("not an http base");
    assert!(matches!(err, DeployError::InvalidApiBase { .. }), "{err:?}");
}

/// Deploy, redeploy, rollback and restore while the fake writes ids in `forms`: the deployer
/// reports, sends and compares them canonically (hyphenated, lower-case), whatever the answers
/// used; the fake finds a version only by its canonical id.
async fn deploy_and_roll_back_with_ids(forms: IdForms) {
    let cf = fake().await;
    cf.set_id_forms(forms);
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN);
    let name = "c15t-acme-production";
    let r1 = release("acme", 1, "same");
    let r2 = release("acme", 2, "same");
    let v1 = d
        .deploy(&r1)
        .await
        .expect("deploy 1")
        .remote_version
        .expect("v1");
    let live1 = cf
        .script(ACCOUNT, name)
        .expect("script")
        .live_version()
        .expect("live")
        .id
        .clone();
    assert_eq!(
        v1, live1,
        "{forms:?}: the version id is reported canonically"
    );
    // The same release again is found live (ids compared as UUIDs), not uploaded again.
    let again = d.deploy(&r1).await.expect("deploy 1 again");
    assert_eq!(again.remote_version.as_deref(), Some(v1.as_str()));
    assert_eq!(cf.upload_count(ACCOUNT, name), 1, "{forms:?}");
    d.deploy(&r2).await.expect("deploy 2");

    let outcome = d.rollback(name, &v1).await.expect("rollback");
    assert_eq!(outcome.remote_version.as_deref(), Some(v1.as_str()));
    let script = cf.script(ACCOUNT, name).expect("script");
    assert_eq!(script.live_version().expect("live").id, v1);
    let deployments = script.deployments.len();
    // Rolling back to what is live (in any written form) changes nothing.
    d.rollback(name, &IdForm::UpperCase.write(&v1))
        .await
        .expect("again");
    d.rollback(name, &v1.replace('-', "")).await.expect("again");
    assert_eq!(
        cf.script(ACCOUNT, name).expect("script").deployments.len(),
        deployments
    );
    // A stored id in another form restores by rollback, not by a new upload.
    d.deploy(&r2).await.expect("deploy 2 again");
    let uploads = cf.upload_count(ACCOUNT, name);
    let stored = v1.replace('-', "").to_ascii_uppercase();
    let restored = d.restore(&r1, Some(&stored)).await.expect("restore");
    assert_eq!(restored.remote_version.as_deref(), Some(v1.as_str()));
    assert_eq!(
        cf.upload_count(ACCOUNT, name),
        uploads,
        "{forms:?}: restored without uploading"
    );
}

#[tokio::test]
async fn ids_answered_without_hyphens_deploy_and_roll_back() {
    deploy_and_roll_back_with_ids(IdForms::all(IdForm::Hyphenless)).await;
}

#[tokio::test]
async fn ids_answered_in_upper_case_deploy_and_roll_back() {
    deploy_and_roll_back_with_ids(IdForms::all(IdForm::UpperCase)).await;
}

#[tokio::test]
async fn an_upload_answer_without_hyphens_among_canonical_listings_rolls_back() {
    // The case: only the upload's `deployment_id` lacks the hyphens.
    deploy_and_roll_back_with_ids(IdForms {
        upload: IdForm::Hyphenless,
        other: IdForm::Canonical,
    })
    .await;
    deploy_and_roll_back_with_ids(IdForms::all(IdForm::Canonical)).await;
}

#[tokio::test]
async fn a_version_id_that_is_no_uuid_is_refused_before_any_request() {
    let cf = fake().await;
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN);
    let err = d
        .rollback("c15t-acme-production", "v1-not-a-uuid")
        .await
        .expect_err("not a uuid");
    assert!(
        matches!(err, DeployError::InvalidVersionId { .. }),
        "{}",
        chain(&err)
    );
    assert!(err.to_string().contains("v1-not-a-uuid"), "{err}");
    assert_eq!(cf.request_count(), 0);
}

/// The fake's workers.dev edge routes by host, honours Cloudflare's version-override header
/// for any version of the current deployment (0% included), splits the rest by percentage
/// and answers with each version's scripted health.
#[tokio::test]
async fn the_fake_edge_routes_overrides_and_splits_by_version() {
    use c15t_testkit::cloudflare::WorkerHealth;
    let cf = fake().await;
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN);
    let r1 = release("acme", 1, "s");
    let r2 = release("acme", 2, "s");
    let v1 = d.deploy(&r1).await.unwrap().remote_version.unwrap();
    let v2 = d.deploy(&r2).await.unwrap().remote_version.unwrap();
    let worker = r1.worker_name().to_owned();
    let host = format!("{worker}.{SUBDOMAIN}.workers.dev");
    let http = reqwest::Client::new();
    let status = |overrides: Option<String>| {
        let mut request = http
            .get(format!("{}/status", cf.edge_url()))
            .header(reqwest::header::HOST, host.clone());
        if let Some(o) = overrides {
            request = request.header("Cloudflare-Workers-Version-Overrides", o);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(None).await, 200);
    // v1 back in the deployment at 0%: only an override reaches it.
    let split = http
        .post(format!(
            "{}/accounts/{ACCOUNT}/workers/scripts/{worker}/deployments",
            cf.base_url()
        ))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "strategy": "percentage",
            "versions": [
                { "version_id": v2, "percentage": 100 },
                { "version_id": v1, "percentage": 0 },
            ],
        }))
        .send()
        .await
        .unwrap();
    assert!(
        split.status().is_success(),
        "{}",
        split.text().await.unwrap()
    );
    cf.set_version_health(&v1, WorkerHealth::Status(503));
    for _ in 0..20 {
        assert_eq!(status(None).await, 200, "0% gets no traffic");
    }
    assert_eq!(status(Some(format!("{worker}=\"{v1}\""))).await, 503);
    assert_eq!(
        status(Some(format!("other=\"{v2}\", {worker}=\"{v1}\""))).await,
        503
    );
    // An override of another worker, or of a version not deployed, is not applied.
    assert_eq!(status(Some(format!("other=\"{v1}\""))).await, 200);
    assert_eq!(
        status(Some(format!(
            "{worker}=\"00000000-0000-4000-8000-000000000000\""
        )))
        .await,
        200
    );
    let hits = cf.edge_hits();
    assert_eq!(hits.iter().filter(|(_, v)| v == &v1).count(), 2, "{hits:?}");
    // Unknown hosts and disabled scripts answer as Cloudflare does.
    let unknown = http
        .get(format!("{}/status", cf.edge_url()))
        .header(
            reqwest::header::HOST,
            format!("nope.{SUBDOMAIN}.workers.dev"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

/// Custom domains through the Workers custom-domains API: the zone is found from the
/// hostname or named, attaching again is an upsert (moving a hostname to a renamed worker),
/// a hostname outside its zone or of another account is refused with Cloudflare's message,
/// the list is filtered by service, deleting the script detaches its domains, and the edge
/// serves an attached hostname.
#[tokio::test]
async fn custom_domains_attach_move_list_and_detach() {
    let cf = fake().await;
    let zone = cf.add_zone(ACCOUNT, "customer.com");
    let limits = unlimited();
    let d = deployer(&cf, &limits, TOKEN).with_workers_dev(false);
    let r = release("acme", 1, "s");
    let outcome = d.deploy(&r).await.unwrap();
    assert_eq!(outcome.url, None, "workers.dev is off: no workers.dev URL");
    let worker = r.worker_name().to_owned();
    assert!(!cf.script(ACCOUNT, &worker).unwrap().subdomain_enabled);

    let attached = d
        .attach_domain(&worker, "consent.customer.com", None)
        .await
        .unwrap();
    assert_eq!(attached.zone_id, zone);
    assert_eq!(attached.zone_name, "customer.com");
    assert_eq!(attached.service, worker);
    // Again, naming the zone (in upper case): the same domain.
    let again = d
        .attach_domain(&worker, "consent.customer.com", Some(&zone.to_uppercase()))
        .await
        .unwrap();
    assert_eq!(again.id, attached.id);
    assert_eq!(
        d.domains(&worker).await.unwrap(),
        std::slice::from_ref(&attached)
    );
    assert!(d.domains("someone-else").await.unwrap().is_empty());

    // The edge serves it; workers.dev does not.
    let http = reqwest::Client::new();
    let get = |host: String| {
        let request = http
            .get(format!("{}/status", cf.edge_url()))
            .header(reqwest::header::HOST, host);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get("consent.customer.com".to_owned()).await, 200);
    assert_eq!(get(format!("{worker}.{SUBDOMAIN}.workers.dev")).await, 404);

    // Outside any zone of the account, and of another account: Cloudflare's messages.
    let err = d
        .attach_domain(&worker, "consent.other.org", None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("attach a custom domain")
            && format!("{err:?}").contains("Could not find zone"),
        "{err:?}"
    );
    let err = d
        .attach_domain(&worker, "consent.customer.com", Some(&"f".repeat(32)))
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("100116"), "{err:?}");
    const OTHER: &str = "fedcba9876543210fedcba9876543210";
    cf.add_account(OTHER, "other-sub", TOKEN);
    cf.add_zone(OTHER, "customer.com");
    let other = deployer_at(&cf.base_url(), OTHER, &limits, TOKEN, fast_retry());
    other.deploy(&r).await.unwrap();
    let err = other
        .attach_domain(&worker, "consent.customer.com", None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeployError::Cloudflare { status: 409, .. }),
        "{err:?}"
    );

    // Detach: once, then it is gone (harmless again).
    assert!(d.detach_domain(&attached.id).await.unwrap());
    assert!(!d.detach_domain(&attached.id).await.unwrap());
    assert_eq!(get("consent.customer.com".to_owned()).await, 404);

    // A deleted script takes its domains along.
    d.attach_domain(&worker, "consent.customer.com", None)
        .await
        .unwrap();
    assert!(d.delete_script(&worker).await.unwrap());
    assert!(cf.domains(ACCOUNT).is_empty());
}

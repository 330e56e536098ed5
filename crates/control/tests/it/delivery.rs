//! The config-change flow end to end: strategies, the job runner, deploys to the fake
//! Cloudflare, plan/diff, rollback, webhooks and health, on SQLite and PostgreSQL.

use c15t_store::Store as _;
use std::collections::HashSet;
use std::time::Duration;

use c15t_control::{
    Change, Control, DeliveryPatch, DestinationPatch, HealthOptions, RunnerOptions, Secret,
    SyncStatus,
};
use c15t_deploy::webhook::{DeploymentSucceeded, WebhookEvent};
use c15t_model::{DeployTarget, Environment, RawValue, Strategy};
use c15t_store::DeploymentStatus;
use c15t_testkit::cloudflare::FakeCloudflare;
use c15t_testkit::webhook::WebhookReceiver;

use crate::harness::{TestEnv, example, id, resolver, secrets, test_delivery};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const TOKEN: &str = "cf-token-for-tests-0001";

fn runner(name: &str) -> RunnerOptions {
    RunnerOptions {
        worker: name.to_owned(),
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        concurrency: 2,
        once: true,
    }
}

async fn run_once(control: &Control, name: &str) -> c15t_control::RunnerReport {
    control
        .run_jobs(&runner(name), std::future::pending())
        .await
        .unwrap()
}

fn pixel_id(value: &str) -> DestinationPatch {
    DestinationPatch {
        set: [("pixelId".to_owned(), RawValue::Text(value.to_owned()))].into(),
        ..DestinationPatch::default()
    }
}

/// Imports the seed's example customer and points it at the fake Cloudflare, automatic.
async fn managed_customer(control: &Control) {
    let values = secrets("e2e");
    control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();
    control
        .delivery_set(
            "ops",
            &id("cust_abc123"),
            DeliveryPatch {
                strategy: Some(Strategy::Automatic),
                target: Some(DeployTarget::Cloudflare {
                    account_id: ACCOUNT.to_owned(),
                }),
                cloudflare_token: Some(Secret::new(TOKEN.to_owned())),
                ..DeliveryPatch::default()
            },
        )
        .await
        .unwrap();
}

async fn end_to_end(env: TestEnv) {
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let control = env.delivering(test_delivery(&cf.base_url())).await;
    let cust = id("cust_abc123");
    let production = Environment::new("production").unwrap();
    managed_customer(&control).await;

    // Nothing deployed yet: both environments show so, with every file as added.
    let plan = control.plan(&cust, None).await.unwrap();
    assert_eq!(plan.len(), 2);
    assert!(plan.iter().all(|p| p.status == SyncStatus::NeverDeployed));
    assert!(plan[0].files.iter().all(|f| f.change == Change::Added));

    // An edit under the automatic strategy deploys both environments through the jobs.
    control
        .destination_edit("alice", &cust, "meta-prod", pixel_id("1111111111"), None)
        .await
        .unwrap();
    let report = run_once(&control, "r1").await;
    assert_eq!(report.completed, 2, "{report:?}");
    let deployments = control
        .deployments(&cust, Some(&production), 10)
        .await
        .unwrap();
    assert_eq!(deployments.len(), 1);
    let first = &deployments[0];
    assert_eq!(first.status, "succeeded");
    assert_eq!(first.revision, 2);
    assert_eq!(
        first.url.as_deref(),
        Some("https://c15t-cust-abc123.acme.workers.dev")
    );
    let script = cf.script(ACCOUNT, "c15t-cust-abc123").expect("uploaded");
    let live_v1 = script.live_version().unwrap().clone();
    assert_eq!(live_v1.modules.len(), 2, "entry and runtime");
    assert_eq!(live_v1.modules[0].name, "index.js");
    let entry = String::from_utf8(live_v1.modules[0].bytes.to_vec()).unwrap();
    assert!(entry.contains("'1111111111'"), "the edit is live");
    assert!(
        !entry.contains("META_PIXEL_ACCESS_TOKEN-value"),
        "no secret in source"
    );
    assert_eq!(
        script
            .secrets
            .get("META_PIXEL_ACCESS_TOKEN")
            .map(String::as_str),
        Some("META_PIXEL_ACCESS_TOKEN-value-e2e")
    );
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].status, SyncStatus::Synced, "{:?}", plan[0]);
    assert!(plan[0].files.is_empty() && plan[0].secrets.is_empty());

    // Deploying what is live is a recorded no-op: no upload.
    let uploads = cf.upload_count(ACCOUNT, "c15t-cust-abc123");
    let again = control.deploy("bob", &cust, &production).await.unwrap();
    assert!(again.unchanged);
    assert_eq!(cf.upload_count(ACCOUNT, "c15t-cust-abc123"), uploads);

    // Manual: an edit ships nothing, and the plan shows the diff of the pending change.
    control
        .strategy_set("ops", &cust, Strategy::Manual)
        .await
        .unwrap();
    control
        .destination_edit("alice", &cust, "meta-prod", pixel_id("2222222222"), None)
        .await
        .unwrap();
    assert_eq!(run_once(&control, "r2").await.completed, 0);
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].status, SyncStatus::OutOfSync);
    let index = plan[0]
        .files
        .iter()
        .find(|f| f.path == "src/index.ts")
        .expect("index.ts changed");
    assert!(
        index.diff.contains("-\t\t\t\t\tpixelId: '1111111111',"),
        "{}",
        index.diff
    );
    assert!(
        index.diff.contains("+\t\t\t\t\tpixelId: '2222222222',"),
        "{}",
        index.diff
    );
    assert!(plan[0].secrets.is_empty(), "no secret changed");

    // A secret change shows as a fingerprint change, never as a value.
    control
        .destination_edit(
            "alice",
            &cust,
            "meta-prod",
            DestinationPatch {
                secrets: [(
                    "accessToken".to_owned(),
                    Secret::new("rotated-token-value".to_owned()),
                )]
                .into(),
                ..DestinationPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].secrets.len(), 1);
    assert_eq!(plan[0].secrets[0].binding, "META_PIXEL_ACCESS_TOKEN");
    assert_eq!(plan[0].secrets[0].change, Change::Changed);
    let shown = serde_json::to_string(&plan).unwrap();
    assert!(!shown.contains("rotated-token-value") && !shown.contains("value-e2e"));

    // Deploy the pending change by hand.
    let second = control.deploy("bob", &cust, &production).await.unwrap();
    assert_eq!(second.deployment.status, "succeeded");
    assert_eq!(
        cf.script(ACCOUNT, "c15t-cust-abc123").unwrap().secrets["META_PIXEL_ACCESS_TOKEN"],
        "rotated-token-value"
    );

    // Roll back to the first deployment: its release is live again byte for byte, with the
    // current secret (never the rotated-away one), and the report says so.
    let rolled = control.rollback("carol", &cust, first.id).await.unwrap();
    assert_eq!(rolled.deployment.rollback_of, Some(first.id));
    assert_eq!(rolled.secrets_changed, ["META_PIXEL_ACCESS_TOKEN"]);
    let script = cf.script(ACCOUNT, "c15t-cust-abc123").unwrap();
    let live = script.live_version().unwrap();
    assert_eq!(
        live.modules, live_v1.modules,
        "the first release, byte for byte"
    );
    assert_eq!(
        script.secrets["META_PIXEL_ACCESS_TOKEN"],
        "rotated-token-value"
    );
    let history = control
        .deployments(&cust, Some(&production), 10)
        .await
        .unwrap();
    let statuses: Vec<&str> = history.iter().map(|d| d.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["succeeded", "rolled_back", "succeeded", "succeeded"]
    );
    // The config is ahead of what is live again.
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].status, SyncStatus::OutOfSync);
    assert_eq!(plan[0].live.as_ref().unwrap().id, rolled.deployment.id);

    // Every step is in the audit log; no secret value is.
    let audit = control.audit(Some(&cust), 200).await.unwrap();
    let actions: HashSet<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    for action in [
        "delivery.update",
        "deployment.start",
        "deployment.succeed",
        "deployment.unchanged",
        "rollback.start",
        "rollback.succeed",
    ] {
        assert!(
            actions.contains(action),
            "{action} missing from {actions:?}"
        );
    }
    let text = format!("{audit:?}");
    assert!(!text.contains(TOKEN) && !text.contains("rotated-token-value"));
}

#[tokio::test]
async fn end_to_end_on_sqlite() {
    end_to_end(TestEnv::sqlite()).await;
}

#[tokio::test]
async fn end_to_end_on_postgres() {
    end_to_end(TestEnv::postgres().await).await;
}

#[tokio::test]
async fn a_burst_of_edits_ships_once() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let mut options = test_delivery(&cf.base_url());
    options.debounce = Duration::from_millis(1500);
    let control = env.delivering(options).await;
    let cust = id("cust_abc123");
    managed_customer(&control).await;

    let started = std::time::Instant::now();
    for i in 0..50 {
        control
            .destination_edit(
                "alice",
                &cust,
                "meta-prod",
                pixel_id(&format!("{:010}", 1000 + i)),
                None,
            )
            .await
            .unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the burst must fit in the debounce window for this test to mean anything"
    );
    // A runner polling during the burst finds nothing due yet.
    assert_eq!(run_once(&control, "early").await.completed, 0);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let report = run_once(&control, "late").await;
    assert_eq!(report.completed, 2, "one deploy per environment");

    let production = Environment::new("production").unwrap();
    let deployments = control
        .deployments(&cust, Some(&production), 10)
        .await
        .unwrap();
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0].revision, 51, "the final revision");
    assert_eq!(cf.upload_count(ACCOUNT, "c15t-cust-abc123"), 1);
    let live = cf.script(ACCOUNT, "c15t-cust-abc123").unwrap();
    let entry = String::from_utf8(live.live_version().unwrap().modules[0].bytes.to_vec()).unwrap();
    assert!(entry.contains("'0000001049'"));
}

#[tokio::test]
async fn notify_strategy_sends_signed_worker_config_updates_and_410_disables() {
    let env = TestEnv::sqlite();
    let control = env.delivering(test_delivery("http://127.0.0.1:9")).await;
    let cust = id("cust_abc123");
    control
        .import("ops", example(), &resolver(&secrets("n")))
        .await
        .unwrap();
    // The receiver learns the secret the control plane generates.
    let url_placeholder = "https://example.com/hook";
    let changed = control
        .delivery_set(
            "ops",
            &cust,
            DeliveryPatch {
                webhook_url: Some(Some(url_placeholder.to_owned())),
                ..DeliveryPatch::default()
            },
        )
        .await
        .unwrap();
    let secret = changed
        .new_webhook_secret
        .expect("a new endpoint gets a secret");
    assert!(secret.expose().starts_with("whsec_"));
    let receiver = WebhookReceiver::start(vec![secret.expose().to_owned()]).await;
    control
        .delivery_set(
            "ops",
            &cust,
            DeliveryPatch {
                strategy: Some(Strategy::Notify),
                webhook_url: Some(Some(receiver.url())),
                ..DeliveryPatch::default()
            },
        )
        .await
        .unwrap();
    let shown = format!("{:?}", control.delivery_show(&cust).await.unwrap());
    assert!(
        !shown.contains(secret.expose()),
        "secrets show as fingerprints"
    );

    control
        .destination_edit("alice", &cust, "meta-prod", pixel_id("3333333333"), None)
        .await
        .unwrap();
    run_once(&control, "n1").await;
    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 2, "one per environment");
    for d in &deliveries {
        assert!(d.verified(), "signed with the customer's secret");
        let body = d.json();
        assert_eq!(body["type"], "worker_config.updated");
        assert_eq!(body["data"]["revision"], 2);
        assert!(
            body["data"]["downloadUrl"]
                .as_str()
                .unwrap()
                .ends_with("/api/control-plane/customers/cust_abc123/worker-config")
        );
    }
    let log = env
        .store()
        .await
        .webhook_delivery_list(&cust, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|l| l.attempt.outcome == "delivered"));

    // The endpoint goes away: 410 disables it; later changes send nothing.
    receiver.respond_with(vec![c15t_testkit::webhook::Respond::Status(410)]);
    control
        .destination_edit("alice", &cust, "meta-prod", pixel_id("4444444444"), None)
        .await
        .unwrap();
    run_once(&control, "n2").await;
    let view = control.delivery_show(&cust).await.unwrap();
    let webhook = view.delivery.webhook.unwrap();
    assert!(!webhook.enabled);
    assert!(webhook.disabled_reason.unwrap().contains("410"));
    let before = receiver.deliveries().len();
    control
        .destination_edit("alice", &cust, "meta-prod", pixel_id("5555555555"), None)
        .await
        .unwrap();
    run_once(&control, "n3").await;
    assert_eq!(receiver.deliveries().len(), before);
}

#[tokio::test]
async fn failures_retry_on_schedule_and_end_as_failed_deployments() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let mut options = test_delivery(&cf.base_url());
    options.deploy_attempts = 2;
    let control = env.delivering(options).await;
    let cust = id("cust_abc123");
    managed_customer(&control).await;
    // Cloudflare is down for every request.
    cf.set_faults(c15t_testkit::cloudflare::Faults {
        error_rate: 1.0,
        ..Default::default()
    });
    control
        .destination_edit("alice", &cust, "meta-prod", pixel_id("6666666666"), None)
        .await
        .unwrap();
    for round in 0..20 {
        run_once(&control, &format!("f{round}")).await;
        let counts = control.job_counts().await.unwrap();
        if counts.pending == 0 && counts.running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counts = control.job_counts().await.unwrap();
    assert_eq!((counts.failed, counts.pending), (2, 0), "{counts:?}");
    let production = Environment::new("production").unwrap();
    let deployments = control
        .deployments(&cust, Some(&production), 10)
        .await
        .unwrap();
    assert_eq!(deployments.len(), 1, "one deployment across both attempts");
    assert_eq!(deployments[0].status, "failed");
    let error = deployments[0].error.as_deref().unwrap();
    assert!(error.contains("10013") || error.contains("500"), "{error}");
    assert!(!error.contains(TOKEN));
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].status, SyncStatus::Failed);
}

#[tokio::test]
async fn two_runners_on_postgres_execute_each_job_once() {
    let env = TestEnv::postgres().await;
    let receiver = WebhookReceiver::start(Vec::new()).await;
    let a = env.delivering(test_delivery("http://127.0.0.1:9")).await;
    let b = env.delivering(test_delivery("http://127.0.0.1:9")).await;
    let cust = id("cust_abc123");
    a.import("ops", example(), &resolver(&secrets("r")))
        .await
        .unwrap();
    a.delivery_set(
        "ops",
        &cust,
        DeliveryPatch {
            webhook_url: Some(Some(receiver.url())),
            ..DeliveryPatch::default()
        },
    )
    .await
    .unwrap();
    const JOBS: usize = 1000;
    let mut ids = HashSet::new();
    for n in 0..JOBS {
        let event = WebhookEvent::DeploymentSucceeded {
            timestamp: std::time::UNIX_EPOCH,
            data: DeploymentSucceeded {
                customer: cust.clone(),
                environment: Environment::new("production").unwrap(),
                deployment_id: n.to_string(),
                revision: 1,
                content_hash: "sha256:00".to_owned(),
                url: None,
            },
        };
        ids.insert(a.enqueue_event(&cust, &event).await.unwrap());
    }
    let mut options = runner("a");
    options.concurrency = 4;
    let options_b = RunnerOptions {
        worker: "b".to_owned(),
        ..options.clone()
    };
    let (ra, rb) = tokio::join!(
        a.run_jobs(&options, std::future::pending()),
        b.run_jobs(&options_b, std::future::pending())
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.completed + rb.completed, JOBS as u64);
    assert!(
        ra.completed > 0 && rb.completed > 0,
        "both runners worked: {ra:?} {rb:?}"
    );
    let delivered: Vec<String> = receiver
        .deliveries()
        .iter()
        .map(|d| d.id().unwrap().to_owned())
        .collect();
    assert_eq!(delivered.len(), JOBS, "each job executed exactly once");
    let unique: HashSet<String> = delivered.into_iter().collect();
    assert_eq!(unique, ids);
}

#[tokio::test]
async fn health_probes_live_workers() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let control = env.delivering(test_delivery(&cf.base_url())).await;
    let cust = id("cust_abc123");
    managed_customer(&control).await;
    let production = Environment::new("production").unwrap();
    let deployed = control.deploy("ops", &cust, &production).await.unwrap();
    // The workers.dev URL does not resolve here; point the live deployment at a local
    // "worker" instead: the receiver answers 200 like c15t's /status.
    let worker = WebhookReceiver::start(Vec::new()).await;
    let store = &env.store().await;
    store
        .deployment_update(
            deployed.deployment.id,
            c15t_store::DeploymentUpdate {
                status: DeploymentStatus::Succeeded,
                url: Some(format!("http://{}", worker.addr())),
                error: None,
                remote_version: None,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let options = HealthOptions {
        timeout: Duration::from_millis(500),
        ..HealthOptions::default()
    };
    let report = control.health_check(&options, Some(&cust)).await.unwrap();
    assert_eq!((report.up, report.down), (1, 0), "{report:?}");
    assert!(report.workers[0].probe.url.ends_with("/status"));
    // It stops answering well: down, counted, and shown in the plan.
    worker.respond_with(vec![
        c15t_testkit::webhook::Respond::Status(503),
        c15t_testkit::webhook::Respond::Status(503),
    ]);
    control.health_check(&options, Some(&cust)).await.unwrap();
    let report = control.health_check(&options, Some(&cust)).await.unwrap();
    assert_eq!(report.down, 1);
    assert_eq!(report.workers[0].consecutive_failures, 2);
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    let health = plan[0].health.as_ref().unwrap();
    assert!(!health.up);
    assert!(health.error.as_deref().unwrap().contains("503"));
    // ... and next to the deployment it concerns.
    let history = control
        .deployments(&cust, Some(&production), 5)
        .await
        .unwrap();
    let listed = history[0]
        .health
        .as_ref()
        .expect("probed deployment shows its health");
    assert_eq!(listed.consecutive_failures, 2);
}

#[tokio::test]
async fn turning_automatic_deploys_what_is_pending() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let other = "fedcba9876543210fedcba9876543210";
    let other_token = "cf-token-for-tests-0002";
    cf.add_account(other, "acme-eu", other_token);
    let control = env.delivering(test_delivery(&cf.base_url())).await;
    let cust = id("cust_abc123");
    let values = secrets("catch-up");
    control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();
    let target = |account: &str| DeliveryPatch {
        target: Some(DeployTarget::Cloudflare {
            account_id: account.to_owned(),
        }),
        ..DeliveryPatch::default()
    };
    let strategy = |s| DeliveryPatch {
        strategy: Some(s),
        ..DeliveryPatch::default()
    };
    // Manual: setting the target ships nothing.
    control
        .delivery_set(
            "ops",
            &cust,
            DeliveryPatch {
                cloudflare_token: Some(Secret::new(TOKEN.to_owned())),
                ..target(ACCOUNT)
            },
        )
        .await
        .unwrap();
    assert_eq!(run_once(&control, "r1").await.completed, 0);
    let production = Environment::new("production").unwrap();
    control.deploy("alice", &cust, &production).await.unwrap();
    let statuses = |plans: Vec<c15t_control::EnvironmentPlan>| {
        plans
            .into_iter()
            .map(|p| (p.environment.to_string(), p.status))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        statuses(control.plan(&cust, None).await.unwrap()),
        [
            ("production".to_owned(), SyncStatus::Synced),
            ("staging".to_owned(), SyncStatus::NeverDeployed)
        ]
    );

    // Turning automatic deploys what is not synced (staging), and only that.
    control
        .delivery_set("bob", &cust, strategy(Strategy::Automatic))
        .await
        .unwrap();
    assert_eq!(run_once(&control, "r2").await.completed, 1);
    assert_eq!(cf.upload_count(ACCOUNT, "c15t-cust-abc123"), 1);
    assert_eq!(cf.upload_count(ACCOUNT, "c15t-cust-abc123-staging"), 1);
    assert!(
        statuses(control.plan(&cust, None).await.unwrap())
            .iter()
            .all(|(_, s)| *s == SyncStatus::Synced)
    );
    // Already automatic: setting the same strategy again ships nothing.
    control
        .delivery_set("bob", &cust, strategy(Strategy::Automatic))
        .await
        .unwrap();
    assert_eq!(run_once(&control, "r3").await.completed, 0);
    // A deploy now is recorded as unchanged, at this account.
    let report = control.deploy("alice", &cust, &production).await.unwrap();
    assert!(report.unchanged);
    assert_eq!(
        report.deployment.destination.as_deref(),
        Some(format!("cloudflare:{ACCOUNT}").as_str())
    );

    // Edits made while manual wait; turning automatic ships them.
    control
        .delivery_set("bob", &cust, strategy(Strategy::Manual))
        .await
        .unwrap();
    control
        .destination_edit("alice", &cust, "meta-prod", pixel_id("7777777777"), None)
        .await
        .unwrap();
    assert_eq!(run_once(&control, "r4").await.completed, 0);
    control
        .delivery_set("bob", &cust, strategy(Strategy::Automatic))
        .await
        .unwrap();
    assert_eq!(run_once(&control, "r5").await.completed, 2);
    assert_eq!(cf.upload_count(ACCOUNT, "c15t-cust-abc123"), 2);

    // Automatic and moved to another account: every environment is deployed there.
    control
        .delivery_set(
            "bob",
            &cust,
            DeliveryPatch {
                cloudflare_token: Some(Secret::new(other_token.to_owned())),
                ..target(other)
            },
        )
        .await
        .unwrap();
    assert_eq!(run_once(&control, "r6").await.completed, 2);
    assert_eq!(cf.upload_count(other, "c15t-cust-abc123"), 1);
    assert_eq!(cf.upload_count(other, "c15t-cust-abc123-staging"), 1);
    let audit = control.audit(Some(&cust), 20).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "delivery.update"));
}

/// Deploy, deploy a change, roll back, while the fake Cloudflare writes ids in `forms`, the
/// first deployment's record holding its version id as `stored` made it (a record written
/// before ids were normalised): the rollback restores that version through the deployments
/// API (no new upload), and every id recorded is canonical.
async fn rollback_with_ids(forms: c15t_testkit::cloudflare::IdForms, legacy: bool) {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    cf.set_id_forms(forms);
    let control = env.delivering(test_delivery(&cf.base_url())).await;
    let cust = id("cust_abc123");
    managed_customer(&control).await;
    let production = Environment::new("production").unwrap();
    let first = control.deploy("bob", &cust, &production).await.unwrap();
    let v1 = cf
        .script(ACCOUNT, "c15t-cust-abc123")
        .unwrap()
        .live_version()
        .unwrap()
        .id
        .clone();
    assert_eq!(
        first.deployment.remote_version.as_deref(),
        Some(v1.as_str())
    );
    if legacy {
        env.store()
            .await
            .deployment_update(
                first.deployment.id,
                c15t_store::DeploymentUpdate {
                    status: DeploymentStatus::Succeeded,
                    url: None,
                    error: None,
                    remote_version: Some(v1.replace('-', "")),
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
    }
    control
        .destination_edit("alice", &cust, "meta-prod", pixel_id("7777777777"), None)
        .await
        .unwrap();
    control.deploy("bob", &cust, &production).await.unwrap();
    let uploads = cf.upload_count(ACCOUNT, "c15t-cust-abc123");
    let rolled = control
        .rollback("carol", &cust, first.deployment.id)
        .await
        .unwrap();
    assert_eq!(rolled.deployment.status, "succeeded", "{forms:?}");
    assert_eq!(
        rolled.deployment.remote_version.as_deref(),
        Some(v1.as_str())
    );
    let script = cf.script(ACCOUNT, "c15t-cust-abc123").unwrap();
    assert_eq!(script.live_version().unwrap().id, v1, "{forms:?}");
    assert_eq!(
        cf.upload_count(ACCOUNT, "c15t-cust-abc123"),
        uploads,
        "{forms:?}: rolled back through the deployments API, not uploaded again"
    );
}

#[tokio::test]
async fn rollback_works_whatever_form_cloudflare_writes_ids_in() {
    use c15t_testkit::cloudflare::{IdForm, IdForms};
    for forms in [
        IdForms::all(IdForm::Canonical),
        IdForms::all(IdForm::Hyphenless),
        IdForms::all(IdForm::UpperCase),
        IdForms {
            upload: IdForm::Hyphenless,
            other: IdForm::Canonical,
        },
    ] {
        rollback_with_ids(forms, false).await;
    }
}

#[tokio::test]
async fn a_stored_hyphenless_version_id_still_rolls_back() {
    use c15t_testkit::cloudflare::{IdForm, IdForms};
    rollback_with_ids(IdForms::all(IdForm::Canonical), true).await;
}

fn unfinished_deployment(job_id: Option<i64>) -> c15t_store::NewDeployment {
    c15t_store::NewDeployment {
        customer: id("cust_abc123"),
        environment: Environment::new("production").unwrap(),
        target: "c15t-backend-2".to_owned(),
        config_revision: 1,
        content_hash: "sha256:00".to_owned(),
        files: Vec::new(),
        rollback_of: None,
        job_id,
        secret_fingerprints: Default::default(),
        entry_module: None,
        runtime_module: None,
        destination: "file".to_owned(),
    }
}

#[tokio::test]
async fn the_reaper_fails_deployments_whose_runner_is_gone() {
    let env = TestEnv::sqlite();
    let control = env.control().await;
    let store = &env.store().await;
    // The harness's clock says 2026-01-01 12:00 UTC.
    let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
        .unwrap()
        .to_utc();
    let running = |_: i64| c15t_store::DeploymentUpdate {
        status: DeploymentStatus::Running,
        url: None,
        error: None,
        remote_version: None,
    };
    let job = |key: &str| c15t_store::NewJob {
        kind: "deploy".to_owned(),
        payload: serde_json::json!({}),
        dedupe_key: Some(key.to_owned()),
        run_at: now,
        max_attempts: 1,
    };
    // A job that finished (its runner recorded it done) with its deployment still running.
    let done = store.job_enqueue(job("a"), now).await.unwrap();
    let claimed = store
        .job_claim("r", &[], Duration::from_secs(60), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, done.id);
    store.job_complete(done.id, "r", now).await.unwrap();
    let orphan_of_job = store
        .deployment_create(unfinished_deployment(Some(done.id)), now)
        .await
        .unwrap();
    store
        .deployment_update(orphan_of_job.id, running(orphan_of_job.id), now)
        .await
        .unwrap();
    // A job still pending: the deployment is its to finish.
    let pending = store.job_enqueue(job("b"), now).await.unwrap();
    let of_pending = store
        .deployment_create(unfinished_deployment(Some(pending.id)), now)
        .await
        .unwrap();
    // Made without a job an hour ago (a request's task, long dead), and a minute ago.
    let old = store
        .deployment_create(
            unfinished_deployment(None),
            now - chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    store
        .deployment_update(old.id, running(old.id), now - chrono::Duration::hours(1))
        .await
        .unwrap();
    let recent = store
        .deployment_create(
            unfinished_deployment(None),
            now - chrono::Duration::minutes(1),
        )
        .await
        .unwrap();

    assert_eq!(control.reap_orphaned_deployments().await.unwrap(), 2);
    let status = |id: i64| async move { store.deployment_get(id).await.unwrap().unwrap() };
    let failed = status(orphan_of_job.id).await;
    assert_eq!(failed.status, DeploymentStatus::Failed);
    assert!(failed.error.unwrap().contains("runner"));
    assert_eq!(status(old.id).await.status, DeploymentStatus::Failed);
    assert_eq!(
        status(of_pending.id).await.status,
        DeploymentStatus::Pending
    );
    assert_eq!(status(recent.id).await.status, DeploymentStatus::Pending);
    // Reaping again changes nothing: each ends once.
    assert_eq!(control.reap_orphaned_deployments().await.unwrap(), 0);
}

#[tokio::test]
async fn the_events_debug_secret_is_bound_on_cloudflare_and_dropped_when_off() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let control = env.delivering(test_delivery(&cf.base_url())).await;
    let cust = id("cust_abc123");
    managed_customer(&control).await;
    let production = Environment::new("production").unwrap();
    let value = "debug-secret-0123456789abcdef";
    let on = |secret: Option<&str>| c15t_control::CustomerPatch {
        events_debug_secret: Some(secret.map(|s| Secret::new(s.to_owned()))),
        ..c15t_control::CustomerPatch::default()
    };

    // Too short to guard a public route: refused, nothing stored.
    let err = control
        .customer_edit("ops", &cust, on(Some("short")), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at least 16 characters"), "{err}");
    assert!(
        control
            .customer_show(&cust)
            .await
            .unwrap()
            .spec
            .events_debug_secret
            .is_none()
    );

    control
        .customer_edit("ops", &cust, on(Some(value)), None)
        .await
        .unwrap();
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert!(
        plan[0]
            .secrets
            .iter()
            .any(|s| s.binding == "C15T_EVENTS_DEBUG_SECRET" && s.change == Change::Added),
        "{:?}",
        plan[0].secrets
    );
    control.deploy("ops", &cust, &production).await.unwrap();
    let script = cf.script(ACCOUNT, "c15t-cust-abc123").expect("uploaded");
    assert_eq!(
        script
            .secrets
            .get("C15T_EVENTS_DEBUG_SECRET")
            .map(String::as_str),
        Some(value)
    );
    let entry =
        String::from_utf8(script.live_version().unwrap().modules[0].bytes.to_vec()).unwrap();
    assert!(!entry.contains(value), "no secret in source");

    control
        .customer_edit("ops", &cust, on(None), None)
        .await
        .unwrap();
    control.deploy("ops", &cust, &production).await.unwrap();
    let script = cf.script(ACCOUNT, "c15t-cust-abc123").expect("uploaded");
    assert!(!script.secrets.contains_key("C15T_EVENTS_DEBUG_SECRET"));
}

//! Drift: the health monitor reads each Cloudflare worker's live deployment; a version that
//! is not ours, a split we did not make, or a missing script shows as `drifted`, and a
//! deploy restores ours and records that it did.

use std::time::Duration;

use c15t_control::{HealthOptions, SyncStatus};
use c15t_model::Environment;
use c15t_store::DriftKind;
use c15t_testkit::cloudflare::FakeCloudflare;

use crate::harness::{TestEnv, id};
use crate::worker_names::{ACCOUNT, TOKEN, control_on, raw_upload};

const WORKER: &str = "c15t-cust-abc123";

fn options() -> HealthOptions {
    HealthOptions {
        timeout: Duration::from_millis(500),
        ..HealthOptions::default()
    }
}

#[tokio::test]
async fn drift_is_detected_shown_and_repaired_by_a_deploy() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let control = control_on(&env, &cf).await;
    let cust = id("cust_abc123");
    let production = Environment::production();
    let ours = control.deploy("ops", &cust, &production).await.unwrap();
    let our_version = ours.deployment.remote_version.clone().unwrap();
    let report = control.health_check(&options(), Some(&cust)).await.unwrap();
    assert_eq!(report.workers[0].probe.drift, None, "{report:?}");
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].status, SyncStatus::Synced);

    // Somebody runs `wrangler deploy`.
    let foreign = raw_upload(&cf, WORKER, "wrangler/3.99.0").await;
    let report = control.health_check(&options(), Some(&cust)).await.unwrap();
    let drift = report.workers[0].probe.drift.clone().expect("drift seen");
    assert_eq!(drift.kind, DriftKind::Foreign);
    assert_eq!(drift.source.as_deref(), Some("wrangler"));
    assert_eq!(drift.author.as_deref(), Some("deployer@example.com"));
    assert!(drift.detail.contains(&foreign), "{drift:?}");
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].status, SyncStatus::Drifted);
    assert_eq!(plan[0].drift.as_ref().unwrap().kind, DriftKind::Foreign);
    let json = serde_json::to_value(&plan[0]).unwrap();
    assert_eq!(json["status"], "drifted");
    assert_eq!(json["drift"]["kind"], "foreign");

    // A deploy of the unchanged config restores ours, and records that it did.
    let restored = control.deploy("ops", &cust, &production).await.unwrap();
    assert!(!restored.unchanged);
    assert_eq!(
        restored.restored_drift.as_ref().map(|d| d.kind),
        Some(DriftKind::Foreign)
    );
    let live = cf.script(ACCOUNT, WORKER).unwrap();
    let tag = live.live_version().unwrap().annotations["workers/tag"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(tag.starts_with("c15t-"), "{tag}");
    let audit = control.audit(Some(&cust), 20).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "deployment.drift_restored"),
        "{:?}",
        audit.iter().map(|e| &e.action).collect::<Vec<_>>()
    );
    let report = control.health_check(&options(), Some(&cust)).await.unwrap();
    assert_eq!(report.workers[0].probe.drift, None);
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].status, SyncStatus::Synced);

    // Somebody splits traffic between ours and another version.
    let ours_now = restored.deployment.remote_version.clone().unwrap();
    let http = reqwest::Client::new();
    let split = http
        .post(format!(
            "{}/accounts/{ACCOUNT}/workers/scripts/{WORKER}/deployments?force=true",
            cf.base_url()
        ))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "strategy": "percentage",
            "versions": [
                { "version_id": ours_now, "percentage": 70 },
                { "version_id": foreign, "percentage": 30 },
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
    let report = control.health_check(&options(), Some(&cust)).await.unwrap();
    let drift = report.workers[0].probe.drift.clone().expect("split seen");
    assert_eq!(drift.kind, DriftKind::Split);
    assert_eq!(drift.versions.len(), 2, "{drift:?}");
    let restored = control.deploy("ops", &cust, &production).await.unwrap();
    assert_eq!(
        restored.restored_drift.map(|d| d.kind),
        Some(DriftKind::Split)
    );
    let live = cf.script(ACCOUNT, WORKER).unwrap();
    assert_eq!(
        live.live_deployment().unwrap().versions.len(),
        1,
        "whole again"
    );

    // Somebody rolls back to an older version of ours.
    let older = http
        .post(format!(
            "{}/accounts/{ACCOUNT}/workers/scripts/{WORKER}/deployments?force=true",
            cf.base_url()
        ))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "strategy": "percentage",
            "versions": [{ "version_id": our_version, "percentage": 100 }],
        }))
        .send()
        .await
        .unwrap();
    assert!(older.status().is_success());
    let report = control.health_check(&options(), Some(&cust)).await.unwrap();
    assert_eq!(
        report.workers[0].probe.drift.as_ref().map(|d| d.kind),
        Some(DriftKind::OtherVersion)
    );

    // Somebody deletes the script.
    let deleted = http
        .delete(format!(
            "{}/accounts/{ACCOUNT}/workers/scripts/{WORKER}",
            cf.base_url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let report = control.health_check(&options(), Some(&cust)).await.unwrap();
    let probe = &report.workers[0].probe;
    assert_eq!(
        probe.drift.as_ref().map(|d| d.kind),
        Some(DriftKind::Missing)
    );
    assert!(!probe.up, "the edge has nothing there");
    let restored = control.deploy("ops", &cust, &production).await.unwrap();
    assert_eq!(
        restored.restored_drift.map(|d| d.kind),
        Some(DriftKind::Missing)
    );
    assert!(cf.script(ACCOUNT, WORKER).is_some());
    let report = control.health_check(&options(), Some(&cust)).await.unwrap();
    assert!(report.workers[0].probe.up && report.workers[0].probe.drift.is_none());
}

//! The conformance suite: every case runs against every backend (see `conformance!` in
//! `main.rs`). Cases see only `&dyn Store`.

use std::collections::HashSet;
use std::time::Duration;

use c15t_model::{
    CustomerId, CustomerSpec, Delivery, DeployTarget, Environment, RawValue, SecretRef, Strategy,
};
use c15t_store::{
    ConfigChange, DeliveryChange, DeploymentStatus, DeploymentUpdate, HealthProbe, JobStatus,
    NewApiToken, NewAudit, NewDeployment, NewJob, NewWebhookDelivery, Revision, Store, StoreError,
    VaultSwap,
};
use serde_json::json;

use crate::harness::t;

/// Stands for a secret value that must never reach the database outside the vault.
const MARKER: &str = "PLAINTEXT-MARKER-7f3a";

/// The design's example customer, with its `{ env = … }` references turned into vault
/// fingerprints as the control plane stores them.
pub fn example_spec() -> CustomerSpec {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/cust_abc123.toml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut spec: CustomerSpec = toml::from_str(&text).unwrap();
    fn stored(v: &mut RawValue) {
        if let RawValue::Secret(SecretRef::Env(var)) = v {
            *v = RawValue::Secret(SecretRef::Stored(format!(
                "hmac-sha256:{}",
                var.to_lowercase()
            )));
        }
    }
    stored(&mut spec.database.auth_token);
    for d in &mut spec.destinations {
        d.settings.values_mut().for_each(stored);
    }
    spec
}

fn cust() -> CustomerId {
    CustomerId::new("cust_abc123").unwrap()
}

fn change<'a>(
    spec: &'a CustomerSpec,
    vault: Option<&'a str>,
    expected: Option<Revision>,
    at: i64,
) -> ConfigChange<'a> {
    ConfigChange {
        actor: "alice@example.com",
        action: if expected.is_none() {
            "customer.create"
        } else {
            "customer.update"
        },
        resource: "customer/cust_abc123",
        spec,
        // A new customer's vault replaces none; for an update see `change_vault`.
        vault: vault.map(|new| VaultSwap { old: None, new }),
        expected_revision: expected,
        jobs: &[],
        now: t(at),
    }
}

/// An update that replaces the vault `old` with `new`.
fn change_vault<'a>(
    spec: &'a CustomerSpec,
    old: &'a str,
    new: &'a str,
    expected: Revision,
    at: i64,
) -> ConfigChange<'a> {
    ConfigChange {
        vault: Some(VaultSwap {
            old: Some(old),
            new,
        }),
        ..change(spec, None, Some(expected), at)
    }
}

async fn create(store: &dyn Store, spec: &CustomerSpec) -> Revision {
    store
        .config_put(change(spec, Some("vault-v1"), None, 0))
        .await
        .unwrap()
}

/// The example with its destinations reordered, one removed and one added.
fn edited(spec: &CustomerSpec) -> CustomerSpec {
    let mut next = spec.clone();
    next.name = "Customer ABC (renamed)".to_owned();
    next.destinations.swap(0, 2);
    next.destinations.remove(1);
    let mut extra = spec.destinations[0].clone();
    extra.id = "meta-staging".to_owned();
    extra.environment = Some("staging".to_owned());
    extra.enabled = false;
    extra.category = Some("marketing".to_owned());
    next.destinations.push(extra);
    // A customer-level secret reference, stored in its own column.
    next.events_debug_secret = Some(RawValue::Secret(SecretRef::Stored(format!(
        "hmac-sha256:{}",
        "e".repeat(32)
    ))));
    next
}

fn dest_ids(spec: &CustomerSpec) -> Vec<&str> {
    spec.destinations.iter().map(|d| d.id.as_str()).collect()
}

pub async fn customer_round_trip(store: &dyn Store) {
    let spec = example_spec();
    assert!(store.customer_get(&cust()).await.unwrap().is_none());
    assert_eq!(create(store, &spec).await, 1);

    let got = store.customer_get(&cust()).await.unwrap().unwrap();
    assert_eq!(got.spec, spec);
    assert_eq!(got.revision, 1);
    assert_eq!(got.vault.as_deref(), Some("vault-v1"));
    assert_eq!((got.created_at, got.updated_at), (t(0), t(0)));

    let list = store.customer_list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, cust());
    assert_eq!(list[0].display_name, "Customer ABC");
    assert_eq!((list[0].revision, list[0].destination_count), (1, 3));

    let dests = store.destination_list(&cust()).await.unwrap();
    assert_eq!(dests, spec.destinations);

    // Customers list in id order, whatever the insertion order.
    let mut other = spec.clone();
    other.id = "acme".to_owned();
    other.destinations.clear();
    store
        .config_put(change(&other, None, None, 5))
        .await
        .unwrap();
    let ids: Vec<_> = store
        .customer_list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id.to_string(), c.destination_count))
        .collect();
    assert_eq!(ids, [("acme".to_owned(), 0), ("cust_abc123".to_owned(), 3)]);
    let acme = store.customer_get(&"acme".parse().unwrap()).await.unwrap();
    assert_eq!(acme.unwrap().vault, None);
    let revisions = store.customer_revisions().await.unwrap();
    assert_eq!(
        revisions,
        [("acme".parse().unwrap(), 1), (cust(), 1)],
        "ids and revisions, in id order"
    );
}

pub async fn customer_configs_pages_in_id_order(store: &dyn Store) {
    let spec = example_spec();
    let mut zeta = spec.clone();
    zeta.id = "zeta".to_owned();
    zeta.destinations.reverse();
    zeta.destinations.pop();
    let mut acme = spec.clone();
    acme.id = "acme".to_owned();
    acme.destinations.clear();
    store
        .config_put(change(&zeta, Some("vault-zeta"), None, 0))
        .await
        .unwrap();
    store
        .config_put(change(&acme, None, None, 1))
        .await
        .unwrap();
    create(store, &spec).await;

    let mut pages = Vec::new();
    let mut after: Option<CustomerId> = None;
    loop {
        let page = store.customer_configs(after.as_ref(), 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.spec.id.parse().unwrap());
        pages.push(page);
    }
    let ids: Vec<Vec<&str>> = pages
        .iter()
        .map(|p| p.iter().map(|c| c.spec.id.as_str()).collect())
        .collect();
    assert_eq!(ids, [vec!["acme", "cust_abc123"], vec!["zeta"]]);
    // Each customer gets exactly its own destinations (in order) and vault.
    for got in pages.iter().flatten() {
        let one = store
            .customer_get(&got.spec.id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(*got, one);
    }
    assert_eq!(pages[0][0].vault, None);
    assert_eq!(dest_ids(&pages[1][0].spec), dest_ids(&zeta));
    assert_eq!(pages[1][0].vault.as_deref(), Some("vault-zeta"));
    assert!(store.customer_configs(None, 0).await.unwrap().is_empty());
}

pub async fn config_put_bumps_revision_and_replaces_destinations(store: &dyn Store) {
    let spec = example_spec();
    create(store, &spec).await;
    let next = edited(&spec);
    let rev = store
        .config_put(change(&next, None, Some(1), 10))
        .await
        .unwrap();
    assert_eq!(rev, 2);
    let got = store.customer_get(&cust()).await.unwrap().unwrap();
    assert_eq!(got.spec, next);
    assert_eq!(
        dest_ids(&got.spec),
        ["posthog", "meta-prod", "meta-staging"]
    );
    assert_eq!(got.revision, 2);
    assert_eq!(got.vault.as_deref(), Some("vault-v1"), "vault kept");
    assert_eq!((got.created_at, got.updated_at), (t(0), t(10)));

    // Back to the original order; a new vault replaces the old one.
    let rev = store
        .config_put(change_vault(&spec, "vault-v1", "vault-v2", 2, 20))
        .await
        .unwrap();
    assert_eq!(rev, 3);
    let got = store.customer_get(&cust()).await.unwrap().unwrap();
    assert_eq!(got.spec, spec);
    assert_eq!(got.vault.as_deref(), Some("vault-v2"));
    assert_eq!(store.customer_list().await.unwrap()[0].revision, 3);
}

pub async fn stale_revision_conflicts_and_writes_nothing(store: &dyn Store) {
    let spec = example_spec();
    create(store, &spec).await;
    store
        .config_put(change(&edited(&spec), None, Some(1), 10))
        .await
        .unwrap();
    let audit_before = store.audit_list(None, 100).await.unwrap().len();

    let mut stale = spec.clone();
    stale.name = "lost update".to_owned();
    let err = store
        .config_put(change_vault(&stale, "vault-v1", "vault-stale", 1, 20))
        .await
        .unwrap_err();
    match &err {
        StoreError::Conflict {
            expected, actual, ..
        } => assert_eq!((*expected, *actual), (1, 2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "customer `cust_abc123` changed since revision 1 (now 2); reload and apply your change \
         again"
    );
    // A revision no column can hold was never stored: stale too, not a storage error.
    let huge = u64::MAX - 1;
    let err = store
        .config_put(change_vault(&stale, "vault-v1", "vault-stale", huge, 20))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { expected, actual: 2, .. } if expected == huge),
        "{err:?}"
    );
    let got = store.customer_get(&cust()).await.unwrap().unwrap();
    assert_eq!(got.spec, edited(&spec));
    assert_eq!(got.revision, 2);
    assert_eq!(got.vault.as_deref(), Some("vault-v1"));
    assert_eq!(
        store.audit_list(None, 100).await.unwrap().len(),
        audit_before
    );

    let mut ghost = spec.clone();
    ghost.id = "ghost".to_owned();
    let err = store
        .config_put(change(&ghost, None, Some(1), 30))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

pub async fn concurrent_writers_one_wins(store: &dyn Store) {
    let spec = example_spec();
    create(store, &spec).await;
    let mut a = spec.clone();
    a.name = "writer A".to_owned();
    a.destinations.truncate(1);
    let b = edited(&spec);
    let (ra, rb) = tokio::join!(
        store.config_put(change_vault(&a, "vault-v1", "vault-a", 1, 10)),
        store.config_put(change_vault(&b, "vault-v1", "vault-b", 1, 10)),
    );
    let (winner, vault) = match (&ra, &rb) {
        (Ok(2), Err(StoreError::Conflict { actual: 2, .. })) => (&a, "vault-a"),
        (Err(StoreError::Conflict { actual: 2, .. }), Ok(2)) => (&b, "vault-b"),
        other => panic!("expected exactly one winner, got {other:?}"),
    };
    let got = store.customer_get(&cust()).await.unwrap().unwrap();
    assert_eq!(&got.spec, winner);
    assert_eq!(got.revision, 2);
    assert_eq!(got.vault.as_deref(), Some(vault));
    assert_eq!(
        store.destination_list(&cust()).await.unwrap(),
        winner.destinations
    );
    assert_eq!(store.audit_list(Some(&cust()), 100).await.unwrap().len(), 2);
}

pub async fn create_twice_already_exists(store: &dyn Store) {
    let spec = example_spec();
    create(store, &spec).await;
    let err = store
        .config_put(change(&spec, None, None, 5))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(err.to_string(), "customer `cust_abc123` already exists");
    assert_eq!(
        store.customer_get(&cust()).await.unwrap().unwrap().revision,
        1
    );
}

pub async fn delete_removes_config_keeps_history(store: &dyn Store) {
    let spec = example_spec();
    create(store, &spec).await;
    let token = NewApiToken {
        customer: &cust(),
        name: "ci",
        token_hash: "aa11",
    };
    store.api_token_create("alice", token, t(1)).await.unwrap();
    let dep = store
        .deployment_create(new_deployment("production", 1), t(2))
        .await
        .unwrap();

    let err = store
        .customer_delete("alice", &cust(), 7, t(3))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 7,
                actual: 1,
                ..
            }
        ),
        "{err:?}"
    );
    store
        .customer_delete("alice", &cust(), 1, t(4))
        .await
        .unwrap();
    assert!(store.customer_get(&cust()).await.unwrap().is_none());
    assert!(store.customer_list().await.unwrap().is_empty());
    assert!(matches!(
        store.destination_list(&cust()).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.vault_list().await.unwrap().is_empty());
    assert!(store.vault_latest().await.unwrap().is_none());
    assert!(store.api_token_find("aa11").await.unwrap().is_none());
    assert!(store.api_token_list(&cust()).await.unwrap().is_empty());
    assert_eq!(
        store.deployment_get(dep.id).await.unwrap().map(|d| d.id),
        Some(dep.id)
    );
    let audit = store.audit_list(Some(&cust()), 10).await.unwrap();
    assert_eq!(audit[0].action, "customer.delete");
    assert_eq!(audit[0].before, Some(serde_json::to_value(&spec).unwrap()));
    assert_eq!(audit[0].after, None);
    assert!(matches!(
        store.customer_delete("alice", &cust(), 1, t(5)).await,
        Err(StoreError::NotFound { .. })
    ));

    // The id can be used again, from revision 1.
    assert_eq!(create(store, &spec).await, 1);
}

pub async fn audit_records_before_after_without_plaintext(store: &dyn Store) {
    let spec = example_spec();
    let vault = format!("-----BEGIN AGE ENCRYPTED FILE-----{MARKER}");
    store
        .config_put(change(&spec, Some(&vault), None, 0))
        .await
        .unwrap();
    let next = edited(&spec);
    store
        .config_put(ConfigChange {
            action: "destination.update",
            resource: "customer/cust_abc123/destination/meta-staging",
            ..change_vault(&next, &vault, &vault, 1, 10)
        })
        .await
        .unwrap();
    store
        .vault_reseal("rotator", &cust(), &vault, &format!("{vault}2"), t(15))
        .await
        .unwrap();
    store
        .audit_append(
            NewAudit {
                actor: "deployer",
                action: "deployment.start",
                resource: "customer/cust_abc123/deployment/1",
                customer: Some(&cust()),
                before: None,
                after: Some(json!({ "status": "running" })),
            },
            t(20),
        )
        .await
        .unwrap();
    store
        .audit_append(
            NewAudit {
                actor: "admin",
                action: "keys.list",
                resource: "keys",
                customer: None,
                before: None,
                after: None,
            },
            t(30),
        )
        .await
        .unwrap();

    let all = store.audit_list(None, 100).await.unwrap();
    let actions: Vec<_> = all.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "keys.list",
            "deployment.start",
            "keys.rotate",
            "destination.update",
            "customer.create"
        ]
    );
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(all[0].customer, None);
    assert_eq!(all[0].at, t(30));

    let update = &all[3];
    assert_eq!(update.actor, "alice@example.com");
    assert_eq!(
        update.resource,
        "customer/cust_abc123/destination/meta-staging"
    );
    assert_eq!(update.customer.as_deref(), Some("cust_abc123"));
    // An update stores what changed (see `audit_entries_store_what_changed`).
    assert_eq!((&update.before, &update.after), (&None, &None));
    assert_eq!(
        update.changes,
        c15t_store::audit_changes(
            &serde_json::to_value(&spec).unwrap(),
            &serde_json::to_value(&next).unwrap()
        )
    );
    assert!(!update.changes.is_empty());
    assert_eq!(update.at, t(10));
    let created = &all[4];
    assert_eq!(created.before, None);
    assert_eq!(created.after, Some(serde_json::to_value(&spec).unwrap()));
    // Fingerprints are what the log shows of secrets.
    assert!(format!("{:?}", created.after).contains("hmac-sha256:meta_pixel_access_token"));
    assert!(
        !format!("{all:?}").contains(MARKER),
        "the vault's contents reached the audit log"
    );

    assert_eq!(store.audit_list(Some(&cust()), 100).await.unwrap().len(), 4);
    let latest = store.audit_list(Some(&cust()), 2).await.unwrap();
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[0].action, "deployment.start");
    assert_eq!(latest[0].after, Some(json!({ "status": "running" })));
}

pub async fn vault_reseal_compares_and_swaps(store: &dyn Store) {
    let spec = example_spec();
    create(store, &spec).await;
    let mut other = spec.clone();
    other.id = "acme".to_owned();
    store
        .config_put(change(&other, Some("acme-v1"), None, 0))
        .await
        .unwrap();
    assert_eq!(
        store.vault_list().await.unwrap(),
        [
            ("acme".parse().unwrap(), "acme-v1".to_owned()),
            (cust(), "vault-v1".to_owned())
        ]
    );
    assert!(
        !store
            .vault_reseal("rotator", &cust(), "not-the-current", "vault-v2", t(5))
            .await
            .unwrap()
    );
    assert!(
        store
            .vault_reseal("rotator", &cust(), "vault-v1", "vault-v2", t(6))
            .await
            .unwrap()
    );
    assert!(
        !store
            .vault_reseal("rotator", &cust(), "vault-v1", "vault-v3", t(7))
            .await
            .unwrap(),
        "a second rotation from the old ciphertext must lose"
    );
    let got = store.customer_get(&cust()).await.unwrap().unwrap();
    assert_eq!(got.vault.as_deref(), Some("vault-v2"));
    assert_eq!(got.revision, 1, "resealing is not a config change");
    assert_eq!(
        store.vault_latest().await.unwrap(),
        Some((cust(), "vault-v2".to_owned())),
        "the latest vault is the one written last"
    );
    let audit = store.audit_list(Some(&cust()), 10).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "keys.rotate")
            .map(|a| (a.actor.as_str(), a.at))
            .collect::<Vec<_>>(),
        [("rotator", t(6))]
    );
    let ghost = CustomerId::new("ghost").unwrap();
    assert!(
        !store
            .vault_reseal("rotator", &ghost, "a", "b", t(8))
            .await
            .unwrap()
    );
}

pub async fn api_tokens_create_find_revoke(store: &dyn Store) {
    create(store, &example_spec()).await;
    let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let rec = store
        .api_token_create(
            "alice",
            NewApiToken {
                customer: &cust(),
                name: "ci",
                token_hash: hash,
            },
            t(1),
        )
        .await
        .unwrap();
    assert_eq!(
        (rec.name.as_str(), rec.hint.as_str(), rec.created_at),
        ("ci", "0a08", t(1))
    );
    assert_eq!(rec.revoked_at, None);
    assert!(!format!("{rec:?}").contains(hash));
    let found = store.api_token_find(hash).await.unwrap();
    assert_eq!(found.as_ref(), Some(&rec));
    assert!(store.api_token_find("0a08").await.unwrap().is_none());

    let err = store
        .api_token_create(
            "alice",
            NewApiToken {
                customer: &cust(),
                name: "dup",
                token_hash: hash,
            },
            t(2),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    let err = store
        .api_token_create(
            "alice",
            NewApiToken {
                customer: &CustomerId::new("ghost").unwrap(),
                name: "x",
                token_hash: "beef",
            },
            t(2),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");

    let second = store
        .api_token_create(
            "alice",
            NewApiToken {
                customer: &cust(),
                name: "laptop",
                token_hash: "abcdef",
            },
            t(3),
        )
        .await
        .unwrap();
    assert!(store.api_token_revoke("bob", rec.id, t(4)).await.unwrap());
    assert!(!store.api_token_revoke("bob", rec.id, t(5)).await.unwrap());
    assert!(!store.api_token_revoke("bob", 999_999, t(5)).await.unwrap());
    assert!(store.api_token_find(hash).await.unwrap().is_none());
    assert!(store.api_token_find("abcdef").await.unwrap().is_some());
    let list = store.api_token_list(&cust()).await.unwrap();
    assert_eq!(
        list.iter()
            .map(|r| (r.id, r.revoked_at))
            .collect::<Vec<_>>(),
        [(rec.id, Some(t(4))), (second.id, None)]
    );
    let actions: Vec<_> = store
        .audit_list(Some(&cust()), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(
        actions,
        [
            "api_token.revoke",
            "api_token.create",
            "api_token.create",
            "customer.create"
        ]
    );
    assert!(
        !format!("{:?}", store.audit_list(None, 10).await.unwrap()).contains(hash),
        "token hashes stay out of the audit log"
    );
}

fn new_deployment(env: &str, revision: Revision) -> NewDeployment {
    NewDeployment {
        customer: cust(),
        environment: Environment::new(env).unwrap(),
        target: "c15t-v2".to_owned(),
        config_revision: revision,
        content_hash: format!("sha256:{revision}{env}"),
        files: vec![
            ("src/index.ts".to_owned(), "export default {};\n".to_owned()),
            (
                "wrangler.jsonc".to_owned(),
                format!("{{\"rev\": {revision}}}"),
            ),
        ],
        rollback_of: None,
        job_id: None,
        secret_fingerprints: [(
            "META_PIXEL_ACCESS_TOKEN".to_owned(),
            format!("hmac-sha256:{revision:032}"),
        )]
        .into(),
        entry_module: Some(format!("export default {{ rev: {revision} }};\n")),
        runtime_module: Some("c15t-runtime-0123456789abcdef.js".to_owned()),
        destination: "cloudflare:0123456789abcdef0123456789abcdef".to_owned(),
    }
}

pub async fn deployments_record_attempts(store: &dyn Store) {
    let first = store
        .deployment_create(new_deployment("production", 1), t(0))
        .await
        .unwrap();
    assert_eq!(first.status, DeploymentStatus::Pending);
    assert_eq!((first.created_at, first.started_at), (t(0), None));
    assert_eq!(
        first.destination.as_deref(),
        Some("cloudflare:0123456789abcdef0123456789abcdef")
    );

    let running = store
        .deployment_update(
            first.id,
            DeploymentUpdate {
                status: DeploymentStatus::Running,
                url: None,
                error: None,
                remote_version: None,
            },
            t(1),
        )
        .await
        .unwrap();
    assert_eq!(
        (running.started_at, running.finished_at),
        (Some(t(1)), None)
    );
    let done = store
        .deployment_update(
            first.id,
            DeploymentUpdate {
                status: DeploymentStatus::Succeeded,
                url: Some("https://c15t-cust-abc123.example.workers.dev".to_owned()),
                error: None,
                remote_version: Some("v-1".to_owned()),
            },
            t(2),
        )
        .await
        .unwrap();
    assert_eq!(
        (done.started_at, done.finished_at),
        (Some(t(1)), Some(t(2)))
    );
    assert_eq!(done.remote_version.as_deref(), Some("v-1"));
    assert_eq!(
        store.deployment_get(first.id).await.unwrap(),
        Some(done.clone())
    );

    let staging = store
        .deployment_create(new_deployment("staging", 2), t(3))
        .await
        .unwrap();
    let mut rollback = new_deployment("production", 1);
    rollback.rollback_of = Some(first.id);
    let rollback = store.deployment_create(rollback, t(4)).await.unwrap();
    let failed = store
        .deployment_update(
            rollback.id,
            DeploymentUpdate {
                status: DeploymentStatus::Failed,
                url: None,
                error: Some("upload refused".to_owned()),
                remote_version: None,
            },
            t(5),
        )
        .await
        .unwrap();
    assert_eq!((failed.started_at, failed.finished_at), (None, Some(t(5))));
    assert_eq!(failed.error.as_deref(), Some("upload refused"));
    assert_eq!(failed.rollback_of, Some(first.id));

    let ids =
        |v: Vec<c15t_store::DeploymentRecord>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.deployment_list(&cust(), None, 10).await.unwrap()),
        [rollback.id, staging.id, first.id]
    );
    let prod = Environment::new("production").unwrap();
    assert_eq!(
        ids(store
            .deployment_list(&cust(), Some(&prod), 10)
            .await
            .unwrap()),
        [rollback.id, first.id]
    );
    assert_eq!(
        ids(store.deployment_list(&cust(), None, 1).await.unwrap()),
        [rollback.id]
    );
    let listed = store.deployment_list(&cust(), None, 10).await.unwrap();
    assert_eq!(listed[2], done, "list returns the same record, files aside");
    assert!(
        store
            .deployment_list(&CustomerId::new("ghost").unwrap(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        store.deployment_files(staging.id).await.unwrap(),
        new_deployment("staging", 2).files
    );
    assert!(matches!(
        store.deployment_files(999_999).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .deployment_update(
                999_999,
                DeploymentUpdate {
                    status: DeploymentStatus::Running,
                    url: None,
                    error: None,
                    remote_version: None
                },
                t(6)
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.deployment_get(999_999).await.unwrap(), None);
}

fn job(kind: &str, run_at: i64) -> NewJob {
    NewJob {
        kind: kind.to_owned(),
        payload: json!({ "customer": "cust_abc123", "at": run_at }),
        dedupe_key: None,
        run_at: t(run_at),
        max_attempts: 3,
    }
}

const LEASE: Duration = Duration::from_secs(30);

pub async fn jobs_enqueue_claim_complete(store: &dyn Store) {
    let later = store.job_enqueue(job("deploy", 20), t(0)).await.unwrap();
    let sooner = store.job_enqueue(job("deploy", 10), t(0)).await.unwrap();
    let other = store.job_enqueue(job("rotate", 0), t(0)).await.unwrap();
    assert_eq!(sooner.status, JobStatus::Pending);
    assert_eq!((sooner.attempts, sooner.max_attempts), (0, 3));

    assert!(
        store
            .job_claim("w1", &["deploy"], LEASE, t(5))
            .await
            .unwrap()
            .is_none(),
        "nothing is due yet"
    );
    let claimed = store
        .job_claim("w1", &["deploy"], LEASE, t(25))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, sooner.id, "oldest run_at first");
    assert_eq!(claimed.status, JobStatus::Running);
    assert_eq!(claimed.locked_by.as_deref(), Some("w1"));
    assert_eq!(claimed.lease_expires_at, Some(t(55)));
    assert_eq!(claimed.attempts, 1);
    assert_eq!(
        claimed.payload,
        json!({ "customer": "cust_abc123", "at": 10 })
    );

    let any = store
        .job_claim("w2", &[], LEASE, t(25))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(any.id, other.id, "no kinds means any kind");
    assert!(!store.job_complete(sooner.id, "w2", t(26)).await.unwrap());
    assert!(store.job_complete(sooner.id, "w1", t(26)).await.unwrap());
    assert!(!store.job_complete(sooner.id, "w1", t(27)).await.unwrap());
    let done = store.job_get(sooner.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Done);
    assert_eq!((done.locked_by, done.lease_expires_at), (None, None));
    assert_eq!(done.updated_at, t(26));

    let counts = store.job_counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.running, counts.done, counts.failed),
        (1, 1, 1, 0)
    );
    assert_eq!(
        store.job_get(later.id).await.unwrap().unwrap().status,
        JobStatus::Pending
    );
    assert_eq!(store.job_get(999_999).await.unwrap(), None);
}

pub async fn jobs_lease_expiry_lets_another_worker_claim(store: &dyn Store) {
    let j = store.job_enqueue(job("deploy", 0), t(0)).await.unwrap();
    store
        .job_claim("w1", &["deploy"], LEASE, t(0))
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .job_claim("w2", &["deploy"], LEASE, t(29))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.job_heartbeat(j.id, "w1", LEASE, t(20)).await.unwrap());
    assert!(
        store
            .job_claim("w2", &["deploy"], LEASE, t(49))
            .await
            .unwrap()
            .is_none(),
        "the heartbeat extended the lease to t+50"
    );
    let taken = store
        .job_claim("w2", &["deploy"], LEASE, t(50))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.id, j.id);
    assert_eq!(taken.locked_by.as_deref(), Some("w2"));
    assert_eq!(taken.attempts, 2);
    assert!(!store.job_complete(j.id, "w1", t(51)).await.unwrap());
    assert!(!store.job_heartbeat(j.id, "w1", LEASE, t(51)).await.unwrap());
    assert!(
        !store
            .job_fail(j.id, "w1", "late", None, t(51))
            .await
            .unwrap()
    );
    assert!(store.job_complete(j.id, "w2", t(52)).await.unwrap());
    assert_eq!(
        store.job_get(j.id).await.unwrap().unwrap().status,
        JobStatus::Done
    );
}

pub async fn jobs_fail_with_retry(store: &dyn Store) {
    let j = store.job_enqueue(job("deploy", 0), t(0)).await.unwrap();
    store
        .job_claim("w1", &["deploy"], LEASE, t(0))
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .job_fail(j.id, "w1", "wrangler exited 1", Some(t(60)), t(1))
            .await
            .unwrap()
    );
    let after = store.job_get(j.id).await.unwrap().unwrap();
    assert_eq!(after.status, JobStatus::Pending);
    assert_eq!(after.run_at, t(60));
    assert_eq!(after.last_error.as_deref(), Some("wrangler exited 1"));
    assert_eq!(after.locked_by, None);
    assert!(
        store
            .job_claim("w1", &["deploy"], LEASE, t(59))
            .await
            .unwrap()
            .is_none()
    );
    let again = store
        .job_claim("w2", &["deploy"], LEASE, t(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (j.id, 2));
    assert!(store.job_complete(j.id, "w2", t(61)).await.unwrap());
}

pub async fn jobs_fail_for_good_after_max_attempts(store: &dyn Store) {
    let mut spec = job("deploy", 0);
    spec.max_attempts = 2;
    let j = store.job_enqueue(spec, t(0)).await.unwrap();
    for (attempt, at) in [(1, 0), (2, 10)] {
        let c = store
            .job_claim("w1", &["deploy"], LEASE, t(at))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.attempts, attempt);
        assert!(
            store
                .job_fail(
                    j.id,
                    "w1",
                    &format!("boom {attempt}"),
                    Some(t(at + 10)),
                    t(at + 1)
                )
                .await
                .unwrap()
        );
    }
    let failed = store.job_get(j.id).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("boom 2"));
    assert!(
        store
            .job_claim("w1", &["deploy"], LEASE, t(1000))
            .await
            .unwrap()
            .is_none()
    );

    // Without a retry time a failure is final at once.
    let k = store.job_enqueue(job("deploy", 0), t(0)).await.unwrap();
    store
        .job_claim("w1", &["deploy"], LEASE, t(0))
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .job_fail(k.id, "w1", "bad config", None, t(1))
            .await
            .unwrap()
    );
    assert_eq!(
        store.job_get(k.id).await.unwrap().unwrap().status,
        JobStatus::Failed
    );
    assert_eq!(store.job_counts().await.unwrap().failed, 2);
}

pub async fn jobs_dedupe_updates_the_pending_job(store: &dyn Store) {
    let keyed = |rev: u64, run_at: i64| NewJob {
        dedupe_key: Some("deploy:cust_abc123:production".to_owned()),
        payload: json!({ "revision": rev }),
        ..job("deploy", run_at)
    };
    let first = store.job_enqueue(keyed(1, 5), t(0)).await.unwrap();
    let second = store.job_enqueue(keyed(2, 7), t(1)).await.unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.payload, json!({ "revision": 2 }));
    assert_eq!(second.run_at, t(7));
    assert_eq!(second.updated_at, t(1));
    let unrelated = store.job_enqueue(job("deploy", 100), t(1)).await.unwrap();
    assert_ne!(unrelated.id, first.id);

    let claimed = store
        .job_claim("w1", &["deploy"], LEASE, t(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (claimed.id, claimed.payload.clone()),
        (first.id, json!({ "revision": 2 }))
    );
    // Once running, a new edit needs a deploy of its own.
    let third = store.job_enqueue(keyed(3, 11), t(11)).await.unwrap();
    assert_ne!(third.id, first.id);
    assert_eq!(third.status, JobStatus::Pending);
    let fourth = store.job_enqueue(keyed(4, 12), t(12)).await.unwrap();
    assert_eq!(fourth.id, third.id);
    assert_eq!(store.job_counts().await.unwrap().pending, 2);
}

pub async fn jobs_release_returns_held_jobs(store: &dyn Store) {
    let a = store.job_enqueue(job("deploy", 0), t(0)).await.unwrap();
    let b = store.job_enqueue(job("deploy", 1), t(0)).await.unwrap();
    let c = store.job_enqueue(job("deploy", 2), t(0)).await.unwrap();
    for w in ["w1", "w1", "w2"] {
        store
            .job_claim(w, &["deploy"], LEASE, t(5))
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(store.job_release("w1", t(6)).await.unwrap(), 2);
    assert_eq!(store.job_release("w1", t(6)).await.unwrap(), 0);
    for id in [a.id, b.id] {
        let j = store.job_get(id).await.unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Pending);
        assert_eq!((j.attempts, j.locked_by, j.run_at), (0, None, t(6)));
    }
    assert_eq!(
        store
            .job_get(c.id)
            .await
            .unwrap()
            .unwrap()
            .locked_by
            .as_deref(),
        Some("w2")
    );
    let again = store
        .job_claim("w3", &["deploy"], LEASE, t(6))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (a.id, 1));
}

pub async fn jobs_concurrent_claimers_take_each_job_once(store: &dyn Store) {
    const N: usize = 40;
    for i in 0..N {
        store
            .job_enqueue(job("work", i64::try_from(i).unwrap()), t(0))
            .await
            .unwrap();
    }
    let claimer = |worker: &'static str| async move {
        let mut got = Vec::new();
        while let Some(j) = store
            .job_claim(worker, &["work"], LEASE, t(100))
            .await
            .unwrap()
        {
            assert!(store.job_complete(j.id, worker, t(100)).await.unwrap());
            got.push(j.id);
        }
        got
    };
    let (a, b, c) = tokio::join!(claimer("a"), claimer("b"), claimer("c"));
    let all: Vec<i64> = a.into_iter().chain(b).chain(c).collect();
    assert_eq!(all.len(), N);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), N);
    assert_eq!(store.job_counts().await.unwrap().done, N as u64);
}

pub async fn unstorable_input_is_refused(store: &dyn Store) {
    let mut spec = example_spec();
    spec.destinations[0]
        .settings
        .insert("ratio".to_owned(), RawValue::Float(f64::NAN));
    let err = store
        .config_put(change(&spec, None, None, 0))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert!(store.customer_get(&cust()).await.unwrap().is_none());
}

/// The page loader decodes destinations from an aggregated JSON array: every kind of setting
/// value (floats that look like integers, numbers past `i64`, escapes, nested tables, objects
/// that are almost secrets) and every flag must come back exactly as `customer_get` reads it.
pub async fn customer_configs_round_trip_every_setting_kind(store: &dyn Store) {
    let mut spec = example_spec();
    let mut d = spec.destinations[0].clone();
    d.id = "tricky".to_owned();
    d.name = "Tricky \"quoted\" \\ name \u{e9}\u{1f600}\n".to_owned();
    d.enabled = false;
    d.environment = Some("staging".to_owned());
    d.category = Some("marketing".to_owned());
    let table = |pairs: &[(&str, RawValue)]| {
        RawValue::Table(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    };
    d.settings = [
        ("float_one", RawValue::Float(1.0)),
        ("float_small", RawValue::Float(0.1)),
        ("float_big", RawValue::Float(1e300)),
        ("float_neg", RawValue::Float(-2.5e-10)),
        ("int_max", RawValue::Integer(i64::MAX)),
        ("int_min", RawValue::Integer(i64::MIN)),
        ("zero", RawValue::Integer(0)),
        ("bool", RawValue::Bool(true)),
        (
            "text",
            RawValue::Text("a\u{0}b\t\"c\"\\ \u{2028} \u{e9}".to_owned()),
        ),
        ("empty", RawValue::Text(String::new())),
        (
            "array",
            RawValue::Array(vec![
                RawValue::Integer(1),
                RawValue::Float(2.0),
                RawValue::Array(Vec::new()),
            ]),
        ),
        ("empty_table", table(&[])),
        (
            "almost_secret",
            table(&[
                ("env", RawValue::Text("X".to_owned())),
                ("other", RawValue::Bool(false)),
            ]),
        ),
        ("env_not_text", table(&[("env", RawValue::Integer(3))])),
        (
            "secret",
            RawValue::Secret(SecretRef::Env("TOKEN".to_owned())),
        ),
        (
            "stored",
            RawValue::Secret(SecretRef::Stored("hmac".to_owned())),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    spec.destinations.insert(1, d);
    create(store, &spec).await;
    let page = store.customer_configs(None, 10).await.unwrap();
    assert_eq!(page.len(), 1);
    let one = store.customer_get(&cust()).await.unwrap().unwrap();
    assert_eq!(page[0], one);
    assert_eq!(page[0].spec, spec);
    let RawValue::Float(f) = page[0].spec.destinations[1].settings["float_one"] else {
        panic!("1.0 must stay a float");
    };
    assert_eq!(f.to_bits(), 1.0f64.to_bits());
}

pub async fn delivery_settings_round_trip_with_vault_swap(store: &dyn Store) {
    let spec = example_spec();
    create(store, &spec).await;
    assert_eq!(store.delivery_get(&cust()).await.unwrap(), None);

    let delivery = Delivery {
        strategy: Strategy::Automatic,
        target: DeployTarget::Cloudflare {
            account_id: "0123456789abcdef0123456789abcdef".to_owned(),
        },
        webhook: None,
        rollout: None,
        routing: Default::default(),
    };
    let change = |delivery, vault, at| DeliveryChange {
        actor: "alice@example.com",
        action: "delivery.update",
        customer: &CUST,
        delivery,
        vault,
        jobs: &[],
        now: t(at),
    };
    static CUST: std::sync::LazyLock<CustomerId> = std::sync::LazyLock::new(cust);
    store
        .delivery_put(change(
            &delivery,
            Some(VaultSwap {
                old: Some("vault-v1"),
                new: "vault-with-token",
            }),
            10,
        ))
        .await
        .unwrap();
    let got = store.delivery_get(&cust()).await.unwrap().unwrap();
    assert_eq!((got.delivery, got.updated_at), (delivery.clone(), t(10)));
    let stored = store.customer_get(&cust()).await.unwrap().unwrap();
    assert_eq!(stored.vault.as_deref(), Some("vault-with-token"));
    assert_eq!(
        stored.revision, 1,
        "delivery settings do not move the config revision"
    );

    // A vault swap based on a stale vault writes nothing, settings included.
    let manual = Delivery {
        strategy: Strategy::Manual,
        ..delivery.clone()
    };
    // Jobs asked for by a refused change are not enqueued either.
    let deploy = [NewJob {
        dedupe_key: Some("deploy:cust_abc123:production".to_owned()),
        ..job("deploy", 25)
    }];
    let pending = store.job_counts().await.unwrap().pending;
    let err = store
        .delivery_put(DeliveryChange {
            jobs: &deploy,
            ..change(
                &manual,
                Some(VaultSwap {
                    old: Some("vault-v1"),
                    new: "vault-stale",
                }),
                20,
            )
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VaultChanged { .. }), "{err:?}");
    assert_eq!(store.job_counts().await.unwrap().pending, pending);
    assert_eq!(
        store.delivery_get(&cust()).await.unwrap().unwrap().delivery,
        delivery
    );
    // So does a config change sealed from the vault as it was before the token was added.
    let err = store
        .config_put(change_vault(
            &edited(&spec),
            "vault-v1",
            "vault-lost-token",
            1,
            25,
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VaultChanged { .. }), "{err:?}");
    assert_eq!(
        store.customer_get(&cust()).await.unwrap().unwrap().revision,
        1
    );

    // Without a vault change the settings are simply replaced, with the jobs the change asks
    // for; both changes are audited.
    store
        .delivery_put(DeliveryChange {
            jobs: &deploy,
            ..change(&manual, None, 30)
        })
        .await
        .unwrap();
    assert_eq!(store.job_counts().await.unwrap().pending, pending + 1);
    assert_eq!(
        store.delivery_get(&cust()).await.unwrap().unwrap().delivery,
        manual
    );
    let audit = store.audit_list(Some(&cust()), 10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(&actions[..2], ["delivery.update", "delivery.update"]);
    let strategy: Vec<_> = audit[0]
        .changes
        .iter()
        .filter(|c| c.path == "strategy")
        .collect();
    assert_eq!(strategy.len(), 1, "{:?}", audit[0].changes);
    assert_eq!(strategy[0].before, Some(json!("automatic")));
    assert_eq!(strategy[0].after, Some(json!("manual")));

    // Unknown customers are refused; deleting a customer deletes its settings.
    let ghost = CustomerId::new("ghost").unwrap();
    let err = store
        .delivery_put(DeliveryChange {
            customer: &ghost,
            ..change(&manual, None, 40)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    store.customer_delete("a", &cust(), 1, t(50)).await.unwrap();
    assert_eq!(store.delivery_get(&cust()).await.unwrap(), None);
}

pub async fn deployments_by_job_and_live(store: &dyn Store) {
    let mut first = new_deployment("production", 1);
    first.job_id = Some(41);
    let first = store.deployment_create(first, t(0)).await.unwrap();
    assert_eq!(first.job_id, Some(41));
    assert_eq!(
        first.secret_fingerprints["META_PIXEL_ACCESS_TOKEN"],
        format!("hmac-sha256:{:032}", 1)
    );
    assert_eq!(
        store.deployment_for_job(41).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.deployment_for_job(42).await.unwrap(), None);
    assert_eq!(
        first.runtime_module.as_deref(),
        Some("c15t-runtime-0123456789abcdef.js")
    );
    assert_eq!(
        store.deployment_entry(first.id).await.unwrap().as_deref(),
        Some("export default { rev: 1 };\n")
    );
    assert!(matches!(
        store.deployment_entry(first.id + 100).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.deployment_live(None).await.unwrap().is_empty());

    let done = |status| DeploymentUpdate {
        status,
        url: Some("https://c15t-cust-abc123.acme.workers.dev".to_owned()),
        error: None,
        remote_version: None,
    };
    store
        .deployment_update(first.id, done(DeploymentStatus::Succeeded), t(1))
        .await
        .unwrap();
    let second = store
        .deployment_create(new_deployment("production", 2), t(2))
        .await
        .unwrap();
    store
        .deployment_update(second.id, done(DeploymentStatus::Failed), t(3))
        .await
        .unwrap();
    let staging = store
        .deployment_create(new_deployment("staging", 2), t(4))
        .await
        .unwrap();
    store
        .deployment_update(staging.id, done(DeploymentStatus::Succeeded), t(5))
        .await
        .unwrap();

    // The newest succeeded deployment per environment: a failed attempt is not live.
    let live = store.deployment_live(Some(&cust())).await.unwrap();
    let ids: Vec<(i64, &str)> = live
        .iter()
        .map(|d| (d.id, d.environment.as_str()))
        .collect();
    assert_eq!(ids, [(first.id, "production"), (staging.id, "staging")]);
    assert!(
        live.iter().all(
            |d| d.destination.as_deref() == Some("cloudflare:0123456789abcdef0123456789abcdef")
        ),
        "{live:?}"
    );
    // Listings carry the new columns too.
    let listed = store.deployment_list(&cust(), None, 10).await.unwrap();
    assert_eq!(listed.last().unwrap().job_id, Some(41));
    assert_eq!(
        listed.last().unwrap().secret_fingerprints,
        first.secret_fingerprints
    );
    let other = CustomerId::new("other").unwrap();
    assert!(
        store
            .deployment_live(Some(&other))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.deployment_live(None).await.unwrap().len(), 2);
}

pub async fn webhook_delivery_log(store: &dyn Store) {
    let attempt = |n: u32, outcome: &str, status: Option<u16>| NewWebhookDelivery {
        customer: cust(),
        message_id: "msg_1".to_owned(),
        event_type: "deployment.succeeded".to_owned(),
        attempt: n,
        status_code: status,
        outcome: outcome.to_owned(),
        error: (outcome != "delivered").then(|| "answered 500".to_owned()),
        duration_ms: 12,
        at: t(i64::from(n)),
    };
    store
        .webhook_delivery_append(attempt(1, "retry", Some(500)))
        .await
        .unwrap();
    store
        .webhook_delivery_append(attempt(2, "delivered", Some(200)))
        .await
        .unwrap();
    let log = store.webhook_delivery_list(&cust(), 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log[0].id > log[1].id, "newest first");
    assert_eq!(log[0].attempt, attempt(2, "delivered", Some(200)));
    assert_eq!(log[1].attempt, attempt(1, "retry", Some(500)));
    assert_eq!(
        store.webhook_delivery_list(&cust(), 1).await.unwrap().len(),
        1
    );
}

pub async fn health_counts_failures_in_a_row(store: &dyn Store) {
    let probe = |up: bool, at: i64| HealthProbe {
        deployment_id: 7,
        customer: cust(),
        environment: Environment::new("production").unwrap(),
        url: "https://c15t-cust-abc123.acme.workers.dev/status".to_owned(),
        up,
        status_code: up.then_some(200),
        latency_ms: up.then_some(31),
        error: (!up).then(|| "connection refused".to_owned()),
        drift: None,
        checked_at: t(at),
    };
    let r = store.health_record(probe(false, 1)).await.unwrap();
    assert_eq!((r.consecutive_failures, r.checks), (1, 1));
    let r = store.health_record(probe(false, 2)).await.unwrap();
    assert_eq!((r.consecutive_failures, r.checks), (2, 2));
    let r = store.health_record(probe(true, 3)).await.unwrap();
    assert_eq!((r.consecutive_failures, r.checks), (0, 3));
    let listed = store.health_list(Some(&cust())).await.unwrap();
    assert_eq!(listed, vec![r]);
    let other = CustomerId::new("other").unwrap();
    assert!(store.health_list(Some(&other)).await.unwrap().is_empty());
    assert_eq!(store.health_list(None).await.unwrap().len(), 1);

    // Drift is kept with the probe, and cleared by the next probe that saw none.
    let drift = c15t_store::Drift {
        kind: c15t_store::DriftKind::Foreign,
        detail: "version x serves all traffic".to_owned(),
        author: Some("dev@example.com".to_owned()),
        source: Some("wrangler".to_owned()),
        versions: vec!["x 100%".to_owned()],
    };
    let drifted = store
        .health_record(HealthProbe {
            drift: Some(drift.clone()),
            ..probe(true, 4)
        })
        .await
        .unwrap();
    let listed = store.health_list(Some(&cust())).await.unwrap();
    assert_eq!(listed, vec![drifted]);
    assert_eq!(listed[0].probe.drift, Some(drift));
    store.health_record(probe(true, 5)).await.unwrap();
    let listed = store.health_list(Some(&cust())).await.unwrap();
    assert_eq!(listed[0].probe.drift, None);
}

pub async fn jobs_abandoned_too_often_are_reaped(store: &dyn Store) {
    let job = store
        .job_enqueue(
            NewJob {
                kind: "deploy".to_owned(),
                payload: json!({"customer": "cust_abc123"}),
                dedupe_key: None,
                run_at: t(0),
                max_attempts: 2,
            },
            t(0),
        )
        .await
        .unwrap();
    let lease = Duration::from_secs(10);
    // Two runners die holding it.
    assert!(
        store
            .job_claim("w1", &[], lease, t(1))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .job_claim("w2", &[], lease, t(20))
            .await
            .unwrap()
            .is_some()
    );
    // Its attempts are used up: nobody may claim it again, and reaping fails it.
    assert!(
        store
            .job_claim("w3", &[], lease, t(40))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store.job_reap(t(25)).await.unwrap().is_empty(),
        "lease still held"
    );
    let reaped = store.job_reap(t(40)).await.unwrap();
    assert_eq!(reaped.len(), 1);
    assert_eq!(
        (reaped[0].id, reaped[0].status),
        (job.id, JobStatus::Failed)
    );
    assert!(
        reaped[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("stopped before finishing")
    );
    assert!(
        store.job_reap(t(50)).await.unwrap().is_empty(),
        "reaped once"
    );
    assert_eq!(store.job_counts().await.unwrap().failed, 1);
}

pub async fn users_and_sessions(store: &dyn Store) {
    use c15t_store::{NewSession, NewUser, UserRole};
    create(store, &example_spec()).await;
    let operator = store
        .user_create(
            "config",
            NewUser {
                email: "ops@example.com",
                password_hash: "$argon2id$PHC-MARKER",
                role: UserRole::Operator,
                customer: None,
            },
            t(1),
        )
        .await
        .unwrap();
    assert_eq!(operator.role, UserRole::Operator);
    assert!(!format!("{operator:?}").contains("PHC-MARKER"));
    let admin = store
        .user_create(
            "ops",
            NewUser {
                email: "admin@example.com",
                password_hash: "$argon2id$x",
                role: UserRole::CustomerAdmin,
                customer: Some(&cust()),
            },
            t(2),
        )
        .await
        .unwrap();
    assert_eq!(admin.customer, Some(cust()));
    let taken = store
        .user_create(
            "ops",
            NewUser {
                email: "ops@example.com",
                password_hash: "$argon2id$y",
                role: UserRole::Operator,
                customer: None,
            },
            t(3),
        )
        .await;
    assert!(
        matches!(taken, Err(StoreError::AlreadyExists { .. })),
        "{taken:?}"
    );
    let unknown = CustomerId::new("cust_nope").unwrap();
    let orphan = store
        .user_create(
            "ops",
            NewUser {
                email: "x@example.com",
                password_hash: "$argon2id$z",
                role: UserRole::CustomerAdmin,
                customer: Some(&unknown),
            },
            t(3),
        )
        .await;
    assert!(
        matches!(orphan, Err(StoreError::NotFound { .. })),
        "{orphan:?}"
    );
    assert_eq!(
        store.user_find("ops@example.com").await.unwrap(),
        Some(operator.clone())
    );
    assert_eq!(store.user_get(admin.id).await.unwrap(), Some(admin.clone()));
    assert_eq!(store.user_list().await.unwrap().len(), 2);
    // The audit log names the user, never the hash.
    let audit = store.audit_list(None, 50).await.unwrap();
    let created: Vec<_> = audit.iter().filter(|a| a.action == "user.create").collect();
    assert_eq!(created.len(), 2);
    assert!(
        !serde_json::to_string(&audit.iter().map(|a| &a.after).collect::<Vec<_>>())
            .unwrap()
            .contains("argon2")
    );

    // Sessions: found by hash until they expire; deleted on logout and by the purge.
    let session = store
        .session_create(
            NewSession {
                user_id: operator.id,
                token_hash: "hash-1",
                csrf_token: "csrf-1",
                expires_at: t(100),
            },
            t(10),
        )
        .await
        .unwrap();
    assert_eq!(session.user_id, operator.id);
    let found = store.session_find("hash-1", t(99)).await.unwrap().unwrap();
    assert_eq!(found.csrf_token, "csrf-1");
    assert!(
        store
            .session_find("hash-1", t(100))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(store.session_find("hash-2", t(10)).await.unwrap().is_none());
    store
        .session_create(
            NewSession {
                user_id: admin.id,
                token_hash: "hash-2",
                csrf_token: "csrf-2",
                expires_at: t(50),
            },
            t(10),
        )
        .await
        .unwrap();
    assert_eq!(store.session_purge(t(60)).await.unwrap(), 1);
    assert!(store.session_delete("hash-1").await.unwrap());
    assert!(!store.session_delete("hash-1").await.unwrap());

    // A new password ends the user's sessions.
    store
        .session_create(
            NewSession {
                user_id: operator.id,
                token_hash: "hash-3",
                csrf_token: "csrf-3",
                expires_at: t(200),
            },
            t(20),
        )
        .await
        .unwrap();
    assert!(
        store
            .user_password_set("ops", operator.id, "$argon2id$new", t(21))
            .await
            .unwrap()
    );
    assert!(store.session_find("hash-3", t(22)).await.unwrap().is_none());
    assert_eq!(
        store
            .user_get(operator.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "$argon2id$new"
    );
    assert!(
        !store
            .user_password_set("ops", 9999, "$argon2id$", t(21))
            .await
            .unwrap()
    );

    // Deleting the customer takes its admins (and their sessions) with it.
    store
        .session_create(
            NewSession {
                user_id: admin.id,
                token_hash: "hash-4",
                csrf_token: "csrf-4",
                expires_at: t(200),
            },
            t(20),
        )
        .await
        .unwrap();
    let revision = store.customer_get(&cust()).await.unwrap().unwrap().revision;
    store
        .customer_delete("ops", &cust(), revision, t(30))
        .await
        .unwrap();
    assert!(store.user_get(admin.id).await.unwrap().is_none());
    assert!(store.session_find("hash-4", t(31)).await.unwrap().is_none());
    assert!(store.user_get(operator.id).await.unwrap().is_some());
}

pub async fn config_changes_enqueue_their_jobs_in_their_transaction(store: &dyn Store) {
    let spec = example_spec();
    let keyed = |rev: u64, run_at: i64| NewJob {
        dedupe_key: Some("deploy:cust_abc123:production".to_owned()),
        payload: json!({ "revision": rev }),
        ..job("deploy", run_at)
    };
    let created = [keyed(1, 5), job("notify", 5)];
    store
        .config_put(ConfigChange {
            jobs: &created,
            ..change(&spec, Some("vault-v1"), None, 0)
        })
        .await
        .unwrap();
    let counts = store.job_counts().await.unwrap();
    assert_eq!(counts.pending, 2);

    // The next change's keyed job replaces the pending one (debounce), as `job_enqueue` does.
    let next = edited(&spec);
    store
        .config_put(ConfigChange {
            jobs: &[keyed(2, 15)],
            ..change(&next, None, Some(1), 10)
        })
        .await
        .unwrap();
    assert_eq!(store.job_counts().await.unwrap().pending, 2);
    let claimed = store
        .job_claim("w1", &["deploy"], LEASE, t(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.payload, json!({ "revision": 2 }));
    assert_eq!(claimed.run_at, t(15));

    // A change that is refused (stale revision, changed vault) enqueues nothing.
    let refused = [keyed(3, 25), job("notify", 25)];
    let err = store
        .config_put(ConfigChange {
            jobs: &refused,
            ..change(&spec, None, Some(1), 20)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let err = store
        .config_put(ConfigChange {
            jobs: &refused,
            ..change_vault(&spec, "not-the-stored-vault", "vault-v3", 2, 20)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VaultChanged { .. }), "{err:?}");
    let counts = store.job_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (1, 1));
    assert_eq!(
        store.customer_get(&cust()).await.unwrap().unwrap().revision,
        2
    );
}

/// `n` destinations of one kind, their settings as fingerprints.
fn many_destinations(spec: &mut CustomerSpec, n: usize) {
    let template = spec.destinations[0].clone();
    spec.destinations = (0..n)
        .map(|i| {
            let mut d = template.clone();
            d.id = format!("dest-{i:05}");
            d.name = format!("Destination {i}");
            d
        })
        .collect();
}

/// Issue 19: the 3,641st destination failed with `too many SQL variables` (one insert of 9
/// bind parameters a row). The store takes any number of rows (validation's quota is far
/// lower): 8,000 is past SQLite's 32,766 and PostgreSQL's 65,535 parameters.
pub async fn config_put_takes_more_destinations_than_bind_parameters(store: &dyn Store) {
    let mut spec = example_spec();
    many_destinations(&mut spec, 8_000);
    store
        .config_put(change(&spec, None, None, 0))
        .await
        .expect("created");
    spec.destinations[7_999].enabled = !spec.destinations[7_999].enabled;
    store
        .config_put(change(&spec, None, Some(1), 1))
        .await
        .expect("replaced");
    let got = store.customer_get(&cust()).await.unwrap().unwrap();
    assert_eq!(got.revision, 2);
    assert_eq!(got.spec, spec);
}

/// Issue 19: each entry held the whole config before and after. An edit of one setting of a
/// customer with 200 destinations now stores that setting, not 2 x 100 KiB.
pub async fn audit_entries_store_what_changed(store: &dyn Store) {
    let mut spec = example_spec();
    many_destinations(&mut spec, 200);
    let config_bytes = serde_json::to_string(&spec).unwrap().len();
    assert!(config_bytes > 40_000, "{config_bytes}");
    store
        .config_put(change(&spec, None, None, 0))
        .await
        .unwrap();
    let before = spec.clone();
    spec.destinations[17].enabled = !spec.destinations[17].enabled;
    let mut added = spec.destinations[0].clone();
    added.id = "added".into();
    spec.destinations.push(added.clone());
    store
        .config_put(change(&spec, None, Some(1), 1))
        .await
        .unwrap();

    let entry = &store.audit_list(Some(&cust()), 1).await.unwrap()[0];
    assert_eq!(entry.action, "customer.update");
    assert_eq!((&entry.before, &entry.after), (&None, &None));
    let stored = serde_json::to_string(&entry.changes).unwrap();
    assert!(
        stored.len() < 1_000,
        "{} bytes stored for a change of a {config_bytes}-byte config: {stored}",
        stored.len()
    );
    assert_eq!(
        serde_json::to_value(&entry.changes).unwrap(),
        json!([
            {
                "path": "destinations[id=dest-00017].enabled",
                "before": before.destinations[17].enabled,
                "after": spec.destinations[17].enabled,
            },
            {"path": "destinations[id=added]", "after": serde_json::to_value(&added).unwrap()},
        ])
    );
    // The creation keeps the state it created (bounded by the config quota).
    let created = &store.audit_list(Some(&cust()), 2).await.unwrap()[1];
    assert_eq!(created.after, Some(serde_json::to_value(&before).unwrap()));
    assert!(created.changes.is_empty());
}

/// Paging with `before` returns every entry exactly once, newest first, per customer too.
pub async fn audit_pages_with_a_cursor(store: &dyn Store) {
    let other = CustomerId::new("cust_other").unwrap();
    for i in 0..23 {
        let customer = if i % 3 == 0 { &other } else { &cust() };
        let resource = format!("r/{i}");
        store
            .audit_append(
                NewAudit {
                    actor: "a",
                    action: "test.step",
                    resource: &resource,
                    customer: Some(customer),
                    before: None,
                    after: None,
                },
                t(i),
            )
            .await
            .unwrap();
    }
    for (customer, expected) in [(None, 23), (Some(&other), 8), (Some(&cust()), 15)] {
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = store.audit_page(customer, before, 4).await.unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 4);
            before = page.last().map(|e| e.id);
            seen.extend(page.into_iter().map(|e| e.id));
        }
        assert_eq!(seen.len(), expected, "{customer:?}");
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "an entry was seen twice");
        assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");
        let all = store.audit_list(customer, 100).await.unwrap();
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), seen);
    }
}

/// Reads keep parsed destinations by revision: every change, a refused one, a deletion and a
/// customer created again under the same id and at the same time are still read as stored.
pub async fn reads_follow_every_change_of_the_destinations(store: &dyn Store) {
    let spec = example_spec();
    create(store, &spec).await;
    for _ in 0..2 {
        assert_eq!(
            store.customer_get(&cust()).await.unwrap().unwrap().spec,
            spec
        );
        assert_eq!(
            store.destination_list(&cust()).await.unwrap(),
            spec.destinations
        );
    }
    let next = edited(&spec);
    store
        .config_put(change(&next, None, Some(1), 10))
        .await
        .unwrap();
    assert_eq!(
        store.customer_get(&cust()).await.unwrap().unwrap().spec,
        next
    );
    assert_eq!(
        store.destination_list(&cust()).await.unwrap(),
        next.destinations
    );
    // The change's audit entry has the destinations it replaced, as they were.
    let entry = &store.audit_list(Some(&cust()), 1).await.unwrap()[0];
    let changes = format!("{:?}", entry.changes);
    assert!(
        changes.contains("meta-staging") && changes.contains("Customer ABC (renamed)"),
        "{changes}"
    );

    let refused = store
        .config_put(change(&spec, None, Some(1), 11))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StoreError::Conflict { .. }),
        "{refused:?}"
    );
    assert_eq!(
        store.customer_get(&cust()).await.unwrap().unwrap().spec,
        next
    );

    assert_eq!(store.customer_revision(&cust()).await.unwrap(), Some(2));
    store
        .customer_delete("alice", &cust(), 2, t(12))
        .await
        .unwrap();
    assert!(store.customer_get(&cust()).await.unwrap().is_none());
    assert_eq!(store.customer_revision(&cust()).await.unwrap(), None);
    let mut again = spec.clone();
    again.destinations.truncate(1);
    // Created at the first one's time, so only its deletion tells the two apart.
    create(store, &again).await;
    let got = store.customer_get(&cust()).await.unwrap().unwrap();
    assert_eq!((got.revision, got.spec), (1, again.clone()));
    assert_eq!(
        store.destination_list(&cust()).await.unwrap(),
        again.destinations
    );
}

fn names(records: &[c15t_store::WorkerNameRecord]) -> Vec<(String, String, bool)> {
    records
        .iter()
        .map(|r| (r.environment.to_string(), r.name.clone(), r.live))
        .collect()
}

fn spec_with(id: &str, environments: &[&str]) -> CustomerSpec {
    let mut spec = example_spec();
    spec.id = id.to_owned();
    spec.environments = Some(environments.iter().map(|e| (*e).to_owned()).collect());
    spec.destinations.clear();
    spec
}

pub async fn worker_names_are_claimed_once_and_recorded_live(store: &dyn Store) {
    let spec = example_spec();
    create(store, &spec).await;
    let row = |e: &str, n: &str, live: bool| (e.to_owned(), n.to_owned(), live);
    assert_eq!(
        names(&store.worker_names(&cust()).await.unwrap()),
        [
            row("production", "c15t-cust-abc123", false),
            row("staging", "c15t-cust-abc123-staging", false)
        ]
    );

    // `cust-abc123` would share `cust_abc123`'s worker: refused, nothing stored.
    let twin = spec_with("cust-abc123", &["production"]);
    let err = store
        .config_put(change(&twin, None, None, 1))
        .await
        .unwrap_err();
    match &err {
        StoreError::WorkerNameTaken {
            name,
            holder_customer,
            holder_environment,
            ..
        } => {
            assert_eq!(name, "c15t-cust-abc123");
            assert_eq!(holder_customer, "cust_abc123");
            assert_eq!(holder_environment, "production");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("choose another customer id"),
        "{err}"
    );
    let twin_id = CustomerId::new("cust-abc123").unwrap();
    assert!(store.customer_get(&twin_id).await.unwrap().is_none());
    assert!(store.worker_names(&twin_id).await.unwrap().is_empty());

    // Customer `acme` environment `eu` and customer `acme-eu` production are one name too.
    let acme = spec_with("acme", &["production", "eu"]);
    store
        .config_put(change(&acme, None, None, 2))
        .await
        .unwrap();
    let acme_eu = spec_with("acme-eu", &["production"]);
    assert!(matches!(
        store.config_put(change(&acme_eu, None, None, 3)).await,
        Err(StoreError::WorkerNameTaken { .. })
    ));
    // Once `acme` drops `eu`, the name is free.
    let acme_id = CustomerId::new("acme").unwrap();
    let without_eu = spec_with("acme", &["production"]);
    store
        .config_put(change(&without_eu, None, Some(1), 4))
        .await
        .unwrap();
    assert_eq!(
        names(&store.worker_names(&acme_id).await.unwrap()),
        [row("production", "c15t-acme", false)]
    );
    store
        .config_put(change(&acme_eu, None, None, 5))
        .await
        .unwrap();

    // A worker deployed under the first rule's name, then renamed.
    let production = Environment::production();
    store
        .worker_name_live(&cust(), &production, "c15t-cust_abc123", t(6))
        .await
        .unwrap();
    assert_eq!(
        names(&store.worker_names(&cust()).await.unwrap()),
        [
            row("production", "c15t-cust-abc123", false),
            row("production", "c15t-cust_abc123", true),
            row("staging", "c15t-cust-abc123-staging", false)
        ]
    );
    // Saving again keeps the live name (its worker exists) and the reservation.
    store
        .config_put(change(&spec, None, Some(1), 7))
        .await
        .unwrap();
    assert_eq!(store.worker_names(&cust()).await.unwrap().len(), 3);
    store
        .worker_name_live(&cust(), &production, "c15t-cust-abc123", t(8))
        .await
        .unwrap();
    assert_eq!(
        names(&store.worker_names(&cust()).await.unwrap()),
        [
            row("production", "c15t-cust-abc123", true),
            row("staging", "c15t-cust-abc123-staging", false)
        ]
    );
    // Another environment's name is not this one's to take.
    assert!(matches!(
        store
            .worker_name_claim(&acme_id, &production, "c15t-cust-abc123", t(9))
            .await,
        Err(StoreError::WorkerNameTaken { .. })
    ));
    assert!(matches!(
        store
            .worker_name_live(&acme_id, &production, "c15t-acme-eu", t(9))
            .await,
        Err(StoreError::WorkerNameTaken { .. })
    ));
    // Claiming what one holds changes nothing.
    store
        .worker_name_claim(&cust(), &production, "c15t-cust-abc123", t(10))
        .await
        .unwrap();
    assert_eq!(store.worker_names(&cust()).await.unwrap().len(), 2);

    // Deleting the customer frees its names.
    store
        .customer_delete("alice", &cust(), 2, t(11))
        .await
        .unwrap();
    assert!(store.worker_names(&cust()).await.unwrap().is_empty());
    store
        .config_put(change(&twin, None, None, 12))
        .await
        .unwrap();
}

pub async fn routes_are_recorded_per_environment(store: &dyn Store) {
    use c15t_store::{DomainRecord, DomainState, RouteRecord};
    let spec = example_spec();
    create(store, &spec).await;
    assert!(store.routes(&cust()).await.unwrap().is_empty());
    let env = |s: &str| s.parse::<Environment>().unwrap();
    let mut production = RouteRecord {
        customer: cust(),
        environment: env("production"),
        worker: "c15t-cust-abc123".to_owned(),
        workers_dev: false,
        domain: Some(DomainRecord {
            hostname: "consent.example.com".to_owned(),
            id: Some("dbe10b4bc17c295377eabd600e1787fd".to_owned()),
            zone_id: Some("023e105f4ecef8ad9ca31a8372d0c353".to_owned()),
            zone_name: Some("example.com".to_owned()),
            state: DomainState::Pending,
            message: Some("answered 525".to_owned()),
        }),
        updated_at: t(1),
    };
    let staging = RouteRecord {
        environment: env("staging"),
        worker: "c15t-cust-abc123-staging".to_owned(),
        workers_dev: true,
        domain: None,
        ..production.clone()
    };
    store.route_put(&staging).await.unwrap();
    store.route_put(&production).await.unwrap();
    assert_eq!(
        store.routes(&cust()).await.unwrap(),
        [production.clone(), staging.clone()]
    );

    // Replaced whole: the domain turns active, its message goes.
    production.domain = production.domain.map(|d| DomainRecord {
        state: DomainState::Active,
        message: None,
        ..d
    });
    production.updated_at = t(2);
    store.route_put(&production).await.unwrap();
    assert_eq!(
        store.routes(&cust()).await.unwrap(),
        [production.clone(), staging]
    );

    // They go with their customer.
    store
        .customer_delete("alice", &cust(), 1, t(3))
        .await
        .unwrap();
    assert!(store.routes(&cust()).await.unwrap().is_empty());
}

//! The fleet bench's preparation (`benches/fleet/prepare.rs`), checked for what it prepares.

use std::collections::BTreeMap;
use std::sync::Arc;

use c15t_codegen::TargetProfile;
use c15t_model::{CustomerSpec, DatabaseSpec, DestinationSpec, Environment, RawValue};
use c15t_secrets::{Keyring, Secret, Vault};
use c15t_store::{ConfigChange, SeaStore};

use c15t_control::{Control, ControlError, KeySource, SystemClock, vault_key_database};
use c15t_model::Catalogue;
use c15t_store::Store;

#[path = "../../benches/fleet/prepare.rs"]
#[allow(dead_code, reason = "the bench's module; the test uses part of it")]
mod prepare;

fn spec(id: &str, environments: &[&str]) -> CustomerSpec {
    CustomerSpec {
        events_debug_secret: None,
        id: id.to_owned(),
        name: id.to_owned(),
        environments: Some(environments.iter().map(|e| (*e).to_owned()).collect()),
        trusted_origins: vec!["https://example.com".to_owned()],
        log_level: None,
        database: DatabaseSpec {
            provider: "turso".to_owned(),
            url: format!("libsql://{id}.turso.io"),
            auth_token: RawValue::Text(String::new()),
        },
        destinations: Vec::new(),
    }
}

fn meta(id: &str) -> DestinationSpec {
    DestinationSpec {
        id: id.to_owned(),
        name: id.to_owned(),
        kind: "meta-pixel".to_owned(),
        enabled: true,
        environment: None,
        category: None,
        settings: [("pixelId".to_owned(), RawValue::Text("123456".to_owned()))].into(),
    }
}

async fn control() -> (Control, Arc<dyn Store>, Arc<Keyring>) {
    let store: Arc<dyn Store> = Arc::new(SeaStore::connect("sqlite::memory:").await.unwrap());
    let keyring = Arc::new(Keyring::generate());
    let keys = KeySource {
        path: "unused".into(),
        keyring: Some(Arc::clone(&keyring)),
    };
    let control = Control::new(Arc::clone(&store), keys, Arc::new(SystemClock));
    (control, store, keyring)
}

#[tokio::test]
async fn prepares_every_worker_with_its_secret_values() {
    let (control, store, keyring) = control().await;
    for id in ["beta", "alpha"] {
        control
            .customer_add(
                "t",
                spec(id, &["production"]),
                Secret::from(format!("db-{id}")),
            )
            .await
            .unwrap();
        for d in ["eu", "us"] {
            let secrets =
                BTreeMap::from([("accessToken".to_owned(), Secret::from(format!("{id}-{d}")))]);
            let customer = id.parse().unwrap();
            control
                .destination_add("t", &customer, meta(d), secrets, None)
                .await
                .unwrap();
        }
    }
    control
        .customer_add("t", spec("gamma", &["staging"]), Secret::from("db-gamma"))
        .await
        .unwrap();
    // A customer whose vault lost the token its config refers to.
    let mut broken = spec("delta", &["production"]);
    broken.database.auth_token = RawValue::Secret(c15t_model::SecretRef::Stored(
        "hmac-sha256:00000000000000000000000000000000".to_owned(),
    ));
    let empty = keyring.seal(&Vault::new()).unwrap();
    store
        .config_put(ConfigChange {
            actor: "t",
            action: "customer.create",
            resource: "customer/delta",
            spec: &broken,
            vault: Some(c15t_store::VaultSwap {
                old: None,
                new: &empty,
            }),
            expected_revision: None,
            jobs: &[],
            now: chrono::Utc::now(),
        })
        .await
        .unwrap();

    let plan = prepare::fleet_prepare(
        store.as_ref(),
        Arc::clone(&keyring),
        Catalogue::builtin(),
        &Environment::production(),
        &TargetProfile::default(),
    )
    .await
    .unwrap();

    let ids: Vec<&str> = plan.workers.iter().map(|w| w.customer.as_str()).collect();
    assert_eq!(ids, ["alpha", "beta"]);
    let alpha = &plan.workers[0];
    assert_eq!(alpha.worker_name, "c15t-alpha");
    assert_eq!(alpha.revision, 3);
    let generated = control
        .generate(
            &alpha.customer,
            &Environment::production(),
            &TargetProfile::default(),
        )
        .await
        .unwrap();
    assert_eq!(alpha.content_hash, generated.content_hash);
    let secrets: Vec<(&str, &str)> = alpha
        .secrets
        .iter()
        .map(|(name, value)| (name.as_str(), value.expose()))
        .collect();
    assert_eq!(
        secrets,
        [
            ("TURSO_AUTH_TOKEN", "db-alpha"),
            ("META_PIXEL_ACCESS_TOKEN_EU", "alpha-eu"),
            ("META_PIXEL_ACCESS_TOKEN_US", "alpha-us"),
        ]
    );
    let skipped: Vec<&str> = plan.skipped.iter().map(|c| c.as_str()).collect();
    assert_eq!(skipped, ["gamma"]);
    assert_eq!(plan.failures.len(), 1);
    let failure = &plan.failures[0];
    assert_eq!(failure.customer, "delta");
    assert!(matches!(failure.error, ControlError::NotFound { .. }));
    let message = failure.error.to_string();
    assert!(message.contains("`TURSO_AUTH_TOKEN`"), "{message}");
    assert!(message.contains("customer `delta`"), "{message}");
    assert!(message.contains(&vault_key_database()), "{message}");
}

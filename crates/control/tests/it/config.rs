//! Destination use cases on the store: removal drops the destination's secrets from the vault,
//! and invalid input is refused with every problem's field path and writes nothing.

use c15t_store::Store as _;
use std::collections::BTreeMap;

use c15t_control::{
    ControlError, DestinationPatch, Secret, vault_key_database, vault_key_destination,
};
use c15t_model::{DestinationSpec, RawValue};

use crate::harness::{TestEnv, example, id, resolver, secrets};

#[tokio::test]
async fn destination_remove_drops_its_vault_entries() {
    let env = TestEnv::sqlite();
    let control = env.control().await;
    let cust = id("cust_abc123");
    let values = secrets("rm");
    control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();
    let meta_key = vault_key_destination("meta-prod", "accessToken");
    assert!(env.vault(&cust).await.contains_key(&meta_key));

    let revision = control
        .destination_remove("ops", &cust, "meta-prod", Some(1))
        .await
        .unwrap();
    assert_eq!(revision, 2);
    let vault = env.vault(&cust).await;
    let keys: Vec<&str> = vault.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            vault_key_database().as_str(),
            vault_key_destination("ga4-prod", "apiSecret").as_str()
        ],
        "the removed destination's secret is still in the vault"
    );
    let ids: Vec<String> = control
        .destination_list(&cust)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["ga4-prod", "posthog"]);

    // Unsetting a secret setting drops its entry too.
    let unset = DestinationPatch {
        unset: vec!["apiSecret".to_owned()],
        ..DestinationPatch::default()
    };
    let revision = control
        .destination_edit("ops", &cust, "ga4-prod", unset, None)
        .await
        .unwrap();
    assert_eq!(revision, 3);
    let vault = env.vault(&cust).await;
    let keys: Vec<&str> = vault.keys().map(String::as_str).collect();
    assert_eq!(keys, [vault_key_database().as_str()]);
    assert_eq!(vault[&vault_key_database()], values["TURSO_AUTH_TOKEN"]);
}

#[tokio::test]
async fn invalid_destination_is_refused_with_paths_and_nothing_written() {
    let env = TestEnv::sqlite();
    let control = env.control().await;
    let cust = id("cust_abc123");
    let values = secrets("invalid");
    control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();
    let before = env
        .store()
        .await
        .customer_get(&cust)
        .await
        .unwrap()
        .unwrap();
    let audit_before = control.audit(None, 100).await.unwrap();

    let mut settings = BTreeMap::new();
    settings.insert("pixelId".to_owned(), RawValue::Text("12ab".to_owned()));
    let destination = DestinationSpec {
        id: "meta-bad".to_owned(),
        name: "Bad pixel".to_owned(),
        kind: "meta-pixel".to_owned(),
        enabled: true,
        environment: Some("qa".to_owned()),
        category: None,
        settings,
    };
    let mut secret_values = BTreeMap::new();
    secret_values.insert(
        "accessToken".to_owned(),
        Secret::new("never-stored-token".to_owned()),
    );
    let err = control
        .destination_add("ops", &cust, destination, secret_values, Some(1))
        .await
        .unwrap_err();
    let ControlError::Invalid(errors) = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    let paths: Vec<&str> = errors.problems().iter().map(|p| p.path.as_str()).collect();
    assert!(
        paths.contains(&"destinations[3].settings.pixelId"),
        "{paths:?}"
    );
    assert!(paths.contains(&"destinations[3].environment"), "{paths:?}");
    assert!(!err.to_string().contains("never-stored-token"), "{err}");

    let after = env
        .store()
        .await
        .customer_get(&cust)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, before, "a refused change was written");
    assert_eq!(control.audit(None, 100).await.unwrap(), audit_before);
}

#[tokio::test]
async fn missing_customer_and_destination_are_not_found() {
    let env = TestEnv::sqlite();
    let control = env.control().await;
    let err = control.customer_show(&id("cust_nobody")).await.unwrap_err();
    assert!(matches!(err, ControlError::NotFound { .. }), "{err:?}");
    let values = secrets("nf");
    control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();
    let err = control
        .destination_edit(
            "ops",
            &id("cust_abc123"),
            "nope",
            DestinationPatch::default(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "destination `nope` of customer `cust_abc123` does not exist"
    );
}

#[tokio::test]
async fn edits_that_touch_no_secret_never_decrypt_the_vault() {
    let env = TestEnv::sqlite();
    let control = env.control().await;
    let cust = id("cust_abc123");
    let values = secrets("lazy");
    control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();

    // Without the key file nothing can be decrypted; these edits must still go through.
    let keyless = c15t_control::Control::new(
        std::sync::Arc::new(env.store().await),
        c15t_control::KeySource {
            path: env.key_path(),
            keyring: None,
        },
        std::sync::Arc::new(crate::harness::FixedClock),
    );
    let patch = DestinationPatch {
        name: Some("Renamed".into()),
        enabled: Some(false),
        set: BTreeMap::from([("pixelId".to_owned(), RawValue::Text("9876543210".into()))]),
        ..DestinationPatch::default()
    };
    assert_eq!(
        keyless
            .destination_edit("ops", &cust, "meta-prod", patch, None)
            .await
            .unwrap(),
        2
    );
    // Removing a destination without secrets needs no key either; one with secrets does.
    assert_eq!(
        keyless
            .destination_remove("ops", &cust, "posthog", None)
            .await
            .unwrap(),
        3
    );
    assert!(
        keyless
            .destination_remove("ops", &cust, "ga4-prod", None)
            .await
            .is_err()
    );
    // The vault is untouched: every secret still opens with the real key.
    assert_eq!(env.vault(&cust).await.len(), 3);
}

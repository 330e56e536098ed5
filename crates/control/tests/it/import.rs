//! Import of the declarative file: idempotent, and a changed secret value is noticed through its
//! fingerprint without the value ever being stored in the config.

use c15t_control::{ImportOutcome, vault_key_database, vault_key_destination};
use c15t_model::{RawValue, SecretRef};
use c15t_store::Store as _;

use crate::harness::{TestEnv, example, id, resolver, secrets};

fn stored_ref(raw: &RawValue) -> &str {
    match raw {
        RawValue::Secret(SecretRef::Stored(fp)) => fp,
        other => panic!("expected a stored secret reference, got {other:?}"),
    }
}

#[tokio::test]
async fn import_twice_is_unchanged_and_writes_no_audit_entry() {
    let env = TestEnv::sqlite();
    let control = env.control().await;
    let cust = id("cust_abc123");
    let values = secrets("idem");

    let first = control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();
    assert_eq!(first, ImportOutcome::Created { revision: 1 });
    let audit = control.audit(None, 100).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "customer.import");
    let stored = env
        .store()
        .await
        .customer_get(&cust)
        .await
        .unwrap()
        .unwrap();

    let second = control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();
    assert_eq!(second, ImportOutcome::Unchanged { revision: 1 });
    assert_eq!(control.audit(None, 100).await.unwrap(), audit);
    let again = env
        .store()
        .await
        .customer_get(&cust)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, stored, "an unchanged import rewrote the customer");

    // Every value went to the vault, under its documented key.
    let vault = env.vault(&cust).await;
    assert_eq!(vault[&vault_key_database()], values["TURSO_AUTH_TOKEN"]);
    assert_eq!(
        vault[&vault_key_destination("meta-prod", "accessToken")],
        values["META_PIXEL_ACCESS_TOKEN"]
    );
    assert_eq!(
        vault[&vault_key_destination("ga4-prod", "apiSecret")],
        values["GA4_API_SECRET"]
    );
    assert_eq!(vault.len(), 3);
}

#[tokio::test]
async fn changed_secret_value_updates_and_changes_its_fingerprint_only() {
    let env = TestEnv::sqlite();
    let control = env.control().await;
    let cust = id("cust_abc123");
    let mut values = secrets("v1");
    control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();
    let before = control.customer_show(&cust).await.unwrap().spec;

    values.insert(
        "META_PIXEL_ACCESS_TOKEN".to_owned(),
        "a-rotated-meta-token".to_owned(),
    );
    let outcome = control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();
    assert_eq!(outcome, ImportOutcome::Updated { revision: 2 });
    let after = control.customer_show(&cust).await.unwrap().spec;

    let fp = |spec: &c15t_model::CustomerSpec, d: usize, key: &str| {
        stored_ref(&spec.destinations[d].settings[key]).to_owned()
    };
    assert_ne!(
        fp(&before, 0, "accessToken"),
        fp(&after, 0, "accessToken"),
        "the fingerprint must show that the value changed"
    );
    assert_eq!(fp(&before, 1, "apiSecret"), fp(&after, 1, "apiSecret"));
    assert_eq!(
        stored_ref(&before.database.auth_token),
        stored_ref(&after.database.auth_token)
    );
    let vault = env.vault(&cust).await;
    assert_eq!(
        vault[&vault_key_destination("meta-prod", "accessToken")],
        "a-rotated-meta-token"
    );
    let audit = control.audit(Some(&cust), 100).await.unwrap();
    assert_eq!(audit.len(), 2);
    let text = serde_json::to_string(&audit[0].after).unwrap();
    assert!(!text.contains("a-rotated-meta-token"), "{text}");
}

#[tokio::test]
async fn import_with_an_unset_variable_names_it_and_writes_nothing() {
    let env = TestEnv::sqlite();
    let control = env.control().await;
    let mut values = secrets("missing");
    values.remove("GA4_API_SECRET");
    let err = control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "destinations[1].settings.apiSecret: environment variable `GA4_API_SECRET` is not set; \
         export it or change the reference"
    );
    assert!(control.customer_list().await.unwrap().is_empty());
    assert!(control.audit(None, 10).await.unwrap().is_empty());
}

//! Key rotation: an interrupted rotation (new key saved, only some vaults re-sealed) resumes,
//! and afterwards every vault opens with the final key file alone, with every value intact.

use c15t_store::Store as _;
use std::collections::BTreeMap;

use c15t_control::{ImportOutcome, KeySource};
use c15t_secrets::Keyring;
use chrono::Utc;

use crate::harness::{TestEnv, example, id, plain, resolver, secrets};

#[tokio::test]
async fn interrupted_rotation_resumes_and_loses_nothing() {
    let env = TestEnv::sqlite();
    let control = env.control().await;
    let customers = [id("cust_abc123"), id("cust_def456"), id("cust_ghi789")];
    let mut values = BTreeMap::new();
    for cust in &customers {
        let mut spec = example();
        spec.id = cust.to_string();
        let v = secrets(cust.as_str());
        control.import("ops", spec, &resolver(&v)).await.unwrap();
        values.insert(cust.clone(), v);
    }
    let mut before = BTreeMap::new();
    for cust in &customers {
        before.insert(cust.clone(), env.vault(cust).await);
    }
    let old = env.keyring();

    // An earlier `keys rotate` got as far as saving the new key and re-sealing one vault.
    let mut rotating = Keyring::load(&env.key_path()).unwrap();
    rotating.begin_rotation();
    rotating.save(&env.key_path()).unwrap();
    let store = &env.store().await;
    let first = store.customer_get(&customers[0]).await.unwrap().unwrap();
    let ciphertext = first.vault.unwrap();
    let resealed = rotating.seal(&rotating.open(&ciphertext).unwrap()).unwrap();
    assert!(
        store
            .vault_reseal("ops", &customers[0], &ciphertext, &resealed, Utc::now())
            .await
            .unwrap()
    );

    // Meanwhile every vault still opens with the key file as it is.
    for cust in &customers {
        assert_eq!(env.vault(cust).await, before[cust]);
    }

    let report = env.control().await.keys_rotate("ops").await.unwrap();
    assert!(report.resumed);
    assert_eq!(report.resealed, 2);
    assert_eq!(report.already_current, 1);
    assert_eq!(report.recipient, rotating.primary_recipient());

    let last = env.keyring();
    assert!(!last.is_rotating(), "the old key is still in the key file");
    assert_eq!(last.recipients(), [rotating.primary_recipient()]);
    for cust in &customers {
        let stored = store.customer_get(cust).await.unwrap().unwrap();
        let ciphertext = stored.vault.unwrap();
        assert!(last.sealed_to_primary(&ciphertext).unwrap());
        assert_eq!(plain(&last.open(&ciphertext).unwrap()), before[cust]);
        assert!(
            old.open(&ciphertext).is_err(),
            "{cust} is still sealed to the old key"
        );
        assert_eq!(stored.revision, 1, "rotation is not a config change");
    }

    // Fingerprints survive rotation: importing the same values again changes nothing, and a
    // control plane with the rotated key file keeps working.
    let after = control_with_new_keys(&env).await;
    for cust in &customers {
        let mut spec = example();
        spec.id = cust.to_string();
        let outcome = after
            .import("ops", spec, &resolver(&values[cust]))
            .await
            .unwrap();
        assert_eq!(outcome, ImportOutcome::Unchanged { revision: 1 });
    }

    // A second rotation right away is a fresh one, not a resume.
    let report = after.keys_rotate("ops").await.unwrap();
    assert!(!report.resumed);
    assert_eq!((report.resealed, report.already_current), (3, 0));
    let final_keys = env.keyring();
    for cust in &customers {
        let ciphertext = store.customer_get(cust).await.unwrap().unwrap().vault;
        assert_eq!(
            plain(&final_keys.open(&ciphertext.unwrap()).unwrap()),
            before[cust]
        );
    }
}

async fn control_with_new_keys(env: &TestEnv) -> c15t_control::Control {
    let keys = KeySource::load(env.key_path()).unwrap();
    assert!(keys.keyring.as_ref().is_some_and(|k| !k.is_rotating()));
    env.control().await
}

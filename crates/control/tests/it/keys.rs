//! The key file against the database: created only when no vault is stored (atomically, one
//! key for processes racing to create it), refused with the recovery commands when it is
//! missing or does not open the stored vaults, and the readiness check of a running process.

use std::sync::Arc;

use c15t_control::{Control, ControlError, KeySource, SystemClock, keys_init_for};
use c15t_secrets::Keyring;

use crate::harness::{TestEnv, example, resolver, secrets};

/// `env` with the customers `ids` imported (each has a vault).
async fn with_customers(env: &TestEnv, ids: &[&str]) {
    let control = env.control().await;
    for customer in ids {
        let mut spec = example();
        spec.id = (*customer).to_owned();
        control
            .import("ops", spec, &resolver(&secrets(customer)))
            .await
            .unwrap();
    }
}

fn mismatch(result: Result<impl std::fmt::Debug, ControlError>) -> String {
    match result {
        Err(ControlError::KeyFileMismatch(message)) => message,
        other => panic!("expected a key file mismatch, got {other:?}"),
    }
}

/// The recovery the refusal names: commands that exist in `c15tctl`.
fn names_the_recovery(message: &str) {
    for part in [
        "restore the key file",
        "C15T_KEY_FILE",
        "`c15tctl customer remove <id>`",
        "`c15tctl import --config <file>`",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

#[tokio::test]
async fn a_missing_key_file_with_vaults_stored_is_refused_and_none_is_created() {
    let env = TestEnv::sqlite();
    with_customers(&env, &["cust_abc123", "cust_def456"]).await;
    std::fs::remove_file(env.key_path()).unwrap();
    let store = env.store().await;

    let message = mismatch(KeySource::open(env.key_path(), &store).await);
    assert!(message.contains("does not exist"), "{message}");
    assert!(
        message.contains("does not open the 2 vaults in this database"),
        "{message}"
    );
    assert!(
        message.contains("`cust_abc123`, `cust_def456`"),
        "{message}"
    );
    names_the_recovery(&message);
    assert!(!env.key_path().exists(), "a key file was created");

    // `c15tctl keys init` refuses the same way.
    let message = mismatch(keys_init_for(&env.key_path(), &store).await);
    assert!(message.contains("does not open the 2 vaults"), "{message}");
    assert!(!env.key_path().exists(), "keys init created a key file");
}

#[tokio::test]
async fn a_wrong_key_file_is_refused_and_rotate_leaves_it_alone() {
    let env = TestEnv::sqlite();
    with_customers(&env, &["cust_abc123"]).await;
    std::fs::remove_file(env.key_path()).unwrap();
    Keyring::create(&env.key_path()).unwrap();
    let wrong = std::fs::read(env.key_path()).unwrap();
    let store = env.store().await;

    let message = mismatch(KeySource::open(env.key_path(), &store).await);
    assert!(
        message.contains(&format!(
            "the key file {} does not open the 1 vault in this database",
            env.key_path().display()
        )),
        "{message}"
    );
    assert!(message.contains("`cust_abc123`"), "{message}");
    names_the_recovery(&message);

    // Rotating the wrong file would only add a key to it: refused before any change.
    let control = Control::new(
        Arc::new(env.store().await),
        KeySource::load(env.key_path()).unwrap(),
        Arc::new(SystemClock),
    );
    let message = mismatch(control.keys_rotate("ops").await);
    assert!(message.contains("does not open the 1 vault"), "{message}");
    assert_eq!(std::fs::read(env.key_path()).unwrap(), wrong);
    assert!(!env.keyring().is_rotating());
}

#[tokio::test]
async fn a_key_file_opening_only_some_vaults_names_the_others() {
    // What a silently replaced key left behind: older customers sealed to the lost key, newer
    // ones to the replacement, which is the file now.
    let env = TestEnv::sqlite();
    with_customers(&env, &["cust_old1", "cust_old2"]).await;
    std::fs::remove_file(env.key_path()).unwrap();
    Keyring::create(&env.key_path()).unwrap();
    with_customers(&env, &["cust_new1"]).await;
    let store = env.store().await;
    let message = mismatch(KeySource::open(env.key_path(), &store).await);
    assert!(
        message.contains("does not open 2 of the 3 vaults in this database"),
        "{message}"
    );
    assert!(
        message.contains("(customers `cust_old1`, `cust_old2`)"),
        "{message}"
    );
    assert!(!message.contains("cust_new1"), "{message}");
}

#[tokio::test]
async fn the_right_key_file_opens_and_a_fresh_database_gets_one_new_key() {
    let env = TestEnv::sqlite();
    let store = env.store().await;
    // An existing key file with an empty database is kept, not replaced.
    let existing = env.keyring().primary_recipient();
    let (keys, opened) = KeySource::open(env.key_path(), &store).await.unwrap();
    assert!(!opened.created);
    assert_eq!(opened.recipient, existing);
    assert!(keys.keyring.is_some());
    with_customers(&env, &["cust_abc123"]).await;
    let (_, opened) = KeySource::open(env.key_path(), &store).await.unwrap();
    assert_eq!((opened.created, opened.vaults), (false, 1));

    // A fresh install: no key file, no vault. Processes opening it at the same moment all get
    // the one key that one of them created.
    let fresh = TestEnv::sqlite();
    std::fs::remove_file(fresh.key_path()).unwrap();
    let store = Arc::new(fresh.store().await);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let store = Arc::clone(&store);
            let path = fresh.key_path();
            tokio::spawn(async move { KeySource::open(path, store.as_ref()).await })
        })
        .collect();
    let mut opened = Vec::new();
    for task in tasks {
        opened.push(task.await.unwrap().unwrap().1);
    }
    assert_eq!(opened.iter().filter(|o| o.created).count(), 1, "{opened:?}");
    let on_disk = fresh.keyring().primary_recipient();
    assert!(opened.iter().all(|o| o.recipient == on_disk), "{opened:?}");
}

#[tokio::test]
async fn keys_ready_fails_once_the_latest_vault_no_longer_opens() {
    let env = TestEnv::sqlite();
    let serving = env.control().await;
    assert!(serving.keys_ready().await.is_ok(), "no vault yet");
    with_customers(&env, &["cust_abc123"]).await;
    serving.keys_ready().await.unwrap();

    // `c15tctl keys rotate` elsewhere: the vault is re-sealed to a key `serving` never loaded.
    env.control().await.keys_rotate("ops").await.unwrap();
    let message = mismatch(serving.keys_ready().await);
    assert!(message.contains("`cust_abc123`"), "{message}");
    assert!(
        message.contains("restart after `c15tctl keys rotate`"),
        "{message}"
    );
    env.control().await.keys_ready().await.unwrap();
}

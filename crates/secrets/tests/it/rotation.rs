//! Key rotation as `c15tctl keys rotate` runs it, including an interruption midway.

use std::path::Path;

use c15t_secrets::{Keyring, Secret, SecretsError};

use crate::sample_vault;

#[test]
fn rotation_keeps_every_vault_readable_and_fingerprints_stable() {
    let mut keyring = Keyring::generate();
    let vault = sample_vault();
    let old_sealed = keyring.seal(&vault).unwrap();
    let old_recipient = keyring.primary_recipient();
    let fingerprints_before: Vec<_> = vault.iter().map(|(_, v)| keyring.fingerprint(v)).collect();

    keyring.begin_rotation();
    assert!(keyring.is_rotating());
    assert_ne!(keyring.primary_recipient(), old_recipient);
    assert_eq!(
        keyring.recipients(),
        [old_recipient.clone(), keyring.primary_recipient()]
    );
    assert_eq!(keyring.open(&old_sealed).unwrap(), vault);
    assert!(!keyring.sealed_to_primary(&old_sealed).unwrap());

    let new_sealed = keyring.seal(&keyring.open(&old_sealed).unwrap()).unwrap();
    assert!(keyring.sealed_to_primary(&new_sealed).unwrap());

    keyring.finish_rotation();
    assert!(!keyring.is_rotating());
    assert_eq!(keyring.recipients().len(), 1);
    let err = keyring.open(&old_sealed).unwrap_err();
    assert!(matches!(err, SecretsError::NoMatchingKey), "{err:?}");
    assert_eq!(keyring.open(&new_sealed).unwrap(), vault);

    let fingerprints_after: Vec<_> = vault.iter().map(|(_, v)| keyring.fingerprint(v)).collect();
    assert_eq!(fingerprints_before, fingerprints_after);
}

/// The protocol from the crate documentation, against a key file on disk.
fn rotate(path: &Path, vaults: &mut [String], stop_after: Option<usize>) {
    let mut keyring = Keyring::load(path).unwrap();
    if !keyring.is_rotating() {
        keyring.begin_rotation();
        keyring.save(path).unwrap();
    }
    for (done, sealed) in vaults.iter_mut().enumerate() {
        if stop_after == Some(done) {
            return; // The process dies here.
        }
        if !keyring.sealed_to_primary(sealed).unwrap() {
            *sealed = keyring.seal(&keyring.open(sealed).unwrap()).unwrap();
        }
    }
    keyring.finish_rotation();
    keyring.save(path).unwrap();
}

#[test]
fn interrupted_rotation_loses_nothing_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    let original = Keyring::create(&path).unwrap();
    let plain: Vec<_> = (0..6)
        .map(|i| {
            let mut vault = sample_vault();
            vault.insert("customer", Secret::new(format!("customer-{i}")));
            vault
        })
        .collect();
    let mut vaults: Vec<String> = plain.iter().map(|v| original.seal(v).unwrap()).collect();

    rotate(&path, &mut vaults, Some(3));

    // After the crash: the file holds both keys and every vault opens.
    let midway = Keyring::load(&path).unwrap();
    assert!(midway.is_rotating());
    assert_eq!(midway.recipients()[0], original.primary_recipient());
    for (sealed, vault) in vaults.iter().zip(&plain) {
        assert_eq!(&midway.open(sealed).unwrap(), vault);
    }
    let resealed: Vec<bool> = vaults
        .iter()
        .map(|s| midway.sealed_to_primary(s).unwrap())
        .collect();
    assert_eq!(resealed, [true, true, true, false, false, false]);

    // Resuming does not begin a second rotation: the key added before the crash stays primary.
    rotate(&path, &mut vaults, None);
    let done = Keyring::load(&path).unwrap();
    assert!(!done.is_rotating());
    assert_eq!(done.recipients(), [midway.primary_recipient()]);
    for (sealed, vault) in vaults.iter().zip(&plain) {
        assert_eq!(&done.open(sealed).unwrap(), vault);
        assert!(done.sealed_to_primary(sealed).unwrap());
    }
    let value = Secret::from("turso-secret-token");
    assert_eq!(done.fingerprint(&value), original.fingerprint(&value));
}

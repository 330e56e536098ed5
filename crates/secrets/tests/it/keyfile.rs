//! The key file on disk: permissions, no overwrite, atomic save, messages.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use c15t_secrets::{Keyring, SecretsError};

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn create_writes_an_owner_only_file_in_a_new_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("etc/c15t/keys.txt");
    let created = Keyring::create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let loaded = Keyring::load(&path).unwrap();
    assert_eq!(loaded.recipients(), created.recipients());
    assert!(!loaded.is_rotating());
}

#[test]
fn create_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    let first = Keyring::create(&path).unwrap();
    let before = fs::read(&path).unwrap();
    let err = Keyring::create(&path).unwrap_err();
    assert!(matches!(err, SecretsError::KeyFileExists { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("already exists"), "{message}");
    assert!(message.contains("refusing to overwrite"), "{message}");
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(
        Keyring::load(&path).unwrap().recipients(),
        first.recipients()
    );
}

#[test]
fn load_refuses_a_file_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    Keyring::create(&path).unwrap();
    for bad in [0o644, 0o640, 0o604, 0o660] {
        fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
        let err = Keyring::load(&path).unwrap_err();
        assert!(
            matches!(err, SecretsError::KeyFilePermissions { mode, .. } if mode == bad),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("chmod 600 {}", path.display())),
            "{message}"
        );
        assert!(message.contains(&format!("{bad:04o}")), "{message}");
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    Keyring::load(&path).unwrap();
}

#[test]
fn load_of_a_missing_file_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let err = Keyring::load(&dir.path().join("nope.txt")).unwrap_err();
    assert!(
        matches!(err, SecretsError::KeyFileMissing { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("c15tctl keys init"), "{err}");
}

#[test]
fn load_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    let keyring = Keyring::create(&path).unwrap();
    let text = keyring
        .to_file_text()
        .replace("AGE-SECRET-KEY-1", "AGE-SECRET-KEY-1X");
    keyring.save(&path).unwrap();
    fs::write(&path, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        + 1;
    let message = Keyring::load(&path).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!(
            "invalid key file {} line {line}: not a valid age X25519 identity",
            path.display()
        )),
        "{message}"
    );
    assert!(!message.contains("AGE-SECRET-KEY"), "{message}");
}

#[test]
fn save_replaces_the_file_atomically_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    let mut keyring = Keyring::create(&path).unwrap();
    keyring.begin_rotation();
    keyring.save(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        Keyring::load(&path).unwrap().recipients(),
        keyring.recipients()
    );
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["keys.txt"]);
}

#[test]
fn save_to_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let err = Keyring::generate()
        .save(&dir.path().join("missing/keys.txt"))
        .unwrap_err();
    assert!(matches!(err, SecretsError::KeyFileWrite { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("cannot write key file"),
        "{err}"
    );
}

#[test]
fn a_key_file_being_created_is_never_seen_half_written() {
    // A reader polling the path (another replica loading the key) sees no file or the whole
    // file, never an empty or partial one.
    let dir = tempfile::tempdir().unwrap();
    for round in 0..200 {
        let path = dir.path().join(format!("keys-{round}.txt"));
        let created = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                loop {
                    match Keyring::load(&path) {
                        Ok(keyring) => return keyring.recipients(),
                        Err(SecretsError::KeyFileMissing { .. }) => std::hint::spin_loop(),
                        Err(other) => panic!("round {round}: a reader saw {other:?}"),
                    }
                }
            });
            let created = Keyring::create(&path).unwrap().recipients();
            assert_eq!(reader.join().unwrap(), created);
            created
        });
        assert_eq!(Keyring::load(&path).unwrap().recipients(), created);
    }
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("keys-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn racing_creations_on_one_path_all_end_up_with_the_one_key() {
    // Replicas starting together on a fresh install: one creates the key file, every other
    // loads that one instead of failing with "already exists".
    let dir = tempfile::tempdir().unwrap();
    for round in 0..20 {
        let path = dir.path().join(format!("race-{round}/c15t.key"));
        let barrier = std::sync::Barrier::new(8);
        let results: Vec<(Vec<String>, bool)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let (keyring, created) = Keyring::create_or_load(&path).unwrap();
                        (keyring.recipients(), created)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            results.iter().filter(|(_, created)| *created).count(),
            1,
            "round {round}: {results:?}"
        );
        let on_disk = Keyring::load(&path).unwrap().recipients();
        assert!(results.iter().all(|(r, _)| *r == on_disk), "{results:?}");
        assert_eq!(mode(&path), 0o600);
    }
}

#[test]
fn create_or_load_loads_an_existing_file_and_keeps_refusing_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    let first = Keyring::create(&path).unwrap();
    let (loaded, created) = Keyring::create_or_load(&path).unwrap();
    assert!(!created);
    assert_eq!(loaded.recipients(), first.recipients());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let err = Keyring::create_or_load(&path).unwrap_err();
    assert!(
        matches!(err, SecretsError::KeyFilePermissions { .. }),
        "{err:?}"
    );
}

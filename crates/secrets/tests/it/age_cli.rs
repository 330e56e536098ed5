//! Interoperability with the stock `age` command-line tool (Debian package `age`): an operator
//! can decrypt a vault with the key file, and can write one the control plane opens.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use c15t_secrets::{Keyring, Vault};

use crate::sample_vault;

/// Runs `age` with `args`, feeding `stdin`. Fails (never skips) when `age` is not installed.
fn age(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = match Command::new("age")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => panic!(
            "the `age` command-line tool is not installed; install it with `apt-get install age` \
             (Debian/Ubuntu) so this test can check vaults against it"
        ),
        Err(e) => panic!("cannot run `age`: {e}"),
    };
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin)
        .expect("write to age");
    let output = child.wait_with_output().expect("wait for age");
    assert!(
        output.status.success(),
        "age {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn as_map(vault: &Vault) -> BTreeMap<String, String> {
    vault
        .iter()
        .map(|(k, v)| (k.to_owned(), v.expose().to_owned()))
        .collect()
}

fn decrypt_with_cli(key_file: &Path, sealed: &str) -> BTreeMap<String, String> {
    let dir = key_file.parent().unwrap();
    let vault_file = dir.join("vault.age");
    std::fs::write(&vault_file, sealed).unwrap();
    let output = age(
        &[
            "--decrypt",
            "-i",
            key_file.to_str().unwrap(),
            vault_file.to_str().unwrap(),
        ],
        b"",
    );
    serde_json::from_slice(&output.stdout).expect("age printed a JSON object of strings")
}

#[test]
fn the_age_cli_decrypts_a_vault_with_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys.txt");
    let keyring = Keyring::create(&key_file).unwrap();
    let vault = sample_vault();
    let sealed = keyring.seal(&vault).unwrap();
    assert_eq!(decrypt_with_cli(&key_file, &sealed), as_map(&vault));
}

#[test]
fn the_age_cli_accepts_a_key_file_mid_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys.txt");
    let mut keyring = Keyring::create(&key_file).unwrap();
    let vault = sample_vault();
    let old_sealed = keyring.seal(&vault).unwrap();
    keyring.begin_rotation();
    keyring.save(&key_file).unwrap();
    let new_sealed = keyring.seal(&vault).unwrap();
    assert_eq!(decrypt_with_cli(&key_file, &old_sealed), as_map(&vault));
    assert_eq!(decrypt_with_cli(&key_file, &new_sealed), as_map(&vault));
}

#[test]
fn a_vault_encrypted_by_the_age_cli_opens() {
    let keyring = Keyring::generate();
    let vault = sample_vault();
    let json = serde_json::to_vec_pretty(&as_map(&vault)).unwrap();
    let output = age(
        &["--encrypt", "-a", "-r", &keyring.primary_recipient()],
        &json,
    );
    let sealed = String::from_utf8(output.stdout).expect("armored output is text");
    assert!(sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(keyring.sealed_to_primary(&sealed).unwrap());
    assert_eq!(keyring.open(&sealed).unwrap(), vault);
}

//! Key management: open the key file against the database (creating it only on a fresh
//! install), create the control plane's age identity, and rotate it.
//!
//! A key file is created only when the database holds no vault: a missing or wrong key file
//! next to stored vaults is refused with what to do, never replaced by a new key that would
//! seal new secrets to it while the old ones stay unreadable. Creation is atomic, and a process
//! that loses a race to create it (replicas starting together) loads the winner's file.
//!
//! Rotation never loses a value if interrupted: the new key is added to the key file first
//! (every vault still opens with the old one), then every vault is re-sealed to the new key,
//! and only then is the old key removed from the file. Running rotate again after an
//! interruption resumes where it stopped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use c15t_model::CustomerId;
use c15t_secrets::{Keyring, SecretsError};
use c15t_store::Store;
use serde::Serialize;

use crate::{Control, ControlError, KeySource};

/// Customer ids a key-file refusal names before it says "and N more".
const NAMED_CUSTOMERS: usize = 5;

/// What [`KeySource::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileOpened {
    /// Whether this call created the key file (the database held no vault).
    pub created: bool,
    /// Vaults in the database, all of which the key file opens.
    pub vaults: usize,
    /// The key file's primary public key (`age1…`).
    pub recipient: String,
}

impl KeySource {
    /// Opens the key file at `path` for the vaults in `store`: what the server does at start.
    ///
    /// - The file exists: it is loaded, and every stored vault must open with it (only the
    ///   header is checked, one X25519 operation per vault); otherwise
    ///   [`ControlError::KeyFileMismatch`] says which customers' vaults do not and how to
    ///   recover.
    /// - It does not exist and the database holds no vault (a fresh install): it is created
    ///   atomically (mode 0600). If another process creates it at the same moment, that file is
    ///   loaded instead, so replicas starting together share one key.
    /// - It does not exist but the database holds vaults: refused with
    ///   [`ControlError::KeyFileMismatch`]; nothing is created.
    pub async fn open(
        path: PathBuf,
        store: &dyn Store,
    ) -> Result<(Self, KeyFileOpened), ControlError> {
        let vaults = store.vault_list().await?;
        let (keyring, created) = match Keyring::load(&path) {
            Ok(keyring) => (keyring, false),
            Err(SecretsError::KeyFileMissing { .. }) if vaults.is_empty() => {
                Keyring::create_or_load(&path)?
            }
            Err(SecretsError::KeyFileMissing { .. }) => {
                let customers: Vec<&CustomerId> = vaults.iter().map(|(id, _)| id).collect();
                return Err(mismatch(&path, true, &customers, vaults.len()));
            }
            Err(other) => return Err(other.into()),
        };
        check_vaults(&path, &keyring, &vaults)?;
        let opened = KeyFileOpened {
            created,
            vaults: vaults.len(),
            recipient: keyring.primary_recipient(),
        };
        Ok((
            Self {
                path,
                keyring: Some(Arc::new(keyring)),
            },
            opened,
        ))
    }
}

/// Fails unless `keyring` opens every vault in `vaults`.
fn check_vaults(
    path: &Path,
    keyring: &Keyring,
    vaults: &[(CustomerId, String)],
) -> Result<(), ControlError> {
    let mut unopened = Vec::new();
    for (customer, ciphertext) in vaults {
        // A vault whose header is damaged is not the key file's fault: only a wrong key counts.
        if let Ok(false) = keyring.opens(ciphertext) {
            unopened.push(customer);
        }
    }
    if unopened.is_empty() {
        Ok(())
    } else {
        Err(mismatch(path, false, &unopened, vaults.len()))
    }
}

/// The refusal of a key file (`missing` when there is none) that does not open the vaults of
/// `customers`, out of `total` in the database.
fn mismatch(path: &Path, missing: bool, customers: &[&CustomerId], total: usize) -> ControlError {
    let count = customers.len();
    let vaults = |n: usize| if n == 1 { "vault" } else { "vaults" };
    let which = if count == total {
        format!("the {count} {} in this database", vaults(count))
    } else {
        format!("{count} of the {total} {} in this database", vaults(total))
    };
    let mut names = customers
        .iter()
        .take(NAMED_CUSTOMERS)
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if count > NAMED_CUSTOMERS {
        names.push_str(&format!(" and {} more", count - NAMED_CUSTOMERS));
    }
    let problem = if missing {
        format!(
            "the key file {} does not exist, so it does not open {which} (customers {names}); \
             a new key file would not open them either, so none was created",
            path.display()
        )
    } else {
        format!(
            "the key file {} does not open {which} (customers {names})",
            path.display()
        )
    };
    ControlError::KeyFileMismatch(format!(
        "{problem}; restore the key file they were sealed with from a backup, or point \
         --key-file / C15T_KEY_FILE at it; if it is lost, so are their secrets: remove each of \
         those customers with `c15tctl customer remove <id>` and add it again with \
         `c15tctl import --config <file>`, which stores its secrets anew"
    ))
}

/// What a rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct RotationReport {
    /// Whether this run resumed an interrupted rotation.
    pub resumed: bool,
    /// Vaults re-sealed to the new key.
    pub resealed: usize,
    /// Vaults that were already sealed to it.
    pub already_current: usize,
    /// The new public key.
    pub recipient: String,
}

/// Creates the key file (mode 0600) and returns its public key; refuses to overwrite one.
///
/// It does not look at a database: for tests and tools that pair the file with a fresh one.
/// `c15tctl keys init` uses [`keys_init_for`], which refuses when vaults are stored.
pub fn keys_init(path: &Path) -> Result<String, ControlError> {
    let keyring = Keyring::create(path)?;
    Ok(keyring.primary_recipient())
}

/// `c15tctl keys init`: creates the key file (mode 0600, atomically, never overwriting one)
/// and returns its public key, but only when `store` holds no vault; a new key could not open
/// stored vaults, so then it refuses with [`ControlError::KeyFileMismatch`] (when the file is
/// missing) or says the file exists.
pub async fn keys_init_for(path: &Path, store: &dyn Store) -> Result<String, ControlError> {
    let vaults = store.vault_list().await?;
    if !vaults.is_empty() && !path.exists() {
        let customers: Vec<&CustomerId> = vaults.iter().map(|(id, _)| id).collect();
        return Err(mismatch(path, true, &customers, vaults.len()));
    }
    keys_init(path)
}

impl Control {
    /// Rotates to a fresh key, re-sealing every stored vault.
    ///
    /// Refuses before changing anything when the key file does not open every stored vault
    /// (rotating a wrong key file would only add a key to it).
    pub async fn keys_rotate(&self, actor: &str) -> Result<RotationReport, ControlError> {
        let mut keyring = Keyring::load(&self.keys.path)?;
        check_vaults(&self.keys.path, &keyring, &self.store.vault_list().await?)?;
        let resumed = keyring.is_rotating();
        if !resumed {
            keyring.begin_rotation();
            keyring.save(&self.keys.path)?;
        }
        let mut resealed = 0;
        let mut already_current = 0;
        for (customer, ciphertext) in self.store.vault_list().await? {
            let mut current = ciphertext;
            loop {
                if keyring.sealed_to_primary(&current)? {
                    already_current += 1;
                    break;
                }
                let vault = keyring.open(&current)?;
                let sealed = keyring.seal(&vault)?;
                if self
                    .store
                    .vault_reseal(actor, &customer, &current, &sealed, self.clock.now())
                    .await?
                {
                    resealed += 1;
                    break;
                }
                // Someone changed the vault meanwhile: reseal what is there now.
                match self
                    .store
                    .customer_get(&customer)
                    .await?
                    .and_then(|s| s.vault)
                {
                    Some(now) => current = now,
                    None => break,
                }
            }
        }
        keyring.finish_rotation();
        keyring.save(&self.keys.path)?;
        tracing::info!(resealed, already_current, resumed, "key rotation finished");
        Ok(RotationReport {
            resumed,
            resealed,
            already_current,
            recipient: keyring.primary_recipient(),
        })
    }
}

impl Control {
    /// Readiness of the database: one committed write (and, on SQLite, enough free disk).
    /// `Err` with [`ControlError::fault`] set says it is full, read-only or unreachable.
    pub async fn database_ready(&self) -> Result<(), ControlError> {
        Ok(self.store.write_probe(self.clock.now()).await?)
    }

    /// Readiness of the keys: the most recently written vault (if any) opens with the key file
    /// loaded at start. `Err` says why not: no key file, or one that does not open it (restored
    /// or replaced under the running process, or rotated by `c15tctl keys rotate`, after which
    /// the process must be restarted to load the new key).
    pub async fn keys_ready(&self) -> Result<(), ControlError> {
        let Some((customer, ciphertext)) = self.store.vault_latest().await? else {
            return Ok(());
        };
        let Some(keyring) = self.keys.keyring.as_deref() else {
            return Err(ControlError::KeyFileMismatch(format!(
                "no key file was loaded from {}, but the database holds vaults",
                self.keys.path.display()
            )));
        };
        match keyring.opens(&ciphertext) {
            Ok(true) => Ok(()),
            // One damaged vault is that customer's problem, not this process's: stay ready.
            Err(e) => {
                tracing::warn!(customer = %customer, error = %e, "the latest vault is damaged");
                Ok(())
            }
            Ok(false) => Err(ControlError::KeyFileMismatch(format!(
                "the key file loaded from {} does not open the vault of customer `{customer}`, \
                 the latest written; restart after `c15tctl keys rotate`, or restore the key \
                 file it was sealed with",
                self.keys.path.display()
            ))),
        }
    }
}

//! Key management: create the control plane's age identity, and rotate it.
//!
//! Rotation never loses a value if interrupted: the new key is added to the key file first
//! (every vault still opens with the old one), then every vault is re-sealed to the new key,
//! and only then is the old key removed from the file. Running rotate again after an
//! interruption resumes where it stopped.

use c15t_secrets::Keyring;
use serde::Serialize;

use crate::{Control, ControlError};

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
pub fn keys_init(path: &std::path::Path) -> Result<String, ControlError> {
    let keyring = Keyring::create(path)?;
    Ok(keyring.primary_recipient())
}

impl Control {
    /// Rotates to a fresh key, re-sealing every stored vault.
    pub async fn keys_rotate(&self, actor: &str) -> Result<RotationReport, ControlError> {
        let mut keyring = Keyring::load(&self.keys.path)?;
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

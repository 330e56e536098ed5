//! Import of a declarative customer file: idempotent create-or-replace of the whole config.
//!
//! Secrets in the file are references (`{ env = "VAR" }`); import resolves each through a
//! [`SecretResolver`], seals the values into the customer's vault and stores fingerprints in
//! their place. Importing the same file with the same secret values again changes nothing (no
//! new revision, no audit entry).

use c15t_model::{CustomerId, CustomerSpec, RawValue, SecretRef};
use c15t_secrets::{Secret, Vault};
use serde::Serialize;

use crate::config::{Draft, vault_key_database, vault_key_destination, vault_key_events_debug};
use crate::{Control, ControlError};

/// Resolves `{ env = "VAR" }` references to values.
pub trait SecretResolver {
    /// The value of `var`, if set.
    fn resolve(&self, var: &str) -> Option<Secret>;
}

impl<F: Fn(&str) -> Option<Secret>> SecretResolver for F {
    fn resolve(&self, var: &str) -> Option<Secret> {
        self(var)
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum ImportOutcome {
    /// The customer did not exist and was created at revision 1.
    Created {
        /// The new revision.
        revision: u64,
    },
    /// The customer existed and its config changed.
    Updated {
        /// The new revision.
        revision: u64,
    },
    /// The stored config already matched the file.
    Unchanged {
        /// The current revision.
        revision: u64,
    },
}

impl Control {
    /// Imports a declarative customer file.
    pub async fn import(
        &self,
        actor: &str,
        mut spec: CustomerSpec,
        resolver: &dyn SecretResolver,
    ) -> Result<ImportOutcome, ControlError> {
        // Structural validation first, so a file with problems fails before any secret is read.
        spec.validate(&self.catalogue)?;
        let id = CustomerId::new(spec.id.as_str())
            .map_err(|e| ControlError::BadRequest(format!("id: {e}")))?;
        let existing = self.store.customer_get(&id).await?;
        let mut draft = match &existing {
            Some(_) => self.draft(&id).await?,
            None => Draft::new_customer(spec.clone()),
        };
        let keyring = self.keys.keyring()?;

        // The new vault holds exactly the file's secrets. Values come from the resolver; a
        // `{ stored = ... }` reference carries over the value the vault already holds (this
        // is the only case that decrypts the old vault).
        let mut fresh = Vault::default();
        let mut resolve = |path: String,
                           key: String,
                           raw: &mut RawValue|
         -> Result<(), ControlError> {
            match raw {
                RawValue::Secret(SecretRef::Env(var)) => {
                    let value =
                        resolver
                            .resolve(var)
                            .ok_or_else(|| ControlError::MissingSecret {
                                path,
                                var: var.clone(),
                            })?;
                    *raw = RawValue::Secret(SecretRef::Stored(
                        keyring.fingerprint(&value).to_string(),
                    ));
                    fresh.insert(key, value);
                }
                RawValue::Secret(SecretRef::Stored(fingerprint)) => {
                    let old = draft.vault(keyring)?.get(&key).cloned();
                    match old {
                        Some(value) if keyring.fingerprint(&value).to_string() == *fingerprint => {
                            fresh.insert(key, value);
                        }
                        _ => {
                            return Err(ControlError::BadRequest(format!(
                                "{path}: the stored secret {fingerprint} is not in this customer's vault; \
                                 give the value as `{{ env = \"VAR\" }}` instead"
                            )));
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        };
        resolve(
            "database.auth_token".into(),
            vault_key_database(),
            &mut spec.database.auth_token,
        )?;
        if let Some(raw) = spec.events_debug_secret.as_mut() {
            resolve("events_debug_secret".into(), vault_key_events_debug(), raw)?;
        }
        for (i, d) in spec.destinations.iter_mut().enumerate() {
            for (key, raw) in d.settings.iter_mut() {
                let path = format!("destinations[{i}].settings.{key}");
                resolve(path, vault_key_destination(&d.id, key), raw)?;
            }
        }

        // Equal specs mean equal fingerprints for the same keys, hence the same secret values:
        // nothing to write.
        if let Some(existing) = existing.as_ref().filter(|e| e.spec == spec) {
            return Ok(ImportOutcome::Unchanged {
                revision: existing.revision,
            });
        }
        draft.replace_vault(fresh);
        draft.spec = spec;
        let revision = self
            .commit(
                actor,
                "customer.import",
                &format!("customer/{id}"),
                draft,
                None,
            )
            .await?;
        Ok(match existing {
            Some(_) => ImportOutcome::Updated { revision },
            None => ImportOutcome::Created { revision },
        })
    }
}

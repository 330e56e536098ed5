//! Import of a declarative customer file: idempotent create-or-replace of the whole config.
//!
//! Secrets in the file are references (`{ env = "VAR" }`); import resolves each through a
//! [`SecretResolver`], seals the values into the customer's vault and stores fingerprints in
//! their place. Importing the same file with the same secret values again changes nothing (no
//! new revision, no audit entry).

use c15t_model::{CustomerId, CustomerSpec, RawValue, SecretRef};
use c15t_secrets::{Secret, Vault};
use serde::Serialize;

use crate::config::{Draft, vault_key_database, vault_key_destination};
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
            None => Draft {
                spec: spec.clone(),
                vault: Vault::default(),
                revision: None,
                vault_changed: false,
            },
        };
        let old_vault = draft.vault.clone();
        let keyring = self.keys.keyring()?;

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
                    fresh.insert(key.clone(), value.clone());
                    *raw = draft.put_secret(keyring, key, value);
                }
                RawValue::Secret(SecretRef::Stored(fingerprint)) => {
                    // A stored reference must name a value this customer's vault holds.
                    match old_vault.get(&key) {
                        Some(value) if keyring.fingerprint(value).to_string() == *fingerprint => {
                            fresh.insert(key, value.clone());
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
        for (i, d) in spec.destinations.iter_mut().enumerate() {
            for (key, raw) in d.settings.iter_mut() {
                let path = format!("destinations[{i}].settings.{key}");
                resolve(path, vault_key_destination(&d.id, key), raw)?;
            }
        }

        // The vault holds exactly the file's secrets: entries of removed settings go.
        let stale = old_vault.iter().any(|(k, _)| fresh.get(k).is_none());
        draft.vault_changed |= stale || existing.is_none();
        draft.vault = fresh;
        let unchanged = existing.as_ref().is_some_and(|e| e.spec == spec) && !draft.vault_changed;
        if let (true, Some(existing)) = (unchanged, &existing) {
            return Ok(ImportOutcome::Unchanged {
                revision: existing.revision,
            });
        }
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

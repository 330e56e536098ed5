//! Customers and destinations: add, show, list, edit, enable/disable, remove, and generation of
//! a customer's worker from the stored configuration.

use std::collections::BTreeMap;

use c15t_codegen::{Project, TargetProfile};
use c15t_model::{
    CustomerConfig, CustomerId, CustomerSpec, DestinationSpec, Environment, RawValue, SecretRef,
};
use c15t_secrets::{Keyring, Secret, Vault};
use c15t_store::{ConfigChange, Revision, StoredConfig, VaultSwap};

use crate::views::{AuditRecord, CustomerSummary};
use serde::Serialize;

use crate::{Control, ControlError};

/// Vault key of a destination's secret setting.
pub fn vault_key_destination(destination: &str, field: &str) -> String {
    format!("destination/{destination}/{field}")
}

/// The shortest events debug secret accepted: it guards a route anyone can reach.
pub const EVENTS_DEBUG_SECRET_MIN: usize = 16;

/// Vault key of the events debug secret (`POST /analytics/events?debug=1`).
pub fn vault_key_events_debug() -> String {
    "customer/events_debug_secret".to_owned()
}

/// Vault key of the customer's database token.
pub fn vault_key_database() -> String {
    "database/auth_token".to_owned()
}

/// A customer as shown to operators: the declarative config (secrets as fingerprints) and its
/// revision.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerView {
    /// The configuration; secrets appear as `{ stored = "<fingerprint>" }`.
    pub spec: CustomerSpec,
    /// The config revision, to pass back as `expected_revision` when editing.
    pub revision: Revision,
}

/// Changes to a customer's own fields; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct CustomerPatch {
    /// New display name.
    pub name: Option<String>,
    /// New environment list.
    pub environments: Option<Vec<String>>,
    /// New trusted origins.
    pub trusted_origins: Option<Vec<String>>,
    /// New log level.
    pub log_level: Option<String>,
    /// New database URL.
    pub database_url: Option<String>,
    /// New database auth token.
    pub database_token: Option<Secret>,
    /// The events debug secret: `Some(Some(value))` sets it, `Some(None)` turns debug mode
    /// off (the binding and the value go).
    pub events_debug_secret: Option<Option<Secret>>,
}

/// Changes to one destination; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct DestinationPatch {
    /// New display name.
    pub name: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// `Some(None)` deploys to every environment, `Some(Some(env))` to one.
    pub environment: Option<Option<String>>,
    /// New consent category.
    pub category: Option<String>,
    /// Non-secret settings to set.
    pub set: BTreeMap<String, RawValue>,
    /// Settings to remove.
    pub unset: Vec<String>,
    /// Secret settings to set.
    pub secrets: BTreeMap<String, Secret>,
}

/// A customer's config being changed: the spec, its vault, and the revision it is based on.
///
/// The vault is decrypted only when a change needs its values (a secret set or removed), so
/// that edits which do not touch secrets never decrypt them.
pub(crate) struct Draft {
    pub(crate) spec: CustomerSpec,
    /// The spec as stored, for an existing customer: a change that leaves it (and the vault)
    /// as it is writes nothing.
    original: Option<CustomerSpec>,
    /// The stored ciphertext, if any.
    sealed: Option<String>,
    /// The opened vault, once a change needed it.
    vault: Option<Vault>,
    pub(crate) revision: Option<Revision>,
    vault_changed: bool,
}

impl Draft {
    /// A draft for a customer that does not exist yet (empty vault).
    pub(crate) fn new_customer(spec: CustomerSpec) -> Self {
        Self {
            spec,
            original: None,
            sealed: None,
            vault: Some(Vault::default()),
            revision: None,
            vault_changed: true,
        }
    }

    /// The vault, decrypted on first use.
    pub(crate) fn vault(&mut self, keyring: &Keyring) -> Result<&mut Vault, ControlError> {
        if self.vault.is_none() {
            let opened = match &self.sealed {
                Some(ciphertext) => keyring.open(ciphertext)?,
                None => Vault::default(),
            };
            self.vault = Some(opened);
        }
        Ok(self.vault.get_or_insert_with(Vault::default))
    }

    /// Replaces the whole vault.
    pub(crate) fn replace_vault(&mut self, vault: Vault) {
        self.vault = Some(vault);
        self.vault_changed = true;
    }

    /// Stores `value` in the vault under `key` and returns the reference for the spec.
    pub(crate) fn put_secret(
        &mut self,
        keyring: &Keyring,
        key: String,
        value: Secret,
    ) -> Result<RawValue, ControlError> {
        let fingerprint = keyring.fingerprint(&value);
        let vault = self.vault(keyring)?;
        let unchanged = vault
            .get(&key)
            .is_some_and(|old| old.expose() == value.expose());
        if !unchanged {
            vault.insert(key, value);
            self.vault_changed = true;
        }
        Ok(RawValue::Secret(SecretRef::Stored(fingerprint.to_string())))
    }

    /// Removes vault entries (opening the vault only if there is something to remove).
    fn forget(&mut self, keyring: Option<&Keyring>, keys: &[String]) -> Result<(), ControlError> {
        if keys.is_empty() {
            return Ok(());
        }
        let keyring = keyring.ok_or_else(|| {
            ControlError::BadRequest("removing a secret needs the key file".to_owned())
        })?;
        let vault = self.vault(keyring)?;
        let mut removed = false;
        for key in keys {
            removed |= vault.remove(key).is_some();
        }
        self.vault_changed |= removed;
        Ok(())
    }

    fn destination_mut(&mut self, id: &str) -> Result<&mut DestinationSpec, ControlError> {
        let customer = self.spec.id.clone();
        self.spec
            .destinations
            .iter_mut()
            .find(|d| d.id == id)
            .ok_or_else(|| ControlError::NotFound {
                resource: format!("destination `{id}` of customer `{customer}`"),
            })
    }
}

/// How many times an edit not based on a revision is tried before its conflict is reported.
pub(crate) const EDIT_ATTEMPTS: u32 = 50;

/// A random pause before trying an edit again: up to 2^attempt ms (at most 64 ms), so that
/// writers that collided spread out.
fn retry_pause(attempt: u32) -> std::time::Duration {
    let ceiling = 1_u64 << attempt.min(6);
    let mut bytes = [0_u8; 8];
    let random = match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => u64::from(attempt),
    };
    std::time::Duration::from_millis(1 + random % ceiling)
}

/// Vault keys of a destination's stored secret settings.
fn stored_secret_keys(destination: &DestinationSpec) -> Vec<String> {
    destination
        .settings
        .iter()
        .filter(|(_, v)| matches!(v, RawValue::Secret(SecretRef::Stored(_))))
        .map(|(k, _)| vault_key_destination(&destination.id, k))
        .collect()
}

pub(crate) fn not_found(id: &CustomerId) -> ControlError {
    ControlError::NotFound {
        resource: format!("customer `{id}`"),
    }
}

/// Most audit entries one page holds, for every caller (API, CLI, admin UI): with entries
/// that store what changed and configs of at most `c15t_model::CONFIG_BYTES_MAX`, a page's
/// memory is bounded by this.
pub const AUDIT_PAGE_MAX: u64 = 200;

/// The most customers one page of [`Control::customer_page`] holds.
pub const CUSTOMER_PAGE_MAX: u64 = 500;

impl Control {
    /// Every customer, by id.
    pub async fn customer_list(&self) -> Result<Vec<CustomerSummary>, ControlError> {
        let rows = self.store.customer_list().await?;
        Ok(rows.into_iter().map(CustomerSummary::from).collect())
    }

    /// One page of customers in id order: at most `limit` (at most [`CUSTOMER_PAGE_MAX`]) with
    /// ids after `after`.
    pub async fn customer_page(
        &self,
        after: Option<&CustomerId>,
        limit: u64,
    ) -> Result<Vec<CustomerSummary>, ControlError> {
        let rows = self
            .store
            .customer_page(after, limit.clamp(1, CUSTOMER_PAGE_MAX))
            .await?;
        Ok(rows.into_iter().map(CustomerSummary::from).collect())
    }

    /// A customer's current revision; `NotFound` if there is no such customer. Cheaper than
    /// [`Control::customer_show`] where only existence matters.
    pub async fn customer_revision(&self, id: &CustomerId) -> Result<Revision, ControlError> {
        self.store
            .customer_revision(id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// One customer's configuration and revision.
    pub async fn customer_show(&self, id: &CustomerId) -> Result<CustomerView, ControlError> {
        let stored = self
            .store
            .customer_get(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(CustomerView {
            spec: stored.spec,
            revision: stored.revision,
        })
    }

    /// Adds a customer without destinations.
    pub async fn customer_add(
        &self,
        actor: &str,
        mut spec: CustomerSpec,
        database_token: Secret,
    ) -> Result<Revision, ControlError> {
        let keyring = self.keys.keyring()?;
        spec.destinations.clear();
        let mut draft = Draft::new_customer(spec);
        draft.spec.database.auth_token =
            draft.put_secret(keyring, vault_key_database(), database_token)?;
        let resource = format!("customer/{}", draft.spec.id);
        self.commit(actor, "customer.create", &resource, draft, None)
            .await
    }

    /// Edits a customer's own fields.
    pub async fn customer_edit(
        &self,
        actor: &str,
        id: &CustomerId,
        patch: CustomerPatch,
        expected_revision: Option<Revision>,
    ) -> Result<Revision, ControlError> {
        let CustomerPatch {
            name,
            environments,
            trusted_origins,
            log_level,
            database_url,
            database_token,
            events_debug_secret,
        } = patch;
        let resource = format!("customer/{id}");
        self.edit(
            actor,
            "customer.update",
            &resource,
            id,
            expected_revision,
            |draft| {
                if let Some(name) = &name {
                    draft.spec.name.clone_from(name);
                }
                if let Some(envs) = &environments {
                    draft.spec.environments = Some(envs.clone());
                }
                if let Some(origins) = &trusted_origins {
                    draft.spec.trusted_origins.clone_from(origins);
                }
                if let Some(level) = &log_level {
                    draft.spec.log_level = Some(level.clone());
                }
                if let Some(url) = &database_url {
                    draft.spec.database.url.clone_from(url);
                }
                if let Some(token) = &database_token {
                    let keyring = self.keys.keyring()?;
                    draft.spec.database.auth_token =
                        draft.put_secret(keyring, vault_key_database(), token.clone())?;
                }
                match &events_debug_secret {
                    None => {}
                    Some(Some(secret)) => {
                        if secret.expose().chars().count() < EVENTS_DEBUG_SECRET_MIN {
                            return Err(ControlError::BadRequest(format!(
                                "events_debug_secret: must have at least \
                                 {EVENTS_DEBUG_SECRET_MIN} characters (`c15tctl customer edit \
                                 --events-debug-secret generate` makes one)"
                            )));
                        }
                        let keyring = self.keys.keyring()?;
                        draft.spec.events_debug_secret = Some(draft.put_secret(
                            keyring,
                            vault_key_events_debug(),
                            secret.clone(),
                        )?);
                    }
                    Some(None) if draft.spec.events_debug_secret.take().is_some() => {
                        draft.forget(self.keys.keyring.as_deref(), &[vault_key_events_debug()])?;
                    }
                    Some(None) => {}
                }
                Ok(())
            },
        )
        .await
    }

    /// Removes a customer with its destinations, secrets and tokens (the audit log stays).
    pub async fn customer_remove(
        &self,
        actor: &str,
        id: &CustomerId,
        expected_revision: Option<Revision>,
    ) -> Result<(), ControlError> {
        let stored = self
            .store
            .customer_get(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let expected = expected_revision.unwrap_or(stored.revision);
        self.store
            .customer_delete(actor, id, expected, self.clock.now())
            .await?;
        Ok(())
    }

    /// A customer's destinations in order (secrets as fingerprints).
    pub async fn destination_list(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<DestinationSpec>, ControlError> {
        Ok(self.customer_show(customer).await?.spec.destinations)
    }

    /// One destination.
    pub async fn destination_show(
        &self,
        customer: &CustomerId,
        id: &str,
    ) -> Result<DestinationSpec, ControlError> {
        self.destination_list(customer)
            .await?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| ControlError::NotFound {
                resource: format!("destination `{id}` of customer `{customer}`"),
            })
    }

    /// Appends a destination; its secret settings come separately and go to the vault.
    pub async fn destination_add(
        &self,
        actor: &str,
        customer: &CustomerId,
        destination: DestinationSpec,
        secrets: BTreeMap<String, Secret>,
        expected_revision: Option<Revision>,
    ) -> Result<Revision, ControlError> {
        let resource = format!("customer/{customer}/destination/{}", destination.id);
        self.edit(
            actor,
            "destination.create",
            &resource,
            customer,
            expected_revision,
            |draft| {
                if draft
                    .spec
                    .destinations
                    .iter()
                    .any(|d| d.id == destination.id)
                {
                    return Err(ControlError::AlreadyExists {
                        resource: format!(
                            "destination `{}` of customer `{customer}`",
                            destination.id
                        ),
                    });
                }
                let mut destination = destination.clone();
                if !secrets.is_empty() {
                    let keyring = self.keys.keyring()?;
                    for (key, value) in &secrets {
                        let vault_key = vault_key_destination(&destination.id, key);
                        let reference = draft.put_secret(keyring, vault_key, value.clone())?;
                        destination.settings.insert(key.clone(), reference);
                    }
                }
                draft.spec.destinations.push(destination);
                Ok(())
            },
        )
        .await
    }

    /// Edits a destination.
    pub async fn destination_edit(
        &self,
        actor: &str,
        customer: &CustomerId,
        id: &str,
        patch: DestinationPatch,
        expected_revision: Option<Revision>,
    ) -> Result<Revision, ControlError> {
        let DestinationPatch {
            name,
            enabled,
            environment,
            category,
            set,
            unset,
            secrets,
        } = patch;
        let resource = format!("customer/{customer}/destination/{id}");
        self.edit(
            actor,
            "destination.update",
            &resource,
            customer,
            expected_revision,
            |draft| {
                let mut references = Vec::new();
                if !secrets.is_empty() {
                    let keyring = self.keys.keyring()?;
                    for (key, value) in &secrets {
                        let reference = draft.put_secret(
                            keyring,
                            vault_key_destination(id, key),
                            value.clone(),
                        )?;
                        references.push((key.clone(), reference));
                    }
                }
                let mut forgotten = Vec::new();
                {
                    let d = draft.destination_mut(id)?;
                    if let Some(name) = &name {
                        d.name.clone_from(name);
                    }
                    if let Some(enabled) = enabled {
                        d.enabled = enabled;
                    }
                    if let Some(environment) = &environment {
                        d.environment.clone_from(environment);
                    }
                    if let Some(category) = &category {
                        d.category = Some(category.clone());
                    }
                    for (key, value) in &set {
                        d.settings.insert(key.clone(), value.clone());
                    }
                    for key in &unset {
                        // Only secret settings have vault entries.
                        if let Some(RawValue::Secret(SecretRef::Stored(_))) = d.settings.remove(key)
                        {
                            forgotten.push(vault_key_destination(id, key));
                        }
                    }
                    for (key, reference) in references {
                        d.settings.insert(key, reference);
                    }
                }
                draft.forget(self.keys.keyring.as_deref(), &forgotten)
            },
        )
        .await
    }

    /// Removes a destination and its secrets.
    pub async fn destination_remove(
        &self,
        actor: &str,
        customer: &CustomerId,
        id: &str,
        expected_revision: Option<Revision>,
    ) -> Result<Revision, ControlError> {
        let resource = format!("customer/{customer}/destination/{id}");
        self.edit(
            actor,
            "destination.delete",
            &resource,
            customer,
            expected_revision,
            |draft| {
                let removed = draft.destination_mut(id)?.clone();
                draft.spec.destinations.retain(|d| d.id != id);
                draft.forget(self.keys.keyring.as_deref(), &stored_secret_keys(&removed))
            },
        )
        .await
    }

    /// Generates a customer's worker project from the stored configuration. Needs no secrets.
    pub async fn generate(
        &self,
        customer: &CustomerId,
        environment: &Environment,
        target: &TargetProfile,
    ) -> Result<Project, ControlError> {
        let stored = self
            .store
            .customer_get(customer)
            .await?
            .ok_or_else(|| not_found(customer))?;
        let config = self.validated(&stored)?;
        self.generated(&stored, &config, environment, target)
    }

    /// The audit log, newest first: at most `limit` entries (at most [`AUDIT_PAGE_MAX`]).
    pub async fn audit(
        &self,
        customer: Option<&CustomerId>,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, ControlError> {
        self.audit_page(customer, None, limit).await
    }

    /// One page of the audit log, newest first: at most `limit` entries (1 to
    /// [`AUDIT_PAGE_MAX`], whatever is asked) older than the entry `before`. The last entry's id
    /// is the cursor of the next page; each entry is seen exactly once.
    pub async fn audit_page(
        &self,
        customer: Option<&CustomerId>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, ControlError> {
        let limit = limit.clamp(1, AUDIT_PAGE_MAX);
        let rows = self.store.audit_page(customer, before, limit).await?;
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    pub(crate) fn validated(&self, stored: &StoredConfig) -> Result<CustomerConfig, ControlError> {
        Ok(stored.spec.validate(&self.catalogue)?)
    }

    /// Loads a customer's config (the vault stays sealed until a change needs it).
    pub(crate) async fn draft(&self, id: &CustomerId) -> Result<Draft, ControlError> {
        let stored = self
            .store
            .customer_get(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(Draft {
            original: Some(stored.spec.clone()),
            spec: stored.spec,
            sealed: stored.vault,
            vault: None,
            revision: Some(stored.revision),
            vault_changed: false,
        })
    }

    /// One change of an existing customer: load, `apply`, [`Control::commit`]. A change not
    /// based on a revision (`expected_revision` `None`, e.g. `If-Match: *`) is applied to
    /// whatever is current: when another writer got in between, the read-modify-write is
    /// repeated on the new revision, at most [`EDIT_ATTEMPTS`] times with a short random
    /// pause, so that concurrent edits all apply in some order. A change based on a revision
    /// is tried once; a stale one is a conflict.
    pub(crate) async fn edit(
        &self,
        actor: &str,
        action: &str,
        resource: &str,
        customer: &CustomerId,
        expected_revision: Option<Revision>,
        mut apply: impl FnMut(&mut Draft) -> Result<(), ControlError>,
    ) -> Result<Revision, ControlError> {
        let mut attempt = 1;
        loop {
            let mut draft = self.draft(customer).await?;
            apply(&mut draft)?;
            match self
                .commit(actor, action, resource, draft, expected_revision)
                .await
            {
                Err(ControlError::Conflict { .. } | ControlError::SecretsChanged { .. })
                    if expected_revision.is_none() && attempt < EDIT_ATTEMPTS =>
                {
                    tracing::debug!(resource, attempt, "concurrent change; applying again");
                    tokio::time::sleep(retry_pause(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Validates the draft and writes it in one transaction (revision check + audit).
    pub(crate) async fn commit(
        &self,
        actor: &str,
        action: &str,
        resource: &str,
        draft: Draft,
        expected_revision: Option<Revision>,
    ) -> Result<Revision, ControlError> {
        let config = draft.spec.validate(&self.catalogue)?;
        // A change of nothing changes nothing: no revision, no audit entry, no job.
        if let (Some(current), Some(original)) = (draft.revision, &draft.original)
            && !draft.vault_changed
            && draft.spec == *original
        {
            return match expected_revision {
                Some(expected) if expected != current => Err(ControlError::Conflict {
                    customer: format!("customer `{}`", config.customer.id),
                    expected,
                    actual: current,
                }),
                _ => Ok(current),
            };
        }
        let sealed = if let (true, Some(vault)) = (draft.vault_changed, &draft.vault) {
            Some(self.keys.keyring()?.seal(vault)?)
        } else {
            None
        };
        let expected = expected_revision.or(draft.revision);
        // The strategy's follow-up (deploy or notification jobs) is stored with the change, so
        // a stored change never misses it.
        let jobs = self
            .strategy_jobs(actor, &config.customer.id, &config.environments)
            .await?;
        let revision = self
            .store
            .config_put(ConfigChange {
                actor,
                action,
                resource,
                spec: &draft.spec,
                vault: sealed.as_deref().map(|new| VaultSwap {
                    old: draft.sealed.as_deref(),
                    new,
                }),
                expected_revision: expected,
                jobs: &jobs,
                now: self.clock.now(),
            })
            .await?;
        tracing::info!(
            actor,
            action,
            resource,
            revision,
            jobs = jobs.len(),
            "configuration changed"
        );
        Ok(revision)
    }
}

/// Turns the text of a `key=value` setting given on a command line or form into a value of the
/// type the catalogue declares for it (booleans and numbers parsed, everything else text).
/// Unknown kinds and keys are left as text: validation reports them with suggestions.
pub fn parse_setting(
    catalogue: &c15t_model::Catalogue,
    kind: &str,
    key: &str,
    text: &str,
) -> RawValue {
    use c15t_model::FieldType;
    let field = catalogue.get(kind).and_then(|k| k.field(key));
    match field.map(|f| f.ty) {
        Some(FieldType::Bool) => match text {
            "true" => RawValue::Bool(true),
            "false" => RawValue::Bool(false),
            _ => RawValue::Text(text.to_owned()),
        },
        Some(FieldType::Number { .. }) => text
            .parse::<i64>()
            .map(RawValue::Integer)
            .or_else(|_| text.parse::<f64>().map(RawValue::Float))
            .unwrap_or_else(|_| RawValue::Text(text.to_owned())),
        _ => RawValue::Text(text.to_owned()),
    }
}

//! What a deploy ships, prepared in one place for deploy, rollback, plan and notify.
//!
//! A new release is [`Control::prepare`]d from the current config (load, validate, generate,
//! secret fingerprints), then turned into a [`Shipment`] ([`Control::shipment`]: secret
//! values out of the vault, plain vars, and for Cloudflare the uploaded modules). A rollback's
//! release is [`Control::restoration`]: the stored files of the earlier deployment, the
//! customer's current secret values, and the modules it ran with. The plan compares
//! [`Control::generated`] with what is live, and so sees exactly what a deploy would ship.

use std::collections::BTreeMap;

use c15t_codegen::{Input, Project, TargetProfile};
use c15t_deploy::runtime::worker_modules;
use c15t_deploy::{Release, ReleaseFile, ReleaseMeta};
use c15t_model::bindings::BindingOwner;
use c15t_model::{
    Bindings, CustomerConfig, CustomerId, DeployTarget, Destination, Environment, SecretBinding,
    SecretRef,
};
use c15t_secrets::{Secret, Vault};
use c15t_store::{DeploymentRecord, StoredConfig};

use crate::{
    Control, ControlError, vault_key_database, vault_key_destination, vault_key_events_debug,
};

/// An environment's project generated from the current config: the first half of a deploy.
pub(crate) struct Prepared {
    /// The stored config it was generated from.
    pub(crate) stored: StoredConfig,
    /// That config, validated.
    pub(crate) config: CustomerConfig,
    /// The environment.
    pub(crate) environment: Environment,
    /// The generated project.
    pub(crate) project: Project,
    /// The worker's secret bindings and the fingerprints of their configured values.
    pub(crate) fingerprints: BTreeMap<String, String>,
}

/// A release ready for a deployer, with what the deployment records about its modules.
pub(crate) struct Shipment {
    /// The release, secret values included.
    pub(crate) release: Release,
    /// The generated JavaScript entry module (Cloudflare releases).
    pub(crate) entry_module: Option<String>,
    /// The name of the runtime module it imports (Cloudflare releases).
    pub(crate) runtime_module: Option<String>,
}

/// A rollback's release, and how its secrets compare with the restored deployment's.
pub(crate) struct Restoration {
    /// What is shipped.
    pub(crate) shipment: Shipment,
    /// The stored files, as the new deployment records them.
    pub(crate) files: Vec<(String, String)>,
    /// The fingerprints of the secret values shipped.
    pub(crate) fingerprints: BTreeMap<String, String>,
    /// Bindings whose value differs from the one the restored deployment ran with.
    pub(crate) secrets_changed: Vec<String>,
}

/// The project of `environment` generated from a validated customer config for `target`,
/// stamped with `revision`: what `c15tctl generate` does with a local customer file (no
/// database, no secrets), and what every use case of the control layer generates through.
pub fn generate_project(
    config: &CustomerConfig,
    environment: &Environment,
    target: &TargetProfile,
    revision: u64,
) -> Result<Project, ControlError> {
    Ok(c15t_codegen::generate(&Input {
        config,
        environment,
        target,
        revision,
    })?)
}

impl Control {
    /// The project of `environment` generated from `stored` (validated as `config`) for
    /// `target`: the one place the control layer calls the generator.
    pub(crate) fn generated(
        &self,
        stored: &StoredConfig,
        config: &CustomerConfig,
        environment: &Environment,
        target: &TargetProfile,
    ) -> Result<Project, ControlError> {
        generate_project(config, environment, target, stored.revision)
    }

    /// Loads, validates and generates the customer's `environment` from its current config.
    pub(crate) async fn prepare(
        &self,
        customer: &CustomerId,
        environment: &Environment,
    ) -> Result<Prepared, ControlError> {
        let stored = self
            .store
            .customer_get(customer)
            .await?
            .ok_or_else(|| crate::config::not_found(customer))?;
        let config = self.validated(&stored)?;
        if !config.has_environment(environment) {
            return Err(ControlError::NotFound {
                resource: format!("environment `{environment}` of customer `{customer}`"),
            });
        }
        let project = self.generated(&stored, &config, environment, self.target())?;
        let fingerprints = secret_fingerprints(&config, environment);
        Ok(Prepared {
            stored,
            config,
            environment: environment.clone(),
            project,
            fingerprints,
        })
    }

    /// Turns `prepared` into a release for `target`: the secret values taken out of `vault`,
    /// the plain vars, and for Cloudflare the entry module and runtime bundle it imports.
    pub(crate) fn shipment(
        &self,
        prepared: Prepared,
        target: &DeployTarget,
        vault: &mut Vault,
    ) -> Result<Shipment, ControlError> {
        let Prepared {
            stored,
            config,
            environment,
            project,
            ..
        } = prepared;
        let profile = self.target();
        let secrets = secret_values(&config, &environment, vault)?;
        let vars = Bindings::plan(&config, &environment).vars;
        let meta = ReleaseMeta {
            customer: config.customer.id.clone(),
            environment: environment.clone(),
            revision: stored.revision,
            target: profile.id.to_owned(),
        };
        let mut release = Release::from_project(meta, project, vars, secrets);
        let (mut entry_module, mut runtime_module) = (None, None);
        if matches!(target, DeployTarget::Cloudflare { .. }) {
            let runtime = self.delivery.runtime_for(profile.id).ok_or_else(|| {
                ControlError::BadRequest(format!(
                    "no runtime bundle for target `{}`: build one with `c15tctl runtime build \
                     --target {}` and pass it to the control plane (--runtime)",
                    profile.id, profile.id
                ))
            })?;
            let input = Input {
                config: &config,
                environment: &environment,
                target: profile,
                revision: stored.revision,
            };
            let js = c15t_codegen::generate_worker_module(&input, &runtime.specifier())?;
            release = release.with_modules(worker_modules(js.clone(), runtime));
            entry_module = Some(js);
            runtime_module = Some(runtime.module_name().to_owned());
        }
        Ok(Shipment {
            release,
            entry_module,
            runtime_module,
        })
    }

    /// The release restoring `earlier` (see [`Control::rollback`]) for `target`, with the
    /// customer's current secret values (`config` and `vault`).
    pub(crate) async fn restoration(
        &self,
        earlier: &DeploymentRecord,
        config: &CustomerConfig,
        target: &DeployTarget,
        vault: &Vault,
    ) -> Result<Restoration, ControlError> {
        let (customer, env, to) = (&earlier.customer, &earlier.environment, earlier.id);
        let (secrets, fingerprints, secrets_changed) =
            self.rollback_secrets(config, env, earlier, vault)?;
        let files = self.store.deployment_files(to).await?;
        let vars = vars_of(&files)?;
        let entry_module = self.store.deployment_entry(to).await?;
        let meta = ReleaseMeta {
            customer: customer.clone(),
            environment: env.clone(),
            revision: earlier.config_revision,
            target: earlier.target.clone(),
        };
        // A rollback restores; it never renames: the release goes to the worker that serves.
        let worker = self
            .live_worker_name(customer, env)
            .await?
            .unwrap_or_else(|| c15t_model::worker_name(customer, env));
        let mut release = Release::from_files(
            meta,
            worker,
            files
                .iter()
                .map(|(path, contents)| ReleaseFile {
                    path: path.clone(),
                    contents: contents.clone(),
                })
                .collect(),
            vars,
            secrets,
        );
        if matches!(target, DeployTarget::Cloudflare { .. }) {
            let (Some(entry), Some(name)) = (&entry_module, &earlier.runtime_module) else {
                return Err(ControlError::BadRequest(format!(
                    "deployment {to} was not a Cloudflare deployment (it has no uploaded \
                     modules), so it cannot be restored on Cloudflare; deploy instead"
                )));
            };
            let runtime = self.delivery.runtime_named(name).ok_or_else(|| {
                ControlError::BadRequest(format!(
                    "deployment {to} ran with runtime module `{name}`, which this control plane \
                     was not given; pass it with --runtime to restore that deployment"
                ))
            })?;
            release = release.with_modules(worker_modules(entry.clone(), runtime));
        }
        Ok(Restoration {
            shipment: Shipment {
                release,
                entry_module,
                runtime_module: earlier.runtime_module.clone(),
            },
            files,
            fingerprints,
            secrets_changed,
        })
    }

    /// The secret values a rollback to `earlier` deploys (see [`Control::rollback`]).
    #[allow(clippy::type_complexity)]
    fn rollback_secrets(
        &self,
        config: &CustomerConfig,
        env: &Environment,
        earlier: &DeploymentRecord,
        vault: &Vault,
    ) -> Result<(Vec<(String, Secret)>, BTreeMap<String, String>, Vec<String>), ControlError> {
        let mut current_vault = vault.clone();
        let current: BTreeMap<String, Secret> = match secret_values(config, env, &mut current_vault)
        {
            Ok(values) => values.into_iter().collect(),
            Err(_) => BTreeMap::new(),
        };
        let keyring = self.keys.keyring()?;
        let mut secrets = Vec::new();
        let mut fingerprints = BTreeMap::new();
        let mut changed = Vec::new();
        for (name, recorded) in &earlier.secret_fingerprints {
            let value = match current.get(name) {
                Some(value) => value.clone(),
                None => vault
                    .iter()
                    .find(|(_, v)| &keyring.fingerprint(v).to_string() == recorded)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| {
                        ControlError::BadRequest(format!(
                            "cannot restore deployment {}: its secret binding `{name}` has no \
                             value any more (its destination was removed or its secret \
                             cleared); set it again, or deploy the current configuration",
                            earlier.id
                        ))
                    })?,
            };
            let fingerprint = keyring.fingerprint(&value).to_string();
            if &fingerprint != recorded {
                changed.push(name.clone());
            }
            fingerprints.insert(name.clone(), fingerprint);
            secrets.push((name.clone(), value));
        }
        Ok((secrets, fingerprints, changed))
    }
}

/// The fingerprint of each secret binding of `env`'s worker, by binding name: what a
/// deployment records and the plan compares with the live one's. Stored configs hold
/// fingerprints; a reference to a process environment variable (declarative files only) is
/// shown as `env:<VAR>`.
pub(crate) fn secret_fingerprints(
    config: &CustomerConfig,
    env: &Environment,
) -> BTreeMap<String, String> {
    Bindings::plan(config, env)
        .secrets
        .into_iter()
        .map(|b| {
            let fp = match b.source {
                SecretRef::Stored(fp) => fp,
                SecretRef::Env(var) => format!("env:{var}"),
                _ => "unknown".to_owned(),
            };
            (b.name, fp)
        })
        .collect()
}

/// Pairs every secret binding of `env`'s worker with its value, taken out of `vault`. The
/// names come from [`Bindings::plan_for`], as the generated code's do, database token first,
/// then destinations in configured order.
///
/// # Errors
///
/// [`ControlError::NotFound`] naming the binding and its vault entry when a value is missing.
pub fn secret_values(
    config: &CustomerConfig,
    env: &Environment,
    vault: &mut Vault,
) -> Result<Vec<(String, Secret)>, ControlError> {
    let destinations: Vec<&Destination> = config.destinations_for(env).collect();
    let bindings = Bindings::plan_for(config, &destinations);
    let mut secrets = Vec::with_capacity(bindings.secrets.len());
    for SecretBinding { name, owner, .. } in bindings.secrets {
        let key = match owner {
            BindingOwner::Database => vault_key_database(),
            BindingOwner::EventsDebug => vault_key_events_debug(),
            BindingOwner::Destination { index, key } => {
                vault_key_destination(destinations[index].id.as_str(), key)
            }
        };
        // Each key belongs to one binding, so the value can move out of the vault.
        let Some(value) = vault.remove(&key) else {
            return Err(ControlError::NotFound {
                resource: format!(
                    "the value of secret binding `{name}` of customer `{}` (vault entry \
                     `{key}`); set it again, e.g. with `c15tctl destination edit`",
                    config.customer.id
                ),
            });
        };
        secrets.push((name, value));
    }
    Ok(secrets)
}

/// The plain vars of a generated project, read back from its `wrangler.jsonc` (whose only
/// comments are the header lines).
fn vars_of(files: &[(String, String)]) -> Result<Vec<(String, String)>, ControlError> {
    let Some((_, wrangler)) = files.iter().find(|(p, _)| p == "wrangler.jsonc") else {
        return Ok(Vec::new());
    };
    let json: String = wrangler
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
        ControlError::BadRequest(format!("the stored wrangler.jsonc does not parse: {e}"))
    })?;
    Ok(value
        .get("vars")
        .and_then(|v| v.as_object())
        .map(|vars| {
            vars.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default())
}

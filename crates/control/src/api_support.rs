//! Use cases the HTTP API needs beyond the CLI's: the worker entry alone (what CI downloads),
//! and a page of the fleet's entries in one read, so that the API can fill its download cache
//! at start without one database read per customer. Only `src/index.ts` is generated: the rest
//! of the project (its largest file is the destinations contract) would be garbage at once.

use c15t_codegen::{Input, TargetProfile};
use c15t_model::{CustomerId, Environment};
use c15t_store::{Revision, StoredConfig};

use crate::{Control, ControlError};

/// One page of the fleet's stored configs ([`Control::config_page`]), to generate from with
/// [`Control::generate_page`]. Reading and generating are separate so that a caller can move
/// the generation, which is CPU work, off its async workers. The vaults it holds stay sealed
/// and private to this crate.
#[derive(Debug)]
pub struct ConfigPage {
    configs: Vec<StoredConfig>,
    /// Where the next page starts (`None` after the last page).
    pub next: Option<CustomerId>,
}

impl ConfigPage {
    /// How many customers the page holds.
    pub fn len(&self) -> usize {
        self.configs.len()
    }

    /// Whether the page is empty (there are no more customers).
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty()
    }
}

impl Control {
    /// Every customer's id and current revision (one light query): what a cache of generated
    /// files revalidates against.
    pub async fn customer_revisions(&self) -> Result<Vec<(CustomerId, Revision)>, ControlError> {
        Ok(self.store.customer_revisions().await?)
    }

    /// The stored configs of at most `limit` customers whose id sorts after `after` (from the
    /// first when `None`), in one store read; no vault is opened.
    pub async fn config_page(
        &self,
        after: Option<&CustomerId>,
        limit: u64,
    ) -> Result<ConfigPage, ControlError> {
        let configs = self.store.customer_configs(after, limit).await?;
        let next = match configs.last() {
            Some(last) => Some(
                last.spec
                    .id
                    .parse()
                    .map_err(|e| ControlError::BadRequest(format!("stored customer id: {e}")))?,
            ),
            None => None,
        };
        Ok(ConfigPage { configs, next })
    }

    /// Generates `src/index.ts` of `environment` for each customer of `page`: its id, the
    /// revision generated from and the file. Customers without that environment, or whose
    /// stored config no longer validates, are left out: a request for them reports why. Pure
    /// CPU work (no I/O).
    pub fn generate_page(
        &self,
        page: &ConfigPage,
        environment: &Environment,
        target: &TargetProfile,
    ) -> Vec<(CustomerId, Revision, String)> {
        let mut entries = Vec::with_capacity(page.configs.len());
        for stored in &page.configs {
            let Ok(config) = self.validated(stored) else {
                continue;
            };
            if !config.has_environment(environment) {
                continue;
            }
            let Ok(entry) = c15t_codegen::generate_worker_source(&Input {
                config: &config,
                environment,
                target,
                revision: stored.revision,
            }) else {
                continue;
            };
            entries.push((config.customer.id.clone(), stored.revision, entry));
        }
        entries
    }

    /// A customer's worker entry (`src/index.ts`, byte for byte the project's) and the config
    /// revision it was generated from, in one store read.
    pub async fn generate_entry(
        &self,
        customer: &CustomerId,
        environment: &Environment,
        target: &TargetProfile,
    ) -> Result<(Revision, String), ControlError> {
        let stored = self
            .store
            .customer_get(customer)
            .await?
            .ok_or_else(|| crate::config::not_found(customer))?;
        let config = self.validated(&stored)?;
        let entry = c15t_codegen::generate_worker_source(&Input {
            config: &config,
            environment,
            target,
            revision: stored.revision,
        })?;
        Ok((stored.revision, entry))
    }
}

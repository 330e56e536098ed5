//! Use cases the HTTP API needs beyond the CLI's: the worker entry alone (what CI downloads),
//! and a page of the fleet's entries in one read, so that the API can fill its download cache
//! at start without one database read per customer. Only `src/index.ts` is generated: the rest
//! of the project (its largest file is the destinations contract) would be garbage at once.

use c15t_codegen::{Input, TargetProfile};
use c15t_model::{CustomerId, Environment};
use c15t_store::Revision;

use crate::{Control, ControlError};

/// One page of [`Control::generate_page`].
#[derive(Debug)]
pub struct GeneratedPage {
    /// Each customer that has the environment and whose config validates: its revision and
    /// `src/index.ts`.
    pub entries: Vec<(CustomerId, Revision, String)>,
    /// Where the next page starts (`None` after the last page).
    pub next: Option<CustomerId>,
}

impl Control {
    /// Every customer's id and current revision (one light query): what a cache of generated
    /// files revalidates against.
    pub async fn customer_revisions(&self) -> Result<Vec<(CustomerId, Revision)>, ControlError> {
        Ok(self.store.customer_revisions().await?)
    }

    /// Generates, for at most `limit` customers whose id sorts after `after`, the project of
    /// `environment` from the stored configuration (one store read for the page; no vault is
    /// opened). Customers without that environment, or whose stored config no longer
    /// validates, are left out: a request for them reports why.
    pub async fn generate_page(
        &self,
        environment: &Environment,
        target: &TargetProfile,
        after: Option<&CustomerId>,
        limit: u64,
    ) -> Result<GeneratedPage, ControlError> {
        let page = self.store.customer_configs(after, limit).await?;
        let next = match page.last() {
            Some(last) => Some(
                last.spec
                    .id
                    .parse()
                    .map_err(|e| ControlError::BadRequest(format!("stored customer id: {e}")))?,
            ),
            None => None,
        };
        let mut entries = Vec::with_capacity(page.len());
        for stored in &page {
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
        Ok(GeneratedPage { entries, next })
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

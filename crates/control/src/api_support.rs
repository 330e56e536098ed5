//! Use cases the HTTP API needs beyond the CLI's: generating a page of the fleet's workers in
//! one read, so that the API can fill its download cache at start without one database read
//! per customer.

use c15t_codegen::{Input, Project, TargetProfile};
use c15t_model::{CustomerId, Environment};
use c15t_store::Revision;

use crate::{Control, ControlError};

/// One page of [`Control::generate_page`].
#[derive(Debug)]
pub struct GeneratedPage {
    /// Each customer that has the environment and whose config validates: its revision and
    /// project.
    pub projects: Vec<(CustomerId, Revision, Project)>,
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
        let mut projects = Vec::with_capacity(page.len());
        for stored in &page {
            let Ok(config) = self.validated(stored) else {
                continue;
            };
            if !config.has_environment(environment) {
                continue;
            }
            let Ok(project) = c15t_codegen::generate(&Input {
                config: &config,
                environment,
                target,
                revision: stored.revision,
            }) else {
                continue;
            };
            projects.push((config.customer.id.clone(), stored.revision, project));
        }
        Ok(GeneratedPage { projects, next })
    }
}

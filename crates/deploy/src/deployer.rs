//! The [`Deployer`] trait and its [`DeployOutcome`].

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{DeployError, Release};

/// Turns a [`Release`] into a running or delivered worker.
///
/// Implementations are idempotent per release: deploying a release whose content is already
/// live changes nothing and returns the same outcome.
#[async_trait]
pub trait Deployer: Send + Sync + fmt::Debug {
    /// Deploys `release`.
    async fn deploy(&self, release: &Release) -> Result<DeployOutcome, DeployError>;

    /// Makes an earlier `release` live again (a rollback). `earlier` is what the platform
    /// said when that release was deployed ([`DeployOutcome::remote_version`]), so a
    /// deployer that keeps versions can restore that one instead of shipping the release
    /// again. By default the release is deployed again.
    async fn restore(
        &self,
        release: &Release,
        earlier: Option<&str>,
    ) -> Result<DeployOutcome, DeployError> {
        let _ = earlier;
        self.deploy(release).await
    }
}

/// What a deploy produced; each deployer fills in what applies to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployOutcome {
    /// Where the worker answers (managed deploys).
    pub url: Option<String>,
    /// The platform's id of the uploaded version (managed deploys).
    pub remote_version: Option<String>,
    /// Where the project was written (file deploys): the environment's stable path.
    pub delivered_path: Option<PathBuf>,
    /// The id of the notification that announced the release (notify deploys).
    pub delivery_id: Option<String>,
}

//! The [`Deployer`] trait, its [`DeployOutcome`] and the [`DeployerConfig`] that picks one.

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{DeployError, FileDeployer, Release};

/// Turns a [`Release`] into a running or delivered worker.
///
/// Implementations are idempotent per release: deploying a release whose content is already
/// live changes nothing and returns the same outcome.
#[async_trait]
pub trait Deployer: Send + Sync + fmt::Debug {
    /// Deploys `release`.
    async fn deploy(&self, release: &Release) -> Result<DeployOutcome, DeployError>;
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

/// Which deployer to use, as an operator configures it.
///
/// Serialized with a `type` tag: `{"type": "file", "root": "/srv/c15t"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeployerConfig {
    /// Write projects under `root` ([`FileDeployer`]).
    File {
        /// The deploy root; created if missing.
        root: PathBuf,
    },
}

impl DeployerConfig {
    /// Builds the configured deployer. Does no I/O.
    pub fn build(&self) -> Box<dyn Deployer> {
        match self {
            Self::File { root } => Box::new(FileDeployer::new(root.clone())),
        }
    }
}

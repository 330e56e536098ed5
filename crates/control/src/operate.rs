//! What operating the control plane needs beyond the use cases: opening the database,
//! readiness, queue counts for metrics, and the project archive customers download. The HTTP
//! layer and the binaries reach the store only through these.

use std::sync::Arc;

use c15t_deploy::{ArchiveFormat, Release, ReleaseMeta};
use c15t_model::{CustomerId, Environment};
use c15t_store::{SeaStore, Store};

use crate::views::JobCounts;
use crate::{Control, ControlError};

pub use c15t_store::default_database_url;

/// An open database: what [`Control::new`], [`crate::KeySource::open`] and
/// [`crate::keys_init_for`] take.
pub type Database = Arc<dyn Store>;

/// Opens (creating and migrating as needed) the database at `url`: a SQLite file
/// (`sqlite://path?mode=rwc`, the embedded default [`default_database_url`]) or PostgreSQL
/// (`postgres://...`, for several replicas).
pub async fn open_database(url: &str) -> Result<Database, ControlError> {
    Ok(Arc::new(SeaStore::connect(url).await?))
}

/// Why the process is not ready to serve (see [`Control::ready`]).
#[derive(Debug)]
pub enum NotReady {
    /// The database did not answer a read.
    Unreachable(ControlError),
    /// The database answered but refused a write (full, read-only, ...).
    Writes(ControlError),
    /// The key file loaded at start does not open the stored vaults, or a vault could not be
    /// checked.
    Keys(ControlError),
}

impl NotReady {
    /// One line for an unauthenticated probe: names no customer and no path.
    pub fn reason(&self) -> String {
        match self {
            Self::Unreachable(_) => "database unreachable".to_owned(),
            Self::Writes(e) => e.fault().map_or_else(
                || "the database refused a write".to_owned(),
                |f| f.to_string(),
            ),
            Self::Keys(ControlError::KeyFileMismatch(_)) => {
                "the key file does not open the stored vaults".to_owned()
            }
            Self::Keys(_) => "a stored vault could not be checked".to_owned(),
        }
    }

    /// The error behind it, for the log.
    pub fn error(&self) -> &ControlError {
        match self {
            Self::Unreachable(e) | Self::Writes(e) | Self::Keys(e) => e,
        }
    }
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not ready: {}", self.reason())
    }
}

/// A customer's generated project, ready to be archived in either format. Archives never
/// carry secrets: no vars, no secret bindings, only the generated files.
#[derive(Debug)]
pub struct ProjectArchive {
    release: Release,
    content_hash: String,
}

impl ProjectArchive {
    /// The worker's name (the archive's top directory and file name).
    pub fn worker_name(&self) -> &str {
        self.release.worker_name()
    }

    /// The generated project's content hash (`sha256:<hex>`).
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// The archive in `format`.
    pub fn bytes(&self, format: ArchiveFormat) -> Result<Vec<u8>, ControlError> {
        Ok(c15t_deploy::archive(&self.release, format)?)
    }
}

impl Control {
    /// Readiness: the database answers a read (one primary-key lookup) and takes a write (one
    /// committed probe row; on SQLite, enough free disk), and the most recently written vault
    /// opens with the key file loaded at start.
    pub async fn ready(&self) -> Result<(), NotReady> {
        let probe = CustomerId::new("readyz-probe")
            .map_err(|e| NotReady::Unreachable(ControlError::BadRequest(e.to_string())))?;
        self.store
            .customer_get(&probe)
            .await
            .map_err(|e| NotReady::Unreachable(e.into()))?;
        self.database_ready().await.map_err(NotReady::Writes)?;
        self.keys_ready().await.map_err(NotReady::Keys)
    }

    /// How many jobs of the durable queue are in each state.
    pub async fn job_counts(&self) -> Result<JobCounts, ControlError> {
        Ok(self.store.job_counts().await?.into())
    }

    /// The customer's project for `environment`, generated from the stored config for this
    /// control plane's target, as a downloadable archive.
    pub async fn project_archive(
        &self,
        customer: &CustomerId,
        environment: &Environment,
    ) -> Result<ProjectArchive, ControlError> {
        let target = self.target();
        let project = self.generate(customer, environment, target).await?;
        let content_hash = project.content_hash.clone();
        let meta = ReleaseMeta {
            customer: customer.clone(),
            environment: environment.clone(),
            revision: 0,
            target: target.id.to_owned(),
        };
        Ok(ProjectArchive {
            release: Release::from_project(meta, project, Vec::new(), Vec::new()),
            content_hash,
        })
    }
}

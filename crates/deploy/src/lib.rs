//! Deployers of the c15t control plane: what one deploy ships ([`Release`]), the [`Deployer`]
//! trait every delivery model goes through, and the [`FileDeployer`] for self-hosted and hybrid
//! customers (plus downloadable [`archive`]s of a project).
//!
//! # Delivery models
//!
//! Managed, self-hosted and hybrid/notify delivery all implement [`Deployer`]; which one a
//! deployment uses is configuration ([`DeployerConfig`]). A deployer receives a [`Release`]: the
//! generated project, the JavaScript modules to upload (for deployers that ship a bundle) and
//! the worker's bindings, secret values included.
//!
//! **Invariant:** secret values are plaintext only inside [`Release`] (held in
//! [`c15t_secrets::Secret`], which prints `***`) and at the moment a deployer hands them to the
//! platform that runs the worker. No `Debug`, `Display` or error of this crate shows one, and
//! the file deployer and archives never write one: a self-hoster sets secrets themselves, by
//! the names `.dev.vars.example` lists.

mod archive;
pub mod cloudflare;
mod deployer;
mod error;
mod file;
mod path;
mod release;
pub mod runtime;
pub mod webhook;

pub use archive::{ArchiveFormat, archive};
pub use deployer::{DeployOutcome, Deployer, DeployerConfig};
pub use error::DeployError;
pub use file::FileDeployer;
pub use release::{Module, Release, ReleaseFile, ReleaseMeta};

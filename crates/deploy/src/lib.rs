//! Deployers of the c15t control plane: what one deploy ships ([`Release`]), the [`Deployer`]
//! trait every delivery model goes through, and its backends: [`cloudflare`] (managed: the
//! Workers API), [`FileDeployer`] (self-hosted: the project on disk, plus downloadable
//! [`archive`]s) and [`webhook`] (hybrid/notify: signed Standard Webhooks), with the
//! [`runtime`] bundle managed uploads carry.
//!
//! # Delivery models
//!
//! Managed, self-hosted and hybrid/notify delivery all implement [`Deployer`]. Which one a
//! customer uses is its delivery settings (`c15t_model::DeployTarget`); the control layer builds
//! the deployer from them, the customer's vault (tokens, signing secrets) and the process-wide
//! options (API base, shared rate limits), once per deploy. A deployer receives a [`Release`]: the generated project, the
//! JavaScript modules to upload (for deployers that ship a bundle) and the worker's bindings,
//! secret values included.
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
pub mod gitops;
mod path;
mod release;
pub mod runtime;
pub mod webhook;

pub use archive::{ArchiveFormat, archive};
pub use deployer::{DeployOutcome, Deployer};
pub use error::DeployError;
pub use file::FileDeployer;
pub use release::{Module, Release, ReleaseFile, ReleaseMeta};

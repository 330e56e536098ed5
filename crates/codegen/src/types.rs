//! The generator's input and output types, re-exported at the crate root. Every other module
//! may use them; this one uses none of the crate's modules but [`crate::target`] (a leaf).

use c15t_model::{CustomerConfig, Environment};

use crate::target::TargetProfile;

/// The generator's version, named in every generated header.
pub const GENERATOR_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What to generate: one customer's worker for one environment.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The validated customer configuration.
    pub config: &'a CustomerConfig,
    /// The environment whose worker is generated.
    pub environment: &'a Environment,
    /// Which c15t release the project targets.
    pub target: &'a TargetProfile,
    /// The configuration revision this output is generated from.
    pub revision: u64,
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the project root, `/`-separated, never absolute, never containing `..`.
    pub path: &'static str,
    /// File contents (UTF-8, `\n` line endings).
    pub contents: String,
}

/// A generated project: what [`crate::generate`] returns.
///
/// Write it to disk with [`Project::write_to`] (atomic, refusing paths that leave the
/// directory) and review it as one text with [`Project::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The worker's name on Cloudflare.
    pub worker_name: String,
    /// Files, sorted by path; every path is relative, `/`-separated and free of `..`.
    pub files: Vec<GeneratedFile>,
    /// `sha256:` and the hex SHA-256 over every path and content, in path order.
    pub content_hash: String,
    /// `sha256:` and the hex SHA-256 of the input (configuration, environment, target,
    /// generator version), as named in the headers.
    pub input_hash: String,
}

impl Project {
    /// Looks a file up by path.
    pub fn file(&self, path: &str) -> Option<&GeneratedFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

//! [`Release`]: everything one deploy ships.

use std::fmt;

use c15t_codegen::Project;
use c15t_model::{CustomerId, Environment};
use c15t_secrets::Secret;
use sha2::{Digest, Sha256};

/// Which customer, environment, configuration revision and target a release belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseMeta {
    /// The customer.
    pub customer: CustomerId,
    /// The environment the worker serves.
    pub environment: Environment,
    /// The configuration revision the project was generated from.
    pub revision: u64,
    /// The target profile's id (`c15t_codegen::TargetProfile::id`).
    pub target: String,
}

/// One file of a release's project.
#[derive(Clone, PartialEq, Eq)]
pub struct ReleaseFile {
    /// Path relative to the project root, `/`-separated. Deployers refuse a path that is
    /// absolute or not plain (see [`crate::DeployError::UnsafePath`]).
    pub path: String,
    /// File contents.
    pub contents: String,
}

impl fmt::Debug for ReleaseFile {
    // Contents are left out: a project's files run to hundreds of lines each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReleaseFile")
            .field("path", &self.path)
            .field("len", &self.contents.len())
            .finish()
    }
}

/// A JavaScript module uploaded to a platform that runs bundles.
#[derive(Clone, PartialEq, Eq)]
pub struct Module {
    /// The module's name, as imports refer to it (`index.js`).
    pub name: String,
    /// Its content type, e.g. `application/javascript+module`.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// What one deploy ships: one customer's worker for one environment at one configuration
/// revision.
///
/// The content hash is always computed here from the files, as the generator computes it, so a
/// release's hash cannot disagree with its files. Files are kept sorted by path.
///
/// `Debug` shows metadata, file paths and sizes, var values and secret names; secret values
/// print as `***`.
#[derive(Clone)]
pub struct Release {
    meta: ReleaseMeta,
    worker_name: String,
    files: Vec<ReleaseFile>,
    content_hash: String,
    modules: Vec<Module>,
    vars: Vec<(String, String)>,
    secrets: Vec<(String, Secret)>,
}

impl Release {
    /// A release of a generated project.
    ///
    /// `vars` and `secrets` are the worker's bindings by name (`c15t_model::Bindings::vars`
    /// and the decrypted values of `c15t_model::Bindings::secrets`, as the control plane's
    /// fleet preparation builds them). Modules start empty; see [`Release::with_modules`].
    pub fn from_project(
        meta: ReleaseMeta,
        project: Project,
        vars: Vec<(String, String)>,
        secrets: Vec<(String, Secret)>,
    ) -> Self {
        let files = project
            .files
            .into_iter()
            .map(|f| ReleaseFile {
                path: f.path.to_owned(),
                contents: f.contents,
            })
            .collect();
        let release = Self::from_files(meta, project.worker_name, files, vars, secrets);
        debug_assert_eq!(
            release.content_hash, project.content_hash,
            "the release hash is the generator's"
        );
        release
    }

    /// A release of arbitrary project files (a stored release, a test fixture).
    pub fn from_files(
        meta: ReleaseMeta,
        worker_name: String,
        mut files: Vec<ReleaseFile>,
        vars: Vec<(String, String)>,
        secrets: Vec<(String, Secret)>,
    ) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let content_hash = content_hash(&files);
        Self {
            meta,
            worker_name,
            files,
            content_hash,
            modules: Vec::new(),
            vars,
            secrets,
        }
    }

    /// The same release with the JavaScript modules a bundle-running platform uploads.
    pub fn with_modules(mut self, modules: Vec<Module>) -> Self {
        self.modules = modules;
        self
    }

    /// Customer, environment, revision and target.
    pub fn meta(&self) -> &ReleaseMeta {
        &self.meta
    }

    /// The customer.
    pub fn customer(&self) -> &CustomerId {
        &self.meta.customer
    }

    /// The environment.
    pub fn environment(&self) -> &Environment {
        &self.meta.environment
    }

    /// The configuration revision.
    pub fn revision(&self) -> u64 {
        self.meta.revision
    }

    /// The target profile's id.
    pub fn target(&self) -> &str {
        &self.meta.target
    }

    /// The worker's name on Cloudflare.
    pub fn worker_name(&self) -> &str {
        &self.worker_name
    }

    /// The project's files, sorted by path.
    pub fn files(&self) -> &[ReleaseFile] {
        &self.files
    }

    /// Looks a file up by path.
    pub fn file(&self, path: &str) -> Option<&ReleaseFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// `sha256:` and the hex SHA-256 over every path and content in path order, the same
    /// hash `c15t_codegen::Project::content_hash` gives for the same files.
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// The hex digits of [`Release::content_hash`], safe as a file name.
    pub(crate) fn content_hash_hex(&self) -> &str {
        self.content_hash
            .strip_prefix(HASH_PREFIX)
            .expect("content hashes are built with the prefix")
    }

    /// JavaScript modules to upload; empty for deployers that ship source.
    pub fn modules(&self) -> &[Module] {
        &self.modules
    }

    /// Plain vars, name and value.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// Secret bindings, name and value.
    pub fn secrets(&self) -> &[(String, Secret)] {
        &self.secrets
    }
}

impl fmt::Debug for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Release")
            .field("meta", &self.meta)
            .field("worker_name", &self.worker_name)
            .field("content_hash", &self.content_hash)
            .field("files", &self.files)
            .field("modules", &self.modules)
            .field("vars", &self.vars)
            // `Secret`'s own `Debug` prints `***`.
            .field("secrets", &self.secrets)
            .finish()
    }
}

const HASH_PREFIX: &str = "sha256:";

/// The generator's content hash: per file, its path, a NUL, its length as a big-endian `u64`
/// and its contents.
fn content_hash(files: &[ReleaseFile]) -> String {
    let mut hasher = Sha256::new();
    for f in files {
        hasher.update(f.path.as_bytes());
        hasher.update([0]);
        hasher.update((f.contents.len() as u64).to_be_bytes());
        hasher.update(f.contents.as_bytes());
    }
    format!("{HASH_PREFIX}{}", hex::encode(hasher.finalize()))
}

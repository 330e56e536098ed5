//! Generates a customer's c15t Cloudflare Worker project: TypeScript source, the TypeScript
//! contract of `@c15t/destinations`, wrangler and npm configuration, and a README.
//!
//! The generator is pure: [`generate`] returns files and a content hash and never touches the
//! filesystem or the network. The same input always gives byte-identical output (no
//! timestamps), formatted as c15t's own Biome settings format code. Secret values are never
//! needed: generated code reads every secret from the worker's environment.

mod contract;
mod lang;
pub mod literal;
mod project;
pub mod target;
mod worker;

use c15t_model::{Bindings, CustomerConfig, Destination, Environment};
use sha2::{Digest, Sha256};

pub use target::{DestinationsMode, TargetProfile};

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

/// Why generation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// The environment is not one of the customer's.
    #[error(
        "customer `{customer}` has no environment `{environment}`; its environments are {known}"
    )]
    UnknownEnvironment {
        /// The customer.
        customer: String,
        /// The requested environment.
        environment: String,
        /// The customer's environments, formatted for the message.
        known: String,
    },
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the project root, `/`-separated, never absolute, never containing `..`.
    pub path: &'static str,
    /// File contents (UTF-8, `\n` line endings).
    pub contents: String,
}

/// A generated project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The worker's name on Cloudflare.
    pub worker_name: String,
    /// Files, sorted by path.
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

/// Generates the whole project.
pub fn generate(input: &Input<'_>) -> Result<Project, GenerateError> {
    check_environment(input)?;
    let destinations: Vec<&Destination> =
        input.config.destinations_for(input.environment).collect();
    let bindings = Bindings::plan_for(input.config, &destinations);
    let input_hash = input_hash(input);
    let mut files = project::files(input, &destinations, &bindings, &input_hash);
    files.sort_by(|a, b| a.path.cmp(b.path));
    let mut hasher = Sha256::new();
    for f in &files {
        hasher.update(f.path.as_bytes());
        hasher.update([0]);
        hasher.update((f.contents.len() as u64).to_be_bytes());
        hasher.update(f.contents.as_bytes());
    }
    Ok(Project {
        worker_name: c15t_model::worker_name(&input.config.customer.id, input.environment),
        files,
        content_hash: format!("sha256:{}", hex::encode(hasher.finalize())),
        input_hash,
    })
}

/// Generates only `src/index.ts` (what the benchmark measures and snapshot users may want).
pub fn generate_worker_source(input: &Input<'_>) -> Result<String, GenerateError> {
    check_environment(input)?;
    let destinations: Vec<&Destination> =
        input.config.destinations_for(input.environment).collect();
    let bindings = Bindings::plan_for(input.config, &destinations);
    let input_hash = input_hash(input);
    Ok(worker::render(input, &destinations, &bindings, &input_hash))
}

fn check_environment(input: &Input<'_>) -> Result<(), GenerateError> {
    if input.config.has_environment(input.environment) {
        return Ok(());
    }
    Err(GenerateError::UnknownEnvironment {
        customer: input.config.customer.id.to_string(),
        environment: input.environment.to_string(),
        known: input
            .config
            .environments
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Hash of everything the output depends on except the revision number.
fn input_hash(input: &Input<'_>) -> String {
    let spec = input.config.to_spec();
    let mut hasher = Sha256::new();
    hasher.update(GENERATOR_VERSION.as_bytes());
    hasher.update([0]);
    hasher.update(input.target.id.as_bytes());
    hasher.update([0]);
    hasher.update(input.environment.as_str().as_bytes());
    hasher.update([0]);
    // Serialising the declarative form cannot fail: it holds only strings, numbers and maps.
    let json = serde_json::to_vec(&spec).expect("a customer spec serialises");
    hasher.update(&json);
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// The "generated, do not edit" header lines shared by every file that takes comments.
pub(crate) fn header_lines(input: &Input<'_>, input_hash: &str) -> Vec<String> {
    vec![
        format!(
            "Generated by c15t-codegen {GENERATOR_VERSION} (target {}). Do not edit: changes are overwritten.",
            input.target.id
        ),
        format!(
            "Customer {}, environment {}, config revision {}, input {}.",
            input.config.customer.id,
            input.environment,
            input.revision,
            short_hash(input_hash)
        ),
    ]
}

/// The first 16 hex digits of a `sha256:` hash, enough to tell inputs apart in a header.
fn short_hash(hash: &str) -> &str {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    &hex[..16.min(hex.len())]
}

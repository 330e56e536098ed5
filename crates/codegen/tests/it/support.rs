//! Fixture loading shared by the suites: a case is a directory under `tests/fixtures/cases/`
//! holding `customer.toml` and, optionally, `generate.toml` (`environment`, `target`,
//! `revision`).

use std::path::{Path, PathBuf};

use c15t_codegen::{Input, Project, TargetProfile, generate};
use c15t_model::{Catalogue, CustomerConfig, CustomerSpec, Environment};
use serde::Deserialize;

/// How a case is generated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "production")]
    environment: String,
    #[serde(default = "default_target")]
    target: String,
    #[serde(default = "first_revision")]
    revision: u64,
}

fn production() -> String {
    Environment::PRODUCTION.to_owned()
}
fn default_target() -> String {
    TargetProfile::ALL[0].id.to_owned()
}
fn first_revision() -> u64 {
    1
}

/// A loaded fixture case.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub config: CustomerConfig,
    pub environment: Environment,
    pub target: &'static TargetProfile,
    pub revision: u64,
}

impl Case {
    /// The generator's input for this case.
    pub fn input(&self) -> Input<'_> {
        Input {
            config: &self.config,
            environment: &self.environment,
            target: self.target,
            revision: self.revision,
        }
    }

    pub fn generate(&self) -> Project {
        generate(&self.input()).unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases")
}

/// Every case directory, sorted by name.
pub fn all_cases() -> Vec<Case> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("fixture cases directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.join("customer.toml").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 7, "fixture cases are missing: {dirs:?}");
    dirs.iter().map(|d| load_case(d)).collect()
}

pub fn load_case(dir: &Path) -> Case {
    let name = dir
        .file_name()
        .expect("case name")
        .to_string_lossy()
        .into_owned();
    let text = std::fs::read_to_string(dir.join("customer.toml")).expect("customer.toml");
    let spec: CustomerSpec =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: customer.toml: {e}"));
    let config = spec
        .validate(&Catalogue::builtin())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let options: Options = match std::fs::read_to_string(dir.join("generate.toml")) {
        Ok(t) => toml::from_str(&t).unwrap_or_else(|e| panic!("{name}: generate.toml: {e}")),
        Err(_) => toml::from_str("").expect("defaults"),
    };
    Case {
        name,
        config,
        environment: Environment::new(options.environment).expect("environment"),
        target: TargetProfile::by_id(&options.target).expect("known target"),
        revision: options.revision,
    }
}

//! `Release`: the generator's hash, sorted files, and a `Debug` that hides secrets.

use c15t_codegen::{Input, TargetProfile, generate};
use c15t_deploy::{Module, Release};
use c15t_model::{Bindings, Catalogue, CustomerConfig, CustomerSpec, Environment};
use c15t_secrets::Secret;

use crate::support::{CANARY, file, meta, release, with_files};

const CUSTOMER: &str = r#"
id = "acme"
name = "Acme"
trusted_origins = ["https://acme.example.com"]

[database]
url = "libsql://acme.turso.io"
auth_token = { env = "TURSO_AUTH_TOKEN" }

[[destinations]]
id = "meta-pixel"
name = "Meta Pixel"
type = "meta-pixel"
[destinations.settings]
pixelId = "1234567890"
accessToken = { env = "META_TOKEN" }
"#;

pub fn config() -> CustomerConfig {
    let spec: CustomerSpec = toml::from_str(CUSTOMER).expect("customer spec");
    spec.validate(&Catalogue::builtin()).expect("valid config")
}

/// A release of a really generated project, every secret binding holding the canary.
pub fn generated_release() -> Release {
    let config = config();
    let environment = Environment::production();
    let target = &TargetProfile::ALL[0];
    let project = generate(&Input {
        config: &config,
        environment: &environment,
        target,
        revision: 3,
    })
    .expect("generate");
    let bindings = Bindings::plan(&config, &environment);
    let secrets = bindings
        .secrets
        .iter()
        .map(|b| (b.name.clone(), Secret::from(CANARY)))
        .collect();
    let mut meta = meta("acme");
    meta.target = target.id.to_owned();
    Release::from_project(meta, project, bindings.vars, secrets)
}

#[test]
fn from_project_keeps_the_generators_hash_and_files() {
    let config = config();
    let environment = Environment::production();
    let project = generate(&Input {
        config: &config,
        environment: &environment,
        target: &TargetProfile::ALL[0],
        revision: 3,
    })
    .expect("generate");
    let release = generated_release();
    assert_eq!(release.content_hash(), project.content_hash);
    assert_eq!(release.worker_name(), project.worker_name);
    let paths: Vec<&str> = release.files().iter().map(|f| f.path.as_str()).collect();
    let expected: Vec<&str> = project.files.iter().map(|f| f.path).collect();
    assert_eq!(paths, expected);
    assert_eq!(
        release.secrets().len(),
        2,
        "database token and the pixel token"
    );
}

#[test]
fn the_hash_depends_on_content_not_on_file_order() {
    let a = with_files("acme", vec![file("b.ts", "b"), file("a.ts", "a")]);
    let b = with_files("acme", vec![file("a.ts", "a"), file("b.ts", "b")]);
    assert_eq!(a.content_hash(), b.content_hash());
    assert_eq!(a.files()[0].path, "a.ts", "files are sorted by path");
    let c = with_files("acme", vec![file("a.ts", "a"), file("b.ts", "c")]);
    assert_ne!(a.content_hash(), c.content_hash());
    assert!(a.content_hash().starts_with("sha256:"));
    assert_eq!(a.content_hash().len(), "sha256:".len() + 64);
}

#[test]
fn debug_never_shows_a_secret_value_or_module_bytes() {
    let release = release("A", false).with_modules(vec![Module {
        name: "index.js".to_owned(),
        content_type: "application/javascript+module".to_owned(),
        bytes: b"export default { fetch() {} } // module-body-marker".to_vec(),
    }]);
    let debug = format!("{release:?}");
    assert!(!debug.contains(CANARY), "{debug}");
    assert!(
        debug.contains("TURSO_AUTH_TOKEN"),
        "names are shown: {debug}"
    );
    assert!(debug.contains("***"), "{debug}");
    assert!(!debug.contains("module-body-marker"), "{debug}");
    assert_eq!(release.modules().len(), 1);
    let pretty = format!("{release:#?}");
    assert!(!pretty.contains(CANARY));
}

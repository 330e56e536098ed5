//! How a Rust program embeds the c15t generator: a customer built in code (no customer file),
//! generated for one environment, written to disk. `tests/snapshot.rs` snapshot-tests the
//! result; see README.md.

use c15t_codegen::{GenerateError, Input, Project, TargetProfile};
use c15t_model::{
    Catalogue, CustomerConfig, CustomerSpec, DatabaseSpec, DestinationSpec, Environment, RawValue,
    SecretRef, ValidationErrors,
};

/// A secret setting: the worker reads it from its environment variable `var`; the value is
/// never part of the configuration.
fn secret(var: &str) -> RawValue {
    RawValue::Secret(SecretRef::Env(var.to_owned()))
}

/// A plain setting.
fn text(value: &str) -> RawValue {
    RawValue::Text(value.to_owned())
}

/// A destination of catalogue kind `kind`, in every environment unless `environment` says one.
fn destination(
    id: &str,
    name: &str,
    kind: &str,
    environment: Option<&str>,
    settings: &[(&str, RawValue)],
) -> DestinationSpec {
    DestinationSpec {
        id: id.to_owned(),
        name: name.to_owned(),
        kind: kind.to_owned(),
        enabled: true,
        environment: environment.map(str::to_owned),
        category: None,
        settings: settings
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect(),
    }
}

/// The customer, as a team would build it from its own data (a database row, a form, an
/// admin tool), validated against the built-in catalogue like a customer file would be.
pub fn customer() -> Result<CustomerConfig, ValidationErrors> {
    CustomerSpec {
        id: "acme".to_owned(),
        name: "Acme Inc.".to_owned(),
        environments: Some(vec!["production".to_owned(), "staging".to_owned()]),
        trusted_origins: vec![
            "https://www.acme.example".to_owned(),
            "https://staging.acme.example".to_owned(),
        ],
        log_level: Some("warn".to_owned()),
        database: DatabaseSpec {
            provider: "turso".to_owned(),
            url: "libsql://acme.turso.io".to_owned(),
            auth_token: secret("TURSO_AUTH_TOKEN"),
        },
        events_debug_secret: None,
        destinations: vec![
            destination(
                "meta",
                "Meta Pixel",
                "meta-pixel",
                Some("production"),
                &[
                    ("pixelId", text("1234567890")),
                    ("accessToken", secret("META_ACCESS_TOKEN")),
                ],
            ),
            destination(
                "posthog",
                "PostHog",
                "posthog",
                None,
                &[
                    ("apiKey", text("phc_acme1234567890")),
                    ("host", text("https://eu.i.posthog.com")),
                ],
            ),
            destination(
                "plausible",
                "Plausible (staging only)",
                "plausible",
                Some("staging"),
                &[("domain", text("staging.acme.example"))],
            ),
        ],
    }
    .validate(&Catalogue::builtin())
}

/// Generates `config`'s worker project for `environment`, for the default target.
pub fn generate(
    config: &CustomerConfig,
    environment: &Environment,
    revision: u64,
) -> Result<Project, GenerateError> {
    c15t_codegen::generate(&Input {
        config,
        environment,
        target: &TargetProfile::default(),
        revision,
    })
}

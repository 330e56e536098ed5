//! Generates a customer's c15t Cloudflare Worker project: TypeScript source, the TypeScript
//! contract of `@c15t/destinations`, wrangler and npm configuration, and a README.
//!
//! The generator is pure: [`generate`] returns files and a content hash and never touches the
//! filesystem or the network. The same input always gives byte-identical output (no
//! timestamps), formatted as c15t's own Biome settings format code. Secret values are never
//! needed: generated code reads every secret from the worker's environment.
//!
//! For managed deploys the same worker is also emitted as one JavaScript module
//! ([`generate_worker_module`]) importing everything from a prebuilt c15t runtime module, whose
//! bundler entry is [`runtime_entry_source`]: no bundling per deploy.

mod contract;
mod lang;
pub mod literal;
mod project;
pub mod target;
mod worker;

use c15t_model::{Bindings, CustomerConfig, Destination, Environment, SettingValue};
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
    Ok(worker::render(
        input,
        &destinations,
        &bindings,
        &input_hash,
        worker::Flavour::TypeScript,
    ))
}

/// Generates the worker as one JavaScript module for upload next to a prebuilt c15t runtime
/// module: the same worker as `src/index.ts` (same template, header and layout) without type
/// annotations, `interface Env` or `satisfies`, and with every import taken from
/// `runtime_module`, the specifier of the runtime module as the upload names it (for example
/// `./c15t-runtime-0123456789abcdef.js`).
///
/// The runtime module must export every name of [`runtime_export_names`] for the same target;
/// [`runtime_entry_source`] is the entry that a bundler turns into such a module. Like
/// `src/index.ts`, the module reads every secret from `env` and inlines none.
pub fn generate_worker_module(
    input: &Input<'_>,
    runtime_module: &str,
) -> Result<String, GenerateError> {
    check_environment(input)?;
    let destinations: Vec<&Destination> =
        input.config.destinations_for(input.environment).collect();
    let bindings = Bindings::plan_for(input.config, &destinations);
    let input_hash = input_hash(input);
    Ok(worker::render(
        input,
        &destinations,
        &bindings,
        &input_hash,
        worker::Flavour::JavaScript { runtime_module },
    ))
}

/// The JavaScript entry of `target`'s runtime module: it imports from the npm packages
/// (`@c15t/backend`, `kysely`, `@libsql/kysely-libsql`, `@c15t/destinations`) every name
/// that a worker generated by [`generate_worker_module`] for `target` may import, and exports
/// them all. Bundling it (esbuild, once per target) gives the runtime module.
///
/// The same target always gives the same text.
pub fn runtime_entry_source(target: &TargetProfile) -> String {
    worker::render_runtime_entry(target)
}

/// The names a runtime module of `target` must export: those the generated entries import
/// (`c15tInstance`, `kyselyAdapter`, `Kysely`, `LibsqlDialect`, `createAnalyticsHandler` when
/// the target routes `/analytics` itself) and the factory of every catalogue kind.
pub fn runtime_export_names(target: &TargetProfile) -> Vec<&'static str> {
    worker::runtime_imports(target)
        .into_iter()
        .map(|(_, name)| name)
        .collect()
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
///
/// The configuration is hashed as the JSON of its declarative form
/// ([`CustomerConfig::to_spec`]); [`write_spec_json`] writes exactly that JSON straight from
/// the configuration, without building the declarative copy.
fn input_hash(input: &Input<'_>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(GENERATOR_VERSION.as_bytes());
    hasher.update([0]);
    hasher.update(input.target.id.as_bytes());
    hasher.update([0]);
    hasher.update(input.environment.as_str().as_bytes());
    hasher.update([0]);
    let mut json = Vec::with_capacity(1024 + 512 * input.config.destinations.len());
    write_spec_json(&mut json, input.config);
    hasher.update(&json);
    let digest = hasher.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    push_hex(&mut out, &digest);
    out
}

/// Appends the lowercase hex digits of `bytes`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

/// Writes the JSON of `config`'s declarative form, byte for byte what
/// `serde_json::to_vec(&config.to_spec())` gives (same fields, order, omissions and escapes),
/// without building the declarative copy.
fn write_spec_json(out: &mut Vec<u8>, config: &CustomerConfig) {
    let customer = &config.customer;
    let c15t_model::DatabaseBinding::Turso { url, auth_token } = &customer.database;
    out.extend_from_slice(b"{\"id\":");
    json_str(out, customer.id.as_str());
    out.extend_from_slice(b",\"name\":");
    json_str(out, &customer.display_name);
    out.extend_from_slice(b",\"environments\":");
    json_seq(out, config.environments.iter().map(Environment::as_str));
    out.extend_from_slice(b",\"trusted_origins\":");
    json_seq(out, customer.trusted_origins.iter().map(|o| o.as_str()));
    out.extend_from_slice(b",\"log_level\":");
    json_str(out, customer.log_level.as_str());
    out.extend_from_slice(b",\"database\":{\"provider\":\"turso\",\"url\":");
    json_str(out, url);
    out.extend_from_slice(b",\"auth_token\":");
    json_value(out, auth_token);
    out.extend_from_slice(b"},\"destinations\":[");
    for (i, d) in config.destinations.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        json_str(out, d.id.as_str());
        out.extend_from_slice(b",\"name\":");
        json_str(out, &d.name);
        out.extend_from_slice(b",\"type\":");
        json_str(out, d.kind.slug);
        out.extend_from_slice(if d.enabled {
            b",\"enabled\":true"
        } else {
            b",\"enabled\":false"
        });
        if let c15t_model::EnvironmentScope::Only(e) = &d.environment {
            out.extend_from_slice(b",\"environment\":");
            json_str(out, e.as_str());
        }
        out.extend_from_slice(b",\"category\":");
        json_str(out, d.category.as_str());
        out.extend_from_slice(b",\"settings\":{");
        for (j, (key, value)) in d.settings.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            json_str(out, key);
            out.push(b':');
            match value {
                SettingValue::Text(text) => json_str(out, text),
                SettingValue::Bool(true) => out.extend_from_slice(b"true"),
                SettingValue::Bool(false) => out.extend_from_slice(b"false"),
                // The declarative value serialises the same untagged shapes.
                other => json_value(out, other),
            }
        }
        out.extend_from_slice(b"}}");
    }
    out.extend_from_slice(b"]}");
}

/// Writes `value` with serde_json (numbers and secret references).
fn json_value(out: &mut Vec<u8>, value: &impl serde::Serialize) {
    // Serialising cannot fail: these hold only strings, numbers and maps.
    serde_json::to_writer(out, value).expect("a setting serialises");
}

/// Writes a JSON array of strings.
fn json_seq<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = &'a str>) {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, item);
    }
    out.push(b']');
}

/// Writes a JSON string literal with serde_json's escapes.
fn json_str(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = value.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Skip eight bytes at a time while none needs an escape (SWAR: no byte below 0x20, no `"`,
    // no backslash).
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut clean = 0;
    while let Some(chunk) = bytes.get(clean..clean + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // Non-zero exactly when some byte is below 0x20 ("hasless" of the bit hacks).
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        if control != 0
            || has_zero(x ^ (ONES * u64::from(b'"'))) != 0
            || has_zero(x ^ (ONES * u64::from(b'\\'))) != 0
        {
            break;
        }
        clean += 8;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The "generated, do not edit" header lines shared by every file that takes comments.
pub(crate) fn header_lines(input: &Input<'_>, input_hash: &str) -> Vec<String> {
    let mut text = String::with_capacity(256);
    write_header_lines(&mut text, "", "\n", input, input_hash);
    text.lines().map(str::to_owned).collect()
}

/// Writes the header lines into `out`, each between `prefix` and `suffix`.
pub(crate) fn write_header_lines(
    out: &mut String,
    prefix: &str,
    suffix: &str,
    input: &Input<'_>,
    input_hash: &str,
) {
    use std::fmt::Write as _;
    out.push_str(prefix);
    out.push_str("Generated by c15t-codegen ");
    out.push_str(GENERATOR_VERSION);
    out.push_str(" (target ");
    out.push_str(input.target.id);
    out.push_str("). Do not edit: changes are overwritten.");
    out.push_str(suffix);
    out.push_str(prefix);
    out.push_str("Customer ");
    out.push_str(input.config.customer.id.as_str());
    out.push_str(", environment ");
    out.push_str(input.environment.as_str());
    let _ = write!(out, ", config revision {}, input ", input.revision);
    out.push_str(short_hash(input_hash));
    out.push('.');
    out.push_str(suffix);
}

/// The first 16 hex digits of a `sha256:` hash, enough to tell inputs apart in a header.
fn short_hash(hash: &str) -> &str {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    &hex[..16.min(hex.len())]
}

#[cfg(test)]
mod tests {
    use c15t_model::{Catalogue, CustomerSpec};

    use super::{json_str, write_spec_json};

    #[test]
    fn spec_json_matches_the_declarative_form() {
        let cases = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases");
        let mut seen = 0;
        for entry in std::fs::read_dir(cases).expect("fixture cases") {
            let path = entry.expect("entry").path().join("customer.toml");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let spec: CustomerSpec = toml::from_str(&text).expect("customer file");
            let config = spec.validate(&Catalogue::builtin()).expect("valid fixture");
            let expected = serde_json::to_vec(&config.to_spec()).expect("serialises");
            let mut actual = Vec::new();
            write_spec_json(&mut actual, &config);
            assert_eq!(
                String::from_utf8(actual).expect("utf-8"),
                String::from_utf8(expected).expect("utf-8"),
                "{}",
                path.display()
            );
            seen += 1;
        }
        assert!(seen >= 5, "fixture cases found: {seen}");
    }

    #[test]
    fn json_strings_escape_as_serde_json_does() {
        for text in [
            "",
            "plain",
            "quote \" and \\ backslash",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} \u{7f}",
            "caf\u{e9} \u{2028}\u{202e} \u{1f600}",
            "0123456789abcdef\"0123456789abcdef",
            "0123456789abcdef\\0123456789abcdef\u{1f}",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\n\u{e9}\u{e9}\u{e9}\u{e9}",
            "abcdefg\u{7f}\u{80}\u{ff}\u{100}hijklmnop\t",
        ] {
            let mut actual = Vec::new();
            json_str(&mut actual, text);
            assert_eq!(
                actual,
                serde_json::to_vec(text).expect("serialises"),
                "{text:?}"
            );
        }
        // Every byte value at every offset of an eight-byte chunk.
        for c in (0u8..0x80).map(char::from).chain(['\u{e9}', '\u{2028}']) {
            for at in 0..17 {
                let mut text: String = "x".repeat(at);
                text.push(c);
                text.push_str("yyyyyyyyyyyyyyyy");
                let mut actual = Vec::new();
                json_str(&mut actual, &text);
                assert_eq!(
                    actual,
                    serde_json::to_vec(&text).expect("serialises"),
                    "{text:?}"
                );
            }
        }
    }
}

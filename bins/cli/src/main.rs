//! `c15tctl`: validate declarative customer files, list the destination catalogue, and generate
//! c15t worker projects. Thin: parsing flags, reading and writing files, printing; the work is
//! done by `c15t-model` and `c15t-codegen`.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use c15t_codegen::{Input, TargetProfile, generate};
use c15t_model::{Catalogue, CustomerConfig, CustomerSpec, Environment, FieldType};
use clap::{Parser, Subcommand};

/// Exit code for invalid input (validation errors, unreadable or malformed files).
const EXIT_INVALID: u8 = 2;
/// Exit code for failures writing output.
const EXIT_IO: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "c15tctl",
    version,
    about = "c15t control plane: customer configs and worker generation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a worker project from a customer file into a directory.
    Generate {
        /// The declarative customer file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Output directory; created if missing, generated files are overwritten.
        #[arg(long, short)]
        out: PathBuf,
        /// The environment to generate.
        #[arg(long = "env", default_value = Environment::PRODUCTION)]
        environment: String,
        /// Target profile (see `c15tctl targets`).
        #[arg(long, default_value = TargetProfile::ALL[0].id)]
        target: String,
        /// Config revision recorded in the generated headers.
        #[arg(long, default_value_t = 1)]
        revision: u64,
    },
    /// Check a customer file and report every problem.
    Validate {
        /// The declarative customer file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// List the destination kinds and their settings.
    Catalogue {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the target profiles.
    Targets,
}

/// An error that carries its exit code.
#[derive(Debug)]
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn invalid(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: EXIT_INVALID,
        error: error.into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {:#}", f.error);
            }
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Generate {
            config,
            out,
            environment,
            target,
            revision,
        } => {
            let customer = load(&config)?;
            let environment = Environment::new(environment.as_str())
                .map_err(|e| invalid(anyhow::anyhow!("--env: {e}")))?;
            let target = TargetProfile::by_id(&target).ok_or_else(|| {
                let ids: Vec<_> = TargetProfile::ALL
                    .iter()
                    .map(|t| format!("`{}`", t.id))
                    .collect();
                invalid(anyhow::anyhow!(
                    "--target: unknown target `{target}`; use one of {}",
                    ids.join(", ")
                ))
            })?;
            let project = generate(&Input {
                config: &customer,
                environment: &environment,
                target,
                revision,
            })
            .map_err(invalid)?;
            write_project(&out, &project).map_err(|error| Failure {
                code: EXIT_IO,
                error,
            })?;
            print(&format!(
                "generated {} ({} files, {}) into {}",
                project.worker_name,
                project.files.len(),
                project.content_hash,
                out.display()
            ));
            Ok(())
        }
        Command::Validate { config } => {
            let customer = load(&config)?;
            print(&format!(
                "{}: ok (customer `{}`, {} destinations, environments {})",
                config.display(),
                customer.customer.id,
                customer.destinations.len(),
                customer
                    .environments
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            Ok(())
        }
        Command::Catalogue { json } => {
            print(&if json {
                catalogue_json()
            } else {
                catalogue_table()
            });
            Ok(())
        }
        Command::Targets => {
            for t in TargetProfile::ALL {
                print(&format!("{:<16} {}", t.id, t.description));
            }
            Ok(())
        }
    }
}

#[allow(clippy::print_stdout)]
fn print(s: &str) {
    println!("{s}");
}

/// Reads, parses and validates a customer file.
fn load(path: &Path) -> Result<CustomerConfig, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read customer file {}", path.display()))
        .map_err(invalid)?;
    let spec: CustomerSpec = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid customer file", path.display()))
        .map_err(invalid)?;
    spec.validate(&Catalogue::builtin())
        .with_context(|| format!("{} is invalid", path.display()))
        .map_err(invalid)
}

/// Writes every generated file under `out`, refusing any path that would leave it.
fn write_project(out: &Path, project: &c15t_codegen::Project) -> Result<()> {
    for file in &project.files {
        let rel = Path::new(file.path);
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            bail!(
                "refusing to write `{}`: not a plain relative path",
                file.path
            );
        }
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create directory {}", parent.display()))?;
        }
        std::fs::write(&path, &file.contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn field_type(ty: FieldType) -> String {
    match ty {
        FieldType::Enum(values) => format!("enum({})", values.join("|")),
        other => other.name().to_owned(),
    }
}

fn catalogue_table() -> String {
    let mut out = String::new();
    for kind in Catalogue::builtin().kinds() {
        out.push_str(&format!(
            "{}  {} ({}, factory {}, {})\n",
            kind.slug,
            kind.display_name,
            kind.default_category,
            kind.factory_name(),
            kind.docs_url
        ));
        for f in kind.fields {
            let mut flags = Vec::new();
            if f.required {
                flags.push("required");
            }
            if f.secret {
                flags.push("secret");
            }
            out.push_str(&format!(
                "    {:<20} {:<12} {:<18} {}\n",
                f.key,
                field_type(f.ty),
                flags.join(","),
                f.description
            ));
        }
    }
    out.trim_end().to_owned()
}

fn catalogue_json() -> String {
    let kinds: Vec<serde_json::Value> = Catalogue::builtin()
        .kinds()
        .iter()
        .map(|k| {
            serde_json::json!({
                "slug": k.slug,
                "display_name": k.display_name,
                "factory": k.factory_name(),
                "default_category": k.default_category,
                "docs_url": k.docs_url,
                "fields": k.fields.iter().map(|f| serde_json::json!({
                    "key": f.key,
                    "label": f.label,
                    "type": f.ty.name(),
                    "values": match f.ty { FieldType::Enum(v) => Some(v), _ => None },
                    "required": f.required,
                    "secret": f.secret,
                    "pattern": f.pattern.map(|p| p.regex),
                    "pattern_description": f.pattern.map(|p| p.expected),
                    "description": f.description,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&kinds).expect("catalogue serialises")
}

//! `c15tctl runtime`: the c15t runtime module (`@c15t/backend`, kysely, the libSQL dialect and
//! the destinations package), bundled once per target and uploaded next to every managed
//! worker, so that no deploy runs Node.js.

use std::path::PathBuf;

use anyhow::anyhow;
use c15t_control::TargetProfile;
use c15t_control::runtime::{RuntimeBuild, RuntimeBundle, RuntimeError};
use clap::{Args, Subcommand};

use crate::output::print;
use crate::{EXIT_INVALID, EXIT_IO, Failure};

/// `c15tctl runtime ...`
#[derive(Debug, Subcommand)]
pub enum RuntimeCommand {
    /// Bundle a target's c15t runtime with esbuild into one content-addressed module
    /// (`c15t-runtime-<hash>.js`) and write it into --out.
    Build(BuildArgs),
}

/// `c15tctl runtime build`
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Target profile (see `c15tctl targets`).
    #[arg(long, default_value = TargetProfile::ALL[0].id)]
    target: String,
    /// An entry file of `@c15t/destinations` to bundle instead of the built-in destinations
    /// runtime (the one generated projects vendor).
    #[arg(long)]
    destinations: Option<PathBuf>,
    /// A node_modules directory holding the target's npm packages.
    #[arg(long, default_value = "node_modules")]
    node_modules: PathBuf,
    /// The esbuild executable (default: <node-modules>/.bin/esbuild).
    #[arg(long)]
    esbuild: Option<PathBuf>,
    /// Directory the module is written into; created if missing.
    #[arg(long, short, default_value = ".")]
    out: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a `runtime` subcommand.
pub fn run(command: RuntimeCommand) -> Result<(), Failure> {
    match command {
        RuntimeCommand::Build(args) => build(args),
    }
}

fn build(args: BuildArgs) -> Result<(), Failure> {
    let target = TargetProfile::by_id(&args.target).ok_or_else(|| {
        let ids: Vec<_> = TargetProfile::ALL
            .iter()
            .map(|t| format!("`{}`", t.id))
            .collect();
        Failure::from(anyhow!(
            "--target: unknown target `{}`; use one of {}",
            args.target,
            ids.join(", ")
        ))
    })?;
    let bundle = RuntimeBundle::build(&RuntimeBuild {
        target,
        node_modules: args.node_modules,
        destinations_module: args.destinations,
        esbuild: args.esbuild,
    })
    .map_err(failure)?;
    let path = bundle.write_to(&args.out).map_err(failure)?;
    if args.json {
        print(
            &serde_json::json!({
                "target": bundle.target(),
                "module": bundle.module_name(),
                "sha256": bundle.sha256(),
                "bytes": bundle.bytes().len(),
                "path": path,
            })
            .to_string(),
        );
    } else {
        print(&format!(
            "built {} for target {} ({} bytes, sha256:{}) into {}",
            bundle.module_name(),
            bundle.target(),
            bundle.bytes().len(),
            bundle.sha256(),
            path.display()
        ));
    }
    Ok(())
}

/// Reading or writing files is an I/O failure; everything else is the input's fault (a missing
/// tool or package, a module that does not bundle or lacks exports).
fn failure(e: RuntimeError) -> Failure {
    let code = match e {
        RuntimeError::Io { .. } => EXIT_IO,
        _ => EXIT_INVALID,
    };
    Failure {
        code,
        error: e.into(),
    }
}

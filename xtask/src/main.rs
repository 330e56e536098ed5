//! Project checks and chores that are more than one cargo command; run `cargo xtask --help`.
//!
//! Every check that fails says which command fixes it or reproduces it.

// This binary's whole job is to report progress and failures on the terminal.
#![allow(clippy::print_stderr)]

mod bench;
mod destinations_bench;
mod soak;

use std::{
    env,
    ffi::OsString,
    fmt, fs, io,
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, builder::FalseyValueParser};
use sha2::{Digest, Sha256};

/// The pinned npm toolchains the codegen integration tests run, and the destinations runtime
/// package, relative to the workspace root.
const NPM_DIRS: &[&str] = &["tools/ts", "tools/ts/seed", DESTINATIONS_DIR];

/// The TypeScript package of the destinations runtime; `cargo xtask test` runs its checks
/// (`npm run check`: strict tsc, Biome with c15t's settings, its tests, the committed build).
const DESTINATIONS_DIR: &str = "packages/destinations";

/// Written into `node_modules` after a successful `npm ci`: a SHA-256 of the `package-lock.json`
/// (and `package.json`) it installed, so an unchanged lock file skips the reinstall. package.json
/// is hashed too because its `allowScripts` decides which install scripts run without touching
/// the lock file.
const LOCK_HASH_FILE: &str = ".c15t-lock-hash";

/// The lowest Node.js major version the TypeScript toolchain supports (`engines` in package.json).
const MIN_NODE_MAJOR: u32 = 20;

const ADVISORY_DB_URL: &str = "https://github.com/rustsec/advisory-db";

/// The crates published to crates.io (for Rust teams embedding the generator): their rustdoc
/// must build without warnings and `cargo publish --dry-run` must pass for them.
const LIBRARY_CRATES: &[&str] = &["c15t-model", "c15t-codegen", "c15t-secrets"];

/// The example crate that embeds the generator (a workspace member outside default-members,
/// so `cargo build` skips it; `--workspace` runs include it).
const EMBED_EXAMPLE: &str = "embed-generator";

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "c15t control plane project checks"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install the npm toolchains in tools/ts and tools/ts/seed and the packages/destinations
    /// dependencies (skipped when package-lock.json and package.json are unchanged since the
    /// last install).
    Npm,
    /// Run every test: npm toolchains, packages/destinations' checks, then doctests, then
    /// cargo-nextest (or cargo test).
    Test,
    /// Run what CI runs: rustfmt, clippy, rustdoc of the library crates, the tests (with
    /// examples/embed-generator), schemathesis, the publish dry run of the library crates,
    /// cargo deny.
    Ci {
        /// Fail when the RustSec advisory database cannot be fetched, instead of checking bans,
        /// licences and sources only.
        #[arg(long, env = "C15T_REQUIRE_ADVISORIES", value_parser = FalseyValueParser::new())]
        require_advisories: bool,
    },
    /// Benchmark the server: seed customers, then wrk the worker-config download and read the
    /// server's resident memory (needs `wrk` and `curl`; installs them with apt-get).
    BenchServer {
        /// Customers to seed.
        #[arg(long, default_value_t = 10_000)]
        customers: usize,
        /// Seconds wrk runs.
        #[arg(long, default_value_t = 20)]
        duration: u64,
    },
    /// Benchmark the destinations runtime: the bundle size it adds to a worker (gzip) and the
    /// time of a `/analytics/scripts` request in workerd (`wrangler dev`, wrk one at a time).
    BenchDestinations {
        /// Seconds each wrk run takes.
        #[arg(long, default_value_t = 10)]
        duration: u64,
    },
    /// Resolve each target profile's package-lock.json with npm (from the registry) and write it
    /// to crates/codegen/locks/, which generated projects carry; run it after changing a
    /// profile's dependencies or the destinations runtime's version.
    Locks,
    /// Write docs/openapi.json from the API's code, or with --check fail when it is stale.
    Openapi {
        /// Compare instead of writing.
        #[arg(long)]
        check: bool,
    },
    /// Soak the release server as shipped (issue 19): customer tokens add destinations to their
    /// quota and page their audit logs while their config is read; fails on any 5xx, resident
    /// memory reaching 256 MiB, or a p99 config read above 50 ms over the last 10 s.
    Soak {
        /// Customer tokens, one client each.
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Seconds the clients run.
        #[arg(long, default_value_t = 60)]
        duration: u64,
    },
    /// Run schemathesis (PyPI) against a running server's OpenAPI document: no 5xx, no
    /// response that violates the document.
    Schemathesis {
        /// Examples per operation.
        #[arg(long, default_value_t = 20)]
        max_examples: u32,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.task {
        Task::Npm => npm(&root),
        Task::Test => test(&root),
        Task::Ci { require_advisories } => ci(&root, require_advisories),
        Task::BenchServer {
            customers,
            duration,
        } => bench::bench_server(&root, customers, duration),
        Task::Openapi { check } => openapi(&root, check),
        Task::Locks => locks(&root),
        Task::BenchDestinations { duration } => {
            destinations_bench::bench_destinations(&root, duration)
        }
        Task::Schemathesis { max_examples } => bench::schemathesis(&root, max_examples),
        Task::Soak { clients, duration } => soak::soak(&root, clients, duration),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().unwrap_or(xtask_dir).to_path_buf()
}

// ---------------------------------------------------------------------------------------------
// npm

fn npm(root: &Path) -> Result<()> {
    check_node()?;
    for dir in NPM_DIRS {
        npm_install(root, dir)?;
    }
    Ok(())
}

fn npm_program() -> &'static str {
    if cfg!(windows) { "npm.cmd" } else { "npm" }
}

/// Fails with an installation hint when `node` or `npm` is missing or Node.js is too old.
fn check_node() -> Result<()> {
    const HINT: &str = "install Node.js 20+ and npm";
    let version = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => bail!("`node --version` failed ({}); {HINT}", out.status),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            bail!("`node` not found on PATH; {HINT}")
        }
        Err(err) => return Err(err).context("could not run `node --version`"),
    };
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    match major {
        Some(major) if major >= MIN_NODE_MAJOR => {}
        _ => bail!("found Node.js {version}, the TypeScript toolchain needs Node.js 20+; {HINT}"),
    }
    match Command::new(npm_program())
        .arg("--version")
        .stdout(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => bail!("`npm --version` failed ({status}); {HINT}"),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            bail!("`npm` not found on PATH; {HINT}")
        }
        Err(err) => Err(err).context("could not run `npm --version`"),
    }
}

/// Runs `npm ci` in `root/dir` unless its `node_modules` was installed from the same lock file.
fn npm_install(root: &Path, dir: &str) -> Result<()> {
    let abs = root.join(dir);
    let mut hasher = Sha256::new();
    for file in ["package-lock.json", "package.json"] {
        let path = abs.join(file);
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let hash = hex::encode(hasher.finalize());
    let stamp = abs.join("node_modules").join(LOCK_HASH_FILE);
    let installed = fs::read_to_string(&stamp).unwrap_or_default();
    if installed.trim() == hash {
        eprintln!("--> {dir}: node_modules up to date with package-lock.json and package.json");
        return Ok(());
    }
    let mut cmd = Command::new(npm_program());
    cmd.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&abs);
    run(
        &mut cmd,
        &format!(
            "check that {dir}/package.json and {dir}/package-lock.json agree \
             (`npm install` in {dir} rewrites the lock file), then run `cargo xtask npm`"
        ),
    )?;
    fs::write(&stamp, format!("{hash}\n")).with_context(|| format!("writing {}", stamp.display()))
}

// ---------------------------------------------------------------------------------------------
// locks

fn locks(root: &Path) -> Result<()> {
    check_node()?;
    for target in c15t_codegen::TargetProfile::ALL {
        let dir = env::temp_dir().join(format!("c15t-lock-{}-{}", target.id, std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        for (path, contents) in c15t_codegen::runtime::lock_inputs(target) {
            let file = dir.join(path);
            fs::create_dir_all(file.parent().unwrap_or(&dir))
                .with_context(|| format!("creating {}", dir.display()))?;
            fs::write(&file, contents).with_context(|| format!("writing {}", file.display()))?;
        }
        eprintln!("--> resolving the lock file of {}", target.id);
        let mut cmd = Command::new(npm_program());
        cmd.args([
            "install",
            "--package-lock-only",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
        ])
        .current_dir(&dir);
        run(&mut cmd, "check that the npm registry is reachable")?;
        let out = root
            .join("crates/codegen")
            .join(c15t_codegen::runtime::lock_file_path(target));
        fs::copy(dir.join("package-lock.json"), &out)
            .with_context(|| format!("writing {}", out.display()))?;
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        eprintln!("    wrote {}", out.display());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// test

fn test(root: &Path) -> Result<()> {
    npm(root)?;
    let fix = "fix the failing tests above and rerun `cargo xtask test`; when a snapshot changed \
               on purpose, review it with `cargo insta review`";
    let mut failures = Vec::new();
    let mut check = Command::new(npm_program());
    check
        .args(["run", "check"])
        .current_dir(root.join(DESTINATIONS_DIR));
    if let Err(err) = run(
        &mut check,
        "fix what `npm run check` in packages/destinations reports (`npm run build` rebuilds \
         crates/codegen/runtime/c15t-destinations.js)",
    ) {
        failures.push(err);
    }
    // nextest does not run doctests, so they get their own run, first, so that the main test
    // runner's summary is the last thing printed.
    if let Err(err) = run(&mut cargo(root, ["test", "--workspace", "--doc"]), fix) {
        failures.push(err);
    }
    let mut tests = if has_nextest(root) {
        cargo(root, ["nextest", "run", "--workspace", "--no-fail-fast"])
    } else {
        eprintln!(
            "--> cargo-nextest not found, using `cargo test` \
             (install it with `cargo install cargo-nextest --locked`)"
        );
        cargo(root, ["test", "--workspace", "--no-fail-fast"])
    };
    if let Err(err) = run(&mut tests, fix) {
        failures.push(err);
    }
    match failures.len() {
        0 => Ok(()),
        1 => Err(failures.remove(0)),
        _ => bail!(
            "{}",
            failures
                .iter()
                .map(|e| format!("{e:#}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn has_nextest(root: &Path) -> bool {
    cargo(root, ["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

// ---------------------------------------------------------------------------------------------
// ci

fn ci(root: &Path, require_advisories: bool) -> Result<()> {
    let mut report = Vec::new();

    step(&mut report, "fmt", || {
        run(
            &mut cargo(root, ["fmt", "--all", "--", "--check"]),
            "run `cargo fmt --all`",
        )
    });
    step(&mut report, "clippy", || {
        run(
            &mut cargo(
                root,
                [
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            ),
            "fix the lints above (`cargo clippy --workspace --all-targets --fix` applies the \
             machine-applicable ones), then rerun `cargo clippy --workspace --all-targets -- -D \
             warnings`",
        )
    });
    step(&mut report, "doc", || doc(root));
    step(&mut report, "openapi", || openapi(root, true));
    step(&mut report, "test", || test(root));
    step(&mut report, EMBED_EXAMPLE, || embed_example(root));
    step(&mut report, "schemathesis", || {
        bench::schemathesis(root, 20)
    });
    let mut publish_note = None;
    step(&mut report, "publish", || {
        publish_dry_run(root).map(|note| publish_note = note)
    });
    let mut deny_note = None;
    step(&mut report, "deny", || {
        deny(root, require_advisories).map(|note| deny_note = note)
    });

    eprintln!("\n==> summary");
    let mut failed = 0;
    for (name, result) in &report {
        match result {
            Ok(()) => eprintln!("    ok      {name}"),
            Err(err) => {
                failed += 1;
                eprintln!("    FAILED  {name}: {err:#}");
            }
        }
    }
    for note in [publish_note, deny_note].into_iter().flatten() {
        eprintln!("    warning: {note}");
    }
    if failed > 0 {
        bail!("{failed} of {} CI steps failed", report.len());
    }
    Ok(())
}

/// `cargo <args> -p <crate>...` for every crate of `crates`.
fn cargo_packages(root: &Path, args: &[&str], crates: &[&str]) -> Command {
    let mut cmd = cargo(root, []);
    cmd.args(args);
    for name in crates {
        cmd.args(["-p", name]);
    }
    cmd
}

/// rustdoc of the published crates (every feature), with every rustdoc warning an error:
/// broken intra-doc links, links to private items, missing docs (`#![warn(missing_docs)]`).
fn doc(root: &Path) -> Result<()> {
    let mut cmd = cargo_packages(
        root,
        &["doc", "--no-deps", "--all-features"],
        LIBRARY_CRATES,
    );
    cmd.env("RUSTDOCFLAGS", "-D warnings");
    run(
        &mut cmd,
        "fix the rustdoc warnings above; reproduce with `RUSTDOCFLAGS=\"-D warnings\" cargo doc \
         --no-deps --all-features -p c15t-model -p c15t-codegen -p c15t-secrets`",
    )
}

/// The example crate that embeds the generator. The `test` step's `--workspace` runs already
/// include it; this step names it, so a failure says which promise to library users broke.
fn embed_example(root: &Path) -> Result<()> {
    run(
        &mut cargo(root, ["test", "-p", EMBED_EXAMPLE]),
        "fix examples/embed-generator; when its snapshot changed on purpose (the generator's \
         output changed), review it with `cargo insta review` or accept it with \
         `INSTA_UPDATE=always cargo test -p embed-generator`",
    )
}

/// `cargo publish --dry-run` of the published crates together (their path dependencies on
/// each other resolve to the packages being checked). It needs the crates.io index; when the
/// index cannot be reached, the same packaging and verifying build runs offline
/// (`cargo package --offline`, which leaves out only the registry's own checks) and a note
/// says so.
fn publish_dry_run(root: &Path) -> Result<Option<String>> {
    let fix = "fix the packaging errors above (metadata in the crate's Cargo.toml, a `version` on \
               path dependencies in [workspace.dependencies], files outside the crate); \
               reproduce with `cargo publish --dry-run --allow-dirty -p c15t-model -p \
               c15t-codegen -p c15t-secrets`";
    let mut cmd = cargo_packages(
        root,
        &["publish", "--dry-run", "--allow-dirty"],
        LIBRARY_CRATES,
    );
    eprintln!("--> {}", Shown(&cmd));
    let output = cmd
        .stdout(Stdio::inherit())
        .output()
        .context("could not run `cargo publish --dry-run`")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    if output.status.success() {
        return Ok(None);
    }
    const NETWORK: &[&str] = &[
        "failed to query replaced source registry",
        "failed to get successful HTTP response",
        "failed to download",
        "download of config.json failed",
        "Could not resolve host",
        "Couldn't resolve host",
        "failed to connect",
        "Connection refused",
        "Connection timed out",
        "network failure",
        "spurious network error",
        "[6]",
        "[7]",
        "[28]",
    ];
    let Some(reason) = stderr
        .lines()
        .find(|line| NETWORK.iter().any(|marker| line.contains(marker)))
    else {
        bail!("`{}` failed ({}); {fix}", Shown(&cmd), output.status);
    };
    let note = format!(
        "publish dry run NOT checked against crates.io (the index could not be reached: {}); \
         packaged and verified offline instead",
        reason.trim()
    );
    eprintln!("warning: {note}");
    run(
        &mut cargo_packages(
            root,
            &["package", "--offline", "--allow-dirty"],
            LIBRARY_CRATES,
        ),
        fix,
    )?;
    Ok(Some(note))
}

/// The committed OpenAPI document, relative to the workspace root.
const OPENAPI_PATH: &str = "docs/openapi.json";

/// Writes (or with `check`, compares) docs/openapi.json with the document the API's code
/// generates (printed by the `c15t-api` example `openapi`).
fn openapi(root: &Path, check: bool) -> Result<()> {
    let mut cmd = cargo(
        root,
        ["run", "--quiet", "-p", "c15t-api", "--example", "openapi"],
    );
    eprintln!("--> {}", Shown(&cmd));
    let output = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("could not run cargo")?;
    if !output.status.success() {
        bail!("generating the OpenAPI document failed ({})", output.status);
    }
    let generated = String::from_utf8(output.stdout).context("the document is not UTF-8")?;
    let path = root.join(OPENAPI_PATH);
    if check {
        let committed = fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            bail!(
                "{OPENAPI_PATH} differs from the API's code; run `cargo xtask openapi` and commit it"
            );
        }
        eprintln!("{OPENAPI_PATH} is up to date");
    } else {
        fs::write(&path, generated).with_context(|| format!("could not write {OPENAPI_PATH}"))?;
        eprintln!("wrote {OPENAPI_PATH}");
    }
    Ok(())
}

fn step(
    report: &mut Vec<(&'static str, Result<()>)>,
    name: &'static str,
    f: impl FnOnce() -> Result<()>,
) {
    eprintln!("\n==> {name}");
    let result = f();
    if let Err(err) = &result {
        eprintln!("==> {name} FAILED: {err:#}");
    }
    report.push((name, result));
}

/// Runs `cargo deny check`, installing cargo-deny first when it is missing.
///
/// Returns a note when the advisories check had to be left out because the advisory database
/// could not be fetched (it is cloned from GitHub), so the summary can repeat it.
fn deny(root: &Path, require_advisories: bool) -> Result<Option<String>> {
    let installed = cargo(root, ["deny", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        eprintln!("--> cargo-deny not found, installing it");
        run(
            &mut cargo(root, ["install", "cargo-deny", "--locked"]),
            "install cargo-deny with `cargo install cargo-deny --locked`",
        )?;
    }
    let fix = "read the diagnostics above: update the crate (`cargo update -p <crate>`), or, when \
               a licence or advisory is acceptable, record it in deny.toml with a comment saying \
               why; reproduce with `cargo deny check`";

    let fetch = cargo(root, ["deny", "fetch", "db"])
        .output()
        .context("could not run `cargo deny fetch db`")?;
    if fetch.status.success() {
        run(&mut cargo(root, ["deny", "check"]), fix)?;
        return Ok(None);
    }

    let stderr = String::from_utf8_lossy(&fetch.stderr);
    let reason = stderr
        .lines()
        .find(|line| line.contains("fatal:"))
        .or_else(|| stderr.lines().rfind(|line| !line.trim().is_empty()))
        .unwrap_or("no error output")
        .trim();
    let note = format!(
        "advisories NOT checked: could not fetch the RustSec advisory database ({ADVISORY_DB_URL}): \
         {reason}"
    );
    if require_advisories {
        bail!("{note}; rerun where github.com is reachable");
    }
    eprintln!("warning: {note}");
    eprintln!(
        "warning: checking bans, licenses and sources only; run `cargo deny check advisories` \
         where github.com is reachable (`--require-advisories` makes this an error)"
    );
    run(
        &mut cargo(root, ["deny", "check", "bans", "licenses", "sources"]),
        fix,
    )?;
    Ok(Some(note))
}

// ---------------------------------------------------------------------------------------------
// process helpers

/// A `cargo` command (the same cargo that runs xtask) run from the workspace root.
fn cargo<const N: usize>(root: &Path, args: [&str; N]) -> Command {
    let program = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(root);
    cmd
}

/// Runs `cmd` with inherited stdio; on failure the error names the command and `fix`.
fn run(cmd: &mut Command, fix: &str) -> Result<()> {
    let shown = Shown(cmd);
    let line = shown.to_string();
    eprintln!("--> {line}");
    let status = match cmd.status() {
        Ok(status) => status,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            bail!("`{line}`: program not found on PATH; {fix}")
        }
        Err(err) => return Err(err).with_context(|| format!("could not run `{line}`")),
    };
    if !status.success() {
        bail!("`{line}` failed ({status}); {fix}");
    }
    Ok(())
}

/// Displays a command the way a user would type it: `cargo` rather than the full path to the
/// cargo binary, and the directory when it is not the workspace root.
struct Shown<'a>(&'a Command);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = Path::new(self.0.get_program());
        let name = program.file_stem().unwrap_or(program.as_os_str());
        write!(f, "{}", name.to_string_lossy())?;
        for arg in self.0.get_args() {
            write!(f, " {}", arg.to_string_lossy())?;
        }
        if let Some(dir) = self.0.get_current_dir() {
            let root = workspace_root();
            if let Ok(rel) = dir.strip_prefix(&root)
                && !rel.as_os_str().is_empty()
            {
                write!(f, " (in {})", rel.display())?;
            }
        }
        Ok(())
    }
}

//! The real TypeScript toolchain checks generated projects: `tsc --strict --noEmit` against the
//! real `@c15t/backend`, `kysely`, `@libsql/kysely-libsql` and `@cloudflare/workers-types`
//! packages, `biome format` with c15t's settings reports no change, and `wrangler deploy
//! --dry-run` bundles the seed example with `@c15t/destinations` aliased to the small
//! implementation of the contract under `tests/fixtures/c15t-destinations`.
//!
//! The npm packages are pinned by `tools/ts/package-lock.json` (and `tools/ts/seed/` for the
//! `seed-v2` target, whose `@c15t/backend/v2` paths exist only in `@c15t/backend` 1.x);
//! `cargo xtask npm` (part of `cargo xtask test`) installs them.

use std::path::{Path, PathBuf};
use std::process::Command;

use c15t_codegen::{DestinationsMode, Project};
use c15t_testkit::workerd::{WranglerDev, consent_path};

use crate::support::{Case, all_cases, workspace_root};

fn toolchain_dir(case: &Case) -> PathBuf {
    let tools = workspace_root().join("tools/ts");
    match case.target.destinations {
        DestinationsMode::Handler => tools,
        DestinationsMode::AnalyticsOption => tools.join("seed"),
    }
}

fn node_modules(dir: &Path) -> PathBuf {
    let nm = dir.join("node_modules");
    assert!(
        nm.join(".bin").is_dir(),
        "{} is missing: run `cargo xtask npm` (the README's test command does) to install the pinned TypeScript toolchain",
        nm.display()
    );
    nm
}

/// Writes the project into a fresh directory with `node_modules` linked to the toolchain.
fn write(project: &Project, toolchain: &Path) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("c15t-ts-")
        .tempdir()
        .expect("temp dir");
    for file in &project.files {
        let path = dir.path().join(file.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &file.contents).expect("write");
    }
    std::os::unix::fs::symlink(node_modules(toolchain), dir.path().join("node_modules"))
        .expect("link node_modules");
    dir
}

fn run(what: &str, case: &str, cmd: &mut Command) {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{case}: cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{case}: {what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn check_tsc(case: &Case, dir: &Path) {
    run(
        "tsc --strict --noEmit",
        &case.name,
        Command::new(dir.join("node_modules/.bin/tsc"))
            .args(["--strict", "--noEmit", "-p"])
            .arg(dir),
    );
}

fn check_biome(case: &Case, dir: &Path) {
    let tools = workspace_root().join("tools/ts");
    let biome = node_modules(&tools).join(".bin/biome");
    run(
        "biome format (c15t's settings)",
        &case.name,
        Command::new(biome)
            .arg("format")
            .arg("--config-path")
            .arg(&tools)
            .args([
                "src",
                "types",
                "package.json",
                "tsconfig.json",
                "wrangler.jsonc",
            ])
            .current_dir(dir),
    );
}

/// Aliases the unpublished `@c15t/destinations` to the fixture implementation in this copy's
/// wrangler config (the CLI's `--alias` is not applied by `deploy` in the pinned wrangler).
fn alias_destinations(dir: &Path) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/c15t-destinations");
    let config_path = dir.join("wrangler.jsonc");
    let text = std::fs::read_to_string(&config_path).expect("wrangler.jsonc");
    let json: String = text
        .lines()
        .filter(|l| !l.starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut config: serde_json::Value =
        serde_json::from_str(&json).expect("wrangler.jsonc is JSON");
    config["alias"] = serde_json::json!({ "@c15t/destinations": fixture.join("index.js") });
    std::fs::write(&config_path, config.to_string()).expect("write wrangler.jsonc");
}

fn check_wrangler_bundle(case: &Case, dir: &Path) {
    let outdir = dir.join("dist");
    alias_destinations(dir);
    run(
        "wrangler deploy --dry-run",
        &case.name,
        Command::new(dir.join("node_modules/.bin/wrangler"))
            .args(["deploy", "--dry-run", "--outdir"])
            .arg(&outdir)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .current_dir(dir),
    );
    let bundle = std::fs::read_to_string(outdir.join("index.js")).expect("bundle written");
    assert!(
        bundle.contains("createAnalyticsHandler")
            || case.target.destinations == DestinationsMode::AnalyticsOption
    );
    for secret in ["META_PIXEL_ACCESS_TOKEN", "GOOGLE_ANALYTICS_API_SECRET"] {
        assert!(
            bundle.contains(secret),
            "{}: bundle does not read {secret} from env",
            case.name
        );
    }
}

#[test]
fn generated_projects_type_check_and_are_biome_formatted() {
    for case in all_cases() {
        let project = case.generate();
        let dir = write(&project, &toolchain_dir(&case));
        check_tsc(&case, dir.path());
        check_biome(&case, dir.path());
    }
}

#[test]
fn seed_example_bundles_with_wrangler_for_both_targets() {
    for case in all_cases()
        .into_iter()
        .filter(|c| c.name.starts_with("seed-example"))
    {
        let project = case.generate();
        let dir = write(&project, &toolchain_dir(&case));
        check_wrangler_bundle(&case, dir.path());
    }
}

#[test]
fn tsc_rejects_a_worker_that_breaks_the_contract() {
    // The check above must be able to fail: a settings key the contract does not declare is a
    // type error.
    let case = all_cases()
        .into_iter()
        .find(|c| c.name == "seed-example")
        .expect("seed example");
    let mut project = case.generate();
    let index = project
        .files
        .iter_mut()
        .find(|f| f.path == "src/index.ts")
        .expect("index");
    index.contents = index.contents.replace("pixelId:", "pixelIdentifier:");
    let dir = write(&project, &toolchain_dir(&case));
    let output = Command::new(dir.path().join("node_modules/.bin/tsc"))
        .args(["--strict", "--noEmit", "-p"])
        .arg(dir.path())
        .output()
        .expect("run tsc");
    assert!(!output.status.success(), "tsc accepted an unknown setting");
    assert!(String::from_utf8_lossy(&output.stdout).contains("pixelIdentifier"));
}

#[test]
fn destinations_fixture_implements_every_catalogue_factory() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/c15t-destinations/index.js");
    let source = std::fs::read_to_string(path).expect("fixture");
    for kind in c15t_model::Catalogue::builtin().kinds() {
        let export = format!(
            "export const {} = define('{}');",
            kind.factory_name(),
            kind.slug
        );
        assert!(
            source.contains(&export),
            "the destinations fixture lacks `{export}`"
        );
    }
}

#[test]
fn destinations_really_run_in_workerd() {
    // The default target routes /analytics/* to the destinations handler; run the generated
    // worker in workerd (`wrangler dev`) and ask it for scripts.
    let case = all_cases()
        .into_iter()
        .find(|c| c.name == "seed-example")
        .expect("seed example");
    let project = case.generate();
    let dir = write(&project, &toolchain_dir(&case));
    alias_destinations(dir.path());
    let canary = "EAAcanary0123456789";
    std::fs::write(
        dir.path().join(".dev.vars"),
        format!("TURSO_AUTH_TOKEN=unused\nMETA_PIXEL_ACCESS_TOKEN={canary}\nGOOGLE_ANALYTICS_API_SECRET=unused\n"),
    )
    .expect("write .dev.vars");

    let server = WranglerDev::start(&dir.path().join("node_modules/.bin/wrangler"), dir.path());
    let marketing = server.get_when_ready(&consent_path(r#"{"marketing":true}"#));
    assert!(marketing.0.contains(" 200 "), "{marketing:?}");
    let body: serde_json::Value = serde_json::from_str(&marketing.1).expect("JSON body");
    assert_eq!(
        body,
        serde_json::json!({ "scripts": [{ "type": "meta-pixel", "category": "marketing" }] })
    );

    let measurement = server
        .get(&consent_path(r#"{"measurement":true}"#))
        .expect("second request");
    let body: serde_json::Value = serde_json::from_str(&measurement.1).expect("JSON body");
    let types: Vec<&str> = body["scripts"]
        .as_array()
        .expect("scripts")
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["google-analytics", "posthog"]);
    assert!(
        !measurement.1.contains(canary) && !marketing.1.contains(canary),
        "a secret leaked"
    );
}

#[test]
fn javascript_flavour_and_runtime_entries_are_biome_formatted() {
    let dir = tempfile::Builder::new()
        .prefix("c15t-js-")
        .tempdir()
        .expect("temp dir");
    for case in all_cases() {
        let module = c15t_codegen::generate_worker_module(
            &case.input(),
            "./c15t-runtime-0123456789abcdef.js",
        )
        .expect("generates");
        std::fs::write(dir.path().join(format!("{}.js", case.name)), module).expect("write");
    }
    for target in c15t_codegen::TargetProfile::ALL {
        std::fs::write(
            dir.path().join(format!("runtime-{}.js", target.id)),
            c15t_codegen::runtime_entry_source(target),
        )
        .expect("write");
    }
    let tools = workspace_root().join("tools/ts");
    run(
        "biome format (c15t's settings) of the JavaScript flavour",
        "every case",
        Command::new(node_modules(&tools).join(".bin/biome"))
            .arg("format")
            .arg("--config-path")
            .arg(&tools)
            .arg(".")
            .current_dir(dir.path()),
    );
}

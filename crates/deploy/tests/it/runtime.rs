//! The runtime bundle for real: esbuild (pinned in `tools/ts`) bundles the default target's
//! runtime with the destinations runtime generated projects vendor, and the two uploaded modules (the generated
//! JavaScript entry and the runtime module) run in workerd through `wrangler dev` with
//! bundling switched off, so a deploy needs no Node.js process.

use std::path::{Path, PathBuf};

use c15t_codegen::{Input, Project, TargetProfile, generate, generate_worker_module};
use c15t_deploy::runtime::{RuntimeBuild, RuntimeBundle, RuntimeError, worker_modules};
use c15t_model::{Catalogue, CustomerConfig, CustomerSpec, Environment};
use c15t_testkit::workerd::{UnbundledWorker, consent_path};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The pinned toolchain's `node_modules` (`cargo xtask npm` installs it).
pub(crate) fn node_modules() -> PathBuf {
    let nm = workspace_root().join("tools/ts/node_modules");
    assert!(
        nm.join(".bin/esbuild").is_file(),
        "{} is missing esbuild: run `cargo xtask npm` to install the pinned toolchain",
        nm.display()
    );
    nm
}

pub(crate) fn runtime_build(target: &TargetProfile) -> RuntimeBuild<'_> {
    RuntimeBuild {
        target,
        node_modules: node_modules(),
        destinations_module: None,
        esbuild: None,
    }
}

/// The design document's example customer.
pub(crate) fn seed_example() -> CustomerConfig {
    let path = workspace_root().join("examples/cust_abc123.toml");
    let text = std::fs::read_to_string(path).expect("example customer");
    let spec: CustomerSpec = toml::from_str(&text).expect("customer file");
    spec.validate(&Catalogue::builtin()).expect("valid example")
}

/// The two modules of an upload running in workerd (`wrangler dev` without bundling).
pub(crate) type Running = UnbundledWorker;

/// Writes the upload's modules, the project's wrangler config made unbundled and `.dev.vars`
/// into a directory with no `node_modules` (so nothing but these files can be loaded), and
/// starts `wrangler dev` on it.
pub(crate) fn run_upload(
    project: &Project,
    modules: &[c15t_deploy::Module],
    secrets: &[(&str, &str)],
) -> Running {
    let config = &project
        .file("wrangler.jsonc")
        .expect("wrangler.jsonc")
        .contents;
    let modules: Vec<(&str, &[u8])> = modules
        .iter()
        .map(|m| (m.name.as_str(), m.bytes.as_slice()))
        .collect();
    // Wait until workerd answers (the OpenAPI document needs no database).
    UnbundledWorker::start(
        &node_modules().join(".bin/wrangler"),
        config,
        &modules,
        secrets,
        "/spec.json",
    )
}

/// `GET /spec.json` of the running c15t backend: its OpenAPI document names the version of
/// `@c15t/backend` that the runtime module bundles.
fn assert_backend_version(running: &Running, target: &TargetProfile) {
    let version = target
        .dependencies
        .iter()
        .find(|d| d.name == "@c15t/backend")
        .expect("the target pins @c15t/backend")
        .version;
    let (status, body) = running.server.get("/spec.json").expect("GET /spec.json");
    assert!(status.contains(" 200 "), "{status}: {body}");
    let spec: serde_json::Value = serde_json::from_str(&body).expect("JSON spec");
    assert_eq!(spec["info"]["version"], version, "{body}");
}

#[test]
fn uploaded_modules_really_run_in_workerd_without_bundling() {
    let target = TargetProfile::default();
    let runtime = RuntimeBundle::build(&runtime_build(&target)).expect("runtime builds");
    assert_eq!(runtime.target(), target.id);

    // Determinism: the same inputs give the same bytes, so the same content-addressed name,
    // however the paths are spelled (tests run in the package's directory).
    let relative = Path::new("../../tools/ts/node_modules");
    assert!(relative.is_dir(), "tests run in crates/deploy");
    let again = RuntimeBundle::build(&RuntimeBuild {
        target: &target,
        node_modules: relative.to_owned(),
        destinations_module: None,
        esbuild: Some(relative.join(".bin/esbuild")),
    })
    .expect("runtime builds again");
    assert_eq!(again.module_name(), runtime.module_name());
    assert_eq!(again.sha256(), runtime.sha256());
    assert!(
        runtime.module_name().starts_with("c15t-runtime-")
            && runtime.module_name().len() == "c15t-runtime-".len() + 16 + ".js".len()
    );

    // The generated entry reads secrets from env and inlines none.
    let config = seed_example();
    let environment = Environment::production();
    let input = Input {
        config: &config,
        environment: &environment,
        target: &target,
        revision: 1,
    };
    let entry = generate_worker_module(&input, &runtime.specifier()).expect("entry generates");
    let project = generate(&input).expect("project generates");
    let canary = "EAAcanary0123456789";
    let secrets = [
        ("TURSO_AUTH_TOKEN", "libsql-token-canary-42"),
        ("META_PIXEL_ACCESS_TOKEN", canary),
        ("GOOGLE_ANALYTICS_API_SECRET", "ga4-secret-canary-42"),
    ];
    for (binding, value) in secrets {
        assert!(
            entry.contains(&format!("env.{binding}")),
            "the entry does not read {binding} from env:\n{entry}"
        );
        assert!(!entry.contains(value), "a secret value is in the entry");
    }
    assert!(
        entry.contains(&format!("from '{}';", runtime.specifier())),
        "{entry}"
    );
    assert!(!entry.contains("@c15t/") && !entry.contains("from 'kysely'"));

    // The two modules of the upload, exactly as a deployer ships them.
    let modules = worker_modules(entry, &runtime);
    assert_eq!(modules[0].name, "index.js");
    let running = run_upload(&project, &modules, &secrets);
    let server = &running.server;
    assert_backend_version(&running, &target);

    // The destinations runtime generated projects vendor answers real descriptors: with
    // marketing consent Meta's pixel, and Google's tag and PostHog, which c15t always loads
    // (in denied consent mode) whatever the consent.
    let marketing = server
        .get(&consent_path(r#"{"marketing":true}"#))
        .expect("request");
    assert!(marketing.0.contains(" 200 "), "{marketing:?}");
    let body: serde_json::Value = serde_json::from_str(&marketing.1).expect("JSON body");
    assert_eq!(
        body["scripts"][0],
        serde_json::json!({
            "id": "meta-prod",
            "type": "meta-pixel",
            "vendor": "meta-pixel",
            "function": "metaPixel",
            "options": { "pixelId": "1234567890" },
            "category": "marketing",
            "alwaysLoad": false,
        }),
        "{body}"
    );
    assert_eq!(script_ids(&body), ["meta-prod", "ga4-prod", "posthog"]);

    let measurement = server
        .get(&consent_path(r#"{"measurement":true}"#))
        .expect("second request");
    let body: serde_json::Value = serde_json::from_str(&measurement.1).expect("JSON body");
    assert_eq!(script_ids(&body), ["ga4-prod", "posthog"]);
    assert_eq!(body["scripts"][0]["options"]["id"], "G-ABC123XYZ", "{body}");
    for (_, value) in secrets {
        assert!(
            !measurement.1.contains(value) && !marketing.1.contains(value),
            "a secret leaked"
        );
    }
}

/// The ids of a `/analytics/scripts` answer's descriptors, in order.
fn script_ids(body: &serde_json::Value) -> Vec<&str> {
    body["scripts"]
        .as_array()
        .expect("scripts")
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect()
}

#[test]
fn the_seed_targets_runtime_runs_with_nodejs_compat() {
    // `seed-v2` bundles `@c15t/backend` 1.8, whose CommonJS dependencies require Node.js
    // built-ins: they must load in workerd under `nodejs_compat`.
    let target = c15t_codegen::target::SEED_V2;
    let seed_modules = workspace_root().join("tools/ts/seed/node_modules");
    assert!(
        seed_modules.join(".bin").is_dir(),
        "{} is missing: run `cargo xtask npm` to install the pinned toolchains",
        seed_modules.display()
    );
    let runtime = RuntimeBundle::build(&RuntimeBuild {
        target: &target,
        node_modules: seed_modules,
        destinations_module: None,
        esbuild: Some(node_modules().join(".bin/esbuild")),
    })
    .expect("seed runtime builds");
    let config = seed_example();
    let environment = Environment::production();
    let input = Input {
        config: &config,
        environment: &environment,
        target: &target,
        revision: 1,
    };
    let entry = generate_worker_module(&input, &runtime.specifier()).expect("entry generates");
    let project = generate(&input).expect("project generates");
    let running = run_upload(
        &project,
        &worker_modules(entry, &runtime),
        &[
            ("TURSO_AUTH_TOKEN", "unused"),
            ("META_PIXEL_ACCESS_TOKEN", "unused"),
            ("GOOGLE_ANALYTICS_API_SECRET", "unused"),
        ],
    );
    assert_backend_version(&running, &target);
}

#[test]
fn a_prebuilt_runtime_loads_under_its_content_name() {
    let target = TargetProfile::default();
    let built = RuntimeBundle::build(&runtime_build(&target)).expect("runtime builds");
    let dir = tempfile::tempdir().expect("temp dir");
    // The operator's file name does not matter: the name comes from the content.
    let path = dir.path().join("runtime.mjs");
    std::fs::write(&path, built.bytes()).expect("write");
    let loaded = RuntimeBundle::load(&target, &path).expect("loads");
    assert_eq!(loaded, built);
    let written = loaded.write_to(&dir.path().join("out")).expect("writes");
    assert_eq!(
        written.file_name().and_then(|n| n.to_str()),
        Some(built.module_name())
    );

    // A runtime lacking a name the target's entries import is refused.
    let truncated = String::from_utf8(built.bytes().to_vec())
        .expect("utf-8")
        .replace(" as createAnalyticsHandler", " as somethingElse");
    std::fs::write(&path, truncated).expect("write");
    let err = RuntimeBundle::load(&target, &path).expect_err("refused");
    assert!(
        err.to_string()
            .contains("does not export createAnalyticsHandler"),
        "{err}"
    );
}

#[test]
fn a_missing_esbuild_or_destinations_module_is_a_clear_error() {
    let target = TargetProfile::default();
    let dir = tempfile::tempdir().expect("temp dir");
    let err = RuntimeBundle::build(&RuntimeBuild {
        esbuild: Some(dir.path().join("no-esbuild")),
        ..runtime_build(&target)
    })
    .expect_err("no esbuild");
    assert!(
        matches!(err, RuntimeError::EsbuildNotFound { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("run `cargo xtask npm`"), "{err}");

    let err = RuntimeBundle::build(&RuntimeBuild {
        destinations_module: Some(dir.path().join("missing.js")),
        ..runtime_build(&target)
    })
    .expect_err("no destinations");
    assert!(
        matches!(err, RuntimeError::DestinationsNotFound { .. }),
        "{err:?}"
    );

    // esbuild's own failure is reported with its message.
    let broken = dir.path().join("broken.js");
    std::fs::write(&broken, "export const metaPixel = ;\n").expect("write");
    let err = RuntimeBundle::build(&RuntimeBuild {
        destinations_module: Some(broken),
        ..runtime_build(&target)
    })
    .expect_err("syntax error");
    assert!(matches!(err, RuntimeError::EsbuildFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("broken.js"), "{err}");
}

//! `c15tctl` end to end: the real binary on real files.

mod canary;
mod connection;
mod jobs;
mod runtime;
mod self_hosted;
mod store_commands;
mod users;
mod workspace;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The files `generate` writes for a project.
pub const PROJECT_FILES: [&str; 12] = [
    "src/index.ts",
    "types/c15t-destinations.d.ts",
    "wrangler.jsonc",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    ".dev.vars.example",
    ".gitignore",
    "README.md",
    "vendor/c15t-destinations/package.json",
    "vendor/c15t-destinations/index.js",
    "vendor/c15t-destinations/NOTICE",
];

fn c15tctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_c15tctl"))
        .args(args)
        .output()
        .expect("run c15tctl")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cust_abc123.toml")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn generate_writes_the_seed_example_project() {
    let out = tempfile::tempdir().expect("temp dir");
    let o = c15tctl(&[
        "generate",
        "--config",
        example().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.starts_with("generated c15t-cust-abc123 (12 files, sha256:"),
        "{stdout}"
    );
    for file in PROJECT_FILES {
        assert!(out.path().join(file).is_file(), "{file} missing");
    }
    let index = std::fs::read_to_string(out.path().join("src/index.ts")).unwrap();
    assert!(index.contains("accessToken: env.META_PIXEL_ACCESS_TOKEN,"));
    let dev_vars = std::fs::read_to_string(out.path().join(".dev.vars.example")).unwrap();
    assert!(dev_vars.contains("\nTURSO_AUTH_TOKEN=\n"));
}

#[test]
fn generate_staging_with_the_seed_target() {
    let out = tempfile::tempdir().expect("temp dir");
    let o = c15tctl(&[
        "generate",
        "-c",
        example().to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
        "--env",
        "staging",
        "--target",
        "seed-v2",
        "--revision",
        "9",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let index = std::fs::read_to_string(out.path().join("src/index.ts")).unwrap();
    assert!(index.contains("from '@c15t/backend/v2';"));
    assert!(index.contains("environment staging, config revision 9"));
    // Staging has only the all-environment destination.
    assert!(index.contains("posthog(") && !index.contains("metaPixel("));
}

#[test]
fn invalid_input_exits_2_with_every_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(example())
        .unwrap()
        .replace("pixelId = \"1234567890\"", "pixelId = \"12ab\"")
        .replace("type = \"posthog\"", "type = \"post-hog\"")
        .replace(
            "accessToken = { env = \"META_PIXEL_ACCESS_TOKEN\" }",
            "accessToken = \"EAAcanary42\"",
        );
    std::fs::write(&path, text).unwrap();
    for cmd in ["validate", "generate"] {
        let mut args = vec![cmd, "--config", path.to_str().unwrap()];
        if cmd == "generate" {
            args.extend(["--out", dir.path().to_str().unwrap()]);
        }
        let o = c15tctl(&args);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("3 problems found"), "{err}");
        assert!(
            err.contains("destinations[0].settings.pixelId: must contain only digits"),
            "{err}"
        );
        assert!(
            err.contains("destinations[0].settings.accessToken: is a secret"),
            "{err}"
        );
        assert!(
            err.contains(
                "destinations[2].type: unknown destination type `post-hog`; did you mean `posthog`?"
            ),
            "{err}"
        );
        assert!(!err.contains("EAAcanary42"), "a secret was echoed: {err}");
    }
    assert!(
        !dir.path().join("src").exists(),
        "nothing is written when validation fails"
    );
}

#[test]
fn unknown_environment_and_target_are_refused() {
    let out = tempfile::tempdir().expect("temp dir");
    let example = example();
    let base = [
        "generate",
        "-c",
        example.to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
    ];
    let o = c15tctl(&[&base[..], &["--env", "qa"]].concat());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("has no environment `qa`; its environments are `production`, `staging`"),
        "{}",
        stderr(&o)
    );
    let o = c15tctl(&[&base[..], &["--target", "v3"]].concat());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown target `v3`"), "{}", stderr(&o));
}

#[test]
fn catalogue_json_lists_every_kind() {
    let o = c15tctl(&["catalogue", "--json"]);
    assert!(o.status.success());
    let kinds: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let kinds = kinds.as_array().expect("array");
    assert!(kinds.len() >= 14);
    let meta = kinds
        .iter()
        .find(|k| k["slug"] == "meta-pixel")
        .expect("meta-pixel");
    assert_eq!(meta["factory"], "metaPixel");
    let token = meta["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "accessToken")
        .unwrap();
    assert_eq!(token["secret"], true);
    let table = c15tctl(&["catalogue"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("google-tag-manager"));
}

#[test]
fn missing_file_is_a_clear_error() {
    let o = c15tctl(&["validate", "--config", "/nonexistent/customer.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read customer file /nonexistent/customer.toml"),
        "{}",
        stderr(&o)
    );
}

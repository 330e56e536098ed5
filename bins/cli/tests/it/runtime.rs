//! `c15tctl runtime build`: the runtime module bundled by the pinned esbuild from `tools/ts`,
//! with the built-in destinations runtime (no `--destinations` needed).

use std::path::{Path, PathBuf};

use crate::{c15tctl, stderr};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn node_modules() -> PathBuf {
    let nm = workspace_root().join("tools/ts/node_modules");
    assert!(
        nm.join(".bin/esbuild").is_file(),
        "{} is missing esbuild: run `cargo xtask npm` to install the pinned toolchain",
        nm.display()
    );
    nm
}

fn build(out: &Path, target: &str, extra: &[&str]) -> std::process::Output {
    let node_modules = node_modules();
    let mut args = vec![
        "runtime",
        "build",
        "--target",
        target,
        "--node-modules",
        node_modules.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    c15tctl(&args)
}

#[test]
fn runtime_build_writes_a_content_addressed_module() {
    let out = tempfile::tempdir().expect("temp dir");
    let o = build(out.path(), "c15t-backend-2", &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let module = report["module"].as_str().expect("module");
    let sha256 = report["sha256"].as_str().expect("sha256");
    assert_eq!(report["target"], "c15t-backend-2");
    assert_eq!(sha256.len(), 64);
    assert_eq!(module, format!("c15t-runtime-{}.js", &sha256[..16]));
    let bytes = std::fs::read(out.path().join(module)).expect("module written");
    assert_eq!(report["bytes"], bytes.len());
    let text = String::from_utf8(bytes).expect("JavaScript text");
    assert!(text.contains(" as createAnalyticsHandler"));

    // Built again, in text form: the same name.
    let again = tempfile::tempdir().expect("temp dir");
    let o = build(again.path(), "c15t-backend-2", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.starts_with(&format!(
            "built {module} for target c15t-backend-2 ({} bytes, sha256:{sha256}) into ",
            text.len()
        )),
        "{stdout}"
    );
    assert!(again.path().join(module).is_file());
}

#[test]
fn runtime_build_without_esbuild_says_how_to_get_it() {
    let out = tempfile::tempdir().expect("temp dir");
    let missing = out.path().join("esbuild");
    let o = build(
        out.path(),
        "c15t-backend-2",
        &["--esbuild", missing.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("run `cargo xtask npm`"),
        "{}",
        stderr(&o)
    );
    assert!(
        std::fs::read_dir(out.path()).expect("out").next().is_none(),
        "nothing is written when the build fails"
    );

    let o = build(out.path(), "v3", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown target `v3`"), "{}", stderr(&o));
}

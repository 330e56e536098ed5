//! The self-hosted path as a customer walks it on a fresh machine: `c15tctl generate`, the
//! project copied into an empty directory, `npm ci` from the public registry (nothing linked,
//! aliased or overridden: the destinations runtime comes from the project's own
//! `vendor/c15t-destinations/`), `wrangler deploy --dry-run`, and `wrangler dev` serving real
//! script descriptors.
//!
//! npm's download cache (`~/.npm`) is shared with the toolchains `cargo xtask npm` installs,
//! so the same pinned packages are not downloaded twice; npm checks every tarball against the
//! project's `package-lock.json` either way.

use std::path::Path;
use std::process::Command;

use c15t_testkit::workerd::{WranglerDev, consent_path};

use crate::{c15tctl, example, stderr};

fn run(what: &str, cmd: &mut Command) -> String {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn a_generated_project_installs_from_the_registry_bundles_and_serves_its_destinations() {
    let generated = tempfile::tempdir().expect("temp dir");
    let o = c15tctl(&[
        "generate",
        "--config",
        example().to_str().unwrap(),
        "--out",
        generated.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let project = tempfile::Builder::new()
        .prefix("c15t-self-hosted-")
        .tempdir()
        .expect("temp dir");
    copy_dir(generated.path(), project.path());
    let dir = project.path();

    run(
        "npm ci",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .env_remove("NODE_PATH")
            .current_dir(dir),
    );
    // npm installed the vendored runtime as a link into the project, as it does `file:` folders.
    let installed = dir.join("node_modules/@c15t/destinations");
    assert_eq!(
        std::fs::canonicalize(&installed).expect("@c15t/destinations installed"),
        std::fs::canonicalize(dir.join("vendor/c15t-destinations")).expect("vendored")
    );
    run(
        "npm run typecheck",
        Command::new("npm")
            .args(["run", "typecheck"])
            .current_dir(dir),
    );
    run(
        "wrangler deploy --dry-run",
        Command::new(dir.join("node_modules/.bin/wrangler"))
            .args(["deploy", "--dry-run", "--outdir", "dist"])
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .current_dir(dir),
    );
    let bundle = std::fs::read_to_string(dir.join("dist/index.js")).expect("bundle written");
    assert!(bundle.contains("createAnalyticsHandler"));

    std::fs::write(
        dir.join(".dev.vars"),
        "TURSO_AUTH_TOKEN=unused\nMETA_PIXEL_ACCESS_TOKEN=EAAselfhostedcanary\n\
         GOOGLE_ANALYTICS_API_SECRET=ga-selfhosted-canary\n",
    )
    .expect("write .dev.vars");
    let server = WranglerDev::start(&dir.join("node_modules/.bin/wrangler"), dir);
    let (status, body) = server.get_when_ready(&consent_path(r#"{"marketing":true}"#));
    assert!(status.contains(" 200 "), "{status}: {body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let meta = &answer["scripts"][0];
    assert_eq!(meta["id"], "meta-prod", "{body}");
    assert_eq!(meta["function"], "metaPixel", "{body}");
    assert_eq!(meta["options"]["pixelId"], "1234567890", "{body}");
    assert!(!body.contains("canary"), "a secret leaked: {body}");

    let (status, client) = server.get("/analytics/client.js").expect("client module");
    assert!(status.contains(" 200 "), "{status}");
    assert!(client.contains("loadDestinations"), "{client:.200}");
}

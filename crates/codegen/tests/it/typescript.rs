//! The real TypeScript toolchain checks generated projects: `tsc --strict --noEmit` against the
//! real `@c15t/backend`, `kysely`, `@libsql/kysely-libsql` and `@cloudflare/workers-types`
//! packages, `biome format` with c15t's settings reports no change, `wrangler deploy
//! --dry-run` bundles the seed example with the project's own vendored `@c15t/destinations`
//! (no alias), and the generated workers serve real script descriptors in workerd.
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

/// Writes the project into a fresh directory with a `node_modules` as `npm ci` lays it out:
/// the toolchain's packages (linked) and `@c15t/destinations` linked to the project's vendored
/// runtime, `vendor/c15t-destinations` (npm installs a `file:` dependency as such a link).
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
    link_node_modules(&node_modules(toolchain), dir.path());
    dir
}

/// `dir/node_modules`: every entry of `toolchain` linked, and `@c15t/destinations` linked to
/// `dir/vendor/c15t-destinations`.
pub fn link_node_modules(toolchain: &Path, dir: &Path) {
    let nm = dir.join("node_modules");
    let scope = nm.join("@c15t");
    std::fs::create_dir_all(&scope).expect("mkdir node_modules/@c15t");
    for entry in std::fs::read_dir(toolchain).expect("read node_modules") {
        let entry = entry.expect("entry");
        if entry.file_name() == "@c15t" {
            for inner in std::fs::read_dir(entry.path()).expect("read @c15t") {
                let inner = inner.expect("entry");
                std::os::unix::fs::symlink(inner.path(), scope.join(inner.file_name()))
                    .expect("link");
            }
        } else {
            std::os::unix::fs::symlink(entry.path(), nm.join(entry.file_name())).expect("link");
        }
    }
    std::os::unix::fs::symlink("../../vendor/c15t-destinations", scope.join("destinations"))
        .expect("link @c15t/destinations");
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

fn check_wrangler_bundle(case: &Case, dir: &Path) {
    let outdir = dir.join("dist");
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
fn destinations_really_run_in_workerd() {
    // The default target routes /analytics/* to the destinations handler; run the generated
    // worker in workerd (`wrangler dev`) and ask it for scripts.
    let case = all_cases()
        .into_iter()
        .find(|c| c.name == "seed-example")
        .expect("seed example");
    let project = case.generate();
    let dir = write(&project, &toolchain_dir(&case));
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
    // Google's tag and PostHog are served whatever the consent: c15t loads them in denied
    // consent mode and switches them on when consent is given.
    assert_eq!(script_ids(&body), ["meta-prod", "ga4-prod", "posthog"]);

    let measurement = server
        .get(&consent_path(r#"{"measurement":true}"#))
        .expect("second request");
    let body: serde_json::Value = serde_json::from_str(&measurement.1).expect("JSON body");
    assert_eq!(script_ids(&body), ["ga4-prod", "posthog"]);
    assert!(
        !measurement.1.contains(canary) && !marketing.1.contains(canary),
        "a secret leaked"
    );
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

/// `GET path` with extra request headers: the status line, the response headers (lower-cased
/// names) and the body.
fn get_with(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn every_kind_is_served_as_a_script_the_real_vendor_function_builds() {
    // One destination of every catalogue kind, served by the generated worker in workerd with
    // the project's own vendored runtime; the descriptors it answers are fed to the real
    // `@c15t/scripts` functions in Node (packages/destinations' own dependencies).
    let case = all_cases()
        .into_iter()
        .find(|c| c.name == "every-kind")
        .expect("every-kind case");
    let project = case.generate();
    let dir = write(&project, &toolchain_dir(&case));
    let secrets: Vec<String> = project
        .file(".dev.vars.example")
        .expect(".dev.vars.example")
        .contents
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_suffix('='))
        .map(|name| format!("{name}=CANARY-{name}-7f3a"))
        .collect();
    assert!(secrets.len() > 3, "the case has secrets: {secrets:?}");
    std::fs::write(dir.path().join(".dev.vars"), secrets.join("\n") + "\n").expect(".dev.vars");

    let server = WranglerDev::start(&dir.path().join("node_modules/.bin/wrangler"), dir.path());
    let (status, body) = server.get_when_ready("/analytics/scripts");
    assert!(status.contains(" 200 "), "{status}: {body}");
    assert!(!body.contains("CANARY"), "a secret leaked: {body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let descriptors = answer["scripts"].as_array().expect("scripts");
    let catalogue = c15t_model::Catalogue::builtin();
    let served: Vec<&str> = descriptors
        .iter()
        .map(|d| d["type"].as_str().expect("type"))
        .collect();
    for kind in catalogue.kinds() {
        assert_eq!(
            served.contains(&kind.slug),
            kind.scripts.is_some(),
            "{}: served iff it has a @c15t/scripts vendor",
            kind.slug
        );
    }

    // Fed to the real vendor functions: every one gives a script, and the ones vendors
    // document are exactly their snippets' URLs.
    let package = workspace_root().join("packages/destinations");
    let mut node = Command::new("node")
        .arg("test/descriptors-to-scripts.mjs")
        .current_dir(&package)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run node");
    {
        use std::io::Write;
        node.stdin
            .take()
            .expect("stdin")
            .write_all(body.as_bytes())
            .expect("write descriptors");
    }
    let output = node.wait_with_output().expect("node");
    assert!(
        output.status.success(),
        "descriptors-to-scripts failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let scripts: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let scripts = scripts
        .as_array()
        .or_else(|| scripts["scripts"].as_array())
        .expect("an array of scripts");
    assert_eq!(scripts.len(), descriptors.len());
    let src_of = |id: &str| -> String {
        scripts
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no script {id}"))["src"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        src_of("meta-pixel"),
        "https://connect.facebook.net/en_US/fbevents.js"
    );
    assert_eq!(
        src_of("google-analytics"),
        "https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ"
    );
    for script in scripts {
        let id = script["id"].as_str().expect("id");
        let descriptor = descriptors
            .iter()
            .find(|d| d["id"] == id)
            .expect("a descriptor");
        assert_eq!(script["category"], descriptor["category"], "{id}");
        assert_eq!(
            script["alwaysLoad"].as_bool().unwrap_or(false),
            descriptor["alwaysLoad"].as_bool().expect("alwaysLoad"),
            "{id}: the catalogue's alwaysLoad is not what @c15t/scripts does"
        );
    }

    // CORS: the customer's trusted origins only, and answers vary by origin.
    let port = server.port();
    let (_, headers, _) = get_with(
        port,
        "/analytics/scripts",
        &[("Origin", "https://shop.every.example.com")],
    );
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some("https://shop.every.example.com")
    );
    assert!(header(&headers, "vary").is_some_and(|v| v.contains("Origin")));
    let (_, headers, _) = get_with(
        port,
        "/analytics/scripts",
        &[("Origin", "https://every.example.com.evil.test")],
    );
    assert_eq!(header(&headers, "access-control-allow-origin"), None);

    // Cacheable: an ETag, and 304 for it.
    let (_, headers, _) = get_with(port, "/analytics/scripts", &[]);
    let etag = header(&headers, "etag").expect("an ETag").to_owned();
    let (status, _, _) = get_with(port, "/analytics/scripts", &[("If-None-Match", &etag)]);
    assert!(status.contains(" 304 "), "{status}");

    // The browser module, public, carrying no secret either.
    let (status, headers, client) = get_with(port, "/analytics/client.js", &[]);
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        header(&headers, "content-type").is_some_and(|t| t.contains("javascript")),
        "{headers:?}"
    );
    assert!(client.contains("loadDestinations") && !client.contains("CANARY"));
}

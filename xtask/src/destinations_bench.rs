//! `cargo xtask bench-destinations`: what the destinations runtime costs a worker.
//!
//! 1. Bundle size: the every-kind fixture's generated project bundled by `wrangler deploy
//!    --dry-run`, gzip-compressed, against the same project whose vendored runtime is replaced
//!    by a stand-in exporting the same names that does nothing (a worker without destinations).
//! 2. Request cost in workerd: `wrangler dev` serving the project, `wrk -t1 -c1` (one request at
//!    a time, so latency is per-request time) against `GET /analytics/scripts?consent=...` and
//!    against a 404 of the same handler (`/analytics/none`: routing, CORS and the answer, no
//!    descriptors); the difference is what building the descriptors costs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::time::{Duration, Instant};
use std::{fs, thread};

use anyhow::{Context, Result, bail};

use crate::bench::{ensure_program, output, parse_wrk, scratch};
use crate::{cargo, run};

const FIXTURE: &str = "crates/codegen/tests/fixtures/cases/every-kind/customer.toml";

fn link_node_modules(toolchain: &Path, dir: &Path) -> Result<()> {
    let nm = dir.join("node_modules");
    let scope = nm.join("@c15t");
    fs::create_dir_all(&scope)?;
    for entry in fs::read_dir(toolchain)? {
        let entry = entry?;
        if entry.file_name() == "@c15t" {
            for inner in fs::read_dir(entry.path())? {
                let inner = inner?;
                std::os::unix::fs::symlink(inner.path(), scope.join(inner.file_name()))?;
            }
        } else {
            std::os::unix::fs::symlink(entry.path(), nm.join(entry.file_name()))?;
        }
    }
    std::os::unix::fs::symlink("../../vendor/c15t-destinations", scope.join("destinations"))?;
    Ok(())
}

/// A stand-in runtime with the real one's export names: factories that return nothing
/// configured and a handler that answers 404.
fn stand_in(real: &str) -> String {
    let mut names: Vec<String> = Vec::new();
    for clause in real.split("export {").skip(1) {
        let Some(end) = clause.find('}') else {
            continue;
        };
        for item in clause[..end].split(',') {
            let name = item.rsplit(" as ").next().unwrap_or("").trim();
            if !name.is_empty() {
                names.push(name.to_owned());
            }
        }
    }
    let mut js = String::from("const none = () => ({});\n");
    for name in &names {
        if name == "createAnalyticsHandler" {
            js.push_str(
                "export const createAnalyticsHandler = () => async () => new Response(null, { status: 404 });\n",
            );
        } else {
            js.push_str(&format!("export const {name} = none;\n"));
        }
    }
    js
}

fn gzip_size(path: &Path) -> Result<(usize, usize)> {
    let raw = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&raw)?;
    Ok((raw.len(), gzip.finish()?.len()))
}

fn bundle(wrangler: &Path, dir: &Path) -> Result<(usize, usize)> {
    run(
        Command::new(wrangler)
            .args(["deploy", "--dry-run", "--outdir", "dist"])
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .current_dir(dir),
        "run the codegen tests (`cargo test -p c15t-codegen --test it typescript`)",
    )?;
    gzip_size(&dir.join("dist/index.js"))
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub fn bench_destinations(root: &Path, duration_secs: u64) -> Result<()> {
    ensure_program("wrk", "wrk")?;
    crate::npm(root)?;
    run(
        &mut cargo(root, ["build", "--release", "--bin", "c15tctl"]),
        "fix the build",
    )?;
    let c15tctl = crate::bench::target_dir(root).join("release/c15tctl");
    let work = scratch(root, "bench-destinations")?;
    let project = work.join("project");
    output(
        Command::new(&c15tctl)
            .arg("generate")
            .arg("--config")
            .arg(root.join(FIXTURE))
            .arg("--out")
            .arg(&project),
        "c15tctl generate",
    )?;
    let toolchain = root.join("tools/ts/node_modules");
    let wrangler = toolchain.join(".bin/wrangler");
    link_node_modules(&toolchain, &project)?;
    let (raw, gz) = bundle(&wrangler, &project)?;

    let bare = work.join("without-destinations");
    copy_dir(&project, &bare, &["node_modules", "dist"])?;
    let runtime = project.join("vendor/c15t-destinations/index.js");
    let real = fs::read_to_string(&runtime)?;
    fs::write(
        bare.join("vendor/c15t-destinations/index.js"),
        stand_in(&real),
    )?;
    link_node_modules(&toolchain, &bare)?;
    let (bare_raw, bare_gz) = bundle(&wrangler, &bare)?;

    // The worker in workerd.
    let mut dev_vars = String::new();
    for line in fs::read_to_string(project.join(".dev.vars.example"))?.lines() {
        if let Some(name) = line.strip_suffix('=') {
            dev_vars.push_str(&format!("{name}=bench\n"));
        }
    }
    fs::write(project.join(".dev.vars"), dev_vars)?;
    let port = free_port()?;
    let inspector = free_port()?;
    use std::os::unix::process::CommandExt as _;
    let mut dev = Command::new(&wrangler)
        .args(["dev", "--ip", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--inspector-port",
            &inspector.to_string(),
            "--log-level",
            "warn",
        ])
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .current_dir(&project)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .process_group(0)
        .spawn()
        .context("starting wrangler dev")?;
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("wrangler dev did not listen within 90 s");
        }
        thread::sleep(Duration::from_millis(300));
    }
    thread::sleep(Duration::from_secs(2));
    let consent = "%7B%22measurement%22%3Atrue%2C%22marketing%22%3Atrue%7D";
    let wrk = |path: &str| -> Result<crate::bench::WrkResult> {
        let url = format!("{base}{path}");
        let duration = format!("{duration_secs}s");
        eprintln!("--> wrk -t1 -c1 -d{duration} --latency {url}");
        let text = output(
            Command::new("wrk").args(["-t1", "-c1", "-d", &duration, "--latency", &url]),
            "`wrk`",
        )?;
        eprintln!("{text}");
        parse_wrk(&text)
    };
    // Warm up, then measure.
    let _ = wrk(&format!("/analytics/scripts?consent={consent}"));
    let scripts = wrk(&format!("/analytics/scripts?consent={consent}"));
    let none = wrk("/analytics/none");
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", dev.id())])
        .status();
    let _ = dev.wait();
    let (scripts, none) = (scripts?, none?);
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "\n== destinations runtime ({} destinations of every kind; load average {})\n\
         bundle (wrangler deploy --dry-run, dist/index.js): {raw} B, {gz} B gzip -9\n\
         without destinations (stand-in runtime):          {bare_raw} B, {bare_gz} B gzip -9\n\
         added by the destinations runtime:                {} B, {} B gzip\n\
         GET /analytics/scripts?consent=...: {:.0} req/s one at a time, p50 {:.3} ms, p99 {:.3} ms\n\
         GET /analytics/none (404, same handler): {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms\n\
         descriptors cost per request (p50 difference): {:.3} ms",
        fs::read_to_string(root.join(FIXTURE))?
            .matches("[[destinations]]")
            .count(),
        load.trim(),
        raw as i64 - bare_raw as i64,
        gz as i64 - bare_gz as i64,
        scripts.rps,
        scripts.p50_ms,
        scripts.p99_ms,
        none.rps,
        none.p50_ms,
        none.p99_ms,
        scripts.p50_ms - none.p50_ms,
    );
    fs::remove_dir_all(&work).ok();
    Ok(())
}

fn copy_dir(from: &Path, to: &Path, skip: &[&str]) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let target: PathBuf = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target, &[])?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

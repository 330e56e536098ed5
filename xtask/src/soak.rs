//! `cargo xtask soak`: issue 19's proof under abuse. Customer tokens each add destinations up
//! to their quota and page through their audit log, while their config is read, against the
//! release server as shipped (SQLite file, default rate limits, job runner and health monitor
//! on). It fails on any 5xx, on resident memory reaching 256 MiB at any sample, or on a p99 of
//! config reads above 50 ms over the last 10 s.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use std::{fs, thread};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::bench::{Running, ensure_program, operator_token, scratch, target_dir};
use crate::{cargo, run};

/// The targets.
const MAX_RSS_MIB: f64 = 256.0;
const MAX_P99_MS: f64 = 50.0;
/// The window at the end of the run whose config reads the p99 target applies to.
const END_WINDOW: Duration = Duration::from_secs(10);
/// Each client's pace, below the default customer-token limit of 20 requests per second (a
/// client that is told 429 waits as `Retry-After` says, and the 429 is counted).
const REQUESTS_PER_SECOND: u32 = 15;

/// What one client saw.
#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    added: u64,
    quota_reached: bool,
    audit_pages: u64,
    audit_bytes: u64,
    rate_limited: u64,
    /// 5xx answers (and transport errors), with a sample of each.
    failures: Vec<String>,
    /// Other answers no step expects.
    unexpected: Vec<String>,
    /// Config reads: when (since the start) and how long, in ms.
    reads: Vec<(Duration, f64)>,
}

pub fn soak(root: &Path, clients: usize, duration_secs: u64) -> Result<()> {
    ensure_program("curl", "curl")?;
    run(
        &mut cargo(
            root,
            [
                "build",
                "--release",
                "-p",
                "c15t-server",
                "--bin",
                "c15t-server",
            ],
        ),
        "fix the build errors above, then rerun `cargo xtask soak`",
    )?;
    let binary = target_dir(root).join("release").join("c15t-server");
    let dir = scratch(root, "soak")?;
    let (token, hash) = operator_token(&binary)?;
    let load_before = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    // As shipped, rate limits included.
    let server = Running::start(&binary, &dir, &hash, "warn,c15t_server=info", &[])?;
    let idle_rss = server.rss_mib();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the soak's runtime")?;
    let duration = Duration::from_secs(duration_secs);
    let outcome = runtime.block_on(drive(&server, &token, clients, duration));
    let end_rss = server.rss_mib();
    let log = server.log();
    drop(server);
    let (tallies, rss) = outcome?;
    let _ = fs::remove_dir_all(&dir);

    let total = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    let mut all_reads: Vec<f64> = tallies
        .iter()
        .flat_map(|t| t.reads.iter().map(|r| r.1))
        .collect();
    let end = duration.saturating_sub(END_WINDOW);
    let mut end_reads: Vec<f64> = tallies
        .iter()
        .flat_map(|t| t.reads.iter().filter(|r| r.0 >= end).map(|r| r.1))
        .collect();
    let failures: Vec<&String> = tallies.iter().flat_map(|t| &t.failures).collect();
    let unexpected: Vec<&String> = tallies.iter().flat_map(|t| &t.unexpected).collect();
    let at_quota = tallies.iter().filter(|t| t.quota_reached).count();
    let peak = rss.iter().copied().fold(0.0_f64, f64::max);
    let fmt = |v: Option<f64>| v.map_or_else(|| "unknown".to_owned(), |v| format!("{v:.1} MiB"));

    eprintln!(
        "\n==> soak: {clients} customer tokens, {duration_secs} s, {REQUESTS_PER_SECOND} requests/s each"
    );
    eprintln!(
        "    command: cargo xtask soak --clients {clients} --duration {duration_secs}\n    cores: \
         {}; load average before: {}",
        thread::available_parallelism().map_or(0, |n| n.get()),
        load_before.trim()
    );
    eprintln!(
        "    requests: {}; destinations added: {} ({at_quota} of {clients} customers reached \
         the quota); audit pages: {} ({:.1} MB); 429s: {}",
        total(|t| t.requests),
        total(|t| t.added),
        total(|t| t.audit_pages),
        total(|t| t.audit_bytes) as f64 / 1e6,
        total(|t| t.rate_limited),
    );
    eprintln!(
        "    config reads: {} in all, p50 {:.2} ms, p99 {:.2} ms; last {} s: {}, p99 {:.2} ms \
         (target <= {MAX_P99_MS} ms)",
        all_reads.len(),
        percentile(&mut all_reads, 0.50),
        percentile(&mut all_reads, 0.99),
        END_WINDOW.as_secs(),
        end_reads.len(),
        percentile(&mut end_reads, 0.99),
    );
    eprintln!(
        "    resident memory: idle {}, peak {peak:.1} MiB over {} samples (target < \
         {MAX_RSS_MIB} MiB), at the end {}",
        fmt(idle_rss),
        rss.len(),
        fmt(end_rss)
    );
    eprintln!("    5xx or transport errors: {}", failures.len());

    let mut misses = Vec::new();
    if !failures.is_empty() {
        misses.push(format!(
            "{} 5xx or transport errors, e.g. {}",
            failures.len(),
            failures[0]
        ));
    }
    if !unexpected.is_empty() {
        misses.push(format!(
            "{} unexpected answers, e.g. {}",
            unexpected.len(),
            unexpected[0]
        ));
    }
    if peak >= MAX_RSS_MIB {
        misses.push(format!("peak RSS {peak:.1} MiB >= {MAX_RSS_MIB} MiB"));
    }
    let end_p99 = percentile(&mut end_reads, 0.99);
    if end_reads.is_empty() || end_p99 > MAX_P99_MS {
        misses.push(format!(
            "p99 of config reads in the last {} s {end_p99:.2} ms > {MAX_P99_MS} ms",
            END_WINDOW.as_secs()
        ));
    }
    if at_quota < clients {
        misses.push(format!(
            "only {at_quota} of {clients} customers reached the destination quota; run longer"
        ));
    }
    if misses.is_empty() {
        eprintln!("    result: all targets met");
        Ok(())
    } else {
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        bail!(
            "targets missed: {}\nthe server's last log lines:\n{}",
            misses.join("; "),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}

/// The `p`-quantile of `values` (0 when empty), nearest rank.
fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// Creates the customers and their tokens, runs the clients and samples the server's memory.
async fn drive(
    server: &Running,
    operator: &str,
    clients: usize,
    duration: Duration,
) -> Result<(Vec<Tally>, Vec<f64>)> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(clients * 2)
        .build()?;
    let base = server.url();
    let mut tokens = Vec::with_capacity(clients);
    for i in 0..clients {
        let id = format!("cust_soak_{i:03}");
        let body = json!({
            "id": id,
            "name": format!("Soak {i}"),
            "trusted_origins": ["https://example.com"],
            "database": {"url": "libsql://soak.turso.io", "auth_token": "t"},
        });
        let created = http
            .post(format!("{base}/api/v1/customers"))
            .bearer_auth(operator)
            .json(&body)
            .send()
            .await?;
        if created.status() != 201 {
            bail!(
                "creating {id}: {} {}",
                created.status(),
                created.text().await?
            );
        }
        let issued = http
            .post(format!("{base}/api/v1/customers/{id}/tokens"))
            .bearer_auth(operator)
            .json(&json!({"name": "soak"}))
            .send()
            .await?;
        if issued.status() != 201 {
            bail!(
                "a token for {id}: {} {}",
                issued.status(),
                issued.text().await?
            );
        }
        let issued: Value = issued.json().await?;
        let token = issued["token"]
            .as_str()
            .context("the token answer has no token")?
            .to_owned();
        tokens.push((id, token));
    }

    let done = Arc::new(AtomicBool::new(false));
    let pid = server.pid();
    let sampler = {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                if let Some(rss) = crate::bench::rss_mib(pid) {
                    samples.push(rss);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            samples
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (id, token) in tokens {
        let http = http.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            client(&http, &base, &id, &token, started, duration).await
        }));
    }
    let mut tallies = Vec::new();
    for task in tasks {
        tallies.push(task.await.context("a soak client panicked")?);
    }
    done.store(true, Ordering::Relaxed);
    let rss = sampler.await.context("the memory sampler panicked")?;
    Ok((tallies, rss))
}

/// One customer's client, at [`REQUESTS_PER_SECOND`] until `duration` has passed since
/// `started`: adds a destination, reads the config, adds one more, reads an audit page (the
/// next, or the first after the last), in turn; once the customer is at its quota, the adds
/// become audit pages.
async fn client(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    token: &str,
    started: Instant,
    duration: Duration,
) -> Tally {
    let mut tally = Tally::default();
    let mut pace = tokio::time::interval(Duration::from_secs(1) / REQUESTS_PER_SECOND);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let first_page = format!("{base}/api/v1/customers/{id}/audit?limit=200");
    let mut next_page = first_page.clone();
    let mut step = 0_u64;
    while started.elapsed() < duration {
        pace.tick().await;
        step += 1;
        let (what, request) = match step % 4 {
            0 | 2 if !tally.quota_reached => {
                let body = json!({
                    "id": format!("ga-{}", tally.added),
                    "name": format!("Google Analytics {}", tally.added),
                    "type": "google-analytics",
                    "settings": {"measurementId": "G-ABC123"},
                });
                (
                    "add",
                    http.post(format!("{base}/api/v1/customers/{id}/destinations"))
                        .json(&body),
                )
            }
            1 => ("read", http.get(format!("{base}/api/v1/customers/{id}"))),
            _ => ("audit", http.get(&next_page)),
        };
        let sent = Instant::now();
        tally.requests += 1;
        let answer = match request.bearer_auth(token).send().await {
            Ok(answer) => answer,
            Err(e) => {
                tally.failures.push(format!("{what} {id}: {e}"));
                continue;
            }
        };
        let status = answer.status();
        let link = answer
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.strip_prefix('<'))
            .and_then(|l| l.split_once(">; rel=\"next\""))
            .map(|(target, _)| target.to_owned());
        let retry_after = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = answer.bytes().await.unwrap_or_default();
        let ms = sent.elapsed().as_secs_f64() * 1000.0;
        let sample = || {
            format!(
                "{what} {id}: {status} {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            )
        };
        if status.is_server_error() {
            tally.failures.push(sample());
            continue;
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            tally.rate_limited += 1;
            tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1))).await;
            continue;
        }
        match (what, status.as_u16()) {
            ("add", 201) => tally.added += 1,
            ("add", 422) if String::from_utf8_lossy(&body).contains("limit DESTINATIONS_MAX") => {
                tally.quota_reached = true;
            }
            ("read", 200) => tally.reads.push((started.elapsed(), ms)),
            ("audit", 200) => {
                tally.audit_pages += 1;
                tally.audit_bytes += body.len() as u64;
                next_page = link.map_or_else(
                    || first_page.clone(),
                    |target| {
                        if target.starts_with('/') {
                            format!("{base}{target}")
                        } else {
                            target
                        }
                    },
                );
            }
            _ => tally.unexpected.push(sample()),
        }
    }
    tally
}

//! Delivery commands: `plan`, `deploy`, `rollback`, `deployments`, `strategy`, `delivery`,
//! `health` and `jobs`, plus the flags that configure how this process delivers.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use c15t_control::{
    Change, Control, DeliveryOptions, DeliveryPatch, DeliverySettings, DeployReport,
    EnvironmentPlan, HealthOptions, RunnerOptions, SyncStatus,
};
use c15t_model::{CustomerId, DeployTarget, Environment, Strategy};
use clap::{Args, Subcommand};

use crate::output::print;
use crate::secret_input::{SecretSource, parse_secret_arg, read_secret};
use crate::{EXIT_INVALID, Failure, customer_id, invalid};

/// How this process delivers (global flags; each has an environment variable).
#[derive(Debug, Args)]
pub struct DeliveryFlags {
    /// Cloudflare's API base URL.
    #[arg(
        long,
        global = true,
        env = "C15T_CLOUDFLARE_API",
        default_value = c15t_control::DEFAULT_CLOUDFLARE_API
    )]
    cloudflare_api: String,
    /// Send requests to `*.workers.dev` (health probes) to this address instead, with the
    /// worker's hostname in the `Host` header: an egress proxy that routes by host.
    #[arg(long, global = true, env = "C15T_WORKERS_EDGE")]
    workers_edge: Option<String>,
    /// How Cloudflare releases take traffic unless a customer says otherwise: `immediate`,
    /// or percentages such as `10,50,100`.
    #[arg(long, global = true, env = "C15T_ROLLOUT", default_value = "10,50,100")]
    default_rollout: String,
    /// Seconds between two steps of a gradual rollout.
    #[arg(
        long,
        global = true,
        env = "C15T_ROLLOUT_DWELL_SECS",
        default_value_t = 60
    )]
    default_rollout_dwell_secs: u64,
    /// Where file deploys write (`<root>/<customer>/<environment>`).
    #[arg(long, global = true, env = "C15T_DEPLOY_ROOT")]
    deploy_root: Option<PathBuf>,
    /// Runtime bundles (from `c15tctl runtime build`) that managed deploys upload; repeat or
    /// separate with commas.
    #[arg(long, global = true, env = "C15T_RUNTIME", value_delimiter = ',')]
    runtime: Vec<PathBuf>,
    /// Where customers reach this control plane (download links in webhooks).
    #[arg(
        long,
        global = true,
        env = "C15T_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    public_url: String,
    /// Address ranges webhooks may reach although they are not public (e.g. 127.0.0.1/32);
    /// repeat or separate with commas.
    #[arg(long, global = true, env = "C15T_WEBHOOK_ALLOW", value_delimiter = ',')]
    webhook_allow: Vec<ipnet::IpNet>,
    /// Allow plain-http webhook URLs (tests, private networks).
    #[arg(long, global = true, env = "C15T_WEBHOOK_ALLOW_HTTP")]
    webhook_allow_http: bool,
    /// How long an automatic deploy waits for more edits, in milliseconds.
    #[arg(long, global = true, env = "C15T_DEBOUNCE_MS", default_value_t = 2000)]
    debounce_ms: u64,
    /// Delay before the first retry of a failed deploy job or Cloudflare call, in
    /// milliseconds (later retries back off from it).
    #[arg(long, global = true, env = "C15T_RETRY_BASE_MS", default_value_t = 500)]
    retry_base_ms: u64,
    /// Cloudflare API requests allowed per API token per window.
    #[arg(
        long,
        global = true,
        env = "C15T_CLOUDFLARE_LIMIT",
        default_value_t = 1200
    )]
    cloudflare_limit: usize,
    /// The window of that limit, in seconds.
    #[arg(
        long,
        global = true,
        env = "C15T_CLOUDFLARE_WINDOW_SECS",
        default_value_t = 300
    )]
    cloudflare_window_secs: u64,
}

impl DeliveryFlags {
    /// The delivery options these flags describe.
    pub fn options(&self) -> Result<DeliveryOptions, Failure> {
        DeliveryOptions::from_settings(&DeliverySettings {
            cloudflare_api: self.cloudflare_api.clone(),
            workers_edge: self.workers_edge.clone(),
            rollout: self.default_rollout.clone(),
            rollout_dwell_secs: self.default_rollout_dwell_secs,
            deploy_root: self.deploy_root.clone(),
            runtime: self.runtime.clone(),
            public_url: self.public_url.clone(),
            webhook_allow: self.webhook_allow.clone(),
            webhook_allow_http: self.webhook_allow_http,
            debounce_ms: self.debounce_ms,
            retry_base_ms: self.retry_base_ms,
            cloudflare_limit: self.cloudflare_limit,
            cloudflare_window_secs: self.cloudflare_window_secs,
        })
        .map_err(invalid)
    }
}

/// `strategy` subcommands.
#[derive(Debug, Subcommand)]
pub enum StrategyCommand {
    /// Set what happens after a customer's config changes.
    Set {
        /// The customer.
        #[arg(long)]
        customer: String,
        /// automatic | manual | notify | gitops
        strategy: String,
    },
}

/// `delivery` subcommands.
#[derive(Debug, Subcommand)]
pub enum DeliveryCommand {
    /// Show a customer's delivery settings (secrets as fingerprints).
    Show {
        /// The customer.
        #[arg(long)]
        customer: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a customer's delivery settings.
    Set(Box<DeliverySetArgs>),
}

/// Flags of `delivery set`.
#[derive(Debug, Args)]
pub struct DeliverySetArgs {
    /// The customer.
    #[arg(long)]
    customer: String,
    /// automatic | manual | notify | gitops
    #[arg(long)]
    strategy: Option<String>,
    /// none | cloudflare | file | webhook
    #[arg(long)]
    target: Option<String>,
    /// Cloudflare account id (with --target cloudflare).
    #[arg(long)]
    account_id: Option<String>,
    /// Cloudflare API token: `prompt` (default), `stdin` or `env:VAR`.
    #[arg(long, num_args = 0..=1, default_missing_value = "prompt")]
    cloudflare_token: Option<String>,
    /// The customer's webhook endpoint (https://...).
    #[arg(long, conflicts_with = "no_webhook")]
    webhook_url: Option<String>,
    /// Remove the webhook endpoint and its secrets.
    #[arg(long)]
    no_webhook: bool,
    /// How this customer's Cloudflare releases take traffic: `immediate`, percentages such
    /// as `10,50,100`, or `default` for the operator's default.
    #[arg(long)]
    rollout: Option<String>,
    /// Seconds between two rollout steps (with `--rollout`).
    #[arg(long, default_value_t = 60, requires = "rollout")]
    rollout_dwell_secs: u64,
    /// The environment whose routing `--hostname`, `--zone-id` and `--workers-dev` change.
    #[arg(long)]
    environment: Option<String>,
    /// A custom domain for the environment's worker, on one of the customer's Cloudflare
    /// zones (`consent.example.com`); `none` removes it.
    #[arg(long, requires = "environment")]
    hostname: Option<String>,
    /// The zone holding `--hostname` (32 hex digits); `auto` lets Cloudflare find it.
    #[arg(long, requires = "environment")]
    zone_id: Option<String>,
    /// Whether the environment's worker answers on workers.dev: `on` or `off` (off needs a
    /// hostname).
    #[arg(long, requires = "environment", value_parser = ["on", "off"])]
    workers_dev: Option<String>,
    /// Re-enable a webhook endpoint that was disabled.
    #[arg(long)]
    enable_webhook: bool,
    /// Start a signing-secret rotation (prints the new secret once).
    #[arg(long)]
    rotate_webhook_secret: bool,
    /// Finish a rotation: only the newest secret signs.
    #[arg(long)]
    retire_old_webhook_secrets: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `jobs` subcommands.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Run jobs: deploys, notifications and webhooks.
    Run {
        /// Return once no job is due.
        #[arg(long)]
        once: bool,
        /// Jobs at a time.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Lease of a claimed job in seconds (another runner takes over after it).
        #[arg(long, default_value_t = 60)]
        lease_secs: u64,
        /// Seconds between polls when idle.
        #[arg(long, default_value_t = 1.0)]
        poll_secs: f64,
    },
    /// Jobs by status.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Which customers a fleet command acts on.
#[derive(Debug, Args)]
pub struct Scope {
    /// One customer.
    #[arg(long, conflicts_with = "all")]
    customer: Option<String>,
    /// Every customer (the default when no customer is given).
    #[arg(long)]
    all: bool,
    /// Only this environment.
    #[arg(long = "env")]
    environment: Option<String>,
}

fn env_arg(text: Option<&str>) -> Result<Option<Environment>, Failure> {
    text.map(|e| Environment::new(e).map_err(|err| invalid(anyhow!("--env: {err}"))))
        .transpose()
}

fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn paint(text: &str, code: &str, on: bool) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn print_plan(plans: &[EnvironmentPlan], diff: bool) {
    let on = colour();
    for p in plans {
        let status = match p.status {
            SyncStatus::Synced => paint("synced", "32", on),
            SyncStatus::OutOfSync => paint("out_of_sync", "33", on),
            SyncStatus::NeverDeployed => paint("never_deployed", "36", on),
            SyncStatus::Failed => paint("failed", "31", on),
            SyncStatus::Drifted => paint("drifted", "31", on),
        };
        let live = p
            .live
            .as_ref()
            .map(|l| format!("live #{} rev {}", l.id, l.revision))
            .unwrap_or_else(|| "nothing live".to_owned());
        let health = p
            .health
            .as_ref()
            .map(|h| {
                if h.up {
                    format!(", up {}ms", h.latency_ms.unwrap_or(0))
                } else {
                    format!(", DOWN: {}", h.error.as_deref().unwrap_or("unhealthy"))
                }
            })
            .unwrap_or_default();
        print(&format!(
            "{} {}: {status} (rev {}, {live}, strategy {}{health})",
            p.customer, p.environment, p.revision, p.strategy
        ));
        if let Some(drift) = &p.drift {
            let by = match (&drift.author, &drift.source) {
                (Some(a), Some(s)) => format!(" (by {a}, {s})"),
                (Some(a), None) => format!(" (by {a})"),
                (None, Some(s)) => format!(" ({s})"),
                (None, None) => String::new(),
            };
            print(&format!(
                "  drifted: {}{by}; deploy restores the configured release",
                drift.detail
            ));
        }
        if let Some(route) = &p.routing
            && (route.pending || route.domain.is_some())
        {
            print(&format!("  routing: {}", route_line(route)));
        }
        for e in &p.events {
            print(&format!("  events: {}", events_line(e)));
        }
        if let Some(old) = &p.rename_from {
            print(&format!(
                "  pending rename: worker {old} -> {} (deploy brings up the new name, then \
                 deletes the old script once the new worker is healthy)",
                p.worker_name
            ));
        }
        if let Some(failed) = &p.failed_attempt {
            print(&format!(
                "  last attempt #{} failed: {}",
                failed.id,
                failed.error.as_deref().unwrap_or("unknown error")
            ));
        }
        for s in &p.secrets {
            let what = match s.change {
                Change::Added => "added",
                Change::Removed => "removed",
                Change::Changed => "changed",
            };
            print(&format!(
                "  secret {} {what} ({} -> {})",
                s.binding,
                s.deployed.as_deref().unwrap_or("-"),
                s.pending.as_deref().unwrap_or("-")
            ));
        }
        if diff && p.status != SyncStatus::Synced {
            for f in &p.files {
                for line in f.diff.lines() {
                    let painted = if line.starts_with("+++") || line.starts_with("---") {
                        paint(line, "1", on)
                    } else if line.starts_with('+') {
                        paint(line, "32", on)
                    } else if line.starts_with('-') {
                        paint(line, "31", on)
                    } else if line.starts_with("@@") {
                        paint(line, "36", on)
                    } else {
                        line.to_owned()
                    };
                    print(&format!("  {painted}"));
                }
            }
        }
    }
}

fn json(value: &impl serde::Serialize) -> Result<(), Failure> {
    print(&serde_json::to_string_pretty(value).map_err(|e| invalid(anyhow!(e)))?);
    Ok(())
}

/// `c15tctl plan`.
pub async fn plan(control: &Control, scope: Scope, json_out: bool) -> Result<(), Failure> {
    let env = env_arg(scope.environment.as_deref())?;
    let (mut plans, failures) = match &scope.customer {
        Some(c) => (
            control.plan(&customer_id(c)?, env.as_ref()).await?,
            Vec::new(),
        ),
        None => control.plan_all().await?,
    };
    if let Some(env) = &env {
        plans.retain(|p| &p.environment == env);
    }
    if json_out {
        let failures: Vec<_> = failures
            .iter()
            .map(|(c, e)| serde_json::json!({"customer": c, "error": format!("{:#}", anyhow!(e.to_string()))}))
            .collect();
        return json(&serde_json::json!({ "environments": plans, "failures": failures }));
    }
    print_plan(&plans, true);
    for (c, e) in &failures {
        print(&format!("{c}: cannot plan: {e}"));
    }
    let pending = plans
        .iter()
        .filter(|p| p.status != SyncStatus::Synced)
        .count();
    print(&format!(
        "{} environment(s), {pending} to deploy, {} synced",
        plans.len(),
        plans.len() - pending
    ));
    Ok(())
}

/// `c15tctl deploy`.
pub async fn deploy(
    control: &Control,
    actor: &str,
    scope: Scope,
    concurrency: usize,
    json_out: bool,
) -> Result<(), Failure> {
    let env = env_arg(scope.environment.as_deref())?;
    let targets: Vec<(CustomerId, Environment)> = match &scope.customer {
        Some(c) => {
            let id = customer_id(c)?;
            control
                .plan(&id, env.as_ref())
                .await?
                .into_iter()
                .map(|p| (p.customer, p.environment))
                .collect()
        }
        None => {
            let (plans, failures) = control.plan_all().await?;
            for (c, e) in &failures {
                print(&format!("{c}: cannot plan, skipped: {e}"));
            }
            plans
                .into_iter()
                .filter(|p| p.status != SyncStatus::Synced)
                .filter(|p| env.as_ref().is_none_or(|e| e == &p.environment))
                .map(|p| (p.customer, p.environment))
                .collect()
        }
    };
    let bar = if json_out || !std::io::stderr().is_terminal() || targets.len() < 2 {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(targets.len() as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} deployed {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (customer, environment) in targets {
        let control = control.clone();
        let actor = actor.to_owned();
        let semaphore = Arc::clone(&semaphore);
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let result = control.deploy(&actor, &customer, &environment).await;
            (customer, environment, result)
        });
    }
    let mut results: Vec<(CustomerId, Environment, Result<DeployReport, String>)> = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (customer, environment, result) =
            done.map_err(|e| invalid(anyhow!("a deploy task failed: {e}")))?;
        bar.inc(1);
        bar.set_message(format!("{customer}/{environment}"));
        results.push((
            customer,
            environment,
            result.map_err(|f| format!("{:#}", anyhow::Error::new(f.error))),
        ));
    }
    bar.finish_and_clear();
    results.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let failed = results.iter().filter(|r| r.2.is_err()).count();
    if json_out {
        let rows: Vec<_> = results
            .iter()
            .map(|(c, e, r)| match r {
                Ok(report) => serde_json::json!({"customer": c, "environment": e, "ok": true, "report": report}),
                Err(error) => serde_json::json!({"customer": c, "environment": e, "ok": false, "error": error}),
            })
            .collect();
        json(&rows)?;
    } else {
        for (c, e, r) in &results {
            match r {
                Ok(report) if report.unchanged => print(&format!(
                    "{c} {e}: unchanged (already live), deployment #{}",
                    report.deployment.id
                )),
                Ok(report) => print(&format!(
                    "{c} {e}: deployed #{} rev {}{}",
                    report.deployment.id,
                    report.deployment.revision,
                    report
                        .deployment
                        .url
                        .as_deref()
                        .map(|u| format!(" at {u}"))
                        .unwrap_or_default()
                )),
                Err(error) => print(&format!("{c} {e}: FAILED: {error}")),
            }
        }
        print(&format!(
            "{} deployed, {failed} failed",
            results.len() - failed
        ));
    }
    if failed > 0 {
        return Err(Failure {
            code: EXIT_INVALID,
            error: anyhow!("{failed} deploy(s) failed"),
        });
    }
    Ok(())
}

/// `c15tctl rollback`.
pub async fn rollback(
    control: &Control,
    actor: &str,
    customer: &str,
    to: i64,
    json_out: bool,
) -> Result<(), Failure> {
    let report = control
        .rollback(actor, &customer_id(customer)?, to)
        .await
        .map_err(|f| Failure::from(f.error))?;
    if json_out {
        return json(&report);
    }
    print(&format!(
        "rolled back to #{to}: deployment #{} ({}){}",
        report.deployment.id,
        report.deployment.status,
        report
            .deployment
            .url
            .as_deref()
            .map(|u| format!(" at {u}"))
            .unwrap_or_default()
    ));
    if !report.secrets_changed.is_empty() {
        print(&format!(
            "secrets changed since #{to}, deployed with their current values: {}",
            report.secrets_changed.join(", ")
        ));
    }
    Ok(())
}

/// `c15tctl deployments`.
pub async fn deployments(
    control: &Control,
    customer: &str,
    environment: Option<&str>,
    limit: u64,
    json_out: bool,
) -> Result<(), Failure> {
    let env = env_arg(environment)?;
    let list = control
        .deployments(&customer_id(customer)?, env.as_ref(), limit)
        .await?;
    if json_out {
        return json(&list);
    }
    print(&format!(
        "{:>6} {:<12} {:>5} {:<12} {:<20} {}",
        "ID", "ENV", "REV", "STATUS", "FINISHED", "URL / ERROR"
    ));
    for d in &list {
        let detail = match (&d.error, &d.url) {
            (Some(e), _) => e.clone(),
            (None, Some(u)) => u.clone(),
            (None, None) => String::new(),
        };
        let rollback = d
            .rollback_of
            .map(|r| format!(" (rollback to #{r})"))
            .unwrap_or_default();
        let health = match &d.health {
            Some(h) if h.up => " [up]".to_owned(),
            Some(h) => format!(" [DOWN: {}]", h.error.as_deref().unwrap_or("unhealthy")),
            None => String::new(),
        };
        print(&format!(
            "{:>6} {:<12} {:>5} {:<12} {:<20} {detail}{rollback}{health}",
            d.id,
            d.environment.as_str(),
            d.revision,
            d.status,
            d.finished_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
        ));
    }
    Ok(())
}

/// `c15tctl strategy`.
pub async fn strategy(
    control: &Control,
    actor: &str,
    command: StrategyCommand,
) -> Result<(), Failure> {
    let StrategyCommand::Set { customer, strategy } = command;
    let strategy: Strategy = strategy.parse().map_err(|e: String| invalid(anyhow!(e)))?;
    let view = control
        .strategy_set(actor, &customer_id(&customer)?, strategy)
        .await?;
    print(&format!(
        "customer `{customer}` now uses the {} strategy",
        view.delivery.strategy
    ));
    Ok(())
}

/// `c15tctl delivery`.
pub async fn delivery(
    control: &Control,
    actor: &str,
    command: DeliveryCommand,
) -> Result<(), Failure> {
    match command {
        DeliveryCommand::Show { customer, json: j } => {
            let view = control.delivery_show(&customer_id(&customer)?).await?;
            if j {
                return json(&view);
            }
            print_delivery(&view);
            Ok(())
        }
        DeliveryCommand::Set(args) => {
            let id = customer_id(&args.customer)?;
            let strategy = args
                .strategy
                .as_deref()
                .map(|s| {
                    s.parse::<Strategy>()
                        .map_err(|e| invalid(anyhow!("--strategy: {e}")))
                })
                .transpose()?;
            let target = match args.target.as_deref() {
                None => None,
                Some("none") => Some(DeployTarget::None),
                Some("file") => Some(DeployTarget::File),
                Some("webhook") => Some(DeployTarget::Webhook),
                Some("cloudflare") => Some(DeployTarget::Cloudflare {
                    account_id: args.account_id.clone().ok_or_else(|| {
                        invalid(anyhow!("--target cloudflare needs --account-id"))
                    })?,
                }),
                Some(other) => {
                    return Err(invalid(anyhow!(
                        "--target: unknown target `{other}`; allowed: none, cloudflare, file, webhook"
                    )));
                }
            };
            let cloudflare_token = match &args.cloudflare_token {
                Some(source) => {
                    let source: SecretSource =
                        parse_secret_arg(&format!("cloudflare_token={source}"))
                            .map(|(_, s)| s)
                            .map_err(invalid)?;
                    Some(read_secret("cloudflare_token", &source).map_err(invalid)?)
                }
                None => None,
            };
            let webhook_url = if args.no_webhook {
                Some(None)
            } else {
                args.webhook_url.clone().map(Some)
            };
            let mut routing = Vec::new();
            if let Some(environment) = &args.environment {
                if args.hostname.is_none() && args.zone_id.is_none() && args.workers_dev.is_none() {
                    return Err(invalid(anyhow!(
                        "--environment says whose routing changes; add --hostname, --zone-id or \
                         --workers-dev"
                    )));
                }
                let environment: Environment = environment
                    .parse()
                    .map_err(|e| invalid(anyhow!("--environment: {e}")))?;
                let mut current = control
                    .delivery_settings(&id)
                    .await?
                    .routing
                    .get(&environment)
                    .cloned()
                    .unwrap_or_default();
                match args.hostname.as_deref() {
                    Some("none") => {
                        current.hostname = None;
                        current.zone_id = None;
                    }
                    Some(hostname) => current.hostname = Some(hostname.to_owned()),
                    None => {}
                }
                match args.zone_id.as_deref() {
                    Some("auto") => current.zone_id = None,
                    Some(zone) => current.zone_id = Some(zone.to_owned()),
                    None => {}
                }
                if let Some(on) = args.workers_dev.as_deref() {
                    current.workers_dev = on == "on";
                }
                routing.push((environment, current));
            }
            let changed = control
                .delivery_set(
                    actor,
                    &id,
                    DeliveryPatch {
                        routing,
                        strategy,
                        target,
                        cloudflare_token,
                        webhook_url,
                        webhook_enable: args.enable_webhook,
                        rotate_webhook_secret: args.rotate_webhook_secret,
                        retire_old_webhook_secrets: args.retire_old_webhook_secrets,
                        rollout: match args.rollout.as_deref() {
                            None => None,
                            Some("default") => Some(None),
                            Some(text) => Some(Some(
                                c15t_model::Rollout::parse(text, args.rollout_dwell_secs)
                                    .map_err(|e| invalid(anyhow!("--rollout: {e}")))?,
                            )),
                        },
                    },
                )
                .await?;
            if args.json {
                return json(&serde_json::json!({
                    "delivery": changed.view,
                    "new_webhook_secret": changed.new_webhook_secret.as_ref().map(|s| s.expose()),
                }));
            }
            print_delivery(&changed.view);
            if let Some(secret) = &changed.new_webhook_secret {
                print(&format!(
                    "new webhook signing secret (shown once; configure it on your receiver): {}",
                    secret.expose()
                ));
            }
            Ok(())
        }
    }
}

fn print_delivery(view: &c15t_control::DeliveryView) {
    let d = &view.delivery;
    print(&format!("strategy: {}", d.strategy));
    let target = match &d.target {
        DeployTarget::Cloudflare { account_id } => format!("cloudflare (account {account_id})"),
        other => other.kind().to_owned(),
    };
    print(&format!("target:   {target}"));
    match &d.rollout {
        Some(rollout) => print(&format!("rollout:  {rollout}")),
        None => print("rollout:  the operator's default"),
    }
    if let Some(fp) = &view.cloudflare_token {
        print(&format!("cloudflare token: set, fingerprint {fp}"));
    }
    for route in &view.routes {
        print(&format!("routing {}:", route.environment));
        print(&format!("  {}", route_line(route)));
    }
    match &d.webhook {
        Some(w) => {
            let state = if w.enabled {
                "enabled".to_owned()
            } else {
                format!(
                    "DISABLED ({})",
                    w.disabled_reason.as_deref().unwrap_or("by an operator")
                )
            };
            print(&format!("webhook:  {} ({state})", w.url));
            for fp in &view.webhook_secrets {
                print(&format!("  signing secret fingerprint {fp}"));
            }
        }
        None => print("webhook:  none"),
    }
}

/// One environment's routing in words: the domain and its state, workers.dev, pending.
/// One destination's server-side events, e.g. `meta-prod: browser only (Meta Conversions
/// API needs accessToken)`.
pub(crate) fn events_line(e: &c15t_control::EventForwarding) -> String {
    match e.state {
        c15t_control::EventsState::Forwards => {
            format!("{}: server-side events to {}", e.destination, e.api)
        }
        c15t_control::EventsState::BrowserOnly => format!(
            "{}: browser only ({} needs {})",
            e.destination,
            e.api,
            e.missing.join(", ")
        ),
    }
}

pub(crate) fn route_line(route: &c15t_control::RouteStatus) -> String {
    let mut parts = Vec::new();
    match (&route.wanted.hostname, &route.domain) {
        (Some(wanted), Some(domain)) if *wanted == domain.hostname => {
            let mut text = format!("custom domain {wanted}: {}", domain.state);
            if let Some(zone) = &domain.zone_name {
                text.push_str(&format!(" (zone {zone})"));
            }
            if let Some(message) = &domain.message {
                text.push_str(&format!(": {message}"));
            }
            parts.push(text);
        }
        (Some(wanted), Some(domain)) => parts.push(format!(
            "custom domain {wanted} (not attached yet; {} is attached now)",
            domain.hostname
        )),
        (Some(wanted), None) => parts.push(format!("custom domain {wanted} (not attached yet)")),
        (None, Some(domain)) => parts.push(format!(
            "no custom domain ({} is attached and is detached by the next deploy)",
            domain.hostname
        )),
        (None, None) => parts.push("no custom domain".to_owned()),
    }
    parts.push(format!(
        "workers.dev {}",
        if route.wanted.workers_dev {
            "on"
        } else {
            "off"
        }
    ));
    if route.pending {
        parts.push("PENDING: the next deploy applies it".to_owned());
    }
    parts.join("; ")
}

/// `c15tctl health`.
pub async fn health(
    control: &Control,
    customer: Option<&str>,
    check: bool,
    json_out: bool,
) -> Result<(), Failure> {
    let id = customer.map(customer_id).transpose()?;
    let records = if check {
        control
            .health_check(&HealthOptions::default(), id.as_ref())
            .await?
            .workers
    } else {
        control.health(id.as_ref()).await?
    };
    if json_out {
        return json(&records);
    }
    if records.is_empty() {
        print("no live worker has been probed yet (run with --check)");
    }
    for r in &records {
        let p = &r.probe;
        let state = if p.up {
            format!("up {}ms", p.latency_ms.unwrap_or(0))
        } else {
            format!(
                "DOWN ({} in a row): {}",
                r.consecutive_failures,
                p.error.as_deref().unwrap_or("unhealthy")
            )
        };
        print(&format!(
            "{} {} deployment #{}: {state} at {} ({})",
            p.customer,
            p.environment,
            p.deployment_id,
            p.checked_at.format("%Y-%m-%d %H:%M:%S"),
            p.url
        ));
    }
    Ok(())
}

/// `c15tctl jobs`.
pub async fn jobs(control: &Control, command: JobsCommand) -> Result<(), Failure> {
    match command {
        JobsCommand::Run {
            once,
            concurrency,
            lease_secs,
            poll_secs,
        } => {
            let options = RunnerOptions {
                worker: format!(
                    "c15tctl-{}-{}",
                    std::process::id(),
                    chrono::Utc::now().timestamp_millis()
                ),
                lease: Duration::from_secs(lease_secs.max(1)),
                poll: Duration::from_secs_f64(poll_secs.max(0.01)),
                concurrency,
                once,
            };
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            let report = control.run_jobs(&options, shutdown).await?;
            print(&format!(
                "jobs: {} completed, {} failed attempts, {} abandoned",
                report.completed, report.failed, report.reaped
            ));
            Ok(())
        }
        JobsCommand::Status { json: j } => {
            let counts = control.job_counts().await.map_err(|e| Failure {
                code: crate::EXIT_IO,
                error: anyhow!(e),
            })?;
            if j {
                return json(&serde_json::json!({
                    "pending": counts.pending, "running": counts.running,
                    "done": counts.done, "failed": counts.failed,
                }));
            }
            print(&format!(
                "pending {}, running {}, done {}, failed {}",
                counts.pending, counts.running, counts.done, counts.failed
            ));
            Ok(())
        }
    }
}

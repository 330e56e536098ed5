//! `c15t-server`: the c15t control plane's operator API server. It reads its configuration,
//! opens the database and key file, serves `c15t-api`'s router with the operational layer
//! (request ids, spans, `/healthz`, `/readyz`, `/metrics`), and runs the job runner and the
//! worker health monitor beside it until SIGTERM or SIGINT.

mod config;
mod logging;
mod token;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use c15t_api::ApiState;
use c15t_api::auth::OperatorToken;
use c15t_api::ops::{Metrics, Ops};
use c15t_control::{Control, KeySource, SystemClock};
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use crate::config::{Config, Flags};

#[derive(Debug, Parser)]
#[command(
    name = "c15t-server",
    version,
    about = "c15t control plane operator API server",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    flags: Flags,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (what running without a command does).
    Serve(Box<Flags>),
    /// Operator tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print a new random operator token and the hash to configure
    /// (`C15T_OPERATOR_TOKEN_HASHES` or `operator_token_hashes` in the file).
    Generate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Token(TokenCommand::Generate)) => token_generate(),
        Some(Command::Serve(flags)) => serve_blocking(*flags),
        None => serve_blocking(cli.flags),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stderr)]
fn report(e: &anyhow::Error) {
    eprintln!("error: {e:#}");
}

#[allow(clippy::print_stdout)]
fn token_generate() -> anyhow::Result<()> {
    let token = token::generate()?;
    let hash = token::hash(&token);
    println!("token: {token}");
    println!("hash:  {hash}");
    println!();
    println!("Give the token to the operator (it is not stored anywhere) and configure the hash:");
    println!("  C15T_OPERATOR_TOKEN_HASHES={hash}");
    println!("or in c15t-server.toml:");
    println!("  operator_token_hashes = [\"{hash}\"]");
    Ok(())
}

fn serve_blocking(flags: Flags) -> anyhow::Result<()> {
    let config = Config::load(flags)?;
    let metrics = Metrics::new();
    logging::init(config.log_format, metrics.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(config, metrics));
    if let Err(e) = &result {
        tracing::error!(error = format!("{e:#}"), "server stopped");
    }
    result
}

async fn serve(config: Config, metrics: Metrics) -> anyhow::Result<()> {
    let store = c15t_control::open_database(&config.database_url)
        .await
        .with_context(|| format!("cannot open the database {}", redact(&config.database_url)))?;
    // Created only on a fresh install (no vault stored); refused when it does not open them.
    let (keys, opened) = KeySource::open(config.key_file.clone(), &*store)
        .await
        .with_context(|| format!("cannot use the key file {}", config.key_file.display()))?;
    if opened.created {
        tracing::info!(
            path = %config.key_file.display(),
            recipient = opened.recipient,
            "created a new key file (mode 0600); back it up: stored secrets cannot be read without it"
        );
    } else {
        tracing::info!(
            path = %config.key_file.display(),
            recipient = opened.recipient,
            vaults = opened.vaults,
            "loaded the key file; it opens every stored vault"
        );
    }
    let testers = c15t_control::Testers::new(c15t_control::VendorOptions {
        endpoints: config.vendors.clone(),
        timeout: Some(config.vendor_timeout),
        ssrf: config.delivery.ssrf.clone(),
    })
    .context("cannot set up the destination connection testers")?;
    let control = Control::new(store, keys, Arc::new(SystemClock))
        .with_delivery(config.delivery.clone())
        .with_vendors(testers);
    if let Some((email, password)) = &config.admin
        && control
            .user_ensure_operator(email, password)
            .await
            .with_context(|| format!("cannot create the operator account {email}"))?
    {
        tracing::info!(email, "created the operator account for the admin UI");
    }
    if config.operator_token_hashes.is_empty() {
        tracing::warn!(
            "no operator token is configured, so only customer tokens are accepted; create one \
             with `c15t-server token generate` and set C15T_OPERATOR_TOKEN_HASHES to its hash"
        );
    }

    let ui = c15t_ui::router(c15t_ui::UiState::new(
        control.clone(),
        config.public_url.as_deref().unwrap_or("http://localhost"),
    ));
    let app = c15t_api::ops::layer(
        api_router(
            &control,
            &config.operator_token_hashes,
            config.public_url.as_deref(),
            config.rate_limits,
        )?
        .merge(ui)
        .route(
            "/",
            axum::routing::get(|| async { axum::response::Redirect::to("/ui") }),
        ),
        Ops {
            control: control.clone(),
            metrics,
        },
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        addr = %addr,
        database = redact(&config.database_url),
        jobs = config.jobs,
        health_monitor = config.health.is_some(),
        "listening"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });

    let jobs = config.jobs.then(|| {
        let control = control.clone();
        let options = config.runner.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move { run_jobs(&control, &options, stop).await })
    });
    let health = config.health.clone().map(|options| {
        let control = control.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            if let Err(e) = control.health_monitor(&options, stopped(stop)).await {
                tracing::error!(error = %e, "health monitor stopped");
            }
        })
    });

    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(stopped(stop_rx.clone()))
    .into_future();
    let grace = config.shutdown_grace;
    let overdue = async {
        stopped(stop_rx.clone()).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result.context("serving HTTP")?,
        () = overdue => tracing::warn!(
            grace_secs = grace.as_secs(),
            "requests still in flight after the shutdown grace period; closing them"
        ),
    }
    tracing::info!("HTTP server stopped; waiting for running jobs to finish");
    if let Some(jobs) = jobs {
        let _ = jobs.await;
    }
    if let Some(health) = health {
        let _ = health.await;
    }
    // Deploys, rollbacks and connection tests whose requests went away run as tasks of their
    // own (`Control::detach`): give them the grace period to finish and record their end.
    // One still running after it is failed by the next process's reaper (its lease lapses).
    let draining = async {
        while control.detached_in_flight() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    if control.detached_in_flight() > 0 {
        tracing::info!(
            tasks = control.detached_in_flight(),
            "waiting for detached deploys and tests to finish"
        );
        if tokio::time::timeout(grace, draining).await.is_err() {
            tracing::warn!(
                tasks = control.detached_in_flight(),
                grace_secs = grace.as_secs(),
                "detached tasks still running after the shutdown grace period; the reaper \
                 fails their deployments"
            );
        }
    }
    tracing::info!("shut down");
    Ok(())
}

/// The API router for `control`, accepting the operator tokens with these hashes.
fn api_router(
    control: &Control,
    operator_token_hashes: &[String],
    public_url: Option<&str>,
    rate_limits: c15t_api::RateLimits,
) -> anyhow::Result<axum::Router> {
    let tokens = operator_token_hashes
        .iter()
        .map(|hash| {
            OperatorToken::from_hash(hash)
                .with_context(|| format!("operator token hash `{hash}` is not sha256:<64 hex>"))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut state = ApiState::new(control.clone(), tokens).with_rate_limits(rate_limits);
    if let Some(url) = public_url {
        state = state.with_public_base_url(url);
    }
    Ok(c15t_api::router(state))
}

/// Runs jobs until `stop`; a runner that fails (the database went away) is started again
/// after a pause, so one outage does not stop deploys for good.
async fn run_jobs(
    control: &Control,
    options: &c15t_control::RunnerOptions,
    stop: watch::Receiver<bool>,
) {
    loop {
        match control.run_jobs(options, stopped(stop.clone())).await {
            Ok(report) => {
                tracing::info!(
                    completed = report.completed,
                    failed = report.failed,
                    reaped = report.reaped,
                    "job runner stopped"
                );
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "job runner failed; restarting it in 5 s");
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
                    () = stopped(stop.clone()) => return,
                }
            }
        }
    }
}

/// Completes once `stop` says so (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    let name = tokio::select! {
        () = interrupt => "SIGINT",
        () = terminate => "SIGTERM",
    };
    tracing::info!(
        signal = name,
        "shutting down: no new connections, finishing requests in flight"
    );
}

/// A database URL fit for logs: the password (if any) replaced.
fn redact(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => database_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_not_logged() {
        assert_eq!(
            redact("postgres://c15t:hunter2@db:5432/c15t"),
            "postgres://c15t:***@db:5432/c15t"
        );
        assert_eq!(
            redact("sqlite://c15t.db?mode=rwc"),
            "sqlite://c15t.db?mode=rwc"
        );
    }
}

//! The server's configuration: command-line flags and environment variables (`C15T_*`) over
//! an optional TOML file (`--config` / `C15T_CONFIG`) over defaults.
//!
//! Every setting has the same name in all three places: the flag `--deploy-root`, the
//! variable `C15T_DEPLOY_ROOT` and the file key `deploy_root`. The delivery settings use the
//! names `c15tctl` uses, so one environment configures both.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use c15t_control::{
    DEFAULT_CLOUDFLARE_API, DeliveryOptions, DeliverySettings, HealthOptions, RunnerOptions,
    Secret, VendorEndpoints,
};
use clap::Args;
use serde::Deserialize;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags of `c15t-server serve` (the default command). Each overrides the file's setting of
/// the same name.
#[derive(Debug, Args, Default)]
pub struct Flags {
    /// A TOML configuration file (keys as the flags, with underscores).
    #[arg(long, env = "C15T_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "C15T_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Database URL: a SQLite file (created on first use) or postgres://...
    /// [default: sqlite://c15t.db?mode=rwc].
    #[arg(long, env = "C15T_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The age key file; created on first start when missing and the database holds no
    /// secrets; the server refuses to start if it does not open the stored ones
    /// [default: c15t.key].
    #[arg(long, env = "C15T_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Where customers and CI reach this server (download links in webhooks)
    /// [default: http://<listen>].
    #[arg(long, env = "C15T_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Operator tokens (plaintext; prefer --operator-token-hashes); separate with commas.
    #[arg(
        long,
        env = "C15T_OPERATOR_TOKENS",
        value_delimiter = ',',
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub operator_tokens: Vec<Secret>,
    /// Hashes of operator tokens (`sha256:<hex>`, from `c15t-server token generate`);
    /// separate with commas.
    #[arg(long, env = "C15T_OPERATOR_TOKEN_HASHES", value_delimiter = ',')]
    pub operator_token_hashes: Vec<String>,
    /// Run the job runner (deploys, notifications, webhooks) in this process [default: true].
    #[arg(long, env = "C15T_JOBS")]
    pub jobs: Option<bool>,
    /// Jobs run at the same time [default: 4].
    #[arg(long, env = "C15T_JOB_CONCURRENCY")]
    pub job_concurrency: Option<usize>,
    /// Seconds between worker health probe rounds; 0 turns the health monitor off
    /// [default: 60].
    #[arg(long, env = "C15T_HEALTH_INTERVAL_SECS")]
    pub health_interval_secs: Option<u64>,
    /// Log line format [default: text].
    #[arg(long, env = "C15T_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT [default: 30].
    #[arg(long, env = "C15T_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Cloudflare's API base URL.
    #[arg(long, env = "C15T_CLOUDFLARE_API")]
    pub cloudflare_api: Option<String>,
    /// Send requests to `*.workers.dev` (health probes) to this address instead, with the
    /// worker's hostname in the `Host` header: an egress proxy that routes by host.
    #[arg(long, env = "C15T_WORKERS_EDGE")]
    pub workers_edge: Option<String>,
    /// How Cloudflare releases take traffic unless a customer says otherwise: `immediate`,
    /// or percentages such as `10,50,100` [default: 10,50,100].
    #[arg(long = "default-rollout", env = "C15T_ROLLOUT")]
    pub rollout: Option<String>,
    /// Seconds between two steps of a gradual rollout [default: 60].
    #[arg(long = "default-rollout-dwell-secs", env = "C15T_ROLLOUT_DWELL_SECS")]
    pub rollout_dwell_secs: Option<u64>,
    /// Where file deploys write (`<root>/<customer>/<environment>`).
    #[arg(long, env = "C15T_DEPLOY_ROOT")]
    pub deploy_root: Option<PathBuf>,
    /// Runtime bundles (from `c15tctl runtime build`) managed deploys upload; separate with
    /// commas.
    #[arg(long, env = "C15T_RUNTIME", value_delimiter = ',')]
    pub runtime: Vec<PathBuf>,
    /// Address ranges webhooks may reach although they are not public; separate with commas.
    #[arg(long, env = "C15T_WEBHOOK_ALLOW", value_delimiter = ',')]
    pub webhook_allow: Vec<ipnet::IpNet>,
    /// Allow plain-http webhook URLs (tests, private networks).
    #[arg(long, env = "C15T_WEBHOOK_ALLOW_HTTP")]
    pub webhook_allow_http: Option<bool>,
    /// How long an automatic deploy waits for more edits, in milliseconds [default: 2000].
    #[arg(long, env = "C15T_DEBOUNCE_MS")]
    pub debounce_ms: Option<u64>,
    /// Delay before the first retry of a failed deploy job or Cloudflare call, in
    /// milliseconds [default: 500].
    #[arg(long, env = "C15T_RETRY_BASE_MS")]
    pub retry_base_ms: Option<u64>,
    /// Cloudflare API requests allowed per API token per window [default: 1200].
    #[arg(long, env = "C15T_CLOUDFLARE_LIMIT")]
    pub cloudflare_limit: Option<usize>,
    /// The window of that limit, in seconds [default: 300].
    #[arg(long, env = "C15T_CLOUDFLARE_WINDOW_SECS")]
    pub cloudflare_window_secs: Option<u64>,
    /// Meta's Graph API base URL, for destination connection tests
    /// [default: https://graph.facebook.com].
    #[arg(long, env = "C15T_META_GRAPH_URL")]
    pub meta_graph_url: Option<url::Url>,
    /// Google Analytics' Measurement Protocol base URL [default: https://www.google-analytics.com].
    #[arg(long, env = "C15T_GA4_MP_URL")]
    pub ga4_mp_url: Option<url::Url>,
    /// PostHog host for destinations that set none [default: https://us.i.posthog.com].
    #[arg(long, env = "C15T_POSTHOG_URL")]
    pub posthog_url: Option<url::Url>,
    /// Timeout of a connection test, in milliseconds [default: 10000].
    #[arg(long, env = "C15T_VENDOR_TIMEOUT_MS")]
    pub vendor_timeout_ms: Option<u64>,
    /// Requests per second each customer API token may make, sustained (bursts of ten
    /// seconds' worth); over it, 429 with Retry-After. 0: no limit [default: 20].
    #[arg(long, env = "C15T_CUSTOMER_RATE_LIMIT")]
    pub customer_rate_limit: Option<u32>,
    /// The same for each operator token [default: 200].
    #[arg(long, env = "C15T_OPERATOR_RATE_LIMIT")]
    pub operator_rate_limit: Option<u32>,
    /// Email of an operator account for the admin UI, created on start if missing (with
    /// C15T_ADMIN_PASSWORD; an existing account keeps its password).
    #[arg(long, env = "C15T_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// Its password (at least 12 characters); only from the environment or the file.
    #[arg(long, env = "C15T_ADMIN_PASSWORD", hide = true, value_parser = parse_secret)]
    pub admin_password: Option<Secret>,
}

fn parse_secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s.trim().to_owned()))
}

/// The configuration file: the flags' settings, every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    key_file: Option<PathBuf>,
    public_url: Option<String>,
    #[serde(default)]
    operator_tokens: Vec<String>,
    #[serde(default)]
    operator_token_hashes: Vec<String>,
    jobs: Option<bool>,
    job_concurrency: Option<usize>,
    health_interval_secs: Option<u64>,
    log_format: Option<LogFormat>,
    shutdown_grace_secs: Option<u64>,
    cloudflare_api: Option<String>,
    workers_edge: Option<String>,
    default_rollout: Option<String>,
    default_rollout_dwell_secs: Option<u64>,
    deploy_root: Option<PathBuf>,
    #[serde(default)]
    runtime: Vec<PathBuf>,
    #[serde(default)]
    webhook_allow: Vec<String>,
    webhook_allow_http: Option<bool>,
    debounce_ms: Option<u64>,
    retry_base_ms: Option<u64>,
    cloudflare_limit: Option<usize>,
    cloudflare_window_secs: Option<u64>,
    meta_graph_url: Option<url::Url>,
    ga4_mp_url: Option<url::Url>,
    posthog_url: Option<url::Url>,
    vendor_timeout_ms: Option<u64>,
    customer_rate_limit: Option<u32>,
    operator_rate_limit: Option<u32>,
    admin_email: Option<String>,
    admin_password: Option<String>,
}

/// The settings in force.
#[derive(Debug)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Database URL.
    pub database_url: String,
    /// The age key file.
    pub key_file: PathBuf,
    /// The public base URL when one was configured (the OpenAPI document then names it).
    pub public_url: Option<String>,
    /// Operator tokens, as hashes (`sha256:<hex>`) only.
    pub operator_token_hashes: Vec<String>,
    /// Whether the job runner runs here.
    pub jobs: bool,
    /// The job runner's options.
    pub runner: RunnerOptions,
    /// The health monitor's options; `None` when it is off.
    pub health: Option<HealthOptions>,
    /// Log line format.
    pub log_format: LogFormat,
    /// How long in-flight requests get to finish on shutdown.
    pub shutdown_grace: Duration,
    /// How deploys and webhooks are delivered.
    pub delivery: DeliveryOptions,
    /// Where destination connection tests reach the vendors.
    pub vendors: VendorEndpoints,
    /// Timeout of a connection test.
    pub vendor_timeout: Duration,
    /// Request rate limits per token.
    pub rate_limits: c15t_api::RateLimits,
    /// The operator account to ensure on start (email, password).
    pub admin: Option<(String, Secret)>,
}

impl Config {
    /// Merges `flags` (and their environment variables) over the file they name over the
    /// defaults.
    pub fn load(flags: Flags) -> anyhow::Result<Self> {
        let file = match &flags.config {
            Some(path) => read_file(path)?,
            None => File::default(),
        };
        let listen = flags
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let mut hashes = if flags.operator_token_hashes.is_empty() {
            file.operator_token_hashes
        } else {
            flags.operator_token_hashes
        };
        for hash in &mut hashes {
            *hash = hash.trim().to_ascii_lowercase();
            if !crate::token::is_hash(hash) {
                return Err(anyhow!(
                    "operator token hash `{hash}` is not `sha256:` and 64 hex digits; \
                     `c15t-server token generate` prints one"
                ));
            }
        }
        let plaintext: Vec<Secret> = if flags.operator_tokens.is_empty() {
            file.operator_tokens.into_iter().map(Secret::new).collect()
        } else {
            flags.operator_tokens
        };
        for token in &plaintext {
            if token.expose().is_empty() {
                return Err(anyhow!(
                    "an operator token is empty; remove the stray comma or set a token"
                ));
            }
            hashes.push(crate::token::hash(token.expose()));
        }
        hashes.sort();
        hashes.dedup();

        let health_interval = flags
            .health_interval_secs
            .or(file.health_interval_secs)
            .unwrap_or(60);
        let health = (health_interval > 0).then(|| HealthOptions {
            interval: Duration::from_secs(health_interval),
            ..HealthOptions::default()
        });
        let runner = RunnerOptions {
            worker: format!(
                "{}-{}",
                hostname().unwrap_or_else(|| "server".to_owned()),
                std::process::id()
            ),
            concurrency: flags
                .job_concurrency
                .or(file.job_concurrency)
                .unwrap_or(4)
                .max(1),
            ..RunnerOptions::default()
        };

        let runtime = if flags.runtime.is_empty() {
            file.runtime
        } else {
            flags.runtime
        };
        let webhook_allow = if flags.webhook_allow.is_empty() {
            file.webhook_allow
                .iter()
                .map(|net| {
                    net.parse::<ipnet::IpNet>().with_context(|| {
                        format!("webhook_allow: `{net}` is not an address range such as 10.0.0.0/8")
                    })
                })
                .collect::<anyhow::Result<_>>()?
        } else {
            flags.webhook_allow
        };
        let public_url = flags.public_url.or(file.public_url);
        let defaults = DeliverySettings::default();
        let delivery = DeliveryOptions::from_settings(&DeliverySettings {
            cloudflare_api: flags
                .cloudflare_api
                .or(file.cloudflare_api)
                .unwrap_or_else(|| DEFAULT_CLOUDFLARE_API.to_owned()),
            workers_edge: flags.workers_edge.or(file.workers_edge),
            rollout: flags
                .rollout
                .or(file.default_rollout)
                .unwrap_or(defaults.rollout),
            rollout_dwell_secs: flags
                .rollout_dwell_secs
                .or(file.default_rollout_dwell_secs)
                .unwrap_or(defaults.rollout_dwell_secs),
            deploy_root: flags.deploy_root.or(file.deploy_root),
            runtime,
            public_url: public_url
                .clone()
                .unwrap_or_else(|| format!("http://{listen}")),
            webhook_allow,
            webhook_allow_http: flags
                .webhook_allow_http
                .or(file.webhook_allow_http)
                .unwrap_or(defaults.webhook_allow_http),
            debounce_ms: flags
                .debounce_ms
                .or(file.debounce_ms)
                .unwrap_or(defaults.debounce_ms),
            retry_base_ms: flags
                .retry_base_ms
                .or(file.retry_base_ms)
                .unwrap_or(defaults.retry_base_ms),
            cloudflare_limit: flags
                .cloudflare_limit
                .or(file.cloudflare_limit)
                .unwrap_or(defaults.cloudflare_limit),
            cloudflare_window_secs: flags
                .cloudflare_window_secs
                .or(file.cloudflare_window_secs)
                .unwrap_or(defaults.cloudflare_window_secs),
        })?;

        Ok(Self {
            listen,
            public_url,
            database_url: flags
                .database_url
                .or(file.database_url)
                .unwrap_or_else(c15t_control::default_database_url),
            key_file: flags
                .key_file
                .or(file.key_file)
                .unwrap_or_else(|| PathBuf::from("c15t.key")),
            operator_token_hashes: hashes,
            jobs: flags.jobs.or(file.jobs).unwrap_or(true),
            runner,
            health,
            log_format: flags.log_format.or(file.log_format).unwrap_or_default(),
            shutdown_grace: Duration::from_secs(
                flags
                    .shutdown_grace_secs
                    .or(file.shutdown_grace_secs)
                    .unwrap_or(30),
            ),
            delivery,
            vendors: VendorEndpoints {
                meta_graph: url_or(
                    flags.meta_graph_url.or(file.meta_graph_url),
                    "https://graph.facebook.com",
                ),
                ga4_mp: url_or(
                    flags.ga4_mp_url.or(file.ga4_mp_url),
                    "https://www.google-analytics.com",
                ),
                posthog: url_or(
                    flags.posthog_url.or(file.posthog_url),
                    "https://us.i.posthog.com",
                ),
                ..VendorEndpoints::default()
            },
            vendor_timeout: Duration::from_millis(
                flags
                    .vendor_timeout_ms
                    .or(file.vendor_timeout_ms)
                    .unwrap_or(10_000)
                    .max(1),
            ),
            rate_limits: {
                let default = c15t_api::RateLimits::server_default();
                let limit = |flag: Option<u32>, file: Option<u32>, default| match flag.or(file) {
                    Some(n) => c15t_api::RateLimit::per_second(n),
                    None => default,
                };
                c15t_api::RateLimits {
                    customer: limit(
                        flags.customer_rate_limit,
                        file.customer_rate_limit,
                        default.customer,
                    ),
                    operator: limit(
                        flags.operator_rate_limit,
                        file.operator_rate_limit,
                        default.operator,
                    ),
                }
            },
            admin: match (
                flags.admin_email.or(file.admin_email),
                flags
                    .admin_password
                    .or(file.admin_password.map(Secret::new)),
            ) {
                (Some(email), Some(password)) => Some((email, password)),
                (None, None) => None,
                (Some(_), None) => {
                    return Err(anyhow!(
                        "admin_email is set but C15T_ADMIN_PASSWORD is not; set both or neither"
                    ));
                }
                (None, Some(_)) => {
                    return Err(anyhow!(
                        "C15T_ADMIN_PASSWORD is set but admin_email is not; set both or neither"
                    ));
                }
            },
        })
    }
}

fn url_or(value: Option<url::Url>, default: &str) -> url::Url {
    value.unwrap_or_else(|| url::Url::parse(default).expect("the default vendor URLs parse"))
}

fn read_file(path: &Path) -> anyhow::Result<File> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid configuration file (keys are the flag names with underscores; \
             see `c15t-server serve --help`)",
            path.display()
        )
    })
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c15t-server.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\njobs = false\nhealth_interval_secs = 0\n\
             operator_tokens = [\"file-token\"]\ndebounce_ms = 10\n",
        )
        .expect("write config");
        let config = Config::load(Flags {
            config: Some(path),
            debounce_ms: Some(20),
            ..Flags::default()
        })
        .expect("config loads");
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 9000)));
        assert!(!config.jobs);
        assert!(config.health.is_none());
        assert_eq!(config.delivery.debounce, Duration::from_millis(20));
        assert_eq!(
            config.operator_token_hashes,
            vec![crate::token::hash("file-token")]
        );
        assert_eq!(config.delivery.public_base_url, "http://127.0.0.1:9000");
        assert_eq!(config.database_url, "sqlite://c15t.db?mode=rwc");
    }

    #[test]
    fn unknown_keys_and_bad_hashes_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c15t-server.toml");
        std::fs::write(&path, "listen_addr = \"127.0.0.1:9000\"\n").expect("write config");
        let error = Config::load(Flags {
            config: Some(path),
            ..Flags::default()
        })
        .expect_err("unknown key");
        assert!(format!("{error:#}").contains("listen_addr"), "{error:#}");
        let error = Config::load(Flags {
            operator_token_hashes: vec!["md5:abc".to_owned()],
            ..Flags::default()
        })
        .expect_err("bad hash");
        assert!(error.to_string().contains("token generate"), "{error}");
    }

    #[test]
    fn the_rollout_comes_from_flags_or_the_file_and_is_checked() {
        let defaults = Config::load(Flags::default()).expect("config loads");
        assert_eq!(defaults.delivery.rollout, c15t_model::Rollout::default());
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c15t-server.toml");
        std::fs::write(
            &path,
            "default_rollout = \"20,100\"\ndefault_rollout_dwell_secs = 5\n\
             workers_edge = \"http://127.0.0.1:9\"\n",
        )
        .expect("write config");
        let config = Config::load(Flags {
            config: Some(path.clone()),
            ..Flags::default()
        })
        .expect("config loads");
        assert_eq!(
            config.delivery.rollout,
            c15t_model::Rollout::Gradual {
                steps: vec![20, 100],
                dwell_secs: 5
            }
        );
        assert_eq!(
            config.delivery.workers_edge.as_deref(),
            Some("http://127.0.0.1:9")
        );
        let config = Config::load(Flags {
            config: Some(path),
            rollout: Some("immediate".to_owned()),
            ..Flags::default()
        })
        .expect("config loads");
        assert_eq!(config.delivery.rollout, c15t_model::Rollout::Immediate);
        let error = Config::load(Flags {
            rollout: Some("50,10".to_owned()),
            ..Flags::default()
        })
        .expect_err("bad rollout");
        assert!(
            format!("{error:#}").contains("--default-rollout"),
            "{error:#}"
        );
    }
}

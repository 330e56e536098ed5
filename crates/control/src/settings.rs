//! The operator's delivery settings as plain values (what flags, environment variables and
//! config files say) and the one function that turns them into [`DeliveryOptions`]: both
//! binaries build their options here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use c15t_codegen::TargetProfile;
use c15t_deploy::cloudflare::{CloudflareLimits, DEFAULT_API_BASE, RetryPolicy};
use c15t_deploy::runtime::RuntimeBundle;
use c15t_net::SsrfPolicy;

use crate::{ControlError, DeliveryOptions};

/// Cloudflare's API base URL, the default of [`DeliverySettings::cloudflare_api`].
pub const DEFAULT_CLOUDFLARE_API: &str = DEFAULT_API_BASE;

/// How deploys and webhooks are delivered, in the operator's terms. [`Default`] gives the
/// defaults both binaries document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Cloudflare's API base URL.
    pub cloudflare_api: String,
    /// Where probes of `*.workers.dev` and custom domains are sent instead (an egress proxy
    /// that routes by `Host`).
    pub workers_edge: Option<String>,
    /// How Cloudflare releases take traffic unless a customer says otherwise: `immediate`,
    /// or percentages such as `10,50,100`.
    pub rollout: String,
    /// Seconds between two steps of a gradual rollout.
    pub rollout_dwell_secs: u64,
    /// Where file deploys write (`<root>/<customer>/<environment>`).
    pub deploy_root: Option<PathBuf>,
    /// Runtime bundles (from `c15tctl runtime build`) managed deploys upload.
    pub runtime: Vec<PathBuf>,
    /// Where customers reach this control plane (download links in webhooks).
    pub public_url: String,
    /// Address ranges webhooks may reach although they are not public.
    pub webhook_allow: Vec<ipnet::IpNet>,
    /// Whether plain-http webhook URLs are allowed.
    pub webhook_allow_http: bool,
    /// How long an automatic deploy waits for more edits, in milliseconds.
    pub debounce_ms: u64,
    /// Delay before the first retry of a failed deploy job or Cloudflare call, in
    /// milliseconds (later retries back off from it, ×4 each).
    pub retry_base_ms: u64,
    /// Cloudflare API requests allowed per API token per window (at least 1).
    pub cloudflare_limit: usize,
    /// The window of that limit, in seconds (at least 1).
    pub cloudflare_window_secs: u64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            cloudflare_api: DEFAULT_CLOUDFLARE_API.to_owned(),
            workers_edge: None,
            rollout: "10,50,100".to_owned(),
            rollout_dwell_secs: 60,
            deploy_root: None,
            runtime: Vec::new(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            webhook_allow: Vec::new(),
            webhook_allow_http: false,
            debounce_ms: 2000,
            retry_base_ms: 500,
            cloudflare_limit: 1200,
            cloudflare_window_secs: 300,
        }
    }
}

impl DeliveryOptions {
    /// The options `settings` describe: the rollout parsed, every runtime bundle loaded (for
    /// whichever target profile it was built for), the Cloudflare limiter and retries and the
    /// deploy job's backoff derived from the retry base. `BadRequest` names the setting that
    /// is wrong.
    pub fn from_settings(settings: &DeliverySettings) -> Result<Self, ControlError> {
        let target = TargetProfile::ALL
            .first()
            .ok_or_else(|| ControlError::BadRequest("no target profile".to_owned()))?;
        let mut runtimes = Vec::new();
        for path in &settings.runtime {
            let bundle = match TargetProfile::ALL
                .iter()
                .find_map(|t| RuntimeBundle::load(t, path).ok())
            {
                Some(bundle) => bundle,
                None => RuntimeBundle::load(target, path).map_err(|e| {
                    ControlError::BadRequest(format!(
                        "runtime bundle {}: {}",
                        path.display(),
                        crate::deploy::error_chain(&e)
                    ))
                })?,
            };
            runtimes.push(Arc::new(bundle));
        }
        let rollout = c15t_model::Rollout::parse(&settings.rollout, settings.rollout_dwell_secs)
            .map_err(|e| {
                ControlError::BadRequest(format!("--default-rollout (C15T_ROLLOUT): {e}"))
            })?;
        let base = Duration::from_millis(settings.retry_base_ms);
        Ok(Self {
            target,
            cloudflare_api: settings.cloudflare_api.clone(),
            workers_edge: settings.workers_edge.clone(),
            rollout,
            cloudflare_limits: CloudflareLimits::new(
                settings.cloudflare_limit.max(1),
                Duration::from_secs(settings.cloudflare_window_secs.max(1)),
            ),
            cloudflare_retry: RetryPolicy {
                base_delay: base,
                ..RetryPolicy::default()
            },
            file_root: settings.deploy_root.clone(),
            runtimes,
            public_base_url: settings.public_url.clone(),
            ssrf: SsrfPolicy {
                allow: settings.webhook_allow.clone(),
                allow_http: settings.webhook_allow_http,
            },
            debounce: Duration::from_millis(settings.debounce_ms),
            deploy_backoff: (0..4).map(|i| base.saturating_mul(1 << (2 * i))).collect(),
            ..Self::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_settings_build_the_documented_options() {
        let options = DeliveryOptions::from_settings(&DeliverySettings::default()).unwrap();
        assert_eq!(options.cloudflare_api, DEFAULT_CLOUDFLARE_API);
        assert_eq!(options.debounce, Duration::from_secs(2));
        assert_eq!(
            options.deploy_backoff,
            [500, 2000, 8000, 32000].map(Duration::from_millis)
        );
        assert_eq!(
            options.cloudflare_retry.base_delay,
            Duration::from_millis(500)
        );
        assert!(options.runtimes.is_empty());
        assert_eq!(
            options.rollout,
            c15t_model::Rollout::parse("10,50,100", 60).unwrap()
        );
    }

    #[test]
    fn a_bad_setting_is_named() {
        let bad_rollout = DeliverySettings {
            rollout: "50,10".to_owned(),
            ..DeliverySettings::default()
        };
        let e = DeliveryOptions::from_settings(&bad_rollout).unwrap_err();
        assert!(
            e.to_string().contains("--default-rollout (C15T_ROLLOUT)"),
            "{e}"
        );

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-runtime.js");
        let bad_runtime = DeliverySettings {
            runtime: vec![missing.clone()],
            ..DeliverySettings::default()
        };
        let e = DeliveryOptions::from_settings(&bad_runtime).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("runtime bundle {}", missing.display())),
            "{e}"
        );
    }
}

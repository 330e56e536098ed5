//! How a customer's worker is delivered: the deployment strategy applied after every config
//! change, where deploys go, and the customer's webhook endpoint.
//!
//! Delivery settings are not part of the generated worker: changing them never changes a
//! generated file, so they live beside the customer's config, not in it. Their secrets (the
//! Cloudflare API token, the webhook signing secrets) live in the customer's vault.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::problem::{Problems, did_you_mean, shown};
use crate::{Environment, ValidationErrors};

/// What happens after a customer's config changes (the seed's "Deployment Settings").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Deploy the affected environments on save.
    Automatic,
    /// Nothing ships until someone deploys; the environment shows as pending.
    #[default]
    Manual,
    /// Send a signed `worker_config.updated` webhook; the customer deploys themselves.
    Notify,
    /// Open a pull request against the customer's repository (backend not built yet: the
    /// environment shows as pending, as with [`Strategy::Manual`]).
    Gitops,
}

impl Strategy {
    /// Every strategy, in the order the UI shows them.
    pub const ALL: [Self; 4] = [Self::Automatic, Self::Manual, Self::Notify, Self::Gitops];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Automatic => "automatic",
            Self::Manual => "manual",
            Self::Notify => "notify",
            Self::Gitops => "gitops",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                let hint = did_you_mean(s, names.iter().copied())
                    .map(|m| format!("; did you mean `{m}`?"))
                    .unwrap_or_default();
                format!(
                    "unknown strategy {}; allowed: {}{hint}",
                    shown(s),
                    names.join(", ")
                )
            })
    }
}

/// Where a customer's deploys go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeployTarget {
    /// Not configured: deploys fail with a message saying how to configure one.
    #[default]
    None,
    /// Managed: upload to the customer's Cloudflare account. The API token is a vault secret
    /// ([`CLOUDFLARE_TOKEN_KEY`]).
    Cloudflare {
        /// The Cloudflare account id (32 hex digits).
        account_id: String,
    },
    /// Self-hosted: write the project under the operator's file deploy root.
    File,
    /// Hybrid: announce each release on the customer's webhook endpoint; they deploy it.
    Webhook,
}

impl DeployTarget {
    /// Where a release sent to this target lands, as deployments record it: the kind, and for
    /// Cloudflare the account (`cloudflare:<account id>`, lowercase). A release live at one
    /// destination is not live at another.
    pub fn destination(&self) -> String {
        match self {
            Self::Cloudflare { account_id } => {
                format!("cloudflare:{}", account_id.to_ascii_lowercase())
            }
            other => other.kind().to_owned(),
        }
    }

    /// Whether deploys go to Cloudflare.
    pub fn is_cloudflare(&self) -> bool {
        matches!(self, Self::Cloudflare { .. })
    }

    /// The name shown in listings.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Cloudflare { .. } => "cloudflare",
            Self::File => "file",
            Self::Webhook => "webhook",
        }
    }
}

/// The vault key of the customer's Cloudflare API token.
pub const CLOUDFLARE_TOKEN_KEY: &str = "delivery/cloudflare/api_token";
/// The vault key of the customer's webhook signing secrets (space-separated `whsec_` values,
/// newest first; more than one during a rotation).
pub const WEBHOOK_SECRETS_KEY: &str = "delivery/webhook/secrets";

/// A customer's webhook endpoint; its signing secrets are in the vault
/// ([`WEBHOOK_SECRETS_KEY`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// Where events are POSTed (`https://`).
    pub url: String,
    /// Whether events are sent; turned off when the endpoint answers 410 Gone.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Why it was turned off, when it was turned off automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

/// A customer's delivery settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// What happens after a config change.
    #[serde(default)]
    pub strategy: Strategy,
    /// Where deploys go.
    #[serde(default)]
    pub target: DeployTarget,
    /// Where events are sent, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookEndpoint>,
    /// How a Cloudflare release takes traffic; `None` follows the operator's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::Rollout>,
    /// Per environment, where its Cloudflare worker answers: a custom domain and the
    /// `workers.dev` switch. An environment not listed answers on `workers.dev` only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routing: BTreeMap<Environment, Routing>,
}

/// Where one environment's Cloudflare worker answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    /// A hostname on one of the customer's Cloudflare zones (`consent.example.com`), attached
    /// to the worker as a Workers custom domain: first-party for the consent cookie. The
    /// worker's URL is then `https://{hostname}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The zone that holds the hostname (32 hex digits); Cloudflare finds it when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Whether the worker also answers on the account's `workers.dev` subdomain.
    #[serde(default = "enabled_by_default")]
    pub workers_dev: bool,
}

impl Default for Routing {
    fn default() -> Self {
        Self {
            hostname: None,
            zone_id: None,
            workers_dev: true,
        }
    }
}

impl Routing {
    /// Whether this is what an environment gets without settings (`workers.dev` only).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The same routing with the hostname and zone id written canonically (lower case,
    /// without a trailing dot), as DNS compares them.
    #[must_use]
    pub fn normalized(mut self) -> Self {
        self.hostname = self
            .hostname
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty());
        self.zone_id = self
            .zone_id
            .map(|z| z.trim().to_ascii_lowercase())
            .filter(|z| !z.is_empty());
        self
    }
}

/// Checks `hostname` as a custom domain's: a DNS name of at least two labels, each 1 to 63
/// of `a-z`, `0-9` and `-` (not first or last), at most 253 characters, no wildcard, not on
/// `workers.dev`.
pub fn check_hostname(hostname: &str) -> Result<(), String> {
    if hostname.len() > 253 {
        return Err(format!(
            "is {} characters long; a hostname has at most 253",
            hostname.len()
        ));
    }
    if hostname.contains('*') {
        return Err(format!(
            "{} is a wildcard; a custom domain is one hostname",
            shown(hostname)
        ));
    }
    if hostname.contains("://") || hostname.contains('/') {
        return Err(format!(
            "{} is not a hostname; give the name only (consent.example.com), no scheme or path",
            shown(hostname)
        ));
    }
    let labels: Vec<&str> = hostname.split('.').collect();
    if labels.len() < 2 {
        return Err(format!(
            "{} is not a hostname on a zone; expected a name such as consent.example.com",
            shown(hostname)
        ));
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(format!(
                "{} is not a valid hostname: each dot-separated label is 1 to 63 characters of \
                 a-z, 0-9 and `-` (not first or last)",
                shown(hostname)
            ));
        }
    }
    if hostname == "workers.dev" || hostname.ends_with(".workers.dev") {
        return Err(format!(
            "{} is on workers.dev; that route is switched with `workers_dev`, a custom domain \
             is a hostname on your own zone",
            shown(hostname)
        ));
    }
    Ok(())
}

/// Longest accepted webhook URL.
pub const WEBHOOK_URL_MAX: usize = 2048;

impl Delivery {
    /// Checks the settings' shape, reporting every problem with its field path. Whether a
    /// webhook URL may be reached (its addresses) is checked when it is used, by the notifier.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut problems = Problems::default();
        if let Some(rollout) = &self.rollout
            && let Err(e) = rollout.validate()
        {
            problems.push("rollout", e);
        }
        let mut hostnames: BTreeMap<&str, &Environment> = BTreeMap::new();
        for (environment, routing) in &self.routing {
            let at = |field: &str| format!("routing.{environment}.{field}");
            if let Some(hostname) = &routing.hostname {
                if let Err(e) = check_hostname(hostname) {
                    problems.push(at("hostname"), e);
                } else if let Some(other) = hostnames.insert(hostname, environment) {
                    problems.push(
                        at("hostname"),
                        format!(
                            "{} is already the hostname of environment `{other}`; one \
                             hostname routes to one worker",
                            shown(hostname)
                        ),
                    );
                }
            }
            if let Some(zone_id) = &routing.zone_id {
                if zone_id.len() != 32 || !zone_id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    problems.push(
                        at("zone_id"),
                        format!(
                            "{} is not a Cloudflare zone id; expected 32 hexadecimal digits (the \
                             zone's Overview page shows it)",
                            shown(zone_id)
                        ),
                    );
                } else if routing.hostname.is_none() {
                    problems.push(
                        at("zone_id"),
                        "a zone id only says where the custom domain is; set `hostname` too",
                    );
                }
            }
            if !routing.workers_dev && routing.hostname.is_none() {
                problems.push(
                    at("workers_dev"),
                    "switching workers.dev off without a custom domain leaves the worker \
                     unreachable; set `hostname` too, or keep workers_dev on",
                );
            }
        }
        if !self.target.is_cloudflare() && self.routing.values().any(|r| !r.is_default()) {
            problems.push(
                "routing",
                format!(
                    "custom domains and the workers.dev switch are Cloudflare settings, and the \
                     target is `{}`; set the target to cloudflare, or clear the routing",
                    self.target.kind()
                ),
            );
        }
        if let DeployTarget::Cloudflare { account_id } = &self.target
            && (account_id.len() != 32 || !account_id.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            problems.push(
                "target.account_id",
                format!(
                    "{} is not a Cloudflare account id; expected 32 hexadecimal digits (the \
                     dashboard's Account ID)",
                    shown(account_id)
                ),
            );
        }
        if let Some(webhook) = &self.webhook
            && let Err(message) = check_webhook_url(&webhook.url)
        {
            problems.push("webhook.url", message);
        }
        if self.strategy == Strategy::Notify && self.webhook.is_none() {
            problems.push(
                "webhook",
                "the notify strategy sends webhooks; set a webhook endpoint first",
            );
        }
        if self.target == DeployTarget::Webhook && self.webhook.is_none() {
            problems.push(
                "webhook",
                "the webhook deploy target announces releases on the webhook endpoint; set one",
            );
        }
        problems.finish(|| ())
    }
}

/// A webhook URL: at most [`WEBHOOK_URL_MAX`] characters, `https://` or `http://` as the one URL
/// check of the model ([`crate::check_url`]: a real parser, a host, no credentials, no control,
/// bidirectional or zero-width characters) says, and no fragment.
fn check_webhook_url(url: &str) -> Result<(), String> {
    if url.len() > WEBHOOK_URL_MAX {
        return Err(format!(
            "is {} characters long; at most {WEBHOOK_URL_MAX} are allowed",
            url.len()
        ));
    }
    crate::check_url(url, &["https", "http"]).map_err(|e| format!("{e}, got {}", shown(url)))?;
    if url.contains('#') {
        return Err("must not contain a fragment (#...)".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_round_trip_and_suggest() {
        for s in Strategy::ALL {
            assert_eq!(s.as_str().parse::<Strategy>(), Ok(s));
        }
        let err = "automatc".parse::<Strategy>().unwrap_err();
        assert!(err.contains("did you mean `automatic`"), "{err}");
        assert!(err.contains("automatic, manual, notify, gitops"), "{err}");
    }

    #[test]
    fn validation_names_fields() {
        let d = Delivery {
            strategy: Strategy::Notify,
            target: DeployTarget::Cloudflare {
                account_id: "nope".into(),
            },
            webhook: None,
            rollout: None,
            routing: BTreeMap::new(),
        };
        let text = d.validate().unwrap_err().to_string();
        assert!(text.contains("target.account_id"), "{text}");
        assert!(text.contains("webhook: the notify strategy"), "{text}");

        for (url, needle) in [
            ("ftp://x", "must start with `https://`"),
            ("https://", "must name a host"),
            ("https://x<script>", "`<`"),
            ("https://exa\u{202e}mple.com/", "U+202E"),
            ("https://u:p@example.com/", "credentials"),
            ("https://example.com/#x", "fragment"),
            ("https://exa mple.com/", "whitespace"),
        ] {
            let d = Delivery {
                webhook: Some(WebhookEndpoint {
                    url: url.into(),
                    enabled: true,
                    disabled_reason: None,
                }),
                ..Delivery::default()
            };
            let text = d.validate().unwrap_err().to_string();
            assert!(
                text.contains("webhook.url") && text.contains(needle),
                "{url}: {text}"
            );
        }
        let ok = Delivery {
            strategy: Strategy::Automatic,
            target: DeployTarget::Cloudflare {
                account_id: "0123456789abcdef0123456789abcdef".into(),
            },
            webhook: Some(WebhookEndpoint {
                url: "https://hooks.example.com/c15t".into(),
                enabled: true,
                disabled_reason: None,
            }),
            rollout: None,
            routing: BTreeMap::new(),
        };
        ok.validate().unwrap();
    }

    #[test]
    fn serialises_with_a_type_tag() {
        let d = Delivery {
            strategy: Strategy::Automatic,
            target: DeployTarget::Cloudflare {
                account_id: "0123456789abcdef0123456789abcdef".into(),
            },
            webhook: None,
            rollout: None,
            routing: BTreeMap::new(),
        };
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(
            json,
            r#"{"strategy":"automatic","target":{"type":"cloudflare","account_id":"0123456789abcdef0123456789abcdef"}}"#
        );
        assert_eq!(serde_json::from_str::<Delivery>(&json).unwrap(), d);
        assert_eq!(
            serde_json::from_str::<Delivery>("{}").unwrap(),
            Delivery::default()
        );
    }

    #[test]
    fn routing_is_checked_per_environment() {
        let env = |s: &str| s.parse::<Environment>().unwrap();
        let cloudflare = DeployTarget::Cloudflare {
            account_id: "0123456789abcdef0123456789abcdef".into(),
        };
        let with = |routing: Vec<(&str, Routing)>, target: DeployTarget| Delivery {
            target,
            routing: routing.into_iter().map(|(e, r)| (env(e), r)).collect(),
            ..Delivery::default()
        };
        let ok = Routing {
            hostname: Some("consent.example.com".into()),
            zone_id: Some("0123456789abcdef0123456789ABCDEF".into()),
            workers_dev: false,
        };
        assert!(
            with(vec![("production", ok.clone())], cloudflare.clone())
                .validate()
                .is_ok()
        );
        for (routing, needle) in [
            (
                Routing {
                    hostname: Some("*.example.com".into()),
                    ..Routing::default()
                },
                "routing.production.hostname: `*.example.com` is a wildcard",
            ),
            (
                Routing {
                    hostname: Some("localhost".into()),
                    ..Routing::default()
                },
                "not a hostname on a zone",
            ),
            (
                Routing {
                    hostname: Some("https://consent.example.com".into()),
                    ..Routing::default()
                },
                "no scheme or path",
            ),
            (
                Routing {
                    hostname: Some("x.acme.workers.dev".into()),
                    ..Routing::default()
                },
                "is on workers.dev",
            ),
            (
                Routing {
                    hostname: Some("bad_label.example.com".into()),
                    ..Routing::default()
                },
                "each dot-separated label",
            ),
            (
                Routing {
                    workers_dev: false,
                    ..Routing::default()
                },
                "routing.production.workers_dev: switching workers.dev off",
            ),
            (
                Routing {
                    zone_id: Some("0123456789abcdef0123456789abcdef".into()),
                    ..Routing::default()
                },
                "routing.production.zone_id: a zone id only",
            ),
            (
                Routing {
                    hostname: Some("consent.example.com".into()),
                    zone_id: Some("nope".into()),
                    workers_dev: true,
                },
                "not a Cloudflare zone id",
            ),
        ] {
            let text = with(vec![("production", routing)], cloudflare.clone())
                .validate()
                .unwrap_err()
                .to_string();
            assert!(text.contains(needle), "{needle}: {text}");
        }
        let twice = with(
            vec![("production", ok.clone()), ("staging", ok.clone())],
            cloudflare,
        );
        let text = twice.validate().unwrap_err().to_string();
        assert!(text.contains("routing.staging.hostname"), "{text}");
        assert!(
            text.contains("hostname of environment `production`"),
            "{text}"
        );
        let text = with(vec![("production", ok)], DeployTarget::File)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(text.contains("routing: custom domains"), "{text}");
        assert_eq!(
            Routing {
                hostname: Some(" Consent.Example.COM. ".into()),
                zone_id: Some("ABC".into()),
                workers_dev: true,
            }
            .normalized()
            .hostname
            .as_deref(),
            Some("consent.example.com")
        );
    }
}

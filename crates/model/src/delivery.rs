//! How a customer's worker is delivered: the deployment strategy applied after every config
//! change, where deploys go, and the customer's webhook endpoint.
//!
//! Delivery settings are not part of the generated worker: changing them never changes a
//! generated file, so they live beside the customer's config, not in it. Their secrets (the
//! Cloudflare API token, the webhook signing secrets) live in the customer's vault.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationErrors;
use crate::problem::{Problems, did_you_mean, shown};

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
}

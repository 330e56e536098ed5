//! Customers: trusted origins, log level and the worker's database binding.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{CustomerId, SecretRef};

/// c15t's logger levels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// Errors, warnings and informational messages (c15t's default).
    #[default]
    Info,
    /// Everything, for debugging.
    Debug,
}

impl LogLevel {
    /// Every level, most severe first.
    pub const ALL: [LogLevel; 4] = [Self::Error, Self::Warn, Self::Info, Self::Debug];

    /// The name c15t's logger takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
        }
    }

    /// Parses c15t's name of a level.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An origin the worker accepts requests from, as c15t matches it (`is-origin-trusted.ts` in
/// `@c15t/backend`): a host with optional scheme and port, where a leading `*.` matches any
/// strict subdomain. Without a scheme c15t assumes `https`; an explicit port must match exactly;
/// c15t ignores a leading `www.` on both sides; app schemes such as `capacitor://localhost` match
/// their scheme exactly.
///
/// c15t also accepts a bare `*` (trust every origin); the control plane refuses it, because a
/// consent backend that any site can call lets any site read and write its visitors' consent.
///
/// Stored lowercase; constructed only through validation ([`TrustedOrigin::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustedOrigin(String);

impl TrustedOrigin {
    /// Validates one origin; the error completes "must ..." style messages.
    pub fn parse(input: &str) -> Result<Self, String> {
        if input.is_empty() {
            return Err("must not be empty".into());
        }
        if input == "*" {
            return Err(
                "must name a host: `*` would let every website read and write consent; \
                 list your sites, using `*.example.com` for subdomains"
                    .into(),
            );
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain whitespace or control characters".into());
        }
        let lower = input.to_ascii_lowercase();
        let rest = match lower.split_once("://") {
            Some((scheme, rest)) => {
                let app_scheme = scheme.starts_with(|c: char| c.is_ascii_lowercase())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                    && !FORBIDDEN_SCHEMES.contains(&scheme);
                if !app_scheme {
                    return Err(format!(
                        "scheme must be `https`, `http` or an app scheme such as `capacitor`, got {}",
                        crate::problem::shown(scheme)
                    ));
                }
                rest
            }
            None => lower.as_str(),
        };
        if rest.contains('@') {
            return Err("must not contain credentials (`user@`)".into());
        }
        if rest.contains(['/', '?', '#']) {
            return Err(
                "must be an origin without path, query or fragment, e.g. `https://example.com`"
                    .into(),
            );
        }
        let (host, port) = split_port(rest)?;
        if let Some(port) = port {
            match port.parse::<u16>() {
                Ok(p) if p > 0 => {}
                _ => {
                    return Err(format!(
                        "port must be a number from 1 to 65535, got `{port}`"
                    ));
                }
            }
        }
        check_host(host)?;
        Ok(Self(lower))
    }

    /// The origin as configured (lowercased).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Schemes that never name a web or app origin.
const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "file", "blob", "about", "vbscript"];

fn split_port(rest: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(v6) = rest.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return Err("has an unclosed `[` in an IPv6 address".into());
        };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("has an invalid IPv6 address".into());
        }
        return match after {
            "" => Ok((rest, None)),
            p if p.starts_with(':') => Ok((&rest[..addr.len() + 2], Some(&p[1..]))),
            _ => Err("has text after the IPv6 address; only `:port` may follow".into()),
        };
    }
    Ok(match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    })
}

fn check_host(host: &str) -> Result<(), String> {
    if host.starts_with('[') {
        return Ok(());
    }
    let labels = match host.strip_prefix("*.") {
        Some(rest) => rest,
        None => host,
    };
    if labels.is_empty() {
        return Err("must name a host, e.g. `example.com` or `*.example.com`".into());
    }
    if labels.contains('*') {
        return Err("may use `*` only as a leading `*.` wildcard, e.g. `*.example.com`".into());
    }
    if labels.len() > 253 {
        return Err("host must be at most 253 characters".into());
    }
    for label in labels.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("host labels must be 1 to 63 characters, separated by single dots".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("host labels must not start or end with `-`".into());
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(
                "host may contain only letters, digits, `-`, `_` and dots (use punycode for \
                 international names)"
                    .into(),
            );
        }
    }
    Ok(())
}

impl TryFrom<String> for TrustedOrigin {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<TrustedOrigin> for String {
    fn from(o: TrustedOrigin) -> String {
        o.0
    }
}

impl fmt::Display for TrustedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a customer's worker keeps consent records. Only Turso/libSQL is offered: Cloudflare D1
/// through `kysely-d1` lacks the transactions c15t's consent writes use, so such a worker would
/// look healthy and lose every consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum DatabaseBinding {
    /// A Turso (libSQL) database.
    Turso {
        /// Database URL (`libsql://...`, `https://...`); not secret, bound as a plain var.
        url: String,
        /// The auth token, bound to the worker as a secret.
        auth_token: SecretRef,
    },
}

/// A customer of the control plane: one isolated worker per environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Stable id, used in worker names and paths.
    pub id: CustomerId,
    /// Name shown to people.
    pub display_name: String,
    /// Origins the worker accepts requests from.
    pub trusted_origins: Vec<TrustedOrigin>,
    /// Level of the worker's c15t logger.
    pub log_level: LogLevel,
    /// The worker's consent database.
    pub database: DatabaseBinding,
    /// The secret of `POST /analytics/events?debug=1`, bound to every environment's worker as
    /// `C15T_EVENTS_DEBUG_SECRET`; `None`: debug mode is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_debug_secret: Option<SecretRef>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_accepted_as_c15t_matches_them() {
        for ok in [
            "example.com",
            "https://example.com",
            "http://localhost:3000",
            "*.example.com",
            "https://*.example.com:8443",
            "https://[::1]:8080",
            "capacitor://localhost",
            "HTTPS://Example.COM",
        ] {
            assert!(TrustedOrigin::parse(ok).is_ok(), "{ok} refused");
        }
        assert_eq!(
            TrustedOrigin::parse("HTTPS://Example.COM")
                .unwrap()
                .as_str(),
            "https://example.com"
        );
    }

    #[test]
    fn origins_refused() {
        for bad in [
            "",
            "https://example.com/path",
            "https://user:pw@example.com",
            "example .com",
            "javascript://example.com",
            "data://example.com",
            "https://example.com:0",
            "https://example.com:99999",
            "*",
            "foo.*.com",
            "https://exa mple.com",
            "https://example.com?x=1",
            "javascript:alert(1)",
            "exa'mple.com",
        ] {
            assert!(TrustedOrigin::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}

//! Names of the worker's environment bindings (plain vars and secrets).
//!
//! Generated source reads every secret from `env.<NAME>`, and the deployer binds the same names,
//! so both sides take them from here. Names are deterministic upper snake case: the kind slug and
//! the setting key (`META_PIXEL_ACCESS_TOKEN`). When two destinations of one kind share an
//! environment, each name also carries its destination id (`META_PIXEL_ACCESS_TOKEN_EU_PIXEL`),
//! and a numeric suffix settles any remaining tie, in destination order.

use crate::{CustomerConfig, DatabaseBinding, Destination, Environment, SecretRef, SettingValue};

/// Plain var holding the Turso database URL.
pub const DATABASE_URL_VAR: &str = "TURSO_DATABASE_URL";
/// Secret holding the Turso auth token.
pub const DATABASE_TOKEN_SECRET: &str = "TURSO_AUTH_TOKEN";
/// Secret that unlocks `POST /analytics/events?debug=1` (the destinations runtime reads it).
pub const EVENTS_DEBUG_SECRET: &str = "C15T_EVENTS_DEBUG_SECRET";

/// What a secret binding carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingOwner {
    /// The database auth token.
    Database,
    /// The events route's debug secret.
    EventsDebug,
    /// A secret setting of a destination.
    Destination {
        /// Index into the environment's destinations (configured order).
        index: usize,
        /// The setting's key.
        key: &'static str,
    },
}

/// One secret the worker reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretBinding {
    /// Binding name, e.g. `META_PIXEL_ACCESS_TOKEN`.
    pub name: String,
    /// What it carries.
    pub owner: BindingOwner,
    /// Where the deploy step finds the value.
    pub source: SecretRef,
}

/// Every binding of one environment's worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bindings {
    /// Plain vars: name and value, sorted by name.
    pub vars: Vec<(String, String)>,
    /// Secrets: the database token, the events debug secret if set, then destinations in
    /// configured order.
    pub secrets: Vec<SecretBinding>,
}

impl Bindings {
    /// Plans the bindings of `env`'s worker.
    pub fn plan(config: &CustomerConfig, env: &Environment) -> Self {
        let destinations: Vec<&Destination> = config.destinations_for(env).collect();
        Self::plan_for(config, &destinations)
    }

    /// Plans the bindings for an already filtered destination list.
    pub fn plan_for(config: &CustomerConfig, destinations: &[&Destination]) -> Self {
        let DatabaseBinding::Turso { url, auth_token } = &config.customer.database;
        let mut secrets = vec![SecretBinding {
            name: DATABASE_TOKEN_SECRET.to_owned(),
            owner: BindingOwner::Database,
            source: auth_token.clone(),
        }];
        if let Some(source) = &config.customer.events_debug_secret {
            secrets.push(SecretBinding {
                name: EVENTS_DEBUG_SECRET.to_owned(),
                owner: BindingOwner::EventsDebug,
                source: source.clone(),
            });
        }

        for (index, d) in destinations.iter().enumerate() {
            if !d
                .settings
                .values()
                .any(|v| matches!(v, SettingValue::Secret(_)))
            {
                continue;
            }
            let mut shared_kind = None;
            for (field, value) in d.ordered_settings() {
                let SettingValue::Secret(source) = value else {
                    continue;
                };
                let mut name = String::with_capacity(d.kind.slug.len() + field.key.len() + 8);
                push_upper_snake(&mut name, d.kind.slug);
                name.push('_');
                push_upper_snake(&mut name, field.key);
                let shared = *shared_kind.get_or_insert_with(|| {
                    destinations
                        .iter()
                        .filter(|o| std::ptr::eq(o.kind, d.kind) || o.kind.slug == d.kind.slug)
                        .nth(1)
                        .is_some()
                });
                if shared {
                    name.push('_');
                    push_upper_snake(&mut name, d.id.as_str());
                }
                let taken =
                    |name: &str| name == DATABASE_URL_VAR || secrets.iter().any(|s| s.name == name);
                if taken(&name) {
                    let base = name.clone();
                    let mut n = 2;
                    while taken(&name) {
                        name = format!("{base}_{n}");
                        n += 1;
                    }
                }
                secrets.push(SecretBinding {
                    name,
                    owner: BindingOwner::Destination {
                        index,
                        key: field.key,
                    },
                    source: source.clone(),
                });
            }
        }
        Self {
            vars: vec![(DATABASE_URL_VAR.to_owned(), url.clone())],
            secrets,
        }
    }

    /// The binding name of a destination's secret setting.
    pub fn secret_name(&self, index: usize, key: &str) -> Option<&str> {
        self.secrets.iter().find_map(|b| match &b.owner {
            BindingOwner::Destination { index: i, key: k } if *i == index && *k == key => {
                Some(b.name.as_str())
            }
            _ => None,
        })
    }
}

/// Upper snake case of a kebab-case slug, snake_case id or camelCase key:
/// `meta-pixel` -> `META_PIXEL`, `accessToken` -> `ACCESS_TOKEN`, `eu_pixel-2` -> `EU_PIXEL_2`.
pub fn upper_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    push_upper_snake(&mut out, s);
    out
}

/// Appends the upper snake case of `s` (see [`upper_snake`]).
fn push_upper_snake(out: &mut String, s: &str) {
    let mut prev_lower = false;
    if s.is_ascii() {
        let mut bytes = std::mem::take(out).into_bytes();
        for &b in s.as_bytes() {
            if b == b'-' || b == b'_' {
                bytes.push(b'_');
                prev_lower = false;
            } else if b.is_ascii_uppercase() {
                if prev_lower {
                    bytes.push(b'_');
                }
                bytes.push(b);
                prev_lower = false;
            } else {
                bytes.push(b.to_ascii_uppercase());
                prev_lower = b.is_ascii_lowercase() || b.is_ascii_digit();
            }
        }
        *out = String::from_utf8(bytes).expect("ASCII stays UTF-8");
        return;
    }
    for c in s.chars() {
        if c == '-' || c == '_' {
            out.push('_');
            prev_lower = false;
        } else if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c);
            prev_lower = false;
        } else {
            out.push(c.to_ascii_uppercase());
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::upper_snake;

    #[test]
    fn upper_snake_cases() {
        assert_eq!(upper_snake("meta-pixel"), "META_PIXEL");
        assert_eq!(upper_snake("accessToken"), "ACCESS_TOKEN");
        assert_eq!(upper_snake("eu_pixel-2"), "EU_PIXEL_2");
        assert_eq!(upper_snake("ga4Secret"), "GA4_SECRET");
    }
}

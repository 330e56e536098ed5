//! The declarative customer file (`customer.toml`) and its validation into [`CustomerConfig`].
//!
//! [`CustomerSpec`] is what a person writes: plain strings, checked only for shape by serde.
//! [`CustomerSpec::validate`] checks everything else and reports every problem at once, each
//! with the path of its field, without ever echoing a secret.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, ConsentCategory, FieldSpec, FieldType};
use crate::limits::{
    ByteCount, CONFIG_BYTES_MAX, DESTINATIONS_MAX, ENVIRONMENTS_MAX, SETTING_MAX,
    TRUSTED_ORIGINS_MAX,
};
use crate::problem::{Problems, check_text, did_you_mean, shown};
use crate::url_check::check_url;
use crate::{
    Customer, CustomerId, DatabaseBinding, Destination, DestinationId, Environment,
    EnvironmentScope, LogLevel, SecretRef, SettingValue, TrustedOrigin, ValidationErrors,
};

/// A customer as written in a declarative file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerSpec {
    /// Customer id, e.g. `cust_abc123`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Environments the customer deploys to; `["production"]` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
    /// Origins allowed to call the worker.
    #[serde(default)]
    pub trusted_origins: Vec<String>,
    /// c15t log level; `info` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// The worker's consent database.
    pub database: DatabaseSpec,
    /// The secret that unlocks `POST /analytics/events?debug=1` on the customer's workers, by
    /// reference (`{ env = "C15T_EVENTS_DEBUG_SECRET" }`); debug mode is off without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_debug_secret: Option<RawValue>,
    /// Destinations, in the order they appear in the generated worker.
    #[serde(default)]
    pub destinations: Vec<DestinationSpec>,
}

/// The database binding as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    /// Only `turso` is offered; see [`DatabaseBinding`].
    #[serde(default = "default_provider")]
    pub provider: String,
    /// Database URL.
    pub url: String,
    /// Auth token, by reference (`{ env = "TURSO_AUTH_TOKEN" }`).
    pub auth_token: RawValue,
}

fn default_provider() -> String {
    "turso".to_owned()
}

/// A destination as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationSpec {
    /// Id, unique within the customer.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Catalogue slug, e.g. `meta-pixel`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Defaults to `true`.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// One environment, or every environment when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Consent purpose; the kind's default when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Settings by key.
    #[serde(default)]
    pub settings: BTreeMap<String, RawValue>,
}

fn default_true() -> bool {
    true
}

/// A setting value as written, before its field's type is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A string.
    Text(String),
    /// A secret reference such as `{ env = "META_TOKEN" }`.
    Secret(SecretRef),
    /// Any other table (always an error, reported with its path).
    Table(BTreeMap<String, RawValue>),
    /// An array (always an error, reported with its path).
    Array(Vec<RawValue>),
}

impl RawValue {
    fn type_name(&self) -> &'static str {
        match self {
            Self::Bool(_) => "a boolean",
            Self::Integer(_) | Self::Float(_) => "a number",
            Self::Text(_) => "a string",
            Self::Secret(_) => "a secret reference",
            Self::Table(_) => "a table",
            Self::Array(_) => "an array",
        }
    }
}

/// A validated customer with its destinations: what the generator takes.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerConfig {
    /// The customer.
    pub customer: Customer,
    /// Environments the customer deploys to (at least one).
    pub environments: Vec<Environment>,
    /// Destinations in configured order.
    pub destinations: Vec<Destination>,
}

impl CustomerConfig {
    /// The destinations that belong in `env`'s worker, in configured order.
    pub fn destinations_for<'a>(
        &'a self,
        env: &'a Environment,
    ) -> impl Iterator<Item = &'a Destination> + 'a {
        self.destinations
            .iter()
            .filter(move |d| d.environment.includes(env))
    }

    /// Whether `env` is one of the customer's environments.
    pub fn has_environment(&self, env: &Environment) -> bool {
        self.environments.contains(env)
    }

    /// The declarative form of this configuration; validating it gives `self` back.
    pub fn to_spec(&self) -> CustomerSpec {
        let DatabaseBinding::Turso { url, auth_token } = &self.customer.database;
        CustomerSpec {
            id: self.customer.id.to_string(),
            name: self.customer.display_name.clone(),
            environments: Some(self.environments.iter().map(ToString::to_string).collect()),
            trusted_origins: self
                .customer
                .trusted_origins
                .iter()
                .map(ToString::to_string)
                .collect(),
            log_level: Some(self.customer.log_level.to_string()),
            database: DatabaseSpec {
                provider: default_provider(),
                url: url.clone(),
                auth_token: RawValue::Secret(auth_token.clone()),
            },
            events_debug_secret: self
                .customer
                .events_debug_secret
                .clone()
                .map(RawValue::Secret),
            destinations: self
                .destinations
                .iter()
                .map(|d| DestinationSpec {
                    id: d.id.to_string(),
                    name: d.name.clone(),
                    kind: d.kind.slug.to_owned(),
                    enabled: d.enabled,
                    environment: match &d.environment {
                        EnvironmentScope::All => None,
                        EnvironmentScope::Only(e) => Some(e.to_string()),
                    },
                    category: Some(d.category.to_string()),
                    settings: d
                        .settings
                        .iter()
                        .map(|(k, v)| {
                            let raw = match v {
                                SettingValue::Bool(b) => RawValue::Bool(*b),
                                SettingValue::Number(n) => RawValue::Float(*n),
                                SettingValue::Text(t) => RawValue::Text(t.clone()),
                                SettingValue::Secret(s) => RawValue::Secret(s.clone()),
                            };
                            (k.clone(), raw)
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Longest display name of a customer or destination.
pub const NAME_MAX: usize = 200;
/// Largest whole number a number setting with `integer: true` takes (JavaScript's
/// `Number.MAX_SAFE_INTEGER`, 2^53 - 1): every integer up to it is exact in a double.
pub const SAFE_INTEGER_MAX: u64 = (1 << 53) - 1;

impl CustomerSpec {
    /// Validates the whole file against `catalogue`, reporting every problem at once.
    pub fn validate(&self, catalogue: &Catalogue) -> Result<CustomerConfig, ValidationErrors> {
        let mut p = Problems::default();
        self.check_limits(&mut p);

        let id = CustomerId::new(self.id.as_str())
            .map_err(|e| p.push("id", format!("{e}, got {}", shown(&self.id))))
            .ok();
        check_name(&mut p, "name", &self.name);

        let env_names: Vec<String> = self
            .environments
            .clone()
            .unwrap_or_else(|| vec![Environment::PRODUCTION.to_owned()]);
        if env_names.is_empty() {
            p.push(
                "environments",
                "must list at least one environment, e.g. `[\"production\"]`",
            );
        }
        let mut environments = Vec::new();
        for (i, name) in env_names.iter().enumerate() {
            match Environment::new(name.as_str()) {
                Ok(env) if environments.contains(&env) => p.push(
                    format!("environments[{i}]"),
                    format!("`{env}` is listed twice"),
                ),
                Ok(env) => environments.push(env),
                Err(e) => p.push(
                    format!("environments[{i}]"),
                    format!("{e}, got {}", shown(name)),
                ),
            }
        }

        let mut trusted_origins = Vec::new();
        for (i, origin) in self.trusted_origins.iter().enumerate() {
            match TrustedOrigin::parse(origin) {
                Ok(o) if trusted_origins.contains(&o) => p.push(
                    format!("trusted_origins[{i}]"),
                    format!("`{o}` is listed twice"),
                ),
                Ok(o) => trusted_origins.push(o),
                Err(e) => p.push(
                    format!("trusted_origins[{i}]"),
                    format!("{e}, got {}", shown(origin)),
                ),
            }
        }

        let log_level = match &self.log_level {
            None => Some(LogLevel::default()),
            Some(l) => LogLevel::parse(l).or_else(|| {
                p.push(
                    "log_level",
                    one_of_message(l, LogLevel::ALL.iter().map(|l| l.as_str())),
                );
                None
            }),
        };

        let database = self.database.validate(&mut p);
        let events_debug_secret = match &self.events_debug_secret {
            None => Ok(None),
            Some(raw) => secret_ref(&mut p, "events_debug_secret", raw)
                .map(Some)
                .ok_or(()),
        };

        let mut destinations = Vec::new();
        let mut seen_ids = BTreeSet::new();
        for (i, spec) in self.destinations.iter().enumerate() {
            let path = format!("destinations[{i}]");
            if let Some(d) = spec.validate(&mut p, &path, catalogue, &environments) {
                if !seen_ids.insert(d.id.clone()) {
                    p.push(
                        format!("{path}.id"),
                        format!(
                            "`{}` is used by an earlier destination; ids must be unique",
                            d.id
                        ),
                    );
                }
                destinations.push(d);
            }
        }

        if !p.is_empty() {
            return p.finish(|| unreachable!("problems were found"));
        }
        match (id, log_level, database, events_debug_secret) {
            (Some(id), Some(log_level), Some(database), Ok(events_debug_secret)) => {
                p.finish(|| CustomerConfig {
                    customer: Customer {
                        id,
                        display_name: self.name.clone(),
                        trusted_origins,
                        log_level,
                        database,
                        events_debug_secret,
                    },
                    environments,
                    destinations,
                })
            }
            _ => unreachable!("every failed field records a problem"),
        }
    }
}

impl CustomerSpec {
    /// The quotas of [`crate::limits`], each problem naming its limit.
    fn check_limits(&self, p: &mut Problems) {
        let count =
            |p: &mut Problems, path: &str, what: &str, got: usize, max: usize, name: &str| {
                if got > max {
                    p.push(
                        path,
                        format!("at most {max} {what} per customer (limit {name}), got {got}"),
                    );
                }
            };
        let environments = self.environments.as_ref().map_or(1, Vec::len);
        count(
            p,
            "environments",
            "environments",
            environments,
            ENVIRONMENTS_MAX,
            "ENVIRONMENTS_MAX",
        );
        count(
            p,
            "trusted_origins",
            "trusted origins",
            self.trusted_origins.len(),
            TRUSTED_ORIGINS_MAX,
            "TRUSTED_ORIGINS_MAX",
        );
        count(
            p,
            "destinations",
            "destinations",
            self.destinations.len(),
            DESTINATIONS_MAX,
            "DESTINATIONS_MAX",
        );
        let mut size = ByteCount::default();
        if serde_json::to_writer(&mut size, self).is_ok() && size.0 > CONFIG_BYTES_MAX {
            p.push(
                "config",
                format!(
                    "is {} bytes as JSON; at most {CONFIG_BYTES_MAX} bytes (256 KiB) per customer \
                     (limit CONFIG_BYTES_MAX)",
                    size.0
                ),
            );
        }
    }
}

impl DatabaseSpec {
    fn validate(&self, p: &mut Problems) -> Option<DatabaseBinding> {
        if self.provider != "turso" {
            let hint = if self.provider == "d1" {
                "; Cloudflare D1 is not offered: through kysely-d1 c15t's consent writes fail \
                 (no transactions)"
            } else {
                ""
            };
            p.push(
                "database.provider",
                format!("must be `turso`, got {}{hint}", shown(&self.provider)),
            );
        }
        let url_ok = check_url(&self.url, &["libsql", "https", "http", "wss", "ws"]);
        if let Err(e) = &url_ok {
            p.push("database.url", format!("{e}, got {}", shown(&self.url)));
        }
        let token = secret_ref(p, "database.auth_token", &self.auth_token);
        match (url_ok, token) {
            (Ok(()), Some(auth_token)) if self.provider == "turso" => {
                Some(DatabaseBinding::Turso {
                    url: self.url.clone(),
                    auth_token,
                })
            }
            _ => None,
        }
    }
}

impl DestinationSpec {
    fn validate(
        &self,
        p: &mut Problems,
        path: &str,
        catalogue: &Catalogue,
        environments: &[Environment],
    ) -> Option<Destination> {
        let id = DestinationId::new(self.id.as_str())
            .map_err(|e| {
                p.push(
                    format!("{path}.id"),
                    format!("{e}, got {}", shown(&self.id)),
                )
            })
            .ok();
        check_name(p, &format!("{path}.name"), &self.name);

        let environment = match &self.environment {
            None => Some(EnvironmentScope::All),
            Some(name) => match Environment::new(name.as_str()) {
                Ok(env) if environments.is_empty() || environments.contains(&env) => {
                    Some(EnvironmentScope::Only(env))
                }
                Ok(_) => {
                    p.push(
                        format!("{path}.environment"),
                        one_of_message(name, environments.iter().map(Environment::as_str)),
                    );
                    None
                }
                Err(e) => {
                    p.push(
                        format!("{path}.environment"),
                        format!("{e}, got {}", shown(name)),
                    );
                    None
                }
            },
        };

        let Some(kind) = catalogue.get(&self.kind) else {
            let mut msg = format!("unknown destination type {}", shown(&self.kind));
            match did_you_mean(&self.kind, catalogue.kinds().iter().map(|k| k.slug)) {
                Some(s) => msg.push_str(&format!("; did you mean `{s}`?")),
                None => msg.push_str("; run `c15tctl catalogue` to list the types"),
            }
            p.push(format!("{path}.type"), msg);
            return None;
        };

        let category = match &self.category {
            None => Some(kind.default_category),
            Some(c) => ConsentCategory::parse(c).or_else(|| {
                p.push(
                    format!("{path}.category"),
                    one_of_message(c, ConsentCategory::ALL.iter().map(|c| c.as_str())),
                );
                None
            }),
        };

        let mut settings = BTreeMap::new();
        let mut ok = true;
        for (key, raw) in &self.settings {
            let field_path = format!("{path}.settings.{}", display_key(key));
            let Some(field) = kind.field(key) else {
                let mut msg = format!("unknown setting for `{}`", kind.slug);
                match did_you_mean(key, kind.fields.iter().map(|f| f.key)) {
                    Some(s) => msg.push_str(&format!("; did you mean `{s}`?")),
                    None => {
                        let keys: Vec<_> =
                            kind.fields.iter().map(|f| format!("`{}`", f.key)).collect();
                        msg.push_str(&format!("; allowed: {}", keys.join(", ")));
                    }
                }
                p.push(field_path, msg);
                ok = false;
                continue;
            };
            match check_setting(field, raw) {
                Ok(v) => {
                    settings.insert(key.clone(), v);
                }
                Err(msg) => {
                    p.push(field_path, msg);
                    ok = false;
                }
            }
        }
        for field in kind.fields.iter().filter(|f| f.required) {
            if !self.settings.contains_key(field.key) {
                p.push(
                    format!("{path}.settings.{}", field.key),
                    format!("is required for `{}` ({})", kind.slug, field.description),
                );
                ok = false;
            }
        }

        match (id, environment, category, ok) {
            (Some(id), Some(environment), Some(category), true) => Some(Destination {
                id,
                name: self.name.clone(),
                kind,
                settings,
                enabled: self.enabled,
                environment,
                category,
            }),
            _ => None,
        }
    }
}

/// Shows a settings key in a path; keys that are not plain identifiers are quoted.
fn display_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        key.to_owned()
    } else {
        format!("[{}]", shown(key).replace('`', "\""))
    }
}

fn check_name(p: &mut Problems, path: &str, name: &str) {
    if let Err(message) = check_text(name) {
        p.push(path, message);
    } else if name.trim().is_empty() {
        p.push(path, "must not be empty");
    } else if name.chars().count() > NAME_MAX {
        p.push(
            path,
            format!(
                "must be at most {NAME_MAX} characters, got {}",
                name.chars().count()
            ),
        );
    }
}

fn one_of_message<'a>(got: &str, allowed: impl Iterator<Item = &'a str> + Clone) -> String {
    let list: Vec<_> = allowed.clone().map(|a| format!("`{a}`")).collect();
    let mut msg = format!("must be one of {}, got {}", list.join(", "), shown(got));
    if let Some(s) = did_you_mean(got, allowed) {
        msg.push_str(&format!("; did you mean `{s}`?"));
    }
    msg
}

fn secret_ref(p: &mut Problems, path: &str, raw: &RawValue) -> Option<SecretRef> {
    match raw {
        RawValue::Secret(SecretRef::Env(var)) => {
            if is_env_var_name(var) {
                Some(SecretRef::Env(var.clone()))
            } else {
                p.push(
                    path,
                    format!(
                        "`env` must name an environment variable (letters, digits and `_`, not \
                         starting with a digit), got {}",
                        shown(var)
                    ),
                );
                None
            }
        }
        RawValue::Secret(SecretRef::Stored(fingerprint)) => {
            if is_fingerprint(fingerprint) {
                Some(SecretRef::Stored(fingerprint.clone()))
            } else {
                p.push(
                    path,
                    "`stored` must be a secret fingerprint such as `hmac-sha256:0123abcd...`; \
                     store secrets through c15tctl, not by editing references",
                );
                None
            }
        }
        // The value may be the secret itself, pasted where a reference belongs: never show it.
        RawValue::Text(_) => {
            p.push(
                path,
                "is a secret: give a reference such as `{ env = \"VAR\" }`, never the value itself",
            );
            None
        }
        other => {
            p.push(
                path,
                format!(
                    "is a secret: give a reference such as `{{ env = \"VAR\" }}`, got {}",
                    other.type_name()
                ),
            );
            None
        }
    }
}

/// `scheme:hex`, as `c15t-secrets` writes fingerprints.
fn is_fingerprint(s: &str) -> bool {
    s.split_once(':').is_some_and(|(scheme, hex)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && (16..=64).contains(&hex.len())
            && hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

fn is_env_var_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_setting(field: &FieldSpec, raw: &RawValue) -> Result<SettingValue, String> {
    if field.secret {
        let mut p = Problems::default();
        return match secret_ref(&mut p, "", raw) {
            Some(r) => Ok(SettingValue::Secret(r)),
            None => Err(p.into_first_message()),
        };
    }
    if let RawValue::Secret(_) = raw {
        return Err("is not secret: give the value itself".into());
    }
    match (field.ty, raw) {
        (FieldType::Bool, RawValue::Bool(b)) => Ok(SettingValue::Bool(*b)),
        (FieldType::Number { integer, min, max }, RawValue::Integer(_) | RawValue::Float(_)) => {
            // JSON numbers past what an i64 holds arrive as floats, already rounded: a whole
            // number setting must be a safe integer (exact in JavaScript and in a double).
            let safe = |i: i64| i.unsigned_abs() <= SAFE_INTEGER_MAX;
            let n = match raw {
                RawValue::Integer(i) if integer && !safe(*i) => {
                    return Err(format!(
                        "must be a whole number from -{SAFE_INTEGER_MAX} to {SAFE_INTEGER_MAX} \
                         (a safe integer), got {i}"
                    ));
                }
                RawValue::Integer(i) => *i as f64,
                RawValue::Float(f) => *f,
                _ => unreachable!(),
            };
            if !n.is_finite() {
                return Err("must be a finite number".into());
            }
            if integer && n.fract() != 0.0 {
                return Err(format!("must be a whole number, got {n}"));
            }
            if integer && n.abs() > SAFE_INTEGER_MAX as f64 {
                return Err(format!(
                    "must be a whole number from -{SAFE_INTEGER_MAX} to {SAFE_INTEGER_MAX} \
                     (a safe integer), got {n}"
                ));
            }
            if let Some(min) = min.filter(|m| n < *m) {
                return Err(format!("must be at least {min}, got {n}"));
            }
            if let Some(max) = max.filter(|m| n > *m) {
                return Err(format!("must be at most {max}, got {n}"));
            }
            Ok(SettingValue::Number(n))
        }
        (FieldType::String | FieldType::Url | FieldType::Enum(_), RawValue::Text(s)) => {
            if s.chars().count() > SETTING_MAX {
                return Err(format!("must be at most {SETTING_MAX} characters"));
            }
            check_text(s)?;
            match field.ty {
                FieldType::Url => check_url(s, &["https", "http"])
                    .map_err(|e| format!("{e}, got {}", shown(s)))?,
                FieldType::Enum(allowed) if !allowed.contains(&s.as_str()) => {
                    return Err(one_of_message(s, allowed.iter().copied()));
                }
                _ => {}
            }
            if let Some(pattern) = field.pattern
                && !crate::pattern::matches(pattern, s)
            {
                return Err(format!("must {}, got {}", pattern.expected, shown(s)));
            }
            Ok(SettingValue::Text(s.clone()))
        }
        (ty, other) => Err(format!(
            "must be {}, got {}",
            expected_type(ty),
            other.type_name()
        )),
    }
}

fn expected_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::String => "a string",
        FieldType::Url => "a URL string",
        FieldType::Enum(_) => "a string",
        FieldType::Bool => "`true` or `false`",
        FieldType::Number { integer: true, .. } => "a whole number",
        FieldType::Number { .. } => "a number",
    }
}

impl Problems {
    fn into_first_message(self) -> String {
        self.finish(|| ())
            .err()
            .and_then(|e| e.problems().first().map(|p| p.message.clone()))
            .unwrap_or_default()
    }
}

//! Validated identifiers: customer and destination ids and environment names.
//!
//! The rules are chosen so that every name derived from them is safe where it is used: the
//! Cloudflare worker name (`c15t-{customer}` or `c15t-{customer}-{environment}`) is a valid
//! Cloudflare script name of at most 63 characters, and every id is safe as a single file or
//! directory name (only `[a-z0-9_-]`, so no `/`, `..`, NUL or leading dot).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string was empty.
    #[error("must not be empty")]
    Empty,
    /// The string was longer than the identifier allows.
    #[error("must be at most {max} characters, got {len}")]
    TooLong {
        /// The most characters the identifier allows.
        max: usize,
        /// How many characters the string has.
        len: usize,
    },
    /// The first character is not a lowercase letter or digit.
    #[error("must start with a lowercase letter or digit, got `{found}`")]
    BadStart {
        /// The refused first character.
        found: String,
    },
    /// A character outside `[a-z0-9_-]`.
    #[error("may contain only lowercase letters, digits, `-` and `_`; `{found}` is not allowed")]
    BadChar {
        /// The refused character.
        found: String,
    },
    /// The string ends with a separator, which makes derived names ambiguous.
    #[error("must not end with `-` or `_`")]
    BadEnd,
    /// A name reserved by Windows file systems, which self-hosters may use.
    #[error("`{0}` is reserved as a file name on Windows; choose another")]
    Reserved(String),
}

/// Maximum length of a customer id. With the `c15t-` prefix, a `-` and the longest environment
/// this keeps worker names within Cloudflare's 63 characters.
pub const CUSTOMER_ID_MAX: usize = 40;
/// Maximum length of an environment name (see [`CUSTOMER_ID_MAX`]).
pub const ENVIRONMENT_MAX: usize = 17;
/// Maximum length of a destination id.
pub const DESTINATION_ID_MAX: usize = 64;
/// Longest worker name [`worker_name`] can produce: one DNS label; Cloudflare allows 63.
pub const WORKER_NAME_MAX: usize = 63;

const WINDOWS_RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

fn check_slug(s: &str, max: usize) -> Result<(), IdError> {
    let Some(first) = s.chars().next() else {
        return Err(IdError::Empty);
    };
    let len = s.chars().count();
    if len > max {
        return Err(IdError::TooLong { max, len });
    }
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Err(IdError::BadStart {
            found: printable(first),
        });
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return Err(IdError::BadChar {
            found: printable(bad),
        });
    }
    if s.ends_with(['-', '_']) {
        return Err(IdError::BadEnd);
    }
    if WINDOWS_RESERVED.contains(&s) {
        return Err(IdError::Reserved(s.to_owned()));
    }
    Ok(())
}

/// Renders a refused character so that an error message stays on one line and shows it.
fn printable(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("U+{:04X}", u32::from(c))
    } else {
        c.to_string()
    }
}

macro_rules! slug_newtype {
    ($(#[$meta:meta])* $name:ident, $max:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s` and wraps it.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check_slug(&s, $max)?;
                Ok(Self(s))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

slug_newtype!(
    /// A customer's id, such as `cust_abc123`: 1 to 40 characters of `[a-z0-9_-]`, starting with
    /// a letter or digit and not ending with `-` or `_`.
    CustomerId,
    CUSTOMER_ID_MAX
);
slug_newtype!(
    /// A destination's id, unique within its customer, with the same character rules as
    /// [`CustomerId`] and at most 64 characters.
    DestinationId,
    DESTINATION_ID_MAX
);
slug_newtype!(
    /// A deployment environment such as `production` or `staging`: the customer id's character
    /// rules, at most 17 characters.
    Environment,
    ENVIRONMENT_MAX
);

// The `PATTERN`s say what `check_slug` checks, as regular expressions for documents that
// describe these ids (the API's OpenAPI document). The one rule a pattern does not say:
// Windows reserved file names (`nul`, `com1`, ...) are refused too.

impl CustomerId {
    /// The ids [`CustomerId::new`] accepts (but for Windows reserved names), as a regular
    /// expression matching the whole id: 1 to [`CUSTOMER_ID_MAX`] characters.
    pub const PATTERN: &'static str = r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$";
}

impl DestinationId {
    /// The ids [`DestinationId::new`] accepts (but for Windows reserved names), as a regular
    /// expression matching the whole id: 1 to [`DESTINATION_ID_MAX`] characters.
    pub const PATTERN: &'static str = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$";
}

impl Environment {
    /// The names [`Environment::new`] accepts (but for Windows reserved names), as a regular
    /// expression matching the whole name: 1 to [`ENVIRONMENT_MAX`] characters.
    pub const PATTERN: &'static str = r"^[a-z0-9](?:[a-z0-9_-]{0,15}[a-z0-9])?$";

    /// The name of the production environment, whose worker carries no environment suffix.
    pub const PRODUCTION: &'static str = "production";

    /// The production environment.
    pub fn production() -> Self {
        Self(Self::PRODUCTION.to_owned())
    }

    /// Whether this is the production environment.
    pub fn is_production(&self) -> bool {
        self.0 == Self::PRODUCTION
    }
}

impl Default for Environment {
    fn default() -> Self {
        Self::production()
    }
}

/// The worker name of a customer's environment under today's rule: `c15t-{customer}` for
/// production, `c15t-{customer}-{environment}` otherwise, every `_` written `-`.
///
/// The result is one DNS label (`[a-z0-9-]`, starting with a letter, not ending with `-`, at
/// most [`WORKER_NAME_MAX`] characters), so `https://{name}.{subdomain}.workers.dev` is a valid
/// hostname, as wrangler's own name check wants. The rule is not one-to-one (`cust_a` and
/// `cust-a` map to one name, and so do customer `acme` environment `eu` and customer `acme-eu`
/// production): the store claims each environment's name when its customer is saved and
/// refuses a second claimant, naming the first (see `c15t_store::Store::config_put`).
///
/// This is the name a new environment is deployed under. A deployed environment keeps the
/// name it was first deployed under (the store records it) until a deploy renames it; see
/// [`legacy_worker_name`] for the rule before this one.
pub fn worker_name(customer: &CustomerId, environment: &Environment) -> String {
    legacy_worker_name(customer, environment).replace('_', "-")
}

/// The worker name of a customer's environment under the first rule, which kept the `_` of
/// ids (`c15t-cust_abc123`): a valid Cloudflare script name but not a valid hostname. Workers
/// deployed before the rule changed run under this name until a deploy renames them.
pub fn legacy_worker_name(customer: &CustomerId, environment: &Environment) -> String {
    if environment.is_production() {
        format!("c15t-{customer}")
    } else {
        format!("c15t-{customer}-{environment}")
    }
}

/// Whether `name` is one DNS label of at most [`WORKER_NAME_MAX`] characters: `[a-z0-9-]`,
/// starting with a letter or digit and not ending with `-` (what a `workers.dev` hostname
/// needs of a worker name).
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= WORKER_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_seed_customer_id() {
        let id = CustomerId::new("cust_abc123").unwrap();
        assert_eq!(
            worker_name(&id, &Environment::production()),
            "c15t-cust-abc123"
        );
        let staging = Environment::new("staging").unwrap();
        assert_eq!(worker_name(&id, &staging), "c15t-cust-abc123-staging");
        let eu_west = Environment::new("eu_west").unwrap();
        assert_eq!(worker_name(&id, &eu_west), "c15t-cust-abc123-eu-west");
        assert_eq!(
            legacy_worker_name(&id, &Environment::production()),
            "c15t-cust_abc123"
        );
        assert!(!is_dns_label("c15t-cust_abc123"));
    }

    #[test]
    fn refuses_unsafe_names() {
        for bad in [
            "", "-a", ".hidden", "a/b", "..", "a..b", "A", "a b", "a\0b", "a-", "nul", "é",
        ] {
            assert!(CustomerId::new(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            CustomerId::new("x".repeat(41)),
            Err(IdError::TooLong { max: 40, len: 41 })
        );
    }

    /// Whether `pattern` matches `s` exactly when `valid` says `s` is an id, apart from the
    /// Windows reserved names the pattern does not express.
    fn pattern_agrees(pattern: &str, s: &str, valid: bool) -> Result<(), String> {
        let matched = regex::Regex::new(pattern).unwrap().is_match(s);
        let reserved = WINDOWS_RESERVED.contains(&s);
        if matched == valid || (matched && reserved && !valid) {
            Ok(())
        } else {
            Err(format!(
                "{pattern} matches {s:?}: {matched}, but valid: {valid}"
            ))
        }
    }

    #[test]
    fn patterns_agree_with_the_validators() {
        type Check = (&'static str, usize, fn(&str) -> bool);
        let checks: [Check; 3] = [
            (CustomerId::PATTERN, CUSTOMER_ID_MAX, |s| {
                CustomerId::new(s).is_ok()
            }),
            (DestinationId::PATTERN, DESTINATION_ID_MAX, |s| {
                DestinationId::new(s).is_ok()
            }),
            (Environment::PATTERN, ENVIRONMENT_MAX, |s| {
                Environment::new(s).is_ok()
            }),
        ];
        for (pattern, max, valid) in checks {
            let mut samples: Vec<String> = [
                "a",
                "0",
                "cust_abc123",
                "meta-prod",
                "a_b-c",
                "production",
                "a-",
                "a_",
                "-a",
                "_a",
                "",
                "A",
                "aB",
                "a b",
                "a.b",
                "a/b",
                "..",
                "é",
                "a\0b",
                "a\nb",
                "nul",
                "com1",
                "nul1",
                "lpt9x",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
            samples.extend([
                "a".repeat(max - 1),
                "a".repeat(max),
                "a".repeat(max + 1),
                format!("{}-b", "a".repeat(max - 2)),
                format!("{}_b", "a".repeat(max - 1)),
            ]);
            for s in samples {
                pattern_agrees(pattern, &s, valid(&s)).unwrap();
            }
            // The documented exception: reserved names have the shape but are refused.
            assert!(!valid("nul") && regex::Regex::new(pattern).unwrap().is_match("nul"));
            assert!(valid(&"a".repeat(max)) && !valid(&"a".repeat(max + 1)));
        }
    }

    proptest::proptest! {
        #[test]
        fn patterns_agree_with_the_validators_on_any_text(s in "[a-zA-Z0-9_. /-]{0,70}") {
            for (pattern, valid) in [
                (CustomerId::PATTERN, CustomerId::new(s.as_str()).is_ok()),
                (DestinationId::PATTERN, DestinationId::new(s.as_str()).is_ok()),
                (Environment::PATTERN, Environment::new(s.as_str()).is_ok()),
            ] {
                let agrees = pattern_agrees(pattern, &s, valid);
                proptest::prop_assert!(agrees.is_ok(), "{:?}", agrees);
            }
        }

        #[test]
        fn derived_worker_names_are_dns_labels(
            customer in "[a-z0-9][a-z0-9_-]{0,39}",
            env in "[a-z0-9][a-z0-9_-]{0,16}",
        ) {
            if let (Ok(c), Ok(e)) = (CustomerId::new(customer), Environment::new(env)) {
                let name = worker_name(&c, &e);
                proptest::prop_assert!(is_dns_label(&name), "{name}");
                let legacy = legacy_worker_name(&c, &e);
                proptest::prop_assert!(legacy.len() <= WORKER_NAME_MAX);
                proptest::prop_assert!(!legacy.starts_with('-'));
                proptest::prop_assert!(legacy.chars().all(|c| c.is_ascii_lowercase()
                    || c.is_ascii_digit() || c == '-' || c == '_'));
                proptest::prop_assert_eq!(legacy.replace('_', "-"), name.clone());
                proptest::prop_assert!(!name.contains('/') && !name.contains("..") && !name.starts_with('.'));
            }
        }
    }
}

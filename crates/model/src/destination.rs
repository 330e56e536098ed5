//! Destinations: one configured instance of a catalogue kind for a customer.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalogue::{ConsentCategory, KindSpec};
use crate::{DestinationId, Environment};

/// Where the value of a secret setting comes from. The value itself never lives in the model:
/// generation never needs it, and only the deploy step resolves it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum SecretRef {
    /// Read from this environment variable of the process that deploys (declarative files).
    Env(String),
    /// Held encrypted in the control plane's secret vault for this customer; the string is the
    /// value's fingerprint (a keyed hash, never the value), so diffs and audits can tell a
    /// change without decrypting.
    Stored(String),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(var) => write!(f, "SecretRef::Env({var:?})"),
            Self::Stored(fingerprint) => write!(f, "SecretRef::Stored({fingerprint:?})"),
        }
    }
}

/// A validated setting value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SettingValue {
    /// `true` or `false`.
    Bool(bool),
    /// A finite number.
    Number(f64),
    /// Text (strings, URLs, enum members).
    Text(String),
    /// A secret, given by reference.
    Secret(SecretRef),
}

/// Which environments a destination is deployed to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum EnvironmentScope {
    /// Every environment of the customer.
    #[default]
    All,
    /// Only this one.
    Only(Environment),
}

impl EnvironmentScope {
    /// Whether a destination with this scope belongs in `env`'s worker.
    pub fn includes(&self, env: &Environment) -> bool {
        match self {
            Self::All => true,
            Self::Only(e) => e == env,
        }
    }
}

/// A configured destination of one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// Unique within the customer.
    pub id: DestinationId,
    /// Name shown to people; free text.
    pub name: String,
    /// The catalogue kind.
    pub kind: &'static KindSpec,
    /// Validated settings, keyed by the kind's field keys.
    pub settings: BTreeMap<String, SettingValue>,
    /// Disabled destinations stay in the generated worker, switched off.
    pub enabled: bool,
    /// Environments the destination is deployed to.
    pub environment: EnvironmentScope,
    /// Consent purpose required before the destination runs.
    pub category: ConsentCategory,
}

impl Destination {
    /// Settings in the kind's field order (the order generated code and forms use).
    pub fn ordered_settings(
        &self,
    ) -> impl Iterator<Item = (&'static crate::FieldSpec, &SettingValue)> {
        self.kind
            .fields
            .iter()
            .filter_map(|f| self.settings.get(f.key).map(|v| (f, v)))
    }
}

//! `Vault`: all secret values of one customer, and its plaintext form (a JSON object).

use std::collections::BTreeMap;
use std::collections::btree_map;
use std::fmt;
use std::io;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::{Secret, SecretsError};

/// The secret values of one customer, by caller-chosen key (`destination/<id>/<field>`,
/// `database/auth_token`).
///
/// A vault is sealed as one age file ([`crate::Keyring::seal`]) so that opening a customer's
/// secrets costs one X25519 operation, not one per value. Its plaintext is the JSON object
/// `{"<key>": "<value>", ...}` with keys in sorted order. `Debug` shows the keys only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Vault(BTreeMap<String, Secret>);

impl Vault {
    /// An empty vault.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Secret> {
        self.0.get(key)
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: Secret) -> Option<Secret> {
        self.0.insert(key.into(), value)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Secret> {
        self.0.remove(key)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Keys and values in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.0.iter())
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The plaintext that gets encrypted: compact JSON, written into a buffer of exactly the
    /// right size so no reallocation leaves an unzeroed copy behind.
    pub(crate) fn to_plaintext(&self) -> Zeroizing<Vec<u8>> {
        let plain = Plain(self);
        let mut counter = Counter(0);
        serde_json::to_writer(&mut counter, &plain).expect("a map of strings serializes");
        let mut buf = Zeroizing::new(Vec::with_capacity(counter.0));
        serde_json::to_writer(&mut *buf, &plain).expect("a map of strings serializes");
        buf
    }

    /// Parses a plaintext. Values go straight into `Secret`s, so an error part-way drops (and
    /// zeroes) what was parsed so far.
    ///
    /// TODO-correctness: serde_json's scratch buffer for strings with escapes is not zeroed.
    pub(crate) fn from_plaintext(plaintext: &[u8]) -> Result<Self, SecretsError> {
        let PlainVault(map) =
            serde_json::from_slice(plaintext).map_err(|e| SecretsError::VaultFormat {
                line: e.line(),
                column: e.column(),
            })?;
        Ok(Self(map))
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl<K: Into<String>, V: Into<Secret>> FromIterator<(K, V)> for Vault {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<'a> IntoIterator for &'a Vault {
    type Item = (&'a str, &'a Secret);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over a vault's keys and values, in key order.
#[derive(Debug, Clone)]
pub struct Iter<'a>(btree_map::Iter<'a, String, Secret>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a Secret);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_str(), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Serializes a vault with its values exposed; private so plaintext only leaves through
/// [`Vault::to_plaintext`].
struct Plain<'a>(&'a Vault);

impl Serialize for Plain<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0.iter() {
            map.serialize_entry(k, v.expose())?;
        }
        map.end()
    }
}

/// Deserializes one value straight into a `Secret`.
struct PlainValue(Secret);

impl<'de> Deserialize<'de> for PlainValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Self(Secret::new(s)))
    }
}

/// Deserializes a plaintext straight into the vault's map (no intermediate map); a repeated
/// key keeps its last value, as a map deserialization does.
struct PlainVault(BTreeMap<String, Secret>);

impl<'de> Deserialize<'de> for PlainVault {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = PlainVault;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of strings")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<PlainVault, A::Error> {
                let mut map = BTreeMap::new();
                while let Some((key, PlainValue(value))) =
                    access.next_entry::<String, PlainValue>()?
                {
                    map.insert(key, value);
                }
                Ok(PlainVault(map))
            }
        }

        deserializer.deserialize_map(Visitor)
    }
}

/// Counts bytes, to size the plaintext buffer exactly.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_keys_not_values() {
        let vault: Vault = [
            ("destination/meta/accessToken", "EAAB-token-value"),
            ("database/auth_token", "turso-token-value"),
        ]
        .into_iter()
        .collect();
        let debug = format!("{vault:?}");
        assert_eq!(
            debug,
            r#"{"database/auth_token": ***, "destination/meta/accessToken": ***}"#
        );
        assert!(!format!("{vault:#?}").contains("token-value"));
    }

    #[test]
    fn plaintext_is_a_sorted_json_object() {
        let mut vault = Vault::new();
        vault.insert("b", Secret::from("two \"quoted\""));
        vault.insert("a", Secret::from("one"));
        let plain = vault.to_plaintext();
        assert_eq!(plain.len(), plain.capacity());
        assert_eq!(
            std::str::from_utf8(&plain).unwrap(),
            r#"{"a":"one","b":"two \"quoted\""}"#
        );
        assert_eq!(Vault::from_plaintext(&plain).unwrap(), vault);
    }

    #[test]
    fn plaintext_errors_do_not_echo_values() {
        for bad in [
            &br#"{"a": 5}"#[..],
            br#"["secret-value"]"#,
            br#"{"a": "secret-value""#,
            b"secret-value",
        ] {
            let err = Vault::from_plaintext(bad).unwrap_err();
            assert!(matches!(err, SecretsError::VaultFormat { .. }));
            assert!(!err.to_string().contains("secret-value"), "{err}");
        }
    }

    #[test]
    fn map_operations() {
        let mut vault = Vault::new();
        assert!(vault.is_empty());
        assert_eq!(vault.insert("k", Secret::from("v1")), None);
        assert_eq!(
            vault.insert("k", Secret::from("v2")),
            Some(Secret::from("v1"))
        );
        assert!(vault.contains_key("k"));
        assert_eq!(vault.get("k").map(Secret::expose), Some("v2"));
        assert_eq!(vault.len(), 1);
        assert_eq!(vault.keys().collect::<Vec<_>>(), ["k"]);
        assert_eq!(vault.iter().len(), 1);
        assert_eq!(vault.remove("k"), Some(Secret::from("v2")));
        assert!(vault.is_empty());
    }
}

//! `Secret`, a value that never prints, and `Fingerprint`, what may be printed instead.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::SecretsError;

/// A secret value (an access token, an API secret, a database token).
///
/// `Debug` and `Display` print `***`; the memory is zeroed when the value is dropped. There is
/// deliberately no `Serialize`: the only way a value leaves this type is [`Secret::expose`],
/// so every place that handles plaintext is visible in the code.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value. The `String` is moved, not copied.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The plaintext. Call this only where the value is needed (building a worker's secret
    /// bindings, sealing a vault); never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A keyed hash of a secret value: `hmac-sha256:` and the first 32 hex digits (128 bits) of
/// HMAC-SHA256 under the key file's fingerprint key.
///
/// Equal values have equal fingerprints under the same key file (also across key rotation), so a
/// diff or an audit entry can say "accessToken changed" without the value; without the key file
/// a fingerprint says nothing about the value, not even for short or guessable ones.
/// This is the string `SecretRef::Stored` holds in the model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fingerprint(String);

impl Fingerprint {
    const PREFIX: &'static str = "hmac-sha256:";
    /// Hex digits kept from the MAC.
    pub(crate) const HEX_DIGITS: usize = 32;

    pub(crate) fn from_mac(mac: &[u8]) -> Self {
        let hex = hex::encode(&mac[..Self::HEX_DIGITS / 2]);
        Self(format!("{}{hex}", Self::PREFIX))
    }

    /// The fingerprint as text, `hmac-sha256:0123…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Fingerprint {
    type Err = SecretsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = s.strip_prefix(Self::PREFIX).is_some_and(|hex| {
            hex.len() == Self::HEX_DIGITS
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(SecretsError::InvalidFingerprint)
        }
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = SecretsError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Fingerprint> for String {
    fn from(value: Fingerprint) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let secret = Secret::from("EAAB-very-secret-token");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:#?}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
        assert_eq!(secret.expose(), "EAAB-very-secret-token");
    }

    #[test]
    fn secret_equality_compares_values() {
        assert_eq!(Secret::from("a"), Secret::new("a".to_owned()));
        assert_ne!(Secret::from("a"), Secret::from("b"));
        assert_eq!(Secret::from("a").clone(), Secret::from(String::from("a")));
    }

    #[test]
    fn fingerprint_parses_only_its_own_format() {
        let good = format!("hmac-sha256:{}", "0123456789abcdef".repeat(2));
        let parsed: Fingerprint = good.parse().unwrap();
        assert_eq!(parsed.as_str(), good);
        assert_eq!(parsed.to_string(), good);
        for bad in [
            "",
            "hmac-sha256:",
            "sha256:0123456789abcdef0123456789abcdef",
            "hmac-sha256:0123456789ABCDEF0123456789abcdef",
            "hmac-sha256:0123456789abcdef0123456789abcde",
            "hmac-sha256:0123456789abcdef0123456789abcdef0",
            "hmac-sha256:0123456789abcdef0123456789abcdeg",
        ] {
            let err = bad.parse::<Fingerprint>().unwrap_err();
            assert!(matches!(err, SecretsError::InvalidFingerprint), "{bad}");
        }
    }

    #[test]
    fn fingerprint_serializes_as_a_string() {
        let fp = Fingerprint::from_mac(&[0xab; 32]);
        let json = serde_json::to_string(&fp).unwrap();
        assert_eq!(json, format!("\"hmac-sha256:{}\"", "ab".repeat(16)));
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).unwrap(), fp);
        assert!(serde_json::from_str::<Fingerprint>("\"hmac-sha256:xyz\"").is_err());
    }
}

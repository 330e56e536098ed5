//! [`WebhookSecret`] (`whsec_` signing secrets) and the Standard Webhooks `v1` signature.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use c15t_secrets::Secret;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::WebhookError;

/// The prefix of a symmetric Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Fewest key bytes the spec allows (192 bits).
const MIN_KEY_BYTES: usize = 24;
/// Most key bytes the spec allows (512 bits).
const MAX_KEY_BYTES: usize = 64;
/// Key bytes of a generated secret.
const GENERATED_KEY_BYTES: usize = 32;

/// A Standard Webhooks symmetric signing secret: `whsec_` and the base64 of 24 to 64 random
/// bytes, the key of HMAC-SHA256.
///
/// The value is held in a [`Secret`]: `Debug` prints `whsec_***`, and no error shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Secret);

impl WebhookSecret {
    /// A new secret: `whsec_` and the base64 of 32 bytes from `rand`'s thread-local CSPRNG
    /// (ChaCha, seeded by the operating system).
    pub fn generate() -> Self {
        let mut key = [0u8; GENERATED_KEY_BYTES];
        rand::rng().fill_bytes(&mut key);
        let secret = Self(Secret::new(format!(
            "{SECRET_PREFIX}{}",
            STANDARD.encode(key)
        )));
        key.fill(0);
        secret
    }

    /// Checks a `whsec_` string: the prefix, standard padded base64 after it, and a key of 24
    /// to 64 bytes. Surrounding whitespace (from a paste) is ignored.
    pub fn parse(value: &str) -> Result<Self, WebhookError> {
        let value = value.trim();
        let invalid = |reason: String| WebhookError::InvalidSecret { reason };
        let Some(encoded) = value.strip_prefix(SECRET_PREFIX) else {
            return Err(invalid(format!(
                "it does not start with `{SECRET_PREFIX}`; Standard Webhooks secrets look like \
                 `{SECRET_PREFIX}` followed by base64 (generate one instead of typing it)"
            )));
        };
        if encoded.is_empty() {
            return Err(invalid(format!("nothing follows `{SECRET_PREFIX}`")));
        }
        let mut key = decode_key(encoded).ok_or_else(|| {
            invalid(format!(
                "the part after `{SECRET_PREFIX}` is not valid standard base64 (A-Z, a-z, 0-9, \
                 `+`, `/`, `=` padding)"
            ))
        })?;
        let len = key.len();
        key.fill(0);
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&len) {
            return Err(invalid(format!(
                "its key is {len} bytes long; Standard Webhooks keys are {MIN_KEY_BYTES} to \
                 {MAX_KEY_BYTES} bytes"
            )));
        }
        Ok(Self(Secret::new(value.to_owned())))
    }

    /// Parses the space-separated list a customer's vault keeps (newest first; more than one
    /// during a rotation). An empty list is an error: deliveries must be signed.
    pub fn parse_list(value: &str) -> Result<Vec<Self>, WebhookError> {
        let secrets = value
            .split_whitespace()
            .enumerate()
            .map(|(i, s)| {
                Self::parse(s).map_err(|e| match e {
                    WebhookError::InvalidSecret { reason } => WebhookError::InvalidSecret {
                        reason: format!("secret {} of the list: {reason}", i + 1),
                    },
                    other => other,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if secrets.is_empty() {
            return Err(WebhookError::InvalidSecret {
                reason: "no secret given".to_owned(),
            });
        }
        Ok(secrets)
    }

    /// The list as a customer's vault keeps it: the values, space-separated, in the given
    /// order (newest first). [`WebhookSecret::parse_list`] reads it back.
    pub fn join(secrets: &[Self]) -> Secret {
        Secret::new(
            secrets
                .iter()
                .map(|s| s.0.expose())
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// The `whsec_` value, to store in a vault or show the customer once.
    pub fn expose(&self) -> &Secret {
        &self.0
    }

    /// The `v1,<base64>` signature of a message: HMAC-SHA256 under this secret's key of
    /// `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let encoded = &self.0.expose()[SECRET_PREFIX.len()..];
        let mut key = decode_key(encoded).expect("parsed secrets decode");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
            .expect("HMAC accepts keys of any length");
        key.fill(0);
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header value: one `v1` signature per secret, space-separated, so
/// that a receiver part-way through a rotation accepts the message with either secret.
pub fn signature_header(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: u64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_key(encoded: &str) -> Option<Vec<u8>> {
    STANDARD.decode(encoded).ok()
}

impl FromStr for WebhookSecret {
    type Err = WebhookError;

    fn from_str(s: &str) -> Result<Self, WebhookError> {
        Self::parse(s)
    }
}

impl TryFrom<&Secret> for WebhookSecret {
    type Error = WebhookError;

    fn try_from(secret: &Secret) -> Result<Self, WebhookError> {
        Self::parse(secret.expose())
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SECRET_PREFIX}***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_parse_and_differ() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        assert_ne!(a, b);
        let value = a.expose().expose();
        assert!(value.starts_with(SECRET_PREFIX), "prefix");
        let key = STANDARD
            .decode(&value[SECRET_PREFIX.len()..])
            .expect("base64");
        assert_eq!(key.len(), GENERATED_KEY_BYTES);
        assert_eq!(WebhookSecret::parse(value).expect("parses"), a);
        assert_eq!(format!("{a:?}"), "whsec_***");
    }

    #[test]
    fn parse_names_the_problem_without_the_value() {
        let cases = [
            (
                "sk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "does not start with `whsec_`",
            ),
            ("whsec_", "nothing follows"),
            ("whsec_not base64!!", "not valid standard base64"),
            ("whsec_dGVzdA==", "4 bytes long"),
        ];
        for (value, needle) in cases {
            let err = WebhookSecret::parse(value).expect_err(value).to_string();
            assert!(err.contains(needle), "{value}: {err}");
            let tail = &value[value.len().min(8)..];
            assert!(
                tail.len() < 3 || !err.contains(tail),
                "{err} shows the value"
            );
        }
        let too_long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        let err = WebhookSecret::parse(&too_long)
            .expect_err("65 bytes")
            .to_string();
        assert!(err.contains("65 bytes long"), "{err}");
        let err = WebhookSecret::parse_list("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw nope")
            .expect_err("second is bad")
            .to_string();
        assert!(err.contains("secret 2 of the list"), "{err}");
        assert!(WebhookSecret::parse_list("  ").is_err());
        let list = [WebhookSecret::generate(), WebhookSecret::generate()];
        let joined = WebhookSecret::join(&list);
        assert_eq!(
            WebhookSecret::parse_list(joined.expose()).expect("list"),
            list
        );
    }

    #[test]
    fn signs_the_spec_example() {
        // The test vector of the reference libraries (standard-webhooks, libraries/*).
        let secret =
            WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}

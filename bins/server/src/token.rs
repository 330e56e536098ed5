//! Operator tokens: generating one, and the hash form (`sha256:<hex>`) that is all the server
//! keeps in memory and all a configuration needs to hold.

use anyhow::Context;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The prefix of generated operator tokens (so a leaked one is recognisable in a scan).
const PREFIX: &str = "c15t_op_";

/// A new random operator token: the prefix and 32 random bytes, base64url.
pub fn generate() -> anyhow::Result<String> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).context("the operating system gave no random bytes")?;
    Ok(format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The stored form of a token: `sha256:` and the hex SHA-256 of its text.
pub fn hash(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// Whether `s` has the stored form of a token.
pub fn is_hash(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_differ_and_hash_to_the_stored_form() {
        let a = generate().expect("token");
        let b = generate().expect("token");
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 43, "{a}");
        assert!(is_hash(&hash(&a)));
        assert_eq!(
            hash("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!is_hash("sha256:xyz"));
    }
}

//! [`Stamp`]: the annotations that tell which release (and which secret values) a Cloudflare
//! version carries.

use c15t_secrets::Secret;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::Release;

/// Cloudflare truncates a version's `workers/message` to 100 bytes.
const MESSAGE_MAX: usize = 100;
/// A deployment's `workers/message` may have at most 50 characters (Cloudflare's schema).
const DEPLOYMENT_MESSAGE_MAX: usize = 50;
/// Hex digits of the content hash kept in the tag (128 bits).
const HASH_HEX: usize = 32;
/// Hex digits of the secrets fingerprint kept in the tag (64 bits).
const SECRETS_HEX: usize = 16;

/// What a version uploaded by this deployer is annotated with.
///
/// - `workers/tag`: `c15t-<32 hex of the content hash>-<16 hex secrets fingerprint>`, the
///   machine-readable identity of the release (short enough for any tag limit). Two versions
///   with the same tag run the same project with the same vars (vars are generated from the
///   config, so the content hash covers them) and the same secret values.
/// - `workers/message`: `c15t <customer> <environment> rev <n> sha256:<hex>`, for people,
///   cut to Cloudflare's 100 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) tag: String,
    pub(crate) message: String,
}

impl Stamp {
    /// The stamp of `release`; `key` keys the secrets fingerprint (the account's API token).
    pub(crate) fn of(release: &Release, key: &Secret) -> Self {
        let hash = release
            .content_hash()
            .strip_prefix("sha256:")
            .unwrap_or(release.content_hash());
        let tag = format!(
            "c15t-{}-{}",
            &hash[..HASH_HEX.min(hash.len())],
            secrets_fingerprint(release.secrets(), key)
        );
        let mut message = format!(
            "c15t {} {} rev {} {}",
            release.customer(),
            release.environment(),
            release.revision(),
            release.content_hash()
        );
        truncate_at_char(&mut message, MESSAGE_MAX);
        Self { tag, message }
    }

    /// The annotations object of the upload's metadata.
    pub(crate) fn annotations(&self) -> Value {
        let mut map = Map::new();
        map.insert("workers/message".into(), Value::from(self.message.as_str()));
        map.insert("workers/tag".into(), Value::from(self.tag.as_str()));
        Value::Object(map)
    }

    /// The secrets fingerprint part of a tag this deployer wrote, if `tag` is one.
    pub(crate) fn secrets_part(tag: &str) -> Option<&str> {
        let rest = tag.strip_prefix("c15t-")?;
        let (hash, secrets) = rest.split_once('-')?;
        (hash.len() == HASH_HEX && secrets.len() == SECRETS_HEX).then_some(secrets)
    }
}

/// HMAC-SHA256, keyed by the account's API token, over every secret binding's name and value
/// (each length-prefixed, in name order); the first 16 hex digits.
///
/// Keyed because the fingerprint is readable by anyone who can list the worker's versions and
/// an unkeyed hash of a short secret can be guessed offline. The token is the one key every
/// deploy to the account has; whoever holds it can already replace the worker (and so read its
/// secrets), so it reveals nothing new to them. Rotating the token changes every fingerprint,
/// which costs one re-upload per worker and never skips one that was needed.
fn secrets_fingerprint(secrets: &[(String, Secret)], key: &Secret) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"c15t-secrets-v1");
    let mut sorted: Vec<_> = secrets.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in sorted {
        for part in [name.as_bytes(), value.expose().as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
    }
    let digest = mac.finalize().into_bytes();
    hex::encode(&digest[..SECRETS_HEX / 2])
}

/// The `workers/message` of a rollback deployment: `c15t rollback to <version id>`, cut to
/// the 50 characters a deployment message may have (the deployment names the version anyway).
pub(crate) fn rollback_message(version_id: &str) -> String {
    let mut message = format!("c15t rollback to {version_id}");
    truncate_at_char(&mut message, DEPLOYMENT_MESSAGE_MAX);
    message
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_names_values_and_key_only() {
        let key = Secret::from("token");
        let a = vec![
            ("A".to_owned(), Secret::from("1")),
            ("B".to_owned(), Secret::from("2")),
        ];
        let reordered = vec![
            ("B".to_owned(), Secret::from("2")),
            ("A".to_owned(), Secret::from("1")),
        ];
        let changed = vec![
            ("A".to_owned(), Secret::from("1")),
            ("B".to_owned(), Secret::from("3")),
        ];
        let fp = secrets_fingerprint(&a, &key);
        assert_eq!(fp.len(), SECRETS_HEX);
        assert_eq!(fp, secrets_fingerprint(&reordered, &key));
        assert_ne!(fp, secrets_fingerprint(&changed, &key));
        assert_ne!(fp, secrets_fingerprint(&a, &Secret::from("other")));
        // Length prefixes: moving a byte between name and value changes the fingerprint.
        let shifted = vec![
            ("A1".to_owned(), Secret::from("")),
            ("B".to_owned(), Secret::from("2")),
        ];
        assert_ne!(fp, secrets_fingerprint(&shifted, &key));
    }

    #[test]
    fn secrets_part_reads_only_our_tags() {
        let tag = format!("c15t-{}-{}", "a".repeat(32), "b".repeat(16));
        assert_eq!(Stamp::secrets_part(&tag), Some("b".repeat(16).as_str()));
        assert_eq!(Stamp::secrets_part("v1.2.3"), None);
        assert_eq!(Stamp::secrets_part("c15t-abc-def"), None);
    }
}

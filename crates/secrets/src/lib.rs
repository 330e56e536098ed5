//! Secret values of the c15t control plane: a type that never prints them, age-encrypted
//! per-customer vaults, the key file and its rotation, and keyed fingerprints.
//!
//! # Vaults
//!
//! All secret values of one customer live in one [`Vault`] (keys chosen by callers, such as
//! `destination/<destination-id>/<field>` or `database/auth_token`), sealed by
//! [`Keyring::seal`] as standard armored age to the keyring's primary X25519 recipient. One age
//! file per customer rather than per value keeps opening cheap: one X25519 operation for all of
//! a customer's values. An operator can read a vault without the control plane:
//!
//! ```text
//! age --decrypt -i /path/to/keys.txt vault.age    # prints {"<key>":"<value>",...}
//! ```
//!
//! # Key file
//!
//! [`Keyring::create`] (`c15tctl keys init`) writes a key file with mode 0600, atomically (a
//! fully written, flushed temporary file is given the name only if no file has it), so no
//! reader sees a partial file and an existing one is never replaced;
//! [`Keyring::create_or_load`] loads the file of a process that created it first (replicas
//! starting together). [`Keyring::load`] refuses one that its group or others can access.
//! Whether a new key may be created at all (only when no vault is stored) is the caller's
//! decision: `c15t-control`'s `KeySource::open`. The file is a valid age identity file:
//!
//! ```text
//! # c15t control plane key file, created by `c15tctl keys init`: an age identity file.
//! # ...
//! # c15t-fingerprint-key: <base64 of 32 bytes>
//! # public key: age1...
//! AGE-SECRET-KEY-1...
//! ```
//!
//! Identities are listed oldest first; the last one is the primary. The fingerprint key sits in
//! a comment, which age ignores.
//!
//! # Fingerprints
//!
//! [`Keyring::fingerprint`] is HMAC-SHA256 of a value under the fingerprint key, shortened to
//! 128 bits ([`Fingerprint`]). The model stores it in `SecretRef::Stored`, and diffs and audit
//! entries compare it to say "accessToken changed" without the value. The fingerprint key is
//! separate from the age identities and survives rotation, so fingerprints stay comparable.
//!
//! # Key rotation
//!
//! `c15tctl keys rotate` replaces the identity without a moment where a stored value cannot be
//! decrypted, even if it is interrupted at any point:
//!
//! 1. If [`Keyring::is_rotating`] is false: [`Keyring::begin_rotation`] (adds a fresh identity,
//!    now the primary), then [`Keyring::save`]. If it is already true, an earlier rotation was
//!    interrupted: skip this step and resume with step 2 (never begin a second rotation, which
//!    would add a third key).
//! 2. For every stored vault where [`Keyring::sealed_to_primary`] is false: [`Keyring::open`]
//!    (which tries every identity) and [`Keyring::seal`] (to the new primary), and store the new
//!    ciphertext.
//! 3. [`Keyring::finish_rotation`] (drops the old identities), then [`Keyring::save`].
//!
//! Interrupted after step 1 or during step 2, the key file holds both keys and every vault
//! opens with it; the saves are atomic, so the file is always the old or the new version.
//! Back up the key file after rotating: vault backups made before step 3 need the old key.
//!
//! **Invariant:** secret values are plaintext only inside this crate and in what
//! [`Secret::expose`] returns; no `Debug`, `Display` or error message of this crate shows a
//! value, a private key or the fingerprint key.
//!
//! # Example
//!
//! Seal a customer's values, open them again, and fingerprint one without showing it:
//!
//! ```
//! use c15t_secrets::{Keyring, Secret, Vault};
//!
//! let mut keyring = Keyring::generate();
//! let mut vault = Vault::new();
//! vault.insert("destination/meta-prod/accessToken", Secret::from("EAAB-token"));
//! let sealed = keyring.seal(&vault)?;
//! assert!(sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
//!
//! let opened = keyring.open(&sealed)?;
//! let token = opened.get("destination/meta-prod/accessToken").expect("stored");
//! assert_eq!(token.expose(), "EAAB-token");
//! assert_eq!(format!("{token:?} {token}"), "*** ***"); // never printed
//!
//! // Fingerprints tell changes apart without the value, and survive key rotation.
//! let before = keyring.fingerprint(token);
//! keyring.begin_rotation();
//! assert!(!keyring.sealed_to_primary(&sealed)?);
//! let resealed = keyring.seal(&keyring.open(&sealed)?)?;
//! keyring.finish_rotation();
//! assert!(keyring.opens(&resealed)? && !keyring.opens(&sealed)?);
//! assert_eq!(keyring.fingerprint(token), before);
//! # Ok::<(), c15t_secrets::SecretsError>(())
//! ```

#![warn(missing_docs)]

mod error;
mod keyfile;
mod keyring;
mod secret;
mod vault;

pub use error::SecretsError;
pub use keyring::Keyring;
pub use secret::{Fingerprint, Secret};
pub use vault::{Iter, Vault};
pub use zeroize::Zeroizing;

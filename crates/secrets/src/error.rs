//! The one error type of this crate; no variant ever carries a secret value or key material.

use std::io;
use std::path::{Path, PathBuf};

/// What can go wrong with the key file, a vault or a fingerprint.
///
/// Messages name files, line numbers and what to do, never a secret value, an identity or the
/// fingerprint key: errors end up in logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// The key file does not exist: the operator has to create it (or point the configuration at
    /// the right one).
    #[error("key file {} does not exist; create it with `c15tctl keys init` or set the right path", .path.display())]
    KeyFileMissing {
        /// The path that was looked up.
        path: PathBuf,
    },

    /// `Keyring::create` found a file at the path; it never overwrites one, since losing a key
    /// loses every secret encrypted to it.
    #[error("key file {} already exists; refusing to overwrite it (use `c15tctl keys rotate` to replace the key)", .path.display())]
    KeyFileExists {
        /// The existing file.
        path: PathBuf,
    },

    /// The key file can be read or written by its group or by others.
    #[error("key file {} is accessible by other users (mode {mode:04o}); run `chmod 600 {}`", .path.display(), .path.display())]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits (`mode & 0o7777`).
        mode: u32,
    },

    /// Reading the key file failed for a reason other than its absence.
    #[error("cannot read key file {}", .path.display())]
    KeyFileRead {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// Writing the key file (or creating its directory) failed; the previous file, if any, is
    /// unchanged.
    #[error("cannot write key file {}", .path.display())]
    KeyFileWrite {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The key file's text is not a c15t key file.
    #[error("invalid key file{}: {problem}; fix the file or restore it from a backup", location(.path.as_deref(), *.line))]
    KeyFileInvalid {
        /// The key file, when it was read from disk.
        path: Option<PathBuf>,
        /// The 1-based line, when the problem is on one line.
        line: Option<usize>,
        /// What is wrong (fixed text: never the line's content, which may be key material).
        problem: &'static str,
    },

    /// None of the keyring's identities can decrypt the vault: it was sealed to another key file,
    /// or to a key retired before the vault was re-sealed.
    #[error("no key in the key file can decrypt this vault; load the key file it was sealed with")]
    NoMatchingKey,

    /// The vault's ciphertext is not armored age, or it was truncated or altered.
    #[error("vault ciphertext is damaged or not an age file; restore the vault from a backup")]
    VaultCorrupt {
        /// What age reported.
        #[source]
        source: age::DecryptError,
    },

    /// The vault decrypted, but its plaintext is not a JSON object of strings.
    #[error(
        "vault plaintext is not a JSON object of strings (line {line}, column {column}); \
         decrypt it with `age -d -i <key file>` and fix it"
    )]
    VaultFormat {
        /// Line of the first problem in the plaintext.
        line: usize,
        /// Column of the first problem in the plaintext.
        column: usize,
    },

    /// age failed to encrypt (only possible on an internal error: the output is in memory).
    #[error("cannot encrypt the vault")]
    Encrypt {
        /// What age reported.
        #[source]
        source: age::EncryptError,
    },

    /// A string given as a fingerprint is not `hmac-sha256:` followed by 32 lower-case hex digits.
    #[error(
        "invalid secret fingerprint; expected `hmac-sha256:` followed by 32 lower-case hex digits"
    )]
    InvalidFingerprint,
}

fn location(path: Option<&Path>, line: Option<usize>) -> String {
    match (path, line) {
        (Some(path), Some(line)) => format!(" {} line {line}", path.display()),
        (Some(path), None) => format!(" {}", path.display()),
        (None, Some(line)) => format!(" line {line}"),
        (None, None) => String::new(),
    }
}

//! Reading and writing the key file: owner-only permissions, atomic create that never
//! overwrites (and loads the file of a process that created it first), atomic save.

use std::fs::{self, DirBuilder, File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::{Keyring, SecretsError};

/// Mode of the key file: read and write for its owner only.
const FILE_MODE: u32 = 0o600;
/// Mode of a directory created for the key file.
const DIR_MODE: u32 = 0o700;
/// How long [`Keyring::create_or_load`] waits for a key file another process is writing.
const RACE_WAIT: Duration = Duration::from_secs(5);

impl Keyring {
    /// Loads the key file at `path`.
    ///
    /// Refuses a file that its group or others may access (`mode & 0o077 != 0`), as ssh does
    /// with private keys: the error tells the operator to `chmod 600` it.
    pub fn load(path: &Path) -> Result<Self, SecretsError> {
        let read_error = |source: io::Error| {
            if source.kind() == io::ErrorKind::NotFound {
                SecretsError::KeyFileMissing {
                    path: path.to_owned(),
                }
            } else {
                SecretsError::KeyFileRead {
                    path: path.to_owned(),
                    source,
                }
            }
        };
        let mut file = File::open(path).map_err(read_error)?;
        let metadata = file.metadata().map_err(read_error)?;
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(SecretsError::KeyFilePermissions {
                path: path.to_owned(),
                mode,
            });
        }
        // Sized up front so reading never reallocates and leaves a copy of the keys behind.
        let capacity = usize::try_from(metadata.len()).unwrap_or(0) + 1;
        let mut text = Zeroizing::new(String::with_capacity(capacity));
        file.read_to_string(&mut text).map_err(|source| {
            if source.kind() == io::ErrorKind::InvalidData {
                invalid_utf8(path)
            } else {
                read_error(source)
            }
        })?;
        Self::parse(&text).map_err(|error| match error {
            SecretsError::KeyFileInvalid { line, problem, .. } => SecretsError::KeyFileInvalid {
                path: Some(path.to_owned()),
                line,
                problem,
            },
            other => other,
        })
    }

    /// Generates a keyring and writes it to a new key file at `path` with mode 0600, creating
    /// the parent directory (mode 0700) if needed.
    ///
    /// Atomic and never overwrites: the keys are written to a temporary file in the same
    /// directory and flushed to disk, then that file is given the name `path` only if no file
    /// has it (`renameat2(RENAME_NOREPLACE)`, or a hard link where that is unsupported). So no
    /// reader ever sees a partial key file, and if `path` exists (or another process creates it
    /// first) this fails with [`SecretsError::KeyFileExists`] and leaves that file alone.
    pub fn create(path: &Path) -> Result<Self, SecretsError> {
        let keyring = Self::generate();
        let write_error = |source| SecretsError::KeyFileWrite {
            path: path.to_owned(),
            source,
        };
        let dir = parent_dir(path);
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&dir)
            .map_err(write_error)?;
        if fs::symlink_metadata(path).is_ok() {
            return Err(SecretsError::KeyFileExists {
                path: path.to_owned(),
            });
        }
        let mut temp = tempfile::Builder::new()
            .prefix(".c15t-keys-")
            .suffix(".tmp")
            .permissions(Permissions::from_mode(FILE_MODE))
            .tempfile_in(&dir)
            .map_err(write_error)?;
        temp.as_file()
            // The umask can only clear bits; set the mode anyway in case the file system ignored it.
            .set_permissions(Permissions::from_mode(FILE_MODE))
            .and_then(|()| temp.write_all(keyring.to_file_text().as_bytes()))
            .and_then(|()| temp.as_file().sync_all())
            .map_err(write_error)?;
        // On failure the temporary file is removed when `temp` (in the error) is dropped.
        temp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                SecretsError::KeyFileExists {
                    path: path.to_owned(),
                }
            } else {
                write_error(e.error)
            }
        })?;
        sync_dir(&dir).map_err(write_error)?;
        Ok(keyring)
    }

    /// Creates the key file at `path` as [`Keyring::create`] does, or, if it exists (another
    /// process created it first, e.g. a replica starting at the same moment), loads that one;
    /// the flag says whether this call created it.
    ///
    /// A file that does not parse yet is read again for up to 5 seconds (a writer that is
    /// not atomic may still be writing it) before its error is returned; so is a file removed
    /// meanwhile, which is then created. Call this only when a new key is acceptable: when no
    /// vault is sealed to an existing one.
    pub fn create_or_load(path: &Path) -> Result<(Self, bool), SecretsError> {
        let deadline = Instant::now() + RACE_WAIT;
        loop {
            match Self::create(path) {
                Ok(keyring) => return Ok((keyring, true)),
                Err(SecretsError::KeyFileExists { .. }) => {}
                Err(other) => return Err(other),
            }
            match Self::load(path) {
                Ok(keyring) => return Ok((keyring, false)),
                Err(SecretsError::KeyFileInvalid { .. } | SecretsError::KeyFileMissing { .. })
                    if Instant::now() < deadline =>
                {
                    thread::sleep(Duration::from_millis(25));
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// Writes the keyring to `path` atomically: a temporary file (mode 0600) in the same
    /// directory is written, flushed to disk and renamed over `path`, then the directory is
    /// flushed. A crash leaves either the old file or the new one, never a mix.
    pub fn save(&self, path: &Path) -> Result<(), SecretsError> {
        let write_error = |source| SecretsError::KeyFileWrite {
            path: path.to_owned(),
            source,
        };
        let dir = parent_dir(path);
        let mut temp = tempfile::Builder::new()
            .prefix(".c15t-keys-")
            .suffix(".tmp")
            .permissions(Permissions::from_mode(FILE_MODE))
            .tempfile_in(&dir)
            .map_err(write_error)?;
        temp.write_all(self.to_file_text().as_bytes())
            .and_then(|()| temp.as_file().sync_all())
            .map_err(write_error)?;
        temp.persist(path).map_err(|e| write_error(e.error))?;
        sync_dir(&dir).map_err(write_error)
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Flushes a directory, so a new or renamed entry survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn invalid_utf8(path: &Path) -> SecretsError {
    SecretsError::KeyFileInvalid {
        path: Some(path.to_owned()),
        line: None,
        problem: "it is not UTF-8 text",
    }
}

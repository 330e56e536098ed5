//! Reading and writing the key file: owner-only permissions, no overwrite on create, atomic save.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::{Keyring, SecretsError};

/// Mode of the key file: read and write for its owner only.
const FILE_MODE: u32 = 0o600;
/// Mode of a directory created for the key file.
const DIR_MODE: u32 = 0o700;

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
    /// Never overwrites: if `path` exists, fails with [`SecretsError::KeyFileExists`].
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
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(path)
            .map_err(|source| {
                if source.kind() == io::ErrorKind::AlreadyExists {
                    SecretsError::KeyFileExists {
                        path: path.to_owned(),
                    }
                } else {
                    write_error(source)
                }
            })?;
        let written = file
            // The umask can only clear bits; set the mode anyway in case the file system ignored it.
            .set_permissions(Permissions::from_mode(FILE_MODE))
            .and_then(|()| file.write_all(keyring.to_file_text().as_bytes()))
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_dir(&dir));
        if let Err(source) = written {
            // The file is ours (create_new) and incomplete: remove it so a retry can succeed.
            drop(file);
            let _ = fs::remove_file(path);
            return Err(write_error(source));
        }
        Ok(keyring)
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

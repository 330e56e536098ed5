//! [`DeployError`]: why a deploy failed, and whether trying again may help.

use std::io;
use std::path::PathBuf;

use crate::ArchiveFormat;

/// Why a deploy (or an archive) failed.
///
/// Messages never contain a secret value: no variant carries one.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A project file path (or the worker name used as the archive's folder) is absolute,
    /// contains `..`, `.` or an empty segment, or collides with another file. Nothing was
    /// written. This is a bug in whatever built the release, not something to retry.
    #[error(
        "refusing to write project file `{path}`: {reason}; project paths must be relative, \
         `/`-separated plain names"
    )]
    UnsafePath {
        /// The refused path, as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The environment's path under the deploy root exists but is not a release link the
    /// file deployer made (for example a directory copied there by hand).
    #[error(
        "`{}` exists and is not a release link written by the file deployer; move it aside and \
         deploy again",
        path.display()
    )]
    NotAReleaseLink {
        /// The environment's path.
        path: PathBuf,
    },
    /// A file system operation failed.
    #[error("could not {action} `{}`", path.display())]
    Io {
        /// What was being done, e.g. `write`.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Writing an archive failed.
    #[error("could not build the {format} archive")]
    Archive {
        /// The archive's format.
        format: ArchiveFormat,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// The deploy was cut short because the async runtime is shutting down; what was written
    /// is not live.
    #[error("the deploy was interrupted because the runtime is shutting down; deploy again")]
    Interrupted,
}

impl DeployError {
    /// Whether the same deploy may succeed if tried again later, unchanged.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::UnsafePath { .. } | Self::NotAReleaseLink { .. } | Self::Archive { .. } => false,
            Self::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::Interrupted
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::WouldBlock
                    | io::ErrorKind::ResourceBusy
            ),
            Self::Interrupted => true,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

//! [`DeployError`]: why a deploy failed, and whether trying again may help.

use std::fmt;
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
    /// Announcing a release on the customer's webhook endpoint failed (notify delivery).
    #[error(transparent)]
    Webhook(#[from] crate::webhook::WebhookError),
    /// The release has no JavaScript modules, so there is nothing a managed platform could run.
    /// This is a bug in whatever built the release (the bundle step did not run).
    #[error("release of worker `{worker}` has no modules to upload; build its bundle first")]
    NoModules {
        /// The worker's name.
        worker: String,
    },
    /// The release names a target profile this build does not know, so its compatibility date
    /// and flags are unknown.
    #[error("unknown target profile `{target}`; deploy a release generated for a known target")]
    UnknownTarget {
        /// The release's target id.
        target: String,
    },
    /// A module of the release cannot be uploaded as it is (an empty or duplicate name, a
    /// reserved name, or a content type that is not a MIME type).
    #[error("cannot upload module `{name}`: {reason}")]
    InvalidModule {
        /// The module's name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A Cloudflare version id given to the deployer (a rollback target, a stored version) is
    /// not a UUID. Nothing was sent.
    #[error(
        "`{value}` is not a cloudflare version id (a UUID such as `182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e`)"
    )]
    InvalidVersionId {
        /// The value given.
        value: String,
    },
    /// The configured Cloudflare API token cannot be sent in an HTTP header (it contains
    /// control characters or non-ASCII text). The token is not shown.
    #[error("the cloudflare API token is not a valid HTTP header value; check how it was pasted")]
    InvalidApiToken,
    /// The configured Cloudflare API base is not an `http` or `https` URL.
    #[error(
        "the cloudflare API base `{url}` is not an http(s) URL; use e.g. \
         `https://api.cloudflare.com/client/v4`"
    )]
    InvalidApiBase {
        /// The configured base.
        url: String,
    },
    /// Cloudflare answered a request with an error (or with a body that is not its envelope).
    /// `errors` are Cloudflare's own codes and messages; they never contain the API token.
    #[error(
        "cloudflare refused to {operation} (HTTP {status}){}",
        CloudflareErrors(errors)
    )]
    Cloudflare {
        /// What was being done, e.g. `upload the worker script`.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// `errors[].code` and `errors[].message` from Cloudflare's response envelope.
        errors: Vec<(i64, String)>,
        /// Whether the same request may succeed later (rate limited, or a server error).
        retryable: bool,
    },
    /// Cloudflare could not be reached, or the connection failed or timed out before a whole
    /// answer arrived. The request may or may not have been applied.
    #[error("could not {operation} at cloudflare: {reason}")]
    CloudflareTransport {
        /// What was being done.
        operation: &'static str,
        /// Why, in words (`the request timed out`, `could not connect`, ...).
        reason: &'static str,
        /// The HTTP client's error; it names the URL, never a header.
        #[source]
        source: reqwest::Error,
    },
    /// Cloudflare answered with success but the answer lacks something the deployer needs.
    #[error("unexpected answer from cloudflare to {operation}: {detail}")]
    CloudflareProtocol {
        /// What was being done.
        operation: &'static str,
        /// What was missing or malformed.
        detail: String,
    },
    /// A rollback target was uploaded with other secret values than the live version has.
    /// Cloudflare keeps each version's bindings as uploaded, so rolling back would also roll the
    /// secrets back. Nothing was changed; deploy the stored release again instead (it is
    /// uploaded with the current secrets).
    #[error(
        "version `{version_id}` of worker `{worker}` was uploaded with other secret values than \
         are live now; deploy its stored release again instead of rolling back"
    )]
    RollbackSecretsChanged {
        /// The worker's name.
        worker: String,
        /// The version asked for.
        version_id: String,
    },
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
            Self::Webhook(e) => e.is_retryable(),
            Self::NoModules { .. }
            | Self::UnknownTarget { .. }
            | Self::InvalidModule { .. }
            | Self::InvalidApiToken
            | Self::InvalidVersionId { .. }
            | Self::InvalidApiBase { .. }
            | Self::CloudflareProtocol { .. }
            | Self::RollbackSecretsChanged { .. } => false,
            Self::Cloudflare { retryable, .. } => *retryable,
            Self::CloudflareTransport { source, .. } => {
                !(source.is_builder() || source.is_redirect())
            }
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

/// Formats Cloudflare's errors as `: [10000] Authentication error; [...] ...`.
struct CloudflareErrors<'a>(&'a [(i64, String)]);

impl fmt::Display for CloudflareErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (code, message)) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "[{code}] {message}")?;
        }
        Ok(())
    }
}

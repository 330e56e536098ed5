//! Errors of the application layer: what a caller (CLI or HTTP handler) can act on.

use c15t_model::ValidationErrors;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The input is invalid; every problem is listed with its field path.
    #[error("the configuration is invalid: {0}")]
    Invalid(#[from] ValidationErrors),
    /// A request that is malformed before validation (bad flag, unknown field, missing value).
    #[error("{0}")]
    BadRequest(String),
    /// The customer, destination or other resource does not exist.
    #[error("{resource} does not exist")]
    NotFound {
        /// What was looked up, e.g. "customer `cust_x`".
        resource: String,
    },
    /// The resource already exists.
    #[error("{resource} already exists")]
    AlreadyExists {
        /// What exists.
        resource: String,
    },
    /// Someone else changed the customer since the revision this change was based on.
    #[error(
        "{customer} changed since revision {expected} (now {actual}); reload and apply your change again"
    )]
    Conflict {
        /// The customer as the store names it, e.g. ``customer `cust_abc123` ``.
        customer: String,
        /// The revision the change was based on.
        expected: u64,
        /// The current revision.
        actual: u64,
    },
    /// Someone else changed the customer's secrets since this change read them.
    #[error("the secrets of {resource} changed meanwhile; reload and apply your change again")]
    SecretsChanged {
        /// The customer as the store names it.
        resource: String,
    },
    /// Two customer environments would deploy to one worker; nothing was stored.
    #[error("{0}")]
    WorkerNameTaken(String),
    /// A worker did not answer healthy where a deploy required it to (a renamed worker
    /// before its old script is removed); the old worker still serves.
    #[error("worker `{worker}` did not answer healthy at {url}: {reason}")]
    WorkerUnhealthy {
        /// The worker probed.
        worker: String,
        /// What was probed.
        url: String,
        /// The last probe's answer.
        reason: String,
    },
    /// A gradual deploy's new version failed its health probe; the version it was replacing
    /// serves all traffic again.
    #[error(
        "version {version} of worker `{worker}` failed its health probe at {step}% of traffic \
         ({reason}); the previous version serves all traffic again"
    )]
    RolledBackAutomatically {
        /// The worker.
        worker: String,
        /// The version that failed.
        version: String,
        /// The share of traffic it had (0: before it had any).
        step: u8,
        /// What the probe saw.
        reason: String,
    },
    /// A secret referenced from a declarative file could not be resolved.
    #[error("{path}: environment variable `{var}` is not set; export it or change the reference")]
    MissingSecret {
        /// Field path in the declarative file.
        path: String,
        /// The variable.
        var: String,
    },
    /// Generation refused the input.
    #[error(transparent)]
    Generate(#[from] c15t_codegen::GenerateError),
    /// The key file does not open the vaults stored in the database (it is missing, or it is
    /// another key file); the message names the customers and the recovery commands.
    #[error("{0}")]
    KeyFileMismatch(String),
    /// Encryption, decryption or key-file failure.
    #[error("secret storage failed")]
    Secrets(#[source] c15t_secrets::SecretsError),
    /// A deployer failed (Cloudflare's error codes and messages included, never a secret).
    #[error("the deploy failed")]
    Deploy(#[source] c15t_deploy::DeployError),
    /// A webhook could not be built or sent.
    #[error("the webhook failed")]
    Webhook(#[source] c15t_deploy::webhook::WebhookError),
    /// The database failed.
    #[error("the control plane database failed")]
    Store(#[source] c15t_store::StoreError),
    /// Connection tests could not be set up (their HTTP client failed to build).
    #[error("cannot run connection tests")]
    Vendors(#[from] c15t_vendors::VendorError),
}

impl ControlError {
    /// The database fault behind this error, if it is one an operator must fix (full,
    /// read-only, unreachable).
    pub fn fault(&self) -> Option<crate::DbFault> {
        match self {
            Self::Store(e) => e.fault().map(crate::DbFault::from),
            _ => None,
        }
    }
}

impl From<c15t_secrets::SecretsError> for ControlError {
    fn from(e: c15t_secrets::SecretsError) -> Self {
        Self::Secrets(e)
    }
}

impl From<c15t_store::StoreError> for ControlError {
    fn from(e: c15t_store::StoreError) -> Self {
        use c15t_store::StoreError as S;
        match e {
            S::NotFound { resource } => Self::NotFound { resource },
            S::AlreadyExists { resource } => Self::AlreadyExists { resource },
            S::Conflict {
                resource,
                expected,
                actual,
            } => Self::Conflict {
                customer: resource,
                expected,
                actual,
            },
            S::VaultChanged { resource } => Self::SecretsChanged { resource },
            e @ S::WorkerNameTaken { .. } => Self::WorkerNameTaken(e.to_string()),
            other => Self::Store(other),
        }
    }
}

impl From<c15t_deploy::DeployError> for ControlError {
    fn from(e: c15t_deploy::DeployError) -> Self {
        Self::Deploy(e)
    }
}

impl From<c15t_deploy::webhook::WebhookError> for ControlError {
    fn from(e: c15t_deploy::webhook::WebhookError) -> Self {
        Self::Webhook(e)
    }
}

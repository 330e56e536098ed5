//! The store's error type, and the one function that maps database errors onto it.

use sea_orm::{DbErr, SqlErr};

use crate::Revision;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The resource does not exist.
    #[error("{resource} does not exist")]
    NotFound {
        /// What was looked for, e.g. ``customer `cust_abc123` ``.
        resource: String,
    },
    /// The resource exists already.
    #[error("{resource} already exists")]
    AlreadyExists {
        /// What was created twice.
        resource: String,
    },
    /// The customer's config changed since the revision the change was based on.
    #[error(
        "{resource} changed since revision {expected} (now {actual}); reload and apply your \
         change again"
    )]
    Conflict {
        /// The customer, e.g. ``customer `cust_abc123` ``.
        resource: String,
        /// The revision the change was based on.
        expected: Revision,
        /// The revision found.
        actual: Revision,
    },
    /// A customer's secret vault changed since it was read (another change sealed a new one);
    /// nothing was written.
    #[error("the secrets of {resource} changed meanwhile; reload and apply your change again")]
    VaultChanged {
        /// The customer, e.g. ``customer `cust_abc123` ``.
        resource: String,
    },
    /// The input cannot be stored as given (for example a number that is not finite).
    #[error("{what} cannot be stored")]
    Invalid {
        /// What and why.
        what: String,
    },
    /// A stored row does not convert into its record; the database was changed by hand or by
    /// a newer version.
    #[error("stored data is corrupt: {what}")]
    Corrupt {
        /// Which row and why.
        what: String,
    },
    /// The database failed; the operation may be retried once it is reachable again.
    #[error("database error while {operation}")]
    Database {
        /// What the store was doing, e.g. `saving customer config`.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: DbErr,
    },
}

impl StoreError {
    pub(crate) fn not_found(resource: impl Into<String>) -> Self {
        Self::NotFound {
            resource: resource.into(),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt { what: what.into() }
    }
}

/// Maps a database error: a unique-key violation becomes `AlreadyExists { resource }` where the
/// caller names the resource a duplicate would be, everything else `Database { operation }`.
pub(crate) fn db_error(operation: &'static str, unique: Option<&str>, err: DbErr) -> StoreError {
    match (unique, err.sql_err()) {
        (Some(resource), Some(SqlErr::UniqueConstraintViolation(_))) => StoreError::AlreadyExists {
            resource: resource.to_owned(),
        },
        _ => StoreError::Database {
            operation,
            source: err,
        },
    }
}

/// `map_err` adapter for the common case: no unique key the caller could have violated.
pub(crate) fn db(operation: &'static str) -> impl FnOnce(DbErr) -> StoreError {
    move |err| db_error(operation, None, err)
}

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
    /// A worker name is held by another customer environment: the two would deploy to one
    /// worker. Nothing was written.
    #[error(
        "environment `{environment}` of customer `{customer}` would run as worker `{name}`, \
         which belongs to environment `{holder_environment}` of customer `{holder_customer}` \
         (worker names write `_` as `-` and join customer and environment with `-`); choose \
         another customer id or environment name"
    )]
    WorkerNameTaken {
        /// The worker name.
        name: String,
        /// The customer that asked for it.
        customer: String,
        /// Its environment.
        environment: String,
        /// The customer holding the name.
        holder_customer: String,
        /// The holder's environment.
        holder_environment: String,
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
    /// The disk holding the SQLite database has less free space than a write may need.
    #[error(
        "the disk holding the database has {available_kib} KiB free (at least {needed_kib} KiB \
         needed); free space on it"
    )]
    DiskFull {
        /// Free space left to this process, in KiB.
        available_kib: u64,
        /// The least the store asks for, in KiB.
        needed_kib: u64,
    },
    /// A SQLite database in WAL mode on a read-only filesystem without its `-wal` and `-shm`
    /// files (as a clean shutdown leaves it): SQLite cannot open it at all.
    #[error(
        "the SQLite database {} is on a read-only filesystem and its -wal and -shm files are \
         missing, so SQLite cannot open it; mount {} read-write (the server reports a \
         read-only database as not ready, but must be able to open it)",
        path.display(),
        dir.display()
    )]
    ReadOnlyFilesystem {
        /// The database file.
        path: std::path::PathBuf,
        /// Its directory.
        dir: std::path::PathBuf,
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

/// A database fault an operator must fix, as told apart from the driver's error: readiness
/// reports it, and the API answers 503 with it instead of a bare 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DbFault {
    /// The disk (or PostgreSQL's) is full: `SQLITE_FULL`, PostgreSQL `53100`, or too little free
    /// space for SQLite's next write.
    Full,
    /// The database refuses writes: `SQLITE_READONLY`, or PostgreSQL `25006` (a read-only
    /// transaction, such as on a standby).
    ReadOnly,
    /// The database cannot be reached: no connection, a closed pool, a connection ended by the
    /// server (PostgreSQL class `08`, `57P01`–`57P03`).
    Unreachable,
}

impl std::fmt::Display for DbFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Full => "the database is full",
            Self::ReadOnly => "the database is read-only",
            Self::Unreachable => "the database is unreachable",
        })
    }
}

impl StoreError {
    /// The fault behind this error, if it is one of the database faults an operator must fix
    /// (and that a retry will not fix until they do).
    pub fn fault(&self) -> Option<DbFault> {
        match self {
            Self::DiskFull { .. } => Some(DbFault::Full),
            Self::ReadOnlyFilesystem { .. } => Some(DbFault::ReadOnly),
            Self::Database { source, .. } => fault_of(source),
            _ => None,
        }
    }

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

/// Classifies a driver error by its SQLSTATE (PostgreSQL) or result code (SQLite).
fn fault_of(err: &DbErr) -> Option<DbFault> {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return Some(DbFault::Unreachable),
        DbErr::Conn(e) | DbErr::Exec(e) | DbErr::Query(e) => e,
        _ => return None,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return None;
    };
    match &**sqlx {
        Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => {
            Some(DbFault::Unreachable)
        }
        Sqlx::Database(e) => {
            let code = e.code()?;
            if let Ok(sqlite) = code.parse::<u32>() {
                // SQLite's extended result codes keep the primary code in the low byte.
                return match sqlite & 0xff {
                    13 => Some(DbFault::Full),
                    8 => Some(DbFault::ReadOnly),
                    _ => None,
                };
            }
            match &*code {
                "53100" => Some(DbFault::Full),
                "25006" => Some(DbFault::ReadOnly),
                "57P01" | "57P02" | "57P03" => Some(DbFault::Unreachable),
                c if c.starts_with("08") => Some(DbFault::Unreachable),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_database_errors_are_faults() {
        assert_eq!(
            StoreError::DiskFull {
                available_kib: 1,
                needed_kib: 2
            }
            .fault(),
            Some(DbFault::Full)
        );
        assert_eq!(StoreError::not_found("x").fault(), None);
        let closed = StoreError::Database {
            operation: "reading",
            source: DbErr::Conn(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(
                sea_orm::sqlx::Error::PoolClosed,
            ))),
        };
        assert_eq!(closed.fault(), Some(DbFault::Unreachable));
        let other = StoreError::Database {
            operation: "reading",
            source: DbErr::Custom("x".into()),
        };
        assert_eq!(other.fault(), None);
    }
}

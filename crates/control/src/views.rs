//! What the control layer answers with where the store keeps rows: its own views, so that the
//! HTTP layer and the binaries never name a store type (they do not depend on `c15t-store`).
//! Values of the domain (health, drift, roles) are `c15t-model` types the store keeps as
//! they are.

use c15t_model::CustomerId;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One line of the customer list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSummary {
    /// The customer.
    pub id: CustomerId,
    /// Display name.
    pub display_name: String,
    /// Current config revision.
    pub revision: u64,
    /// How many destinations the customer has.
    pub destination_count: u64,
    /// When the config last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<c15t_store::CustomerSummary> for CustomerSummary {
    fn from(s: c15t_store::CustomerSummary) -> Self {
        Self {
            id: s.id,
            display_name: s.display_name,
            revision: s.revision,
            destination_count: s.destination_count,
            updated_at: s.updated_at,
        }
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Entry id (increasing): the cursor of [`crate::Control::audit_page`].
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub resource: String,
    /// The customer concerned (a plain string: the customer may since have been deleted).
    pub customer: Option<String>,
    /// State before, of an entry without one after (a deletion).
    pub before: Option<serde_json::Value>,
    /// State after, of an entry without one before (a creation).
    pub after: Option<serde_json::Value>,
    /// What changed, of an entry with a state before and after (empty otherwise).
    pub changes: Vec<AuditChange>,
}

/// One value an audited change changed: absent `before` is an addition, absent `after` a
/// removal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditChange {
    /// Where, e.g. `destinations[id=meta-prod].enabled`; empty for the whole value.
    pub path: String,
    /// The value before (absent when added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// The value after (absent when removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

impl From<c15t_store::AuditRecord> for AuditRecord {
    fn from(r: c15t_store::AuditRecord) -> Self {
        Self {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            resource: r.resource,
            customer: r.customer,
            before: r.before,
            after: r.after,
            changes: r
                .changes
                .into_iter()
                .map(|c| AuditChange {
                    path: c.path,
                    before: c.before,
                    after: c.after,
                })
                .collect(),
        }
    }
}

/// A customer API token as listed: never its value or hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Token id.
    pub id: i64,
    /// Whose token it is.
    pub customer: CustomerId,
    /// Its name.
    pub name: String,
    /// The last four hex digits of the hash, to tell tokens apart.
    pub hint: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (recorded at most about once a second).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<c15t_store::ApiTokenRecord> for ApiToken {
    fn from(r: c15t_store::ApiTokenRecord) -> Self {
        Self {
            id: r.id,
            customer: r.customer,
            name: r.name,
            hint: r.hint,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// How many jobs of the durable queue are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobCounts {
    /// Waiting.
    pub pending: u64,
    /// Claimed by a runner.
    pub running: u64,
    /// Completed.
    pub done: u64,
    /// Given up.
    pub failed: u64,
}

impl From<c15t_store::JobCounts> for JobCounts {
    fn from(c: c15t_store::JobCounts) -> Self {
        Self {
            pending: c.pending,
            running: c.running,
            done: c.done,
            failed: c.failed,
        }
    }
}

/// A database fault an operator must fix (and that a retry will not fix until they do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DbFault {
    /// The disk (or PostgreSQL's) is full.
    Full,
    /// The database refuses writes (a read-only file system, a PostgreSQL standby).
    ReadOnly,
    /// The database cannot be reached.
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

impl From<c15t_store::DbFault> for DbFault {
    fn from(f: c15t_store::DbFault) -> Self {
        match f {
            c15t_store::DbFault::Full => Self::Full,
            c15t_store::DbFault::ReadOnly => Self::ReadOnly,
            c15t_store::DbFault::Unreachable => Self::Unreachable,
            // The store's enum is non-exhaustive: a fault it names later reads as unreachable
            // until this view names it too.
            _ => Self::Unreachable,
        }
    }
}

//! The append-only audit log: a customer's, or the whole log (operators only), newest first,
//! a page at a time.

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::CustomerPath;
use crate::auth::{OperatorOnly, Scoped};
use crate::{ApiError, ApiState, ErrorBody, Query};

super::resource!(customer_audit, audit);

/// One page of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// At most this many entries (default 50; more than 200 is taken as 200).
    #[param(minimum = 1)]
    pub limit: Option<u64>,
    /// Only entries older than this entry id: the `id` of the last entry of the previous page
    /// (the `Link: rel="next"` header gives the next page's URL).
    pub before: Option<i64>,
}

/// An audit entry (config JSON with fingerprints only, never secret values). A change to
/// something that existed before and after (a config or delivery edit) carries `changes`; a
/// creation carries `after`, a deletion `before`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    /// Entry id (increasing); the cursor (`before`) of the next page.
    pub id: i64,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Who.
    pub actor: String,
    /// What, e.g. `destination.update`.
    pub action: String,
    /// To what.
    pub resource: String,
    /// The customer concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// State before, of a deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// State after, of a creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// What changed, of an edit: one entry per value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AuditChangeOut>,
}

/// One value an edit changed. Secrets appear as references (`{"stored":
/// "hmac-sha256:..."}`), never as values.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditChangeOut {
    /// Where, in the customer file's syntax with destinations by id, e.g.
    /// `destinations[id=meta-prod].settings.pixelId`; `destinations(order)` for a reordering.
    pub path: String,
    /// The value before; absent when the value was added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// The value after; absent when the value was removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

impl From<c15t_control::AuditRecord> for AuditOut {
    fn from(r: c15t_control::AuditRecord) -> Self {
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
                .map(|c| AuditChangeOut {
                    path: c.path,
                    before: c.before,
                    after: c.after,
                })
                .collect(),
        }
    }
}

/// An audit page as JSON, written entry by entry (no second copy of the page is built), with
/// `Link: <path?limit=N&before=ID>; rel="next"` when the page is full.
fn audit_page(
    path: &str,
    limit: u64,
    records: Vec<c15t_control::AuditRecord>,
) -> Result<Response, ApiError> {
    let full = records.len() as u64 >= limit;
    let next = records.last().map(|r| r.id).filter(|_| full);
    let mut body = Vec::with_capacity(256 * records.len());
    body.push(b'[');
    for (i, record) in records.into_iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        serde_json::to_writer(&mut body, &AuditOut::from(record))
            .map_err(|e| ApiError::Internal(format!("writing the audit page: {e}")))?;
    }
    body.push(b']');
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(next) = next
        && let Ok(link) = HeaderValue::from_str(&format!(
            "<{path}?limit={limit}&before={next}>; rel=\"next\""
        ))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

fn audit_limit(limit: Option<u64>) -> u64 {
    limit.unwrap_or(50).clamp(1, c15t_control::AUDIT_PAGE_MAX)
}

/// A customer's audit log, newest first, one page (at most 200 entries) at a time.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/audit", tag = "audit",
    params(CustomerPath, AuditQuery),
    responses(
        (status = 200, body = Vec<AuditOut>, headers(("Link" = String, description = "`<...?limit=N&before=ID>; rel=\"next\"` when the page is full: the next (older) page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn customer_audit(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    state.control().customer_revision(&id).await?;
    let limit = audit_limit(query.limit);
    let records = state
        .control()
        .audit_page(Some(&id), query.before, limit)
        .await?;
    audit_page(&format!("/api/v1/customers/{id}/audit"), limit, records)
}

/// The whole audit log, newest first, one page (at most 200 entries) at a time (operators
/// only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = Vec<AuditOut>, headers(("Link" = String, description = "`<...?limit=N&before=ID>; rel=\"next\"` when the page is full: the next (older) page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn audit(
    _: OperatorOnly,
    State(state): State<ApiState>,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let limit = audit_limit(query.limit);
    let records = state
        .control()
        .audit_page(None, query.before, limit)
        .await?;
    audit_page("/api/v1/audit", limit, records)
}

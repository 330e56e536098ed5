//! Deploys (queued as jobs, or run now with `?wait=true`), deployments with their files, and
//! rollbacks.

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use c15t_control::{DeployReport, DeploymentView};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::health::{DriftOut, HealthSummaryOut};
use super::{CustomerPath, DeploymentPath, EnvironmentParam, EnvironmentPath, environment};
use crate::auth::Scoped;
use crate::{ApiError, ApiState, ErrorBody, Query};

super::resource!(
    deploy,
    deployment_list,
    deployment_get,
    deployment_files,
    rollback,
);

/// Whether to deploy synchronously.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeployQuery {
    /// Deploy now and answer with the result, instead of enqueueing a job (202).
    #[serde(default)]
    pub wait: bool,
}

/// Listing limits.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// One environment only.
    #[param(inline)]
    pub environment: Option<EnvironmentParam>,
    /// At most this many entries (default 50, at most 1000).
    pub limit: Option<u64>,
}

fn limit(limit: Option<u64>) -> u64 {
    limit.unwrap_or(50).clamp(1, 1000)
}

/// A deploy accepted into the job queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeployAccepted {
    /// The job that will deploy.
    pub job_id: i64,
    /// The customer.
    pub customer: String,
    /// The environment.
    pub environment: String,
}

/// What a deploy (or a rollback) did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeployReportOut {
    /// The recorded deployment.
    pub deployment: DeploymentOut,
    /// `true` when the release was already live and the deployer was not called.
    pub unchanged: bool,
    /// For rollbacks: secret bindings whose value now differs from the one the restored
    /// deployment ran with (the current values were deployed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets_changed: Vec<String>,
    /// The drift this deploy repaired: the worker was not what had been deployed (another
    /// version, a traffic split, or no script) and now runs the configured release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_drift: Option<DriftOut>,
}

impl From<DeployReport> for DeployReportOut {
    fn from(r: DeployReport) -> Self {
        Self {
            deployment: r.deployment.into(),
            unchanged: r.unchanged,
            secrets_changed: r.secrets_changed,
            restored_drift: r.restored_drift.map(Into::into),
        }
    }
}

/// A deployment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeploymentOut {
    /// Deployment id.
    pub id: i64,
    /// The customer.
    pub customer: String,
    /// The environment.
    pub environment: String,
    /// Config revision deployed.
    pub revision: u64,
    /// Target profile.
    pub target: String,
    /// Content hash of the generated project.
    pub content_hash: String,
    /// Where it is: `pending`, `running`, `succeeded`, `failed`, `rolled_back` or
    /// `rolled_back_automatically`.
    pub status: String,
    /// The worker's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Where it went: `cloudflare:<account id>`, `file` or `webhook` (absent on deployments
    /// recorded before destinations were).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The platform's version id (or the webhook message id of a notify deploy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_version: Option<String>,
    /// The deployment this one restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<i64>,
    /// Secret bindings and the fingerprints of the values deployed.
    pub secrets: BTreeMap<String, String>,
    /// Recorded at.
    pub created_at: DateTime<Utc>,
    /// Finished at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The latest health probe of this deployment, if it was probed (listings fill it in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSummaryOut>,
}

impl From<DeploymentView> for DeploymentOut {
    fn from(d: DeploymentView) -> Self {
        Self {
            id: d.id,
            customer: d.customer.to_string(),
            environment: d.environment.to_string(),
            revision: d.revision,
            target: d.target,
            content_hash: d.content_hash,
            status: d.status,
            url: d.url,
            destination: d.destination,
            error: d.error,
            remote_version: d.remote_version,
            rollback_of: d.rollback_of,
            secrets: d.secrets,
            created_at: d.created_at,
            finished_at: d.finished_at,
            health: d.health.map(Into::into),
        }
    }
}

/// A generated file of a deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileOut {
    /// Path in the project.
    pub path: String,
    /// Contents.
    pub contents: String,
}

/// A deployment's id as the path gives it (400 `invalid_parameter` when not a number).
fn deployment_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid_id("deploymentId", text, "must be a deployment number"))
}

/// Deploys one environment: enqueued as a job (202), or run now with `?wait=true`.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/environments/{environment}/deploy", tag = "deploy",
    params(CustomerPath, EnvironmentPath, DeployQuery),
    responses(
        (status = 202, description = "Enqueued", body = DeployAccepted),
        (status = 200, description = "Deployed (`?wait=true`): the deploy report", body = DeployReportOut),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn deploy(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    EnvironmentPath(env): EnvironmentPath,
    Query(query): Query<DeployQuery>,
) -> Result<Response, ApiError> {
    let env = environment(&env)?;
    // Both paths check that the environment is one of the customer's.
    let plan = state.control().plan(&id, Some(&env)).await?;
    drop(plan);
    if query.wait {
        let report = state
            .control()
            .deploy_detached(&principal.actor(), &id, &env)
            .await
            .map_err(|f| ApiError::from(f.error))?;
        return Ok(Json(DeployReportOut::from(report)).into_response());
    }
    let job_id = state
        .control()
        .enqueue_deploy(&principal.actor(), &id, &env)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DeployAccepted {
            job_id,
            customer: id.to_string(),
            environment: env.to_string(),
        }),
    )
        .into_response())
}

/// A customer's deployments, newest first.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/deployments", tag = "deploy",
    params(CustomerPath, ListQuery),
    responses(
        (status = 200, description = "Deployments, newest first", body = Vec<DeploymentOut>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn deployment_list(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let env = query
        .environment
        .as_ref()
        .map(|e| environment(e.as_str()))
        .transpose()?;
    let list: Vec<DeploymentOut> = state
        .control()
        .deployments(&id, env.as_ref(), limit(query.limit))
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(list).into_response())
}

/// One deployment.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/deployments/{deploymentId}", tag = "deploy",
    params(CustomerPath, ("deploymentId" = String, Path, description = "The deployment's id")),
    responses(
        (status = 200, description = "The deployment", body = DeploymentOut),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn deployment_get(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    DeploymentPath(deployment): DeploymentPath,
) -> Result<Response, ApiError> {
    let deployment = deployment_id(&deployment)?;
    let view = state.control().deployment(&id, deployment).await?;
    Ok(Json(DeploymentOut::from(view)).into_response())
}

/// The generated files a deployment shipped (no secret values: those are worker bindings).
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/deployments/{deploymentId}/files", tag = "deploy",
    params(CustomerPath, ("deploymentId" = String, Path, description = "The deployment's id")),
    responses(
        (status = 200, body = Vec<FileOut>),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn deployment_files(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    DeploymentPath(deployment): DeploymentPath,
) -> Result<Response, ApiError> {
    let deployment = deployment_id(&deployment)?;
    let files: Vec<FileOut> = state
        .control()
        .deployment_files(&id, deployment)
        .await?
        .into_iter()
        .map(|(path, contents)| FileOut { path, contents })
        .collect();
    Ok(Json(files).into_response())
}

/// Makes an earlier successful deployment live again (recorded as a new deployment).
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/deployments/{deploymentId}/rollback", tag = "deploy",
    params(CustomerPath, ("deploymentId" = String, Path, description = "The deployment to restore")),
    responses(
        (status = 200, description = "The deploy report", body = DeployReportOut),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn rollback(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    DeploymentPath(deployment): DeploymentPath,
) -> Result<Response, ApiError> {
    let deployment = deployment_id(&deployment)?;
    let report = state
        .control()
        .rollback_detached(&principal.actor(), &id, deployment)
        .await
        .map_err(|f| ApiError::from(f.error))?;
    Ok(Json(DeployReportOut::from(report)).into_response())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use c15t_control::{DeployReport, DeploymentView, HealthSummary};
    use c15t_model::{CustomerId, Environment};

    use super::super::health::tests::{at, drifts};
    use super::super::tests::assert_same_json;
    use super::{DeployReportOut, DeploymentOut};

    /// A deployment with every optional field, and one with none.
    fn deployments() -> [DeploymentView; 2] {
        let full = DeploymentView {
            id: 31,
            customer: CustomerId::new("cust_a").unwrap(),
            environment: Environment::production(),
            revision: 9,
            target: "cloudflare".to_owned(),
            content_hash: "sha256:2c26b46b68ffc68f".to_owned(),
            status: "succeeded".to_owned(),
            url: Some("https://c15t-cust-a.example.workers.dev".to_owned()),
            destination: Some("cloudflare:0123456789abcdef0123456789abcdef".to_owned()),
            error: None,
            remote_version: Some("a1b2c3d4".to_owned()),
            rollback_of: Some(27),
            secrets: BTreeMap::from([
                ("GA4_API_SECRET".to_owned(), "hmac-sha256:4567".to_owned()),
                (
                    "META_PIXEL_ACCESS_TOKEN".to_owned(),
                    "hmac-sha256:0123".to_owned(),
                ),
            ]),
            created_at: at(0),
            finished_at: Some(at(12)),
            health: Some(HealthSummary {
                up: true,
                latency_ms: Some(38),
                error: None,
                consecutive_failures: 0,
                checked_at: at(70),
            }),
        };
        let bare = DeploymentView {
            id: 32,
            environment: Environment::new("staging").unwrap(),
            target: "file".to_owned(),
            status: "failed".to_owned(),
            url: None,
            destination: None,
            error: Some("the deploy root is not writable".to_owned()),
            remote_version: None,
            rollback_of: None,
            secrets: BTreeMap::new(),
            finished_at: None,
            health: None,
            ..full.clone()
        };
        [full, bare]
    }

    #[test]
    fn deployments_are_answered_as_the_control_plane_serialises_them() {
        let list = Vec::from(deployments());
        let answered: Vec<DeploymentOut> = list.iter().cloned().map(Into::into).collect();
        assert_same_json(&list, &answered);
        for view in list {
            assert_same_json(&view, &DeploymentOut::from(view.clone()));
        }
    }

    #[test]
    fn deploy_and_rollback_reports_are_answered_as_the_control_plane_serialises_them() {
        let [full, bare] = deployments();
        let [drift, _] = drifts();
        let reports = [
            DeployReport {
                deployment: full,
                unchanged: false,
                secrets_changed: vec!["GA4_API_SECRET".to_owned()],
                restored_drift: Some(drift),
            },
            DeployReport {
                deployment: bare,
                unchanged: true,
                secrets_changed: Vec::new(),
                restored_drift: None,
            },
        ];
        for report in reports {
            assert_same_json(&report, &DeployReportOut::from(report.clone()));
        }
    }
}

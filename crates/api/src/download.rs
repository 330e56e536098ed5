//! The seed's download endpoints under `/api/control-plane`: the generated worker entry
//! (`src/index.ts`) for CI to fetch with a bearer token, and the whole project as an archive.
//! Both send a strong `ETag` (a content hash) and answer `If-None-Match` with 304, so polling
//! costs little; the entry comes from an in-process cache (see [`crate::cache`]).

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use c15t_control::ArchiveFormat;
use c15t_model::{CustomerId, Environment};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use crate::auth::Scoped;
use crate::cache::{Entry, Snapshot};
use crate::v1::EnvironmentParam;
use crate::{ApiError, ApiState, ErrorBody, Query};

crate::v1::resource!(worker_config, worker_config_seed_path, worker_project);

/// The `{customerId}` of a download's path, with the model's pattern (see
/// [`crate::v1::CustomerPath`]).
#[derive(Debug)]
struct DownloadCustomer;

impl IntoParams for DownloadCustomer {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![crate::v1::customer_id_parameter("The customer's id")]
    }
}

/// Which environment to generate for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfigQuery {
    /// The environment (default `production`).
    #[param(inline)]
    pub environment: Option<EnvironmentParam>,
}

/// Which environment and archive format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProjectQuery {
    /// The environment (default `production`).
    #[param(inline)]
    pub environment: Option<EnvironmentParam>,
    /// `tar.gz` (default; `tgz` is read the same) or `zip`.
    #[param(pattern = r"^(?:tar\.gz|tgz|zip)$")]
    pub format: Option<String>,
}

fn environment(text: Option<&EnvironmentParam>) -> Result<Environment, ApiError> {
    match text.map(EnvironmentParam::as_str) {
        None => Ok(Environment::production()),
        Some(text) => Environment::new(text)
            .map_err(|e| ApiError::invalid_parameter("environment", e.to_string())),
    }
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == etag.as_bytes())
}

fn download(
    headers: &HeaderMap,
    etag: &HeaderValue,
    content_type: &'static str,
    filename: &str,
    body: Bytes,
) -> Response {
    let mut response = if not_modified(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(disposition) =
            HeaderValue::try_from(format!("attachment; filename=\"{filename}\""))
        {
            r.headers_mut()
                .insert(header::CONTENT_DISPOSITION, disposition);
        }
        r
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, etag.clone());
    // Caches must ask again each time: the answer changes when the config does.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The worker entry of `customer`'s `env`, from the cache while its revision is current.
///
/// An entry is tagged with the revision of the config it was generated from (read with it):
/// while the snapshot is older than that, requests regenerate it, for at most one period.
async fn entry(
    state: &ApiState,
    customer: &CustomerId,
    env: &Environment,
) -> Result<Arc<Entry>, ApiError> {
    let cache = &state.inner.workers;
    let revisions = match cache.snapshot() {
        Snapshot::Use(map) => map,
        Snapshot::Refresh => {
            let started = Instant::now();
            match state.control().customer_revisions().await {
                Ok(list) => cache.set_revisions(started, list.into_iter().collect()),
                Err(e) => {
                    cache.refresh_failed();
                    return Err(e.into());
                }
            }
        }
    };
    let current = revisions.get(customer).copied();
    if let Some(entry) = cache
        .get(customer, env)
        .filter(|e| Some(e.revision) == current)
    {
        return Ok(entry);
    }
    // Tagged with the revision it was generated from (read in the same store read).
    let (revision, source) = state
        .control()
        .generate_entry(customer, env, state.control().target())
        .await?;
    let entry = cache.entry(revision, &source)?;
    cache.put(customer.clone(), env.clone(), Arc::clone(&entry));
    Ok(entry)
}

/// The generated worker entry (`src/index.ts`) of a customer, for CI:
/// `curl -H "Authorization: Bearer $TOKEN" .../worker-config > src/index.ts`.
#[utoipa::path(get, path = "/api/control-plane/customers/{customerId}/worker-config", tag = "downloads",
    params(DownloadCustomer, WorkerConfigQuery,
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer")),
    responses(
        (status = 200, description = "The entry file", content_type = "text/typescript", body = String,
            headers(("ETag" = String, description = "Content hash"), ("Content-Disposition" = String, description = "attachment; filename=\"c15t-worker-{customerId}.ts\""))),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn worker_config(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    Query(query): Query<WorkerConfigQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let env = environment(query.environment.as_ref())?;
    let entry = entry(&state, &id, &env).await?;
    let filename = format!("c15t-worker-{id}.ts");
    // Exactly the seed's media type (TypeScript source is UTF-8).
    let content_type = "text/typescript";
    let mut response = if accepts_gzip(&headers) {
        let mut r = download(
            &headers,
            &entry.gzip_etag(),
            content_type,
            &filename,
            entry.gzip()?,
        );
        if r.status() == StatusCode::OK {
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r
    } else {
        let etag = entry.etag();
        // A 304 needs no body: skip inflating it.
        let body = if not_modified(&headers, &etag) {
            Bytes::new()
        } else {
            entry.body()?
        };
        download(&headers, &etag, content_type, &filename, body)
    };
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Ok(response)
}

/// Whether the request accepts a gzip-encoded answer.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// The same download at the path of the seed's CI recipe
/// (`curl -H "Authorization: Bearer $TOKEN" https://<host>/customers/<id>/worker-config`).
#[utoipa::path(get, path = "/customers/{customerId}/worker-config", tag = "downloads",
    params(DownloadCustomer, WorkerConfigQuery,
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer")),
    responses(
        (status = 200, description = "The entry file", content_type = "text/typescript", body = String,
            headers(("ETag" = String, description = "Content hash"), ("Content-Disposition" = String, description = "attachment; filename=\"c15t-worker-{customerId}.ts\""))),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn worker_config_seed_path(
    scoped: Scoped,
    state: State<ApiState>,
    query: Query<WorkerConfigQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    worker_config(scoped, state, query, headers).await
}

/// The whole generated project as an archive (`.tar.gz` or `.zip`); never holds secrets.
#[utoipa::path(get, path = "/api/control-plane/customers/{customerId}/worker-project", tag = "downloads",
    params(DownloadCustomer, ProjectQuery,
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer")),
    responses(
        (status = 200, description = "The archive: `tar.gz` (the default) or `zip`",
            content((Vec<u8> = "application/gzip"), (Vec<u8> = "application/zip")),
            headers(("ETag" = String, description = "Content hash of the project and format"))),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn worker_project(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let env = environment(query.environment.as_ref())?;
    let format = match query.format.as_deref() {
        None | Some("tar.gz" | "tgz") => ArchiveFormat::TarGz,
        Some("zip") => ArchiveFormat::Zip,
        Some(other) => {
            return Err(ApiError::invalid_parameter(
                "format",
                format!("unknown archive format `{other}`; use `tar.gz` or `zip`"),
            ));
        }
    };
    let archive = state.control().project_archive(&id, &env).await?;
    let hash = archive
        .content_hash()
        .strip_prefix("sha256:")
        .unwrap_or(archive.content_hash())
        .to_owned();
    let etag = HeaderValue::try_from(format!("\"sha256-{hash}-{format}\""))
        .map_err(|_| ApiError::bad_request("unrepresentable ETag"))?;
    if not_modified(&headers, &etag) {
        return Ok(download(&headers, &etag, "", "", Bytes::new()));
    }
    // Archives never carry secrets: no vars, no secret bindings, only the generated files.
    let bytes = archive.bytes(format)?;
    Ok(download(
        &headers,
        &etag,
        format.content_type(),
        &format!("{}{}", archive.worker_name(), format.extension()),
        Bytes::from(bytes),
    ))
}

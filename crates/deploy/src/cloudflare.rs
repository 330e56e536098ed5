//! The Cloudflare Workers deployer: uploads a release's modules and bindings to one customer's
//! Cloudflare account, enables its `workers.dev` route, and rolls back.
//!
//! # What one deploy does
//!
//! 1. Reads what is live: `GET …/scripts/{name}/deployments` (the first deployment serves
//!    traffic) and `GET …/scripts/{name}/versions/{id}` of its version. If that version's
//!    `workers/tag` annotation is this release's [tag](CloudflareDeployer::release_tag), the
//!    release is already live and nothing is uploaded.
//! 2. Uploads: `PUT /accounts/{account}/workers/scripts/{name}`, multipart form data with a
//!    `metadata` part (`main_module` = the first module, the target profile's
//!    `compatibility_date` and `compatibility_flags`, `plain_text` bindings for vars,
//!    `secret_text` bindings for secrets, and the `annotations`) and one part per module (part
//!    name = file name = module name, with the module's content type). This is the upload
//!    wrangler's `createWorkerUploadForm` builds; it creates a version and deploys it to 100%.
//! 3. `POST …/scripts/{name}/subdomain` `{"enabled": true}` (`false` for a worker served only
//!    on a custom domain, see [`CloudflareDeployer::with_workers_dev`]), and (once per
//!    deployer) `GET /accounts/{account}/workers/subdomain`; the worker answers at
//!    `https://{name}.{subdomain}.workers.dev`.
//!
//! Custom domains are attached and detached by the caller after a deploy
//! ([`CloudflareDeployer::attach_domain`], [`CloudflareDeployer::domains`],
//! [`CloudflareDeployer::detach_domain`]: the Workers custom-domains API).
//!
//! # Never twice
//!
//! An upload whose answer is lost (a dropped connection, a timeout, a 5xx from a proxy after
//! the origin applied it) may have succeeded. So the upload is never retried blindly: every
//! attempt, the first included, starts with step 1, and a release found live is not uploaded
//! again. Reads and the subdomain switch are safe to repeat and are simply retried.
//!
//! The annotations of every version uploaded here:
//!
//! - `workers/tag`: `c15t-<first 32 hex digits of the content hash>-<secrets fingerprint>`,
//!   the fingerprint being the first 16 hex digits of HMAC-SHA256, keyed by the API token,
//!   over every secret binding's name and value. The content hash covers the vars (they are
//!   generated from the config), the fingerprint the secret values, so a secret change alone
//!   is a new upload, and drift detection compares a live tag with
//!   [`CloudflareDeployer::release_tag`]. Keyed because anyone who can list versions can read
//!   the tag; rotating the token costs one re-upload per worker.
//! - `workers/message`: `c15t <customer> <environment> rev <n> sha256:<hex>`, for people, cut to
//!   the 100 bytes Cloudflare keeps.
//!
//! A request that timed out may still reach Cloudflare after the check that precedes the next
//! attempt. TODO-correctness: that race can upload a release twice (both versions identical,
//! the last one live); a request timeout well above Cloudflare's answer times keeps it rare.
//!
//! # Rollback and secrets
//!
//! Cloudflare keeps every version with the bindings it was uploaded with, secrets included,
//! and refuses by default to roll back across a secret change. [`CloudflareDeployer::rollback`]
//! checks first: if the target version's secret fingerprint differs from the live version's,
//! it changes nothing and returns [`DeployError::RollbackSecretsChanged`]; the caller then
//! deploys the stored release again, which uploads it with today's secrets.
//! [`CloudflareDeployer::restore`] does exactly that choice for a caller holding the release.
//!
//! # Rate limit and retries
//!
//! Every request first takes a slot of its token's limiter ([`CloudflareLimits`], shared by all
//! deployers of a token), then is retried per the [`RetryPolicy`].
//!
//! **Invariant:** the API token is only ever sent in the `Authorization` header (marked
//! sensitive); no log line, `Debug` or error shows it, and error messages from the API are
//! scrubbed of it.

mod api;
mod ids;
mod limits;
mod retry;
mod stamp;
mod upload;

use std::fmt;

use async_trait::async_trait;
use c15t_secrets::Secret;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use url::Url;

pub use ids::{VersionId, canonical_version_id};

pub use limits::{CLOUDFLARE_LIMIT, CLOUDFLARE_WINDOW, CloudflareLimits};
pub use retry::RetryPolicy;

use crate::{DeployError, DeployOutcome, Deployer, Release};
use api::Api;
use stamp::Stamp;

/// Cloudflare's API base, used unless an account says otherwise.
pub const DEFAULT_API_BASE: &str = "https://api.cloudflare.com/client/v4";

/// Cloudflare's error code for a script that does not exist.
const SCRIPT_NOT_FOUND: i64 = 10007;

/// One customer's Cloudflare account, as the deployer needs it.
///
/// `Debug` prints the token as `***`.
#[derive(Debug, Clone)]
pub struct CloudflareAccount {
    /// The API base, normally [`DEFAULT_API_BASE`] (a test points it at a fake).
    pub api_base: Url,
    /// The account id (32 hex digits on Cloudflare).
    pub account_id: String,
    /// An API token with "Workers Scripts Write" on the account.
    pub api_token: Secret,
}

impl CloudflareAccount {
    /// An account on Cloudflare's own API ([`DEFAULT_API_BASE`]).
    pub fn new(account_id: impl Into<String>, api_token: Secret) -> Self {
        Self {
            api_base: Url::parse(DEFAULT_API_BASE).expect("the default API base is a URL"),
            account_id: account_id.into(),
            api_token,
        }
    }
}

/// The version serving a worker's traffic, as Cloudflare reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveVersion {
    /// Cloudflare's version id, canonical (hyphenated, lower-case) whatever form the answer
    /// used.
    pub id: String,
    /// Its `workers/tag` annotation; equal to [`CloudflareDeployer::release_tag`] of a release
    /// when the version runs exactly that release (drift detection compares the two).
    pub tag: Option<String>,
    /// Its `workers/message` annotation.
    pub message: Option<String>,
}

/// A worker's latest deployment, as Cloudflare reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveDeployment {
    /// The versions that serve traffic and their percentages, largest share first; ids
    /// canonical.
    pub versions: Vec<(String, f64)>,
    /// Who made the deployment.
    pub author_email: Option<String>,
    /// How it was made (`api`, `wrangler`, `dash`, ...).
    pub source: Option<String>,
    /// When (as Cloudflare wrote it).
    pub created_on: Option<String>,
    /// The version with the largest share.
    pub top: LiveVersion,
}

impl LiveDeployment {
    /// Whether one version serves all traffic.
    pub fn is_whole(&self) -> bool {
        self.versions.len() == 1
    }
}

/// A Workers custom domain, as Cloudflare reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomain {
    /// Cloudflare's immutable id of the domain.
    pub id: String,
    /// The hostname (lower-case).
    pub hostname: String,
    /// The worker it routes to.
    pub service: String,
    /// The zone that holds it.
    pub zone_id: String,
    /// That zone's name.
    pub zone_name: String,
}

impl CustomDomain {
    fn from_answer(operation: &'static str, value: &Value) -> Result<Self, DeployError> {
        let field = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| protocol(operation, &format!("a domain without `{key}`")))
        };
        Ok(Self {
            id: field("id")?,
            hostname: field("hostname")?.to_ascii_lowercase(),
            service: field("service")?,
            zone_id: value
                .get("zone_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            zone_name: value
                .get("zone_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

/// Where a gradual deploy of a release starts (see [`CloudflareDeployer::stage`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Staged {
    /// Nothing serves the worker yet: there is nothing to split with; deploy at once.
    Fresh,
    /// The release already serves all traffic (version id).
    Live(String),
    /// The release is uploaded as `new` beside `old`, which serves the rest; `new` has
    /// `share` percent of traffic now (0 when just staged; more when a rollout that was
    /// interrupted is resumed).
    Beside {
        /// The release's version.
        new: String,
        /// The version serving the rest of the traffic.
        old: String,
        /// The new version's share now.
        share: f64,
    },
}

/// The parsed latest deployment.
struct Latest {
    versions: Vec<(VersionId, f64)>,
    author_email: Option<String>,
    source: Option<String>,
    created_on: Option<String>,
}

impl Latest {
    fn top(&self) -> (VersionId, f64) {
        self.versions[0]
    }
}

/// Deploys releases to one Cloudflare account (see the [module documentation](self)).
pub struct CloudflareDeployer {
    api: Api,
    account_id: String,
    /// The account's `workers.dev` subdomain, read once.
    subdomain: OnceCell<String>,
    /// Whether deploys leave workers reachable on `workers.dev` (default) or switch it off.
    workers_dev: bool,
}

impl fmt::Debug for CloudflareDeployer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudflareDeployer")
            .field("account_id", &self.account_id)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

const OP_DEPLOYMENTS: &str = "list the worker's deployments";
const OP_VERSION: &str = "read a worker version";
const OP_UPLOAD: &str = "upload the worker script";
const OP_ENABLE_SUBDOMAIN: &str = "switch the worker's workers.dev route";
const OP_ACCOUNT_SUBDOMAIN: &str = "read the account's workers.dev subdomain";
const OP_CREATE_DEPLOYMENT: &str = "deploy a worker version";
const OP_DELETE_SCRIPT: &str = "delete a worker script";
const OP_UPLOAD_VERSION: &str = "upload a worker version";
const OP_LIST_VERSIONS: &str = "list the worker's versions";
const OP_ATTACH_DOMAIN: &str = "attach a custom domain";
const OP_LIST_DOMAINS: &str = "list the worker's custom domains";
const OP_DETACH_DOMAIN: &str = "detach a custom domain";

impl CloudflareDeployer {
    /// A deployer for `account`.
    ///
    /// `limits` is the registry shared by every deployer of the process (one limiter per
    /// token); `http` is shared too, for its connection pool. Fails only if the token cannot
    /// be sent in a header. Does no I/O.
    pub fn new(
        account: CloudflareAccount,
        limits: &CloudflareLimits,
        retry: RetryPolicy,
        http: reqwest::Client,
    ) -> Result<Self, DeployError> {
        let limiter = limits.for_token(&account.api_token);
        let api = Api::new(http, account.api_base, account.api_token, limiter, retry)?;
        Ok(Self {
            api,
            account_id: account.account_id,
            subdomain: OnceCell::new(),
            workers_dev: true,
        })
    }

    /// Whether deploys, rollbacks and restores through this deployer make workers reachable
    /// on the account's `workers.dev` subdomain (`true`, the default) or switch that route
    /// off (a worker served only on a custom domain). Their outcome's URL is the
    /// `workers.dev` URL, or `None` when it is off.
    #[must_use]
    pub fn with_workers_dev(mut self, enabled: bool) -> Self {
        self.workers_dev = enabled;
        self
    }

    /// Attaches `hostname` to `worker` as a Workers custom domain
    /// (`PUT /accounts/{account}/workers/domains` with `hostname`, `service` and, when given,
    /// `zone_id`; without it Cloudflare finds the zone of the account that holds the
    /// hostname). Cloudflare creates the DNS record and issues the certificate; the hostname
    /// answers once that is done. Attaching a hostname already attached is harmless (the
    /// call is an upsert), so it is retried like a read.
    pub async fn attach_domain(
        &self,
        worker: &str,
        hostname: &str,
        zone_id: Option<&str>,
    ) -> Result<CustomDomain, DeployError> {
        let url = self
            .api
            .url(&["accounts", &self.account_id, "workers", "domains"]);
        let mut body = json!({ "hostname": hostname, "service": worker });
        if let Some(zone_id) = zone_id {
            body["zone_id"] = json!(zone_id);
        }
        let result = self
            .api
            .call(OP_ATTACH_DOMAIN, || {
                self.api.request(Method::PUT, url.clone()).json(&body)
            })
            .await?;
        let domain = CustomDomain::from_answer(OP_ATTACH_DOMAIN, &result)?;
        tracing::info!(worker, hostname, domain = %domain.id, zone = %domain.zone_name, "custom domain attached");
        Ok(domain)
    }

    /// The custom domains of the account that route to `worker`
    /// (`GET /accounts/{account}/workers/domains?service={worker}`).
    pub async fn domains(&self, worker: &str) -> Result<Vec<CustomDomain>, DeployError> {
        let mut url = self
            .api
            .url(&["accounts", &self.account_id, "workers", "domains"]);
        url.query_pairs_mut().append_pair("service", worker);
        let result = self
            .api
            .call(OP_LIST_DOMAINS, || {
                self.api.request(Method::GET, url.clone())
            })
            .await?;
        result
            .as_array()
            .ok_or_else(|| protocol(OP_LIST_DOMAINS, "the result is not a list"))?
            .iter()
            .map(|d| CustomDomain::from_answer(OP_LIST_DOMAINS, d))
            // Filtered again: a server that ignores the filter must not make us detach or
            // trust another worker's domain.
            .filter(|d| d.as_ref().map_or(true, |d| d.service == worker))
            .collect()
    }

    /// Detaches the custom domain `domain_id`
    /// (`DELETE /accounts/{account}/workers/domains/{domain_id}`); one already gone is fine.
    /// Returns whether a domain was detached.
    pub async fn detach_domain(&self, domain_id: &str) -> Result<bool, DeployError> {
        let url = self.api.url(&[
            "accounts",
            &self.account_id,
            "workers",
            "domains",
            domain_id,
        ]);
        match self
            .api
            .call(OP_DETACH_DOMAIN, || {
                self.api.request(Method::DELETE, url.clone())
            })
            .await
        {
            Ok(_) => {
                tracing::info!(domain = domain_id, "custom domain detached");
                Ok(true)
            }
            Err(DeployError::Cloudflare { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The `workers/tag` a version carries when it runs exactly `release` (same files, same
    /// secret values) and was uploaded by a deployer of this account's token.
    pub fn release_tag(&self, release: &Release) -> String {
        Stamp::of(release, self.api.token()).tag
    }

    /// The version serving `worker`'s traffic (the version with the largest share of the
    /// latest deployment), or `None` if the worker does not exist or was never deployed.
    pub async fn live_version(&self, worker: &str) -> Result<Option<LiveVersion>, DeployError> {
        let Some(id) = self.live_version_id(worker).await? else {
            return Ok(None);
        };
        self.version(worker, &id).await.map(Some)
    }

    /// Makes version `version_id` of `worker` serve all traffic again, through the
    /// deployments API.
    ///
    /// Refuses with [`DeployError::RollbackSecretsChanged`] (changing nothing) when the
    /// version was uploaded with other secret values than the live version: Cloudflare would
    /// roll the secrets back too. Deploy the stored release instead ([`Deployer::deploy`],
    /// or [`CloudflareDeployer::restore`]). A version this deployer did not annotate is rolled
    /// back as Cloudflare allows (it refuses across a secret change itself; we never force).
    /// Already live: nothing is done.
    ///
    /// `version_id` may be written in any UUID form; it is sent canonically. One that is not
    /// a UUID is [`DeployError::InvalidVersionId`], before any request.
    pub async fn rollback(
        &self,
        worker: &str,
        version_id: &str,
    ) -> Result<DeployOutcome, DeployError> {
        let id = VersionId::parse(version_id)?;
        let version_id = id.to_string();
        let version_id = version_id.as_str();
        let target = self.version(worker, &id).await?;
        let url = self.api.url(&[
            "accounts",
            &self.account_id,
            "workers",
            "scripts",
            worker,
            "deployments",
        ]);
        let body = json!({
            "strategy": "percentage",
            "versions": [{ "version_id": version_id, "percentage": 100 }],
            "annotations": { "workers/message": stamp::rollback_message(version_id) },
        });
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Before every attempt: a lost answer may hide a rollback that happened.
            let live = self.live_version(worker).await?;
            if let Some(live) = &live {
                if VersionId::parse(&live.id)? == id {
                    break;
                }
                let live_secrets = live.tag.as_deref().and_then(Stamp::secrets_part);
                let target_secrets = target.tag.as_deref().and_then(Stamp::secrets_part);
                if let (Some(live_secrets), Some(target_secrets)) = (live_secrets, target_secrets)
                    && live_secrets != target_secrets
                {
                    return Err(DeployError::RollbackSecretsChanged {
                        worker: worker.to_owned(),
                        version_id: version_id.to_owned(),
                    });
                }
            }
            let request = self.api.request(Method::POST, url.clone()).json(&body);
            match self.api.once(OP_CREATE_DEPLOYMENT, request).await {
                Ok(_) => break,
                Err(failure) => {
                    self.api
                        .pause(OP_CREATE_DEPLOYMENT, attempt, failure)
                        .await?
                }
            }
        }
        tracing::info!(worker, version_id, "rolled back");
        self.set_workers_dev(worker).await?;
        Ok(DeployOutcome {
            url: self.public_url(worker).await?,
            remote_version: Some(version_id.to_owned()),
            ..DeployOutcome::default()
        })
    }

    /// Makes `release` live again: by rolling back to `version_id` when that version carries
    /// exactly this release (its tag is [`CloudflareDeployer::release_tag`], so same files
    /// and same secret values), otherwise by uploading the release (a new version with the
    /// release's secrets).
    pub async fn restore(
        &self,
        release: &Release,
        version_id: Option<&str>,
    ) -> Result<DeployOutcome, DeployError> {
        upload::check(release)?;
        if let Some(version_id) = version_id {
            let id = VersionId::parse(version_id)?;
            let worker = release.worker_name();
            // The version may belong to a script of another name (the worker was renamed
            // since): then there is nothing to roll back to, and the release is uploaded.
            match self.version(worker, &id).await {
                Ok(version)
                    if version.tag.as_deref() == Some(self.release_tag(release).as_str()) =>
                {
                    return self.rollback(worker, &id.to_string()).await;
                }
                Ok(_) | Err(DeployError::Cloudflare { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.deploy(release).await
    }

    /// Deletes the script `worker` (`DELETE /accounts/{account}/workers/scripts/{name}`,
    /// never forced: a script other workers are bound to stays). A script that does not
    /// exist is fine: the call is repeated safely after a lost answer. Returns whether a
    /// script was deleted.
    pub async fn delete_script(&self, worker: &str) -> Result<bool, DeployError> {
        let url = self
            .api
            .url(&["accounts", &self.account_id, "workers", "scripts", worker]);
        match self
            .api
            .call(OP_DELETE_SCRIPT, || {
                self.api.request(Method::DELETE, url.clone())
            })
            .await
        {
            Ok(_) => {
                tracing::info!(worker, "deleted worker script");
                Ok(true)
            }
            Err(DeployError::Cloudflare {
                status: 404,
                errors,
                ..
            }) if errors.is_empty() || errors.iter().any(|(c, _)| *c == SCRIPT_NOT_FOUND) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Stages `release` for a gradual deploy: when its version is already in the live
    /// deployment (a rollout resumed), reports its share; otherwise uploads it as a new
    /// version without traffic (the versions API; a version with its tag among the newest
    /// is reused, so a repeated call uploads once) and deploys it at 0% beside the version
    /// that serves, so requests can reach it only through a version override.
    pub async fn stage(&self, release: &Release) -> Result<Staged, DeployError> {
        let profile = upload::check(release)?;
        let stamp = Stamp::of(release, self.api.token());
        let worker = release.worker_name();
        let Some(live) = self.live_deployment(worker).await? else {
            return Ok(Staged::Fresh);
        };
        let mut ours = None;
        let mut others = Vec::new();
        for (id, share) in &live.versions {
            let id = VersionId::parse(id)?;
            let version = self.version(worker, &id).await?;
            if version.tag.as_deref() == Some(stamp.tag.as_str()) {
                ours = Some((version.id, *share));
            } else {
                others.push((version.id, *share));
            }
        }
        match (ours, others.first()) {
            (Some((id, _)), None) => return Ok(Staged::Live(id)),
            (Some((new, share)), Some((old, _))) => {
                return Ok(Staged::Beside {
                    new,
                    old: old.clone(),
                    share,
                });
            }
            (None, _) => {}
        }
        // The version that serves most of the traffic stays; a third version (somebody
        // else's split) is dropped.
        let old = live.top.id.clone();
        let new = self.upload_version(release, profile, &stamp).await?;
        self.split(worker, &[(&new, 0.0), (&old, 100.0)], false)
            .await?;
        Ok(Staged::Beside {
            new,
            old,
            share: 0.0,
        })
    }

    /// Makes `shares` (version id, percentage; summing to 100) the worker's deployment,
    /// through the deployments API. `force` deploys an older version across a secret change
    /// (an automatic rollback returns to the secrets that were live moments ago). Repeating
    /// it is harmless.
    pub async fn split(
        &self,
        worker: &str,
        shares: &[(&str, f64)],
        force: bool,
    ) -> Result<(), DeployError> {
        let mut url = self.api.url(&[
            "accounts",
            &self.account_id,
            "workers",
            "scripts",
            worker,
            "deployments",
        ]);
        if force {
            url.set_query(Some("force=true"));
        }
        let versions = shares
            .iter()
            .map(|(id, share)| {
                VersionId::parse(id)
                    .map(|id| json!({ "version_id": id.to_string(), "percentage": share }))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let top = shares
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, share)| format!("c15t rollout {share}% {}", &id[..8.min(id.len())]))
            .unwrap_or_default();
        let body = json!({
            "strategy": "percentage",
            "versions": versions,
            "annotations": { "workers/message": top },
        });
        self.api
            .call(OP_CREATE_DEPLOYMENT, || {
                self.api.request(Method::POST, url.clone()).json(&body)
            })
            .await?;
        tracing::info!(worker, ?shares, "traffic split");
        Ok(())
    }

    /// Uploads a new version without deploying it, unless one with `stamp`'s tag is among
    /// the newest; returns its id.
    async fn upload_version(
        &self,
        release: &Release,
        profile: &'static c15t_codegen::TargetProfile,
        stamp: &Stamp,
    ) -> Result<String, DeployError> {
        let worker = release.worker_name();
        let base = self.api.url(&[
            "accounts",
            &self.account_id,
            "workers",
            "scripts",
            worker,
            "versions",
        ]);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // A lost answer may hide an upload that happened.
            let mut list = base.clone();
            list.set_query(Some("per_page=10"));
            let listed = self
                .api
                .call(OP_LIST_VERSIONS, || {
                    self.api.request(Method::GET, list.clone())
                })
                .await?;
            let items = listed
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for item in items {
                let tag = item
                    .get("annotations")
                    .and_then(|a| a.get("workers/tag"))
                    .and_then(Value::as_str);
                if tag == Some(stamp.tag.as_str())
                    && let Some(id) = item.get("id").and_then(Value::as_str)
                {
                    return VersionId::from_answer(OP_LIST_VERSIONS, "items[].id", id)
                        .map(|id| id.to_string());
                }
            }
            let form = upload::form(release, profile, stamp)?;
            let request = self.api.request(Method::POST, base.clone()).multipart(form);
            match self.api.once(OP_UPLOAD_VERSION, request).await {
                Ok(result) => {
                    let id = result
                        .get("id")
                        .and_then(Value::as_str)
                        .ok_or_else(|| protocol(OP_UPLOAD_VERSION, "no version `id`"))?;
                    let id = VersionId::from_answer(OP_UPLOAD_VERSION, "id", id)?.to_string();
                    tracing::info!(worker, version = %id, tag = %stamp.tag, "uploaded a version without traffic");
                    return Ok(id);
                }
                Err(failure) => self.api.pause(OP_UPLOAD_VERSION, attempt, failure).await?,
            }
        }
    }

    /// The URL `worker` answers at on this account's `workers.dev` subdomain (the
    /// subdomain is read once per deployer).
    pub async fn workers_dev_url(&self, worker: &str) -> Result<String, DeployError> {
        self.worker_url(worker).await
    }

    async fn live_version_id(&self, worker: &str) -> Result<Option<VersionId>, DeployError> {
        Ok(self.latest_deployment(worker).await?.map(|d| d.top().0))
    }

    /// What serves `worker`'s traffic (its latest deployment, with the version that has the
    /// largest share), or `None` if the script does not exist or was never deployed.
    pub async fn live_deployment(
        &self,
        worker: &str,
    ) -> Result<Option<LiveDeployment>, DeployError> {
        let Some(latest) = self.latest_deployment(worker).await? else {
            return Ok(None);
        };
        let top = self.version(worker, &latest.top().0).await?;
        Ok(Some(LiveDeployment {
            versions: latest
                .versions
                .iter()
                .map(|(id, share)| (id.to_string(), *share))
                .collect(),
            author_email: latest.author_email,
            source: latest.source,
            created_on: latest.created_on,
            top,
        }))
    }

    async fn latest_deployment(&self, worker: &str) -> Result<Option<Latest>, DeployError> {
        let url = self.api.url(&[
            "accounts",
            &self.account_id,
            "workers",
            "scripts",
            worker,
            "deployments",
        ]);
        let result = match self
            .api
            .call(OP_DEPLOYMENTS, || {
                self.api.request(Method::GET, url.clone())
            })
            .await
        {
            Ok(result) => result,
            Err(DeployError::Cloudflare {
                status: 404,
                errors,
                ..
            }) if errors.is_empty() || errors.iter().any(|(c, _)| *c == SCRIPT_NOT_FOUND) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let Some(latest) = result
            .get("deployments")
            .and_then(Value::as_array)
            .and_then(|d| d.first())
        else {
            return Ok(None);
        };
        let listed = latest
            .get("versions")
            .and_then(Value::as_array)
            .ok_or_else(|| protocol(OP_DEPLOYMENTS, "a deployment without `versions`"))?;
        let mut versions = Vec::with_capacity(listed.len());
        for v in listed {
            let Some(id) = v.get("version_id").and_then(Value::as_str) else {
                continue;
            };
            let id =
                VersionId::from_answer(OP_DEPLOYMENTS, "deployments[0].versions[].version_id", id)?;
            let share = v.get("percentage").and_then(Value::as_f64).unwrap_or(0.0);
            versions.push((id, share));
        }
        if versions.is_empty() {
            return Err(protocol(
                OP_DEPLOYMENTS,
                "a deployment without a version id",
            ));
        }
        // Largest share first; the first listed wins a tie.
        versions.sort_by(|a, b| b.1.total_cmp(&a.1));
        let text = |key: &str| latest.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(Some(Latest {
            versions,
            author_email: text("author_email"),
            source: text("source"),
            created_on: text("created_on"),
        }))
    }

    async fn version(&self, worker: &str, id: &VersionId) -> Result<LiveVersion, DeployError> {
        let id_text = id.to_string();
        let url = self.api.url(&[
            "accounts",
            &self.account_id,
            "workers",
            "scripts",
            worker,
            "versions",
            &id_text,
        ]);
        let result = self
            .api
            .call(OP_VERSION, || self.api.request(Method::GET, url.clone()))
            .await?;
        let annotation = |key: &str| {
            result
                .get("annotations")
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let answered = match result.get("id").and_then(Value::as_str) {
            Some(answered) => VersionId::from_answer(OP_VERSION, "id", answered)?,
            None => *id,
        };
        if answered != *id {
            return Err(protocol(OP_VERSION, "the answer is about another version"));
        }
        Ok(LiveVersion {
            id: answered.to_string(),
            tag: annotation("workers/tag"),
            message: annotation("workers/message"),
        })
    }

    /// Uploads `release` unless it is live already; returns the live version's id.
    async fn upload(&self, release: &Release) -> Result<String, DeployError> {
        let profile = upload::check(release)?;
        let stamp = Stamp::of(release, self.api.token());
        let worker = release.worker_name();
        let url = self
            .api
            .url(&["accounts", &self.account_id, "workers", "scripts", worker]);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Live means serving all traffic: a split (a rollout, or somebody else's) is
            // made whole by the upload.
            if let Some(live) = self
                .live_deployment(worker)
                .await?
                .filter(LiveDeployment::is_whole)
                .map(|d| d.top)
                && live.tag.as_deref() == Some(stamp.tag.as_str())
            {
                tracing::info!(
                    worker,
                    version = %live.id,
                    tag = %stamp.tag,
                    "release already live"
                );
                return Ok(live.id);
            }
            let form = upload::form(release, profile, &stamp)?;
            let request = self.api.request(Method::PUT, url.clone()).multipart(form);
            match self.api.once(OP_UPLOAD, request).await {
                Ok(result) => {
                    let id = self.uploaded_version_id(worker, &result, &stamp).await?;
                    tracing::info!(worker, version = %id, tag = %stamp.tag, "uploaded");
                    return Ok(id);
                }
                Err(failure) => self.api.pause(OP_UPLOAD, attempt, failure).await?,
            }
        }
    }

    /// The version an upload created: the answer's `deployment_id` (which, as wrangler
    /// notes, is the version id), or else what is live if it carries the upload's tag.
    async fn uploaded_version_id(
        &self,
        worker: &str,
        result: &Value,
        stamp: &Stamp,
    ) -> Result<String, DeployError> {
        if let Some(id) = result.get("deployment_id").and_then(Value::as_str) {
            return VersionId::from_answer(OP_UPLOAD, "deployment_id", id).map(|id| id.to_string());
        }
        match self.live_version(worker).await? {
            Some(live) if live.tag.as_deref() == Some(stamp.tag.as_str()) => Ok(live.id),
            _ => Err(protocol(
                OP_UPLOAD,
                "the upload succeeded but its version is not live",
            )),
        }
    }

    /// The worker's `workers.dev` URL, or `None` when this deployer switches that route off.
    async fn public_url(&self, worker: &str) -> Result<Option<String>, DeployError> {
        if self.workers_dev {
            self.worker_url(worker).await.map(Some)
        } else {
            Ok(None)
        }
    }

    /// Switches the worker's `workers.dev` route on or off, as [`Self::with_workers_dev`]
    /// says.
    async fn set_workers_dev(&self, worker: &str) -> Result<(), DeployError> {
        let url = self.api.url(&[
            "accounts",
            &self.account_id,
            "workers",
            "scripts",
            worker,
            "subdomain",
        ]);
        self.api
            .call(OP_ENABLE_SUBDOMAIN, || {
                self.api
                    .request(Method::POST, url.clone())
                    .json(&json!({ "enabled": self.workers_dev }))
            })
            .await?;
        Ok(())
    }

    /// `https://{worker}.{account subdomain}.workers.dev`.
    async fn worker_url(&self, worker: &str) -> Result<String, DeployError> {
        let subdomain = self
            .subdomain
            .get_or_try_init(|| async {
                let url = self
                    .api
                    .url(&["accounts", &self.account_id, "workers", "subdomain"]);
                let result = self
                    .api
                    .call(OP_ACCOUNT_SUBDOMAIN, || {
                        self.api.request(Method::GET, url.clone())
                    })
                    .await?;
                result
                    .get("subdomain")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        protocol(
                            OP_ACCOUNT_SUBDOMAIN,
                            "no `subdomain`; register one in the dashboard",
                        )
                    })
            })
            .await?;
        Ok(format!("https://{worker}.{subdomain}.workers.dev"))
    }
}

#[async_trait]
impl Deployer for CloudflareDeployer {
    /// Uploads `release` unless it is live already, switches its `workers.dev` route (on
    /// unless [`CloudflareDeployer::with_workers_dev`] said otherwise) and returns its URL
    /// and version id.
    async fn deploy(&self, release: &Release) -> Result<DeployOutcome, DeployError> {
        let worker = release.worker_name();
        let version = self.upload(release).await?;
        self.set_workers_dev(worker).await?;
        Ok(DeployOutcome {
            url: self.public_url(worker).await?,
            remote_version: Some(version),
            ..DeployOutcome::default()
        })
    }

    /// [`CloudflareDeployer::restore`]: the earlier version through Cloudflare's deployments
    /// API when it carries exactly this release, else an upload.
    async fn restore(
        &self,
        release: &Release,
        earlier: Option<&str>,
    ) -> Result<DeployOutcome, DeployError> {
        CloudflareDeployer::restore(self, release, earlier).await
    }
}

fn protocol(operation: &'static str, detail: &str) -> DeployError {
    DeployError::CloudflareProtocol {
        operation,
        detail: detail.to_owned(),
    }
}

//! What the fake Cloudflare stores: scripts, their versions and deployments, as tests see them.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Faults injected into requests, deterministic for a given [`Faults::seed`].
///
/// For every request that matches [`Faults::path_contains`] and [`Faults::method`], four
/// numbers are drawn from an RNG seeded with `seed` (in this order: slow, error, drop, drop
/// after apply), so the same sequence of requests meets the same faults on every run. A
/// request can meet several: a slow one may then also fail. Rate limiting comes first: a
/// request answered 429 meets no fault.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Share of requests answered `500` with Cloudflare's envelope (code 10013) before they
    /// have any effect.
    pub error_rate: f64,
    /// Share of requests that wait [`Faults::slow_for`] before being handled.
    pub slow_rate: f64,
    /// How long a slow request waits.
    pub slow_for: Duration,
    /// Share of requests whose connection is closed without an answer before they have any
    /// effect.
    pub drop_rate: f64,
    /// Share of requests that take effect (an upload is stored, a deployment made) and whose
    /// connection is then closed without an answer, as when a network loses the answer to a
    /// request that succeeded.
    pub drop_after_apply_rate: f64,
    /// Seed of the RNG that decides which requests meet a fault.
    pub seed: u64,
    /// Faults apply only to requests whose path (e.g.
    /// `/client/v4/accounts/a/workers/scripts/s/deployments`) contains this; to all if `None`.
    pub path_contains: Option<String>,
    /// Faults apply only to requests with this method (e.g. `PUT` for script uploads); to all
    /// if `None`.
    pub method: Option<http::Method>,
    /// At most this many requests meet a fault, then none do (e.g. `Some(1)`: only the first
    /// upload's answer is lost and the retry goes through); unlimited if `None`.
    pub max_faults: Option<usize>,
}

/// How the fake writes a version or deployment id in an answer.
///
/// Cloudflare's ids are UUIDs; its documented answers write them hyphenated and lower-case
/// (`182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e`), but a client must not depend on the form: the
/// upload answer's `deployment_id` has been seen without hyphens. Requests are another matter:
/// the fake, like the API the issue was seen against, finds a version only by its canonical
/// (hyphenated, lower-case) id, in `GET .../versions/{version_id}` and in the `version_id` of
/// `POST .../deployments`; any other form is "not found" (code 10007).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdForm {
    /// Hyphenated, lower-case: `182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e`.
    #[default]
    Canonical,
    /// 32 lower-case hex digits: `182bd5e56e1a4fe4a799aa6d9a6ab26e`.
    Hyphenless,
    /// Hyphenated, upper-case: `182BD5E5-6E1A-4FE4-A799-AA6D9A6AB26E`.
    UpperCase,
}

impl IdForm {
    /// `canonical` (a hyphenated lower-case UUID) written in this form.
    pub fn write(self, canonical: &str) -> String {
        match self {
            Self::Canonical => canonical.to_owned(),
            Self::Hyphenless => canonical.replace('-', ""),
            Self::UpperCase => canonical.to_ascii_uppercase(),
        }
    }
}

/// Which [`IdForm`] each answer uses: the upload's (`PUT .../scripts/{script}`, whose
/// `deployment_id` is the new version's id) and every other answer's (versions and deployments
/// listings, a version, a new deployment). Both canonical by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdForms {
    /// The form of ids in the answer to a script upload.
    pub upload: IdForm,
    /// The form of ids in every other answer.
    pub other: IdForm,
}

impl IdForms {
    /// Every answer in `form`.
    pub fn all(form: IdForm) -> Self {
        Self {
            upload: form,
            other: form,
        }
    }
}

/// A per-token request budget, like Cloudflare's global limit of 1200 requests per five
/// minutes per user.
///
/// The window slides: a request is refused when `requests` requests were already accepted
/// for the same token within the last `window`. Refused requests do not count.
#[derive(Clone, Debug)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// Length of the window.
    pub window: Duration,
}

/// One request the fake received, for tests that check what the client did.
///
/// The API token is never kept: only its SHA-256 and its last four characters.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The HTTP method, e.g. `PUT`.
    pub method: String,
    /// The path, starting with `/client/v4`.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The status answered, or `None` when the connection was dropped instead.
    pub status: Option<u16>,
    /// Lower-case hex SHA-256 of the bearer token, if one was sent.
    pub token_sha256: Option<String>,
    /// The last four characters of the bearer token, if one was sent.
    pub token_last4: Option<String>,
    /// When the request arrived.
    pub at: DateTime<Utc>,
}

/// One uploaded module (a part of the multipart upload other than `metadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModulePart {
    /// The module name: the part's name, which is also its filename.
    pub name: String,
    /// The part's content type without parameters, e.g. `application/javascript+module`.
    pub content_type: String,
    /// The exact bytes uploaded.
    pub bytes: Bytes,
}

/// A binding of a version, as uploaded in the metadata's `bindings`.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// The binding's `type`: `plain_text`, `secret_text` or `json`.
    pub kind: String,
    /// The binding's `name`, the property the worker reads on `env`.
    pub name: String,
    /// The value of a `plain_text` or `secret_text` binding.
    pub text: Option<String>,
    /// The value of a `json` binding.
    pub json: Option<Value>,
}

/// One immutable version of a script: code, configuration and bindings.
#[derive(Clone, Debug)]
pub struct Version {
    /// The version id (uuid-like).
    pub id: String,
    /// The version number, 1 for a script's first version.
    pub number: u64,
    /// The metadata's `main_module`.
    pub main_module: String,
    /// Every module uploaded, in upload order.
    pub modules: Vec<ModulePart>,
    /// The metadata's `compatibility_date`.
    pub compatibility_date: String,
    /// The metadata's `compatibility_flags` (empty when absent).
    pub compatibility_flags: Vec<String>,
    /// The bindings, including secrets kept by `keep_bindings` or set through the secrets API.
    pub bindings: Vec<Binding>,
    /// The version's annotations: the uploaded `workers/message` and `workers/tag`, plus
    /// `workers/triggered_by` set by the fake (`upload`, `version_upload` or `secret`).
    pub annotations: Value,
    /// The metadata JSON exactly as uploaded (for a version made by the secrets API, the
    /// metadata of the version it was derived from).
    pub metadata: Value,
    /// When the version was created.
    pub created_at: DateTime<Utc>,
}

impl Version {
    /// The module named `name`.
    pub fn module(&self, name: &str) -> Option<&ModulePart> {
        self.modules.iter().find(|module| module.name == name)
    }

    /// The binding named `name`.
    pub fn binding(&self, name: &str) -> Option<&Binding> {
        self.bindings.iter().find(|binding| binding.name == name)
    }

    /// The `workers/message` annotation.
    pub fn message(&self) -> Option<&str> {
        self.annotations
            .get("workers/message")
            .and_then(Value::as_str)
    }

    /// The `workers/tag` annotation.
    pub fn tag(&self) -> Option<&str> {
        self.annotations.get("workers/tag").and_then(Value::as_str)
    }
}

/// One version a deployment sends traffic to.
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentVersion {
    /// The version's id.
    pub version_id: String,
    /// The share of traffic, 0 to 100.
    pub percentage: f64,
}

/// One deployment: which versions serve a script's traffic, from its creation on.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// The deployment id (uuid-like).
    pub id: String,
    /// Always `percentage`.
    pub strategy: String,
    /// The versions and their shares, summing to 100.
    pub versions: Vec<DeploymentVersion>,
    /// The deployment's annotations (`workers/message`, `workers/triggered_by`).
    pub annotations: Value,
    /// Where it was made: `wrangler` for a request with wrangler's `User-Agent`, else `api`.
    pub source: String,
    /// When the deployment was created.
    pub created_at: DateTime<Utc>,
}

/// A snapshot of one script (a Worker) of one account.
#[derive(Clone, Debug)]
pub struct Script {
    /// The script name.
    pub name: String,
    /// Every version, oldest first.
    pub versions: Vec<Version>,
    /// Every deployment, oldest first; the last one is what serves traffic.
    pub deployments: Vec<Deployment>,
    /// Whether the script is reachable on the account's `workers.dev` subdomain.
    pub subdomain_enabled: bool,
    /// Whether preview URLs are enabled on `workers.dev`.
    pub previews_enabled: bool,
    /// The `secret_text` bindings of the live version, by name, with their values.
    pub secrets: BTreeMap<String, String>,
    /// When the script was first uploaded.
    pub created_on: DateTime<Utc>,
    /// When the script last changed.
    pub modified_on: DateTime<Utc>,
}

impl Script {
    /// The newest deployment, which serves traffic.
    pub fn live_deployment(&self) -> Option<&Deployment> {
        self.deployments.last()
    }

    /// The version the newest deployment sends 100% of traffic to; `None` while traffic is
    /// split between two versions or before anything is deployed.
    pub fn live_version(&self) -> Option<&Version> {
        let deployment = self.live_deployment()?;
        match deployment.versions.as_slice() {
            [only] if only.percentage >= 100.0 => self.version(&only.version_id),
            _ => None,
        }
    }

    /// The version with id `id`.
    pub fn version(&self, id: &str) -> Option<&Version> {
        self.versions.iter().find(|version| version.id == id)
    }

    /// The newest version, deployed or not.
    pub fn latest_version(&self) -> Option<&Version> {
        self.versions.last()
    }

    /// Recomputes [`Script::secrets`] from the live version.
    pub(crate) fn refresh_secrets(&mut self) {
        let secrets = self
            .live_version()
            .map(|version| {
                version
                    .bindings
                    .iter()
                    .filter(|binding| binding.kind == "secret_text")
                    .map(|binding| {
                        (
                            binding.name.clone(),
                            binding.text.clone().unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.secrets = secrets;
    }
}

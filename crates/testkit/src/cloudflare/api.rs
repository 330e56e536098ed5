//! The fake's state and its routes: what each Workers API call checks, stores and answers.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use http::{Method, StatusCode};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::model::{
    Binding, Deployment, DeploymentVersion, Faults, IdForm, IdForms, RateLimit, RecordedRequest,
    Script, Version,
};
use super::upload::{self, Upload};

/// Cloudflare error codes the fake answers with.
///
/// 10000, 10007, 10013, 10021, 10027, 10220 and 971 are codes Cloudflare is documented or
/// observed to send for these cases; the others are Cloudflare-style codes picked to be
/// distinct, so a test can tell the failures apart.
pub(crate) mod code {
    /// Rate limited: "Please wait and consider throttling your request speed".
    pub(crate) const RATE_LIMITED: u32 = 971;
    /// The `Authorization` header is missing or not `Bearer <token>`.
    pub(crate) const INVALID_HEADERS: u32 = 6003;
    /// No route for that URI.
    pub(crate) const NO_ROUTE: u32 = 7003;
    /// "Authentication error": unknown token, or a token not allowed on the account.
    pub(crate) const AUTH: u32 = 10000;
    /// A JSON body or query that does not have the documented shape.
    pub(crate) const BAD_REQUEST: u32 = 10001;
    /// `workers.api.error.script_not_found`.
    pub(crate) const SCRIPT_NOT_FOUND: u32 = 10007;
    /// `workers.api.error.unknown`, answered with 500.
    pub(crate) const INTERNAL: u32 = 10013;
    /// The script name is not a valid Worker name.
    pub(crate) const INVALID_NAME: u32 = 10016;
    /// The upload (metadata, modules, bindings) is invalid.
    pub(crate) const SCRIPT_INVALID: u32 = 10021;
    /// The upload is larger than the size limit.
    pub(crate) const TOO_LARGE: u32 = 10027;
    /// A secret's name is used by a binding of another type.
    pub(crate) const BINDING_IN_USE: u32 = 10053;
    /// Secrets cannot change while traffic is split between two versions.
    pub(crate) const GRADUAL_IN_PROGRESS: u32 = 10215;
    /// A deployment would roll back to a version whose secrets differ from the live one's
    /// (wrangler's `CANNOT_ROLLBACK_WITH_MODIFIED_SECERT_CODE`); `?force=true` overrides.
    pub(crate) const SECRETS_CHANGED: u32 = 10220;
    /// A deployment's strategy, percentages or annotations are invalid.
    pub(crate) const DEPLOYMENT_INVALID: u32 = 10221;
    /// A deployment or a version lookup names a version the script does not have.
    pub(crate) const VERSION_NOT_FOUND: u32 = 10222;
    /// The method is not allowed on that route.
    pub(crate) const METHOD_NOT_ALLOWED: u32 = 10405;
}

/// Longest script name Cloudflare accepts.
const MAX_SCRIPT_NAME: usize = 63;

/// Longest deployment `workers/message`: Cloudflare's OpenAPI schema says 50 (wrangler's
/// rollback prompt says 120); the fake holds clients to the documented, stricter limit.
const MAX_DEPLOYMENT_MESSAGE_CHARS: usize = 50;

/// Versions per page when the client does not say.
const DEFAULT_PER_PAGE: usize = 10;

/// Most versions per page.
const MAX_PER_PAGE: usize = 100;

/// A failed call: status, Cloudflare error code and message.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: u32,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn script_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::SCRIPT_NOT_FOUND,
            "workers.api.error.script_not_found",
        )
    }
}

/// An answer: status, envelope and an optional `Retry-After`.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    pub(crate) retry_after: Option<u64>,
}

impl Reply {
    pub(crate) fn ok(result: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: json!({ "success": true, "errors": [], "messages": [], "result": result }),
            retry_after: None,
        }
    }

    fn paged(result: Value, info: Value) -> Self {
        let mut reply = Self::ok(result);
        reply.body["result_info"] = info;
        reply
    }
}

impl From<ApiError> for Reply {
    fn from(error: ApiError) -> Self {
        Self {
            status: error.status,
            body: json!({
                "success": false,
                "errors": [{ "code": error.code, "message": error.message }],
                "messages": [],
                "result": null,
            }),
            retry_after: None,
        }
    }
}

/// One account: its `workers.dev` subdomain and its scripts.
#[derive(Debug, Default)]
pub(crate) struct Account {
    pub(crate) subdomain: String,
    pub(crate) scripts: BTreeMap<String, Script>,
    /// Zone id -> zone name.
    pub(crate) zones: BTreeMap<String, String>,
    /// Domain id -> the Workers custom domain.
    pub(crate) domains: BTreeMap<String, super::domains::Domain>,
}

/// Everything the fake knows, behind one mutex that is never held across an `await`.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) accounts: BTreeMap<String, Account>,
    /// Token -> accounts it may act on.
    pub(crate) tokens: HashMap<String, BTreeSet<String>>,
    pub(crate) faults: Faults,
    pub(crate) fault_rng: StdRng,
    /// Requests that met a fault since the faults were last set.
    pub(crate) faults_injected: usize,
    pub(crate) rate_limit: Option<RateLimit>,
    /// Per token (or `""` without one): when accepted requests arrived, oldest first.
    pub(crate) rate_windows: HashMap<String, VecDeque<Instant>>,
    pub(crate) rate_limited: usize,
    pub(crate) requests: Vec<RecordedRequest>,
    /// (account, script) -> successful uploads.
    pub(crate) uploads: HashMap<(String, String), usize>,
    pub(crate) body_limit: usize,
    pub(crate) id_forms: IdForms,
    /// Script name -> how its worker answers on the edge.
    pub(crate) worker_health: HashMap<String, super::edge::WorkerHealth>,
    /// Version id -> how that version answers on the edge (before the script's).
    pub(crate) version_health: HashMap<String, super::edge::WorkerHealth>,
    /// (script, version id) of every request the edge routed to a version, oldest first.
    pub(crate) edge_hits: Vec<(String, String)>,
    /// Draws the version of a request during a split deployment.
    pub(crate) edge_rng: StdRng,
    /// Requests the workers.dev edge answered.
    pub(crate) edge_requests: usize,
    /// Custom hostnames whose certificate the test holds back: the edge does not serve them.
    pub(crate) pending_hostnames: HashSet<String>,
    next_id: u64,
}

impl State {
    pub(crate) fn new(body_limit: usize) -> Self {
        Self {
            accounts: BTreeMap::new(),
            tokens: HashMap::new(),
            faults: Faults::default(),
            fault_rng: StdRng::seed_from_u64(0),
            faults_injected: 0,
            rate_limit: None,
            rate_windows: HashMap::new(),
            rate_limited: 0,
            requests: Vec::new(),
            uploads: HashMap::new(),
            body_limit,
            id_forms: IdForms::default(),
            worker_health: HashMap::new(),
            version_health: HashMap::new(),
            edge_hits: Vec::new(),
            edge_rng: StdRng::seed_from_u64(7),
            edge_requests: 0,
            pending_hostnames: HashSet::new(),
            next_id: 0,
        }
    }

    /// A fresh uuid-shaped id, deterministic in the order ids are made.
    fn new_id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        let digest = Sha256::digest(format!("c15t-testkit:{kind}:{}", self.next_id).as_bytes());
        let hex = hex(&digest[..16]);
        format!(
            "{}-{}-4{}-8{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[13..16],
            &hex[17..20],
            &hex[20..32]
        )
    }

    /// A fresh 32-hex-digit id (Cloudflare's form for zones, domains and certificates).
    pub(crate) fn new_hex_id(&mut self, kind: &str) -> String {
        self.new_id(kind).replace('-', "")
    }

    pub(crate) fn account(&mut self, account_id: &str) -> &mut Account {
        self.accounts.entry(account_id.to_owned()).or_default()
    }

    fn script(&mut self, account_id: &str, name: &str) -> Result<&mut Script, ApiError> {
        self.account(account_id)
            .scripts
            .get_mut(name)
            .ok_or_else(ApiError::script_not_found)
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A version's etag: a hash of its modules, metadata and bindings (secret values left out, so
/// the etag is no oracle for them).
fn etag(version: &Version) -> String {
    let mut hasher = Sha256::new();
    for module in &version.modules {
        hasher.update(module.name.as_bytes());
        hasher.update([0]);
        hasher.update(&module.bytes);
        hasher.update([0]);
    }
    for binding in &version.bindings {
        hasher.update(binding.kind.as_bytes());
        hasher.update(binding.name.as_bytes());
        if binding.kind != "secret_text" {
            hasher.update(binding.text.as_deref().unwrap_or_default().as_bytes());
            hasher.update(
                binding
                    .json
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default(),
            );
        }
    }
    for (key, value) in version.metadata.as_object().into_iter().flatten() {
        if key != "bindings" {
            hasher.update(key.as_bytes());
            hasher.update(value.to_string().as_bytes());
        }
    }
    hex(&hasher.finalize())
}

/// A call that passed authentication.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) method: Method,
    /// Path segments after `/client/v4/`.
    pub(crate) segments: Vec<String>,
    pub(crate) query: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Bytes,
    /// Hex SHA-256 of the (valid) token the call was made with.
    pub(crate) token_sha256: Option<String>,
    /// Cloudflare's `source` of what the call deploys: `wrangler` when its `User-Agent` is
    /// wrangler's, else `api`.
    pub(crate) source: String,
}

/// Routes a call to its handler.
pub(crate) async fn dispatch(state: &Mutex<State>, call: Call) -> Reply {
    let is_upload = call.method == Method::PUT && call.segments.len() == 5;
    // Deployments this call makes record where it came from, as Cloudflare's `source` does.
    let script = match call.segments.as_slice() {
        [accounts, account, workers, scripts, script, ..]
            if accounts == "accounts" && workers == "workers" && scripts == "scripts" =>
        {
            Some((account.clone(), script.clone()))
        }
        _ => None,
    };
    let deployments_before = |state: &State| {
        script.as_ref().map_or(0, |(a, n)| {
            state
                .accounts
                .get(a)
                .and_then(|acc| acc.scripts.get(n))
                .map_or(0, |s| s.deployments.len())
        })
    };
    let before = deployments_before(&lock(state));
    let source = call.source.clone();
    let mut reply = match route(state, call).await {
        Ok(reply) => reply,
        Err(error) => return error.into(),
    };
    if let Some((account, name)) = &script {
        let mut state = lock(state);
        if let Some(script) = state
            .accounts
            .get_mut(account)
            .and_then(|a| a.scripts.get_mut(name))
        {
            for deployment in script.deployments.iter_mut().skip(before) {
                deployment.source.clone_from(&source);
            }
        }
        if let Some(source_field) = reply
            .body
            .get_mut("result")
            .and_then(|r| r.get_mut("source"))
            && source_field.is_string()
        {
            *source_field = Value::String(source.clone());
        }
    }
    let forms = lock(state).id_forms;
    let form = if is_upload { forms.upload } else { forms.other };
    if form != IdForm::Canonical {
        rewrite_ids(&mut reply.body, form);
    }
    reply
}

/// Writes every canonical UUID string in `value` (ids of versions and deployments: nothing
/// else the fake answers has that shape) in `form`.
fn rewrite_ids(value: &mut Value, form: IdForm) {
    match value {
        Value::String(s) if is_canonical_uuid(s) => *s = form.write(s),
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_ids(v, form)),
        Value::Object(map) => map.values_mut().for_each(|v| rewrite_ids(v, form)),
        _ => {}
    }
}

fn is_canonical_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

/// Locks the state; a panic in another request (a test assertion elsewhere) leaves it usable.
pub(crate) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn route(state: &Mutex<State>, call: Call) -> Result<Reply, ApiError> {
    let segments: Vec<&str> = call.segments.iter().map(String::as_str).collect();
    let method = &call.method;
    let not_allowed = || {
        Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            code::METHOD_NOT_ALLOWED,
            format!("method {method} is not allowed on this route"),
        ))
    };
    match segments.as_slice() {
        ["user", "tokens", "verify"] | ["accounts", _, "tokens", "verify"] => match *method {
            Method::GET => Ok(token_verify(
                call.token_sha256.as_deref().unwrap_or_default(),
            )),
            _ => not_allowed(),
        },
        ["accounts", account, "workers", "scripts"] => match *method {
            Method::GET => Ok(scripts_list(&mut lock(state), account)),
            _ => not_allowed(),
        },
        ["accounts", account, "workers", "subdomain"] => match *method {
            Method::GET => Ok(account_subdomain(&mut lock(state), account)),
            _ => not_allowed(),
        },
        ["accounts", account, "workers", "domains"] => match *method {
            Method::GET => Ok(super::domains::list(
                &mut lock(state),
                account,
                call.query.as_deref(),
            )),
            Method::PUT => {
                let body = json_body(&call)?;
                super::domains::attach(&mut lock(state), account, &body)
            }
            _ => not_allowed(),
        },
        ["accounts", account, "workers", "domains", domain] => match *method {
            Method::GET => super::domains::get(&mut lock(state), account, domain),
            Method::DELETE => super::domains::delete(&mut lock(state), account, domain),
            _ => not_allowed(),
        },
        ["accounts", account, "workers", "scripts", script] => match *method {
            Method::PUT => {
                check_script_name(script)?;
                let upload = parse_upload(&call).await?;
                script_put(&mut lock(state), account, script, upload)
            }
            Method::DELETE => script_delete(&mut lock(state), account, script),
            _ => not_allowed(),
        },
        [
            "accounts",
            account,
            "workers",
            "scripts",
            script,
            "versions",
        ] => match *method {
            Method::GET => versions_list(&mut lock(state), account, script, call.query.as_deref()),
            Method::POST => {
                lock(state).script(account, script)?;
                let upload = parse_upload(&call).await?;
                version_upload(&mut lock(state), account, script, upload)
            }
            _ => not_allowed(),
        },
        [
            "accounts",
            account,
            "workers",
            "scripts",
            script,
            "versions",
            version,
        ] => match *method {
            Method::GET => version_get(&mut lock(state), account, script, version),
            _ => not_allowed(),
        },
        [
            "accounts",
            account,
            "workers",
            "scripts",
            script,
            "deployments",
        ] => match *method {
            Method::GET => deployments_list(&mut lock(state), account, script),
            Method::POST => {
                let body = json_body(&call)?;
                let force = query_param(call.query.as_deref(), "force") == Some("true");
                deployment_create(&mut lock(state), account, script, &body, force)
            }
            _ => not_allowed(),
        },
        ["accounts", account, "workers", "scripts", script, "secrets"] => match *method {
            Method::GET => secrets_list(&mut lock(state), account, script),
            Method::PUT => {
                let body = json_body(&call)?;
                secret_put(&mut lock(state), account, script, &body)
            }
            _ => not_allowed(),
        },
        [
            "accounts",
            account,
            "workers",
            "scripts",
            script,
            "subdomain",
        ] => match *method {
            Method::GET => script_subdomain_get(&mut lock(state), account, script),
            Method::POST => {
                let body = json_body(&call)?;
                script_subdomain_set(&mut lock(state), account, script, &body)
            }
            _ => not_allowed(),
        },
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            code::NO_ROUTE,
            "No route for that URI",
        )),
    }
}

fn check_script_name(name: &str) -> Result<(), ApiError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !first_ok || !rest_ok || name.len() > MAX_SCRIPT_NAME {
        return Err(ApiError::bad_request(
            code::INVALID_NAME,
            format!(
                "Invalid Worker name `{name}`: use at most {MAX_SCRIPT_NAME} lower-case letters, digits, `-` and `_`, starting with a letter or digit"
            ),
        ));
    }
    Ok(())
}

async fn parse_upload(call: &Call) -> Result<Upload, ApiError> {
    upload::parse(
        call.content_type.as_deref(),
        call.body.clone(),
        Utc::now().date_naive(),
    )
    .await
}

fn json_body(call: &Call) -> Result<Map<String, Value>, ApiError> {
    let essence = call
        .content_type
        .as_deref()
        .and_then(|value| value.split(';').next());
    if !essence.is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json")) {
        return Err(ApiError::bad_request(
            code::BAD_REQUEST,
            "Content-Type must be application/json",
        ));
    }
    match serde_json::from_slice(&call.body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::bad_request(
            code::BAD_REQUEST,
            "request body must be a JSON object",
        )),
        Err(error) => Err(ApiError::bad_request(
            code::BAD_REQUEST,
            format!("request body is not valid JSON: {error}"),
        )),
    }
}

/// `GET /user/tokens/verify`: the caller's token is valid (authentication already checked it).
fn token_verify(token_sha256: &str) -> Reply {
    Reply::ok(json!({ "id": &token_sha256[..token_sha256.len().min(32)], "status": "active" }))
}

/// `GET /accounts/{account}/workers/scripts`: every script of the account.
fn scripts_list(state: &mut State, account_id: &str) -> Reply {
    let scripts: Vec<Value> = state
        .account(account_id)
        .scripts
        .values()
        .map(|script| {
            json!({
                "id": script.name,
                "etag": script.latest_version().map(etag),
                "created_on": timestamp(script.created_on),
                "modified_on": timestamp(script.modified_on),
                "has_modules": true,
                "has_assets": false,
                "handlers": ["fetch"],
                "usage_model": "standard",
            })
        })
        .collect();
    Reply::ok(Value::Array(scripts))
}

fn account_subdomain(state: &mut State, account_id: &str) -> Reply {
    let subdomain = state.account(account_id).subdomain.clone();
    Reply::ok(json!({ "subdomain": subdomain }))
}

/// Turns a checked upload into a new version of `name`, deployed or not.
fn store_version(
    state: &mut State,
    account_id: &str,
    name: &str,
    upload: Upload,
    triggered_by: &str,
) -> Result<String, ApiError> {
    let now = Utc::now();
    let id = state.new_id("version");
    let script = state.script(account_id, name)?;
    let mut bindings = upload.bindings;
    if let Some(previous) = script.latest_version() {
        let kept: Vec<Binding> = previous
            .bindings
            .iter()
            .filter(|binding| upload.keep_bindings.contains(&binding.kind))
            .filter(|binding| bindings.iter().all(|new| new.name != binding.name))
            .cloned()
            .collect();
        bindings.extend(kept);
    }
    let mut annotations = upload.annotations;
    annotations.insert("workers/triggered_by".to_owned(), Value::from(triggered_by));
    let version = Version {
        id: id.clone(),
        number: script
            .versions
            .last()
            .map_or(1, |version| version.number + 1),
        main_module: upload.main_module,
        modules: upload.modules,
        compatibility_date: upload.compatibility_date,
        compatibility_flags: upload.compatibility_flags,
        bindings,
        annotations: Value::Object(annotations),
        metadata: upload.metadata,
        created_at: now,
    };
    script.versions.push(version);
    script.modified_on = now;
    *state
        .uploads
        .entry((account_id.to_owned(), name.to_owned()))
        .or_default() += 1;
    Ok(id)
}

/// Makes a deployment sending 100% of traffic to `version_id`.
fn deploy_whole(
    state: &mut State,
    account_id: &str,
    name: &str,
    version_id: &str,
    triggered_by: &str,
) {
    let deployment = Deployment {
        id: state.new_id("deployment"),
        strategy: "percentage".to_owned(),
        versions: vec![DeploymentVersion {
            version_id: version_id.to_owned(),
            percentage: 100.0,
        }],
        annotations: json!({ "workers/triggered_by": triggered_by }),
        source: "api".to_owned(),
        created_at: Utc::now(),
    };
    if let Ok(script) = state.script(account_id, name) {
        script.deployments.push(deployment);
        script.refresh_secrets();
    }
}

fn script_put(
    state: &mut State,
    account_id: &str,
    name: &str,
    upload: Upload,
) -> Result<Reply, ApiError> {
    let now = Utc::now();
    state
        .account(account_id)
        .scripts
        .entry(name.to_owned())
        .or_insert_with(|| Script {
            name: name.to_owned(),
            versions: Vec::new(),
            deployments: Vec::new(),
            subdomain_enabled: false,
            previews_enabled: false,
            secrets: BTreeMap::new(),
            created_on: now,
            modified_on: now,
        });
    let version_id = store_version(state, account_id, name, upload, "upload")?;
    deploy_whole(state, account_id, name, &version_id, "upload");
    let script = state.script(account_id, name)?;
    let version = script
        .version(&version_id)
        .ok_or_else(ApiError::script_not_found)?;
    Ok(Reply::ok(json!({
        "id": name,
        "etag": etag(version),
        "created_on": timestamp(script.created_on),
        "modified_on": timestamp(script.modified_on),
        "has_modules": true,
        "has_assets": false,
        "handlers": ["fetch"],
        "compatibility_date": version.compatibility_date,
        "compatibility_flags": version.compatibility_flags,
        "usage_model": "standard",
        "logpush": false,
        "placement_mode": null,
        "tail_consumers": null,
        "startup_time_ms": 0,
        // Cloudflare names the new version's id `deployment_id` here (wrangler prints it
        // as "Current Version ID").
        "deployment_id": version_id,
    })))
}

fn script_delete(state: &mut State, account_id: &str, name: &str) -> Result<Reply, ApiError> {
    let account = state.account(account_id);
    account
        .scripts
        .remove(name)
        .ok_or_else(ApiError::script_not_found)?;
    // A deleted Worker's custom domains are detached with it.
    account.domains.retain(|_, d| d.service != name);
    Ok(Reply::ok(Value::Null))
}

fn version_upload(
    state: &mut State,
    account_id: &str,
    name: &str,
    upload: Upload,
) -> Result<Reply, ApiError> {
    let version_id = store_version(state, account_id, name, upload, "version_upload")?;
    let script = state.script(account_id, name)?;
    let version = script
        .version(&version_id)
        .ok_or_else(ApiError::script_not_found)?;
    let mut result = version_detail(version);
    result["startup_time_ms"] = json!(0);
    Ok(Reply::ok(result))
}

fn version_summary(version: &Version) -> Value {
    let created = timestamp(version.created_at);
    json!({
        "id": version.id,
        "number": version.number,
        "metadata": {
            "author_email": "deployer@example.com",
            "author_id": "c15t-testkit",
            "created_on": created,
            "modified_on": created,
            "source": "api",
            "hasPreview": false,
        },
        "annotations": version.annotations,
    })
}

/// A binding as Cloudflare shows it: secret values are never returned.
fn binding_json(binding: &Binding) -> Value {
    match binding.kind.as_str() {
        "secret_text" => json!({ "type": "secret_text", "name": binding.name }),
        "json" => json!({ "type": "json", "name": binding.name, "json": binding.json }),
        kind => json!({ "type": kind, "name": binding.name, "text": binding.text }),
    }
}

fn version_detail(version: &Version) -> Value {
    let mut result = version_summary(version);
    result["resources"] = json!({
        "bindings": version.bindings.iter().map(binding_json).collect::<Vec<_>>(),
        "script": {
            "etag": etag(version),
            "handlers": ["fetch"],
            "last_deployed_from": "api",
        },
        "script_runtime": {
            "compatibility_date": version.compatibility_date,
            "compatibility_flags": version.compatibility_flags,
            "usage_model": "standard",
        },
    });
    result
}

fn query_param<'q>(query: Option<&'q str>, key: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })
}

fn page_param(
    query: Option<&str>,
    key: &str,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match query_param(query, key) {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(value) if (1..=max).contains(&value) => Ok(value),
            _ => Err(ApiError::bad_request(
                code::BAD_REQUEST,
                format!("query parameter `{key}` must be a number from 1 to {max}, got `{text}`"),
            )),
        },
    }
}

fn versions_list(
    state: &mut State,
    account_id: &str,
    name: &str,
    query: Option<&str>,
) -> Result<Reply, ApiError> {
    let page = page_param(query, "page", 1, usize::MAX)?;
    let per_page = page_param(query, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)?;
    let script = state.script(account_id, name)?;
    let total = script.versions.len();
    let items: Vec<Value> = script
        .versions
        .iter()
        .rev()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(version_summary)
        .collect();
    let info = json!({
        "page": page,
        "per_page": per_page,
        "count": items.len(),
        "total_count": total,
        "total_pages": total.div_ceil(per_page),
    });
    Ok(Reply::paged(json!({ "items": items }), info))
}

fn version_get(
    state: &mut State,
    account_id: &str,
    name: &str,
    version_id: &str,
) -> Result<Reply, ApiError> {
    let script = state.script(account_id, name)?;
    let version = script.version(version_id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            code::VERSION_NOT_FOUND,
            format!("version `{version_id}` of script `{name}` does not exist"),
        )
    })?;
    Ok(Reply::ok(version_detail(version)))
}

fn deployment_json(deployment: &Deployment) -> Value {
    json!({
        "id": deployment.id,
        "source": deployment.source,
        "strategy": deployment.strategy,
        "author_email": "deployer@example.com",
        "created_on": timestamp(deployment.created_at),
        "annotations": deployment.annotations,
        "versions": deployment.versions.iter().map(|version| json!({
            "version_id": version.version_id,
            "percentage": version.percentage,
        })).collect::<Vec<_>>(),
    })
}

fn deployments_list(state: &mut State, account_id: &str, name: &str) -> Result<Reply, ApiError> {
    let script = state.script(account_id, name)?;
    let deployments: Vec<Value> = script
        .deployments
        .iter()
        .rev()
        .map(deployment_json)
        .collect();
    Ok(Reply::ok(json!({ "deployments": deployments })))
}

fn deployment_invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code::DEPLOYMENT_INVALID, message)
}

fn deployment_create(
    state: &mut State,
    account_id: &str,
    name: &str,
    body: &Map<String, Value>,
    force: bool,
) -> Result<Reply, ApiError> {
    let script = state.script(account_id, name)?;
    match body.get("strategy").and_then(Value::as_str) {
        Some("percentage") => {}
        Some(other) => {
            return Err(deployment_invalid(format!(
                "unknown strategy `{other}`; use `percentage`"
            )));
        }
        None => return Err(deployment_invalid("strategy is required (`percentage`)")),
    }
    let Some(items) = body.get("versions").and_then(Value::as_array) else {
        return Err(deployment_invalid(
            "versions must be an array of {version_id, percentage}",
        ));
    };
    if items.is_empty() || items.len() > 2 {
        return Err(deployment_invalid("a deployment has one or two versions"));
    }
    let mut versions = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Some(version_id) = item.get("version_id").and_then(Value::as_str) else {
            return Err(deployment_invalid(format!(
                "versions[{index}].version_id must be a string"
            )));
        };
        let Some(percentage) = item.get("percentage").and_then(Value::as_f64) else {
            return Err(deployment_invalid(format!(
                "versions[{index}].percentage must be a number"
            )));
        };
        // 0% is allowed: such a version serves only requests that override to it.
        if !(0.0..=100.0).contains(&percentage) {
            return Err(deployment_invalid(format!(
                "versions[{index}].percentage must be at least 0 and at most 100"
            )));
        }
        if script.version(version_id).is_none() {
            return Err(ApiError::bad_request(
                code::VERSION_NOT_FOUND,
                format!("version `{version_id}` of script `{name}` does not exist"),
            ));
        }
        if versions
            .iter()
            .any(|v: &DeploymentVersion| v.version_id == version_id)
        {
            return Err(deployment_invalid(format!(
                "version `{version_id}` is listed twice"
            )));
        }
        versions.push(DeploymentVersion {
            version_id: version_id.to_owned(),
            percentage,
        });
    }
    let sum: f64 = versions.iter().map(|version| version.percentage).sum();
    if (sum - 100.0).abs() > 1e-9 {
        return Err(deployment_invalid(format!(
            "percentages must sum to 100, got {sum}"
        )));
    }
    let mut annotations = Map::new();
    annotations.insert("workers/triggered_by".to_owned(), json!("deployment"));
    match body.get("annotations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) => {
            for (key, value) in fields {
                let Some(text) = value.as_str() else {
                    return Err(deployment_invalid(format!(
                        "annotation `{key}` must be a string"
                    )));
                };
                match key.as_str() {
                    "workers/message" if text.chars().count() > MAX_DEPLOYMENT_MESSAGE_CHARS => {
                        return Err(deployment_invalid(format!(
                            "annotation `workers/message` is longer than {MAX_DEPLOYMENT_MESSAGE_CHARS} characters"
                        )));
                    }
                    "workers/message" | "workers/triggered_by" => {
                        annotations.insert(key.clone(), value.clone());
                    }
                    _ => {
                        return Err(deployment_invalid(format!(
                            "unknown annotation `{key}`; deployments accept workers/message and workers/triggered_by"
                        )));
                    }
                }
            }
        }
        Some(_) => return Err(deployment_invalid("annotations must be an object")),
    }
    if !force {
        check_rollback_secrets(script, &versions)?;
    }
    let deployment = Deployment {
        id: state.new_id("deployment"),
        strategy: "percentage".to_owned(),
        versions,
        annotations: Value::Object(annotations),
        source: "api".to_owned(),
        created_at: Utc::now(),
    };
    let result = deployment_json(&deployment);
    let script = state.script(account_id, name)?;
    script.deployments.push(deployment);
    script.modified_on = Utc::now();
    script.refresh_secrets();
    Ok(Reply::ok(result))
}

/// The `secret_text` bindings of a version, by name.
fn secret_values(version: &Version) -> BTreeMap<&str, &str> {
    version
        .bindings
        .iter()
        .filter(|binding| binding.kind == "secret_text")
        .map(|binding| {
            (
                binding.name.as_str(),
                binding.text.as_deref().unwrap_or_default(),
            )
        })
        .collect()
}

/// Cloudflare refuses to deploy an older version than the newest one now deployed when a
/// secret has changed between them (added, removed or given another value), naming the
/// secrets in the form wrangler parses ("The following secrets have changed: A, B").
fn check_rollback_secrets(script: &Script, targets: &[DeploymentVersion]) -> Result<(), ApiError> {
    let Some(current) = script.live_deployment().and_then(|deployment| {
        deployment
            .versions
            .iter()
            .filter_map(|live| script.version(&live.version_id))
            .max_by_key(|version| version.number)
    }) else {
        return Ok(());
    };
    let current_secrets = secret_values(current);
    for target in targets {
        let Some(version) = script.version(&target.version_id) else {
            continue;
        };
        if version.number >= current.number {
            continue;
        }
        let target_secrets = secret_values(version);
        let changed: Vec<&str> = current_secrets
            .keys()
            .chain(target_secrets.keys())
            .copied()
            .collect::<BTreeSet<&str>>()
            .into_iter()
            .filter(|name| current_secrets.get(name) != target_secrets.get(name))
            .collect();
        if !changed.is_empty() {
            return Err(ApiError::bad_request(
                code::SECRETS_CHANGED,
                format!(
                    "A secret has changed since version {} was deployed; deploy with ?force=true to roll back anyway. The following secrets have changed: {}",
                    version.id,
                    changed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn secrets_list(state: &mut State, account_id: &str, name: &str) -> Result<Reply, ApiError> {
    let script = state.script(account_id, name)?;
    let secrets: Vec<Value> = script
        .live_version()
        .or_else(|| script.latest_version())
        .map(|version| {
            version
                .bindings
                .iter()
                .filter(|binding| binding.kind == "secret_text")
                .map(|binding| json!({ "name": binding.name, "type": "secret_text" }))
                .collect()
        })
        .unwrap_or_default();
    Ok(Reply::ok(Value::Array(secrets)))
}

fn secret_put(
    state: &mut State,
    account_id: &str,
    name: &str,
    body: &Map<String, Value>,
) -> Result<Reply, ApiError> {
    let bad = |message: &str| ApiError::bad_request(code::BAD_REQUEST, message);
    let secret_name = match body.get("name").and_then(Value::as_str) {
        Some(secret_name) if !secret_name.is_empty() => secret_name.to_owned(),
        _ => return Err(bad("secret `name` must be a non-empty string")),
    };
    let Some(text) = body.get("text").and_then(Value::as_str) else {
        return Err(bad("secret `text` must be a string"));
    };
    match body.get("type").and_then(Value::as_str) {
        Some("secret_text") => {}
        _ => return Err(bad("secret `type` must be `secret_text`")),
    }
    let id = state.new_id("version");
    let script = state.script(account_id, name)?;
    let Some(live) = script.live_version() else {
        return Err(ApiError::bad_request(
            code::GRADUAL_IN_PROGRESS,
            "secrets cannot change while a deployment splits traffic between versions; deploy one version at 100% first",
        ));
    };
    if live
        .bindings
        .iter()
        .any(|binding| binding.name == secret_name && binding.kind != "secret_text")
    {
        return Err(ApiError::bad_request(
            code::BINDING_IN_USE,
            format!(
                "Binding name '{secret_name}' already in use by a binding that is not a secret"
            ),
        ));
    }
    let mut version = live.clone();
    version
        .bindings
        .retain(|binding| binding.name != secret_name);
    version.bindings.push(Binding {
        kind: "secret_text".to_owned(),
        name: secret_name.clone(),
        text: Some(text.to_owned()),
        json: None,
    });
    version.id = id.clone();
    version.number = script.versions.last().map_or(1, |last| last.number + 1);
    version.annotations = json!({ "workers/triggered_by": "secret" });
    version.created_at = Utc::now();
    script.versions.push(version);
    deploy_whole(state, account_id, name, &id, "secret");
    Ok(Reply::ok(
        json!({ "name": secret_name, "type": "secret_text" }),
    ))
}

fn script_subdomain_get(
    state: &mut State,
    account_id: &str,
    name: &str,
) -> Result<Reply, ApiError> {
    let script = state.script(account_id, name)?;
    Ok(Reply::ok(json!({
        "enabled": script.subdomain_enabled,
        "previews_enabled": script.previews_enabled,
    })))
}

fn script_subdomain_set(
    state: &mut State,
    account_id: &str,
    name: &str,
    body: &Map<String, Value>,
) -> Result<Reply, ApiError> {
    let script = state.script(account_id, name)?;
    let Some(enabled) = body.get("enabled").and_then(Value::as_bool) else {
        return Err(ApiError::bad_request(
            code::BAD_REQUEST,
            "`enabled` must be a boolean",
        ));
    };
    let previews_enabled = match body.get("previews_enabled") {
        None => script.previews_enabled,
        Some(Value::Bool(previews)) => *previews,
        Some(_) => {
            return Err(ApiError::bad_request(
                code::BAD_REQUEST,
                "`previews_enabled` must be a boolean",
            ));
        }
    };
    script.subdomain_enabled = enabled;
    script.previews_enabled = previews_enabled;
    Ok(Reply::ok(
        json!({ "enabled": enabled, "previews_enabled": previews_enabled }),
    ))
}

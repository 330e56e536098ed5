//! Workers custom domains: `PUT /accounts/{account}/workers/domains` (attach), `GET` (list,
//! filtered by `hostname`, `service`, `zone_id`, `zone_name`, `environment`), and
//! `GET` / `DELETE /accounts/{account}/workers/domains/{domain_id}`, as Cloudflare's API
//! reference describes them.
//!
//! A hostname belongs to the zone of the account whose name is the hostname or its longest
//! suffix (`zone_id` or `zone_name` in the body pick one; a hostname outside it is refused). A
//! hostname attached to one Worker of the account is moved by attaching it to another (PUT is
//! an upsert by hostname); one attached in another account is refused. Deleting a script
//! detaches its domains. Once attached, the edge routes requests whose `Host` is the hostname
//! to the Worker, unless the test holds the hostname's certificate back
//! ([`super::FakeCloudflare::set_hostname_pending`]).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::api::{ApiError, Reply, State};

/// Cloudflare's error codes for custom domains, as the API answers them.
pub(crate) mod code {
    /// The domain id names no domain of the account.
    pub(crate) const DOMAIN_NOT_FOUND: u32 = 100_114;
    /// No zone of the account contains the hostname.
    pub(crate) const ZONE_NOT_FOUND: u32 = 100_116;
    /// The hostname is attached in another account.
    pub(crate) const HOSTNAME_TAKEN: u32 = 100_117;
    /// The hostname is not a valid hostname, or is outside the zone named.
    pub(crate) const HOSTNAME_INVALID: u32 = 100_119;
}

/// One attached domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// Immutable id (32 hex digits).
    pub id: String,
    /// The hostname.
    pub hostname: String,
    /// The Worker it routes to.
    pub service: String,
    /// Its zone.
    pub zone_id: String,
    /// Its zone's name.
    pub zone_name: String,
    /// The certificate issued for it.
    pub cert_id: String,
    /// The (deprecated) environment, `production` unless the body named one.
    pub environment: String,
}

impl Domain {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "hostname": self.hostname,
            "service": self.service,
            "zone_id": self.zone_id,
            "zone_name": self.zone_name,
            "cert_id": self.cert_id,
            "environment": self.environment,
        })
    }
}

fn valid_hostname(hostname: &str) -> bool {
    hostname.len() <= 253
        && hostname.contains('.')
        && hostname.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

fn in_zone(hostname: &str, zone: &str) -> bool {
    hostname == zone || hostname.ends_with(&format!(".{zone}"))
}

fn text<'a>(body: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_request(
            super::api::code::BAD_REQUEST,
            format!("{key} must be a string"),
        )),
    }
}

pub(crate) fn attach(
    state: &mut State,
    account_id: &str,
    body: &Map<String, Value>,
) -> Result<Reply, ApiError> {
    let hostname = text(body, "hostname")?
        .ok_or_else(|| {
            ApiError::bad_request(super::api::code::BAD_REQUEST, "hostname is required")
        })?
        .to_ascii_lowercase();
    let service = text(body, "service")?
        .ok_or_else(|| ApiError::bad_request(super::api::code::BAD_REQUEST, "service is required"))?
        .to_owned();
    if !valid_hostname(&hostname) {
        return Err(ApiError::bad_request(
            code::HOSTNAME_INVALID,
            format!("{hostname} is not a valid hostname"),
        ));
    }
    let environment = text(body, "environment")?
        .unwrap_or("production")
        .to_owned();
    let zone_id = text(body, "zone_id")?.map(str::to_ascii_lowercase);
    let zone_name = text(body, "zone_name")?.map(str::to_ascii_lowercase);
    if state
        .accounts
        .iter()
        .any(|(id, a)| id != account_id && a.domains.values().any(|d| d.hostname == hostname))
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            code::HOSTNAME_TAKEN,
            format!("Hostname '{hostname}' is already in use by another account"),
        ));
    }
    let account = state.accounts.entry(account_id.to_owned()).or_default();
    if !account.scripts.contains_key(&service) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            super::api::code::SCRIPT_NOT_FOUND,
            "workers.api.error.script_not_found",
        ));
    }
    let zone = match (&zone_id, &zone_name) {
        (Some(id), _) => account.zones.get_key_value(id),
        (None, Some(name)) => account.zones.iter().find(|(_, n)| *n == name),
        (None, None) => account
            .zones
            .iter()
            .filter(|(_, name)| in_zone(&hostname, name))
            .max_by_key(|(_, name)| name.len()),
    };
    let Some((zone_id, zone_name)) = zone.map(|(i, n)| (i.clone(), n.clone())) else {
        return Err(ApiError::bad_request(
            code::ZONE_NOT_FOUND,
            format!("Could not find zone for '{hostname}'"),
        ));
    };
    if !in_zone(&hostname, &zone_name) {
        return Err(ApiError::bad_request(
            code::HOSTNAME_INVALID,
            format!("Hostname '{hostname}' is not in zone '{zone_name}'"),
        ));
    }
    let existing = account
        .domains
        .values()
        .find(|d| d.hostname == hostname)
        .map(|d| (d.id.clone(), d.cert_id.clone()));
    let (id, cert_id) = match existing {
        Some(ids) => ids,
        None => (state.new_hex_id("domain"), state.new_hex_id("cert")),
    };
    let domain = Domain {
        id: id.clone(),
        hostname,
        service,
        zone_id,
        zone_name,
        cert_id,
        environment,
    };
    let reply = domain.json();
    state.account(account_id).domains.insert(id, domain);
    Ok(Reply::ok(reply))
}

pub(crate) fn list(state: &mut State, account_id: &str, query: Option<&str>) -> Reply {
    let filters: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let matches = |d: &Domain| {
        filters.iter().all(|(k, v)| match k.as_str() {
            "hostname" => d.hostname.eq_ignore_ascii_case(v),
            "service" => d.service == *v,
            "zone_id" => d.zone_id.eq_ignore_ascii_case(v),
            "zone_name" => d.zone_name.eq_ignore_ascii_case(v),
            "environment" => d.environment == *v,
            _ => true,
        })
    };
    let domains: Vec<Value> = state
        .account(account_id)
        .domains
        .values()
        .filter(|d| matches(d))
        .map(Domain::json)
        .collect();
    Reply::ok(Value::Array(domains))
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        code::DOMAIN_NOT_FOUND,
        "Domain not found",
    )
}

pub(crate) fn get(state: &mut State, account_id: &str, id: &str) -> Result<Reply, ApiError> {
    state
        .account(account_id)
        .domains
        .get(&id.to_ascii_lowercase())
        .map(|d| Reply::ok(d.json()))
        .ok_or_else(not_found)
}

pub(crate) fn delete(state: &mut State, account_id: &str, id: &str) -> Result<Reply, ApiError> {
    state
        .account(account_id)
        .domains
        .remove(&id.to_ascii_lowercase())
        .ok_or_else(not_found)?;
    Ok(Reply::ok(Value::Null))
}

/// The (account, script) a custom hostname routes to, if one is attached.
pub(crate) fn route<'s>(state: &'s State, host: &str) -> Option<(&'s str, &'s str)> {
    let host = host.split(':').next()?.to_ascii_lowercase();
    state.accounts.iter().find_map(|(account, a)| {
        a.domains
            .values()
            .find(|d| d.hostname == host)
            .map(|d| (account.as_str(), d.service.as_str()))
    })
}

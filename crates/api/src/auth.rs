//! Authentication: `Authorization: Bearer <token>` resolved to a [`Principal`].
//!
//! Operator tokens come from the server's configuration as SHA-256 hashes; a presented token is
//! hashed once and compared with each in constant time, in memory. Customer API tokens are
//! looked up by hash through the control layer; a positive answer is kept for
//! [`TOKEN_CACHE_TTL`], so a revocation made by another replica takes effect within that bound
//! (one made through this process takes effect at once: it clears the cache). The cache keeps
//! no negative answers, so a token created elsewhere works at once.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use c15t_model::CustomerId;
use sha2::{Digest, Sha256};

use crate::{ApiError, ApiState};

/// How long a customer token's lookup is trusted: the bound on how late a revocation made by
/// another replica takes effect here.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(1);

/// At most this many customer tokens are cached; the cache is emptied when it is full.
const TOKEN_CACHE_MAX: usize = 10_000;

/// An operator token, as held in memory: its SHA-256 only.
#[derive(Clone, PartialEq, Eq)]
pub struct OperatorToken([u8; 32]);

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorToken(***)")
    }
}

impl OperatorToken {
    /// The token whose text is `token` (hashed at once; the text is not kept).
    pub fn from_token(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// A token by its hash: 64 hex digits, optionally prefixed `sha256:` (the form the server
    /// configuration holds). `None` if `hash` is not of that form.
    pub fn from_hash(hash: &str) -> Option<Self> {
        let hex_digits = hash.strip_prefix("sha256:").unwrap_or(hash);
        let bytes = hex::decode(hex_digits).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    fn matches(&self, digest: &[u8; 32]) -> bool {
        // Constant time: every byte is compared whatever the first difference.
        self.0
            .iter()
            .zip(digest)
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An operator token: every customer.
    Operator,
    /// A customer API token: that customer only.
    Customer {
        /// The customer.
        customer: CustomerId,
        /// The token's id.
        token: i64,
    },
}

impl Principal {
    /// The name the audit log records.
    pub fn actor(&self) -> String {
        match self {
            Self::Operator => "api:operator".to_owned(),
            Self::Customer { customer, token } => format!("api:{customer}/token/{token}"),
        }
    }

    /// The customer `id` names, if this principal may see it. An id that is not a valid
    /// customer id is a 400 for everyone (it names no customer, so the answer says nothing
    /// about any), showing at most a short prefix of it; a customer token naming any other
    /// customer, existing or not, gets [`ApiError::Hidden`], the same answer either way.
    pub fn customer(&self, id: &str) -> Result<CustomerId, ApiError> {
        let parsed = CustomerId::new(id).map_err(|e| ApiError::invalid_id("customerId", id, e))?;
        match self {
            Self::Operator => Ok(parsed),
            Self::Customer { customer, .. } if &parsed == customer => Ok(parsed),
            Self::Customer { .. } => Err(ApiError::Hidden),
        }
    }

    /// `Ok` for operators, [`ApiError::OperatorOnly`] for customer tokens.
    pub fn operator(&self) -> Result<(), ApiError> {
        match self {
            Self::Operator => Ok(()),
            Self::Customer { .. } => Err(ApiError::OperatorOnly),
        }
    }
}

/// What the token cache knows.
enum Cached {
    /// Use this principal.
    Fresh(Principal),
    /// Look the token up.
    Miss,
}

/// Customer tokens recently found, by SHA-256.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    /// Principal, when it was last looked up, whether a lookup is renewing it.
    entries: RwLock<HashMap<[u8; 32], (Principal, Instant, bool)>>,
}

impl TokenCache {
    /// A cached principal: `Fresh` within the TTL; once stale, the first caller gets `Renew`
    /// (and must look the token up again) while callers during that lookup keep the stale
    /// answer, so a burst makes one lookup. Revocation by another replica thus takes effect
    /// within the TTL plus one lookup.
    fn get(&self, digest: &[u8; 32]) -> Cached {
        {
            let entries = self
                .entries
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match entries.get(digest) {
                None => return Cached::Miss,
                Some((p, at, _)) if at.elapsed() < TOKEN_CACHE_TTL => {
                    return Cached::Fresh(p.clone());
                }
                Some(_) => {}
            }
        }
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match entries.get_mut(digest) {
            None => Cached::Miss,
            Some((p, at, _)) if at.elapsed() < TOKEN_CACHE_TTL => Cached::Fresh(p.clone()),
            Some((p, at, renewing)) if *renewing && at.elapsed() < TOKEN_CACHE_TTL * 2 => {
                Cached::Fresh(p.clone())
            }
            Some((_, _, renewing)) => {
                *renewing = true;
                Cached::Miss
            }
        }
    }

    /// Forgets one token (its lookup found it no more).
    fn remove(&self, digest: &[u8; 32]) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(digest);
    }

    fn put(&self, digest: [u8; 32], principal: Principal) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.clear();
        }
        entries.insert(digest, (principal, Instant::now(), false));
    }

    /// Forgets every cached token (after a revocation through this process).
    pub(crate) fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

/// The bearer token of a request: `Ok(None)` without an `Authorization` header; more than one
/// is a 400 (`duplicate_authorization`), never "the first wins".
fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::client(
            axum::http::StatusCode::BAD_REQUEST,
            "duplicate_authorization",
            "send one Authorization header",
        ));
    }
    let malformed = || ApiError::Unauthorized("the Authorization header must be `Bearer <token>`");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(malformed());
    }
    Ok(Some(token))
}

impl ApiState {
    /// Resolves a presented token.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, ApiError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Every operator token is compared, so timing does not tell which one matched.
        let operator = self
            .inner
            .operator_tokens
            .iter()
            .fold(false, |found, t| found | t.matches(&digest));
        if operator {
            return Ok(Principal::Operator);
        }
        if let Cached::Fresh(principal) = self.inner.tokens.get(&digest) {
            return Ok(principal);
        }
        let found = self.inner.control.api_token_authenticate(token).await;
        let Ok(Some(record)) = found else {
            self.inner.tokens.remove(&digest);
            return Err(match found {
                Err(e) => e.into(),
                Ok(_) => ApiError::Unauthorized("the token is unknown or revoked"),
            });
        };
        let principal = Principal::Customer {
            customer: record.customer,
            token: record.id,
        };
        self.inner.tokens.put(digest, principal.clone());
        Ok(principal)
    }
}

impl ApiState {
    /// Counts one request of `token` (authenticated as `principal`) against its rate limit:
    /// [`ApiError::RateLimited`] when it is over.
    fn count_request(&self, principal: &Principal, token: &str) -> Result<(), ApiError> {
        let limiter = match principal {
            Principal::Customer { .. } => self.inner.limiters.0.as_deref(),
            Principal::Operator => self.inner.limiters.1.as_deref(),
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        limiter.check(&digest).map_err(ApiError::RateLimited)
    }
}

impl FromRequestParts<ApiState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = bearer(parts)?.ok_or(ApiError::Unauthorized(
            "send a token as `Authorization: Bearer <token>`",
        ))?;
        let principal = state.authenticate(token).await?;
        state.count_request(&principal, token)?;
        Ok(principal)
    }
}

/// A customer-scoped route's caller and customer: the `customerId` path parameter, checked
/// against the principal before anything else about the request (its body included) is looked
/// at, so another customer's id gets the same answer as a missing one whatever the request.
#[derive(Debug, Clone)]
pub struct Scoped {
    /// Who is calling.
    pub principal: Principal,
    /// The customer the path names, visible to the principal.
    pub customer: CustomerId,
}

impl FromRequestParts<ApiState> for Scoped {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::Hidden)?;
        let id = params
            .iter()
            .find(|(name, _)| *name == "customerId")
            .map(|(_, value)| value.to_owned())
            .ok_or(ApiError::Hidden)?;
        let customer = principal.customer(&id)?;
        Ok(Self {
            principal,
            customer,
        })
    }
}

/// The caller of an operator-only route: customer tokens get 403 before anything else about
/// the request is looked at.
#[derive(Debug, Clone)]
pub struct OperatorOnly(pub Principal);

impl FromRequestParts<ApiState> for OperatorOnly {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.operator()?;
        Ok(Self(principal))
    }
}

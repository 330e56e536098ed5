//! A customer's API tokens: listed (never their values), created (the value shown once),
//! revoked.

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use c15t_control::ApiToken;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CustomerPath, TokenPath};
use crate::auth::Scoped;
use crate::{ApiError, ApiState, Body, ErrorBody};

super::resource!(token_list, token_create, token_revoke);

/// An API token as listed (never its value).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenOut {
    /// Token id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The last four hex digits of its hash.
    pub hint: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (recorded at most about once a second).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiToken> for TokenOut {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id,
            name: t.name,
            hint: t.hint,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// A token just created: the value is shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenCreated {
    /// The token.
    #[serde(flatten)]
    pub record: TokenOut,
    /// The token's value (`c15t_...`): store it now, it is never shown again.
    pub token: String,
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    /// A name people recognise it by, e.g. `ci`: 1 to 100 characters, not only spaces, no
    /// control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
}

/// A customer's API tokens (never their values).
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/tokens", tag = "tokens",
    params(CustomerPath),
    responses(
        (status = 200, body = Vec<TokenOut>),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn token_list(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
) -> Result<Response, ApiError> {
    let list: Vec<TokenOut> = state
        .control()
        .api_token_list(&id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(list).into_response())
}

/// Creates an API token for the customer; its value is in this answer only.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/tokens", tag = "tokens",
    params(CustomerPath),
    request_body = TokenCreate,
    responses(
        (status = 201, body = TokenCreated),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn token_create(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    Body(body): Body<TokenCreate>,
) -> Result<Response, ApiError> {
    let created = state
        .control()
        .api_token_create(&principal.actor(), &id, &body.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            record: created.record.into(),
            token: created.token.expose().to_owned(),
        }),
    )
        .into_response())
}

/// Revokes an API token (within a second on every replica).
#[utoipa::path(delete, path = "/api/v1/customers/{customerId}/tokens/{tokenId}", tag = "tokens",
    params(CustomerPath, ("tokenId" = String, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn token_revoke(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    TokenPath(token): TokenPath,
) -> Result<Response, ApiError> {
    let token_id: i64 = token
        .parse()
        .map_err(|_| ApiError::invalid_id("tokenId", &token, "must be a token number"))?;
    state
        .control()
        .api_token_revoke(&principal.actor(), &id, token_id)
        .await?;
    state.token_revoked();
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! Customer API tokens: created (shown once), listed, revoked, and checked when a request
//! presents one.
//!
//! A token is `c15t_` and 32 random bytes in base64url; only its hex SHA-256 is stored, so a
//! copy of the database grants nothing. A token belongs to one customer and goes with it.

use crate::views::ApiToken;
use base64::Engine;
use c15t_model::CustomerId;
use c15t_secrets::Secret;
use sha2::{Digest, Sha256};

use crate::{Control, ControlError};

/// The prefix of customer API tokens (so a leaked one is recognisable in a scan).
pub const API_TOKEN_PREFIX: &str = "c15t_";

/// The stored form of a token: the hex SHA-256 of its text.
pub fn api_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A token just created: its record and its value, which is shown this once and never again.
#[derive(Debug)]
pub struct CreatedToken {
    /// The stored token (without its hash).
    pub record: ApiToken,
    /// The token itself.
    pub token: Secret,
}

fn token_not_found(customer: &CustomerId, id: i64) -> ControlError {
    ControlError::NotFound {
        resource: format!("API token {id} of customer `{customer}`"),
    }
}

impl Control {
    /// Creates an API token for `customer` named `name`.
    pub async fn api_token_create(
        &self,
        actor: &str,
        customer: &CustomerId,
        name: &str,
    ) -> Result<CreatedToken, ControlError> {
        if name.trim().is_empty()
            || name.chars().count() > 100
            || name.chars().any(char::is_control)
        {
            return Err(ControlError::BadRequest(
                "name: give the token a name of 1 to 100 characters, not only spaces, without \
                 control characters, e.g. `ci`"
                    .to_owned(),
            ));
        }
        let name = name.trim();
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| {
            ControlError::BadRequest(format!("the operating system gave no random bytes: {e}"))
        })?;
        let token = Secret::new(format!(
            "{API_TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ));
        let hash = api_token_hash(token.expose());
        let record = self
            .store
            .api_token_create(
                actor,
                c15t_store::NewApiToken {
                    customer,
                    name,
                    token_hash: &hash,
                },
                self.clock.now(),
            )
            .await?;
        tracing::info!(actor, %customer, token = record.id, "API token created");
        Ok(CreatedToken {
            record: record.into(),
            token,
        })
    }

    /// A customer's API tokens, revoked ones included, oldest first.
    pub async fn api_token_list(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<ApiToken>, ControlError> {
        if self.store.customer_get(customer).await?.is_none() {
            return Err(crate::config::not_found(customer));
        }
        let rows = self.store.api_token_list(customer).await?;
        Ok(rows.into_iter().map(ApiToken::from).collect())
    }

    /// Revokes one of `customer`'s tokens (`NotFound` if it is not theirs or already revoked).
    pub async fn api_token_revoke(
        &self,
        actor: &str,
        customer: &CustomerId,
        id: i64,
    ) -> Result<(), ControlError> {
        let owned = self
            .api_token_list(customer)
            .await?
            .iter()
            .any(|t| t.id == id && t.revoked_at.is_none());
        if !owned
            || !self
                .store
                .api_token_revoke(actor, id, self.clock.now())
                .await?
        {
            return Err(token_not_found(customer, id));
        }
        tracing::info!(actor, %customer, token = id, "API token revoked");
        Ok(())
    }

    /// The live token `token` is, if any, recording that it was used now.
    pub async fn api_token_authenticate(
        &self,
        token: &str,
    ) -> Result<Option<ApiToken>, ControlError> {
        if !token.starts_with(API_TOKEN_PREFIX) {
            return Ok(None);
        }
        let Some(record) = self.store.api_token_find(&api_token_hash(token)).await? else {
            return Ok(None);
        };
        self.store
            .api_token_touch(record.id, self.clock.now())
            .await?;
        Ok(Some(record.into()))
    }
}

//! People who log in to the admin web UI, and their sessions: accounts (email + argon2id
//! password hash), operators and customer admins, login, session lookup and logout.
//!
//! A session is a random 256-bit token that only the browser's cookie holds; the store keeps
//! its SHA-256, so a copy of the database does not let anyone log in. Each session carries a
//! random CSRF synchronizer token that every form and htmx request must send back.
//!
//! Slowing down repeated failed logins is the HTTP layer's job (it knows the client address);
//! see `c15t_ui`.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use c15t_model::CustomerId;
use c15t_model::UserRole;
use c15t_store::{NewSession, NewUser, UserRecord};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{Control, ControlError, Secret};

/// Shortest password accepted.
pub const PASSWORD_MIN: usize = 12;
/// Longest password accepted (argon2 takes any length; this bounds the work per attempt).
pub const PASSWORD_MAX: usize = 256;

/// A user as shown (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    /// Row id.
    pub id: i64,
    /// Email address (trimmed, lower-case).
    pub email: String,
    /// What the user may do.
    pub role: UserRole,
    /// The customer of a customer admin.
    pub customer: Option<CustomerId>,
}

impl UserView {
    /// Whether this user may see and change `customer`.
    pub fn may_access(&self, customer: &CustomerId) -> bool {
        match self.role {
            UserRole::Operator => true,
            UserRole::CustomerAdmin => self.customer.as_ref() == Some(customer),
        }
    }

    /// The actor name recorded in the audit log, e.g. `ui:ops@example.com`.
    pub fn actor(&self) -> String {
        format!("ui:{}", self.email)
    }
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            email: u.email,
            role: u.role,
            customer: u.customer,
        }
    }
}

/// A session just started: the token goes into the cookie and is never stored.
#[derive(Debug)]
pub struct NewLogin {
    /// The session token for the cookie.
    pub token: Secret,
    /// The session as [`Control::session_get`] will return it.
    pub session: SessionView,
}

/// A live session and its user.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// Who is logged in.
    pub user: UserView,
    /// The CSRF synchronizer token every state-changing request of this session must carry.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

/// Trims and lower-cases an email address and checks its shape.
pub fn normalise_email(email: &str) -> Result<String, ControlError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(ControlError::BadRequest(
            "the email address is not valid; write it as name@example.com".to_owned(),
        ))
    }
}

fn check_password(password: &Secret) -> Result<(), ControlError> {
    let length = password.expose().chars().count();
    if length < PASSWORD_MIN {
        return Err(ControlError::BadRequest(format!(
            "the password is too short; use at least {PASSWORD_MIN} characters"
        )));
    }
    if length > PASSWORD_MAX {
        return Err(ControlError::BadRequest(format!(
            "the password is too long; use at most {PASSWORD_MAX} characters"
        )));
    }
    Ok(())
}

/// argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ControlError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        ControlError::BadRequest(format!("the system random number generator failed: {e}"))
    })?;
    Ok(bytes)
}

/// Hashes a password into a PHC string (argon2id, random salt).
fn hash_password(password: &Secret) -> Result<String, ControlError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| ControlError::BadRequest(format!("could not encode a salt: {e}")))?;
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ControlError::BadRequest(format!("could not hash the password: {e}")))
}

fn verify_password(password: &Secret, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        argon2()
            .verify_password(password.expose().as_bytes(), &hash)
            .is_ok()
    })
}

/// SHA-256 (hex) of a session token: what the store keeps.
pub fn session_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A hash to verify against when the email is unknown, so that an unknown email takes as long
/// as a wrong password and the answer time does not tell which emails exist.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password(&Secret::new("decoy password, never valid".to_owned())).unwrap_or_default()
    })
}

impl Control {
    /// Creates a user: an operator (`customer: None`) or the admin of `customer`.
    pub async fn user_add(
        &self,
        actor: &str,
        email: &str,
        password: &Secret,
        role: UserRole,
        customer: Option<&CustomerId>,
    ) -> Result<UserView, ControlError> {
        let email = normalise_email(email)?;
        check_password(password)?;
        match (role, customer) {
            (UserRole::Operator, Some(_)) => {
                return Err(ControlError::BadRequest(
                    "an operator sees every customer; give either --operator or --customer"
                        .to_owned(),
                ));
            }
            (UserRole::CustomerAdmin, None) => {
                return Err(ControlError::BadRequest(
                    "a customer admin needs the customer they administer (--customer ID)"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        let hash = hash_password(password)?;
        let record = self
            .store
            .user_create(
                actor,
                NewUser {
                    email: &email,
                    password_hash: &hash,
                    role,
                    customer,
                },
                self.clock.now(),
            )
            .await?;
        tracing::info!(actor, user = record.id, role = %role, "user created");
        Ok(record.into())
    }

    /// Makes sure an operator with this email exists (the server calls it on start with the
    /// configured first operator). Creates it if there is no user with this email and returns
    /// `true`; leaves an existing user as it is (its password included) and returns `false`.
    pub async fn user_ensure_operator(
        &self,
        email: &str,
        password: &Secret,
    ) -> Result<bool, ControlError> {
        let email = normalise_email(email)?;
        if self.store.user_find(&email).await?.is_some() {
            return Ok(false);
        }
        match self
            .user_add("config", &email, password, UserRole::Operator, None)
            .await
        {
            Ok(_) => Ok(true),
            // Another replica created it meanwhile.
            Err(ControlError::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every user.
    pub async fn user_list(&self) -> Result<Vec<UserView>, ControlError> {
        Ok(self
            .store
            .user_list()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Sets a user's password (ending their sessions).
    pub async fn user_password_set(
        &self,
        actor: &str,
        email: &str,
        password: &Secret,
    ) -> Result<(), ControlError> {
        let email = normalise_email(email)?;
        check_password(password)?;
        let not_found = || ControlError::NotFound {
            resource: format!("user `{email}`"),
        };
        let user = self.store.user_find(&email).await?.ok_or_else(not_found)?;
        let hash = hash_password(password)?;
        if self
            .store
            .user_password_set(actor, user.id, &hash, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    /// Checks an email and password and starts a session of `ttl`; `None` when they do not
    /// match a user (the caller says so without telling which one was wrong).
    pub async fn login(
        &self,
        email: &str,
        password: &Secret,
        ttl: Duration,
    ) -> Result<Option<NewLogin>, ControlError> {
        let user = match normalise_email(email) {
            Ok(email) => self.store.user_find(&email).await?,
            Err(_) => None,
        };
        let phc = user
            .as_ref()
            .map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
        let password = Secret::new(password.expose().to_owned());
        // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
        let matches = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
            .await
            .unwrap_or(false);
        let Some(user) = user.filter(|_| matches) else {
            tracing::info!("login refused");
            return Ok(None);
        };
        let token = hex::encode(random_bytes::<32>()?);
        let csrf_token = hex::encode(random_bytes::<32>()?);
        let now = self.clock.now();
        let ttl = chrono::Duration::from_std(ttl)
            .map_err(|_| ControlError::BadRequest("the session lifetime is too long".to_owned()))?;
        let session = self
            .store
            .session_create(
                NewSession {
                    user_id: user.id,
                    token_hash: &session_token_hash(&token),
                    csrf_token: &csrf_token,
                    expires_at: now + ttl,
                },
                now,
            )
            .await?;
        tracing::info!(user = user.id, "login");
        Ok(Some(NewLogin {
            token: Secret::new(token),
            session: SessionView {
                user: user.into(),
                csrf_token: session.csrf_token,
                expires_at: session.expires_at,
            },
        }))
    }

    /// The live session whose cookie holds `token`, with its user.
    pub async fn session_get(&self, token: &str) -> Result<Option<SessionView>, ControlError> {
        let now = self.clock.now();
        let Some(session) = self
            .store
            .session_find(&session_token_hash(token), now)
            .await?
        else {
            return Ok(None);
        };
        let Some(user) = self.store.user_get(session.user_id).await? else {
            return Ok(None);
        };
        Ok(Some(SessionView {
            user: user.into(),
            csrf_token: session.csrf_token,
            expires_at: session.expires_at,
        }))
    }

    /// Ends the session whose cookie holds `token` (nothing if there is none).
    pub async fn logout(&self, token: &str) -> Result<(), ControlError> {
        self.store
            .session_delete(&session_token_hash(token))
            .await?;
        let _ = self.store.session_purge(self.clock.now()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalise_email("  Ops@Example.COM ").unwrap(),
            "ops@example.com"
        );
        for bad in [
            "",
            "ops",
            "@example.com",
            "ops@localhost",
            "a b@example.com",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let password = Secret::new("correct horse battery".to_owned());
        let phc = hash_password(&password).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password(&password, &phc));
        assert!(!verify_password(
            &Secret::new("correct horse battery!".to_owned()),
            &phc
        ));
        assert!(!verify_password(&password, decoy_hash()));
    }
}

//! Logins, sessions and CSRF protection of the admin UI: the session cookie, the [`Session`]
//! extractor, the CSRF guard every POST passes through, and the login and logout handlers.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Form;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use c15t_control::{Secret, SessionView};
use serde::Deserialize;

use super::{UiError, UiState, views};

/// The cookie that holds the session token.
pub const SESSION_COOKIE: &str = "c15t_session";
/// The cookie that holds the login form's CSRF token (double submit; there is no session yet).
const LOGIN_COOKIE: &str = "c15t_login";
/// The header htmx sends the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field plain forms send it in.
pub(super) const CSRF_FIELD: &str = "_csrf";
/// Largest form body the guard reads.
const FORM_LIMIT: usize = 256 * 1024;

/// How long a login form's CSRF token is accepted.
const LOGIN_TOKEN_TTL: u64 = 3600;

/// The key that signs the login form's CSRF tokens (HMAC-SHA256): derived from the key file
/// ([`Control::derived_key`](c15t_control::Control::derived_key)), so every replica sharing it
/// accepts the others' tokens, or random per process without a key file. Held in memory only.
pub(crate) struct LoginKey([u8; 32]);

impl LoginKey {
    pub(crate) fn for_control(control: &c15t_control::Control) -> Self {
        if let Some(key) = control.derived_key("admin UI login CSRF tokens") {
            return Self(key);
        }
        let mut key = [0_u8; 32];
        if getrandom::fill(&mut key).is_err() {
            // No randomness: a key nobody knows cannot be made; refuse every login token.
            tracing::error!("no random key for login CSRF tokens; logins are refused");
        }
        Self(key)
    }

    fn mac(&self, payload: &str) -> String {
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(b"c15t login csrf\0");
        mac.update(payload.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A new token: `<expiry, unix seconds>.<random nonce>.<HMAC of both>`.
    fn issue(&self) -> Result<String, UiError> {
        let expires = unix_now() + LOGIN_TOKEN_TTL;
        let payload = format!("{expires}.{}", &random_token()?[..32]);
        let mac = self.mac(&payload);
        Ok(format!("{payload}.{mac}"))
    }

    /// Whether `token` is one this key issued and it has not expired.
    fn verify(&self, token: &str) -> bool {
        let Some((payload, mac)) = token.rsplit_once('.') else {
            return false;
        };
        let Some((expires, _nonce)) = payload.split_once('.') else {
            return false;
        };
        let fresh = expires.parse::<u64>().is_ok_and(|e| e >= unix_now());
        same_token(mac, &self.mac(payload)) && fresh
    }
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// The value of cookie `name` in a request's headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: u64,
    secure: bool,
    strict: bool,
) -> HeaderValue {
    let same_site = if strict { "Strict" } else { "Lax" };
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Compares two tokens in time independent of where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn random_token() -> Result<String, UiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        UiError::Control(c15t_control::ControlError::BadRequest(format!(
            "the system random number generator failed: {e}"
        )))
    })?;
    Ok(hex::encode(bytes))
}

/// The logged-in user's session. Extracting it from a request without a live session answers
/// with a redirect to the login page.
#[derive(Debug, Clone)]
pub(crate) struct Session(pub(crate) SessionView);

async fn session_of(state: &UiState, headers: &HeaderMap) -> Result<Option<SessionView>, UiError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state.control.session_get(token).await?)
}

impl FromRequestParts<UiState> for Session {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> Result<Self, UiError> {
        if let Some(session) = parts.extensions.get::<SessionView>() {
            return Ok(Self(session.clone()));
        }
        session_of(state, &parts.headers)
            .await?
            .map(Self)
            .ok_or(UiError::Login)
    }
}

/// Refuses every POST under `/ui` whose CSRF token does not match: the session's (header or
/// form field) or, for the login form, the login cookie's. A matching session is passed on to
/// the handler in the request's extensions.
pub(super) async fn csrf_guard(
    State(state): State<UiState>,
    request: Request,
    next: Next,
) -> Result<Response, UiError> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let (mut parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| UiError::Csrf)?;
    let field = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    let header = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let sent = header.or(field).unwrap_or_default();
    if parts.uri.path() == "/ui/login" {
        // Double submit, and the token must be one the server signed: a value a client
        // (or a sibling domain that can set cookies) made up is refused.
        let expected = cookie(&parts.headers, LOGIN_COOKIE).unwrap_or_default();
        if !same_token(&sent, expected) || !state.login_key.verify(&sent) {
            return Err(UiError::Csrf);
        }
    } else {
        let Some(session) = session_of(&state, &parts.headers).await? else {
            return Err(UiError::Login);
        };
        if !same_token(&sent, &session.csrf_token) {
            tracing::info!(
                path = parts.uri.path(),
                "admin UI request refused: CSRF token mismatch"
            );
            return Err(UiError::Csrf);
        }
        parts.extensions.insert(session);
    }
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// `GET /ui/login`.
pub(super) async fn login_form(
    State(state): State<UiState>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    if session_of(&state, &headers).await?.is_some() {
        return Ok(Redirect::to("/ui").into_response());
    }
    login_page(&state, StatusCode::OK, "", None)
}

fn login_page(
    state: &UiState,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
) -> Result<Response, UiError> {
    let csrf = state.login_key.issue()?;
    let cookie = set_cookie(
        LOGIN_COOKIE,
        &csrf,
        "/ui/login",
        3600,
        state.secure_cookies,
        true,
    );
    Ok((
        status,
        [(header::SET_COOKIE, cookie)],
        views::login_page(&csrf, email, error),
    )
        .into_response())
}

/// The login form.
#[derive(Deserialize)]
pub(super) struct LoginForm {
    email: String,
    password: String,
}

/// `POST /ui/login`.
pub(super) async fn login(
    State(state): State<UiState>,
    extensions: Extensions,
    Form(form): Form<LoginForm>,
) -> Result<Response, UiError> {
    let email = form.email.trim().to_lowercase();
    let password = Secret::new(form.password);
    let mut keys = vec![format!("email:{email}")];
    if let Some(ConnectInfo(addr)) = extensions.get::<ConnectInfo<SocketAddr>>() {
        keys.push(format!("ip:{}", addr.ip()));
    }
    let wait = state.throttle.wait(&keys, Instant::now());
    if !wait.is_zero() {
        let seconds = wait.as_secs().max(1);
        tracing::info!("login refused: too many failed attempts");
        return login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &email,
            Some(&format!(
                "Too many failed logins. Try again in {seconds} second{}.",
                if seconds == 1 { "" } else { "s" }
            )),
        );
    }
    let Some(login) = state
        .control
        .login(&email, &password, state.session_ttl)
        .await?
    else {
        state.throttle.failed(&keys, Instant::now());
        return login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            &email,
            Some("The email or the password is wrong."),
        );
    };
    state.throttle.succeeded(&keys);
    let mut response = Redirect::to("/ui").into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            login.token.expose(),
            "/",
            state.session_ttl.as_secs(),
            state.secure_cookies,
            false,
        ),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", "/ui/login", 0, state.secure_cookies, true),
    );
    Ok(response)
}

/// `POST /ui/logout`.
pub(super) async fn logout(
    State(state): State<UiState>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.control.logout(token).await?;
    }
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", "/", 0, state.secure_cookies, false),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; c15t_session=abc"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "c15t"), None);
    }

    #[test]
    fn login_tokens_are_signed_and_expire() {
        let key = LoginKey([7; 32]);
        let token = key.issue().unwrap();
        assert!(key.verify(&token));
        assert!(!LoginKey([8; 32]).verify(&token));
        assert!(!key.verify("a"));
        assert!(!key.verify(&token.replacen('.', "0.", 1)));
        let old = "1000.00112233445566778899aabbccddeeff";
        assert!(!key.verify(&format!("{old}.{}", key.mac(old))));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert!(!same_token("", ""));
    }

    #[test]
    fn session_cookies_are_http_only_and_secure_over_https() {
        let c = set_cookie(SESSION_COOKIE, "t", "/", 60, true, false);
        assert_eq!(
            c.to_str().unwrap(),
            "c15t_session=t; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        let c = set_cookie(SESSION_COOKIE, "t", "/", 60, false, false);
        assert!(!c.to_str().unwrap().contains("Secure"));
    }
}

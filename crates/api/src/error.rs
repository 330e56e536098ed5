//! The API's one error type and its JSON body: every failure a handler returns goes through
//! [`ApiError`]'s `IntoResponse`, so status codes, machine-readable codes and the rule that 5xx
//! answers show no internals live in one place.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use c15t_control::ControlError;
use serde::Serialize;
use utoipa::ToSchema;

/// The message of the 404 a customer token gets for another customer's resource: the same
/// bytes as for a customer that does not exist, so a token learns nothing about others.
pub const HIDDEN_MESSAGE: &str = "the customer does not exist";

/// An error body: `{"code": "...", "message": "...", "fields": [...]}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `invalid_config`, `conflict`, `not_found`.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The fields at fault, each with its path (`destinations[0].settings.pixelId`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// On a 409 for a stale revision: the customer's current revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<u64>,
}

/// One field at fault.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// No usable credentials (401 with `WWW-Authenticate: Bearer`).
    Unauthorized(&'static str),
    /// A route for operators called with a customer token (403).
    OperatorOnly,
    /// Another customer's resource, or a customer that does not exist, as a customer token
    /// sees it (404 with [`HIDDEN_MESSAGE`]).
    Hidden,
    /// A 4xx with a code and message.
    Client {
        /// The status.
        status: StatusCode,
        /// Machine-readable code.
        code: &'static str,
        /// Human message.
        message: String,
        /// Fields at fault.
        fields: Vec<FieldError>,
        /// Current revision, for 409.
        current_revision: Option<u64>,
    },
    /// The token is over its request rate limit (429 with `Retry-After`: whole seconds until
    /// a request is allowed again, at least 1).
    RateLimited(std::time::Duration),
    /// The application failed (logged with its chain; 5xx without details).
    Control(ControlError),
    /// This layer failed, e.g. (de)compressing a cached file (logged; 500 without details).
    Internal(String),
}

impl ApiError {
    /// A 4xx with no field list.
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            current_revision: None,
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 413 `payload_too_large`.
    pub fn too_large(limit: usize) -> Self {
        Self::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is over the limit of {limit} bytes"),
        )
    }

    /// 400 `invalid_parameter`: a path or query parameter that is not well formed.
    pub fn invalid_parameter(name: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let path = name.into();
        Self::Client {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_parameter",
            message: format!("{path}: {message}"),
            fields: vec![FieldError { path, message }],
            current_revision: None,
        }
    }

    /// 400 `duplicate_key`: a key given twice in one object of a JSON body (`path` names it,
    /// e.g. `settings.pixelId`).
    pub fn duplicate_key(path: String) -> Self {
        let message = "is given twice in one JSON object; give each key once".to_owned();
        Self::Client {
            status: StatusCode::BAD_REQUEST,
            code: "duplicate_key",
            message: format!("{path}: {message}"),
            fields: vec![FieldError { path, message }],
            current_revision: None,
        }
    }

    /// 400 `invalid_parameter` for a path parameter that is not a well-formed id: the message
    /// shows at most a short prefix of what was sent.
    pub fn invalid_id(name: &str, sent: &str, problem: impl std::fmt::Display) -> Self {
        Self::invalid_parameter(name, format!("{problem}, got {}", prefix(sent)))
    }

    /// 422 `invalid_config` naming one field of a request body.
    pub fn invalid_field(path: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let path = path.into();
        Self::Client {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_config",
            message: format!("{path}: {message}"),
            fields: vec![FieldError { path, message }],
            current_revision: None,
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::Invalid(errors) => {
                let fields: Vec<FieldError> = errors
                    .problems()
                    .iter()
                    .map(|p| FieldError {
                        path: p.path.clone(),
                        message: p.message.clone(),
                    })
                    .collect();
                Self::Client {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: "invalid_config",
                    message: errors.to_string(),
                    fields,
                    current_revision: None,
                }
            }
            ControlError::BadRequest(message) => Self::bad_request(message),
            e @ ControlError::MissingSecret { .. } => Self::bad_request(e.to_string()),
            e @ ControlError::NotFound { .. } => Self::not_found(e.to_string()),
            e @ ControlError::AlreadyExists { .. } => {
                Self::client(StatusCode::CONFLICT, "already_exists", e.to_string())
            }
            ControlError::Conflict {
                customer,
                expected,
                actual,
            } => Self::Client {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: format!(
                    "{customer} changed since revision {expected} (now {actual}); reload and \
                     apply your change again"
                ),
                fields: Vec::new(),
                current_revision: Some(actual),
            },
            e @ ControlError::WorkerNameTaken(_) => {
                Self::client(StatusCode::CONFLICT, "worker_name_taken", e.to_string())
            }
            e @ ControlError::SecretsChanged { .. } => {
                Self::client(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            e @ ControlError::Generate(_) => Self::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "generate_failed",
                e.to_string(),
            ),
            other => Self::Control(other),
        }
    }
}

/// At most the first 32 characters of `text`, backquoted, control and invisible characters
/// escaped: enough to recognise what was sent, never an echo of a long value.
pub(crate) fn prefix(text: &str) -> String {
    const MAX: usize = 32;
    let mut out = String::from("`");
    for (i, c) in text.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() || c.is_whitespace() || c == '`' || c15t_model::is_invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

/// The error and its sources, `: `-separated, for logs.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonSyntaxError(e) => Self::client(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body is not valid JSON: {}", chain(&e)),
            ),
            JsonRejection::JsonDataError(e) => {
                // serde's message names the field and what was expected
                // ("unknown field `x`, expected one of ...", "invalid type: ...").
                let detail =
                    std::error::Error::source(&e).map_or_else(|| e.body_text(), |s| s.to_string());
                Self::client(StatusCode::BAD_REQUEST, "invalid_body", detail)
            }
            JsonRejection::MissingJsonContentType(_) => Self::client(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::too_large(crate::BODY_LIMIT)
            }
            other => Self::bad_request(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::client(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            rejection.body_text(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            Self::Unauthorized(message) => {
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    Json(ErrorBody {
                        code: "unauthorized",
                        message: message.to_owned(),
                        fields: Vec::new(),
                        current_revision: None,
                    }),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
            Self::RateLimited(wait) => {
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let seconds = seconds.max(1);
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(ErrorBody {
                        code: "rate_limited",
                        message: format!(
                            "this token is over its request rate limit; retry in {seconds} s"
                        ),
                        fields: Vec::new(),
                        current_revision: None,
                    }),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                return response;
            }
            Self::OperatorOnly => (
                StatusCode::FORBIDDEN,
                ErrorBody {
                    code: "forbidden",
                    message: "this route is for operators; customer tokens cannot use it"
                        .to_owned(),
                    fields: Vec::new(),
                    current_revision: None,
                },
            ),
            Self::Hidden => (
                StatusCode::NOT_FOUND,
                ErrorBody {
                    code: "not_found",
                    message: HIDDEN_MESSAGE.to_owned(),
                    fields: Vec::new(),
                    current_revision: None,
                },
            ),
            Self::Client {
                status,
                code,
                message,
                fields,
                current_revision,
            } => (
                status,
                ErrorBody {
                    code,
                    message,
                    fields,
                    current_revision,
                },
            ),
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorBody {
                        code: "internal",
                        message: "the control plane failed; the server log has the details"
                            .to_owned(),
                        fields: Vec::new(),
                        current_revision: None,
                    },
                )
            }
            Self::Control(e) if e.fault().is_some() => {
                // A fault the operator must fix: say which, and when to try again, so that
                // clients back off instead of treating it as a bug of the request.
                let fault = e.fault().unwrap_or(c15t_control::DbFault::Unreachable);
                tracing::error!(error = %chain(&e), "request failed: {fault}");
                let code = match fault {
                    c15t_control::DbFault::Full => "database_full",
                    c15t_control::DbFault::ReadOnly => "database_read_only",
                    _ => "database_unavailable",
                };
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(ErrorBody {
                        code,
                        message: format!("{fault}; retry later"),
                        fields: Vec::new(),
                        current_revision: None,
                    }),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                return response;
            }
            Self::Control(e) => {
                let (status, code, message) = match &e {
                    ControlError::Deploy(_)
                    | ControlError::Webhook(_)
                    | ControlError::WorkerUnhealthy { .. }
                    | ControlError::RolledBackAutomatically { .. } => (
                        StatusCode::BAD_GATEWAY,
                        "deploy_failed",
                        "the deploy failed; the deployment history records why",
                    ),
                    _ => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "the control plane failed; the server log has the details",
                    ),
                };
                tracing::error!(error = %chain(&e), "request failed");
                (
                    status,
                    ErrorBody {
                        code,
                        message: message.to_owned(),
                        fields: Vec::new(),
                        current_revision: None,
                    },
                )
            }
        };
        (status, Json(body)).into_response()
    }
}

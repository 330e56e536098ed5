//! A fake of Turso's libSQL server (sqld): Hrana over HTTP, backed by a real SQLite database
//! file in a temporary directory, so a generated worker's `@libsql/kysely-libsql` dialect (which
//! in workerd is `@libsql/client/web` over `@libsql/hrana-client`) runs its SQL for real.
//!
//! What it implements, following `docs/HRANA_3_SPEC.md` of the libSQL repository ("Hrana over
//! HTTP" and "Shared structures") and what `libsql-server` does where the spec leaves room:
//!
//! - Version probing: `GET /v2` and `GET /v3` answer 200 (no token needed, as the client probes
//!   without one); `GET /` and `GET /health` too.
//! - `POST /v2/pipeline` and `POST /v3/pipeline` (JSON): the stream requests `execute`, `batch`,
//!   `sequence`, `describe`, `store_sql`, `close_sql`, `close` and, on v3 only,
//!   `get_autocommit`. Every request of a pipeline runs, in order, even after one fails; a
//!   failing request is `{"type":"error","error":{"message","code"}}`.
//! - `POST /v3/cursor` (JSON): a batch whose results come as newline-delimited JSON, first the
//!   `CursorRespBody` then `step_begin`/`row`/`step_end`/`step_error` entries.
//! - Batches with step conditions `ok`, `error`, `not`, `and`, `or` and (v3) `is_autocommit`;
//!   a condition naming a step that is not before it fails the batch.
//! - Streams: one SQLite connection each, so `BEGIN` in one request and `COMMIT` in a later one
//!   work. Every answer carries a fresh random baton (the old one is void); a stream idle longer
//!   than its expiry (10 s, as sqld) is dropped, rolling back what it had open, and its baton
//!   then gets sqld's `400 STREAM_EXPIRED`; a baton never issued is a 400 protocol error.
//! - Statements by `sql` or stored `sql_id`, positional `args` and `named_args` bound as sqld
//!   binds them (`:a`, `@a`, `$a` match a name given with or without its prefix; `?NNN` takes
//!   position NNN), `want_rows`; results with `cols` (`name`, `decltype`), `rows`,
//!   `affected_row_count` (0 for read-only statements), `last_insert_rowid`; values `null`,
//!   `integer` (a string), `float`, `text` and `blob` (base64, padded or not).
//! - Errors as sqld words them: `SQL_INPUT_ERROR`, `SQLITE_CONSTRAINT` and the other
//!   `SQLITE_*` codes, `SQL_MANY_STATEMENTS`, `SQL_NO_STATEMENT`, `ARGS_INVALID`,
//!   `ARGS_BOTH_POSITIONAL_AND_NAMED`.
//! - `Authorization: Bearer <token>` on every `POST`; anything else is a 401.
//!
//! What it leaves out, and why:
//!
//! - The Protobuf encoding (`/v3-protobuf`, which answers 404, so a client probing for it falls
//!   back as it does on a server without it). The spec makes every encoding optional, and
//!   `@libsql/client` 0.8 (what `@libsql/kysely-libsql` 0.4.1 uses) never probes: it speaks
//!   v2 JSON.
//! - Hrana over WebSocket: workers use `@libsql/client/web` over HTTP.
//! - `rows_read` and `rows_written` are always 0 (sqld's own accounting for billing); the
//!   client does not read them. `base_url` is always null (one server, nothing to stick to).
//! - Replication, namespaces, JWT verification (the token is compared as an opaque string, as
//!   the worker only passes it on) and sqld's limits on response size and stored SQL texts.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode};
use serde::Deserialize;
use serde_json::{Value as Json, json};

/// How long a stream may sit idle before it is closed (sqld's `EXPIRATION`).
pub const STREAM_EXPIRY: Duration = Duration::from_secs(10);

/// How long a statement waits for another stream's write lock before failing with
/// `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The migration script [`FakeLibsql::migrate_c15t`] runs with Node.js.
const C15T_MIGRATE: &str = include_str!("../assets/c15t-migrate.mjs");

/// A running fake libSQL server; stops when dropped.
#[derive(Debug)]
pub struct FakeLibsql {
    url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl FakeLibsql {
    /// Starts the server on `127.0.0.1` (an ephemeral port) with a fresh, empty database that
    /// accepts `auth_token` as its bearer token.
    ///
    /// # Panics
    /// When the database or the listener cannot be created.
    pub fn start(auth_token: &str) -> Self {
        Self::start_with_expiry(auth_token, STREAM_EXPIRY)
    }

    /// [`start`](Self::start), with idle streams closed after `expiry` instead of 10 seconds.
    ///
    /// # Panics
    /// When the database or the listener cannot be created.
    pub fn start_with_expiry(auth_token: &str, expiry: Duration) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("c15t-libsql-")
            .tempdir()
            .expect("temp dir for the fake libSQL database");
        let db_path = dir.path().join("data.sqlite");
        let conn = Connection::open(&db_path).expect("create the SQLite database");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("WAL journal mode");
        drop(conn);

        let shared = Arc::new(Shared {
            token: auth_token.to_owned(),
            db_path,
            expiry,
            streams: Mutex::new(Streams::default()),
        });
        let app = Router::new()
            .route(
                "/",
                get(|| async { "Hello, this is a fake libSQL server\n" }),
            )
            .route("/health", get(|| async { "" }))
            .route("/v2", get(|| async { "" }))
            .route("/v3", get(|| async { "" }))
            .route("/v2/pipeline", post(pipeline_v2))
            .route("/v3/pipeline", post(pipeline_v3))
            .route("/v3/cursor", post(cursor_v3))
            .with_state(Arc::clone(&shared));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // A runtime of its own, so synchronous tests (which drive `wrangler dev`) can use it.
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime for the fake libSQL server");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                tokio::select! {
                    served = axum::serve(listener, app) => served.expect("fake libSQL server"),
                    _ = stopped => {}
                }
            });
        });
        Self {
            url,
            shared,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// The base URL, `http://127.0.0.1:PORT`, usable as `TURSO_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bearer token it accepts.
    pub fn auth_token(&self) -> &str {
        &self.shared.token
    }

    /// The SQLite file behind it.
    pub fn db_path(&self) -> &Path {
        &self.shared.db_path
    }

    /// Streams open between requests now (not closed, not expired).
    pub fn open_streams(&self) -> usize {
        let mut streams = self.shared.lock_streams();
        streams.sweep(self.shared.expiry);
        streams.open.len()
    }

    /// Runs `sql` on a connection of its own, outside any stream, and returns the rows with
    /// each value in its Hrana JSON encoding (`{"type":"integer","value":"1"}`, ...).
    ///
    /// # Panics
    /// When the statement fails.
    pub fn query(&self, sql: &str) -> Vec<Vec<Json>> {
        let conn = open_connection(&self.shared.db_path).expect("open the SQLite database");
        let mut stmt = conn
            .prepare(sql)
            .unwrap_or_else(|e| panic!("prepare {sql}: {e}"));
        let count = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().unwrap_or_else(|e| panic!("run {sql}: {e}")) {
            out.push(
                (0..count)
                    .map(|i| encode_value(row.get_ref(i).expect("column")))
                    .collect(),
            );
        }
        out
    }

    /// Migrates the database to `@c15t/backend`'s latest schema with c15t's own migrator, run
    /// by `node` over this server's HTTP endpoint (through `@libsql/kysely-libsql`, as the
    /// worker connects) with the packages of `node_modules` (the pinned toolchain's).
    ///
    /// # Panics
    /// When the migration fails, with the script's output.
    pub fn migrate_c15t(&self, node_modules: &Path) {
        let output = run_node_script(node_modules, C15T_MIGRATE, &[self.url(), self.auth_token()]);
        assert!(
            output.status.success(),
            "c15t migration failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for FakeLibsql {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs an ES module `script` with `node`, resolving its imports in `node_modules` (linked
/// beside it in a temporary directory, as ESM ignores `NODE_PATH`), with `args` after it.
///
/// # Panics
/// When `node` cannot be started.
pub fn run_node_script(node_modules: &Path, script: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::Builder::new()
        .prefix("c15t-node-")
        .tempdir()
        .expect("temp dir for a Node.js script");
    let node_modules = node_modules
        .canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", node_modules.display()));
    std::os::unix::fs::symlink(&node_modules, dir.path().join("node_modules"))
        .expect("link node_modules");
    let path = dir.path().join("script.mjs");
    std::fs::write(&path, script).expect("write the script");
    Command::new("node")
        .arg(&path)
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("run node (is Node.js installed?): {e}"))
}

#[derive(Debug)]
struct Shared {
    token: String,
    db_path: PathBuf,
    expiry: Duration,
    streams: Mutex<Streams>,
}

impl Shared {
    fn lock_streams(&self) -> std::sync::MutexGuard<'_, Streams> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The streams between requests, by their current baton.
#[derive(Debug, Default)]
struct Streams {
    open: HashMap<String, Parked>,
    /// Batons of streams closed for inactivity, so a late client is told why.
    expired: HashSet<String>,
}

impl Streams {
    fn sweep(&mut self, expiry: Duration) {
        let now = Instant::now();
        let stale: Vec<String> = self
            .open
            .iter()
            .filter(|(_, p)| now.duration_since(p.since) > expiry)
            .map(|(b, _)| b.clone())
            .collect();
        for baton in stale {
            // Dropping the connection rolls back what the stream had open.
            self.open.remove(&baton);
            self.expired.insert(baton);
        }
    }
}

#[derive(Debug)]
struct Parked {
    stream: HranaStream,
    since: Instant,
}

/// One Hrana stream: a SQLite connection and the SQL texts stored on it.
struct HranaStream {
    conn: Connection,
    sqls: HashMap<i32, String>,
}

impl std::fmt::Debug for HranaStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HranaStream")
            .field("autocommit", &self.conn.is_autocommit())
            .field("sqls", &self.sqls.len())
            .finish()
    }
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Version {
    Hrana2 = 2,
    Hrana3 = 3,
}

/// Why a whole HTTP request fails.
#[derive(Debug)]
enum HttpFailure {
    Unauthorized(&'static str),
    /// The client broke the protocol: 400 with a plain-text reason, as sqld answers.
    Protocol(String),
    /// sqld's `StreamError::StreamExpired`: 400 with a JSON `Error`.
    StreamExpired,
    Internal(String),
}

impl IntoResponse for HttpFailure {
    fn into_response(self) -> Response {
        let text = |status: StatusCode, body: String| {
            (status, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
        };
        match self {
            Self::Unauthorized(why) => {
                text(StatusCode::UNAUTHORIZED, format!("Unauthorized: {why}"))
            }
            Self::Protocol(why) => text(StatusCode::BAD_REQUEST, why),
            Self::StreamExpired => (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/json")],
                json!({
                    "message": "The stream has expired due to inactivity",
                    "code": "STREAM_EXPIRED",
                })
                .to_string(),
            )
                .into_response(),
            Self::Internal(why) => text(StatusCode::INTERNAL_SERVER_ERROR, why),
        }
    }
}

/// Why one stream request fails: a protocol violation fails the whole HTTP request (as in
/// sqld), an error is that request's `{"type":"error"}` result.
#[derive(Debug)]
enum Failure {
    Protocol(String),
    Error(HranaError),
}

impl From<HranaError> for Failure {
    fn from(e: HranaError) -> Self {
        Self::Error(e)
    }
}

/// Hrana's `Error` structure.
#[derive(Debug, Clone)]
struct HranaError {
    message: String,
    code: &'static str,
}

impl HranaError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code,
        }
    }

    fn to_json(&self) -> Json {
        json!({ "message": self.message, "code": self.code })
    }
}

/// sqld's `StmtError` from a rusqlite error (`stmt_error_from_sqld_error`).
impl From<rusqlite::Error> for HranaError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(failure, message) => Self::new(
                sqlite_error_code(failure.code),
                format!(
                    "SQLite error: {}",
                    message.unwrap_or_else(|| failure.to_string())
                ),
            ),
            rusqlite::Error::SqlInputError { msg, offset, .. } => Self::new(
                "SQL_INPUT_ERROR",
                format!("SQL input error: {msg} (at offset {offset})"),
            ),
            rusqlite::Error::MultipleStatement => Self::new(
                "SQL_MANY_STATEMENTS",
                "SQL string contains more than one statement",
            ),
            other => Self::new("SQLITE_UNKNOWN", format!("SQLite error: {other}")),
        }
    }
}

fn sqlite_error_code(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InternalMalfunction => "SQLITE_INTERNAL",
        ErrorCode::PermissionDenied => "SQLITE_PERM",
        ErrorCode::OperationAborted => "SQLITE_ABORT",
        ErrorCode::DatabaseBusy => "SQLITE_BUSY",
        ErrorCode::DatabaseLocked => "SQLITE_LOCKED",
        ErrorCode::OutOfMemory => "SQLITE_NOMEM",
        ErrorCode::ReadOnly => "SQLITE_READONLY",
        ErrorCode::OperationInterrupted => "SQLITE_INTERRUPT",
        ErrorCode::SystemIoFailure => "SQLITE_IOERR",
        ErrorCode::DatabaseCorrupt => "SQLITE_CORRUPT",
        ErrorCode::NotFound => "SQLITE_NOTFOUND",
        ErrorCode::DiskFull => "SQLITE_FULL",
        ErrorCode::CannotOpen => "SQLITE_CANTOPEN",
        ErrorCode::FileLockingProtocolFailed => "SQLITE_PROTOCOL",
        ErrorCode::SchemaChanged => "SQLITE_SCHEMA",
        ErrorCode::TooBig => "SQLITE_TOOBIG",
        ErrorCode::ConstraintViolation => "SQLITE_CONSTRAINT",
        ErrorCode::TypeMismatch => "SQLITE_MISMATCH",
        ErrorCode::ApiMisuse => "SQLITE_MISUSE",
        ErrorCode::NoLargeFileSupport => "SQLITE_NOLFS",
        ErrorCode::AuthorizationForStatementDenied => "SQLITE_AUTH",
        ErrorCode::ParameterOutOfRange => "SQLITE_RANGE",
        ErrorCode::NotADatabase => "SQLITE_NOTADB",
        _ => "SQLITE_UNKNOWN",
    }
}

// ----- Protocol structures (requests) -----

#[derive(Debug, Deserialize)]
struct PipelineReqBody {
    #[serde(default)]
    baton: Option<String>,
    requests: Vec<StreamRequest>,
}

#[derive(Debug, Deserialize)]
struct CursorReqBody {
    #[serde(default)]
    baton: Option<String>,
    batch: Batch,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamRequest {
    Close,
    Execute {
        stmt: Stmt,
    },
    Batch {
        batch: Batch,
    },
    Sequence {
        #[serde(default)]
        sql: Option<String>,
        #[serde(default)]
        sql_id: Option<i32>,
    },
    Describe {
        #[serde(default)]
        sql: Option<String>,
        #[serde(default)]
        sql_id: Option<i32>,
    },
    StoreSql {
        sql_id: i32,
        sql: String,
    },
    CloseSql {
        sql_id: i32,
    },
    GetAutocommit,
}

#[derive(Debug, Deserialize)]
struct Stmt {
    #[serde(default)]
    sql: Option<String>,
    #[serde(default)]
    sql_id: Option<i32>,
    #[serde(default)]
    args: Vec<Value>,
    #[serde(default)]
    named_args: Vec<NamedArg>,
    #[serde(default)]
    want_rows: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct NamedArg {
    name: String,
    value: Value,
}

#[derive(Debug, Deserialize)]
struct Batch {
    steps: Vec<BatchStep>,
}

#[derive(Debug, Deserialize)]
struct BatchStep {
    #[serde(default)]
    condition: Option<BatchCond>,
    stmt: Stmt,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BatchCond {
    Ok { step: u32 },
    Error { step: u32 },
    Not { cond: Box<BatchCond> },
    And { conds: Vec<BatchCond> },
    Or { conds: Vec<BatchCond> },
    IsAutocommit,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Value {
    Null,
    Integer { value: IntegerText },
    Float { value: f64 },
    Text { value: String },
    Blob { base64: String },
}

/// A 64-bit integer, a string in JSON (a number is accepted too).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IntegerText {
    Text(String),
    Number(i64),
}

/// Base64 with or without padding: the spec does not say, and clients differ.
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl Value {
    fn to_sql(&self) -> Result<rusqlite::types::Value, Failure> {
        use rusqlite::types::Value as Sql;
        Ok(match self {
            Self::Null => Sql::Null,
            Self::Integer {
                value: IntegerText::Number(n),
            } => Sql::Integer(*n),
            Self::Integer {
                value: IntegerText::Text(text),
            } => Sql::Integer(
                text.parse()
                    .map_err(|_| Failure::Protocol(format!("invalid integer value {text:?}")))?,
            ),
            Self::Float { value } => Sql::Real(*value),
            Self::Text { value } => Sql::Text(value.clone()),
            Self::Blob { base64 } => Sql::Blob(
                BASE64_ANY_PADDING
                    .decode(base64)
                    .map_err(|e| Failure::Protocol(format!("invalid base64 in a blob: {e}")))?,
            ),
        })
    }
}

fn encode_value(value: ValueRef<'_>) -> Json {
    match value {
        ValueRef::Null => json!({ "type": "null" }),
        ValueRef::Integer(i) => json!({ "type": "integer", "value": i.to_string() }),
        ValueRef::Real(f) if f.is_finite() => json!({ "type": "float", "value": f }),
        // JSON has no infinities; sqld's serde_json writes them as null too.
        ValueRef::Real(_) => json!({ "type": "float", "value": null }),
        ValueRef::Text(t) => json!({ "type": "text", "value": String::from_utf8_lossy(t) }),
        ValueRef::Blob(b) => json!({ "type": "blob", "base64": STANDARD.encode(b) }),
    }
}

// ----- HTTP handlers -----

async fn pipeline_v2(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    pipeline(shared, headers, body, Version::Hrana2)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn pipeline_v3(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    pipeline(shared, headers, body, Version::Hrana3)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn cursor_v3(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    cursor(shared, headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), HttpFailure> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(HttpFailure::Unauthorized("no Authorization header"))?;
    let value = value
        .to_str()
        .map_err(|_| HttpFailure::Unauthorized("the Authorization header is not text"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            if token.trim() == shared.token {
                Ok(())
            } else {
                Err(HttpFailure::Unauthorized("the token is not valid"))
            }
        }
        _ => Err(HttpFailure::Unauthorized("expected a Bearer token")),
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, HttpFailure> {
    serde_json::from_slice(body)
        .map_err(|e| HttpFailure::Protocol(format!("JSON deserialization error: {e}")))
}

async fn pipeline(
    shared: Arc<Shared>,
    headers: HeaderMap,
    body: Bytes,
    version: Version,
) -> Result<Response, HttpFailure> {
    authorize(&shared, &headers)?;
    let req: PipelineReqBody = parse_body(&body)?;
    let stream = acquire(&shared, req.baton.as_deref())?;
    let (stream, results) = run_blocking(move || {
        let mut stream = Some(stream);
        let mut results = Vec::with_capacity(req.requests.len());
        for request in &req.requests {
            let Some(open) = stream.as_mut() else {
                // After `close`, later requests of the pipeline have no stream to run on.
                results.push(json!({
                    "type": "error",
                    "error": HranaError::new("STREAM_CLOSED", "The stream has been closed").to_json(),
                }));
                continue;
            };
            if matches!(request, StreamRequest::Close) {
                stream = None;
                results.push(json!({ "type": "ok", "response": { "type": "close" } }));
                continue;
            }
            match handle_request(open, request, version) {
                Ok(response) => results.push(json!({ "type": "ok", "response": response })),
                Err(Failure::Error(e)) => {
                    results.push(json!({ "type": "error", "error": e.to_json() }));
                }
                Err(Failure::Protocol(why)) => return Err(why),
            }
        }
        Ok((stream, results))
    })
    .await?;
    let baton = release(&shared, stream);
    let body = json!({ "baton": baton, "base_url": null, "results": results });
    Ok(json_response(body.to_string()))
}

async fn cursor(
    shared: Arc<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpFailure> {
    authorize(&shared, &headers)?;
    let req: CursorReqBody = parse_body(&body)?;
    let stream = acquire(&shared, req.baton.as_deref())?;
    let (stream, entries) = run_blocking(move || {
        let mut open = stream;
        let outcomes = match run_batch(&mut open, &req.batch, Version::Hrana3) {
            Ok(outcomes) => outcomes,
            Err(Failure::Protocol(why)) => return Err(why),
            Err(Failure::Error(e)) => {
                return Ok((
                    Some(open),
                    vec![json!({ "type": "error", "error": e.to_json() })],
                ));
            }
        };
        let mut entries = Vec::new();
        for (step, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                StepOutcome::Skipped => {}
                StepOutcome::Failed(e) => entries.push(json!({
                    "type": "step_error", "step": step, "error": e.to_json(),
                })),
                StepOutcome::Done(result) => {
                    entries
                        .push(json!({ "type": "step_begin", "step": step, "cols": result.cols }));
                    for row in result.rows {
                        entries.push(json!({ "type": "row", "row": row }));
                    }
                    entries.push(json!({
                        "type": "step_end",
                        "affected_row_count": result.affected_row_count,
                        "last_insert_rowid": result.last_insert_rowid.to_string(),
                    }));
                }
            }
        }
        Ok((Some(open), entries))
    })
    .await?;
    let baton = release(&shared, stream);
    let mut body = json!({ "baton": baton, "base_url": null }).to_string();
    body.push('\n');
    for entry in entries {
        body.push_str(&entry.to_string());
        body.push('\n');
    }
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response())
}

fn json_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Runs SQLite work off the async workers (a statement may wait for another stream's lock).
async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<(Option<HranaStream>, T), String> + Send + 'static,
) -> Result<(Option<HranaStream>, T), HttpFailure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| HttpFailure::Internal(format!("the request panicked: {e}")))?
        .map_err(HttpFailure::Protocol)
}

/// The stream a baton names (taken out until [`release`]), or a new one for no baton.
fn acquire(shared: &Shared, baton: Option<&str>) -> Result<HranaStream, HttpFailure> {
    let Some(baton) = baton else {
        // Expire idle streams first: one left holding a write lock would block this one.
        shared.lock_streams().sweep(shared.expiry);
        let conn = open_connection(&shared.db_path)
            .map_err(|e| HttpFailure::Internal(format!("cannot open the database: {e}")))?;
        return Ok(HranaStream {
            conn,
            sqls: HashMap::new(),
        });
    };
    let mut streams = shared.lock_streams();
    streams.sweep(shared.expiry);
    if let Some(parked) = streams.open.remove(baton) {
        Ok(parked.stream)
    } else if streams.expired.contains(baton) {
        Err(HttpFailure::StreamExpired)
    } else {
        Err(HttpFailure::Protocol(
            "Received an invalid baton".to_owned(),
        ))
    }
}

/// Parks a stream under a fresh baton, or forgets a closed one (`None`: a null baton).
fn release(shared: &Shared, stream: Option<HranaStream>) -> Option<String> {
    let stream = stream?;
    let mut streams = shared.lock_streams();
    let baton = STANDARD.encode(rand::random::<[u8; 24]>());
    streams.open.insert(
        baton.clone(),
        Parked {
            stream,
            since: Instant::now(),
        },
    );
    Some(baton)
}

// ----- Executing requests -----

fn handle_request(
    stream: &mut HranaStream,
    request: &StreamRequest,
    version: Version,
) -> Result<Json, Failure> {
    Ok(match request {
        StreamRequest::Close => json!({ "type": "close" }),
        StreamRequest::Execute { stmt } => {
            let result = execute(stream, stmt)?;
            json!({ "type": "execute", "result": result.to_json() })
        }
        StreamRequest::Batch { batch } => {
            let outcomes = run_batch(stream, batch, version)?;
            let mut step_results = Vec::with_capacity(outcomes.len());
            let mut step_errors = Vec::with_capacity(outcomes.len());
            for outcome in outcomes {
                match outcome {
                    StepOutcome::Skipped => {
                        step_results.push(Json::Null);
                        step_errors.push(Json::Null);
                    }
                    StepOutcome::Done(result) => {
                        step_results.push(result.to_json());
                        step_errors.push(Json::Null);
                    }
                    StepOutcome::Failed(e) => {
                        step_results.push(Json::Null);
                        step_errors.push(e.to_json());
                    }
                }
            }
            json!({
                "type": "batch",
                "result": { "step_results": step_results, "step_errors": step_errors },
            })
        }
        StreamRequest::Sequence { sql, sql_id } => {
            let sql = sql_text(stream, sql.as_deref(), *sql_id)?.to_owned();
            stream.conn.execute_batch(&sql).map_err(HranaError::from)?;
            json!({ "type": "sequence" })
        }
        StreamRequest::Describe { sql, sql_id } => {
            let sql = sql_text(stream, sql.as_deref(), *sql_id)?.to_owned();
            json!({ "type": "describe", "result": describe(&stream.conn, &sql)? })
        }
        StreamRequest::StoreSql { sql_id, sql } => {
            if stream.sqls.contains_key(sql_id) {
                return Err(Failure::Protocol(format!(
                    "SQL text with id {sql_id} already exists"
                )));
            }
            stream.sqls.insert(*sql_id, sql.clone());
            json!({ "type": "store_sql" })
        }
        StreamRequest::CloseSql { sql_id } => {
            stream.sqls.remove(sql_id);
            json!({ "type": "close_sql" })
        }
        StreamRequest::GetAutocommit => {
            require(version, Version::Hrana3, "the `get_autocommit` request")?;
            json!({ "type": "get_autocommit", "is_autocommit": stream.conn.is_autocommit() })
        }
    })
}

fn require(version: Version, min: Version, what: &str) -> Result<(), Failure> {
    if version < min {
        Err(Failure::Protocol(format!(
            "{what} is only supported in protocol version {} and higher",
            min as u8
        )))
    } else {
        Ok(())
    }
}

fn sql_text<'s>(
    stream: &'s HranaStream,
    sql: Option<&'s str>,
    sql_id: Option<i32>,
) -> Result<&'s str, Failure> {
    match (sql, sql_id) {
        (Some(sql), None) => Ok(sql),
        (None, Some(id)) => stream
            .sqls
            .get(&id)
            .map(String::as_str)
            .ok_or_else(|| Failure::Protocol(format!("SQL text {id} not found"))),
        (Some(_), Some(_)) => Err(Failure::Protocol(
            "Only one of SQL text and SQL id can be given".to_owned(),
        )),
        (None, None) => Err(Failure::Protocol(
            "Either SQL text or SQL id must be given".to_owned(),
        )),
    }
}

/// A statement's result (`StmtResult`).
#[derive(Debug)]
struct StmtResult {
    cols: Vec<Json>,
    rows: Vec<Vec<Json>>,
    affected_row_count: u64,
    last_insert_rowid: i64,
    duration: Duration,
}

impl StmtResult {
    fn to_json(&self) -> Json {
        json!({
            "cols": self.cols,
            "rows": self.rows,
            "affected_row_count": self.affected_row_count,
            "last_insert_rowid": self.last_insert_rowid.to_string(),
            "rows_read": 0,
            "rows_written": 0,
            "query_duration_ms": self.duration.as_secs_f64() * 1000.0,
        })
    }
}

/// True when `sql` holds no statement: only whitespace, semicolons and comments.
fn is_empty_sql(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return rest.is_empty();
        }
    }
}

fn execute(stream: &HranaStream, stmt: &Stmt) -> Result<StmtResult, Failure> {
    let started = Instant::now();
    let sql = sql_text(stream, stmt.sql.as_deref(), stmt.sql_id)?;
    if is_empty_sql(sql) {
        return Err(HranaError::new(
            "SQL_NO_STATEMENT",
            "SQL string does not contain any statement",
        )
        .into());
    }
    if !stmt.args.is_empty() && !stmt.named_args.is_empty() {
        return Err(HranaError::new(
            "ARGS_BOTH_POSITIONAL_AND_NAMED",
            "Specifying both positional and named arguments is not supported",
        )
        .into());
    }
    let conn = &stream.conn;
    let mut prepared = conn.prepare(sql).map_err(HranaError::from)?;
    bind(&mut prepared, stmt)?;
    let cols: Vec<Json> = prepared
        .columns()
        .iter()
        .map(|c| json!({ "name": c.name(), "decltype": c.decl_type() }))
        .collect();
    let count = cols.len();
    let want_rows = stmt.want_rows.unwrap_or(true);
    let readonly = prepared.readonly();
    let mut rows = Vec::new();
    {
        let mut cursor = prepared.raw_query();
        while let Some(row) = cursor.next().map_err(HranaError::from)? {
            if want_rows {
                let mut values = Vec::with_capacity(count);
                for i in 0..count {
                    values.push(encode_value(row.get_ref(i).map_err(HranaError::from)?));
                }
                rows.push(values);
            }
        }
    }
    Ok(StmtResult {
        cols,
        rows,
        affected_row_count: if readonly { 0 } else { conn.changes() },
        last_insert_rowid: conn.last_insert_rowid(),
        duration: started.elapsed(),
    })
}

/// Binds arguments as sqld's `Params::bind` does.
fn bind(prepared: &mut rusqlite::Statement<'_>, stmt: &Stmt) -> Result<(), Failure> {
    let invalid = |why: String| {
        Failure::Error(HranaError::new(
            "ARGS_INVALID",
            format!("Arguments do not match SQL parameters: {why}"),
        ))
    };
    let count = prepared.parameter_count();
    let given = stmt.args.len() + stmt.named_args.len();
    if given > count {
        return Err(invalid(format!(
            "too many parameters, expected {count} found {given}"
        )));
    }
    let named: HashMap<&str, &Value> = stmt
        .named_args
        .iter()
        .map(|a| (a.name.as_str(), &a.value))
        .collect();
    let positional = |pos: usize| {
        if stmt.named_args.is_empty() {
            pos.checked_sub(1).and_then(|i| stmt.args.get(i))
        } else {
            None
        }
    };
    for index in 1..=count {
        let name = prepared.parameter_name(index).map(str::to_owned);
        let value = match name.as_deref() {
            Some(name) => match name.strip_prefix('?') {
                Some(number) => {
                    let pos = number.parse::<usize>().map_err(|_| {
                        invalid(format!(
                            "invalid parameter {name}: expected a numerical position after `?`"
                        ))
                    })?;
                    positional(pos)
                }
                None => named.get(name).or_else(|| named.get(&name[1..])).copied(),
            },
            None => positional(index),
        };
        match value {
            Some(value) => prepared
                .raw_bind_parameter(index, value.to_sql()?)
                .map_err(HranaError::from)?,
            None if prepared.is_explain() > 0 => return Ok(()),
            None => {
                let which = name.unwrap_or_else(|| index.to_string());
                return Err(invalid(format!("value for parameter {which} not found")));
            }
        }
    }
    Ok(())
}

fn describe(conn: &Connection, sql: &str) -> Result<Json, Failure> {
    if is_empty_sql(sql) {
        return Err(HranaError::new(
            "SQL_NO_STATEMENT",
            "SQL string does not contain any statement",
        )
        .into());
    }
    let prepared = conn.prepare(sql).map_err(HranaError::from)?;
    let params: Vec<Json> = (1..=prepared.parameter_count())
        .map(|i| json!({ "name": prepared.parameter_name(i) }))
        .collect();
    let cols: Vec<Json> = prepared
        .columns()
        .iter()
        .map(|c| json!({ "name": c.name(), "decltype": c.decl_type() }))
        .collect();
    Ok(json!({
        "params": params,
        "cols": cols,
        "is_explain": prepared.is_explain() > 0,
        "is_readonly": prepared.readonly(),
    }))
}

#[derive(Debug)]
enum StepOutcome {
    Skipped,
    Done(StmtResult),
    Failed(HranaError),
}

fn run_batch(
    stream: &mut HranaStream,
    batch: &Batch,
    version: Version,
) -> Result<Vec<StepOutcome>, Failure> {
    // Check every condition before running anything, as sqld compiles the batch first.
    for (i, step) in batch.steps.iter().enumerate() {
        if let Some(cond) = &step.condition {
            check_cond(cond, i, version)?;
        }
    }
    let mut outcomes: Vec<StepOutcome> = Vec::with_capacity(batch.steps.len());
    for step in &batch.steps {
        let run = step
            .condition
            .as_ref()
            .is_none_or(|c| eval_cond(c, &outcomes, &stream.conn));
        let outcome = if run {
            match execute(stream, &step.stmt) {
                Ok(result) => StepOutcome::Done(result),
                Err(Failure::Error(e)) => StepOutcome::Failed(e),
                Err(protocol) => return Err(protocol),
            }
        } else {
            StepOutcome::Skipped
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

fn check_cond(cond: &BatchCond, step: usize, version: Version) -> Result<(), Failure> {
    match cond {
        BatchCond::Ok { step: target } | BatchCond::Error { step: target } => {
            if usize::try_from(*target).is_ok_and(|t| t < step) {
                Ok(())
            } else {
                Err(HranaError::new(
                    "BATCH_COND_BAD_STEP",
                    format!(
                        "Condition in step {step} refers to step {target}, which is not before it"
                    ),
                )
                .into())
            }
        }
        BatchCond::Not { cond } => check_cond(cond, step, version),
        BatchCond::And { conds } | BatchCond::Or { conds } => {
            conds.iter().try_for_each(|c| check_cond(c, step, version))
        }
        BatchCond::IsAutocommit => {
            require(version, Version::Hrana3, "the `is_autocommit` condition")
        }
    }
}

fn eval_cond(cond: &BatchCond, outcomes: &[StepOutcome], conn: &Connection) -> bool {
    let outcome = |step: &u32| usize::try_from(*step).ok().and_then(|s| outcomes.get(s));
    match cond {
        BatchCond::Ok { step } => matches!(outcome(step), Some(StepOutcome::Done(_))),
        BatchCond::Error { step } => matches!(outcome(step), Some(StepOutcome::Failed(_))),
        BatchCond::Not { cond } => !eval_cond(cond, outcomes, conn),
        BatchCond::And { conds } => conds.iter().all(|c| eval_cond(c, outcomes, conn)),
        BatchCond::Or { conds } => conds.iter().any(|c| eval_cond(c, outcomes, conn)),
        BatchCond::IsAutocommit => conn.is_autocommit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sql_is_only_whitespace_semicolons_and_comments() {
        assert!(is_empty_sql(" ;\n-- nothing\n/* at all */ ;"));
        assert!(!is_empty_sql("-- a comment\nSELECT 1"));
        assert!(!is_empty_sql("/* x */ SELECT 1"));
    }
}

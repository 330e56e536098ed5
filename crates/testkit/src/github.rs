//! A fake of the GitHub REST API's Git database and pull requests, backed by a real bare git
//! repository.
//!
//! [`FakeGitHub::start`] creates a bare repository (`git init --bare` in a temporary directory)
//! holding one commit on `main` (a `README.md`), and serves one repository (`acme/site`, or
//! the name given to [`FakeGitHub::start_repo`]) on `127.0.0.1` with an ephemeral port. Point
//! the code under test at [`FakeGitHub::base_url`] where it would use
//! `https://api.github.com`. Every object the API writes is written with the `git` binary
//! (`hash-object -w`, `mktree`, `commit-tree`, `update-ref`) and read back with `cat-file` and
//! `ls-tree`, so a test can `git clone` [`FakeGitHub::clone_url`] and compare the committed
//! files byte for byte, or read them with [`FakeGitHub::files_at`].
//!
//! # What it implements
//!
//! All routes are under `/repos/{owner}/{repo}` (owner and name case-insensitive), JSON in
//! and out, following the [REST API documentation](https://docs.github.com/en/rest):
//!
//! - `GET /repos/{owner}/{repo}`: `full_name`, `default_branch`, `private: true`,
//!   `permissions {admin, push, pull}` of the calling token.
//! - `GET /branches/{branch}` (`name`, `commit.sha`) and `GET /git/ref/heads/{branch}`
//!   (`ref`, `object {sha, type: "commit"}`); 404 when missing. Branch names may contain `/`.
//! - `POST /git/blobs` (`content`, `encoding` `utf-8` (default) or `base64`) → 201 `{sha, url}`;
//!   `GET /git/blobs/{sha}` (base64).
//! - `POST /git/trees` (`base_tree`, `tree: [{path, mode, type, sha | content}]`) → 201
//!   `{sha, url, tree, truncated: false}` with the new tree's top-level entries. With
//!   `base_tree` the entries are applied on top of it: nested paths create or replace within
//!   subtrees, `"sha": null` deletes the path (a file or a whole directory; deleting a path
//!   that does not exist is an error, as documented); a `tree` entry replaces the directory.
//!   Without `base_tree` only the listed entries exist. 422 for a mode other than `100644`,
//!   `100755`, `040000`, `160000`, `120000`, a type other than `blob`, `tree`, `commit` or not
//!   matching the mode, both `sha` and `content`, neither, a `sha` that is not an object of the
//!   entry's type (submodule commits excepted), a path that is absolute, has a trailing
//!   slash, an empty, `.` or `..` segment or a `.git` segment, and an unknown `base_tree`.
//! - `GET /git/trees/{tree_sha | commit_sha | branch}[?recursive=1]`: `{sha, tree: [{path,
//!   mode, type, sha, size?, url}], truncated: false}`.
//! - `POST /git/commits` (`message`, `tree`, `parents`, optional `author` / `committer` with
//!   `name`, `email`, `date`) → 201 `{sha, tree {sha}, parents [{sha}], message, author,
//!   committer, verification}`; 422 when the tree or a parent does not exist. Author and
//!   committer default to `c15t fake <fake@users.noreply.github.com>` at
//!   `2024-01-01T00:00:00Z`, so the same commit request gives the same sha on every run.
//!   `GET /git/commits/{sha}` reads one back.
//! - `GET /contents/{path}[?ref=]`: a file as `{type: "file", encoding: "base64", content,
//!   sha, size, name, path}`, a directory as an array of entries.
//! - `POST /git/refs` (`ref: "refs/heads/x"`, `sha`) → 201, 422 "Reference already exists";
//!   `PATCH /git/refs/heads/{branch}` (`sha`, `force`) → 200, 422 "Update is not a fast
//!   forward" unless `force` is true (checked with `git merge-base --is-ancestor`);
//!   `DELETE /git/refs/heads/{branch}` → 204.
//! - `POST /pulls` (`title`, `head` as `branch` or `owner:branch`, `base`, `body`, `draft`) →
//!   201 `{number, html_url, state: "open", head {ref, sha, label}, base {ref, sha, label},
//!   title, body, draft, merged: false, ...}`; 422 "Validation Failed" with the error message
//!   "A pull request already exists for owner:branch." when an open one exists for the same
//!   head and base, or "No commits between base and head" when head has nothing new. `GET
//!   /pulls` (`state` `open` (default), `closed`, `all`; `head` as `owner:branch`; `base`;
//!   newest first), `GET /pulls/{number}`, `PATCH /pulls/{number}` (`title`, `body`,
//!   `state`, `base`), `POST` and `GET /issues/{number}/comments`.
//!
//! # Authentication
//!
//! Tokens are registered with [`FakeGitHub::add_token`] and sent as `Authorization: Bearer
//! <token>` or `token <token>`. An unknown token is 401 `{"message": "Bad credentials"}`; no
//! token, or a token without access to the repository, is 404 (the repository is private, and
//! GitHub hides private repositories); a token without `push` making any write is 403
//! "Resource not accessible by personal access token".
//!
//! # Rate limits and faults
//!
//! Every answer carries `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset`
//! (epoch seconds), `x-ratelimit-used` and `x-ratelimit-resource: core`, counted per token in
//! an hour's window (5000 requests by default). [`FakeGitHub::set_rate_limit`]`(n)` makes the
//! `n+1`th request of the window answer 403 "API rate limit exceeded" with
//! `x-ratelimit-remaining: 0`. [`FakeGitHub::secondary_limit`] switches on the secondary rate
//! limit: 403 with `retry-after: 1` and GitHub's "You have exceeded a secondary rate limit"
//! message. [`Faults`] inject 500s before any effect, connections closed before any effect,
//! and connections closed after the request took effect, drawn from an RNG seeded by
//! [`Faults::seed`].
//!
//! Error messages other than those named here are GitHub-like; tests of a client should rely
//! on status codes and on the messages named here.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::fault::DropConnection;

/// The repository [`FakeGitHub::start`] serves.
pub const DEFAULT_REPO: &str = "acme/site";

/// The default branch of the repository.
pub const DEFAULT_BRANCH: &str = "main";

/// GitHub's primary rate limit for a personal access token: 5000 requests an hour.
pub const DEFAULT_RATE_LIMIT: u32 = 5000;

/// The date of commits that name none (`2024-01-01T00:00:00Z`), as epoch seconds.
pub const FIXED_DATE: i64 = 1_704_067_200;

const DOCS: &str = "https://docs.github.com/rest";
const SECONDARY_MESSAGE: &str = "You have exceeded a secondary rate limit. Please wait a few \
     minutes before you try again. If you reach out to GitHub Support for help, please include \
     the request ID 0000:0000:0000000:0000000:00000000.";
const WINDOW_SECONDS: i64 = 3600;

/// What a token may do in the repository, as in the `permissions` of `GET /repos/{owner}/{repo}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Administer the repository.
    pub admin: bool,
    /// Write: blobs, trees, commits, refs, pull requests, comments.
    pub push: bool,
    /// Read.
    pub pull: bool,
}

impl Permissions {
    /// Read only.
    pub const READ: Permissions = Permissions {
        admin: false,
        push: false,
        pull: true,
    };
    /// Read and write (Contents and Pull requests: write).
    pub const WRITE: Permissions = Permissions {
        admin: false,
        push: true,
        pull: true,
    };
    /// Everything.
    pub const ADMIN: Permissions = Permissions {
        admin: true,
        push: true,
        pull: true,
    };
}

/// Faults injected into requests, deterministic for a given [`Faults::seed`].
///
/// For every request that matches [`Faults::path_contains`] and [`Faults::method`], three
/// numbers are drawn (error, drop, drop after effect) from an RNG seeded with `seed`. Rate
/// limits come first: a request answered 403 for a rate limit meets no fault.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Share of requests answered `500` before they have any effect.
    pub error_rate: f64,
    /// Share of requests whose connection is closed without an answer before any effect.
    pub drop_rate: f64,
    /// Share of requests that take effect (an object written, a ref moved, a pull request
    /// opened) and whose connection is then closed without an answer.
    pub drop_after_apply_rate: f64,
    /// Seed of the RNG.
    pub seed: u64,
    /// Faults apply only to requests whose path contains this; to all if `None`.
    pub path_contains: Option<String>,
    /// Faults apply only to requests with this method; to all if `None`.
    pub method: Option<Method>,
    /// At most this many requests meet a fault; unlimited if `None`.
    pub max_faults: Option<usize>,
}

/// A pull request, as the fake holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number (shared with issues, from 1).
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body, if any.
    pub body: Option<String>,
    /// Head branch (in this repository).
    pub head: String,
    /// Base branch.
    pub base: String,
    /// `open` or `closed`.
    pub state: String,
    /// Opened as a draft.
    pub draft: bool,
    /// Merged (then also `closed`).
    pub merged: bool,
    /// The merge commit, once merged.
    pub merge_commit_sha: Option<String>,
    /// The head commit when the pull request was closed (while open, the branch's).
    pub closed_head_sha: Option<String>,
    /// Bodies of the comments made on it, oldest first.
    pub comments: Vec<String>,
}

/// One request received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// The route it matched, such as `POST /git/commits` (relative to the repository), or
    /// `None` when it matched none or never got that far.
    pub endpoint: Option<String>,
    /// Status answered, `None` when the connection was dropped.
    pub status: Option<u16>,
}

/// A fake GitHub API for one repository on `127.0.0.1`; dropping it stops the server and
/// removes the repository.
pub struct FakeGitHub {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: watch::Sender<bool>,
    accept: JoinHandle<()>,
    _dir: TempDir,
}

impl fmt::Debug for FakeGitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeGitHub")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.accept.abort();
    }
}

#[derive(Debug)]
struct State {
    git: Git,
    owner: String,
    name: String,
    base_url: String,
    tokens: HashMap<String, (String, Permissions)>,
    pulls: Vec<PullRequest>,
    next_number: u64,
    requests: Vec<RecordedRequest>,
    rate_limit: u32,
    window_start: i64,
    used: HashMap<String, u32>,
    secondary: bool,
    faults: Faults,
    fault_rng: StdRng,
    faults_injected: usize,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A flat view of a tree: path → (mode, type, sha) of every non-tree entry.
type Flat = BTreeMap<String, Leaf>;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Leaf {
    mode: String,
    kind: String,
    sha: String,
}

/// The `git` binary run against the bare repository.
#[derive(Debug, Clone)]
struct Git {
    dir: PathBuf,
}

impl Git {
    fn run_env(
        &self,
        args: &[&str],
        input: Option<&[u8]>,
        env: &[(&str, String)],
    ) -> Result<Vec<u8>, String> {
        let mut command = Command::new("git");
        command
            .arg("--git-dir")
            .arg(&self.dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("LC_ALL", "C")
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().map_err(|e| format!("running git: {e}"))?;
        if let Some(input) = input {
            let mut stdin = child.stdin.take().expect("piped stdin");
            let input = input.to_vec();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let output = child
            .wait_with_output()
            .map_err(|e| format!("running git: {e}"))?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    fn run(&self, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, String> {
        self.run_env(args, input, &[])
    }

    fn text(&self, args: &[&str]) -> Result<String, String> {
        Ok(String::from_utf8_lossy(&self.run(args, None)?)
            .trim()
            .to_owned())
    }

    /// The type of an object, `None` when it does not exist.
    fn kind(&self, sha: &str) -> Option<String> {
        if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.text(&["cat-file", "-t", sha]).ok()
    }

    fn write_blob(&self, bytes: &[u8]) -> Result<String, String> {
        Ok(
            String::from_utf8_lossy(&self.run(&["hash-object", "-w", "--stdin"], Some(bytes))?)
                .trim()
                .to_owned(),
        )
    }

    fn blob(&self, sha: &str) -> Result<Vec<u8>, String> {
        self.run(&["cat-file", "blob", sha], None)
    }

    /// Every non-tree entry under a tree.
    fn flat(&self, tree: &str) -> Result<Flat, String> {
        let out = self.run(&["ls-tree", "-r", "-z", "--full-tree", tree], None)?;
        let mut flat = Flat::new();
        for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let record = String::from_utf8_lossy(record);
            let (meta, path) = record.split_once('\t').ok_or("malformed ls-tree output")?;
            let mut meta = meta.split(' ');
            let (Some(mode), Some(kind), Some(sha)) = (meta.next(), meta.next(), meta.next())
            else {
                return Err("malformed ls-tree output".to_owned());
            };
            flat.insert(
                path.to_owned(),
                Leaf {
                    mode: mode.to_owned(),
                    kind: kind.to_owned(),
                    sha: sha.to_owned(),
                },
            );
        }
        Ok(flat)
    }

    /// Writes the trees of a flat view bottom-up; returns the root tree's sha.
    fn write_tree(&self, flat: &Flat) -> Result<String, String> {
        let mut here: Vec<(String, Leaf)> = Vec::new();
        let mut dirs: BTreeMap<String, Flat> = BTreeMap::new();
        for (path, leaf) in flat {
            match path.split_once('/') {
                None => here.push((path.clone(), leaf.clone())),
                Some((dir, rest)) => {
                    dirs.entry(dir.to_owned())
                        .or_default()
                        .insert(rest.to_owned(), leaf.clone());
                }
            }
        }
        for (dir, sub) in dirs {
            let sha = self.write_tree(&sub)?;
            here.push((
                dir,
                Leaf {
                    mode: "040000".to_owned(),
                    kind: "tree".to_owned(),
                    sha,
                },
            ));
        }
        let mut input = Vec::new();
        for (name, leaf) in here {
            input.extend_from_slice(
                format!("{} {} {}\t{}\0", leaf.mode, leaf.kind, leaf.sha, name).as_bytes(),
            );
        }
        Ok(
            String::from_utf8_lossy(&self.run(&["mktree", "-z"], Some(&input))?)
                .trim()
                .to_owned(),
        )
    }

    /// `(mode, type, sha, size, path)` of a tree's entries (recursively with trees).
    fn list(&self, tree: &str, recursive: bool) -> Result<Vec<[String; 5]>, String> {
        let mut args = vec!["ls-tree", "-z", "-l"];
        if recursive {
            args.extend(["-r", "-t"]);
        }
        args.push(tree);
        let out = self.run(&args, None)?;
        let mut entries = Vec::new();
        for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let record = String::from_utf8_lossy(record);
            let (meta, path) = record.split_once('\t').ok_or("malformed ls-tree output")?;
            let parts: Vec<&str> = meta.split_whitespace().collect();
            let [mode, kind, sha, size] = parts[..] else {
                return Err("malformed ls-tree output".to_owned());
            };
            entries.push([
                mode.to_owned(),
                kind.to_owned(),
                sha.to_owned(),
                size.to_owned(),
                path.to_owned(),
            ]);
        }
        Ok(entries)
    }

    fn branch(&self, name: &str) -> Option<String> {
        self.text(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{name}"),
        ])
        .ok()
        .filter(|s| !s.is_empty())
    }

    fn ref_sha(&self, full: &str) -> Option<String> {
        if !full.starts_with("refs/") {
            return None;
        }
        self.text(&["rev-parse", "--verify", "--quiet", full])
            .ok()
            .filter(|s| !s.is_empty())
    }

    fn tree_of(&self, commit: &str) -> Result<String, String> {
        self.text(&["rev-parse", &format!("{commit}^{{tree}}")])
    }

    fn is_ancestor(&self, old: &str, new: &str) -> bool {
        self.run(&["merge-base", "--is-ancestor", old, new], None)
            .is_ok()
    }

    fn commit_tree(
        &self,
        tree: &str,
        parents: &[String],
        message: &str,
        author: &Signature,
        committer: &Signature,
    ) -> Result<String, String> {
        let mut args = vec!["commit-tree".to_owned(), tree.to_owned()];
        for parent in parents {
            args.push("-p".to_owned());
            args.push(parent.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = [
            ("GIT_AUTHOR_NAME", author.name.clone()),
            ("GIT_AUTHOR_EMAIL", author.email.clone()),
            ("GIT_AUTHOR_DATE", format!("@{} +0000", author.date)),
            ("GIT_COMMITTER_NAME", committer.name.clone()),
            ("GIT_COMMITTER_EMAIL", committer.email.clone()),
            ("GIT_COMMITTER_DATE", format!("@{} +0000", committer.date)),
        ];
        Ok(
            String::from_utf8_lossy(&self.run_env(&args, Some(message.as_bytes()), &env)?)
                .trim()
                .to_owned(),
        )
    }

    fn update_ref(&self, full: &str, new: &str, old: Option<&str>) -> Result<(), String> {
        let mut args = vec!["update-ref", full, new];
        if let Some(old) = old {
            args.push(old);
        }
        self.run(&args, None).map(|_| ())
    }

    /// Parses a commit object.
    fn commit(&self, sha: &str) -> Option<CommitInfo> {
        if self.kind(sha).as_deref() != Some("commit") {
            return None;
        }
        let raw = self.run(&["cat-file", "commit", sha], None).ok()?;
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (headers, message) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let mut info = CommitInfo {
            sha: sha.to_owned(),
            tree: String::new(),
            parents: Vec::new(),
            author: Signature::default(),
            committer: Signature::default(),
            message: message.to_owned(),
        };
        for line in headers.lines() {
            if let Some(tree) = line.strip_prefix("tree ") {
                tree.clone_into(&mut info.tree);
            } else if let Some(parent) = line.strip_prefix("parent ") {
                info.parents.push(parent.to_owned());
            } else if let Some(author) = line.strip_prefix("author ") {
                info.author = Signature::parse(author);
            } else if let Some(committer) = line.strip_prefix("committer ") {
                info.committer = Signature::parse(committer);
            }
        }
        Some(info)
    }
}

#[derive(Clone, Debug, Default)]
struct Signature {
    name: String,
    email: String,
    date: i64,
}

impl Signature {
    fn fixed() -> Signature {
        Signature {
            name: "c15t fake".to_owned(),
            email: "fake@users.noreply.github.com".to_owned(),
            date: FIXED_DATE,
        }
    }

    fn parse(line: &str) -> Signature {
        let (name, rest) = line.split_once(" <").unwrap_or((line, ""));
        let (email, rest) = rest.split_once("> ").unwrap_or((rest, ""));
        let date = rest
            .split(' ')
            .next()
            .and_then(|d| d.parse().ok())
            .unwrap_or_default();
        Signature {
            name: name.to_owned(),
            email: email.to_owned(),
            date,
        }
    }

    fn json(&self) -> Value {
        json!({"name": self.name, "email": self.email, "date": iso(self.date)})
    }
}

#[derive(Clone, Debug)]
struct CommitInfo {
    sha: String,
    tree: String,
    parents: Vec<String>,
    author: Signature,
    committer: Signature,
    message: String,
}

fn iso(epoch: i64) -> String {
    DateTime::<Utc>::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// An answer: status, JSON body (`Null` for none), extra headers.
struct Reply {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl Reply {
    fn new(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body,
            retry_after: None,
        }
    }

    fn error(status: StatusCode, message: impl Into<String>) -> Reply {
        Reply::new(
            status,
            json!({"message": message.into(), "documentation_url": DOCS, "status": status.as_u16().to_string()}),
        )
    }

    fn unprocessable(message: impl Into<String>) -> Reply {
        Reply::error(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    fn validation(resource: &str, field: Option<&str>, code: &str, message: Option<&str>) -> Reply {
        let mut error = json!({"resource": resource, "code": code});
        if let Some(field) = field {
            error["field"] = json!(field);
        }
        if let Some(message) = message {
            error["message"] = json!(message);
        }
        Reply::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "Validation Failed", "errors": [error], "documentation_url": DOCS, "status": "422"}),
        )
    }

    fn not_found() -> Reply {
        Reply::error(StatusCode::NOT_FOUND, "Not Found")
    }

    fn internal(message: String) -> Reply {
        Reply::error(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl FakeGitHub {
    /// Starts the fake serving [`DEFAULT_REPO`].
    ///
    /// # Panics
    ///
    /// If no port can be bound or `git` cannot create the repository.
    pub async fn start() -> FakeGitHub {
        FakeGitHub::start_repo(DEFAULT_REPO).await
    }

    /// Starts the fake serving the repository `owner/name`, with one commit on `main`
    /// holding `README.md`.
    ///
    /// # Panics
    ///
    /// If `full_name` is not `owner/name`, no port can be bound or `git` fails.
    pub async fn start_repo(full_name: &str) -> FakeGitHub {
        let (owner, name) = full_name
            .split_once('/')
            .expect("a repository is named owner/name");
        let dir = tempfile::tempdir().expect("a temporary directory for the fake repository");
        let repo = dir.path().join(format!("{name}.git"));
        let status = Command::new("git")
            .args([
                "init",
                "--bare",
                "--quiet",
                "--initial-branch",
                DEFAULT_BRANCH,
            ])
            .arg(&repo)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .expect("running git init --bare");
        assert!(status.success(), "git init --bare failed");
        let git = Git { dir: repo };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0 for the fake GitHub API");
        let addr = listener
            .local_addr()
            .expect("local address of the fake GitHub API");
        let state = Arc::new(Mutex::new(State {
            git,
            owner: owner.to_owned(),
            name: name.to_owned(),
            base_url: format!("http://{addr}"),
            tokens: HashMap::new(),
            pulls: Vec::new(),
            next_number: 1,
            requests: Vec::new(),
            rate_limit: DEFAULT_RATE_LIMIT,
            window_start: Utc::now().timestamp(),
            used: HashMap::new(),
            secondary: false,
            faults: Faults::default(),
            fault_rng: StdRng::seed_from_u64(0),
            faults_injected: 0,
        }));
        let (shutdown, mut stop) = watch::channel(false);
        let accept = tokio::spawn({
            let state = Arc::clone(&state);
            async move {
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            tokio::spawn(serve(stream, Arc::clone(&state), stop.clone()));
                        }
                    }
                }
            }
        });
        let fake = FakeGitHub {
            addr,
            state,
            shutdown,
            accept,
            _dir: dir,
        };
        fake.commit_on(DEFAULT_BRANCH, "README.md", b"# site\n");
        fake
    }

    /// The base URL to use in place of `https://api.github.com`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bare repository's directory.
    pub fn repo_path(&self) -> PathBuf {
        lock(&self.state).git.dir.clone()
    }

    /// A `file://` URL of the bare repository, for `git clone`.
    pub fn clone_url(&self) -> String {
        format!("file://{}", self.repo_path().display())
    }

    /// `owner/name` of the repository.
    pub fn full_name(&self) -> String {
        let state = lock(&self.state);
        format!("{}/{}", state.owner, state.name)
    }

    /// Registers a token with its permissions on `repo` (`owner/name`); a token registered for
    /// another repository has no access to this one (404).
    pub fn add_token(&self, token: &str, repo: &str, permissions: Permissions) {
        lock(&self.state)
            .tokens
            .insert(token.to_owned(), (repo.to_owned(), permissions));
    }

    /// Allows `requests` requests per token and hour from now on; forgets earlier ones.
    pub fn set_rate_limit(&self, requests: u32) {
        let mut state = lock(&self.state);
        state.rate_limit = requests;
        state.used.clear();
        state.window_start = Utc::now().timestamp();
    }

    /// Switches the secondary rate limit on (every request answered 403 with
    /// `retry-after: 1`) or off.
    pub fn secondary_limit(&self, on: bool) {
        lock(&self.state).secondary = on;
    }

    /// Replaces the injected faults and reseeds their RNG.
    pub fn set_faults(&self, faults: Faults) {
        let mut state = lock(&self.state);
        state.fault_rng = StdRng::seed_from_u64(faults.seed);
        state.faults = faults;
        state.faults_injected = 0;
    }

    /// The commit a branch points at, if it exists.
    pub fn branch_sha(&self, branch: &str) -> Option<String> {
        lock(&self.state).git.branch(branch)
    }

    /// Every file under a branch or commit: path → contents.
    ///
    /// # Panics
    ///
    /// If `reference` names no branch or commit.
    pub fn files_at(&self, reference: &str) -> BTreeMap<String, Vec<u8>> {
        let state = lock(&self.state);
        let commit = state
            .git
            .branch(reference)
            .unwrap_or_else(|| reference.to_owned());
        let tree = state
            .git
            .tree_of(&commit)
            .unwrap_or_else(|e| panic!("{reference} names no commit: {e}"));
        let flat = state.git.flat(&tree).expect("listing the tree");
        flat.into_iter()
            .filter(|(_, leaf)| leaf.kind == "blob")
            .map(|(path, leaf)| {
                let bytes = state.git.blob(&leaf.sha).expect("reading a blob");
                (path, bytes)
            })
            .collect()
    }

    /// The parents of a commit.
    ///
    /// # Panics
    ///
    /// If `sha` is not a commit.
    pub fn parents(&self, sha: &str) -> Vec<String> {
        lock(&self.state).git.commit(sha).expect("a commit").parents
    }

    /// Commits `contents` at `path` on `branch` (created if missing) as a person would, with
    /// the current time; returns the new commit.
    ///
    /// # Panics
    ///
    /// If git fails.
    pub fn commit_on(&self, branch: &str, path: &str, contents: &[u8]) -> String {
        let state = lock(&self.state);
        let git = &state.git;
        let parent = git.branch(branch);
        let mut flat = match &parent {
            Some(parent) => git
                .flat(&git.tree_of(parent).expect("tree of the branch"))
                .expect("listing the tree"),
            None => Flat::new(),
        };
        let blob = git.write_blob(contents).expect("writing a blob");
        remove_path(&mut flat, path);
        flat.insert(
            path.to_owned(),
            Leaf {
                mode: "100644".to_owned(),
                kind: "blob".to_owned(),
                sha: blob,
            },
        );
        let tree = git.write_tree(&flat).expect("writing the tree");
        let person = Signature {
            name: "A Person".to_owned(),
            email: "person@example.com".to_owned(),
            date: Utc::now().timestamp(),
        };
        let parents: Vec<String> = parent.iter().cloned().collect();
        let commit = git
            .commit_tree(&tree, &parents, &format!("Edit {path}\n"), &person, &person)
            .expect("committing");
        git.update_ref(&format!("refs/heads/{branch}"), &commit, None)
            .expect("moving the branch");
        commit
    }

    /// Merges pull request `number` as GitHub's "Create a merge commit" button does: a merge
    /// commit of base and head on the base branch, then the pull request is closed and
    /// marked merged. Returns the merge commit.
    ///
    /// # Panics
    ///
    /// If the pull request is not open or the branches conflict.
    pub fn merge(&self, number: u64) -> String {
        let mut state = lock(&self.state);
        let (base, head) = {
            let pull = state
                .pulls
                .iter()
                .find(|p| p.number == number)
                .expect("a pull request with that number");
            assert_eq!(pull.state, "open", "pull request #{number} is not open");
            (pull.base.clone(), pull.head.clone())
        };
        let git = state.git.clone();
        let base_sha = git.branch(&base).expect("the base branch exists");
        let head_sha = git.branch(&head).expect("the head branch exists");
        let tree = git
            .text(&["merge-tree", "--write-tree", &base_sha, &head_sha])
            .unwrap_or_else(|e| panic!("pull request #{number} does not merge cleanly: {e}"));
        let tree = tree.lines().next().unwrap_or_default().to_owned();
        let signature = Signature::fixed();
        let commit = git
            .commit_tree(
                &tree,
                &[base_sha.clone(), head_sha.clone()],
                &format!("Merge pull request #{number} from {}/{head}\n", state.owner),
                &signature,
                &signature,
            )
            .expect("committing the merge");
        git.update_ref(&format!("refs/heads/{base}"), &commit, Some(&base_sha))
            .expect("moving the base branch");
        let pull = state
            .pulls
            .iter_mut()
            .find(|p| p.number == number)
            .expect("the pull request");
        pull.state = "closed".to_owned();
        pull.merged = true;
        pull.merge_commit_sha = Some(commit.clone());
        pull.closed_head_sha = Some(head_sha);
        commit
    }

    /// Every pull request, by number.
    pub fn pulls(&self) -> Vec<PullRequest> {
        lock(&self.state).pulls.clone()
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// How many requests reached `endpoint`, such as `"POST /git/commits"` or
    /// `"PATCH /git/refs/{ref}"` (the routes are listed by [`FakeGitHub::endpoint_counts`]),
    /// whatever their answer.
    pub fn request_count(&self, endpoint: &str) -> usize {
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.endpoint.as_deref() == Some(endpoint))
            .count()
    }

    /// Requests per endpoint.
    pub fn endpoint_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for request in lock(&self.state).requests.iter() {
            if let Some(endpoint) = &request.endpoint {
                *counts.entry(endpoint.clone()).or_default() += 1;
            }
        }
        counts
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    state: Arc<Mutex<State>>,
    mut stop: watch::Receiver<bool>,
) {
    let service = service_fn(move |request| {
        let state = Arc::clone(&state);
        async move { handle(&state, request).await }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = stop.changed() => {}
    }
}

/// The token of `Authorization: Bearer <token>` or `token <token>`.
fn token_of(request: &Request<Incoming>) -> Option<String> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

#[derive(Default)]
struct FaultDraw {
    error: bool,
    drop: bool,
    drop_after_apply: bool,
}

fn draw_faults(state: &mut State, method: &Method, path: &str) -> FaultDraw {
    let faults = &state.faults;
    if faults
        .path_contains
        .as_deref()
        .is_some_and(|part| !path.contains(part))
        || faults.method.as_ref().is_some_and(|only| only != method)
        || faults
            .max_faults
            .is_some_and(|max| state.faults_injected >= max)
    {
        return FaultDraw::default();
    }
    let rates = (
        faults.error_rate,
        faults.drop_rate,
        faults.drop_after_apply_rate,
    );
    let rng = &mut state.fault_rng;
    let mut hit = |rate: f64| rng.random::<f64>() < rate;
    let draw = FaultDraw {
        error: hit(rates.0),
        drop: hit(rates.1),
        drop_after_apply: hit(rates.2),
    };
    if draw.error || draw.drop || draw.drop_after_apply {
        state.faults_injected += 1;
    }
    draw
}

async fn handle(
    state: &Mutex<State>,
    request: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let token = token_of(&request);
    let mut record = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        endpoint: None,
        status: None,
    };
    let Ok(body) = axum::body::to_bytes(Body::new(request.into_body()), usize::MAX).await else {
        lock(state).requests.push(record);
        return Err(DropConnection);
    };

    let mut state = lock(state);
    // Primary rate limit, counted per token.
    let now = Utc::now().timestamp();
    if now - state.window_start >= WINDOW_SECONDS {
        state.window_start = now;
        state.used.clear();
    }
    let key = token.clone().unwrap_or_default();
    let limit = state.rate_limit;
    let reset = state.window_start + WINDOW_SECONDS;
    let used = state.used.entry(key).or_default();
    let over = *used >= limit;
    if !over {
        *used += 1;
    }
    let used = *used;
    let headers = RateHeaders {
        limit,
        remaining: limit.saturating_sub(used),
        reset,
        used,
    };
    let reply = if over {
        Reply::error(
            StatusCode::FORBIDDEN,
            "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, \
             please include the request ID 0000:0000:0000000:0000000:00000000.",
        )
    } else if state.secondary {
        let mut reply = Reply::error(StatusCode::FORBIDDEN, SECONDARY_MESSAGE);
        reply.retry_after = Some(1);
        reply
    } else {
        let faults = draw_faults(&mut state, &method, &path);
        if faults.error {
            Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
        } else if faults.drop {
            state.requests.push(record);
            return Err(DropConnection);
        } else {
            let (endpoint, reply) = route(&mut state, &method, &path, &query, token, &body);
            record.endpoint = endpoint;
            if faults.drop_after_apply {
                state.requests.push(record);
                return Err(DropConnection);
            }
            reply
        }
    };
    record.status = Some(reply.status.as_u16());
    state.requests.push(record);
    Ok(response(reply, &headers))
}

struct RateHeaders {
    limit: u32,
    remaining: u32,
    reset: i64,
    used: u32,
}

fn response(reply: Reply, rate: &RateHeaders) -> Response<Body> {
    let body = if reply.body.is_null() {
        Body::empty()
    } else {
        Body::from(reply.body.to_string())
    };
    let mut response = Response::new(body);
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert("x-ratelimit-limit", HeaderValue::from(rate.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(rate.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(rate.reset));
    headers.insert("x-ratelimit-used", HeaderValue::from(rate.used));
    headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    headers.insert(
        "x-github-api-version-selected",
        HeaderValue::from_static("2022-11-28"),
    );
    if let Some(seconds) = reply.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Authenticates, finds the route and runs it; returns the route's name with the reply.
fn route(
    state: &mut State,
    method: &Method,
    path: &str,
    query: &str,
    token: Option<String>,
    body: &[u8],
) -> (Option<String>, Reply) {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["repos", owner, name, rest @ ..] = segments.as_slice() else {
        return (None, Reply::not_found());
    };
    let rest: Vec<&str> = rest.iter().copied().filter(|s| !s.is_empty()).collect();
    // Authentication.
    let permissions = match token {
        None => None,
        Some(token) => match state.tokens.get(&token) {
            None => {
                return (
                    None,
                    Reply::error(StatusCode::UNAUTHORIZED, "Bad credentials"),
                );
            }
            Some((repo, permissions)) => repo
                .eq_ignore_ascii_case(&format!("{}/{}", state.owner, state.name))
                .then_some(*permissions)
                .filter(|p| p.pull || p.push || p.admin),
        },
    };
    let repo_matches =
        owner.eq_ignore_ascii_case(&state.owner) && name.eq_ignore_ascii_case(&state.name);
    let (Some(permissions), true) = (permissions, repo_matches) else {
        return (None, Reply::not_found());
    };
    let Some((endpoint, handler)) = find_route(method, &rest) else {
        return (None, Reply::not_found());
    };
    if *method != Method::GET && !permissions.push {
        return (
            Some(endpoint),
            Reply::error(
                StatusCode::FORBIDDEN,
                "Resource not accessible by personal access token",
            ),
        );
    }
    let input = if matches!(*method, Method::POST | Method::PATCH) {
        match serde_json::from_slice::<Value>(body) {
            Ok(value) if value.is_object() => value,
            _ => {
                return (
                    Some(endpoint),
                    Reply::error(StatusCode::BAD_REQUEST, "Problems parsing JSON"),
                );
            }
        }
    } else {
        Value::Null
    };
    let call = Call {
        rest: &rest,
        query,
        input,
        permissions,
    };
    (Some(endpoint), handler(state, &call))
}

struct Call<'a> {
    rest: &'a [&'a str],
    query: &'a str,
    input: Value,
    permissions: Permissions,
}

impl Call<'_> {
    /// Path segments from `from` on, joined with `/` (branch names may contain slashes).
    fn tail(&self, from: usize) -> String {
        self.rest.get(from..).unwrap_or_default().join("/")
    }

    fn query(&self, key: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.input.get(key).and_then(Value::as_str)
    }
}

type Handler = fn(&mut State, &Call<'_>) -> Reply;

fn find_route(method: &Method, rest: &[&str]) -> Option<(String, Handler)> {
    let m = method.as_str();
    let (name, handler): (&str, Handler) = match (m, rest) {
        ("GET", []) => ("GET /", get_repo),
        ("GET", ["branches", _, ..]) => ("GET /branches/{branch}", get_branch),
        ("GET", ["git", "ref", _, _, ..]) => ("GET /git/ref/{ref}", get_ref),
        ("POST", ["git", "refs"]) => ("POST /git/refs", create_ref),
        ("PATCH", ["git", "refs", _, _, ..]) => ("PATCH /git/refs/{ref}", update_ref),
        ("DELETE", ["git", "refs", _, _, ..]) => ("DELETE /git/refs/{ref}", delete_ref),
        ("POST", ["git", "blobs"]) => ("POST /git/blobs", create_blob),
        ("GET", ["git", "blobs", _]) => ("GET /git/blobs/{sha}", get_blob),
        ("POST", ["git", "trees"]) => ("POST /git/trees", create_tree),
        ("GET", ["git", "trees", _, ..]) => ("GET /git/trees/{sha}", get_tree),
        ("POST", ["git", "commits"]) => ("POST /git/commits", create_commit),
        ("GET", ["git", "commits", _]) => ("GET /git/commits/{sha}", get_commit),
        ("GET", ["contents", ..]) => ("GET /contents/{path}", get_contents),
        ("GET", ["pulls"]) => ("GET /pulls", list_pulls),
        ("POST", ["pulls"]) => ("POST /pulls", create_pull),
        ("GET", ["pulls", _]) => ("GET /pulls/{number}", get_pull),
        ("PATCH", ["pulls", _]) => ("PATCH /pulls/{number}", update_pull),
        ("POST", ["issues", _, "comments"]) => ("POST /issues/{number}/comments", add_comment),
        ("GET", ["issues", _, "comments"]) => ("GET /issues/{number}/comments", list_comments),
        _ => return None,
    };
    Some((name.to_owned(), handler))
}

impl State {
    fn repo_url(&self) -> String {
        format!("{}/repos/{}/{}", self.base_url, self.owner, self.name)
    }

    fn ref_json(&self, full: &str, sha: &str) -> Value {
        json!({
            "ref": full,
            "node_id": format!("REF_{}", STANDARD.encode(full)),
            "url": format!("{}/git/{full}", self.repo_url()),
            "object": {"sha": sha, "type": "commit", "url": format!("{}/git/commits/{sha}", self.repo_url())},
        })
    }

    fn commit_json(&self, info: &CommitInfo) -> Value {
        let url = self.repo_url();
        json!({
            "sha": info.sha,
            "node_id": format!("C_{}", info.sha),
            "url": format!("{url}/git/commits/{}", info.sha),
            "html_url": format!("https://github.com/{}/{}/commit/{}", self.owner, self.name, info.sha),
            "author": info.author.json(),
            "committer": info.committer.json(),
            "message": info.message,
            "tree": {"sha": info.tree, "url": format!("{url}/git/trees/{}", info.tree)},
            "parents": info.parents.iter().map(|p| json!({
                "sha": p,
                "url": format!("{url}/git/commits/{p}"),
                "html_url": format!("https://github.com/{}/{}/commit/{p}", self.owner, self.name),
            })).collect::<Vec<_>>(),
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
        })
    }

    fn tree_json(&self, sha: &str, recursive: bool) -> Result<Value, String> {
        let url = self.repo_url();
        let entries = self.git.list(sha, recursive)?;
        let tree: Vec<Value> = entries
            .into_iter()
            .map(|[mode, kind, sha, size, path]| {
                let mut entry = json!({"path": path, "mode": mode, "type": kind, "sha": sha});
                match kind.as_str() {
                    "blob" => {
                        entry["size"] = json!(size.parse::<u64>().unwrap_or_default());
                        entry["url"] = json!(format!("{url}/git/blobs/{sha}"));
                    }
                    "tree" => entry["url"] = json!(format!("{url}/git/trees/{sha}")),
                    _ => {}
                }
                entry
            })
            .collect();
        Ok(
            json!({"sha": sha, "url": format!("{url}/git/trees/{sha}"), "tree": tree, "truncated": false}),
        )
    }

    fn pull_json(&self, pull: &PullRequest) -> Value {
        let head_sha = pull
            .closed_head_sha
            .clone()
            .or_else(|| self.git.branch(&pull.head))
            .unwrap_or_default();
        let base_sha = self.git.branch(&pull.base).unwrap_or_default();
        let repo = json!({"full_name": format!("{}/{}", self.owner, self.name), "name": self.name, "owner": {"login": self.owner}});
        let html = format!(
            "https://github.com/{}/{}/pull/{}",
            self.owner, self.name, pull.number
        );
        json!({
            "id": 1000 + pull.number,
            "number": pull.number,
            "url": format!("{}/pulls/{}", self.repo_url(), pull.number),
            "html_url": html,
            "issue_url": format!("{}/issues/{}", self.repo_url(), pull.number),
            "state": pull.state,
            "title": pull.title,
            "body": pull.body,
            "draft": pull.draft,
            "merged": pull.merged,
            "merged_at": pull.merged.then(|| iso(FIXED_DATE)),
            "merge_commit_sha": pull.merge_commit_sha,
            "closed_at": (pull.state == "closed").then(|| iso(FIXED_DATE)),
            "user": {"login": "c15t-bot"},
            "head": {"label": format!("{}:{}", self.owner, pull.head), "ref": pull.head, "sha": head_sha, "repo": repo},
            "base": {"label": format!("{}:{}", self.owner, pull.base), "ref": pull.base, "sha": base_sha, "repo": repo},
        })
    }

    /// Resolves a branch name or a sha to a commit.
    fn resolve_commit(&self, reference: &str) -> Option<String> {
        self.git.branch(reference).or_else(|| {
            (self.git.kind(reference).as_deref() == Some("commit")).then(|| reference.to_owned())
        })
    }
}

fn get_repo(state: &mut State, call: &Call<'_>) -> Reply {
    let p = call.permissions;
    Reply::new(
        StatusCode::OK,
        json!({
            "id": 1,
            "name": state.name,
            "full_name": format!("{}/{}", state.owner, state.name),
            "owner": {"login": state.owner},
            "private": true,
            "visibility": "private",
            "default_branch": DEFAULT_BRANCH,
            "url": state.repo_url(),
            "html_url": format!("https://github.com/{}/{}", state.owner, state.name),
            "permissions": {"admin": p.admin, "maintain": p.admin, "push": p.push, "triage": p.push, "pull": p.pull},
        }),
    )
}

fn get_branch(state: &mut State, call: &Call<'_>) -> Reply {
    let name = call.tail(1);
    let Some(sha) = state.git.branch(&name) else {
        return Reply::error(StatusCode::NOT_FOUND, "Branch not found");
    };
    let Some(info) = state.git.commit(&sha) else {
        return Reply::internal("branch without commit".to_owned());
    };
    Reply::new(
        StatusCode::OK,
        json!({"name": name, "commit": state.commit_json(&info), "protected": false}),
    )
}

fn get_ref(state: &mut State, call: &Call<'_>) -> Reply {
    let full = format!("refs/{}", call.tail(2));
    match state.git.ref_sha(&full) {
        Some(sha) => Reply::new(StatusCode::OK, state.ref_json(&full, &sha)),
        None => Reply::not_found(),
    }
}

fn valid_ref_name(full: &str) -> bool {
    let Some(rest) = full.strip_prefix("refs/") else {
        return false;
    };
    rest.contains('/')
        && !rest.ends_with('/')
        && !rest.ends_with(".lock")
        && rest
            .split('/')
            .all(|s| !s.is_empty() && !s.starts_with('.'))
        && !rest.contains("..")
        && !rest.contains("@{")
        && !rest
            .chars()
            .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
}

fn create_ref(state: &mut State, call: &Call<'_>) -> Reply {
    let (Some(full), Some(sha)) = (call.str("ref"), call.str("sha")) else {
        return Reply::unprocessable("Invalid request.\n\n\"ref\" and \"sha\" are required.");
    };
    if !valid_ref_name(full) {
        return Reply::unprocessable(format!("{full} is not a valid ref name."));
    }
    if state.git.kind(sha).as_deref() != Some("commit") {
        return Reply::unprocessable("Object does not exist");
    }
    if state.git.ref_sha(full).is_some() {
        return Reply::unprocessable("Reference already exists");
    }
    let zero = "0".repeat(40);
    if let Err(e) = state.git.update_ref(full, sha, Some(&zero)) {
        return Reply::unprocessable(format!("Reference update failed: {e}"));
    }
    Reply::new(StatusCode::CREATED, state.ref_json(full, sha))
}

fn update_ref(state: &mut State, call: &Call<'_>) -> Reply {
    let full = format!("refs/{}", call.tail(2));
    let Some(sha) = call.str("sha") else {
        return Reply::unprocessable("Invalid request.\n\n\"sha\" wasn't supplied.");
    };
    let force = call
        .input
        .get("force")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(old) = state.git.ref_sha(&full) else {
        return Reply::unprocessable("Reference does not exist");
    };
    if state.git.kind(sha).as_deref() != Some("commit") {
        return Reply::unprocessable("Object does not exist");
    }
    if !force && !state.git.is_ancestor(&old, sha) {
        return Reply::unprocessable("Update is not a fast forward");
    }
    if let Err(e) = state.git.update_ref(&full, sha, Some(&old)) {
        return Reply::unprocessable(format!("Reference update failed: {e}"));
    }
    Reply::new(StatusCode::OK, state.ref_json(&full, sha))
}

fn delete_ref(state: &mut State, call: &Call<'_>) -> Reply {
    let full = format!("refs/{}", call.tail(2));
    if state.git.ref_sha(&full).is_none() {
        return Reply::unprocessable("Reference does not exist");
    }
    match state.git.run(&["update-ref", "-d", &full], None) {
        Ok(_) => Reply::new(StatusCode::NO_CONTENT, Value::Null),
        Err(e) => Reply::internal(e),
    }
}

fn create_blob(state: &mut State, call: &Call<'_>) -> Reply {
    let Some(content) = call.str("content") else {
        return Reply::unprocessable("Invalid request.\n\n\"content\" wasn't supplied.");
    };
    let bytes = match call.str("encoding").unwrap_or("utf-8") {
        "utf-8" | "utf8" => content.as_bytes().to_vec(),
        "base64" => {
            let cleaned: String = content.chars().filter(|c| !c.is_whitespace()).collect();
            match STANDARD.decode(cleaned) {
                Ok(bytes) => bytes,
                Err(_) => return Reply::unprocessable("Invalid base64 content"),
            }
        }
        other => {
            return Reply::unprocessable(format!(
                "encoding must be one of utf-8, base64; not {other}"
            ));
        }
    };
    match state.git.write_blob(&bytes) {
        Ok(sha) => Reply::new(
            StatusCode::CREATED,
            json!({"sha": sha, "url": format!("{}/git/blobs/{sha}", state.repo_url())}),
        ),
        Err(e) => Reply::internal(e),
    }
}

fn get_blob(state: &mut State, call: &Call<'_>) -> Reply {
    let sha = call.rest[2];
    if state.git.kind(sha).as_deref() != Some("blob") {
        return Reply::not_found();
    }
    match state.git.blob(sha) {
        Ok(bytes) => Reply::new(
            StatusCode::OK,
            json!({
                "sha": sha,
                "size": bytes.len(),
                "url": format!("{}/git/blobs/{sha}", state.repo_url()),
                "content": wrap_base64(&bytes),
                "encoding": "base64",
            }),
        ),
        Err(e) => Reply::internal(e),
    }
}

/// Base64 with a newline every 60 characters, as GitHub writes blob and file contents.
fn wrap_base64(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 60 + 1);
    for chunk in encoded.as_bytes().chunks(60) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

/// A path GitHub accepts in a tree entry.
fn valid_tree_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.ends_with('/')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".." && !s.eq_ignore_ascii_case(".git"))
}

/// Removes `path` (a file, or every file under a directory) and any file standing where one
/// of its parent directories must be; true when anything at `path` itself was removed.
fn remove_path(flat: &mut Flat, path: &str) -> bool {
    let prefix = format!("{path}/");
    let before = flat.len();
    flat.retain(|key, _| key != path && !key.starts_with(&prefix));
    let removed = flat.len() != before;
    let mut parent = path;
    while let Some((dir, _)) = parent.rsplit_once('/') {
        flat.remove(dir);
        parent = dir;
    }
    removed
}

fn create_tree(state: &mut State, call: &Call<'_>) -> Reply {
    let Some(entries) = call.input.get("tree").and_then(Value::as_array) else {
        return Reply::unprocessable("Invalid request.\n\n\"tree\" wasn't supplied.");
    };
    let git = state.git.clone();
    let mut flat = match call.input.get("base_tree") {
        None | Some(Value::Null) => Flat::new(),
        Some(Value::String(base)) => {
            if git.kind(base).as_deref() != Some("tree") {
                return Reply::unprocessable("base_tree is not a valid tree oid");
            }
            match git.flat(base) {
                Ok(flat) => flat,
                Err(e) => return Reply::internal(e),
            }
        }
        Some(_) => return Reply::unprocessable("base_tree must be a string"),
    };
    for entry in entries {
        let path = entry
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !valid_tree_path(path) {
            return Reply::unprocessable("tree.path contains a malformed path component");
        }
        let mode = entry
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let expected = match mode {
            "100644" | "100755" | "120000" => "blob",
            "040000" => "tree",
            "160000" => "commit",
            _ => {
                return Reply::unprocessable(format!(
                    "tree.mode must be one of 100644, 100755, 040000, 160000, 120000; not {mode:?}"
                ));
            }
        };
        let kind = entry
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !matches!(kind, "blob" | "tree" | "commit") {
            return Reply::unprocessable(format!(
                "tree.type must be one of blob, tree, commit; not {kind:?}"
            ));
        }
        if kind != expected {
            return Reply::unprocessable(format!(
                "tree.type {kind} does not match tree.mode {mode}"
            ));
        }
        let sha = entry.get("sha");
        let content = entry.get("content");
        let leaf_sha = match (sha, content) {
            (Some(_), Some(c)) if !c.is_null() => {
                return Reply::unprocessable(
                    "Must supply either tree.sha or tree.content, not both",
                );
            }
            (Some(Value::Null), _) => {
                if !remove_path(&mut flat, path) {
                    return Reply::unprocessable(format!(
                        "tree.path {path} cannot be deleted: it does not exist"
                    ));
                }
                continue;
            }
            (Some(Value::String(sha)), _) => {
                if expected != "commit" && git.kind(sha).as_deref() != Some(expected) {
                    return Reply::unprocessable(format!(
                        "tree.sha {sha} is not a valid {expected}"
                    ));
                }
                if expected == "commit"
                    && (sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    return Reply::unprocessable(format!("tree.sha {sha} is not a valid commit"));
                }
                sha.clone()
            }
            (None, Some(Value::String(content))) => {
                if expected != "blob" {
                    return Reply::unprocessable("tree.content is only for blobs");
                }
                match git.write_blob(content.as_bytes()) {
                    Ok(sha) => sha,
                    Err(e) => return Reply::internal(e),
                }
            }
            _ => return Reply::unprocessable("Must supply either tree.sha or tree.content"),
        };
        remove_path(&mut flat, path);
        if expected == "tree" {
            match git.flat(&leaf_sha) {
                Ok(sub) => {
                    for (sub_path, leaf) in sub {
                        flat.insert(format!("{path}/{sub_path}"), leaf);
                    }
                }
                Err(e) => return Reply::internal(e),
            }
        } else {
            flat.insert(
                path.to_owned(),
                Leaf {
                    mode: mode.to_owned(),
                    kind: kind.to_owned(),
                    sha: leaf_sha,
                },
            );
        }
    }
    let sha = match git.write_tree(&flat) {
        Ok(sha) => sha,
        Err(e) => return Reply::internal(e),
    };
    match state.tree_json(&sha, false) {
        Ok(tree) => Reply::new(StatusCode::CREATED, tree),
        Err(e) => Reply::internal(e),
    }
}

fn get_tree(state: &mut State, call: &Call<'_>) -> Reply {
    let reference = call.tail(2);
    let tree = match state.git.kind(&reference).as_deref() {
        Some("tree") => reference,
        Some("commit") => match state.git.tree_of(&reference) {
            Ok(tree) => tree,
            Err(e) => return Reply::internal(e),
        },
        _ => match state.git.branch(&reference) {
            Some(commit) => match state.git.tree_of(&commit) {
                Ok(tree) => tree,
                Err(e) => return Reply::internal(e),
            },
            None => return Reply::not_found(),
        },
    };
    let recursive = call.query("recursive").is_some_and(|v| !v.is_empty());
    match state.tree_json(&tree, recursive) {
        Ok(json) => Reply::new(StatusCode::OK, json),
        Err(e) => Reply::internal(e),
    }
}

fn parse_signature(value: Option<&Value>) -> Result<Option<Signature>, Reply> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let (Some(name), Some(email)) = (
        value.get("name").and_then(Value::as_str),
        value.get("email").and_then(Value::as_str),
    ) else {
        return Err(Reply::unprocessable(
            "Invalid request.\n\n\"name\" and \"email\" are required.",
        ));
    };
    let date = match value.get("date").and_then(Value::as_str) {
        None => FIXED_DATE,
        Some(date) => match DateTime::parse_from_rfc3339(date) {
            Ok(date) => date.timestamp(),
            Err(_) => return Err(Reply::unprocessable(format!("{date} is not a valid date"))),
        },
    };
    Ok(Some(Signature {
        name: name.to_owned(),
        email: email.to_owned(),
        date,
    }))
}

fn create_commit(state: &mut State, call: &Call<'_>) -> Reply {
    let (Some(message), Some(tree)) = (call.str("message"), call.str("tree")) else {
        return Reply::unprocessable("Invalid request.\n\n\"message\" and \"tree\" are required.");
    };
    if state.git.kind(tree).as_deref() != Some("tree") {
        return Reply::unprocessable("Tree SHA does not exist");
    }
    let mut parents = Vec::new();
    match call.input.get("parents") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for parent in list {
                let Some(parent) = parent.as_str() else {
                    return Reply::unprocessable("parents must be strings");
                };
                if state.git.kind(parent).as_deref() != Some("commit") {
                    return Reply::unprocessable(
                        "Parent SHA does not exist or is not a commit object",
                    );
                }
                parents.push(parent.to_owned());
            }
        }
        Some(_) => return Reply::unprocessable("parents must be an array"),
    }
    let author = match parse_signature(call.input.get("author")) {
        Ok(author) => author.unwrap_or_else(Signature::fixed),
        Err(reply) => return reply,
    };
    let committer = match parse_signature(call.input.get("committer")) {
        Ok(committer) => committer.unwrap_or_else(|| author.clone()),
        Err(reply) => return reply,
    };
    let sha = match state
        .git
        .commit_tree(tree, &parents, message, &author, &committer)
    {
        Ok(sha) => sha,
        Err(e) => return Reply::internal(e),
    };
    match state.git.commit(&sha) {
        Some(info) => Reply::new(StatusCode::CREATED, state.commit_json(&info)),
        None => Reply::internal("commit not written".to_owned()),
    }
}

fn get_commit(state: &mut State, call: &Call<'_>) -> Reply {
    match state.git.commit(call.rest[2]) {
        Some(info) => Reply::new(StatusCode::OK, state.commit_json(&info)),
        None => Reply::not_found(),
    }
}

fn get_contents(state: &mut State, call: &Call<'_>) -> Reply {
    let path = call.tail(1);
    let reference = call
        .query("ref")
        .unwrap_or_else(|| DEFAULT_BRANCH.to_owned());
    let Some(commit) = state.resolve_commit(&reference) else {
        return Reply::error(
            StatusCode::NOT_FOUND,
            format!("No commit found for the ref {reference}"),
        );
    };
    let object = if path.is_empty() {
        state.git.tree_of(&commit)
    } else {
        state.git.text(&["rev-parse", &format!("{commit}:{path}")])
    };
    let Ok(sha) = object else {
        return Reply::not_found();
    };
    let url = state.repo_url();
    match state.git.kind(&sha).as_deref() {
        Some("blob") => match state.git.blob(&sha) {
            Ok(bytes) => Reply::new(
                StatusCode::OK,
                json!({
                    "type": "file",
                    "encoding": "base64",
                    "size": bytes.len(),
                    "name": path.rsplit('/').next().unwrap_or_default(),
                    "path": path,
                    "content": wrap_base64(&bytes),
                    "sha": sha,
                    "url": format!("{url}/contents/{path}?ref={reference}"),
                    "git_url": format!("{url}/git/blobs/{sha}"),
                }),
            ),
            Err(e) => Reply::internal(e),
        },
        Some("tree") => match state.git.list(&sha, false) {
            Ok(entries) => {
                let list: Vec<Value> = entries
                    .into_iter()
                    .map(|[_, kind, sha, size, name]| {
                        let full = if path.is_empty() {
                            name.clone()
                        } else {
                            format!("{path}/{name}")
                        };
                        json!({
                            "type": if kind == "tree" { "dir" } else { "file" },
                            "size": size.parse::<u64>().unwrap_or_default(),
                            "name": name,
                            "path": full,
                            "sha": sha,
                        })
                    })
                    .collect();
                Reply::new(StatusCode::OK, Value::Array(list))
            }
            Err(e) => Reply::internal(e),
        },
        _ => Reply::not_found(),
    }
}

/// The branch of a `head` given as `branch` or `owner:branch`, if the owner is this one.
fn head_branch(state: &State, head: &str) -> Option<String> {
    match head.split_once(':') {
        Some((owner, branch)) => owner
            .eq_ignore_ascii_case(&state.owner)
            .then(|| branch.to_owned()),
        None => Some(head.to_owned()),
    }
}

fn create_pull(state: &mut State, call: &Call<'_>) -> Reply {
    let (Some(head), Some(base)) = (call.str("head"), call.str("base")) else {
        return Reply::unprocessable("Invalid request.\n\n\"head\" and \"base\" are required.");
    };
    let Some(title) = call.str("title") else {
        return Reply::validation("PullRequest", Some("title"), "missing_field", None);
    };
    let Some(base_sha) = state.git.branch(base) else {
        return Reply::validation("PullRequest", Some("base"), "invalid", None);
    };
    let Some(branch) = head_branch(state, head) else {
        return Reply::validation("PullRequest", Some("head"), "invalid", None);
    };
    let Some(head_sha) = state.git.branch(&branch) else {
        return Reply::validation("PullRequest", Some("head"), "invalid", None);
    };
    if state
        .pulls
        .iter()
        .any(|p| p.state == "open" && p.head == branch && p.base == base)
    {
        let message = format!(
            "A pull request already exists for {}:{branch}.",
            state.owner
        );
        return Reply::validation("PullRequest", None, "custom", Some(&message));
    }
    let ahead = state
        .git
        .text(&["rev-list", "--count", &format!("{base_sha}..{head_sha}")])
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_default();
    if ahead == 0 {
        let message = format!("No commits between {base} and {branch}");
        return Reply::validation("PullRequest", None, "custom", Some(&message));
    }
    let pull = PullRequest {
        number: state.next_number,
        title: title.to_owned(),
        body: call.str("body").map(str::to_owned),
        head: branch,
        base: base.to_owned(),
        state: "open".to_owned(),
        draft: call
            .input
            .get("draft")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        merged: false,
        merge_commit_sha: None,
        closed_head_sha: None,
        comments: Vec::new(),
    };
    state.next_number += 1;
    let json = state.pull_json(&pull);
    state.pulls.push(pull);
    Reply::new(StatusCode::CREATED, json)
}

fn list_pulls(state: &mut State, call: &Call<'_>) -> Reply {
    let wanted = call.query("state").unwrap_or_else(|| "open".to_owned());
    if !matches!(wanted.as_str(), "open" | "closed" | "all") {
        return Reply::validation("PullRequest", Some("state"), "invalid", None);
    }
    let head = call.query("head");
    let base = call.query("base");
    let per_page = call
        .query("per_page")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = call
        .query("page")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let list: Vec<Value> = state
        .pulls
        .iter()
        .rev()
        .filter(|p| wanted == "all" || p.state == wanted)
        .filter(|p| {
            head.as_deref().is_none_or(|h| match h.split_once(':') {
                Some((owner, branch)) => {
                    owner.eq_ignore_ascii_case(&state.owner) && branch == p.head
                }
                // GitHub ignores a head without the owner's prefix.
                None => true,
            })
        })
        .filter(|p| base.as_deref().is_none_or(|b| b == p.base))
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|p| state.pull_json(p))
        .collect();
    Reply::new(StatusCode::OK, Value::Array(list))
}

fn pull_index(state: &State, call: &Call<'_>) -> Option<usize> {
    let number: u64 = call.rest[1].parse().ok()?;
    state.pulls.iter().position(|p| p.number == number)
}

fn get_pull(state: &mut State, call: &Call<'_>) -> Reply {
    match pull_index(state, call) {
        Some(index) => Reply::new(StatusCode::OK, state.pull_json(&state.pulls[index])),
        None => Reply::not_found(),
    }
}

fn update_pull(state: &mut State, call: &Call<'_>) -> Reply {
    let Some(index) = pull_index(state, call) else {
        return Reply::not_found();
    };
    let mut pull = state.pulls[index].clone();
    if let Some(title) = call.str("title") {
        title.clone_into(&mut pull.title);
    }
    if let Some(body) = call.input.get("body") {
        pull.body = body.as_str().map(str::to_owned);
    }
    if let Some(base) = call.str("base") {
        if state.git.branch(base).is_none() {
            return Reply::validation("PullRequest", Some("base"), "invalid", None);
        }
        base.clone_into(&mut pull.base);
    }
    match call.str("state") {
        None => {}
        Some("closed") if pull.state == "open" => {
            pull.state = "closed".to_owned();
            pull.closed_head_sha = state.git.branch(&pull.head);
        }
        Some("open") if pull.state == "closed" => {
            if pull.merged {
                return Reply::validation(
                    "PullRequest",
                    Some("state"),
                    "custom",
                    Some("state cannot be changed. The pull request has been merged."),
                );
            }
            if state.git.branch(&pull.head).is_none()
                || state.pulls.iter().any(|p| {
                    p.number != pull.number
                        && p.state == "open"
                        && p.head == pull.head
                        && p.base == pull.base
                })
            {
                return Reply::validation(
                    "PullRequest",
                    Some("state"),
                    "custom",
                    Some("state cannot be changed."),
                );
            }
            pull.state = "open".to_owned();
            pull.closed_head_sha = None;
        }
        Some("open" | "closed") => {}
        Some(_) => return Reply::validation("PullRequest", Some("state"), "invalid", None),
    }
    let json = state.pull_json(&pull);
    state.pulls[index] = pull;
    Reply::new(StatusCode::OK, json)
}

fn comment_json(state: &State, number: u64, index: usize, body: &str) -> Value {
    let id = number * 1000 + index as u64 + 1;
    json!({
        "id": id,
        "body": body,
        "user": {"login": "c15t-bot"},
        "url": format!("{}/issues/comments/{id}", state.repo_url()),
        "html_url": format!("https://github.com/{}/{}/pull/{number}#issuecomment-{id}", state.owner, state.name),
        "created_at": iso(FIXED_DATE),
    })
}

fn add_comment(state: &mut State, call: &Call<'_>) -> Reply {
    let Some(index) = pull_index(state, call) else {
        return Reply::not_found();
    };
    let Some(body) = call.str("body") else {
        return Reply::unprocessable("Invalid request.\n\n\"body\" wasn't supplied.");
    };
    let number = state.pulls[index].number;
    state.pulls[index].comments.push(body.to_owned());
    let at = state.pulls[index].comments.len() - 1;
    Reply::new(StatusCode::CREATED, comment_json(state, number, at, body))
}

fn list_comments(state: &mut State, call: &Call<'_>) -> Reply {
    let Some(index) = pull_index(state, call) else {
        return Reply::not_found();
    };
    let pull = &state.pulls[index];
    let list: Vec<Value> = pull
        .comments
        .iter()
        .enumerate()
        .map(|(i, body)| comment_json(state, pull.number, i, body))
        .collect();
    Reply::new(StatusCode::OK, Value::Array(list))
}

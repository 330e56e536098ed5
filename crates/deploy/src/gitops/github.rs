//! GitHub's REST API for GitOps delivery: the Git database API (refs, trees, commits) and pull
//! requests (<https://docs.github.com/en/rest/git> and <https://docs.github.com/en/rest/pulls>).
//!
//! Requests carry `Accept: application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28` and
//! `Authorization: Bearer <token>`. Retried with backoff: 5xx, timeouts, connection failures,
//! 429, and 403 answers that are rate limits (primary: `x-ratelimit-remaining: 0`, waiting until
//! `x-ratelimit-reset`; secondary: `retry-after`). Other 4xx answers are final.

use std::collections::BTreeMap;
use std::time::Duration;

use c15t_secrets::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

use super::{GitError, ProjectFiles, Published, git_blob_sha};
use crate::cloudflare::RetryPolicy;

const PROVIDER: &str = "GitHub";

/// GitHub's public API base.
pub const DEFAULT_API_BASE: &str = "https://api.github.com";

/// The longest wait for a primary rate limit's reset before giving up on a request.
const MAX_RATE_WAIT: Duration = Duration::from_secs(120);

/// One pull request, as far as publishing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number.
    pub number: u64,
    /// Where people see it.
    pub url: String,
    /// Its title.
    pub title: String,
    /// Its body.
    pub body: String,
}

/// What to publish: the repository, branches and message of one environment's project.
#[derive(Debug, Clone, Copy)]
pub struct Publication<'a> {
    /// `owner/name`.
    pub repo: &'a str,
    /// The branch the pull request targets (`main`).
    pub base: &'a str,
    /// The environment's branch (`c15t/<customer>/<environment>`).
    pub branch: &'a str,
    /// The environment's directory in the repository (`c15t/production`): everything under
    /// it is the project, nothing outside it is touched.
    pub dir: &'a str,
    /// The commit message.
    pub message: &'a str,
    /// The pull request's title.
    pub title: &'a str,
    /// The pull request's body.
    pub body: &'a str,
}

/// A GitHub API client for one credential.
#[derive(Debug, Clone)]
pub struct GitHub {
    http: reqwest::Client,
    base: Url,
    token: Secret,
    retry: RetryPolicy,
}

impl GitHub {
    /// A client of the API at `base` (GitHub's [`DEFAULT_API_BASE`], a GitHub Enterprise
    /// server's `https://HOST/api/v3`, or a test's fake) with `token` (a personal access token
    /// or an installation token).
    pub fn new(http: reqwest::Client, base: Url, token: Secret, retry: RetryPolicy) -> Self {
        Self {
            http,
            base,
            token,
            retry,
        }
    }

    fn url(&self, repo: &str, rest: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .expect("an API base URL can have path segments");
            segments.pop_if_empty().push("repos");
            for part in repo.split('/') {
                segments.push(part);
            }
            for part in rest {
                for s in part.split('/') {
                    segments.push(s);
                }
            }
        }
        url
    }

    /// One API call with retries; `Ok` carries every final answer (2xx and other 4xx) for the
    /// caller to read.
    async fn call(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), GitError> {
        let attempts = self.retry.attempts();
        let mut last = String::new();
        for attempt in 1..=attempts {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .timeout(self.retry.request_timeout)
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28")
                .header("user-agent", "c15t-control-plane")
                .bearer_auth(self.token.expose());
            if let Some(body) = body {
                request = request.json(body);
            }
            let (wait, failure) = match request.send().await {
                Err(e) => (None, scrub(&e.to_string(), &self.token)),
                Ok(answer) => {
                    let status = answer.status();
                    let headers = answer.headers().clone();
                    let text = answer.text().await.unwrap_or_default();
                    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let retry_after = header("retry-after")
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let exhausted = header("x-ratelimit-remaining").as_deref() == Some("0");
                    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
                        || (status == StatusCode::FORBIDDEN
                            && (retry_after.is_some() || exhausted));
                    if rate_limited {
                        let until_reset = header("x-ratelimit-reset")
                            .and_then(|s| s.trim().parse::<i64>().ok())
                            .map(|reset| {
                                let now = chrono::Utc::now().timestamp();
                                Duration::from_secs(u64::try_from(reset - now).unwrap_or(0) + 1)
                            });
                        let wait = retry_after.or(until_reset).map(|w| w.min(MAX_RATE_WAIT));
                        (wait, format!("rate limited ({status})"))
                    } else if status.is_server_error() {
                        (None, format!("{status}"))
                    } else {
                        return Ok((status, value));
                    }
                }
            };
            last = failure;
            if attempt < attempts {
                tokio::time::sleep(self.retry.delay(attempt, wait)).await;
            }
        }
        Err(GitError::Unavailable {
            provider: PROVIDER,
            operation: operation.to_owned(),
            attempts,
            last,
        })
    }

    /// `call`, mapping 401/403/404 to errors that name what is missing, and any other status
    /// outside `ok` to [`GitError::Refused`].
    async fn expect(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        body: Option<&Value>,
        ok: &[StatusCode],
        permission: &str,
    ) -> Result<(StatusCode, Value), GitError> {
        let (status, value) = self.call(operation, method, url, body).await?;
        if ok.contains(&status) {
            return Ok((status, value));
        }
        Err(self.refusal(operation, status, &value, permission))
    }

    fn refusal(
        &self,
        operation: &str,
        status: StatusCode,
        value: &Value,
        permission: &str,
    ) -> GitError {
        let message = scrub(
            value["message"].as_str().unwrap_or("no message"),
            &self.token,
        );
        match status {
            StatusCode::UNAUTHORIZED => GitError::BadCredentials { provider: PROVIDER },
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => GitError::Forbidden {
                provider: PROVIDER,
                what: format!(
                    "{operation} was refused ({status}: {message}); the token needs {permission} \
                     on the repository"
                ),
            },
            _ => GitError::Refused {
                provider: PROVIDER,
                operation: operation.to_owned(),
                status: status.as_u16(),
                message,
            },
        }
    }

    /// The head commit of `branch`, `None` when the branch does not exist.
    pub async fn branch_head(&self, repo: &str, branch: &str) -> Result<Option<String>, GitError> {
        let operation = format!("reading branch {branch}");
        let url = self.url(repo, &["git", "ref", "heads", branch]);
        let (status, value) = self.call(&operation, Method::GET, url, None).await?;
        match status {
            StatusCode::OK => Ok(Some(str_field(&value["object"]["sha"], &operation)?)),
            // A missing ref is 404 like a hidden repository: tell them apart by reading the
            // repository, which `publish` does first.
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(self.refusal(&operation, status, &value, "Contents: read")),
        }
    }

    /// Checks that the token sees `repo` and may push to it; the error names what is missing.
    pub async fn check_access(&self, repo: &str) -> Result<(), GitError> {
        let operation = format!("reading repository {repo}");
        let (_, value) = self
            .expect(
                &operation,
                Method::GET,
                self.url(repo, &[]),
                None,
                &[StatusCode::OK],
                "Metadata: read",
            )
            .await?;
        if value["permissions"]["push"].as_bool() == Some(false) {
            return Err(GitError::Forbidden {
                provider: PROVIDER,
                what: format!(
                    "the token may not push to {repo}; it needs Contents: read and write and \
                     Pull requests: read and write"
                ),
            });
        }
        Ok(())
    }

    /// A commit's tree id and its first parent.
    async fn commit(&self, repo: &str, sha: &str) -> Result<(String, Option<String>), GitError> {
        let operation = format!("reading commit {sha}");
        let (_, value) = self
            .expect(
                &operation,
                Method::GET,
                self.url(repo, &["git", "commits", sha]),
                None,
                &[StatusCode::OK],
                "Contents: read",
            )
            .await?;
        let tree = str_field(&value["tree"]["sha"], &operation)?;
        let parent = value["parents"][0]["sha"].as_str().map(str::to_owned);
        Ok((tree, parent))
    }

    /// Every blob under `dir` in `tree`, by repository path, with its blob id.
    async fn files_under(
        &self,
        repo: &str,
        tree: &str,
        dir: &str,
    ) -> Result<BTreeMap<String, String>, GitError> {
        let operation = format!("reading tree {tree}");
        let mut url = self.url(repo, &["git", "trees", tree]);
        url.query_pairs_mut().append_pair("recursive", "1");
        let (_, value) = self
            .expect(
                &operation,
                Method::GET,
                url,
                None,
                &[StatusCode::OK],
                "Contents: read",
            )
            .await?;
        if value["truncated"].as_bool() == Some(true) {
            return Err(GitError::Malformed {
                provider: PROVIDER,
                operation,
                detail: "the tree listing is truncated (over 100,000 entries)".to_owned(),
            });
        }
        let prefix = format!("{}/", dir.trim_matches('/'));
        let entries = value["tree"].as_array().cloned().unwrap_or_default();
        Ok(entries
            .iter()
            .filter(|e| e["type"] == "blob")
            .filter_map(|e| {
                let path = e["path"].as_str()?;
                let sha = e["sha"].as_str()?;
                path.starts_with(&prefix)
                    .then(|| (path.to_owned(), sha.to_owned()))
            })
            .collect())
    }

    /// The open pull request from `branch` into `base`, if any.
    pub async fn open_pull(
        &self,
        repo: &str,
        branch: &str,
        base: &str,
    ) -> Result<Option<PullRequest>, GitError> {
        let operation = format!("listing pull requests of {branch}");
        let owner = repo.split('/').next().unwrap_or_default();
        let mut url = self.url(repo, &["pulls"]);
        url.query_pairs_mut()
            .append_pair("head", &format!("{owner}:{branch}"))
            .append_pair("base", base)
            .append_pair("state", "open");
        let (_, value) = self
            .expect(
                &operation,
                Method::GET,
                url,
                None,
                &[StatusCode::OK],
                "Pull requests: read",
            )
            .await?;
        let pulls = value.as_array().cloned().unwrap_or_default();
        pulls
            .iter()
            .find(|p| p["head"]["ref"] == branch && p["state"] == "open")
            .map(|p| pull_of(p, &operation))
            .transpose()
    }

    /// Makes the branch of `publication` hold exactly `files` under its directory on top of
    /// the base branch, in one commit, with one open pull request; or, when the base branch
    /// already holds exactly `files` there, closes the environment's open pull request (with a
    /// comment) and opens none. Safe to repeat after any failure: every write is preceded by
    /// a read of what is there.
    pub async fn publish(
        &self,
        publication: &Publication<'_>,
        files: &ProjectFiles,
    ) -> Result<Published, GitError> {
        let Publication {
            repo,
            base,
            branch,
            dir,
            ..
        } = *publication;
        self.check_access(repo).await?;
        let base_head =
            self.branch_head(repo, base)
                .await?
                .ok_or_else(|| GitError::NoBaseBranch {
                    repo: repo.to_owned(),
                    branch: base.to_owned(),
                })?;
        let wanted: BTreeMap<String, String> = files
            .iter()
            .map(|(path, contents)| (path.clone(), git_blob_sha(contents)))
            .collect();
        let (base_tree, _) = self.commit(repo, &base_head).await?;
        let on_base = self.files_under(repo, &base_tree, dir).await?;
        let open = self.open_pull(repo, branch, base).await?;

        if on_base == wanted {
            let closed = match open {
                Some(pull) => {
                    self.close_pull(
                        repo,
                        pull.number,
                        "The base branch already holds exactly these files: nothing to merge.",
                    )
                    .await?;
                    Some(pull.number)
                }
                None => None,
            };
            return Ok(Published::BaseHolds {
                commit: base_head,
                closed,
            });
        }

        // Reuse the branch's commit when it already is this content on top of this base (a
        // retry after a lost answer, or an unchanged revision).
        let branch_head = self.branch_head(repo, branch).await?;
        let reusable = match &branch_head {
            Some(head) => {
                let (tree, parent) = self.commit(repo, head).await?;
                parent.as_deref() == Some(base_head.as_str())
                    && self.files_under(repo, &tree, dir).await? == wanted
            }
            None => false,
        };
        let (commit, committed) = match (&branch_head, reusable) {
            (Some(head), true) => (head.clone(), false),
            _ => {
                let commit = self
                    .new_commit(
                        repo,
                        publication.message,
                        &base_tree,
                        &base_head,
                        files,
                        &on_base,
                    )
                    .await?;
                self.point_branch(repo, branch, &commit, branch_head.is_some())
                    .await?;
                (commit, true)
            }
        };

        let (pull, opened) = match open {
            Some(pull) => {
                if pull.title != publication.title || pull.body != publication.body {
                    self.edit_pull(repo, pull.number, publication.title, publication.body)
                        .await?;
                }
                (pull, false)
            }
            None => self.open_new_pull(publication).await?,
        };
        Ok(Published::PullRequest {
            number: pull.number,
            url: pull.url,
            commit,
            committed,
            opened,
        })
    }

    /// One commit on top of `base_head` whose tree is the base tree with `files` written and
    /// every other file under the directory (`on_base`) deleted.
    async fn new_commit(
        &self,
        repo: &str,
        message: &str,
        base_tree: &str,
        base_head: &str,
        files: &ProjectFiles,
        on_base: &BTreeMap<String, String>,
    ) -> Result<String, GitError> {
        let mut entries = Vec::new();
        for (path, contents) in files {
            if on_base.get(path).map(String::as_str) == Some(git_blob_sha(contents).as_str()) {
                continue;
            }
            let entry = match std::str::from_utf8(contents) {
                Ok(text) => {
                    json!({"path": path, "mode": "100644", "type": "blob", "content": text})
                }
                Err(_) => {
                    let sha = self.blob(repo, contents).await?;
                    json!({"path": path, "mode": "100644", "type": "blob", "sha": sha})
                }
            };
            entries.push(entry);
        }
        for path in on_base.keys().filter(|p| !files.contains_key(*p)) {
            entries.push(json!({"path": path, "mode": "100644", "type": "blob", "sha": null}));
        }
        let operation = "creating the project's tree".to_owned();
        let (_, tree) = self
            .expect(
                &operation,
                Method::POST,
                self.url(repo, &["git", "trees"]),
                Some(&json!({"base_tree": base_tree, "tree": entries})),
                &[StatusCode::CREATED],
                "Contents: read and write",
            )
            .await?;
        let tree = str_field(&tree["sha"], &operation)?;
        let operation = "creating the commit".to_owned();
        let (_, commit) = self
            .expect(
                &operation,
                Method::POST,
                self.url(repo, &["git", "commits"]),
                Some(&json!({"message": message, "tree": tree, "parents": [base_head]})),
                &[StatusCode::CREATED],
                "Contents: read and write",
            )
            .await?;
        str_field(&commit["sha"], &operation)
    }

    async fn blob(&self, repo: &str, contents: &[u8]) -> Result<String, GitError> {
        use base64::Engine as _;
        let operation = "uploading a file".to_owned();
        let body = json!({
            "content": base64::engine::general_purpose::STANDARD.encode(contents),
            "encoding": "base64",
        });
        let (_, value) = self
            .expect(
                &operation,
                Method::POST,
                self.url(repo, &["git", "blobs"]),
                Some(&body),
                &[StatusCode::CREATED],
                "Contents: read and write",
            )
            .await?;
        str_field(&value["sha"], &operation)
    }

    /// Points `branch` at `commit`: created when it does not exist, else force-updated (the
    /// branch belongs to the control plane; a newer revision replaces its commit).
    async fn point_branch(
        &self,
        repo: &str,
        branch: &str,
        commit: &str,
        exists: bool,
    ) -> Result<(), GitError> {
        let operation = format!("updating branch {branch}");
        if !exists {
            let (status, value) = self
                .call(
                    &operation,
                    Method::POST,
                    self.url(repo, &["git", "refs"]),
                    Some(&json!({"ref": format!("refs/heads/{branch}"), "sha": commit})),
                )
                .await?;
            match status {
                StatusCode::CREATED => return Ok(()),
                // Created by an attempt whose answer was lost: update it instead.
                StatusCode::UNPROCESSABLE_ENTITY => {}
                status => {
                    return Err(self.refusal(
                        &operation,
                        status,
                        &value,
                        "Contents: read and write",
                    ));
                }
            }
        }
        self.expect(
            &operation,
            Method::PATCH,
            self.url(repo, &["git", "refs", "heads", branch]),
            Some(&json!({"sha": commit, "force": true})),
            &[StatusCode::OK],
            "Contents: read and write",
        )
        .await
        .map(drop)
    }

    async fn open_new_pull(
        &self,
        publication: &Publication<'_>,
    ) -> Result<(PullRequest, bool), GitError> {
        let repo = publication.repo;
        let operation = format!("opening a pull request from {}", publication.branch);
        let (status, value) = self
            .call(
                &operation,
                Method::POST,
                self.url(repo, &["pulls"]),
                Some(&json!({
                    "title": publication.title,
                    "head": publication.branch,
                    "base": publication.base,
                    "body": publication.body,
                })),
            )
            .await?;
        match status {
            StatusCode::CREATED => Ok((pull_of(&value, &operation)?, true)),
            // "A pull request already exists": opened by an attempt whose answer was lost.
            StatusCode::UNPROCESSABLE_ENTITY => {
                match self
                    .open_pull(repo, publication.branch, publication.base)
                    .await?
                {
                    Some(pull) => Ok((pull, false)),
                    None => Err(self.refusal(&operation, status, &value, "Pull requests: write")),
                }
            }
            status => {
                Err(self.refusal(&operation, status, &value, "Pull requests: read and write"))
            }
        }
    }

    async fn edit_pull(
        &self,
        repo: &str,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<(), GitError> {
        self.expect(
            &format!("updating pull request #{number}"),
            Method::PATCH,
            self.url(repo, &["pulls", &number.to_string()]),
            Some(&json!({"title": title, "body": body})),
            &[StatusCode::OK],
            "Pull requests: read and write",
        )
        .await
        .map(drop)
    }

    /// Comments on pull request `number` and closes it.
    pub async fn close_pull(&self, repo: &str, number: u64, comment: &str) -> Result<(), GitError> {
        self.expect(
            &format!("commenting on pull request #{number}"),
            Method::POST,
            self.url(repo, &["issues", &number.to_string(), "comments"]),
            Some(&json!({"body": comment})),
            &[StatusCode::CREATED],
            "Pull requests: read and write",
        )
        .await?;
        self.expect(
            &format!("closing pull request #{number}"),
            Method::PATCH,
            self.url(repo, &["pulls", &number.to_string()]),
            Some(&json!({"state": "closed"})),
            &[StatusCode::OK],
            "Pull requests: read and write",
        )
        .await
        .map(drop)
    }
}

fn str_field(value: &Value, operation: &str) -> Result<String, GitError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| GitError::Malformed {
            provider: PROVIDER,
            operation: operation.to_owned(),
            detail: "a documented id is missing".to_owned(),
        })
}

fn pull_of(value: &Value, operation: &str) -> Result<PullRequest, GitError> {
    let number = value["number"]
        .as_u64()
        .ok_or_else(|| GitError::Malformed {
            provider: PROVIDER,
            operation: operation.to_owned(),
            detail: "the pull request has no number".to_owned(),
        })?;
    Ok(PullRequest {
        number,
        url: value["html_url"].as_str().unwrap_or_default().to_owned(),
        title: value["title"].as_str().unwrap_or_default().to_owned(),
        body: value["body"].as_str().unwrap_or_default().to_owned(),
    })
}

/// `text` with the token replaced by `***`.
fn scrub(text: &str, token: &Secret) -> String {
    let token = token.expose();
    if token.is_empty() {
        text.to_owned()
    } else {
        text.replace(token, "***")
    }
}

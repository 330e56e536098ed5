//! GitOps delivery (issue 16): a customer's generated worker project committed into their own
//! repository through the provider's REST API (no local clone, no `git` binary), on one branch
//! per environment with one pull request the customer reviews and merges; their CI deploys it.
//!
//! [`github::GitHub`] speaks GitHub's REST API (the Git database API for blobs, trees, commits
//! and refs; the pulls API). [`GitHub::publish`](github::GitHub::publish) is idempotent: it reads
//! the base branch, the environment's branch and its pull request before each write, so a lost
//! answer (the write took effect, the answer never came) is retried without a second commit or
//! a second pull request, and a base branch that already holds exactly the generated files
//! gets no pull request at all.
//!
//! **Invariant:** only files under the environment's directory are written or deleted; files
//! elsewhere in the repository are never touched.
//!
//! **Invariant:** the credential is sent only in the `Authorization` header and is scrubbed from
//! every error message, should a server echo it.

pub mod body;
pub mod github;

use std::collections::BTreeMap;

use sha1::{Digest as _, Sha1};

/// What went wrong talking to a git provider.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The credential was refused (401): wrong, expired or revoked.
    #[error("{provider} refused the credential (401 Bad credentials): set a new token")]
    BadCredentials {
        /// `GitHub` or `GitLab`.
        provider: &'static str,
    },
    /// The credential may not do what was asked (403), or cannot see the repository (404:
    /// providers hide private repositories from tokens without access).
    #[error("{provider}: {what}")]
    Forbidden {
        /// `GitHub` or `GitLab`.
        provider: &'static str,
        /// What was refused and which permission it needs.
        what: String,
    },
    /// A request the provider refused for another reason, with its message (credential
    /// scrubbed).
    #[error("{provider} answered {status} to {operation}: {message}")]
    Refused {
        /// `GitHub` or `GitLab`.
        provider: &'static str,
        /// What was being done.
        operation: String,
        /// The HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// No answer after every retry (timeouts, connection failures, 5xx, rate limits).
    #[error("{provider} did not answer {operation} after {attempts} attempts: {last}")]
    Unavailable {
        /// `GitHub` or `GitLab`.
        provider: &'static str,
        /// What was being done.
        operation: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The base branch does not exist.
    #[error("the base branch `{branch}` does not exist in {repo}")]
    NoBaseBranch {
        /// The repository.
        repo: String,
        /// The branch.
        branch: String,
    },
    /// A file path the project cannot be committed under (absolute, `..`, empty segments).
    #[error("refusing to commit `{path}`: not a plain relative path")]
    BadPath {
        /// The path.
        path: String,
    },
    /// An answer that does not have the documented shape.
    #[error("{provider} answered {operation} with an unexpected body: {detail}")]
    Malformed {
        /// `GitHub` or `GitLab`.
        provider: &'static str,
        /// What was being done.
        operation: String,
        /// What was missing.
        detail: String,
    },
}

/// The object id git gives a file with these contents (`git hash-object`): SHA-1 of
/// `blob <length>\0<contents>`, in hex. Comparing it with the ids a tree lists tells whether a
/// file changed without downloading it.
pub fn git_blob_sha(contents: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", contents.len()).as_bytes());
    hasher.update(contents);
    hex::encode(hasher.finalize())
}

/// The files of one environment's project as they should be in the repository: paths relative
/// to the repository root (the environment's directory included) to contents.
pub type ProjectFiles = BTreeMap<String, Vec<u8>>;

/// Joins `dir` and a project-relative `path` into a repository path, refusing anything that is
/// not plain and relative.
pub fn repo_path(dir: &str, path: &str) -> Result<String, GitError> {
    let plain = |p: &str| {
        !p.is_empty()
            && !p.starts_with('/')
            && !p.contains('\\')
            && p.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
    };
    let dir = dir.trim_matches('/');
    if !plain(path) || (!dir.is_empty() && !plain(dir)) {
        return Err(GitError::BadPath {
            path: format!("{dir}/{path}"),
        });
    }
    Ok(if dir.is_empty() {
        path.to_owned()
    } else {
        format!("{dir}/{path}")
    })
}

/// What [`github::GitHub::publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The base branch already holds exactly these files: no pull request (an open one was
    /// closed with a comment saying so).
    BaseHolds {
        /// The base branch's head commit.
        commit: String,
        /// The pull request closed, if one was open.
        closed: Option<u64>,
    },
    /// The environment's pull request holds these files.
    PullRequest {
        /// Its number.
        number: u64,
        /// Where people see it.
        url: String,
        /// The commit on its branch.
        commit: String,
        /// Whether this call made a new commit (false: the branch already held it).
        committed: bool,
        /// Whether this call opened the pull request (false: it updated the open one).
        opened: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_are_gits() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // The empty blob.
        assert_eq!(
            git_blob_sha(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }

    #[test]
    fn repository_paths_stay_plain() {
        assert_eq!(
            repo_path("c15t/production", "src/index.ts").unwrap(),
            "c15t/production/src/index.ts"
        );
        assert_eq!(repo_path("", "a.txt").unwrap(), "a.txt");
        for (dir, path) in [
            ("c15t", "../x"),
            ("c15t", "/etc/passwd"),
            ("c15t", "a//b"),
            ("c15t", "./a"),
            ("../c15t", "a"),
            ("c15t", "a\\b"),
            ("c15t", ""),
        ] {
            assert!(repo_path(dir, path).is_err(), "{dir} {path}");
        }
    }
}

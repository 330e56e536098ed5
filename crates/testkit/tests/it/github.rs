//! The fake GitHub API: the GitOps flow (blob, tree, commit, ref, pull request) against a real
//! bare repository, ref and pull request rules, auth, rate limits and faults.

use std::collections::BTreeMap;
use std::process::Command;

use c15t_testkit::github::{FakeGitHub, Faults, Permissions};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_writer_token_for_tests";
const READER: &str = "ghp_reader_token_for_tests";
const OTHER: &str = "ghp_token_of_another_repo";

struct Api {
    client: Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let url = format!("{}/repos/acme/site{path}", self.base);
        let mut request = self
            .client
            .request(method, url)
            .header("authorization", format!("Bearer {}", self.token))
            .header("accept", "application/vnd.github+json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request to the fake")
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let response = self.send(method, path, body).await;
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("a JSON answer")
        };
        (status, value)
    }

    fn with_token(&self, token: &str) -> Api {
        Api {
            client: self.client.clone(),
            base: self.base.clone(),
            token: token.to_owned(),
        }
    }
}

async fn start() -> (FakeGitHub, Api) {
    let fake = FakeGitHub::start().await;
    fake.add_token(TOKEN, "acme/site", Permissions::WRITE);
    fake.add_token(READER, "acme/site", Permissions::READ);
    fake.add_token(OTHER, "other/repo", Permissions::ADMIN);
    let api = Api {
        client: Client::new(),
        base: fake.base_url(),
        token: TOKEN.to_owned(),
    };
    (fake, api)
}

fn sha(value: &Value) -> String {
    value["sha"].as_str().expect("a sha").to_owned()
}

/// Commits `files` (and deletions, `None`) on top of `branch`'s tree; returns the commit.
async fn commit_files(
    api: &Api,
    branch: &str,
    files: &[(&str, Option<&str>)],
    message: &str,
) -> String {
    let (_, reference) = api
        .json(Method::GET, &format!("/git/ref/heads/{branch}"), None)
        .await;
    let parent = reference["object"]["sha"].as_str().unwrap().to_owned();
    let (_, commit) = api
        .json(Method::GET, &format!("/git/commits/{parent}"), None)
        .await;
    let base_tree = commit["tree"]["sha"].as_str().unwrap().to_owned();
    let mut entries = Vec::new();
    for (path, content) in files {
        match content {
            Some(content) => {
                let (status, blob) = api
                    .json(
                        Method::POST,
                        "/git/blobs",
                        Some(json!({"content": content, "encoding": "utf-8"})),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED);
                entries.push(
                    json!({"path": path, "mode": "100644", "type": "blob", "sha": sha(&blob)}),
                );
            }
            None => {
                entries.push(json!({"path": path, "mode": "100644", "type": "blob", "sha": null}))
            }
        }
    }
    let (status, tree) = api
        .json(
            Method::POST,
            "/git/trees",
            Some(json!({"base_tree": base_tree, "tree": entries})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tree}");
    let (status, commit) = api
        .json(
            Method::POST,
            "/git/commits",
            Some(json!({"message": message, "tree": sha(&tree), "parents": [parent]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{commit}");
    sha(&commit)
}

#[tokio::test]
async fn gitops_flow_commits_a_project_and_opens_one_pull_request() {
    let (fake, api) = start().await;
    let (status, repo) = api.json(Method::GET, "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(repo["default_branch"], "main");
    assert_eq!(repo["full_name"], "acme/site");
    assert_eq!(repo["permissions"]["push"], true);
    assert_eq!(repo["permissions"]["admin"], false);

    // A file outside the generated directory, and an old generated file to delete.
    fake.commit_on("main", "c15t/production/old.ts", b"old\n");
    fake.commit_on("main", "docs/keep.md", b"keep me\n");
    let main = fake.branch_sha("main").unwrap();

    let (status, missing) = api
        .json(Method::GET, "/git/ref/heads/c15t/acme/production", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");

    let commit = commit_files(
        &api,
        "main",
        &[
            ("c15t/production/src/index.ts", Some("export default {};\n")),
            ("c15t/production/wrangler.toml", Some("name = \"x\"\n")),
            ("c15t/production/old.ts", None),
        ],
        "c15t: production revision 1",
    )
    .await;
    assert_eq!(fake.parents(&commit), vec![main.clone()]);

    let (status, created) = api
        .json(
            Method::POST,
            "/git/refs",
            Some(json!({"ref": "refs/heads/c15t/acme/production", "sha": commit})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["ref"], "refs/heads/c15t/acme/production");
    assert_eq!(created["object"]["sha"], commit.as_str());
    assert_eq!(created["object"]["type"], "commit");
    let (status, again) = api
        .json(
            Method::POST,
            "/git/refs",
            Some(json!({"ref": "refs/heads/c15t/acme/production", "sha": commit})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again["message"], "Reference already exists");
    let (status, reference) = api
        .json(Method::GET, "/git/ref/heads/c15t/acme/production", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reference["object"]["sha"], commit.as_str());

    let (status, pull) = api
        .json(
            Method::POST,
            "/pulls",
            Some(json!({
                "title": "c15t: production",
                "head": "acme:c15t/acme/production",
                "base": "main",
                "body": "What changed",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pull}");
    assert_eq!(pull["number"], 1);
    assert_eq!(pull["state"], "open");
    assert_eq!(pull["merged"], false);
    assert_eq!(pull["head"]["ref"], "c15t/acme/production");
    assert_eq!(pull["head"]["sha"], commit.as_str());
    assert_eq!(pull["base"]["ref"], "main");
    assert_eq!(pull["html_url"], "https://github.com/acme/site/pull/1");

    // A second PR for the same head and base is refused.
    let (status, duplicate) = api
        .json(
            Method::POST,
            "/pulls",
            Some(json!({"title": "again", "head": "c15t/acme/production", "base": "main"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(duplicate["message"], "Validation Failed");
    assert_eq!(
        duplicate["errors"][0]["message"],
        "A pull request already exists for acme:c15t/acme/production."
    );

    // Listing by head finds it; the tree of the branch reads back recursively.
    let (_, listed) = api
        .json(
            Method::GET,
            "/pulls?head=acme:c15t/acme/production&state=open",
            None,
        )
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (status, tree) = api
        .json(
            Method::GET,
            "/git/trees/c15t/acme/production?recursive=1",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let blobs: Vec<&str> = tree["tree"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "blob")
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        blobs,
        [
            "README.md",
            "c15t/production/src/index.ts",
            "c15t/production/wrangler.toml",
            "docs/keep.md"
        ]
    );
    let (status, file) = api
        .json(
            Method::GET,
            "/contents/c15t/production/src/index.ts?ref=c15t/acme/production",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(file["encoding"], "base64");

    // `git clone` shows exactly the committed files.
    let clone = tempfile::tempdir().unwrap();
    let work = clone.path().join("work");
    let status = Command::new("git")
        .args(["clone", "--quiet", "--branch", "c15t/acme/production"])
        .arg(fake.clone_url())
        .arg(&work)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(status.success());
    let mut cloned = BTreeMap::new();
    collect(&work, &work, &mut cloned);
    let expected: BTreeMap<String, Vec<u8>> = [
        ("README.md", "# site\n"),
        ("c15t/production/src/index.ts", "export default {};\n"),
        ("c15t/production/wrangler.toml", "name = \"x\"\n"),
        ("docs/keep.md", "keep me\n"),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_owned(), c.as_bytes().to_vec()))
    .collect();
    assert_eq!(cloned, expected);
    assert_eq!(fake.files_at("c15t/acme/production"), expected);

    // A comment, then a merge through the fake: main holds the branch's files.
    let (status, _) = api
        .json(
            Method::POST,
            "/issues/1/comments",
            Some(json!({"body": "hello"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let merge = fake.merge(1);
    assert_eq!(fake.branch_sha("main").as_deref(), Some(merge.as_str()));
    assert_eq!(fake.files_at("main"), expected);
    let pulls = fake.pulls();
    assert!(pulls[0].merged);
    assert_eq!(pulls[0].state, "closed");
    assert_eq!(pulls[0].comments, ["hello"]);
    let (_, merged) = api.json(Method::GET, "/pulls/1", None).await;
    assert_eq!(merged["merged"], true);
    assert_eq!(merged["state"], "closed");

    assert_eq!(fake.request_count("POST /git/commits"), 1);
    assert_eq!(fake.request_count("POST /pulls"), 2);
}

fn collect(root: &std::path::Path, dir: &std::path::Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_name() == ".git" {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(relative, std::fs::read(&path).unwrap());
        }
    }
}

#[tokio::test]
async fn trees_without_base_hold_only_their_entries_and_bad_entries_are_refused() {
    let (fake, api) = start().await;
    let (status, tree) = api
        .json(
            Method::POST,
            "/git/trees",
            Some(json!({"tree": [
                {"path": "a/b/c.txt", "mode": "100644", "type": "blob", "content": "c"},
                {"path": "run.sh", "mode": "100755", "type": "blob", "content": "#!/bin/sh\n"},
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tree}");
    assert_eq!(tree["truncated"], false);
    let top: Vec<(&str, &str)> = tree["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["path"].as_str().unwrap(), e["mode"].as_str().unwrap()))
        .collect();
    assert_eq!(top, [("a", "040000"), ("run.sh", "100755")]);
    let (status, commit) = api
        .json(
            Method::POST,
            "/git/commits",
            Some(json!({"message": "root", "tree": sha(&tree), "parents": []})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(commit["parents"], json!([]));
    assert_eq!(commit["tree"]["sha"], tree["sha"]);
    let files = fake.files_at(&sha(&commit));
    assert_eq!(files.keys().collect::<Vec<_>>(), ["a/b/c.txt", "run.sh"]);

    let bad = [
        json!({"path": "/abs", "mode": "100644", "type": "blob", "content": "x"}),
        json!({"path": "a/../b", "mode": "100644", "type": "blob", "content": "x"}),
        json!({"path": "a//b", "mode": "100644", "type": "blob", "content": "x"}),
        json!({"path": "x", "mode": "100600", "type": "blob", "content": "x"}),
        json!({"path": "x", "mode": "100644", "type": "file", "content": "x"}),
        json!({"path": "x", "mode": "100644", "type": "blob"}),
        json!({"path": "x", "mode": "100644", "type": "blob", "content": "x", "sha": sha(&tree)}),
        json!({"path": "x", "mode": "100644", "type": "blob", "sha": "0123456789012345678901234567890123456789"}),
        json!({"path": "missing.txt", "mode": "100644", "type": "blob", "sha": null}),
    ];
    for entry in bad {
        let (status, answer) = api
            .json(
                Method::POST,
                "/git/trees",
                Some(json!({"base_tree": sha(&tree), "tree": [entry.clone()]})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{entry} → {answer}"
        );
    }
    let (status, _) = api
        .json(
            Method::POST,
            "/git/commits",
            Some(json!({"message": "m", "tree": "0123456789012345678901234567890123456789"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .json(
            Method::POST,
            "/git/commits",
            Some(json!({"message": "m", "tree": sha(&tree), "parents": ["0123456789012345678901234567890123456789"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Deleting a directory with base_tree removes everything under it.
    let (status, pruned) = api
        .json(
            Method::POST,
            "/git/trees",
            Some(json!({"base_tree": sha(&tree), "tree": [
                {"path": "a", "mode": "040000", "type": "tree", "sha": null},
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(pruned["tree"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn non_fast_forward_updates_need_force_and_pull_requests_need_commits() {
    let (fake, api) = start().await;
    let first = commit_files(&api, "main", &[("f.txt", Some("1"))], "one").await;
    let (status, _) = api
        .json(
            Method::POST,
            "/git/refs",
            Some(json!({"ref": "refs/heads/feature", "sha": first})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // A sibling commit (same parent) is not a fast-forward of `first`.
    let sibling = commit_files(&api, "main", &[("f.txt", Some("2"))], "two").await;
    let (status, refused) = api
        .json(
            Method::PATCH,
            "/git/refs/heads/feature",
            Some(json!({"sha": sibling})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["message"], "Update is not a fast forward");
    assert_eq!(fake.branch_sha("feature").as_deref(), Some(first.as_str()));
    let (status, forced) = api
        .json(
            Method::PATCH,
            "/git/refs/heads/feature",
            Some(json!({"sha": sibling, "force": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{forced}");
    assert_eq!(
        fake.branch_sha("feature").as_deref(),
        Some(sibling.as_str())
    );
    // A fast-forward needs no force.
    let next = commit_files(&api, "feature", &[("g.txt", Some("3"))], "three").await;
    let (status, _) = api
        .json(
            Method::PATCH,
            "/git/refs/heads/feature",
            Some(json!({"sha": next, "force": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Same commits are deterministic: the same request gives the same sha.
    let again = commit_files(&api, "main", &[("f.txt", Some("1"))], "one").await;
    assert_eq!(again, first);

    // A head with no commits ahead of base cannot be proposed.
    let main = fake.branch_sha("main").unwrap();
    api.json(
        Method::POST,
        "/git/refs",
        Some(json!({"ref": "refs/heads/empty", "sha": main})),
    )
    .await;
    let (status, empty) = api
        .json(
            Method::POST,
            "/pulls",
            Some(json!({"title": "t", "head": "empty", "base": "main"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        empty["errors"][0]["message"],
        "No commits between main and empty"
    );

    // Close and list by state.
    let (status, _) = api
        .json(
            Method::POST,
            "/pulls",
            Some(json!({"title": "t", "head": "feature", "base": "main"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, closed) = api
        .json(
            Method::PATCH,
            "/pulls/1",
            Some(json!({"state": "closed", "title": "new title"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["title"], "new title");
    let (_, open) = api.json(Method::GET, "/pulls", None).await;
    assert_eq!(open, json!([]));
    let (_, all) = api.json(Method::GET, "/pulls?state=all", None).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    // A person editing the base branch moves it.
    let before = fake.branch_sha("main").unwrap();
    let edit = fake.commit_on("main", "c15t/production/src/index.ts", b"edited\n");
    assert_eq!(fake.parents(&edit), vec![before]);
    assert_eq!(
        fake.files_at("main")["c15t/production/src/index.ts"],
        b"edited\n"
    );
}

#[tokio::test]
async fn auth_is_checked_per_repository() {
    let (fake, api) = start().await;
    let (status, body) = api.with_token("nope").json(Method::GET, "", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "Bad credentials");
    let (status, _) = api.with_token(OTHER).json(Method::GET, "", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = Client::new()
        .get(format!("{}/repos/acme/site", fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let reader = api.with_token(READER);
    let (status, repo) = reader.json(Method::GET, "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(repo["permissions"]["push"], false);
    let (status, body) = reader
        .json(Method::POST, "/git/blobs", Some(json!({"content": "x"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "Resource not accessible by personal access token"
    );
    // `token` scheme works too.
    let response = Client::new()
        .get(format!(
            "{}/repos/acme/site/git/ref/heads/main",
            fake.base_url()
        ))
        .header("authorization", format!("token {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn rate_limits_answer_403_with_headers() {
    let (fake, api) = start().await;
    let response = api.send(Method::GET, "", None).await;
    assert_eq!(response.headers()["x-ratelimit-limit"], "5000");
    assert_eq!(response.headers()["x-ratelimit-remaining"], "4999");
    assert!(response.headers().contains_key("x-ratelimit-reset"));

    fake.set_rate_limit(2);
    for remaining in ["1", "0"] {
        let response = api.send(Method::GET, "", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-ratelimit-remaining"], remaining);
    }
    let response = api.send(Method::GET, "", None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    let reset: i64 = response.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > chrono::Utc::now().timestamp());
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded")
    );

    fake.set_rate_limit(100);
    fake.secondary_limit(true);
    let response = api.send(Method::GET, "", None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit")
    );
    fake.secondary_limit(false);
    assert_eq!(
        api.send(Method::GET, "", None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn faults_are_deterministic_and_a_dropped_write_takes_effect() {
    let (fake, api) = start().await;
    let main = fake.branch_sha("main").unwrap();
    fake.set_faults(Faults {
        drop_after_apply_rate: 1.0,
        path_contains: Some("/git/refs".to_owned()),
        max_faults: Some(1),
        ..Faults::default()
    });
    let lost = api
        .client
        .post(format!("{}/repos/acme/site/git/refs", api.base))
        .bearer_auth(TOKEN)
        .json(&json!({"ref": "refs/heads/lost", "sha": main}))
        .send()
        .await;
    assert!(lost.is_err(), "the answer is lost");
    assert_eq!(fake.branch_sha("lost").as_deref(), Some(main.as_str()));
    let (status, _) = api
        .json(
            Method::POST,
            "/git/refs",
            Some(json!({"ref": "refs/heads/lost", "sha": main})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    fake.set_faults(Faults {
        error_rate: 0.5,
        seed: 7,
        ..Faults::default()
    });
    let mut first = Vec::new();
    for _ in 0..10 {
        first.push(api.send(Method::GET, "", None).await.status());
    }
    fake.set_faults(Faults {
        error_rate: 0.5,
        seed: 7,
        ..Faults::default()
    });
    let mut second = Vec::new();
    for _ in 0..10 {
        second.push(api.send(Method::GET, "", None).await.status());
    }
    assert_eq!(first, second);
    assert!(first.contains(&StatusCode::INTERNAL_SERVER_ERROR));
    assert!(first.contains(&StatusCode::OK));
}

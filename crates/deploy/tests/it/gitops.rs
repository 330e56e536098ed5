//! GitHub publishing against the fake GitHub (a real bare git repository behind GitHub's REST
//! API): one commit and one pull request per environment, replaced by newer revisions, files
//! outside the directory untouched, nothing duplicated under faults.

use std::collections::BTreeMap;
use std::time::Duration;

use c15t_deploy::cloudflare::RetryPolicy;
use c15t_deploy::gitops::github::{GitHub, Publication};
use c15t_deploy::gitops::{GitError, ProjectFiles, Published};
use c15t_secrets::Secret;
use c15t_testkit::github::{DEFAULT_REPO, FakeGitHub, Faults, Permissions};

const TOKEN: &str = "github_pat_test_token_never_logged";
const BRANCH: &str = "c15t/cust_acme/production";

fn client(fake: &FakeGitHub, token: &str) -> GitHub {
    GitHub::new(
        reqwest::Client::new(),
        url::Url::parse(&fake.base_url()).unwrap(),
        Secret::new(token.to_owned()),
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
            request_timeout: Duration::from_secs(5),
        },
    )
}

fn publication<'a>(title: &'a str, body: &'a str) -> Publication<'a> {
    Publication {
        repo: DEFAULT_REPO,
        base: "main",
        branch: BRANCH,
        dir: "c15t/production",
        message: "c15t: update production",
        title,
        body,
    }
}

fn project(revision: u32, with_extra: bool) -> ProjectFiles {
    let mut files = BTreeMap::new();
    files.insert(
        "c15t/production/src/index.ts".to_owned(),
        format!("// revision {revision}\nexport default {{}};\n").into_bytes(),
    );
    files.insert(
        "c15t/production/wrangler.jsonc".to_owned(),
        b"{ \"name\": \"c15t-cust-acme\" }\n".to_vec(),
    );
    if with_extra {
        files.insert(
            "c15t/production/src/extra.ts".to_owned(),
            b"export const extra = 1;\n".to_vec(),
        );
    }
    files
}

/// The files of `reference` under the environment's directory.
fn under_dir(fake: &FakeGitHub, reference: &str) -> ProjectFiles {
    fake.files_at(reference)
        .into_iter()
        .filter(|(path, _)| path.starts_with("c15t/production/"))
        .collect()
}

#[tokio::test]
async fn revisions_share_one_pull_request_and_a_merge_makes_the_base_hold_them() {
    let fake = FakeGitHub::start().await;
    fake.add_token(TOKEN, DEFAULT_REPO, Permissions::WRITE);
    let github = client(&fake, TOKEN);

    let first = github
        .publish(
            &publication("c15t: revision 1", "body 1"),
            &project(1, true),
        )
        .await
        .unwrap();
    let Published::PullRequest {
        number,
        opened,
        committed,
        ..
    } = first
    else {
        panic!("expected a pull request, got {first:?}");
    };
    assert!(opened && committed);
    assert_eq!(under_dir(&fake, BRANCH), project(1, true));
    // Files outside the directory are the base branch's.
    assert_eq!(
        fake.files_at(BRANCH).get("README.md"),
        fake.files_at("main").get("README.md")
    );

    // Two newer revisions: the same pull request, one commit ahead of base, the removed file
    // gone.
    for revision in [2, 3] {
        let title = format!("c15t: revision {revision}");
        let published = github
            .publish(&publication(&title, "body"), &project(revision, false))
            .await
            .unwrap();
        assert!(
            matches!(published, Published::PullRequest { number: n, opened: false, committed: true, .. } if n == number),
            "{published:?}"
        );
    }
    assert_eq!(under_dir(&fake, BRANCH), project(3, false));
    let head = fake.branch_sha(BRANCH).unwrap();
    assert_eq!(fake.parents(&head), vec![fake.branch_sha("main").unwrap()]);
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(pulls[0].title, "c15t: revision 3");

    // The same revision again changes nothing.
    let commits = fake.request_count("POST /git/commits");
    let again = github
        .publish(&publication("c15t: revision 3", "body"), &project(3, false))
        .await
        .unwrap();
    assert!(matches!(
        again,
        Published::PullRequest {
            committed: false,
            opened: false,
            ..
        }
    ));
    assert_eq!(fake.request_count("POST /git/commits"), commits);

    // Merged: the base holds the files, so publishing opens nothing.
    fake.merge(number);
    let after = github
        .publish(&publication("c15t: revision 3", "body"), &project(3, false))
        .await
        .unwrap();
    assert!(
        matches!(after, Published::BaseHolds { closed: None, .. }),
        "{after:?}"
    );
    assert_eq!(fake.pulls().len(), 1);
}

#[tokio::test]
async fn an_open_pull_request_is_closed_when_the_base_already_holds_the_files() {
    let fake = FakeGitHub::start().await;
    fake.add_token(TOKEN, DEFAULT_REPO, Permissions::WRITE);
    let github = client(&fake, TOKEN);
    let Published::PullRequest { number, .. } = github
        .publish(&publication("t", "b"), &project(1, false))
        .await
        .unwrap()
    else {
        panic!("expected a pull request");
    };
    // Somebody commits exactly these files to main by hand.
    for (path, contents) in project(1, false) {
        fake.commit_on("main", &path, &contents);
    }
    let published = github
        .publish(&publication("t", "b"), &project(1, false))
        .await
        .unwrap();
    assert!(
        matches!(published, Published::BaseHolds { closed: Some(n), .. } if n == number),
        "{published:?}"
    );
    let pull = &fake.pulls()[0];
    assert_eq!(pull.state, "closed");
    assert_eq!(pull.comments.len(), 1);
}

#[tokio::test]
async fn lost_answers_and_server_errors_never_duplicate_a_commit_or_a_pull_request() {
    let fake = FakeGitHub::start().await;
    fake.add_token(TOKEN, DEFAULT_REPO, Permissions::WRITE);
    let github = client(&fake, TOKEN);
    for revision in 1..=5 {
        fake.set_faults(Faults {
            error_rate: 0.15,
            drop_after_apply_rate: 0.15,
            seed: u64::from(revision),
            ..Faults::default()
        });
        let title = format!("c15t: revision {revision}");
        // A failed publish is retried by the job queue: repeat until it succeeds.
        let mut tries = 0;
        loop {
            tries += 1;
            match github
                .publish(
                    &publication(&title, "b"),
                    &project(revision, revision % 2 == 0),
                )
                .await
            {
                Ok(_) => break,
                Err(_) if tries < 10 => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    fake.set_faults(Faults::default());
    let pulls = fake.pulls();
    assert_eq!(
        pulls.iter().filter(|p| p.state == "open").count(),
        1,
        "{pulls:?}"
    );
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(under_dir(&fake, BRANCH), project(5, false));
    let head = fake.branch_sha(BRANCH).unwrap();
    assert_eq!(fake.parents(&head), vec![fake.branch_sha("main").unwrap()]);
}

#[tokio::test]
async fn refused_credentials_name_what_is_missing_and_never_show_the_token() {
    let fake = FakeGitHub::start().await;
    fake.add_token("read-only-token", DEFAULT_REPO, Permissions::READ);
    let files = project(1, false);

    let unknown = client(&fake, TOKEN)
        .publish(&publication("t", "b"), &files)
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, GitError::BadCredentials { .. }),
        "{unknown}"
    );

    let read_only = client(&fake, "read-only-token")
        .publish(&publication("t", "b"), &files)
        .await
        .unwrap_err();
    let text = read_only.to_string();
    assert!(text.contains("Contents: read and write"), "{text}");
    assert!(!text.contains("read-only-token"), "{text}");
    assert!(fake.branch_sha(BRANCH).is_none());
}

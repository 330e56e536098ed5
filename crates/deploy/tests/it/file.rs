//! The file deployer: exact files, atomic swaps under a concurrent reader, path refusals,
//! secrets never on disk, idempotence, pruning, configuration.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use c15t_deploy::{DeployError, DeployOutcome, Deployer, FileDeployer, Release};

use crate::release::generated_release;
use crate::support::{
    CANARY, assert_nowhere_under, expected, file, read_tree, release, with_files,
};

fn env_path(root: &Path, release: &Release) -> PathBuf {
    root.join(release.customer().as_str())
        .join(release.environment().as_str())
}

/// Names in the environment's releases folder.
fn release_dirs(root: &Path, release: &Release) -> Vec<String> {
    let dir = root
        .join(release.customer().as_str())
        .join(".releases")
        .join(release.environment().as_str());
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("releases folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn deploy_writes_exactly_the_project_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    let deployer = FileDeployer::new(&root);
    let release = release("A", true);
    let outcome = deployer.deploy(&release).await.expect("deploy");

    let path = env_path(&root.canonicalize().expect("root"), &release);
    assert_eq!(
        outcome,
        DeployOutcome {
            delivered_path: Some(path.clone()),
            ..DeployOutcome::default()
        }
    );
    assert_eq!(read_tree(&path).expect("read"), expected(&release));
    // The customer's folder holds the environment's link and the releases, nothing else.
    let mut names: Vec<String> = fs::read_dir(root.join("acme"))
        .expect("customer folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".releases", "production"]);
    let hex = release.content_hash().trim_start_matches("sha256:");
    assert_eq!(release_dirs(&root, &release), [hex]);
}

#[tokio::test]
async fn deploying_the_same_release_twice_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let deployer = FileDeployer::new(tmp.path());
    let release = release("A", false);
    let first = deployer.deploy(&release).await.expect("deploy");
    let link = env_path(tmp.path(), &release);
    let before = fs::symlink_metadata(&link).expect("link").ino();
    let second = deployer.deploy(&release).await.expect("deploy again");
    assert_eq!(first, second);
    let after = fs::symlink_metadata(&link).expect("link").ino();
    assert_eq!(before, after, "the link was replaced by a no-op deploy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_reader_always_sees_one_complete_release() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().to_owned();
    let deployer = FileDeployer::new(&root);
    let a = release("release-A", false);
    let b = release("release-B", true);
    deployer.deploy(&a).await.expect("first deploy");

    let link = env_path(&root, &a);
    let want = [("release-A", expected(&a)), ("release-B", expected(&b))];
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        let link = link.clone();
        std::thread::spawn(move || -> Result<[usize; 2], String> {
            let mut seen = [0, 0];
            while !stop.load(Ordering::Relaxed) {
                // The reader contract: resolve the environment once, read relative to that.
                let dir = fs::canonicalize(&link).map_err(|e| format!("resolve: {e}"))?;
                let files = read_tree(&dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
                let Some(i) = want.iter().position(|(_, w)| *w == files) else {
                    return Err(format!("an inconsistent project: {files:#?}"));
                };
                let marker = want[i].0;
                assert!(files.values().all(|c| c.contains(marker)));
                seen[i] += 1;
            }
            Ok(seen)
        })
    };
    for i in 0..50 {
        let r = if i % 2 == 0 { &b } else { &a };
        deployer.deploy(r).await.expect("redeploy");
        assert_eq!(read_tree(&link).expect("read"), expected(r));
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::Relaxed);
    let seen = reader
        .join()
        .expect("reader thread")
        .expect("reader saw a complete project");
    assert!(seen[0] + seen[1] > 0, "the reader never read");
    // No temporary folder or link is left behind.
    assert_eq!(release_dirs(&root, &a).len(), 2);
    let leftovers: Vec<String> = fs::read_dir(root.join("acme"))
        .expect("customer folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".releases" && n != "production")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn releases_older_than_the_previous_one_are_removed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let deployer = FileDeployer::new(tmp.path());
    let (a, b, c) = (release("A", false), release("B", false), release("C", true));
    for r in [&a, &b, &c] {
        deployer.deploy(r).await.expect("deploy");
    }
    let hex = |r: &Release| r.content_hash().trim_start_matches("sha256:").to_owned();
    let mut want = vec![hex(&b), hex(&c)];
    want.sort();
    assert_eq!(release_dirs(tmp.path(), &a), want);
    assert_eq!(
        read_tree(&env_path(tmp.path(), &c)).expect("read"),
        expected(&c)
    );
    // Going back to an earlier release writes it again and makes it live.
    deployer.deploy(&a).await.expect("deploy A again");
    assert_eq!(
        read_tree(&env_path(tmp.path(), &a)).expect("read"),
        expected(&a)
    );
}

#[tokio::test]
async fn unsafe_paths_are_refused_and_nothing_is_written() {
    let cases = [
        "../x",
        "/etc/x",
        "a/../../x",
        "a/./b",
        "a//b",
        "",
        "..",
        "a\\..\\x",
    ];
    for bad in cases {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let release = with_files("acme", vec![file("ok.ts", "ok"), file(bad, "evil")]);
        let err = FileDeployer::new(&root)
            .deploy(&release)
            .await
            .expect_err(bad);
        let DeployError::UnsafePath { path, .. } = &err else {
            panic!("{bad:?}: expected UnsafePath, got {err:?}");
        };
        assert_eq!(path, bad);
        let message = err.to_string();
        assert!(
            message.contains(&format!("`{bad}`")) && message.starts_with("refusing to write"),
            "{message}"
        );
        assert!(!err.is_retryable());
        assert!(!root.exists(), "{bad:?}: something was written");
        assert_eq!(
            fs::read_dir(tmp.path()).expect("tempdir").count(),
            0,
            "{bad:?}: something was written next to the root"
        );
    }
}

#[tokio::test]
async fn colliding_paths_are_refused() {
    for files in [
        vec![file("a.ts", "1"), file("a.ts", "2")],
        vec![file("src", "file"), file("src/index.ts", "nested")],
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let err = FileDeployer::new(&root)
            .deploy(&with_files("acme", files))
            .await
            .expect_err("a collision");
        assert!(matches!(err, DeployError::UnsafePath { .. }), "{err:?}");
        assert!(!root.exists());
    }
}

#[tokio::test]
async fn secret_values_never_reach_the_disk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let deployer = FileDeployer::new(tmp.path());
    let release = generated_release();
    assert!(
        release.secrets().iter().all(|(_, s)| s.expose() == CANARY),
        "the canary is what the secrets hold"
    );
    deployer.deploy(&release).await.expect("deploy");
    assert_nowhere_under(tmp.path(), CANARY);

    let files = read_tree(&env_path(tmp.path(), &release)).expect("read");
    assert_eq!(files, expected(&release));
    let template = &files[".dev.vars.example"];
    for (name, _) in release.secrets() {
        assert!(template.contains(name.as_str()), "{name} is not named");
    }
}

#[tokio::test]
async fn a_folder_where_the_link_belongs_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let release = release("A", false);
    let path = env_path(tmp.path(), &release);
    fs::create_dir_all(&path).expect("mkdir");
    fs::write(path.join("hand-made.txt"), "mine").expect("write");
    let err = FileDeployer::new(tmp.path())
        .deploy(&release)
        .await
        .expect_err("a folder in the way");
    assert!(
        matches!(&err, DeployError::NotAReleaseLink { path: p } if p.ends_with("acme/production")),
        "{err:?}"
    );
    assert!(err.to_string().contains("move it aside"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(
        fs::read_to_string(path.join("hand-made.txt")).expect("kept"),
        "mine"
    );
}

#[tokio::test]
async fn a_file_deployer_behind_the_trait_deploys_and_restores() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("deploys");
    let deployer: Box<dyn Deployer> = Box::new(FileDeployer::new(root.clone()));
    assert!(format!("{deployer:?}").contains("FileDeployer"));
    let first = release("A", false);
    let second = release("B", false);
    deployer.deploy(&first).await.expect("deploy");
    deployer.deploy(&second).await.expect("deploy");
    assert_eq!(
        read_tree(&env_path(&root, &second)).expect("read"),
        expected(&second)
    );
    // The trait's default restore ships the earlier release again, whatever the platform id.
    let outcome = deployer
        .restore(&first, Some("not-a-version"))
        .await
        .expect("restore");
    assert_eq!(outcome.delivered_path, Some(env_path(&root, &first)));
    assert_eq!(
        read_tree(&env_path(&root, &first)).expect("read"),
        expected(&first)
    );
}

#[test]
fn only_transient_failures_are_retryable() {
    let io_error = |kind| DeployError::Io {
        action: "write",
        path: PathBuf::from("/srv/x"),
        source: io::Error::from(kind),
    };
    assert!(io_error(io::ErrorKind::TimedOut).is_retryable());
    assert!(io_error(io::ErrorKind::Interrupted).is_retryable());
    assert!(!io_error(io::ErrorKind::PermissionDenied).is_retryable());
    assert!(DeployError::Interrupted.is_retryable());
    assert_eq!(
        io_error(io::ErrorKind::PermissionDenied).to_string(),
        "could not write `/srv/x`"
    );
}

#[tokio::test]
async fn leftovers_of_crashed_deploys_are_cleaned_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let deployer = FileDeployer::new(tmp.path());
    let a = release("A", false);
    deployer.deploy(&a).await.expect("deploy");
    let releases = tmp.path().join("acme/.releases/production");
    for name in [".tmp-1-0", ".tmp-2-0", ".trash-3-0"] {
        fs::create_dir(releases.join(name)).expect("mkdir");
        fs::write(releases.join(name).join("half.ts"), "half").expect("write");
    }
    // A crashed deploy's folder from long ago; `.tmp-2-0` is as fresh as a running deploy's.
    let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    fs::File::open(releases.join(".tmp-1-0"))
        .and_then(|d| d.set_modified(long_ago))
        .expect("set mtime");
    deployer.deploy(&release("B", false)).await.expect("deploy");
    let names = release_dirs(tmp.path(), &a);
    assert!(!names.contains(&".tmp-1-0".to_owned()), "{names:?}");
    assert!(!names.contains(&".trash-3-0".to_owned()), "{names:?}");
    assert!(
        names.contains(&".tmp-2-0".to_owned()),
        "a fresh temporary folder may belong to a running deploy: {names:?}"
    );
}

#[tokio::test]
async fn a_symlink_inside_the_root_cannot_lead_writes_outside_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&root).expect("mkdir root");
    fs::create_dir_all(&outside).expect("mkdir outside");
    std::os::unix::fs::symlink(&outside, root.join("acme")).expect("symlink");
    let err = FileDeployer::new(&root)
        .deploy(&release("A", false))
        .await
        .expect_err("an escaping customer folder");
    assert!(matches!(err, DeployError::UnsafePath { .. }), "{err:?}");
    assert_eq!(
        fs::read_dir(&outside).expect("read").count(),
        0,
        "something was written outside the root"
    );
}

//! `Project::write_to`: every file lands under the directory, paths that would leave it are
//! refused, and a failure leaves nothing behind.

use std::collections::BTreeMap;
use std::path::Path;

use c15t_codegen::{Existing, GeneratedFile, Project, WriteError};

use crate::support::{cases_dir, load_case};

fn project() -> Project {
    load_case(&cases_dir().join("seed-example")).generate()
}

/// The project plus one more file.
fn with_file(path: &'static str, contents: &str) -> Project {
    let mut project = project();
    project.files.push(GeneratedFile {
        path,
        contents: contents.to_owned(),
    });
    project
}

/// Every entry under `dir` (files with their contents, directories as `path/`).
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            let rel = path
                .strip_prefix(dir)
                .expect("inside")
                .to_string_lossy()
                .replace('\\', "/");
            let kind = std::fs::symlink_metadata(&path)
                .expect("metadata")
                .file_type();
            if kind.is_dir() {
                out.insert(format!("{rel}/"), String::new());
                stack.push(path);
            } else if kind.is_symlink() {
                out.insert(rel, "(symlink)".to_owned());
            } else {
                out.insert(rel, std::fs::read_to_string(&path).expect("read"));
            }
        }
    }
    out
}

/// The files of `project` as `tree` lists them, without directories.
fn files_of(project: &Project) -> BTreeMap<String, String> {
    project
        .files
        .iter()
        .map(|f| (f.path.to_owned(), f.contents.clone()))
        .collect()
}

fn without_dirs(tree: BTreeMap<String, String>) -> BTreeMap<String, String> {
    tree.into_iter()
        .filter(|(k, _)| !k.ends_with('/'))
        .collect()
}

#[test]
fn writes_every_file_into_a_new_directory_with_missing_parents() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("a/b/worker");
    let project = project();
    project.write_to(&dir).expect("written");
    assert_eq!(without_dirs(tree(&dir)), files_of(&project));
    // Nothing but the project beside it: the staging directory is gone.
    let beside: Vec<_> = std::fs::read_dir(tmp.path().join("a/b"))
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(beside, ["worker"]);
}

#[test]
fn refuses_paths_that_leave_the_directory_and_writes_nothing() {
    for path in [
        "../escaped.txt",
        "src/../../escaped.txt",
        "..",
        "/tmp/escaped.txt",
        "./src/x.ts",
        "src//x.ts",
        "src/",
        "",
        "..\\escaped.txt",
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("out");
        let error = with_file(path, "escaped")
            .write_to(&dir)
            .expect_err("refused");
        match &error {
            WriteError::UnsafePath { path: named, .. } => assert_eq!(named, path),
            other => panic!("{path:?}: {other:?}"),
        }
        assert!(
            error.to_string().contains(&format!("`{path}`")),
            "the error names the path: {error}"
        );
        assert!(
            tree(tmp.path()).is_empty(),
            "{path:?}: {:?}",
            tree(tmp.path())
        );
    }
}

#[test]
fn refuses_an_unsafe_path_before_touching_an_existing_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    project().write_to(&dir).expect("first write");
    std::fs::write(dir.join("README.md"), "edited").expect("edit");
    let before = tree(tmp.path());
    for existing in [Existing::Update, Existing::Replace] {
        let error = with_file("../escaped.txt", "escaped")
            .write_to_with(&dir, existing)
            .expect_err("refused");
        assert!(matches!(error, WriteError::UnsafePath { .. }), "{error:?}");
        assert_eq!(tree(tmp.path()), before);
    }
}

#[cfg(unix)]
#[test]
fn refuses_to_write_through_a_symbolic_link_in_the_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).expect("outside");
    let dir = tmp.path().join("out");
    std::fs::create_dir(&dir).expect("out");
    std::os::unix::fs::symlink(&outside, dir.join("vendor")).expect("symlink");
    let before = tree(tmp.path());
    let error = project().write_to(&dir).expect_err("refused");
    match &error {
        WriteError::UnsafePath { path, .. } => assert!(path.starts_with("vendor/"), "{path}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        tree(tmp.path()),
        before,
        "nothing written, outside stays empty"
    );
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    // A file name longer than any filesystem allows: refused by the OS while staging, after
    // other files were already written.
    let long: &'static str = format!("src/{}.ts", "x".repeat(300)).leak();
    let failing = with_file(long, "too long");

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let error = failing.write_to(&dir).expect_err("fails");
    assert!(matches!(error, WriteError::Io { .. }), "{error:?}");
    assert!(tree(tmp.path()).is_empty(), "{:?}", tree(tmp.path()));

    // An existing project stays as it was, in every mode.
    project().write_to(&dir).expect("first write");
    std::fs::write(dir.join(".dev.vars"), "TURSO_AUTH_TOKEN=x\n").expect("user file");
    let before = tree(tmp.path());
    for existing in [Existing::Update, Existing::Replace] {
        let error = failing.write_to_with(&dir, existing).expect_err("fails");
        assert!(matches!(error, WriteError::Io { .. }), "{error:?}");
        assert_eq!(tree(tmp.path()), before, "{existing:?}");
    }
}

#[test]
fn updating_overwrites_the_project_and_keeps_other_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let project = project();
    project.write_to(&dir).expect("first write");
    std::fs::write(dir.join("src/index.ts"), "edited").expect("edit");
    std::fs::write(dir.join(".dev.vars"), "TURSO_AUTH_TOKEN=x\n").expect("user file");
    std::fs::create_dir_all(dir.join("node_modules/kysely")).expect("node_modules");
    project.write_to(&dir).expect("second write");
    let after = tree(&dir);
    assert_eq!(
        after["src/index.ts"],
        project.file("src/index.ts").unwrap().contents
    );
    assert_eq!(after[".dev.vars"], "TURSO_AUTH_TOKEN=x\n");
    assert!(after.contains_key("node_modules/kysely/"));
    assert!(
        !after.keys().any(|k| k.starts_with(".c15t-codegen-")),
        "{after:?}"
    );
}

#[test]
fn replacing_leaves_exactly_the_project() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let project = project();
    project.write_to(&dir).expect("first write");
    std::fs::write(dir.join(".dev.vars"), "TURSO_AUTH_TOKEN=x\n").expect("user file");
    project
        .write_to_with(&dir, Existing::Replace)
        .expect("replaced");
    assert_eq!(without_dirs(tree(&dir)), files_of(&project));
    assert_eq!(
        tree(tmp.path())
            .keys()
            .filter(|k| !k.starts_with("out"))
            .count(),
        0
    );

    // An empty directory is replaced too.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("empty");
    project
        .write_to_with(&empty, Existing::Replace)
        .expect("replaced");
    assert_eq!(without_dirs(tree(&empty)), files_of(&project));
}

#[test]
fn refuses_to_replace_a_directory_that_is_not_a_generated_project() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("home");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::write(dir.join("notes.txt"), "mine").expect("file");
    let before = tree(tmp.path());
    let error = project()
        .write_to_with(&dir, Existing::Replace)
        .expect_err("refused");
    assert!(
        matches!(error, WriteError::NotGenerated { .. }),
        "{error:?}"
    );
    assert_eq!(tree(tmp.path()), before);
}

#[test]
fn refuse_mode_and_non_directories() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    project()
        .write_to_with(&dir, Existing::Refuse)
        .expect("a new directory is written");
    let error = project()
        .write_to_with(&dir, Existing::Refuse)
        .expect_err("exists");
    assert!(matches!(error, WriteError::Exists { .. }), "{error:?}");

    let file = tmp.path().join("file");
    std::fs::write(&file, "x").expect("file");
    let error = project().write_to(&file).expect_err("not a directory");
    assert!(
        matches!(error, WriteError::NotADirectory { .. }),
        "{error:?}"
    );
}

#[test]
fn refuses_files_that_cannot_all_exist() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    for (path, named) in [("README.md/x", "README.md"), ("README.md", "README.md")] {
        let error = with_file(path, "x").write_to(&dir).expect_err("conflict");
        match &error {
            WriteError::Conflict { path, .. } => assert_eq!(path, named),
            other => panic!("{other:?}"),
        }
    }
    assert!(tree(tmp.path()).is_empty());

    // A directory where the project has a file.
    std::fs::create_dir_all(dir.join("README.md")).expect("dir");
    let before = tree(tmp.path());
    let error = project().write_to(&dir).expect_err("conflict");
    assert!(matches!(error, WriteError::Conflict { .. }), "{error:?}");
    assert_eq!(tree(tmp.path()), before);
}

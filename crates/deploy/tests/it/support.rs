//! Releases and file-tree helpers shared by the suites.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use c15t_deploy::{Release, ReleaseFile, ReleaseMeta};
use c15t_model::{CustomerId, Environment};
use c15t_secrets::Secret;

/// A secret value that must never reach the disk, an archive or a `Debug` string.
pub const CANARY: &str = "canary-5f1c2e9a-never-on-disk";

pub fn meta(customer: &str) -> ReleaseMeta {
    ReleaseMeta {
        customer: CustomerId::new(customer).expect("customer id"),
        environment: Environment::production(),
        revision: 7,
        target: "backend-2".to_owned(),
    }
}

/// A small release whose every file contains `marker`; `extra` adds one more file, so two
/// releases differ in their file sets as well as their contents.
pub fn release(marker: &str, extra: bool) -> Release {
    let mut files = vec![
        file("README.md", &format!("# worker\n{marker}\n")),
        file(
            "src/index.ts",
            &format!("export default {{}}; // {marker}\n"),
        ),
        file("src/lib/util.ts", &format!("// {marker}\n")),
        file(
            ".dev.vars.example",
            &format!("# {marker}\nTURSO_AUTH_TOKEN=\n"),
        ),
        file("wrangler.jsonc", &format!("{{ \"name\": \"{marker}\" }}\n")),
    ];
    if extra {
        files.push(file("src/extra.ts", &format!("// extra {marker}\n")));
    }
    with_files("acme", files)
}

pub fn with_files(customer: &str, files: Vec<ReleaseFile>) -> Release {
    Release::from_files(
        meta(customer),
        format!("c15t-{customer}"),
        files,
        vec![(
            "TURSO_DATABASE_URL".to_owned(),
            "libsql://acme.turso.io".to_owned(),
        )],
        vec![("TURSO_AUTH_TOKEN".to_owned(), Secret::from(CANARY))],
    )
}

pub fn file(path: &str, contents: &str) -> ReleaseFile {
    ReleaseFile {
        path: path.to_owned(),
        contents: contents.to_owned(),
    }
}

/// Every file under `dir` (following a symlinked `dir` itself), by `/`-separated path.
pub fn read_tree(dir: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), &format!("{rel}/"), out)?;
        } else {
            out.insert(rel, fs::read_to_string(entry.path())?);
        }
    }
    Ok(())
}

/// The release's files as a map, as `read_tree` returns them.
pub fn expected(release: &Release) -> BTreeMap<String, String> {
    release
        .files()
        .iter()
        .map(|f| (f.path.clone(), f.contents.clone()))
        .collect()
}

/// Every byte of every file under `dir`, not following symlinks (which the deployer creates
/// only for environments), checked for `needle`.
pub fn assert_nowhere_under(dir: &Path, needle: &str) {
    let mut stack = vec![dir.to_owned()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("entry");
            let ty = entry.file_type().expect("file type");
            let path = entry.path();
            assert!(
                !path.to_string_lossy().contains(needle),
                "{} names the secret",
                path.display()
            );
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() {
                files += 1;
                let bytes = fs::read(&path).expect("read");
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{} contains the secret",
                    path.display()
                );
            }
        }
    }
    assert!(files > 0, "nothing was written under {}", dir.display());
}

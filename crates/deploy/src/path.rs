//! Checks that keep every path a release names inside the directory it is written to.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use crate::{DeployError, ReleaseFile};

/// Why `path` is not a plain relative path, or `None` if it is one.
///
/// Plain means: non-empty, `/`-separated segments that are each a normal name (no `..`, no
/// `.`, no empty segment from `//` or a trailing `/`), not absolute, no backslash or NUL. The
/// string is checked segment by segment because `Path::components` silently drops inner `.`
/// and repeated separators; the components are checked too, as a second opinion from the
/// platform's own parser.
pub(crate) fn problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("the path is empty");
    }
    if path.starts_with('/') || Path::new(path).has_root() || Path::new(path).is_absolute() {
        return Some("the path is absolute");
    }
    if path.contains('\\') {
        return Some("the path contains a backslash");
    }
    if path.contains('\0') {
        return Some("the path contains a NUL byte");
    }
    for segment in path.split('/') {
        match segment {
            "" => return Some("the path has an empty segment (`//` or a trailing `/`)"),
            "." => return Some("the path contains `.`"),
            ".." => return Some("the path contains `..`"),
            _ => {}
        }
    }
    if !Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Some("the path has a component that is not a plain name");
    }
    None
}

/// Checks every file path of a release: each is plain, none is listed twice, and none is
/// both a file and a folder of another file.
pub(crate) fn check_files(files: &[ReleaseFile]) -> Result<(), DeployError> {
    let refuse = |path: &str, reason| DeployError::UnsafePath {
        path: path.to_owned(),
        reason,
    };
    let mut seen = BTreeSet::new();
    for f in files {
        if let Some(reason) = problem(&f.path) {
            return Err(refuse(&f.path, reason));
        }
        if !seen.insert(f.path.as_str()) {
            return Err(refuse(&f.path, "the path is listed twice"));
        }
    }
    for f in files {
        let mut end = 0;
        while let Some(i) = f.path[end..].find('/') {
            end += i;
            if seen.contains(&f.path[..end]) {
                return Err(refuse(
                    &f.path,
                    "a folder on the path is also a file of the project",
                ));
            }
            end += 1;
        }
    }
    Ok(())
}

/// Checks a name used as one path segment (a customer id, an environment, a worker name).
pub(crate) fn check_segment(name: &str) -> Result<(), DeployError> {
    let reason = problem(name).or_else(|| {
        (name.contains('/') || name.starts_with('.'))
            .then_some("the name is not a single plain segment")
    });
    match reason {
        Some(reason) => Err(DeployError::UnsafePath {
            path: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn plain_paths_pass_and_others_are_refused() {
        for ok in [
            "a",
            "src/index.ts",
            ".dev.vars.example",
            "a/b/c.d",
            "..x",
            "x..",
        ] {
            assert_eq!(problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "/etc/x",
            "../x",
            "a/../../x",
            "a/./b",
            "./a",
            "a//b",
            "a/",
            "a\\b",
            "..",
            ".",
            "a\0b",
        ] {
            assert!(problem(bad).is_some(), "{bad:?}");
        }
    }
}

//! Snapshot tests: every fixture case's generated project, file by file, in one snapshot.
//! A snapshot diff is an API change for everyone who commits generated output: review it so.

use crate::support::{Case, all_cases};

fn check(case: &Case) {
    let project = case.generate();
    let mut text = format!(
        "worker: {}\ncontent hash: {}\ninput hash: {}\n",
        project.worker_name, project.content_hash, project.input_hash
    );
    for file in &project.files {
        text.push_str(&format!("\n===== {} =====\n{}", file.path, file.contents));
    }
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(case.name.as_str(), text);
    });
}

#[test]
fn every_fixture_case() {
    for case in all_cases() {
        check(&case);
    }
}

#[test]
fn output_is_byte_identical_for_the_same_input() {
    for case in all_cases() {
        assert_eq!(case.generate(), case.generate(), "{}", case.name);
    }
}

#[test]
fn revision_changes_headers_but_not_the_input_hash() {
    let case = all_cases()
        .into_iter()
        .find(|c| c.name == "seed-example")
        .expect("seed example");
    let later = Case {
        revision: case.revision + 1,
        ..case
    };
    let (a, b) = (
        crate::support::load_case(&crate::support::cases_dir().join("seed-example")).generate(),
        later.generate(),
    );
    assert_eq!(a.input_hash, b.input_hash);
    assert_ne!(a.content_hash, b.content_hash);
    assert!(
        b.file("src/index.ts")
            .expect("index")
            .contents
            .contains("config revision 2")
    );
}

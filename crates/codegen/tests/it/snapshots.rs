//! Snapshot tests: every fixture case's generated project, file by file, in one snapshot.
//! A snapshot diff is an API change for everyone who commits generated output: review it so.

use crate::support::{Case, all_cases};

/// The whole project as `Project::snapshot` renders it (the files that come from the target and
/// the destinations runtime, the same for every project of a target, by size and hash).
fn check(case: &Case) {
    let text = case.generate().snapshot();
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

/// The runtime module specifier the JavaScript snapshots import from.
const RUNTIME_MODULE: &str = "./c15t-runtime-0123456789abcdef.js";

/// Snapshots the JavaScript flavour of a case's worker (`<case>.js.snap`).
fn check_js(case: &Case) {
    let module = c15t_codegen::generate_worker_module(&case.input(), RUNTIME_MODULE)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(format!("{}.js", case.name), module);
    });
}

#[test]
fn javascript_flavour_of_fixture_cases() {
    for case in all_cases().iter().filter(|c| {
        [
            "seed-example",
            "seed-example-seed-target",
            "hostile-strings",
        ]
        .contains(&c.name.as_str())
    }) {
        check_js(case);
    }
}

#[test]
fn runtime_entries_of_every_target() {
    for target in c15t_codegen::TargetProfile::ALL {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(
                format!("runtime-entry-{}", target.id),
                c15t_codegen::runtime_entry_source(target)
            );
        });
    }
}

#[test]
fn javascript_entries_import_only_what_the_runtime_exports() {
    for case in all_cases() {
        let module = c15t_codegen::generate_worker_module(&case.input(), RUNTIME_MODULE)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let exports = c15t_codegen::runtime_export_names(case.target);
        let imports: Vec<&str> = module.lines().filter(|l| l.starts_with("import")).collect();
        assert_eq!(
            imports.len(),
            1,
            "{}: one import statement: {imports:?}",
            case.name
        );
        let (_, rest) = module.split_once("import {").expect("an import");
        let (names, from) = rest.split_once("} from ").expect("an import");
        assert!(
            from.starts_with(&format!("'{RUNTIME_MODULE}';\n")),
            "{}",
            case.name
        );
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            assert!(
                exports.contains(&name),
                "{}: `{name}` is not exported by the runtime",
                case.name
            );
        }
        let source = c15t_codegen::generate_worker_source(&case.input()).expect("generates");
        assert!(source.contains("interface Env") && !module.contains("interface Env"));
        assert!(!module.contains("satisfies") && !module.contains(": string"));
    }
}

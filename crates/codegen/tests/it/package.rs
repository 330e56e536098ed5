//! `packages/destinations` (the destinations runtime) implements the contract and reads the
//! catalogue the generator derives from `c15t_model::Catalogue`; its copies of both are kept
//! equal to what the generator gives, so the package and generated projects can never drift.

use crate::support::workspace_root;

#[test]
fn destinations_package_generated_files_are_current() {
    let root = workspace_root().join("packages/destinations");
    let update = std::env::var_os("C15T_UPDATE_GENERATED").is_some();
    for (path, expected) in c15t_codegen::destinations_package_files() {
        let file = root.join(path);
        if update {
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(&file, &expected).expect("write");
            continue;
        }
        let actual = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            actual == expected,
            "packages/destinations/{path} is stale (the catalogue or contract changed): run \
             `C15T_UPDATE_GENERATED=1 cargo test -p c15t-codegen destinations_package` and \
             commit the result"
        );
    }
}

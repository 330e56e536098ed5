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

#[test]
fn lock_files_match_the_projects_they_ship_with() {
    // `npm ci` refuses a lock file whose root dependencies differ from package.json; each
    // target's lock (written by `cargo xtask locks`) must match what the generator writes.
    let package: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("packages/destinations/package.json"))
            .expect("packages/destinations/package.json"),
    )
    .expect("JSON");
    assert_eq!(
        package["version"],
        c15t_codegen::runtime::DESTINATIONS_VERSION,
        "the vendored runtime's version must be packages/destinations' version"
    );
    for target in c15t_codegen::TargetProfile::ALL {
        let lock: serde_json::Value =
            serde_json::from_str(target.package_lock).expect("the lock file is JSON");
        let inputs = c15t_codegen::runtime::lock_inputs(target);
        let manifest: serde_json::Value =
            serde_json::from_str(&inputs[0].1).expect("package.json is JSON");
        let root = &lock["packages"][""];
        for key in ["dependencies", "devDependencies"] {
            assert_eq!(
                root[key], manifest[key],
                "{}: the lock file's {key} differ from package.json; run `cargo xtask locks`",
                target.id
            );
        }
        assert_eq!(
            lock["packages"]["vendor/c15t-destinations"]["version"],
            c15t_codegen::runtime::DESTINATIONS_VERSION,
            "{}: the lock names another runtime version; run `cargo xtask locks`",
            target.id
        );
        assert_eq!(
            lock["packages"]["node_modules/@c15t/destinations"]["resolved"],
            c15t_codegen::runtime::VENDOR_DIR
        );
    }
}

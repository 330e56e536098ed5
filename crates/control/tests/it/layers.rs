//! The layering the architecture page promises, checked on the manifests: the HTTP layer, the
//! admin UI and the binaries reach the lower crates only through `c15t-control`, and `c15t-vendors` builds
//! neither the deployers nor the generator.

use std::collections::BTreeSet;
use std::path::Path;

/// The c15t crates `manifest` (relative to the workspace root) lists under `[dependencies]`.
fn c15t_dependencies(manifest: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(manifest);
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    doc.get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| {
            d.keys()
                .filter(|k| k.starts_with("c15t-"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn the_http_layer_and_the_binaries_depend_on_control_and_model_only() {
    assert_eq!(
        c15t_dependencies("crates/api/Cargo.toml"),
        set(&["c15t-control", "c15t-model"])
    );
    assert_eq!(
        c15t_dependencies("bins/cli/Cargo.toml"),
        set(&["c15t-control", "c15t-model"])
    );
    assert_eq!(
        c15t_dependencies("bins/server/Cargo.toml"),
        set(&["c15t-api", "c15t-control", "c15t-model", "c15t-ui"])
    );
    assert_eq!(
        c15t_dependencies("crates/ui/Cargo.toml"),
        set(&["c15t-control", "c15t-model"])
    );
}

#[test]
fn the_network_policy_is_a_leaf_and_vendors_build_no_deployer() {
    assert_eq!(c15t_dependencies("crates/net/Cargo.toml"), set(&[]));
    let vendors = c15t_dependencies("crates/vendors/Cargo.toml");
    assert!(
        !vendors.contains("c15t-deploy") && !vendors.contains("c15t-codegen"),
        "{vendors:?}"
    );
}

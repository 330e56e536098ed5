//! The destinations runtime that generated projects ship: `@c15t/destinations`, built from
//! `packages/destinations` into one self-contained ES module (`runtime/c15t-destinations.js`,
//! committed; the package's `npm run check-dist` keeps it equal to a fresh build), vendored into
//! every project as `vendor/c15t-destinations/` and installed by npm from there
//! (`"@c15t/destinations": "file:vendor/c15t-destinations"`), so a downloaded project installs
//! from the public registry alone. The project's `package-lock.json` comes from the target's
//! lock file in `locks/`, resolved once by npm (`cargo xtask locks`).

use serde_json::{Map, Value, json};

use crate::format::pretty_json;
use crate::target::{DESTINATIONS_MODULE, Dependency, TargetProfile};

/// The built runtime: factories, `createAnalyticsHandler` and, embedded, the browser module it
/// serves at `{basePath}/client.js`. Imports nothing.
pub const DESTINATIONS_JS: &str = include_str!("../runtime/c15t-destinations.js");

/// The notice of the code the runtime bundles (`@c15t/scripts` and `c15t`, Apache-2.0).
pub const DESTINATIONS_NOTICE: &str = include_str!("../runtime/NOTICE");

/// The version of `packages/destinations` the runtime is built from.
pub const DESTINATIONS_VERSION: &str = "0.1.0";

/// Where projects keep the vendored runtime, relative to the project root.
pub const VENDOR_DIR: &str = "vendor/c15t-destinations";

/// The project name in the lock files of `locks/`, replaced by each project's own.
pub(crate) const LOCK_NAME_PLACEHOLDER: &str = "\"c15t-lock-template\"";

/// `vendor/c15t-destinations/package.json`.
pub(crate) fn vendored_package_json() -> String {
    pretty_json(&json!({
        "name": DESTINATIONS_MODULE,
        "version": DESTINATIONS_VERSION,
        "private": true,
        "description": "The c15t destinations runtime, vendored by the c15t control plane: \
                        consent-gated vendor scripts served by this worker. Built from \
                        packages/destinations; bundles @c15t/scripts and c15t (Apache-2.0, see NOTICE).",
        "license": "Apache-2.0",
        "type": "module",
        "main": "index.js",
        "exports": { ".": "./index.js" },
    }))
}

/// The project's `package.json`: the target's pinned packages plus the vendored destinations
/// runtime (`file:vendor/c15t-destinations`), names in npm's (sorted) order.
pub(crate) fn package_json_value(target: &TargetProfile, name: &str) -> Value {
    let deps = |list: &[Dependency], vendored: bool| -> Map<String, Value> {
        let mut entries: Vec<(&str, String)> = list
            .iter()
            .map(|d| (d.name, d.version.to_owned()))
            .collect();
        if vendored {
            entries.push((DESTINATIONS_MODULE, format!("file:{}", VENDOR_DIR)));
        }
        entries.sort_by(|a, b| a.0.cmp(b.0));
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v)))
            .collect()
    };
    json!({
        "name": name,
        "private": true,
        "type": "module",
        "scripts": {
            "dev": "wrangler dev",
            "deploy": "wrangler deploy",
            "typecheck": "tsc --noEmit",
        },
        "dependencies": deps(target.dependencies, true),
        "devDependencies": deps(target.dev_dependencies, false),
    })
}

/// The files `cargo xtask locks` gives npm to resolve `target`'s lock file: the project's
/// `package.json` (named `c15t-lock-template`, which each project's own name replaces) and the
/// vendored package's.
pub fn lock_inputs(target: &TargetProfile) -> Vec<(&'static str, String)> {
    let name = LOCK_NAME_PLACEHOLDER.trim_matches('"');
    vec![
        (
            "package.json",
            pretty_json(&package_json_value(target, name)),
        ),
        (
            "vendor/c15t-destinations/package.json",
            vendored_package_json(),
        ),
    ]
}

/// The file `cargo xtask locks` writes `target`'s lock file to, relative to the codegen crate
/// (`TargetProfile::package_lock` embeds it).
pub fn lock_file_path(target: &TargetProfile) -> String {
    format!("locks/{}.package-lock.json", target.id)
}

//! Target profiles: which c15t packages, versions and Workers settings a project is generated for.

use std::fmt;

/// How the worker hands requests to the destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationsMode {
    /// The published `@c15t/backend` 2.x has no `analytics` option and ignores unknown keys at
    /// run time, so the worker builds the destinations next to `c15tInstance` and routes
    /// `/analytics/*` to `createAnalyticsHandler` from `@c15t/destinations`.
    Handler,
    /// The seed design's `analytics: { destinations }` option of `c15tInstance`, declared by a
    /// module augmentation of `C15TOptions`. The backend the profile pins (1.8) ignores the
    /// option at run time, so the worker also routes `/analytics/*` to `createAnalyticsHandler`
    /// with the same destinations.
    AnalyticsOption,
}

/// A pinned npm dependency of the generated project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependency {
    /// Package name.
    pub name: &'static str,
    /// Exact version.
    pub version: &'static str,
}

const fn dep(name: &'static str, version: &'static str) -> Dependency {
    Dependency { name, version }
}

/// Everything about the generated project that depends on the c15t release it targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetProfile {
    /// Stable id (`--target`), recorded in every generated header.
    pub id: &'static str,
    /// One line for listings.
    pub description: &'static str,
    /// Module exporting `c15tInstance`.
    pub backend_module: &'static str,
    /// Module declaring `C15TOptions` (augmented with `analytics` by the seed target).
    pub options_module: &'static str,
    /// Module exporting `kyselyAdapter`.
    pub adapter_module: &'static str,
    /// How destinations are wired.
    pub destinations: DestinationsMode,
    /// Workers compatibility date; never later than what the pinned wrangler/workerd support.
    pub compatibility_date: &'static str,
    /// Workers compatibility flags the bundle needs.
    pub compatibility_flags: &'static [&'static str],
    /// Whether `tsconfig.json` skips checking `.d.ts` files. Only for releases whose published
    /// declarations are broken; it also skips the generated contract, so the default is `false`.
    pub skip_lib_check: bool,
    /// Runtime dependencies, pinned.
    pub dependencies: &'static [Dependency],
    /// Development dependencies (types, compiler, wrangler), pinned.
    pub dev_dependencies: &'static [Dependency],
    /// The `package-lock.json` of these dependencies (and the vendored destinations runtime),
    /// resolved by npm with `cargo xtask locks`, its project name a placeholder.
    pub package_lock: &'static str,
}

/// The destinations package the generated worker imports (not yet published: its contract is
/// generated into `types/c15t-destinations.d.ts`).
pub const DESTINATIONS_MODULE: &str = "@c15t/destinations";

const DEV_DEPENDENCIES: &[Dependency] = &[
    dep("@cloudflare/workers-types", "4.20260426.1"),
    dep("typescript", "7.0.2"),
    // The last wrangler release that runs on Node.js 20; its workerd supports dates up to
    // 2026-04-26.
    dep("wrangler", "4.86.0"),
];

/// The default profile: published `@c15t/backend` 2.x.
pub const BACKEND_2: TargetProfile = TargetProfile {
    id: "c15t-backend-2",
    description: "published @c15t/backend 2.x; /analytics routed to @c15t/destinations",
    backend_module: "@c15t/backend",
    options_module: "@c15t/backend",
    adapter_module: "@c15t/backend/db/adapters/kysely",
    destinations: DestinationsMode::Handler,
    compatibility_date: "2026-04-26",
    compatibility_flags: &[],
    skip_lib_check: false,
    dependencies: &[
        dep("@c15t/backend", "2.2.1"),
        dep("@libsql/kysely-libsql", "0.4.1"),
        dep("kysely", "0.28.19"),
    ],
    dev_dependencies: DEV_DEPENDENCIES,
    package_lock: include_str!("../locks/c15t-backend-2.package-lock.json"),
};

/// The seed design's paths: `@c15t/backend/v2` (published in `@c15t/backend` 1.x) with the
/// `analytics` option.
pub const SEED_V2: TargetProfile = TargetProfile {
    id: "seed-v2",
    description: "the design's @c15t/backend/v2 paths (backend 1.8) with the analytics option",
    backend_module: "@c15t/backend/v2",
    options_module: "@c15t/backend/v2/types",
    adapter_module: "@c15t/backend/v2/db/adapters/kysely",
    destinations: DestinationsMode::AnalyticsOption,
    compatibility_date: "2026-04-26",
    // 1.8's OpenTelemetry dependencies import Node built-ins (`fs`, `path`).
    compatibility_flags: &["nodejs_compat"],
    // 1.8.6's published `dist/v2/core.d.ts` imports `~/v2/contracts`, an unresolved source alias.
    skip_lib_check: true,
    dependencies: &[
        dep("@c15t/backend", "1.8.6"),
        dep("@libsql/kysely-libsql", "0.4.1"),
        dep("kysely", "0.28.19"),
    ],
    dev_dependencies: DEV_DEPENDENCIES,
    package_lock: include_str!("../locks/seed-v2.package-lock.json"),
};

impl TargetProfile {
    /// Every built-in profile; the first is the default.
    pub const ALL: &'static [TargetProfile] = &[BACKEND_2, SEED_V2];

    /// Looks a profile up by id.
    pub fn by_id(id: &str) -> Option<&'static TargetProfile> {
        Self::ALL.iter().find(|p| p.id == id)
    }
}

impl Default for TargetProfile {
    fn default() -> Self {
        BACKEND_2
    }
}

impl fmt::Display for TargetProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

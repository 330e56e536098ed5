//! The c15t runtime bundle and the modules a managed deploy uploads.
//!
//! A customer's worker needs `@c15t/backend`, `kysely`, the libSQL dialect and the
//! destinations package. Instead of bundling them for every deploy (a Node.js process per
//! customer), they are bundled once per target profile into one content-addressed JavaScript
//! module, a [`RuntimeBundle`]: built by esbuild from npm ([`RuntimeBundle::build`]) or
//! supplied prebuilt by the operator ([`RuntimeBundle::load`]). Each upload is then two
//! modules ([`worker_modules`]): the generated entry, emitted as JavaScript by
//! `c15t_codegen::generate_worker_module` with its imports mapped to
//! [`RuntimeBundle::specifier`], and the runtime module itself.
//!
//! The bundle's name is `c15t-runtime-` and the first 16 hex digits of its SHA-256, so the
//! same bytes always have the same name and two runtimes never share one.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use c15t_codegen::TargetProfile;
use sha2::{Digest, Sha256};

use crate::Module;

/// The name of the main module of an upload (the generated entry).
pub const ENTRY_MODULE_NAME: &str = "index.js";

/// The content type of an ES module in a Workers upload.
pub const MODULE_CONTENT_TYPE: &str = "application/javascript+module";

/// The prefix of every runtime module's name.
const NAME_PREFIX: &str = "c15t-runtime-";

/// The most of esbuild's standard error kept in [`RuntimeError::EsbuildFailed`].
const STDERR_LIMIT: usize = 8 * 1024;

/// Why a runtime bundle could not be built or loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The esbuild executable does not exist.
    #[error(
        "esbuild not found at `{}`; run `cargo xtask npm` to install the pinned toolchain, or \
         pass the path of an esbuild 0.27 executable with --esbuild",
        path.display()
    )]
    EsbuildNotFound {
        /// Where esbuild was looked for.
        path: PathBuf,
    },
    /// The `node_modules` directory to bundle from does not exist.
    #[error(
        "`{}` is not a directory; point --node-modules at a node_modules directory holding the \
         target's packages (`npm install` them, or run `cargo xtask npm` for tools/ts)",
        path.display()
    )]
    NodeModulesNotFound {
        /// The missing directory.
        path: PathBuf,
    },
    /// The destinations module does not exist.
    #[error(
        "destinations module `{}` not found; pass the path of the @c15t/destinations entry file",
        path.display()
    )]
    DestinationsNotFound {
        /// The given path.
        path: PathBuf,
    },
    /// esbuild ran and failed.
    #[error("esbuild failed ({status}):\n{stderr}")]
    EsbuildFailed {
        /// How it exited.
        status: String,
        /// Its standard error (the first 8 KiB).
        stderr: String,
    },
    /// A file system operation (or starting esbuild) failed.
    #[error("could not {action} `{}`", path.display())]
    Io {
        /// What was being done, e.g. `read`.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The module is empty.
    #[error("the runtime module is empty; build it again with `c15tctl runtime build`")]
    Empty,
    /// The module is not UTF-8 text, so not JavaScript.
    #[error("the runtime module is not JavaScript (not UTF-8 text)")]
    NotJavaScript,
    /// The module does not export every name the generated entries of its target import.
    #[error(
        "the runtime module does not export {} needed by target `{target}`; build it for this \
         target with `c15tctl runtime build --target {target}`",
        missing.join(", ")
    )]
    MissingExports {
        /// The target the module was checked against.
        target: String,
        /// The names it lacks.
        missing: Vec<String>,
    },
}

impl RuntimeError {
    fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// One target's c15t runtime: a self-contained ES module exporting every name a generated
/// worker of that target imports, named by its content hash.
///
/// `Debug` shows the target, name and hash, not the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct RuntimeBundle {
    target: String,
    module_name: String,
    bytes: Vec<u8>,
    sha256: String,
}

impl fmt::Debug for RuntimeBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeBundle")
            .field("target", &self.target)
            .field("module_name", &self.module_name)
            .field("sha256", &self.sha256)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// How to build a runtime bundle with esbuild.
#[derive(Debug, Clone)]
pub struct RuntimeBuild<'a> {
    /// The target profile whose runtime is built.
    pub target: &'a TargetProfile,
    /// A `node_modules` directory holding the target's packages (`@c15t/backend`, `kysely`,
    /// `@libsql/kysely-libsql` at the versions of [`TargetProfile::dependencies`]).
    pub node_modules: PathBuf,
    /// An entry file of `@c15t/destinations` to bundle instead of the runtime built from
    /// `packages/destinations` that generated projects vendor
    /// ([`c15t_codegen::runtime::DESTINATIONS_JS`], the default).
    pub destinations_module: Option<PathBuf>,
    /// The esbuild executable; `node_modules/.bin/esbuild` when `None`.
    pub esbuild: Option<PathBuf>,
}

impl RuntimeBundle {
    /// A bundle of `target` from a module's bytes, checked: non-empty UTF-8 text that exports
    /// every name of [`c15t_codegen::runtime_export_names`] for `target`.
    ///
    /// The export check reads the module's `export { ... }` clauses and `export const`
    /// (function, class) declarations, as esbuild and other bundlers write them; it is a guard
    /// against a wrong or truncated file, not a JavaScript parser.
    pub fn from_bytes(target: &TargetProfile, bytes: Vec<u8>) -> Result<Self, RuntimeError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(RuntimeError::Empty);
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| RuntimeError::NotJavaScript)?;
        let exported = exported_names(text);
        let missing: Vec<String> = c15t_codegen::runtime_export_names(target)
            .into_iter()
            .filter(|name| !exported.contains(name))
            .map(str::to_owned)
            .collect();
        if !missing.is_empty() {
            return Err(RuntimeError::MissingExports {
                target: target.id.to_owned(),
                missing,
            });
        }
        let digest = hex::encode(Sha256::digest(&bytes));
        Ok(Self {
            target: target.id.to_owned(),
            module_name: format!("{NAME_PREFIX}{}.js", &digest[..16]),
            bytes,
            sha256: digest,
        })
    }

    /// Loads an operator-supplied prebuilt runtime module of `target` from `path`, checked as
    /// [`RuntimeBundle::from_bytes`] checks it. Its name comes from its content, not from the
    /// file's name.
    pub fn load(target: &TargetProfile, path: &Path) -> Result<Self, RuntimeError> {
        let bytes = std::fs::read(path).map_err(RuntimeError::io("read", path))?;
        Self::from_bytes(target, bytes)
    }

    /// Bundles the runtime of `build.target` with esbuild, run once: the entry of
    /// [`c15t_codegen::runtime_entry_source`] is written to a temporary directory (next to a
    /// link to `build.node_modules`) and bundled into one minified ES module for workerd, with
    /// `@c15t/destinations` aliased to the vendored destinations runtime (or to
    /// `build.destinations_module` when given).
    ///
    /// The options follow `wrangler deploy`: `workerd`, `worker` and `browser` conditions,
    /// `process.env.NODE_ENV` defined as `"production"`, names kept, `cloudflare:*` and
    /// `node:*` left to the runtime. For targets with `nodejs_compat` the Node.js built-ins are
    /// left to workerd by their bare names too, and `require` comes from `node:module`'s
    /// `createRequire`, so CommonJS dependencies can require them. The same inputs give the
    /// same bytes, hence the same name: nothing in the output depends on where the files are.
    ///
    /// Blocks until esbuild exits; in async code call it from a blocking task.
    pub fn build(build: &RuntimeBuild<'_>) -> Result<Self, RuntimeError> {
        if !build.node_modules.is_dir() {
            return Err(RuntimeError::NodeModulesNotFound {
                path: build.node_modules.clone(),
            });
        }
        let esbuild = build
            .esbuild
            .clone()
            .unwrap_or_else(|| build.node_modules.join(".bin/esbuild"));
        if !esbuild.is_file() {
            return Err(RuntimeError::EsbuildNotFound { path: esbuild });
        }
        // esbuild runs in a temporary directory: every path it gets must be absolute.
        let esbuild = esbuild
            .canonicalize()
            .map_err(RuntimeError::io("resolve", &esbuild))?;
        let destinations = match &build.destinations_module {
            Some(path) => Some(
                path.canonicalize()
                    .map_err(|_| RuntimeError::DestinationsNotFound { path: path.clone() })?,
            ),
            None => None,
        };
        let node_modules = build
            .node_modules
            .canonicalize()
            .map_err(RuntimeError::io("resolve", &build.node_modules))?;

        let dir = tempfile::Builder::new()
            .prefix("c15t-runtime-")
            .tempdir()
            .map_err(RuntimeError::io(
                "create a temporary directory in",
                std::env::temp_dir(),
            ))?;
        let entry = dir.path().join("entry.js");
        std::fs::write(&entry, c15t_codegen::runtime_entry_source(build.target))
            .map_err(RuntimeError::io("write", &entry))?;
        let link = dir.path().join("node_modules");
        std::os::unix::fs::symlink(&node_modules, &link)
            .map_err(RuntimeError::io("link node_modules at", &link))?;
        let outfile = dir.path().join("runtime.js");
        // The default: the runtime generated projects vendor, at the same relative place.
        let destinations = match destinations {
            Some(path) => path,
            None => {
                let vendored = dir.path().join(c15t_codegen::runtime::VENDOR_DIR);
                std::fs::create_dir_all(&vendored)
                    .map_err(RuntimeError::io("create", &vendored))?;
                let index = vendored.join("index.js");
                std::fs::write(&index, c15t_codegen::runtime::DESTINATIONS_JS)
                    .map_err(RuntimeError::io("write", &index))?;
                index
            }
        };

        let mut command = Command::new(&esbuild);
        command
            .current_dir(dir.path())
            .arg("entry.js")
            .args(esbuild_args(build.target))
            .arg(format!(
                "--alias:@c15t/destinations={}",
                destinations.display()
            ))
            .arg("--outfile=runtime.js")
            // esbuild's NODE_PATH would add packages from outside `node_modules`.
            .env_remove("NODE_PATH");
        let output = command
            .output()
            .map_err(RuntimeError::io("run", &esbuild))?;
        if !output.status.success() {
            let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            if stderr.len() > STDERR_LIMIT {
                let mut end = STDERR_LIMIT;
                while !stderr.is_char_boundary(end) {
                    end -= 1;
                }
                stderr.truncate(end);
                stderr.push_str("\n[...]");
            }
            return Err(RuntimeError::EsbuildFailed {
                status: output.status.to_string(),
                stderr: stderr.trim_end().to_owned(),
            });
        }
        let bytes = std::fs::read(&outfile).map_err(RuntimeError::io("read", &outfile))?;
        Self::from_bytes(build.target, bytes)
    }

    /// The target profile's id.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The module's name in an upload: `c15t-runtime-` and the first 16 hex digits of its
    /// SHA-256, then `.js`.
    pub fn module_name(&self) -> &str {
        &self.module_name
    }

    /// The specifier the generated entry imports the module by: `./` and its name.
    pub fn specifier(&self) -> String {
        format!("./{}", self.module_name)
    }

    /// The module's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The hex SHA-256 of the module's bytes (64 digits).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The module as an upload part.
    pub fn module(&self) -> Module {
        Module {
            name: self.module_name.clone(),
            content_type: MODULE_CONTENT_TYPE.to_owned(),
            bytes: self.bytes.clone(),
        }
    }

    /// Writes the module into `dir` (created if missing) under its name; returns the path.
    pub fn write_to(&self, dir: &Path) -> Result<PathBuf, RuntimeError> {
        std::fs::create_dir_all(dir).map_err(RuntimeError::io("create", dir))?;
        let path = dir.join(&self.module_name);
        std::fs::write(&path, &self.bytes).map_err(RuntimeError::io("write", &path))?;
        Ok(path)
    }
}

/// The modules of one upload: first the main module `index.js` (the generated entry, from
/// `c15t_codegen::generate_worker_module` with [`RuntimeBundle::specifier`]), then the runtime
/// module. Deployers rely on the main module coming first.
pub fn worker_modules(entry_js: String, runtime: &RuntimeBundle) -> Vec<Module> {
    vec![
        Module {
            name: ENTRY_MODULE_NAME.to_owned(),
            content_type: MODULE_CONTENT_TYPE.to_owned(),
            bytes: entry_js.into_bytes(),
        },
        runtime.module(),
    ]
}

/// Node.js built-in modules by their bare names (Node.js 20's `builtinModules` without the
/// internal `_` ones); left to workerd for `nodejs_compat` targets.
const NODE_BUILTINS: &[&str] = &[
    "assert",
    "assert/strict",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "dns/promises",
    "domain",
    "events",
    "fs",
    "fs/promises",
    "http",
    "http2",
    "https",
    "inspector",
    "inspector/promises",
    "module",
    "net",
    "os",
    "path",
    "path/posix",
    "path/win32",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "readline/promises",
    "repl",
    "stream",
    "stream/consumers",
    "stream/promises",
    "stream/web",
    "string_decoder",
    "sys",
    "timers",
    "timers/promises",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "util/types",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
];

/// Prepended to the runtime of `nodejs_compat` targets: esbuild turns `require()` of an
/// external module into a call of `require` when one exists and a throwing stub otherwise, so
/// CommonJS dependencies that require Node.js built-ins get workerd's `require`.
const NODE_REQUIRE_BANNER: &str = "--banner:js=import { createRequire as __c15tCreateRequire } \
                                   from 'node:module';\n\
                                   const require = __c15tCreateRequire('/');";

/// esbuild's options for a runtime module of `target`, except the entry, alias and output.
fn esbuild_args(target: &TargetProfile) -> Vec<String> {
    let mut args: Vec<String> = [
        "--bundle",
        "--format=esm",
        // The esbuild default wrangler uses; with the conditions below it picks the packages'
        // worker builds.
        "--platform=browser",
        "--target=es2022",
        "--conditions=workerd,worker,browser",
        "--minify",
        // wrangler's default (`keep_names`): libraries may read functions' and classes' names.
        "--keep-names",
        "--charset=utf8",
        "--legal-comments=eof",
        "--log-level=warning",
        "--define:process.env.NODE_ENV=\"production\"",
        "--define:global.process.env.NODE_ENV=\"production\"",
        "--define:globalThis.process.env.NODE_ENV=\"production\"",
        "--define:navigator.userAgent=\"Cloudflare-Workers\"",
        "--external:cloudflare:*",
        "--external:node:*",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    if target.compatibility_flags.contains(&"nodejs_compat") {
        // TODO-correctness: wrangler maps built-ins workerd lacks to unenv polyfills; here every
        // built-in is left to workerd (`import` by bare name, `require` through
        // `createRequire`), which fails only when a module workerd lacks is actually used.
        args.extend(NODE_BUILTINS.iter().map(|m| format!("--external:{m}")));
        args.push(NODE_REQUIRE_BANNER.to_owned());
    }
    args
}

/// The names a module exports, read from its `export { a, b as c }` clauses and its
/// `export const|let|var|function|class|async function name` declarations.
fn exported_names(source: &str) -> BTreeSet<&str> {
    let mut names = BTreeSet::new();
    let bytes = source.as_bytes();
    let mut from = 0;
    while let Some(at) = source[from..].find("export") {
        let start = from + at;
        from = start + "export".len();
        // A whole word: not the end of `reexport`, not the start of `exports`.
        let before_ok = start == 0 || !is_ident_byte(bytes[start - 1]);
        if !before_ok || bytes.get(from).is_some_and(|&b| is_ident_byte(b)) {
            continue;
        }
        let rest = source[from..].trim_start();
        if let Some(clause) = rest.strip_prefix('{') {
            let Some(end) = clause.find('}') else {
                continue;
            };
            for item in clause[..end].split(',') {
                let item = item.trim();
                let name = item.rsplit_once(" as ").map_or(item, |(_, n)| n).trim();
                let name = name.trim_matches(|c| c == '"' || c == '\'');
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else {
            let rest = rest.strip_prefix("async ").map_or(rest, str::trim_start);
            for keyword in [
                "const ",
                "let ",
                "var ",
                "function ",
                "function* ",
                "class ",
            ] {
                if let Some(decl) = rest.strip_prefix(keyword) {
                    let decl = decl.trim_start();
                    let end = decl
                        .bytes()
                        .position(|b| !is_ident_byte(b))
                        .unwrap_or(decl.len());
                    if end > 0 {
                        names.insert(&decl[..end]);
                    }
                    break;
                }
            }
        }
    }
    names
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

#[cfg(test)]
mod tests {
    use c15t_codegen::TargetProfile;

    use super::{RuntimeBundle, RuntimeError, exported_names, worker_modules};

    /// A module exporting every name the default target needs, as esbuild writes exports.
    fn complete_module() -> String {
        let names = c15t_codegen::runtime_export_names(&TargetProfile::default());
        let clause: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("v{i} as {n}"))
            .collect();
        format!("var v0=1;export{{{}}};\n", clause.join(","))
    }

    #[test]
    fn export_clauses_and_declarations_are_read() {
        let names = exported_names(
            "export{a as Kysely,b as 'quoted',c};export const x=1;export async function f(){}\n\
             export class K{}; var reexport = 1; exports.y = 2; export default z;",
        );
        let names: Vec<&str> = names.into_iter().collect();
        assert_eq!(names, ["K", "Kysely", "c", "f", "quoted", "x"]);
    }

    #[test]
    fn name_is_the_content_hash() {
        let target = TargetProfile::default();
        let a = RuntimeBundle::from_bytes(&target, complete_module().into_bytes()).unwrap();
        let b = RuntimeBundle::from_bytes(&target, complete_module().into_bytes()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.sha256().len(), 64);
        assert_eq!(
            a.module_name(),
            format!("c15t-runtime-{}.js", &a.sha256()[..16])
        );
        assert_eq!(a.specifier(), format!("./{}", a.module_name()));
        let c = RuntimeBundle::from_bytes(&target, format!("{}//\n", complete_module()).into())
            .unwrap();
        assert_ne!(a.module_name(), c.module_name());
    }

    #[test]
    fn wrong_modules_are_refused() {
        let target = TargetProfile::default();
        assert!(matches!(
            RuntimeBundle::from_bytes(&target, b" \n".to_vec()),
            Err(RuntimeError::Empty)
        ));
        assert!(matches!(
            RuntimeBundle::from_bytes(&target, vec![0xff, 0xfe, 0]),
            Err(RuntimeError::NotJavaScript)
        ));
        let partial = complete_module().replace(" as posthog", " as other");
        let err = RuntimeBundle::from_bytes(&target, partial.into_bytes()).unwrap_err();
        assert!(
            matches!(&err, RuntimeError::MissingExports { missing, .. } if missing == &["posthog"]),
            "{err:?}"
        );
        assert!(err.to_string().contains(
            "does not export posthog needed by target `c15t-backend-2`; build it for this target"
        ));
    }

    #[test]
    fn the_entry_is_the_first_module() {
        let target = TargetProfile::default();
        let runtime = RuntimeBundle::from_bytes(&target, complete_module().into_bytes()).unwrap();
        let modules = worker_modules("export default {};".to_owned(), &runtime);
        let names: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["index.js", runtime.module_name()]);
        assert!(
            modules
                .iter()
                .all(|m| m.content_type == "application/javascript+module")
        );
        assert_eq!(modules[1].bytes, runtime.bytes());
    }
}

//! The project files around the worker source: wrangler and npm configuration, the secrets
//! template and the customer's README.

use std::fmt::Write as _;

use c15t_model::{Bindings, Destination};
use serde_json::{Map, Value, json};

use crate::lang::{Config, Tokens, TypeScript};
use crate::literal::{INDENT_WIDTH, LINE_WIDTH, width};
use crate::target::{DESTINATIONS_MODULE, DestinationsMode, TargetProfile};
use crate::{GeneratedFile, Input, header_lines, worker};

/// Renders TypeScript tokens as a file with the given header comment lines.
pub(crate) fn format_ts(tokens: &Tokens, header: Vec<String>) -> String {
    let mut block = String::with_capacity(256);
    for line in &header {
        block.push_str("// ");
        block.push_str(line);
        block.push('\n');
    }
    format_ts_sized(tokens, block, 4096)
}

/// Renders TypeScript tokens as a file after `header` (a block of `//` comment lines), into a
/// buffer of `capacity` bytes to start with.
pub(crate) fn format_ts_sized(tokens: &Tokens, header: String, capacity: usize) -> String {
    format_sized(
        tokens,
        &Config {
            header,
            import_from: None,
        },
        capacity,
    )
}

/// Renders tokens as a file with `config` (header, import mapping), into a buffer of
/// `capacity` bytes to start with.
pub(crate) fn format_sized(tokens: &Tokens, config: &Config, capacity: usize) -> String {
    let fmt_config = genco::fmt::Config::from_lang::<TypeScript>();
    let mut w = genco::fmt::FmtWriter::new(String::with_capacity(capacity));
    tokens
        .format_file(&mut w.as_formatter(&fmt_config), config)
        .expect("formatting into a String cannot fail");
    w.into_inner()
}

pub(crate) fn files(
    input: &Input<'_>,
    destinations: &[&Destination],
    bindings: &Bindings,
    input_hash: &str,
) -> Vec<GeneratedFile> {
    let header = header_lines(input, input_hash);
    let worker_name = c15t_model::worker_name(&input.config.customer.id, input.environment);
    let mut files = vec![
        GeneratedFile {
            path: "src/index.ts",
            contents: worker::render(
                input,
                destinations,
                bindings,
                input_hash,
                worker::Flavour::TypeScript,
            ),
        },
        GeneratedFile {
            path: "types/c15t-destinations.d.ts",
            contents: crate::contract::builtin_destinations(&header),
        },
        GeneratedFile {
            path: "wrangler.jsonc",
            contents: wrangler(input, bindings, &worker_name, &header),
        },
        GeneratedFile {
            path: "package.json",
            contents: package_json(input, &worker_name),
        },
        GeneratedFile {
            path: "tsconfig.json",
            contents: tsconfig(input.target.skip_lib_check),
        },
        GeneratedFile {
            path: ".dev.vars.example",
            contents: dev_vars(bindings, &worker_name, &header),
        },
        GeneratedFile {
            path: ".gitignore",
            contents: "node_modules/\n.wrangler/\n.dev.vars\ndist/\n".to_owned(),
        },
        GeneratedFile {
            path: "README.md",
            contents: readme(input, bindings, &worker_name, &header),
        },
        GeneratedFile {
            path: "package-lock.json",
            contents: package_lock(input.target, &package_name(&worker_name)),
        },
        GeneratedFile {
            path: "vendor/c15t-destinations/package.json",
            contents: crate::runtime::vendored_package_json(),
        },
        GeneratedFile {
            path: "vendor/c15t-destinations/index.js",
            contents: crate::runtime::DESTINATIONS_JS.to_owned(),
        },
        GeneratedFile {
            path: "vendor/c15t-destinations/NOTICE",
            contents: crate::runtime::DESTINATIONS_NOTICE.to_owned(),
        },
    ];
    if input.target.destinations == DestinationsMode::AnalyticsOption {
        files.push(GeneratedFile {
            path: "types/c15t-backend-analytics.d.ts",
            contents: crate::contract::render_analytics_option(input.target, header),
        });
    }
    files
}

/// JSON as c15t's Biome settings lay it out: tab indentation, objects one member per line,
/// arrays on one line when they fit in the line width, and a final newline.
pub(crate) fn pretty_json(value: &Value) -> String {
    let mut out = String::with_capacity(512);
    write_json(value, 0, 0, &mut out);
    out.push('\n');
    out
}

fn write_json(value: &Value, depth: usize, column: usize, out: &mut String) {
    let indent = |n: usize| "\t".repeat(n);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (key, member)) in map.iter().enumerate() {
                let key = Value::String(key.clone()).to_string();
                let prefix = format!("{}{key}: ", indent(depth + 1));
                out.push_str(&prefix);
                write_json(member, depth + 1, width(&prefix), out);
                if i + 1 < map.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&indent(depth));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            let inline = format!(
                "[{}]",
                items
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let scalars = items.iter().all(|v| !v.is_object() && !v.is_array());
            if scalars && column + width(&inline) < LINE_WIDTH {
                out.push_str(&inline);
            } else {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&indent(depth + 1));
                    write_json(item, depth + 1, (depth + 1) * INDENT_WIDTH, out);
                    if i + 1 < items.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                out.push_str(&indent(depth));
                out.push(']');
            }
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn wrangler(
    input: &Input<'_>,
    bindings: &Bindings,
    worker_name: &str,
    header: &[String],
) -> String {
    let mut config = Map::new();
    config.insert(
        "$schema".into(),
        json!("node_modules/wrangler/config-schema.json"),
    );
    config.insert("name".into(), json!(worker_name));
    config.insert("main".into(), json!("src/index.ts"));
    config.insert(
        "compatibility_date".into(),
        json!(input.target.compatibility_date),
    );
    if !input.target.compatibility_flags.is_empty() {
        config.insert(
            "compatibility_flags".into(),
            json!(input.target.compatibility_flags),
        );
    }
    config.insert("workers_dev".into(), json!(true));
    let vars: Map<String, Value> = bindings
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    config.insert("vars".into(), Value::Object(vars));
    config.insert("observability".into(), json!({ "enabled": true }));
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "// {line}");
    }
    out.push_str(
        "// Secrets are not listed here: set them with `wrangler secret put` (see README.md).\n",
    );
    out.push_str(&pretty_json(&Value::Object(config)));
    out
}

/// The npm package name of a worker project (npm names take no `_`).
fn package_name(worker_name: &str) -> String {
    worker_name.replace('_', "-")
}

/// The project's `package.json`: the target's pinned packages plus the vendored destinations
/// runtime (`file:vendor/c15t-destinations`), names in npm's (sorted) order.
pub(crate) fn package_json_value(target: &TargetProfile, name: &str) -> Value {
    let deps = |list: &[crate::target::Dependency], vendored: bool| -> Map<String, Value> {
        let mut entries: Vec<(&str, String)> = list
            .iter()
            .map(|d| (d.name, d.version.to_owned()))
            .collect();
        if vendored {
            entries.push((
                DESTINATIONS_MODULE,
                format!("file:{}", crate::runtime::VENDOR_DIR),
            ));
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

fn package_json(input: &Input<'_>, worker_name: &str) -> String {
    pretty_json(&package_json_value(
        input.target,
        &package_name(worker_name),
    ))
}

/// The project's `package-lock.json`: the target's lock file (resolved once by npm with
/// `cargo xtask locks` and kept in `crates/codegen/locks/`), with the project's name.
fn package_lock(target: &TargetProfile, name: &str) -> String {
    let template = target.package_lock;
    let quoted = Value::String(name.to_owned()).to_string();
    template.replace(crate::runtime::LOCK_NAME_PLACEHOLDER, &quoted)
}

fn tsconfig(skip_lib_check: bool) -> String {
    // Static text: no user data, and arrays laid out as Biome lays them out.
    let mut text = concat!(
        "{\n",
        "\t\"compilerOptions\": {\n",
        "\t\t\"target\": \"ES2022\",\n",
        "\t\t\"lib\": [\"ES2022\"],\n",
        "\t\t\"module\": \"ESNext\",\n",
        "\t\t\"moduleResolution\": \"Bundler\",\n",
        "\t\t\"types\": [\"@cloudflare/workers-types\"],\n",
        "\t\t\"strict\": true,\n",
        "\t\t\"noEmit\": true,\n",
        "\t\t\"isolatedModules\": true,\n",
        "\t\t\"noUncheckedIndexedAccess\": true,\n",
        "\t\t\"forceConsistentCasingInFileNames\": true\n",
        "\t},\n",
        "\t\"include\": [\"src\", \"types\"]\n",
        "}\n",
    )
    .to_owned();
    if skip_lib_check {
        text = text.replace(
            "\"forceConsistentCasingInFileNames\": true\n",
            "\"forceConsistentCasingInFileNames\": true,\n\t\t\"skipLibCheck\": true\n",
        );
    }
    text
}

fn dev_vars(bindings: &Bindings, worker_name: &str, header: &[String]) -> String {
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(
        out,
        "# Secrets of {worker_name}. Copy to .dev.vars for `wrangler dev`; in Cloudflare set each\n\
         # with `wrangler secret put NAME`. Never commit real values."
    );
    for secret in &bindings.secrets {
        let _ = writeln!(out, "{}=", secret.name);
    }
    out
}

fn readme(input: &Input<'_>, bindings: &Bindings, worker_name: &str, header: &[String]) -> String {
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "<!-- {} -->", line.replace("--", "- -"));
    }
    let _ = writeln!(
        out,
        "\n# {worker_name}\n\n\
         The c15t consent backend of customer `{}`, environment `{}`, generated by the c15t control\n\
         plane for `{}`.\n\n\
         ## Deploy\n\n\
         Everything installs from the public npm registry: the destinations runtime\n\
         (`@c15t/destinations`) is part of this project, in `vendor/c15t-destinations/`, and\n\
         `package-lock.json` pins every package.\n\n\
         ```sh\nnpm ci\n",
        input.config.customer.id, input.environment, input.target.id
    );
    for secret in &bindings.secrets {
        let _ = writeln!(out, "npx wrangler secret put {}", secret.name);
    }
    out.push_str(
        "npx wrangler deploy\n```\n\n\
         ## Run locally\n\n\
         Copy `.dev.vars.example` to `.dev.vars`, fill in the values, then run `npx wrangler dev`.\n\
         Type-check with `npm run typecheck`.\n\n",
    );
    let _ = write!(
        out,
        "## Destinations on your site\n\n\
         Besides c15t's consent API, this worker serves the destinations configured for\n\
         `{env}`:\n\n\
         - `GET /analytics/scripts`: one descriptor per enabled destination (its vendor\n\
         \x20 script and public settings, never a secret; `?consent={{\"measurement\":true}}`\n\
         \x20 filters by consent),\n\
         - `GET /analytics/client.js`: the browser module that turns them into c15t scripts\n\
         \x20 with `@c15t/scripts` and hands them to your page's c15t consent store, which\n\
         \x20 loads each one once its consent category is granted (vendors c15t marks\n\
         \x20 `alwaysLoad`, such as Google's tags and PostHog, load at once in denied\n\
         \x20 consent mode and are switched on by consent).\n\n\
         Add these two lines next to your existing c15t setup, with this worker's URL (its\n\
         workers.dev address or custom domain) for `https://c15t.example.com`; they use the\n\
         store c15t keeps at `window.c15tStore` (pass `store` or `namespace` if yours differs):\n\n\
         ```html\n\
         <script type=\"module\">\n\
         \x20 import {{ loadDestinations }} from 'https://c15t.example.com/analytics/client.js';\n\
         \x20 loadDestinations({{ backendURL: 'https://c15t.example.com' }});\n\
         </script>\n\
         ```\n\n",
        env = input.environment,
    );
    out.push_str(
        "Do not edit the generated files: change the configuration in the control plane and\n\
         generate again.\n",
    );
    out
}

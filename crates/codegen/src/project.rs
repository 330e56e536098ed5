//! The project files around the worker source: wrangler and npm configuration, the secrets
//! template and the customer's README.

use std::fmt::Write as _;

use c15t_model::{Bindings, Destination};
use serde_json::{Map, Value, json};

use crate::lang::{Config, Tokens, TypeScript};
use crate::literal::{INDENT_WIDTH, LINE_WIDTH, width};
use crate::target::DestinationsMode;
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

fn package_json(input: &Input<'_>, worker_name: &str) -> String {
    let deps = |list: &[crate::target::Dependency]| -> Map<String, Value> {
        list.iter()
            .map(|d| (d.name.to_owned(), json!(d.version)))
            .collect()
    };
    pretty_json(&json!({
        "name": worker_name.replace('_', "-"),
        "private": true,
        "type": "module",
        "scripts": {
            "dev": "wrangler dev",
            "deploy": "wrangler deploy",
            "typecheck": "tsc --noEmit",
        },
        "dependencies": deps(input.target.dependencies),
        "devDependencies": deps(input.target.dev_dependencies),
    }))
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
         ```sh\nnpm install\n",
        input.config.customer.id, input.environment, input.target.id
    );
    for secret in &bindings.secrets {
        let _ = writeln!(out, "npx wrangler secret put {}", secret.name);
    }
    out.push_str(
        "npx wrangler deploy\n```\n\n\
         ## Run locally\n\n\
         Copy `.dev.vars.example` to `.dev.vars`, fill in the values, then run `npx wrangler dev`.\n\
         Type-check with `npm run typecheck`.\n\n\
         Do not edit the generated files: change the configuration in the control plane and\n\
         generate again.\n",
    );
    out
}

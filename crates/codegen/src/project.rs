//! The project files around the worker source: wrangler and npm configuration, the secrets
//! template and the customer's README.

use std::fmt::Write as _;

use c15t_model::{Bindings, Destination};
use serde_json::{Map, Value, json};

use crate::format::{header_lines, pretty_json};
use crate::target::{DestinationsMode, TargetProfile};
use crate::types::{GeneratedFile, Input};
use crate::{contract, runtime, worker};
use runtime::package_json_value;

/// Every file of the project, unsorted.
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
            contents: contract::builtin_destinations(&header),
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
            contents: runtime::vendored_package_json(),
        },
        GeneratedFile {
            path: "vendor/c15t-destinations/index.js",
            contents: runtime::DESTINATIONS_JS.to_owned(),
        },
        GeneratedFile {
            path: "vendor/c15t-destinations/NOTICE",
            contents: runtime::DESTINATIONS_NOTICE.to_owned(),
        },
    ];
    if input.target.destinations == DestinationsMode::AnalyticsOption {
        files.push(GeneratedFile {
            path: "types/c15t-backend-analytics.d.ts",
            contents: contract::render_analytics_option(input.target, header),
        });
    }
    files
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
    template.replace(runtime::LOCK_NAME_PLACEHOLDER, &quoted)
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

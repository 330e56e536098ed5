//! `src/index.ts`: the customer's worker.
//!
//! The layout is fixed by c15t's Biome settings; where Biome's choice depends on user data
//! (whether an array or a property fits in 80 columns) the decision is made here with Biome's
//! rules, so `biome format` never changes the output.

use c15t_model::{Bindings, Destination, SettingValue, bindings};
use genco::prelude::*;
use genco::tokens::FormatInto;

use crate::lang::{Import, Tokens, import};
use crate::literal::{
    INDENT_WIDTH, LINE_WIDTH, comment_text, push_string_literal, string_literal, width,
};
use crate::target::{DESTINATIONS_MODULE, DestinationsMode};
use crate::{Input, header_lines};

/// Prefix of the paths served by the destinations handler.
pub(crate) const ANALYTICS_BASE_PATH: &str = "/analytics";

/// Renders `src/index.ts`.
pub(crate) fn render(
    input: &Input<'_>,
    destinations: &[&Destination],
    bindings: &Bindings,
    input_hash: &str,
) -> String {
    let target = input.target;
    let customer = &input.config.customer;
    let c15t_instance = import(target.backend_module, "c15tInstance");
    let kysely_adapter = import(target.adapter_module, "kyselyAdapter");
    let kysely = import("kysely", "Kysely");
    let libsql = import("@libsql/kysely-libsql", "LibsqlDialect");
    let app_name = string_literal(&c15t_model::worker_name(&customer.id, input.environment));
    let level = string_literal(customer.log_level.as_str());
    let url_var = bindings::DATABASE_URL_VAR;
    let token_var = bindings::DATABASE_TOKEN_SECRET;

    let mut env_interface = Tokens::new();
    for name in bindings
        .vars
        .iter()
        .map(|(n, _)| n.as_str())
        .chain(bindings.secrets.iter().map(|s| s.name.as_str()))
    {
        env_interface.push();
        quote_in!(env_interface => $name: string;);
    }

    let mut t = Tokens::new();
    quote_in! { t =>
        $("/** Bindings of this worker: plain vars from wrangler.jsonc, secrets from `wrangler secret put`. */")
        interface Env {
            $env_interface
        }
        $['\n']
    };

    let handler_mode = target.destinations == DestinationsMode::Handler;
    if handler_mode {
        quote_in! { t =>
            const ANALYTICS_BASE_PATH = $(string_literal(ANALYTICS_BASE_PATH));
            $['\n']
        };
    }

    // Depth (in tabs) of the entries of the destinations array.
    let entry_depth = if handler_mode { 3 } else { 4 };
    let destinations_tokens = destination_entries(destinations, bindings, entry_depth);
    let origins = origins_array(
        input,
        if handler_mode {
            "\tconst trustedOrigins: string[] = "
        } else {
            "\t\ttrustedOrigins: "
        },
    );

    quote_in! { t =>
        const createHandler = (env: Env) => {
            $(if handler_mode {
                const trustedOrigins: string[] = $(origins.clone());
            })
            const instance = $(&c15t_instance)({
                adapter: $(&kysely_adapter)({
                    db: new $(&kysely)({
                        dialect: new $(&libsql)({
                            url: env.$url_var,
                            authToken: env.$token_var,
                        }),
                    }),
                    provider: $(string_literal("sqlite")),
                }),
                $(if handler_mode {
                    trustedOrigins,
                } else {
                    trustedOrigins: $(origins),
                })
                logger: {
                    level: $level,
                    appName: $app_name,
                },
                $(if !handler_mode {
                    analytics: {
                        destinations: [
                            $(destinations_tokens.clone())
                        ],
                    },
                })
            });
            $(if handler_mode {
                const analytics = $(import(DESTINATIONS_MODULE, "createAnalyticsHandler"))({
                    basePath: ANALYTICS_BASE_PATH,
                    trustedOrigins,
                    destinations: [
                        $(destinations_tokens)
                    ],
                });
            })
            $['\n']
            return async (request: Request): Promise<Response> => {
                try {
                    $(if handler_mode {
                        const { pathname } = new URL(request.url);
                        if (
                            pathname === ANALYTICS_BASE_PATH ||
                            pathname.startsWith(ANALYTICS_BASE_PATH + $(string_literal("/")))
                        ) {
                            return await analytics(request);
                        }
                    })
                    return await instance.handler(request);
                } catch (error) {
                    console.error($(string_literal("c15t worker: unhandled error")), error);
                    return new Response(JSON.stringify({ error: $(string_literal("Internal Server Error")) }), {
                        status: 500,
                        headers: { $(string_literal("Content-Type")): $(string_literal("application/json")) },
                    });
                }
            };
        };
        $['\n']
        $("// One handler per isolate: building the c15t instance on every request is wasteful.")
        let handle: ((request: Request) => Promise<Response>) | undefined;
        $['\n']
        export default {
            async fetch(request: Request, env: Env): Promise<Response> {
                handle ??= createHandler(env);
                return await handle(request);
            },
        } satisfies ExportedHandler<Env>;
    };

    crate::project::format_ts(&t, header_lines(input, input_hash))
}

/// The trusted-origins array: on one line when the statement fits, else one origin per line.
fn origins_array(input: &Input<'_>, line_prefix: &str) -> Tokens {
    let items: Vec<String> = input
        .config
        .customer
        .trusted_origins
        .iter()
        .map(|o| string_literal(o.as_str()))
        .collect();
    let one_line = format!("[{}]", items.join(", "));
    let mut t = Tokens::new();
    if items.is_empty() || width(line_prefix) + width(&one_line) < LINE_WIDTH {
        t.append(one_line);
    } else {
        t.append("[");
        t.indent();
        for item in items {
            t.push();
            t.append(format!("{item},"));
        }
        t.unindent();
        t.append("]");
    }
    t
}

/// The entries of the destinations array, each preceded by a comment naming it.
fn destination_entries(destinations: &[&Destination], bindings: &Bindings, depth: usize) -> Tokens {
    let mut t = Tokens::new();
    for (index, d) in destinations.iter().enumerate() {
        let factory: Import = import(DESTINATIONS_MODULE, d.kind.factory_name());
        t.push();
        t.append(format!("// {}", comment_text(&d.name)));
        let enabled = if d.enabled { "true" } else { "false" };
        let category = string_literal(d.category.as_str());
        let properties: Vec<(&str, String)> = d
            .ordered_settings()
            .map(|(field, value)| (field.key, value_expr(index, field.key, value, bindings)))
            .collect();
        t.push();
        if properties.is_empty() {
            quote_in!(t => $factory({}, $enabled, $category),);
            continue;
        }
        factory.format_into(&mut t);
        t.append("(");
        t.indent();
        t.append("{");
        t.indent();
        for (key, expr) in properties {
            // Biome breaks after the colon when a string or member expression does not fit and
            // the key is not short (narrower than indentWidth + 3 columns).
            let breakable = expr.starts_with(['\'', '"']) || expr.starts_with("env.");
            let cols = (depth + 2) * INDENT_WIDTH + width(key) + 2 + width(&expr) + 1;
            t.push();
            if breakable && cols > LINE_WIDTH && width(key) >= INDENT_WIDTH + 3 {
                t.append(format!("{key}:"));
                t.indent();
                t.append(format!("{expr},"));
                t.unindent();
            } else {
                t.append(format!("{key}: {expr},"));
            }
        }
        t.unindent();
        t.append("},");
        t.push();
        t.append(format!("{enabled},"));
        t.push();
        t.append(category);
        t.unindent();
        t.append("),");
    }
    t
}

/// The expression of one setting: a literal, or `env.NAME` for a secret.
fn value_expr(index: usize, key: &str, value: &SettingValue, bindings: &Bindings) -> String {
    match value {
        SettingValue::Bool(b) => b.to_string(),
        SettingValue::Number(n) => number_literal(*n),
        SettingValue::Text(s) => {
            let mut out = String::with_capacity(s.len() + 2);
            push_string_literal(&mut out, s);
            out
        }
        SettingValue::Secret(_) => {
            let name = bindings
                .secret_name(index, key)
                .expect("the binding plan names every secret setting");
            format!("env.{name}")
        }
    }
}

/// A finite number as JavaScript (and Biome) writes it.
fn number_literal(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

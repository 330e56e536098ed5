//! `types/c15t-destinations.d.ts`: the TypeScript contract of the (not yet published)
//! `@c15t/destinations` package, generated from the catalogue so that the factories the worker
//! calls and the settings it passes agree by construction.

use c15t_model::{Catalogue, ConsentCategory, FieldType, KindSpec};
use genco::prelude::*;

use crate::format::{format_ts, pretty_json};
use crate::lang::{Tokens, import_type};
use crate::literal::{INDENT_WIDTH, LINE_WIDTH, string_literal, trusted_comment_text, width};
use crate::target::{DESTINATIONS_MODULE, TargetProfile};

/// The contract of the built-in catalogue with `header` lines on top. The body depends only on
/// the catalogue, which is static, so it is rendered once per process.
pub(crate) fn builtin_destinations(header: &[String]) -> String {
    static BODY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| render_destinations(&Catalogue::builtin(), Vec::new()));
    let mut out = String::with_capacity(BODY.len() + 256);
    for line in header {
        out.push_str("// ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&BODY);
    out
}

/// Renders the contract of every kind in `catalogue`.
pub(crate) fn render_destinations(catalogue: &Catalogue, header: Vec<String>) -> String {
    let categories: Vec<String> = ConsentCategory::ALL
        .iter()
        .map(|c| format!("| {}", string_literal(c.as_str())))
        .collect();
    let mut kinds = Tokens::new();
    for kind in catalogue.kinds() {
        kinds.line();
        kind_tokens(&mut kinds, kind);
    }
    let t: Tokens = quote! {
        $("// The contract of @c15t/destinations, generated from the control plane's catalogue.")
        declare module $(string_literal(DESTINATIONS_MODULE)) {
            $("/** c15t's consent purposes. */")
            export type ConsentCategory =
                $(for c in categories join ($['\r']) => $c);
            $['\n']
            $("/** A configured destination, as every factory returns it. */")
            export interface Destination<Settings = unknown> {
                $("/** The destination's id in the control plane; also its c15t script id. */")
                readonly id: string;
                $("/** The catalogue slug of the destination's kind, e.g. `meta-pixel`. */")
                readonly type: string;
                readonly settings: Settings;
                readonly enabled: boolean;
                readonly category: ConsentCategory;
            }
            $['\n']
            $("/** Creates a destination; `category` defaults to the kind's own, `id` to its slug. */")
            export type Factory<Settings> = (
                settings: Settings,
                enabled?: boolean,
                category?: ConsentCategory,
                id?: string
            ) => Destination<Settings>;
            $['\n']
            $("/** One entry of `GET {basePath}/scripts`: the browser passes `options` to the")
            $(" * `@c15t/scripts` function `function` of module `@c15t/scripts/{vendor}` and gets")
            $(" * the c15t `Script` of the destination. Never holds a secret setting. */")
            export interface ScriptDescriptor {
                readonly id: string;
                readonly type: string;
                readonly vendor: string;
                readonly function: string;
                readonly options: Readonly<Record<string, unknown>>;
                readonly category: ConsentCategory;
                readonly alwaysLoad: boolean;
            }
            $kinds
            $['\n']
            $("/** Options of the handler that serves the destinations' routes. */")
            export interface AnalyticsHandlerOptions {
                $("/** Paths under this prefix are served, e.g. `GET /analytics/scripts`. */")
                basePath?: string;
                $("/** Origins allowed to call the routes (CORS), as c15t matches them. */")
                trustedOrigins?: readonly string[];
                destinations: readonly Destination[];
                $("/** The worker's c15t instance: `POST {basePath}/events` reads each subject's")
                $(" * consent from it and forwards nothing without it. */")
                c15t?: { readonly handler: (request: Request) => Promise<Response> };
                $("/** The worker's environment, for `C15T_EVENTS_DEBUG_SECRET` and the")
                $(" * `C15T_ENDPOINT_<VENDOR>` base URL overrides. */")
                env?: object;
            }
            $['\n']
            $("/** What the handler needs of the worker's `ExecutionContext`. */")
            export interface WaitUntil {
                waitUntil(promise: Promise<unknown>): void;
            }
            $['\n']
            $("/** Serves `GET {basePath}/scripts?consent=...` (the consented destinations as")
            $(" * `ScriptDescriptor`s), `GET {basePath}/client.js` (the browser module) and")
            $(" * `POST {basePath}/events` (server-side events, forwarded after `ctx.waitUntil`). */")
            export function createAnalyticsHandler(
                options: AnalyticsHandlerOptions
            ): (request: Request, ctx?: WaitUntil) => Promise<Response>;
        }
    };
    format_ts(&t, header)
}

fn kind_tokens(t: &mut Tokens, kind: &KindSpec) {
    let settings = kind.settings_type_name();
    let factory = kind.factory_name();
    let mut fields = Tokens::new();
    for field in kind.fields {
        let members: Vec<String> = match field.ty {
            FieldType::String | FieldType::Url => vec!["string".to_owned()],
            FieldType::Enum(values) => values.iter().map(|v| string_literal(v)).collect(),
            FieldType::Bool => vec!["boolean".to_owned()],
            FieldType::Number { .. } => vec!["number".to_owned()],
        };
        let ty = members.join(" | ");
        let mut doc = field.description.to_owned();
        if field.secret {
            doc.push_str(" Secret: read it from the worker's environment, never inline it.");
        }
        let optional = if field.required { "" } else { "?" };
        fields.push();
        fields.append(jsdoc(&doc));
        fields.push();
        // A union that does not fit on the member's line (two levels deep) is broken as Biome
        // breaks it: one `| member` per line, indented once more.
        let line = 2 * INDENT_WIDTH + width(field.key) + optional.len() + 2 + width(&ty) + 1;
        if members.len() > 1 && line > LINE_WIDTH {
            let lines: Vec<String> = members.iter().map(|m| format!("| {m}")).collect();
            quote_in! { fields =>
                $(field.key)$optional:
                    $(for l in lines join ($['\r']) => $l);
            };
        } else {
            quote_in!(fields => $(field.key)$optional: $ty;);
        }
    }
    quote_in! { *t =>
        $(jsdoc(&format!("Settings of {} ({}).", kind.display_name, kind.docs_url)))
        export interface $(&settings) {
            $fields
        }
        $(jsdoc(&format!("{}, slug `{}`, default category `{}`.", kind.display_name, kind.slug, kind.default_category)))
        export const $factory: Factory<$settings>;
    }
}

/// A one-line JSDoc comment; catalogue text is trusted, but `*/` is still defused.
fn jsdoc(text: &str) -> String {
    format!(
        "/** {} */",
        trusted_comment_text(text).replace("*/", "*\\/")
    )
}

/// The catalogue as the destinations runtime reads it (`packages/destinations/src/catalogue.json`):
/// per kind slug, its factory, default category and how a browser loads it (the
/// `@c15t/scripts` module and function, `alwaysLoad`, the option taking the category, and the
/// vendor option each public setting fills). Secret settings are not listed among the options:
/// the runtime never sends a browser a setting it does not find there; `secrets` names them so
/// the runtime can keep their values out of every message. `events` names the vendor's server
/// API, if the kind has one, and the settings it needs.
pub(crate) fn runtime_catalogue(catalogue: &Catalogue) -> String {
    use serde_json::{Map, Value, json};
    let mut kinds = Map::new();
    for kind in catalogue.kinds() {
        let options: Map<String, Value> = kind
            .fields
            .iter()
            .filter_map(|f| Some((f.key.to_owned(), json!(f.public_script_option()?))))
            .collect();
        let (vendor, function, always_load, category_option) = match kind.scripts {
            Some(v) => (
                json!(v.module),
                json!(v.function),
                v.always_load,
                json!(v.category_option),
            ),
            None => (Value::Null, Value::Null, false, Value::Null),
        };
        kinds.insert(
            kind.slug.to_owned(),
            json!({
                "factory": kind.factory_name(),
                "defaultCategory": kind.default_category.as_str(),
                "vendor": vendor,
                "function": function,
                "alwaysLoad": always_load,
                "categoryOption": category_option,
                "options": options,
                "secrets": kind.fields.iter().filter(|f| f.secret).map(|f| f.key).collect::<Vec<_>>(),
                "events": kind.events.map(|e| json!({ "api": e.api, "requires": e.requires })),
            }),
        );
    }
    pretty_json(&Value::Object(kinds))
}

/// Renders `types/c15t-backend-analytics.d.ts`: the seed design's `analytics` option, added to
/// `C15TOptions` by module augmentation for targets that use it.
pub(crate) fn render_analytics_option(target: &TargetProfile, header: Vec<String>) -> String {
    let destination = import_type(DESTINATIONS_MODULE, "Destination");
    let t: Tokens = quote! {
        declare module $(string_literal(target.options_module)) {
            interface C15TOptions {
                $("/** Destinations served under /analytics (the design's option). */")
                analytics?: {
                    destinations: $destination[];
                };
            }
        }
    };
    format_ts(&t, header)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cached_contract_equals_a_fresh_rendering() {
        let header = vec!["one".to_owned(), "two".to_owned()];
        assert_eq!(
            super::builtin_destinations(&header),
            super::render_destinations(&c15t_model::Catalogue::builtin(), header)
        );
    }
}

//! `src/index.ts`: the customer's worker, and its JavaScript flavour uploaded next to the
//! prebuilt c15t runtime module (plus the source of that module's entry).
//!
//! Both flavours come from one genco template: the JavaScript one has no `interface Env`, no
//! annotations and no `satisfies`, and its imports are mapped to the runtime module.
//!
//! The layout is fixed by c15t's Biome settings; where Biome's choice depends on user data
//! (whether an array or a property fits in 80 columns) the decision is made here with Biome's
//! rules, so `biome format` never changes the output.

use std::rc::Rc;
use std::sync::LazyLock;

use c15t_model::{Bindings, Destination, KindSpec, SettingValue, bindings};
use genco::prelude::*;
use genco::tokens::ItemStr;

use crate::format::{format_sized, write_header_lines};
use crate::lang::{Config, Format, Import, Text, Tokens, TypeScript, import};
use crate::literal::{
    INDENT_WIDTH, LINE_WIDTH, push_comment_text, push_string_literal, string_literal, width,
};
use crate::target::{DESTINATIONS_MODULE, DestinationsMode, TargetProfile};
use crate::types::{GENERATOR_VERSION, Input};

/// Prefix of the paths served by the destinations handler.
pub(crate) const ANALYTICS_BASE_PATH: &str = "/analytics";

/// The places in the worker template that depend on the input. The template is rendered once
/// per [`DestinationsMode`] and [`Flavour`] with a marker character at each hole (see
/// [`Template`]); every render then only fills the holes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Hole {
    /// The members of `interface Env`, each on its own line, with the line break before `}`.
    EnvFields,
    /// The trusted-origins array.
    Origins,
    /// The `c15tInstance` import.
    C15tInstance,
    /// The `kyselyAdapter` import.
    KyselyAdapter,
    /// The `Kysely` import.
    Kysely,
    /// The `LibsqlDialect` import.
    LibsqlDialect,
    /// The logger level literal.
    Level,
    /// The logger app name literal.
    AppName,
    /// The entries of the destinations array, with the line break before `]`.
    Destinations,
    /// The `createAnalyticsHandler` import.
    CreateAnalyticsHandler,
}

impl Hole {
    const ALL: [Self; 10] = [
        Self::EnvFields,
        Self::Origins,
        Self::C15tInstance,
        Self::KyselyAdapter,
        Self::Kysely,
        Self::LibsqlDialect,
        Self::Level,
        Self::AppName,
        Self::Destinations,
        Self::CreateAnalyticsHandler,
    ];
    /// First private-use character; hole `n` is marked by `MARK_BASE + n`.
    const MARK_BASE: u32 = 0xE000;
    const MARKS: [&'static str; 10] = [
        "\u{E000}", "\u{E001}", "\u{E002}", "\u{E003}", "\u{E004}", "\u{E005}", "\u{E006}",
        "\u{E007}", "\u{E008}", "\u{E009}",
    ];

    /// The marker placed in the template.
    fn mark(self) -> ItemStr {
        ItemStr::static_(Self::MARKS[self as usize])
    }
}

/// One piece of the rendered template: fixed text or a hole.
#[derive(Debug)]
enum Piece {
    Text(String),
    Hole(Hole),
}

/// The worker template rendered once, split at its holes.
type Template = Vec<Piece>;

/// Which language the worker is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour<'a> {
    /// `src/index.ts`: TypeScript importing the npm packages.
    TypeScript,
    /// The uploaded `index.js`: the same worker without types, importing every name from the
    /// prebuilt runtime module `runtime_module` (a module specifier such as
    /// `./c15t-runtime-0123456789abcdef.js`).
    JavaScript {
        /// The runtime module's specifier.
        runtime_module: &'a str,
    },
}

static HANDLER_TEMPLATE: LazyLock<Template> = LazyLock::new(|| template(true, &TS));
static OPTION_TEMPLATE: LazyLock<Template> = LazyLock::new(|| template(false, &TS));
static HANDLER_TEMPLATE_JS: LazyLock<Template> = LazyLock::new(|| template(true, &JS));
static OPTION_TEMPLATE_JS: LazyLock<Template> = LazyLock::new(|| template(false, &JS));

/// The template of one mode and flavour.
fn template_for(handler_mode: bool, typescript: bool) -> &'static Template {
    match (handler_mode, typescript) {
        (true, true) => &HANDLER_TEMPLATE,
        (false, true) => &OPTION_TEMPLATE,
        (true, false) => &HANDLER_TEMPLATE_JS,
        (false, false) => &OPTION_TEMPLATE_JS,
    }
}

/// The text of the template that differs between the flavours: signatures and declarations
/// with or without their types.
struct Signatures {
    typescript: bool,
    create_handler: &'static str,
    origins: &'static str,
    request_fn: &'static str,
    handle: &'static str,
    fetch: &'static str,
    satisfies: &'static str,
}

/// The worker's optional debug secret of `POST /analytics/events?debug=1`.
const DEBUG_SECRET_FIELD: &str = "C15T_EVENTS_DEBUG_SECRET?: string;";

const TS: Signatures = Signatures {
    typescript: true,
    create_handler: "(env: Env)",
    origins: "trustedOrigins: string[]",
    request_fn: "(request: Request, ctx: ExecutionContext): Promise<Response>",
    handle: "handle:\n\t| ((request: Request, ctx: ExecutionContext) => Promise<Response>)\n\t| undefined",
    fetch: "(\n\t\trequest: Request,\n\t\tenv: Env,\n\t\tctx: ExecutionContext\n\t): Promise<Response>",
    satisfies: " satisfies ExportedHandler<Env>",
};

const JS: Signatures = Signatures {
    typescript: false,
    create_handler: "(env)",
    origins: "trustedOrigins",
    request_fn: "(request, ctx)",
    handle: "handle",
    fetch: "(request, env, ctx)",
    satisfies: "",
};

/// Renders the worker template of one mode and flavour with markers at the holes, and splits
/// it.
fn template(handler_mode: bool, sig: &Signatures) -> Template {
    let url_var = bindings::DATABASE_URL_VAR;
    let token_var = bindings::DATABASE_TOKEN_SECRET;
    let mut t = Tokens::new();
    if sig.typescript {
        quote_in! { t =>
            $("/** Bindings of this worker: plain vars from wrangler.jsonc, secrets from `wrangler secret put`. */")
            interface Env {$(Hole::EnvFields.mark())}
            $['\n']
        };
    }

    quote_in! { t =>
        const ANALYTICS_BASE_PATH = $(string_literal(ANALYTICS_BASE_PATH));
        $['\n']
    };

    // Both modes serve `/analytics/*` with `createAnalyticsHandler`; the seed design's
    // `analytics` option gets the same destinations too (its backend ignores the option at run
    // time, so without the handler its workers would serve no scripts).
    quote_in! { t =>
        const createHandler = $(sig.create_handler) => {
            const $(sig.origins) = $(Hole::Origins.mark());
            $(if !handler_mode {
                const analyticsOptions = {
                    destinations: [$(Hole::Destinations.mark())],
                };
            })
            const instance = $(Hole::C15tInstance.mark())({
                adapter: $(Hole::KyselyAdapter.mark())({
                    db: new $(Hole::Kysely.mark())({
                        dialect: new $(Hole::LibsqlDialect.mark())({
                            url: env.$url_var,
                            authToken: env.$token_var,
                            $("// No queue in the client: a queued query would start in the request that")
                            $("// frees a slot, and workerd cancels it when that request ends.")
                            concurrency: Infinity,
                        }),
                    }),
                    provider: $(string_literal("sqlite")),
                }),
                trustedOrigins,
                logger: {
                    level: $(Hole::Level.mark()),
                    appName: $(Hole::AppName.mark()),
                },
                $(if !handler_mode {
                    analytics: analyticsOptions,
                })
            });
            $(if handler_mode {
                const analytics = $(Hole::CreateAnalyticsHandler.mark())({
                    basePath: ANALYTICS_BASE_PATH,
                    trustedOrigins,
                    destinations: [$(Hole::Destinations.mark())],
                    c15t: instance,
                    env,
                });
            } else {
                const analytics = $(Hole::CreateAnalyticsHandler.mark())({
                    basePath: ANALYTICS_BASE_PATH,
                    trustedOrigins,
                    ...analyticsOptions,
                    c15t: instance,
                    env,
                });
            })
            $['\n']
            return async $(sig.request_fn) => {
                try {
                    const { pathname } = new URL(request.url);
                    if (
                        pathname === ANALYTICS_BASE_PATH ||
                        pathname.startsWith(ANALYTICS_BASE_PATH + $(string_literal("/")))
                    ) {
                        return await analytics(request, ctx);
                    }
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
        let $(sig.handle);
        $['\n']
        export default {
            async fetch$(sig.fetch) {
                handle ??= createHandler(env);
                return await handle(request, ctx);
            },
        }$(sig.satisfies);
    };

    let fmt_config = genco::fmt::Config::from_lang::<TypeScript>();
    let mut w = genco::fmt::FmtWriter::new(String::new());
    t.format(
        &mut w.as_formatter(&fmt_config),
        &Config::default(),
        &Format,
    )
    .expect("formatting into a String cannot fail");
    let text = w.into_inner();

    let mut pieces = Vec::new();
    let mut rest = text.as_str();
    while let Some((at, c)) = rest
        .char_indices()
        .find(|&(_, c)| (Hole::MARK_BASE..Hole::MARK_BASE + 10).contains(&u32::from(c)))
    {
        pieces.push(Piece::Text(rest[..at].to_owned()));
        pieces.push(Piece::Hole(
            Hole::ALL[(u32::from(c) - Hole::MARK_BASE) as usize],
        ));
        rest = &rest[at + c.len_utf8()..];
    }
    pieces.push(Piece::Text(rest.to_owned()));
    pieces
}

/// Appends `depth` tabs.
fn push_tabs(out: &mut String, depth: usize) {
    const TABS: &str = "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t";
    let mut depth = depth;
    while depth > 0 {
        let n = depth.min(TABS.len());
        out.push_str(&TABS[..n]);
        depth -= n;
    }
}

/// Appends a line break and the indentation of a line at `depth`.
fn push_line(out: &mut String, depth: usize) {
    out.push('\n');
    push_tabs(out, depth);
}

/// What `src/index.ts` is assembled from, in order.
enum Part {
    /// A range of [`Assembly::text`].
    Span(usize, usize),
    /// An import, rendered as its name.
    Import(Import),
    /// Tokens built with `quote!`.
    Tokens(Tokens),
}

/// The parts of one render, with all text that depends on the input in one buffer.
struct Assembly {
    text: String,
    parts: Vec<Part>,
    /// Where the text not yet in a part starts.
    mark: usize,
}

impl Assembly {
    /// Closes the pending text into a span part.
    fn flush(&mut self) {
        if self.text.len() > self.mark {
            self.parts.push(Part::Span(self.mark, self.text.len()));
            self.mark = self.text.len();
        }
    }

    fn push(&mut self, part: Part) {
        self.flush();
        self.parts.push(part);
    }
}

/// Renders `src/index.ts`, or its JavaScript flavour.
pub(crate) fn render(
    input: &Input<'_>,
    destinations: &[&Destination],
    bindings: &Bindings,
    input_hash: &str,
    flavour: Flavour<'_>,
) -> String {
    let target = input.target;
    let customer = &input.config.customer;
    let handler_mode = target.destinations == DestinationsMode::Handler;
    let typescript = flavour == Flavour::TypeScript;
    let template = template_for(handler_mode, typescript);
    // Depth (in tabs) of the entries of the destinations array.
    let entry_depth = 3;

    let mut a = Assembly {
        text: String::with_capacity(2560 + 320 * destinations.len()),
        parts: Vec::with_capacity(32 + 2 * destinations.len()),
        mark: 0,
    };
    let mut imports = 0;
    for piece in template {
        let hole = match piece {
            Piece::Text(text) => {
                // Copied next to the input's text so that the file is few, long items.
                a.text.push_str(text);
                continue;
            }
            Piece::Hole(hole) => *hole,
        };
        let import = match hole {
            Hole::EnvFields => {
                let out = &mut a.text;
                let start = out.len();
                for name in bindings
                    .vars
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .chain(bindings.secrets.iter().map(|s| s.name.as_str()))
                {
                    push_line(out, 1);
                    out.push_str(name);
                    out.push_str(": string;");
                }
                // Bound when the customer has one; declared optional otherwise, for secrets a
                // self-hosting customer sets with `wrangler secret put`.
                if !bindings
                    .secrets
                    .iter()
                    .any(|s| s.name == bindings::EVENTS_DEBUG_SECRET)
                {
                    push_line(out, 1);
                    out.push_str(
                        "/** Optional secret that allows `POST /analytics/events?debug=1`. */",
                    );
                    push_line(out, 1);
                    out.push_str(DEBUG_SECRET_FIELD);
                }
                if out.len() > start {
                    out.push('\n');
                }
                continue;
            }
            Hole::Origins => {
                origins_array(
                    &mut a.text,
                    input,
                    if typescript {
                        "\tconst trustedOrigins: string[] = "
                    } else {
                        "\tconst trustedOrigins = "
                    },
                    1,
                );
                continue;
            }
            Hole::Level => {
                push_string_literal(&mut a.text, customer.log_level.as_str());
                continue;
            }
            Hole::AppName => {
                let name = c15t_model::worker_name(&customer.id, input.environment);
                push_string_literal(&mut a.text, &name);
                continue;
            }
            Hole::Destinations => {
                imports += destinations.len();
                destination_entries(&mut a, destinations, bindings, entry_depth);
                continue;
            }
            Hole::C15tInstance
            | Hole::KyselyAdapter
            | Hole::Kysely
            | Hole::LibsqlDialect
            | Hole::CreateAnalyticsHandler => {
                let (module, name) = hole_import(target, hole).expect("an import hole");
                import_static(module, name)
            }
        };
        imports += 1;
        a.push(Part::Import(import));
    }
    a.flush();

    let header = worker_header(input, input_hash);
    let size = a.text.len() + header.len() + 64 * imports + 64;
    let text = Rc::new(a.text);
    let mut t = Tokens::with_capacity(a.parts.len() + 8);
    for part in a.parts {
        match part {
            Part::Span(start, end) => t.append(Text::new(&text, start, end)),
            Part::Import(import) => t.append(import),
            Part::Tokens(tokens) => t.append(tokens),
        }
    }
    let config = Config {
        header,
        import_from: match flavour {
            Flavour::TypeScript => None,
            Flavour::JavaScript { runtime_module } => Some(runtime_module.to_owned()),
        },
    };
    format_sized(&t, &config, size)
}

/// The module and name a hole of the template imports, if it is an import.
fn hole_import(target: &TargetProfile, hole: Hole) -> Option<(&'static str, &'static str)> {
    match hole {
        Hole::C15tInstance => Some((target.backend_module, "c15tInstance")),
        Hole::KyselyAdapter => Some((target.adapter_module, "kyselyAdapter")),
        Hole::Kysely => Some(("kysely", "Kysely")),
        Hole::LibsqlDialect => Some(("@libsql/kysely-libsql", "LibsqlDialect")),
        Hole::CreateAnalyticsHandler => Some((DESTINATIONS_MODULE, "createAnalyticsHandler")),
        Hole::EnvFields | Hole::Origins | Hole::Level | Hole::AppName | Hole::Destinations => None,
    }
}

/// Every name a worker generated for `target` may import, with its module: the template's
/// imports, then the factory of every catalogue kind. This is what the runtime module must
/// export.
pub(crate) fn runtime_imports(target: &TargetProfile) -> Vec<(&'static str, &'static str)> {
    let handler_mode = target.destinations == DestinationsMode::Handler;
    let mut imports: Vec<(&'static str, &'static str)> = template_for(handler_mode, false)
        .iter()
        .filter_map(|piece| match piece {
            Piece::Hole(hole) => hole_import(target, *hole),
            Piece::Text(_) => None,
        })
        .collect();
    imports.extend(
        FACTORY_NAMES
            .iter()
            .map(|(_, name)| (DESTINATIONS_MODULE, name.as_str())),
    );
    imports
}

/// The JavaScript entry that a bundler turns into the runtime module of `target`: it imports
/// every name of [`runtime_imports`] from its npm package and exports them all.
pub(crate) fn render_runtime_entry(target: &TargetProfile) -> String {
    let imports: Vec<Import> = runtime_imports(target)
        .into_iter()
        .map(|(module, name)| import_static(module, name))
        .collect();
    let mut t = Tokens::new();
    quote_in! { t =>
        export {
            $(for i in imports join ($['\r']) => $i,)
        };
    };
    let mut header = String::with_capacity(256);
    header.push_str("// The c15t runtime of target ");
    header.push_str(target.id);
    header.push_str(", entry generated by c15t-codegen ");
    header.push_str(GENERATOR_VERSION);
    header.push_str(
        ".\n// It exports every name a generated worker imports; bundled once per target.\n",
    );
    format_sized(
        &t,
        &Config {
            header,
            import_from: None,
        },
        4096,
    )
}

/// The header comment lines of `src/index.ts`, each as `// line\n`.
fn worker_header(input: &Input<'_>, input_hash: &str) -> String {
    let mut out = String::with_capacity(256);
    write_header_lines(&mut out, "// ", "\n", input, input_hash);
    out
}

/// Factory names of the builtin kinds, computed once.
static FACTORY_NAMES: LazyLock<Vec<(&'static KindSpec, String)>> = LazyLock::new(|| {
    c15t_model::Catalogue::builtin()
        .kinds()
        .iter()
        .map(|k| (k, k.factory_name()))
        .collect()
});

/// The import of a destination's factory.
fn factory_import(d: &Destination) -> Import {
    let names = FACTORY_NAMES.as_slice();
    let found = names
        .iter()
        .find(|(kind, _)| std::ptr::eq(*kind, d.kind))
        .or_else(|| names.iter().find(|(kind, _)| kind.slug == d.kind.slug));
    match found {
        Some((_, name)) => import_static(DESTINATIONS_MODULE, name.as_str()),
        None => import(ItemStr::static_(DESTINATIONS_MODULE), d.kind.factory_name()),
    }
}

/// An import of static names (no allocation).
fn import_static(module: &'static str, name: &'static str) -> Import {
    import(ItemStr::static_(module), ItemStr::static_(name))
}

/// Appends the trusted-origins array: on one line when the statement fits, else one origin per
/// line (`depth` is the indentation of the statement's line).
fn origins_array(out: &mut String, input: &Input<'_>, line_prefix: &str, depth: usize) {
    let origins = &input.config.customer.trusted_origins;
    let start = out.len();
    out.push('[');
    for (i, o) in origins.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_string_literal(out, o.as_str());
    }
    out.push(']');
    if origins.is_empty() || width(line_prefix) + width(&out[start..]) < LINE_WIDTH {
        return;
    }
    out.truncate(start);
    out.push('[');
    for o in origins {
        push_line(out, depth + 1);
        push_string_literal(out, o.as_str());
        out.push(',');
    }
    push_line(out, depth);
    out.push(']');
}

/// Appends the entries of the destinations array, each preceded by a comment naming it, with
/// the line break before the closing bracket.
fn destination_entries(
    a: &mut Assembly,
    destinations: &[&Destination],
    bindings: &Bindings,
    depth: usize,
) {
    let mut expr = String::with_capacity(64);
    for (index, d) in destinations.iter().enumerate() {
        let factory = factory_import(d);
        let out = &mut a.text;
        push_line(out, depth);
        out.push_str("// ");
        push_comment_text(out, &d.name);
        push_line(out, depth);
        let enabled = if d.enabled { "true" } else { "false" };
        let mut settings = d.ordered_settings().peekable();
        if settings.peek().is_none() {
            // Every kind has a required setting, so a valid config never gets here; the call
            // still names the destination and stays on one line only when Biome would keep it.
            let category = string_literal(d.category.as_str());
            let id = string_literal(d.id.as_str());
            a.push(Part::Tokens(
                quote!($factory({}, $enabled, $category, $id),),
            ));
            continue;
        }
        a.push(Part::Import(factory));
        let out = &mut a.text;
        out.push('(');
        push_line(out, depth + 1);
        out.push('{');
        for (field, value) in settings {
            let key = field.key;
            expr.clear();
            value_expr(&mut expr, index, key, value, bindings);
            // Biome breaks after the colon when a string or member expression does not fit and
            // the key is not short (narrower than indentWidth + 3 columns).
            let breakable = expr.starts_with(['\'', '"']) || expr.starts_with("env.");
            push_line(out, depth + 2);
            out.push_str(key);
            if breakable && {
                let key_width = width(key);
                key_width >= INDENT_WIDTH + 3
                    && (depth + 2) * INDENT_WIDTH + key_width + 2 + width(&expr) + 1 > LINE_WIDTH
            } {
                out.push(':');
                push_line(out, depth + 3);
            } else {
                out.push_str(": ");
            }
            out.push_str(&expr);
            out.push(',');
        }
        push_line(out, depth + 1);
        out.push_str("},");
        push_line(out, depth + 1);
        out.push_str(enabled);
        out.push(',');
        push_line(out, depth + 1);
        push_string_literal(out, d.category.as_str());
        out.push(',');
        push_line(out, depth + 1);
        push_string_literal(out, d.id.as_str());
        push_line(out, depth);
        out.push_str("),");
    }
    if !destinations.is_empty() {
        push_line(&mut a.text, depth - 1);
    }
}

/// Appends the expression of one setting: a literal, or `env.NAME` for a secret.
fn value_expr(
    out: &mut String,
    index: usize,
    key: &str,
    value: &SettingValue,
    bindings: &Bindings,
) {
    match value {
        SettingValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        SettingValue::Number(n) => out.push_str(&number_literal(*n)),
        SettingValue::Text(s) => push_string_literal(out, s),
        SettingValue::Secret(_) => {
            let name = bindings
                .secret_name(index, key)
                .expect("the binding plan names every secret setting");
            out.push_str("env.");
            out.push_str(name);
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

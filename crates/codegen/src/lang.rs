//! A genco language for TypeScript that prints the way c15t's Biome settings format code.
//!
//! genco's own `js` language renders imports as `import {a, b} from "m";`, which Biome would
//! rewrite. This language keeps genco's import tracking (every import is an [`Import`] item
//! placed where it is used) and renders the import block in Biome's layout: single quotes,
//! bracket spacing, one import per module sorted by module, and the member list broken one per
//! line when the statement exceeds the line width.
//!
//! The same language prints the worker's JavaScript flavour: [`Config::import_from`] maps every
//! import to one module (the prebuilt c15t runtime) and drops type-only imports.

use core::fmt::Write as _;
use std::rc::Rc;

use genco::fmt;
use genco::tokens::ItemStr;

use crate::literal::{LINE_WIDTH, push_string_literal, string_literal, width};

/// Formatting state (none needed).
#[derive(Debug, Default)]
pub struct Format;

/// Formatting configuration.
#[derive(Debug, Default)]
pub struct Config {
    /// The comment block printed before the imports (the "generated, do not edit" header):
    /// `// line` and a line break per line, each line already safe as a `//` comment.
    pub header: String,
    /// When set, the file is JavaScript importing everything from this one module: every
    /// import is rendered from it (in one statement, names sorted) and type-only imports are
    /// dropped. The generated worker's JavaScript flavour maps its imports to the prebuilt
    /// c15t runtime module this way.
    pub import_from: Option<String>,
}

/// TypeScript tokens.
pub type Tokens = genco::Tokens<TypeScript>;

genco::impl_lang! {
    /// TypeScript as c15t's Biome configuration formats it.
    pub TypeScript {
        type Config = Config;
        type Format = Format;
        type Item = Any;

        fn default_indentation() -> fmt::Indentation {
            fmt::Indentation::Tab
        }

        fn write_quoted(out: &mut fmt::Formatter<'_>, input: &str) -> fmt::Result {
            // Quoting goes through `string_literal`, which picks the quote Biome would; this
            // path is only reached by genco's `quoted()`, which the generator does not use.
            out.write_str(&string_literal(input))
        }

        fn format_file(
            tokens: &Tokens,
            out: &mut fmt::Formatter<'_>,
            config: &Self::Config,
        ) -> fmt::Result {
            let mut imports: Vec<(&str, bool, &str)> = tokens
                .iter_lang()
                .filter_map(|item| match item.kind() {
                    AnyKind::Import(import) => match &config.import_from {
                        None => {
                            Some((import.module.as_ref(), import.type_only, import.name.as_ref()))
                        }
                        Some(_) if import.type_only => None,
                        Some(module) => Some((module.as_str(), false, import.name.as_ref())),
                    },
                    AnyKind::Text(_) => None,
                })
                .collect();
            // Most imports share a module (the same `&'static str`): compare addresses first.
            let same = |a: &str, b: &str| core::ptr::eq(a, b) || a == b;
            imports.sort_unstable_by(|a, b| {
                let module = if core::ptr::eq(a.0, b.0) {
                    core::cmp::Ordering::Equal
                } else {
                    a.0.cmp(b.0)
                };
                module.then(a.1.cmp(&b.1)).then_with(|| a.2.cmp(b.2))
            });
            imports.dedup_by(|a, b| same(a.0, b.0) && a.1 == b.1 && same(a.2, b.2));
            let mut block = String::with_capacity(config.header.len() + 64 * imports.len() + 1);
            block.push_str(&config.header);
            let mut rest = imports.as_slice();
            while let Some(&(module, type_only, _)) = rest.first() {
                let end = rest
                    .iter()
                    .position(|&(m, t, _)| !same(m, module) || t != type_only)
                    .unwrap_or(rest.len());
                let (group, tail) = rest.split_at(end);
                rest = tail;
                let keyword = if type_only { "import type" } else { "import" };
                // A module name is plain ASCII, so its literal is the name in quotes.
                let from_width = if module.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'\\' | b'\'' | b'"')) {
                    width(module) + 2
                } else {
                    width(&string_literal(module))
                };
                // `keyword { a, b } from 'module';`
                let one_line = width(keyword)
                    + 3
                    + group.iter().map(|&(_, _, name)| width(name)).sum::<usize>()
                    + 2 * (group.len() - 1)
                    + 8
                    + from_width
                    + 1;
                block.push_str(keyword);
                if one_line <= LINE_WIDTH {
                    block.push_str(" { ");
                    for (i, &(_, _, name)) in group.iter().enumerate() {
                        if i > 0 {
                            block.push_str(", ");
                        }
                        block.push_str(name);
                    }
                    block.push_str(" } from ");
                } else {
                    block.push_str(" {\n");
                    for &(_, _, name) in group {
                        block.push('\t');
                        block.push_str(name);
                        block.push_str(",\n");
                    }
                    block.push_str("} from ");
                }
                push_string_literal(&mut block, module);
                block.push_str(";\n");
            }
            if !imports.is_empty() {
                block.push('\n');
            }
            out.write_str(&block)?;
            tokens.format(out, config, &Format)
        }
    }

    Import(Import) {
        fn format(&self, out: &mut fmt::Formatter<'_>, _: &Config, _: &Format) -> fmt::Result {
            out.write_str(&self.name)
        }
    }

    Text(Text) {
        fn format(&self, out: &mut fmt::Formatter<'_>, _: &Config, _: &Format) -> fmt::Result {
            out.write_str(&self.buffer[self.start..self.end])
        }
    }
}

/// Literal text that is a range of a shared buffer: many pieces of text built into one
/// allocation. Like a literal, it is printed as is (line breaks and indentation included).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text {
    buffer: Rc<String>,
    start: usize,
    end: usize,
}

impl Text {
    /// The text `buffer[start..end]`.
    pub fn new(buffer: &Rc<String>, start: usize, end: usize) -> Self {
        assert!(
            buffer.get(start..end).is_some(),
            "a text range of the buffer"
        );
        Self {
            buffer: Rc::clone(buffer),
            start,
            end,
        }
    }
}

/// A named import, `import { name } from 'module'`, rendered where the tokens use it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Import {
    module: ItemStr,
    type_only: bool,
    name: ItemStr,
}

/// Imports `name` from `module`; using the result in tokens adds it to the file's imports.
pub fn import(module: impl Into<ItemStr>, name: impl Into<ItemStr>) -> Import {
    Import {
        module: module.into(),
        type_only: false,
        name: name.into(),
    }
}

/// Imports the type `name` from `module` (`import type { name } from 'module'`).
pub fn import_type(module: impl Into<ItemStr>, name: impl Into<ItemStr>) -> Import {
    Import {
        module: module.into(),
        type_only: true,
        name: name.into(),
    }
}

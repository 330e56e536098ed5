//! A genco language for TypeScript that prints the way c15t's Biome settings format code.
//!
//! genco's own `js` language renders imports as `import {a, b} from "m";`, which Biome would
//! rewrite. This language keeps genco's import tracking (every import is an [`Import`] item
//! placed where it is used) and renders the import block in Biome's layout: single quotes,
//! bracket spacing, one import per module sorted by module, and the member list broken one per
//! line when the statement exceeds the line width.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use genco::fmt;
use genco::tokens::ItemStr;

use crate::literal::{LINE_WIDTH, string_literal};

/// Formatting state (none needed).
#[derive(Debug, Default)]
pub struct Format;

/// Formatting configuration.
#[derive(Debug, Default)]
pub struct Config {
    /// Comment lines printed before the imports (the "generated, do not edit" header), each
    /// already safe as a `//` comment.
    pub header: Vec<String>,
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
            let mut modules: BTreeMap<(&str, bool), BTreeSet<&str>> = BTreeMap::new();
            for item in tokens.iter_lang() {
                let AnyKind::Import(import) = item.kind();
                modules
                    .entry((import.module.as_ref(), import.type_only))
                    .or_default()
                    .insert(import.name.as_ref());
            }
            let mut header = String::new();
            for line in &config.header {
                let _ = writeln!(header, "// {line}");
            }
            for ((module, type_only), names) in &modules {
                let from = string_literal(module);
                let keyword = if *type_only { "import type" } else { "import" };
                let one_line = format!(
                    "{keyword} {{ {} }} from {from};",
                    names.iter().copied().collect::<Vec<_>>().join(", ")
                );
                if crate::literal::width(&one_line) <= LINE_WIDTH {
                    header.push_str(&one_line);
                    header.push('\n');
                } else {
                    let _ = writeln!(header, "{keyword} {{");
                    for name in names {
                        let _ = writeln!(header, "\t{name},");
                    }
                    let _ = writeln!(header, "}} from {from};");
                }
            }
            if !modules.is_empty() {
                header.push('\n');
            }
            out.write_str(&header)?;
            tokens.format(out, config, &Format)
        }
    }

    Import(Import) {
        fn format(&self, out: &mut fmt::Formatter<'_>, _: &Config, _: &Format) -> fmt::Result {
            out.write_str(&self.name)
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

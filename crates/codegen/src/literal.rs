//! Inert renderings of user text: string literals and comment text.
//!
//! Everything a user typed reaches generated source only through these two functions. A string
//! literal escapes its quote, backslashes, every line terminator, control character and
//! invisible (bidirectional or zero-width) character, so it can neither end early nor hide
//! code; a comment escapes line terminators and the same invisible characters, so it stays one
//! visible line. The quote choice matches Biome's (`quoteStyle: single`): single quotes unless
//! the text holds more single than double quotes.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthChar;

/// c15t's Biome `lineWidth`.
pub const LINE_WIDTH: usize = 80;
/// c15t's Biome `indentWidth`: a tab counts this many columns.
pub const INDENT_WIDTH: usize = 2;

/// Columns `text` takes when printed, as Biome measures them (tabs count [`INDENT_WIDTH`]).
pub fn width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            if c == '\t' {
                INDENT_WIDTH
            } else {
                c.width().unwrap_or(0)
            }
        })
        .sum()
}

fn must_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || c_model::is_invisible(c)
}

use c15t_model as c_model;

/// A JavaScript string literal whose value is exactly `value`.
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_string_literal(&mut out, value);
    out
}

/// Appends the literal of `value` to `out` (see [`string_literal`]).
pub fn push_string_literal(out: &mut String, value: &str) {
    let (singles, doubles) = value.chars().fold((0usize, 0usize), |(s, d), c| match c {
        '\'' => (s + 1, d),
        '"' => (s, d + 1),
        _ => (s, d),
    });
    let quote = if singles > doubles { '"' } else { '\'' };
    out.push(quote);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if must_escape(c) => {
                let code = u32::from(c);
                if code < 0x100 {
                    let _ = write!(out, "\\x{code:02x}");
                } else {
                    let _ = write!(out, "\\u{code:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Text safe inside a `//` comment: one line, nothing invisible, no trailing whitespace.
/// Escapes use `\u{...}`; a backslash is doubled so that escapes stay unambiguous.
pub fn comment_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.trim_end().chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if must_escape(c) || (c.is_whitespace() && c != ' ') => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_choice_follows_biome() {
        assert_eq!(string_literal("plain"), "'plain'");
        assert_eq!(string_literal("it's"), "\"it's\"");
        assert_eq!(string_literal("say \"hi\""), "'say \"hi\"'");
        assert_eq!(string_literal("'\""), "'\\'\"'");
    }

    #[test]
    fn escapes_terminators_and_invisibles() {
        assert_eq!(
            string_literal("a\nb\u{2028}c\u{202e}d\0"),
            "'a\\nb\\u2028c\\u202ed\\x00'"
        );
        assert_eq!(comment_text("x\n// y\u{2029}z \t"), "x\\u{a}// y\\u{2029}z");
    }
}

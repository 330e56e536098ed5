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
    let mut columns = 0;
    for &b in text.as_bytes() {
        columns += match b {
            0x20..=0x7e => 1,
            b'\t' => INDENT_WIDTH,
            _ => return width_unicode(text),
        };
    }
    columns
}

/// [`width`] of text that is not all printable ASCII.
#[cold]
fn width_unicode(text: &str) -> usize {
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
    let bytes = value.as_bytes();
    // Branch-free passes (they vectorise): quote counts, and whether every byte is printable
    // ASCII other than a backslash.
    let singles = bytes.iter().filter(|&&b| b == b'\'').count();
    let doubles = bytes.iter().filter(|&&b| b == b'"').count();
    let plain = bytes.iter().fold(true, |plain, &b| {
        plain & (0x20..0x7f).contains(&b) & (b != b'\\')
    });
    let quote = if singles > doubles { '"' } else { '\'' };
    out.reserve(value.len() + 2);
    out.push(quote);
    let quoted = if quote == '\'' { singles } else { doubles };
    if plain && quoted == 0 {
        // Printable ASCII without the quote or a backslash needs no escape.
        out.push_str(value);
        out.push(quote);
        return;
    }
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
            ' '..='~' => out.push(c),
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
    push_comment_text(&mut out, value);
    out
}

/// Words that make a comment an instruction to a tool when they start it: TypeScript
/// (`@ts-ignore`, `@ts-expect-error`, `/// <reference>`), Biome, ESLint, Prettier, coverage
/// tools, JSHint/JSLint globals, Deno. Matched case-insensitively after leading spaces.
const PRAGMA_STARTS: &[&str] = &[
    "biome-ignore",
    "eslint",
    "prettier-ignore",
    "istanbul",
    "c8",
    "v8",
    "jshint",
    "jslint",
    "global",
    "exported",
    "tslint",
    "deno-",
    "ts-",
    "sourcemappingurl",
];

/// Whether comment text could read as a tool directive: anything
/// but a letter or digit first (`@ts-ignore`, `/ <reference`, `#region`, `=`), or a pragma word.
fn starts_like_pragma(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if !first.is_alphanumeric() {
        return true;
    }
    PRAGMA_STARTS.iter().any(|p| {
        text.as_bytes()
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p.as_bytes()))
    })
}

/// Appends the comment text of `value` to `out` (see [`comment_text`]).
///
/// The first non-space character is escaped when the text could otherwise read as a directive
/// to TypeScript or another tool (a destination named `@ts-ignore` must not switch off type
/// checking of the next line).
pub fn push_comment_text(out: &mut String, value: &str) {
    let value = value.trim_end();
    let body = value.trim_start_matches(' ');
    if starts_like_pragma(body) {
        out.push_str(&value[..value.len() - body.len()]);
        let first = body.chars().next().unwrap_or(' ');
        let _ = write!(out, "\\u{{{:x}}}", u32::from(first));
        push_comment_rest(out, &body[first.len_utf8()..]);
        return;
    }
    push_comment_rest(out, value);
}

/// Comment text for the generator's own (trusted) words, such as catalogue descriptions in the
/// contract's JSDoc: escaped like [`comment_text`] but without the directive guard, since these
/// texts are ours and may start with a backtick.
pub(crate) fn trusted_comment_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_comment_rest(&mut out, value.trim_end());
    out
}

fn push_comment_rest(out: &mut String, value: &str) {
    if value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        // Printable ASCII (trailing whitespace already trimmed) needs no escape.
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if must_escape(c) || (c.is_whitespace() && c != ' ') => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
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

    #[test]
    fn comments_never_start_like_a_directive() {
        assert_eq!(comment_text("@ts-ignore"), "\\u{40}ts-ignore");
        assert_eq!(
            comment_text("  @ts-expect-error x"),
            "  \\u{40}ts-expect-error x"
        );
        assert_eq!(
            comment_text("/ <reference path=\"x\" />"),
            "\\u{2f} <reference path=\"x\" />"
        );
        assert_eq!(
            comment_text("Biome-Ignore format: x"),
            "\\u{42}iome-Ignore format: x"
        );
        assert_eq!(
            comment_text("eslint-disable-next-line"),
            "\\u{65}slint-disable-next-line"
        );
        assert_eq!(
            comment_text("Production Meta Pixel"),
            "Production Meta Pixel"
        );
        assert_eq!(comment_text("Ünïcödé"), "Ünïcödé");
    }
}

//! Validation problems: every problem found in one input, each naming its field path.

use std::fmt;

/// One thing wrong with the input: where (`destinations[1].settings.pixelId`) and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path of the offending field, in the syntax of the declarative customer file.
    pub path: String,
    /// What is wrong and what is allowed; never contains a secret value.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found while validating one input; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors {
    problems: Vec<Problem>,
}

impl ValidationErrors {
    /// The problems, in the order they were found (input order).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(f, "{n} problem{} found", if n == 1 { "" } else { "s" })?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// Collects problems while walking an input; turns into `Result` at the end.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    problems: Vec<Problem>,
}

impl Problems {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    pub(crate) fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ValidationErrors> {
        if self.problems.is_empty() {
            Ok(value())
        } else {
            Err(ValidationErrors {
                problems: self.problems,
            })
        }
    }
}

/// Shows user text inside an error message: quoted with backticks, control and invisible
/// characters escaped, and long values cut, so that a message stays one readable line.
pub(crate) fn shown(value: &str) -> String {
    const MAX: usize = 60;
    let mut out = String::from("`");
    for (i, c) in value.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() || (c.is_whitespace() && c != ' ') || is_invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

/// The one rule for text fields: no control characters (Unicode's `Cc`: U+0000 to U+001F and
/// U+007F to U+009F, so no NUL, tab, newline or escape sequence). The error completes a
/// `path: ...` message: what was found, where, and what is allowed.
pub fn check_text(value: &str) -> Result<(), String> {
    match value.chars().enumerate().find(|(_, c)| c.is_control()) {
        None => Ok(()),
        Some((at, c)) => Err(format!(
            "must not contain control characters (U+0000 to U+001F, U+007F to U+009F: no NUL, \
             tab, newline or escape); found U+{:04X} at character {}",
            u32::from(c),
            at + 1
        )),
    }
}

/// Characters that change how text is displayed without being visible themselves: bidirectional
/// overrides and isolates (Trojan Source) and zero-width characters.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}' | '\u{180E}')
}

/// Suggests the candidate closest to `input`, if one is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&input.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

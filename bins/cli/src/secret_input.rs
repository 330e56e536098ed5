//! Reading secret values: from a prompt without echo, from standard input, or from an
//! environment variable; never from the command line, where they would land in shell history
//! and process listings.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, bail};
use c15t_control::Secret;

/// Where one secret comes from, as written after `--secret KEY` (`KEY`, `KEY=env:VAR`,
/// `KEY=stdin`, `KEY=prompt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A prompt without echo when standard input is a terminal, else one line of standard input.
    Interactive,
    /// One line of standard input.
    Stdin,
    /// An environment variable.
    Env(String),
}

/// Parses `KEY[=SOURCE]`.
pub fn parse_secret_arg(arg: &str) -> Result<(String, SecretSource)> {
    let (key, source) = match arg.split_once('=') {
        None => (arg, SecretSource::Interactive),
        Some((key, "prompt")) => (key, SecretSource::Interactive),
        Some((key, "stdin")) => (key, SecretSource::Stdin),
        Some((key, rest)) => match rest.strip_prefix("env:") {
            Some(var) if !var.is_empty() => (key, SecretSource::Env(var.to_owned())),
            _ => bail!(
                "--secret {key}=...: give `env:VAR`, `stdin` or `prompt`; secret values are never \
                 accepted on the command line"
            ),
        },
    };
    if key.is_empty() {
        bail!("--secret needs a setting name, e.g. `--secret accessToken`");
    }
    Ok((key.to_owned(), source))
}

/// Reads one secret for `label` (shown in the prompt).
pub fn read_secret(label: &str, source: &SecretSource) -> Result<Secret> {
    let value = match source {
        SecretSource::Env(var) => std::env::var(var)
            .with_context(|| format!("{label}: environment variable `{var}` is not set"))?,
        SecretSource::Interactive if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("{label}: "))
                .with_context(|| format!("{label}: cannot read from the terminal"))?
        }
        SecretSource::Interactive | SecretSource::Stdin => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .with_context(|| format!("{label}: cannot read standard input"))?;
            let trimmed = line.trim_end_matches(['\n', '\r']).to_owned();
            // Overwrite the line buffer's copy before it is freed.
            drop(Secret::new(line));
            trimmed
        }
    };
    if value.is_empty() {
        bail!("{label}: the secret is empty");
    }
    Ok(Secret::new(value))
}

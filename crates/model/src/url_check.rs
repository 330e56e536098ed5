//! The one URL check of the model: every URL that is stored (database URLs, URL settings,
//! webhook endpoints) passes through [`check_url`].

use crate::problem::is_invisible;

/// Checks an absolute URL with one of `schemes`: a host, nothing that cannot be a plain endpoint
/// (credentials, whitespace, control, bidirectional or zero-width characters), printable ASCII
/// only (international hosts in punycode, the rest percent-encoded), none of the characters a
/// URL never holds unescaped (`"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`), and then parsed
/// by a real URL parser (WHATWG, the `url` crate). The error completes a `path: ...` message.
pub fn check_url(s: &str, schemes: &[&str]) -> Result<(), String> {
    let allowed = schemes
        .iter()
        .map(|s| format!("`{s}://`"))
        .collect::<Vec<_>>()
        .join(", ");
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(format!("must be an absolute URL starting with {allowed}"));
    };
    if !schemes.contains(&scheme) {
        return Err(format!("must start with {allowed}"));
    }
    if let Some((at, c)) = s
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_whitespace() || c.is_control() || is_invisible(*c))
    {
        return Err(format!(
            "must not contain whitespace, control, bidirectional or zero-width characters; \
             found U+{:04X} at character {}",
            u32::from(c),
            at + 1
        ));
    }
    if !s.is_ascii() {
        return Err(
            "must be ASCII: write an international host in punycode (`xn--...`) and \
             percent-encode the rest"
                .into(),
        );
    }
    if let Some(c) = s.chars().find(|c| "\"<>\\^`{|}".contains(*c)) {
        return Err(format!(
            "must not contain `{c}` (percent-encode it as %{:02X})",
            u32::from(c)
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not contain credentials (`user@`); store tokens as secrets".into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let Some((addr, after)) = v6.split_once(']') else {
                return Err("has an unclosed `[` in an IPv6 address".into());
            };
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("has an invalid IPv6 address `[{addr}]`"));
            }
            match after {
                "" => (authority, None),
                p => match p.strip_prefix(':') {
                    Some(port) => (&authority[..addr.len() + 2], Some(port)),
                    None => {
                        return Err(
                            "has text after the IPv6 address; only `:port` may follow".into()
                        );
                    }
                },
            }
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() || host.starts_with('.') {
        return Err("must name a host".into());
    }
    if !host.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err("host may contain only ASCII letters, digits, `.`, `-` (use punycode)".into());
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Err(format!(
            "port must be a number from 1 to 65535, got `{port}`"
        ));
    }
    let parsed = url::Url::parse(s).map_err(|e| format!("is not a valid URL ({e})"))?;
    if parsed.host().is_none() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must name a host, without credentials".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn urls_are_parsed_and_plain() {
        let web = &["https", "http"];
        for ok in [
            "https://example.com",
            "https://hooks.example.com/c15t?x=1&y=%20",
            "http://127.0.0.1:8080/a/b",
            "https://[2001:db8::1]:443/x",
            "https://xn--bcher-kva.example/",
        ] {
            assert_eq!(check_url(ok, web), Ok(()), "{ok}");
        }
        for (bad, needle) in [
            ("https://x<script>alert(1)</script>", "`<`"),
            ("https://exa\u{202e}mple.com/", "U+202E"),
            ("https://a.com/\u{200b}", "U+200B"),
            ("https://a.com/\0", "U+0000"),
            ("https://bücher.example/", "punycode"),
            ("https://a.com/{x}", "`{`"),
            ("https://ex%41mple.com/", "host may contain only"),
            ("ftp://a.com", "must start with"),
            ("https://u@a.com", "credentials"),
            ("https://a.com:0", "port"),
            ("https://[::1", "unclosed"),
            ("https://", "must name a host"),
        ] {
            let err = check_url(bad, web).unwrap_err();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
    }
}

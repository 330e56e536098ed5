//! The one way testers talk HTTP: a timeout on the whole exchange, a bounded body, client
//! errors stripped of their URL, and SSRF checks for customer-supplied hosts.

use std::net::IpAddr;
use std::time::Duration;

use c15t_net::RefusedAddr;
use url::{Host, Url};

use crate::{Finding, Inner, Outcome, Tested};

/// Sent with every test, so vendors can tell these requests from a site's own traffic.
pub(crate) const USER_AGENT: &str = concat!("c15t-control-plane/", env!("CARGO_PKG_VERSION"));

/// The most of an answer's body that is read.
const BODY_LIMIT: usize = 64 * 1024;
/// How far past [`BODY_LIMIT`] an answer is read before it is redacted and cut: longer than
/// any credential, so a secret straddling the limit is still found whole.
const REDACT_MARGIN: usize = 4 * 1024;

/// Which client a request goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// An operator-configured vendor base.
    Trusted,
    /// A customer-supplied host: the SSRF policy applies.
    Customer,
}

/// A vendor's answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Answer {
    /// The body as JSON, if it is JSON.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The first line of the body, shortened, for messages about answers we do not understand.
    pub(crate) fn excerpt(&self) -> String {
        let line = self.body.lines().next().unwrap_or_default().trim();
        let mut excerpt: String = line.chars().take(200).collect();
        if excerpt.len() < line.len() {
            excerpt.push('…');
        }
        excerpt
    }
}

/// One test's HTTP context.
pub(crate) struct Call<'a> {
    inner: &'a Inner,
    /// The destination's secret values: every answer is redacted with them as it is read,
    /// before any excerpt or limit could cut a value and leave part of it.
    secrets: Vec<&'a str>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(inner: &'a Inner, secrets: Vec<&'a str>) -> Self {
        Self { inner, secrets }
    }

    /// Builds a request on the client for `base`.
    pub(crate) fn request(&self, base: Base, method: reqwest::Method, url: Url) -> Request {
        let client = match base {
            Base::Trusted => &self.inner.trusted,
            Base::Customer => &self.inner.guarded,
        };
        Request {
            host: host_of(&url),
            base,
            url: url.clone(),
            builder: client.request(method, url).timeout(self.inner.timeout),
        }
    }

    /// Sends `request`: the answer, or the finding that there was none.
    pub(crate) async fn send(&self, request: Request) -> Result<Answer, Tested> {
        if request.base == Base::Customer {
            self.check_customer_url(&request.url, &request.host)?;
        }
        let host = request.host;
        let result = async {
            let mut response = request.builder.send().await?;
            let status = response.status().as_u16();
            // Read past the limit by more than any secret is long, redact, then cut.
            let mut body = Vec::new();
            while body.len() < BODY_LIMIT + REDACT_MARGIN {
                match response.chunk().await? {
                    Some(chunk) => body.extend_from_slice(&chunk),
                    None => break,
                }
            }
            let text = crate::redact(
                &String::from_utf8_lossy(&body),
                self.secrets.iter().copied(),
            );
            let body: String = text.chars().take(BODY_LIMIT).collect();
            Ok::<_, reqwest::Error>(Answer { status, body })
        }
        .await;
        result.map_err(|e| Tested::NoAnswer(self.classify(e, &host)))
    }

    /// Scheme and IP-literal checks of a customer-supplied URL; names are checked by the
    /// guarded resolver when they are resolved.
    fn check_customer_url(&self, url: &Url, host: &str) -> Result<(), Tested> {
        let policy = &self.inner.ssrf;
        match url.scheme() {
            "https" => {}
            "http" if policy.allow_http => {}
            scheme => {
                return Err(Tested::NoAnswer(Finding::new(
                    Outcome::Unreachable,
                    format!(
                        "refusing to connect to `{host}` over {scheme}; use an https:// URL \
                         (an operator may allow plain http for testing)"
                    ),
                )));
            }
        }
        let literal = match url.host() {
            Some(Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(Host::Ipv6(a)) => Some(IpAddr::V6(a)),
            Some(Host::Domain(_)) | None => None,
        };
        if let Some(addr) = literal
            && let Err(range) = policy.check(addr)
        {
            return Err(Tested::NoAnswer(refused(host, addr, range.kind)));
        }
        Ok(())
    }

    /// Turns a client error into a finding without the URL (where credentials travel).
    fn classify(&self, e: reqwest::Error, host: &str) -> Finding {
        if let Some(refused_addr) = RefusedAddr::find(&e) {
            return refused(host, refused_addr.addr, refused_addr.range.kind);
        }
        if e.is_timeout() {
            return Finding::new(
                Outcome::Unreachable,
                format!(
                    "`{host}` did not answer within {}",
                    seconds(self.inner.timeout)
                ),
            );
        }
        let e = e.without_url();
        Finding::new(Outcome::Unreachable, unreachable(host, &e))
    }
}

/// Why a host could not be reached, in words: the kind of failure found in the error's
/// chain, never the client's or the resolver's raw text.
fn unreachable(host: &str, e: &(dyn std::error::Error + 'static)) -> String {
    let mut kind = None;
    let mut text = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if kind.is_none()
            && let Some(io) = err.downcast_ref::<std::io::Error>()
        {
            kind = Some(io.kind());
        }
        text.push_str(&err.to_string().to_ascii_lowercase());
        text.push(' ');
        source = err.source();
    }
    use std::io::ErrorKind as K;
    let dns = [
        "dns error",
        "failed to lookup address",
        "name or service not known",
    ]
    .iter()
    .any(|m| text.contains(m));
    if dns {
        return format!(
            "could not reach `{host}`: the name does not resolve (check the host, or the \
             server's DNS)"
        );
    }
    match kind {
        Some(K::ConnectionRefused) => {
            format!("could not reach `{host}`: the connection was refused (nothing listens there)")
        }
        Some(K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe) => {
            format!("could not reach `{host}`: it closed the connection before answering")
        }
        Some(K::TimedOut) => format!("could not reach `{host}`: the connection timed out"),
        Some(K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable) => {
            format!("could not reach `{host}`: no route to it from the control plane")
        }
        _ if text.contains("certificate") || text.contains("tls") || text.contains("handshake") => {
            format!(
                "could not reach `{host}`: no trusted TLS connection (its certificate is not \
                 valid for it, or the handshake failed)"
            )
        }
        _ => format!("could not reach `{host}`: the connection failed"),
    }
}

fn refused(host: &str, addr: IpAddr, kind: &str) -> Finding {
    Finding::new(
        Outcome::Unreachable,
        format!(
            "refusing to connect to `{host}`: {addr} is a {kind} address; the host must be \
             public, unless an operator allow-lists the range"
        ),
    )
}

/// A request under construction, with what the checks need to know about it.
pub(crate) struct Request {
    host: String,
    base: Base,
    url: Url,
    builder: reqwest::RequestBuilder,
}

impl Request {
    /// Adds a JSON body.
    pub(crate) fn json(mut self, body: &serde_json::Value) -> Self {
        self.builder = self.builder.json(body);
        self
    }

    /// Adds a header.
    pub(crate) fn header(
        mut self,
        name: reqwest::header::HeaderName,
        value: reqwest::header::HeaderValue,
    ) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// Adds a raw body.
    pub(crate) fn body(mut self, body: String) -> Self {
        self.builder = self.builder.body(body);
        self
    }
}

/// `host` or `host:port` of a URL, for messages (never its path or query).
pub(crate) fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => "(no host)".to_owned(),
    }
}

/// `base` with `segments` appended as path segments (each percent-encoded), keeping any path
/// the base already has.
pub(crate) fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// A duration in seconds for messages (`10 s`, `0.2 s`).
pub(crate) fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_appends_segments_to_any_base() {
        let base = Url::parse("https://graph.facebook.com").unwrap();
        assert_eq!(
            endpoint(&base, &["v21.0", "123"]).as_str(),
            "https://graph.facebook.com/v21.0/123"
        );
        let base = Url::parse("http://127.0.0.1:9/proxy/graph/?x=1").unwrap();
        assert_eq!(
            endpoint(&base, &["v21.0", "1 2"]).as_str(),
            "http://127.0.0.1:9/proxy/graph/v21.0/1%202"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(seconds(Duration::from_secs(10)), "10 s");
        assert_eq!(seconds(Duration::from_millis(200)), "0.2 s");
    }
}

//! The SSRF guard: which addresses a webhook or another request to a customer-supplied URL
//! may be sent to, and the DNS resolver that checks every address it hands to the HTTP client.
//!
//! Resolution and the check are one step inside the client's resolver, so the address that
//! was checked is the address that is connected to: a host that answers a public address to a
//! first lookup and a private one to a second (DNS rebinding) gains nothing, because there is
//! no second lookup. Hosts written as IP literals never reach a resolver; the caller (the
//! webhook notifier, a connection tester) checks them before sending.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which addresses and schemes webhooks (and other requests to customer-supplied URLs) may
/// use, as an operator configures it.
///
/// By default only `https://` URLs whose every address is public are allowed. `allow` opens
/// ranges that would otherwise be refused (an internal receiver, or `127.0.0.1/32` in tests);
/// `allow_http` permits plain `http://`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsrfPolicy {
    /// Ranges allowed even though they are not public.
    pub allow: Vec<IpNet>,
    /// Whether `http://` endpoints are allowed (never in production: the payload would travel
    /// in clear text).
    pub allow_http: bool,
}

/// A refused range: what kind of addresses it holds and the range itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedRange {
    /// The kind, e.g. `loopback` or `private (RFC 1918)`.
    pub kind: &'static str,
    /// The range.
    pub net: IpNet,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, kind: &'static str) -> (IpNet, &'static str) {
    (
        IpNet::V4(match Ipv4Net::new(Ipv4Addr::new(a, b, c, d), len) {
            Ok(net) => net,
            Err(_) => panic!("valid prefix length"),
        }),
        kind,
    )
}

const fn v6(segments: [u16; 8], len: u8, kind: &'static str) -> (IpNet, &'static str) {
    let [a, b, c, d, e, f, g, h] = segments;
    (
        IpNet::V6(
            match Ipv6Net::new(Ipv6Addr::new(a, b, c, d, e, f, g, h), len) {
                Ok(net) => net,
                Err(_) => panic!("valid prefix length"),
            },
        ),
        kind,
    )
}

/// Every range refused by default, most specific first so that an error names the narrowest
/// kind (broadcast before reserved, loopback before IPv4-compatible).
const BLOCKED: &[(IpNet, &str)] = &[
    v4(0, 0, 0, 0, 8, "unspecified (\"this network\")"),
    v4(10, 0, 0, 0, 8, "private (RFC 1918)"),
    v4(100, 64, 0, 0, 10, "shared (carrier-grade NAT)"),
    v4(127, 0, 0, 0, 8, "loopback"),
    v4(169, 254, 0, 0, 16, "link-local (includes cloud metadata)"),
    v4(172, 16, 0, 0, 12, "private (RFC 1918)"),
    v4(192, 0, 0, 0, 24, "IETF protocol assignment"),
    v4(192, 0, 2, 0, 24, "documentation"),
    v4(192, 88, 99, 0, 24, "6to4 relay anycast"),
    v4(192, 168, 0, 0, 16, "private (RFC 1918)"),
    v4(198, 18, 0, 0, 15, "benchmarking"),
    v4(198, 51, 100, 0, 24, "documentation"),
    v4(203, 0, 113, 0, 24, "documentation"),
    v4(224, 0, 0, 0, 4, "multicast"),
    v4(255, 255, 255, 255, 32, "broadcast"),
    v4(240, 0, 0, 0, 4, "reserved"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, "IPv4-compatible (deprecated)"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use NAT64"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "private (unique local)"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
];

/// The NAT64 well-known prefix: its addresses reach the IPv4 address in their last 32 bits.
const NAT64: Ipv6Net = match Ipv6Net::new(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
    Ok(net) => net,
    Err(_) => panic!("valid prefix length"),
};

impl SsrfPolicy {
    /// The production policy: public `https://` endpoints only.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Checks one address: `Ok` if it is public or allow-listed, otherwise the range that
    /// refuses it. An IPv6 address that carries an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`
    /// or NAT64 `64:ff9b::a.b.c.d`) is judged by the IPv4 address it reaches.
    pub fn check(&self, addr: IpAddr) -> Result<(), BlockedRange> {
        let effective = effective_addr(addr);
        if self
            .allow
            .iter()
            .any(|net| net.contains(&addr) || net.contains(&effective))
        {
            return Ok(());
        }
        match BLOCKED.iter().find(|(net, _)| net.contains(&effective)) {
            Some(&(net, kind)) => Err(BlockedRange { kind, net }),
            None => Ok(()),
        }
    }
}

/// The address a packet to `addr` really reaches, for the address forms that embed IPv4.
fn effective_addr(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                IpAddr::V4(v4)
            } else if NAT64.contains(&v6) {
                let [.., a, b, c, d] = v6.octets();
                IpAddr::V4(Ipv4Addr::new(a, b, c, d))
            } else {
                addr
            }
        }
        IpAddr::V4(_) => addr,
    }
}

/// An address the resolver refused; callers find it in the HTTP client's error chain with
/// [`RefusedAddr::find`].
#[derive(Debug)]
pub struct RefusedAddr {
    /// The host name that was resolved.
    pub host: String,
    /// The refused address.
    pub addr: IpAddr,
    /// The range that refuses it.
    pub range: BlockedRange,
}

impl RefusedAddr {
    /// The refusal of a [`GuardedResolver`] in `error`'s chain of sources, if there is one
    /// (an HTTP client wraps it in its own connect errors).
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a RefusedAddr> {
        let mut current = Some(error);
        while let Some(err) = current {
            if let Some(refused) = err.downcast_ref::<RefusedAddr>() {
                return Some(refused);
            }
            current = err.source();
        }
        None
    }
}

impl fmt::Display for RefusedAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` resolves to {}, a {} address",
            self.host, self.addr, self.range.kind
        )
    }
}

impl std::error::Error for RefusedAddr {}

/// A resolution failure of a [`GuardedResolver`], kept as its own type so that a caller
/// finding it in the HTTP client's error chain can tell it from a connect failure.
#[derive(Debug)]
pub struct ResolveFailed(pub std::io::Error);

impl fmt::Display for ResolveFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ResolveFailed {}

/// The HTTP client's only resolver: the system resolver, then [`SsrfPolicy::check`] on every
/// address. One refused address refuses the host, so which address the client picks cannot
/// matter.
///
/// Other outbound calls to customer-supplied URLs (connection tests of destinations) install
/// it with `reqwest::ClientBuilder::dns_resolver`; they must also check IP-literal hosts with
/// [`SsrfPolicy::check`] themselves, because those never reach a resolver.
#[derive(Debug)]
pub struct GuardedResolver {
    policy: Arc<SsrfPolicy>,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<SsrfPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(ResolveFailed)?
                .collect();
            if addrs.is_empty() {
                return Err(ResolveFailed(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the name has no addresses",
                ))
                .into());
            }
            let checked = checked(&policy, host, addrs)?;
            Ok(Box::new(checked.into_iter()) as Addrs)
        })
    }
}

/// The addresses the client may connect to: all of `addrs`, or none if one is refused. What
/// is returned is exactly what was checked.
fn checked(
    policy: &SsrfPolicy,
    host: String,
    addrs: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, RefusedAddr> {
    for a in &addrs {
        if let Err(range) = policy.check(a.ip()) {
            return Err(RefusedAddr {
                host,
                addr: a.ip(),
                range,
            });
        }
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(policy: &SsrfPolicy, addr: &str) -> Option<&'static str> {
        policy
            .check(addr.parse().expect("address"))
            .err()
            .map(|r| r.kind)
    }

    #[test]
    fn refuses_non_public_ranges() {
        let p = SsrfPolicy::strict();
        let cases = [
            ("127.0.0.1", "loopback"),
            ("10.0.0.1", "private (RFC 1918)"),
            ("172.31.255.255", "private (RFC 1918)"),
            ("192.168.1.1", "private (RFC 1918)"),
            ("169.254.169.254", "link-local (includes cloud metadata)"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("0.0.0.0", "unspecified (\"this network\")"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("192.0.2.10", "documentation"),
            ("198.51.100.1", "documentation"),
            ("203.0.113.9", "documentation"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("::ffff:127.0.0.1", "loopback"),
            (
                "::ffff:169.254.169.254",
                "link-local (includes cloud metadata)",
            ),
            ("64:ff9b::10.0.0.1", "private (RFC 1918)"),
        ];
        for (addr, expected) in cases {
            assert_eq!(kind(&p, addr), Some(expected), "{addr}");
        }
    }

    #[test]
    fn allows_public_addresses() {
        let p = SsrfPolicy::strict();
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::1.1.1.1",
        ] {
            assert_eq!(kind(&p, addr), None, "{addr}");
        }
    }

    #[test]
    fn one_refused_address_refuses_the_host() {
        let p = SsrfPolicy::strict();
        let public: SocketAddr = "1.1.1.1:0".parse().expect("addr");
        let private: SocketAddr = "10.0.0.1:0".parse().expect("addr");
        let err =
            checked(&p, "mixed.example".to_owned(), vec![public, private]).expect_err("refused");
        assert_eq!(err.addr, private.ip());
        assert_eq!(
            err.to_string(),
            "`mixed.example` resolves to 10.0.0.1, a private (RFC 1918) address"
        );
        assert_eq!(
            checked(&p, "public.example".to_owned(), vec![public]).expect("allowed"),
            vec![public]
        );
    }

    #[test]
    fn allow_list_opens_exactly_its_ranges() {
        let p = SsrfPolicy {
            allow: vec!["127.0.0.1/32".parse().expect("net")],
            allow_http: true,
        };
        assert_eq!(kind(&p, "127.0.0.1"), None);
        assert_eq!(kind(&p, "::ffff:127.0.0.1"), None);
        assert_eq!(kind(&p, "127.0.0.2"), Some("loopback"));
        assert_eq!(kind(&p, "::1"), Some("loopback"));
        assert_eq!(kind(&p, "10.0.0.1"), Some("private (RFC 1918)"));
    }
}

//! The SSRF guard. Screen-pop and webhook URLs are typed by users, so without a guard the
//! service would fetch whatever they point at: its own loopback, the cloud metadata address
//! (169.254.169.254), the office LAN. Every address a request would connect to is checked —
//! the one the name resolves to, at the moment of connecting, inside reqwest's own resolver —
//! so that a name that resolves to a public address when saved and to 127.0.0.1 when used
//! (DNS rebinding) still gets no connection. The operator opens ranges with `--webhook-allow`.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, LazyLock};

/// Ranges never connected to unless allowed, with the name shown in the refusal.
const BLOCKED: &[(&str, &str)] = &[
    ("0.0.0.0/8", "unspecified (\"this network\")"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "broadcast"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
];

static RANGES: LazyLock<Vec<(IpNet, &'static str)>> = LazyLock::new(|| {
    BLOCKED
        .iter()
        .map(|(net, why)| (net.parse().expect("a valid built-in range"), *why))
        .collect()
});

/// A refused address, and which kind of range it is in. Its message says only that: the
/// delivery log is read by token holders, and the address a name resolved to (`127.0.0.1`,
/// `10.0.3.7`) tells them about the operator's network. `detail` is for an address the user
/// typed, and for the operator's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused: not a public address")]
pub struct Blocked {
    pub ip: IpAddr,
    pub why: &'static str,
}

impl Blocked {
    /// The refusal with the address and its kind of range.
    pub fn detail(&self) -> String {
        format!(
            "refused: {} is not a public address ({}); the operator can allow a range with --webhook-allow",
            self.ip, self.why
        )
    }
}

/// The addresses a request may go to: every public one, plus the operator's allowed ranges.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    allow: Vec<IpNet>,
}

/// IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`, translated
/// `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002:aabb:ccdd::/48`) are judged by that
/// IPv4 address: they reach it. (IPv4-compatible `::a.b.c.d` is refused whatever it holds, and
/// the local-use NAT64 prefix `64:ff9b:1::/48`, whose IPv4 part sits where the local
/// translator decides, as a whole.)
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    let last_32 = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return Some(last_32);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(last_32);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

impl Guard {
    pub fn new(allow: Vec<IpNet>) -> Guard {
        Guard { allow }
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|net| net.contains(&ip))
    }

    /// Whether a request may connect to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Blocked> {
        if self.allowed(ip) {
            return Ok(());
        }
        if let IpAddr::V6(v6) = ip {
            if let Some(v4) = embedded_v4(v6) {
                return self.check(IpAddr::V4(v4)).map_err(|b| Blocked { ip, ..b });
            }
        }
        match RANGES.iter().find(|(net, _)| net.contains(&ip)) {
            Some((_, why)) => Err(Blocked { ip, why }),
            None => Ok(()),
        }
    }

    /// Keeps the addresses that may be connected to; refuses when none is left.
    pub fn filter(
        &self,
        addrs: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Blocked> {
        let mut ok = Vec::new();
        let mut first_refusal = None;
        for a in addrs {
            match self.check(a.ip()) {
                Ok(()) => ok.push(a),
                Err(b) => {
                    first_refusal.get_or_insert(b);
                }
            }
        }
        match (ok.is_empty(), first_refusal) {
            (true, Some(b)) => Err(b),
            _ => Ok(ok),
        }
    }

    /// Checks a URL whose host is an address literal: reqwest connects to those without
    /// asking the resolver, so they are checked here, before the request.
    pub fn check_literal(&self, url: &reqwest::Url) -> Result<(), Blocked> {
        let host = url.host_str().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        match literal.parse::<IpAddr>() {
            Ok(ip) => self.check(ip),
            Err(_) => Ok(()),
        }
    }

    /// Whether a URL is refused for good, whatever its name resolves to when it is used: an
    /// address literal the guard refuses, or a `localhost` name (RFC 6761: always loopback)
    /// while loopback is not allowed. Other names are checked at every connection.
    pub fn check_saved(&self, url: &reqwest::Url) -> Result<(), Blocked> {
        self.check_literal(url)?;
        let host = url.host_str().unwrap_or_default().trim_end_matches('.');
        let lower = host.to_ascii_lowercase();
        if lower == "localhost" || lower.ends_with(".localhost") {
            let loopback = [
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ];
            let refusals: Vec<Blocked> = loopback
                .into_iter()
                .filter_map(|ip| self.check(ip).err())
                .collect();
            if refusals.len() == loopback.len() {
                return Err(refusals[0].clone());
            }
        }
        Ok(())
    }
}

/// reqwest's resolver, filtered by the guard: the connection can only go to an address that
/// was checked, whatever the name resolves to next time.
pub struct GuardedResolver(pub Arc<Guard>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            // The port is set by the connector; 0 only satisfies the lookup.
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let ok = guard.filter(found)?;
            if ok.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(ok.into_iter());
            Ok(addrs)
        })
    }
}

/// The guard's refusal, if that is why a request failed (it sits deep in reqwest's chain).
pub fn blocked_in(e: &(dyn std::error::Error + 'static)) -> Option<Blocked> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(b) = err.downcast_ref::<Blocked>() {
            return Some(b.clone());
        }
        cur = err.source();
    }
    None
}

/// Parses an operator's range: a CIDR (`192.168.1.0/24`) or a single address.
pub fn parse_allow(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("--webhook-allow: {s:?} is not a CIDR range such as 192.168.1.0/24"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// One address in every blocked range, with the name its refusal must give.
    const BLOCKED_SAMPLES: &[(&str, &str)] = &[
        ("0.0.0.0", "unspecified"),
        ("10.1.2.3", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("169.254.169.254", "link-local"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.0.0.8", "IETF"),
        ("192.0.2.1", "documentation"),
        ("192.88.99.1", "6to4"),
        ("192.168.1.10", "private"),
        ("198.18.0.1", "benchmarking"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("::127.0.0.1", "IPv4-compatible"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::7f00:1", "loopback"),
        ("::ffff:0:7f00:1", "loopback"),
        ("::ffff:0:a00:1", "private"),
        ("64:ff9b:1::7f00:1", "local-use NAT64"),
        ("64:ff9b:1:ffff::808:808", "local-use NAT64"),
        ("2002:c0a8:0101::1", "private"),
        ("100::1", "discard"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
    ];

    #[test]
    fn every_non_routable_range_is_refused() {
        let g = Guard::default();
        for (addr, why) in BLOCKED_SAMPLES {
            let err = g.check(ip(addr)).expect_err(addr);
            assert!(err.why.contains(why), "{addr}: {}", err.why);
            assert_eq!(err.ip, ip(addr));
        }
    }

    /// Issue 8: `[::ffff:0:7f00:1]` (IPv4-translated 127.0.0.1) passed the guard, and so did
    /// the local-use NAT64 prefix.
    #[test]
    fn ipv6_forms_of_an_ipv4_address_are_judged_by_it_in_urls_too() {
        let g = Guard::default();
        for url in [
            "http://[::ffff:0:7f00:1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]:8080/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/latest",
            "http://[64:ff9b:1::a00:1]/",
        ] {
            let u = reqwest::Url::parse(url).unwrap();
            assert!(g.check_literal(&u).is_err(), "{url}");
        }
        assert_eq!(g.check(ip("64:ff9b::808:808")), Ok(()));
        assert_eq!(g.check(ip("::ffff:0:808:808")), Ok(()));
    }

    /// Issue 8: the delivery log told a token holder what an internal name resolves to.
    #[test]
    fn a_refusal_names_no_address_but_its_detail_does() {
        let b = Guard::default().check(ip("10.0.3.7")).unwrap_err();
        assert_eq!(b.to_string(), "refused: not a public address");
        assert!(b.detail().contains("10.0.3.7") && b.detail().contains("private"));
    }

    #[test]
    fn localhost_names_are_refused_at_save_time_unless_loopback_is_allowed() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let g = Guard::default();
        for u in [
            "http://localhost:8080/",
            "http://LOCALHOST./",
            "http://crm.localhost/",
        ] {
            assert!(g.check_saved(&url(u)).is_err(), "{u}");
        }
        assert_eq!(g.check_saved(&url("https://crm.example/")), Ok(()));
        let open = Guard::new(vec![parse_allow("127.0.0.1").unwrap()]);
        assert_eq!(open.check_saved(&url("http://localhost:8080/")), Ok(()));
    }

    #[test]
    fn public_addresses_pass() {
        let g = Guard::default();
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "51.91.0.1",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2a01:4f8::1",
        ] {
            assert_eq!(g.check(ip(addr)), Ok(()), "{addr}");
        }
    }

    #[test]
    fn an_allowed_range_opens_exactly_that_range() {
        let g = Guard::new(vec![
            parse_allow("192.168.1.0/24").unwrap(),
            parse_allow("127.0.0.1").unwrap(),
        ]);
        assert_eq!(g.check(ip("192.168.1.20")), Ok(()));
        assert_eq!(g.check(ip("::ffff:192.168.1.20")), Ok(()));
        assert!(g.check(ip("192.168.2.20")).is_err());
        assert_eq!(g.check(ip("127.0.0.1")), Ok(()));
        assert!(g.check(ip("127.0.0.2")).is_err());
    }

    #[test]
    fn bad_ranges_are_one_line_errors() {
        for bad in ["192.168.1.0/33", "localhost", "", "10.0.0.0/8/8"] {
            let e = parse_allow(bad).unwrap_err();
            assert!(e.starts_with("--webhook-allow") && !e.contains('\n'), "{e}");
        }
        assert_eq!(
            parse_allow(" 10.1.2.3/8 ").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(parse_allow("fd00::/8").unwrap().to_string(), "fd00::/8");
    }

    #[test]
    fn filtering_keeps_only_checked_addresses() {
        let g = Guard::default();
        let addrs: Vec<SocketAddr> = vec![
            "127.0.0.1:80".parse().unwrap(),
            "8.8.8.8:80".parse().unwrap(),
        ];
        assert_eq!(
            g.filter(addrs).unwrap(),
            vec!["8.8.8.8:80".parse().unwrap()]
        );
        let only_local: Vec<SocketAddr> = vec!["10.0.0.1:80".parse().unwrap()];
        assert_eq!(g.filter(only_local).unwrap_err().why, "private");
    }
}

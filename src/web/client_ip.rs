//! Who the client is, by address: the connection's peer — or, when that peer is a reverse
//! proxy the operator trusts (`--trusted-proxy`), the address the proxies say they forwarded
//! for. The login's rate limit and its caps on checks count per client address, so behind a
//! proxy without this every user would share the proxy's address (and its limits).
//!
//! The address is the *rightmost untrusted* one of the `X-Forwarded-For` list (or of the
//! `for=` parameters of `Forwarded`): a client can write whatever it likes at the left of
//! those lists, but each trusted proxy appends the address it received the request from, so
//! the first address from the right that is not a trusted proxy is the one that connected to
//! them. Headers from a peer that is not trusted are ignored. A request carrying both headers
//! whose answers disagree — a client forging the one its proxy does not write — is counted as
//! the proxy itself, where forging gains nothing. An entry that is not an address (`unknown`,
//! an obfuscated name) stops the walk at the proxy too.

use super::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The client's address, as the rate limits count it.
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ClientAddr, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(ClientAddr(client_ip(
            peer,
            &parts.headers,
            &state.login.trusted_proxies,
        )))
    }
}

fn trusted(ip: IpAddr, ranges: &[IpNet]) -> bool {
    ranges.iter().any(|n| n.contains(&ip))
}

/// The client's address for a request that came from `peer`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, ranges: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted(peer, ranges) {
        return peer;
    }
    let from = |chain: Vec<Option<IpAddr>>| rightmost_untrusted(&chain, ranges, peer);
    match (x_forwarded_for(headers), forwarded(headers)) {
        (Some(x), None) => from(x),
        (None, Some(f)) => from(f),
        (Some(x), Some(f)) => {
            let (a, b) = (from(x), from(f));
            if a == b {
                a
            } else {
                peer
            }
        }
        (None, None) => peer,
    }
}

fn rightmost_untrusted(chain: &[Option<IpAddr>], ranges: &[IpNet], peer: IpAddr) -> IpAddr {
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) if trusted(*ip, ranges) => continue,
            Some(ip) => return *ip,
            None => return peer,
        }
    }
    // Every hop is a trusted proxy: the first one is as far as anyone can tell.
    chain.first().copied().flatten().unwrap_or(peer)
}

/// The comma-separated items of every occurrence of a header, in order; `None` when absent.
fn items(headers: &HeaderMap, name: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for v in headers.get_all(name) {
        let v = v.to_str().unwrap_or("unreadable");
        out.extend(v.split(',').map(|s| s.trim().to_string()));
    }
    out.retain(|s| !s.is_empty());
    (!out.is_empty()).then_some(out)
}

fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    Some(
        items(headers, "x-forwarded-for")?
            .iter()
            .map(|s| address(s))
            .collect(),
    )
}

/// The `for=` of each element of `Forwarded` (RFC 7239).
fn forwarded(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let chain: Vec<Option<IpAddr>> = items(headers, "forwarded")?
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| address(v.trim().trim_matches('"')))
            })
        })
        .collect();
    (!chain.is_empty()).then_some(chain)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn address(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            s.strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<IpAddr>()
                .ok()
        })
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_peer() {
        let ranges = [crate::config::parse_trusted_proxy("10.0.0.0/8").unwrap()];
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &ranges),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &ranges), ip("203.0.113.7"));
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &[]), ip("10.0.0.2"));
    }

    #[test]
    fn the_rightmost_untrusted_address_is_the_client() {
        let ranges = [
            crate::config::parse_trusted_proxy("10.0.0.0/8").unwrap(),
            crate::config::parse_trusted_proxy("192.168.1.5").unwrap(),
        ];
        // The client forged the first entry; two trusted proxies appended theirs.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.7"),
            ("x-forwarded-for", "192.168.1.5"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &ranges), ip("203.0.113.7"));
        let h = headers(&[(
            "forwarded",
            "for=1.2.3.4, for=\"[2001:db8::17]:4711\";proto=https, for=10.1.1.1",
        )]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &ranges), ip("2001:db8::17"));
        let h = headers(&[("x-forwarded-for", "203.0.113.7:5555, unknown")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &ranges),
            ip("10.0.0.2"),
            "not an address where one is expected: the proxy"
        );
        let h = headers(&[("x-forwarded-for", "10.9.9.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &ranges), ip("10.9.9.9"));
    }

    #[test]
    fn a_forged_second_header_gains_nothing() {
        let ranges = [crate::config::parse_trusted_proxy("127.0.0.1").unwrap()];
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("forwarded", "for=198.51.100.99"),
        ]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &ranges), ip("127.0.0.1"));
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("forwarded", "for=203.0.113.7"),
        ]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &ranges), ip("203.0.113.7"));
        // An IPv4 peer seen through an IPv6 socket is the same peer.
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), &headers(&[]), &ranges),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_bad_range_names_the_flag() {
        let err = crate::config::parse_trusted_proxy("10.0.0.0/99").unwrap_err();
        assert!(err.starts_with("--trusted-proxy"), "{err}");
    }
}

//! The client's address: the TCP peer, unless the peer is a trusted proxy
//! (`rate_limit.trusted_proxies`); then the rightmost address of
//! `Forwarded` (RFC 7239) or, without it, `X-Forwarded-For` that is not
//! itself trusted. Every per-IP limit and every audit `source` uses it.
//! A header from an untrusted peer is ignored: anyone can write one.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;
use ipnet::IpNet;

static FORWARDED: HeaderName = HeaderName::from_static("forwarded");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Which peers may name the client.
#[derive(Debug, Clone, Default)]
pub struct ClientIp {
    trusted: Vec<IpNet>,
}

impl ClientIp {
    pub fn new(trusted: Vec<IpNet>) -> Self {
        ClientIp { trusted }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for `req` (unspecified when there is no peer,
    /// which only happens in unit tests).
    pub fn of(&self, req: &HttpRequest) -> IpAddr {
        let peer = req
            .peer_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.ip());
        if !self.is_trusted(peer) {
            return peer;
        }
        let chain = forwarded_chain(req);
        // Right to left: each trusted hop vouches for the one before it.
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) => {
                    client = *ip;
                    if !self.is_trusted(*ip) {
                        break;
                    }
                }
                // An obfuscated or unknown hop: nothing left to believe.
                None => break,
            }
        }
        client
    }
}

/// The hops the proxies recorded, left (client) to right (nearest): from
/// every `Forwarded` header's `for=`, else every `X-Forwarded-For`. An entry
/// that is not an address (`unknown`, `_hidden`) is `None`.
fn forwarded_chain(req: &HttpRequest) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<Option<IpAddr>> = req
        .headers()
        .get_all(&FORWARDED)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| parse_node(v))
            })
        })
        .map(Option::flatten)
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    req.headers()
        .get_all(&X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(parse_node)
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:80`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse().ok())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn from(peer: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(format!("{peer}:5000").parse().unwrap());
        for (k, v) in headers {
            req = req.append_header((*k, *v));
        }
        req.to_http_request()
    }

    #[test]
    fn the_rightmost_untrusted_hop_wins() {
        let ips = ClientIp::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let xff = [("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.7")];
        assert_eq!(ips.of(&from("10.0.0.1", &xff)), ip("1.2.3.4"));
        // The same header from an untrusted peer changes nothing.
        assert_eq!(ips.of(&from("8.8.8.8", &xff)), ip("8.8.8.8"));
        let fwd = [(
            "forwarded",
            r#"for=6.6.6.6;proto=https, for="[2001:db8::1]:4711", for=10.1.1.1"#,
        )];
        assert_eq!(ips.of(&from("10.0.0.1", &fwd)), ip("2001:db8::1"));
        // Forwarded wins over X-Forwarded-For; an unknown hop stops the walk.
        let both = [("forwarded", "for=unknown"), ("x-forwarded-for", "1.2.3.4")];
        assert_eq!(ips.of(&from("10.0.0.1", &both)), ip("10.0.0.1"));
        // No header: the proxy itself.
        assert_eq!(ips.of(&from("10.0.0.1", &[])), ip("10.0.0.1"));
        // Nothing trusted: always the peer.
        assert_eq!(
            ClientIp::default().of(&from("10.0.0.1", &xff)),
            ip("10.0.0.1")
        );
    }
}

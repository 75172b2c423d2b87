//! The board in the cluster, behind an identity-aware proxy (`board --proxy-auth`): who
//! the person is comes from the proxy's headers, trusted only when the request comes
//! from the proxy's own address; every API call then impersonates that person. Pure:
//! which peers are trusted and what the headers say.

use std::net::IpAddr;

use axum::http::HeaderMap;

use super::views::Me;

/// An address range, `10.0.0.0/8` or `fd00::/8` (a bare address is one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an address range such as 10.0.0.0/8"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?
        };
        Ok(Cidr { network, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = |ip: IpAddr| -> (u128, u32) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ((net, width), (addr, addr_width)) = (bits(self.network), bits(ip));
        if width != addr_width {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        shift >= width || (net >> shift) == (addr >> shift)
    }
}

/// How the proxy says who the person is, and which peers are the proxy.
#[derive(Debug, Clone)]
pub struct ProxyAuth {
    pub user_header: String,
    pub groups_header: String,
    pub trusted: Vec<Cidr>,
}

/// Why a request through the proxy was refused (401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotIdentified {
    /// The request did not come from a trusted proxy address.
    UntrustedPeer(IpAddr),
    /// The proxy sent no user.
    NoUser,
    /// The server could not tell where the request came from.
    UnknownPeer,
    /// The proxy named a Kubernetes system identity (`system:…`), which no person is.
    SystemUser(String),
}

impl std::fmt::Display for NotIdentified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotIdentified::UntrustedPeer(ip) => write!(
                f,
                "refused: {ip} is not the identity-aware proxy (--trust-proxy); \
                 identity headers are believed only from the proxy"
            ),
            NotIdentified::NoUser => {
                f.write_str("refused: the proxy did not say who you are (no user header)")
            }
            NotIdentified::SystemUser(user) => write!(
                f,
                "refused: {user:?} is a Kubernetes system identity; the board acts only for people"
            ),
            NotIdentified::UnknownPeer => {
                f.write_str("refused: where this request came from is unknown")
            }
        }
    }
}

impl ProxyAuth {
    /// The person a request is from: the proxy's headers, believed only when `peer` is
    /// a trusted proxy address. Groups are comma-separated, or repeated headers; a
    /// `system:` user is refused and `system:` groups are dropped, so a proxy (or an
    /// IdP group named so) can never make the board impersonate the cluster's own
    /// identities.
    pub fn identify(&self, peer: IpAddr, headers: &HeaderMap) -> Result<Me, NotIdentified> {
        if !self.trusted.iter().any(|c| c.contains(peer)) {
            return Err(NotIdentified::UntrustedPeer(peer));
        }
        let user = headers
            .get(self.user_header.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or(NotIdentified::NoUser)?;
        if user.starts_with("system:") {
            return Err(NotIdentified::SystemUser(user.to_string()));
        }
        let mut groups: Vec<String> = headers
            .get_all(self.groups_header.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            // `system:` groups are the API server's to give (system:masters is
            // cluster-admin); impersonation adds system:authenticated by itself.
            .filter(|g| !g.is_empty() && !g.starts_with("system:"))
            .map(str::to_string)
            .collect();
        groups.dedup();
        Ok(Me {
            user: user.to_string(),
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn auth(trusted: &[&str]) -> ProxyAuth {
        ProxyAuth {
            user_header: "x-forwarded-user".into(),
            groups_header: "x-forwarded-groups".into(),
            trusted: trusted.iter().map(|c| c.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn ranges_hold_what_they_say() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.0.9".parse().unwrap()), "mapped v4");
        let host: Cidr = "127.0.0.1".parse().unwrap();
        assert!(host.contains("127.0.0.1".parse().unwrap()));
        assert!(!host.contains("127.0.0.2".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(
            !all.contains("fd00::1".parse().unwrap()),
            "v6 is not in a v4 range"
        );
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "fd00::/129", "board", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_count_only_from_the_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-user", HeaderValue::from_static("alice"));
        headers.append(
            "x-forwarded-groups",
            HeaderValue::from_static("data-eng, readers"),
        );
        headers.append(
            "x-forwarded-groups",
            HeaderValue::from_static("oncall,system:masters"),
        );
        let a = auth(&["10.0.0.0/8"]);
        assert_eq!(
            a.identify("10.3.2.1".parse().unwrap(), &headers),
            Ok(Me {
                user: "alice".into(),
                groups: vec!["data-eng".into(), "readers".into(), "oncall".into()]
            })
        );
        assert_eq!(
            a.identify("192.168.1.5".parse().unwrap(), &headers),
            Err(NotIdentified::UntrustedPeer("192.168.1.5".parse().unwrap()))
        );
        let mut system = HeaderMap::new();
        system.insert(
            "x-forwarded-user",
            HeaderValue::from_static("system:kube-controller-manager"),
        );
        assert!(matches!(
            a.identify("10.0.0.1".parse().unwrap(), &system),
            Err(NotIdentified::SystemUser(_))
        ));
        let mut anonymous = HeaderMap::new();
        anonymous.insert("x-forwarded-user", HeaderValue::from_static("  "));
        assert_eq!(
            a.identify("10.0.0.1".parse().unwrap(), &anonymous),
            Err(NotIdentified::NoUser)
        );
    }
}

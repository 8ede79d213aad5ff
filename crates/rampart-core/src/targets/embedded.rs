//! IPv4 reached through IPv6: the IPv6 spellings that deliver to an IPv4 address (mapped,
//! compatible, NAT64, 6to4 and Teredo). Every scope decision unwraps them first, so that a denied
//! or unauthorised IPv4 address cannot be reached by writing it as IPv6.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// One IPv6 range that carries an IPv4 address.
#[derive(Clone, Copy)]
struct Embedding {
    /// The IPv6 range.
    prefix: u128,
    prefix_len: u8,
    /// Where the IPv4 address sits: it ends this many bits before the end of the IPv6 address.
    shift: u8,
    /// Teredo stores the client's address with every bit flipped.
    inverted: bool,
}

const EMBEDDINGS: [Embedding; 5] = [
    // ::ffff:a.b.c.d, IPv4-mapped.
    Embedding { prefix: 0xffff_0000_0000, prefix_len: 96, shift: 0, inverted: false },
    // ::a.b.c.d, IPv4-compatible (deprecated, still routed by some stacks); `::` and `::1` aside.
    Embedding { prefix: 0, prefix_len: 96, shift: 0, inverted: false },
    // 64:ff9b::a.b.c.d, the NAT64 well-known prefix.
    Embedding { prefix: 0x0064_ff9b << 96, prefix_len: 96, shift: 0, inverted: false },
    // 2002:AABB:CCDD::/48, 6to4.
    Embedding { prefix: 0x2002 << 112, prefix_len: 16, shift: 80, inverted: false },
    // 2001:0000:server:flags:port:client, Teredo, the client's address obfuscated.
    Embedding { prefix: 0x2001_0000 << 96, prefix_len: 32, shift: 0, inverted: true },
];

impl Embedding {
    fn mask(len: u8) -> u128 {
        if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) }
    }

    /// The first bit of the IPv4 field.
    fn v4_start(&self) -> u8 {
        128 - self.shift - 32
    }

    fn contains(&self, bits: u128) -> bool {
        bits & Self::mask(self.prefix_len) == self.prefix
    }

    fn ipv4(&self, bits: u128) -> Ipv4Addr {
        let raw = (bits >> self.shift) as u32;
        Ipv4Addr::from(if self.inverted { !raw } else { raw })
    }

    /// The IPv4 networks reachable through the part of `net` inside this range, if any.
    fn image(&self, net: Ipv6Net) -> Option<Ipv4Net> {
        let bits = u128::from(net.network());
        let len = net.prefix_len();
        if len <= self.prefix_len {
            // `net` holds the whole range (or misses it).
            return (bits & Self::mask(len) == self.prefix & Self::mask(len))
                .then(|| Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).expect("a /0 is valid"));
        }
        if !self.contains(bits) {
            return None;
        }
        // The bits of the IPv4 field that `net` fixes; the others take every value (Teredo's
        // flipped bits too, so the image is still one network).
        let v4_start = self.v4_start();
        let fixed = len.min(v4_start + 32).saturating_sub(v4_start);
        let net = Ipv4Net::new(self.ipv4(bits), fixed).expect("at most 32 bits").trunc();
        Some(net)
    }
}

/// The IPv4 address an IPv6 address delivers to, if it carries one. `::` and `::1` are IPv6's
/// own unspecified and loopback addresses, not IPv4-compatible ones.
pub fn embedded_ipv4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(address);
    if bits <= 1 {
        return None;
    }
    EMBEDDINGS.iter().find(|embedding| embedding.contains(bits)).map(|embedding| embedding.ipv4(bits))
}

/// The address as scope sees it: IPv4 when it is IPv4 in an IPv6 spelling.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => embedded_ipv4(v6).map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// Every IPv4 network a network reaches, by itself or through an IPv6 spelling: a network of
/// IPv4 is itself; an IPv6 network is itself and the IPv4 networks of every embedding it
/// overlaps (`2000::/3` holds all of 6to4, so all of IPv4).
pub fn reachable(net: IpNet) -> Vec<IpNet> {
    match net {
        IpNet::V4(_) => vec![net],
        // `::` and `::1` are IPv6's own.
        IpNet::V6(v6) if v6.prefix_len() >= 127 && u128::from(v6.network()) <= 1 => vec![net],
        IpNet::V6(v6) => {
            let mut found = vec![net];
            for embedding in &EMBEDDINGS {
                if let Some(image) = embedding.image(v6) {
                    found.push(IpNet::V4(image));
                }
            }
            found
        }
    }
}

/// The network as scope sees it: an IPv6 network that lies within one embedding is the IPv4
/// network it spells.
pub fn canonical_net(net: IpNet) -> IpNet {
    let IpNet::V6(v6) = net else { return net };
    let bits = u128::from(v6.network());
    if v6.prefix_len() >= 127 && bits <= 1 {
        return net;
    }
    EMBEDDINGS
        .iter()
        .find(|embedding| embedding.contains(bits) && v6.prefix_len() >= embedding.v4_start())
        .and_then(|embedding| embedding.image(v6))
        .map_or(net, IpNet::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(text: &str) -> Ipv6Addr {
        text.parse().expect("IPv6")
    }

    fn v4(text: &str) -> Ipv4Addr {
        text.parse().expect("IPv4")
    }

    #[test]
    fn every_ipv6_spelling_of_an_ipv4_address_is_unwrapped() {
        let loopback = v4("127.0.0.1");
        for spelling in [
            "::ffff:127.0.0.1",
            "::ffff:7f00:1",
            "::127.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2002:7f00:1:ffff::1234",
            // Teredo: server 65.54.227.120, client 127.0.0.1 stored as its complement.
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
        ] {
            assert_eq!(embedded_ipv4(v6(spelling)), Some(loopback), "{spelling}");
            assert_eq!(canonical(IpAddr::V6(v6(spelling))), IpAddr::V4(loopback), "{spelling}");
        }
        assert_eq!(embedded_ipv4(v6("64:ff9b::a9fe:a9fe")), Some(v4("169.254.169.254")));
        assert_eq!(embedded_ipv4(v6("2001:0:4136:e378::f6ff:fffe")), Some(v4("9.0.0.1")));
    }

    #[test]
    fn plain_ipv6_stays_ipv6() {
        for plain in ["::", "::1", "2001:db8::1", "fd00::2", "fe80::1", "2003::1", "64:ff9b:1::1"] {
            assert_eq!(embedded_ipv4(v6(plain)), None, "{plain}");
            assert_eq!(canonical(IpAddr::V6(v6(plain))), IpAddr::V6(v6(plain)), "{plain}");
        }
        assert_eq!(canonical(IpAddr::V4(v4("10.0.0.1"))), IpAddr::V4(v4("10.0.0.1")));
    }

    fn nets(found: Vec<IpNet>) -> Vec<String> {
        found.into_iter().map(|net| net.to_string()).collect()
    }

    #[test]
    fn an_ipv6_network_reaches_the_ipv4_it_spells() {
        let reach = |text: &str| nets(reachable(text.parse().expect("network")));
        assert_eq!(reach("10.0.0.0/8"), ["10.0.0.0/8"]);
        assert_eq!(reach("2001:db8::/32"), ["2001:db8::/32"]);
        assert_eq!(reach("64:ff9b::a00:0/104"), ["64:ff9b::a00:0/104", "10.0.0.0/8"]);
        assert_eq!(reach("2002:a00::/24"), ["2002:a00::/24", "10.0.0.0/8"]);
        assert_eq!(reach("2002:a00:1::/48"), ["2002:a00:1::/48", "10.0.0.1/32"]);
        assert_eq!(reach("2002:a00:1:5::/64"), ["2002:a00:1:5::/64", "10.0.0.1/32"]);
        assert_eq!(reach("2001:0:1:2::/64"), ["2001:0:1:2::/64", "0.0.0.0/0"], "Teredo, any client");
        assert_eq!(reach("2001:0:1:2:0:0:f500:0/104"), ["2001:0:1:2::f500:0/104", "10.0.0.0/8"]);
        // A network holding whole embeddings reaches all of IPv4.
        assert!(reach("2000::/3").contains(&"0.0.0.0/0".to_owned()));
        assert!(reach("::/0").contains(&"0.0.0.0/0".to_owned()));
    }

    #[test]
    fn a_network_inside_one_embedding_is_its_ipv4_network() {
        let canon = |text: &str| canonical_net(text.parse().expect("network")).to_string();
        assert_eq!(canon("::ffff:10.0.0.0/104"), "10.0.0.0/8");
        assert_eq!(canon("64:ff9b::a9fe:0/112"), "169.254.0.0/16");
        assert_eq!(canon("2002:a00::/24"), "10.0.0.0/8", "6to4 of a whole IPv4 network");
        assert_eq!(canon("2001:0:1:2::/64"), "2001:0:1:2::/64", "Teredo with any client: stays");
        assert_eq!(canon("2002:a00:1::/48"), "10.0.0.1/32");
        assert_eq!(canon("2001:db8::/32"), "2001:db8::/32");
        assert_eq!(canon("::/0"), "::/0");
    }
}

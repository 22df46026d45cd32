//! Which addresses a webhook may be sent to (the SSRF guard's rule).
//!
//! A webhook URL is chosen by a customer, so without a guard the server
//! would fetch whatever it is pointed at: the cloud metadata service
//! (credentials), the VPC, or services on this machine. The guard refuses
//! every address that is not public; the developer setup (local mode) lets
//! loopback through so a receiver on 127.0.0.1 can be tested. The rule is
//! applied to literal addresses in the URL when an endpoint is saved, and
//! to every RESOLVED address when a delivery connects (a public name can
//! resolve to a private address, or change what it resolves to).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an IP is, as the guard sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Routable on the internet.
    Public,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918, shared address space (100.64/10), IPv6 unique local.
    Private,
    /// 169.254/16, fe80::/10 (metadata excepted).
    LinkLocal,
    /// The cloud instance metadata service (169.254.169.254, fd00:ec2::254).
    Metadata,
    /// Unspecified, multicast, broadcast, documentation, benchmarking and
    /// other reserved ranges: nothing a webhook may reach.
    Reserved,
}

/// Where deliveries may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetPolicy {
    /// Production: public addresses only.
    PublicOnly,
    /// Local (developer) mode: public addresses and loopback.
    AllowLoopback,
}

impl TargetPolicy {
    pub fn allows(self, ip: IpAddr) -> bool {
        match classify(ip) {
            AddressClass::Public => true,
            AddressClass::Loopback => self.allows_loopback(),
            _ => false,
        }
    }

    pub fn allows_loopback(self) -> bool {
        self == TargetPolicy::AllowLoopback
    }
}

pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(169, 254, 170, 2) {
        // EC2 and ECS/Lambda-container metadata endpoints.
        return AddressClass::Metadata;
    }
    match (a, b, c) {
        (127, _, _) => AddressClass::Loopback,
        (10, _, _) | (192, 168, _) => AddressClass::Private,
        (172, 16..=31, _) | (100, 64..=127, _) => AddressClass::Private,
        (169, 254, _) => AddressClass::LinkLocal,
        (0, _, _) | (224..=255, _, _) => AddressClass::Reserved,
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (198, 18..=19, _) => AddressClass::Reserved,
        _ => AddressClass::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    // An IPv4 address in IPv6 clothing is judged as the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 well-known prefix: reaches the embedded IPv4 address.
        let [_, _, _, _, _, _, high, low] = segments;
        return classify_v4(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)));
    }
    if segments[0] == 0x2002 {
        // 6to4: reaches the embedded IPv4 address.
        return classify_v4(Ipv4Addr::from((u32::from(segments[1]) << 16) | u32::from(segments[2])));
    }
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return AddressClass::Metadata;
    }
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    match segments[0] {
        _ if ip.is_unspecified() => AddressClass::Reserved,
        0xfc00..=0xfdff => AddressClass::Private,
        0xfe80..=0xfebf => AddressClass::LinkLocal,
        0xff00..=0xffff => AddressClass::Reserved,
        0x2001 if segments[1] == 0x0db8 => AddressClass::Reserved,
        // Global unicast is 2000::/3; the rest (IPv4-compatible, discard,
        // site-local...) is nothing to send to.
        0x2000..=0x3fff => AddressClass::Public,
        _ => AddressClass::Reserved,
    }
}

/// The address a URL host names literally, if it is one.
pub fn literal_ip(host: &url::Host<&str>) -> Option<IpAddr> {
    match host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(*v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(*v6)),
        url::Host::Domain(_) => None,
    }
}

/// `localhost` (and its subdomains, which resolvers send to loopback) or a
/// loopback literal.
pub fn host_is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        other => literal_ip(other).is_some_and(|ip| classify(ip) == AddressClass::Loopback),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> AddressClass {
        classify(text.parse().expect("address"))
    }

    #[test]
    fn the_addresses_an_attacker_would_aim_at_are_not_public() {
        assert_eq!(class("127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("127.8.9.10"), AddressClass::Loopback);
        assert_eq!(class("::1"), AddressClass::Loopback);
        assert_eq!(class("10.0.0.1"), AddressClass::Private);
        assert_eq!(class("10.255.255.255"), AddressClass::Private);
        assert_eq!(class("172.16.0.1"), AddressClass::Private);
        assert_eq!(class("172.31.255.1"), AddressClass::Private);
        assert_eq!(class("192.168.1.1"), AddressClass::Private);
        assert_eq!(class("100.64.0.1"), AddressClass::Private);
        assert_eq!(class("fd12:3456::1"), AddressClass::Private);
        assert_eq!(class("169.254.169.254"), AddressClass::Metadata);
        assert_eq!(class("fd00:ec2::254"), AddressClass::Metadata);
        assert_eq!(class("169.254.1.1"), AddressClass::LinkLocal);
        assert_eq!(class("fe80::1"), AddressClass::LinkLocal);
        assert_eq!(class("0.0.0.0"), AddressClass::Reserved);
        assert_eq!(class("::"), AddressClass::Reserved);
        assert_eq!(class("224.0.0.1"), AddressClass::Reserved);
        assert_eq!(class("255.255.255.255"), AddressClass::Reserved);
        assert_eq!(class("ff02::1"), AddressClass::Reserved);
    }

    #[test]
    fn ipv4_inside_ipv6_is_judged_as_ipv4() {
        assert_eq!(class("::ffff:127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("::ffff:10.1.2.3"), AddressClass::Private);
        assert_eq!(class("::ffff:169.254.169.254"), AddressClass::Metadata);
        assert_eq!(class("64:ff9b::a9fe:a9fe"), AddressClass::Metadata);
        assert_eq!(class("2002:0a00:0001::1"), AddressClass::Private);
        assert_eq!(class("::ffff:93.184.216.34"), AddressClass::Public);
    }

    #[test]
    fn public_addresses_pass_and_neighbours_of_private_ranges_are_public() {
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "172.15.255.255",
            "100.128.0.1",
            "11.0.0.1",
            "2606:4700::1111",
        ] {
            assert_eq!(class(public), AddressClass::Public, "{public}");
        }
    }

    #[test]
    fn production_refuses_everything_not_public_and_local_mode_adds_only_loopback() {
        let ip = |text: &str| text.parse::<IpAddr>().expect("address");
        for refused in ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1", "192.168.0.1"] {
            assert!(!TargetPolicy::PublicOnly.allows(ip(refused)), "{refused}");
        }
        assert!(TargetPolicy::PublicOnly.allows(ip("93.184.216.34")));
        assert!(TargetPolicy::AllowLoopback.allows(ip("127.0.0.1")));
        assert!(TargetPolicy::AllowLoopback.allows(ip("::1")));
        for refused in ["10.0.0.5", "169.254.169.254", "fd00::1"] {
            assert!(!TargetPolicy::AllowLoopback.allows(ip(refused)), "{refused}");
        }
    }
}

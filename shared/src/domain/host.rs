//! Host names that stay on this machine: what the developer outbox, the run
//! mode and plain SMTP relays are allowed to trust.

use std::net::IpAddr;

/// `localhost`, an address in 127.0.0.0/8, or `::1` (bracketed or not).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host of an HTTP `Host` header value (`name`, `name:port`,
/// `[v6]:port`), or `None` when it is malformed.
pub fn host_of_authority(authority: &str) -> Option<&str> {
    let authority = authority.trim();
    if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']')?;
        let after = &rest[end + 1..];
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok())) {
            return None;
        }
        return Some(&authority[..end + 2]);
    }
    match authority.split_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() && !host.is_empty() => Some(host),
        Some(_) => None,
        None if authority.is_empty() => None,
        None => Some(authority),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "127.8.9.10", "::1", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "localhost.evil.example",
            "10.0.0.1",
            "0.0.0.0",
            "[::]",
            "",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn hosts_of_host_headers() {
        assert_eq!(host_of_authority("127.0.0.1:3000"), Some("127.0.0.1"));
        assert_eq!(host_of_authority("localhost"), Some("localhost"));
        assert_eq!(host_of_authority("[::1]:3000"), Some("[::1]"));
        assert_eq!(host_of_authority("[::1]"), Some("[::1]"));
        assert_eq!(host_of_authority("evil.example:3000"), Some("evil.example"));
        assert_eq!(host_of_authority("a:b:c"), None);
        assert_eq!(host_of_authority("[::1]x"), None);
        assert_eq!(host_of_authority(""), None);
    }
}

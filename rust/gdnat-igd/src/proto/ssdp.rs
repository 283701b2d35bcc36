//! SSDP: the M-SEARCH request, the search targets, and parsing of answers.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

/// The SSDP port.
pub const SSDP_PORT: u16 = 1900;
/// The IPv4 SSDP multicast group.
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
/// The IPv6 site-local SSDP multicast group (FF05::C), searched first.
pub const MULTICAST_V6_SITE: Ipv6Addr = Ipv6Addr::new(0xff05, 0, 0, 0, 0, 0, 0, 0xc);
/// The IPv6 link-local SSDP multicast group (FF02::C), searched second.
pub const MULTICAST_V6_LINK: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xc);

/// The search targets sent together for an IGD-oriented search.
pub const IGD_SEARCH_TARGETS: [&str; 6] = [
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
    "upnp:rootdevice",
];

/// The search target for everything.
pub const SEARCH_ALL: &str = "ssdp:all";

/// Filter keywords that select the IGD-oriented search (engine rule, godot-upnp-spec §2.3).
const IGD_KEYWORDS: [&str; 4] = ["InternetGatewayDevice", "WANIPConnection", "WANPPPConnection", "rootdevice"];

/// The search targets for a device filter: the IGD list for an empty filter or one containing an
/// IGD keyword (case-sensitive), else `ssdp:all` alone.
pub fn search_targets(device_filter: &str) -> &'static [&'static str] {
    if device_filter.is_empty() || IGD_KEYWORDS.iter().any(|k| device_filter.contains(k)) {
        &IGD_SEARCH_TARGETS
    } else {
        std::slice::from_ref(&SEARCH_ALL)
    }
}

/// The MX value for a discovery timeout: whole seconds, clamped to 1..=5.
pub fn mx_for_timeout(timeout: Duration) -> u64 {
    timeout.as_secs().clamp(1, 5)
}

/// Where an M-SEARCH goes, and the HOST header it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchGroup {
    /// 239.255.255.250:1900.
    V4,
    /// [FF05::C]:1900.
    V6SiteLocal,
    /// [FF02::C]:1900.
    V6LinkLocal,
}

impl SearchGroup {
    /// The groups searched for one address family, in sending order.
    pub fn for_family(ipv6: bool) -> &'static [SearchGroup] {
        if ipv6 {
            &[SearchGroup::V6SiteLocal, SearchGroup::V6LinkLocal]
        } else {
            &[SearchGroup::V4]
        }
    }

    /// The value of the HOST header.
    pub fn host_header(self) -> &'static str {
        match self {
            Self::V4 => "239.255.255.250:1900",
            Self::V6SiteLocal => "[FF05::C]:1900",
            Self::V6LinkLocal => "[FF02::C]:1900",
        }
    }

    /// The multicast destination.
    pub fn socket_addr(self) -> SocketAddr {
        match self {
            Self::V4 => SocketAddr::V4(SocketAddrV4::new(MULTICAST_V4, SSDP_PORT)),
            Self::V6SiteLocal => SocketAddr::V6(SocketAddrV6::new(MULTICAST_V6_SITE, SSDP_PORT, 0, 0)),
            Self::V6LinkLocal => SocketAddr::V6(SocketAddrV6::new(MULTICAST_V6_LINK, SSDP_PORT, 0, 0)),
        }
    }
}

/// One M-SEARCH datagram, byte for byte as miniupnpc sends it (godot-upnp-spec §2.4 step C).
pub fn build_msearch(host_header: &str, search_target: &str, mx: u64) -> String {
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: {host_header}\r\nST: {search_target}\r\nMAN: \"ssdp:discover\"\r\nMX: {mx}\r\n\r\n"
    )
}

/// The headers of an SSDP answer that discovery uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsdpAnswer {
    /// LOCATION: the description URL.
    pub location: String,
    /// ST: the search target or type answered.
    pub st: String,
    /// USN, empty when absent.
    pub usn: String,
}

/// Parses an answer to an M-SEARCH.
///
/// The status line must be `HTTP/1.x 200`; NOTIFY and any other message is `None`. Header names
/// are matched case-insensitively, values start after the colon with leading spaces and tabs
/// skipped and end at CR or LF. Lines may end in CRLF, LF or a bare CR. Without LOCATION or ST:
/// `None`.
pub fn parse_answer(datagram: &[u8]) -> Option<SsdpAnswer> {
    let text = String::from_utf8_lossy(datagram);
    // A bare CR ends a line too, as in miniupnpc's parser: no value may carry a CR onwards.
    let mut lines = text.split(['\r', '\n']);
    let status = lines.next()?;
    let mut words = status.split_ascii_whitespace();
    let version = words.next()?;
    if !version.get(..5).is_some_and(|v| v.eq_ignore_ascii_case("HTTP/")) || words.next() != Some("200") {
        return None;
    }
    let (mut location, mut st, mut usn) = (None, None, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim_start_matches([' ', '\t']);
        let slot = match name.trim() {
            n if n.eq_ignore_ascii_case("LOCATION") => &mut location,
            n if n.eq_ignore_ascii_case("ST") => &mut st,
            n if n.eq_ignore_ascii_case("USN") => &mut usn,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value.to_string());
        }
    }
    let location = location.filter(|l| !l.trim().is_empty())?;
    let st = st.filter(|s| !s.trim().is_empty())?;
    Some(SsdpAnswer { location: location.trim_end().to_string(), st: st.trim_end().to_string(), usn: usn.unwrap_or_default().trim_end().to_string() })
}

/// Whether an answer's ST passes the device filter: empty keeps everything, else a
/// case-sensitive substring match.
pub fn passes_filter(st: &str, device_filter: &str) -> bool {
    device_filter.is_empty() || st.contains(device_filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER_IGD1: &[u8] = include_bytes!("../../../../tests/data/miniupnpd/ssdp/msearch-response-igd1.txt");
    const UPNPC_MSEARCH: &str = include_str!("../../../../tests/data/miniupnpd/ssdp/msearch-upnpc.txt");
    const ALL_ANSWERS: &str = include_str!("../../../../tests/data/miniupnpd/ssdp/msearch-ssdp-all.responses.txt");
    const NOTIFY: &[u8] = include_bytes!("../../../../tests/data/miniupnpd/ssdp/notify-alive.txt");

    #[test]
    fn msearch_matches_upnpc_byte_for_byte() {
        let built = build_msearch(SearchGroup::V4.host_header(), IGD_SEARCH_TARGETS[0], 2);
        assert_eq!(built, UPNPC_MSEARCH);
        assert!(built.ends_with("MX: 2\r\n\r\n"));
    }

    #[test]
    fn ipv6_host_headers_and_order() {
        let groups = SearchGroup::for_family(true);
        assert_eq!(groups[0].host_header(), "[FF05::C]:1900");
        assert_eq!(groups[1].host_header(), "[FF02::C]:1900");
        assert_eq!(groups[0].socket_addr().to_string(), "[ff05::c]:1900");
        assert_eq!(SearchGroup::V4.socket_addr().to_string(), "239.255.255.250:1900");
        assert!(build_msearch("[FF02::C]:1900", "ssdp:all", 1).starts_with("M-SEARCH * HTTP/1.1\r\nHOST: [FF02::C]:1900\r\nST: ssdp:all\r\n"));
    }

    #[test]
    fn mx_is_clamped() {
        assert_eq!(mx_for_timeout(Duration::from_millis(0)), 1);
        assert_eq!(mx_for_timeout(Duration::from_millis(999)), 1);
        assert_eq!(mx_for_timeout(Duration::from_millis(2000)), 2);
        assert_eq!(mx_for_timeout(Duration::from_millis(2999)), 2);
        assert_eq!(mx_for_timeout(Duration::from_secs(60)), 5);
    }

    #[test]
    fn targets_follow_the_engine_keywords() {
        assert_eq!(search_targets("").len(), 6);
        assert_eq!(search_targets("InternetGatewayDevice"), &IGD_SEARCH_TARGETS);
        assert_eq!(search_targets("WANPPPConnection:1"), &IGD_SEARCH_TARGETS);
        assert_eq!(search_targets("upnp:rootdevice"), &IGD_SEARCH_TARGETS);
        assert_eq!(search_targets("MediaRenderer"), &["ssdp:all"]);
        assert_eq!(search_targets("internetgatewaydevice"), &["ssdp:all"], "keywords are case-sensitive");
    }

    #[test]
    fn parses_the_real_answer() {
        let answer = parse_answer(ANSWER_IGD1).expect("answer");
        assert_eq!(answer.location, "http://10.77.0.1:5000/rootDesc.xml");
        assert_eq!(answer.st, "urn:schemas-upnp-org:device:InternetGatewayDevice:1");
        assert!(answer.usn.starts_with("uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b::"));
    }

    #[test]
    fn parses_every_ssdp_all_answer() {
        let answers: Vec<_> = ALL_ANSWERS
            .split("### ")
            .filter_map(|chunk| chunk.split_once('\n').map(|(_, rest)| rest))
            .filter_map(|rest| parse_answer(rest.as_bytes()))
            .collect();
        assert_eq!(answers.len(), 13);
        assert!(answers.iter().all(|a| a.location == "http://10.77.0.1:5000/rootDesc.xml"));
    }

    #[test]
    fn mixed_case_headers_lf_only_and_leading_spaces() {
        let text = b"HTTP/1.1 200 OK\nlocation:   http://192.168.1.1:5000/d.xml\nSt:\turn:x:1\nusn: uuid:1\n\n";
        let answer = parse_answer(text).expect("answer");
        assert_eq!(answer.location, "http://192.168.1.1:5000/d.xml");
        assert_eq!(answer.st, "urn:x:1");
        assert_eq!(answer.usn, "uuid:1");
    }

    #[test]
    fn missing_location_or_st_is_ignored() {
        assert_eq!(parse_answer(b"HTTP/1.1 200 OK\r\nST: urn:x\r\n\r\n"), None);
        assert_eq!(parse_answer(b"HTTP/1.1 200 OK\r\nLOCATION: http://1.2.3.4/\r\n\r\n"), None);
        assert_eq!(parse_answer(b"HTTP/1.1 200 OK\r\nLOCATION: \r\nST: x\r\n\r\n"), None);
    }

    #[test]
    fn notify_and_non_200_are_ignored() {
        let first = NOTIFY.split(|b| *b == b'#').next().unwrap_or_default();
        assert!(first.starts_with(b"NOTIFY"));
        assert_eq!(parse_answer(first), None);
        assert_eq!(parse_answer(b"HTTP/1.1 404 Not Found\r\nLOCATION: http://a/\r\nST: x\r\n\r\n"), None);
        assert_eq!(parse_answer(b"M-SEARCH * HTTP/1.1\r\nLOCATION: http://a/\r\nST: x\r\n\r\n"), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        assert_eq!(parse_answer(&junk), None);
        junk.splice(0..0, b"HTTP/1.1 200\r\n".iter().copied());
        let _ = parse_answer(&junk);
        assert_eq!(parse_answer(b""), None);
        assert_eq!(parse_answer(b"HTTP"), None);
        assert_eq!(parse_answer("HTTP/1.1 200 OK\r\nLOCATION: http://é/\r\nST: ü\r\n".as_bytes()).map(|a| a.st), Some("ü".into()));
    }

    /// Found by the `ssdp_answer` fuzz target: a bare CR inside a header line was kept in the
    /// value (`"upnp:rootdevice\r UPnP/1.1"`), so a value could carry a line break onwards.
    #[test]
    fn a_bare_cr_ends_the_value() {
        let answer = parse_answer(b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r UPnP/1.1 MiniUPnPd\r\nLOCATION: http://10.77.0.1:5000/a\rSERVER: x\r\n\r\n").unwrap();
        assert_eq!(answer.st, "upnp:rootdevice");
        assert_eq!(answer.location, "http://10.77.0.1:5000/a");
        let answer = parse_answer(b"HTTP/1.1 200 OK\rST: a\rLOCATION: http://h/\rUSN: u\r\r").unwrap();
        assert_eq!((answer.st.as_str(), answer.location.as_str(), answer.usn.as_str()), ("a", "http://h/", "u"));
    }

    #[test]
    fn filter_is_a_case_sensitive_substring() {
        assert!(passes_filter("urn:schemas-upnp-org:device:InternetGatewayDevice:1", "InternetGatewayDevice"));
        assert!(passes_filter("anything", ""));
        assert!(!passes_filter("urn:schemas-upnp-org:device:internetgatewaydevice:1", "InternetGatewayDevice"));
        assert!(!passes_filter("upnp:rootdevice", "InternetGatewayDevice"));
    }
}

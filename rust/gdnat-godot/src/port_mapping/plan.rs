//! The pure part of `NatPortMapping`: its result codes, the checks of its properties (a
//! [`Plan`] or a [`Refusal`] with a code and a message, before anything is sent), the
//! mapper's errors as result codes, the node's combined state over its one or two mappings
//! (protocol `BOTH` keeps a UDP and a TCP mapping), and the `double_nat` test. Plain data, no
//! Godot type, so it is unit-tested without an engine.

use std::net::IpAddr;

use gdnat_mapper::{ErrorKind, MapRequest, MapperError, Method, State};
use gdnat_pcp::Protocol;

/// Result codes of `NatPortMapping` (its `RESULT_*` constants, the `result` of `failed`).
pub mod code {
    /// Started (or nothing to report).
    pub const OK: i32 = 0;
    /// `port` is not in 1..=65535, or `internal_port` not in 0..=65535.
    pub const INVALID_PORT: i32 = 1;
    /// `protocol` is not `UDP`, `TCP` or `BOTH`.
    pub const INVALID_PROTOCOL: i32 = 2;
    /// `lease_seconds` is outside [`super::LEASE_MIN`]..=[`super::LEASE_MAX`].
    pub const INVALID_LEASE: i32 = 3;
    /// `allowed_protocols` allows none of PCP, NAT-PMP and UPnP.
    pub const NO_PROTOCOL_ALLOWED: i32 = 4;
    /// `gateway` is neither empty nor an IP address.
    pub const INVALID_GATEWAY: i32 = 5;
    /// No default gateway, or the gateway answered none of the allowed protocols.
    pub const NO_GATEWAY: i32 = 6;
    /// The gateway refused the mapping (its answer is in the message).
    pub const REFUSED: i32 = 7;
    /// The gateway stopped answering within the call bound.
    pub const NO_ANSWER: i32 = 8;
    /// A socket or HTTP failure on this host.
    pub const IO_ERROR: i32 = 9;
    /// The work was cancelled (the node stopped or left the tree).
    pub const CANCELLED: i32 = 10;
    /// `start()` was called while the node is not inside the scene tree.
    pub const NOT_IN_TREE: i32 = 11;
    /// `start()` was called while the node is already running (nothing changes).
    pub const ALREADY_STARTED: i32 = 12;
    /// Any other bad argument the mapper refused.
    pub const INVALID_ARGUMENT: i32 = 13;
}

/// The shortest lease the node asks for, in seconds.
pub const LEASE_MIN: i32 = 2;
/// The longest lease the node asks for, in seconds (a day; miniupnpd's default maximum).
pub const LEASE_MAX: i32 = 86_400;

/// `allowed_protocols` flag: PCP.
pub const ALLOW_PCP: i32 = 1;
/// `allowed_protocols` flag: NAT-PMP.
pub const ALLOW_NAT_PMP: i32 = 2;
/// `allowed_protocols` flag: UPnP IGD.
pub const ALLOW_UPNP: i32 = 4;
/// All three.
pub const ALLOW_ALL: i32 = ALLOW_PCP | ALLOW_NAT_PMP | ALLOW_UPNP;

/// Why the properties cannot be mapped: the result code and a message naming the property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// One of [`code`].
    pub code: i32,
    /// What is wrong, naming the property and its value.
    pub message: String,
}

impl Refusal {
    fn new(code: i32, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// The node's properties as they were when `start()` was called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `port`.
    pub port: i64,
    /// `internal_port` (0: the same as `port`).
    pub internal_port: i64,
    /// `protocol`.
    pub protocol: String,
    /// `description`.
    pub description: String,
    /// `lease_seconds`.
    pub lease_seconds: i64,
    /// `allowed_protocols` (flags).
    pub allowed_protocols: i64,
    /// `gateway` (empty: the default route's next hop).
    pub gateway: String,
}

/// What to run: one request per protocol, the protocols allowed in order of preference, and
/// the gateway (`None`: the default route's next hop, looked up on the worker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// One mapping per protocol (two for `BOTH`: UDP first).
    pub requests: Vec<MapRequest>,
    /// The methods allowed, PCP > NAT-PMP > UPnP.
    pub methods: Vec<Method>,
    /// The gateway given, if any.
    pub gateway: Option<IpAddr>,
}

/// Checks the settings in a fixed order (port, internal port, protocol, lease, allowed
/// protocols, gateway) and returns the plan or the first refusal.
pub fn plan(settings: &Settings) -> Result<Plan, Refusal> {
    if !(1..=65_535).contains(&settings.port) {
        return Err(Refusal::new(code::INVALID_PORT, format!("port {} is out of range: give a port in 1..=65535", settings.port)));
    }
    if !(0..=65_535).contains(&settings.internal_port) {
        return Err(Refusal::new(
            code::INVALID_PORT,
            format!("internal_port {} is out of range: give a port in 1..=65535, or 0 for the same as port", settings.internal_port),
        ));
    }
    let protocols = match settings.protocol.trim().to_ascii_uppercase().as_str() {
        "UDP" => vec![Protocol::Udp],
        "TCP" => vec![Protocol::Tcp],
        "BOTH" => vec![Protocol::Udp, Protocol::Tcp],
        _ => return Err(Refusal::new(code::INVALID_PROTOCOL, format!("protocol {:?} is unknown: use \"UDP\", \"TCP\" or \"BOTH\"", settings.protocol))),
    };
    if !(i64::from(LEASE_MIN)..=i64::from(LEASE_MAX)).contains(&settings.lease_seconds) {
        return Err(Refusal::new(
            code::INVALID_LEASE,
            format!("lease_seconds {} is out of range: give {LEASE_MIN}..={LEASE_MAX} (the mapping is renewed before it runs out)", settings.lease_seconds),
        ));
    }
    let methods: Vec<Method> = [(ALLOW_PCP, Method::Pcp), (ALLOW_NAT_PMP, Method::NatPmp), (ALLOW_UPNP, Method::Upnp)]
        .into_iter()
        .filter(|(flag, _)| settings.allowed_protocols & i64::from(*flag) != 0)
        .map(|(_, method)| method)
        .collect();
    if methods.is_empty() {
        return Err(Refusal::new(
            code::NO_PROTOCOL_ALLOWED,
            format!("allowed_protocols {} allows none of PCP (1), NAT-PMP (2) and UPnP (4)", settings.allowed_protocols),
        ));
    }
    let gateway = match settings.gateway.trim() {
        "" => None,
        text => Some(text.parse::<IpAddr>().map_err(|_| Refusal::new(code::INVALID_GATEWAY, format!("gateway {text:?} is not an IP address (leave it empty for the default route's gateway)")))?),
    };
    let port = settings.port as u16;
    let internal_port = if settings.internal_port == 0 { port } else { settings.internal_port as u16 };
    let requests = protocols
        .into_iter()
        .map(|protocol| MapRequest { protocol, internal_port, external_port: port, lifetime: settings.lease_seconds as u32, description: settings.description.clone() })
        .collect();
    Ok(Plan { requests, methods, gateway })
}

/// The result code of a mapper error.
pub fn result_code(error: &MapperError) -> i32 {
    match error.kind {
        ErrorKind::InvalidArgument => code::INVALID_ARGUMENT,
        ErrorKind::NoGateway => code::NO_GATEWAY,
        ErrorKind::Refused => code::REFUSED,
        ErrorKind::NoAnswer => code::NO_ANSWER,
        ErrorKind::Cancelled => code::CANCELLED,
        ErrorKind::Io => code::IO_ERROR,
    }
}

/// The node's state constant (`STATE_*`) of a mapper state.
pub fn state_code(state: State) -> i32 {
    match state {
        State::Idle => 0,
        State::Discovering => 1,
        State::Mapping => 2,
        State::Mapped => 3,
        State::Renewing => 4,
        State::Lost => 5,
        State::Failed => 6,
        State::Released => 7,
    }
}

/// The state of the node over its mappings: the one that needs attention first (failed,
/// lost, discovering, mapping, renewing), mapped only when every mapping is, released only
/// when every one is (`Idle` with none).
pub fn combined_state(states: &[State]) -> State {
    if states.is_empty() {
        return State::Idle;
    }
    for state in [State::Failed, State::Lost, State::Discovering, State::Mapping, State::Renewing] {
        if states.contains(&state) {
            return state;
        }
    }
    if states.iter().all(|s| *s == State::Released) {
        return State::Released;
    }
    if states.iter().all(|s| *s == State::Idle) {
        return State::Idle;
    }
    if states.iter().all(|s| matches!(s, State::Mapped | State::Released)) {
        // One mapping released while the other is still held (a stop under way): mapped.
        return State::Mapped;
    }
    State::Mapping
}

/// Whether an external address is itself private (RFC 1918, shared CGNAT space 100.64/10,
/// link-local, IPv6 unique-local): then another NAT sits between the router and the internet.
pub fn is_double_nat(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local() || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xC0) == 64),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            port: 7777,
            internal_port: 0,
            protocol: "UDP".into(),
            description: "game".into(),
            lease_seconds: 3600,
            allowed_protocols: i64::from(ALLOW_ALL),
            gateway: String::new(),
        }
    }

    fn refused(change: impl FnOnce(&mut Settings)) -> Refusal {
        let mut s = settings();
        change(&mut s);
        plan(&s).expect_err("must be refused")
    }

    #[test]
    fn the_defaults_make_one_udp_request_on_the_same_port() {
        let plan = plan(&settings()).unwrap();
        assert_eq!(plan.requests.len(), 1);
        let request = &plan.requests[0];
        assert_eq!((request.protocol, request.internal_port, request.external_port, request.lifetime), (Protocol::Udp, 7777, 7777, 3600));
        assert_eq!(plan.methods, vec![Method::Pcp, Method::NatPmp, Method::Upnp]);
        assert_eq!(plan.gateway, None);
    }

    #[test]
    fn both_makes_udp_then_tcp_and_internal_port_is_kept() {
        let mut s = settings();
        s.protocol = " both ".into();
        s.internal_port = 9000;
        let plan = plan(&s).unwrap();
        let got: Vec<_> = plan.requests.iter().map(|r| (r.protocol, r.internal_port, r.external_port)).collect();
        assert_eq!(got, vec![(Protocol::Udp, 9000, 7777), (Protocol::Tcp, 9000, 7777)]);
    }

    #[test]
    fn allowed_flags_keep_the_preference_order() {
        let mut s = settings();
        s.allowed_protocols = i64::from(ALLOW_UPNP | ALLOW_PCP);
        assert_eq!(plan(&s).unwrap().methods, vec![Method::Pcp, Method::Upnp]);
        s.allowed_protocols = i64::from(ALLOW_UPNP);
        assert_eq!(plan(&s).unwrap().methods, vec![Method::Upnp]);
    }

    #[test]
    fn each_bad_property_has_its_code_and_names_itself() {
        for (bad, code, word) in [
            (refused(|s| s.port = 0), code::INVALID_PORT, "port 0"),
            (refused(|s| s.port = 65_536), code::INVALID_PORT, "port 65536"),
            (refused(|s| s.port = -1), code::INVALID_PORT, "port -1"),
            (refused(|s| s.internal_port = 70_000), code::INVALID_PORT, "internal_port 70000"),
            (refused(|s| s.protocol = "SCTP".into()), code::INVALID_PROTOCOL, "\"SCTP\""),
            (refused(|s| s.protocol = String::new()), code::INVALID_PROTOCOL, "protocol \"\""),
            (refused(|s| s.lease_seconds = 0), code::INVALID_LEASE, "lease_seconds 0"),
            (refused(|s| s.lease_seconds = 1), code::INVALID_LEASE, "lease_seconds 1"),
            (refused(|s| s.lease_seconds = 86_401), code::INVALID_LEASE, "86401"),
            (refused(|s| s.allowed_protocols = 0), code::NO_PROTOCOL_ALLOWED, "allowed_protocols 0"),
            (refused(|s| s.allowed_protocols = 8), code::NO_PROTOCOL_ALLOWED, "allowed_protocols 8"),
            (refused(|s| s.gateway = "router.local".into()), code::INVALID_GATEWAY, "\"router.local\""),
        ] {
            assert_eq!(bad.code, code, "{bad:?}");
            assert!(bad.message.contains(word), "{bad:?} should name {word}");
        }
    }

    #[test]
    fn the_limits_themselves_are_accepted() {
        for (port, lease) in [(1, LEASE_MIN), (65_535, LEASE_MAX)] {
            let mut s = settings();
            s.port = port;
            s.lease_seconds = i64::from(lease);
            s.gateway = "10.0.0.1".into();
            let plan = plan(&s).unwrap();
            assert_eq!(plan.gateway, Some("10.0.0.1".parse().unwrap()));
        }
    }

    #[test]
    fn mapper_errors_become_result_codes() {
        assert_eq!(result_code(&MapperError::new(ErrorKind::NoAnswer, "x")), code::NO_ANSWER);
        assert_eq!(result_code(&MapperError::new(ErrorKind::Refused, "x")), code::REFUSED);
        assert_eq!(result_code(&MapperError::new(ErrorKind::NoGateway, "x")), code::NO_GATEWAY);
    }

    #[test]
    fn the_combined_state_needs_every_mapping() {
        use State::*;
        assert_eq!(combined_state(&[]), Idle);
        assert_eq!(combined_state(&[Mapped]), Mapped);
        assert_eq!(combined_state(&[Mapped, Mapping]), Mapping);
        assert_eq!(combined_state(&[Mapped, Mapped]), Mapped);
        assert_eq!(combined_state(&[Mapped, Failed]), Failed);
        assert_eq!(combined_state(&[Lost, Mapped]), Lost);
        assert_eq!(combined_state(&[Released, Released]), Released);
        assert_eq!(combined_state(&[Released, Mapped]), Mapped);
        assert_eq!(combined_state(&[Idle, Discovering]), Discovering);
    }

    #[test]
    fn double_nat_is_a_private_external_address() {
        for (text, double) in [("198.51.100.1", false), ("8.8.8.8", false), ("192.168.1.2", true), ("10.1.2.3", true), ("100.64.0.1", true), ("100.128.0.1", false), ("fd00::1", true), ("2001:db8::1", false)] {
            assert_eq!(is_double_nat(text.parse().unwrap()), double, "{text}");
        }
    }
}

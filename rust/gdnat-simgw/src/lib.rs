//! Simulated UPnP IGD gateway for gdnat tests.
//!
//! An independent peer (it shares no code with `gdnat-igd`) that answers SSDP M-SEARCH,
//! serves a generated device description and implements the WANIPConnection /
//! WANPPPConnection port-mapping actions with miniupnpd's rules and wire format. On top of
//! what a real daemon does, it injects faults (HTTP 500 without body, malformed, truncated,
//! oversized or never-ending answers, delays, UPnP errors) and router quirks (IGD:1/IGD:2,
//! PPP-only, disconnected, reserved WAN address, non-IGD devices, LOCATION on another host,
//! SSDP from another port, permanent leases only, strict protocol case, URLBase, prefixed
//! description).
//!
//! ```no_run
//! let gw = gdnat_simgw::SimGateway::start(gdnat_simgw::scenario("igd2-public").unwrap()).unwrap();
//! println!("{} {}", gw.ssdp_addr(), gw.description_url(0));
//! gw.stop();
//! ```
//!
//! It binds only the address it is given (loopback or a test namespace); it never sends
//! anything except answers to the requests it receives.

#![warn(missing_docs)]

mod actions;
mod config;
mod description;
mod faults;
mod gateway;
pub mod hand;
mod http;
mod netns;
pub mod pmp;
mod scenarios;
mod server;
mod soap;
mod ssdp;
mod table;
mod xml;

pub use config::{
    ConnectionKind, DeviceConfig, DeviceKind, FaultKind, FaultRule, FaultTarget, RouterConfig,
    SimConfig, UrlStyle, DEFAULT_MAX_HANG, DEFAULT_PUBLIC_IP, DEFAULT_SERVER_HEADER,
    OVERSIZED_BODY_LEN,
};
pub use description::{build_description, connection_service_type, ssdp_targets, SsdpTarget};
pub use actions::OTHER_HOST;
pub use gateway::SimGateway;
pub use netns::require_isolated_namespace;
pub use scenarios::{
    scenario, scenario_names, CONTROL_TEXT, EXTERNAL_IP_GLOBAL_IPV6, EXTERNAL_IP_NOT_AN_ADDRESS, NEAR_BOUND_HTTP_DELAY,
    OTHER_LOOPBACK_HOST, SLOW_HTTP_DELAY, SLOW_SSDP_DELAY, TAKEN_PORT, TRICKLE_INTERVAL,
    UPNP_ERROR_DEFAULT,
};
pub use server::RecordedRequest;
pub use soap::{
    build_fault, build_response, error_description, parse_call, SoapCall, SoapParseError,
};
pub use ssdp::SSDP_GROUP;
pub use table::{Mapping, IGD2_MAX_LEASE};

//! Helpers for tests against the simulated gateway (gdnat-simgw) over HTTP/SOAP on 127.0.0.1:
//! short HTTP limits, the time bound every call must stay within, and request builders.
//!
//! The bounds here are *bounds* (issue 2: "no call outlives its bound"), derived from the
//! configured [`LIMITS`]; they are not benchmarks. [`MARGIN`] is scheduling slack on a shared
//! machine, never a performance goal.

use std::time::{Duration, Instant};

use gdnat_igd::client::{validate_device_at, HttpLimits};
use gdnat_igd::{CancelToken, DiscoveredDevice, Gateway, PortMappingRequest, Protocol};
use gdnat_simgw::{scenario, SimConfig, SimGateway};

/// Short HTTP limits so fault scenarios end quickly.
pub const LIMITS: HttpLimits = HttpLimits {
    connect_timeout: Duration::from_millis(500),
    total_timeout: Duration::from_millis(1000),
    max_body: 256 * 1024,
    max_soap_request: 2048,
};

/// Scheduling slack added to every bound.
pub const MARGIN: Duration = Duration::from_millis(700);

/// Most HTTP exchanges of one validation: the description GET plus two services probed with
/// two calls each (`validate_device_at`).
pub const VALIDATION_EXCHANGES: u32 = 5;

/// The bound of one SOAP call or description fetch under `limits`: its total timeout plus
/// [`MARGIN`].
pub fn exchange_bound(limits: &HttpLimits) -> Duration {
    limits.total_timeout + MARGIN
}

/// The bound of one validation under `limits`.
pub fn validation_bound(limits: &HttpLimits) -> Duration {
    limits.total_timeout * VALIDATION_EXCHANGES + MARGIN
}

pub const WANIP1: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";
pub const WANIP2: &str = "urn:schemas-upnp-org:service:WANIPConnection:2";

/// Starts the named scenario.
pub fn start(name: &str) -> SimGateway {
    start_config(scenario(name).unwrap_or_else(|| panic!("scenario {name}")))
}

/// Starts a configuration.
pub fn start_config(config: SimConfig) -> SimGateway {
    SimGateway::start(config).expect("simulated gateway starts")
}

/// Validates device `index` and checks the validation bound.
pub fn validate(gw: &SimGateway, index: usize) -> DiscoveredDevice {
    let start = Instant::now();
    let device = validate_device_at(&gw.description_url(index), &LIMITS, &CancelToken::new());
    let elapsed = start.elapsed();
    println!("validated {} in {elapsed:?}: {:?} {}", device.description_url, device.status, device.detail);
    assert!(elapsed < validation_bound(&LIMITS), "validation took {elapsed:?}");
    device
}

/// The gateway validation found, or a panic saying why there is none.
pub fn gateway_of(device: &DiscoveredDevice) -> Gateway {
    device.gateway.clone().unwrap_or_else(|| panic!("no gateway: {:?} {}", device.status, device.detail))
}

/// A gateway on device 0's control URL without validation (for scenarios whose validation
/// fails), with [`LIMITS`].
pub fn raw_gateway(gw: &SimGateway, service_type: &str) -> Gateway {
    let mut gateway = Gateway::new(gw.control_url(0).expect("router"), service_type, "127.0.0.1");
    gateway.limits = LIMITS;
    gateway
}

/// A mapping of `port` to the same port on 127.0.0.1.
pub fn request(port: u16, protocol: Protocol, lease: u32) -> PortMappingRequest {
    request_for(port, protocol, lease, "127.0.0.1")
}

/// A mapping of `port` to the same port on `client`.
pub fn request_for(port: u16, protocol: Protocol, lease: u32, client: &str) -> PortMappingRequest {
    PortMappingRequest {
        remote_host: String::new(),
        external_port: port,
        protocol,
        internal_port: port,
        internal_client: client.into(),
        description: "gdnat test".into(),
        lease_seconds: lease,
    }
}

/// Runs `call`, asserts it returned within one exchange's bound under [`LIMITS`], returns its
/// result.
pub fn bounded<T>(call: impl FnOnce() -> T) -> T {
    bounded_by(exchange_bound(&LIMITS), call)
}

/// Runs `call`, asserts it returned within `bound`, returns its result.
pub fn bounded_by<T>(bound: Duration, call: impl FnOnce() -> T) -> T {
    let (result, elapsed) = timed(call);
    assert!(elapsed < bound, "call took {elapsed:?}, bound {bound:?}");
    result
}

/// Runs `call` and returns its result and how long it took.
pub fn timed<T>(call: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let result = call();
    let elapsed = start.elapsed();
    println!("call returned in {elapsed:?}");
    (result, elapsed)
}

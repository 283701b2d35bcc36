//! The network operations behind the Godot methods, on plain data only. The blocking methods
//! call them on the main thread; the workers call them on their own threads. Results are the
//! engine's codes, taken from [`gdnat_igd::UpnpResult`] (the only mapping place).
//!
//! Nothing here prints: failures carry their message in [`Report`], and the caller prints it
//! on the main thread.

use gdnat_igd::{CancelToken, DiscoverError, DiscoverOptions, DiscoveredDevice, Gateway, PortMappingRequest, Protocol, UpnpResult};

use crate::validation::MappingArgs;

/// A result code and, for failures, the error message the engine would print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The engine's `UPNPResult` value.
    pub code: i32,
    /// What to print as a Godot error, if anything.
    pub error: Option<String>,
}

impl Report {
    /// A result known without a message to print (an argument error already printed).
    pub fn of(result: UpnpResult) -> Self {
        Self { code: result.code(), error: None }
    }

    fn success() -> Self {
        Self { code: UpnpResult::Success.code(), error: None }
    }

    fn failure(result: UpnpResult, headline: &str, detail: impl std::fmt::Display) -> Self {
        Self { code: result.code(), error: Some(format!("{headline} ({detail})")) }
    }
}

/// AddPortMapping on `gateway`. `NewInternalClient` is the gateway's local address verbatim
/// (the device's `igd_our_addr`), as in the engine.
pub fn add_port_mapping(gateway: &Gateway, args: &MappingArgs) -> Report {
    let request = PortMappingRequest {
        remote_host: String::new(),
        external_port: args.port,
        protocol: args.protocol,
        internal_port: args.internal_port,
        internal_client: gateway.local_addr.clone(),
        description: args.description.clone(),
        lease_seconds: args.lease_seconds,
    };
    match gateway.add_port_mapping(&request) {
        Ok(()) => Report::success(),
        Err(error) => Report::failure(error.upnp_result(), "Couldn't add port mapping.", error),
    }
}

/// DeletePortMapping on `gateway`.
pub fn delete_port_mapping(gateway: &Gateway, port: u16, protocol: Protocol) -> Report {
    match gateway.delete_port_mapping(port, protocol) {
        Ok(()) => Report::success(),
        Err(error) => Report::failure(error.upnp_result(), "Couldn't delete port mapping.", error),
    }
}

/// GetExternalIPAddress on `gateway`: the address (never truncated, improvement 6) or `""`.
/// A router that answers with an empty address gives code 0 and `""` without an error, as the
/// engine does.
pub fn query_external_address(gateway: &Gateway) -> (Report, String) {
    match gateway.get_external_ip() {
        Ok(address) => (Report::success(), address),
        Err(error) => (
            Report::failure(error.upnp_result(), "Couldn't get external IP address.", error),
            String::new(),
        ),
    }
}

/// Discovery: the devices in the engine's order, or the failure's result code.
pub fn discover(
    options: &DiscoverOptions,
    cancel: &CancelToken,
    on_device: &mut dyn FnMut(&DiscoveredDevice),
) -> Result<Vec<DiscoveredDevice>, (i32, DiscoverError)> {
    gdnat_igd::discover(options, cancel, on_device)
        .map_err(|error| (UpnpResult::from_discover_error(&error).code(), error))
}

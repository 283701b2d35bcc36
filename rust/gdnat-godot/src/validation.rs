//! The engine's argument validation: the same checks, in the same order, with the same
//! messages (godot-upnp-spec §2.1, §3.3, §3.4, §5). Each failure is printed as a Godot error
//! (`godot_error!`, shown as `ERROR:` in the console and in the debugger) and returned as the
//! engine's result code.
//!
//! Only the main thread calls into this module (the print goes through the engine).

use gdnat_igd::{Protocol, UpnpResult};
use godot::global::godot_error;

/// Arguments of an AddPortMapping that passed validation, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingArgs {
    /// External port, 1..=65535.
    pub port: u16,
    /// Internal port: `port_internal`, or `port` when `port_internal` was 0.
    pub internal_port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Description to send: `desc`, or `"libminiupnpc"` when `desc` was empty (the engine's
    /// miniupnpc substitutes that text when the argument is left out).
    pub description: String,
    /// Lease in seconds; 0 asks for a permanent (IGD v1) or maximal (IGD v2) lease.
    pub lease_seconds: u32,
}

/// The description the engine's miniupnpc sends when `desc` is empty.
pub const DEFAULT_DESCRIPTION: &str = "libminiupnpc";

/// `discover()` arguments (spec §2.1): negative timeout, then TTL outside 0..=255; both 22.
pub fn check_discover(timeout: i32, ttl: i32) -> Result<(), UpnpResult> {
    if timeout < 0 {
        godot_error!("The response's wait time can't be negative.");
        return Err(UpnpResult::InvalidParam);
    }
    if !(0..=255).contains(&ttl) {
        godot_error!("The time-to-live must be set between 0 and 255 (inclusive).");
        return Err(UpnpResult::InvalidParam);
    }
    Ok(())
}

/// The gateway-validity check of `UPNPDevice.add_port_mapping` and
/// `UPNPDevice.query_external_address`: `igd_status` must be 0, else 16.
pub fn check_valid_gateway(igd_status: i32) -> Result<(), UpnpResult> {
    if igd_status != 0 {
        godot_error!("The Internet Gateway Device must be valid.");
        return Err(UpnpResult::InvalidGateway);
    }
    Ok(())
}

/// `UPNPDevice.add_port_mapping` validation in the engine's order (spec §3.3):
/// gateway validity (16), external port (17), internal port (17), protocol (18), duration (19).
pub fn check_add(
    igd_status: i32,
    port: i32,
    port_internal: i32,
    desc: &str,
    proto: &str,
    duration: i32,
) -> Result<MappingArgs, UpnpResult> {
    check_valid_gateway(igd_status)?;
    let port = check_external_port(port)?;
    if !(0..=65535).contains(&port_internal) {
        godot_error!("The port number must be set between 0 and 65535 (inclusive).");
        return Err(UpnpResult::InvalidPort);
    }
    let protocol = check_protocol(proto)?;
    if duration < 0 {
        godot_error!("The port mapping's lease duration can't be negative.");
        return Err(UpnpResult::InvalidDuration);
    }
    Ok(MappingArgs {
        port,
        internal_port: if port_internal == 0 { port } else { port_internal as u16 },
        protocol,
        description: if desc.is_empty() { DEFAULT_DESCRIPTION.to_owned() } else { desc.to_owned() },
        lease_seconds: duration as u32,
    })
}

/// `UPNPDevice.delete_port_mapping` validation (spec §3.4): port (17), protocol (18). There is
/// deliberately no gateway-validity check, as in the engine.
pub fn check_delete(port: i32, proto: &str) -> Result<(u16, Protocol), UpnpResult> {
    let port = check_external_port(port)?;
    let protocol = check_protocol(proto)?;
    Ok((port, protocol))
}

/// Index check of the device-list methods (spec §5). Prints the engine's message on failure.
pub fn check_index(index: i32, size: usize) -> Option<usize> {
    if index < 0 || index as usize >= size {
        godot_error!("Index index = {index} is out of bounds (devices.size() = {size}).");
        return None;
    }
    Some(index as usize)
}

/// Null check of `add_device` / `set_device` (spec §5), worded like the engine's
/// `ERR_FAIL_COND(device.is_null())`.
pub fn report_null_device() {
    godot_error!("Condition \"device.is_null()\" is true.");
}

fn check_external_port(port: i32) -> Result<u16, UpnpResult> {
    if !(1..=65535).contains(&port) {
        godot_error!("The port number must be set between 1 and 65535 (inclusive).");
        return Err(UpnpResult::InvalidPort);
    }
    Ok(port as u16)
}

fn check_protocol(proto: &str) -> Result<Protocol, UpnpResult> {
    Protocol::parse_exact(proto).ok_or_else(|| {
        godot_error!("The protocol must be either TCP or UDP.");
        UpnpResult::InvalidProtocol
    })
}

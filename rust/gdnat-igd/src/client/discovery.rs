//! SSDP discovery followed by per-device validation.

use super::{DiscoverOptions, DiscoveredDevice};
use crate::cancel::CancelToken;
use crate::error::DiscoverError;

/// Discover UPnP devices and validate each one on its own.
///
/// Sends the search targets together, collects answers until the first valid gateway plus
/// `options.settle` (never past `options.timeout`), validates every kept device, and calls
/// `on_device` as each one is classified. Returns the devices in the engine's order (most
/// recent answer first). `Err(NoDevices)` when nothing answered; `Ok` with an empty list when
/// answers came but none passed the filter.
pub fn discover(
    _options: &DiscoverOptions,
    _cancel: &CancelToken,
    _on_device: &mut dyn FnMut(&DiscoveredDevice),
) -> Result<Vec<DiscoveredDevice>, DiscoverError> {
    todo!()
}

//! The one place where failures become the Godot engine's `UPNP.UPNPResult` codes.
//!
//! The values and the holes of the engine's mapping are reproduced exactly
//! (godot-upnp-spec §4): 730 maps to `UnknownError`, 403 to `NotAuthorized`, and
//! `PortMappingNotFound` (2) is never produced.

use crate::error::{Failure, RequestError, UpnpErrorCode};

/// The engine's `UPNP.UPNPResult`, with the same integer values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum UpnpResult {
    Success = 0,
    NotAuthorized = 1,
    PortMappingNotFound = 2,
    InconsistentParameters = 3,
    NoSuchEntryInArray = 4,
    ActionFailed = 5,
    SrcIpWildcardNotPermitted = 6,
    ExtPortWildcardNotPermitted = 7,
    IntPortWildcardNotPermitted = 8,
    RemoteHostMustBeWildcard = 9,
    ExtPortMustBeWildcard = 10,
    NoPortMapsAvailable = 11,
    ConflictWithOtherMechanism = 12,
    ConflictWithOtherMapping = 13,
    SamePortValuesRequired = 14,
    OnlyPermanentLeaseSupported = 15,
    InvalidGateway = 16,
    InvalidPort = 17,
    InvalidProtocol = 18,
    InvalidDuration = 19,
    InvalidArgs = 20,
    InvalidResponse = 21,
    InvalidParam = 22,
    HttpError = 23,
    SocketError = 24,
    MemAllocError = 25,
    NoGateway = 26,
    NoDevices = 27,
    UnknownError = 28,
}

impl UpnpResult {
    /// The integer value Godot scripts see.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The result for a router's UPnP error code (spec §4).
    pub fn from_upnp_error(code: UpnpErrorCode) -> Self {
        match code.code() {
            0 => Self::Success,
            402 => Self::InvalidArgs,
            403 | 606 => Self::NotAuthorized,
            501 => Self::ActionFailed,
            714 => Self::NoSuchEntryInArray,
            715 => Self::SrcIpWildcardNotPermitted,
            716 => Self::ExtPortWildcardNotPermitted,
            718 => Self::ConflictWithOtherMapping,
            724 => Self::SamePortValuesRequired,
            725 => Self::OnlyPermanentLeaseSupported,
            726 => Self::RemoteHostMustBeWildcard,
            727 => Self::ExtPortMustBeWildcard,
            728 => Self::NoPortMapsAvailable,
            729 => Self::ConflictWithOtherMechanism,
            732 => Self::IntPortWildcardNotPermitted,
            733 => Self::InconsistentParameters,
            _ => Self::UnknownError,
        }
    }

    /// The result for a transport or response failure. Every way of not getting a usable
    /// answer is `HttpError`, as miniupnpc's `UPNPCOMMAND_HTTP_ERROR` is in the engine, except
    /// an unusable external address, which is `InvalidResponse` (the engine passes such text on
    /// as the address; README "Differences").
    pub fn from_request_error(error: &RequestError) -> Self {
        match error {
            RequestError::InvalidExternalAddress { .. } => Self::InvalidResponse,
            _ => Self::HttpError,
        }
    }

    /// The result for any failure of a gateway operation.
    pub fn from_failure(failure: Failure<'_>) -> Self {
        match failure {
            Failure::Upnp(code) => Self::from_upnp_error(code),
            Failure::Request(error) => Self::from_request_error(error),
        }
    }
}

impl UpnpResult {
    /// The result of a failed discovery (spec §2.5, §2.8).
    pub fn from_discover_error(error: &crate::error::DiscoverError) -> Self {
        use crate::error::DiscoverError;
        match error {
            DiscoverError::Socket { .. } => Self::SocketError,
            DiscoverError::NoDevices { .. } => Self::NoDevices,
            DiscoverError::InvalidInterface(_) | DiscoverError::Cancelled => Self::UnknownError,
        }
    }
}

/// The engine's `UPNPDevice.IGDStatus`, with the same integer values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum IgdStatus {
    Ok = 0,
    HttpError = 1,
    HttpEmpty = 2,
    /// Deprecated in the engine; never produced.
    NoUrls = 3,
    NoIgd = 4,
    Disconnected = 5,
    UnknownDevice = 6,
    InvalidControl = 7,
    /// Deprecated in the engine; never produced.
    MallocError = 8,
    UnknownError = 9,
}

impl IgdStatus {
    /// The integer value Godot scripts see.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The status a device of this classification gets. A connected gateway is `Ok` whether its
    /// WAN address is public or not (double NAT is reported separately).
    pub fn from_device_status(status: crate::types::DeviceStatus) -> Self {
        use crate::types::DeviceStatus;
        match status {
            DeviceStatus::ConnectedPublic | DeviceStatus::ConnectedPrivate => Self::Ok,
            DeviceStatus::NotConnected => Self::UnknownDevice,
            DeviceStatus::NotIgd => Self::NoIgd,
            DeviceStatus::HttpError => Self::HttpError,
            DeviceStatus::EmptyAnswer => Self::HttpEmpty,
        }
    }
}

/// `upnp_result()` on each operation's error. It lives here, not in [`crate::error`], so that
/// the errors do not depend on the result codes (the dependency goes one way: result codes
/// read errors).
macro_rules! upnp_result_of {
    ($($error:ident),* $(,)?) => {
        $(
            impl crate::error::$error {
                /// The engine's `UPNPResult` for this failure.
                pub fn upnp_result(&self) -> UpnpResult {
                    UpnpResult::from_failure(self.failure())
                }
            }
        )*
    };
}

upnp_result_of!(
    AddPortMappingError,
    AddAnyPortMappingError,
    DeletePortMappingError,
    GetExternalIpError,
    GetStatusInfoError,
    GetSpecificPortMappingEntryError,
    GetGenericPortMappingEntryError,
);

//! Typed errors. One enum per operation; each names the router's answer.
//!
//! Every error can be reduced to a [`Failure`], which [`crate::result_code`] turns into the
//! engine's `UPNPResult` code. No other module maps errors to codes.

use std::fmt;

/// A UPnP error code from a SOAP fault (`<errorCode>`), named where the UPnP Device
/// Architecture or the WANIPConnection service defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpnpErrorCode {
    InvalidAction,
    InvalidArgs,
    OutOfSync,
    ActionFailed,
    ArgumentValueInvalid,
    ArgumentValueOutOfRange,
    OptionalActionNotImplemented,
    OutOfMemory,
    HumanInterventionRequired,
    StringArgumentTooLong,
    ActionNotAuthorized,
    SpecifiedArrayIndexInvalid,
    NoSuchEntryInArray,
    WildCardNotPermittedInSrcIp,
    WildCardNotPermittedInExtPort,
    ConflictInMappingEntry,
    SamePortValuesRequired,
    OnlyPermanentLeasesSupported,
    RemoteHostOnlySupportsWildcard,
    ExternalPortOnlySupportsWildcard,
    NoPortMapsAvailable,
    ConflictWithOtherMechanisms,
    PortMappingNotFound,
    ReadOnly,
    WildCardNotPermittedInIntPort,
    InconsistentParameters,
    /// Any code without a name above, or a non-numeric `errorCode` (kept as -1).
    Other(i32),
}

const NAMED_CODES: &[(UpnpErrorCode, i32, &str)] = &[
    (UpnpErrorCode::InvalidAction, 401, "InvalidAction"),
    (UpnpErrorCode::InvalidArgs, 402, "InvalidArgs"),
    (UpnpErrorCode::OutOfSync, 403, "OutOfSync"),
    (UpnpErrorCode::ActionFailed, 501, "ActionFailed"),
    (UpnpErrorCode::ArgumentValueInvalid, 600, "ArgumentValueInvalid"),
    (UpnpErrorCode::ArgumentValueOutOfRange, 601, "ArgumentValueOutOfRange"),
    (UpnpErrorCode::OptionalActionNotImplemented, 602, "OptionalActionNotImplemented"),
    (UpnpErrorCode::OutOfMemory, 603, "OutOfMemory"),
    (UpnpErrorCode::HumanInterventionRequired, 604, "HumanInterventionRequired"),
    (UpnpErrorCode::StringArgumentTooLong, 605, "StringArgumentTooLong"),
    (UpnpErrorCode::ActionNotAuthorized, 606, "ActionNotAuthorized"),
    (UpnpErrorCode::SpecifiedArrayIndexInvalid, 713, "SpecifiedArrayIndexInvalid"),
    (UpnpErrorCode::NoSuchEntryInArray, 714, "NoSuchEntryInArray"),
    (UpnpErrorCode::WildCardNotPermittedInSrcIp, 715, "WildCardNotPermittedInSrcIP"),
    (UpnpErrorCode::WildCardNotPermittedInExtPort, 716, "WildCardNotPermittedInExtPort"),
    (UpnpErrorCode::ConflictInMappingEntry, 718, "ConflictInMappingEntry"),
    (UpnpErrorCode::SamePortValuesRequired, 724, "SamePortValuesRequired"),
    (UpnpErrorCode::OnlyPermanentLeasesSupported, 725, "OnlyPermanentLeasesSupported"),
    (UpnpErrorCode::RemoteHostOnlySupportsWildcard, 726, "RemoteHostOnlySupportsWildcard"),
    (UpnpErrorCode::ExternalPortOnlySupportsWildcard, 727, "ExternalPortOnlySupportsWildcard"),
    (UpnpErrorCode::NoPortMapsAvailable, 728, "NoPortMapsAvailable"),
    (UpnpErrorCode::ConflictWithOtherMechanisms, 729, "ConflictWithOtherMechanisms"),
    (UpnpErrorCode::PortMappingNotFound, 730, "PortMappingNotFound"),
    (UpnpErrorCode::ReadOnly, 731, "ReadOnly"),
    (UpnpErrorCode::WildCardNotPermittedInIntPort, 732, "WildCardNotPermittedInIntPort"),
    (UpnpErrorCode::InconsistentParameters, 733, "InconsistentParameters"),
];

impl UpnpErrorCode {
    /// The code for a number found in a fault.
    pub fn from_code(code: i32) -> Self {
        NAMED_CODES
            .iter()
            .find(|(_, number, _)| *number == code)
            .map(|(named, _, _)| *named)
            .unwrap_or(Self::Other(code))
    }

    /// The number as the router sent it.
    pub fn code(self) -> i32 {
        match self {
            Self::Other(code) => code,
            named => NAMED_CODES.iter().find(|(n, _, _)| *n == named).map(|(_, c, _)| *c).unwrap_or(-1),
        }
    }

    /// The name the UPnP specifications give the code, or `None` for an unnamed one.
    pub fn name(self) -> Option<&'static str> {
        NAMED_CODES.iter().find(|(n, _, _)| *n == self).map(|(_, _, name)| *name)
    }
}

impl fmt::Display for UpnpErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} {}", self.code(), name),
            None => write!(f, "{}", self.code()),
        }
    }
}

/// A UPnP fault as the router sent it: the code and its `errorDescription`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `<errorCode>`.
    pub code: UpnpErrorCode,
    /// `<errorDescription>`, empty when absent.
    pub description: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.description.is_empty() {
            write!(f, "router answered UPnP error {}", self.code)
        } else {
            write!(f, "router answered UPnP error {} ({})", self.code, self.description)
        }
    }
}

/// Why no usable answer came back from a router, before any UPnP fault could be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The URL is not an `http://host[:port]/path` URL. Nothing was sent.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The request would exceed the size a router is known to accept. Nothing was sent.
    #[error("request body of {size} bytes exceeds the limit of {limit} bytes")]
    RequestTooLarge { size: usize, limit: usize },
    /// No TCP connection within the connect timeout, or no complete answer within the read
    /// timeout.
    #[error("timed out after {millis} ms talking to {url}")]
    Timeout { url: String, millis: u64 },
    /// The host actively refused the TCP connection.
    #[error("connection refused by {url}")]
    ConnectionRefused { url: String },
    /// The router reset the connection before any answer came (after the retries of
    /// `transport::http::RETRY_BACKOFF`).
    #[error("connection reset by {url} before any answer")]
    ConnectionReset { url: String },
    /// The router answered with an HTTP status that is not 200 and carried no UPnP fault.
    #[error("HTTP status {status} from {url} without a UPnP fault")]
    HttpStatus { url: String, status: u16 },
    /// The router answered with an empty body, or closed the connection without one.
    #[error("empty answer from {url}")]
    EmptyBody { url: String },
    /// The body was larger than the cap.
    #[error("answer from {url} is larger than {limit} bytes")]
    BodyTooLarge { url: String, limit: usize },
    /// The status line and headers were larger than the cap.
    #[error("answer from {url} has a head (status line and headers) larger than {limit} bytes")]
    HeadTooLarge { url: String, limit: usize },
    /// The answer's status line or headers are not HTTP (the parser's reason in `detail`).
    #[error("answer from {url} is not HTTP: {detail}")]
    MalformedHead { url: String, detail: String },
    /// The body was cut short (fewer bytes than Content-Length, or a broken chunk).
    #[error("answer from {url} was truncated: {detail}")]
    Truncated { url: String, detail: String },
    /// The body is not well-formed XML.
    #[error("malformed XML from {url}: {detail}")]
    MalformedXml { url: String, detail: String },
    /// The XML is well-formed but lacks an element the action must return.
    #[error("answer from {url} lacks <{element}>")]
    MissingElement { url: String, element: &'static str },
    /// An out-argument has a value that does not parse (for example a port of "abc").
    #[error("answer from {url} has an invalid <{element}>: {value:?}")]
    InvalidValue { url: String, element: &'static str, value: String },
    /// The router reported an external address that cannot be anyone's WAN address: not an IP
    /// address, `0.0.0.0`/`::`, or a loopback address. The value is shown escaped and cut to
    /// 64 characters (it is untrusted text).
    #[error("router {url} reported the external address {value:?}, which {reason}")]
    InvalidExternalAddress { url: String, value: String, reason: &'static str },
    /// Any other I/O failure.
    #[error("I/O error talking to {url}: {detail}")]
    Io { url: String, detail: String },
    /// The caller cancelled the operation.
    #[error("cancelled")]
    Cancelled,
}

/// A failure of a gateway operation reduced to what decides its result code.
#[derive(Clone, Copy, Debug)]
pub enum Failure<'a> {
    /// The router answered with a UPnP fault.
    Upnp(UpnpErrorCode),
    /// No usable answer came back.
    Request(&'a RequestError),
}

/// Declares one operation's error enum: a variant per UPnP fault the operation is known to
/// get, `Upnp` for any other fault, and `Request` for transport and parse failures.
macro_rules! operation_error {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
        pub enum $name {
            $( $(#[$vmeta])* #[error("{0}")] $variant(Fault), )*
            /// Any other UPnP fault.
            #[error("{0}")]
            Upnp(Fault),
            /// No usable answer came back.
            #[error(transparent)]
            Request(#[from] RequestError),
        }

        impl $name {
            /// What decides the result code of this failure.
            pub fn failure(&self) -> Failure<'_> {
                match self {
                    $( Self::$variant(fault) => Failure::Upnp(fault.code), )*
                    Self::Upnp(fault) => Failure::Upnp(fault.code),
                    Self::Request(error) => Failure::Request(error),
                }
            }

            /// The router's fault, if the router answered with one.
            pub fn fault(&self) -> Option<&Fault> {
                match self {
                    $( Self::$variant(fault) => Some(fault), )*
                    Self::Upnp(fault) => Some(fault),
                    Self::Request(_) => None,
                }
            }
        }

        impl From<Fault> for $name {
            fn from(fault: Fault) -> Self {
                match fault.code {
                    $( UpnpErrorCode::$variant => Self::$variant(fault), )*
                    _ => Self::Upnp(fault),
                }
            }
        }
    };
}

operation_error! {
    /// Why `AddPortMapping` failed.
    AddPortMappingError {
        /// 606: the router does not let this client map this port (for example a port
        /// outside its permission rules).
        ActionNotAuthorized,
        /// 402: the router rejected the arguments (some routers say this for finite leases).
        InvalidArgs,
        /// 501: the router could not do it (miniupnpd says this when its WAN address is private).
        ActionFailed,
        /// 715.
        WildCardNotPermittedInSrcIp,
        /// 716: external port 0.
        WildCardNotPermittedInExtPort,
        /// 718: the external port is mapped to another client.
        ConflictInMappingEntry,
        /// 724.
        SamePortValuesRequired,
        /// 725: the router accepts only lease 0.
        OnlyPermanentLeasesSupported,
        /// 726.
        RemoteHostOnlySupportsWildcard,
        /// 727.
        ExternalPortOnlySupportsWildcard,
        /// 728.
        NoPortMapsAvailable,
        /// 729.
        ConflictWithOtherMechanisms,
        /// 732.
        WildCardNotPermittedInIntPort,
    }
}

operation_error! {
    /// Why `AddAnyPortMapping` (IGD v2) failed.
    AddAnyPortMappingError {
        /// 401: the service has no such action (an IGD v1 router).
        InvalidAction,
        /// 606.
        ActionNotAuthorized,
        /// 402.
        InvalidArgs,
        /// 501.
        ActionFailed,
        /// 716.
        WildCardNotPermittedInExtPort,
        /// 728.
        NoPortMapsAvailable,
        /// 729.
        ConflictWithOtherMechanisms,
        /// 732.
        WildCardNotPermittedInIntPort,
    }
}

operation_error! {
    /// Why `DeletePortMapping` failed.
    DeletePortMappingError {
        /// 606: the mapping belongs to another client.
        ActionNotAuthorized,
        /// 714: there is no such mapping.
        NoSuchEntryInArray,
        /// 402.
        InvalidArgs,
        /// 501.
        ActionFailed,
    }
}

operation_error! {
    /// Why `GetExternalIPAddress` failed.
    GetExternalIpError {
        /// 606.
        ActionNotAuthorized,
        /// 501.
        ActionFailed,
    }
}

operation_error! {
    /// Why `GetStatusInfo` failed.
    GetStatusInfoError {
        /// 606.
        ActionNotAuthorized,
        /// 501.
        ActionFailed,
    }
}

operation_error! {
    /// Why `GetSpecificPortMappingEntry` failed.
    GetSpecificPortMappingEntryError {
        /// 714: there is no such mapping.
        NoSuchEntryInArray,
        /// 606.
        ActionNotAuthorized,
        /// 402.
        InvalidArgs,
    }
}

operation_error! {
    /// Why `GetGenericPortMappingEntry` failed.
    GetGenericPortMappingEntryError {
        /// 713: the index is past the end of the table.
        SpecifiedArrayIndexInvalid,
        /// 606.
        ActionNotAuthorized,
        /// 402.
        InvalidArgs,
    }
}

/// Why discovery failed as a whole. Failures of single devices are not errors: they become the
/// device's [`crate::DeviceStatus`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiscoverError {
    /// `discover_multicast_if` names no interface and is no IP literal of the right family.
    #[error("unknown multicast interface {0:?}")]
    InvalidInterface(String),
    /// Creating, binding, configuring or sending on the SSDP socket failed.
    #[error("SSDP socket error while {stage}: {detail}")]
    Socket { stage: &'static str, detail: String },
    /// Nothing answered any search within the timeout.
    #[error("no UPnP device answered the SSDP search within {millis} ms")]
    NoDevices { millis: u64 },
    /// The caller cancelled discovery.
    #[error("discovery cancelled")]
    Cancelled,
}

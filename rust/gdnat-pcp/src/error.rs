//! Typed errors: one enum per operation, in the igd-next style. Each names the router's answer
//! (its result code with the RFC's name) or says that no acceptable answer came.
//!
//! Transport outcomes (no answer within the call's bound, cancellation, a socket failure) are
//! [`gdnat_io::udp::ExchangeError`], wrapped by every operation's `Exchange` variant.

use gdnat_io::udp::ExchangeError;

use crate::wire::{natpmp, pcp};

/// [`crate::NatPmpClient::external_address`] failed.
#[derive(Debug, thiserror::Error)]
pub enum NatPmpExternalAddressError {
    /// The gateway answered with a non-zero result code.
    #[error("the gateway refused the external-address request: {result}")]
    Refused {
        /// The router's answer.
        result: natpmp::ResultCode,
    },
    /// The gateway answered success with 0.0.0.0: it has no external address yet.
    #[error("the gateway has no external address (it answered 0.0.0.0)")]
    NoExternalAddress,
    /// No acceptable answer, cancelled, or a socket failure.
    #[error("NAT-PMP external address: {0}")]
    Exchange(#[from] ExchangeError),
}

/// [`crate::NatPmpClient::map`] failed.
#[derive(Debug, thiserror::Error)]
pub enum NatPmpMapError {
    /// The gateway answered with a non-zero result code.
    #[error("the gateway refused the mapping: {result}")]
    Refused {
        /// The router's answer.
        result: natpmp::ResultCode,
    },
    /// A success answer that cannot be a mapping (external port 0 or lifetime 0).
    #[error("the gateway answered success with {what}; no usable mapping")]
    InvalidAnswer {
        /// What was wrong.
        what: &'static str,
    },
    /// No acceptable answer, cancelled, or a socket failure.
    #[error("NAT-PMP map: {0}")]
    Exchange(#[from] ExchangeError),
}

/// [`crate::NatPmpClient::delete`] failed.
#[derive(Debug, thiserror::Error)]
pub enum NatPmpDeleteError {
    /// The gateway answered with a non-zero result code.
    #[error("the gateway refused to delete the mapping: {result}")]
    Refused {
        /// The router's answer.
        result: natpmp::ResultCode,
    },
    /// No acceptable answer, cancelled, or a socket failure.
    #[error("NAT-PMP delete: {0}")]
    Exchange(#[from] ExchangeError),
}

/// [`crate::PcpClient::map`] or [`crate::PcpClient::renew`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PcpMapError {
    /// The gateway answered with an error result code.
    #[error("the gateway refused the mapping: {result} (for the next {lifetime} s)")]
    Refused {
        /// The router's answer.
        result: pcp::ResultCode,
        /// How long the gateway says the error lasts.
        lifetime: u32,
    },
    /// The gateway does not speak PCP version 2 (version-0 answer or UNSUPP_VERSION): use
    /// NAT-PMP instead.
    #[error("the gateway does not speak PCP version 2 (it answered version {server_version}); NAT-PMP may work")]
    UnsupportedVersion {
        /// The version of the answer (0: a NAT-PMP gateway).
        server_version: u8,
    },
    /// A success answer that cannot be a mapping (external port 0, lifetime 0, or an
    /// unspecified external address).
    #[error("the gateway answered success with {what}; no usable mapping")]
    InvalidAnswer {
        /// What was wrong.
        what: &'static str,
    },
    /// The operating system gave no random bytes for the nonce.
    #[error("no random nonce: {0}")]
    Nonce(getrandom::Error),
    /// No acceptable answer, cancelled, or a socket failure.
    #[error("PCP map: {0}")]
    Exchange(#[from] ExchangeError),
}

/// [`crate::PcpClient::delete`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PcpDeleteError {
    /// The gateway answered with an error result code (NOT_AUTHORIZED: another nonce than the
    /// mapping's, or not our mapping).
    #[error("the gateway refused to delete the mapping: {result}")]
    Refused {
        /// The router's answer.
        result: pcp::ResultCode,
    },
    /// The gateway does not speak PCP version 2.
    #[error("the gateway does not speak PCP version 2 (it answered version {server_version})")]
    UnsupportedVersion {
        /// The version of the answer.
        server_version: u8,
    },
    /// No acceptable answer, cancelled, or a socket failure.
    #[error("PCP delete: {0}")]
    Exchange(#[from] ExchangeError),
}

/// [`crate::PcpClient::announce`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PcpAnnounceError {
    /// The gateway answered with an error result code.
    #[error("the gateway refused ANNOUNCE: {result}")]
    Refused {
        /// The router's answer.
        result: pcp::ResultCode,
    },
    /// The gateway does not speak PCP version 2 (a NAT-PMP-only gateway answers this way).
    #[error("the gateway does not speak PCP version 2 (it answered version {server_version}); NAT-PMP may work")]
    UnsupportedVersion {
        /// The version of the answer.
        server_version: u8,
    },
    /// No acceptable answer, cancelled, or a socket failure.
    #[error("PCP announce: {0}")]
    Exchange(#[from] ExchangeError),
}

macro_rules! exchange_accessors {
    ($($error:ty),*) => {$(
        impl $error {
            /// True when the call ended because its cancel token was cancelled.
            pub fn is_cancelled(&self) -> bool {
                matches!(self, Self::Exchange(ExchangeError::Cancelled))
            }

            /// True when no acceptable answer came within the call's bound.
            pub fn is_timeout(&self) -> bool {
                matches!(self, Self::Exchange(ExchangeError::TimedOut { .. }))
            }
        }
    )*};
}

exchange_accessors!(NatPmpExternalAddressError, NatPmpMapError, NatPmpDeleteError, PcpMapError, PcpDeleteError, PcpAnnounceError);

impl PcpMapError {
    /// True when NAT-PMP should be tried instead.
    pub fn wants_natpmp(&self) -> bool {
        matches!(self, Self::UnsupportedVersion { .. })
    }
}

impl PcpAnnounceError {
    /// True when NAT-PMP should be tried instead.
    pub fn wants_natpmp(&self) -> bool {
        matches!(self, Self::UnsupportedVersion { .. })
    }
}

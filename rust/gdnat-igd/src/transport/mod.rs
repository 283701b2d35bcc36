//! Layer 2: transports, each bounded in time and size and cancellable through a
//! [`CancelToken`](crate::CancelToken): the SSDP UDP socket and the HTTP client (on a
//! `gdnat_io` [`DeadlineStream`](gdnat_io::tcp::DeadlineStream)).

pub(crate) mod endpoint;
pub mod gate;
pub mod http;
pub mod interfaces;
pub mod resolver;
pub mod route;
pub mod spare;
pub mod ssdp_socket;

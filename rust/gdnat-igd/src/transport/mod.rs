//! Layer 2: transports, each bounded in time and size: the SSDP UDP socket and the HTTP client.

mod cancellable;
pub mod http;
pub mod resolver;
pub mod route;
pub mod ssdp_socket;

//! Layer 2: transports, each bounded in time and size: the SSDP UDP socket and the HTTP client.

pub mod http;
pub mod interfaces;
pub mod resolver;
pub mod route;
pub mod ssdp_socket;

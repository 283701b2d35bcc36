//! Layer 1: sans-I/O protocol code. Build and parse SSDP, HTTP requests and answers, device descriptions and SOAP. No sockets here.
//!
//! Every function here is pure: it takes bytes or strings and returns values. None panics on any
//! input; parsers return `None` or an error for what they cannot read.

pub mod address;
pub(crate) mod decimal;
pub mod description;
pub mod http;
pub mod soap;
pub mod ssdp;
pub mod url;
mod xml;

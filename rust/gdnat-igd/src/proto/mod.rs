//! Layer 1: sans-I/O protocol code. Build and parse SSDP, device descriptions and SOAP. No sockets here.

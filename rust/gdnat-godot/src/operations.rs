//! The network operations behind the Godot methods, on plain data only. The blocking methods
//! call them on the main thread; the workers call them on their own threads. Results are the
//! engine's codes, taken from [`gdnat_igd::UpnpResult`] (the only mapping place).
//!
//! Nothing here prints: failures carry their message in [`Report`], and the caller prints it
//! on the main thread.

use gdnat_igd::{CancelToken, DiscoverError, DiscoverOptions, DiscoveredDevice, Gateway, PortMappingRequest, Protocol, UpnpResult};

use crate::validation::MappingArgs;

/// A result code and, for failures, the error message the engine would print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The engine's `UPNPResult` value.
    pub code: i32,
    /// What to print as a Godot error, if anything.
    pub error: Option<String>,
}

impl Report {
    /// A result known without a message to print (an argument error already printed).
    pub fn of(result: UpnpResult) -> Self {
        Self { code: result.code(), error: None }
    }

    fn success() -> Self {
        Self { code: UpnpResult::Success.code(), error: None }
    }

    /// A failed request: its result and the engine's headline with the detail. A router
    /// fault with `errorCode` 0 maps to `SUCCESS`; the engine (miniupnpc) treats that as
    /// success and prints nothing, so nothing is printed then either.
    fn failure(result: UpnpResult, headline: &str, detail: impl std::fmt::Display) -> Self {
        if result == UpnpResult::Success {
            return Self::success();
        }
        Self { code: result.code(), error: Some(format!("{headline} ({detail})")) }
    }
}

/// AddPortMapping on `gateway`. `NewInternalClient` is the gateway's local address verbatim
/// (the device's `igd_our_addr`), as in the engine. Cancelling `cancel` ends the exchange at
/// once (the same holds for every operation here).
pub fn add_port_mapping(gateway: &Gateway, args: &MappingArgs, cancel: &CancelToken) -> Report {
    let request = PortMappingRequest {
        remote_host: String::new(),
        external_port: args.port,
        protocol: args.protocol,
        internal_port: args.internal_port,
        internal_client: gateway.local_addr.clone(),
        description: args.description.clone(),
        lease_seconds: args.lease_seconds,
    };
    match gateway.with_cancel(cancel).add_port_mapping(&request) {
        Ok(()) => Report::success(),
        Err(error) => Report::failure(error.upnp_result(), "Couldn't add port mapping.", error),
    }
}

/// DeletePortMapping on `gateway`.
pub fn delete_port_mapping(gateway: &Gateway, port: u16, protocol: Protocol, cancel: &CancelToken) -> Report {
    match gateway.with_cancel(cancel).delete_port_mapping(port, protocol) {
        Ok(()) => Report::success(),
        Err(error) => Report::failure(error.upnp_result(), "Couldn't delete port mapping.", error),
    }
}

/// GetExternalIPAddress on `gateway`: the address (never truncated, improvement 6) or `""`.
/// A router that answers with an empty address gives code 0 and `""` without an error, as the
/// engine does.
pub fn query_external_address(gateway: &Gateway, cancel: &CancelToken) -> (Report, String) {
    match gateway.with_cancel(cancel).get_external_ip() {
        Ok(address) => (Report::success(), address),
        Err(error) => (
            Report::failure(error.upnp_result(), "Couldn't get external IP address.", error),
            String::new(),
        ),
    }
}

/// Discovery: the devices in the engine's order, or the failure's result code.
pub fn discover(
    options: &DiscoverOptions,
    cancel: &CancelToken,
    on_device: &mut dyn FnMut(&DiscoveredDevice),
) -> Result<Vec<DiscoveredDevice>, (i32, DiscoverError)> {
    gdnat_igd::discover(options, cancel, on_device)
        .map_err(|error| (UpnpResult::from_discover_error(&error).code(), error))
}

#[cfg(test)]
mod tests {
    //! Against a one-shot HTTP server on loopback (nothing else is sent anywhere).
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    /// Serves one request with `status` and `body`, returns the control URL.
    fn answer_once(status: &str, body: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("loopback listener");
        let url = format!("http://{}/ctl", listener.local_addr().expect("address"));
        let status = status.to_string();
        std::thread::spawn(move || {
            let Ok((mut conn, _)) = listener.accept() else { return };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
            while !String::from_utf8_lossy(&request).contains("</s:Envelope>") {
                match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&chunk[..n]),
                }
            }
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes());
        });
        url
    }

    const FAULT_ZERO: &str = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>\
        <faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError>\
        <errorCode>0</errorCode><errorDescription>none</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>";
    const FAULT_718: &str = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>\
        <faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError>\
        <errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>";

    fn gateway(url: &str) -> Gateway {
        Gateway::new(url, "urn:schemas-upnp-org:service:WANIPConnection:1", "127.0.0.1")
    }

    fn args() -> MappingArgs {
        MappingArgs { port: 47010, internal_port: 47010, protocol: Protocol::Udp, description: "t".into(), lease_seconds: 0 }
    }

    #[test]
    fn error_code_zero_is_success_and_prints_nothing() {
        let add = add_port_mapping(&gateway(&answer_once("500 Internal Server Error", FAULT_ZERO)), &args(), &CancelToken::new());
        assert_eq!(add, Report { code: 0, error: None });
        let delete = delete_port_mapping(&gateway(&answer_once("500 Internal Server Error", FAULT_ZERO)), 47010, Protocol::Udp, &CancelToken::new());
        assert_eq!(delete, Report { code: 0, error: None });
        let (query, address) = query_external_address(&gateway(&answer_once("500 Internal Server Error", FAULT_ZERO)), &CancelToken::new());
        assert_eq!((query, address.as_str()), (Report { code: 0, error: None }, ""));
    }

    #[test]
    fn a_real_fault_keeps_its_code_and_message() {
        let add = add_port_mapping(&gateway(&answer_once("500 Internal Server Error", FAULT_718)), &args(), &CancelToken::new());
        assert_eq!(add.code, UpnpResult::ConflictWithOtherMapping.code());
        assert!(add.error.as_deref().is_some_and(|m| m.starts_with("Couldn't add port mapping.")), "{add:?}");
    }

    /// Untrusted text: a WAN address that is no IP address, 0.0.0.0 or loopback is a failure
    /// (21 INVALID_RESPONSE and ""), with the engine's message first; an empty one is not.
    #[test]
    fn unusable_external_addresses_fail_with_invalid_response() {
        const ANSWERS: [(&str, &str); 4] = [
            ("0.0.0.0", "is the unspecified address"),
            ("127.0.0.1", "is a loopback address"),
            ("&#x1b;[2Jnot an address", "is not an IP address"),
            ("", ""),
        ];
        for (value, reason) in ANSWERS {
            let body: &'static str = Box::leak(
                format!("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><u:GetExternalIPAddressResponse \
                    xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\"><NewExternalIPAddress>{value}</NewExternalIPAddress>\
                    </u:GetExternalIPAddressResponse></s:Body></s:Envelope>")
                .into_boxed_str(),
            );
            let (query, address) = query_external_address(&gateway(&answer_once("200 OK", body)), &CancelToken::new());
            assert_eq!(address, "", "{value:?}");
            if reason.is_empty() {
                assert_eq!(query, Report { code: 0, error: None });
                continue;
            }
            assert_eq!(query.code, UpnpResult::InvalidResponse.code(), "{value:?}");
            let message = query.error.unwrap_or_default();
            assert!(message.starts_with("Couldn't get external IP address. (router http://127.0.0.1:"), "{message}");
            assert!(message.contains(reason) && !message.chars().any(char::is_control), "{message:?}");
        }
    }
}

//! Device descriptions as a router serves them: any body, read as the client reads it (lossy
//! UTF-8), then every connection service's control URL resolved the way validation does it.
#![no_main]

use gdnat_igd::proto::description::parse_description;
use gdnat_igd::proto::url::{resolve_control_url, HttpUrl};
use libfuzzer_sys::fuzz_target;

/// The parser's own bounds (description.rs): services kept and bytes per value.
const MAX_SERVICES: usize = 64;
const MAX_VALUE: usize = 1024;

fuzz_target!(|body: &[u8]| {
    let text = String::from_utf8_lossy(body);
    let description = parse_description(&text);
    assert!(description.services.len() <= MAX_SERVICES);
    for value in description.url_base.iter().chain(description.friendly_name.iter()) {
        assert!(value.len() <= MAX_VALUE);
    }
    for service in &description.services {
        assert!(!service.service_type.is_empty());
        assert!(service.service_type.len() <= MAX_VALUE && service.control_url.len() <= MAX_VALUE);
        let _ = service.kind();
    }
    let _ = description.has_common_interface_config();
    for service in description.connection_services() {
        if let Ok(url) = resolve_control_url(&service.control_url, description.url_base.as_deref(), "http://10.77.0.1:5000/rootDesc.xml") {
            assert!(HttpUrl::parse(&url).is_ok(), "resolved control URL {url:?} does not parse");
        }
    }
});

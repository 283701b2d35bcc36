//! URLs from routers (SSDP LOCATION, URLBase, controlURL): the input is split at NUL bytes into
//! a control URL value, a URLBase and a description URL. A parsed URL must print back to a URL
//! that parses to the same value, and a resolved control URL must parse.
#![no_main]

use gdnat_igd::proto::url::{resolve_control_url, HttpUrl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let value = parts.next().unwrap_or_default();
    let url_base = parts.next().filter(|b| !b.is_empty());
    let description_url = parts.next().unwrap_or("http://10.77.0.1:5000/rootDesc.xml");
    for candidate in [Some(value), url_base, Some(description_url)].into_iter().flatten() {
        check_reprint(candidate);
    }
    if let Ok(resolved) = resolve_control_url(value, url_base, description_url) {
        let parsed = HttpUrl::parse(&resolved);
        assert!(parsed.is_ok(), "resolved {resolved:?} does not parse");
    }
});

/// `http://{authority}{path}` of a parsed URL parses to the same URL.
fn check_reprint(url: &str) {
    let Ok(parsed) = HttpUrl::parse(url) else { return };
    assert!(parsed.path.starts_with('/'));
    assert!(parsed.port != 0);
    let _ = parsed.host_ip();
    let printed = format!("http://{}{}", parsed.authority(), parsed.path);
    assert_eq!(HttpUrl::parse(&printed).as_ref(), Ok(&parsed), "{url:?} printed as {printed:?}");
}

//! SSDP answers as they arrive from the LAN: any datagram. The parser must return `None` or an
//! answer whose LOCATION and ST are non-empty single-line values, and discovery's next step
//! (parsing LOCATION as a URL) must hold up on whatever it returned.
#![no_main]

use gdnat_igd::proto::ssdp::{parse_answer, passes_filter};
use gdnat_igd::proto::url::HttpUrl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|datagram: &[u8]| {
    let Some(answer) = parse_answer(datagram) else { return };
    for value in [&answer.location, &answer.st, &answer.usn] {
        assert!(!value.contains(['\r', '\n']), "a header value spans lines: {value:?}");
        assert_eq!(value.trim_end(), value.as_str(), "a header value keeps trailing white space");
    }
    assert!(!answer.location.trim().is_empty() && !answer.st.trim().is_empty());
    assert!(passes_filter(&answer.st, ""));
    assert!(passes_filter(&answer.st, &answer.st));
    if let Ok(url) = HttpUrl::parse(&answer.location) {
        let _ = url.host_ip();
        let _ = url.authority();
    }
});

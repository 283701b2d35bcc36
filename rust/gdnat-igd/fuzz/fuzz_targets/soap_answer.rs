//! SOAP answers and faults as a router sends them: any body (lossy UTF-8, as the client reads
//! it). Also checks that a value we send comes back unchanged through our own envelope, and that
//! `errorCode` text is read as C's `sscanf("%d")` would.
#![no_main]

use gdnat_igd::proto::soap::{build_request, envelope_len, parse_answer, parse_error_code, value_of, SoapAnswer};
use libfuzzer_sys::fuzz_target;

/// Most leaves kept from one answer (soap.rs).
const MAX_LEAVES: usize = 256;

fuzz_target!(|body: &[u8]| {
    let text = String::from_utf8_lossy(body);
    match parse_answer(&text) {
        Ok(SoapAnswer::Values(values)) => {
            assert!(values.len() <= MAX_LEAVES);
            assert!(values.iter().all(|(name, _)| name != "errorCode"), "an errorCode leaf was not read as a fault");
        }
        Ok(SoapAnswer::Fault(fault)) => {
            let _ = fault.code.code();
        }
        Err(reason) => assert!(!reason.is_empty()),
    }
    check_error_code(&text);
    check_round_trip(&text);
});

/// `parse_error_code` against a plain reference: optional white space, sign, digits; saturating.
fn check_error_code(text: &str) {
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, rest) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let expected = if digits.is_empty() {
        -1
    } else {
        let magnitude = digits.trim_start_matches('0');
        let value = if magnitude.len() > 10 { i64::MAX } else { magnitude.parse::<i64>().unwrap_or(0) };
        let value = if negative { -value } else { value };
        value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    };
    assert_eq!(parse_error_code(text), expected, "errorCode {text:?}");
}

/// A value we put in a request envelope reads back the same. XML 1.0 cannot carry every
/// character (CR is normalised, C0 controls are not allowed), so only such values are checked.
fn check_round_trip(value: &str) {
    if value.chars().any(|c| (c.is_control() && c != '\t' && c != '\n') || c == '\u{fffe}' || c == '\u{ffff}') {
        return;
    }
    let service = "urn:schemas-upnp-org:service:WANIPConnection:1";
    let args = [("NewPortMappingDescription", value)];
    let request = build_request(service, "AddPortMapping", &args);
    assert_eq!(envelope_len(service, "AddPortMapping", &args), request.len(), "the stated length is not the envelope's");
    match parse_answer(&request) {
        Ok(SoapAnswer::Values(values)) => {
            assert_eq!(value_of(&values, "NewPortMappingDescription"), Some(value), "value did not round-trip");
        }
        other => panic!("our own request does not parse: {other:?}"),
    }
}

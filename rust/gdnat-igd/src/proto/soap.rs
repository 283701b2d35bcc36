//! SOAP control: request envelopes, the SOAPAction header, and parsing of answers and faults
//! (godot-upnp-spec §7.4).

use super::xml::{walk, Node};
use crate::error::{Fault, UpnpErrorCode};

/// The SOAP 1.1 envelope namespace.
pub const ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.1 encoding style.
pub const ENCODING_STYLE: &str = "http://schemas.xmlsoap.org/soap/encoding/";

/// Action names and their in-argument names, in the order routers expect.
pub mod actions {
    /// AddPortMapping.
    pub const ADD_PORT_MAPPING: &str = "AddPortMapping";
    /// AddAnyPortMapping (IGD v2).
    pub const ADD_ANY_PORT_MAPPING: &str = "AddAnyPortMapping";
    /// DeletePortMapping.
    pub const DELETE_PORT_MAPPING: &str = "DeletePortMapping";
    /// GetExternalIPAddress.
    pub const GET_EXTERNAL_IP_ADDRESS: &str = "GetExternalIPAddress";
    /// GetStatusInfo.
    pub const GET_STATUS_INFO: &str = "GetStatusInfo";
    /// GetSpecificPortMappingEntry.
    pub const GET_SPECIFIC_PORT_MAPPING_ENTRY: &str = "GetSpecificPortMappingEntry";
    /// GetGenericPortMappingEntry.
    pub const GET_GENERIC_PORT_MAPPING_ENTRY: &str = "GetGenericPortMappingEntry";

    /// In-arguments of AddPortMapping and AddAnyPortMapping.
    pub const ADD_PORT_MAPPING_ARGS: [&str; 8] = [
        "NewRemoteHost",
        "NewExternalPort",
        "NewProtocol",
        "NewInternalPort",
        "NewInternalClient",
        "NewEnabled",
        "NewPortMappingDescription",
        "NewLeaseDuration",
    ];
    /// In-arguments of DeletePortMapping and GetSpecificPortMappingEntry.
    pub const PORT_KEY_ARGS: [&str; 3] = ["NewRemoteHost", "NewExternalPort", "NewProtocol"];
    /// In-argument of GetGenericPortMappingEntry.
    pub const GENERIC_ENTRY_ARGS: [&str; 1] = ["NewPortMappingIndex"];
}

/// Escapes `& < > " '` for element content.
pub fn xml_escape(value: &str) -> String {
    let mut out = String::with_capacity(escaped_len(value));
    push_escaped(&mut out, value);
    out
}

/// Where an envelope is written: a `String`, or the request's bytes.
trait Sink {
    fn put(&mut self, text: &str);
}

impl Sink for String {
    fn put(&mut self, text: &str) {
        self.push_str(text);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, text: &str) {
        self.extend_from_slice(text.as_bytes());
    }
}

/// The escape of one of the five characters [`xml_escape`] replaces.
const fn escape_of(byte: u8) -> Option<&'static str> {
    match byte {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&quot;"),
        b'\'' => Some("&apos;"),
        _ => None,
    }
}

/// How many bytes escaping each byte adds: 0 for all but the five of [`escape_of`], derived
/// from it (a table, so that measuring and searching a value cost a load per byte rather than
/// five compares).
const ESCAPE_GROWTH: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < table.len() {
        if let Some(escape) = escape_of(byte as u8) {
            table[byte] = (escape.len() - 1) as u8;
        }
        byte += 1;
    }
    table
};

/// Appends `value` to `out`, escaped as [`xml_escape`] does (no intermediate string).
fn push_escaped(out: &mut impl Sink, value: &str) {
    let mut rest = value;
    // The five are ASCII, so each one found is a character of its own.
    while let Some(at) = rest.bytes().position(|b| ESCAPE_GROWTH[usize::from(b)] != 0) {
        out.put(&rest[..at]);
        out.put(escape_of(rest.as_bytes()[at]).unwrap_or_default());
        rest = &rest[at + 1..];
    }
    out.put(rest);
}

/// The length of `value` once escaped by [`xml_escape`].
fn escaped_len(value: &str) -> usize {
    value.len() + value.bytes().map(|b| usize::from(ESCAPE_GROWTH[usize::from(b)])).sum::<usize>()
}

/// The value of the `SOAPAction` header, quotes included: `"<service type>#<action>"`.
pub fn soap_action_header(service_type: &str, action: &str) -> String {
    soap_action_pieces(service_type, action).concat()
}

/// [`soap_action_header`] in pieces, for a request head written without an intermediate string.
pub fn soap_action_pieces<'a>(service_type: &'a str, action: &'a str) -> [&'a str; 5] {
    ["\"", service_type, "#", action, "\""]
}

/// The fixed text of an envelope before the action's name.
const ENVELOPE_START: [&str; 5] =
    ["<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"", ENVELOPE_NS, "\" s:encodingStyle=\"", ENCODING_STYLE, "\"><s:Body><u:"];
/// The fixed text of an envelope after the action's closing name.
const ENVELOPE_END: &str = "></s:Body></s:Envelope>\r\n";

/// A request envelope: XML declaration, `s:Envelope`, `s:Body`, `<u:Action xmlns:u="type">`, one
/// child per argument in the given order, every value (and the service type) XML-escaped.
pub fn build_request(service_type: &str, action: &str, args: &[(&str, &str)]) -> String {
    let mut body = String::with_capacity(envelope_len(service_type, action, args));
    write_envelope(&mut body, service_type, action, args);
    body
}

/// The length in bytes of the envelope [`build_request`] builds, without building it (an HTTP
/// request states it before the body).
pub fn envelope_len(service_type: &str, action: &str, args: &[(&str, &str)]) -> usize {
    let fixed: usize = ENVELOPE_START.iter().map(|piece| piece.len()).sum::<usize>() + " xmlns:u=\"".len() + "\">".len() + "</u:".len();
    let args_len: usize = args.iter().map(|(name, value)| 2 * name.len() + "<></>".len() + escaped_len(value)).sum();
    fixed + 2 * action.len() + escaped_len(service_type) + args_len + ENVELOPE_END.len()
}

/// Appends the envelope of [`build_request`] to `out` (the request's bytes, so the body is
/// written once, where it is sent from).
pub fn write_envelope_bytes(out: &mut Vec<u8>, service_type: &str, action: &str, args: &[(&str, &str)]) {
    write_envelope(out, service_type, action, args);
}

fn write_envelope(out: &mut impl Sink, service_type: &str, action: &str, args: &[(&str, &str)]) {
    // Pushed piece by piece into one buffer of the right size: `format!` per piece was about
    // a seventh of a SOAP call's instructions (docs/benchmarks.md, "Cost of one add/delete call").
    ENVELOPE_START.iter().for_each(|piece| out.put(piece));
    out.put(action);
    out.put(" xmlns:u=\"");
    push_escaped(out, service_type);
    out.put("\">");
    for (name, value) in args {
        out.put("<");
        out.put(name);
        out.put(">");
        push_escaped(out, value);
        out.put("</");
        out.put(name);
        out.put(">");
    }
    out.put("</u:");
    out.put(action);
    out.put(ENVELOPE_END);
}

/// A SOAP answer: its leaf values, or the router's fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SoapAnswer {
    /// No `errorCode` anywhere: every leaf element as (local name, text), in document order.
    Values(Vec<(String, String)>),
    /// An `errorCode` element was present.
    Fault(Fault),
}

/// Looks up the first leaf called `name`.
pub fn value_of<'a>(values: &'a [(String, String)], name: &str) -> Option<&'a str> {
    values.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// Most leaves kept from one answer.
const MAX_LEAVES: usize = 256;

/// Parses a SOAP answer body (no XML prolog needed). An `errorCode` element anywhere makes it a
/// fault, even if the XML breaks later; its text is read as C's `sscanf("%d")` reads it
/// ([`parse_error_code`]). Otherwise malformed XML is an error (the reason as text).
pub fn parse_answer(body: &str) -> Result<SoapAnswer, String> {
    let mut values: Vec<(String, String)> = Vec::new();
    let mut error_code: Option<i32> = None;
    let mut error_description = String::new();
    let result = walk(body, |node| {
        if let Node::Leaf(path, value) = node {
            let name = path.last().unwrap_or_default();
            match name {
                "errorCode" if error_code.is_none() => error_code = Some(parse_error_code(value)),
                "errorDescription" if error_description.is_empty() => error_description = value.trim().to_string(),
                _ => {}
            }
            if values.len() < MAX_LEAVES {
                values.push((name.to_string(), value.to_string()));
            }
        }
    });
    if let Some(code) = error_code {
        return Ok(SoapAnswer::Fault(Fault { code: UpnpErrorCode::from_code(code), description: error_description }));
    }
    result.map(|()| SoapAnswer::Values(values))
}

/// Reads an `errorCode` text the way miniupnpc does (`sscanf(text, "%d", &code)` with `code`
/// preset to -1, godot-upnp-spec §3.3): leading white space is skipped, an optional sign and
/// the digits that follow are read, anything after them is ignored (`"718abc"` is 718), and text
/// without leading digits is -1. Values beyond `i32` saturate instead of being undefined.
pub fn parse_error_code(text: &str) -> i32 {
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit);
    let mut value: i64 = 0;
    let mut any = false;
    for digit in digits {
        any = true;
        value = (value * 10 + i64::from(digit - b'0')).min(i64::from(i32::MAX) + 1);
    }
    if !any {
        return -1;
    }
    let value = if negative { -value } else { value };
    value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(http: &str) -> &str {
        http.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
    }

    #[test]
    fn request_matches_the_real_request_shape() {
        let real = include_str!("../../../../tests/data/miniupnpd/soap/AddPortMapping-ok.request.xml");
        let service = "urn:schemas-upnp-org:service:WANIPConnection:2";
        let args: Vec<(&str, &str)> = actions::ADD_PORT_MAPPING_ARGS
            .iter()
            .copied()
            .zip(["", "7777", "TCP", "7777", "10.77.0.2", "1", "test", "3600"])
            .collect();
        let built = build_request(service, actions::ADD_PORT_MAPPING, &args);
        assert_eq!(built, real);
        assert!(built.starts_with("<?xml version=\"1.0\"?>"));
        assert!(built.contains("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:AddPortMapping xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:2\"><NewRemoteHost></NewRemoteHost><NewExternalPort>7777</NewExternalPort>"));
        assert!(built.contains("<NewLeaseDuration>3600</NewLeaseDuration></u:AddPortMapping></s:Body></s:Envelope>"));
        for (name, value) in &args {
            assert!(real.contains(&format!("<{name}>")), "real request has {name}");
            assert!(built.contains(&format!("<{name}>{value}</{name}>")));
        }
        match parse_answer(&built).unwrap() {
            SoapAnswer::Values(values) => assert_eq!(value_of(&values, "NewInternalClient"), Some("10.77.0.2")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn values_are_escaped_and_round_trip() {
        let built = build_request("urn:x", "AddPortMapping", &[("NewPortMappingDescription", "<a & \"b\" 'c'>")]);
        assert!(built.contains("<NewPortMappingDescription>&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;</NewPortMappingDescription>"));
        match parse_answer(&built).unwrap() {
            SoapAnswer::Values(values) => assert_eq!(value_of(&values, "NewPortMappingDescription"), Some("<a & \"b\" 'c'>")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_envelope_length_is_stated_before_it_is_built() {
        let services = ["urn:schemas-upnp-org:service:WANIPConnection:2", "urn:<&>\"'", ""];
        let values = ["", "7777", "gdnat bench", "<a & \"b\" 'c'>", "&&&&", "é ü 漢字 <>", "'"];
        for service in services {
            for value in values {
                let args = [("NewRemoteHost", ""), ("NewPortMappingDescription", value), ("NewLeaseDuration", "0")];
                let built = build_request(service, "AddPortMapping", &args);
                assert_eq!(envelope_len(service, "AddPortMapping", &args), built.len(), "{service:?} {value:?}");
                let mut bytes = Vec::new();
                write_envelope_bytes(&mut bytes, service, "AddPortMapping", &args);
                assert_eq!(bytes, built.as_bytes());
            }
            assert_eq!(envelope_len(service, "GetExternalIPAddress", &[]), build_request(service, "GetExternalIPAddress", &[]).len());
        }
        assert_eq!(xml_escape("<a & \"b\" 'c'>"), "&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;");
        assert_eq!(escaped_len("<a & \"b\" 'c'>"), xml_escape("<a & \"b\" 'c'>").len());
    }

    #[test]
    fn soap_action_is_quoted() {
        assert_eq!(soap_action_header("urn:schemas-upnp-org:service:WANIPConnection:1", "GetExternalIPAddress"),
            "\"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress\"");
    }

    #[test]
    fn parses_real_success_answers() {
        let http = include_str!("../../../../tests/data/miniupnpd/soap/GetGenericPortMappingEntry-0.response.http");
        let SoapAnswer::Values(values) = parse_answer(body_of(http)).unwrap() else { panic!("fault") };
        assert_eq!(value_of(&values, "NewExternalPort"), Some("7777"));
        assert_eq!(value_of(&values, "NewRemoteHost"), Some(""));
        assert_eq!(value_of(&values, "NewLeaseDuration"), Some("3600"));
        let http = include_str!("../../../../tests/data/miniupnpd/no-public-ip/soap/GetExternalIPAddress-empty.response.http");
        let SoapAnswer::Values(values) = parse_answer(body_of(http)).unwrap() else { panic!("fault") };
        assert_eq!(value_of(&values, "NewExternalIPAddress"), Some(""));
    }

    #[test]
    fn parses_real_faults_without_prolog() {
        let cases = [
            (include_str!("../../../../tests/data/miniupnpd/soap/GetSpecificPortMappingEntry-error-714.response.http"), 714, UpnpErrorCode::NoSuchEntryInArray),
            (include_str!("../../../../tests/data/miniupnpd/soap/AddPortMapping-error-718-conflict.response.http"), 718, UpnpErrorCode::ConflictInMappingEntry),
            (include_str!("../../../../tests/data/miniupnpd/soap/AddPortMapping-error-716-port-0.response.http"), 716, UpnpErrorCode::WildCardNotPermittedInExtPort),
            (include_str!("../../../../tests/data/miniupnpd/soap/GetGenericPortMappingEntry-error-713.response.http"), 713, UpnpErrorCode::SpecifiedArrayIndexInvalid),
            (include_str!("../../../../tests/data/miniupnpd/soap/UnknownAction-error-401.response.http"), 401, UpnpErrorCode::InvalidAction),
            (include_str!("../../../../tests/data/miniupnpd/no-public-ip/soap/AddPortMapping-error-forwarding-disabled.response.http"), 501, UpnpErrorCode::ActionFailed),
        ];
        for (http, number, code) in cases {
            assert!(!body_of(http).starts_with("<?xml"));
            match parse_answer(body_of(http)).unwrap() {
                SoapAnswer::Fault(fault) => {
                    assert_eq!(fault.code, code);
                    assert_eq!(fault.code.code(), number);
                }
                other => panic!("{other:?}"),
            }
        }
        let SoapAnswer::Fault(fault) = parse_answer(body_of(cases[2].0)).unwrap() else { panic!() };
        assert_eq!(fault.description, "Wildcard not permited in ExtPort");
    }

    #[test]
    fn non_numeric_error_code_is_minus_one() {
        let body = "<Envelope><Body><Fault><detail><UPnPError><errorCode> abc </errorCode></UPnPError></detail></Fault></Body></Envelope>";
        assert_eq!(parse_answer(body).unwrap(), SoapAnswer::Fault(Fault { code: UpnpErrorCode::Other(-1), description: String::new() }));
        let body = "<e><errorCode>799</errorCode><errorDescription>Odd</errorDescription></e>";
        assert_eq!(parse_answer(body).unwrap(), SoapAnswer::Fault(Fault { code: UpnpErrorCode::Other(799), description: "Odd".into() }));
    }

    #[test]
    fn error_codes_are_read_like_sscanf_percent_d() {
        let cases = [
            ("718", 718),
            (" 718 ", 718),
            ("\n\t725", 725),
            ("718abc", 718),
            ("+606", 606),
            ("-2", -2),
            ("0", 0),
            ("abc", -1),
            ("", -1),
            ("-", -1),
            ("+x1", -1),
            ("x718", -1),
            ("99999999999999999999", i32::MAX),
            ("-99999999999999999999", i32::MIN),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_error_code(text), expected, "errorCode text {text:?}");
        }
        let body = "<e><errorCode>718abc</errorCode></e>";
        assert!(matches!(parse_answer(body), Ok(SoapAnswer::Fault(Fault { code: UpnpErrorCode::ConflictInMappingEntry, .. }))));
    }

    #[test]
    fn fault_wins_even_in_broken_xml() {
        let body = "<s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>718</errorCode><errorDescription>x";
        assert!(matches!(parse_answer(body), Ok(SoapAnswer::Fault(Fault { code: UpnpErrorCode::ConflictInMappingEntry, .. }))));
    }

    #[test]
    fn malformed_and_garbage_are_errors_not_panics() {
        assert!(parse_answer("<a><b>1</b>").is_err());
        assert!(parse_answer("<html><body>oops</p></html>").is_err());
        let junk: String = (0..20_000u32).filter_map(char::from_u32).collect();
        let _ = parse_answer(&junk);
        assert_eq!(parse_answer("").unwrap(), SoapAnswer::Values(vec![]));
        let many = format!("<r>{}</r>", "<a>1</a>".repeat(50_000));
        let SoapAnswer::Values(values) = parse_answer(&many).unwrap() else { panic!() };
        assert_eq!(values.len(), MAX_LEAVES);
    }
}

//! SOAP: parsing an action request body and building success and fault answers exactly like
//! miniupnpd (success with an XML prolog, faults without).

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use crate::xml::escape_text;

/// The SOAP envelope opening used by miniupnpd.
const ENVELOPE_OPEN: &str = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>";
/// The SOAP envelope closing.
const ENVELOPE_CLOSE: &str = "</s:Body></s:Envelope>";

/// A parsed SOAP action request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapCall {
    /// Local name of the action element inside `Body` (namespace prefix removed).
    pub action: String,
    /// The action's direct child elements: (local name, unescaped text), in document order.
    pub args: Vec<(String, String)>,
}

impl SoapCall {
    /// The unescaped text of the first argument with this local name.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a SOAP body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapParseError {
    /// The body is not well-formed XML (or uses an unknown entity).
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// No `Envelope`/`Body` with an action element.
    #[error("no action element inside a SOAP Body")]
    NoAction,
}

/// Local name of an element name (the part after the last `:`).
fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => name.to_string(),
    }
}

/// Parses a SOAP request body: finds `Envelope/Body/<Action>` (any prefixes) and its direct
/// children's text, with entity and character references resolved.
pub fn parse_call(body: &str) -> Result<SoapCall, SoapParseError> {
    let mut reader = Reader::from_str(body);
    // Element path of local names from the document root.
    let mut path: Vec<String> = Vec::new();
    let mut call: Option<SoapCall> = None;
    let mut current_arg: Option<(String, String)> = None;
    let mut done = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| SoapParseError::Malformed(e.to_string()))?;
        match event {
            Event::Start(e) => {
                let name = local(e.name().as_ref());
                on_open(&path, &name, &mut call, &mut current_arg, done);
                path.push(name);
            }
            Event::Empty(e) => {
                let name = local(e.name().as_ref());
                on_open(&path, &name, &mut call, &mut current_arg, done);
                on_close(path.len(), &mut call, &mut current_arg, &mut done);
            }
            Event::End(_) => {
                path.pop();
                on_close(path.len(), &mut call, &mut current_arg, &mut done);
            }
            Event::Text(t) => {
                if let Some((_, v)) = current_arg.as_mut() {
                    v.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some((_, v)) = current_arg.as_mut() {
                    v.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved: String = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match quick_xml::escape::resolve_predefined_entity(&r) {
                        Some(s) => s.to_string(),
                        None => {
                            return Err(SoapParseError::Malformed(format!(
                                "unknown entity &{};",
                                &*r
                            )))
                        }
                    },
                    Err(e) => return Err(SoapParseError::Malformed(e.to_string())),
                };
                if let Some((_, v)) = current_arg.as_mut() {
                    v.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err(SoapParseError::Malformed("unclosed elements".into()));
    }
    call.filter(|_| done).ok_or(SoapParseError::NoAction)
}

/// Depth of the action element: Envelope(0)/Body(1)/Action(2); arguments at depth 3.
const ACTION_DEPTH: usize = 2;

fn on_open(
    path: &[String],
    name: &str,
    call: &mut Option<SoapCall>,
    current_arg: &mut Option<(String, String)>,
    done: bool,
) {
    if done {
        return;
    }
    let in_body = path.len() >= 2 && path[0] == "Envelope" && path[1] == "Body";
    if path.len() == ACTION_DEPTH && in_body && call.is_none() {
        *call = Some(SoapCall {
            action: name.to_string(),
            args: Vec::new(),
        });
    } else if path.len() == ACTION_DEPTH + 1 && in_body && call.is_some() {
        *current_arg = Some((name.to_string(), String::new()));
    }
}

/// Called after an element at `depth` (its depth from the root) is closed.
fn on_close(
    depth: usize,
    call: &mut Option<SoapCall>,
    current_arg: &mut Option<(String, String)>,
    done: &mut bool,
) {
    if *done {
        return;
    }
    if depth == ACTION_DEPTH + 1 {
        if let (Some(c), Some(a)) = (call.as_mut(), current_arg.take()) {
            c.args.push(a);
        }
    } else if depth == ACTION_DEPTH && call.is_some() {
        *done = true;
    }
}

/// Builds a success answer body (ending in CRLF like miniupnpd's): prolog, envelope and `<u:{action}Response xmlns:u="{service_type}">`
/// with the given output arguments (escaped).
pub fn build_response(service_type: &str, action: &str, outputs: &[(&str, String)]) -> String {
    let mut s = String::with_capacity(512);
    s.push_str("<?xml version=\"1.0\"?>\r\n");
    s.push_str(ENVELOPE_OPEN);
    s.push_str(&format!(
        "<u:{action}Response xmlns:u=\"{}\">",
        escape_text(service_type)
    ));
    for (name, value) in outputs {
        s.push_str(&format!("<{name}>{}</{name}>", escape_text(value)));
    }
    s.push_str(&format!("</u:{action}Response>"));
    s.push_str(ENVELOPE_CLOSE);
    s.push_str("\r\n");
    s
}

/// Builds a UPnP fault body (sent with HTTP 500), without XML prolog like miniupnpd.
pub fn build_fault(code: u16, description: &str) -> String {
    format!(
        "{ENVELOPE_OPEN}<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>{code}</errorCode><errorDescription>{}</errorDescription></UPnPError></detail></s:Fault>{ENVELOPE_CLOSE}",
        escape_text(description)
    )
}

/// The standard description of a UPnP error code (miniupnpd's wording where it has one).
pub fn error_description(code: u16) -> &'static str {
    match code {
        401 => "Invalid Action",
        402 => "Invalid Args",
        501 => "ActionFailed",
        600 => "Argument Value Invalid",
        601 => "Argument Value Out of Range",
        605 => "String Argument Too Long",
        606 => "Action not authorized",
        713 => "SpecifiedArrayIndexInvalid",
        714 => "NoSuchEntryInArray",
        715 => "WildCardNotPermittedInSrcIP",
        716 => "WildCardNotPermittedInExtPort",
        718 => "ConflictInMappingEntry",
        724 => "SamePortValuesRequired",
        725 => "OnlyPermanentLeasesSupported",
        726 => "RemoteHostOnlySupportsWildcard",
        727 => "ExternalPortOnlySupportsWildcard",
        728 => "NoPortMapsAvailable",
        729 => "ConflictWithOtherMechanisms",
        732 => "WildCardNotPermittedInIntPort",
        _ => "UPnPError",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/miniupnpd/soap/"
    );

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}{name}")).expect("fixture")
    }

    fn fixture_body(name: &str) -> String {
        let http = fixture(name);
        http.split_once("\r\n\r\n").expect("http").1.to_string()
    }

    #[test]
    fn parses_the_real_add_port_mapping_request() {
        let call = parse_call(&fixture("AddPortMapping-ok.request.xml")).unwrap();
        assert_eq!(call.action, "AddPortMapping");
        assert_eq!(call.args.len(), 8);
        assert_eq!(call.arg("NewRemoteHost"), Some(""));
        assert_eq!(call.arg("NewExternalPort"), Some("7777"));
        assert_eq!(call.arg("NewInternalClient"), Some("10.77.0.2"));
        assert_eq!(call.arg("NewPortMappingDescription"), Some("test"));
        assert_eq!(call.arg("Missing"), None);
    }

    #[test]
    fn parses_empty_action_and_other_prefixes_and_entities() {
        let call = parse_call(&fixture("GetStatusInfo.request.xml")).unwrap();
        assert_eq!(call.action, "GetStatusInfo");
        assert!(call.args.is_empty());
        let body = "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"><SOAP-ENV:Body><m:AddPortMapping xmlns:m=\"x\"><NewPortMappingDescription>a &amp; b &lt;c&gt; &#233;&#x41;</NewPortMappingDescription><NewEnabled/></m:AddPortMapping></SOAP-ENV:Body></SOAP-ENV:Envelope>";
        let call = parse_call(body).unwrap();
        assert_eq!(call.action, "AddPortMapping");
        assert_eq!(call.arg("NewPortMappingDescription"), Some("a & b <c> éA"));
        assert_eq!(call.arg("NewEnabled"), Some(""));
        let empty = "<Envelope><Body><X/></Body></Envelope>";
        assert_eq!(parse_call(empty).unwrap().action, "X");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_call("").is_err());
        assert!(parse_call("not xml at all").is_err());
        assert!(parse_call("<a><b></a>").is_err());
        assert!(parse_call("<Envelope><Body></Body></Envelope>").is_err());
        assert!(parse_call("<Envelope><Body><X>&bogus;</X></Body></Envelope>").is_err());
        assert!(parse_call("<Envelope><Body><X><A>1</A>").is_err());
    }

    #[test]
    fn builds_bodies_identical_to_miniupnpd() {
        let st = "urn:schemas-upnp-org:service:WANIPConnection:2";
        assert_eq!(
            build_response(
                st,
                "GetConnectionTypeInfo",
                &[
                    ("NewConnectionType", "IP_Routed".into()),
                    ("NewPossibleConnectionTypes", "IP_Routed".into()),
                ]
            ),
            fixture_body("GetConnectionTypeInfo.response.http")
        );
        assert_eq!(
            build_fault(718, "ConflictInMappingEntry"),
            fixture_body("AddPortMapping-error-718-conflict.response.http")
        );
        assert_eq!(
            build_fault(401, error_description(401)),
            fixture_body("UnknownAction-error-401.response.http")
        );
    }

    #[test]
    fn garbage_never_panics() {
        // Deterministic pseudo-random documents built from XML-ish pieces.
        let pieces = [
            "<",
            ">",
            "</",
            "/>",
            "s:",
            "Envelope",
            "Body",
            "u:Add",
            "&amp;",
            "&#x0;",
            "&#99999999;",
            "&",
            "<![CDATA[",
            "]]>",
            "<?xml ?>",
            "\"",
            "=",
            " ",
            "x",
            "é",
            "<!--",
            "-->",
            "<!DOCTYPE a>",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut ok = 0;
        for _ in 0..3000 {
            let mut doc = String::new();
            for _ in 0..(seed % 40) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                doc.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            if parse_call(&doc).is_ok() {
                ok += 1;
            }
        }
        println!("{ok} of 3000 random documents parsed as calls");
    }

    #[test]
    fn escapes_written_values() {
        let s = build_response("t", "A", &[("NewPortMappingDescription", "a<b>&\"".into())]);
        assert!(s.contains(
            "<NewPortMappingDescription>a&lt;b&gt;&amp;&quot;</NewPortMappingDescription>"
        ));
        assert_eq!(
            parse_call(&s).unwrap().arg("NewPortMappingDescription"),
            Some("a<b>&\"")
        );
    }
}

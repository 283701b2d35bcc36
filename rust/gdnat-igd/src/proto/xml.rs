//! A tolerant walk over an XML document that ignores namespace prefixes, shared by the
//! description and SOAP parsers.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Deepest element nesting accepted; deeper documents are rejected as malformed.
const MAX_DEPTH: usize = 128;
/// Longest text kept per element; the rest is dropped.
const MAX_TEXT: usize = 16 * 1024;

/// What the walk reports, with the local names of the open elements (outermost first, the
/// element concerned last).
pub(crate) enum Node<'a> {
    /// An element ended that had no child elements, with its text (entities resolved).
    Leaf(&'a [String], &'a str),
    /// An element ended (reported after `Leaf` for leaves).
    End(&'a [String]),
}

struct Open {
    text: String,
    has_child: bool,
}

/// Walks `xml`, calling `visit` for every leaf and every end of element. Stops at the first
/// well-formedness error and returns it as text; everything before it was already visited.
pub(crate) fn walk(xml: &str, mut visit: impl FnMut(Node<'_>)) -> Result<(), String> {
    let mut reader = Reader::from_str(xml);
    // Routers write "AT&T" unescaped; keep such a bare `&` as text instead of failing.
    reader.config_mut().allow_dangling_amp = true;
    let mut names: Vec<String> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| format!("{e} at byte {}", reader.error_position()))?;
        match event {
            Event::Start(start) => {
                if names.len() >= MAX_DEPTH {
                    return Err(format!("elements nested deeper than {MAX_DEPTH}"));
                }
                if let Some(parent) = open.last_mut() {
                    parent.has_child = true;
                }
                names.push(start.local_name().as_ref().to_string());
                open.push(Open { text: String::new(), has_child: false });
            }
            Event::Empty(start) => {
                if let Some(parent) = open.last_mut() {
                    parent.has_child = true;
                }
                names.push(start.local_name().as_ref().to_string());
                visit(Node::Leaf(&names, ""));
                visit(Node::End(&names));
                names.pop();
            }
            Event::End(_) => {
                let Some(element) = open.pop() else {
                    return Err("end tag without a start tag".into());
                };
                if !element.has_child {
                    visit(Node::Leaf(&names, &element.text));
                }
                visit(Node::End(&names));
                names.pop();
            }
            Event::Text(text) => append(&mut open, &text.xml10_content()),
            Event::CData(data) => append(&mut open, &data.xml10_content()),
            Event::GeneralRef(reference) => {
                let name = reference.xml10_content();
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(ch)) => ch.to_string(),
                    Ok(None) => match name.as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => format!("&{other};"),
                    },
                    Err(_) => format!("&{name};"),
                };
                append(&mut open, &resolved);
            }
            Event::Eof => {
                return match names.last() {
                    Some(name) => Err(format!("document ends inside <{name}>")),
                    None => Ok(()),
                };
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

fn append(open: &mut [Open], text: &str) {
    if let Some(element) = open.last_mut() {
        let room = MAX_TEXT.saturating_sub(element.text.len());
        if text.len() <= room {
            element.text.push_str(text);
        } else {
            let mut end = room;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            element.text.push_str(&text[..end]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(xml: &str) -> (Vec<(String, String)>, Result<(), String>) {
        let mut found = Vec::new();
        let result = walk(xml, |node| {
            if let Node::Leaf(path, value) = node {
                found.push((path.join("/"), value.to_string()));
            }
        });
        (found, result)
    }

    #[test]
    fn prefixes_are_ignored_and_entities_resolved() {
        let (found, result) = leaves("<a:x xmlns:a='n'><a:y>1 &amp; 2 &lt;&#65;&#x42;&gt; &unknown;</a:y><z/></a:x>");
        assert_eq!(result, Ok(()));
        assert_eq!(found, vec![("x/y".into(), "1 & 2 <AB> &unknown;".into()), ("x/z".into(), String::new())]);
    }

    #[test]
    fn a_bare_ampersand_is_text() {
        let (found, result) = leaves("<r><friendlyName>AT&T Box</friendlyName></r>");
        assert_eq!(result, Ok(()));
        assert_eq!(found, vec![("r/friendlyName".into(), "AT&T Box".into())]);
    }

    #[test]
    fn truncated_and_mismatched_documents_fail() {
        assert!(leaves("<a><b>1</b>").1.is_err());
        assert!(leaves("<a><b>1</c></a>").1.is_err());
        assert!(leaves("</a>").1.is_err());
        assert!(leaves("<a>").1.is_err());
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflow() {
        let xml = "<a>".repeat(100_000);
        assert!(leaves(&xml).1.is_err());
    }
}

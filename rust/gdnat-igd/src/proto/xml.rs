//! A tolerant walk over an XML document that ignores namespace prefixes, shared by the
//! description and SOAP parsers.

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::Reader;

/// Deepest element nesting accepted; deeper documents are rejected as malformed.
const MAX_DEPTH: usize = 128;
/// Longest text kept per element; the rest is dropped.
const MAX_TEXT: usize = 16 * 1024;

/// The local names of the open elements, outermost first, the element concerned last.
#[derive(Clone, Copy)]
pub(crate) struct Path<'p> {
    /// The names one after the other.
    names: &'p str,
    /// Where each name ends in `names`.
    ends: &'p [usize],
}

impl<'p> Path<'p> {
    /// How many elements are open.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The name of the `index`-th open element (0 is the outermost).
    pub(crate) fn get(&self, index: usize) -> Option<&'p str> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        self.names.get(start..end)
    }

    /// The name of the element concerned.
    pub(crate) fn last(&self) -> Option<&'p str> {
        self.len().checked_sub(1).and_then(|index| self.get(index))
    }
}

/// What the walk reports.
pub(crate) enum Node<'p> {
    /// An element ended that had no child elements, with its text (entities resolved).
    Leaf(Path<'p>, &'p str),
    /// An element ended (reported after `Leaf` for leaves).
    End(Path<'p>),
}

/// The open elements: their local names in one buffer (two allocations per document, however
/// many elements it has), and the text of the innermost one while it may still be a leaf.
struct OpenElements<'a> {
    names: String,
    ends: Vec<usize>,
    /// Text of the innermost element, borrowed from the document until a second piece (or an
    /// entity, or a line end to normalise) makes it owned.
    text: Cow<'a, str>,
    /// Whether the innermost element has had no child element so far.
    leaf: bool,
}

impl<'a> OpenElements<'a> {
    fn path(&self) -> Path<'_> {
        Path { names: &self.names, ends: &self.ends }
    }

    /// Opens an element. A start tag deeper than [`MAX_DEPTH`] is an error (an empty-element
    /// tag closes at once, so it never makes the nesting deeper).
    fn open(&mut self, local_name: &str, start_tag: bool) -> Result<(), String> {
        if start_tag && self.ends.len() >= MAX_DEPTH {
            return Err(format!("elements nested deeper than {MAX_DEPTH}"));
        }
        self.names.push_str(local_name);
        self.ends.push(self.names.len());
        self.text = Cow::Borrowed("");
        self.leaf = true;
        Ok(())
    }

    fn close(&mut self) {
        self.ends.pop();
        self.names.truncate(self.ends.last().copied().unwrap_or(0));
        // The parent has had a child: its text no longer matters.
        self.leaf = false;
        self.text = Cow::Borrowed("");
    }

    /// Whether text now would be kept: the innermost element may still be a leaf. (Text
    /// elsewhere, such as the line ends between elements, is not even decoded.)
    fn wants_text(&self) -> bool {
        self.leaf && !self.ends.is_empty()
    }

    /// Adds text to the innermost element, if it may still be a leaf, up to [`MAX_TEXT`].
    fn append(&mut self, text: Cow<'a, str>) {
        if !self.wants_text() || text.is_empty() {
            return;
        }
        if self.text.is_empty() && text.len() <= MAX_TEXT {
            self.text = text;
            return;
        }
        let room = MAX_TEXT.saturating_sub(self.text.len());
        let mut end = room.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.text.to_mut().push_str(&text[..end]);
    }
}

/// Walks `xml`, calling `visit` for every leaf and every end of element. Stops at the first
/// well-formedness error and returns it as text; everything before it was already visited.
pub(crate) fn walk(xml: &str, mut visit: impl FnMut(Node<'_>)) -> Result<(), String> {
    let mut reader = Reader::from_str(xml);
    // Routers write "AT&T" unescaped; keep such a bare `&` as text instead of failing.
    reader.config_mut().allow_dangling_amp = true;
    let mut open =
        OpenElements { names: String::with_capacity(128), ends: Vec::with_capacity(16), text: Cow::Borrowed(""), leaf: false };
    loop {
        let event = reader.read_event().map_err(|e| format!("{e} at byte {}", reader.error_position()))?;
        match event {
            Event::Start(start) => open.open(start.local_name().as_ref(), true)?,
            Event::Empty(start) => {
                open.open(start.local_name().as_ref(), false)?;
                visit(Node::Leaf(open.path(), ""));
                visit(Node::End(open.path()));
                open.close();
            }
            Event::End(_) => {
                if open.ends.is_empty() {
                    return Err("end tag without a start tag".into());
                }
                if open.leaf {
                    let text = std::mem::take(&mut open.text);
                    visit(Node::Leaf(open.path(), &text));
                }
                visit(Node::End(open.path()));
                open.close();
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) if !open.wants_text() => {}
            Event::Text(text) => open.append(text.xml10_content()),
            Event::CData(data) => open.append(data.xml10_content()),
            Event::GeneralRef(reference) => {
                let name = reference.xml10_content();
                let resolved: Cow<'_, str> = match reference.resolve_char_ref() {
                    Ok(Some(ch)) => ch.to_string().into(),
                    Ok(None) => match name.as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => format!("&{other};").into(),
                    },
                    Err(_) => format!("&{name};").into(),
                };
                open.append(resolved);
            }
            Event::Eof => {
                return match open.path().last() {
                    Some(name) => Err(format!("document ends inside <{name}>")),
                    None => Ok(()),
                };
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
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
                let names: Vec<&str> = (0..path.len()).filter_map(|i| path.get(i)).collect();
                found.push((names.join("/"), value.to_string()));
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

//! XML text helpers shared by the description and SOAP builders.

use std::borrow::Cow;

/// Escapes `&`, `<`, `>`, `'` and `"` for use in element text or attribute values.
pub fn escape_text(raw: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(raw)
}

//! Turning a normal answer into a faulty one (malformed, truncated, oversized bodies).

use crate::config::{FaultKind, FaultRule, FaultTarget, OVERSIZED_BODY_LEN};
use crate::http::HttpResponse;

/// The rules of `faults` that apply to `target`, in order (rules for [`FaultTarget::Any`],
/// and [`FaultTarget::AnyAction`] for actions, included).
pub fn matching<'a>(faults: &'a [FaultRule], target: &FaultTarget) -> Vec<&'a FaultKind> {
    let is_action = matches!(target, FaultTarget::Action(_));
    faults
        .iter()
        .filter(|r| {
            r.target == *target
                || r.target == FaultTarget::Any
                || (is_action && r.target == FaultTarget::AnyAction)
        })
        .map(|r| &r.kind)
        .collect()
}

/// A body that starts like `normal` but is not well-formed XML: cut in the middle of the
/// document, then a stray `<`, an unknown entity and a mismatched end tag.
pub fn malformed(normal: &str) -> HttpResponse {
    let cut = floor_char_boundary(normal, normal.len() * 2 / 3);
    let body = format!("{}<<&bogus;</broken-{}>", &normal[..cut], cut);
    HttpResponse::xml(200, body)
}

/// Announces the full length of `normal` but carries only its first half.
pub fn truncated(status: u16, normal: &str) -> HttpResponse {
    let cut = floor_char_boundary(normal, normal.len() / 2);
    HttpResponse {
        status,
        body: normal.as_bytes()[..cut].to_vec(),
        declared_len: normal.len(),
        xml: true,
    }
}

/// `normal` followed by an XML comment padding the body to [`OVERSIZED_BODY_LEN`] bytes
/// (still well-formed: only a size cap rejects it).
pub fn oversized(status: u16, normal: &str) -> HttpResponse {
    let mut body = String::with_capacity(OVERSIZED_BODY_LEN);
    body.push_str(normal);
    body.push_str("\n<!--");
    let pad = OVERSIZED_BODY_LEN.saturating_sub(body.len() + 3);
    body.extend(std::iter::repeat_n('x', pad));
    body.push_str("-->");
    HttpResponse::xml(status, body)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "<?xml version=\"1.0\"?>\n<root><a>é</a><b>text</b></root>";

    #[test]
    fn shapes() {
        let m = malformed(DOC);
        let s = String::from_utf8(m.body.clone()).unwrap();
        assert!(s.starts_with("<?xml"));
        assert_eq!(m.declared_len, m.body.len());
        let mut reader = quick_xml::Reader::from_str(&s);
        let failed = loop {
            match reader.read_event() {
                Err(_) => break true,
                Ok(quick_xml::events::Event::Eof) => break false,
                Ok(_) => {}
            }
        };
        assert!(failed, "malformed body parsed fine: {s}");
        let t = truncated(200, DOC);
        assert!(t.body.len() < t.declared_len);
        assert_eq!(t.declared_len, DOC.len());
        let o = oversized(200, DOC);
        assert_eq!(o.body.len(), OVERSIZED_BODY_LEN);
        assert!(o.body.starts_with(DOC.as_bytes()));
        assert!(o.body.ends_with(b"-->"));
    }

    #[test]
    fn matching_includes_any() {
        let rules = vec![
            FaultRule {
                target: FaultTarget::Action("A".into()),
                kind: FaultKind::Hang,
            },
            FaultRule {
                target: FaultTarget::Any,
                kind: FaultKind::Http500Empty,
            },
            FaultRule {
                target: FaultTarget::Description,
                kind: FaultKind::Truncated,
            },
            FaultRule {
                target: FaultTarget::AnyAction,
                kind: FaultKind::Oversized,
            },
        ];
        assert_eq!(
            matching(&rules, &FaultTarget::Action("A".into())),
            vec![
                &FaultKind::Hang,
                &FaultKind::Http500Empty,
                &FaultKind::Oversized
            ]
        );
        assert_eq!(
            matching(&rules, &FaultTarget::Description),
            vec![&FaultKind::Http500Empty, &FaultKind::Truncated]
        );
    }
}

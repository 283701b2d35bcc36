//! The module layering `lib.rs` describes, checked on the sources: lower layers and leaf
//! modules never name a module above them, so there is no cycle (`error` ↔ `result_code`,
//! transport → client). Comments are not code and are skipped.

use std::path::{Path, PathBuf};

/// Source files under `src/<relative>` (a file or a folder), with their code lines (comment
/// lines dropped).
fn code_of(relative: &str) -> Vec<(PathBuf, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(relative);
    let mut files = Vec::new();
    let mut pending = vec![root];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read src dir") {
                pending.push(entry.expect("dir entry").path());
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read source");
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//")).map(str::to_owned).collect();
            files.push((path, code));
        }
    }
    assert!(!files.is_empty(), "no sources under src/{relative}");
    files
}

/// Fails naming every line of `relative` that names one of `forbidden`.
fn assert_never_names(relative: &str, forbidden: &[&str]) {
    let mut offences = Vec::new();
    for (path, code) in code_of(relative) {
        for (index, line) in code.iter().enumerate() {
            for name in forbidden {
                if line.contains(name) {
                    offences.push(format!("{}:{} {name}: {}", path.display(), index + 1, line.trim()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "src/{relative} reaches up a layer:\n{}", offences.join("\n"));
}

#[test]
fn sans_io_protocol_code_names_no_transport_client_or_result_code() {
    assert_never_names("proto", &["crate::transport", "crate::client", "crate::result_code", "crate::helper_threads"]);
}

#[test]
fn transports_never_reach_up_into_the_client() {
    assert_never_names("transport", &["crate::client", "crate::result_code", "super::super"]);
}

#[test]
fn errors_and_shared_types_are_leaves() {
    assert_never_names("error.rs", &["crate::result_code", "crate::client", "crate::transport"]);
    assert_never_names("types.rs", &["crate::"]);
}

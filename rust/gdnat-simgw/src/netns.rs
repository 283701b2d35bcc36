//! The guard every test that sends SSDP calls first.

/// Panics unless the project's guard (`tests/lib/netns-guard.sh`) shows that this process is
/// not in the machine's own network namespace, so a test that multicasts SSDP and is run with
/// `--ignored` outside `tests/lib/isolated.sh` fails before a datagram is sent.
pub fn require_isolated_namespace() {
    let guard = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/lib/netns-guard.sh");
    let isolated = std::process::Command::new("bash")
        .arg(guard)
        .stdout(std::process::Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    assert!(isolated, "refusing to send SSDP: not in an isolated network namespace ({guard}); use tests/lib/isolated.sh");
}

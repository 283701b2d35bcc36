//! The guard every test that sends SSDP calls first.

/// Panics unless the project's guard (`tests/lib/netns-guard.sh`) shows that this process is
/// not in the machine's own network namespace, so a test that multicasts SSDP and is run with
/// `--ignored` outside `tests/lib/isolated.sh` fails before a datagram is sent.
pub fn require_isolated_namespace() {
    let guard = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/lib/netns-guard.sh");
    // A Windows build has no namespaces of its own to look at: under Wine, its launcher
    // (tests/wine/wine.sh) ran the same guard in the namespace of the program and of its
    // wineserver (where Wine's sockets live) and says so in GDNAT_ISOLATED_BY. Without that
    // (on a real Windows machine) SSDP tests refuse to run.
    let isolated = if cfg!(windows) {
        std::env::var("GDNAT_ISOLATED_BY").is_ok_and(|by| by.starts_with("tests/wine/wine.sh net:["))
    } else {
        std::process::Command::new("bash")
            .arg(guard)
            .stdout(std::process::Stdio::null())
            .status()
            .map(|status| status.success())
            .unwrap_or(false)
    };
    assert!(isolated, "refusing to send SSDP: not in an isolated network namespace ({guard}); use tests/lib/isolated.sh");
}

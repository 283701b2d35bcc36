# What in a Godot log means the run failed even when Godot exited 0. Sourced by
# tests/godot/run-suite.sh, tests/godot/run-async.sh and tests/demo/run-demo.sh, so they all
# judge a log the same way. (bash; no shell options changed)
#
# "[panic" is how godot-rust 0.5.5's panic hook reports every Rust panic, on any thread
# (`ERROR: [panic <file>:<line>]  <message>`, godot-core private.rs format_panic_message);
# "panicked" is Rust's default hook (a panic before the extension is initialised); the other
# two are Godot's leak reports at exit.
GDNAT_BAD_LOG_PATTERNS=("[panic" "panicked" "leaked at exit" "ObjectDB instances leaked")

# gdnat_bad_log_line LOG: prints the first line of LOG that has one of the patterns (fixed
# strings) and returns 0, or prints nothing and returns 1.
gdnat_bad_log_line() {
    local pattern line
    for pattern in "${GDNAT_BAD_LOG_PATTERNS[@]}"; do
        line=$(grep -a -m1 -F -- "$pattern" "$1" 2>/dev/null) && { echo "$line"; return 0; }
    done
    return 1
}

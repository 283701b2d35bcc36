//! What may run on which thread.
//!
//! The blocking methods, the properties, the device list and the constants of both classes
//! work on any thread in the default build (godot-rust's `experimental-threads`, see
//! docs/threads.md): they touch only the object itself and plain Rust data.
//!
//! The `*_async` twins are the exception: their results are delivered by the main-thread pump
//! ([`crate::delivery`]), which finds the object again by its instance id. An object that a
//! `Thread` owns may be freed by that thread at any moment, also while the pump looks it up, so
//! the twins refuse to start off the main thread: [`refuse_async_off_main_thread`] prints one
//! clear error and the twin returns [`REFUSED_OFF_MAIN_THREAD`] without queuing anything (no
//! signal follows). In the `engine-names` build godot-rust itself refuses every call from another
//! thread before this code runs.

use std::fmt::Display;

use gdnat_igd::UpnpResult;
use godot::global::godot_error;

/// What an `*_async` twin returns when it is called off the main thread:
/// `UPNP_RESULT_UNKNOWN_ERROR` (28). Nothing is queued and no signal follows.
pub const REFUSED_OFF_MAIN_THREAD: UpnpResult = UpnpResult::UnknownError;

/// `Ok` on the main thread. Elsewhere prints why `class.method()` is refused and returns the
/// code the twin must return.
pub fn refuse_async_off_main_thread(class: impl Display, method: &str) -> Result<(), i32> {
    if godot::init::is_main_thread() {
        return Ok(());
    }
    godot_error!("{}", refusal_message(&class.to_string(), method));
    Err(REFUSED_OFF_MAIN_THREAD.code())
}

/// The error printed for a refused `*_async` call.
pub fn refusal_message(class: &str, method: &str) -> String {
    format!(
        "{class}.{method}() was called from a thread other than the main thread and is refused \
         (result {code}, UPNP_RESULT_UNKNOWN_ERROR; nothing is queued, no signal follows): its \
         signal is delivered on the main thread. Call it on the main thread (for example with \
         call_deferred), or call the blocking method inside the thread.",
        code = REFUSED_OFF_MAIN_THREAD.code()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_the_call_the_code_and_the_way_out() {
        let message = refusal_message("NatUPNP", "discover_async");
        assert!(message.starts_with("NatUPNP.discover_async() was called from a thread other than the main thread"), "{message}");
        assert!(message.contains("result 28, UPNP_RESULT_UNKNOWN_ERROR"), "{message}");
        assert!(message.contains("call_deferred"), "{message}");
        assert_eq!(REFUSED_OFF_MAIN_THREAD.code(), 28);
    }
}

//! Cooperative cancellation shared between a caller and a blocking operation.
//!
//! The token lives in the leaf crate `gdnat-io` (shared by every protocol client, with the
//! socket waits it wakes); it is re-exported here so `gdnat_igd::CancelToken` and
//! `gdnat_igd::cancel::CancelToken` keep working.

pub use gdnat_io::cancel::{CancelHook, CancelToken};

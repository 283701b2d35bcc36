//! Keeps this library mapped until the process ends.
//!
//! Used only at shutdown when a worker thread is still inside one router request (which cannot
//! be interrupted and ends by itself within its HTTP bound): instead of making the game wait
//! for it, the library is pinned so that Godot's `dlclose` / `FreeLibrary` cannot unmap the
//! code that thread is still running. The thread then ends on its own (it touches no Godot
//! object) or with the process. The price is that such a library is not unloaded for an editor
//! hot reload.

use std::ffi::c_void;

/// Pins the shared library that contains this function. Returns whether it worked (false in
/// an executable, whose own image dlopen does not find by name). Exercised by the
/// quit-during-request check of tests/godot/run-async.sh, which sees the exit within about a
/// second only when pinning worked.
#[cfg(unix)]
pub fn pin_this_library() -> bool {
    use std::os::raw::{c_char, c_int};

    #[repr(C)]
    struct DlInfo {
        dli_fname: *const c_char,
        dli_fbase: *mut c_void,
        dli_sname: *const c_char,
        dli_saddr: *mut c_void,
    }

    #[cfg_attr(all(target_os = "linux", target_env = "gnu"), link(name = "dl"))]
    extern "C" {
        fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
        fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    }

    const RTLD_NOW: c_int = 2;
    #[cfg(target_vendor = "apple")]
    const RTLD_NOLOAD: c_int = 0x10;
    #[cfg(target_vendor = "apple")]
    const RTLD_NODELETE: c_int = 0x80;
    #[cfg(not(target_vendor = "apple"))]
    const RTLD_NOLOAD: c_int = 0x4;
    #[cfg(not(target_vendor = "apple"))]
    const RTLD_NODELETE: c_int = 0x1000;

    let mut info = DlInfo {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: dladdr only reads the address and fills `info`; dlopen with RTLD_NOLOAD only
    // takes one more reference on an already loaded object (the file name comes from dladdr
    // and stays valid while the library is loaded, which it is: we are running in it).
    unsafe {
        if dladdr(pin_this_library as *const c_void, &mut info) == 0 || info.dli_fname.is_null() {
            return false;
        }
        !dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE).is_null()
    }
}

/// Pins the DLL that contains this function. Returns whether it worked.
#[cfg(windows)]
pub fn pin_this_library() -> bool {
    #[link(name = "kernel32")]
    extern "system" {
        fn GetModuleHandleExW(flags: u32, module_name: *const u16, module: *mut *mut c_void) -> i32;
    }
    const GET_MODULE_HANDLE_EX_FLAG_PIN: u32 = 0x1;
    const GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS: u32 = 0x4;
    let mut module: *mut c_void = std::ptr::null_mut();
    // SAFETY: with FROM_ADDRESS the name argument is an address inside the module; PIN makes
    // the module stay loaded until the process ends. `module` is a valid out pointer.
    unsafe {
        GetModuleHandleExW(
            GET_MODULE_HANDLE_EX_FLAG_PIN | GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
            pin_this_library as *const u16,
            &mut module,
        ) != 0
    }
}

/// Other platforms: nothing to pin with; reports failure so the caller waits instead.
#[cfg(not(any(unix, windows)))]
pub fn pin_this_library() -> bool {
    false
}

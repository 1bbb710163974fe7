//! Strings steady gives to C, and how they come back.

use super::boundary::ffi_boundary;
use std::ffi::{c_char, CString};

/// Frees a string steady returned through an `out_` parameter (`out_json`, `out_text`,
/// `out_report_json`, `out_event_json`). NULL is a no-op.
///
/// - Ownership: every string steady hands over is freed with this function, exactly once;
///   never with `free()`. Strings steady only lends (`steady_last_error`, `steady_version`,
///   `steady_result_name`, callback arguments) are never freed.
/// - Threads: any.
///
/// # Safety
/// `s` is NULL or a string steady returned and not freed before.
#[no_mangle]
pub unsafe extern "C" fn steady_string_free(s: *mut c_char) {
    ffi_boundary!("steady_string_free", or(), {
        if !s.is_null() {
            // SAFETY: made by `CString::into_raw` in `boundary::c_string`, not freed before.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

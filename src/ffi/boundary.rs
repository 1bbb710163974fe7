//! What every entry point shares: the panic boundary, pointer checks, ownership transfer of
//! handles and strings, and the "inside a callback" marker.
//!
//! Invariants kept here:
//! - a pointer from C is checked for NULL before anything reads it; a string is checked for
//!   UTF-8 before anything uses it; both failures name the parameter;
//! - output pointers are checked before the call does anything, and written only after it
//!   succeeded ([`Out::write`] is the only writer);
//! - a handle is a `Box` turned into a raw pointer by [`into_handle`] and back by
//!   [`free_handle`], nothing else; a string given to C is a `CString` turned into a raw
//!   pointer by [`c_string`] and freed by `steady_string_free`.

use super::result::{set_last_error, steady_result, FfiError};
use serde_json::Value;
use std::any::Any;
use std::cell::Cell;
use std::ffi::{c_char, CStr, CString};

/// Runs an entry point's body behind the panic boundary.
///
/// `ffi_boundary!("name", { body })`: the body returns `Result<(), FfiError>`; the macro
/// gives `STEADY_OK`, the error's code (its message becomes the thread's last error), or
/// `STEADY_PANIC` if the body panicked.
///
/// `ffi_boundary!("name", or fallback, { body })`: for functions that return a value
/// instead of a code; a panic gives `fallback`.
///
/// No panic ever unwinds into C (that would abort the host, or worse).
macro_rules! ffi_boundary {
    ($name:literal, or $fallback:expr, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(payload) => {
                $crate::ffi::boundary::panicked($name, payload);
                $fallback
            }
        }
    };
    ($name:literal, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> ::std::result::Result<(), $crate::ffi::result::FfiError> { $body },
        )) {
            Ok(Ok(())) => $crate::ffi::result::steady_result::STEADY_OK,
            Ok(Err(e)) => e.report(),
            Err(payload) => $crate::ffi::boundary::panicked($name, payload),
        }
    };
}
pub(crate) use ffi_boundary;

/// Records a caught panic as the thread's last error and logs it.
pub(crate) fn panicked(function: &str, payload: Box<dyn Any + Send>) -> steady_result {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    let message = format!("steady panicked in {function}: {what}");
    log::error!("{message}");
    set_last_error(&message);
    steady_result::STEADY_PANIC
}

/// The string `p` points to, checked for NULL and UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, param: &str) -> Result<&'a str, FfiError> {
    match opt_str_arg(p, param)? {
        Some(s) => Ok(s),
        None => Err(FfiError::null(param)),
    }
}

/// The string `p` points to, or `None` for NULL; checked for UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    param: &str,
) -> Result<Option<&'a str>, FfiError> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string living for 'a.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map(Some).map_err(|e| {
        FfiError::new(
            steady_result::STEADY_INVALID_UTF8,
            format!(
                "parameter {param} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// The JSON text `p` points to, parsed.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn json_arg(p: *const c_char, param: &str) -> Result<Value, FfiError> {
    let text = str_arg(p, param)?;
    parse_json(text, param)
}

/// `text` parsed as JSON; a failure names `what` and the line and column.
pub(crate) fn parse_json(text: &str, what: &str) -> Result<Value, FfiError> {
    serde_json::from_str(text)
        .map_err(|e| FfiError::invalid(format!("{what}: malformed JSON: {e}")))
}

/// The handle `p` points to, checked for NULL.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` made by [`into_handle`], not freed while `'a`
/// lasts.
pub(crate) unsafe fn handle_arg<'a, T>(p: *const T, param: &str) -> Result<&'a T, FfiError> {
    // SAFETY: the caller promises a live handle or NULL; `as_ref` maps NULL to None.
    unsafe { p.as_ref() }.ok_or_else(|| FfiError::null(param))
}

/// Gives a new handle to C. Freed by [`free_handle`], once.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes a handle back from C and drops it; NULL is a no-op.
///
/// # Safety
/// `p` is NULL or a handle made by [`into_handle`] for `T` and not freed before.
pub(crate) unsafe fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: made by `into_handle` (Box::into_raw) and not freed before, per the caller.
        drop(unsafe { Box::from_raw(p) });
    }
}

/// An output parameter, checked for NULL before the call does its work; written only on
/// success.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Checks `p`: NULL is `STEADY_NULL_PARAMETER` naming `param`.
    pub(crate) fn required(p: *mut T, param: &str) -> Result<Self, FfiError> {
        if p.is_null() {
            Err(FfiError::null(param))
        } else {
            Ok(Out(p))
        }
    }

    /// An output the caller may decline with NULL.
    pub(crate) fn optional(p: *mut T) -> Option<Self> {
        (!p.is_null()).then_some(Out(p))
    }

    /// Writes the result.
    ///
    /// # Safety
    /// The pointer given to [`Out::required`] or [`Out::optional`] is valid for a write of
    /// `T` (the entry point's contract with its caller).
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: non-NULL (checked on construction) and valid for writes per the caller.
        // `write` does not drop the uninitialised old value.
        unsafe { self.0.write(value) }
    }
}

/// A string for C to own, freed by `steady_string_free`. JSON and metrics text never hold
/// NUL bytes (JSON escapes them); any other NUL is replaced so the string is never cut short.
pub(crate) fn c_string(bytes: Vec<u8>) -> *mut c_char {
    let c = CString::new(bytes).unwrap_or_else(|e| {
        let bytes: Vec<u8> = e
            .into_vec()
            .into_iter()
            .map(|b| if b == 0 { b' ' } else { b })
            .collect();
        CString::new(bytes).expect("NULs were replaced")
    });
    c.into_raw()
}

thread_local! {
    /// How many steady callbacks (reconcile, watch) are running on this thread's stack.
    static IN_CALLBACK: Cell<u32> = const { Cell::new(0) };
}

/// Marks the current thread as running a host callback while it lives.
pub(crate) struct CallbackScope(());

impl CallbackScope {
    /// Enters a callback.
    pub(crate) fn enter() -> Self {
        IN_CALLBACK.with(|c| c.set(c.get() + 1));
        CallbackScope(())
    }

    /// True when the current thread is inside a host callback.
    pub(crate) fn active() -> bool {
        IN_CALLBACK.with(|c| c.get() > 0)
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        IN_CALLBACK.with(|c| c.set(c.get() - 1));
    }
}

/// A raw pointer the host gave us with a promise that it may be used from any thread
/// (userdata). Only ever handed back to the host's own callbacks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendPtr(pub(crate) *mut std::ffi::c_void);

// SAFETY: steady never dereferences it; the header requires userdata to be usable from the
// engine's threads, which is what sending it there means.
unsafe impl Send for SendPtr {}
// SAFETY: as above; steady only copies the pointer value.
unsafe impl Sync for SendPtr {}

/// The host's userdata with its optional destructor, which runs exactly once when the last
/// holder drops it, unless ownership was handed back with [`UserData::disarm`].
pub(crate) struct UserData {
    pub(crate) ptr: SendPtr,
    free: Option<unsafe extern "C" fn(*mut std::ffi::c_void)>,
    armed: std::sync::atomic::AtomicBool,
}

impl UserData {
    /// Wraps `ptr` and its destructor.
    pub(crate) fn new(
        ptr: *mut std::ffi::c_void,
        free: Option<unsafe extern "C" fn(*mut std::ffi::c_void)>,
    ) -> Self {
        UserData {
            ptr: SendPtr(ptr),
            free,
            armed: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// The destructor will not run: the caller keeps ownership (a registration failed).
    pub(crate) fn disarm(&self) {
        self.armed
            .store(false, std::sync::atomic::Ordering::Release);
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            if self.armed.load(std::sync::atomic::Ordering::Acquire) {
                let _scope = CallbackScope::enter();
                // SAFETY: the host gave this destructor for this pointer, to be called once;
                // Drop runs once.
                unsafe { free(self.ptr.0) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boundary_ok() -> steady_result {
        ffi_boundary!("test_ok", { Ok(()) })
    }

    fn boundary_err() -> steady_result {
        ffi_boundary!("test_err", {
            Err(FfiError::new(steady_result::STEADY_CONFLICT, "it changed"))
        })
    }

    fn boundary_panics() -> steady_result {
        ffi_boundary!("test_panics", {
            if std::hint::black_box(true) {
                panic!("kaboom");
            }
            Ok(())
        })
    }

    fn last_error() -> String {
        // SAFETY: steady_last_error never returns NULL and the string lives until the next
        // failure on this thread.
        unsafe { CStr::from_ptr(super::super::result::steady_last_error()) }
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn errors_become_codes_and_the_last_error_message() {
        assert_eq!(boundary_ok(), steady_result::STEADY_OK);
        assert_eq!(boundary_err(), steady_result::STEADY_CONFLICT);
        assert_eq!(last_error(), "it changed");
        assert_eq!(boundary_ok(), steady_result::STEADY_OK);
        assert_eq!(last_error(), "it changed", "success does not clear it");
    }

    #[test]
    fn a_panic_is_caught_at_the_boundary_and_named() {
        assert_eq!(boundary_panics(), steady_result::STEADY_PANIC);
        assert_eq!(last_error(), "steady panicked in test_panics: kaboom");
        let v: i32 = ffi_boundary!("test_value", or - 1, { panic!("no value") });
        assert_eq!(v, -1);
    }

    #[test]
    fn strings_are_checked_for_null_and_utf8() {
        let bad = b"caf\xc3(\0";
        // SAFETY: a NUL-terminated byte string literal.
        let e = unsafe { str_arg(bad.as_ptr().cast(), "name") }.unwrap_err();
        assert_eq!(e.code, steady_result::STEADY_INVALID_UTF8);
        assert!(e.message.contains("parameter name"), "{}", e.message);
        // SAFETY: NULL is allowed.
        let e = unsafe { str_arg(std::ptr::null(), "kind") }.unwrap_err();
        assert_eq!(e.code, steady_result::STEADY_NULL_PARAMETER);
        assert_eq!(e.message, "parameter kind is NULL");
        // SAFETY: NULL is allowed.
        assert_eq!(
            unsafe { opt_str_arg(std::ptr::null(), "ns") }.unwrap(),
            None
        );
    }

    #[test]
    fn c_strings_never_lose_their_tail_to_a_nul() {
        let p = c_string(b"a\0b".to_vec());
        // SAFETY: made by c_string just above.
        let back = unsafe { CString::from_raw(p) };
        assert_eq!(back.to_str().unwrap(), "a b");
    }

    #[test]
    fn malformed_json_names_the_parameter_and_position() {
        let e = parse_json("{\"a\": ", "object_json").unwrap_err();
        assert_eq!(e.code, steady_result::STEADY_INVALID);
        assert!(
            e.message.starts_with("object_json: malformed JSON: "),
            "{}",
            e.message
        );
        assert!(e.message.contains("line 1"), "{}", e.message);
    }
}

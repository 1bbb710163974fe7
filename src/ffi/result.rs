//! Result codes, the thread-local last-error message, and the error every entry point
//! reports through them.

use crate::error::Error;
use std::cell::RefCell;
use std::ffi::{c_char, CString};

/// The result of every fallible `steady_` function. `STEADY_OK` is 0; every other value is a
/// failure, described in more detail by `steady_last_error()` on the same thread.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum steady_result {
    /// Success. Output parameters were written.
    STEADY_OK = 0,
    /// The object does not exist (Kubernetes 404 NotFound).
    STEADY_NOT_FOUND = 1,
    /// A create found the name taken (409 AlreadyExists).
    STEADY_ALREADY_EXISTS = 2,
    /// A compare-and-swap precondition (resourceVersion or uid) failed (409 Conflict).
    STEADY_CONFLICT = 3,
    /// Bad input: an invalid object (every bad field is listed in the message), malformed
    /// JSON or YAML, an unknown kind, a bad label selector or configuration key (422/400).
    STEADY_INVALID = 4,
    /// The object's JSON is over the engine's `max_object_bytes` (413).
    STEADY_TOO_LARGE = 5,
    /// An admission hook refused the write (403 Forbidden), or an eviction was refused for
    /// good: more than one PodDisruptionBudget selects the pod, or its budget forbids
    /// evictions.
    STEADY_DENIED = 6,
    /// A watch asked for history the engine no longer keeps, or fell behind (410 Gone):
    /// list again, then watch from the list's resourceVersion.
    STEADY_EXPIRED = 7,
    /// A wait ran out of time before anything happened. Not an error of the object.
    STEADY_TIMEOUT = 8,
    /// The engine has shut down (or the watch ended with it).
    STEADY_CLOSED = 9,
    /// The object exists but cannot serve the request now (a Service with no ready
    /// endpoint, 503; an eviction its PodDisruptionBudget does not allow now, 429): try
    /// again later.
    STEADY_UNAVAILABLE = 10,
    /// The engine's data dir (configuration key `persist`) cannot be used: another engine
    /// holds it, a newer steady wrote it, or reading, writing or fsyncing it failed. The
    /// message names the dir or file and what is wrong.
    STEADY_STORAGE = 11,
    /// A required pointer parameter was NULL; the message names the parameter.
    STEADY_NULL_PARAMETER = 100,
    /// A string parameter was not valid UTF-8; the message names the parameter.
    STEADY_INVALID_UTF8 = 101,
    /// steady panicked inside the call (a bug in steady): the call had no effect that can be
    /// relied on, but the engine keeps running.
    STEADY_PANIC = 102,
}

impl steady_result {
    /// The name of the code, as in the header (`"STEADY_NOT_FOUND"`).
    pub fn name(self) -> &'static str {
        self.c_name().trim_end_matches('\0')
    }

    /// The code of an engine error (looking through the document wrapper of apply errors).
    pub fn of(e: &Error) -> Self {
        match e.root() {
            Error::NotFound { .. } => steady_result::STEADY_NOT_FOUND,
            Error::AlreadyExists { .. } => steady_result::STEADY_ALREADY_EXISTS,
            Error::Conflict { .. } => steady_result::STEADY_CONFLICT,
            Error::Invalid { .. }
            | Error::Parse { .. }
            | Error::NoMatch { .. }
            | Error::TooNew { .. } => steady_result::STEADY_INVALID,
            Error::TooLarge { .. } => steady_result::STEADY_TOO_LARGE,
            Error::Denied { .. } => steady_result::STEADY_DENIED,
            Error::Expired { .. } => steady_result::STEADY_EXPIRED,
            Error::Timeout => steady_result::STEADY_TIMEOUT,
            Error::Closed => steady_result::STEADY_CLOSED,
            Error::Unavailable { .. } => steady_result::STEADY_UNAVAILABLE,
            Error::Storage { .. } | Error::Backend { .. } => steady_result::STEADY_STORAGE,
            // `root` never returns the wrapper; keep the wrapper's meaning if it ever did.
            Error::InDocument { .. } => steady_result::STEADY_INVALID,
        }
    }
}

/// A failed call: its code and the message `steady_last_error` will give.
#[derive(Debug)]
pub struct FfiError {
    /// The code returned to C.
    pub code: steady_result,
    /// The message kept for `steady_last_error`.
    pub message: String,
}

impl FfiError {
    /// An error with `code` and `message`.
    pub fn new(code: steady_result, message: impl Into<String>) -> Self {
        FfiError {
            code,
            message: message.into(),
        }
    }

    /// `STEADY_INVALID` with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(steady_result::STEADY_INVALID, message)
    }

    /// `STEADY_NULL_PARAMETER` naming the parameter.
    pub fn null(param: &str) -> Self {
        Self::new(
            steady_result::STEADY_NULL_PARAMETER,
            format!("parameter {param} is NULL"),
        )
    }

    /// Records the message as this thread's last error and gives the code.
    pub fn report(self) -> steady_result {
        set_last_error(&self.message);
        self.code
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        FfiError::new(steady_result::of(&e), e.to_string())
    }
}

thread_local! {
    /// The message of the last failed call on this thread. Only ever replaced, by the next
    /// failure on the same thread: a pointer handed out by `steady_last_error` stays valid
    /// until then.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Replaces this thread's last error message (interior NULs become spaces).
pub(crate) fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).expect("NULs were replaced");
    LAST_ERROR.with(|l| *l.borrow_mut() = c);
}

/// The message of the last `steady_` call on this thread that failed, or `""` if none has.
///
/// - Ownership: the string belongs to steady; it stays valid until the next failing
///   `steady_` call on the same thread. Copy it to keep it. Never NULL.
/// - Threads: per thread, like `errno`. Successful calls do not clear it.
#[no_mangle]
pub extern "C" fn steady_last_error() -> *const c_char {
    super::boundary::ffi_boundary!("steady_last_error", or c"".as_ptr(), {
        LAST_ERROR.with(|l| l.borrow().as_ptr())
    })
}

/// The name of a result code (`"STEADY_NOT_FOUND"`), or `"STEADY_UNKNOWN"` for a value that
/// is not one.
///
/// - Ownership: a static string; never free it. Never NULL.
/// - Threads: any.
#[no_mangle]
pub extern "C" fn steady_result_name(code: i32) -> *const c_char {
    super::boundary::ffi_boundary!("steady_result_name", or c"STEADY_UNKNOWN".as_ptr(), {
        result_name(code)
    })
}

fn result_name(code: i32) -> *const c_char {
    use steady_result::*;
    const ALL: [steady_result; 15] = [
        STEADY_OK,
        STEADY_NOT_FOUND,
        STEADY_ALREADY_EXISTS,
        STEADY_CONFLICT,
        STEADY_INVALID,
        STEADY_TOO_LARGE,
        STEADY_DENIED,
        STEADY_EXPIRED,
        STEADY_TIMEOUT,
        STEADY_CLOSED,
        STEADY_UNAVAILABLE,
        STEADY_STORAGE,
        STEADY_NULL_PARAMETER,
        STEADY_INVALID_UTF8,
        STEADY_PANIC,
    ];
    let name = ALL
        .iter()
        .find(|c| **c as i32 == code)
        .map_or("STEADY_UNKNOWN\0", |c| c.c_name());
    name.as_ptr().cast()
}

impl steady_result {
    /// The name with a terminating NUL, for C.
    const fn c_name(self) -> &'static str {
        match self {
            steady_result::STEADY_OK => "STEADY_OK\0",
            steady_result::STEADY_NOT_FOUND => "STEADY_NOT_FOUND\0",
            steady_result::STEADY_ALREADY_EXISTS => "STEADY_ALREADY_EXISTS\0",
            steady_result::STEADY_CONFLICT => "STEADY_CONFLICT\0",
            steady_result::STEADY_INVALID => "STEADY_INVALID\0",
            steady_result::STEADY_TOO_LARGE => "STEADY_TOO_LARGE\0",
            steady_result::STEADY_DENIED => "STEADY_DENIED\0",
            steady_result::STEADY_EXPIRED => "STEADY_EXPIRED\0",
            steady_result::STEADY_TIMEOUT => "STEADY_TIMEOUT\0",
            steady_result::STEADY_CLOSED => "STEADY_CLOSED\0",
            steady_result::STEADY_UNAVAILABLE => "STEADY_UNAVAILABLE\0",
            steady_result::STEADY_STORAGE => "STEADY_STORAGE\0",
            steady_result::STEADY_NULL_PARAMETER => "STEADY_NULL_PARAMETER\0",
            steady_result::STEADY_INVALID_UTF8 => "STEADY_INVALID_UTF8\0",
            steady_result::STEADY_PANIC => "STEADY_PANIC\0",
        }
    }
}

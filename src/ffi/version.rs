//! Version macros, `steady_version()` and `steady_version_number()`.
//!
//! The constants are literals because cbindgen turns them into `#define`s; a test checks
//! them against the crate version.

use std::ffi::c_char;

/// Major version of the header (`#define STEADY_VERSION_MAJOR`).
pub const STEADY_VERSION_MAJOR: u32 = 0;
/// Minor version of the header.
pub const STEADY_VERSION_MINOR: u32 = 1;
/// Patch version of the header.
pub const STEADY_VERSION_PATCH: u32 = 0;

/// The header's version as one number, `MAJOR * 1000000 + MINOR * 1000 + PATCH` (as
/// SQLite numbers its versions), for `#if STEADY_VERSION_NUMBER >= ...`.
pub const STEADY_VERSION_NUMBER: u32 = 1000;

/// The crate version with a terminating NUL.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version, `"MAJOR.MINOR.PATCH"`: compare with the `STEADY_VERSION_*` macros
/// of the header you compiled against.
///
/// - Ownership: a static string; never free it. Never NULL.
/// - Threads: any.
#[no_mangle]
pub extern "C" fn steady_version() -> *const c_char {
    super::boundary::ffi_boundary!("steady_version", or c"".as_ptr(), {
        VERSION.as_ptr().cast()
    })
}

/// The library's version as one number, `MAJOR * 1000000 + MINOR * 1000 + PATCH`: compare
/// with `STEADY_VERSION_NUMBER` of the header you compiled against (a library older than the
/// header lacks what the header declares).
///
/// - Threads: any.
#[no_mangle]
pub extern "C" fn steady_version_number() -> u32 {
    super::boundary::ffi_boundary!("steady_version_number", or 0, {
        STEADY_VERSION_MAJOR * 1_000_000 + STEADY_VERSION_MINOR * 1_000 + STEADY_VERSION_PATCH
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_macros_match_the_crate_version() {
        let parts: Vec<u32> = env!("CARGO_PKG_VERSION")
            .split('.')
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(
            parts,
            vec![
                STEADY_VERSION_MAJOR,
                STEADY_VERSION_MINOR,
                STEADY_VERSION_PATCH
            ]
        );
        assert_eq!(steady_version_number(), STEADY_VERSION_NUMBER);
        assert_eq!(
            STEADY_VERSION_NUMBER,
            parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]
        );
        // SAFETY: a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(steady_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}

//! `steady_set_log_callback`: the engine's log messages (reconcile errors, panics caught in
//! controllers and callbacks, warnings) handed to the host.
//!
//! steady logs through Rust's `log` facade, which a C host cannot see. The first call
//! installs steady's logger in the facade of the process (a Rust host that installed its own
//! logger first gets `STEADY_INVALID`: its logger already receives everything).
//!
//! Invariants: the callback is called with the lock `CALLBACK` read-held, and replacing it
//! takes the lock for writing, so once `steady_set_log_callback` returns, the previous
//! callback is never called again. A callback that logs (by calling into steady) is not
//! re-entered: what it logs is dropped, and it may not replace the callback (that would wait
//! for itself).

use super::boundary::{ffi_boundary, CallbackScope, SendPtr};
use super::result::{steady_result, FfiError};
use parking_lot::RwLock;
use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};

/// How much the log callback receives (`log`'s levels).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum steady_log_level {
    /// Nothing.
    STEADY_LOG_OFF = 0,
    /// Errors: a reconcile that failed, a panic that was caught.
    STEADY_LOG_ERROR = 1,
    /// Warnings and errors.
    STEADY_LOG_WARN = 2,
    /// Information, warnings and errors.
    STEADY_LOG_INFO = 3,
    /// Debugging detail and above.
    STEADY_LOG_DEBUG = 4,
    /// Everything.
    STEADY_LOG_TRACE = 5,
}

/// Receives one log message: its level, its target (the Rust module that logged it,
/// `steady::runtime`) and the message, both UTF-8 and borrowed for the call only. Called on
/// whichever engine thread logged, possibly on several threads at once.
pub type steady_log_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: steady_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

struct Callback {
    f: unsafe extern "C" fn(*mut c_void, steady_log_level, *const c_char, *const c_char),
    userdata: SendPtr,
}

static CALLBACK: RwLock<Option<Callback>> = RwLock::new(None);

thread_local! {
    /// Set while this thread runs the log callback.
    static IN_LOG_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

struct HostLogger;

static LOGGER: HostLogger = HostLogger;

fn level_of(l: log::Level) -> steady_log_level {
    match l {
        log::Level::Error => steady_log_level::STEADY_LOG_ERROR,
        log::Level::Warn => steady_log_level::STEADY_LOG_WARN,
        log::Level::Info => steady_log_level::STEADY_LOG_INFO,
        log::Level::Debug => steady_log_level::STEADY_LOG_DEBUG,
        log::Level::Trace => steady_log_level::STEADY_LOG_TRACE,
    }
}

fn filter_of(l: steady_log_level) -> log::LevelFilter {
    match l {
        steady_log_level::STEADY_LOG_OFF => log::LevelFilter::Off,
        steady_log_level::STEADY_LOG_ERROR => log::LevelFilter::Error,
        steady_log_level::STEADY_LOG_WARN => log::LevelFilter::Warn,
        steady_log_level::STEADY_LOG_INFO => log::LevelFilter::Info,
        steady_log_level::STEADY_LOG_DEBUG => log::LevelFilter::Debug,
        steady_log_level::STEADY_LOG_TRACE => log::LevelFilter::Trace,
    }
}

/// A C string of `s`, NULs replaced by spaces.
fn c_text(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) || IN_LOG_CALLBACK.with(Cell::get) {
            return;
        }
        // Recursive: a writer waiting to replace the callback must not block a second read
        // on a thread that already holds one.
        let cb = CALLBACK.read_recursive();
        let Some(cb) = cb.as_ref() else { return };
        let target = c_text(record.target());
        let message = c_text(&record.args().to_string());
        IN_LOG_CALLBACK.with(|c| c.set(true));
        let _scope = CallbackScope::enter();
        // SAFETY: the host gave this function and userdata to steady_set_log_callback, which
        // documents the call; both strings live until the call returns.
        unsafe {
            (cb.f)(
                cb.userdata.0,
                level_of(record.level()),
                target.as_ptr(),
                message.as_ptr(),
            )
        };
        IN_LOG_CALLBACK.with(|c| c.set(false));
    }

    fn flush(&self) {}
}

/// Sends the engine's log messages at `level` and above to `callback`, for every engine of
/// the process (the log is process-wide); a NULL `callback` stops them.
///
/// - `level`: `STEADY_LOG_OFF` to `STEADY_LOG_TRACE`. Messages below it are not even
///   formatted. `STEADY_LOG_WARN` suits most hosts.
/// - `callback` is called as `steady_log_fn` says, on engine threads, possibly at once on
///   several; `userdata` is passed to it untouched and must stay valid until the callback
///   is replaced or removed. Once this returns, the previous callback is never called
///   again.
/// - Errors: `STEADY_INVALID` when the process already has another logger for Rust's `log`
///   facade (a Rust host that installed one: it receives steady's messages itself), when
///   `level` is not a level, or when called from inside the log callback.
/// - Threads: any.
///
/// # Safety
/// `callback`, if not NULL, must be a function of the `steady_log_fn` type, safe to call from
/// any thread with `userdata`.
#[no_mangle]
pub unsafe extern "C" fn steady_set_log_callback(
    level: u32,
    callback: steady_log_fn,
    userdata: *mut c_void,
) -> steady_result {
    ffi_boundary!("steady_set_log_callback", {
        let level = match level {
            0 => steady_log_level::STEADY_LOG_OFF,
            1 => steady_log_level::STEADY_LOG_ERROR,
            2 => steady_log_level::STEADY_LOG_WARN,
            3 => steady_log_level::STEADY_LOG_INFO,
            4 => steady_log_level::STEADY_LOG_DEBUG,
            5 => steady_log_level::STEADY_LOG_TRACE,
            other => {
                return Err(FfiError::invalid(format!(
                    "level: {other} is not a steady_log_level (0 to 5)"
                )))
            }
        };
        if IN_LOG_CALLBACK.with(Cell::get) {
            return Err(FfiError::invalid(
                "steady_set_log_callback cannot be called from inside the log callback",
            ));
        }
        install()?;
        let mut slot = CALLBACK.write();
        *slot = callback.map(|f| Callback {
            f,
            userdata: SendPtr(userdata),
        });
        log::set_max_level(if slot.is_some() {
            filter_of(level)
        } else {
            log::LevelFilter::Off
        });
        Ok(())
    })
}

/// Installs steady's logger in the `log` facade, unless it is there already.
fn install() -> Result<(), FfiError> {
    let ours = |l: &dyn log::Log| std::ptr::addr_eq(l, &LOGGER);
    if log::set_logger(&LOGGER).is_ok() || ours(log::logger()) {
        return Ok(());
    }
    Err(FfiError::invalid(
        "another logger is installed for Rust's log facade in this process: steady's \
         messages go to it",
    ))
}

//! The terminal: its size, redrawing in place, and a logger for the `log` facade.

use std::io::Write;

/// Home the cursor (the view is redrawn over itself, line by line, without clearing first:
/// no flicker).
pub const HOME: &str = "\x1b[H";
/// Clear the whole screen.
pub const CLEAR: &str = "\x1b[2J";
/// Clear from the cursor to the end of the line.
pub const CLEAR_LINE: &str = "\x1b[K";
/// Clear from the cursor to the end of the screen.
pub const CLEAR_BELOW: &str = "\x1b[J";

/// Columns and rows of the terminal on stdout, when it is one.
#[cfg(unix)]
pub fn size() -> Option<(usize, usize)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which points to a live,
    // properly aligned `winsize` owned by this frame; the call has no other effect.
    let r = unsafe {
        libc::ioctl(
            libc::STDOUT_FILENO,
            libc::TIOCGWINSZ,
            &mut ws as *mut libc::winsize,
        )
    };
    (r == 0 && ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col as usize, ws.ws_row as usize))
}

/// Columns and rows of the terminal: unknown off Unix (the view is then not cut to size).
#[cfg(not(unix))]
pub fn size() -> Option<(usize, usize)> {
    None
}

/// Writes `lines` over the previous frame: home, each line then clear-to-end-of-line, then
/// clear below (no trailing newline, so a full screen does not scroll).
pub fn redraw(out: &mut impl Write, lines: &[String]) -> std::io::Result<()> {
    let mut frame = String::from(HOME);
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            frame.push('\n');
        }
        frame.push_str(l);
        frame.push_str(CLEAR_LINE);
    }
    frame.push_str(CLEAR_BELOW);
    out.write_all(frame.as_bytes())?;
    out.flush()
}

/// Log records at or above a level, to stderr: `steady: LEVEL target: message`.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "steady: {} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Sends the engine's logs to stderr at the level `STEADY_LOG` names (`error`, `warn` (the
/// default), `info`, `debug`, `trace`, `off`).
pub fn init_logging() {
    let level = std::env::var("STEADY_LOG")
        .ok()
        .and_then(|l| l.parse::<log::LevelFilter>().ok())
        .unwrap_or(log::LevelFilter::Warn);
    if log::set_logger(&StderrLogger).is_ok() {
        log::set_max_level(level);
    }
}

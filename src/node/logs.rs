//! Bounded container logs: what `kubectl logs` reads.
//!
//! Each container instance writes into its own [`LogBuffer`], which keeps the last `limit`
//! bytes (older output is dropped from the front, at a line boundary when there is one). The
//! agent keeps the current instance's buffer and the previous one (`kubectl logs --previous`).

use parking_lot::Mutex;
use std::collections::VecDeque;

/// Default bound of one container instance's log: 1 MiB.
pub const DEFAULT_LOG_LIMIT: usize = 1 << 20;

/// A bounded, append-only byte log shared between the writer (a runtime's output reader) and
/// readers (the API). Appends and reads take a short lock; no reader blocks a writer for long.
#[derive(Debug)]
pub struct LogBuffer {
    limit: usize,
    /// Distinct for every buffer this process made: an instance's identity, which an
    /// address (reused once a buffer is freed) is not.
    id: u64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    bytes: VecDeque<u8>,
    /// Bytes dropped from the front so far.
    dropped: u64,
}

impl LogBuffer {
    /// An empty log keeping at most `limit` bytes (at least 1).
    pub fn new(limit: usize) -> Self {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        LogBuffer {
            limit: limit.max(1),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// This buffer's identity: distinct from every other buffer of the process, so a new
    /// instance of a container (with a new buffer) is told from more output of the old one.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Appends `data`, dropping the oldest bytes beyond the limit.
    pub fn append(&self, data: &[u8]) {
        let mut g = self.inner.lock();
        let data = if data.len() > self.limit {
            let cut = data.len() - self.limit;
            g.dropped += cut as u64 + g.bytes.len() as u64;
            g.bytes.clear();
            &data[cut..]
        } else {
            data
        };
        g.bytes.extend(data);
        let over = g.bytes.len().saturating_sub(self.limit);
        if over > 0 {
            // Drop whole lines when possible, so the log starts at a line's beginning.
            let cut = g
                .bytes
                .iter()
                .skip(over)
                .position(|&b| b == b'\n')
                .map(|p| over + p + 1)
                .filter(|&c| c <= g.bytes.len())
                .unwrap_or(over);
            g.bytes.drain(..cut);
            g.dropped += cut as u64;
        }
    }

    /// Appends one line of text (a newline is added).
    pub fn line(&self, text: &str) {
        let mut v = Vec::with_capacity(text.len() + 1);
        v.extend_from_slice(text.as_bytes());
        v.push(b'\n');
        self.append(&v);
    }

    /// The kept bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let g = self.inner.lock();
        g.bytes.iter().copied().collect()
    }

    /// The kept output as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// The last `n` lines of the kept output.
    pub fn tail(&self, n: usize) -> String {
        let text = self.text();
        let body = text.strip_suffix('\n').unwrap_or(&text);
        let start = body
            .rmatch_indices('\n')
            .nth(n.saturating_sub(1))
            .map_or(0, |(i, _)| i + 1);
        if n == 0 {
            return String::new();
        }
        text[start..].to_string()
    }

    /// Bytes dropped from the front because of the limit.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().dropped
    }

    /// The bound in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer::new(DEFAULT_LOG_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_under_the_limit() {
        let l = LogBuffer::new(100);
        l.line("hello");
        l.append(b"world\n");
        assert_eq!(l.text(), "hello\nworld\n");
        assert_eq!(l.dropped(), 0);
    }

    #[test]
    fn drops_oldest_whole_lines_beyond_the_limit() {
        let l = LogBuffer::new(12);
        l.line("aaaa");
        l.line("bbbb");
        l.line("cccc");
        assert_eq!(l.text(), "bbbb\ncccc\n");
        assert_eq!(l.dropped(), 5);
        assert!(l.bytes().len() <= 12);
    }

    #[test]
    fn a_single_huge_append_keeps_its_tail() {
        let l = LogBuffer::new(4);
        l.append(b"0123456789");
        assert_eq!(l.text(), "6789");
        assert_eq!(l.dropped(), 6);
    }

    #[test]
    fn tail_returns_the_last_lines() {
        let l = LogBuffer::new(1000);
        for i in 0..5 {
            l.line(&format!("line {i}"));
        }
        assert_eq!(l.tail(2), "line 3\nline 4\n");
        assert_eq!(l.tail(10), l.text());
        assert_eq!(l.tail(0), "");
    }
}

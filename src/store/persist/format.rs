//! The on-disk format of a data dir: file headers, log records, snapshot entries, and the
//! operations inside a record. Everything is little-endian; every checksum is CRC-32C
//! (Castagnoli, the checksum etcd's WAL uses).
//!
//! # Files
//! - `LOCK`: held with `flock(LOCK_EX)` by the engine that owns the dir; holds its pid.
//! - `wal-<R>.log` (`R`: 20 decimal digits): a log segment whose first record has revision
//!   `R`. Segments are read in order of `R`.
//! - `snap-<R>.snap`: a snapshot of the whole store at revision `R`.
//! - `*.tmp`: a snapshot being written; ignored (and removed) at start.
//!
//! # Segment header (32 bytes)
//! ```text
//! 0   magic      8 bytes  "STEADYWL"
//! 8   version    u32      FORMAT_VERSION of the writer
//! 12  reserved   u32      0
//! 16  first_rev  u64      revision of the segment's first record
//! 24  reserved   u32      0
//! 28  crc        u32      CRC-32C of bytes 0..28
//! ```
//!
//! # Log record (16-byte header + payload)
//! ```text
//! 0   len        u32      payload length in bytes (at most MAX_RECORD)
//! 4   crc        u32      CRC-32C of bytes 8..16+len (the revision and the payload)
//! 8   rev        u64      the revision this record commits
//! 16  payload    len bytes
//! ```
//! A record is one committed revision: a single write, a deletion, or a whole transaction.
//! Records follow each other without padding; revisions are consecutive across a segment
//! and across segments.
//!
//! # Payload: the record's operations
//! ```text
//! count      u32
//! count × op:
//!   tag      u8       1 = put (create or replace), 2 = remove
//!   kind_len u16, kind  (UTF-8)
//!   key_len  u32, key   (UTF-8: "namespace/name", or "name" for cluster-scoped kinds)
//!   put only: json_len u32, json (the object as its API JSON; its resourceVersion is the
//!             record's revision, whatever the JSON says)
//! ```
//!
//! # Snapshot (48-byte header + body)
//! ```text
//! 0   magic      8 bytes  "STEADYSN"
//! 8   version    u32
//! 12  reserved   u32      0
//! 16  revision   u64      the store revision the snapshot is the state at
//! 24  count      u64      number of entries
//! 32  body_len   u64
//! 40  body_crc   u32      CRC-32C of the body
//! 44  crc        u32      CRC-32C of bytes 0..44
//! body: count × (kind_len u16, kind, json_len u32, json)
//! ```
//! Snapshot entries carry their objects' own resourceVersions. CustomResourceDefinitions
//! come first, so the kinds they define are registered before their objects are read.

use std::fmt;

/// The format version this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Magic of a log segment.
pub(crate) const WAL_MAGIC: &[u8; 8] = b"STEADYWL";
/// Magic of a snapshot.
pub(crate) const SNAP_MAGIC: &[u8; 8] = b"STEADYSN";
/// Length of a segment header.
pub(crate) const WAL_HEADER: usize = 32;
/// Length of a record header.
pub(crate) const RECORD_HEADER: usize = 16;
/// Length of a snapshot header.
pub(crate) const SNAP_HEADER: usize = 48;
/// Largest payload a record may have (larger lengths are read as corruption).
pub(crate) const MAX_RECORD: usize = 1 << 30;

/// CRC-32C of `bytes`.
pub(crate) fn crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Why a header could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Fewer bytes than a header: a file whose creation was cut short.
    Short,
    /// Not a steady file of this type.
    Magic,
    /// The header's checksum does not match.
    Checksum,
    /// Written by a newer format version.
    Newer(u32),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Short => write!(f, "the file is shorter than its header"),
            HeaderError::Magic => write!(f, "the file does not start with steady's magic"),
            HeaderError::Checksum => write!(f, "the header's checksum does not match"),
            HeaderError::Newer(v) => write!(
                f,
                "written in format version {v} by a newer steady; this build reads versions up to {FORMAT_VERSION}"
            ),
        }
    }
}

/// The 32-byte header of a segment whose first record will have revision `first_rev`.
pub(crate) fn wal_header(first_rev: u64) -> [u8; WAL_HEADER] {
    let mut h = [0u8; WAL_HEADER];
    h[0..8].copy_from_slice(WAL_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&first_rev.to_le_bytes());
    let c = crc(&h[..28]);
    h[28..32].copy_from_slice(&c.to_le_bytes());
    h
}

/// Checks magic and version (the version first, so that a newer writer's file is refused
/// even when its header changed shape) and returns the first revision.
pub(crate) fn read_wal_header(b: &[u8]) -> Result<u64, HeaderError> {
    if b.len() >= 12 && &b[0..8] == WAL_MAGIC && u32_at(b, 8) > FORMAT_VERSION {
        return Err(HeaderError::Newer(u32_at(b, 8)));
    }
    if b.len() < WAL_HEADER {
        return Err(HeaderError::Short);
    }
    if &b[0..8] != WAL_MAGIC {
        return Err(HeaderError::Magic);
    }
    if crc(&b[..28]) != u32_at(b, 28) {
        return Err(HeaderError::Checksum);
    }
    Ok(u64_at(b, 16))
}

/// Appends a framed record of `rev` with `payload` to `out`.
pub(crate) fn push_record(out: &mut Vec<u8>, rev: u64, payload: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&rev.to_le_bytes());
    out.extend_from_slice(payload);
    let c = crc(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&c.to_le_bytes());
}

/// What reading the record at the start of a buffer found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadRecord<'a> {
    /// A whole record with a matching checksum: its revision, payload and total length.
    Record {
        /// Revision.
        rev: u64,
        /// Payload.
        payload: &'a [u8],
        /// Header plus payload.
        len: usize,
    },
    /// The buffer is empty: the clean end of the segment.
    End,
    /// The buffer ends inside the record: a write cut short by a crash.
    Torn,
    /// The record is whole but its checksum (or its length field) is wrong.
    Corrupt,
}

/// Reads the record at the start of `b`.
pub(crate) fn read_record(b: &[u8]) -> ReadRecord<'_> {
    if b.is_empty() {
        return ReadRecord::End;
    }
    if b.len() < RECORD_HEADER {
        return ReadRecord::Torn;
    }
    let len = u32_at(b, 0) as usize;
    if len > MAX_RECORD {
        return ReadRecord::Corrupt;
    }
    if b.len() < RECORD_HEADER + len {
        return ReadRecord::Torn;
    }
    if crc(&b[8..RECORD_HEADER + len]) != u32_at(b, 4) {
        return ReadRecord::Corrupt;
    }
    ReadRecord::Record {
        rev: u64_at(b, 8),
        payload: &b[RECORD_HEADER..RECORD_HEADER + len],
        len: RECORD_HEADER + len,
    }
}

/// One operation of a record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Op<'a> {
    /// Create or replace the object at `key` with `json`.
    Put {
        /// Kind.
        kind: &'a str,
        /// Store key.
        key: &'a str,
        /// The object's JSON.
        json: &'a [u8],
    },
    /// Remove the object at `key`.
    Remove {
        /// Kind.
        kind: &'a str,
        /// Store key.
        key: &'a str,
    },
}

/// Builds a record payload.
pub(crate) struct PayloadWriter {
    buf: Vec<u8>,
    count: u32,
}

impl PayloadWriter {
    /// An empty payload.
    pub(crate) fn new() -> Self {
        PayloadWriter {
            buf: vec![0; 4],
            count: 0,
        }
    }

    fn head(&mut self, tag: u8, kind: &str, key: &str) {
        self.count += 1;
        self.buf.push(tag);
        self.buf
            .extend_from_slice(&(kind.len() as u16).to_le_bytes());
        self.buf.extend_from_slice(kind.as_bytes());
        self.buf
            .extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(key.as_bytes());
    }

    /// Adds a put of the object whose JSON `write_json` appends to the buffer.
    pub(crate) fn put(&mut self, kind: &str, key: &str, write_json: impl FnOnce(&mut Vec<u8>)) {
        self.head(1, kind, key);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        write_json(&mut self.buf);
        let n = (self.buf.len() - at - 4) as u32;
        self.buf[at..at + 4].copy_from_slice(&n.to_le_bytes());
    }

    /// Adds a removal.
    pub(crate) fn remove(&mut self, kind: &str, key: &str) {
        self.head(2, kind, key);
    }

    /// Number of operations added.
    pub(crate) fn len(&self) -> u32 {
        self.count
    }

    /// The finished payload.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let c = self.count.to_le_bytes();
        self.buf[0..4].copy_from_slice(&c);
        self.buf
    }
}

/// A cursor over bytes that reports running past the end as an error.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.b.len() - self.at < n {
            return Err(format!(
                "an entry runs past the end ({} bytes needed at offset {}, {} left)",
                n,
                self.at,
                self.b.len() - self.at
            ));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, String> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")) as usize)
    }
    fn u32(&mut self) -> Result<usize, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")) as usize)
    }
    fn str(&mut self, n: usize, what: &str) -> Result<&'a str, String> {
        std::str::from_utf8(self.take(n)?).map_err(|_| format!("the {what} is not UTF-8"))
    }
}

/// The operations of a payload. An error means the payload is malformed (it passed its
/// checksum, so it was written so: a bug, reported as corruption).
pub(crate) fn read_ops(payload: &[u8]) -> Result<Vec<Op<'_>>, String> {
    let mut c = Cursor { b: payload, at: 0 };
    let count = c.u32()?;
    let mut ops = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let tag = c.u8()?;
        let n = c.u16()?;
        let kind = c.str(n, "kind")?;
        let n = c.u32()?;
        let key = c.str(n, "key")?;
        ops.push(match tag {
            1 => {
                let n = c.u32()?;
                Op::Put {
                    kind,
                    key,
                    json: c.take(n)?,
                }
            }
            2 => Op::Remove { kind, key },
            t => return Err(format!("unknown operation tag {t}")),
        });
    }
    if c.at != payload.len() {
        return Err(format!(
            "{} bytes after the last operation",
            payload.len() - c.at
        ));
    }
    Ok(ops)
}

/// The header of a snapshot at `revision` of `count` entries over `body`.
pub(crate) fn snap_header(revision: u64, count: u64, body: &[u8]) -> [u8; SNAP_HEADER] {
    let mut h = [0u8; SNAP_HEADER];
    h[0..8].copy_from_slice(SNAP_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&revision.to_le_bytes());
    h[24..32].copy_from_slice(&count.to_le_bytes());
    h[32..40].copy_from_slice(&(body.len() as u64).to_le_bytes());
    h[40..44].copy_from_slice(&crc(body).to_le_bytes());
    let c = crc(&h[..44]);
    h[44..48].copy_from_slice(&c.to_le_bytes());
    h
}

/// A snapshot entry appended to a body.
pub(crate) fn push_snap_entry(body: &mut Vec<u8>, kind: &str, json: impl FnOnce(&mut Vec<u8>)) {
    body.extend_from_slice(&(kind.len() as u16).to_le_bytes());
    body.extend_from_slice(kind.as_bytes());
    let at = body.len();
    body.extend_from_slice(&[0; 4]);
    json(body);
    let n = (body.len() - at - 4) as u32;
    body[at..at + 4].copy_from_slice(&n.to_le_bytes());
}

/// Why a snapshot cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SnapError {
    /// The header is unreadable or from a newer version.
    Header(HeaderError),
    /// The body is shorter than its header says, or its checksum does not match.
    Body(String),
}

impl fmt::Display for SnapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapError::Header(h) => h.fmt(f),
            SnapError::Body(m) => f.write_str(m),
        }
    }
}

/// A snapshot's entries as read: `(kind, json)`, borrowed from the file's bytes.
pub(crate) type SnapEntries<'a> = Vec<(&'a str, &'a [u8])>;

/// A checked snapshot: its revision and entries.
pub(crate) fn read_snapshot(b: &[u8]) -> Result<(u64, SnapEntries<'_>), SnapError> {
    if b.len() >= 12 && &b[0..8] == SNAP_MAGIC && u32_at(b, 8) > FORMAT_VERSION {
        return Err(SnapError::Header(HeaderError::Newer(u32_at(b, 8))));
    }
    if b.len() < SNAP_HEADER {
        return Err(SnapError::Header(HeaderError::Short));
    }
    if &b[0..8] != SNAP_MAGIC {
        return Err(SnapError::Header(HeaderError::Magic));
    }
    if crc(&b[..44]) != u32_at(b, 44) {
        return Err(SnapError::Header(HeaderError::Checksum));
    }
    let revision = u64_at(b, 16);
    let count = u64_at(b, 24);
    let body_len = u64_at(b, 32) as usize;
    let body = &b[SNAP_HEADER..];
    if body.len() != body_len {
        return Err(SnapError::Body(format!(
            "the body is {} bytes, its header says {body_len}",
            body.len()
        )));
    }
    if crc(body) != u32_at(b, 40) {
        return Err(SnapError::Body("the body's checksum does not match".into()));
    }
    let mut c = Cursor { b: body, at: 0 };
    let mut entries = Vec::with_capacity(count.min(1 << 20) as usize);
    for _ in 0..count {
        let n = c.u16().map_err(SnapError::Body)?;
        let kind = c.str(n, "kind").map_err(SnapError::Body)?;
        let n = c.u32().map_err(SnapError::Body)?;
        entries.push((kind, c.take(n).map_err(SnapError::Body)?));
    }
    Ok((revision, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> Vec<u8> {
        let mut p = PayloadWriter::new();
        p.put("ConfigMap", "default/a", |b| {
            b.extend_from_slice(b"{\"x\":1}")
        });
        p.remove("Pod", "default/b");
        p.finish()
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let mut b = Vec::new();
        push_record(&mut b, 7, &payload());
        let ReadRecord::Record {
            rev,
            payload: p,
            len,
        } = read_record(&b)
        else {
            panic!("not a record")
        };
        assert_eq!((rev, len), (7, b.len()));
        assert_eq!(
            read_ops(p).unwrap(),
            vec![
                Op::Put {
                    kind: "ConfigMap",
                    key: "default/a",
                    json: b"{\"x\":1}"
                },
                Op::Remove {
                    kind: "Pod",
                    key: "default/b"
                }
            ]
        );
        assert_eq!(read_record(&b[len..]), ReadRecord::End);
    }

    #[test]
    fn every_cut_of_a_record_is_torn() {
        let mut b = Vec::new();
        push_record(&mut b, 3, &payload());
        for cut in 1..b.len() {
            assert_eq!(read_record(&b[..cut]), ReadRecord::Torn, "cut at {cut}");
        }
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let mut b = Vec::new();
        push_record(&mut b, 3, &payload());
        for i in 0..b.len() {
            for bit in 0..8 {
                let mut c = b.clone();
                c[i] ^= 1 << bit;
                // A flip in the length field may make the record look longer (torn) or
                // shorter (then its checksum covers other bytes): never a valid record.
                assert!(
                    !matches!(read_record(&c), ReadRecord::Record { .. }),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn a_newer_version_is_refused_before_anything_else() {
        let mut h = wal_header(1);
        h[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(read_wal_header(&h), Err(HeaderError::Newer(2)));
        // Even a header of another length is refused as newer, not as damaged.
        assert_eq!(read_wal_header(&h[..12]), Err(HeaderError::Newer(2)));
        assert_eq!(read_wal_header(&wal_header(9)), Ok(9));
        let mut s = snap_header(5, 0, b"").to_vec();
        s[8..12].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(
            read_snapshot(&s).unwrap_err(),
            SnapError::Header(HeaderError::Newer(3))
        );
    }

    #[test]
    fn a_snapshot_reads_back_and_catches_damage() {
        let mut body = Vec::new();
        push_snap_entry(&mut body, "ConfigMap", |b| b.extend_from_slice(b"{}"));
        push_snap_entry(&mut body, "Pod", |b| b.extend_from_slice(b"{\"a\":1}"));
        let mut file = snap_header(42, 2, &body).to_vec();
        file.extend_from_slice(&body);
        let (rev, entries) = read_snapshot(&file).unwrap();
        assert_eq!(rev, 42);
        assert_eq!(
            entries,
            vec![("ConfigMap", &b"{}"[..]), ("Pod", &b"{\"a\":1}"[..])]
        );
        let mut bad = file.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(read_snapshot(&bad), Err(SnapError::Body(_))));
        assert!(read_snapshot(&file[..file.len() - 1]).is_err());
    }
}

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
//! Records follow each other without padding, from byte 32 of the segment; revisions are
//! consecutive across a segment and across segments.
//!
//! # Preallocation (format version 2)
//! A segment is grown ahead of its records in steps of [`SEGMENT_CHUNK`] bytes of written
//! zeros (not `fallocate`: writing into unwritten extents would make every fsync commit
//! the extents' conversion), so an `fdatasync` after an append only flushes data, never the
//! file's size. Every byte after the header is written at most once after the zeros. A
//! segment that was closed (its successor was started, or the engine shut down) is cut back
//! to its last record; the newest one may end in zeros. Version 1 segments have no zeros:
//! they are read by the same rules.
//!
//! # Where a segment's log ends (`read_record`)
//! Reading at `at` (the first byte after the previous record), with `rest` the bytes from
//! `at` to the end of the file:
//! 1. `rest` empty, or every byte of `rest` zero: the **end** of the segment's log (the
//!    preallocated tail that no record reached).
//! 2. `rest` starts with a whole record (16-byte header, `len` at most `MAX_RECORD`, `16 +
//!    len` bytes present, checksum matches): a **record**.
//! 3. Otherwise the record at `at` is damaged. Its extent is `at .. at + 16 + len`, or `at ..
//!    at + 16` when `len` is above `MAX_RECORD`. It is **torn** (a write a crash cut short:
//!    a record that was never acknowledged in `Sync` mode) when both hold:
//!    - the file ends inside the extent, or a 512-byte block of the file (at a multiple of
//!      512 from its start: disks persist whole blocks) overlapping the extent is all zeros
//!      from where the extent starts in it to the block's end: the write never reached that
//!      block, which still holds what an earlier fsync left there (records before `at`,
//!      then zeros). A written record leaves no such block (an object's JSON has no NUL
//!      byte and ends with `}`; a header holds its non-zero revision);
//!    - no record with a matching checksum and a higher revision starts anywhere after `at`
//!      in `rest` (that would be an acknowledged successor: the damage is not at the tail).
//!
//!    Any other damaged record is **corrupt** (a flipped byte, a damaged sector).
//!
//! A damaged length field that makes the last record of the log look longer than the file,
//! or reach into its zeros, cannot be told from a torn write and is reported as one: the
//! same as in version 1, where a length past the end of the file read as torn.
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

/// The format version this build writes, and the newest it reads. Version 2 preallocates
/// segments (zero-filled tails, see [Preallocation](self#preallocation-format-version-2));
/// version 1 files are read by the same rules. A version 1 build refuses a version 2 dir
/// instead of reading a zero tail as a corrupt record.
pub const FORMAT_VERSION: u32 = 2;
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
/// How far a segment is grown ahead of its records, in zeros (see
/// [Preallocation](self#preallocation-format-version-2)): one fsync that commits a new file
/// size every 4 MiB of log, about 7,000 small updates.
pub const SEGMENT_CHUNK: u64 = 4 << 20;
/// The unit disks persist atomically, for telling a torn write from corruption.
pub(crate) const BLOCK: usize = 512;

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

/// What reading the record at an offset of a segment found (see [where a segment's log
/// ends](self#where-a-segments-log-ends-read_record)).
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
    /// Nothing but zeros (or nothing) from here: the end of the segment's log.
    End,
    /// A write cut short by a crash: the record ends past the file or in a block the write
    /// never reached, and no checksummed record of a later revision follows.
    Torn,
    /// The record is damaged otherwise: its checksum or length is wrong.
    Corrupt,
}

/// A whole record at the start of `b`, if its header and checksum are right.
fn whole_record(b: &[u8]) -> Option<(u64, &[u8], usize)> {
    if b.len() < RECORD_HEADER {
        return None;
    }
    let len = u32_at(b, 0) as usize;
    if len > MAX_RECORD || b.len() < RECORD_HEADER + len {
        return None;
    }
    if crc(&b[8..RECORD_HEADER + len]) != u32_at(b, 4) {
        return None;
    }
    Some((
        u64_at(b, 8),
        &b[RECORD_HEADER..RECORD_HEADER + len],
        RECORD_HEADER + len,
    ))
}

/// Reads the record at offset `at` of the segment `seg` (the whole file, header included:
/// block boundaries count from its start). `after` is the revision of the record before
/// it (a record of a higher revision found further on makes damage here corruption).
pub(crate) fn read_record(seg: &[u8], at: usize, after: u64) -> ReadRecord<'_> {
    let rest = &seg[at..];
    if let Some((rev, payload, len)) = whole_record(rest) {
        return ReadRecord::Record { rev, payload, len };
    }
    if rest.iter().all(|&b| b == 0) {
        return ReadRecord::End;
    }
    let claimed = if rest.len() >= 4 {
        u32_at(rest, 0) as usize
    } else {
        0
    };
    let extent = if claimed > MAX_RECORD {
        RECORD_HEADER
    } else {
        RECORD_HEADER + claimed
    };
    // A block the write did not reach holds, from where the record starts in it to its
    // end, what it held before: zeros (the part before the record may hold records written
    // by earlier, fsynced writes).
    let unwritten = rest.len() < extent
        || (at / BLOCK * BLOCK..at + extent).step_by(BLOCK).any(|b| {
            seg[b.max(at)..(b + BLOCK).min(seg.len())]
                .iter()
                .all(|&x| x == 0)
        });
    if !unwritten || later_record(rest, after) {
        ReadRecord::Corrupt
    } else {
        ReadRecord::Torn
    }
}

/// True when a record of a revision above `after` with a matching checksum starts anywhere
/// in `b` after its first byte.
fn later_record(b: &[u8], after: u64) -> bool {
    (1..b.len().saturating_sub(RECORD_HEADER - 1))
        .any(|i| u64_at(b, i + 8) > after && whole_record(&b[i..]).is_some())
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
        } = read_record(&b, 0, 6)
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
        assert_eq!(read_record(&b, len, 7), ReadRecord::End);
        // Zeros after the last record (a preallocated tail) are the end too.
        b.resize(len + 3000, 0);
        assert_eq!(read_record(&b, len, 7), ReadRecord::End);
    }

    #[test]
    fn every_cut_of_a_record_is_torn() {
        let mut b = Vec::new();
        push_record(&mut b, 3, &payload());
        for cut in 1..b.len() {
            assert_eq!(
                read_record(&b[..cut], 0, 2),
                ReadRecord::Torn,
                "cut at {cut}"
            );
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
                    !matches!(read_record(&c, 0, 2), ReadRecord::Record { .. }),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    /// A preallocated segment: header, records of revisions 3.. (payloads of `sizes`
    /// bytes of JSON), then zeros to 16 KiB. Returns the bytes and each record's offset.
    fn segment(sizes: &[usize]) -> (Vec<u8>, Vec<usize>) {
        let mut b = wal_header(3).to_vec();
        let mut at = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            at.push(b.len());
            let mut p = PayloadWriter::new();
            p.put("ConfigMap", "default/a", |j| {
                j.push(b'"');
                j.extend(std::iter::repeat_n(b'x', n));
                j.push(b'"');
            });
            push_record(&mut b, 3 + i as u64, &p.finish());
        }
        b.resize(16 * 1024, 0);
        (b, at)
    }

    /// Reads `b` from its first record as recovery does: the revisions read and how it
    /// stopped.
    fn read_all(b: &[u8]) -> (Vec<u64>, ReadRecord<'_>) {
        let (mut at, mut prev, mut revs) = (WAL_HEADER, 2, Vec::new());
        loop {
            match read_record(b, at, prev) {
                ReadRecord::Record { rev, len, .. } => {
                    revs.push(rev);
                    prev = rev;
                    at += len;
                }
                other => return (revs, other),
            }
        }
    }

    #[test]
    fn a_zero_tail_is_the_end_of_the_log() {
        let (b, _) = segment(&[100, 700, 50]);
        assert_eq!(read_all(&b), (vec![3, 4, 5], ReadRecord::End));
        // Nothing but zeros after the header: an empty log.
        let (b, _) = segment(&[]);
        assert_eq!(read_all(&b), (vec![], ReadRecord::End));
    }

    #[test]
    fn a_record_torn_before_zeros_is_torn_wherever_the_write_stopped() {
        let (full, at) = segment(&[100, 1500, 50]);
        // The write of records 4 and 5 reached the disk up to a block boundary inside
        // record 4: the rest of that write is zeros.
        let start = at[1];
        let end = full.iter().rposition(|&x| x != 0).unwrap() + 1;
        let cuts: Vec<usize> = (start / BLOCK + 1..)
            .map(|k| k * BLOCK)
            .take_while(|&c| c < at[2])
            .collect();
        assert_eq!(cuts.len(), 3);
        for cut in cuts {
            let mut b = full.clone();
            b[cut..end].fill(0);
            assert_eq!(read_all(&b), (vec![3], ReadRecord::Torn), "cut at {cut}");
        }
        // It reached none of them (record 4's header is zeros, after record 3 in the same
        // block): the log simply ends after record 3.
        let mut b = full.clone();
        b[start..end].fill(0);
        assert_eq!(read_all(&b), (vec![3], ReadRecord::End));
        // A torn record whose file ends inside it (version 1, or a growth not on disk).
        assert_eq!(read_all(&full[..at[1] + 900]), (vec![3], ReadRecord::Torn));
    }

    #[test]
    fn a_flipped_byte_in_the_middle_is_corrupt_not_torn() {
        let (full, at) = segment(&[100, 1500, 50]);
        // A byte of record 4's payload, its checksum, and its length made longer (reaching
        // into the zeros): record 5 follows, so the damage is not a torn tail.
        for (i, bit) in [(at[1] + 700, 0x20), (at[1] + 5, 0x01), (at[1] + 1, 0x10)] {
            let mut b = full.clone();
            b[i] ^= bit;
            assert_eq!(read_all(&b), (vec![3], ReadRecord::Corrupt), "byte {i}");
        }
        // A zeroed block inside record 4 while record 5 reached the disk (blocks persisted
        // out of order by a crash, or a lost write): not taken for a torn tail either.
        let mut b = full.clone();
        let block = (at[1] / BLOCK + 1) * BLOCK;
        b[block..block + BLOCK].fill(0);
        assert_eq!(read_all(&b), (vec![3], ReadRecord::Corrupt));
        // Damage in the last record with no zeros in it is corrupt too.
        let mut b = full.clone();
        b[at[2] + 30] ^= 0x04;
        assert_eq!(read_all(&b), (vec![3, 4], ReadRecord::Corrupt));
    }

    #[test]
    fn a_newer_version_is_refused_before_anything_else() {
        let newer = FORMAT_VERSION + 1;
        let mut h = wal_header(1);
        h[8..12].copy_from_slice(&newer.to_le_bytes());
        assert_eq!(read_wal_header(&h), Err(HeaderError::Newer(newer)));
        // Even a header of another length is refused as newer, not as damaged.
        assert_eq!(read_wal_header(&h[..12]), Err(HeaderError::Newer(newer)));
        // Version 1 (before preallocation) is read.
        let mut old = wal_header(9);
        old[8..12].copy_from_slice(&1u32.to_le_bytes());
        let c = crc(&old[..28]);
        old[28..32].copy_from_slice(&c.to_le_bytes());
        assert_eq!(read_wal_header(&old), Ok(9));
        assert_eq!(read_wal_header(&wal_header(9)), Ok(9));
        let mut s = snap_header(5, 0, b"").to_vec();
        s[8..12].copy_from_slice(&newer.to_le_bytes());
        assert_eq!(
            read_snapshot(&s).unwrap_err(),
            SnapError::Header(HeaderError::Newer(newer))
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

//! Durable state: a write-ahead log of committed revisions, periodic snapshots and log
//! compaction in a data dir, under the in-memory store.
//!
//! The in-memory store stays the read path: reads and watches never touch the disk. A
//! write is prepared as always; its changes are encoded (outside any lock) into one log
//! record; under the locks of the kinds it touches the record is appended to an in-memory
//! buffer and takes the next revision (both under the log's append mutex, so log order is
//! revision order); the change is applied in memory; the locks are released; then, in
//! [`Durability::Sync`], the writer waits until its record is on disk (group commit: the
//! invariants are in `WalLog::wait`) and only then publishes the change to watchers.
//!
//! # What each mode promises
//! - [`Durability::Sync`]: a write returns only after its record (and every record before
//!   it) was written and `fdatasync`ed. A crash never loses an acknowledged write.
//!   Concurrent writers share fsyncs (group commit): while one writer fsyncs, the others
//!   append and wait; the next fsync covers all of them.
//! - [`Durability::Interval`]`(d)`: writes return at once; a background thread writes and
//!   fsyncs the log at least every `d` (measured on the engine's clock). A crash loses at most
//!   the writes of the last `d` (plus the fsync in progress), never part of one, and never a
//!   write without the ones before it.
//! - Without persistence (the default) nothing here runs: the write path takes no extra
//!   lock and allocates nothing more.
//!
//! # What watchers and readers see before a write is durable
//! - **Watchers** (every [`Watch`](crate::store::Watch): controllers, the C and Python
//!   watches, the HTTP API's `?watch=1`): in [`Durability::Sync`] a change reaches watchers
//!   and the kind's watch history only once its log record is on disk. Its writer publishes
//!   it after the fsync, before the write returns. A watch started meanwhile starts from the
//!   state without it (its initial ADDED events and its revision exclude it, a replay from
//!   a revision does not include it) and its bookmarks stay below it; it gets the change,
//!   once, when it is published. So no watcher sees a change that a crash takes back. In
//!   [`Durability::Interval`] changes are published as soon as they are applied, before
//!   they are durable, as their writers are answered: a crash may take back a change a
//!   watcher saw, with every change after it.
//! - **Reads** (`get`, `list`, and so the HTTP API's GET and LIST) serve the in-memory state,
//!   which holds a change from the moment it is applied, in both modes: in `Sync`, a read
//!   during the fsync of a write (well under a millisecond to a few, on the disks measured)
//!   may return it although its writer has not been answered, and a crash then loses it,
//!   with every change after it (the log never has holes). A list's revision then counts
//!   it; a watch from that revision does not send it again when it is published.
//! - If writing or fsyncing the log fails, the changes it held stay applied in memory but
//!   are never published, and every later write is refused.
//!
//! # Recovery rules (on start)
//! 1. Take the dir's lock: `flock(LOCK_EX | LOCK_NB)` on `DIR/LOCK`, which holds the
//!    owner's pid. Refuse the dir (naming that pid) if another engine, in this process or
//!    another, holds it. The kernel releases the lock when its owner dies, even by SIGKILL.
//! 2. Refuse the dir if any snapshot or segment header says a newer [`FORMAT_VERSION`]
//!    (the file layout is in [`format`](mod@format)); nothing is changed in such a dir.
//! 3. Load the newest snapshot whose header and body checksums match; skip (and report)
//!    damaged ones. No usable snapshot: start from the empty store at revision 1.
//! 4. Replay the segments in order of their first revision, skipping records at or below
//!    the snapshot's revision. Each record must have the revision after the previous one.
//! 5. Stop at the first record that is torn (a write a crash cut short), corrupt (checksum
//!    or length wrong, or operations that do not parse), or out of sequence; the exact
//!    rules, and the zeros a preallocated segment ends in, are in [where a segment's log
//!    ends](mod@format#where-a-segments-log-ends-read_record). A segment whose log ends in
//!    zeros is cut back to its last record (it is closed: a new one starts). Truncate its
//!    segment there and rename every later segment to `*.dropped`; report it, with a log
//!    line (an error when whole records were dropped, a warning for a torn tail only). A
//!    newest segment shorter than its header (its creation cut short) holds no record and
//!    is removed; a segment with any other unreadable header is renamed aside with the rest.
//! 6. New writes go to a new segment starting at the next revision.
//!
//! Revision, uids, generations and resourceVersions are those of the objects read back;
//! the watch history holds every change replayed from the log, so a watch from any revision
//! at or after the snapshot's replays exactly as before the restart, and a watch from an
//! older one gets Expired, as for any revision older than the history.
//!
//! # Snapshots and compaction
//! After every `snapshot_every` records the background thread takes every kind's lock (so no
//! write is between revision and log), notes the revision `S`, closes the current segment
//! (fsynced) and starts `wal-<S+1>.log`, copies the object references, and lets the writers go.
//! It then encodes `snap-<S>.snap` (written to a `.tmp` file, fsynced, renamed, dir fsynced).
//! Only then is the log compacted: the two newest snapshots are kept, older ones are removed,
//! and so is every segment holding only revisions at or below the older kept snapshot, so a
//! damaged newest snapshot can always fall back to the one before it.

pub mod format;
mod lock;
pub(super) mod replay;

pub(crate) use format::PayloadWriter;
pub use format::FORMAT_VERSION;

use crate::clock::SharedClock;
use crate::error::{Error, Result};
use format::{ReadRecord, WAL_HEADER};
use lock::DirLock;
use parking_lot::{Condvar, Mutex};
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How durable a write is when it returns (see the module docs for the exact promises).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// A write returns after its log record is fsynced; concurrent writers share fsyncs.
    Sync,
    /// Writes return at once; the log is fsynced at least this often (at least every
    /// millisecond: shorter intervals count as 1 ms). A crash loses at most this window of
    /// writes.
    Interval(Duration),
}

impl Durability {
    /// Parses `sync` or `interval:<n>ms` / `interval:<n>s` (as the C, Python and CLI
    /// configurations spell it).
    pub fn parse(s: &str) -> std::result::Result<Durability, String> {
        let s = s.trim();
        if s == "sync" {
            return Ok(Durability::Sync);
        }
        let bad = || {
            format!("expected \"sync\" or \"interval:<n>ms\" (or \"interval:<n>s\"), found {s:?}")
        };
        let d = s.strip_prefix("interval:").ok_or_else(bad)?;
        let (n, unit) = if let Some(n) = d.strip_suffix("ms") {
            (n, 1)
        } else if let Some(n) = d.strip_suffix('s') {
            (n, 1000)
        } else {
            return Err(bad());
        };
        let n: u64 = n.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(format!(
                "{s:?}: the interval must be above zero (or use \"sync\")"
            ));
        }
        Ok(Durability::Interval(Duration::from_millis(n * unit)))
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Durability::Sync => f.write_str("sync"),
            Durability::Interval(d) => write!(f, "interval:{}ms", d.as_millis()),
        }
    }
}

/// The shortest fsync interval: `Interval(Duration::ZERO)` means this, not a busy loop.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Where and how a store keeps its state across restarts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Persist {
    /// The data dir (created if missing).
    pub dir: PathBuf,
    /// How durable a write is when it returns.
    pub durability: Durability,
    /// Log records between snapshots (default 10,000): lower means faster recovery and
    /// less disk, higher fewer snapshot pauses.
    pub snapshot_every: u64,
}

impl Persist {
    /// Persistence in `dir` with `durability` and the default snapshot period.
    pub fn new(dir: impl Into<PathBuf>, durability: Durability) -> Self {
        Persist {
            dir: dir.into(),
            durability,
            snapshot_every: 10_000,
        }
    }

    /// Sets the number of log records between snapshots (at least 1).
    pub fn snapshot_every(mut self, records: u64) -> Self {
        self.snapshot_every = records.max(1);
        self
    }
}

/// Where recovery stopped reading the log early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The segment that was cut.
    pub segment: PathBuf,
    /// Where it was cut (bytes from its start).
    pub offset: u64,
    /// Bytes removed from it.
    pub bytes: u64,
    /// Why: `"torn record"` or `"torn segment header"` (a write or a segment's creation
    /// cut short by a crash: nothing acknowledged in [`Durability::Sync`] is lost),
    /// `"corrupt record"`, `"revision out of sequence"`, `"unreadable segment header"`, ...
    /// A segment whose header cannot be read is set aside whole (`*.dropped`), or removed
    /// when it is a torn newest one.
    pub reason: String,
    /// Later segments renamed to `*.dropped` (not read).
    pub dropped_segments: Vec<PathBuf>,
}

/// What recovery found and did when a durable store started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The data dir.
    pub dir: PathBuf,
    /// True when the dir held no state (a first start).
    pub fresh: bool,
    /// Revision of the snapshot loaded, if any.
    pub snapshot_revision: Option<u64>,
    /// Objects read from the snapshot.
    pub snapshot_objects: usize,
    /// Snapshots skipped as damaged, with the reason.
    pub skipped_snapshots: Vec<(PathBuf, String)>,
    /// Log records replayed after the snapshot.
    pub records_replayed: u64,
    /// The store's revision after recovery.
    pub revision: u64,
    /// Where the log was cut, when it ended in a torn or corrupt record.
    pub truncation: Option<Truncation>,
    /// How long recovery took.
    pub duration: Duration,
}

impl RecoveryReport {
    /// True when recovery dropped anything beyond a torn last record or a torn newest
    /// segment header (which hold nothing acknowledged in [`Durability::Sync`]).
    pub fn lost_data(&self) -> bool {
        !self.skipped_snapshots.is_empty()
            || self
                .truncation
                .as_ref()
                .is_some_and(|t| !t.reason.starts_with("torn ") || !t.dropped_segments.is_empty())
    }
}

impl std::fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.fresh {
            return write!(f, "data dir {}: new, starting empty", self.dir.display());
        }
        write!(f, "data dir {}: ", self.dir.display())?;
        match self.snapshot_revision {
            Some(r) => write!(
                f,
                "snapshot at revision {r} ({} objects)",
                self.snapshot_objects
            )?,
            None => write!(f, "no snapshot")?,
        }
        write!(
            f,
            ", {} log records replayed, now at revision {} ({} ms)",
            self.records_replayed,
            self.revision,
            self.duration.as_millis()
        )?;
        for (p, why) in &self.skipped_snapshots {
            write!(f, "; skipped damaged snapshot {}: {why}", p.display())?;
        }
        if let Some(t) = &self.truncation {
            write!(
                f,
                "; {} in {} at offset {}: truncated {} bytes",
                t.reason,
                t.segment.display(),
                t.offset,
                t.bytes
            )?;
            if !t.dropped_segments.is_empty() {
                write!(
                    f,
                    ", {} later segment(s) renamed to *.dropped",
                    t.dropped_segments.len()
                )?;
            }
        }
        Ok(())
    }
}

/// The seam between the store and what makes it durable: the write-ahead log here, an etcd
/// backend later. The store calls `append` under the locks of every kind a commit touches
/// and `wait` after releasing them.
pub(crate) trait Backend: Send + Sync {
    /// Records one commit's `payload` and returns its revision, taken from `counter` in the
    /// same critical section that orders the record, so backend order is revision order.
    /// An error means nothing was recorded and no revision was taken.
    fn append(&self, counter: &AtomicU64, payload: &[u8]) -> Result<u64>;
    /// Returns when revision `rev` is as durable as the backend promises.
    fn wait(&self, rev: u64) -> Result<()>;
    /// True when a change may reach watchers only once `wait` returned for it (the store
    /// then keeps its event unpublished until then): a watcher never sees a change that a
    /// crash can take back. False when writes are acknowledged before they are durable
    /// anyway ([`Durability::Interval`]).
    fn publishes_when_durable(&self) -> bool;
    /// Makes everything appended durable, stops background work and releases the data dir.
    /// Later appends fail with [`Error::Closed`].
    fn close(&self);
    /// The write-ahead log, when this backend is one (tests look inside).
    #[cfg(test)]
    fn as_wal(&self) -> Option<&WalLog> {
        None
    }
}

/// A snapshot read back: its revision and entries `(kind, json)`.
pub(crate) type Snapshot = (u64, Vec<(String, Vec<u8>)>);

/// What recovery read from the dir, before it is applied to a store.
pub(crate) struct Recovered {
    /// The snapshot's revision and entries `(kind, json)`.
    pub(crate) snapshot: Option<Snapshot>,
    /// Records after the snapshot, in revision order.
    pub(crate) records: Vec<(u64, Vec<u8>)>,
    pub(crate) report: RecoveryReport,
    lock: DirLock,
    segments: Vec<Segment>,
}

#[derive(Clone, Debug)]
struct Segment {
    first: u64,
    path: PathBuf,
}

fn wal_name(first: u64) -> String {
    format!("wal-{first:020}.log")
}

fn snap_name(rev: u64) -> String {
    format!("snap-{rev:020}.snap")
}

fn parse_name(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    name.strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .parse()
        .ok()
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::storage(path, format!("{what}: {e}"))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, "cannot fsync the data dir", e))
}

/// Snapshot files by revision.
type Snapshots = Vec<(u64, PathBuf)>;

/// The segments and snapshots in `dir`, each sorted by revision.
fn list(dir: &Path) -> Result<(Vec<Segment>, Snapshots)> {
    let mut segments = Vec::new();
    let mut snaps = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| io_err(dir, "cannot list the data dir", e))?;
    for e in entries {
        let e = e.map_err(|e| io_err(dir, "cannot list the data dir", e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(first) = parse_name(name, "wal-", ".log") {
            segments.push(Segment {
                first,
                path: e.path(),
            });
        } else if let Some(rev) = parse_name(name, "snap-", ".snap") {
            snaps.push((rev, e.path()));
        }
    }
    segments.sort_by_key(|s| s.first);
    snaps.sort_by_key(|s| s.0);
    Ok((segments, snaps))
}

/// Removes the `.tmp` snapshots a crash cut short. Only at recovery, under the dir's lock and
/// before the background thread starts: later, a `.tmp` is a snapshot being written (listing
/// the dir once removed one under the writer's feet, and the snapshot was lost).
fn remove_unfinished_snapshots(dir: &Path) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| io_err(dir, "cannot list the data dir", e))?;
    for e in entries {
        let e = e.map_err(|e| io_err(dir, "cannot list the data dir", e))?;
        if e.file_name().to_str().is_some_and(|n| n.ends_with(".tmp")) {
            let _ = fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// Creates `dir` (and its parents) readable by its owner only when it is new: the data dir
/// holds every object, Secrets included, as etcd's does.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Options for a new file of the data dir: readable by its owner only.
pub(crate) fn private_file() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| io_err(path, "cannot read", e))
}

/// Reads the dir as the recovery rules say (steps 1 to 5), cutting the log where it must.
pub(crate) fn recover(p: &Persist) -> Result<Recovered> {
    let started = Instant::now();
    let dir = &p.dir;
    create_private_dir(dir).map_err(|e| io_err(dir, "cannot create the data dir", e))?;
    let lock = DirLock::acquire(dir)?;
    remove_unfinished_snapshots(dir)?;
    let (mut segments, snaps) = list(dir)?;
    let mut report = RecoveryReport {
        dir: dir.clone(),
        fresh: segments.is_empty() && snaps.is_empty(),
        ..Default::default()
    };
    // Rule 2: a newer version anywhere refuses the dir, before anything is changed.
    let mut segment_bytes = Vec::with_capacity(segments.len());
    for s in &segments {
        let b = read(&s.path)?;
        if let Err(format::HeaderError::Newer(v)) = format::read_wal_header(&b) {
            return Err(newer(&s.path, v));
        }
        segment_bytes.push(b);
    }
    let mut snapshot: Option<Snapshot> = None;
    for (rev, path) in snaps.iter().rev() {
        let b = read(path)?;
        match format::read_snapshot(&b) {
            Ok((r, entries)) if r == *rev => {
                if snapshot.is_none() {
                    let entries = entries
                        .into_iter()
                        .map(|(k, j)| (k.to_string(), j.to_vec()))
                        .collect();
                    snapshot = Some((r, entries));
                }
            }
            Ok((r, _)) => report.skipped_snapshots.push((
                path.clone(),
                format!("its header says revision {r}, its name {rev}"),
            )),
            Err(format::SnapError::Header(format::HeaderError::Newer(v))) => {
                return Err(newer(path, v))
            }
            Err(e) if snapshot.is_none() => {
                report.skipped_snapshots.push((path.clone(), e.to_string()))
            }
            Err(_) => {}
        }
    }
    let base = snapshot.as_ref().map_or(1, |(r, _)| *r);
    report.snapshot_revision = snapshot.as_ref().map(|(r, _)| *r);
    report.snapshot_objects = snapshot.as_ref().map_or(0, |(_, e)| e.len());
    // Rule 4 and 5.
    let mut records = Vec::new();
    let mut last = base;
    let mut cut: Option<(usize, u64, String)> = None;
    // Segments whose log ends before the file does (a preallocated tail of zeros).
    let mut zero_tails: Vec<(usize, u64)> = Vec::new();
    'segments: for (i, (s, b)) in segments.iter().zip(&segment_bytes).enumerate() {
        let next_first = segments.get(i + 1).map(|n| n.first);
        // A segment whose records all come before the snapshot is not read.
        if next_first.is_some_and(|n| n <= base + 1) {
            continue;
        }
        let first = match format::read_wal_header(b) {
            Ok(f) => f,
            // The newest segment, its creation cut short by a crash: it holds no record.
            Err(format::HeaderError::Short) if next_first.is_none() => {
                cut = Some((i, 0, "torn segment header".into()));
                break;
            }
            Err(e) => {
                cut = Some((i, 0, format!("unreadable segment header ({e})")));
                break;
            }
        };
        if first != s.first {
            cut = Some((
                i,
                0,
                format!("segment header says revision {first}, its name {}", s.first),
            ));
            break;
        }
        let mut at = WAL_HEADER;
        let mut prev = first.saturating_sub(1);
        loop {
            match format::read_record(b, at, prev) {
                ReadRecord::End => {
                    if at < b.len() {
                        zero_tails.push((i, at as u64));
                    }
                    break;
                }
                ReadRecord::Torn => {
                    cut = Some((i, at as u64, "torn record".into()));
                    break 'segments;
                }
                ReadRecord::Corrupt => {
                    cut = Some((i, at as u64, "corrupt record".into()));
                    break 'segments;
                }
                ReadRecord::Record { rev, payload, len } => {
                    if rev > base {
                        if rev != last + 1 {
                            cut = Some((
                                i,
                                at as u64,
                                format!(
                                    "revision out of sequence (expected {}, found {rev})",
                                    last + 1
                                ),
                            ));
                            break 'segments;
                        }
                        if let Err(e) = format::read_ops(payload) {
                            cut = Some((i, at as u64, format!("corrupt record ({e})")));
                            break 'segments;
                        }
                        records.push((rev, payload.to_vec()));
                        last = rev;
                    }
                    prev = rev;
                    at += len;
                }
            }
        }
    }
    // A segment is closed once read: its zeros go, as a running log's do at rotation.
    for &(i, at) in &zero_tails {
        let path = &segments[i].path;
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| {
                f.set_len(at)?;
                f.sync_all()
            })
            .map_err(|e| io_err(path, "cannot cut the preallocated tail", e))?;
    }
    if let Some((i, offset, reason)) = cut {
        let seg = &segments[i];
        let len = segment_bytes[i].len() as u64;
        let mut dropped = Vec::new();
        if reason == "torn segment header" {
            fs::remove_file(&seg.path).map_err(|e| io_err(&seg.path, "cannot remove", e))?;
        } else if offset < WAL_HEADER as u64 {
            // Nothing in it can be read: set it aside whole.
            set_aside(&seg.path)?;
        } else {
            let f = OpenOptions::new()
                .write(true)
                .open(&seg.path)
                .map_err(|e| io_err(&seg.path, "cannot open to truncate", e))?;
            f.set_len(offset)
                .and_then(|_| f.sync_all())
                .map_err(|e| io_err(&seg.path, "cannot truncate", e))?;
        }
        for later in &segments[i + 1..] {
            dropped.push(set_aside(&later.path)?);
        }
        sync_dir(dir)?;
        report.truncation = Some(Truncation {
            segment: seg.path.clone(),
            offset,
            bytes: len - offset,
            reason,
            dropped_segments: dropped,
        });
        segments.truncate(if offset < WAL_HEADER as u64 { i } else { i + 1 });
    }
    report.records_replayed = records.len() as u64;
    report.revision = last;
    report.duration = started.elapsed();
    Ok(Recovered {
        snapshot,
        records,
        report,
        lock,
        segments,
    })
}

fn newer(path: &Path, v: u32) -> Error {
    Error::storage(
        path,
        format!(
            "written in format version {v} by a newer steady; this build reads versions up to {FORMAT_VERSION}: \
             refusing to read it (upgrade steady, or use another data dir)"
        ),
    )
}

fn set_aside(path: &Path) -> Result<PathBuf> {
    let mut to = path.as_os_str().to_owned();
    to.push(".dropped");
    let to = PathBuf::from(to);
    fs::rename(path, &to).map_err(|e| io_err(path, "cannot rename aside", e))?;
    Ok(to)
}

/// What a snapshot captures: the revision and every object, by kind (definitions first).
pub(crate) struct Captured {
    pub(crate) revision: u64,
    pub(crate) objects: Vec<(String, Vec<Arc<dyn crate::api::Object>>)>,
}

/// Captures the store for a snapshot; called by the log's background thread. It takes every
/// kind's lock, calls [`WalLog::rotate`] with the revision, copies the object references
/// and releases the locks. `None` when the store is gone.
pub(crate) type CaptureFn = Box<dyn Fn(&WalLog) -> Option<Result<Captured>> + Send + Sync>;

/// Appends: the buffer of framed records not yet written, in revision order.
struct Appends {
    buf: Vec<u8>,
    /// Revision of the last record appended.
    appended: u64,
    since_snapshot: u64,
    /// A snapshot was asked for since the last one.
    asked: bool,
    closed: bool,
}

/// File I/O: held by whoever writes the buffer to the file (one at a time, so bytes reach
/// the file in the order they were appended).
struct Io {
    file: File,
    segments: Vec<Segment>,
    /// Revision of the last record written to the file.
    written: u64,
    /// Where the next record goes in `file`.
    pos: u64,
    /// The file's length: zeros from `pos` to here (see
    /// [Preallocation](mod@format#preallocation-format-version-2)).
    allocated: u64,
}

/// Group commit (see [`WalLog::wait`] for the invariant).
struct SyncState {
    /// Every record at or below this revision is on disk.
    synced: u64,
    /// A writer is writing and fsyncing for everyone (group commit).
    leader: bool,
    /// The leader has taken the buffer: its fsync covers every record up to `covering`.
    taken: bool,
    covering: u64,
    /// Number of the latest group (a leader's write and fsync); the waiters of group `g`
    /// sleep on `WalLog::groups[g % 2]`.
    group: u64,
    /// The first write or fsync error: the log accepts nothing after it.
    failed: Option<String>,
}

#[derive(Default)]
struct Wake {
    snapshot: bool,
    stop: bool,
}

/// The write-ahead log of a data dir (see the module docs).
pub(crate) struct WalLog {
    dir: PathBuf,
    durability: Durability,
    snapshot_every: u64,
    appends: Mutex<Appends>,
    io: Mutex<Io>,
    sync: Mutex<SyncState>,
    /// Waiters of even and odd groups (see [`WalLog::wait`]).
    groups: [Condvar; 2],
    wake: Mutex<Wake>,
    wake_cv: Condvar,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    lock: Mutex<Option<DirLock>>,
    /// fsyncs of the log so far (group commit makes this far fewer than the writes).
    fsyncs: AtomicU64,
}

impl std::fmt::Debug for WalLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalLog")
            .field("dir", &self.dir)
            .field("durability", &self.durability)
            .finish()
    }
}

/// Writes `buf` at `offset` of `file`.
fn write_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom};
        let mut f = file;
        f.seek(SeekFrom::Start(offset))?;
        f.write_all(buf)
    }
}

/// Grows `file` from `from` to `to` bytes with written zeros (see
/// [Preallocation](mod@format#preallocation-format-version-2)).
fn grow(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let mut at = from;
    while at < to {
        let n = (to - at).min(ZEROS.len() as u64);
        write_at(file, &ZEROS[..n as usize], at)?;
        at += n;
    }
    Ok(())
}

fn create_segment(dir: &Path, first: u64) -> Result<(File, Segment)> {
    let path = dir.join(wal_name(first));
    // A segment of that name can only be an empty one (created just before a crash):
    // recovery read every record below `first`.
    let mut file = private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| io_err(&path, "cannot create log segment", e))?;
    file.write_all(&format::wal_header(first))
        .and_then(|_| file.sync_all())
        .map_err(|e| io_err(&path, "cannot write log segment header", e))?;
    sync_dir(dir)?;
    Ok((file, Segment { first, path }))
}

impl WalLog {
    /// Opens the log for writing after recovery: a new segment at the revision after the
    /// last one read, and the background thread (interval fsyncs, snapshots).
    pub(crate) fn start(
        p: &Persist,
        rec: Recovered,
        clock: SharedClock,
        capture: CaptureFn,
    ) -> Result<Arc<WalLog>> {
        let last = rec.report.revision;
        let (file, seg) = create_segment(&p.dir, last + 1)?;
        let mut segments = rec.segments;
        segments.retain(|s| s.first != seg.first);
        segments.push(seg);
        let log = Arc::new(WalLog {
            dir: p.dir.clone(),
            durability: p.durability,
            snapshot_every: p.snapshot_every.max(1),
            appends: Mutex::new(Appends {
                buf: Vec::with_capacity(64 * 1024),
                appended: last,
                since_snapshot: rec.records.len() as u64,
                asked: false,
                closed: false,
            }),
            io: Mutex::new(Io {
                file,
                segments,
                written: last,
                pos: WAL_HEADER as u64,
                allocated: WAL_HEADER as u64,
            }),
            sync: Mutex::new(SyncState {
                synced: last,
                leader: false,
                taken: false,
                covering: last,
                group: 0,
                failed: None,
            }),
            groups: [Condvar::new(), Condvar::new()],
            wake: Mutex::new(Wake::default()),
            wake_cv: Condvar::new(),
            worker: Mutex::new(None),
            lock: Mutex::new(Some(rec.lock)),
            fsyncs: AtomicU64::new(0),
        });
        if clock.is_manual() {
            let weak = Arc::downgrade(&log);
            clock.on_advance(Arc::new(move || {
                if let Some(l) = weak.upgrade() {
                    l.wake_cv.notify_all();
                }
            }));
        }
        let worker_log = log.clone();
        // The first deadline is set here, not by the thread: time may move before it runs.
        let first_deadline = match p.durability {
            Durability::Interval(d) => Some(clock.monotonic() + d.max(MIN_INTERVAL)),
            Durability::Sync => None,
        };
        let handle = std::thread::Builder::new()
            .name("steady-wal".into())
            .spawn(move || worker_log.run(clock, capture, first_deadline))
            .map_err(|e| Error::storage(&p.dir, format!("cannot start the log thread: {e}")))?;
        *log.worker.lock() = Some(handle);
        Ok(log)
    }

    /// Takes the buffered records: the bytes and the revision of the last one. Caller holds
    /// `io`, so buffers reach the file in the order they were taken.
    fn take(&self) -> (Vec<u8>, u64) {
        let mut a = self.appends.lock();
        let spare = Vec::with_capacity(a.buf.capacity().min(1 << 20));
        (std::mem::replace(&mut a.buf, spare), a.appended)
    }

    /// Writes `buf` (records up to `target`) where the segment's records end, in one write,
    /// growing the segment first when they would pass its zeros; with `fsync`, syncs it.
    /// Caller holds `io`.
    fn write_locked(
        &self,
        io: &mut Io,
        buf: &[u8],
        target: u64,
        fsync: bool,
    ) -> std::io::Result<u64> {
        if !buf.is_empty() {
            let end = io.pos + buf.len() as u64;
            if end > io.allocated {
                // The next fsync also commits the new size: once per SEGMENT_CHUNK.
                let to = end.div_ceil(format::SEGMENT_CHUNK) * format::SEGMENT_CHUNK;
                grow(&io.file, io.allocated, to)?;
                io.allocated = to;
            }
            write_at(&io.file, buf, io.pos)?;
            io.pos = end;
            io.written = target;
        }
        if fsync {
            io.file.sync_data()?;
            self.fsyncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(target)
    }

    /// Writes the buffered records to the file and, with `fsync`, syncs it. Returns the
    /// revision now written (and synced, with `fsync`). Caller holds `io`.
    fn flush_locked(&self, io: &mut Io, fsync: bool) -> std::io::Result<u64> {
        let (buf, target) = self.take();
        self.write_locked(io, &buf, target, fsync)
    }

    /// Writes everything buffered, cuts the segment's zeros off and fsyncs it: a closed
    /// segment ends with its last record. Caller holds `io`.
    fn finish_segment(&self, io: &mut Io) -> std::io::Result<u64> {
        let target = self.flush_locked(io, false)?;
        if io.allocated > io.pos {
            io.file.set_len(io.pos)?;
            io.allocated = io.pos;
        }
        io.file.sync_data()?;
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        Ok(target)
    }

    /// Marks everything up to `rev` synced (or the log failed) and wakes every waiter it
    /// covers. For fsyncs outside group commit (interval, rotation, close): they may cover
    /// waiters of any group, so both groups are woken.
    fn settle(&self, r: std::io::Result<u64>) {
        let mut s = self.sync.lock();
        match r {
            Ok(rev) => s.synced = s.synced.max(rev),
            Err(e) => self.fail(&mut s, e),
        }
        drop(s);
        self.groups[0].notify_all();
        self.groups[1].notify_all();
    }

    fn fail(&self, s: &mut SyncState, e: std::io::Error) {
        if s.failed.is_none() {
            log::error!(
                "data dir {}: writing the log failed, refusing further writes: {e}",
                self.dir.display()
            );
            s.failed = Some(format!("writing the log failed: {e}"));
        }
    }

    /// Writes and fsyncs everything appended so far.
    fn sync_now(&self) {
        let mut io = self.io.lock();
        let r = self.flush_locked(&mut io, true);
        drop(io);
        self.settle(r);
    }

    /// Leads one group (see [`WalLog::wait`]): takes the buffer, writes it in one write,
    /// fsyncs, and wakes the group and the next group's first waiter.
    fn lead(&self) {
        let mut io = self.io.lock();
        let (buf, target, group) = {
            let mut s = self.sync.lock();
            let (buf, target) = self.take();
            s.group += 1;
            s.taken = true;
            s.covering = target;
            (buf, target, s.group)
        };
        let r = self.write_locked(&mut io, &buf, target, true);
        drop(io);
        let mut s = self.sync.lock();
        s.leader = false;
        s.taken = false;
        let failed = r.is_err();
        match r {
            Ok(rev) => s.synced = s.synced.max(rev),
            Err(e) => self.fail(&mut s, e),
        }
        drop(s);
        self.groups[(group % 2) as usize].notify_all();
        if failed {
            self.groups[((group + 1) % 2) as usize].notify_all();
        } else {
            self.groups[((group + 1) % 2) as usize].notify_one();
        }
    }

    /// Called under every kind's lock by a snapshot: closes the current segment (written and
    /// fsynced: it holds every revision up to `at`) and starts `wal-<at+1>.log`.
    pub(crate) fn rotate(&self, at: u64) -> Result<()> {
        let mut io = self.io.lock();
        let r = self.finish_segment(&mut io);
        let ok = r.is_ok();
        self.settle(r);
        if !ok {
            return Err(self.failure());
        }
        let (file, seg) = create_segment(&self.dir, at + 1)?;
        io.file = file;
        io.pos = WAL_HEADER as u64;
        io.allocated = WAL_HEADER as u64;
        io.segments.push(seg);
        let mut a = self.appends.lock();
        a.since_snapshot = 0;
        a.asked = false;
        Ok(())
    }

    fn failure(&self) -> Error {
        let m = self
            .sync
            .lock()
            .failed
            .clone()
            .unwrap_or_else(|| "the log failed".into());
        Error::storage(&self.dir, m)
    }

    /// The background thread: interval fsyncs and snapshots, until `close`.
    fn run(self: Arc<Self>, clock: SharedClock, capture: CaptureFn, first: Option<Duration>) {
        self.serve(clock, capture, first);
        // Released here too: when the store was closed by this very thread (it held the last
        // reference while capturing), `close` left the lock to the end of this thread.
        self.lock.lock().take();
    }

    fn serve(&self, clock: SharedClock, capture: CaptureFn, first: Option<Duration>) {
        let interval = match self.durability {
            Durability::Interval(d) => Some(d.max(MIN_INTERVAL)),
            Durability::Sync => None,
        };
        let mut deadline = first;
        loop {
            let (snapshot, stop) = {
                let mut w = self.wake.lock();
                if !w.snapshot && !w.stop {
                    match deadline {
                        None => self.wake_cv.wait(&mut w),
                        Some(_) if clock.is_manual() => {
                            // Time moves by hand: `on_advance` wakes this thread. The real-time
                            // bound only guards against a missed wake-up.
                            self.wake_cv.wait_for(&mut w, Duration::from_millis(50));
                        }
                        Some(d) => {
                            let now = clock.monotonic();
                            if d > now {
                                self.wake_cv.wait_for(&mut w, d - now);
                            }
                        }
                    }
                }
                (std::mem::take(&mut w.snapshot), w.stop)
            };
            if stop {
                return;
            }
            if let (Some(d), Some(i)) = (deadline, interval) {
                let now = clock.monotonic();
                if now >= d {
                    self.sync_now();
                    deadline = Some(now + i);
                }
            }
            if snapshot {
                let captured = capture(self);
                if self.appends.lock().closed {
                    return;
                }
                match captured {
                    None => return,
                    Some(Ok(c)) => {
                        if let Err(e) = self.write_snapshot(c) {
                            log::error!("{e}");
                        }
                    }
                    Some(Err(e)) => log::error!("{e}"),
                }
            }
        }
    }

    /// Writes `snap-<rev>.snap` and compacts (see the module docs).
    fn write_snapshot(&self, c: Captured) -> Result<()> {
        let started = Instant::now();
        let mut body = Vec::new();
        let mut count = 0u64;
        for (kind, objects) in &c.objects {
            for o in objects {
                format::push_snap_entry(&mut body, kind, |b| {
                    b.extend_from_slice(&o.to_json());
                });
                count += 1;
            }
        }
        let header = format::snap_header(c.revision, count, &body);
        let path = self.dir.join(snap_name(c.revision));
        let tmp = self.dir.join(format!("{}.tmp", snap_name(c.revision)));
        let write = || -> std::io::Result<()> {
            let mut f = private_file()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(&header)?;
            f.write_all(&body)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| io_err(&path, "cannot write snapshot", e))?;
        sync_dir(&self.dir)?;
        self.compact()?;
        log::debug!(
            "data dir {}: snapshot at revision {} ({count} objects, {} bytes) in {} ms",
            self.dir.display(),
            c.revision,
            header.len() + body.len(),
            started.elapsed().as_millis()
        );
        Ok(())
    }

    /// Keeps the two newest snapshots and the segments needed after the older of them.
    fn compact(&self) -> Result<()> {
        let (_, snaps) = list(&self.dir)?;
        if snaps.len() < 2 {
            return Ok(());
        }
        let keep_from = snaps[snaps.len() - 2].0;
        for (_, p) in &snaps[..snaps.len() - 2] {
            fs::remove_file(p).map_err(|e| io_err(p, "cannot remove old snapshot", e))?;
        }
        let mut io = self.io.lock();
        // A segment can go when the next one starts at or before `keep_from + 1`: all its
        // records are at or below the older kept snapshot.
        let mut keep = Vec::with_capacity(io.segments.len());
        let segs = std::mem::take(&mut io.segments);
        for (i, s) in segs.iter().enumerate() {
            let removable = segs.get(i + 1).is_some_and(|n| n.first <= keep_from + 1);
            if removable {
                fs::remove_file(&s.path)
                    .map_err(|e| io_err(&s.path, "cannot remove compacted segment", e))?;
            } else {
                keep.push(s.clone());
            }
        }
        io.segments = keep;
        drop(io);
        sync_dir(&self.dir)
    }
}

impl Backend for WalLog {
    fn publishes_when_durable(&self) -> bool {
        self.durability == Durability::Sync
    }

    #[cfg(test)]
    fn as_wal(&self) -> Option<&WalLog> {
        Some(self)
    }

    fn append(&self, counter: &AtomicU64, payload: &[u8]) -> Result<u64> {
        let mut a = self.appends.lock();
        if a.closed {
            return Err(Error::Closed);
        }
        // Taken under `appends`: records enter the buffer in revision order.
        let rev = counter.fetch_add(1, Ordering::AcqRel) + 1;
        format::push_record(&mut a.buf, rev, payload);
        a.appended = rev;
        a.since_snapshot += 1;
        if a.since_snapshot >= self.snapshot_every && !a.asked {
            a.asked = true;
            self.wake.lock().snapshot = true;
            self.wake_cv.notify_all();
        }
        Ok(rev)
    }

    /// Group commit. A waiter whose record is not on disk either leads the next group (no
    /// one else is writing: it writes and fsyncs everything appended so far, its record and
    /// those of everyone who appended before it) or sleeps until the group that covers its
    /// record ends. While a leader fsyncs, the others append and wait; the next leader's one
    /// write and fsync covers all of them.
    ///
    /// Invariants (all under `sync`):
    /// - `synced` only grows, and is set to the revision of the last record a fsync covered;
    ///   records enter the buffer in revision order and reach the file in buffer order (one
    ///   writer at a time, under `io`), so `synced >= rev` means record `rev` and every one
    ///   before it are on disk.
    /// - A leader numbers its group (`group += 1`) in the same critical section in which it
    ///   takes the buffer (`taken`, `covering`). A waiter therefore knows its group exactly:
    ///   the leader's when the buffer is taken and holds its record (`rev <= covering`),
    ///   else the next one, whose leader will take the buffer after this record was
    ///   appended. It sleeps on `groups[its group % 2]`.
    /// - When a group ends, its leader wakes every waiter of that group (all covered: no
    ///   one sleeps again) and one waiter of the next group, which leads it (if someone else
    ///   took the lead first, that waiter finds the buffer taken with its record in it and
    ///   sleeps on the same condvar). So no wake-up is lost: a sleeper's group either has a
    ///   leader that will wake it, or is the next one, whose first waiter is woken by the
    ///   ending leader; and no thundering herd: only the covered waiters and one more wake.
    ///   Waiters of group `g + 2` share a condvar with those of `g`, but only sleep there
    ///   after `g` ended and woke all of its own.
    /// - Fsyncs outside group commit (interval, rotation) wake both condvars.
    fn wait(&self, rev: u64) -> Result<()> {
        if self.durability != Durability::Sync {
            return Ok(());
        }
        let mut s = self.sync.lock();
        loop {
            if s.synced >= rev {
                return Ok(());
            }
            if let Some(m) = &s.failed {
                return Err(Error::storage(&self.dir, m.clone()));
            }
            if !s.leader {
                s.leader = true;
                drop(s);
                self.lead();
                s = self.sync.lock();
                continue;
            }
            let group = if s.taken && rev <= s.covering {
                s.group
            } else {
                s.group + 1
            };
            self.groups[(group % 2) as usize].wait(&mut s);
        }
    }

    fn close(&self) {
        {
            let mut a = self.appends.lock();
            if a.closed {
                return;
            }
            a.closed = true;
        }
        let mut io = self.io.lock();
        let r = self.finish_segment(&mut io);
        drop(io);
        self.settle(r);
        self.wake.lock().stop = true;
        self.wake_cv.notify_all();
        let handle = self.worker.lock().take();
        if let Some(h) = handle {
            // The worker may itself be closing the store (it held the last reference while
            // capturing a snapshot): it must not wait for itself, and it releases the lock
            // when it ends.
            if h.thread().id() == std::thread::current().id() {
                return;
            }
            let _ = h.join();
        }
        self.lock.lock().take();
    }
}

#[cfg(test)]
pub(crate) mod tests;

//! Recovery, framing on disk, the lock and group commit, through a real store.

use super::*;

/// A new empty directory under the system temp dir.
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "steady-persist-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn durability_parses_as_configurations_spell_it() {
    assert_eq!(Durability::parse("sync"), Ok(Durability::Sync));
    assert_eq!(
        Durability::parse("interval:100ms"),
        Ok(Durability::Interval(Duration::from_millis(100)))
    );
    assert_eq!(
        Durability::parse("interval:2s"),
        Ok(Durability::Interval(Duration::from_secs(2)))
    );
    for bad in [
        "",
        "async",
        "interval:",
        "interval:10",
        "interval:0ms",
        "interval:-1s",
    ] {
        assert!(Durability::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        Durability::parse(&Durability::Interval(Duration::from_millis(250)).to_string()),
        Ok(Durability::Interval(Duration::from_millis(250)))
    );
}

use crate::api::{ConfigMap, Object, Registry};
use crate::store::{DeleteParams, ListParams, Store, StoreConfig, TxnOp, WatchParams};

fn registry() -> Arc<Registry> {
    let r = Arc::new(Registry::new());
    crate::api::register_builtins(&r);
    r
}

fn open(dir: &Path) -> Result<Store> {
    open_with(Persist::new(dir, Durability::Sync))
}

fn open_with(p: Persist) -> Result<Store> {
    Store::open(registry(), StoreConfig::default(), &p)
}

fn cm(name: &str, value: &str) -> Arc<dyn Object> {
    let mut c = ConfigMap::default();
    c.metadata.name = name.into();
    c.data.insert("v".into(), value.into());
    Arc::new(c)
}

fn value(store: &Store, name: &str) -> Option<(String, String, String)> {
    let o = store.get("ConfigMap", None, name).ok()?;
    let c = o.downcast_ref::<ConfigMap>().unwrap();
    Some((
        c.data.get("v").cloned().unwrap_or_default(),
        c.metadata.resource_version.clone().unwrap(),
        c.metadata.uid.clone().unwrap(),
    ))
}

/// Closes `store` (as engine shutdown does): the dir is free once this returns, even while
/// a snapshot was being written.
fn shut(store: Store) {
    store.close_persistence();
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    list(dir).unwrap().0.into_iter().map(|s| s.path).collect()
}

/// Writes a, b (twice), c, then deletes c: revisions 3..=7 after the namespaces' 2.
fn write_some(store: &Store) {
    store.create(cm("a", "1")).unwrap();
    store.create(cm("b", "1")).unwrap();
    let mut b = store.get("ConfigMap", None, "b").unwrap().clone_arc();
    crate::api::make_mut(&mut b)
        .as_any_mut()
        .downcast_mut::<ConfigMap>()
        .unwrap()
        .data
        .insert("v".into(), "2".into());
    store.update(b).unwrap();
    store.create(cm("c", "1")).unwrap();
    store
        .delete("ConfigMap", None, "c", &DeleteParams::default())
        .unwrap();
}

#[test]
fn a_reopened_store_continues_where_it_was() {
    let dir = temp_dir("reopen");
    let store = open(&dir).unwrap();
    assert!(store.recovery_report().unwrap().fresh);
    assert_eq!(
        store.revision(),
        2,
        "the initial namespaces are written once"
    );
    write_some(&store);
    store
        .transaction(vec![
            TxnOp::Create(cm("t1", "x")),
            TxnOp::Create(cm("t2", "x")),
        ])
        .unwrap();
    let before = (
        store.revision(),
        value(&store, "a"),
        value(&store, "b"),
        value(&store, "t1"),
        value(&store, "t2"),
    );
    store.close_persistence();
    assert!(matches!(store.create(cm("late", "1")), Err(Error::Closed)));
    shut(store);

    let again = open(&dir).unwrap();
    let report = again.recovery_report().unwrap().clone();
    assert!(!report.fresh);
    assert_eq!(report.records_replayed, 7, "{report}");
    assert_eq!(report.truncation, None);
    let after = (
        again.revision(),
        value(&again, "a"),
        value(&again, "b"),
        value(&again, "t1"),
        value(&again, "t2"),
    );
    assert_eq!(before, after);
    assert_eq!(value(&again, "b").unwrap().0, "2");
    assert!(value(&again, "c").is_none());
    assert!(value(&again, "late").is_none());
    assert_eq!(again.count("Namespace"), 3);
    // The next write takes the next revision; generations continue.
    let d = again.create(cm("d", "1")).unwrap();
    assert_eq!(d.meta().resource_version.as_deref(), Some("9"));
    let b = again.get("ConfigMap", None, "b").unwrap();
    assert_eq!(
        b.meta().generation,
        Some(2),
        "a ConfigMap's data counts as its spec"
    );
}

#[test]
fn a_watch_from_before_the_restart_replays_the_same_events() {
    let dir = temp_dir("watch");
    let store = open(&dir).unwrap();
    write_some(&store);
    let events = |s: &Store, since: u64| -> Vec<(String, String, u64)> {
        let mut w = s
            .watch(
                "ConfigMap",
                &WatchParams {
                    since: Some(since),
                    ..Default::default()
                },
            )
            .unwrap();
        let mut out = Vec::new();
        while let Ok(Some(e)) = w.try_recv() {
            out.push((
                e.type_name().to_string(),
                e.object().unwrap().meta().name.clone(),
                e.revision(),
            ));
        }
        out
    };
    let before = events(&store, 3);
    assert_eq!(before.len(), 4);
    shut(store);
    let again = open(&dir).unwrap();
    assert_eq!(events(&again, 3), before);
    assert_eq!(events(&again, 0).len(), 5);
}

#[test]
fn a_snapshot_a_crash_cut_short_is_removed_at_recovery_and_only_then() {
    let dir = temp_dir("unfinished");
    let store = open(&dir).unwrap();
    write_some(&store);
    // A `.tmp` while the engine runs is a snapshot being written: listing leaves it.
    let tmp = dir.join("snap-00000000000000000005.snap.tmp");
    fs::write(&tmp, b"half a snapshot").unwrap();
    assert!(list(&dir).unwrap().1.is_empty());
    assert!(tmp.exists());
    shut(store);
    let again = open(&dir).unwrap();
    assert!(
        !tmp.exists(),
        "left from a crash: removed when the dir is opened"
    );
    assert_eq!(value(&again, "a").unwrap().0, "1");
}

#[test]
fn a_watch_from_before_the_snapshot_is_expired() {
    let dir = temp_dir("expired");
    let store = open_with(Persist::new(&dir, Durability::Sync).snapshot_every(3)).unwrap();
    write_some(&store);
    // Wait for the snapshot the writes asked for: no timer decides when it is taken, but a
    // snapshot that never comes fails the test with what the dir holds (it once hung here).
    let t0 = std::time::Instant::now();
    while list(&dir).unwrap().1.is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no snapshot after 60 s; the dir holds {:?}",
            fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    shut(store);
    let again = open(&dir).unwrap();
    let snap = again.recovery_report().unwrap().snapshot_revision.unwrap();
    assert!(snap >= 4, "{snap}");
    let r = again.watch(
        "ConfigMap",
        &WatchParams {
            since: Some(snap - 1),
            ..Default::default()
        },
    );
    assert!(matches!(r, Err(Error::Expired { .. })), "{:?}", r.err());
    // Also for a kind nothing was written to since.
    let r = again.watch(
        "Secret",
        &WatchParams {
            since: Some(snap - 1),
            ..Default::default()
        },
    );
    assert!(matches!(r, Err(Error::Expired { .. })));
    again
        .watch(
            "ConfigMap",
            &WatchParams {
                since: Some(snap),
                ..Default::default()
            },
        )
        .unwrap();
}

#[test]
fn snapshots_compact_the_log_and_keep_what_was_written() {
    let dir = temp_dir("compact");
    let store = open_with(Persist::new(&dir, Durability::Sync).snapshot_every(10)).unwrap();
    for i in 0..200 {
        store.create(cm(&format!("o{i}"), &i.to_string())).unwrap();
        if i % 3 == 0 {
            store
                .delete(
                    "ConfigMap",
                    None,
                    &format!("o{i}"),
                    &DeleteParams::default(),
                )
                .unwrap();
        }
    }
    let revision = store.revision();
    shut(store);
    let (segs, snaps) = list(&dir).unwrap();
    assert!(snaps.len() <= 2, "{snaps:?}");
    assert!(segs.len() <= 4, "{segs:?}");
    let again = open(&dir).unwrap();
    let report = again.recovery_report().unwrap();
    assert!(report.snapshot_revision.is_some(), "{report}");
    assert_eq!(again.revision(), revision);
    assert_eq!(again.count("ConfigMap"), 200 - 67);
    assert_eq!(value(&again, "o199").unwrap().0, "199");
    assert!(value(&again, "o198").is_none());
}

#[test]
fn a_damaged_newest_snapshot_falls_back_to_the_one_before() {
    let dir = temp_dir("fallback");
    let store = open_with(Persist::new(&dir, Durability::Sync).snapshot_every(5)).unwrap();
    for i in 0..40 {
        store.create(cm(&format!("o{i}"), "v")).unwrap();
    }
    // Wait for the snapshot of the last full period.
    while list(&dir).unwrap().1.len() < 2 {
        std::thread::yield_now();
    }
    let revision = store.revision();
    shut(store);
    let (_, snaps) = list(&dir).unwrap();
    let newest = &snaps.last().unwrap().1;
    let mut b = fs::read(newest).unwrap();
    let at = b.len() - 3;
    b[at] ^= 0xff;
    fs::write(newest, b).unwrap();
    let again = open(&dir).unwrap();
    let report = again.recovery_report().unwrap();
    assert_eq!(report.skipped_snapshots.len(), 1, "{report}");
    assert!(report.to_string().contains("skipped damaged snapshot"));
    assert_eq!(again.revision(), revision);
    assert_eq!(again.count("ConfigMap"), 40);
}

#[test]
fn a_torn_last_record_is_cut_and_reported() {
    let dir = temp_dir("torn");
    let store = open(&dir).unwrap();
    write_some(&store);
    shut(store);
    let seg = segments(&dir).pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    // A record for revision 8 whose write a crash cut short.
    let mut rec = Vec::new();
    format::push_record(&mut rec, 8, b"\x01\x00\x00\x00whatever follows");
    let mut b = fs::read(&seg).unwrap();
    b.extend_from_slice(&rec[..rec.len() - 5]);
    fs::write(&seg, &b).unwrap();

    let again = open(&dir).unwrap();
    let report = again.recovery_report().unwrap().clone();
    let t = report.truncation.clone().expect("a truncation");
    assert_eq!(t.reason, "torn record");
    assert_eq!((t.offset, t.bytes), (len, rec.len() as u64 - 5));
    assert!(!report.lost_data());
    assert_eq!(again.revision(), 7);
    assert_eq!(fs::metadata(&seg).unwrap().len(), len, "cut back");
    assert_eq!(value(&again, "b").unwrap().0, "2");
    // Writing goes on after the cut.
    again.create(cm("e", "1")).unwrap();
    drop(again);
    let third = open(&dir).unwrap();
    assert_eq!(third.recovery_report().unwrap().truncation, None);
    assert_eq!(third.revision(), 8);
}

#[test]
fn a_newest_segment_cut_short_at_creation_is_removed() {
    let dir = temp_dir("torn-header");
    let store = open(&dir).unwrap();
    write_some(&store);
    shut(store);
    // The segment the next start creates, killed before its header was whole.
    let next = dir.join(wal_name(8));
    fs::write(&next, &format::wal_header(8)[..10]).unwrap();
    let again = open(&dir).unwrap();
    let report = again.recovery_report().unwrap().clone();
    assert_eq!(
        report.truncation.as_ref().unwrap().reason,
        "torn segment header"
    );
    assert!(!report.lost_data(), "{report}");
    assert_eq!(again.revision(), 7);
    again.create(cm("e", "1")).unwrap();
    shut(again);
    assert_eq!(open(&dir).unwrap().revision(), 8);
}

#[test]
fn a_flipped_byte_in_the_middle_stops_replay_there() {
    let dir = temp_dir("flip");
    let store = open(&dir).unwrap();
    write_some(&store);
    shut(store);
    let seg = segments(&dir).pop().unwrap();
    let mut b = fs::read(&seg).unwrap();
    // Find the record of revision 5 (the update of b) and flip a byte of its payload.
    let mut at = WAL_HEADER;
    let mut target = None;
    while let ReadRecord::Record { rev, len, .. } = format::read_record(&b, at, 0) {
        if rev == 5 {
            target = Some(at);
        }
        at += len;
    }
    let target = target.unwrap();
    b[target + format::RECORD_HEADER + 10] ^= 0x20;
    let total = b.len() as u64;
    fs::write(&seg, &b).unwrap();

    let again = open(&dir).unwrap();
    let report = again.recovery_report().unwrap().clone();
    let t = report.truncation.clone().unwrap();
    assert_eq!(t.reason, "corrupt record");
    assert_eq!(t.offset, target as u64);
    assert_eq!(t.bytes, total - target as u64);
    assert!(report.lost_data());
    assert!(report.to_string().contains("corrupt record"), "{report}");
    // Revisions 3 and 4 survive; 5 and after (b's update, c) are gone.
    assert_eq!(again.revision(), 4);
    assert_eq!(value(&again, "b").unwrap().0, "1");
    assert!(value(&again, "c").is_none());
}

#[test]
fn a_dir_from_a_newer_steady_is_refused_untouched() {
    let dir = temp_dir("newer");
    let store = open(&dir).unwrap();
    write_some(&store);
    shut(store);
    let seg = segments(&dir).pop().unwrap();
    let mut b = fs::read(&seg).unwrap();
    b[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    fs::write(&seg, &b).unwrap();
    let err = open(&dir).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }));
    let msg = err.to_string();
    assert!(msg.contains("newer steady"), "{msg}");
    assert!(
        msg.contains(&format!("format version {}", FORMAT_VERSION + 1)),
        "{msg}"
    );
    assert_eq!(fs::read(&seg).unwrap(), b, "nothing was changed");
}

#[test]
fn a_second_store_on_one_dir_is_refused() {
    let dir = temp_dir("twice");
    let first = open(&dir).unwrap();
    let err = open(&dir).unwrap_err().to_string();
    assert!(err.contains("in use by another engine"), "{err}");
    first.close_persistence();
    open(&dir).unwrap();
}

#[test]
fn objects_of_a_kind_not_served_are_refused_by_name() {
    let dir = temp_dir("kind");
    let r = registry();
    r.register(crate::api::KindInfo::dynamic(
        "example.com/v1",
        "Widget",
        true,
    ));
    let store = Store::open(
        r,
        StoreConfig::default(),
        &Persist::new(&dir, Durability::Sync),
    )
    .unwrap();
    store
        .create(Arc::new(crate::api::DynamicObject::new(
            "example.com/v1",
            "Widget",
            "w",
        )) as Arc<dyn Object>)
        .unwrap();
    shut(store);
    let err = open(&dir).unwrap_err().to_string();
    assert!(
        err.contains("kind Widget, which this engine does not serve"),
        "{err}"
    );
}

#[test]
fn interval_mode_syncs_when_the_clock_passes_the_interval() {
    let dir = temp_dir("interval");
    let clock = Arc::new(crate::clock::ManualClock::new(
        crate::api::Time::from_unix_micros(0),
    ));
    let config = StoreConfig {
        clock: clock.clone(),
        ..Default::default()
    };
    let p = Persist::new(&dir, Durability::Interval(Duration::from_millis(100)));
    let store = Store::open(registry(), config, &p).unwrap();
    let wal = store.inner.backend.get().unwrap().as_wal().unwrap();
    store.create(cm("a", "1")).unwrap();
    let rev = store.revision();
    assert!(
        wal.sync.lock().synced < rev,
        "nothing synced before the interval"
    );
    clock.advance(Duration::from_millis(100));
    // The log thread wakes on the clock's advance; wait for it without a timer.
    let mut s = wal.sync.lock();
    while s.synced < rev {
        wal.groups[0].wait_for(&mut s, Duration::from_millis(10));
    }
}

/// The group commit invariant, with a forced group: while one fsync is (made to be) in
/// progress, many writers append; when it ends, one more fsync acknowledges them all, and
/// no writer returns before its record is synced.
#[test]
fn concurrent_sync_writers_share_one_fsync() {
    let dir = temp_dir("group");
    let store = open(&dir).unwrap();
    let wal = store.inner.backend.get().unwrap().as_wal().unwrap();
    let start = store.revision();
    let fsyncs = wal.fsyncs.load(Ordering::Relaxed);
    const WRITERS: u64 = 32;
    std::thread::scope(|s| {
        // Holding `io` stands for a long fsync: the first writer to wait becomes the leader
        // and blocks on it; the others wait for the leader.
        let io = wal.io.lock();
        let handles: Vec<_> = (0..WRITERS)
            .map(|i| {
                let store = store.clone();
                s.spawn(move || {
                    let o = store.create(cm(&format!("w{i}"), "1")).unwrap();
                    let rev = o.meta().revision().unwrap();
                    let wal = store.inner.backend.get().unwrap().as_wal().unwrap();
                    assert!(wal.sync.lock().synced >= rev, "returned before its fsync");
                    rev
                })
            })
            .collect();
        while wal.appends.lock().appended < start + WRITERS {
            std::thread::yield_now();
        }
        drop(io);
        let mut revs: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        revs.sort();
        assert_eq!(revs, (start + 1..=start + WRITERS).collect::<Vec<_>>());
    });
    assert_eq!(wal.fsyncs.load(Ordering::Relaxed) - fsyncs, 1);
}

/// Many threads writing with Sync durability: every write acknowledged is in the log.
#[test]
fn every_acknowledged_write_of_many_threads_survives() {
    let dir = temp_dir("many");
    let store = open_with(Persist::new(&dir, Durability::Sync).snapshot_every(64)).unwrap();
    let acked: Vec<(String, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..16)
            .map(|t| {
                let store = store.clone();
                s.spawn(move || {
                    let mut acked = Vec::new();
                    for i in 0..40 {
                        let name = format!("t{t}-{}", i % 5);
                        let o = match store.get("ConfigMap", None, &name) {
                            Err(_) => store.create(cm(&name, &i.to_string())).unwrap(),
                            Ok(cur) => {
                                let mut n = cur.clone_arc();
                                let c = crate::api::make_mut(&mut n)
                                    .as_any_mut()
                                    .downcast_mut::<ConfigMap>()
                                    .unwrap();
                                c.data.insert("v".into(), i.to_string());
                                store.update(n).unwrap()
                            }
                        };
                        acked.push((name, o.meta().resource_version.clone().unwrap()));
                    }
                    acked
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let wal = store.inner.backend.get().unwrap().as_wal().unwrap();
    assert!(wal.fsyncs.load(Ordering::Relaxed) > 0);
    let revision = store.revision();
    shut(store);
    let again = open(&dir).unwrap();
    assert_eq!(again.revision(), revision);
    let mut last = std::collections::HashMap::new();
    for (name, rv) in acked {
        let e = last.entry(name).or_insert(0u64);
        *e = (*e).max(rv.parse().unwrap());
    }
    for (name, rv) in last {
        assert_eq!(value(&again, &name).unwrap().1, rv.to_string(), "{name}");
    }
    assert_eq!(
        again
            .list("ConfigMap", &ListParams::default())
            .unwrap()
            .items
            .len(),
        16 * 5
    );
}

/// A copy of `dir` as a crash would leave it while `store` runs: the newest segment with
/// its preallocated zeros (the lock file is not copied: its lock died with the process).
fn crash_image(dir: &Path, name: &str) -> PathBuf {
    let copy = temp_dir(name);
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "LOCK" {
            fs::copy(e.path(), copy.join(e.file_name())).unwrap();
        }
    }
    copy
}

/// Offsets of the records in a segment's bytes, with their revisions.
fn record_offsets(b: &[u8]) -> Vec<(u64, usize)> {
    let mut at = WAL_HEADER;
    let mut out = Vec::new();
    while let ReadRecord::Record { rev, len, .. } = format::read_record(b, at, 0) {
        out.push((rev, at));
        at += len;
    }
    out
}

#[test]
fn a_running_segment_is_preallocated_and_its_zeros_read_as_the_end() {
    let dir = temp_dir("prealloc");
    let store = open(&dir).unwrap();
    write_some(&store);
    let seg = segments(&dir).pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    assert_eq!(len, format::SEGMENT_CHUNK, "grown by one chunk of zeros");
    let image = crash_image(&dir, "prealloc-image");
    shut(store);
    assert!(
        fs::metadata(&seg).unwrap().len() < 4096,
        "cut back at close"
    );

    let again = open(&image).unwrap();
    let report = again.recovery_report().unwrap().clone();
    assert_eq!(report.truncation, None, "{report}");
    assert_eq!(
        report.records_replayed, 6,
        "the namespaces' and write_some's"
    );
    assert_eq!(again.revision(), 7);
    assert_eq!(value(&again, "b").unwrap().0, "2");
    // The recovered segment was closed: its zeros were cut off after its last record.
    let b = fs::read(image.join(seg.file_name().unwrap())).unwrap();
    let &(_, last) = record_offsets(&b).last().unwrap();
    let ReadRecord::Record { len, .. } = format::read_record(&b, last, 0) else {
        panic!("the last record reads")
    };
    assert_eq!(b.len(), last + len);
}

#[test]
fn a_torn_record_followed_by_zeros_is_cut_as_torn() {
    let dir = temp_dir("torn-zeros");
    let store = open(&dir).unwrap();
    write_some(&store);
    // A last write long enough to cross blocks.
    store.create(cm("big", &"x".repeat(3000))).unwrap();
    let image = crash_image(&dir, "torn-zeros-image");
    shut(store);
    let seg = segments(&image).pop().unwrap();
    let mut b = fs::read(&seg).unwrap();
    let &(rev, at) = record_offsets(&b).last().unwrap();
    assert_eq!(rev, 8);
    // The crash kept the record's first blocks only.
    let cut = (at / format::BLOCK + 2) * format::BLOCK;
    b[cut..].fill(0);
    fs::write(&seg, &b).unwrap();

    let again = open(&image).unwrap();
    let report = again.recovery_report().unwrap().clone();
    let t = report.truncation.clone().expect("a truncation");
    assert_eq!(t.reason, "torn record", "{report}");
    assert_eq!(t.offset, at as u64);
    assert!(!report.lost_data(), "{report}");
    assert_eq!(again.revision(), 7);
    assert!(value(&again, "big").is_none());
    assert_eq!(fs::metadata(&seg).unwrap().len(), at as u64, "cut back");
    again.create(cm("e", "1")).unwrap();
    shut(again);
    let third = open(&image).unwrap();
    assert_eq!(third.recovery_report().unwrap().truncation, None);
    assert_eq!(third.revision(), 8);
}

#[test]
fn a_flipped_byte_in_the_middle_of_a_preallocated_segment_is_corruption() {
    let dir = temp_dir("flip-zeros");
    let store = open(&dir).unwrap();
    write_some(&store);
    let image = crash_image(&dir, "flip-zeros-image");
    shut(store);
    let seg = segments(&image).pop().unwrap();
    let mut b = fs::read(&seg).unwrap();
    let offsets = record_offsets(&b);
    let &(_, at) = offsets.iter().find(|(rev, _)| *rev == 5).unwrap();
    // Its length, made to reach into the zeros: a later record still follows it.
    b[at + 1] ^= 0x10;
    fs::write(&seg, &b).unwrap();

    let again = open(&image).unwrap();
    let report = again.recovery_report().unwrap().clone();
    let t = report.truncation.clone().unwrap();
    assert_eq!(t.reason, "corrupt record", "{report}");
    assert_eq!(t.offset, at as u64);
    assert!(report.lost_data());
    assert_eq!(again.revision(), 4);
}

/// With Sync durability a watcher gets a change only once its record is on disk; a watch
/// started meanwhile does not hold it in its initial state, and its bookmarks stay below it.
#[test]
fn watchers_see_a_sync_write_only_once_it_is_durable() {
    let dir = temp_dir("publish");
    let store = open(&dir).unwrap();
    store.create(cm("before", "1")).unwrap();
    let wal = store.inner.backend.get().unwrap().as_wal().unwrap();
    let mut early = store.watch("ConfigMap", &WatchParams::default()).unwrap();
    while early.try_recv().unwrap().is_some() {}
    let rev_before = store.revision();
    std::thread::scope(|s| {
        // Holding `io` stands for a long fsync.
        let io = wal.io.lock();
        let writer = {
            let store = store.clone();
            s.spawn(move || store.create(cm("late", "1")).unwrap())
        };
        while wal.appends.lock().appended <= rev_before {
            std::thread::yield_now();
        }
        // Applied (a read sees it) but not durable: no watcher hears of it.
        assert!(store.get("ConfigMap", None, "late").is_ok());
        assert!(early.try_recv().unwrap().is_none());
        let mut mid = store
            .watch(
                "ConfigMap",
                &WatchParams {
                    bookmarks: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut initial = Vec::new();
        while let Some(e) = mid.try_recv().unwrap() {
            initial.push(e.object().unwrap().meta().name.clone());
        }
        assert_eq!(initial, vec!["before".to_string()]);
        assert_eq!(mid.revision(), rev_before);
        assert_eq!(
            mid.recv_timeout(Duration::ZERO)
                .unwrap()
                .map(|e| e.revision()),
            Some(rev_before),
            "a bookmark stays below the change not yet durable"
        );
        let mut replay = store
            .watch(
                "ConfigMap",
                &WatchParams {
                    since: Some(rev_before - 1),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            replay
                .try_recv()
                .unwrap()
                .unwrap()
                .object()
                .unwrap()
                .meta()
                .name,
            "before"
        );
        assert!(replay.try_recv().unwrap().is_none());
        drop(io);
        let late = writer.join().unwrap();
        let rev = late.meta().revision().unwrap();
        // Published before the write returned: every watch has it, once.
        for w in [&mut early, &mut mid, &mut replay] {
            let e = w.try_recv().unwrap().expect("the change, now durable");
            assert_eq!((e.type_name(), e.revision()), ("ADDED", rev));
            assert!(w.try_recv().unwrap().is_none());
        }
    });
}

//! The crash test of durable state: a child process writes to a store in a data dir with
//! `Durability::Sync` (creates, updates, deletes and two-object transactions, from several
//! threads, with snapshots and compaction every few dozen records) and reports each write
//! before it starts and once it is acknowledged, on its stdout. The parent SIGKILLs it at a
//! random moment (sometimes while it is still recovering), opens the dir itself and checks:
//! every acknowledged write is there with its resourceVersion, a write that was in flight
//! is either wholly there or wholly absent (both objects of a transaction, or neither), and
//! the revision never goes back. Then the next round starts on the same dir.
//!
//! Rounds: 50 by default, `STEADY_CRASH_ROUNDS` to change; the random seed is printed
//! (`STEADY_CRASH_SEED` replays one).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use steady::api::{ConfigMap, Object, Registry};
use steady::store::{DeleteParams, Durability, Persist, Store, StoreConfig, TxnOp};

const CHILD_DIR: &str = "STEADY_CRASH_CHILD_DIR";
const THREADS: usize = 4;

fn open(dir: &Path) -> Store {
    let registry = Arc::new(Registry::new());
    steady::api::register_builtins(&registry);
    let persist = Persist::new(dir, Durability::Sync).snapshot_every(40);
    Store::open(registry, StoreConfig::default(), &persist).expect("the data dir opens")
}

fn config_map(name: &str, step: &str, rv: Option<String>) -> Arc<dyn Object> {
    let mut c = ConfigMap::default();
    c.metadata.name = name.into();
    c.metadata.resource_version = rv;
    c.data.insert("step".into(), step.into());
    Arc::new(c)
}

/// The object's `step` and resourceVersion.
fn read(store: &Store, name: &str) -> Option<(String, u64)> {
    let o = store.get("ConfigMap", None, name).ok()?;
    let c = o.downcast_ref::<ConfigMap>().unwrap();
    Some((
        c.data["step"].clone(),
        c.metadata
            .resource_version
            .as_deref()
            .unwrap()
            .parse()
            .unwrap(),
    ))
}

/// The child: writes until it is killed. Lines: `B <thread> <name>=<step|->,...` before a
/// write, `A <thread> <revision>` after it was acknowledged.
#[test]
fn child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return; // Run as an ordinary test: nothing to do.
    };
    let round = std::env::var("STEADY_CRASH_ROUND").unwrap_or_default();
    let store = open(Path::new(&dir));
    // On a line of its own: the test harness has printed "test child_writer ... " already.
    println!("\nREADY {}", store.revision());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let store = store.clone();
            let round = round.clone();
            s.spawn(move || {
                for i in 0u64.. {
                    let step = format!("{round}.{i}");
                    if i % 10 >= 7 {
                        // Both objects of the pair, in one transaction.
                        let names = [format!("t{t}-pa"), format!("t{t}-pb")];
                        let ops = names
                            .iter()
                            .map(|n| match read(&store, n) {
                                None => TxnOp::Create(config_map(n, &step, None)),
                                Some((_, rv)) => {
                                    TxnOp::Update(config_map(n, &step, Some(rv.to_string())))
                                }
                            })
                            .collect();
                        println!("B {t} {}={step},{}={step}", names[0], names[1]);
                        let out = store.transaction(ops).expect("the transaction commits");
                        let rev = out[0].as_ref().unwrap().meta().revision().unwrap();
                        println!("A {t} {rev}");
                        continue;
                    }
                    let name = format!("t{t}-s{}", i % 3);
                    let rev = match read(&store, &name) {
                        None => {
                            println!("B {t} {name}={step}");
                            let o = store.create(config_map(&name, &step, None)).unwrap();
                            o.meta().revision().unwrap()
                        }
                        Some(_) if i % 10 == 5 => {
                            println!("B {t} {name}=-");
                            let d = store
                                .delete("ConfigMap", None, &name, &DeleteParams::default())
                                .unwrap();
                            d.object().meta().revision().unwrap()
                        }
                        Some((_, rv)) => {
                            println!("B {t} {name}={step}");
                            let o = store
                                .update(config_map(&name, &step, Some(rv.to_string())))
                                .unwrap();
                            o.meta().revision().unwrap()
                        }
                    };
                    println!("A {t} {rev}");
                }
            });
        }
    });
}

/// What an object is known to be: its step (`None`: absent) and resourceVersion.
type State = Option<(String, u64)>;

#[derive(Default)]
struct Model {
    /// Every object's last acknowledged state.
    confirmed: HashMap<String, State>,
    /// Per thread, the write begun and not acknowledged: `(name, step or None)` each.
    pending: HashMap<usize, Vec<(String, Option<String>)>>,
    /// Highest revision acknowledged.
    acked: u64,
}

impl Model {
    fn line(&mut self, line: &str) {
        let mut parts = line.split(' ');
        let (Some(tag), Some(t), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            return;
        };
        let Ok(t) = t.parse::<usize>() else { return };
        match tag {
            "B" => {
                let writes = rest
                    .split(',')
                    .map(|w| {
                        let (name, step) = w.split_once('=').unwrap();
                        (name.to_string(), (step != "-").then(|| step.to_string()))
                    })
                    .collect();
                self.pending.insert(t, writes);
            }
            "A" => {
                let rev: u64 = rest.parse().unwrap();
                let writes = self.pending.remove(&t).expect("an ack follows its begin");
                for (name, step) in writes {
                    self.confirmed.insert(name, step.map(|s| (s, rev)));
                }
                self.acked = self.acked.max(rev);
            }
            _ => {}
        }
    }

    /// Checks the recovered store against what was acknowledged, then takes its state as
    /// the new truth.
    fn check(&mut self, store: &Store, round: usize) {
        assert!(
            store.revision() >= self.acked,
            "round {round}: revision {} is behind the acknowledged {}",
            store.revision(),
            self.acked
        );
        let pending = std::mem::take(&mut self.pending);
        let in_flight: HashMap<&str, usize> = pending
            .iter()
            .flat_map(|(t, ws)| ws.iter().map(move |(n, _)| (n.as_str(), *t)))
            .collect();
        for (name, want) in &self.confirmed {
            if in_flight.contains_key(name.as_str()) {
                continue;
            }
            assert_eq!(
                &read(store, name),
                want,
                "round {round}: {name} is not as acknowledged"
            );
        }
        // A write in flight is wholly there or wholly absent.
        for (t, writes) in &pending {
            let before: Vec<bool> = writes
                .iter()
                .map(|(n, _)| read(store, n) == self.confirmed.get(n).cloned().flatten())
                .collect();
            let after: Vec<bool> = writes
                .iter()
                .map(|(n, step)| {
                    let now = read(store, n);
                    let was = self.confirmed.get(n).cloned().flatten();
                    match step {
                        None => now.is_none(),
                        Some(s) => now.as_ref().is_some_and(|(v, rv)| {
                            v == s && was.as_ref().is_none_or(|(_, old)| rv > old)
                        }),
                    }
                })
                .collect();
            assert!(
                before.iter().all(|b| *b) || after.iter().all(|a| *a),
                "round {round}: thread {t}'s write in flight {writes:?} is half there: \
                 unchanged {before:?}, done {after:?}"
            );
        }
        for (name, _) in pending.values().flatten() {
            self.confirmed.insert(name.clone(), read(store, name));
        }
        self.acked = self.acked.max(store.revision());
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn temp_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "crash-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_acknowledged_write_survives_sigkill_at_random_moments() {
    if std::env::var(CHILD_DIR).is_ok() {
        return; // This is the child process.
    }
    let rounds: usize = std::env::var("STEADY_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let seed = std::env::var("STEADY_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test: {rounds} rounds, STEADY_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = temp_dir();
    let mut model = Model::default();
    let mut snapshots_seen = 0;
    let mut torn = 0;
    let mut writes = 0;
    for round in 0..rounds {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, &dir)
            .env("STEADY_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("child-stderr.txt")).unwrap(),
            ))
            .spawn()
            .expect("the child starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    // A line cut by the kill has no newline: it was never fully reported.
                    Ok(n) if n > 0 && line.ends_with('\n') => {
                        if tx.send(line.trim_end().to_string()).is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
            }
        });
        // One round in five is killed during start-up (recovery); the others after
        // writing for a while.
        let early = rng.below(5) == 0;
        let mut lines = Vec::new();
        if !early {
            loop {
                // A guard against hanging, not a timing assertion: start-up takes far less.
                let line = rx
                    .recv_timeout(Duration::from_secs(120))
                    .unwrap_or_else(|_| panic!("round {round}: the child never got ready"));
                let ready = line.starts_with("READY");
                lines.push(line);
                if ready {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(rng.below(if early {
            30
        } else {
            120
        })));
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        for l in &lines {
            if l.starts_with('A') {
                writes += 1;
            }
            model.line(l);
        }
        let store = open(&dir);
        let report = store.recovery_report().unwrap().clone();
        assert!(!report.lost_data(), "round {round}: {report}");
        if report.snapshot_revision.is_some() {
            snapshots_seen += 1;
        }
        if report.truncation.is_some() {
            torn += 1;
        }
        model.check(&store, round);
        store.close_persistence();
    }
    eprintln!(
        "crash test: {writes} acknowledged writes checked; {snapshots_seen} recoveries from a \
         snapshot, {torn} that cut a torn tail"
    );
    assert!(writes > 0, "the child never acknowledged a write");
    let _ = std::fs::remove_dir_all(&dir);
}

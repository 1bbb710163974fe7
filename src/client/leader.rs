//! Leader election on a coordination.k8s.io/v1 [`Lease`], as client-go's `leaderelection`
//! with a `LeaseLock` does it: engines sharing one store (on etcd) elect one of them to run
//! the controllers and the scheduler; the others stand by, their caches warm, and take over
//! when the leader stops renewing.
//!
//! # Protocol
//! Every `retry_period` each candidate reads the Lease (`kube-system/steady-controllers` by
//! default) and:
//! - creates it holding it, when there is none;
//! - renews it (`renewTime`), when it holds it;
//! - takes it (`holderIdentity`, `acquireTime`, `leaseTransitions + 1`), when its holder is
//!   empty or the Lease has not changed for `leaseDurationSeconds` as measured on this
//!   candidate's own clock since it last saw it change (not by `renewTime`: clocks of two
//!   hosts may disagree, elapsed time on one does not).
//!
//! Every write is a compare-and-swap on the Lease's resourceVersion, so of two candidates
//! racing for it one wins. A leader that has not renewed for `renew_deadline` stops leading
//! at once; `renew_deadline < lease_duration`, so a deposed leader has stopped before anyone
//! else can take the Lease. On shutdown a leader releases it (empty holder), so a stand-by
//! takes over at its next try instead of after the lease duration.
//!
//! [`Lease`]: crate::api::Lease

use crate::api::Lease;
use crate::clock::SharedClock;
use crate::error::Error;
use crate::store::Store;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Settings of leader election ([`EngineBuilder::leader_election`]), client-go's defaults.
///
/// [`EngineBuilder::leader_election`]: crate::engine::EngineBuilder::leader_election
#[derive(Clone, Debug)]
pub struct LeaderElectionConfig {
    /// The Lease's namespace (default `kube-system`).
    pub namespace: String,
    /// The Lease's name (default `steady-controllers`).
    pub name: String,
    /// This candidate's identity, written as `holderIdentity` (default: host name, process
    /// id and a random suffix, unique per engine).
    pub identity: String,
    /// How long a Lease that stopped changing stays held (default 15 s).
    pub lease_duration: Duration,
    /// How long a leader keeps leading without a successful renewal (default 10 s; less than
    /// `lease_duration`).
    pub renew_deadline: Duration,
    /// How often each candidate tries (default 2 s).
    pub retry_period: Duration,
}

impl Default for LeaderElectionConfig {
    fn default() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "steady".into());
        let mut suffix = [0u8; 4];
        let seed = std::collections::hash_map::RandomState::new();
        use std::hash::BuildHasher;
        suffix.copy_from_slice(&seed.hash_one(std::process::id()).to_le_bytes()[..4]);
        LeaderElectionConfig {
            namespace: "kube-system".into(),
            name: "steady-controllers".into(),
            identity: format!(
                "{host}_{}_{:08x}",
                std::process::id(),
                u32::from_le_bytes(suffix)
            ),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What runs when leadership changes, with the new state.
type Observer = Arc<dyn Fn(bool) + Send + Sync>;

impl LeaderElectionConfig {
    /// Refuses settings under which two engines could lead at once or the election would
    /// spin: `retry_period` > 0, `renew_deadline` > `retry_period`, `lease_duration` >
    /// `renew_deadline`, a non-empty identity.
    pub fn check(&self) -> crate::Result<()> {
        let bad = |field: &str, message: &str| {
            Err(Error::invalid(
                crate::ObjectRef::new("Lease", Some(&self.namespace), &self.name),
                field,
                message,
            ))
        };
        if self.identity.is_empty() {
            return bad("holderIdentity", "the identity of this engine is empty");
        }
        if self.retry_period.is_zero() {
            return bad("retry_period", "expected more than zero");
        }
        if self.renew_deadline <= self.retry_period {
            return bad("renew_deadline", "expected more than retry_period");
        }
        if self.lease_duration <= self.renew_deadline {
            return bad(
                "leaseDurationSeconds",
                "expected more than renew_deadline: a leader must stop before its lease can be taken",
            );
        }
        Ok(())
    }
}

/// Whether this engine leads, and who wants to know when that changes.
///
/// A candidate's lead also has a deadline: its last successful renewal's start plus the
/// renew deadline, on the engine's clock. [`Leadership::is_leader`] is false past it even
/// while an attempt to renew hangs (etcd unreachable), so a leader stops acting before any
/// other candidate can take the Lease (that needs the lease duration, longer, to pass after
/// the renewal was written, which was after the attempt started).
pub struct Leadership {
    leading: AtomicBool,
    /// Monotonic nanoseconds of `clock` until which the lead holds (candidates only).
    until: AtomicU64,
    clock: Option<SharedClock>,
    observers: Mutex<Vec<Observer>>,
    /// The election's Lease (`namespace/name`) and this candidate's identity, for the fence
    /// of its leader-only writes ([`Leadership::fence`]).
    lease: Option<(String, String)>,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("leading", &self.is_leader())
            .finish()
    }
}

impl Leadership {
    /// The leadership of an engine alone on its store: it always leads.
    pub fn always() -> Arc<Leadership> {
        Arc::new(Leadership {
            leading: AtomicBool::new(true),
            until: AtomicU64::new(u64::MAX),
            clock: None,
            observers: Mutex::new(Vec::new()),
            lease: None,
        })
    }

    /// The leadership of a candidate on `clock`, without a fence: it does not lead until
    /// elected.
    #[cfg(test)]
    pub(crate) fn candidate(clock: SharedClock) -> Arc<Leadership> {
        Self::new_candidate(clock, None)
    }

    /// The leadership of a candidate in the election `config` describes, on `clock`: it does
    /// not lead until elected, and its leader-only writes can be fenced by the election's
    /// Lease ([`Leadership::fence`]).
    pub(crate) fn for_election(clock: SharedClock, config: &LeaderElectionConfig) -> Arc<Self> {
        let lease = format!("{}/{}", config.namespace, config.name);
        Self::new_candidate(clock, Some((lease, config.identity.clone())))
    }

    fn new_candidate(clock: SharedClock, lease: Option<(String, String)>) -> Arc<Self> {
        Arc::new(Leadership {
            leading: AtomicBool::new(false),
            until: AtomicU64::new(0),
            clock: Some(clock),
            observers: Mutex::new(Vec::new()),
            lease,
        })
    }

    /// The fence of this engine's leader-only writes (see [`crate::store::Fence`]): they
    /// hold only while the election's Lease at the source is the version that names this
    /// engine in its cache, and while [`Leadership::is_leader`]. `None` for an engine alone
    /// on its store.
    pub(crate) fn fence(self: &Arc<Self>) -> Option<crate::store::Fence> {
        let (lease, holder) = self.lease.clone()?;
        let me = self.clone();
        Some(crate::store::Fence {
            lease,
            holder,
            leads: Box::new(move || me.is_leader()),
        })
    }

    /// Whether this engine leads now: elected, and within the deadline of its last renewal.
    pub fn is_leader(&self) -> bool {
        self.leading.load(Ordering::Acquire) && !self.lapsed()
    }

    /// Whether the deadline of the last renewal passed.
    fn lapsed(&self) -> bool {
        self.clock
            .as_ref()
            .is_some_and(|c| nanos(c.monotonic()) >= self.until.load(Ordering::Acquire))
    }

    /// A renewal that started at `started` succeeded: the lead holds until `started +
    /// renew_deadline`.
    pub(crate) fn renewed(&self, until: Duration) {
        self.until.store(nanos(until), Ordering::Release);
    }

    /// Calls `f` with the new state after every change (on the elector's thread).
    pub(crate) fn on_change(&self, f: Observer) {
        self.observers.lock().push(f);
    }

    /// Sets the state; observers run after the flag changed, in registration order. The
    /// flag is set before they run, so work they start (a resync) is not dropped as work of
    /// a follower.
    pub(crate) fn set(&self, leading: bool) {
        if self.leading.swap(leading, Ordering::AcqRel) == leading {
            return;
        }
        let observers = self.observers.lock().clone();
        for f in observers {
            // An observer's panic must not stop the elector.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(leading))).is_err() {
                log::error!("a leadership observer panicked");
            }
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The candidate's thread: tries, renews and releases the Lease.
pub(crate) struct LeaderElector {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl LeaderElector {
    /// Starts campaigning for `config`'s Lease in `store`, reporting to `leadership`.
    pub(crate) fn start(
        store: Store,
        clock: SharedClock,
        config: LeaderElectionConfig,
        leadership: Arc<Leadership>,
    ) -> std::io::Result<LeaderElector> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        // A manual clock moves by hand: re-check the deadline when it does.
        let wake = Arc::downgrade(&stop);
        clock.on_advance(Arc::new(move || {
            if let Some(s) = wake.upgrade() {
                let _g = s.0.lock();
                s.1.notify_all();
            }
        }));
        let mut c = Candidate {
            store,
            clock,
            config,
            leadership,
            observed: None,
        };
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("steady-leader".into())
            .spawn(move || c.run(&stop2))?;
        Ok(LeaderElector {
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops campaigning; a leader releases the Lease and stops leading. Idempotent.
    pub(crate) fn stop(&self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
    }
}

struct Candidate {
    store: Store,
    clock: SharedClock,
    config: LeaderElectionConfig,
    leadership: Arc<Leadership>,
    /// The Lease's resourceVersion when last read, and when (monotonic) it was first seen.
    observed: Option<(String, Duration)>,
}

impl Candidate {
    fn run(&mut self, stop: &(Mutex<bool>, Condvar)) {
        loop {
            if *stop.0.lock() {
                break;
            }
            let started = self.clock.monotonic();
            let result = self.try_acquire_or_renew(started);
            let leading = self.leadership.leading.load(Ordering::Acquire);
            if leading && self.leadership.lapsed() {
                // The deadline passed while this attempt ran (or before): whatever it
                // returned, this engine stopped acting then. Tell the observers; a
                // successful renewal below elects it again (and they queue everything).
                log::error!(
                    "{} did not renew the lease within {:?}: it stopped leading",
                    self.config.identity,
                    self.config.renew_deadline
                );
                self.leadership.set(false);
            }
            match result {
                Ok(true) => {
                    self.leadership
                        .renewed(started + self.config.renew_deadline);
                    if !self.leadership.leading.load(Ordering::Acquire) {
                        log::info!(
                            "{} leads ({}/{})",
                            self.config.identity,
                            self.config.namespace,
                            self.config.name
                        );
                        self.leadership.set(true);
                    }
                }
                Ok(false) => {
                    // Someone else holds it: a leader that thought otherwise was deposed.
                    if self.leadership.leading.load(Ordering::Acquire) {
                        log::warn!("{} lost the lease to another engine", self.config.identity);
                        self.leadership.set(false);
                    }
                }
                Err(e) => {
                    // The lead lapses by itself at its deadline (checked above next time).
                    log::warn!("leader election: {e}");
                }
            }
            self.wait(stop, started + self.config.retry_period);
        }
        if self.leadership.leading.load(Ordering::Acquire) {
            self.leadership.set(false);
            self.release();
        }
    }

    /// Sleeps until `deadline` on the clock, or until stopped.
    fn wait(&self, stop: &(Mutex<bool>, Condvar), deadline: Duration) {
        let mut stopped = stop.0.lock();
        while !*stopped {
            let now = self.clock.monotonic();
            if now >= deadline {
                return;
            }
            if self.clock.is_manual() {
                stop.1.wait(&mut stopped);
            } else {
                let _ = stop.1.wait_for(&mut stopped, deadline - now);
            }
        }
    }

    /// One try (see the module docs). `Ok(true)`: this candidate holds the Lease now.
    fn try_acquire_or_renew(&mut self, now: Duration) -> crate::Result<bool> {
        let c = &self.config;
        let wall = self.clock.now();
        let seconds = c.lease_duration.as_secs().clamp(1, i32::MAX as u64) as i32;
        let current = match self.store.get("Lease", Some(&c.namespace), &c.name) {
            Ok(o) => o,
            Err(Error::NotFound { .. }) => {
                let mut l = Lease::default();
                l.metadata.name = c.name.clone();
                l.metadata.namespace = Some(c.namespace.clone());
                l.spec.holder_identity = Some(c.identity.clone());
                l.spec.lease_duration_seconds = Some(seconds);
                l.spec.acquire_time = Some(wall);
                l.spec.renew_time = Some(wall);
                l.spec.lease_transitions = Some(0);
                return match self.store.create(Arc::new(l)) {
                    Ok(o) => {
                        self.observed = o.meta().resource_version.clone().map(|v| (v, now));
                        Ok(true)
                    }
                    Err(Error::AlreadyExists { .. }) => Ok(false),
                    Err(e) => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        let lease = current
            .downcast_ref::<Lease>()
            .expect("the store holds Leases as Lease")
            .clone();
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        if self.observed.as_ref().is_none_or(|(v, _)| *v != rv) {
            self.observed = Some((rv, now));
        }
        let since = self.observed.as_ref().map_or(now, |(_, t)| *t);
        let holder = lease.spec.holder_identity.clone().unwrap_or_default();
        let mine = holder == c.identity;
        let held_for =
            Duration::from_secs(lease.spec.lease_duration_seconds.unwrap_or(0).max(0) as u64);
        if !mine && !holder.is_empty() && now.saturating_sub(since) < held_for {
            return Ok(false);
        }
        let mut next = lease;
        next.spec.holder_identity = Some(c.identity.clone());
        next.spec.lease_duration_seconds = Some(seconds);
        next.spec.renew_time = Some(wall);
        if !mine {
            next.spec.acquire_time = Some(wall);
            next.spec.lease_transitions = Some(next.spec.lease_transitions.unwrap_or(0) + 1);
        }
        match self.store.update(Arc::new(next)) {
            Ok(o) => {
                self.observed = o.meta().resource_version.clone().map(|v| (v, now));
                Ok(true)
            }
            Err(Error::Conflict { .. } | Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Empties the holder of a Lease this candidate holds, so a stand-by takes it at once.
    fn release(&self) {
        let c = &self.config;
        let Ok(o) = self.store.get("Lease", Some(&c.namespace), &c.name) else {
            return;
        };
        let Some(lease) = o.downcast_ref::<Lease>() else {
            return;
        };
        if lease.spec.holder_identity.as_deref() != Some(&c.identity) {
            return;
        }
        let mut l = lease.clone();
        l.spec.holder_identity = None;
        l.spec.renew_time = Some(self.clock.now());
        if let Err(e) = self.store.update(Arc::new(l)) {
            log::warn!("releasing {}/{}: {e}", c.namespace, c.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock, Time};
    use crate::store::StoreConfig;

    fn store(clock: &Arc<ManualClock>) -> Store {
        let registry = Arc::new(crate::api::Registry::new());
        crate::api::register_builtins(&registry);
        let config = StoreConfig {
            clock: clock.clone(),
            ..Default::default()
        };
        Store::new(registry, config)
    }

    fn candidate(store: &Store, clock: &Arc<ManualClock>, id: &str) -> Candidate {
        Candidate {
            store: store.clone(),
            clock: clock.clone(),
            config: LeaderElectionConfig {
                identity: id.into(),
                ..Default::default()
            },
            leadership: Leadership::candidate(clock.clone()),
            observed: None,
        }
    }

    fn lease(store: &Store) -> Lease {
        let o = store
            .get("Lease", Some("kube-system"), "steady-controllers")
            .unwrap();
        o.downcast_ref::<Lease>().unwrap().clone()
    }

    #[test]
    fn a_lease_that_stops_changing_is_taken_after_its_duration_on_the_taker_s_clock() {
        let clock = Arc::new(ManualClock::new(Time::from_unix_micros(0)));
        let s = store(&clock);
        let (mut a, mut b) = (candidate(&s, &clock, "a"), candidate(&s, &clock, "b"));
        let at = |clock: &ManualClock| clock.monotonic();
        assert!(a.try_acquire_or_renew(at(&clock)).unwrap(), "a creates it");
        assert!(
            !b.try_acquire_or_renew(at(&clock)).unwrap(),
            "b sees it held"
        );
        let l = lease(&s);
        assert_eq!(l.spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(l.spec.lease_duration_seconds, Some(15));
        assert_eq!(l.spec.lease_transitions, Some(0));

        // a renews at 10 s; b, which saw the change at 12 s, waits 15 s from then.
        clock.advance(Duration::from_secs(10));
        assert!(a.try_acquire_or_renew(at(&clock)).unwrap());
        clock.advance(Duration::from_secs(2));
        assert!(!b.try_acquire_or_renew(at(&clock)).unwrap());
        // a stops renewing (a crash: no release).
        clock.advance(Duration::from_secs(14));
        assert!(!b.try_acquire_or_renew(at(&clock)).unwrap(), "14 s < 15 s");
        clock.advance(Duration::from_secs(1));
        assert!(
            b.try_acquire_or_renew(at(&clock)).unwrap(),
            "15 s unchanged"
        );
        let l = lease(&s);
        assert_eq!(l.spec.holder_identity.as_deref(), Some("b"));
        assert_eq!(l.spec.lease_transitions, Some(1));
        assert_eq!(l.spec.acquire_time, l.spec.renew_time);
        // a comes back: the lease is b's now.
        assert!(!a.try_acquire_or_renew(at(&clock)).unwrap());
    }

    #[test]
    fn a_released_lease_is_taken_at_once_and_a_stale_write_loses() {
        let clock = Arc::new(ManualClock::new(Time::from_unix_micros(0)));
        let s = store(&clock);
        let (mut a, mut b) = (candidate(&s, &clock, "a"), candidate(&s, &clock, "b"));
        let now = clock.monotonic();
        assert!(a.try_acquire_or_renew(now).unwrap());
        assert!(!b.try_acquire_or_renew(now).unwrap());
        a.release();
        assert_eq!(lease(&s).spec.holder_identity, None);
        assert!(
            b.try_acquire_or_renew(now).unwrap(),
            "an empty holder is free"
        );
        assert_eq!(lease(&s).spec.lease_transitions, Some(1));
        // Both racing from the same read: compare-and-swap lets one win.
        let mut c = candidate(&s, &clock, "c");
        clock.advance(Duration::from_secs(60));
        let later = clock.monotonic();
        c.observed = None;
        b.observed = None;
        let won = [
            b.try_acquire_or_renew(later).unwrap(),
            c.try_acquire_or_renew(later).unwrap(),
        ];
        assert_eq!(won, [true, false], "b renewed; c saw it change");
    }

    #[test]
    fn settings_under_which_two_could_lead_are_refused() {
        let ok = LeaderElectionConfig::default();
        assert!(ok.check().is_ok());
        for (c, field) in [
            (
                LeaderElectionConfig {
                    renew_deadline: ok.lease_duration,
                    ..ok.clone()
                },
                "leaseDurationSeconds",
            ),
            (
                LeaderElectionConfig {
                    retry_period: Duration::ZERO,
                    ..ok.clone()
                },
                "retry_period",
            ),
            (
                LeaderElectionConfig {
                    identity: String::new(),
                    ..ok.clone()
                },
                "holderIdentity",
            ),
        ] {
            let e = c.check().unwrap_err();
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn a_lead_lapses_at_its_renewal_deadline_even_while_renewing_hangs() {
        let clock = Arc::new(ManualClock::new(Time::from_unix_micros(0)));
        let l = Leadership::candidate(clock.clone());
        l.renewed(clock.monotonic() + Duration::from_secs(10));
        l.set(true);
        assert!(l.is_leader());
        clock.advance(Duration::from_millis(9_999));
        assert!(l.is_leader());
        clock.advance(Duration::from_millis(1));
        assert!(!l.is_leader(), "past the deadline, with no renewal");
        l.renewed(clock.monotonic() + Duration::from_secs(10));
        assert!(l.is_leader());
    }

    #[test]
    fn observers_run_on_changes_only_and_a_panicking_one_is_contained() {
        let clock = Arc::new(ManualClock::new(Time::from_unix_micros(0)));
        let l = Leadership::candidate(clock);
        let seen = Arc::new(Mutex::new(Vec::new()));
        l.on_change(Arc::new(|_| panic!("an observer's bug")));
        let s = seen.clone();
        l.on_change(Arc::new(move |v| s.lock().push(v)));
        l.set(true);
        l.set(true);
        l.set(false);
        assert_eq!(*seen.lock(), [true, false]);
        assert!(Leadership::always().is_leader());
    }
}

//! The simulated runtime: containers that start instantly and run until told otherwise, for
//! tests and scale benchmarks. Simulated nodes run every container here.
//!
//! Faults are injected by hand: make the next starts of an image fail
//! ([`SimulatedRuntime::fail_starts`]), make containers ignore the stop signal
//! ([`SimulatedRuntime::ignore_stop`]), crash a running container
//! ([`SimulatedRuntime::crash`]), or crash every instance a fraction of the time on start
//! ([`SimulatedRuntime::crash_on_start`]).

use super::runtime::{ContainerRuntime, ContainerSpec, ExitStatus, RunningContainer, StartError};
use crate::api::Container;
use dashmap::DashMap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Starts containers instantly; see the module docs for fault injection. Cheap to clone:
/// clones share the containers and the faults.
#[derive(Clone, Default)]
pub struct SimulatedRuntime {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    ids: AtomicU64,
    /// Stop signals sent (`terminate` calls), heeded or not.
    stop_signals: AtomicU64,
    running: DashMap<u64, Arc<SimContainer>>,
    faults: Mutex<Faults>,
}

#[derive(Default)]
struct Faults {
    /// Image ("" = any) -> starts left to fail.
    fail_starts: HashMap<String, u32>,
    /// Images whose containers ignore terminate (only kill stops them).
    ignore_stop: HashMap<String, bool>,
    /// Image ("" = any) -> exit right after start with this code, for this many starts.
    crash_on_start: HashMap<String, (i32, u32)>,
}

impl fmt::Debug for SimulatedRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedRuntime")
            .field("running", &self.inner.running.len())
            .finish()
    }
}

fn image_of(c: &Container) -> &str {
    c.image.as_deref().unwrap_or("")
}

impl SimulatedRuntime {
    /// A runtime with no faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` starts of containers with image `image` (`None`: any image) fail with
    /// reason `StartError`.
    pub fn fail_starts(&self, image: Option<&str>, n: u32) {
        self.inner
            .faults
            .lock()
            .fail_starts
            .insert(image.unwrap_or("").to_string(), n);
    }

    /// Containers of `image` ignore the stop signal (as a process that traps SIGTERM): only
    /// the kill at the end of the grace period stops them.
    pub fn ignore_stop(&self, image: &str, ignore: bool) {
        self.inner
            .faults
            .lock()
            .ignore_stop
            .insert(image.to_string(), ignore);
    }

    /// The next `n` containers of `image` (`None`: any) exit with `exit_code` right after they
    /// start (a crash loop).
    pub fn crash_on_start(&self, image: Option<&str>, exit_code: i32, n: u32) {
        self.inner
            .faults
            .lock()
            .crash_on_start
            .insert(image.unwrap_or("").to_string(), (exit_code, n));
    }

    /// Crashes the running container `container` of pod `namespace/pod` with `exit_code`.
    /// False when no such container runs.
    pub fn crash(&self, namespace: &str, pod: &str, container: &str, exit_code: i32) -> bool {
        let found = self
            .inner
            .running
            .iter()
            .find(|c| {
                c.spec.namespace == namespace
                    && c.spec.pod_name == pod
                    && c.spec.container.name == container
            })
            .map(|c| c.value().clone());
        match found {
            Some(c) => {
                c.exit(&self.inner.running, ExitStatus::code(exit_code));
                true
            }
            None => false,
        }
    }

    /// How many stop signals (the SIGTERM of a process) containers have been sent so far,
    /// heeded or ignored: lets a test see that a graceful stop has begun.
    pub fn stop_signals(&self) -> u64 {
        self.inner.stop_signals.load(Ordering::SeqCst)
    }

    /// How many containers run now.
    pub fn running(&self) -> usize {
        self.inner.running.len()
    }

    /// (namespace, pod, container) of every running container, sorted.
    pub fn running_containers(&self) -> Vec<(String, String, String)> {
        let mut v: Vec<_> = self
            .inner
            .running
            .iter()
            .map(|c| {
                (
                    c.spec.namespace.clone(),
                    c.spec.pod_name.clone(),
                    c.spec.container.name.clone(),
                )
            })
            .collect();
        v.sort();
        v
    }

    fn take(map: &mut HashMap<String, u32>, image: &str) -> bool {
        for key in [image, ""] {
            if let Some(n) = map.get_mut(key) {
                if *n > 0 {
                    *n -= 1;
                    return true;
                }
            }
        }
        false
    }
}

struct SimContainer {
    n: u64,
    id: String,
    spec: ContainerSpec,
    ignore_stop: bool,
    exited: Mutex<Option<ExitStatus>>,
}

impl SimContainer {
    /// Records the exit once and reports it; the registry entry goes first so a crash seen by
    /// the agent is never still counted as running.
    fn exit(&self, running: &DashMap<u64, Arc<SimContainer>>, status: ExitStatus) {
        {
            let mut g = self.exited.lock();
            if g.is_some() {
                return;
            }
            *g = Some(status.clone());
        }
        running.remove(&self.n);
        (self.spec.on_exit)(status);
    }
}

/// A handle on a simulated container.
struct Handle {
    c: Arc<SimContainer>,
    inner: Arc<Inner>,
}

impl RunningContainer for Handle {
    fn id(&self) -> &str {
        &self.c.id
    }

    fn terminate(&self) {
        self.inner.stop_signals.fetch_add(1, Ordering::SeqCst);
        if !self.c.ignore_stop {
            self.c.exit(&self.inner.running, ExitStatus::signaled(15));
        }
    }

    fn kill(&self) {
        self.c.exit(&self.inner.running, ExitStatus::signaled(9));
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        self.c.exited.lock().clone()
    }
}

impl ContainerRuntime for SimulatedRuntime {
    fn name(&self) -> &str {
        "simulated"
    }

    fn handles(&self, _container: &Container) -> bool {
        true
    }

    fn start(&self, spec: ContainerSpec) -> Result<Box<dyn RunningContainer>, StartError> {
        let image = image_of(&spec.container).to_string();
        let (fail, crash, ignore_stop) = {
            let mut f = self.inner.faults.lock();
            let fail = Self::take(&mut f.fail_starts, &image);
            let mut crash = None;
            for key in [image.as_str(), ""] {
                if let Some((code, n)) = f.crash_on_start.get_mut(key) {
                    if *n > 0 {
                        *n -= 1;
                        crash = Some(*code);
                        break;
                    }
                }
            }
            let ignore = f.ignore_stop.get(&image).copied().unwrap_or(false);
            (fail, crash, ignore)
        };
        if fail {
            return Err(StartError::new(
                "StartError",
                format!("simulated start failure of image {image:?}"),
            ));
        }
        let n = self.inner.ids.fetch_add(1, Ordering::Relaxed);
        let c = Arc::new(SimContainer {
            n,
            id: format!("simulated://{n}"),
            spec,
            ignore_stop,
            exited: Mutex::new(None),
        });
        self.inner.running.insert(n, c.clone());
        if let Some(code) = crash {
            c.exit(&self.inner.running, ExitStatus::code(code));
        }
        Ok(Box::new(Handle {
            c,
            inner: self.inner.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::LogBuffer;
    use crossbeam_channel::{unbounded, Receiver};

    fn spec(pod: &str, image: &str) -> (ContainerSpec, Receiver<ExitStatus>) {
        let (tx, rx) = unbounded();
        let spec = ContainerSpec {
            namespace: "default".into(),
            pod_name: pod.into(),
            pod_uid: "u".into(),
            node_name: "sim-0".into(),
            container: Container {
                name: "main".into(),
                image: Some(image.into()),
                ..Default::default()
            },
            env: vec![],
            working_dir: None,
            mounts: vec![],
            log: Arc::new(LogBuffer::new(64)),
            on_exit: Arc::new(move |s| {
                let _ = tx.send(s);
            }),
            on_change: Arc::new(|| {}),
        };
        (spec, rx)
    }

    #[test]
    fn containers_run_until_crashed_terminated_or_killed() {
        let rt = SimulatedRuntime::new();
        let (s, rx) = spec("a", "img");
        let a = rt.start(s).unwrap();
        let (s, rx_b) = spec("b", "img");
        let b = rt.start(s).unwrap();
        assert_eq!(rt.running(), 2);
        assert!(rt.crash("default", "a", "main", 3));
        assert_eq!(rx.try_recv().unwrap(), ExitStatus::code(3));
        assert_eq!(a.exit_status(), Some(ExitStatus::code(3)));
        assert!(!rt.crash("default", "a", "main", 3), "no longer running");
        b.terminate();
        assert_eq!(rx_b.try_recv().unwrap().exit_code, 143);
        b.kill();
        assert!(rx_b.try_recv().is_err(), "the exit is reported once");
        assert_eq!(rt.running(), 0);
    }

    #[test]
    fn injected_faults_fail_starts_crash_loops_and_ignored_stops() {
        let rt = SimulatedRuntime::new();
        rt.fail_starts(Some("bad"), 1);
        let (s, _) = spec("a", "bad");
        let Err(e) = rt.start(s) else {
            panic!("the injected start failure")
        };
        assert_eq!(e.reason, "StartError");
        let (s, _) = spec("a", "bad");
        assert!(rt.start(s).is_ok(), "only the next start fails");

        rt.crash_on_start(None, 1, 2);
        for _ in 0..2 {
            let (s, rx) = spec("c", "any");
            let c = rt.start(s).unwrap();
            assert_eq!(rx.try_recv().unwrap().exit_code, 1);
            assert!(c.exit_status().is_some());
        }
        let (s, rx) = spec("c", "any");
        let _c = rt.start(s).unwrap();
        assert!(rx.try_recv().is_err());

        rt.ignore_stop("stubborn", true);
        let (s, rx) = spec("d", "stubborn");
        let d = rt.start(s).unwrap();
        d.terminate();
        assert!(rx.try_recv().is_err());
        d.kill();
        assert_eq!(rx.try_recv().unwrap().signal, Some(9));
    }
}

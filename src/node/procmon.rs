//! One thread for every process's output and exit (Linux): an epoll loop over each
//! process's output pipe and its pidfd, so that running processes need no thread of their
//! own, as the kubelet needs none per container.
//!
//! A process is [watched](Monitor::watch) with its output pipe (read end, made non-blocking)
//! and, when `pidfd_open` works, its pidfd. The monitor thread appends what the pipe yields
//! to the process's log until end of file, and when the pidfd becomes readable (the process
//! ended; the kernel does not reap it) calls the process's `exited` function, which kills
//! what is left of its group and reaps it ([`super::process`]'s invariants hold: it runs the
//! same code the waiter thread ran). The exit is reported once the output reached end of
//! file or [`super::process::OUTPUT_DRAIN_TIMEOUT`] passed, as before.
//!
//! # Invariants
//!
//! - **Exactly one report per process**: the report is taken out of its job (`Option::take`)
//!   by the monitor thread alone, which is the only thread that runs it.
//! - **No lost readiness**: registration adds the fds to the epoll set after the job is in
//!   the table, under the table's lock, and the monitor looks jobs up under that lock; epoll
//!   is level-triggered, so readiness that arrives before `epoll_wait` is not missed.
//! - **A panicking callback does not stop the monitor**: each `exited` and report runs under
//!   `catch_unwind`.
//!
//! The thread lives as long as the process (like the spawner's); a forked child that uses
//! the runtime starts its own.

use super::logs::LogBuffer;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reaps an ended process and returns what reports its exit.
pub(crate) type Exited = Box<dyn FnOnce() -> Report + Send>;
/// Reports a process's exit.
pub(crate) type Report = Box<dyn FnOnce() + Send>;

/// Bytes read from a pipe at a time (one buffer for every pipe).
const READ_CHUNK: usize = 16 * 1024;
/// Stack of the monitor thread, which runs exit notifiers: keep them light.
const STACK: usize = 256 * 1024;
/// Events taken from the kernel per `epoll_wait`.
const EVENTS: usize = 64;

/// The epoll loop's shared half.
pub(crate) struct Monitor {
    epoll: OwnedFd,
    jobs: Mutex<Jobs>,
}

#[derive(Default)]
struct Jobs {
    next: u64,
    /// Job by its token; an fd's epoll data is its job's token, times two, plus one for the
    /// pidfd.
    by_token: HashMap<u64, Job>,
    /// Reports waiting for their output to be drained, by deadline: the deadline is the
    /// exit's time plus a constant, so the queue is in order. An entry whose report went
    /// out already (end of file came first) is skipped when reached.
    waiting: VecDeque<(Instant, u64)>,
}

struct Job {
    log: Arc<LogBuffer>,
    /// The output pipe, until end of file.
    pipe: Option<File>,
    /// The pidfd, until the exit was seen.
    pidfd: Option<OwnedFd>,
    exited: Option<Exited>,
    /// The exit's report, waiting for the output to be drained (see `Jobs::waiting`).
    report: Option<Report>,
}

static MONITOR: Mutex<Option<(Arc<Monitor>, u32)>> = Mutex::new(None);

/// The monitor of this process, starting its thread on first use; `None` when epoll or the
/// thread cannot be had (the caller falls back to threads of its own).
pub(crate) fn get() -> Option<Arc<Monitor>> {
    let mut g = MONITOR.lock();
    let me = std::process::id();
    if let Some((m, pid)) = g.as_ref() {
        if *pid == me {
            return Some(m.clone());
        }
    }
    // SAFETY: epoll_create1 takes no pointers; the fd it returns is ours alone.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        log::debug!("epoll_create1 failed: {}", io::Error::last_os_error());
        return None;
    }
    let m = Arc::new(Monitor {
        // SAFETY: `fd` was just returned by epoll_create1 and nothing else owns it.
        epoll: unsafe { OwnedFd::from_raw_fd(fd) },
        jobs: Mutex::new(Jobs::default()),
    });
    let run = m.clone();
    if let Err(e) = std::thread::Builder::new()
        .name("steady-procmon".into())
        .stack_size(STACK)
        .spawn(move || run.run())
    {
        log::debug!("starting the process monitor failed: {e}");
        return None;
    }
    *g = Some((m.clone(), me));
    Some(m)
}

/// A pidfd for our child `pid` (Linux 5.3 and later), close-on-exec.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall returned a new fd (pidfds are close-on-exec) that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

impl Monitor {
    /// Watches one process: `pipe` (its output) goes to `log` until end of file; `exited`
    /// runs when `pidfd` says the process ended, and the report it returns once the output
    /// is drained (or [`super::process::OUTPUT_DRAIN_TIMEOUT`] after the exit).
    pub(crate) fn watch(
        &self,
        pipe: File,
        log: Arc<LogBuffer>,
        pidfd: OwnedFd,
        exited: Exited,
    ) -> io::Result<()> {
        set_nonblocking(pipe.as_raw_fd())?;
        let mut jobs = self.jobs.lock();
        let token = jobs.next;
        jobs.next += 1;
        let (pipe_fd, pid_fd) = (pipe.as_raw_fd(), pidfd.as_raw_fd());
        jobs.by_token.insert(
            token,
            Job {
                log,
                pipe: Some(pipe),
                pidfd: Some(pidfd),
                exited: Some(exited),
                report: None,
            },
        );
        let added = self.add(pipe_fd, token * 2).and_then(|()| {
            self.add(pid_fd, token * 2 + 1)
                .inspect_err(|_| self.del(pipe_fd))
        });
        if let Err(e) = added {
            jobs.by_token.remove(&token);
            return Err(e);
        }
        Ok(())
    }

    fn add(&self, fd: RawFd, data: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: data,
        };
        // SAFETY: `ev` is a valid epoll_event; both fds are open.
        let r =
            unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn del(&self, fd: RawFd) {
        // SAFETY: a null event is allowed for EPOLL_CTL_DEL; `fd` is still open.
        unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            );
        }
    }

    /// The loop: forever, wait for readiness or the next drain deadline, and act on it.
    fn run(&self) {
        let mut buf = vec![0u8; READ_CHUNK];
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        loop {
            let timeout = self.next_deadline().map_or(-1, |d| {
                let ms = d.saturating_duration_since(Instant::now()).as_millis();
                // Round up: waking before the deadline would spin.
                i32::try_from(ms + 1).unwrap_or(i32::MAX)
            });
            // SAFETY: `events` is a valid array of EVENTS epoll_events for the kernel to fill.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    EVENTS as i32,
                    timeout,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("the process monitor's epoll_wait failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            let mut due: Vec<Report> = Vec::new();
            for ev in &events[..n as usize] {
                let (token, is_exit) = (ev.u64 / 2, ev.u64 % 2 == 1);
                if is_exit {
                    self.exited(token, &mut due);
                } else {
                    self.readable(token, &mut buf, &mut due);
                }
            }
            self.take_overdue(&mut due);
            for report in due {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(report)).is_err() {
                    log::error!("a process exit report panicked");
                }
            }
        }
    }

    /// The earliest drain deadline of a report still waiting, if any.
    fn next_deadline(&self) -> Option<Instant> {
        let mut jobs = self.jobs.lock();
        let jobs = &mut *jobs;
        while let Some(&(deadline, token)) = jobs.waiting.front() {
            if jobs
                .by_token
                .get(&token)
                .is_some_and(|j| j.report.is_some())
            {
                return Some(deadline);
            }
            jobs.waiting.pop_front();
        }
        None
    }

    /// Reads what the pipe of `token` has; at end of file, closes it and releases a waiting
    /// report.
    fn readable(&self, token: u64, buf: &mut [u8], due: &mut Vec<Report>) {
        let mut jobs = self.jobs.lock();
        let Some(job) = jobs.by_token.get_mut(&token) else {
            return;
        };
        let Some(pipe) = job.pipe.as_mut() else {
            return;
        };
        // One chunk per wake-up: level-triggered epoll wakes again while more is buffered,
        // and no pipe starves the others.
        let eof = match pipe.read(buf) {
            Ok(0) => true,
            Ok(n) => {
                job.log.append(&buf[..n]);
                false
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                false
            }
            Err(e) => {
                log::debug!("reading process output failed: {e}");
                true
            }
        };
        if !eof {
            return;
        }
        if let Some(pipe) = job.pipe.take() {
            self.del(pipe.as_raw_fd());
        }
        if let Some(report) = job.report.take() {
            due.push(report);
        }
        if job.exited.is_none() {
            // The exit was seen (and reported, or its report is due now).
            jobs.by_token.remove(&token);
        }
    }

    /// The process of `token` ended: reap it (outside the lock), and report at once if its
    /// output is drained, else once it is or the drain timeout passes.
    fn exited(&self, token: u64, due: &mut Vec<Report>) {
        let exited = {
            let mut jobs = self.jobs.lock();
            let Some(job) = jobs.by_token.get_mut(&token) else {
                return;
            };
            if let Some(fd) = job.pidfd.take() {
                self.del(fd.as_raw_fd());
            }
            job.exited.take()
        };
        let Some(exited) = exited else { return };
        let report = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(exited)) {
            Ok(r) => r,
            Err(_) => {
                log::error!("reaping an ended process panicked");
                return;
            }
        };
        let mut jobs = self.jobs.lock();
        let Some(job) = jobs.by_token.get_mut(&token) else {
            due.push(report);
            return;
        };
        if job.pipe.is_none() {
            jobs.by_token.remove(&token);
            due.push(report);
        } else {
            job.report = Some(report);
            let deadline = Instant::now() + super::process::OUTPUT_DRAIN_TIMEOUT;
            jobs.waiting.push_back((deadline, token));
        }
    }

    /// Reports whose drain timeout passed go out; their pipes stay read until end of file
    /// (a descendant that left the group may still write: its output lands in the log).
    fn take_overdue(&self, due: &mut Vec<Report>) {
        let now = Instant::now();
        let mut jobs = self.jobs.lock();
        let jobs = &mut *jobs;
        while let Some(&(deadline, token)) = jobs.waiting.front() {
            if deadline > now {
                break;
            }
            jobs.waiting.pop_front();
            if let Some(r) = jobs.by_token.get_mut(&token).and_then(|j| j.report.take()) {
                due.push(r);
            }
        }
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an open fd with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::sync::mpsc;

    /// A child writing `script`'s output to a pipe we read through the monitor.
    fn watched_child(m: &Monitor, script: &str) -> (Arc<LogBuffer>, mpsc::Receiver<String>) {
        let (r, w) = crate::node::spawner::pipe().unwrap();
        let w2 = w.try_clone().unwrap();
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .stdout(w)
            .stderr(w2)
            .spawn()
            .unwrap();
        let pid = child.id();
        let log = Arc::new(LogBuffer::new(1 << 20));
        let (tx, rx) = mpsc::channel();
        let log2 = log.clone();
        let exited: Exited = Box::new(move || {
            let status = child.wait().unwrap();
            Box::new(move || {
                let text = log2.text();
                tx.send(format!("{status}: {text}")).unwrap();
            })
        });
        let pidfd = pidfd_open(pid).unwrap();
        m.watch(r, log.clone(), pidfd, exited).unwrap();
        (log, rx)
    }

    #[test]
    fn many_processes_are_reported_once_each_with_their_whole_output() {
        let m = get().expect("epoll is available");
        let children: Vec<_> = (0..50)
            .map(|i| {
                let script = format!(
                    "i=0; while [ $i -lt 200 ]; do echo line-{i}-$i; i=$((i+1)); done; exit {}",
                    i % 3
                );
                (i, watched_child(&m, &script))
            })
            .collect();
        for (i, (_, rx)) in children {
            let report = rx.recv_timeout(Duration::from_secs(20)).unwrap();
            assert!(
                report.starts_with(&format!("exit status: {}:", i % 3)),
                "{report}"
            );
            assert_eq!(
                report.matches(&format!("line-{i}-")).count(),
                200,
                "{report}"
            );
            assert!(report.contains(&format!("line-{i}-199\n")));
            assert!(
                rx.recv_timeout(Duration::from_millis(50)).is_err(),
                "one report"
            );
        }
    }

    #[test]
    fn an_exit_is_reported_after_the_drain_timeout_when_a_descendant_holds_the_pipe() {
        let m = get().expect("epoll is available");
        // The shell exits at once; its background sleep keeps the pipe open for 5 s.
        let (_, rx) = watched_child(&m, "echo started; (sleep 5 &) ; exit 7");
        let report = rx.recv_timeout(Duration::from_secs(4)).unwrap();
        assert!(report.starts_with("exit status: 7"), "{report}");
        assert!(report.contains("started"), "{report}");
    }
}

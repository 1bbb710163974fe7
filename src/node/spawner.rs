//! The one thread every child process of steady is forked from, and the tie that makes each
//! child die with the engine.
//!
//! On Linux every child gets `PR_SET_PDEATHSIG` = `SIGKILL` between fork and exec: the kernel
//! kills it when its parent dies, however the parent dies (SIGKILL included). But "the parent"
//! is the *thread* that forked the child: the signal fires when that thread exits, even while
//! the process lives on. The node agent's pool threads, probe threads and a host's threads
//! come and go, so no child is forked from them; [`spawn`] hands the [`Command`] to one
//! spawner thread that lives as long as the process and forks there.
//!
//! # Invariants
//!
//! - **The spawner thread never exits while the process lives.** It is started on first
//!   use, detached, and its channel's sender sits in a static, so its receive loop never sees
//!   a disconnection. Each job runs under `catch_unwind`: a panic becomes the caller's
//!   `io::Error`, not the thread's end. Should the thread be gone anyway (it could not be
//!   started, or this is a child forked from the host without exec), the next [`spawn`]
//!   starts a new one.
//! - **A child whose engine died before the tie was made does not run.** If the engine dies
//!   between fork and `prctl`, no signal comes (the parent died first): the child compares
//!   `getppid()` with the engine's pid, taken before the fork, and `_exit`s when they
//!   differ.
//! - **What runs in the child** (between fork and exec) is `prctl`, `getppid` and `_exit`,
//!   all async-signal-safe, with no allocation.
//!
//! Not covered: a setuid or setgid program (or one with file capabilities) loses the tie at
//! exec, as the kernel resets `PDEATHSIG` then; grandchildren never inherit it (the node
//! agent kills them with their process group, and an engine restarted on the same data dir
//! kills what a dead one left, see [`super::orphans`]); and other unix systems, which have
//! no `PDEATHSIG` (the children are still forked on the spawner thread).

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use std::io;
use std::panic::AssertUnwindSafe;
use std::process::{Child, Command};

/// A job for the spawner thread: it runs there, and sends its outcome back itself.
type Job = Box<dyn FnOnce() + Send>;

/// The spawner thread's queue, and the pid of the process that started it (a child forked
/// from the host without exec has the static but not the thread).
static SPAWNER: Mutex<Option<(Sender<Job>, u32)>> = Mutex::new(None);

/// Stack of the spawner thread: `Command::spawn` needs little.
const SPAWNER_STACK: usize = 256 * 1024;

/// Starts `cmd` as a child that dies with this process (Linux: `PR_SET_PDEATHSIG`), forked
/// from the spawner thread. Returns once the child has exec'd, or the error
/// (`Command::spawn`'s). See the [module docs](self).
pub(crate) fn spawn(mut cmd: Command) -> io::Result<Child> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    die_with_engine(&mut cmd);
    run_on_spawner(move || {
        let child = cmd.spawn();
        // The Command holds the parent's copies of the child's stdio (pipe ends): closed
        // here, before the caller learns of the child, as if it had spawned it itself.
        drop(cmd);
        child
    })?
}

/// Runs `f` on the spawner thread and returns its value; an error if it panicked (the
/// thread carries on) or the thread could not be reached.
pub(crate) fn run_on_spawner<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    let (reply_tx, reply_rx) = crossbeam_channel::bounded::<std::thread::Result<T>>(1);
    let mut job: Job = Box::new(move || {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(f));
        // The caller waits for this reply: it cannot be gone. A Child (in `outcome`)
        // dropped unreceived would not stop the process; there is no such case.
        let _ = reply_tx.send(outcome);
    });
    // Twice at most: a dead thread is replaced once; if the new one cannot take the job
    // either, something is badly wrong.
    for _ in 0..2 {
        let tx = spawner()?;
        match tx.send(job) {
            Ok(()) => {
                return match reply_rx.recv() {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(panic)) => Err(io::Error::other(format!(
                        "starting the process panicked: {}",
                        panic_message(&*panic)
                    ))),
                    // The job was dropped unrun: only if the thread died with it queued.
                    Err(_) => Err(io::Error::other("the spawner thread is gone")),
                };
            }
            Err(crossbeam_channel::SendError(back)) => {
                job = back;
                forget_spawner(&tx);
            }
        }
    }
    Err(io::Error::other("the spawner thread cannot be started"))
}

/// The spawner thread's queue, starting the thread if this process has none.
fn spawner() -> io::Result<Sender<Job>> {
    let mut g = SPAWNER.lock();
    let me = std::process::id();
    if let Some((tx, pid)) = g.as_ref() {
        if *pid == me {
            return Ok(tx.clone());
        }
    }
    let (tx, rx) = crossbeam_channel::unbounded::<Job>();
    std::thread::Builder::new()
        .name("steady-spawner".into())
        .stack_size(SPAWNER_STACK)
        .spawn(move || serve(rx))?;
    *g = Some((tx.clone(), me));
    Ok(tx)
}

/// Drops the spawner `dead` (its thread is gone), unless another caller already replaced it.
fn forget_spawner(dead: &Sender<Job>) {
    let mut g = SPAWNER.lock();
    if g.as_ref().is_some_and(|(tx, _)| tx.same_channel(dead)) {
        *g = None;
    }
}

/// The spawner thread: runs jobs until the process ends (the sender is never dropped).
fn serve(jobs: Receiver<Job>) {
    for job in jobs {
        // Jobs catch their own panics (run_on_spawner); this one is for the reply's send,
        // so that nothing ends this thread.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Makes the child of `cmd` get SIGKILL when the thread that forks it exits (which, forked
/// on the spawner thread, is when the engine's process ends).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn die_with_engine(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // Taken before the fork: in the child, getppid() is this pid while the engine lives.
    let engine = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the child between fork and exec and makes only
    // async-signal-safe calls (prctl, getppid, _exit); it allocates nothing (the error is
    // an OS error code).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The engine died between fork and prctl: no signal will come, and nobody
            // waits for this child. It must not run.
            if libc::getppid() != engine {
                libc::_exit(127);
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// The calling thread's kernel thread id.
    #[cfg(target_os = "linux")]
    fn gettid() -> libc::pid_t {
        // SAFETY: gettid takes no arguments and cannot fail.
        unsafe { libc::gettid() }
    }

    /// Waits until thread `tid` of this process is gone from the kernel's view (not only
    /// joined: `join` may return before the kernel has reparented its children and sent
    /// their death signals).
    #[cfg(target_os = "linux")]
    fn thread_gone(tid: libc::pid_t) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let task = format!("/proc/self/task/{tid}");
        while std::path::Path::new(&task).exists() {
            assert!(Instant::now() < deadline, "thread {tid} never went");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `child`'s exit, if it ends within `secs`.
    fn exit_within(child: &mut Child, secs: u64) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A shell that answers one line read on its stdin, then sleeps.
    fn echoer() -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "read line; echo \"alive $line\"; exec sleep 1000"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        cmd
    }

    /// The child's answer to one line: only a live process gives one.
    fn ask(child: &mut Child) -> io::Result<String> {
        use std::io::{BufRead, Write};
        writeln!(child.stdin.as_mut().unwrap(), "ping")?;
        let mut answer = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut answer)?;
        Ok(answer)
    }

    fn kill(mut child: Child) -> std::process::ExitStatus {
        let _ = child.kill();
        child.wait().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_child_outlives_the_short_lived_thread_that_asked_for_it() {
        let (mut child, tid) = std::thread::spawn(|| (spawn(echoer()).unwrap(), gettid()))
            .join()
            .unwrap();
        thread_gone(tid);
        // Had the asking thread forked it, its SIGKILL would have been sent by now (see the
        // next test), and a process with SIGKILL pending never answers.
        let answer = ask(&mut child);
        let status = kill(child);
        assert_eq!(answer.ok().as_deref(), Some("alive ping\n"), "{status}");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }

    /// The premise of the spawner: with the tie made, a child forked by a thread that exits
    /// is killed, though the process lives on.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_tied_child_forked_by_a_short_lived_thread_dies_with_that_thread() {
        let (mut child, tid) = std::thread::spawn(|| {
            let mut cmd = echoer();
            die_with_engine(&mut cmd);
            (cmd.spawn().unwrap(), gettid())
        })
        .join()
        .unwrap();
        thread_gone(tid);
        let answer = ask(&mut child);
        let status = exit_within(&mut child, 20);
        kill(child);
        assert!(
            answer.is_err() || answer.as_ref().is_ok_and(String::is_empty),
            "{answer:?}"
        );
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGKILL));
    }

    #[test]
    fn every_spawn_forks_on_the_same_thread_and_a_panic_does_not_end_it() {
        let first = run_on_spawner(|| std::thread::current().id()).unwrap();
        let e = run_on_spawner(|| -> () { panic!("boom in a job") }).unwrap_err();
        assert!(e.to_string().contains("boom in a job"), "{e}");
        let again = run_on_spawner(|| std::thread::current().id()).unwrap();
        assert_eq!(first, again, "the spawner thread survived the panic");
        kill(spawn(echoer()).unwrap());
    }

    #[test]
    fn a_spawn_error_is_the_callers() {
        let e = spawn(Command::new("/nonexistent/steady-test-program")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}

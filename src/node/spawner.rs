//! The one thread every child process of steady is started from, and the tie that makes each
//! child die with the engine.
//!
//! On Linux every child gets `PR_SET_PDEATHSIG` = `SIGKILL` before exec: the kernel
//! kills it when its parent dies, however the parent dies (SIGKILL included). But "the parent"
//! is the *thread* that started the child: the signal fires when that thread exits, even while
//! the process lives on. The node agent's pool threads, probe threads and a host's threads
//! come and go, so no child is started from them; [`spawn`] hands the [`Spawn`] to one
//! spawner thread that lives as long as the process and starts it there.
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
//!   between the clone and `prctl`, no signal comes (the parent died first): the child compares
//!   `getppid()` with the engine's pid, taken before the clone, and `_exit`s when they
//!   differ.
//! - **What runs in the child** (between clone and exec): setting its streams, working
//!   directory, process group and signals, the hooks of the [`Spawn`] (`prctl`, `getppid`
//!   and `_exit` for the tie; `setns`, the cgroup entry and bind mounts where asked), and
//!   exec, all async-signal-safe, with no allocation: everything the child reads was
//!   prepared before, in [`Spawn`]'s prepared form, and the hooks must never panic.
//!
//! # How a child is started
//!
//! On Linux as `posix_spawn` starts one, not with `fork`: `clone(CLONE_VM | CLONE_VFORK)`
//! runs the child in the engine's memory, on a small stack of its own, while the spawner
//! thread waits for its exec. A `fork` copies the page tables of the whole host and makes
//! every page the host writes before the child's exec a copy: in a host holding 2 GiB a
//! process restart took 184-240 ms instead of 1-2 ms (`process.restart_p50_ms_2gib_host`
//! in the bench). With `CLONE_VM` the child must not run the host's signal handlers (they
//! would run on the host's memory): every signal is blocked around the clone, and the
//! child resets handled signals to their defaults (and `SIGPIPE`, which Rust ignores) and
//! empties its mask before its hooks, as `std::process` does. A name without a `/` is looked
//! up in the child, after its hooks (a mount namespace may change what a path names), in the
//! `PATH` of its own environment, by `execvp`'s rules, and a file without a `#!` line is run
//! by `/bin/sh`. How far the child got (exec'd, failed with an error, killed before exec)
//! comes back in the memory it shares with the parent, and through a close-on-exec pipe
//! where the clone turned out to be a fork (under valgrind). Other unix systems fork
//! through `std::process`. Signals 32 and 33, which glibc keeps for itself, cannot be
//! blocked through its API; they are only ever sent to threads of the engine by thread id,
//! never to the child.
//!
//! Not covered: a setuid or setgid program (or one with file capabilities) loses the tie at
//! exec, as the kernel resets `PDEATHSIG` then; grandchildren never inherit it (the node
//! agent kills them with their process group, and an engine restarted on the same data dir
//! kills what a dead one left, see [`super::orphans`]); and other unix systems, which have
//! no `PDEATHSIG` (the children are still forked on the spawner thread).

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitStatus;

/// A job for the spawner thread: it runs there, and sends its outcome back itself.
type Job = Box<dyn FnOnce() + Send>;

/// The spawner thread's queue, and the pid of the process that started it (a child forked
/// from the host without exec has the static but not the thread).
static SPAWNER: Mutex<Option<(Sender<Job>, u32)>> = Mutex::new(None);

/// Stack of the spawner thread: a spawn needs little (the child runs on its own stack).
const SPAWNER_STACK: usize = 256 * 1024;

/// A hook run in the child before exec. It must allocate nothing and make only
/// async-signal-safe calls (see [`Spawn::pre_exec`]).
type Hook = Box<dyn FnMut() -> io::Result<()> + Send>;

/// What to start: a program, its arguments and its whole environment (nothing of this
/// process's environment is inherited but what is set here), its standard streams
/// (`/dev/null` unless given), its working directory and process group, and hooks to run
/// in the child before exec.
pub(crate) struct Spawn {
    program: OsString,
    args: Vec<OsString>,
    /// By name, as std's `Command` keeps it: setting a name again replaces its value.
    env: BTreeMap<OsString, OsString>,
    cwd: Option<PathBuf>,
    stdio: [Option<OwnedFd>; 3],
    process_group: bool,
    hooks: Vec<Hook>,
}

impl Spawn {
    /// `program`: a path, or a name looked up in the `PATH` of the environment given here
    /// (`/bin:/usr/bin` without one), as `execvp` does.
    pub(crate) fn new(program: impl Into<OsString>) -> Spawn {
        Spawn {
            program: program.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            stdio: [None, None, None],
            process_group: false,
            hooks: Vec::new(),
        }
    }

    /// Adds arguments after the program name.
    pub(crate) fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable (a later value for the same name wins).
    pub(crate) fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// The child's working directory.
    pub(crate) fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// The child's standard input.
    #[cfg(test)]
    pub(crate) fn stdin(mut self, fd: OwnedFd) -> Self {
        self.stdio[0] = Some(fd);
        self
    }

    /// The child's standard output.
    pub(crate) fn stdout(mut self, fd: OwnedFd) -> Self {
        self.stdio[1] = Some(fd);
        self
    }

    /// The child's standard error.
    pub(crate) fn stderr(mut self, fd: OwnedFd) -> Self {
        self.stdio[2] = Some(fd);
        self
    }

    /// Makes the child the leader of a new process group (`setpgid(0, 0)`).
    pub(crate) fn process_group(mut self) -> Self {
        self.process_group = true;
        self
    }

    /// Runs `hook` in the child after its streams, working directory and process group
    /// are set, before exec, in the order added. An error ends the child and is what
    /// [`spawn`] returns (its OS error code; `EINVAL` for an error without one).
    ///
    /// # Safety
    /// On Linux the child shares this process's memory until it execs (`CLONE_VM`, as
    /// `posix_spawn` does), and elsewhere it is a fork of a multi-threaded process: `hook`
    /// must allocate nothing, take no lock, never panic (the panic machinery would run on
    /// the host's memory) and make only async-signal-safe calls.
    pub(crate) unsafe fn pre_exec(
        mut self,
        hook: impl FnMut() -> io::Result<()> + Send + 'static,
    ) -> Self {
        self.hooks.push(Box::new(hook));
        self
    }
}

/// A child process started by [`spawn`]: its pid until it is reaped by [`Child::wait`].
/// Dropping it neither kills nor reaps the process.
#[derive(Debug)]
pub(crate) struct Child {
    pid: u32,
    status: Option<ExitStatus>,
}

impl Child {
    /// The child's process id.
    pub(crate) fn id(&self) -> u32 {
        self.pid
    }

    /// Waits for the child to exit and reaps it; later calls return the same status.
    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        let mut raw: libc::c_int = 0;
        loop {
            // SAFETY: `raw` is a valid int for waitpid to fill; the pid is our child's.
            let r = unsafe { libc::waitpid(self.pid as libc::pid_t, &mut raw, 0) };
            if r >= 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let s = ExitStatus::from_raw(raw);
        self.status = Some(s);
        Ok(s)
    }
}

/// Starts `spec` as a child that dies with this process (Linux: `PR_SET_PDEATHSIG`), from
/// the spawner thread. Returns once the child has exec'd, or the error (exec's, or a
/// hook's). See the [module docs](self).
pub(crate) fn spawn(spec: Spawn) -> io::Result<Child> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let spec = die_with_engine(spec);
    // Everything the child needs is prepared here, outside it, where allocating is fine.
    let mut prepared = Prepared::new(spec)?;
    run_on_spawner(move || {
        let child = prepared.start();
        // `prepared` holds the parent's copies of the child's stdio (pipe ends): closed
        // here, before the caller learns of the child, as if it had spawned it itself.
        drop(prepared);
        child
    })?
}

/// A [`Spawn`] turned into what exec takes: C strings and null-terminated arrays of them.
struct Prepared {
    /// The paths to exec, in order: the program itself when it holds a `/`, else the
    /// program in each `PATH` directory, tried in the child as `execvp` tries them (after
    /// the hooks, which may change what the paths name: a mount namespace).
    candidates: Vec<CString>,
    /// `argv` and `envp` own the strings `argv_ptrs` and `envp_ptrs` point into (and are
    /// read where the child is started through `std::process`).
    #[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
    argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    #[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
    envp: Vec<CString>,
    envp_ptrs: Vec<*const libc::c_char>,
    /// `/bin/sh <candidate> args...`, for a file exec refuses as not an executable format
    /// (`ENOEXEC`): run by the shell, as `execvp` does. Slot 1 is set in the child.
    _sh: CString,
    sh_ptrs: Vec<*const libc::c_char>,
    cwd: Option<CString>,
    /// stdin, stdout and stderr (stdin and any not given: `/dev/null`).
    stdio: [OwnedFd; 3],
    process_group: bool,
    hooks: Vec<Hook>,
}

// SAFETY: the raw pointers point into the CStrings this struct owns (moved with it, their
// heap buffers do not move); nothing else refers to them.
unsafe impl Send for Prepared {}

fn cstring(s: &[u8], what: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the {what} holds a NUL byte"),
        )
    })
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The paths `execvp` would try for `program`: itself when it holds a `/`, else
/// `dir/program` for each entry of `path` (`/bin:/usr/bin` when None; an empty entry is
/// the working directory, `.`), relative entries staying relative (exec resolves them
/// from the child's working directory).
fn candidates(program: &[u8], path: Option<&[u8]>) -> io::Result<Vec<CString>> {
    if program.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    if program.contains(&b'/') {
        return Ok(vec![cstring(program, "program")?]);
    }
    path.unwrap_or(b"/bin:/usr/bin")
        .split(|b| *b == b':')
        .map(|dir| {
            let dir = if dir.is_empty() { b"." as &[u8] } else { dir };
            let mut p = dir.to_vec();
            if !p.ends_with(b"/") {
                p.push(b'/');
            }
            p.extend_from_slice(program);
            cstring(&p, "program's path")
        })
        .collect()
}

impl Prepared {
    fn new(spec: Spawn) -> io::Result<Prepared> {
        let env_path = spec.env.get(std::ffi::OsStr::new("PATH"));
        let candidates = candidates(spec.program.as_bytes(), env_path.map(|p| p.as_bytes()))?;
        let mut argv = vec![cstring(spec.program.as_bytes(), "program")?];
        for a in &spec.args {
            argv.push(cstring(a.as_bytes(), "argument")?);
        }
        let mut envp = Vec::with_capacity(spec.env.len());
        for (k, v) in &spec.env {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            envp.push(cstring(&kv, "environment")?);
        }
        let sh = CString::new("/bin/sh").expect("no NUL");
        let mut sh_ptrs = vec![sh.as_ptr(), candidates[0].as_ptr()];
        sh_ptrs.extend(argv[1..].iter().map(|c| c.as_ptr()));
        sh_ptrs.push(std::ptr::null());
        let cwd = match &spec.cwd {
            Some(d) => Some(cstring(d.as_os_str().as_bytes(), "working directory")?),
            None => None,
        };
        let [i, o, e] = spec.stdio;
        let null = || -> io::Result<OwnedFd> {
            Ok(std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")?
                .into())
        };
        let stdio = [
            i.map_or_else(null, Ok)?,
            o.map_or_else(null, Ok)?,
            e.map_or_else(null, Ok)?,
        ];
        Ok(Prepared {
            argv_ptrs: null_terminated(&argv),
            envp_ptrs: null_terminated(&envp),
            candidates,
            argv,
            envp,
            _sh: sh,
            sh_ptrs,
            cwd,
            stdio,
            process_group: spec.process_group,
            hooks: spec.hooks,
        })
    }
}

/// A pipe, (read end, write end), both close-on-exec: a child's stdout and stderr (its
/// copies are dup'ed onto fds 1 and 2, which are not), or a child's start report.
pub(crate) fn pipe() -> io::Result<(File, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    ))]
    {
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )))]
    {
        // No pipe2 here (macOS): a process spawned by another thread between pipe() and
        // fcntl() may inherit the fds; the drain timeout bounds what that can delay.
        // SAFETY: `fds` is a valid array of two ints for pipe to fill.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        for fd in fds {
            // SAFETY: fd was just returned by pipe() and is open.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    // SAFETY: both fds were just created by the call above and nothing else owns them.
    Ok(unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Bytes of the stack a child runs on until it execs, below a guard page.
#[cfg(any(target_os = "linux", target_os = "android"))]
const CHILD_STACK: usize = 128 * 1024;

/// What the child of [`Prepared::start`] reads, and how it says how far it got (shared
/// memory: `CLONE_VM`).
#[cfg(any(target_os = "linux", target_os = "android"))]
struct ChildArgs<'a> {
    prepared: &'a mut Prepared,
    /// Set by the child first thing: the parent then knows the clone shared its memory.
    started: std::sync::atomic::AtomicBool,
    /// Set by the child once its setup and hooks are done, just before it execs.
    reached_exec: std::sync::atomic::AtomicBool,
    /// The OS error code that ends the child before exec (0: none).
    error: std::sync::atomic::AtomicI32,
    /// The write end (at 3 or above, close-on-exec) of a pipe the child also writes how
    /// far it got to (a stage byte, then the code). Read only when the clone turned out to
    /// be a fork (valgrind makes it one), where the child's writes to memory are its own:
    /// exec closes it.
    pipe: libc::c_int,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Prepared {
    /// Starts the child the way `posix_spawn` does: `clone(CLONE_VM | CLONE_VFORK)`, so the
    /// child runs in this process's memory, on a stack of its own, and this thread waits
    /// until it has exec'd or died. Unlike `fork`, nothing of the address space is copied:
    /// the cost does not grow with what the host holds in memory (a `fork` of a process
    /// with gigabytes resident copies their page tables, and every page the host then
    /// writes before the child's exec is copied as well).
    ///
    /// All signals are blocked around the clone, so that no handler of the host runs in the
    /// child (on the host's memory); the child resets handled signals to their default and
    /// unblocks them all before its hooks, as `posix_spawn` and `std::process` do.
    ///
    /// When the clone returns, the child has exec'd or ended; what it left in `ChildArgs`
    /// says which. Only when it left nothing at all (the clone was a fork) is the pipe read,
    /// to its end: a process the host forked meanwhile without exec could hold a
    /// copy of its write end, so it is not read otherwise.
    fn start(&mut self) -> io::Result<Child> {
        use std::sync::atomic::Ordering;
        let stack = ChildStack::new(CHILD_STACK)?;
        let (mut pipe_r, pipe_w) = error_pipe()?;
        let mut args = ChildArgs {
            prepared: self,
            started: std::sync::atomic::AtomicBool::new(false),
            reached_exec: std::sync::atomic::AtomicBool::new(false),
            error: std::sync::atomic::AtomicI32::new(0),
            pipe: pipe_w.as_raw_fd(),
        };
        // SAFETY: sigset_t is plain data; sigfillset initializes it.
        let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: likewise, filled by pthread_sigmask.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers to sigset_t values owned by this frame.
        unsafe {
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        }
        // SAFETY: `child_main` gets a pointer to `args`, which outlives the child's use of
        // it: with CLONE_VFORK this call returns only once the child has exec'd or exited,
        // and the child touches nothing else of this process (see `child_main`). The stack
        // is a fresh mapping of its own, top-aligned, with a guard page below.
        let pid = unsafe {
            libc::clone(
                child_main,
                stack.top(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                &mut args as *mut ChildArgs as *mut libc::c_void,
            )
        };
        let clone_error = io::Error::last_os_error();
        // SAFETY: restores the mask saved above.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
        drop(stack);
        // Only the child's copy may stay open: end of file once it exec'd or exited.
        drop(pipe_w);
        if pid < 0 {
            return Err(clone_error);
        }
        let mut child = Child {
            pid: pid as u32,
            status: None,
        };
        let code = args.error.load(Ordering::Acquire);
        if code != 0 {
            // It ended before exec: reap it, and report why.
            let _ = child.wait();
            return Err(io::Error::from_raw_os_error(code));
        }
        if args.reached_exec.load(Ordering::Acquire) {
            return Ok(child);
        }
        if args.started.load(Ordering::Acquire) {
            // It ran in our memory, and left without exec or error: a signal ended it.
            let status = child.wait()?;
            return Err(io::Error::other(format!(
                "the process ended before it could exec: {status}"
            )));
        }
        // Nothing left in memory: the clone was a fork, or the child died at once.
        // The stage byte, then the error code if any (see `child_main`).
        let mut report = [0u8; 5];
        match read_full(&mut pipe_r, &mut report) {
            // Exec was next, and nothing followed: it exec'd (or died since: that exit is
            // reported as any other).
            Ok(1) if report[0] == 1 => Ok(child),
            Ok(0) => {
                let status = child.wait()?;
                Err(io::Error::other(format!(
                    "the process ended before it could exec: {status}"
                )))
            }
            Ok(5) => {
                let _ = child.wait();
                let code = [report[1], report[2], report[3], report[4]];
                Err(io::Error::from_raw_os_error(i32::from_ne_bytes(code)))
            }
            Ok(_) | Err(_) => {
                let _ = child.wait();
                Err(io::Error::other(
                    "the child's start report was cut short; it was reaped",
                ))
            }
        }
    }
}

/// A [`pipe`] whose write end is at 3 or above (so that it cannot be one of the child's
/// standard streams when the host closed its own).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn error_pipe() -> io::Result<(File, OwnedFd)> {
    let (r, mut w) = pipe()?;
    if w.as_raw_fd() < 3 {
        // SAFETY: duplicates a descriptor this function owns.
        let high = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
        if high < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `high` was just created and nothing else owns it.
        w = unsafe { OwnedFd::from_raw_fd(high) };
    }
    Ok((r, w))
}

/// Reads until `buf` is full or end of file; the bytes read.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_full(r: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The child of [`Prepared::start`], until exec. It shares the parent's memory and runs on
/// its own stack while the parent's thread is suspended: it only reads `Prepared` (and
/// sets slot 1 of its shell arguments), writes its `ChildArgs` flags and the pipe,
/// allocates nothing, takes no lock and makes only async-signal-safe calls (the hooks
/// promise the same). It never returns: it execs or `_exit`s.
#[cfg(any(target_os = "linux", target_os = "android"))]
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    use std::sync::atomic::Ordering;
    // SAFETY: `arg` is the `ChildArgs` of `Prepared::start`, alive and not otherwise used
    // until this child has exec'd or exited.
    let args = unsafe { &mut *(arg as *mut ChildArgs) };
    args.started.store(true, Ordering::Release);
    // The pipe gets the same story for a clone that was a fork: a stage byte (1: exec is
    // next; 0: the setup failed), then the error code if there is one.
    let stage = |b: u8| {
        // SAFETY: write of one byte from this frame to the pipe's write end
        // (async-signal-safe).
        unsafe { libc::write(args.pipe, (&b as *const u8).cast(), 1) };
    };
    let code = match child_setup(args.prepared) {
        Ok(()) => {
            args.reached_exec.store(true, Ordering::Release);
            stage(1);
            exec_candidates(args.prepared)
        }
        Err(e) => {
            stage(0);
            e.raw_os_error().unwrap_or(libc::EINVAL)
        }
    }
    .max(1);
    args.error.store(code, Ordering::Release);
    let bytes = code.to_ne_bytes();
    // SAFETY: write of 4 bytes from this frame to the pipe's write end (async-signal-safe;
    // a pipe takes 5 bytes at once); _exit ends the child at once (no atexit handlers, no
    // unwinding).
    unsafe {
        libc::write(args.pipe, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(127)
    }
}

/// Execs the candidates in order as `execvp` does: an error that says the file is not
/// there (`ENOENT`, `ENOTDIR`, `ESTALE`, `ENODEV`, `ETIMEDOUT`) or may not be run
/// (`EACCES`, remembered) goes on to the next; a file that is not an executable format
/// (`ENOEXEC`) is run by `/bin/sh`; any other error ends the search. Returns only on
/// failure, with the error: `EACCES` if any candidate gave it, else the last one's.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn exec_candidates(p: &mut Prepared) -> libc::c_int {
    let mut denied = false;
    let mut last = libc::ENOENT;
    for i in 0..p.candidates.len() {
        let path = p.candidates[i].as_ptr();
        // SAFETY: the path and the null-terminated arrays point into CStrings owned by
        // `Prepared`, alive while the parent waits; errno is read right after the call.
        let e = unsafe {
            libc::execve(path, p.argv_ptrs.as_ptr(), p.envp_ptrs.as_ptr());
            *libc::__errno_location()
        };
        match e {
            libc::ENOEXEC => {
                // A file without a `#!` line: run it with the shell, as execvp does.
                p.sh_ptrs[1] = path;
                // SAFETY: as above; `sh_ptrs` is null-terminated.
                return unsafe {
                    libc::execve(p.sh_ptrs[0], p.sh_ptrs.as_ptr(), p.envp_ptrs.as_ptr());
                    *libc::__errno_location()
                };
            }
            libc::EACCES => denied = true,
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
            other => return other,
        }
        last = e;
    }
    if denied {
        libc::EACCES
    } else {
        last
    }
}

/// The child's streams, working directory, process group, signals and hooks.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn child_setup(p: &mut Prepared) -> io::Result<()> {
    let check = |r: libc::c_int| {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    };
    // SAFETY (every call below): plain system calls on descriptors, signal numbers and
    // pointers into `Prepared` or this frame; all async-signal-safe.
    unsafe {
        // Each stream is first copied above 2, so that setting one never closes the
        // source of another (a source may itself be 0, 1 or 2).
        let mut high = [0 as libc::c_int; 3];
        for (h, fd) in high.iter_mut().zip(&p.stdio) {
            *h = check(libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3))?;
        }
        for (target, h) in high.iter().enumerate() {
            // dup2 clears close-on-exec on the target; the high copies close at exec.
            check(libc::dup2(*h, target as libc::c_int))?;
        }
        if let Some(dir) = &p.cwd {
            check(libc::chdir(dir.as_ptr()))?;
        }
        if p.process_group {
            check(libc::setpgid(0, 0))?;
        }
        // Handlers of the host must not run here: every handled signal is reset to its
        // default (the child has its own copy of the dispositions: no CLONE_SIGHAND), and
        // SIGPIPE too, which Rust programs ignore; then the mask is emptied.
        for sig in 1..=libc::SIGRTMAX() {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut sa) == 0
                && (sig == libc::SIGPIPE
                    || (sa.sa_sigaction != libc::SIG_IGN && sa.sa_sigaction != libc::SIG_DFL))
            {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
    for hook in &mut p.hooks {
        hook()?;
    }
    Ok(())
}

/// A stack for a child until it execs: an anonymous mapping with its lowest page
/// inaccessible, so that an overflow faults rather than writes into the host's memory.
#[cfg(any(target_os = "linux", target_os = "android"))]
struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl ChildStack {
    fn new(size: usize) -> io::Result<ChildStack> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let len = size + page;
        // SAFETY: a new private anonymous mapping; no existing memory is affected.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base, len };
        // SAFETY: the lowest page of the mapping just made.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The top of the stack (it grows down), 16-byte aligned.
    fn top(&self) -> *mut libc::c_void {
        let top = self.base as usize + self.len;
        (top & !15) as *mut libc::c_void
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no longer used (the child exec'd or died).
        unsafe {
            libc::munmap(self.base, self.len);
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl Prepared {
    /// Elsewhere: a `fork` through `std::process`, the streams, directory, group and
    /// hooks set as on Linux.
    fn start(&mut self) -> io::Result<Child> {
        use std::os::unix::process::CommandExt;
        // std's Command looks the program up in the child's PATH itself.
        let program = std::ffi::OsStr::from_bytes(self.argv[0].as_bytes());
        let mut cmd = std::process::Command::new(program);
        cmd.args(
            self.argv[1..]
                .iter()
                .map(|c| std::ffi::OsStr::from_bytes(c.as_bytes())),
        )
        .env_clear();
        for kv in &self.envp {
            let b = kv.as_bytes();
            let eq = b.iter().position(|c| *c == b'=').unwrap_or(b.len());
            cmd.env(
                std::ffi::OsStr::from_bytes(&b[..eq]),
                std::ffi::OsStr::from_bytes(b.get(eq + 1..).unwrap_or_default()),
            );
        }
        let [i, o, e] = &self.stdio;
        cmd.stdin(i.try_clone()?)
            .stdout(o.try_clone()?)
            .stderr(e.try_clone()?);
        if let Some(dir) = &self.cwd {
            cmd.current_dir(std::ffi::OsStr::from_bytes(dir.as_bytes()));
        }
        if self.process_group {
            cmd.process_group(0);
        }
        for mut hook in std::mem::take(&mut self.hooks) {
            // SAFETY: the hooks promise what pre_exec asks (see `Spawn::pre_exec`).
            unsafe {
                cmd.pre_exec(move || hook());
            }
        }
        let child = cmd.spawn()?;
        Ok(Child {
            pid: child.id(),
            status: None,
        })
    }
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

/// Makes the child of `spec` get SIGKILL when the thread that starts it exits (which,
/// started on the spawner thread, is when the engine's process ends).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn die_with_engine(spec: Spawn) -> Spawn {
    // Taken before the clone: in the child, getppid() is this pid while the engine lives.
    let engine = std::process::id() as libc::pid_t;
    // SAFETY: the hook makes only async-signal-safe calls (prctl, getppid, _exit); it
    // allocates nothing (the error is an OS error code).
    unsafe {
        spec.pre_exec(move || {
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
            // The engine died between the clone and prctl: no signal will come, and
            // nobody waits for this child. It must not run.
            if libc::getppid() != engine {
                libc::_exit(127);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, Read, Write};
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

    /// Whether `pid` (our child) has exited, reaping it then.
    fn exited(pid: u32) -> Option<ExitStatus> {
        let mut raw = 0;
        // SAFETY: `raw` is a valid int for waitpid to fill.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut raw, libc::WNOHANG) };
        (r == pid as libc::pid_t).then(|| ExitStatus::from_raw(raw))
    }

    /// `child`'s exit, if it ends within `secs`.
    fn exit_within(child: &Child, secs: u64) -> Option<ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(s) = exited(child.id()) {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A shell that answers one line read on its stdin, then sleeps; with the ends of its
    /// stdin and stdout that the test keeps.
    fn echoer() -> (Spawn, File, File) {
        let (stdin_r, stdin_w) = pipe().unwrap();
        let (stdout_r, stdout_w) = pipe().unwrap();
        let spec = Spawn::new("sh")
            .args(["-c", "read line; echo \"alive $line\"; exec sleep 1000"])
            .env("PATH", "/bin:/usr/bin")
            .stdin(OwnedFd::from(stdin_r))
            .stdout(stdout_w);
        (spec, File::from(stdin_w), stdout_r)
    }

    /// The child's answer to one line: only a live process gives one.
    fn ask(stdin: &mut File, stdout: File) -> io::Result<String> {
        writeln!(stdin, "ping")?;
        let mut answer = String::new();
        std::io::BufReader::new(stdout).read_line(&mut answer)?;
        Ok(answer)
    }

    fn kill(mut child: Child) -> ExitStatus {
        // SAFETY: kill on our own child's pid, not yet reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        child.wait().unwrap()
    }

    /// A scratch directory of this test process, made empty.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("steady-spawner-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Writes `text` to `dir/name` with permission bits `mode`.
    fn write_file(dir: &std::path::Path, name: &str, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Runs `spec` and returns everything it wrote to stdout and stderr, and its status.
    fn output(spec: Spawn) -> (String, ExitStatus) {
        let (mut r, w) = pipe().unwrap();
        let w2 = w.try_clone().unwrap();
        let mut child = spawn(spec.stdout(w).stderr(w2)).unwrap();
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        (out, child.wait().unwrap())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_child_outlives_the_short_lived_thread_that_asked_for_it() {
        let (spec, mut stdin, stdout) = echoer();
        let (child, tid) = std::thread::spawn(move || (spawn(spec).unwrap(), gettid()))
            .join()
            .unwrap();
        thread_gone(tid);
        // Had the asking thread started it, its SIGKILL would have been sent by now (see
        // the next test), and a process with SIGKILL pending never answers.
        let answer = ask(&mut stdin, stdout);
        let status = kill(child);
        assert_eq!(answer.ok().as_deref(), Some("alive ping\n"), "{status}");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }

    /// The premise of the spawner: with the tie made, a child started by a thread that
    /// exits is killed, though the process lives on.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_tied_child_started_by_a_short_lived_thread_dies_with_that_thread() {
        let (spec, mut stdin, stdout) = echoer();
        let (child, tid) = std::thread::spawn(move || {
            let mut p = Prepared::new(die_with_engine(spec)).unwrap();
            (p.start().unwrap(), gettid())
        })
        .join()
        .unwrap();
        thread_gone(tid);
        let answer = ask(&mut stdin, stdout);
        let status = exit_within(&child, 20);
        assert!(
            answer.is_err() || answer.as_ref().is_ok_and(String::is_empty),
            "{answer:?}"
        );
        assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGKILL));
    }

    #[test]
    fn every_spawn_starts_on_the_same_thread_and_a_panic_does_not_end_it() {
        let first = run_on_spawner(|| std::thread::current().id()).unwrap();
        let e = run_on_spawner(|| -> () { panic!("boom in a job") }).unwrap_err();
        assert!(e.to_string().contains("boom in a job"), "{e}");
        let again = run_on_spawner(|| std::thread::current().id()).unwrap();
        assert_eq!(first, again, "the spawner thread survived the panic");
        kill(spawn(echoer().0).unwrap());
    }

    #[test]
    fn a_spawn_error_is_the_callers() {
        let e = spawn(Spawn::new("/nonexistent/steady-test-program")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    /// The child has its arguments, exactly the environment given (nothing of the host's),
    /// its working directory, a process group of its own and /dev/null for stdin.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_child_gets_its_arguments_environment_directory_group_and_streams() {
        let dir = std::env::temp_dir();
        let script = r#"read x && echo "stdin: $x" || echo "stdin: eof"
echo "args: $0 $1"
echo "env: $(env | sort | tr '\n' ' ')"
echo "pwd: $(pwd)"
echo "group: $(cut -d' ' -f5 /proc/$$/stat) of $$""#;
        let (out, status) = output(
            Spawn::new("/bin/sh")
                .args(["-c", script, "zero", "one two"])
                .env("FOO", "bar baz")
                .env("PATH", "/bin:/usr/bin")
                .env("FOO", "last")
                .current_dir(&dir)
                .process_group(),
        );
        assert!(status.success(), "{status}: {out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "stdin: eof");
        assert_eq!(lines[1], "args: zero one two");
        // sh itself adds PWD (and maybe SHLVL, _): what the host has must not be there.
        assert!(lines[2].contains("FOO=last "), "{}", lines[2]);
        assert!(!lines[2].contains("FOO=bar"), "{}", lines[2]);
        assert!(!lines[2].contains("CARGO"), "{}", lines[2]);
        let canon = dir.canonicalize().unwrap();
        assert!(
            lines[3] == format!("pwd: {}", dir.display())
                || lines[3] == format!("pwd: {}", canon.display()),
            "{}",
            lines[3]
        );
        let group: Vec<&str> = lines[4]["group: ".len()..].split(" of ").collect();
        assert_eq!(group[0], group[1], "the child leads its own group");
    }

    /// A name is looked up in the PATH of the child's environment; a name found nowhere is
    /// NotFound, one found only without execute permission PermissionDenied; a file
    /// without a `#!` line runs with /bin/sh, as execvp does.
    #[test]
    fn programs_are_found_on_the_childs_path_as_execvp_finds_them() {
        let dir = scratch("path");
        let write = |name: &str, text: &str, mode: u32| write_file(&dir, name, text, mode);
        write("steady-shebang", "#!/bin/sh\necho \"shebang $1\"\n", 0o755);
        write("steady-plain", "echo \"plain $1\"\n", 0o755);
        write("steady-not-executable", "echo never\n", 0o644);
        let path = format!("/nonexistent-dir:{}", dir.display());
        for (name, want) in [
            ("steady-shebang", "shebang x\n"),
            ("steady-plain", "plain x\n"),
        ] {
            let (out, status) = output(Spawn::new(name).args(["x"]).env("PATH", &path));
            assert!(status.success(), "{name}: {status}: {out}");
            assert_eq!(out, want, "{name}");
        }
        // A relative entry is looked at from the child's working directory.
        let (out, status) = output(
            Spawn::new("steady-shebang")
                .args(["y"])
                .env("PATH", ".")
                .current_dir(&dir),
        );
        assert!(status.success(), "relative PATH entry: {status}: {out}");
        assert_eq!(out, "shebang y\n");
        let e = spawn(Spawn::new("steady-not-executable").env("PATH", &path)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        let e = spawn(Spawn::new("steady-shebang")).unwrap_err();
        assert_eq!(
            e.kind(),
            io::ErrorKind::NotFound,
            "not on the default PATH: {e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The PATH lookup happens in the child after its hooks, as execvp there did: what a
    /// hook changes (here the working directory; a mount namespace in the node agent)
    /// decides which file runs.
    #[test]
    fn the_program_is_looked_up_after_the_hooks() {
        let dir = scratch("hook");
        write_file(
            &dir,
            "steady-after-hooks",
            "#!/bin/sh\necho found after the hooks\n",
            0o755,
        );
        let target = CString::new(dir.as_os_str().as_bytes()).unwrap();
        // SAFETY: the hook makes one async-signal-safe call on a string made before.
        let spec = unsafe {
            Spawn::new("steady-after-hooks")
                .env("PATH", ".")
                .pre_exec(move || {
                    if libc::chdir(target.as_ptr()) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                })
        };
        let (out, status) = output(spec);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(status.success(), "{status}: {out}");
        assert_eq!(out, "found after the hooks\n");
    }

    /// A child killed before it could exec is an error of the spawn, not a started child.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_child_that_dies_before_exec_is_an_error() {
        // SAFETY: getpid and kill are async-signal-safe; the hook never returns.
        let spec = unsafe {
            Spawn::new("/bin/sh").args(["-c", "exit 0"]).pre_exec(|| {
                libc::kill(libc::getpid(), libc::SIGKILL);
                Ok(())
            })
        };
        let e = spawn(spec).unwrap_err();
        assert!(e.to_string().contains("ended before it could exec"), "{e}");
    }

    /// A hook's error is the spawn's error, and the program never runs.
    #[test]
    fn a_hook_error_ends_the_child_before_exec_and_is_returned() {
        let (mut r, w) = pipe().unwrap();
        // SAFETY: the hook only returns an OS error code.
        let spec = unsafe {
            Spawn::new("/bin/sh")
                .args(["-c", "echo ran"])
                .stdout(w)
                .pre_exec(|| Err(io::Error::from_raw_os_error(libc::EPERM)))
        };
        let e = spawn(spec).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, "", "the program did not run");
    }

    /// Every signal is blocked around the clone and Rust ignores SIGPIPE: the child
    /// starts with no signal blocked and SIGPIPE at its default, as std::process gives it.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_child_starts_with_default_signals_and_an_empty_mask() {
        // grep reads its own status: a shell's own mask, read from a child it forked, may
        // be caught while the shell blocks every signal around that fork (dash does).
        let (out, status) = output(
            Spawn::new("/bin/sh").args(["-c", "exec grep -E '^Sig(Blk|Ign)' /proc/self/status"]),
        );
        assert!(status.success(), "{status}: {out}");
        let field = |name: &str| {
            let line = out.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        assert_eq!(field("SigBlk:"), 0, "{out}");
        assert_eq!(field("SigIgn:") & (1 << (libc::SIGPIPE - 1)), 0, "{out}");
    }
}

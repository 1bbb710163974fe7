//! The data dir's lock: one engine per data dir, ever.
//!
//! The engine holds `flock(LOCK_EX | LOCK_NB)` on `DIR/LOCK` for as long as it owns the dir.
//! An `flock` lock belongs to the open file, so a second engine is refused whether it runs
//! in another process or in the same one, and the kernel releases the lock when the owner
//! dies, SIGKILL included: no stale lock file to clean up by hand. The file holds the
//! owner's pid, for the error message of the engine that is refused.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The lock on a data dir; released when dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    // Kept open: closing the file releases the lock.
    _file: File,
}

impl DirLock {
    /// Takes the lock on `dir`, or says who holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join("LOCK");
        let mut file = super::private_file()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::storage(&path, format!("cannot open the lock file: {e}")))?;
        if let Err(e) = try_lock(&file) {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another engine".to_string()
            } else {
                format!("another engine (pid {holder})")
            };
            return Err(Error::storage(
                dir,
                format!(
                    "the data dir is in use by {who}: two engines never share a data dir ({e})"
                ),
            ));
        }
        let pid = std::process::id().to_string();
        let written = file
            .set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()));
        if let Err(e) = written {
            return Err(Error::storage(
                &path,
                format!("cannot write the lock file: {e}"),
            ));
        }
        Ok(DirLock { _file: file })
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: `flock` takes a file descriptor and flags; the descriptor is valid for as long
    // as `file` is borrowed, and the call touches no memory.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn try_lock(file: &File) -> std::io::Result<()> {
    file.try_lock().map_err(|e| match e {
        std::fs::TryLockError::Error(e) => e,
        std::fs::TryLockError::WouldBlock => std::io::ErrorKind::WouldBlock.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_dir_is_refused_until_the_first_goes() {
        let dir = crate::store::persist::tests::temp_dir("lock");
        let first = DirLock::acquire(&dir).unwrap();
        let err = DirLock::acquire(&dir).unwrap_err().to_string();
        assert!(err.contains("in use by another engine (pid "), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        DirLock::acquire(&dir).unwrap();
    }
}

//! Pod addresses. Every pod gets a loopback address of its own, `127.<block>.<b>.<c>`, from
//! a block of 65,024 addresses (`b` 0..=255, `c` 1..=254) that belongs to one engine: two
//! engines on one host (two programs that embed steady, or tests) never give two pods the
//! same address, so a pod that binds `$(POD_IP)` never finds it taken by another engine's.
//!
//! A block is claimed host-wide by an exclusive `flock` on the file `127.<block>` in
//! `steady-pod-addresses` under the system temporary directory (created sticky and
//! world-writable, as `/tmp` is, so engines of every user share it). The first engine takes
//! block 1 (`127.1.0.1` is its first pod), the next one 2, and so on up to 254 (`127.0` is
//! the host's, `127.255` the Services'). The lock goes with the engine's process, even a
//! killed one, and the file is opened close-on-exec, so no child holds it. Where no block
//! can be claimed (no temporary directory, all 254 taken), the engine takes block 1 and logs
//! a warning: addresses may then clash with another engine's. A block is claimed when the
//! engine's first pod needs an address, so an engine that runs no pod holds none.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, OnceLock};

/// The first block, and the one taken when none can be claimed.
const FIRST_BLOCK: u8 = 1;
/// The last block (`127.255.0.0/16` holds the Services' addresses).
const LAST_BLOCK: u8 = 254;
/// Addresses in one block.
const PER_BLOCK: u32 = 256 * 254;

/// The block of addresses of one engine's node agents, held for their life.
pub(super) struct AddressBlock {
    /// The block and its locked file, claimed when the first pod needs an address (an
    /// engine that never runs a pod holds none); closing the file (the engine going)
    /// releases the block.
    claimed: OnceLock<(u8, Option<File>)>,
    /// Invariant: `live` counts, per address, the [`PodAddress`]es not yet dropped, so no
    /// two live pods share an address, however many came and went before (short of a
    /// full block, where one is shared and counted twice).
    state: Mutex<Allocation>,
}

#[derive(Default)]
struct Allocation {
    /// Where the search for the next address starts: addresses are handed out in turn, so
    /// one freed is not given again at once (a client may still talk to the old pod).
    next: u32,
    live: HashMap<u32, u32>,
}

impl std::fmt::Debug for AddressBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.claimed.get() {
            Some((block, _)) => write!(f, "127.{block}.0.0/16"),
            None => write!(f, "no block claimed yet"),
        }
    }
}

/// A pod's address, taken from its engine's block until dropped (with the pod's state).
pub(super) struct PodAddress {
    /// `127.<block>.<b>.<c>`.
    pub(super) ip: String,
    n: u32,
    from: Arc<AddressBlock>,
}

impl Drop for PodAddress {
    fn drop(&mut self) {
        let mut st = self.from.state.lock();
        if let Some(holders) = st.live.get_mut(&self.n) {
            *holders -= 1;
            if *holders == 0 {
                st.live.remove(&self.n);
            }
        }
    }
}

impl AddressBlock {
    /// A block to be claimed when the first pod needs an address.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(AddressBlock {
            claimed: OnceLock::new(),
            state: Mutex::new(Allocation::default()),
        })
    }

    /// The block this engine holds: the first no other engine on this host holds, claimed
    /// on the first call.
    fn block(&self) -> u8 {
        self.claimed
            .get_or_init(|| {
                claim_block().unwrap_or_else(|| {
                    log::warn!(
                        "kubelet: no block of pod addresses could be claimed under {}: using 127.{FIRST_BLOCK}.0.0/16, which another engine on this host may use too",
                        lock_dir().display()
                    );
                    (FIRST_BLOCK, None)
                })
            })
            .0
    }

    /// The next address no live pod holds. With every address of the block held (65,024
    /// pods at once, far above what nodes admit), the next one in turn is shared, and a
    /// warning says so.
    pub(super) fn take(self: &Arc<Self>) -> PodAddress {
        let block = self.block();
        let mut st = self.state.lock();
        let full = st.live.len() >= PER_BLOCK as usize;
        if full {
            log::warn!("kubelet: every address of {self:?} is in use: one is given twice");
        }
        let n = loop {
            let n = st.next;
            st.next = (n + 1) % PER_BLOCK;
            if full || !st.live.contains_key(&n) {
                break n;
            }
        };
        *st.live.entry(n).or_default() += 1;
        PodAddress {
            ip: pod_ip(block, n),
            n,
            from: self.clone(),
        }
    }
}

/// The `n`th address of `block`: `127.block.b.c` with `c` in 1..=254, so never a network or
/// broadcast-looking address; wraps after [`PER_BLOCK`].
fn pod_ip(block: u8, n: u32) -> String {
    let n = n % PER_BLOCK;
    format!("127.{block}.{}.{}", n / 254, n % 254 + 1)
}

fn lock_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("steady-pod-addresses")
}

/// The first block whose lock file this process could lock, with the locked file.
fn claim_block() -> Option<(u8, Option<File>)> {
    let dir = lock_dir();
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir).ok()?;
        sticky_and_shared(&dir);
    }
    (FIRST_BLOCK..=LAST_BLOCK).find_map(|block| {
        let path = dir.join(format!("127.{block}"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            // Another user's file: a lock needs only a descriptor, not write access.
            .or_else(|_| File::open(&path))
            .ok()?;
        try_lock(&file).then_some((block, Some(file)))
    })
}

#[cfg(unix)]
fn sticky_and_shared(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777));
}

#[cfg(not(unix))]
fn sticky_and_shared(_: &std::path::Path) {}

/// An exclusive lock on `file` without waiting: false when another open file holds it.
#[cfg(unix)]
fn try_lock(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock takes a descriptor `file` owns for the whole call, and no memory.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(_: &File) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_distinct_loopback_addresses_never_the_hosts_or_the_services() {
        assert_eq!(pod_ip(1, 0), "127.1.0.1");
        assert_eq!(pod_ip(1, 253), "127.1.0.254");
        assert_eq!(pod_ip(1, 254), "127.1.1.1");
        assert_eq!(pod_ip(7, PER_BLOCK - 1), "127.7.255.254");
        let mut seen = std::collections::HashSet::new();
        for n in 0..PER_BLOCK {
            let ip = pod_ip(3, n);
            let parts: Vec<u8> = ip.split('.').map(|p| p.parse().unwrap()).collect();
            assert_eq!(parts[..2], [127, 3]);
            assert!(parts[3] >= 1 && parts[3] <= 254, "{ip}");
            assert!(seen.insert(ip));
        }
    }

    #[test]
    fn blocks_held_at_once_are_distinct_and_claimed_only_when_needed() {
        let held: Vec<Arc<AddressBlock>> = (0..4).map(|_| AddressBlock::new()).collect();
        assert!(held.iter().all(|b| b.claimed.get().is_none()), "{held:?}");
        let blocks: std::collections::HashSet<u8> = held.iter().map(|b| b.block()).collect();
        assert_eq!(blocks.len(), 4, "{held:?}");
        assert!(
            held.iter()
                .all(|b| b.claimed.get().is_some_and(|(_, f)| f.is_some())),
            "{held:?}"
        );
    }

    #[test]
    fn an_address_is_not_given_twice_while_a_pod_holds_it() {
        let block = Arc::new(AddressBlock {
            claimed: OnceLock::from((9, None)),
            state: Mutex::new(Allocation::default()),
        });
        let long_lived = block.take();
        assert_eq!(long_lived.ip, "127.9.0.1");
        // Many pods come and go: the block is gone through, the live address skipped.
        let mut last = String::new();
        for _ in 0..PER_BLOCK + 5 {
            let a = block.take();
            assert_ne!(a.ip, long_lived.ip);
            last = a.ip.clone();
        }
        assert_eq!(last, "127.9.0.7");
        drop(long_lived);
        assert!(block.state.lock().live.is_empty());
    }
}

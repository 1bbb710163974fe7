//! Which endpoint a new connection to one service port goes to: round-robin over the ready
//! endpoints, or with `sessionAffinity: ClientIP` the endpoint the client used last, while
//! that endpoint is still ready and the client came back within the timeout (counted on the
//! engine clock from its last connection, as kube-proxy does).
//!
//! Owned by the proxy's event loop thread: no locking inside.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The pod behind an endpoint (the Endpoints' `targetRef`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
}

/// One ready endpoint of a service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Backend {
    pub addr: SocketAddr,
    pub pod: Option<PodRef>,
}

/// Client addresses remembered before expired ones are swept.
const STICKY_SWEEP_AT: usize = 4096;

/// The endpoint choice of one service port.
#[derive(Debug, Default)]
pub(crate) struct Balancer {
    backends: Vec<Backend>,
    /// Index of the next round-robin turn.
    next: usize,
    /// `ClientIP` affinity timeout; `None`: no affinity.
    affinity: Option<Duration>,
    /// Client address → (its endpoint, last connection on the engine's monotonic clock).
    sticky: HashMap<IpAddr, (SocketAddr, Duration)>,
}

impl Balancer {
    /// Replaces the endpoints and the affinity setting; clients whose endpoint is gone are
    /// forgotten, the others keep theirs.
    pub fn update(&mut self, backends: Vec<Backend>, affinity: Option<Duration>) {
        self.backends = backends;
        self.affinity = affinity;
        if affinity.is_none() {
            self.sticky.clear();
        } else {
            let live = &self.backends;
            self.sticky
                .retain(|_, (addr, _)| live.iter().any(|b| b.addr == *addr));
        }
    }

    /// Whether there is any endpoint at all.
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// The endpoint for a new connection from `client` at `now`: its sticky endpoint if
    /// affinity applies, else the next in turn, skipping those in `exclude` (tried already)
    /// and those `usable` refuses (their pod is no longer ready). `None`: nowhere to go.
    pub fn pick(
        &mut self,
        client: IpAddr,
        now: Duration,
        exclude: &[SocketAddr],
        usable: impl Fn(&Backend) -> bool,
    ) -> Option<SocketAddr> {
        if let Some(timeout) = self.affinity {
            if let Some((addr, last)) = self.sticky.get(&client).copied() {
                let fresh = now.saturating_sub(last) < timeout;
                let backend = self.backends.iter().find(|b| b.addr == addr);
                if fresh && !exclude.contains(&addr) && backend.is_some_and(&usable) {
                    self.sticky.insert(client, (addr, now));
                    return Some(addr);
                }
                self.sticky.remove(&client);
            }
        }
        let n = self.backends.len();
        let start = self.next;
        let chosen = (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| !exclude.contains(&self.backends[i].addr) && usable(&self.backends[i]))?;
        self.next = (chosen + 1) % n;
        let addr = self.backends[chosen].addr;
        if let Some(timeout) = self.affinity {
            if self.sticky.len() >= STICKY_SWEEP_AT {
                self.sticky
                    .retain(|_, (_, last)| now.saturating_sub(*last) < timeout);
            }
            self.sticky.insert(client, (addr, now));
        }
        Some(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backends(n: u8) -> Vec<Backend> {
        (1..=n)
            .map(|i| Backend {
                addr: SocketAddr::from(([127, 1, 0, i], 8080)),
                pod: None,
            })
            .collect()
    }

    fn client(i: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, i])
    }

    const T0: Duration = Duration::from_secs(100);

    #[test]
    fn connections_take_turns_over_the_usable_endpoints() {
        let mut b = Balancer::default();
        b.update(backends(3), None);
        let picks: Vec<u8> = (0..6)
            .map(|_| match b.pick(client(1), T0, &[], |_| true).unwrap() {
                SocketAddr::V4(a) => a.ip().octets()[3],
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(picks, [1, 2, 3, 1, 2, 3]);
        // One not usable (its pod is no longer ready): skipped.
        let down = SocketAddr::from(([127, 1, 0, 2], 8080));
        for _ in 0..4 {
            assert_ne!(b.pick(client(1), T0, &[], |x| x.addr != down), Some(down));
        }
        // One tried already: skipped.
        let first = b.pick(client(1), T0, &[], |_| true).unwrap();
        assert_ne!(b.pick(client(1), T0, &[first], |_| true), Some(first));
        assert_eq!(b.pick(client(1), T0, &[], |_| false), None);
    }

    #[test]
    fn client_ip_affinity_keeps_a_client_on_its_endpoint_until_the_timeout() {
        let mut b = Balancer::default();
        let timeout = Duration::from_secs(10);
        b.update(backends(3), Some(timeout));
        let a = b.pick(client(1), T0, &[], |_| true).unwrap();
        let other = b.pick(client(2), T0, &[], |_| true).unwrap();
        assert_ne!(a, other, "a new client takes the next turn");
        for s in 0..20 {
            // Each connection renews the window.
            let now = T0 + Duration::from_secs(s * 9 / 2);
            assert_eq!(b.pick(client(1), now, &[], |_| true), Some(a));
        }
        // Idle past the timeout: round-robin again (the next turn is not `a`).
        let late = T0 + Duration::from_secs(200);
        assert_ne!(b.pick(client(1), late, &[], |_| true), Some(a));
    }

    #[test]
    fn a_sticky_endpoint_that_is_not_ready_or_gone_is_left() {
        let mut b = Balancer::default();
        b.update(backends(2), Some(Duration::from_secs(10800)));
        let a = b.pick(client(1), T0, &[], |_| true).unwrap();
        let moved = b.pick(client(1), T0, &[], |x| x.addr != a).unwrap();
        assert_ne!(moved, a);
        // And it stays on the new one.
        assert_eq!(b.pick(client(1), T0, &[], |_| true), Some(moved));
        // Endpoints change: the client's endpoint is gone, it is forgotten.
        let rest: Vec<Backend> = backends(2)
            .into_iter()
            .filter(|x| x.addr != moved)
            .collect();
        b.update(rest, Some(Duration::from_secs(10800)));
        assert_eq!(b.pick(client(1), T0, &[], |_| true), Some(a));
    }
}

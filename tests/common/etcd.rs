//! A throw-away etcd for the tests of the `etcd` feature: Debian's etcd-server on free
//! loopback ports, read back with etcdctl (Debian's etcd-client); `.ci/run` installs both.
#![cfg(feature = "etcd")]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use steady::api::Registry;
use steady::store::etcd::EtcdConfig;
use steady::store::{Store, StoreConfig};

/// A one-member etcd on free loopback ports, in its own data dir; killed when dropped.
pub struct Etcd {
    child: Child,
    pub client_url: String,
    dir: PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Etcd {
    pub fn start(name: &str) -> Etcd {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("etcd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (client, peer) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", name, "--data-dir"])
            .arg(&dir)
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("{name}={peer_url}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd runs (Debian's etcd-server; .ci/run installs it)");
        let etcd = Etcd {
            child,
            client_url,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while etcd.ctl(&["endpoint", "health"]).is_none() {
            assert!(Instant::now() < deadline, "etcd did not become healthy");
            std::thread::sleep(Duration::from_millis(50));
        }
        etcd
    }

    /// Runs etcdctl against this member; its stdout when it succeeded.
    pub fn ctl(&self, args: &[&str]) -> Option<String> {
        etcdctl(&["--endpoints", &self.client_url], args)
    }

    pub fn store(&self) -> Store {
        store_on(&self.client_url)
    }
}

/// Runs etcdctl (v3 API) with `flags` (endpoints, TLS files) and `args`; its stdout when it
/// succeeded.
pub fn etcdctl(flags: &[&str], args: &[&str]) -> Option<String> {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(flags)
        .args(args)
        .output()
        .expect("etcdctl runs (Debian's etcd-client)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A store on the etcd member at `url`, serving the built-in kinds, with a 5 s timeout.
pub fn store_on(url: &str) -> Store {
    let registry = Arc::new(Registry::new());
    steady::api::register_builtins(&registry);
    let config = EtcdConfig::default().timeout(Duration::from_secs(5));
    Store::open_etcd(
        registry,
        StoreConfig::default(),
        &[url.to_string()],
        &config,
    )
    .expect("etcd opens")
}

/// A three-member etcd cluster on free loopback ports; members can be stopped and started
/// again. Killed when dropped.
pub struct Cluster {
    members: Vec<Option<Child>>,
    /// The members' client URLs, by member.
    pub urls: Vec<String>,
    peers: Vec<String>,
    dir: PathBuf,
    token: String,
}

impl Cluster {
    pub fn start(name: &str) -> Cluster {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("etcd-cluster-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cluster = Cluster {
            members: Vec::new(),
            urls: (0..3)
                .map(|_| format!("http://127.0.0.1:{}", free_port()))
                .collect(),
            peers: (0..3)
                .map(|_| format!("http://127.0.0.1:{}", free_port()))
                .collect(),
            dir,
            token: format!("steady-{name}-{}", std::process::id()),
        };
        for i in 0..3 {
            let child = cluster.spawn(i, "new");
            cluster.members.push(Some(child));
        }
        cluster.wait_healthy();
        cluster
    }

    fn spawn(&self, i: usize, state: &str) -> Child {
        let initial: Vec<String> = (0..3).map(|j| format!("m{j}={}", self.peers[j])).collect();
        Command::new("etcd")
            .args(["--name", &format!("m{i}"), "--data-dir"])
            .arg(self.dir.join(format!("m{i}")))
            .args(["--listen-client-urls", &self.urls[i]])
            .args(["--advertise-client-urls", &self.urls[i]])
            .args(["--listen-peer-urls", &self.peers[i]])
            .args(["--initial-advertise-peer-urls", &self.peers[i]])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-state", state])
            .args(["--initial-cluster-token", &self.token])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd runs (Debian's etcd-server; .ci/run installs it)")
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.ctl(&["endpoint", "health"]).is_none() {
            assert!(
                Instant::now() < deadline,
                "the etcd cluster did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops member `i` (SIGKILL).
    pub fn stop(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts stopped member `i` again on its data dir, and waits for a healthy cluster.
    pub fn restart(&mut self, i: usize) {
        self.stop(i);
        self.members[i] = Some(self.spawn(i, "existing"));
        self.wait_healthy();
    }

    /// Runs etcdctl against the running members; its stdout when it succeeded.
    pub fn ctl(&self, args: &[&str]) -> Option<String> {
        let urls: Vec<&str> = (0..3)
            .filter(|&i| self.members.get(i).is_none_or(Option::is_some))
            .map(|i| self.urls[i].as_str())
            .collect();
        let urls = urls.join(",");
        etcdctl(&["--endpoints", &urls, "--command-timeout", "3s"], args)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.stop(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! The etcd backend (feature `etcd`): several engines share one desired state kept in an
//! etcd cluster. etcd is the source of truth; each engine's store is a cache of it, fed by
//! one watch, through which every read and every local watch is served as without etcd.
//!
//! # Protocol
//! - **Writes.** A write is prepared as always (defaults, validation, admission, size)
//!   against the cache and compared with it under the locks of the kinds it touches (a stale
//!   base ends there, as in memory); then the locks are released and it goes to etcd as one
//!   transaction (below). No lock is held across the network.
//! - **The cache changes only through the watch**, applied by one task in revision order,
//!   under the locks of every kind a revision touches: local watchers see exactly etcd's
//!   history of the objects, whoever wrote them.
//! - **Read your writes.** A writer whose transaction committed at revision `r` returns once
//!   the cache applied `r`. A writer whose compare failed waits until the cache holds the
//!   newer state of a key it compared (or etcd's revision at the failure), then ends as in
//!   memory (Conflict, NotFound, AlreadyExists) or, without a precondition of the caller,
//!   prepares again from the newer state.
//!
//! # Layout in etcd
//! - Every object is one key, `<prefix>/<Kind>/<namespace>/<name>` (cluster-scoped kinds:
//!   `<prefix>/<Kind>/<name>`), whose value is the object's JSON, as
//!   [`Object::to_json`](crate::api::Object::to_json) writes it. The prefix defaults to
//!   `/steady`; engines that should share state use the same prefix, and engines that should
//!   not, different ones that do not nest (`/a` and `/a/b` would read each other's keys). The JSON's `metadata.resourceVersion` is not read back: an object's
//!   resourceVersion is its key's `mod_revision`, as kube-apiserver makes it.
//! - A write is one etcd `Txn`: for every key it touches, `mod_revision(key) == base's
//!   resourceVersion` (`version(key) == 0` for a create), then the puts and deletes. A
//!   transaction of several objects ([`Store::transaction`]) is one `Txn`: all or nothing
//!   (etcd allows 128 operations per `Txn` by default: `--max-txn-ops`).
//! - The store's revision is etcd's revision of the last change under the prefix: it grows
//!   with every change, and by more than one when other keys of the etcd change between.
//!
//! # Start, watch and compaction
//! On open the prefix is listed (pages of 500, all at one revision `R`), the cache is filled
//! and the history starts at `R` (a watch from an older revision is Expired); a watch from
//! `R + 1` then feeds the cache. A broken watch is opened again from the revision after the
//! last one applied. When etcd compacted revisions the watch had not read yet, the prefix is
//! listed again and the cache brought to it: what changed is published as changed, what is
//! gone as deleted (see `Store::resync_remote`).
//!
//! # What is not shared through etcd yet
//! Unique fields (a Service's `clusterIP`, `nodePort`) are allocated and checked against the
//! engine's own cache: two engines creating Services at the same moment could choose the
//! same address. Create Services through one engine.

use super::remote::{Committed, Remote, RemoteEvent, RemoteOp, RemoteWrite};
use super::{Inner, Store, StoreConfig};
use crate::api::Registry;
use crate::error::{Error, Result};
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, KvClient, Txn, TxnOp,
    WatchOptions,
};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How to reach the etcd cluster that holds the shared state, beside its endpoints
/// ([`EngineBuilder::etcd`](crate::engine::EngineBuilder::etcd), `steady run --etcd`).
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    /// The key prefix under which the objects live (default `/steady`).
    pub prefix: String,
    /// User name and password, for an etcd with authentication enabled.
    pub user: Option<(String, String)>,
    /// PEM file of the CA that signed the members' certificates: TLS to the members, whose
    /// endpoints are then `https://` URLs.
    pub ca_file: Option<PathBuf>,
    /// PEM files of this client's certificate and key, for members that require them.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// How long a request may take, and how long a writer waits for the watch to bring its
    /// write back (default 10 s).
    pub timeout: Duration,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            prefix: "/steady".into(),
            user: None,
            ca_file: None,
            client_cert: None,
            timeout: Duration::from_secs(10),
        }
    }
}

impl EtcdConfig {
    /// Keeps the objects under `prefix` instead of `/steady`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_end_matches('/').to_string();
        self
    }

    /// Authenticates as `user` with `password`.
    pub fn user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some((user.into(), password.into()));
        self
    }

    /// Verifies the members' certificates with the CA in `ca_file`, and presents
    /// `client_cert` (certificate and key files) when given.
    pub fn tls(
        mut self,
        ca_file: impl Into<PathBuf>,
        client_cert: Option<(PathBuf, PathBuf)>,
    ) -> Self {
        self.ca_file = Some(ca_file.into());
        self.client_cert = client_cert;
        self
    }

    /// Sets the request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The connection options: timeouts, keep-alive, user and TLS.
    fn options(&self, describe: &str) -> Result<ConnectOptions> {
        let mut o = ConnectOptions::new()
            .with_timeout(self.timeout)
            .with_connect_timeout(self.timeout)
            .with_keep_alive(Duration::from_secs(5), self.timeout)
            .with_keep_alive_while_idle(true)
            // A member cut off from its cluster's quorum answers "no leader" at once, and
            // cancels a watch (which is then opened again, possibly on another member),
            // instead of holding requests until they time out and a watch that says nothing.
            .with_require_leader(true);
        if let Some((u, p)) = &self.user {
            o = o.with_user(u.clone(), p.clone());
        }
        if let Some(ca) = &self.ca_file {
            let read = |p: &PathBuf| {
                std::fs::read(p).map_err(|e| backend(describe, format!("{}: {e}", p.display())))
            };
            let mut tls = etcd_client::TlsOptions::new()
                .ca_certificate(etcd_client::Certificate::from_pem(read(ca)?));
            if let Some((cert, key)) = &self.client_cert {
                tls = tls.identity(etcd_client::Identity::from_pem(read(cert)?, read(key)?));
            }
            o = o.with_tls(tls);
        }
        Ok(o)
    }
}

/// The name of the etcd client's runtime thread, where the watch applies changes.
const RUNTIME_THREAD: &str = "steady-etcd";

/// An [`Error::Backend`] about the cluster `describe` names.
fn backend(describe: &str, message: impl Into<String>) -> Error {
    Error::Backend {
        backend: describe.to_string(),
        message: message.into(),
    }
}

impl Store {
    /// Opens a store whose source of truth is the etcd cluster at `endpoints` (client URLs,
    /// see the [module docs](self)): lists what it holds under the prefix into the cache,
    /// starts the watch that keeps the cache current, and creates the initial Namespaces
    /// that the cache does not hold (engines starting together on an empty prefix each list
    /// part of what the first one creates: each makes sure of all of them, and a create that
    /// another engine won returns once the cache holds the winner's). Errors with [`Error::Backend`] when no member answers in
    /// time, the credentials are refused, or the listing fails.
    pub fn open_etcd(
        registry: Arc<Registry>,
        config: StoreConfig,
        endpoints: &[String],
        etcd: &EtcdConfig,
    ) -> Result<Store> {
        let describe = format!("etcd at {}", endpoints.join(","));
        let err = |m: String| backend(&describe, m);
        if endpoints.is_empty() {
            return Err(err("no endpoints given".into()));
        }
        let p = etcd.prefix.trim_end_matches('/');
        if !p.starts_with('/') || p.len() < 2 {
            return Err(err(format!(
                "prefix {:?}: expected a key prefix such as /steady (starting with /, not / alone)",
                etcd.prefix
            )));
        }
        if etcd.timeout.is_zero() {
            return Err(err("timeout: expected more than zero".into()));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(RUNTIME_THREAD)
            .enable_all()
            .build()
            .map_err(|e| err(format!("cannot start its client's runtime: {e}")))?;
        let options = etcd.options(&describe)?;
        let list_of = endpoints.to_vec();
        let timeout = etcd.timeout;
        let client = rt
            .block_on(async move {
                tokio::time::timeout(timeout, Client::connect(list_of, Some(options))).await
            })
            .map_err(|_| err(format!("no member answered within {timeout:?}")))?
            .map_err(|e| err(e.to_string()))?;
        let prefix = format!("{p}/");
        let mut kv = client.kv_client();
        let (rev, entries) = rt
            .block_on(async { tokio::time::timeout(timeout, list(&mut kv, &prefix)).await })
            .map_err(|_| err(format!("listing {prefix} took longer than {timeout:?}")))?
            .map_err(|e| err(format!("listing {prefix}: {e}")))?;
        let store = Store::empty(registry, config);
        store.load_remote(rev, entries);
        let stop = Arc::new(tokio::sync::Notify::new());
        let remote = Arc::new(EtcdRemote {
            handle: rt.handle().clone(),
            runtime: Mutex::new(Some(rt)),
            kv,
            prefix: prefix.clone(),
            describe: describe.clone(),
            timeout,
            stop: stop.clone(),
            closed: AtomicBool::new(false),
        });
        let watcher = Watcher {
            client,
            prefix,
            store: Arc::downgrade(&store.inner),
            stop,
            describe: describe.clone(),
        };
        remote.handle.spawn(watcher.run(rev + 1));
        let r: Arc<dyn Remote> = remote;
        let _ = store.inner.remote.set(r);
        store.create_initial_namespaces_shared();
        log::info!(
            "{describe}: {} objects under {} at revision {rev}",
            store.count_cached(),
            etcd.prefix
        );
        Ok(store)
    }

    /// Objects in the cache, for the start's log line.
    fn count_cached(&self) -> usize {
        self.inner
            .kinds
            .read()
            .values()
            .map(|k| k.objects.len())
            .sum()
    }
}

/// The range of every key under `prefix` (which ends in `/`): `[prefix, prefix's successor)`.
fn range_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    *end.last_mut().expect("a prefix ends in /") += 1;
    end
}

/// Splits `<prefix><Kind>/<key>` into the kind and the store key.
fn split_key<'a>(prefix: &str, key: &'a [u8]) -> Option<(&'a str, &'a str)> {
    let key = std::str::from_utf8(key).ok()?;
    key.strip_prefix(prefix)?.split_once('/')
}

/// Lists every object under `prefix` at one revision, in pages; returns the revision.
async fn list(
    kv: &mut KvClient,
    prefix: &str,
) -> std::result::Result<(u64, Vec<RemoteEvent>), etcd_client::Error> {
    let end = range_end(prefix);
    let mut from = prefix.as_bytes().to_vec();
    let mut rev = 0i64;
    let mut out = Vec::new();
    loop {
        let mut o = GetOptions::new().with_range(end.clone()).with_limit(500);
        if rev != 0 {
            o = o.with_revision(rev);
        }
        let resp = kv.get(from.clone(), Some(o)).await?;
        if rev == 0 {
            rev = resp.header().map_or(0, |h| h.revision());
        }
        for kv in resp.kvs() {
            match split_key(prefix, kv.key()) {
                Some((kind, key)) => out.push(RemoteEvent {
                    kind: kind.to_string(),
                    key: key.to_string(),
                    rev: kv.mod_revision() as u64,
                    json: Some(kv.value().to_vec()),
                }),
                None => log::warn!(
                    "etcd key {:?} under {prefix} is not <Kind>/<key>: left out",
                    String::from_utf8_lossy(kv.key())
                ),
            }
        }
        match resp.kvs().last() {
            Some(last) if resp.more() => {
                from = last.key().to_vec();
                from.push(0);
            }
            _ => break,
        }
    }
    Ok((rev as u64, out))
}

/// The [`Remote`] of an etcd cluster.
struct EtcdRemote {
    handle: tokio::runtime::Handle,
    /// Taken by `close`, which shuts it down.
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    kv: KvClient,
    prefix: String,
    describe: String,
    timeout: Duration,
    stop: Arc<tokio::sync::Notify>,
    closed: AtomicBool,
}

impl Remote for EtcdRemote {
    fn commit(&self, ops: Vec<RemoteOp<'_>>) -> Result<Committed> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if std::thread::current().name() == Some(RUNTIME_THREAD) {
            // The watch applies changes on this thread (and runs what they trigger, such as
            // Registry::on_register hooks): a write from here would wait for itself.
            return Err(self.error(
                "a write from the thread that applies etcd's changes (a Registry::on_register \
                 hook?) would wait for itself: write from another thread"
                    .into(),
            ));
        }
        let mut when = Vec::with_capacity(ops.len());
        let mut then = Vec::with_capacity(ops.len());
        for op in ops {
            let key = format!("{}{}/{}", self.prefix, op.kind, op.key);
            when.push(if op.expect == 0 {
                Compare::version(key.clone(), CompareOp::Equal, 0)
            } else {
                Compare::mod_revision(key.clone(), CompareOp::Equal, op.expect as i64)
            });
            match op.write {
                RemoteWrite::Put(json) => then.push(TxnOp::put(key, json, None)),
                RemoteWrite::Delete => then.push(TxnOp::delete(key, None)),
                RemoteWrite::Check => {}
            }
        }
        let txn = Txn::new().when(when).and_then(then);
        let mut kv = self.kv.clone();
        let timeout = self.timeout;
        // The request runs on the client's runtime and the caller waits on a channel: this
        // works from any thread, a tokio worker of the HTTP API's runtime included.
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.handle.spawn(async move {
            let _ = tx.send(tokio::time::timeout(timeout, kv.txn(txn)).await);
        });
        match rx.recv_timeout(timeout + Duration::from_secs(1)) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                Err(self.error(format!("no answer within {timeout:?}")))
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(Error::Closed),
            Ok(Err(_)) => Err(self.error(format!("no answer within {timeout:?}"))),
            Ok(Ok(Err(e))) => Err(self.error(e.to_string())),
            Ok(Ok(Ok(resp))) => {
                let rev = resp.header().map_or(0, |h| h.revision()) as u64;
                Ok(if resp.succeeded() {
                    Committed::At(rev)
                } else {
                    Committed::Failed(rev)
                })
            }
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.stop.notify_one();
        if let Some(rt) = self.runtime.lock().take() {
            // Closing may happen on the runtime's own thread (the watch dropped the last
            // handle of the store): a runtime cannot wait for itself there.
            if tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(Duration::from_secs(1));
            }
        }
    }
}

impl EtcdRemote {
    fn error(&self, message: String) -> Error {
        backend(&self.describe, message)
    }
}

/// The task that feeds the cache from etcd's watch.
struct Watcher {
    client: Client,
    prefix: String,
    store: Weak<Inner>,
    stop: Arc<tokio::sync::Notify>,
    /// Names the cluster in log lines.
    describe: String,
}

impl Watcher {
    /// Watches the prefix from revision `next` until the store is dropped or closed,
    /// opening the watch again when it breaks (with backoff, 100 ms to 5 s) and listing
    /// again when etcd compacted what it had not read.
    async fn run(mut self, mut next: u64) {
        const FIRST: Duration = Duration::from_millis(100);
        let mut backoff = FIRST;
        loop {
            let stop = self.stop.clone();
            let began = tokio::time::Instant::now();
            tokio::select! {
                _ = stop.notified() => return,
                end = self.watch(&mut next) => match end {
                    Ok(()) => return,
                    Err(why) => {
                        log::warn!("{}: watch broke at revision {next}: {why}; watching again", self.describe);
                    }
                },
            }
            // A watch that ran a while broke for a reason of its own: start over from the
            // shortest delay.
            if began.elapsed() > Duration::from_secs(10) {
                backoff = FIRST;
            }
            let stop = self.stop.clone();
            tokio::select! {
                _ = stop.notified() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One watch stream. Returns `Ok` when the store is gone, an error when the stream broke.
    async fn watch(&mut self, next: &mut u64) -> std::result::Result<(), String> {
        let options = WatchOptions::new()
            .with_range(range_end(&self.prefix))
            .with_start_revision(*next as i64);
        let mut stream = self
            .client
            .watch(self.prefix.clone(), Some(options))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let Some(resp) = stream.message().await.map_err(|e| e.to_string())? else {
                return Err("the stream ended".into());
            };
            let Some(inner) = self.store.upgrade() else {
                return Ok(());
            };
            let store = Store { inner, fence: None };
            if resp.canceled() {
                if resp.compact_revision() > 0 {
                    let mut kv = self.client.kv_client();
                    let (rev, entries) = list(&mut kv, &self.prefix)
                        .await
                        .map_err(|e| format!("listing again after compaction: {e}"))?;
                    store.resync_remote(rev, entries);
                    *next = rev + 1;
                    return Err(format!(
                        "etcd compacted revision {} before it was read",
                        resp.compact_revision()
                    ));
                }
                return Err(format!("etcd canceled the watch: {}", resp.cancel_reason()));
            }
            let mut group: Vec<RemoteEvent> = Vec::new();
            let mut group_rev = 0;
            for ev in resp.events() {
                let Some(kv) = ev.kv() else { continue };
                let rev = kv.mod_revision() as u64;
                if rev != group_rev && !group.is_empty() {
                    store.apply_remote(group_rev, std::mem::take(&mut group));
                }
                group_rev = rev;
                let Some((kind, key)) = split_key(&self.prefix, kv.key()) else {
                    continue;
                };
                group.push(RemoteEvent {
                    kind: kind.to_string(),
                    key: key.to_string(),
                    rev,
                    json: match ev.event_type() {
                        EventType::Put => Some(kv.value().to_vec()),
                        EventType::Delete => None,
                    },
                });
            }
            if !group.is_empty() {
                store.apply_remote(group_rev, group);
            }
            if group_rev > 0 {
                *next = group_rev + 1;
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // The watch ended for good (the runtime shut down): writers still waiting learn it.
        if let Some(inner) = self.store.upgrade() {
            Store { inner, fence: None }
                .remote_failed("its watch stopped (the engine is closing)".into());
        }
    }
}

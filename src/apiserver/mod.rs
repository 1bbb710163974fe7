//! The API server (layer 10): a Kubernetes-compatible HTTP API over a running engine (feature
//! `apiserver`), so that the real `kubectl` and Kubernetes client libraries work against
//! steady unchanged.
//!
//! The server owns no state: every request goes through the same store and client API as
//! every other caller. It speaks HTTP/2 (the protocol ALPN agrees on first, or prior
//! knowledge on plain HTTP) and HTTP/1.1 (keep-alive, chunked watches) over TLS, with a
//! bearer token; [`ApiServer::kubeconfig`] gives the kubeconfig a client needs.
//!
//! - Discovery: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>/<version>` list every
//!   kind the engine serves, built-in and custom, with verbs, short names and categories
//!   ([`resources`]); `/openapi/v3` declares server-side field validation ([`openapi`]).
//! - Verbs: get, list (label and field selectors, limit and continue), watch, create, update,
//!   patch (JSON merge, JSON patch, strategic merge), delete and deletecollection;
//!   subresources status, scale, log and eviction ([`handler`]). JSON throughout, and the
//!   protobuf bodies client-go sends for built-in kinds (workloads, Services, Pods,
//!   Namespaces, ConfigMaps, Secrets, `DeleteOptions`, `Eviction`), read into JSON
//!   (`protobuf`).
//! - Tables: `Accept: application/json;as=Table;g=meta.k8s.io;v=v1` gives kubectl's columns
//!   ([`table`]).
//! - Errors are `Status` objects with Kubernetes' reasons and codes ([`status`]).
//! - `/metrics`: the engine's metrics in the Prometheus text format (token needed too).
//! - `metrics.k8s.io/v1beta1`: pods' and nodes' measured usage, for `kubectl top`
//!   ([`metrics_api`]).
//!
//! # Security
//! Every request but none needs `Authorization: Bearer <token>`; a request without it gets
//! 401 and nothing else. The token is compared in constant time. Binding an address that is
//! not loopback needs TLS (refused at start otherwise). Request bodies are capped at the
//! store's object size limit (plus room for a patch's framing); a client that does not send
//! its request headers within [`ApiServerConfig::header_timeout`] is disconnected, and at most
//! [`ApiServerConfig::max_connections`] connections are served at once, each on its own task,
//! so one slow client cannot stall the others. Two threads serve, each its own connections;
//! a list of a large kind is made on a blocking thread, not on theirs.

pub mod handler;
mod managed;
pub mod metrics_api;
pub mod openapi;
mod protobuf;
pub mod resources;

/// Whether `path` (`spec.template.spec.containers[0].imagePullPolicy`, indices and map keys
/// in brackets) is a field Kubernetes defines on objects of `kind`: `Some(false)` for a
/// field no Kubernetes release has (most likely misspelt), `None` for a kind the tables do
/// not cover. Read from the tables of the protobuf reader (core/v1, apps/v1, batch/v1 with
/// CronJob templates, autoscaling/v2, policy/v1); strict field validation refuses only the
/// fields this says Kubernetes does not define.
pub fn kubernetes_field(kind: &str, path: &str) -> Option<bool> {
    protobuf::kubernetes_field(kind, path)
}
pub mod status;
pub mod table;
mod tls;

use crate::api::base64;
use crate::error::{Error, ObjectRef, Result};
use crate::Engine;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The body of every response.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// Where the serving certificate comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Tls {
    /// A CA and a serving certificate generated at start, for the bound address, `localhost`
    /// and `127.0.0.1` (the default). The CA goes into the kubeconfig.
    #[default]
    Generate,
    /// PEM files: the serving certificate chain and its private key. The kubeconfig then
    /// names the chain's last certificate as the CA.
    Files {
        /// Certificate chain, PEM.
        cert: PathBuf,
        /// Private key, PEM.
        key: PathBuf,
    },
    /// Plain HTTP: allowed on loopback addresses only.
    Disabled,
}

/// Settings of the API server.
#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    /// Address to bind; port 0 picks a free port (see [`ApiServer::local_addr`]).
    pub bind: SocketAddr,
    /// TLS (on by default).
    pub tls: Tls,
    /// The bearer token clients must present; `None` generates a random one.
    pub token: Option<String>,
    /// Time a client has to send a request's headers before it is disconnected.
    pub header_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ApiServerConfig {
    fn default() -> Self {
        ApiServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 6443)),
            tls: Tls::Generate,
            token: None,
            header_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

impl ApiServerConfig {
    /// The default settings, bound to `bind`.
    pub fn new(bind: SocketAddr) -> Self {
        ApiServerConfig {
            bind,
            ..Self::default()
        }
    }
}

/// What request handlers share: the engine's store and node agents.
pub(crate) struct Shared {
    pub(crate) store: crate::store::Store,
    pub(crate) kubelet: crate::node::Kubelet,
    pub(crate) metrics: crate::runtime::MetricsRegistry,
    pub(crate) samples: metrics_api::Samples,
    pub(crate) token: String,
    pub(crate) max_body: usize,
}

/// A running API server. Dropping it stops it.
pub struct ApiServer {
    addr: SocketAddr,
    token: String,
    ca_pem: Option<String>,
    /// The serving threads, one runtime each (see [`SERVING_THREADS`]).
    threads: parking_lot::Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Set to true to stop every serving thread.
    stop: tokio::sync::watch::Sender<bool>,
}

/// How many threads serve requests. Each runs a single-threaded runtime of its own and
/// accepts from the shared listening socket, and a connection stays on the thread that
/// accepted it: a request is read, handled and answered on one thread, with no wake-up of
/// another. (On tokio's multi-threaded runtime with two workers the process made 3.4 futex
/// calls per request, the workers waking each other to share ready connections.) A list of
/// a large kind runs on the runtime's blocking threads, so a thread's other connections are
/// not held up by it (see `handler::LARGE_LIST`).
const SERVING_THREADS: usize = 2;

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("addr", &self.addr)
            .field("tls", &self.ca_pem.is_some())
            .finish()
    }
}

fn config_error(field: &str, message: impl Into<String>) -> Error {
    Error::invalid(ObjectRef::new("ApiServerConfig", None, ""), field, message)
}

/// A random token: 32 bytes from the OS, hex.
fn random_token() -> Result<String> {
    let mut buf = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .map_err(|e| config_error("token", format!("cannot read /dev/urandom: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

impl ApiServer {
    /// Starts serving `engine` as `config` says. Fails when the address cannot be bound, or
    /// plain HTTP is asked for on an address that is not loopback.
    pub fn start(engine: &Engine, config: ApiServerConfig) -> Result<ApiServer> {
        if config.tls == Tls::Disabled && !config.bind.ip().is_loopback() {
            return Err(config_error(
                "tls",
                format!(
                    "{} is not a loopback address: serving it needs TLS and a token, never plain HTTP",
                    config.bind
                ),
            ));
        }
        let token = match &config.token {
            Some(t) if t.len() < 16 => {
                return Err(config_error("token", "a token has at least 16 characters"))
            }
            Some(t) => t.clone(),
            None => random_token()?,
        };
        let (acceptor, ca_pem) = match &config.tls {
            Tls::Generate => {
                let (acceptor, ca) = tls::generated(config.bind.ip())?;
                (Some(acceptor), Some(ca))
            }
            Tls::Files { cert, key } => {
                let (acceptor, ca) = tls::from_files(cert, key)?;
                (Some(acceptor), Some(ca))
            }
            Tls::Disabled => (None, None),
        };
        // Each thread's runtime, and its handle on the listening socket, made here: an
        // error is the caller's, not a thread's.
        let runtimes = (0..SERVING_THREADS)
            .map(|_| {
                tokio::runtime::Builder::new_current_thread()
                    // Its blocking threads make large lists (see `handler::LARGE_LIST`): two
                    // at once per serving thread, the others queued.
                    .thread_name("steady-api")
                    .max_blocking_threads(2)
                    .enable_io()
                    .enable_time()
                    .build()
            })
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| config_error("", format!("cannot start the server's runtime: {e}")))?;
        let listener = listen(config.bind, &runtimes[0])
            .map_err(|e| config_error("bind", format!("cannot bind {}: {e}", config.bind)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| config_error("bind", e.to_string()))?;
        let mut serving = Vec::with_capacity(SERVING_THREADS);
        for runtime in runtimes {
            let listener = listener
                .try_clone()
                .and_then(|l| {
                    let _entered = runtime.enter();
                    tokio::net::TcpListener::from_std(l)
                })
                .map_err(|e| config_error("bind", format!("cannot serve {addr}: {e}")))?;
            serving.push((runtime, listener));
        }
        let shared = Arc::new(Shared {
            store: engine.store().clone(),
            kubelet: engine.kubelet().clone(),
            metrics: engine.metrics_registry().clone(),
            samples: metrics_api::Samples::default(),
            token: token.clone(),
            // Room for a patch's framing around an object of the largest size.
            max_body: engine.store().config().max_object_bytes + 64 * 1024,
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        // One limit on connections for all threads.
        let permits = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
        let mut threads = Vec::with_capacity(SERVING_THREADS);
        for (runtime, listener) in serving {
            let (acceptor, shared, config) = (acceptor.clone(), shared.clone(), config.clone());
            let (stopped, permits) = (stopped.clone(), permits.clone());
            let thread = std::thread::Builder::new()
                .name("steady-api".into())
                .spawn(move || {
                    runtime.block_on(serve(listener, acceptor, shared, config, permits, stopped));
                    // Open connections and watches are dropped with the runtime.
                    runtime.shutdown_timeout(Duration::from_secs(1));
                });
            match thread {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let _ = stop.send(true);
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(config_error("", format!("cannot start the server: {e}")));
                }
            }
        }
        Ok(ApiServer {
            addr,
            token,
            ca_pem,
            threads: parking_lot::Mutex::new(threads),
            stop,
        })
    }

    /// The address served (with the port chosen when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token clients must present.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The server's URL: `https://127.0.0.1:6443`.
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// A kubeconfig for this server: cluster (server URL and CA), user (token) and a
    /// current context named `steady`.
    pub fn kubeconfig(&self) -> String {
        let ca = self
            .ca_pem
            .as_ref()
            .map(|pem| {
                format!(
                    "\n    certificate-authority-data: {}",
                    base64::encode(pem.as_bytes())
                )
            })
            .unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: steady\n  cluster:\n    server: {}{ca}\n\
             users:\n- name: steady\n  user:\n    token: {}\ncontexts:\n- name: steady\n  context:\n    \
             cluster: steady\n    user: steady\n    namespace: default\ncurrent-context: steady\n",
            self.url(),
            self.token
        )
    }

    /// Writes [`ApiServer::kubeconfig`] to `path` with mode 0600 (it holds the token).
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        o.mode(0o600);
        let mut f = o.open(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(self.kubeconfig().as_bytes())
    }

    /// Stops serving: open connections are dropped, watches end.
    ///
    /// A serving thread sees the stop once its handler in progress returns: this waits for
    /// that up to two seconds, then leaves the thread to end on its own (its runtime, and the
    /// connections with it, go when it does).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
        let threads: Vec<_> = self.threads.lock().drain(..).collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        for t in threads {
            if t.thread().id() == std::thread::current().id() {
                continue;
            }
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl crate::engine::FrontDoor for ApiServer {
    fn stop(&self) {
        ApiServer::stop(self);
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl crate::EngineBuilder {
    /// Serves the Kubernetes-compatible HTTP API once the engine runs (feature `apiserver`):
    /// kubectl and client libraries work against it (see [`crate::apiserver`] and
    /// [`Engine::api_server`]). It starts after every controller, and stops first.
    /// Asked again, the last configuration wins: an engine serves one API server.
    pub fn api_server(self, config: ApiServerConfig) -> Self {
        self.front_door(
            "apiserver",
            Box::new(move |engine: &Engine| {
                ApiServer::start(engine, config)
                    .map(|s| Box::new(s) as Box<dyn crate::engine::FrontDoor>)
            }),
        )
    }
}

impl Engine {
    /// The Kubernetes-compatible HTTP API, when [`EngineBuilder::api_server`] asked for it:
    /// its address, token and kubeconfig.
    ///
    /// [`EngineBuilder::api_server`]: crate::EngineBuilder::api_server
    pub fn api_server(&self) -> Option<&ApiServer> {
        self.front_door::<ApiServer>()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True when `given` equals `expected`, in time that depends only on their lengths.
pub(crate) fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    config: ApiServerConfig,
    permits: Arc<tokio::sync::Semaphore>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let permit = tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let (stream, _) = tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    log::warn!("api server: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        let header_timeout = config.header_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                Some(acceptor) => {
                    let tls = tokio::time::timeout(header_timeout, acceptor.accept(stream)).await;
                    if let Ok(Ok(tls)) = tls {
                        // The protocol is the one ALPN agreed on (kubectl offers h2 first).
                        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                        connection(tls, h2, shared, header_timeout).await;
                    }
                }
                None => {
                    // Plain HTTP: HTTP/2 with prior knowledge starts with its preface. A
                    // client that sends nothing within the header timeout is dropped here.
                    let h2 = tokio::time::timeout(header_timeout, starts_h2(&stream)).await;
                    if let Ok(Ok(h2)) = h2 {
                        connection(stream, h2, shared, header_timeout).await;
                    }
                }
            }
        });
    }
}

/// A non-blocking listening socket on `addr`, with address reuse and a backlog of 1,024
/// connections, as tokio's `TcpListener::bind` makes it (std's backlog is 128). `listen`
/// registers the socket with `runtime`; it is handed back unregistered, for each serving
/// runtime to take a clone of.
fn listen(
    addr: SocketAddr,
    runtime: &tokio::runtime::Runtime,
) -> std::io::Result<std::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let _entered = runtime.enter();
    socket.listen(1024)?.into_std()
}

/// The client preface of HTTP/2 (RFC 9113, section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether the first bytes on `stream` are HTTP/2's preface, looked at without reading them.
async fn starts_h2(stream: &tokio::net::TcpStream) -> std::io::Result<bool> {
    let mut buf = [0u8; H2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 || buf[..n] != H2_PREFACE[..n] {
            return Ok(false);
        }
        if n == H2_PREFACE.len() {
            return Ok(true);
        }
        // Part of a preface so far: wait for more (peek returns at once while data waits).
        stream.readable().await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn connection<S>(stream: S, h2: bool, shared: Arc<Shared>, header_timeout: Duration)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let io = hyper_util::rt::TokioIo::new(stream);
    if !h2 {
        let service = hyper::service::service_fn(move |req| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(handler::handle(shared, req).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true)
            .serve_connection(io, service)
            .await;
        return;
    }
    // HTTP/2: requests are streams of one connection. The connection is closed (GOAWAY, then
    // the streams in flight finish) once no stream has been open for the header timeout, as
    // HTTP/1.1 closes an idle keep-alive connection; pings find a peer that went away.
    let activity = Arc::new(Activity::default());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req| {
            let shared = shared.clone();
            let open = Open::new(&activity);
            async move {
                let response = handler::handle(shared, req).await;
                // The stream counts as open until its body is sent (a watch: until it ends).
                Ok::<_, Infallible>(response.map(|body| Tracked { body, _open: open }.boxed()))
            }
        })
    };
    let conn = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .timer(hyper_util::rt::TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20))
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep(header_timeout), if !closing => {
                if activity.idle_for(header_timeout) {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// Streams one HTTP/2 connection serves at once (Go's default, which kube-apiserver keeps).
const MAX_STREAMS: u32 = 250;

/// The open streams of an HTTP/2 connection, and when one last opened or ended: both under
/// one lock, so a check never sees a stream gone before the time it ended.
#[derive(Default)]
struct Activity(parking_lot::Mutex<(usize, Option<std::time::Instant>)>);

impl Activity {
    /// True when no stream is open and none was for `d`.
    fn idle_for(&self, d: Duration) -> bool {
        let (open, last) = *self.0.lock();
        open == 0 && last.is_none_or(|t| t.elapsed() >= d)
    }

    /// Counts a stream opening (`+1`) or ending (`-1`).
    fn change(&self, by: isize) {
        let mut a = self.0.lock();
        a.0 = a.0.saturating_add_signed(by);
        a.1 = Some(std::time::Instant::now());
    }
}

/// One open stream: counted from its request until its response body is dropped.
struct Open(Arc<Activity>);

impl Open {
    fn new(a: &Arc<Activity>) -> Open {
        a.change(1);
        Open(a.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.change(-1);
    }
}

/// A response body that holds its stream's [`Open`] until hyper drops it.
struct Tracked {
    body: Body,
    _open: Open,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<hyper::body::Frame<Bytes>, Infallible>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_equal_only_when_equal() {
        assert!(constant_time_eq(b"abcdef", b"abcdef"));
        assert!(!constant_time_eq(b"abcdeg", b"abcdef"));
        assert!(!constant_time_eq(b"abc", b"abcdef"));
        assert!(!constant_time_eq(b"", b"abcdef"));
    }

    #[test]
    fn plain_http_is_refused_off_loopback_and_short_tokens_are_refused() {
        let e = Engine::builder().local_node(false).build().unwrap();
        let mut c = ApiServerConfig::new("0.0.0.0:0".parse().unwrap());
        c.tls = Tls::Disabled;
        let err = ApiServer::start(&e, c).unwrap_err();
        assert!(err.to_string().contains("needs TLS"), "{err}");
        let mut c = ApiServerConfig::new("127.0.0.1:0".parse().unwrap());
        c.token = Some("short".into());
        assert!(ApiServer::start(&e, c).is_err());
    }

    #[test]
    fn the_builder_serves_one_api_server_the_last_configuration_asked_for() {
        // A port held here, asked for first: were that configuration started as well,
        // its bind would fail and so would `build`. Then another configuration.
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let first_addr = first.local_addr().unwrap();
        let mut last = ApiServerConfig::new("127.0.0.1:0".parse().unwrap());
        last.token = Some("the-last-configuration-token".into());
        let e = Engine::builder()
            .local_node(false)
            .api_server(ApiServerConfig::new(first_addr))
            .api_server(last)
            .build()
            .unwrap();
        let api = e.api_server().expect("an API server runs");
        assert_eq!(api.token(), "the-last-configuration-token");
        assert_ne!(api.local_addr(), first_addr);
        drop(first);
    }
}

#[cfg(test)]
mod connection_tests {
    use super::*;
    use crate::api::Object;
    use http_body_util::BodyExt;
    use serde_json::Value;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;

    fn server(e: &Engine) -> ApiServer {
        let mut c = ApiServerConfig::new("127.0.0.1:0".parse().unwrap());
        c.tls = Tls::Disabled;
        c.token = Some("connection-test-token-0123".into());
        c.header_timeout = Duration::from_millis(300);
        ApiServer::start(e, c).unwrap()
    }

    /// Reads until the server closes the connection; the time that took.
    fn closed_within(s: &mut TcpStream, limit: Duration) -> Duration {
        s.set_read_timeout(Some(limit)).unwrap();
        let t0 = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return t0.elapsed(),
                Ok(_) => continue,
                Err(e) => panic!("not closed within {limit:?}: {e}"),
            }
        }
    }

    /// One request on a fresh connection: the status code and the body.
    fn exchange(
        api: &ApiServer,
        method: &str,
        path: &str,
        ctype: &str,
        body: &str,
    ) -> (u16, Value) {
        let mut s = TcpStream::connect(api.local_addr()).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Authorization: Bearer connection-test-token-0123\r\n\
             Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text[9..12].parse().unwrap();
        let json = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        // A chunked body: the JSON sits between the chunk size line and the final chunk.
        let start = json.find('{').unwrap_or(0);
        let end = json.rfind('}').map_or(json.len(), |e| e + 1);
        (
            status,
            serde_json::from_str(&json[start..end]).unwrap_or(Value::Null),
        )
    }

    /// A list of a large kind is made on the runtime's blocking threads (so the other
    /// connections of its serving thread go on): it is whole, and pages as any list.
    #[test]
    fn a_large_list_is_whole_and_pages() {
        let e = Engine::builder().local_node(false).build().unwrap();
        let n = handler::LARGE_LIST + 5;
        for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
            let ops = chunk
                .iter()
                .map(|i| {
                    let mut c = crate::api::ConfigMap::default();
                    c.metadata.name = format!("cm-{i:05}");
                    c.metadata.namespace = Some("default".into());
                    crate::store::TxnOp::Create(Arc::new(c))
                })
                .collect();
            e.store().transaction(ops).unwrap();
        }
        let api = server(&e);
        let path = "/api/v1/namespaces/default/configmaps";
        let (code, list) = exchange(&api, "GET", path, "application/json", "");
        assert_eq!(code, 200, "{list}");
        assert_eq!(list["items"].as_array().map(Vec::len), Some(n));
        let (code, page) = exchange(&api, "GET", &format!("{path}?limit=1000"), "", "");
        assert_eq!(code, 200, "{page}");
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1000));
        let token = page["metadata"]["continue"]
            .as_str()
            .expect("a continue token");
        let (code, rest) = exchange(&api, "GET", &format!("{path}?continue={token}"), "", "");
        assert_eq!(code, 200, "{rest}");
        assert_eq!(rest["items"].as_array().map(Vec::len), Some(5));
        assert_eq!(
            rest["items"][4]["metadata"]["name"],
            format!("cm-{:05}", n - 1)
        );
    }

    #[test]
    fn server_side_apply_needs_a_manager_and_reports_conflicts_field_by_field() {
        let e = Engine::builder().local_node(false).build().unwrap();
        let api = server(&e);
        let cm = "/api/v1/namespaces/default/configmaps/cfg";
        let apply = "application/apply-patch+yaml";
        let body =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {x: '1', y: '2'}\n";
        let (code, s) = exchange(&api, "PATCH", cm, apply, body);
        assert_eq!(code, 422, "{s}");
        assert!(
            s["message"]
                .as_str()
                .unwrap()
                .contains("fieldManager: Required value"),
            "{s}"
        );
        let (code, s) = exchange(&api, "PATCH", &format!("{cm}?fieldManager=a"), apply, body);
        assert_eq!(code, 201, "an apply creates: {s}");
        assert_eq!(s["metadata"]["managedFields"][0]["manager"], "a");
        // `force` belongs to apply only.
        let (code, _) = exchange(
            &api,
            "PATCH",
            &format!("{cm}?force=true"),
            "application/merge-patch+json",
            r#"{"data": {"x": "3"}}"#,
        );
        assert_eq!(code, 422);
        // Manager b changes x with a merge patch; a's next apply of x=1 conflicts on it only.
        let (code, s) = exchange(
            &api,
            "PATCH",
            &format!("{cm}?fieldManager=b"),
            "application/merge-patch+json",
            r#"{"data": {"x": "3"}}"#,
        );
        assert_eq!(code, 200, "{s}");
        let (code, s) = exchange(&api, "PATCH", &format!("{cm}?fieldManager=a"), apply, body);
        assert_eq!(code, 409, "{s}");
        assert_eq!(s["reason"], "Conflict");
        assert_eq!(
            s["details"]["causes"],
            serde_json::json!([{"reason": "FieldManagerConflict",
                                "message": "conflict with \"b\" using v1", "field": ".data.x"}])
        );
        // Nothing was written by the refused apply.
        let live = e.dynamic("v1", "ConfigMap").unwrap().get("cfg").unwrap();
        assert_eq!(live.to_value()["data"]["x"], "3");
        // Forced, x is a's again, and b, which owned nothing else, leaves managedFields.
        let (code, s) = exchange(
            &api,
            "PATCH",
            &format!("{cm}?fieldManager=a&force=true"),
            apply,
            body,
        );
        assert_eq!(code, 200, "{s}");
        assert_eq!(s["data"]["x"], "1");
        let managers: Vec<&str> = s["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, ["a"], "b owned only x, which a took");
    }

    #[test]
    fn evictions_answer_429_with_the_budget_cause_and_500_for_two_budgets() {
        // No scheduler: with no node it would write the pod's status (unschedulable)
        // between this test's read and its status write.
        let e = Engine::builder()
            .local_node(false)
            .without_scheduler()
            .build()
            .unwrap();
        e.apply(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: a}}\n\
             spec: {containers: [{name: c, image: i}]}\n",
        )
        .unwrap();
        // No node runs it: the test says it runs and is ready, as a kubelet would.
        let pods = e.api::<crate::api::Pod>();
        let mut p = (*pods.get("p").unwrap()).clone();
        p.status = Some(Box::new(
            serde_json::from_value(serde_json::json!({"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}]}))
            .unwrap(),
        ));
        pods.update_status(&p).unwrap();
        e.apply(
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: one}\n\
             spec: {minAvailable: 1, selector: {matchLabels: {app: a}}}\n",
        )
        .unwrap();
        let budgets = e.api::<crate::api::PodDisruptionBudget>();
        let t0 = Instant::now();
        while budgets
            .get("one")
            .unwrap()
            .status
            .as_ref()
            .is_none_or(|s| s.current_healthy != 1)
        {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "the status is computed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let api = server(&e);
        let path = "/api/v1/namespaces/default/pods/p/eviction";
        let body = r#"{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}}"#;
        let (code, s) = exchange(&api, "POST", path, "application/json", body);
        assert_eq!(code, 429, "{s}");
        assert_eq!(s["reason"], "TooManyRequests");
        assert_eq!(
            s["message"],
            "Cannot evict pod as it would violate the pod's disruption budget."
        );
        assert_eq!(
            s["details"]["causes"],
            serde_json::json!([{"reason": "DisruptionBudget",
                "message": "The disruption budget one needs 1 healthy pods and has 1 currently"}])
        );
        e.apply(
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: two}\n\
             spec: {maxUnavailable: 1, selector: {matchLabels: {app: a}}}\n",
        )
        .unwrap();
        let (code, s) = exchange(&api, "POST", path, "application/json", body);
        assert_eq!(code, 500, "{s}");
        assert_eq!(
            s["message"],
            "Internal error occurred: This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
        );
        for b in ["one", "two"] {
            budgets.delete(b, &Default::default()).unwrap();
        }
        let (code, s) = exchange(&api, "POST", path, "application/json", body);
        assert_eq!(code, 201, "{s}");
        assert!(pods
            .get_opt("p")
            .unwrap()
            .is_none_or(|p| p.metadata.deletion_timestamp.is_some()));
    }

    #[test]
    fn a_binding_places_an_unbound_pod_once() {
        let e = Engine::builder().local_node(false).build().unwrap();
        e.apply(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n\
             spec: {schedulerName: mine, containers: [{name: c, image: x}]}\n",
        )
        .unwrap();
        let api = server(&e);
        let path = "/api/v1/namespaces/default/pods/p/binding";
        let json = "application/json";
        let (code, s) = exchange(
            &api,
            "POST",
            path,
            json,
            r#"{"kind": "Binding", "target": {}}"#,
        );
        assert_eq!(code, 422, "{s}");
        assert!(s["message"]
            .as_str()
            .unwrap()
            .contains("target.name: Required value"));
        let binding = r#"{"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                          "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}"#;
        let (code, s) = exchange(&api, "POST", &format!("{path}?dryRun=All"), json, binding);
        assert_eq!(code, 201, "{s}");
        let pod = e.api::<crate::api::Pod>().get("p").unwrap();
        assert_eq!(pod.spec.node_name, None, "a dry run binds nothing");
        let (code, s) = exchange(&api, "POST", path, json, binding);
        assert_eq!(code, 201, "{s}");
        let pod = e.api::<crate::api::Pod>().get("p").unwrap();
        assert_eq!(pod.spec.node_name.as_deref(), Some("n1"));
        let scheduled = pod
            .status
            .as_ref()
            .unwrap()
            .conditions
            .iter()
            .any(|c| c.type_ == "PodScheduled" && c.status == "True");
        assert!(scheduled);
        let (code, s) = exchange(&api, "POST", path, json, binding);
        assert_eq!(code, 409, "{s}");
        assert!(
            s["message"]
                .as_str()
                .unwrap()
                .contains("already assigned to node \"n1\""),
            "{s}"
        );
        let (code, _) = exchange(
            &api,
            "POST",
            "/api/v1/namespaces/default/pods/nope/binding",
            json,
            r#"{"target": {"name": "n1"}}"#,
        );
        assert_eq!(code, 404);
    }

    #[test]
    fn silent_slow_and_idle_connections_are_closed() {
        let e = Engine::builder().local_node(false).build().unwrap();
        let api = server(&e);
        // Silent: connects and sends nothing; meanwhile another client is served.
        let mut s = TcpStream::connect(api.local_addr()).unwrap();
        let mut other = TcpStream::connect(api.local_addr()).unwrap();
        other
            .write_all(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut head = [0u8; 12];
        other.read_exact(&mut head).unwrap();
        assert_eq!(
            &head, b"HTTP/1.1 401",
            "answered while the silent one waits"
        );
        closed_within(&mut s, Duration::from_secs(10));
        // Slow: half a request line, then nothing.
        let mut s = TcpStream::connect(api.local_addr()).unwrap();
        s.write_all(b"GET /version HT").unwrap();
        closed_within(&mut s, Duration::from_secs(10));
        // Idle after a request: a whole exchange, then nothing.
        let mut s = TcpStream::connect(api.local_addr()).unwrap();
        s.write_all(
            b"GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer connection-test-token-0123\r\n\r\n",
        )
        .unwrap();
        closed_within(&mut s, Duration::from_secs(10));
    }

    /// An HTTP/2 request on `sender`: the status and the body's first `limit` bytes, or
    /// the whole body.
    async fn h2_request(
        sender: &mut hyper::client::conn::http2::SendRequest<http_body_util::Empty<Bytes>>,
        path: &str,
        token: Option<&str>,
    ) -> (u16, hyper::body::Incoming) {
        let mut req = hyper::Request::builder().uri(format!("http://x{path}"));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = sender
            .send_request(req.body(http_body_util::Empty::new()).unwrap())
            .await
            .unwrap();
        (resp.status().as_u16(), resp.into_body())
    }

    #[test]
    fn http2_streams_share_a_connection_which_closes_when_idle_but_not_while_a_watch_is_open() {
        let e = Engine::builder().local_node(false).build().unwrap();
        let api = server(&e);
        let addr = api.local_addr();
        let token = Some("connection-test-token-0123");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let connect = || async {
                let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                let (sender, conn) = hyper::client::conn::http2::handshake(
                    hyper_util::rt::TokioExecutor::new(),
                    hyper_util::rt::TokioIo::new(tcp),
                )
                .await
                .unwrap();
                (sender, tokio::spawn(conn))
            };
            let (mut sender, conn) = connect().await;
            let (mut a, mut b) = (sender.clone(), sender.clone());
            let (one, two, anonymous) = tokio::join!(
                h2_request(&mut a, "/version", token),
                h2_request(&mut b, "/api/v1/namespaces", token),
                h2_request(&mut sender, "/version", None),
            );
            assert_eq!((one.0, two.0, anonymous.0), (200, 200, 401));
            let version = one.1.collect().await.unwrap().to_bytes();
            assert!(String::from_utf8_lossy(&version).contains("gitVersion"));
            // Idle: closed by the server (GOAWAY) after the header timeout, 300 ms here.
            tokio::time::timeout(Duration::from_secs(10), conn)
                .await
                .expect("an idle HTTP/2 connection is closed")
                .unwrap()
                .unwrap();

            // A watch keeps its connection open past the timeout, and its events flow.
            let (mut sender, _conn) = connect().await;
            let (code, mut body) = h2_request(
                &mut sender,
                "/api/v1/namespaces/default/configmaps?watch=1",
                token,
            )
            .await;
            assert_eq!(code, 200);
            tokio::time::sleep(Duration::from_millis(1000)).await;
            e.dynamic("v1", "ConfigMap")
                .unwrap()
                .create(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "after-the-timeout"}}))
                .unwrap();
            let mut got = Vec::new();
            while !String::from_utf8_lossy(&got).contains("after-the-timeout") {
                let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
                    .await
                    .expect("the event arrives")
                    .expect("the stream is still open")
                    .unwrap();
                if let Ok(data) = frame.into_data() {
                    got.extend_from_slice(&data);
                }
            }
        });
    }

    #[test]
    fn a_body_over_the_object_size_limit_is_refused_with_413() {
        let e = Engine::builder()
            .local_node(false)
            .max_object_bytes(1024)
            .build()
            .unwrap();
        let api = server(&e);
        let mut s = TcpStream::connect(api.local_addr()).unwrap();
        let body = vec![b' '; 100 * 1024];
        let head = format!(
            "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer connection-test-token-0123\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        let _ = s.write_all(&body);
        let mut status = [0u8; 12];
        s.read_exact(&mut status).unwrap();
        assert_eq!(&status, b"HTTP/1.1 413");
    }

    #[test]
    fn a_watch_from_beyond_the_current_revision_is_a_504_too_large() {
        let e = Engine::builder().local_node(false).build().unwrap();
        let api = server(&e);
        let future = e.store().revision() + 100;
        let (code, status) = exchange(
            &api,
            "GET",
            &format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={future}"),
            "application/json",
            "",
        );
        assert_eq!(code, 504, "{status}");
        assert_eq!(status["reason"], "Timeout");
        assert_eq!(
            status["details"]["causes"][0]["reason"],
            "ResourceVersionTooLarge"
        );
        assert!(
            status["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Too large resource version: {future}, current: ")),
            "{status}"
        );
    }

    #[test]
    fn a_watch_from_a_revision_history_no_longer_has_ends_with_410_gone() {
        let e = Engine::builder()
            .local_node(false)
            .history_limit(2)
            .build()
            .unwrap();
        let cms = e.dynamic("v1", "ConfigMap").unwrap();
        let since = e.store().revision();
        for i in 0..5 {
            cms.create(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("c{i}")}}))
                .unwrap();
        }
        let api = server(&e);
        let mut s = TcpStream::connect(api.local_addr()).unwrap();
        write!(
            s,
            "GET /api/v1/namespaces/default/configmaps?watch=1&resourceVersion={since} HTTP/1.1\r\n\
             Host: x\r\nAuthorization: Bearer connection-test-token-0123\r\n\r\n"
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("\"code\":410") {
            let n = s.read(&mut buf).expect("the ERROR event arrives");
            assert!(
                n > 0,
                "closed before the ERROR event: {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.contains("\"type\":\"ERROR\"") && text.contains("\"reason\":\"Expired\""),
            "{text}"
        );
        assert!(text.contains("too old resource version"), "{text}");
    }
}

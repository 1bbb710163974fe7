//! Probe executors: run one liveness, readiness or startup probe of a container, once.
//!
//! The agent schedules probes (initial delay, period, thresholds: [`ProbeSettings`]) on the
//! engine clock; this module only runs a probe's handler against a container
//! ([`ProbeTarget`]) within a timeout and says how it went ([`ProbeResult`]), in the words of
//! the kubelet's `Unhealthy` events (`Liveness probe failed: HTTP probe failed with
//! statuscode: 500`). The timeout is real time: it bounds real I/O with a real process.
//!
//! Handlers, as the kubelet runs them:
//! - `exec`: the command (no shell; `$(VAR)` expanded) runs with the container's environment
//!   and working directory, in a process group of its own; exit code 0 is success. Its output
//!   (the last [`EXEC_OUTPUT_LIMIT`] bytes) is the failure message. On timeout the group is
//!   killed and the probe fails with `command "..." timed out`.
//! - `tcpSocket`: a TCP connection to `host` (default: the target's host, loopback) and
//!   `port` opens within the timeout.
//! - `httpGet`: an HTTP/1.1 `GET` of `path` with `httpHeaders` (a request header named like a
//!   default one, `Host`, `User-Agent`, `Accept`, replaces it) answers with a status in
//!   200..=399 within the timeout. Redirects are not followed (a 3xx is a success, as the
//!   kubelet counts a redirect it does not follow). Only the status line is read (at most
//!   [`HTTP_STATUS_LINE_LIMIT`] bytes).
//! - Ports are numbers, or names looked up in the container's `ports`.
//!
//! Not supported, and reported as a probe error rather than passed silently: `grpc` handlers
//! and `scheme: HTTPS` (steady has no gRPC or TLS client).

#[cfg(unix)]
use super::logs::LogBuffer;
use super::runtime::ContainerSpec;
#[cfg(unix)]
use super::runtime::{ExitNotifier, RunningContainer};
use crate::api::{Container, ExecAction, HttpGetAction, IntOrString, Probe, TcpSocketAction};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
#[cfg(unix)]
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The host probes connect to when neither the probe nor the target names one.
pub const DEFAULT_PROBE_HOST: &str = "127.0.0.1";
/// The most output of an exec probe kept for its failure message (the kubelet's limit).
pub const EXEC_OUTPUT_LIMIT: usize = 10 * 1024;
/// The most bytes read from an HTTP probe's response while looking for its status line.
pub const HTTP_STATUS_LINE_LIMIT: usize = 4 * 1024;
/// The `User-Agent` of HTTP probes (the kubelet sends `kube-probe/<version>`).
pub const PROBE_USER_AGENT: &str = "kube-probe/steady";

/// Which of a container's probes runs: named in event messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// `livenessProbe`: failure restarts the container.
    Liveness,
    /// `readinessProbe`: failure makes the pod not Ready.
    Readiness,
    /// `startupProbe`: holds the other two until it succeeds.
    Startup,
}

impl ProbeKind {
    /// `Liveness`, `Readiness` or `Startup`, as event messages start.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Startup => "Startup",
        }
    }

    /// The container field holding this probe (`livenessProbe`...).
    pub fn field(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "livenessProbe",
            ProbeKind::Readiness => "readinessProbe",
            ProbeKind::Startup => "startupProbe",
        }
    }

    /// Whether `successThreshold` must be 1 (liveness and startup probes).
    pub fn success_once(self) -> bool {
        !matches!(self, ProbeKind::Readiness)
    }
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one probe run went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    /// The handler succeeded.
    Success,
    /// The handler failed, or could not run; the message is the kubelet's event message:
    /// `Liveness probe failed: HTTP probe failed with statuscode: 500`, or `Readiness probe
    /// errored: port "http" not found in container "web"` when the probe could not run.
    Failure(String),
}

impl ProbeResult {
    /// True for [`ProbeResult::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, ProbeResult::Success)
    }

    /// The failure message, if it failed.
    pub fn message(&self) -> Option<&str> {
        match self {
            ProbeResult::Success => None,
            ProbeResult::Failure(m) => Some(m),
        }
    }
}

/// The container a probe checks.
#[derive(Clone, Debug)]
pub struct ProbeTarget {
    /// The container as declared: its name for messages, its `ports` for named probe ports.
    pub container: Container,
    /// The environment exec probes run with: the container's resolved environment.
    pub env: Vec<(String, String)>,
    /// The working directory exec probes run in: the container's.
    pub working_dir: Option<PathBuf>,
    /// The host tcpSocket and httpGet probes connect to when the probe names none (the
    /// kubelet's pod IP): [`DEFAULT_PROBE_HOST`].
    pub host: String,
    /// The pid of the container's process when it has a mount namespace of its own (its
    /// volumes at their mountPath): exec probes run in that namespace, as in the container.
    pub mount_namespace_of: Option<u32>,
}

impl ProbeTarget {
    /// A target for `container`, with no environment, the inherited working directory and
    /// the loopback host.
    pub fn new(container: Container) -> Self {
        ProbeTarget {
            container,
            env: Vec::new(),
            working_dir: None,
            host: DEFAULT_PROBE_HOST.to_string(),
            mount_namespace_of: None,
        }
    }

    /// The target for the container `spec` started: its environment and working directory,
    /// and the loopback host.
    pub fn of(spec: &ContainerSpec) -> Self {
        ProbeTarget {
            container: spec.container.clone(),
            env: spec.env.clone(),
            working_dir: spec.working_dir.clone(),
            host: DEFAULT_PROBE_HOST.to_string(),
            mount_namespace_of: None,
        }
    }
}

/// A probe's timing with Kubernetes' defaults filled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeSettings {
    /// `initialDelaySeconds` (default 0): from the container's start to the first probe.
    pub initial_delay: Duration,
    /// `periodSeconds` (default 10): between probes.
    pub period: Duration,
    /// `timeoutSeconds` (default 1): how long one probe may take.
    pub timeout: Duration,
    /// `successThreshold` (default 1): consecutive successes that make a failing probe pass.
    pub success_threshold: u32,
    /// `failureThreshold` (default 3): consecutive failures that make the probe fail.
    pub failure_threshold: u32,
    /// `terminationGracePeriodSeconds` of the probe, which overrides the pod's when a failed
    /// liveness or startup probe kills the container.
    pub termination_grace_period: Option<Duration>,
}

impl Default for ProbeSettings {
    /// Kubernetes' defaults: 0 s delay, 10 s period, 1 s timeout, thresholds 1 and 3.
    fn default() -> Self {
        ProbeSettings {
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
            success_threshold: 1,
            failure_threshold: 3,
            termination_grace_period: None,
        }
    }
}

impl ProbeSettings {
    /// The settings of `probe`: each field as set, or its default when unset or not positive
    /// (Kubernetes defaults a zero period, timeout or threshold the same way; admission has
    /// rejected negative values already).
    pub fn of(probe: &Probe) -> Self {
        let d = ProbeSettings::default();
        let secs = |v: Option<i32>, default: Duration| {
            v.filter(|v| *v > 0)
                .map_or(default, |v| Duration::from_secs(v as u64))
        };
        let count =
            |v: Option<i32>, default: u32| v.filter(|v| *v > 0).map_or(default, |v| v as u32);
        ProbeSettings {
            initial_delay: secs(probe.initial_delay_seconds, d.initial_delay),
            period: secs(probe.period_seconds, d.period),
            timeout: secs(probe.timeout_seconds, d.timeout),
            success_threshold: count(probe.success_threshold, d.success_threshold),
            failure_threshold: count(probe.failure_threshold, d.failure_threshold),
            termination_grace_period: probe
                .termination_grace_period_seconds
                .filter(|v| *v > 0)
                .map(|v| Duration::from_secs(v as u64)),
        }
    }
}

/// Runs `probe`'s handler once against `target`, taking at most about `timeout` (at least
/// 1 ms), and returns how it went with the kubelet's event message for `kind`.
///
/// Blocks the calling thread for up to `timeout`: the agent runs probes off its event loop.
///
/// ```no_run
/// use std::time::Duration;
/// use steady::api::{Container, Probe, TcpSocketAction};
/// use steady::node::{run_probe, ProbeKind, ProbeSettings, ProbeTarget};
///
/// let probe = Probe {
///     tcp_socket: Some(TcpSocketAction { port: 8080.into(), ..Default::default() }),
///     ..Default::default()
/// };
/// let target = ProbeTarget::new(Container { name: "web".into(), ..Default::default() });
/// let timeout = ProbeSettings::of(&probe).timeout;
/// match run_probe(ProbeKind::Readiness, &probe, &target, timeout).message() {
///     None => println!("ready"),
///     Some(m) => println!("{m}"), // "Readiness probe failed: dial tcp 127.0.0.1:8080: ..."
/// }
/// ```
pub fn run_probe(
    kind: ProbeKind,
    probe: &Probe,
    target: &ProbeTarget,
    timeout: Duration,
) -> ProbeResult {
    let timeout = timeout.max(Duration::from_millis(1));
    let outcome = if let Some(exec) = &probe.exec {
        run_exec(exec, target, timeout)
    } else if let Some(http) = &probe.http_get {
        run_http(http, target, timeout)
    } else if let Some(tcp) = &probe.tcp_socket {
        run_tcp(tcp, target, timeout)
    } else if probe.grpc.is_some() {
        Outcome::Errored(
            "gRPC probes are not supported by steady: use exec, httpGet or tcpSocket".into(),
        )
    } else {
        Outcome::Errored("missing probe handler".into())
    };
    match outcome {
        Outcome::Success => ProbeResult::Success,
        Outcome::Failed(output) => ProbeResult::Failure(format!("{kind} probe failed: {output}")),
        Outcome::Errored(err) => ProbeResult::Failure(format!("{kind} probe errored: {err}")),
    }
}

/// Runs the `exec` or `httpGet` handler of a lifecycle hook against `target` (the `sleep`
/// handler is a wait on the engine clock, which the node agent keeps itself). The error is
/// worded as the kubelet words a failed hook in its `FailedPostStartHook` and
/// `FailedPreStopHook` events: `Exec lifecycle hook ([sh -c exit 3]) for Container "web"
/// failed - error: ...`.
pub fn run_hook(
    handler: &crate::api::LifecycleHandler,
    target: &ProbeTarget,
    timeout: Duration,
) -> Result<(), String> {
    let timeout = timeout.max(Duration::from_millis(1));
    let container = &target.container.name;
    let (what, outcome) = if let Some(exec) = &handler.exec {
        (
            format!("Exec lifecycle hook ({:?})", exec.command),
            run_exec(exec, target, timeout),
        )
    } else if let Some(http) = &handler.http_get {
        (
            format!(
                "HTTP lifecycle hook ({})",
                http.path.as_deref().unwrap_or("/")
            ),
            run_http(http, target, timeout),
        )
    } else {
        return Err(format!(
            "lifecycle hook for Container {container:?}: no exec or httpGet handler to run"
        ));
    };
    match outcome {
        Outcome::Success => Ok(()),
        Outcome::Failed(e) | Outcome::Errored(e) => Err(format!(
            "{what} for Container {container:?} failed - error: {e}"
        )),
    }
}

/// A handler's result before it is worded for an event.
enum Outcome {
    Success,
    /// The check ran and failed: its output.
    Failed(String),
    /// The check could not run (bad port name, unsupported handler...).
    Errored(String),
}

#[cfg(unix)]
fn run_exec(exec: &ExecAction, target: &ProbeTarget, timeout: Duration) -> Outcome {
    use super::process::{expand_var_refs, launch, Launch};
    if exec.command.is_empty() {
        return Outcome::Errored("exec probe has no command".into());
    }
    let argv: Vec<String> = exec
        .command
        .iter()
        .map(|a| expand_var_refs(a, &target.env))
        .collect();
    let join_mounts = match target.mount_namespace_of {
        Some(pid) => match super::mount_ns::JoinNamespace::of_pid(pid) {
            Ok(ns) => Some(ns),
            Err(e) => {
                return Outcome::Errored(format!("entering the container's mount namespace: {e}"))
            }
        },
        None => None,
    };
    let log = Arc::new(LogBuffer::new(EXEC_OUTPUT_LIMIT));
    let (tx, rx) = crossbeam_channel::bounded(1);
    let on_exit: ExitNotifier = Arc::new(move |status| {
        let _ = tx.try_send(status);
    });
    let process = match launch(
        Launch {
            argv: &argv,
            env: &target.env,
            working_dir: target.working_dir.as_deref(),
            log: log.clone(),
            on_exit,
            mounts: None,
            mount_points: None,
            join_mounts,
            #[cfg(target_os = "linux")]
            cgroup: None,
        },
        None,
    ) {
        Ok(p) => p,
        Err(e) => return Outcome::Errored(e.message),
    };
    match rx.recv_timeout(timeout) {
        Ok(status) if status.success() => Outcome::Success,
        Ok(status) => {
            let output = log.text();
            let output = output.trim_end();
            if output.is_empty() {
                // The kubelet would print nothing here; the exit code says more.
                Outcome::Failed(format!(
                    "command {:?} exited with code {}",
                    argv.join(" "),
                    status.exit_code
                ))
            } else {
                Outcome::Failed(output.to_string())
            }
        }
        Err(_) => {
            // The waiter (the process monitor, on Linux) reaps the killed group and drops the
            // notifier; nothing waits.
            process.kill();
            Outcome::Failed(format!("command {:?} timed out", argv.join(" ")))
        }
    }
}

#[cfg(not(unix))]
fn run_exec(_exec: &ExecAction, _target: &ProbeTarget, _timeout: Duration) -> Outcome {
    Outcome::Errored("exec probes need a Unix host".into())
}

fn run_tcp(tcp: &TcpSocketAction, target: &ProbeTarget, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    let port = match resolve_port(&tcp.port, &target.container) {
        Ok(p) => p,
        Err(e) => return Outcome::Errored(e),
    };
    let host = probe_host(tcp.host.as_deref(), target);
    let host_port = join_host_port(host, port);
    match connect(host, port, deadline) {
        Ok(_) => Outcome::Success,
        Err(e) => Outcome::Failed(format!("dial tcp {host_port}: {}", io_text(&e))),
    }
}

fn run_http(http: &HttpGetAction, target: &ProbeTarget, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    match http.scheme.as_deref() {
        None | Some("HTTP") | Some("http") => {}
        Some("HTTPS") | Some("https") => {
            return Outcome::Errored(
                "HTTPS probes are not supported by steady (no TLS client): use scheme HTTP or \
                 a tcpSocket probe"
                    .into(),
            )
        }
        Some(other) => return Outcome::Errored(format!("unsupported probe scheme {other:?}")),
    }
    let port = match resolve_port(&http.port, &target.container) {
        Ok(p) => p,
        Err(e) => return Outcome::Errored(e),
    };
    let host = probe_host(http.host.as_deref(), target);
    let host_port = join_host_port(host, port);
    let path = match http.path.as_deref() {
        None | Some("") => "/".to_string(),
        Some(p) if p.starts_with('/') => p.to_string(),
        Some(p) => format!("/{p}"),
    };
    if let Some(bad) = path.bytes().find(|b| b.is_ascii_control() || *b == b' ') {
        return Outcome::Errored(format!(
            "invalid probe path {path:?}: byte {bad:#04x} is not allowed in a request target"
        ));
    }
    let url = format!("http://{host_port}{path}");
    let request = match http_request(&path, &host_port, http) {
        Ok(r) => r,
        Err(e) => return Outcome::Errored(e),
    };
    let get_failed = |what: String| Outcome::Failed(format!("Get {url:?}: {what}"));
    let mut stream = match connect(host, port, deadline) {
        Ok(s) => s,
        Err(e) => return get_failed(format!("dial tcp {host_port}: {}", io_text(&e))),
    };
    let timed_out = || {
        Outcome::Failed(format!(
            "Get {url:?}: context deadline exceeded (timeout {timeout:?} awaiting response headers)"
        ))
    };
    let Some(left) = remaining(deadline) else {
        return timed_out();
    };
    if let Err(e) = stream
        .set_write_timeout(Some(left))
        .and_then(|_| stream.write_all(request.as_bytes()))
    {
        return if is_timeout(&e) {
            timed_out()
        } else {
            get_failed(format!("write: {e}"))
        };
    }
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let line_end = loop {
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            break i;
        }
        if buf.len() >= HTTP_STATUS_LINE_LIMIT {
            return get_failed(format!(
                "malformed HTTP response: no status line in the first {HTTP_STATUS_LINE_LIMIT} bytes"
            ));
        }
        let Some(left) = remaining(deadline) else {
            return timed_out();
        };
        if let Err(e) = stream.set_read_timeout(Some(left)) {
            return get_failed(format!("read: {e}"));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return get_failed("EOF".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n.min(HTTP_STATUS_LINE_LIMIT - buf.len())]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return timed_out(),
            Err(e) => return get_failed(format!("read: {e}")),
        }
    };
    let line = String::from_utf8_lossy(&buf[..line_end]);
    match parse_status_code(line.trim_end()) {
        Some(code) if (200..=399).contains(&code) => Outcome::Success,
        Some(code) => Outcome::Failed(format!("HTTP probe failed with statuscode: {code}")),
        None => get_failed(format!("malformed HTTP response {:?}", line.trim_end())),
    }
}

/// The request of an httpGet probe. Header names must be HTTP tokens and values free of
/// control characters (admission checks the same; this guards the wire).
fn http_request(path: &str, host_port: &str, http: &HttpGetAction) -> Result<String, String> {
    let mut headers: Vec<(&str, &str)> = vec![
        ("Host", host_port),
        ("User-Agent", PROBE_USER_AGENT),
        ("Accept", "*/*"),
    ];
    for h in &http.http_headers {
        if h.name.is_empty() || !h.name.bytes().all(is_token_byte) {
            return Err(format!("invalid HTTP header name {:?}", h.name));
        }
        if h.value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(format!("invalid value of HTTP header {:?}", h.name));
        }
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&h.name));
    }
    let mut req = format!("GET {path} HTTP/1.1\r\n");
    let custom = http
        .http_headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()));
    for (name, value) in headers.into_iter().chain(custom) {
        req.push_str(name);
        req.push_str(": ");
        req.push_str(value);
        req.push_str("\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    Ok(req)
}

/// RFC 9110 token characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The status code of an `HTTP/1.x NNN reason` line.
fn parse_status_code(line: &str) -> Option<u16> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    let code = parts.next()?;
    if !version.starts_with("HTTP/") || code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

/// The port a probe names: a number, or a name looked up in the container's ports (a
/// numeric string is taken as a number, as the kubelet does).
fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(p) => *p,
        IntOrString::String(name) => match container
            .ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
        {
            Some(p) => p.container_port,
            None => name.parse().map_err(|_| {
                format!("port {name:?} not found in container {:?}", container.name)
            })?,
        },
    };
    u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid port number: {number}"))
}

fn probe_host<'a>(host: Option<&'a str>, target: &'a ProbeTarget) -> &'a str {
    match host {
        Some(h) if !h.is_empty() => h,
        _ if !target.host.is_empty() => &target.host,
        _ => DEFAULT_PROBE_HOST,
    }
}

/// `host:port`, with an IPv6 address in brackets.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Connects to the first address of `host` that accepts before `deadline`.
fn connect(host: &str, port: u16, deadline: Instant) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("no address for {host:?}"));
    for addr in addrs {
        let Some(left) = remaining(deadline) else {
            return Err(io::ErrorKind::TimedOut.into());
        };
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// An I/O error as a probe message (`i/o timeout` for timeouts, as Go words it).
fn io_text(e: &io::Error) -> String {
    if is_timeout(e) {
        "i/o timeout".to_string()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ContainerPort, HttpHeader};
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    fn target() -> ProbeTarget {
        ProbeTarget::new(Container {
            name: "web".into(),
            ports: vec![ContainerPort {
                name: Some("http".into()),
                container_port: 0, // set per test
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    fn target_with_http_port(port: u16) -> ProbeTarget {
        let mut t = target();
        t.container.ports[0].container_port = port.into();
        t
    }

    fn http_probe(port: IntOrString, path: &str) -> Probe {
        Probe {
            http_get: Some(HttpGetAction {
                port,
                path: Some(path.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn tcp_probe(port: u16) -> Probe {
        Probe {
            tcp_socket: Some(TcpSocketAction {
                port: i32::from(port).into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn exec_probe(command: &[&str]) -> Probe {
        Probe {
            exec: Some(ExecAction {
                command: command.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    /// A server on a loopback port answering `count` requests with `response`; joins to the
    /// requests it received.
    fn serve(response: &'static [u8], count: usize) -> (u16, JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let mut requests = Vec::new();
            for _ in 0..count {
                let (mut s, _) = listener.accept().unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.ends_with(b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(response);
                requests.push(String::from_utf8_lossy(&req).into_owned());
            }
            requests
        });
        (port, handle)
    }

    /// A port nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn http_probe_succeeds_on_200_and_sends_path_and_headers() {
        let (port, server) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1);
        let mut probe = http_probe(i32::from(port).into(), "healthz?full=1");
        probe.http_get.as_mut().unwrap().http_headers = vec![
            HttpHeader {
                name: "X-Check".into(),
                value: "deep".into(),
                ..Default::default()
            },
            HttpHeader {
                name: "user-agent".into(),
                value: "custom/1".into(),
                ..Default::default()
            },
        ];
        let r = run_probe(ProbeKind::Liveness, &probe, &target(), SECOND);
        assert_eq!(r, ProbeResult::Success);
        let req = &server.join().unwrap()[0];
        assert!(req.starts_with("GET /healthz?full=1 HTTP/1.1\r\n"), "{req}");
        assert!(
            req.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")),
            "{req}"
        );
        assert!(req.contains("\r\nX-Check: deep\r\n"), "{req}");
        assert!(req.contains("\r\nuser-agent: custom/1\r\n"), "{req}");
        assert!(
            !req.contains(PROBE_USER_AGENT),
            "a header replaces its default: {req}"
        );
    }

    #[test]
    fn http_probe_fails_on_500_with_the_kubelet_message() {
        let (port, server) = serve(b"HTTP/1.1 500 Internal Server Error\r\n\r\n", 1);
        let r = run_probe(
            ProbeKind::Liveness,
            &http_probe(i32::from(port).into(), "/"),
            &target(),
            SECOND,
        );
        assert_eq!(
            r,
            ProbeResult::Failure(
                "Liveness probe failed: HTTP probe failed with statuscode: 500".into()
            )
        );
        server.join().unwrap();
    }

    #[test]
    fn http_probe_counts_statuses_up_to_399_as_success() {
        for (response, ok) in [
            (&b"HTTP/1.1 204 No Content\r\n\r\n"[..], true),
            (b"HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n", true),
            (b"HTTP/1.1 399 Whatever\r\n\r\n", true),
            (b"HTTP/1.1 400 Bad Request\r\n\r\n", false),
            (b"HTTP/1.1 199 Early\r\n\r\n", false),
        ] {
            let (port, server) = serve(response, 1);
            let r = run_probe(
                ProbeKind::Readiness,
                &http_probe(i32::from(port).into(), "/"),
                &target(),
                SECOND,
            );
            assert_eq!(r.is_success(), ok, "{response:?}: {r:?}");
            server.join().unwrap();
        }
    }

    #[test]
    fn http_probe_reads_only_the_status_line_of_a_large_response() {
        static BIG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let big = BIG.get_or_init(|| {
            let mut v = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
            v.resize(4 << 20, b'x');
            v
        });
        let (port, server) = serve(big, 1);
        let r = run_probe(
            ProbeKind::Readiness,
            &http_probe(i32::from(port).into(), "/"),
            &target(),
            SECOND,
        );
        assert_eq!(r, ProbeResult::Success);
        server.join().unwrap();
    }

    #[test]
    fn http_probe_resolves_a_named_port_from_the_container() {
        let (port, server) = serve(b"HTTP/1.1 200 OK\r\n\r\n", 1);
        let r = run_probe(
            ProbeKind::Startup,
            &http_probe("http".into(), "/"),
            &target_with_http_port(port),
            SECOND,
        );
        assert_eq!(r, ProbeResult::Success);
        server.join().unwrap();
    }

    #[test]
    fn http_probe_with_an_unknown_port_name_errors() {
        let r = run_probe(
            ProbeKind::Readiness,
            &http_probe("metrics".into(), "/"),
            &target(),
            SECOND,
        );
        assert_eq!(
            r,
            ProbeResult::Failure(
                "Readiness probe errored: port \"metrics\" not found in container \"web\"".into()
            )
        );
    }

    #[test]
    fn http_probe_times_out_on_a_server_that_never_answers() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            // Accept, then hold the connection until the prober gives up and closes it.
            let (mut s, _) = listener.accept().unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        });
        let r = run_probe(
            ProbeKind::Liveness,
            &http_probe(i32::from(port).into(), "/slow"),
            &target(),
            Duration::from_millis(200),
        );
        let msg = r.message().expect("a failure").to_string();
        assert!(
            msg.starts_with(&format!(
                "Liveness probe failed: Get \"http://127.0.0.1:{port}/slow\": context deadline exceeded"
            )),
            "{msg}"
        );
        server.join().unwrap();
    }

    #[test]
    fn http_probe_fails_when_nothing_listens() {
        let port = closed_port();
        let r = run_probe(
            ProbeKind::Readiness,
            &http_probe(i32::from(port).into(), "/"),
            &target(),
            SECOND,
        );
        let msg = r.message().expect("a failure");
        assert!(
            msg.starts_with(&format!(
                "Readiness probe failed: Get \"http://127.0.0.1:{port}/\": dial tcp 127.0.0.1:{port}: "
            )),
            "{msg}"
        );
    }

    #[test]
    fn https_and_grpc_probes_error_instead_of_passing() {
        let mut probe = http_probe(8443.into(), "/");
        probe.http_get.as_mut().unwrap().scheme = Some("HTTPS".into());
        let msg = run_probe(ProbeKind::Liveness, &probe, &target(), SECOND);
        assert!(msg
            .message()
            .unwrap()
            .starts_with("Liveness probe errored: HTTPS probes are not supported"));
        let grpc = Probe {
            grpc: Some(serde_json::json!({"port": 9090})),
            ..Default::default()
        };
        let msg = run_probe(ProbeKind::Liveness, &grpc, &target(), SECOND);
        assert!(msg
            .message()
            .unwrap()
            .contains("gRPC probes are not supported"));
        let none = run_probe(ProbeKind::Liveness, &Probe::default(), &target(), SECOND);
        assert_eq!(
            none,
            ProbeResult::Failure("Liveness probe errored: missing probe handler".into())
        );
    }

    #[test]
    fn http_probe_refuses_header_injection() {
        let mut probe = http_probe(80.into(), "/");
        probe.http_get.as_mut().unwrap().http_headers = vec![HttpHeader {
            name: "X-A".into(),
            value: "v\r\nX-Injected: 1".into(),
            ..Default::default()
        }];
        let r = run_probe(ProbeKind::Liveness, &probe, &target(), SECOND);
        assert_eq!(
            r,
            ProbeResult::Failure(
                "Liveness probe errored: invalid value of HTTP header \"X-A\"".into()
            )
        );
    }

    #[test]
    fn tcp_probe_succeeds_against_a_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = run_probe(ProbeKind::Readiness, &tcp_probe(port), &target(), SECOND);
        assert_eq!(r, ProbeResult::Success);
    }

    #[test]
    fn tcp_probe_fails_when_nothing_listens() {
        let port = closed_port();
        let r = run_probe(ProbeKind::Liveness, &tcp_probe(port), &target(), SECOND);
        let msg = r.message().expect("a failure");
        assert!(
            msg.starts_with(&format!(
                "Liveness probe failed: dial tcp 127.0.0.1:{port}: "
            )),
            "{msg}"
        );
    }

    #[test]
    fn tcp_probe_resolves_a_named_port_and_an_explicit_host() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let probe = Probe {
            tcp_socket: Some(TcpSocketAction {
                port: "http".into(),
                host: Some("localhost".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut t = target_with_http_port(port);
        t.host = "192.0.2.1".into(); // unroutable: the probe's own host must win
        let r = run_probe(ProbeKind::Readiness, &probe, &t, SECOND);
        assert_eq!(r, ProbeResult::Success);
    }

    #[cfg(unix)]
    #[test]
    fn exec_probe_succeeds_on_exit_zero() {
        let r = run_probe(
            ProbeKind::Liveness,
            &exec_probe(&["true"]),
            &target(),
            SECOND,
        );
        assert_eq!(r, ProbeResult::Success);
    }

    #[cfg(unix)]
    #[test]
    fn exec_probe_failure_message_is_its_output() {
        let probe = exec_probe(&["sh", "-c", "echo cat: /tmp/healthy: missing >&2; exit 1"]);
        let r = run_probe(ProbeKind::Liveness, &probe, &target(), SECOND);
        assert_eq!(
            r,
            ProbeResult::Failure("Liveness probe failed: cat: /tmp/healthy: missing".into())
        );
        let r = run_probe(
            ProbeKind::Liveness,
            &exec_probe(&["false"]),
            &target(),
            SECOND,
        );
        assert_eq!(
            r,
            ProbeResult::Failure(
                "Liveness probe failed: command \"false\" exited with code 1".into()
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn exec_probe_runs_with_the_container_env_and_working_dir() {
        let dir = std::env::temp_dir().canonicalize().unwrap();
        let mut t = target();
        t.env = vec![("READY_FILE".into(), "ready".into())];
        t.working_dir = Some(dir.clone());
        // `$(READY_FILE)` is expanded by steady (Kubernetes' rule) before sh sees it;
        // `$(pwd -P)` names no variable and reaches sh as written.
        let script = format!(
            "test \"$READY_FILE\" = ready && test $(READY_FILE) = ready && test \"$(pwd -P)\" = '{}'",
            dir.display()
        );
        let probe = exec_probe(&["sh", "-c", &script]);
        let r = run_probe(ProbeKind::Readiness, &probe, &t, Duration::from_secs(5));
        assert_eq!(r, ProbeResult::Success);
    }

    #[cfg(unix)]
    #[test]
    fn exec_probe_times_out_and_kills_its_process_group() {
        let pid_file = std::env::temp_dir().join(format!("steady-probe-{}", std::process::id()));
        let _ = std::fs::remove_file(&pid_file);
        let script = format!("sleep 1000 & echo $! > {}; wait", pid_file.display());
        let probe = exec_probe(&["sh", "-c", &script]);
        let r = run_probe(
            ProbeKind::Liveness,
            &probe,
            &target(),
            Duration::from_millis(300),
        );
        assert_eq!(
            r,
            ProbeResult::Failure(format!(
                "Liveness probe failed: command \"sh -c {script}\" timed out"
            ))
        );
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .expect("the probe wrote its grandchild's pid")
            .trim()
            .parse()
            .unwrap();
        let _ = std::fs::remove_file(&pid_file);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !is_dead(pid) {
            assert!(Instant::now() < deadline, "probe grandchild {pid} survived");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Gone, or a zombie waiting for init.
    #[cfg(unix)]
    fn is_dead(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next())
                .is_some_and(|s| s == "Z" || s == "X"),
            // SAFETY: signal 0 only checks that the process exists.
            Err(_) => unsafe { libc::kill(pid as libc::pid_t, 0) != 0 },
        }
    }

    #[cfg(unix)]
    #[test]
    fn exec_probe_of_a_missing_command_errors_with_the_os_error() {
        let r = run_probe(
            ProbeKind::Startup,
            &exec_probe(&["steady-no-such-probe"]),
            &target(),
            SECOND,
        );
        let msg = r.message().expect("a failure");
        assert!(
            msg.starts_with("Startup probe errored: exec: \"steady-no-such-probe\": executable file not found in $PATH: ")
                && msg.contains("os error 2"),
            "{msg}"
        );
    }

    #[test]
    fn settings_default_like_kubernetes() {
        let s = ProbeSettings::of(&tcp_probe(80));
        assert_eq!(s, ProbeSettings::default());
        assert_eq!(s.initial_delay, Duration::ZERO);
        assert_eq!(s.period, Duration::from_secs(10));
        assert_eq!(s.timeout, Duration::from_secs(1));
        assert_eq!((s.success_threshold, s.failure_threshold), (1, 3));
        assert_eq!(s.termination_grace_period, None);
    }

    #[test]
    fn settings_take_the_probe_values_and_default_zeros() {
        let mut p = tcp_probe(80);
        p.initial_delay_seconds = Some(5);
        p.period_seconds = Some(2);
        p.timeout_seconds = Some(3);
        p.success_threshold = Some(2);
        p.failure_threshold = Some(7);
        p.termination_grace_period_seconds = Some(4);
        let s = ProbeSettings::of(&p);
        assert_eq!(s.initial_delay, Duration::from_secs(5));
        assert_eq!(s.period, Duration::from_secs(2));
        assert_eq!(s.timeout, Duration::from_secs(3));
        assert_eq!((s.success_threshold, s.failure_threshold), (2, 7));
        assert_eq!(s.termination_grace_period, Some(Duration::from_secs(4)));
        p.period_seconds = Some(0);
        p.timeout_seconds = Some(0);
        p.failure_threshold = Some(0);
        let s = ProbeSettings::of(&p);
        assert_eq!(s.period, Duration::from_secs(10));
        assert_eq!(s.timeout, Duration::from_secs(1));
        assert_eq!(s.failure_threshold, 3);
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status_code("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(parse_status_code("HTTP/1.0 503"), Some(503));
        assert_eq!(parse_status_code("ICY 200 OK"), None);
        assert_eq!(parse_status_code("HTTP/1.1 20 OK"), None);
        assert_eq!(parse_status_code("garbage"), None);
    }

    #[test]
    fn kinds_name_their_field_and_threshold_rule() {
        assert_eq!(ProbeKind::Liveness.to_string(), "Liveness");
        assert_eq!(ProbeKind::Startup.field(), "startupProbe");
        assert!(ProbeKind::Liveness.success_once() && ProbeKind::Startup.success_once());
        assert!(!ProbeKind::Readiness.success_once());
    }
}

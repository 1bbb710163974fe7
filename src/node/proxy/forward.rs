//! The proxy's event loop: one thread that owns every service listener and every proxied
//! connection, polling them all through one [`mio::Poll`] (epoll on Linux).
//!
//! Per connection: the accepted client socket, a non-blocking connect to the endpoint the
//! [`Balancer`] picks (another endpoint is tried when the connect fails, up to
//! [`CONNECT_ATTEMPTS`]), then bytes copied both ways through one fixed buffer per direction.
//! An end of stream is passed on as a half close (`shutdown(Write)`) once its buffer has
//! drained; the connection goes when both directions are closed, or at the first error.
//!
//! Invariants:
//! - only this thread touches listeners, connections and balancers; the rest of the engine
//!   talks to it through [`Command`]s and the waker, so nothing here is locked;
//! - sockets are registered edge-triggered: every readiness event is followed by reading or
//!   writing until `WouldBlock` (or a full/empty buffer, in which case the opposite side's
//!   next event resumes the copy), so no readiness is ever lost;
//! - a listener is open only while its service port has at least one ready endpoint: a
//!   connection to a service without one is refused by the kernel at once. When every
//!   endpoint turns out not ready at accept time (the Endpoints trail the pods), the accepted
//!   connection is reset at once.

use super::balancer::{Backend, Balancer};
use crate::clock::SharedClock;
use crossbeam_channel::{Receiver, TryRecvError};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

/// Endpoints tried for one connection before it is given up.
pub(crate) const CONNECT_ATTEMPTS: usize = 3;

/// Bytes buffered per direction of a connection.
const BUFFER: usize = 16 * 1024;

/// The waker's token.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// Listener tokens are `LISTENER_BIT | id`; connection tokens `id << 1 | side`.
const LISTENER_BIT: usize = 1 << (usize::BITS - 2);

/// One service port as the proxy should serve it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PortSpec {
    /// `clusterIP:port`.
    pub addr: SocketAddr,
    /// The ready endpoints.
    pub backends: Vec<Backend>,
    /// `ClientIP` affinity timeout.
    pub affinity: Option<Duration>,
}

/// What the rest of the engine asks of the loop.
pub(crate) enum Command {
    /// The ports of Service `key` (`namespace/name`) are now these (none: it is gone).
    Set(String, Vec<PortSpec>),
    /// Stop: close everything and return.
    Stop,
}

/// Tells whether the pod behind an endpoint is still ready (read from the store).
pub(crate) type Usable = Box<dyn Fn(&Backend) -> bool + Send>;

/// Reports a listener that cannot be opened: (service key, address, error).
pub(crate) type BindFailed = Box<dyn Fn(&str, SocketAddr, &io::Error) + Send>;

struct Port {
    service: String,
    balancer: Balancer,
    listener: Option<TcpListener>,
}

#[derive(Default)]
struct Pipe {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The source reached end of stream.
    eof: bool,
    /// The end of stream was passed on (the destination's write side is shut).
    shut: bool,
}

struct Conn {
    client: TcpStream,
    client_ip: std::net::IpAddr,
    backend: TcpStream,
    /// The listener's address: its balancer picks the next endpoint on a failed connect.
    port: SocketAddr,
    /// Endpoints tried so far; the last is the one connecting or connected.
    tried: Vec<SocketAddr>,
    connected: bool,
    up: Pipe,
    down: Pipe,
}

/// The event loop. Built on the engine's thread, then moved to its own with [`Loop::run`].
pub(crate) struct Loop {
    poll: Poll,
    commands: Receiver<Command>,
    clock: SharedClock,
    usable: Usable,
    bind_failed: BindFailed,
    ports: HashMap<SocketAddr, Port>,
    /// Listener id → its port's address.
    listener_ids: HashMap<usize, SocketAddr>,
    next_listener: usize,
    conns: HashMap<usize, Conn>,
    next_conn: usize,
}

impl Loop {
    /// A loop and the waker that interrupts its poll when a command is sent.
    pub fn new(
        commands: Receiver<Command>,
        clock: SharedClock,
        usable: Usable,
        bind_failed: BindFailed,
    ) -> io::Result<(Loop, Waker)> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        Ok((
            Loop {
                poll,
                commands,
                clock,
                usable,
                bind_failed,
                ports: HashMap::new(),
                listener_ids: HashMap::new(),
                next_listener: 0,
                conns: HashMap::new(),
                next_conn: 0,
            },
            waker,
        ))
    }

    /// Runs until [`Command::Stop`] (or the command channel closes).
    pub fn run(mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            // Listeners that could not be opened are retried every second.
            let retry = self
                .ports
                .values()
                .any(|p| p.listener.is_none() && !p.balancer.is_empty());
            let timeout = retry.then(|| Duration::from_secs(1));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("service proxy: poll failed, proxy stopped: {e}");
                    return;
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKER => {}
                    Token(t) if t & LISTENER_BIT != 0 => self.accept(t & !LISTENER_BIT),
                    Token(t) => self.conn_event(t >> 1, t & 1 == 1),
                }
            }
            loop {
                match self.commands.try_recv() {
                    Ok(Command::Set(service, ports)) => self.set(&service, ports),
                    Ok(Command::Stop) | Err(TryRecvError::Disconnected) => return,
                    Err(TryRecvError::Empty) => break,
                }
            }
            if retry {
                self.open_listeners();
            }
        }
    }

    /// Applies the ports of one Service: listeners that go are closed (their connections
    /// stay), new ones opened, the others get the new endpoints.
    fn set(&mut self, service: &str, specs: Vec<PortSpec>) {
        let gone: Vec<SocketAddr> = self
            .ports
            .iter()
            .filter(|(a, p)| p.service == service && !specs.iter().any(|s| s.addr == **a))
            .map(|(a, _)| *a)
            .collect();
        for a in gone {
            if let Some(mut p) = self.ports.remove(&a) {
                self.close_listener(&mut p);
            }
        }
        for spec in specs {
            let port = self.ports.entry(spec.addr).or_insert_with(|| Port {
                service: service.to_string(),
                balancer: Balancer::default(),
                listener: None,
            });
            // Two Services never share an address (the store's unique field); a port
            // still held by a Service that was deleted and not yet forgotten moves over.
            port.service = service.to_string();
            port.balancer.update(spec.backends, spec.affinity);
        }
        self.open_listeners();
    }

    /// Opens the listeners of ports with endpoints, closes those of ports without.
    fn open_listeners(&mut self) {
        let addrs: Vec<SocketAddr> = self.ports.keys().copied().collect();
        for addr in addrs {
            let Some(mut port) = self.ports.remove(&addr) else {
                continue;
            };
            if port.balancer.is_empty() {
                self.close_listener(&mut port);
            } else if port.listener.is_none() {
                // mio sets SO_REUSEADDR: connections of an earlier listener in TIME_WAIT do
                // not keep the address from being listened on again.
                match TcpListener::bind(addr) {
                    Ok(mut l) => {
                        let id = self.next_listener;
                        self.next_listener += 1;
                        match self.poll.registry().register(
                            &mut l,
                            Token(LISTENER_BIT | id),
                            Interest::READABLE,
                        ) {
                            Ok(()) => {
                                self.listener_ids.insert(id, addr);
                                port.listener = Some(l);
                            }
                            Err(e) => (self.bind_failed)(&port.service, addr, &e),
                        }
                    }
                    Err(e) => (self.bind_failed)(&port.service, addr, &e),
                }
            }
            self.ports.insert(addr, port);
        }
    }

    fn close_listener(&mut self, port: &mut Port) {
        if let Some(mut l) = port.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
            if let Ok(a) = l.local_addr() {
                self.listener_ids.retain(|_, v| *v != a);
            }
        }
    }

    fn accept(&mut self, id: usize) {
        let Some(addr) = self.listener_ids.get(&id).copied() else {
            return;
        };
        loop {
            let Some(port) = self.ports.get_mut(&addr) else {
                return;
            };
            let Some(listener) = port.listener.as_ref() else {
                return;
            };
            let (client, peer) = match listener.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ECONNABORTED, EMFILE...: this connection is lost, the listener stays.
                    log::debug!("service proxy: accept on {addr}: {e}");
                    return;
                }
            };
            let _ = client.set_nodelay(true);
            let now = self.clock.monotonic();
            let usable = &self.usable;
            let picked = port.balancer.pick(peer.ip(), now, &[], |b| usable(b));
            let Some(backend_addr) = picked else {
                reset(client);
                continue;
            };
            let cid = self.next_conn;
            // Ids stay below LISTENER_BIT >> 1, so `cid << 1 | side` is never a listener's
            // token nor the waker's.
            self.next_conn = (self.next_conn + 1) & ((LISTENER_BIT >> 1) - 1);
            let backend = match self.connect(cid, backend_addr) {
                Ok(b) => b,
                Err(_) => {
                    reset(client);
                    continue;
                }
            };
            let mut conn = Conn {
                client,
                client_ip: peer.ip(),
                backend,
                port: addr,
                tried: vec![backend_addr],
                connected: false,
                up: Pipe::default(),
                down: Pipe::default(),
            };
            if self
                .poll
                .registry()
                .register(
                    &mut conn.client,
                    Token(cid << 1),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_err()
            {
                let _ = self.poll.registry().deregister(&mut conn.backend);
                continue;
            }
            self.conns.insert(cid, conn);
            // On loopback the handshake is usually done already, and the client's first
            // bytes may be waiting: start copying now rather than one poll later.
            self.conn_event(cid, true);
        }
    }

    /// A non-blocking connect to `addr`, registered as the backend side of `cid`.
    fn connect(&self, cid: usize, addr: SocketAddr) -> io::Result<TcpStream> {
        let mut s = TcpStream::connect(addr)?;
        self.poll.registry().register(
            &mut s,
            Token(cid << 1 | 1),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(s)
    }

    fn conn_event(&mut self, cid: usize, backend_side: bool) {
        let Some(mut conn) = self.conns.remove(&cid) else {
            return;
        };
        if !conn.connected {
            if !backend_side {
                // The client spoke first: its bytes wait in the socket until connected.
                self.conns.insert(cid, conn);
                return;
            }
            match connect_result(&conn.backend) {
                Ok(None) => {
                    self.conns.insert(cid, conn);
                    return;
                }
                Ok(Some(())) => conn.connected = true,
                Err(_) => {
                    if self.retry(cid, &mut conn) {
                        self.conns.insert(cid, conn);
                    } else {
                        self.drop_conn(conn, true);
                    }
                    return;
                }
            }
        }
        match pump(&mut conn) {
            Ok(true) => {
                self.conns.insert(cid, conn);
            }
            Ok(false) => self.drop_conn(conn, false),
            Err(_) => self.drop_conn(conn, true),
        }
    }

    /// Connects `conn` to another endpoint after a failed connect; false when none is left.
    fn retry(&mut self, cid: usize, conn: &mut Conn) -> bool {
        let _ = self.poll.registry().deregister(&mut conn.backend);
        if conn.tried.len() >= CONNECT_ATTEMPTS {
            return false;
        }
        let now = self.clock.monotonic();
        let usable = &self.usable;
        let Some(port) = self.ports.get_mut(&conn.port) else {
            return false;
        };
        let Some(next) = port
            .balancer
            .pick(conn.client_ip, now, &conn.tried, |b| usable(b))
        else {
            return false;
        };
        conn.tried.push(next);
        match self.connect(cid, next) {
            Ok(b) => {
                conn.backend = b;
                true
            }
            Err(_) => self.retry(cid, conn),
        }
    }

    /// Closes both sockets of a connection: with a reset of the client after an error.
    fn drop_conn(&mut self, mut conn: Conn, failed: bool) {
        let r = self.poll.registry();
        let _ = r.deregister(&mut conn.client);
        let _ = r.deregister(&mut conn.backend);
        if failed {
            reset(conn.client);
        }
    }
}

/// Whether a non-blocking connect finished: `Ok(None)` still in progress, `Ok(Some)`
/// connected, `Err` failed.
fn connect_result(s: &TcpStream) -> io::Result<Option<()>> {
    if let Some(e) = s.take_error()? {
        return Err(e);
    }
    match s.peer_addr() {
        Ok(_) => Ok(Some(())),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(None),
        Err(e) => Err(e),
    }
}

/// Copies what can be copied both ways. `Ok(true)`: the connection goes on; `Ok(false)`:
/// both directions are closed.
fn pump(conn: &mut Conn) -> io::Result<bool> {
    transfer(&mut conn.client, &mut conn.backend, &mut conn.up)?;
    transfer(&mut conn.backend, &mut conn.client, &mut conn.down)?;
    Ok(!(conn.up.shut && conn.down.shut))
}

/// Moves bytes from `src` to `dst` through `pipe` until one of them would block, or the end
/// of stream has been passed on.
fn transfer(src: &mut TcpStream, dst: &mut TcpStream, pipe: &mut Pipe) -> io::Result<()> {
    if pipe.buf.is_empty() {
        pipe.buf = vec![0; BUFFER];
    }
    loop {
        while pipe.start < pipe.end {
            match dst.write(&pipe.buf[pipe.start..pipe.end]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => pipe.start += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        pipe.start = 0;
        pipe.end = 0;
        if pipe.eof {
            if !pipe.shut {
                pipe.shut = true;
                match dst.shutdown(Shutdown::Write) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(());
        }
        match src.read(&mut pipe.buf) {
            Ok(0) => pipe.eof = true,
            Ok(n) => pipe.end = n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Closes `s` with a reset (SO_LINGER 0) rather than an orderly close: the client learns at
/// once that there is nothing behind the address.
fn reset(s: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `s` owns a valid socket descriptor for the duration of the call; `linger` is a
    // properly initialised `struct linger` and its exact size is passed, so setsockopt(2)
    // only reads those bytes.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(s);
}

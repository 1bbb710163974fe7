//! `steady run`: check the manifests, start the embedded engine, apply them, and show what
//! happens until Ctrl-C, SIGTERM or `--for` ends it; then shut down gracefully.
//!
//! Order of events, and why:
//! 1. Every file is read and checked offline first ([`check`]): with any problem nothing is
//!    started, and the problems are the same lines `steady validate` prints.
//! 2. SIGINT and SIGTERM are caught before the engine starts, so a signal at any point
//!    after that shuts down gracefully.
//! 3. All objects of all files are applied in one call (one transaction): all or nothing.
//!    An error there (rare after the check: a store-side refusal) is mapped back to its file
//!    and line; the engine is then shut down before any pod could have been started.
//! 4. Every kind is followed from revision 0 ([`follow`]), so what the apply and the first
//!    reconciles did is shown too.
//! 5. On a signal or at the end of `--for`: `Engine::shutdown` (each process terminated
//!    within its grace period, then killed), remaining events are shown, exit 0.

use super::args::{Output, RunArgs};
use super::files::{self, Source};
use super::follow::{type_name, Follower, Msg};
use super::status::{age, Status};
use super::term;
use super::validate::{self, Checked};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use steady::api::Time;
use steady::client::ApplyAction;
use steady::{Engine, Error};

/// The view is redrawn at most this often.
const REDRAW_EVERY: Duration = Duration::from_millis(100);
/// ... and at least this often (ages move on).
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// How often newly registered kinds are looked for.
const DISCOVER_EVERY: Duration = Duration::from_millis(500);

/// Runs `steady run`; returns the exit code.
pub fn run(args: RunArgs) -> i32 {
    let images = match args.images.as_deref().map(files::read_images).transpose() {
        Ok(t) => t.unwrap_or_default(),
        Err(e) => {
            eprintln!("steady: {e}");
            return 1;
        }
    };
    let sources = match files::read_all(&args.paths) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("steady: {e}");
            return 1;
        }
    };
    let checked = validate::check(&sources, &images);
    for p in &checked.problems {
        eprintln!("{p}");
    }
    if checked.errors() > 0 {
        eprintln!(
            "steady: {} problem(s) in the manifests; nothing was started",
            checked.errors()
        );
        return 1;
    }
    if checked.entries.is_empty() {
        eprintln!("steady: no objects to apply; nothing was started");
        return 1;
    }
    let output = args.output.unwrap_or(if std::io::stdout().is_terminal() {
        Output::View
    } else {
        Output::Lines
    });

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, stop.clone()) {
            eprintln!("steady: cannot catch signal {signal}: {e}");
            return 1;
        }
    }

    let mut builder = Engine::builder().images(images);
    if let Some(name) = &args.node {
        builder = builder
            .local_node(false)
            .node(steady::node::NodeConfig::local_named(name));
    }
    if let Some(dir) = &args.data_dir {
        builder = builder.data_dir(dir.clone());
        if args.etcd.is_none() {
            builder = builder.persist(
                dir.join("store"),
                args.durability.unwrap_or(steady::store::Durability::Sync),
            );
        }
    }
    if let Some(endpoints) = &args.etcd {
        builder = match with_etcd(builder, endpoints, &args) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("steady: {e}");
                return 2;
            }
        };
    }
    if let Some(addr) = args.api {
        builder = builder.api_server(steady::apiserver::ApiServerConfig::new(addr));
    }
    let engine = match builder.build() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("steady: cannot start the engine: {e}");
            return 1;
        }
    };

    if let Some(r) = engine.recovery_report().filter(|r| !r.fresh) {
        eprintln!("steady: recovered {r}");
    }

    let text: Vec<String> = checked
        .entries
        .iter()
        .map(|e| e.doc.value.to_string())
        .collect();
    // One JSON value per line: document N of this text is entry N-1.
    let report = match engine.apply(&text.join("\n")) {
        Ok(r) => r,
        Err(e) => {
            for p in apply_problems(&sources, &checked, &e) {
                eprintln!("{p}");
            }
            eprintln!("steady: nothing was applied; stopping");
            engine.shutdown();
            return 1;
        }
    };
    if let Some(api) = engine.api_server() {
        let dir = args
            .data_dir
            .clone()
            .unwrap_or_else(|| steady::node::KubeletConfig::default().data_dir());
        let path = dir.join("kubeconfig");
        let written = std::fs::create_dir_all(&dir).and_then(|()| api.write_kubeconfig(&path));
        match written {
            Ok(()) => eprintln!(
                "steady: serving the Kubernetes API on {}; KUBECONFIG={} kubectl get pods",
                api.url(),
                path.display()
            ),
            Err(e) => eprintln!("steady: cannot write {}: {e}", path.display()),
        }
    }
    let mut applied = String::new();
    for o in &report.objects {
        let action = match o.action {
            ApplyAction::Created => "created",
            ApplyAction::Configured => "configured",
            ApplyAction::Unchanged => "unchanged",
        };
        applied.push_str(&format!(
            "{}/{} {action}\n",
            o.object.kind.to_ascii_lowercase(),
            o.object.name
        ));
    }
    // stdout carries only JSON lines with --output json.
    if output == Output::Json {
        eprint!("{applied}");
    } else {
        {
            use std::io::Write;
            let _ = write!(std::io::stdout().lock(), "{applied}");
        }
    }

    let warnings = checked.problems.len();
    let mut screen = Screen::new(output, &sources, warnings);
    let mut follower = Follower::start(engine.store());
    let started = Instant::now();
    let deadline = args.run_for.map(|d| started + d);
    let mut next_discover = started + DISCOVER_EVERY;
    let why = loop {
        if stop.load(Ordering::Relaxed) {
            break "signal";
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break "--for elapsed";
        }
        let mut wait = screen.next_draw_in(now).unwrap_or(REDRAW_EVERY);
        if let Some(d) = deadline {
            wait = wait.min(d - now);
        }
        // Signals are polled at this granularity.
        wait = wait.min(REDRAW_EVERY);
        if let Some(msg) = follower.recv_timeout(wait) {
            screen.take(msg);
            // Whatever else is queued, in one batch (bounded, so the view stays live).
            for _ in 0..10_000 {
                let Some(msg) = follower.try_recv() else {
                    break;
                };
                screen.take(msg);
            }
        }
        if screen.show(Instant::now()).is_err() {
            // stdout is gone (a closed pipe): nobody is watching any more.
            break "output closed";
        }
        if Instant::now() >= next_discover {
            follower.discover();
            next_discover = Instant::now() + DISCOVER_EVERY;
        }
    };
    let _ = screen.finish_view();
    eprintln!("steady: stopping ({why}): terminating processes within their grace period");
    engine.shutdown();
    while let Some(msg) = follower.try_recv() {
        screen.take(msg);
    }
    let _ = screen.flush();
    eprintln!("steady: stopped");
    0
}

/// The problems an apply error stands for, located in the files.
fn apply_problems(sources: &[Source], checked: &Checked, e: &Error) -> Vec<validate::Problem> {
    if let Error::InDocument { document, .. } = e {
        if let Some(entry) = document.checked_sub(1).and_then(|i| checked.entries.get(i)) {
            return validate::problems_of(&sources[entry.file].name, &entry.doc, &entry.label, e);
        }
    }
    vec![validate::Problem {
        file: None,
        line: None,
        document: None,
        object: e.object().map(|o| format!("{}/{}", o.kind, o.name)),
        field: None,
        message: e.root().to_string(),
        warning: false,
    }]
}

/// What is on stdout: the live view, lines, or JSON.
struct Screen {
    output: Output,
    status: Status,
    out: std::io::BufWriter<std::io::Stdout>,
    started: Instant,
    header: String,
    dirty: bool,
    drawn: Option<Instant>,
    failed: bool,
}

impl Screen {
    fn new(output: Output, sources: &[Source], warnings: usize) -> Self {
        let mut header = format!("steady run: {} file(s)", sources.len());
        if warnings > 0 {
            header.push_str(&format!(", {warnings} warning(s) (see steady validate)"));
        }
        Screen {
            output,
            status: Status::new(),
            out: std::io::BufWriter::new(std::io::stdout()),
            started: Instant::now(),
            header,
            dirty: true,
            drawn: None,
            failed: false,
        }
    }

    /// Takes one message from the followers: lines and JSON are written at once, the view
    /// only remembers it changed.
    fn take(&mut self, msg: Msg) {
        let written = match msg {
            Msg::Event {
                kind,
                change,
                object,
            } => {
                let line = self.status.apply(&kind, change, &object);
                match self.output {
                    Output::Json => {
                        // Written by hand to keep "type" first (serde_json sorts keys).
                        writeln!(
                            self.out,
                            "{{\"type\":\"{}\",\"object\":{object}}}",
                            type_name(change)
                        )
                    }
                    Output::Lines => match line {
                        Some(l) => {
                            let t = self.started.elapsed().as_secs_f64();
                            writeln!(self.out, "{t:7.1}s {l}")
                        }
                        None => Ok(()),
                    },
                    Output::View => {
                        self.dirty = true;
                        Ok(())
                    }
                }
            }
            Msg::Restart { kind, reason } => {
                self.status.forget_kind(&kind);
                match self.output {
                    // As a Kubernetes watch reports it: an ERROR event carrying a Status.
                    Output::Json => {
                        let ev = json!({"type": "ERROR", "object": {
                            "apiVersion": "v1", "kind": "Status", "status": "Failure",
                            "reason": "Expired", "message": format!("{kind}: {reason}")}});
                        writeln!(self.out, "{ev}")
                    }
                    Output::Lines => {
                        let t = self.started.elapsed().as_secs_f64();
                        writeln!(self.out, "{t:7.1}s {kind}: watch restarted ({reason})")
                    }
                    Output::View => Ok(()),
                }
            }
        };
        self.failed |= written.is_err();
    }

    /// How long until the view wants drawing again (`None` for lines and JSON).
    fn next_draw_in(&self, now: Instant) -> Option<Duration> {
        if self.output != Output::View {
            return None;
        }
        let Some(drawn) = self.drawn else {
            return Some(Duration::ZERO);
        };
        let after = if self.dirty {
            REDRAW_EVERY
        } else {
            REFRESH_EVERY
        };
        Some((drawn + after).saturating_duration_since(now))
    }

    /// Writes out what is due: flushes lines and JSON, redraws the view when it changed
    /// (at most every 100 ms) or a second passed.
    fn show(&mut self, now: Instant) -> std::io::Result<()> {
        if self.failed {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        if self.output != Output::View {
            return self.out.flush();
        }
        if self.next_draw_in(now) != Some(Duration::ZERO) {
            return Ok(());
        }
        if self.drawn.is_none() {
            self.out.write_all(term::CLEAR.as_bytes())?;
        }
        self.draw()?;
        self.drawn = Some(now);
        self.dirty = false;
        Ok(())
    }

    fn draw(&mut self) -> std::io::Result<()> {
        let (width, height) = term::size().unwrap_or((0, 0));
        let header = format!(
            "{}  up {}  {} pod(s)  nodes: {}  (Ctrl-C stops)",
            self.header,
            age(self.started.elapsed()),
            self.status.pod_count(),
            self.status.nodes_summary()
        );
        let now = Time::from_system_time(std::time::SystemTime::now());
        let lines = self.status.render(&header, now, width, height);
        term::redraw(&mut self.out, &lines)
    }

    /// Draws the view a last time and moves below it, so the shutdown messages follow it.
    fn finish_view(&mut self) -> std::io::Result<()> {
        if self.output == Output::View && !self.failed {
            self.draw()?;
            writeln!(self.out)?;
        }
        self.out.flush()
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The builder on the etcd cluster at `endpoints`, with `--etcd-*` and `STEADY_ETCD_USER`.
fn with_etcd(
    builder: steady::EngineBuilder,
    endpoints: &[String],
    args: &RunArgs,
) -> Result<steady::EngineBuilder, String> {
    let mut config = steady::store::etcd::EtcdConfig::default();
    if let Some(p) = &args.etcd_prefix {
        config = config.prefix(p.clone());
    }
    if let Ok(user) = std::env::var("STEADY_ETCD_USER") {
        let (name, password) = user
            .split_once(':')
            .ok_or("STEADY_ETCD_USER: expected NAME:PASSWORD")?;
        config = config.user(name, password);
    }
    if let [Some(ca), cert, key] = &args.etcd_tls {
        let client = cert.clone().zip(key.clone());
        config = config.tls(ca.clone(), client);
    }
    Ok(builder.etcd(endpoints.iter().cloned(), config))
}

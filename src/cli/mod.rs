//! The `steady` command-line tool (layer 12, the top; built with the cargo feature `cli`).
//!
//! A consumer of the library's public API only: it is compiled into the binary
//! (`src/bin/steady.rs`), not into the library, so nothing crate-private is in reach.
//!
//! - [`args`]: the command line.
//! - [`files`]: `FILE|DIR...` to manifest texts.
//! - [`validate`]: offline decoding and validation, one line per problem (`steady validate`).
//! - [`run`]: the engine, apply, the live status and graceful shutdown (`steady run`).
//! - [`follow`]: watches of every kind fanned into one channel.
//! - [`node`]: `steady cordon`, `uncordon` and `drain` against a running engine's API server.
//! - [`remote`]: that API server, from the kubeconfig `steady run --api` writes.
//! - [`status`]: the status model and its rendering.
//! - [`term`]: terminal size, redraw, logging.
//!
//! Exit codes: 0 success; 1 problems in the manifests (or the engine could not start);
//! 2 a command line that cannot be understood.

pub mod args;
pub mod files;
pub mod follow;
pub mod node;
pub mod remote;
pub mod run;
pub mod status;
pub mod term;
pub mod validate;

use args::{Command, Topic};

/// Exit code of a command line that cannot be understood.
pub const USAGE_EXIT: i32 = 2;

const MAIN_USAGE: &str = "\
steady: declarative supervisor on the steady engine (Kubernetes-style manifests, one process)

Usage:
  steady run [OPTIONS] FILE|DIR...   start the engine, apply the manifests, show the status
  steady validate FILE|DIR...        check manifests offline, one line per problem
  steady cordon|uncordon NODE        mark a node of a running engine (un)schedulable
  steady drain NODE                  evict a node's pods within their disruption budgets
  steady version                     print the version
  steady help [COMMAND]              print the help of a command

A DIR stands for its *.yaml, *.yml and *.json files in name order; - is standard input.
Options: -h, --help (on every command), -V, --version.";

const RUN_USAGE: &str = "\
Usage: steady run [OPTIONS] FILE|DIR...

Checks the manifests (as steady validate does; any problem: nothing starts, exit 1), starts
the embedded engine (a local node named after this host, running processes and in-process
workers), applies every object of every file in one all-or-nothing apply, then shows what
happens. Ctrl-C or SIGTERM stops it gracefully: every process is terminated within its
grace period (SIGTERM, then SIGKILL), then steady exits 0.

Options:
      --for DURATION     stop after DURATION (500ms, 30s, 2m, 1h30m) and exit 0
      --data-dir DIR     keep state in DIR across restarts: the store (objects, revisions,
                         in DIR/store, recovered on the next start) and the claim and
                         emptyDir directories. Without it: steady-<pid> under the system
                         temporary directory, and the store lives in memory only
      --durability MODE  with --data-dir: sync (default; a change is on disk before it is
                         acknowledged) or interval:100ms (fsync at least that often; a
                         crash loses at most that window)
      --node NAME        name the local node NAME instead of after this host (several
                         steady on one host and one etcd need one name each)
      --etcd URL[,URL]   keep the store in the etcd cluster at these client URLs, shared
                         with every steady on the same cluster. The state outlives
                         this steady; --data-dir then keeps
                         only the claim and emptyDir directories. One steady on the
                         cluster leads (runs the controllers and the scheduler); each
                         runs its own node's pods
      --etcd-prefix P    the key prefix in etcd (default /steady)
      --etcd-ca FILE     TLS to etcd (https:// URLs): the members' CA (PEM)
      --etcd-cert FILE   with --etcd-ca: this client's certificate (PEM), and
      --etcd-key FILE    its key, for members that require client certificates
      --images FILE      the image table (YAML or JSON): what each image reference runs,
                         for containers that name an image and no command, e.g.
                         \"redis:7\": {command: [redis-server], args: [--port, \"6379\"]}
      --api ADDR         serve the Kubernetes API on ADDR (127.0.0.1:6443; port 0 picks one)
                         over TLS with a token, write a kubeconfig for it (mode 0600) into
                         the data directory and print its path: KUBECONFIG=PATH kubectl get pods
  -o, --output FORMAT    view   live status redrawn in place (default on a terminal)
                         lines  one line per change (default otherwise)
                         json   every watch event of every kind, one JSON object per line:
                                {\"type\": \"ADDED\"|\"MODIFIED\"|\"DELETED\", \"object\": {...}}
  -h, --help             print this help

Environment: STEADY_LOG=error|warn|info|debug|trace|off (default warn), logs on stderr;
STEADY_ETCD_USER=NAME:PASSWORD, with --etcd, for an etcd with authentication.";

const VALIDATE_USAGE: &str = "\
Usage: steady validate [--strict] [--images FILE] FILE|DIR...

Parses, decodes and validates every document offline, as steady run would before starting
anything. Prints one line per problem:

  FILE:LINE: document N: Kind/name: field: message

and fields steady keeps but does not act on (unknown ones, and those it does not implement)
as warnings:

  FILE:LINE: warning: document N: Kind/name: field: unknown field, kept but not implemented by steady

A kind steady does not serve is a problem (\"no matches for kind\"), unless a
CustomResourceDefinition in the files defines it first.

Exit status: 0 when there is no problem (warnings allowed), 1 otherwise.

Options:
  --strict        warnings are problems too (exit 1): for CI pipelines
  --images FILE   the image table steady run would use (see steady run --help): a
                  container without a command whose image it maps is not a warning
  -h, --help      print this help";

const VERSION_USAGE: &str = "\
Usage: steady version

Prints the version of steady.";

const NODE_USAGE: &str = "\
Usage: steady cordon NODE [--kubeconfig FILE]
       steady uncordon NODE [--kubeconfig FILE]
       steady drain NODE [--kubeconfig FILE] [--timeout DURATION] [--grace-period SECONDS]

Node maintenance on an engine started with steady run --api, through its API server (the
kubeconfig it wrote; --kubeconfig or $KUBECONFIG names it), as kubectl cordon, uncordon
and drain do.

cordon marks the node unschedulable: no new pod goes there. uncordon undoes it. drain
cordons the node, then evicts every pod on it but DaemonSet pods through the eviction API,
so PodDisruptionBudgets are honoured: an eviction a budget refuses is retried every 5s
until the timeout; then it waits for the evicted pods to be gone. Exit status 1 when a pod
could not be evicted in time.

Options:
      --kubeconfig FILE        the kubeconfig of the engine's API server
      --timeout DURATION       drain: give up after DURATION (default 5m)
      --grace-period SECONDS   drain: termination grace period instead of each pod's own
  -h, --help                   print this help";

fn usage(topic: Topic) -> &'static str {
    match topic {
        Topic::Main => MAIN_USAGE,
        Topic::Run => RUN_USAGE,
        Topic::Validate => VALIDATE_USAGE,
        Topic::Version => VERSION_USAGE,
        Topic::Node => NODE_USAGE,
    }
}

/// Prints `text` and a newline to stdout; false when stdout is gone (a closed pipe, as in
/// `steady validate . | head`), where `println!` would panic.
pub(crate) fn say(text: impl std::fmt::Display) -> bool {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{text}").is_ok()
}

/// Runs the command line `args` (without the program name); returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let command = match args::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("steady: error: {e}\n\n{}", usage(e.topic));
            return USAGE_EXIT;
        }
    };
    match command {
        Command::Help(topic) => {
            say(usage(topic));
            0
        }
        Command::Version => {
            say(format_args!("steady {}", env!("CARGO_PKG_VERSION")));
            0
        }
        Command::Validate(v) => validate(&v.paths, v.strict, v.images.as_deref()),
        Command::Node(n) => node::run(&n),
        Command::Run(r) => {
            term::init_logging();
            run::run(r)
        }
    }
}

/// `steady validate`: problems on stdout, a summary on stderr.
fn validate(paths: &[std::path::PathBuf], strict: bool, images: Option<&std::path::Path>) -> i32 {
    let images = match images.map(files::read_images).transpose() {
        Ok(t) => t.unwrap_or_default(),
        Err(e) => {
            say(&e);
            return 1;
        }
    };
    let sources = match files::read_all(paths) {
        Ok(s) => s,
        Err(e) => {
            say(&e);
            return 1;
        }
    };
    let mut checked = validate::check(&sources, &images);
    if strict {
        // Warnings are problems: printed and counted as such.
        for p in &mut checked.problems {
            p.warning = false;
        }
    }
    for p in &checked.problems {
        if !say(p) {
            break;
        }
    }
    let errors = checked.errors();
    let warnings = checked.problems.len() - errors;
    eprintln!(
        "steady: {} object(s) in {} file(s): {errors} problem(s), {warnings} warning(s)",
        checked.entries.len(),
        sources.len()
    );
    i32::from(errors > 0)
}

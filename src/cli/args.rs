//! Command-line arguments: the commands, their options, and durations (`500ms`, `2m30s`).
//!
//! Hand-written: three commands and a handful of options do not need a parser crate. Options
//! take their value as the next argument or after `=` (`--for 30s`, `--for=30s`); `--` ends
//! the options; `-` names standard input.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `steady run`.
    Run(RunArgs),
    /// `steady validate`.
    Validate(ValidateArgs),
    /// `steady cordon`, `steady uncordon` or `steady drain`.
    Node(NodeArgs),
    /// `steady version` or `--version`.
    Version,
    /// `--help` or `steady help [COMMAND]`: the usage of a topic.
    Help(Topic),
}

/// Node maintenance on a running engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeAction {
    /// `steady cordon NODE`.
    Cordon,
    /// `steady uncordon NODE`.
    Uncordon,
    /// `steady drain NODE`.
    Drain,
}

/// Options of `steady cordon`, `uncordon` and `drain`.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeArgs {
    /// Which command.
    pub action: NodeAction,
    /// The node.
    pub node: String,
    /// `--kubeconfig FILE` (else `$KUBECONFIG`): the engine's API server and token.
    pub kubeconfig: Option<PathBuf>,
    /// `--timeout DURATION` (drain): give up after this long (default 5m).
    pub timeout: Duration,
    /// `--grace-period SECONDS` (drain): instead of each pod's own.
    pub grace_period: Option<i64>,
}

/// Which usage text to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// The overview.
    Main,
    /// `steady run`.
    Run,
    /// `steady validate`.
    Validate,
    /// `steady version`.
    Version,
    /// `steady cordon`, `uncordon`, `drain`.
    Node,
}

/// How `steady run` shows what happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// A live status view redrawn in place (the default on a terminal).
    View,
    /// One line per change (the default when stdout is not a terminal).
    Lines,
    /// Every watch event of every kind as a JSON line.
    Json,
}

/// Options of `steady run`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunArgs {
    /// Manifest files and directories.
    pub paths: Vec<PathBuf>,
    /// Stop after this long.
    pub run_for: Option<Duration>,
    /// Where claim and emptyDir directories and logs go, and the store's state
    /// (`DIR/store`), kept across restarts.
    pub data_dir: Option<PathBuf>,
    /// `--durability`: when a write returns (needs `--data-dir`; default sync).
    pub durability: Option<steady::store::Durability>,
    /// `None`: by whether stdout is a terminal.
    pub output: Option<Output>,
    /// `--api ADDR`: serve the Kubernetes-compatible API there.
    pub api: Option<std::net::SocketAddr>,
    /// `--images FILE`: the image table (YAML or JSON).
    pub images: Option<PathBuf>,
    /// `--node NAME`: the local node's name (default: the host's).
    pub node: Option<String>,
    /// `--etcd URL[,URL...]`: keep the store in this etcd cluster.
    pub etcd: Option<Vec<String>>,
    /// `--etcd-prefix`: the key prefix there.
    pub etcd_prefix: Option<String>,
    /// `--etcd-ca`, `--etcd-cert`, `--etcd-key`: TLS to etcd.
    pub etcd_tls: [Option<PathBuf>; 3],
}

/// Options of `steady validate`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValidateArgs {
    /// Manifest files and directories.
    pub paths: Vec<PathBuf>,
    /// `--strict`: warnings count as problems (exit 1), for CI pipelines.
    pub strict: bool,
    /// `--images FILE`: the image table `steady run` would use.
    pub images: Option<PathBuf>,
}

/// A command line that cannot be understood; the usage of `topic` goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError {
    /// What is wrong.
    pub message: String,
    /// Whose usage to print.
    pub topic: Topic,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Splits comma-separated etcd client URLs (`http://` or `https://`, or host:port).
fn etcd_endpoints(text: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(String::from)
        .collect();
    if list.is_empty() {
        return Err("expected one or more etcd client URLs, comma-separated".into());
    }
    if let Some(bad) = list
        .iter()
        .find(|e| e.contains("://") && !e.starts_with("http://") && !e.starts_with("https://"))
    {
        return Err(format!("{bad:?} is not an http:// or https:// URL"));
    }
    Ok(list)
}

fn usage_error(topic: Topic, message: impl Into<String>) -> UsageError {
    UsageError {
        message: message.into(),
        topic,
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let Some((first, rest)) = args.split_first() else {
        return Err(usage_error(Topic::Main, "a command is required"));
    };
    match first.as_str() {
        "-h" | "--help" => Ok(Command::Help(Topic::Main)),
        "-V" | "--version" => Ok(Command::Version),
        "help" => match rest {
            [] => Ok(Command::Help(Topic::Main)),
            [t] => topic_named(t).map(Command::Help).ok_or_else(|| {
                usage_error(Topic::Main, format!("no help for {t:?}: unknown command"))
            }),
            _ => Err(usage_error(Topic::Main, "help takes at most one command")),
        },
        "version" => {
            if rest.iter().any(|a| a == "-h" || a == "--help") {
                return Ok(Command::Help(Topic::Version));
            }
            match rest.first() {
                None => Ok(Command::Version),
                Some(a) => Err(usage_error(
                    Topic::Version,
                    format!("unexpected argument {a:?}"),
                )),
            }
        }
        "run" => parse_run(rest),
        "validate" => parse_validate(rest),
        "cordon" => parse_node(rest, NodeAction::Cordon),
        "uncordon" => parse_node(rest, NodeAction::Uncordon),
        "drain" => parse_node(rest, NodeAction::Drain),
        a if a.starts_with('-') => Err(usage_error(
            Topic::Main,
            format!("unknown option {a:?} (options go after the command)"),
        )),
        a => Err(usage_error(Topic::Main, format!("unknown command {a:?}"))),
    }
}

fn topic_named(name: &str) -> Option<Topic> {
    match name {
        "run" => Some(Topic::Run),
        "validate" => Some(Topic::Validate),
        "version" => Some(Topic::Version),
        "cordon" | "uncordon" | "drain" => Some(Topic::Node),
        _ => None,
    }
}

/// Walks the arguments of one command: options (with or without `=value`) and operands.
struct Walker<'a> {
    args: std::slice::Iter<'a, String>,
    topic: Topic,
    operands_only: bool,
}

enum Arg<'a> {
    /// `--name` or `-n`, with a value given after `=`.
    Option(&'a str, Option<&'a str>),
    Operand(&'a str),
}

impl<'a> Walker<'a> {
    fn next(&mut self) -> Option<Arg<'a>> {
        loop {
            let a = self.args.next()?;
            if self.operands_only || a == "-" || !a.starts_with('-') {
                return Some(Arg::Operand(a));
            }
            if a == "--" {
                self.operands_only = true;
                continue;
            }
            return Some(match a.split_once('=') {
                Some((name, value)) if a.starts_with("--") => Arg::Option(name, Some(value)),
                _ => Arg::Option(a, None),
            });
        }
    }

    /// The value of option `name`: after `=`, or the next argument.
    fn value(&mut self, name: &str, inline: Option<&'a str>) -> Result<&'a str, UsageError> {
        if let Some(v) = inline {
            return Ok(v);
        }
        self.args
            .next()
            .map(String::as_str)
            .ok_or_else(|| usage_error(self.topic, format!("option {name} needs a value")))
    }

    fn unknown(&self, name: &str) -> UsageError {
        usage_error(self.topic, format!("unknown option {name:?}"))
    }

    fn no_value(&self, name: &str, inline: Option<&str>) -> Result<(), UsageError> {
        match inline {
            Some(_) => Err(usage_error(
                self.topic,
                format!("option {name} takes no value"),
            )),
            None => Ok(()),
        }
    }
}

fn walker(args: &[String], topic: Topic) -> Walker<'_> {
    Walker {
        args: args.iter(),
        topic,
        operands_only: false,
    }
}

fn parse_run(args: &[String]) -> Result<Command, UsageError> {
    let mut w = walker(args, Topic::Run);
    let mut run = RunArgs::default();
    while let Some(arg) = w.next() {
        match arg {
            Arg::Operand(p) => run.paths.push(PathBuf::from(p)),
            Arg::Option(name @ ("-h" | "--help"), v) => {
                w.no_value(name, v)?;
                return Ok(Command::Help(Topic::Run));
            }
            Arg::Option(name @ "--for", v) => {
                let v = w.value(name, v)?;
                let d = parse_duration(v)
                    .map_err(|e| usage_error(Topic::Run, format!("--for {v:?}: {e}")))?;
                run.run_for = Some(d);
            }
            Arg::Option(name @ "--data-dir", v) => {
                let v = w.value(name, v)?;
                if v.is_empty() {
                    return Err(usage_error(Topic::Run, "--data-dir needs a directory"));
                }
                run.data_dir = Some(PathBuf::from(v));
            }
            Arg::Option(name @ "--images", v) => {
                let v = w.value(name, v)?;
                if v.is_empty() {
                    return Err(usage_error(Topic::Run, "--images needs a file"));
                }
                run.images = Some(PathBuf::from(v));
            }
            Arg::Option(name @ "--etcd", v) => {
                let v = w.value(name, v)?;
                let list = etcd_endpoints(v)
                    .map_err(|e| usage_error(Topic::Run, format!("--etcd {v:?}: {e}")))?;
                run.etcd = Some(list);
            }
            Arg::Option(name @ "--node", v) => {
                let v = w.value(name, v)?;
                if v.is_empty() {
                    return Err(usage_error(Topic::Run, "--node needs a name"));
                }
                run.node = Some(v.to_string());
            }
            Arg::Option(name @ "--etcd-prefix", v) => {
                let v = w.value(name, v)?;
                if !v.starts_with('/') {
                    return Err(usage_error(
                        Topic::Run,
                        format!("--etcd-prefix {v:?}: expected a key prefix starting with /"),
                    ));
                }
                run.etcd_prefix = Some(v.to_string());
            }
            Arg::Option(name @ ("--etcd-ca" | "--etcd-cert" | "--etcd-key"), v) => {
                let v = w.value(name, v)?;
                if v.is_empty() {
                    return Err(usage_error(Topic::Run, format!("{name} needs a file")));
                }
                let i = ["--etcd-ca", "--etcd-cert", "--etcd-key"]
                    .iter()
                    .position(|n| *n == name)
                    .expect("one of the three");
                run.etcd_tls[i] = Some(PathBuf::from(v));
            }
            Arg::Option(name @ "--durability", v) => {
                let v = w.value(name, v)?;
                let d = steady::store::Durability::parse(v)
                    .map_err(|e| usage_error(Topic::Run, format!("--durability: {e}")))?;
                run.durability = Some(d);
            }
            Arg::Option(name @ "--api", v) => {
                let v = w.value(name, v)?;
                let addr = v.parse().map_err(|_| {
                    usage_error(
                        Topic::Run,
                        format!("--api {v:?}: expected an address and port, as 127.0.0.1:6443"),
                    )
                })?;
                run.api = Some(addr);
            }
            Arg::Option(name @ ("-o" | "--output"), v) => {
                let v = w.value(name, v)?;
                run.output = Some(match v {
                    "view" => Output::View,
                    "lines" => Output::Lines,
                    "json" => Output::Json,
                    other => {
                        return Err(usage_error(
                            Topic::Run,
                            format!("{name} {other:?}: expected view, lines or json"),
                        ))
                    }
                });
            }
            Arg::Option(name, _) => return Err(w.unknown(name)),
        }
    }
    if run.paths.is_empty() {
        return Err(usage_error(
            Topic::Run,
            "no manifest given: name at least one FILE or DIR",
        ));
    }
    let etcd_settings = run.etcd_prefix.is_some() || run.etcd_tls.iter().any(Option::is_some);
    if etcd_settings && run.etcd.is_none() {
        return Err(usage_error(
            Topic::Run,
            "--etcd-prefix, --etcd-ca, --etcd-cert and --etcd-key need --etcd",
        ));
    }
    if run.etcd_tls[0].is_none() && (run.etcd_tls[1].is_some() || run.etcd_tls[2].is_some()) {
        return Err(usage_error(
            Topic::Run,
            "--etcd-cert and --etcd-key need --etcd-ca (the members' CA)",
        ));
    }
    if run.etcd_tls[1].is_some() != run.etcd_tls[2].is_some() {
        return Err(usage_error(
            Topic::Run,
            "--etcd-cert and --etcd-key go together",
        ));
    }
    if run.etcd.is_some() && run.durability.is_some() {
        return Err(usage_error(
            Topic::Run,
            "--durability does not apply with --etcd: etcd keeps the state",
        ));
    }
    if run.durability.is_some() && run.data_dir.is_none() {
        return Err(usage_error(
            Topic::Run,
            "--durability needs --data-dir: without one, nothing is kept across restarts",
        ));
    }
    Ok(Command::Run(run))
}

fn parse_node(args: &[String], action: NodeAction) -> Result<Command, UsageError> {
    let mut w = walker(args, Topic::Node);
    let mut node = None;
    let mut n = NodeArgs {
        action,
        node: String::new(),
        kubeconfig: None,
        timeout: Duration::from_secs(300),
        grace_period: None,
    };
    while let Some(arg) = w.next() {
        match arg {
            Arg::Operand(p) if node.is_none() => node = Some(p.to_string()),
            Arg::Operand(p) => {
                return Err(usage_error(
                    Topic::Node,
                    format!("unexpected argument {p:?}"),
                ))
            }
            Arg::Option(name @ ("-h" | "--help"), v) => {
                w.no_value(name, v)?;
                return Ok(Command::Help(Topic::Node));
            }
            Arg::Option(name @ "--kubeconfig", v) => {
                n.kubeconfig = Some(PathBuf::from(w.value(name, v)?));
            }
            Arg::Option(name @ "--timeout", v) if action == NodeAction::Drain => {
                let v = w.value(name, v)?;
                n.timeout = parse_duration(v)
                    .map_err(|e| usage_error(Topic::Node, format!("--timeout {v:?}: {e}")))?;
            }
            Arg::Option(name @ "--grace-period", v) if action == NodeAction::Drain => {
                let v = w.value(name, v)?;
                n.grace_period = Some(v.parse().map_err(|_| {
                    usage_error(
                        Topic::Node,
                        format!("--grace-period {v:?}: expected seconds"),
                    )
                })?);
            }
            Arg::Option(name, _) => return Err(w.unknown(name)),
        }
    }
    n.node = node
        .filter(|n| !n.is_empty())
        .ok_or_else(|| usage_error(Topic::Node, "a NODE is required"))?;
    Ok(Command::Node(n))
}

fn parse_validate(args: &[String]) -> Result<Command, UsageError> {
    let mut w = walker(args, Topic::Validate);
    let mut v = ValidateArgs::default();
    while let Some(arg) = w.next() {
        match arg {
            Arg::Operand(p) => v.paths.push(PathBuf::from(p)),
            Arg::Option(name @ ("-h" | "--help"), value) => {
                w.no_value(name, value)?;
                return Ok(Command::Help(Topic::Validate));
            }
            Arg::Option(name @ "--strict", value) => {
                w.no_value(name, value)?;
                v.strict = true;
            }
            Arg::Option(name @ "--images", value) => {
                let value = w.value(name, value)?;
                if value.is_empty() {
                    return Err(usage_error(Topic::Validate, "--images needs a file"));
                }
                v.images = Some(PathBuf::from(value));
            }
            Arg::Option(name, _) => return Err(w.unknown(name)),
        }
    }
    if v.paths.is_empty() {
        return Err(usage_error(
            Topic::Validate,
            "no manifest given: name at least one FILE or DIR",
        ));
    }
    Ok(Command::Validate(v))
}

/// Parses a duration written as a sequence of numbers with units, Go style: `500ms`, `30s`,
/// `2m`, `1h30m`, `1.5s`. Units: `ms`, `s`, `m`, `h`. A bare number is refused (its unit
/// would be a guess).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        if number.is_empty() {
            return Err(format!("expected a number at {rest:?}"));
        }
        let n: f64 = number
            .parse()
            .map_err(|_| format!("{number:?} is not a number"))?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "{number} needs a unit: ms, s, m or h (e.g. {number}s)"
                ))
            }
            u => return Err(format!("unknown unit {u:?}: use ms, s, m or h")),
        };
        total += n * scale;
        rest = next;
    }
    Duration::try_from_secs_f64(total).map_err(|_| "duration out of range".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn durations_take_go_style_units_and_refuse_bare_numbers() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("30").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("3d")
            .unwrap_err()
            .contains("unknown unit \"d\""));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1..2s").is_err());
    }

    #[test]
    fn node_commands_take_one_node_and_drain_its_options() {
        assert_eq!(
            parse(&args(
                "drain n1 --timeout 30s --grace-period=0 --kubeconfig k"
            ))
            .unwrap(),
            Command::Node(NodeArgs {
                action: NodeAction::Drain,
                node: "n1".into(),
                kubeconfig: Some(PathBuf::from("k")),
                timeout: Duration::from_secs(30),
                grace_period: Some(0),
            })
        );
        let c = parse(&args("cordon n1")).unwrap();
        assert!(matches!(
            c,
            Command::Node(NodeArgs {
                action: NodeAction::Cordon,
                ..
            })
        ));
        assert_eq!(
            parse(&args("help uncordon")).unwrap(),
            Command::Help(Topic::Node)
        );
        assert_eq!(
            parse(&args("drain")).unwrap_err().message,
            "a NODE is required"
        );
        assert_eq!(
            parse(&args("cordon n1 --timeout 1s")).unwrap_err().message,
            "unknown option \"--timeout\""
        );
        assert_eq!(
            parse(&args("uncordon a b")).unwrap_err().message,
            "unexpected argument \"b\""
        );
    }

    #[test]
    fn run_takes_an_etcd_cluster_and_its_settings() {
        let c = parse(&args(
            "run a.yaml --etcd http://127.0.0.1:2379,http://127.0.0.1:22379 --etcd-prefix /fleet \
             --etcd-ca ca.pem --etcd-cert c.pem --etcd-key k.pem",
        ))
        .unwrap();
        let Command::Run(r) = c else { panic!() };
        assert_eq!(
            r.etcd.unwrap(),
            ["http://127.0.0.1:2379", "http://127.0.0.1:22379"]
        );
        assert_eq!(r.etcd_prefix.as_deref(), Some("/fleet"));
        assert_eq!(
            r.etcd_tls,
            [
                Some("ca.pem".into()),
                Some("c.pem".into()),
                Some("k.pem".into())
            ]
        );
        let Command::Run(r) = parse(&args("run a.yaml --node host-2")).unwrap() else {
            panic!()
        };
        assert_eq!(r.node.as_deref(), Some("host-2"));
        for (line, message) in [
            ("run a.yaml --etcd-prefix /x", "need --etcd"),
            ("run a.yaml --etcd ,", "comma-separated"),
            (
                "run a.yaml --etcd grpc://h:1",
                "is not an http:// or https:// URL",
            ),
            ("run a.yaml --etcd h:1 --etcd-prefix x", "starting with /"),
            (
                "run a.yaml --etcd h:1 --etcd-cert c --etcd-key k",
                "need --etcd-ca",
            ),
            (
                "run a.yaml --etcd h:1 --etcd-ca a --etcd-cert c",
                "go together",
            ),
            (
                "run a.yaml --etcd h:1 --durability sync",
                "etcd keeps the state",
            ),
        ] {
            let e = parse(&args(line)).unwrap_err().message;
            assert!(e.contains(message), "{line}: {e}");
        }
    }

    #[test]
    fn run_takes_paths_and_options_with_or_without_equals() {
        let c = parse(&args(
            "run a.yaml --for 2s dir -o json --data-dir=/tmp/x --api 127.0.0.1:6443 --images i.yaml",
        ))
        .unwrap();
        assert_eq!(
            c,
            Command::Run(RunArgs {
                paths: vec!["a.yaml".into(), "dir".into()],
                run_for: Some(Duration::from_secs(2)),
                data_dir: Some("/tmp/x".into()),
                durability: None,
                output: Some(Output::Json),
                api: Some("127.0.0.1:6443".parse().unwrap()),
                images: Some("i.yaml".into()),
                ..Default::default()
            })
        );
        let c = parse(&args(
            "run a.yaml --data-dir /d --durability interval:100ms",
        ))
        .unwrap();
        let Command::Run(r) = c else { panic!() };
        assert_eq!(
            r.durability,
            Some(steady::store::Durability::Interval(Duration::from_millis(
                100
            )))
        );
        let e = parse(&args("run a.yaml --durability sync")).unwrap_err();
        assert!(
            e.to_string().contains("--durability needs --data-dir"),
            "{e}"
        );
        let e = parse(&args("run a.yaml --data-dir /d --durability fast")).unwrap_err();
        assert!(e.to_string().contains("--durability: expected"), "{e}");
        assert!(parse(&args("run a.yaml --api localhost")).is_err());
        let c = parse(&args("run --output=lines -- --odd-name.yaml -")).unwrap();
        let Command::Run(r) = c else { panic!() };
        assert_eq!(r.paths, vec![PathBuf::from("--odd-name.yaml"), "-".into()]);
        assert_eq!(r.output, Some(Output::Lines));
    }

    #[test]
    fn bad_command_lines_name_the_problem_and_the_usage_to_show() {
        let e = parse(&args("run a.yaml --bogus")).unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.topic),
            ("unknown option \"--bogus\"", Topic::Run)
        );
        let e = parse(&args("run")).unwrap_err();
        assert!(e.message.contains("no manifest"), "{e}");
        let e = parse(&args("run a --for")).unwrap_err();
        assert_eq!(e.message, "option --for needs a value");
        let e = parse(&args("run a -o yaml")).unwrap_err();
        assert!(e.message.contains("expected view, lines or json"), "{e}");
        let e = parse(&args("frobnicate")).unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.topic),
            ("unknown command \"frobnicate\"", Topic::Main)
        );
        let e = parse(&args("validate")).unwrap_err();
        assert_eq!(e.topic, Topic::Validate);
        assert!(parse(&[]).is_err());
        let e = parse(&args("validate a --help=x")).unwrap_err();
        assert_eq!(e.message, "option --help takes no value");
    }

    #[test]
    fn help_and_version_are_reachable_from_everywhere() {
        assert_eq!(parse(&args("--help")), Ok(Command::Help(Topic::Main)));
        assert_eq!(parse(&args("help run")), Ok(Command::Help(Topic::Run)));
        assert_eq!(parse(&args("run -h")), Ok(Command::Help(Topic::Run)));
        assert_eq!(
            parse(&args("validate x --help")),
            Ok(Command::Help(Topic::Validate))
        );
        assert_eq!(
            parse(&args("version --help")),
            Ok(Command::Help(Topic::Version))
        );
        assert_eq!(parse(&args("version")), Ok(Command::Version));
        assert_eq!(parse(&args("-V")), Ok(Command::Version));
        assert!(parse(&args("help nope")).is_err());
    }
}

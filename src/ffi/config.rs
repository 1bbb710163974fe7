//! The engine configuration of `steady_engine_new`: a JSON object whose keys are
//! [`EngineBuilder`] settings.
//!
//! ```json
//! {"workers": 4, "history_limit": 10000, "watch_capacity": 100000,
//!  "max_object_bytes": 1572864, "shutdown_grace_ms": 30000,
//!  "kinds": [{"apiVersion": "example.com/v1", "kind": "Cluster", "namespaced": false}],
//!  "api_server": {"bind": "127.0.0.1:6443", "tls": true, "token": "...",
//!                 "cert": "server.pem", "key": "server-key.pem"},
//!  "images": {"redis:7": {"command": ["redis-server"], "args": ["--port", "6379"],
//!                         "env": {"MODE": "x"}, "workingDir": "/srv"}},
//!  "persist": {"dir": "/var/lib/app/steady", "durability": "sync", "snapshot_every": 10000}}
//! ```
//!
//! `images` is the image table (`steady::node::images`): what each image reference runs as
//! a process when no worker is registered for it.
//!
//! `persist` keeps the engine's state across restarts in `dir` (see
//! [`EngineBuilder::persist`]): `dir` is required; `durability` is `"sync"` (the default: a
//! write returns after its log record is fsynced) or `"interval:<n>ms"` / `"interval:<n>s"`
//! (writes return at once, the log is fsynced at least that often; a crash loses at most that
//! window); `snapshot_every` is the number of log records between snapshots (default 10,000).
//!
//! `etcd` keeps the state in an etcd cluster shared with other engines (builds with the
//! `etcd` feature; see [`EngineBuilder::etcd`]): `endpoints` (client URLs) is required;
//! `prefix` (default `/steady`), `user` with `password`, `ca_file` (TLS) with `cert_file`
//! and `key_file` (a client certificate) and `timeout_ms` (default 10,000) are optional.
//! `{"etcd": {"endpoints": ["http://127.0.0.1:2379"], "prefix": "/fleet"}}`.
//!
//! `api_server` serves the Kubernetes API (builds with the `apiserver` feature; see
//! `steady::apiserver`): `bind` is required, `tls` defaults to true (a generated
//! certificate, or `cert` and `key` PEM files), `token` is generated when absent;
//! `steady_engine_kubeconfig` gives the kubeconfig.
//!
//! Every key is optional; an unknown key or a value of the wrong type is an error naming the
//! key.

use super::boundary::parse_json;
use super::kind::split;
use super::result::FfiError;
use crate::api::KindInfo;
use crate::EngineBuilder;
use serde_json::Value;
use std::time::Duration;

/// The keys `steady_engine_new` accepts, in the order error messages list them.
pub(crate) const KEYS: [&str; 10] = [
    "workers",
    "history_limit",
    "watch_capacity",
    "max_object_bytes",
    "shutdown_grace_ms",
    "kinds",
    "api_server",
    "images",
    "persist",
    "etcd",
];

fn err(key: &str, message: impl std::fmt::Display) -> FfiError {
    FfiError::invalid(format!("engine configuration: {key:?}: {message}"))
}

fn count(key: &str, v: &Value, min: u64) -> Result<usize, FfiError> {
    v.as_u64()
        .filter(|n| *n >= min)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| err(key, format!("expected an integer >= {min}, found {v}")))
}

/// The builder `config_json` describes (`None`: the embedded default).
pub(crate) fn builder(config_json: Option<&str>) -> Result<EngineBuilder, FfiError> {
    let mut b = crate::Engine::builder();
    let Some(text) = config_json else {
        return Ok(b);
    };
    let value = parse_json(text, "engine configuration")?;
    let Value::Object(map) = value else {
        return Err(FfiError::invalid(format!(
            "engine configuration: expected a JSON object, found {value}"
        )));
    };
    for (key, v) in &map {
        b = match key.as_str() {
            "workers" => b.workers(count(key, v, 1)?),
            "history_limit" => b.history_limit(count(key, v, 0)?),
            "watch_capacity" => b.watch_capacity(count(key, v, 1)?),
            "max_object_bytes" => b.max_object_bytes(count(key, v, 1)?),
            "shutdown_grace_ms" => {
                b.shutdown_grace(Duration::from_millis(count(key, v, 0)? as u64))
            }
            "kinds" => {
                let list = v
                    .as_array()
                    .ok_or_else(|| err(key, format!("expected a list, found {v}")))?;
                for (i, k) in list.iter().enumerate() {
                    b = b.kind(custom_kind(i, k)?);
                }
                b
            }
            "api_server" => api_server(b, v)?,
            "images" => b.images(crate::node::ImageTable::from_value(v).map_err(|e| err(key, e))?),
            "persist" => b.persist_with(persist(v)?),
            "etcd" => etcd(b, v)?,
            _ => {
                return Err(FfiError::invalid(format!(
                    "engine configuration: unknown key {key:?} (known keys: {})",
                    KEYS.join(", ")
                )))
            }
        };
    }
    Ok(b)
}

/// `api_server`: the Kubernetes API server's settings.
#[cfg(feature = "apiserver")]
fn api_server(b: EngineBuilder, v: &Value) -> Result<EngineBuilder, FfiError> {
    use crate::apiserver::{ApiServerConfig, Tls};
    let map = v
        .as_object()
        .ok_or_else(|| err("api_server", format!("expected an object, found {v}")))?;
    let text = |k: &str| -> Result<Option<String>, FfiError> {
        match map.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(err(
                &format!("api_server.{k}"),
                format!("expected a string, found {other}"),
            )),
        }
    };
    for k in map.keys() {
        if !matches!(k.as_str(), "bind" | "tls" | "token" | "cert" | "key") {
            return Err(err(
                &format!("api_server.{k}"),
                "unknown key (known keys: bind, tls, token, cert, key)",
            ));
        }
    }
    let bind = text("bind")?.ok_or_else(|| err("api_server.bind", "required"))?;
    let mut c = ApiServerConfig::new(bind.parse().map_err(|_| {
        err(
            "api_server.bind",
            format!("expected an address and port, as 127.0.0.1:6443, found {bind:?}"),
        )
    })?);
    c.token = text("token")?;
    let tls = match map.get("tls") {
        None => true,
        Some(t) => t
            .as_bool()
            .ok_or_else(|| err("api_server.tls", "expected true or false"))?,
    };
    c.tls = match (tls, text("cert")?, text("key")?) {
        (false, None, None) => Tls::Disabled,
        (false, _, _) => return Err(err("api_server.tls", "cert and key need tls: true")),
        (true, Some(cert), Some(key)) => Tls::Files {
            cert: cert.into(),
            key: key.into(),
        },
        (true, None, None) => Tls::Generate,
        (true, _, _) => return Err(err("api_server", "cert and key go together")),
    };
    Ok(b.api_server(c))
}

#[cfg(not(feature = "apiserver"))]
fn api_server(_: EngineBuilder, _: &Value) -> Result<EngineBuilder, FfiError> {
    Err(err(
        "api_server",
        "this build of steady does not include the API server (cargo feature apiserver)",
    ))
}

/// `persist`: the data dir and durability.
fn persist(v: &Value) -> Result<crate::store::Persist, FfiError> {
    use crate::store::{Durability, Persist};
    let map = v.as_object().ok_or_else(|| {
        err(
            "persist",
            format!(
                "expected an object as {{\"dir\": \"/path\", \"durability\": \"sync\"}}, found {v}"
            ),
        )
    })?;
    for k in map.keys() {
        if !matches!(k.as_str(), "dir" | "durability" | "snapshot_every") {
            return Err(err(
                &format!("persist.{k}"),
                "unknown key (known keys: dir, durability, snapshot_every)",
            ));
        }
    }
    let dir = match map.get("dir") {
        Some(Value::String(d)) if !d.is_empty() => d.clone(),
        Some(other) => {
            return Err(err(
                "persist.dir",
                format!("expected a directory path, found {other}"),
            ))
        }
        None => return Err(err("persist.dir", "required")),
    };
    let durability = match map.get("durability") {
        None => Durability::Sync,
        Some(Value::String(d)) => Durability::parse(d).map_err(|m| err("persist.durability", m))?,
        Some(other) => {
            return Err(err(
                "persist.durability",
                format!("expected \"sync\" or \"interval:<n>ms\", found {other}"),
            ))
        }
    };
    let mut p = Persist::new(dir, durability);
    if let Some(n) = map.get("snapshot_every") {
        p = p.snapshot_every(count("persist.snapshot_every", n, 1)? as u64);
    }
    Ok(p)
}

/// `etcd`: the etcd cluster that keeps the state (see [`EngineBuilder::etcd`]).
#[cfg(feature = "etcd")]
fn etcd(b: EngineBuilder, v: &Value) -> Result<EngineBuilder, FfiError> {
    use crate::store::etcd::EtcdConfig;
    const KNOWN: &str =
        "endpoints, prefix, user, password, ca_file, cert_file, key_file, timeout_ms";
    let map = v.as_object().ok_or_else(|| {
        err(
            "etcd",
            format!(
                "expected an object as {{\"endpoints\": [\"http://127.0.0.1:2379\"]}}, found {v}"
            ),
        )
    })?;
    let text = |k: &str| -> Result<Option<String>, FfiError> {
        match map.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(other) => Err(err(
                &format!("etcd.{k}"),
                format!("expected a string, found {other}"),
            )),
        }
    };
    for k in map.keys() {
        if !KNOWN.split(", ").any(|n| n == k) {
            return Err(err(
                &format!("etcd.{k}"),
                format!("unknown key (known keys: {KNOWN})"),
            ));
        }
    }
    let endpoints: Vec<String> = match map.get("endpoints") {
        None => return Err(err("etcd.endpoints", "required")),
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|e| match e {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                other => Err(err(
                    "etcd.endpoints",
                    format!("expected URLs, found {other}"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(err(
                "etcd.endpoints",
                format!("expected a non-empty list of client URLs, found {other}"),
            ))
        }
    };
    let mut c = EtcdConfig::default();
    if let Some(p) = text("prefix")? {
        c = c.prefix(p);
    }
    match (text("user")?, text("password")?) {
        (Some(u), Some(p)) => c = c.user(u, p),
        (None, None) => {}
        _ => return Err(err("etcd.user", "user and password go together")),
    }
    let client = match (text("cert_file")?, text("key_file")?) {
        (Some(cert), Some(key)) => Some((cert.into(), key.into())),
        (None, None) => None,
        _ => return Err(err("etcd.cert_file", "cert_file and key_file go together")),
    };
    match (text("ca_file")?, client) {
        (Some(ca), client) => c = c.tls(ca, client),
        (None, None) => {}
        (None, Some(_)) => return Err(err("etcd.ca_file", "required with cert_file and key_file")),
    }
    if let Some(ms) = map.get("timeout_ms") {
        c = c.timeout(Duration::from_millis(
            count("etcd.timeout_ms", ms, 1)? as u64
        ));
    }
    Ok(b.etcd(endpoints, c))
}

/// Without the `etcd` feature the key is refused, with how to get it.
#[cfg(not(feature = "etcd"))]
fn etcd(_: EngineBuilder, _: &Value) -> Result<EngineBuilder, FfiError> {
    Err(err(
        "etcd",
        "this build of steady does not include the etcd backend (cargo feature etcd)",
    ))
}

/// One entry of `kinds`: a custom kind registered ahead of use (for a cluster-scoped one).
fn custom_kind(i: usize, v: &Value) -> Result<KindInfo, FfiError> {
    let key = format!("kinds[{i}]");
    let map = v
        .as_object()
        .ok_or_else(|| err(&key, format!("expected an object, found {v}")))?;
    let mut api_version = None;
    let mut kind = None;
    let mut namespaced = true;
    for (k, field) in map {
        let key = format!("kinds[{i}].{k}");
        match k.as_str() {
            "apiVersion" => {
                api_version = Some(
                    field
                        .as_str()
                        .ok_or_else(|| err(&key, "expected a string"))?,
                )
            }
            "kind" => {
                kind = Some(
                    field
                        .as_str()
                        .ok_or_else(|| err(&key, "expected a string"))?,
                )
            }
            "namespaced" => {
                namespaced = field
                    .as_bool()
                    .ok_or_else(|| err(&key, "expected true or false"))?
            }
            _ => {
                return Err(err(
                    &key,
                    "unknown key (known keys: apiVersion, kind, namespaced)",
                ))
            }
        }
    }
    let api_version = api_version.ok_or_else(|| err(&format!("{key}.apiVersion"), "required"))?;
    let kind = kind.ok_or_else(|| err(&format!("{key}.kind"), "required"))?;
    split(&format!("{api_version}/{kind}")).map_err(|e| err(&key, e.message))?;
    Ok(KindInfo::dynamic(api_version, kind, namespaced))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(json: &str) -> String {
        builder(Some(json)).unwrap_err().message
    }

    #[test]
    fn every_documented_key_is_accepted() {
        let b = builder(Some(
            r#"{"workers": 2, "history_limit": 5, "watch_capacity": 10,
                "max_object_bytes": 4096, "shutdown_grace_ms": 10,
                "kinds": [{"apiVersion": "example.com/v1", "kind": "Cluster", "namespaced": false}],
                "images": {"redis:7": {"command": ["redis-server"]}}}"#,
        ))
        .unwrap();
        let engine = b.build().unwrap();
        assert_eq!(engine.store().config().history_limit, 5);
        assert_eq!(engine.store().config().watch_capacity, 10);
        assert_eq!(engine.store().config().max_object_bytes, 4096);
        let cluster = engine.store().registry().get("Cluster").unwrap();
        assert!(!cluster.namespaced);
        let images = &engine.kubelet().config().images;
        assert_eq!(images.lookup("redis:7").unwrap().command, ["redis-server"]);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        assert_eq!(
            message(r#"{"wrokers": 2}"#),
            "engine configuration: unknown key \"wrokers\" (known keys: workers, history_limit, \
             watch_capacity, max_object_bytes, shutdown_grace_ms, kinds, api_server, images, persist, \
             etcd)"
        );
        assert_eq!(
            message(r#"{"workers": 0}"#),
            "engine configuration: \"workers\": expected an integer >= 1, found 0"
        );
        assert!(message(r#"{"history_limit": "lots"}"#).contains("\"history_limit\""));
        assert!(message(r#"{"kinds": [{"kind": "Cluster"}]}"#).contains("kinds[0].apiVersion"));
        assert!(
            message(r#"{"kinds": [{"apiVersion": "x/v1", "kind": "Cluster", "scope": 1}]}"#)
                .contains("kinds[0].scope")
        );
        let bad_image = message(r#"{"images": {"redis": {"args": "x"}}}"#);
        assert!(
            bad_image.contains("\"images\"") && bad_image.contains("args"),
            "{bad_image}"
        );
        #[cfg(feature = "etcd")]
        {
            assert!(message(r#"{"etcd": {}}"#).contains("\"etcd.endpoints\": required"));
            assert!(message(r#"{"etcd": {"endpoints": []}}"#).contains("\"etcd.endpoints\""));
            assert!(message(r#"{"etcd": {"endpoints": ["x"], "user": "u"}}"#)
                .contains("user and password go together"));
            assert!(
                message(r#"{"etcd": {"endpoints": ["x"], "cert_file": "c"}}"#)
                    .contains("cert_file and key_file go together")
            );
            assert!(message(r#"{"etcd": {"endpoints": ["x"], "tls": true}}"#)
                .contains("\"etcd.tls\": unknown key"));
        }
        #[cfg(not(feature = "etcd"))]
        assert!(message(r#"{"etcd": {"endpoints": ["x"]}}"#).contains("cargo feature etcd"));
        assert!(message(r#"{"persist": "/tmp/x"}"#).contains("\"persist\": expected an object"));
        assert!(message(r#"{"persist": {}}"#).contains("\"persist.dir\": required"));
        assert!(
            message(r#"{"persist": {"dir": "/tmp/x", "durability": "fast"}}"#)
                .contains("\"persist.durability\": expected \"sync\" or \"interval:<n>ms\"")
        );
        assert!(message(r#"{"persist": {"dir": "/tmp/x", "fsync": true}}"#)
            .contains("\"persist.fsync\": unknown key"));
        assert!(
            message(r#"{"persist": {"dir": "/tmp/x", "snapshot_every": 0}}"#)
                .contains("persist.snapshot_every")
        );
        assert!(message("[1]").contains("expected a JSON object"));
        assert!(message("{").contains("malformed JSON"));
    }
}

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
pub(crate) const KEYS: [&str; 9] = [
    "workers",
    "history_limit",
    "watch_capacity",
    "max_object_bytes",
    "shutdown_grace_ms",
    "kinds",
    "api_server",
    "images",
    "persist",
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
             watch_capacity, max_object_bytes, shutdown_grace_ms, kinds, api_server, images, persist)"
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

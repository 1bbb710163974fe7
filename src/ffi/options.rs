//! Option objects given as JSON: delete options (Kubernetes `DeleteOptions`) and controller
//! options. Unknown keys and values of the wrong type are errors naming the key.

use super::boundary::parse_json;
use super::kind;
use super::result::FfiError;
use crate::api::Selector;
use crate::runtime::Controller;
use crate::store::{DeleteParams, Propagation};
use crate::Engine;
use serde_json::{Map, Value};

fn object<'a>(what: &str, v: &'a Value) -> Result<&'a Map<String, Value>, FfiError> {
    v.as_object()
        .ok_or_else(|| FfiError::invalid(format!("{what}: expected a JSON object, found {v}")))
}

fn string<'a>(what: &str, key: &str, v: &'a Value) -> Result<&'a str, FfiError> {
    v.as_str()
        .ok_or_else(|| FfiError::invalid(format!("{what}: {key:?}: expected a string, found {v}")))
}

/// Kubernetes `DeleteOptions`: `{"propagationPolicy": "Background" | "Foreground" |
/// "Orphan", "preconditions": {"uid", "resourceVersion"}, "gracePeriodSeconds": n}`.
pub(crate) fn delete_params(text: Option<&str>) -> Result<DeleteParams, FfiError> {
    const WHAT: &str = "delete options";
    let mut p = DeleteParams::default();
    let Some(text) = text else { return Ok(p) };
    let v = parse_json(text, WHAT)?;
    for (key, v) in object(WHAT, &v)? {
        match key.as_str() {
            "propagationPolicy" => {
                p.propagation = match string(WHAT, key, v)? {
                    "Background" => Propagation::Background,
                    "Foreground" => Propagation::Foreground,
                    "Orphan" => Propagation::Orphan,
                    other => {
                        return Err(FfiError::invalid(format!(
                            "{WHAT}: \"propagationPolicy\": {other:?} is not one of \
                             Background, Foreground, Orphan"
                        )))
                    }
                }
            }
            "preconditions" => {
                for (k, v) in object(&format!("{WHAT}: \"preconditions\""), v)? {
                    match k.as_str() {
                        "uid" => p.uid = Some(string(WHAT, "preconditions.uid", v)?.to_string()),
                        "resourceVersion" => {
                            p.resource_version =
                                Some(string(WHAT, "preconditions.resourceVersion", v)?.to_string())
                        }
                        _ => {
                            return Err(FfiError::invalid(format!(
                                "{WHAT}: unknown key \"preconditions.{k}\" (known keys: uid, \
                                 resourceVersion)"
                            )))
                        }
                    }
                }
            }
            "gracePeriodSeconds" => {
                p.grace_period_seconds = Some(v.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                    FfiError::invalid(format!(
                        "{WHAT}: \"gracePeriodSeconds\": expected an integer >= 0, found {v}"
                    ))
                })?)
            }
            _ => {
                return Err(FfiError::invalid(format!(
                    "{WHAT}: unknown key {key:?} (known keys: propagationPolicy, \
                     preconditions, gracePeriodSeconds)"
                )))
            }
        }
    }
    Ok(p)
}

/// Controller options: `{"owns": ["ConfigMap", "example.com/v1/Part"], "namespace": "..",
/// "selector": "app=web", "concurrency": n}` applied to `c`.
/// Owned kinds are named as everywhere (see [`kind`]); a custom one is registered on
/// `engine` so the controller can watch it.
pub(crate) fn controller(
    engine: &Engine,
    mut c: Controller,
    text: Option<&str>,
) -> Result<Controller, FfiError> {
    const WHAT: &str = "controller options";
    let Some(text) = text else { return Ok(c) };
    let v = parse_json(text, WHAT)?;
    for (key, v) in object(WHAT, &v)? {
        c = match key.as_str() {
            "owns" => {
                let kinds = v.as_array().ok_or_else(|| {
                    FfiError::invalid(format!(
                        "{WHAT}: \"owns\": expected a list of kinds, found {v}"
                    ))
                })?;
                for k in kinds {
                    let api = kind::resolve(engine, string(WHAT, "owns", k)?)?;
                    c = c.owns(&api.info().kind);
                }
                c
            }
            "namespace" => c.namespace(string(WHAT, key, v)?),
            "selector" => {
                let s = Selector::parse(string(WHAT, key, v)?)
                    .map_err(|e| FfiError::invalid(format!("{WHAT}: \"selector\": {e}")))?;
                c.selector(s)
            }
            "concurrency" => {
                let n = v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                    FfiError::invalid(format!(
                        "{WHAT}: \"concurrency\": expected an integer >= 1, found {v}"
                    ))
                })?;
                c.concurrency(usize::try_from(n).unwrap_or(usize::MAX))
            }
            _ => {
                return Err(FfiError::invalid(format!(
                    "{WHAT}: unknown key {key:?} (known keys: owns, namespace, selector, \
                     concurrency)"
                )))
            }
        };
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::KindInfo;

    #[test]
    fn delete_options_map_to_delete_params() {
        let p = delete_params(Some(
            r#"{"propagationPolicy": "Foreground", "gracePeriodSeconds": 5,
                "preconditions": {"uid": "u-1", "resourceVersion": "7"}}"#,
        ))
        .unwrap();
        assert_eq!(p.propagation, Propagation::Foreground);
        assert_eq!(p.grace_period_seconds, Some(5));
        assert_eq!(p.uid.as_deref(), Some("u-1"));
        assert_eq!(p.resource_version.as_deref(), Some("7"));
        assert_eq!(delete_params(None).unwrap(), DeleteParams::default());
    }

    #[test]
    fn bad_delete_options_name_the_key() {
        let m = |t: &str| delete_params(Some(t)).unwrap_err().message;
        assert!(m(r#"{"propagation": "Orphan"}"#).contains("unknown key \"propagation\""));
        assert!(m(r#"{"propagationPolicy": "Later"}"#).contains("\"Later\" is not one of"));
        assert!(m(r#"{"preconditions": {"generation": 1}}"#).contains("preconditions.generation"));
        assert!(m(r#"{"gracePeriodSeconds": -1}"#).contains("gracePeriodSeconds"));
    }

    #[test]
    fn bad_controller_options_name_the_key() {
        let e = Engine::builder()
            .workers(1)
            .kind(KindInfo::dynamic("example.com/v1", "Widget", true))
            .kind(KindInfo::dynamic("example.com/v1", "Part", true))
            .build()
            .unwrap();
        let c = || Controller::new("c", "example.com/v1", "Widget");
        let m = |t: &str| controller(&e, c(), Some(t)).unwrap_err().message;
        assert!(m(r#"{"own": []}"#).contains("unknown key \"own\""));
        assert!(m(r#"{"selector": "a in ("}"#).contains("invalid label selector"));
        assert!(m(r#"{"concurrency": 0}"#).contains("concurrency"));
        assert!(m(r#"{"owns": ["pods"]}"#).contains("kind \"pods\""));
        let ok = controller(
            &e,
            c(),
            Some(
                r#"{"owns": ["ConfigMap", "example.com/v1/Part"], "concurrency": 2,
                     "namespace": "x", "selector": "a=b"}"#,
            ),
        )
        .unwrap();
        assert_eq!(ok.concurrency, 2);
        // An owned kind the engine does not serve is refused, naming it.
        let unserved = controller(&e, c(), Some(r#"{"owns": ["example.com/v1/Bolt"]}"#))
            .unwrap_err()
            .message;
        assert!(
            unserved.contains("no matches for kind \"Bolt\""),
            "{unserved}"
        );
    }
}

//! Requests: authentication, routing of kube-apiserver's paths, and the verbs.
//!
//! Paths: `/api/v1/...` (the core group) and `/apis/<group>/<version>/...`, then
//! `[namespaces/<ns>/]<resource>[/<name>[/<subresource>]]`. Every verb goes through the
//! dynamic client API, exactly as an in-process caller's would.

use super::managed::{self, Lists, Part, Writer};
use super::resources::{self, Resource};
use super::status::{failure, of_error};
use super::{constant_time_eq, metrics_api, openapi, table, Body, Shared};

/// The resource metrics API's group (metrics-server's).
const METRICS_GROUP: &str = "metrics.k8s.io";
use crate::api::{Object, Selector};
use crate::client::{DeleteParams, DynamicApi, ListParams, PatchType, Propagation, WatchParams};
use crate::error::Error;
use crate::manifest::fields;
use crate::store::{Deleted, TxnOp, WatchEvent};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A response body fed from a channel: watches and followed logs.
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    let mut r = Response::new(full(serde_json::to_vec(v).expect("JSON values serialize")));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// An object as the response body, encoded straight from the object when the apiVersion
/// asked for is the one it carries (always, but for a custom kind's other served versions).
fn object_response(code: u16, obj: &dyn Object, api_version: &str) -> Response<Body> {
    if obj.api_version() != api_version {
        return json_response(code, &wire(obj, api_version));
    }
    let mut r = Response::new(full(obj.to_json()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn fail(code: u16, reason: &str, message: &str) -> Response<Body> {
    json_response(code, &failure(code, reason, message))
}

fn error(e: &Error, plural: Option<&str>) -> Response<Body> {
    let (code, s) = of_error(e, plural);
    json_response(code, &s)
}

/// The answer to `POST .../pods/NAME/eviction`, in kube-apiserver's words: 201 Success;
/// 429 TooManyRequests with a `DisruptionBudget` cause when a budget refuses; 500 for a pod
/// that several budgets select; 403 for a budget that forbids evictions.
fn eviction_response(
    store: &crate::store::Store,
    namespace: &str,
    name: &str,
    params: &crate::store::DeleteParams,
    dry: bool,
    plural: &str,
) -> Response<Body> {
    use crate::api::policy::{DISRUPTION_BUDGET_CAUSE, EVICTION_REFUSED, MULTIPLE_BUDGETS};
    use crate::client::eviction::{evict, Refused};
    match evict(store, namespace, name, params, dry) {
        Ok(_) => json_response(
            201,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                    "status": "Success", "code": 201}),
        ),
        Err(Refused::Budget { cause }) => {
            let mut s = failure(429, "TooManyRequests", EVICTION_REFUSED);
            s["details"] =
                json!({"causes": [{"reason": DISRUPTION_BUDGET_CAUSE, "message": cause}]});
            json_response(429, &s)
        }
        Err(Refused::MultipleBudgets) => fail(
            500,
            "InternalError",
            &format!("Internal error occurred: {MULTIPLE_BUDGETS}"),
        ),
        Err(Refused::Forbidden { budget, message }) => fail(
            403,
            "Forbidden",
            &format!("poddisruptionbudgets.policy {budget:?} is forbidden: {message}"),
        ),
        Err(Refused::Error(e)) => error(&e, Some(plural)),
    }
}

/// An object as the wire carries it, in the apiVersion it was asked for.
pub(crate) fn wire(obj: &dyn Object, api_version: &str) -> Value {
    let mut v = obj.to_value();
    if let Some(m) = v.as_object_mut() {
        m.insert("apiVersion".into(), api_version.into());
        m.insert("kind".into(), obj.kind().into());
    }
    v
}

/// What a resource path names.
#[derive(Clone, Debug, Default)]
struct Target {
    api_version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
    subresource: Option<String>,
}

/// Parses `[namespaces/<ns>/]<resource>[/<name>[/<sub>]]` after the group-version prefix.
fn target(api_version: &str, rest: &[&str]) -> Option<Target> {
    let t = |ns: Option<&str>, r: &[&str]| -> Option<Target> {
        let plural = (*r.first()?).to_string();
        if r.len() > 3 {
            return None;
        }
        Some(Target {
            api_version: api_version.to_string(),
            namespace: ns.map(str::to_string),
            plural,
            name: r.get(1).map(|s| s.to_string()),
            subresource: r.get(2).map(|s| s.to_string()),
        })
    };
    match rest {
        // A Namespace object itself (and its status/finalize subresources).
        ["namespaces"] | ["namespaces", _] => t(None, rest),
        ["namespaces", _, "status" | "finalize"] => t(None, rest),
        ["namespaces", ns, r @ ..] if !r.is_empty() => t(Some(ns), r),
        _ => t(None, rest),
    }
}

fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn wants_table(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

/// Serves one request.
pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let authorized = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), shared.token.as_bytes()));
    if !authorized {
        return fail(401, "Unauthorized", "Unauthorized");
    }
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let store = &shared.store;
    let get = req.method() == Method::GET;
    match segments.as_slice() {
        ["version"] if get => json_response(
            200,
            &json!({"major": "1", "minor": "32", "gitVersion": concat!("v1.32.0-steady.", env!("CARGO_PKG_VERSION")),
                    "gitCommit": "", "gitTreeState": "clean", "buildDate": "", "goVersion": "",
                    "compiler": "rustc", "platform": format!("{}/{}", std::env::consts::OS, go_arch())}),
        ),
        ["healthz"] | ["livez"] | ["readyz"] if get => {
            let mut r = Response::new(full("ok"));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r
        }
        ["metrics"] if get => {
            let text = crate::runtime::render_prometheus(&shared.metrics.snapshot());
            let mut r = Response::new(full(text));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        ["api"] if get => json_response(200, &resources::core_versions()),
        ["apis"] if get => json_response(200, &resources::group_list(store)),
        ["apis", group] if get => match resources::group(store, group) {
            Some(g) => json_response(200, &g),
            None => fail(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        },
        // `kubectl auth can-i`: the one token steady serves may do everything, and says so.
        ["apis", "authorization.k8s.io", "v1", review @ ("selfsubjectaccessreviews" | "selfsubjectrulesreviews")]
            if req.method() == Method::POST =>
        {
            let review = review.to_string();
            let mut body = match body_of(&shared, req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            if !body.is_object() {
                return fail(400, "BadRequest", "the review is not an object");
            }
            let why = "steady serves one bearer token, which may do everything";
            body["status"] = if review == "selfsubjectaccessreviews" {
                json!({"allowed": true, "reason": why})
            } else {
                json!({"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                       "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                       "incomplete": false})
            };
            json_response(201, &body)
        }
        // `kubectl autoscale` posts autoscaling/v1, whose shape (a single CPU target) steady
        // does not convert: the 404 says what to send instead.
        ["apis", "autoscaling", "v1", ..] => fail(
            404,
            "NotFound",
            "the server could not find the requested resource: steady serves \
             HorizontalPodAutoscalers as autoscaling/v2 only (kubectl autoscale sends \
             autoscaling/v1): apply an autoscaling/v2 HorizontalPodAutoscaler instead",
        ),
        ["apis", METRICS_GROUP] if get => match resources::group(store, METRICS_GROUP) {
            Some(g) => json_response(200, &g),
            None => not_found(),
        },
        ["apis", METRICS_GROUP, "v1beta1"] if get => {
            json_response(200, &metrics_api::resource_list())
        }
        ["apis", METRICS_GROUP, "v1beta1", rest @ ..] if get => {
            // `kubectl top pod|node -l ...`: the selector picks the pods or nodes.
            let q = query(&req);
            let selector = match label_selector(&q) {
                Ok(sel) => sel,
                Err(resp) => return resp,
            };
            let (samples, sel) = (&shared.samples, selector.as_ref());
            let (found, missing) = match rest {
                ["pods"] => (
                    metrics_api::pods(&shared, samples, None, None, sel).await,
                    None,
                ),
                ["namespaces", ns, "pods"] => (
                    metrics_api::pods(&shared, samples, Some(ns), None, sel).await,
                    None,
                ),
                ["namespaces", ns, "pods", name] => (
                    metrics_api::pods(&shared, samples, Some(ns), Some(name), sel).await,
                    Some(format!(
                        "podmetrics.metrics.k8s.io \"{ns}/{name}\" not found"
                    )),
                ),
                ["nodes"] => (metrics_api::nodes(&shared, samples, None, sel).await, None),
                ["nodes", name] => (
                    metrics_api::nodes(&shared, samples, Some(name), sel).await,
                    Some(format!("nodemetrics.metrics.k8s.io \"{name}\" not found")),
                ),
                _ => (None, None),
            };
            match (found, missing) {
                (Some(v), _) => json_response(200, &v),
                // As metrics-server says it, so `kubectl top pod nope` reads as usual.
                (None, Some(message)) => fail(404, "NotFound", &message),
                (None, None) => not_found(),
            }
        }
        ["api", "v1"] if get => discovery(store, "v1"),
        ["apis", g, v] if get => discovery(store, &format!("{g}/{v}")),
        ["openapi", "v3"] if get => json_response(200, &openapi::root(store)),
        ["openapi", "v3", rest @ ..] if get => match openapi::document(store, &rest.join("/")) {
            Some(d) => json_response(200, &d),
            None => fail(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        },
        ["api", "v1", rest @ ..] => match target("v1", rest) {
            Some(t) => resource_request(shared.clone(), req, t).await,
            None => not_found(),
        },
        ["apis", g, v, rest @ ..] => match target(&format!("{g}/{v}"), rest) {
            Some(t) => resource_request(shared.clone(), req, t).await,
            None => not_found(),
        },
        _ => not_found(),
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn not_found() -> Response<Body> {
    fail(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

fn discovery(store: &crate::store::Store, api_version: &str) -> Response<Body> {
    match resources::resource_list(store, api_version) {
        Some(l) => json_response(200, &l),
        None => not_found(),
    }
}

async fn body_of(shared: &Shared, req: Request<Incoming>) -> Result<Value, Response<Body>> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("");
    let protobuf = content_type.starts_with("application/vnd.kubernetes.protobuf");
    let yaml = content_type.starts_with("application/apply-patch+yaml")
        || content_type.starts_with("application/yaml");
    let bytes = match Limited::new(req.into_body(), shared.max_body)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return Err(fail(
                413,
                "RequestEntityTooLarge",
                &format!("the request body is over {} bytes", shared.max_body),
            ))
        }
    };
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    if protobuf {
        return super::protobuf::decode(&bytes).map_err(|e| match e {
            super::protobuf::Error::Malformed(_) => fail(400, "BadRequest", &e.to_string()),
            super::protobuf::Error::Unsupported(_) => fail(
                415,
                "UnsupportedMediaType",
                &format!("the body of the request was in an unknown format: {e}"),
            ),
        });
    }
    match serde_json::from_slice(&bytes) {
        Ok(v) => Ok(v),
        Err(e) if !yaml => Err(fail(
            400,
            "BadRequest",
            &format!("the body is not JSON: {e}"),
        )),
        Err(_) => {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| fail(400, "BadRequest", "the YAML body is not UTF-8"))?;
            let docs = crate::manifest::parse::parse_documents(text)
                .map_err(|e| fail(400, "BadRequest", &format!("the body is not YAML: {e}")))?;
            match <[_; 1]>::try_from(docs) {
                Ok([doc]) => Ok(doc.value),
                Err(docs) => Err(fail(
                    400,
                    "BadRequest",
                    &format!("the body holds {} documents, not one object", docs.len()),
                )),
            }
        }
    }
}

/// What `fieldValidation` asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Validation {
    Ignore,
    Warn,
    Strict,
}

fn validation(q: &HashMap<String, String>) -> Result<Validation, Response<Body>> {
    match q.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Warn") => Ok(Validation::Warn),
        Some("Strict") => Ok(Validation::Strict),
        Some("Ignore") => Ok(Validation::Ignore),
        Some(other) => Err(fail(
            400,
            "BadRequest",
            &format!("fieldValidation: unsupported value {other:?}: Ignore, Warn or Strict"),
        )),
    }
}

/// A decoded object ready to write, with the warnings about its fields.
type Checked = (Arc<dyn Object>, Vec<String>);

/// Decodes `input` (an object of `r` as the client sent it) and checks its fields as
/// `fieldValidation` asks: Strict refuses unknown fields, those Kubernetes does not define
/// either; Warn (the default) returns them, with the fields kept but not implemented (among
/// them the Kubernetes fields steady does not model), as `Warning` headers. Returns the decoded
/// object, ready to write (decoded once), and the warnings.
fn decode_checked(
    r: &Resource,
    api: &DynamicApi,
    input: Value,
    how: Validation,
) -> Result<Checked, Response<Body>> {
    if how == Validation::Ignore {
        let obj = api
            .decode(input)
            .map_err(|e| error(&e, Some(&r.info.plural)))?;
        return Ok((obj, Vec::new()));
    }
    let mut input = input;
    let obj = api
        .decode_ref(&mut input)
        .map_err(|e| error(&e, Some(&r.info.plural)))?;
    // The API server keeps managedFields itself ([`managed`]): never an unknown field here.
    if let Some(meta) = input.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    let warnings = fields::warnings(&r.info, &input, obj.as_ref());
    // A field steady does not model is either Kubernetes' (`dnsPolicy`: kept, warned as not
    // implemented, never refused) or nobody's (a misspelling: refused under Strict, which
    // kubectl sends by default, and reported as kube-apiserver reports it under Warn).
    let kind = &r.info.kind;
    let foreign = |w: &fields::FieldWarning| {
        w.message == fields::UNKNOWN_FIELD
            && super::protobuf::kubernetes_field(kind, &w.path) != Some(true)
    };
    if how == Validation::Strict {
        let unknown: Vec<String> = warnings
            .iter()
            .filter(|w| foreign(w))
            .map(|w| format!("unknown field {:?}", w.path))
            .collect();
        if !unknown.is_empty() {
            return Err(fail(
                400,
                "BadRequest",
                &format!("strict decoding error: {}", unknown.join(", ")),
            ));
        }
    }
    let warnings = warnings
        .iter()
        .map(|w| {
            if foreign(w) {
                format!("unknown field {:?}", w.path)
            } else if w.message == fields::UNKNOWN_FIELD {
                format!("{}: kept but not implemented by steady", w.path)
            } else {
                format!("{}: {}", w.path, w.message)
            }
        })
        .collect();
    Ok((obj, warnings))
}

fn with_warnings(mut r: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        let text = format!("299 - {:?}", w);
        if let Ok(h) = HeaderValue::from_str(&text) {
            r.headers_mut().append("Warning", h);
        }
    }
    r
}

async fn resource_request(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    t: Target,
) -> Response<Body> {
    let store = &shared.store;
    let Some(r) = resources::find(store, &t.api_version, &t.plural) else {
        return not_found();
    };
    let mut api = match DynamicApi::new(store.clone(), &r.info.api_version, &r.info.kind) {
        Ok(a) => a,
        Err(e) => return error(&e, Some(&t.plural)),
    };
    if r.info.namespaced {
        if let Some(ns) = &t.namespace {
            api = api.namespace(ns);
        }
    } else if t.namespace.is_some() {
        return not_found();
    }
    let q = query(&req);
    // Server-side dry run: every check a write makes, nothing committed.
    let dry = match q.get("dryRun").map(String::as_str) {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return fail(
                400,
                "BadRequest",
                &format!("dryRun: Unsupported value: {other:?}: supported values: \"All\""),
            )
        }
    };
    let plural = r.info.plural.clone();
    let method = req.method().clone();
    let table = wants_table(&req);
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("")
        .to_string();
    let manager = field_manager(&req, &q);
    let lists = if r.info.is_dynamic() {
        Lists::Atomic
    } else {
        Lists::BuiltIn
    };
    let now = store.config().clock.now();
    let writer = |part| Writer {
        manager: &manager,
        api_version: &r.api_version,
        part,
        lists,
        now,
    };
    if q.contains_key("force") && !content_type.starts_with("application/apply-patch") {
        return fail(
            422,
            "Invalid",
            "force: Forbidden: may not be specified for non-apply patch",
        );
    }
    match (method, t.name.as_deref(), t.subresource.as_deref()) {
        (Method::GET, None, None) if is_true(q.get("watch")) => {
            watch(&shared, &r, &t, &q, table)
        }
        // A list of a large kind is many milliseconds of CPU: it runs on the runtime's
        // blocking threads, and the other connections of this serving thread go on.
        (Method::GET, None, None) if store.count(&r.info.kind) >= LARGE_LIST => {
            let (shared, r, t, q) = (shared.clone(), r.clone(), t.clone(), q.clone());
            tokio::task::spawn_blocking(move || list(&shared, &r, &t, &q, table))
                .await
                .unwrap_or_else(|e| fail(500, "InternalError", &format!("the list failed: {e}")))
        }
        (Method::GET, None, None) => list(&shared, &r, &t, &q, table),
        (Method::GET, Some(name), None) => match api.get(name) {
            Ok(o) if table => json_response(
                200,
                &table::table(
                    &r,
                    &[o.clone() as Arc<dyn Object>],
                    store.config().clock.now(),
                    o.metadata.resource_version.as_deref().unwrap_or(""),
                    q.get("includeObject").map(String::as_str) == Some("Object"),
                    None,
                ),
            ),
            Ok(o) => object_response(200, o.as_ref(), &r.api_version),
            Err(e) => error(&e, Some(&plural)),
        },
        (Method::GET, Some(name), Some("status")) => match api.get(name) {
            Ok(o) => object_response(200, o.as_ref(), &r.api_version),
            Err(e) => error(&e, Some(&plural)),
        },
        (Method::GET, Some(name), Some("scale")) => scale_of(&api, &r, name),
        (Method::GET, Some(name), Some("log")) if r.info.kind == "Pod" => {
            logs(&shared, t.namespace.as_deref().unwrap_or("default"), name, &q)
        }
        (Method::POST, None, None) => {
            let (mut body, how) = match object_body(&shared, req, &r, &t, &q).await {
                Ok(x) => x,
                Err(resp) => return resp,
            };
            managed::track_update(None, &mut body, writer(Part::Main));
            let (obj, warnings) = match decode_checked(&r, &api, body, how) {
                Ok(x) => x,
                Err(resp) => return resp,
            };
            let res = if dry {
                store
                    .dry_run(&TxnOp::Create(obj))
                    .map(|o| o.expect("a create writes an object"))
            } else {
                store.create(obj)
            };
            match res {
                Ok(o) => with_warnings(object_response(201, o.as_ref(), &r.api_version), &warnings),
                Err(e) => error(&e, Some(&plural)),
            }
        }
        (Method::PUT, Some(name), sub @ (None | Some("status"))) => {
            let (mut body, how) = match object_body(&shared, req, &r, &t, &q).await {
                Ok(x) => x,
                Err(resp) => return resp,
            };
            if body.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
                return fail(
                    400,
                    "BadRequest",
                    "the name of the object does not match the name on the URL",
                );
            }
            let part = if sub == Some("status") {
                Part::Status
            } else {
                Part::Main
            };
            // Straight from the store: a DynamicApi read would convert the typed object to a
            // dynamic one first, only for it to become JSON again here.
            let live = store
                .get(&r.info.kind, api.ns(), name)
                .ok()
                .map(|o| o.to_value());
            managed::track_update(live.as_ref(), &mut body, writer(part));
            let (obj, warnings) = match decode_checked(&r, &api, body, how) {
                Ok(x) => x,
                Err(resp) => return resp,
            };
            let res = match (dry, sub == Some("status")) {
                (true, status) => {
                    let op = if status {
                        TxnOp::UpdateStatus(obj)
                    } else {
                        TxnOp::Update(obj)
                    };
                    store.dry_run(&op).map(|o| o.expect("an update keeps an object"))
                }
                (false, true) => store.update_status(obj.as_ref()),
                (false, false) => store.update(obj),
            };
            match res {
                Ok(o) => with_warnings(object_response(200, o.as_ref(), &r.api_version), &warnings),
                Err(e) => error(&e, Some(&plural)),
            }
        }
        (Method::PATCH, Some(name), sub @ (None | Some("status") | Some("scale"))) => {
            let how = if content_type.starts_with("application/json-patch+json") {
                PatchType::Json
            } else if content_type.starts_with("application/merge-patch+json") {
                PatchType::Merge
            } else if content_type.starts_with("application/strategic-merge-patch+json") {
                if r.info.is_dynamic() {
                    return fail(
                        415,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types \
                         for a custom kind: application/json-patch+json, application/merge-patch+json, \
                         application/apply-patch+yaml",
                    );
                }
                PatchType::Strategic
            } else if content_type.starts_with("application/apply-patch") {
                let how = match validation(&q) {
                    Ok(h) => h,
                    Err(resp) => return resp,
                };
                let cfg = match body_of(&shared, req).await {
                    Ok(b) => b,
                    Err(resp) => return resp,
                };
                let force = match q.get("force").map(String::as_str) {
                    None | Some("false") => false,
                    Some("true") => true,
                    Some(other) => {
                        return fail(400, "BadRequest", &format!("force: invalid value {other:?}"))
                    }
                };
                let explicit = q.get("fieldManager").is_some_and(|m| !m.is_empty());
                return server_side_apply(
                    &shared, &api, &r, &t, name, cfg, force, dry, how, explicit,
                    writer(match sub {
                        Some("status") => Part::Status,
                        Some("scale") => Part::Scale,
                        _ => Part::Main,
                    }),
                );
            } else {
                return fail(
                    415,
                    "UnsupportedMediaType",
                    &format!("unsupported patch type {content_type:?}"),
                );
            };
            let patch = match body_of(&shared, req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            if sub == Some("scale") {
                if dry {
                    return fail(400, "BadRequest", "dryRun is not supported on the scale subresource");
                }
                return patch_scale(&api, &r, name, how, &patch, writer(Part::Scale));
            }
            let part = if sub == Some("status") {
                Part::Status
            } else {
                Part::Main
            };
            let w = writer(part);
            guaranteed_update(store, &api, &r, name, part, dry, None, |live| {
                let Some(live) = live else {
                    let object = crate::ObjectRef::new(
                        &r.info.kind,
                        t.namespace.as_deref().filter(|_| r.info.namespaced),
                        name,
                    );
                    return Err(error(&Error::NotFound { object }, Some(&plural)));
                };
                let mut v = live.clone();
                how.apply(&mut v, &patch).map_err(|e| {
                    fail(422, "Invalid", &format!("the patch cannot be applied: {e}"))
                })?;
                managed::track_update(Some(live), &mut v, w);
                Ok(v)
            })
        }
        (Method::PUT, Some(name), Some("scale")) => {
            let body = match body_of(&shared, req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            let replicas = body.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
            patch_scale(
                &api,
                &r,
                name,
                PatchType::Merge,
                &json!({"spec": {"replicas": replicas}}),
                writer(Part::Scale),
            )
        }
        (Method::POST, Some(name), Some("binding")) if r.info.kind == "Pod" => {
            let body = match body_of(&shared, req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            bind_pod(store, t.namespace.as_deref(), name, &body, dry)
        }
        (Method::POST, Some(name), Some("eviction")) if r.info.kind == "Pod" => {
            let body = match body_of(&shared, req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            if body.pointer("/metadata/name").and_then(Value::as_str).is_some_and(|n| n != name) {
                return fail(400, "BadRequest", "the name of the eviction does not match the pod's");
            }
            let options = body.get("deleteOptions").cloned().unwrap_or(Value::Null);
            let params = match delete_params(&q, &options) {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            let dry = dry || body_dry_run(&options);
            let ns = t.namespace.as_deref().unwrap_or("default");
            eviction_response(store, ns, name, &params, dry, &plural)
        }
        (Method::DELETE, Some(name), None) => {
            let (params, dry) = match delete_request(&shared, req, &q, dry).await {
                Ok(x) => x,
                Err(resp) => return resp,
            };
            if dry {
                let op = TxnOp::Delete {
                    kind: r.info.kind.clone(),
                    namespace: t.namespace.clone().filter(|_| r.info.namespaced),
                    name: name.to_string(),
                    params,
                };
                return match store.dry_run(&op) {
                    Ok(Some(o)) => object_response(200, o.as_ref(), &r.api_version),
                    Ok(None) => not_found(),
                    Err(e) => error(&e, Some(&plural)),
                };
            }
            match api.delete(name, &params) {
                Ok(Deleted::Gone(o)) | Ok(Deleted::Pending(o)) => {
                    object_response(200, o.as_ref(), &r.api_version)
                }
                Err(e) => error(&e, Some(&plural)),
            }
        }
        (Method::DELETE, None, None) => {
            let (params, dry) = match delete_request(&shared, req, &q, dry).await {
                Ok(x) => x,
                Err(resp) => return resp,
            };
            let items = match select(&shared, &r, &t, &q) {
                Ok((items, _)) => items,
                Err(resp) => return resp,
            };
            let mut gone = Vec::new();
            if dry {
                let items: Vec<Value> = items.iter().map(|o| wire(o.as_ref(), &r.api_version)).collect();
                return json_response(
                    200,
                    &json!({"kind": format!("{}List", r.info.kind), "apiVersion": r.api_version,
                            "metadata": {}, "items": items}),
                );
            }
            for o in items {
                let ns_api = match o.meta().namespace.as_deref() {
                    Some(ns) => api.namespace(ns),
                    None => api.clone(),
                };
                match ns_api.delete(&o.meta().name, &params) {
                    Ok(Deleted::Gone(d)) | Ok(Deleted::Pending(d)) => {
                        gone.push(wire(d.as_ref(), &r.api_version))
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return error(&e, Some(&plural)),
                }
            }
            json_response(
                200,
                &json!({"kind": format!("{}List", r.info.kind), "apiVersion": r.api_version,
                        "metadata": {}, "items": gone}),
            )
        }
        (_, _, Some(sub @ ("exec" | "attach" | "portforward" | "proxy"))) => fail(
            501,
            "NotImplemented",
            &format!("{sub} is not served by steady: its workers are host processes, reach them directly"),
        ),
        // `kubectl debug` adds an ephemeral container.
        (_, _, Some("ephemeralcontainers")) if r.info.kind == "Pod" => fail(
            501,
            "NotImplemented",
            "ephemeralcontainers is not served by steady (kubectl debug): its workers are host processes, reach them directly",
        ),
        _ => fail(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"),
    }
}

/// The object a create or update carries, its namespace checked against the URL's, and the
/// field validation asked for.
async fn object_body(
    shared: &Shared,
    req: Request<Incoming>,
    r: &Resource,
    t: &Target,
    q: &HashMap<String, String>,
) -> Result<(Value, Validation), Response<Body>> {
    let how = validation(q)?;
    let mut body = body_of(shared, req).await?;
    namespace_matches(r, t, &mut body)?;
    Ok((body, how))
}

/// The DeleteOptions of a DELETE (body, else query), and whether it is a dry run (the
/// query's `dryRun`, or the body's).
async fn delete_request(
    shared: &Shared,
    req: Request<Incoming>,
    q: &HashMap<String, String>,
    dry: bool,
) -> Result<(DeleteParams, bool), Response<Body>> {
    let body = body_of(shared, req).await?;
    let params = delete_params(q, &body)?;
    Ok((params, dry || body_dry_run(&body)))
}

/// True when DeleteOptions ask for a dry run (`"dryRun": ["All"]`).
fn body_dry_run(options: &Value) -> bool {
    options
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|d| !d.is_empty())
}

/// The field manager a write is recorded under: `fieldManager`, else the client's
/// User-Agent up to its first `/` (`kubectl`), as kube-apiserver names it; at most 128
/// characters.
fn field_manager(req: &Request<Incoming>, q: &HashMap<String, String>) -> String {
    let m = match q.get("fieldManager").filter(|m| !m.is_empty()) {
        Some(m) => m.clone(),
        None => req
            .headers()
            .get(hyper::header::USER_AGENT)
            .and_then(|u| u.to_str().ok())
            .and_then(|u| u.split('/').next())
            .filter(|u| !u.is_empty())
            .unwrap_or("unknown")
            .to_string(),
    };
    m.chars().take(128).collect()
}

/// Read, compute, write with a compare-and-swap against what was read, again from the read
/// when another writer got there first (kube-apiserver's guaranteed update). `compute` gets
/// the stored object as JSON (`None` when there is none: what it returns is then created,
/// 201) and returns the object to write, or the response that ends the request. With
/// `dry`, every check of the write is made and nothing is written. `validate` checks the
/// written object's fields as a create or update would, and adds their warnings.
#[allow(clippy::too_many_arguments)]
fn guaranteed_update(
    store: &crate::store::Store,
    api: &DynamicApi,
    r: &Resource,
    name: &str,
    part: Part,
    dry: bool,
    validate: Option<Validation>,
    mut compute: impl FnMut(Option<&Value>) -> Result<Value, Response<Body>>,
) -> Response<Body> {
    let plural = &r.info.plural;
    loop {
        // Straight from the store: no dynamic copy of the typed object on the way to JSON.
        let live = match store.get(&r.info.kind, api.ns(), name) {
            Ok(o) => Some(o),
            Err(e) if e.is_not_found() => None,
            Err(e) => return error(&e, Some(plural)),
        };
        let live_value = live.as_ref().map(|o| o.to_value());
        let mut v = match compute(live_value.as_ref()) {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        if let (Some(l), Some(m)) = (&live, v.get_mut("metadata").and_then(Value::as_object_mut)) {
            m.insert(
                "resourceVersion".into(),
                l.meta().resource_version.clone().into(),
            );
        }
        let (obj, warnings) = match validate {
            Some(how) => match decode_checked(r, api, v, how) {
                Ok(x) => x,
                Err(resp) => return resp,
            },
            None => match api.decode(v) {
                Ok(o) => (o, Vec::new()),
                Err(e) => return error(&e, Some(plural)),
            },
        };
        let op = match (&live, part) {
            (None, _) => TxnOp::Create(obj),
            (Some(_), Part::Status) => TxnOp::UpdateStatus(obj),
            (Some(_), _) => TxnOp::Update(obj),
        };
        let created = matches!(op, TxnOp::Create(_));
        let res = if dry {
            store
                .dry_run(&op)
                .map(|o| o.expect("a create or update writes an object"))
        } else {
            match op {
                TxnOp::Create(obj) => store.create(obj),
                TxnOp::UpdateStatus(obj) => store.update_status(obj.as_ref()),
                TxnOp::Update(obj) => store.update(obj),
                _ => unreachable!("only writes are built here"),
            }
        };
        match res {
            Ok(o) => {
                let code = if created { 201 } else { 200 };
                return with_warnings(object_response(code, o.as_ref(), &r.api_version), &warnings);
            }
            // Someone else wrote, created or deleted it meanwhile: read again.
            Err(Error::Conflict { .. }) | Err(Error::AlreadyExists { .. }) => continue,
            Err(e) if e.is_not_found() && live.is_some() => continue,
            Err(e) => return error(&e, Some(plural)),
        }
    }
}

/// Server-side apply (`PATCH` with `application/apply-patch+yaml`): `cfg` is the field
/// manager's whole intent for the object; it creates the object when there is none. See
/// [`managed`] for the rules.
#[allow(clippy::too_many_arguments)]
fn server_side_apply(
    shared: &Shared,
    api: &DynamicApi,
    r: &Resource,
    t: &Target,
    name: &str,
    mut cfg: Value,
    force: bool,
    dry: bool,
    how: Validation,
    explicit_manager: bool,
    w: Writer<'_>,
) -> Response<Body> {
    if !explicit_manager {
        return fail(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        );
    }
    if w.part == Part::Scale {
        return fail(
            400,
            "BadRequest",
            "server-side apply through the scale subresource is not served by steady: apply the object's spec.replicas",
        );
    }
    if !cfg.is_object() {
        return fail(
            400,
            "BadRequest",
            "the applied configuration is not an object",
        );
    }
    let (api_version, kind) = (
        cfg.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
        cfg.get("kind").and_then(Value::as_str).unwrap_or(""),
    );
    if api_version != r.api_version || kind != r.info.kind {
        return fail(
            400,
            "BadRequest",
            &format!(
                "the applied configuration is {api_version}/{kind}, the URL names {}/{}",
                r.api_version, r.info.kind
            ),
        );
    }
    let meta = cfg
        .as_object_mut()
        .expect("checked above")
        .entry("metadata")
        .or_insert_with(|| json!({}));
    match meta.get("name").and_then(Value::as_str) {
        Some(n) if n != name => {
            return fail(
                400,
                "BadRequest",
                "the name of the object does not match the name on the URL",
            )
        }
        Some(_) => {}
        None => {
            if let Some(m) = meta.as_object_mut() {
                m.insert("name".into(), json!(name));
            }
        }
    }
    if let Err(resp) = namespace_matches(r, t, &mut cfg) {
        return resp;
    }
    let part = w.part;
    guaranteed_update(&shared.store, api, r, name, part, dry, Some(how), |live| {
        if live.is_none() && part == Part::Status {
            return Err(not_found());
        }
        managed::apply(live, &cfg, force, w).map_err(|conflicts| {
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|c| {
                    json!({"reason": "FieldManagerConflict",
                           "message": format!("conflict with {}", c.manager),
                           "field": c.field})
                })
                .collect();
            let mut s = failure(409, "Conflict", &managed::conflict_message(&conflicts));
            s["details"] = json!({"causes": causes});
            json_response(409, &s)
        })
    })
}

/// `POST pods/<name>/binding`: what a scheduler does to place a pod, as kube-apiserver does
/// it: `spec.nodeName` set to the Binding's `target.name` and the pod `PodScheduled`, by
/// compare-and-swap; a pod already bound, or being deleted, is a 409 conflict.
fn bind_pod(
    store: &crate::store::Store,
    namespace: Option<&str>,
    name: &str,
    body: &Value,
    dry: bool,
) -> Response<Body> {
    use crate::api::conditions::{condition, set_condition};
    use crate::api::Pod;
    if body
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| n != name)
    {
        return fail(
            400,
            "BadRequest",
            "the name of the binding does not match the pod's",
        );
    }
    let node = match body.pointer("/target/name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => {
            return fail(
                422,
                "Invalid",
                &format!("Binding.core \"{name}\" is invalid: target.name: Required value"),
            )
        }
    };
    if let Some(kind) = body.pointer("/target/kind").and_then(Value::as_str) {
        if !kind.is_empty() && kind != "Node" {
            return fail(
                422,
                "Invalid",
                &format!("Binding.core \"{name}\" is invalid: target.kind: Unsupported value: {kind:?}: supported values: \"Node\""),
            );
        }
    }
    let conflict = |why: String| {
        fail(
            409,
            "Conflict",
            &format!("Operation cannot be fulfilled on pods/binding {name:?}: {why}"),
        )
    };
    // A concurrent writer (the kubelet's status, a label) only makes us read again.
    for _ in 0..16 {
        let current = match store.get("Pod", namespace, name) {
            Ok(o) => o,
            Err(e) => return error(&e, Some("pods")),
        };
        let Some(pod) = current.downcast_ref::<Pod>() else {
            return fail(500, "InternalError", "a pod is not held as a Pod");
        };
        if let Some(bound) = pod.spec.node_name.as_deref().filter(|n| !n.is_empty()) {
            return conflict(format!("pod {name} is already assigned to node {bound:?}"));
        }
        if pod.metadata.deletion_timestamp.is_some() {
            return conflict(format!(
                "pod {name} is being deleted, cannot be assigned to a host"
            ));
        }
        let mut bound = pod.clone();
        bound.spec.node_name = Some(node.clone());
        let status = bound.status.get_or_insert_with(Default::default);
        set_condition(
            &mut status.conditions,
            condition("PodScheduled", "True", "", "", None),
            store.config().clock.now(),
        );
        let success = || {
            json_response(
                201,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Success", "code": 201}),
            )
        };
        if dry {
            return success();
        }
        match store.update_with_status(Arc::new(bound)) {
            Ok(_) => return success(),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return error(&e, Some("pods")),
        }
    }
    conflict("the pod kept changing; try again".into())
}

fn is_true(v: Option<&String>) -> bool {
    v.is_some_and(|v| v == "1" || v == "true")
}

/// A body's namespace must match the URL's; a missing one is taken from the URL.
fn namespace_matches(r: &Resource, t: &Target, body: &mut Value) -> Result<(), Response<Body>> {
    if !r.info.namespaced {
        return Ok(());
    }
    let Some(ns) = &t.namespace else {
        return Ok(());
    };
    let meta = body
        .as_object_mut()
        .ok_or_else(|| fail(400, "BadRequest", "the body is not an object"))?
        .entry("metadata")
        .or_insert_with(|| json!({}));
    match meta.get("namespace").and_then(Value::as_str) {
        Some(given) if given != ns => Err(fail(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            meta["namespace"] = json!(ns);
            Ok(())
        }
    }
}

fn delete_params(
    q: &HashMap<String, String>,
    body: &Value,
) -> Result<DeleteParams, Response<Body>> {
    let mut p = DeleteParams::default();
    let policy = body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| q.get("propagationPolicy").cloned());
    p.propagation = match policy.as_deref() {
        None | Some("") | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(fail(
                422,
                "Invalid",
                &format!("propagationPolicy: Unsupported value: {other:?}"),
            ))
        }
    };
    if body.get("orphanDependents") == Some(&json!(true)) {
        p.propagation = Propagation::Orphan;
    }
    p.grace_period_seconds = body
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
    p.uid = body
        .pointer("/preconditions/uid")
        .and_then(Value::as_str)
        .map(str::to_string);
    p.resource_version = body
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(p)
}

/// The field labels kube-apiserver selects by, beside `metadata.name` and
/// `metadata.namespace` (its `AddFieldLabelConversionFunc`s): any other is refused.
fn field_labels(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "Node" => &["spec.unschedulable"],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "Namespace" => &["status.phase"],
        "Secret" => &["type"],
        "ReplicaSet" => &["status.replicas"],
        "Job" => &["status.successful"],
        _ => &[],
    }
}

/// One `a.b=c`, `a.b==c` or `a.b!=c` term of a field selector, read once and then tested on
/// the wire form of each object.
struct FieldTerm {
    label: String,
    /// Where the value kube-apiserver selects on lives (its `*ToSelectableFields`): some
    /// labels name another field (`status.successful` is `status.succeeded`).
    pointer: String,
    /// What an unset field selects as (`spec.restartPolicy` is `Always`).
    default: &'static str,
    want: String,
    eq: bool,
}

impl FieldTerm {
    fn matches(&self, v: &Value) -> bool {
        let got = match v.pointer(&self.pointer) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) | Some(Value::Null) | None => self.default.to_string(),
            Some(other) => other.to_string(),
        };
        (got == self.want) == self.eq
    }
}

/// The terms of `selector` on objects of `kind`; the first term that is not `a=b`, `a==b`
/// or `a!=b` as the error.
fn field_terms<'s>(kind: &str, selector: &'s str) -> Result<Vec<FieldTerm>, &'s str> {
    selector
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|term| {
            let (label, want, eq) = if let Some((p, w)) = term.split_once("!=") {
                (p, w, false)
            } else if let Some((p, w)) = term.split_once("==") {
                (p, w, true)
            } else {
                let (p, w) = term.split_once('=').ok_or(term)?;
                (p, w, true)
            };
            let label = label.trim();
            let (path, default) = match (kind, label) {
                ("Job", "status.successful") => ("status.succeeded", "0"),
                ("ReplicaSet", "status.replicas") => ("status.replicas", "0"),
                ("Node", "spec.unschedulable") => ("spec.unschedulable", "false"),
                ("Pod", "spec.hostNetwork") => ("spec.hostNetwork", "false"),
                ("Pod", "spec.restartPolicy") => ("spec.restartPolicy", "Always"),
                ("Pod", "spec.schedulerName") => ("spec.schedulerName", "default-scheduler"),
                ("Secret", "type") => ("type", "Opaque"),
                ("Event", "source") => ("source.component", ""),
                (_, other) => (other, ""),
            };
            Ok(FieldTerm {
                label: label.to_string(),
                pointer: format!("/{}", path.replace('.', "/")),
                default,
                want: want.trim().to_string(),
                eq,
            })
        })
        .collect()
}

/// The field selector of a request on objects of `kind`, read once; kube-apiserver's 400
/// for a term it cannot read or a label it does not select `kind` by (`field label not
/// supported: spec.bogus`), rather than matching nothing.
fn field_selector(kind: &str, selector: &str) -> Result<Vec<FieldTerm>, Response<Body>> {
    let terms = field_terms(kind, selector).map_err(|term| {
        fail(
            400,
            "BadRequest",
            &format!("invalid selector: '{selector}'; can't understand '{term}'"),
        )
    })?;
    match terms.iter().find(|t| {
        t.label != "metadata.name"
            && t.label != "metadata.namespace"
            && !field_labels(kind).contains(&t.label.as_str())
    }) {
        Some(t) => Err(fail(
            400,
            "BadRequest",
            &format!("field label not supported: {}", t.label),
        )),
        None => Ok(terms),
    }
}

/// The longest prefix of `s` of at most `n` bytes that does not split a character.
fn char_prefix(s: &str, n: usize) -> &str {
    let mut end = n.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The `labelSelector` of a request, parsed; a 400 as kube-apiserver words it when it does
/// not parse.
fn label_selector(q: &HashMap<String, String>) -> Result<Option<Selector>, Response<Body>> {
    q.get("labelSelector")
        .filter(|s| !s.is_empty())
        .map(|s| {
            Selector::parse(s).map_err(|e| {
                fail(
                    400,
                    "BadRequest",
                    &format!("unable to parse requirement: {e}"),
                )
            })
        })
        .transpose()
}

type Selected = (Vec<Arc<dyn Object>>, u64);

fn select(
    shared: &Shared,
    r: &Resource,
    t: &Target,
    q: &HashMap<String, String>,
) -> Result<Selected, Response<Body>> {
    let selector = label_selector(q)?;
    let params = ListParams {
        namespace: t.namespace.clone().filter(|_| r.info.namespaced),
        selector,
        ..ListParams::default()
    };
    let list = shared
        .store
        .list(&r.info.kind, &params)
        .map_err(|e| error(&e, Some(&r.info.plural)))?;
    let mut items = list.items;
    if let Some(fs) = q.get("fieldSelector").filter(|s| !s.is_empty()) {
        let terms = field_selector(&r.info.kind, fs)?;
        items.retain(|o| {
            let v = wire(o.as_ref(), &r.api_version);
            terms.iter().all(|t| t.matches(&v))
        });
    }
    Ok((items, list.revision))
}

fn key_of(o: &dyn Object) -> String {
    format!("{}/{}", o.meta().namespace_str(), o.meta().name)
}

/// The number of objects of a kind from which a list is made off the serving thread.
pub(crate) const LARGE_LIST: usize = 1_000;

fn list(
    shared: &Shared,
    r: &Resource,
    t: &Target,
    q: &HashMap<String, String>,
    table: bool,
) -> Response<Body> {
    let (mut items, revision) = match select(shared, r, t, q) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    // Pages: a continue token is the key of the last object handed out.
    if let Some(after) = q
        .get("continue")
        .filter(|c| !c.is_empty())
        .and_then(|c| crate::api::base64::decode(c).ok())
        .and_then(|b| String::from_utf8(b).ok())
    {
        items.retain(|o| key_of(o.as_ref()) > after);
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let mut next = None;
    if let Some(limit) = limit {
        if items.len() > limit {
            items.truncate(limit);
            next = items
                .last()
                .map(|o| crate::api::base64::encode(key_of(o.as_ref()).as_bytes()));
        }
    }
    let rv = revision.to_string();
    if table {
        return json_response(
            200,
            &table::table(
                r,
                &items,
                shared.store.config().clock.now(),
                &rv,
                q.get("includeObject").map(String::as_str) == Some("Object"),
                next.as_deref(),
            ),
        );
    }
    let mut meta = json!({"resourceVersion": rv});
    if let Some(c) = next {
        meta["continue"] = json!(c);
    }
    let items: Vec<Value> = items
        .iter()
        .map(|o| wire(o.as_ref(), &r.api_version))
        .collect();
    json_response(
        200,
        &json!({"kind": format!("{}List", r.info.kind), "apiVersion": r.api_version,
                "metadata": meta, "items": items}),
    )
}

fn watch_line(kind: &str, object: Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object}))
        .expect("JSON values serialize");
    line.push(b'\n');
    Bytes::from(line)
}

/// A watch, streamed as kube-apiserver streams it: one JSON event per line, bookmarks on
/// request, an ERROR event with a 410 Status when the asked revision is gone.
fn watch(
    shared: &Arc<Shared>,
    r: &Resource,
    t: &Target,
    q: &HashMap<String, String>,
    table: bool,
) -> Response<Body> {
    let selector = match label_selector(q) {
        Ok(sel) => sel,
        Err(resp) => return resp,
    };
    let since = match q.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(rv) => match rv.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return fail(
                    400,
                    "BadRequest",
                    &format!("invalid resourceVersion {rv:?}"),
                )
            }
        },
    };
    let params = WatchParams {
        namespace: t.namespace.clone().filter(|_| r.info.namespaced),
        selector,
        since,
        bookmarks: is_true(q.get("allowWatchBookmarks")),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let field = match q.get("fieldSelector").filter(|s| !s.is_empty()) {
        Some(fs) => match field_selector(&r.info.kind, fs) {
            Ok(terms) => Some(terms),
            Err(resp) => return resp,
        },
        None => None,
    };
    let store = shared.store.clone();
    let r = r.clone();
    let include = q.get("includeObject").map(String::as_str) == Some("Object");
    let mut w = match store.watch(&r.info.kind, &params) {
        Ok(w) => w,
        // Refused before the watch starts, as kube-apiserver's watch cache refuses it.
        Err(e @ Error::TooNew { .. }) => return error(&e, Some(&r.info.plural)),
        Err(e) => {
            let (_, status) = of_error(&e, Some(&r.info.plural));
            let _ = tx.try_send(watch_line("ERROR", status));
            drop(tx);
            return streaming(rx);
        }
    };
    std::thread::Builder::new()
        .name("steady-api-watch".into())
        .spawn(move || {
            let deadline = Instant::now() + timeout;
            while Instant::now() < deadline && !tx.is_closed() {
                let ev = match w.recv_timeout(Duration::from_secs(1)) {
                    Ok(Some(ev)) => ev,
                    Ok(None) => continue,
                    Err(e) => {
                        let (_, status) = of_error(&e, Some(&r.info.plural));
                        let _ = tx.blocking_send(watch_line("ERROR", status));
                        return;
                    }
                };
                let line = match &ev {
                    WatchEvent::Bookmark(rev) => watch_line(
                        "BOOKMARK",
                        json!({"kind": r.info.kind, "apiVersion": r.api_version,
                               "metadata": {"resourceVersion": rev.to_string()}}),
                    ),
                    other => {
                        let o = other.object().expect("not a bookmark");
                        let v = wire(o.as_ref(), &r.api_version);
                        if let Some(terms) = &field {
                            if !terms.iter().all(|t| t.matches(&v)) {
                                continue;
                            }
                        }
                        let object = if table {
                            table::table(
                                &r,
                                std::slice::from_ref(o),
                                store.config().clock.now(),
                                o.meta().resource_version.as_deref().unwrap_or(""),
                                include,
                                None,
                            )
                        } else {
                            v
                        };
                        watch_line(other.type_name(), object)
                    }
                };
                if tx.blocking_send(line).is_err() {
                    return;
                }
            }
        })
        .ok();
    streaming(rx)
}

fn streaming(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Response<Body> {
    let mut resp = Response::new(ChannelBody(rx).boxed());
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn scale_value(r: &Resource, o: &dyn Object) -> Value {
    let v = o.to_value();
    let selector = v
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let _ = r;
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
           "metadata": {"name": v["metadata"]["name"], "namespace": v["metadata"]["namespace"],
                        "uid": v["metadata"]["uid"], "resourceVersion": v["metadata"]["resourceVersion"],
                        "creationTimestamp": v["metadata"]["creationTimestamp"]},
           "spec": {"replicas": v.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
           "status": {"replicas": v.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
                      "selector": selector}})
}

fn scale_of(api: &DynamicApi, r: &Resource, name: &str) -> Response<Body> {
    if !resources::SCALABLE.contains(&r.info.kind.as_str()) {
        return not_found();
    }
    match api.get(name) {
        Ok(o) => json_response(200, &scale_value(r, o.as_ref())),
        Err(e) => error(&e, Some(&r.info.plural)),
    }
}

/// A patch of the scale subresource: applied to the Scale, whose `spec.replicas` then goes
/// to the object.
fn patch_scale(
    api: &DynamicApi,
    r: &Resource,
    name: &str,
    how: PatchType,
    patch: &Value,
    w: Writer<'_>,
) -> Response<Body> {
    if !resources::SCALABLE.contains(&r.info.kind.as_str()) {
        return not_found();
    }
    let cur = match api.get(name) {
        Ok(o) => o,
        Err(e) => return error(&e, Some(&r.info.plural)),
    };
    let mut scale = scale_value(r, cur.as_ref());
    let how = if how == PatchType::Strategic {
        PatchType::Merge
    } else {
        how
    };
    if let Err(e) = how.apply(&mut scale, patch) {
        return fail(422, "Invalid", &format!("the patch cannot be applied: {e}"));
    }
    let replicas = scale.pointer("/spec/replicas").cloned().unwrap_or(json!(1));
    let res = api.modify(name, false, |live| {
        let mut v = live.clone();
        PatchType::Merge
            .apply(&mut v, &json!({"spec": {"replicas": replicas}}))
            .map_err(|e| {
                Error::invalid(
                    crate::ObjectRef::new(&r.info.kind, None, name),
                    "spec.replicas",
                    e,
                )
            })?;
        managed::track_update(Some(live), &mut v, w);
        Ok(v)
    });
    match res {
        Ok(o) => json_response(200, &scale_value(r, o.as_ref())),
        Err(e) => error(&e, Some(&r.info.plural)),
    }
}

/// `kubectl logs`: the container's output (`container`, `previous`, `tailLines`), or with
/// `follow` its output as it grows, until the container's log stops growing and the pod is
/// gone, or the client leaves.
fn logs(
    shared: &Arc<Shared>,
    namespace: &str,
    pod: &str,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let container = q.get("container").filter(|c| !c.is_empty()).cloned();
    let previous = is_true(q.get("previous"));
    let (mut instance, text) =
        match shared
            .kubelet
            .logs_of_instance(namespace, pod, container.as_deref(), previous)
        {
            Ok(t) => t,
            // A container not started, or no previous instance: kube-apiserver's 400 with the
            // kubelet's words (`previous terminated container "a" in pod "b" not found`).
            Err(Error::Invalid { errors, .. }) => {
                let message = errors
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                return fail(400, "BadRequest", &message);
            }
            Err(e) => return error(&e, Some("pods")),
        };
    // The log buffers keep no time per line: a request that filters or stamps by time gets
    // the whole output, and a warning that says so (kubectl prints it).
    let untimed: Vec<String> = ["sinceSeconds", "sinceTime", "timestamps"]
        .into_iter()
        .filter(|p| q.get(*p).is_some_and(|v| !v.is_empty() && v != "false"))
        .map(|p| format!("{p}: not implemented by steady (its logs keep no time per line): the whole output is returned"))
        .collect();
    let limit = q.get("limitBytes").and_then(|n| n.parse::<usize>().ok());
    let cut = |t: String| -> String {
        match limit {
            Some(n) if n < t.len() => char_prefix(&t, n).to_string(),
            _ => t,
        }
    };
    let tail = |t: &str| -> String {
        match q.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => {
                let lines: Vec<&str> = t.lines().collect();
                let from = lines.len().saturating_sub(n);
                let mut s = lines[from..].join("\n");
                if !s.is_empty() && t.ends_with('\n') {
                    s.push('\n');
                }
                s
            }
            None => t.to_string(),
        }
    };
    let first = tail(&text);
    if !is_true(q.get("follow")) {
        let mut r = Response::new(full(cut(first)));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        return with_warnings(r, &untimed);
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let kubelet = shared.kubelet.clone();
    let (ns, pod) = (namespace.to_string(), pod.to_string());
    let mut sent = text.len();
    let first = cut(first);
    // What `limitBytes` still allows: the stream ends when it is spent.
    let mut budget = limit.map(|n| n - first.len());
    let _ = tx.try_send(Bytes::from(first));
    if budget != Some(0) {
        std::thread::Builder::new()
            .name("steady-api-logs".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(100));
                if tx.is_closed() {
                    return;
                }
                let Ok((id, now)) =
                    kubelet.logs_of_instance(&ns, &pod, container.as_deref(), previous)
                else {
                    return;
                };
                if id != instance {
                    // A new instance started: its output from the beginning.
                    (instance, sent) = (id, 0);
                } else if now.len() < sent {
                    // The buffer let its oldest output go: what follows is new.
                    sent = now.len();
                }
                let Some(rest) = now.get(sent..).filter(|r| !r.is_empty()) else {
                    sent = now.len();
                    continue;
                };
                sent = now.len();
                let more = match &mut budget {
                    Some(b) => {
                        let more = char_prefix(rest, *b);
                        // Cut short: the limit is reached, whatever bytes it left.
                        *b = if more.len() < rest.len() {
                            0
                        } else {
                            *b - more.len()
                        };
                        more
                    }
                    None => rest,
                };
                if tx.blocking_send(Bytes::from(more.to_string())).is_err() || budget == Some(0) {
                    return;
                }
            })
            .ok();
    }
    let mut r = Response::new(ChannelBody(rx).boxed());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    with_warnings(r, &untimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_namespace_resource_name_and_subresource() {
        let t = target(
            "apps/v1",
            &["namespaces", "prod", "deployments", "web", "scale"],
        )
        .unwrap();
        assert_eq!(
            (
                t.namespace.as_deref(),
                t.plural.as_str(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            (Some("prod"), "deployments", Some("web"), Some("scale"))
        );
        let t = target("v1", &["namespaces", "prod"]).unwrap();
        assert_eq!(
            (t.namespace, t.plural.as_str(), t.name.as_deref()),
            (None, "namespaces", Some("prod"))
        );
        let t = target("v1", &["namespaces", "prod", "status"]).unwrap();
        assert_eq!(
            (t.plural.as_str(), t.subresource.as_deref()),
            ("namespaces", Some("status"))
        );
        let t = target("v1", &["nodes", "n1"]).unwrap();
        assert_eq!((t.namespace, t.name.as_deref()), (None, Some("n1")));
        let t = target("v1", &["pods"]).unwrap();
        assert_eq!((t.namespace, t.name), (None, None));
        assert!(target("v1", &["a", "b", "c", "d"]).is_none());
    }

    /// Whether every term of `selector` matches `v` (labels not checked).
    fn field_matches(kind: &str, selector: &str, v: &Value) -> bool {
        field_terms(kind, selector).is_ok_and(|ts| ts.iter().all(|t| t.matches(v)))
    }

    #[test]
    fn field_selectors_test_the_wire_form() {
        let v = json!({"metadata": {"name": "web"}, "involvedObject": {"uid": "u1"},
                       "status": {"phase": "Running"}});
        assert!(field_matches("Event", "metadata.name=web", &v));
        assert!(field_matches(
            "Event",
            "involvedObject.uid=u1,status.phase!=Failed",
            &v
        ));
        assert!(!field_matches("Pod", "status.phase==Pending", &v));
    }

    #[test]
    fn field_selectors_read_kube_apiservers_computed_values() {
        // Unset fields read as their defaults; some labels name another field.
        let pod = json!({"spec": {}});
        assert!(field_matches("Pod", "spec.restartPolicy=Always", &pod));
        assert!(field_matches("Pod", "spec.hostNetwork=false", &pod));
        assert!(field_matches(
            "Pod",
            "spec.schedulerName=default-scheduler",
            &pod
        ));
        assert!(field_matches("Node", "spec.unschedulable=false", &pod));
        let job = json!({"status": {"succeeded": 2}});
        assert!(field_matches("Job", "status.successful=2", &job));
        assert!(field_matches("Job", "status.successful=0", &json!({})));
        let ev = json!({"source": {"component": "kubelet", "host": "vm"}});
        assert!(field_matches("Event", "source=kubelet", &ev));
        assert!(field_matches("Secret", "type=Opaque", &json!({})));
    }

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(
            percent_decode("app%3Dweb%2Ctier+in+(a)"),
            "app=web,tier in (a)"
        );
        assert_eq!(percent_decode("100%"), "100%");
    }
}

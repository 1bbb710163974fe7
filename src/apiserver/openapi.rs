//! OpenAPI v3 documents, as kube-apiserver serves them to kubectl: one document per
//! group-version with
//! - the schema of every kind served there, under `components.schemas`, marked with
//!   `x-kubernetes-group-version-kind` (what `kubectl explain` looks up). A built-in kind's
//!   schema is derived from its Rust type (the same serde attributes the store decodes with,
//!   descriptions from rustdoc); a CustomResourceDefinition's kind has its `openAPIV3Schema`;
//!   a kind registered without a schema gets an open object (any fields kept);
//! - for each kind, the `fieldValidation` query parameter of its write operations: kubectl
//!   reads that to decide that the server validates fields itself (`--validate=strict`, the
//!   default, sends `fieldValidation=Strict`, and an unknown field is refused by the server,
//!   naming it).

use super::resources::{self, group_version, Resource};
use crate::store::Store;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// Where a document's schemas are, as `$ref`s name them.
const REF: &str = "#/components/schemas/";

/// The schemas of the built-in kinds: every definition, and each kind's root definition by
/// `(apiVersion, kind)`. Derived once: they are fixed at build time.
struct Builtin {
    definitions: Map<String, Value>,
    roots: Vec<(String, String, String)>,
}

fn builtin() -> &'static Builtin {
    static B: OnceLock<Builtin> = OnceLock::new();
    B.get_or_init(|| {
        let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
        let roots = crate::api::builtin_schemas(&mut generator)
            .into_iter()
            .filter_map(|(info, s)| {
                let name = s.get("$ref")?.as_str()?.strip_prefix(REF)?.to_string();
                Some((info.api_version, info.kind, name))
            })
            .collect();
        let mut definitions = generator.take_definitions(true);
        definitions
            .values_mut()
            .for_each(optional_as_kubernetes_writes_it);
        Builtin { definitions, roots }
    })
}

/// The schema name of a custom kind: its group reversed, version and kind
/// (`com.example.stable.v1.CronTab`), as kube-apiserver names them.
fn custom_name(r: &Resource) -> String {
    let (group, version) = group_version(&r.api_version);
    let mut parts: Vec<&str> = group.split('.').filter(|p| !p.is_empty()).collect();
    parts.reverse();
    parts.push(version);
    parts.push(&r.info.kind);
    parts.join(".")
}

/// Adds `r`'s root schema (and, for a built-in kind, every definition it refers to) to
/// `schemas`, marked with its group-version-kind.
fn add_schema(r: &Resource, schemas: &mut Map<String, Value>) {
    let (group, version) = group_version(&r.api_version);
    let gvk = json!([{"group": group, "version": version, "kind": r.info.kind}]);
    let b = builtin();
    let root = (!r.info.is_dynamic())
        .then(|| {
            b.roots
                .iter()
                .find(|(v, k, _)| *v == r.api_version && *k == r.info.kind)
        })
        .flatten();
    let (name, mut schema) = match (root, &r.schema) {
        (Some((_, _, name)), _) => {
            let mut pending = vec![name.clone()];
            while let Some(n) = pending.pop() {
                if schemas.contains_key(&n) {
                    continue;
                }
                let Some(def) = b.definitions.get(&n) else {
                    continue;
                };
                refs(def, &mut pending);
                schemas.insert(n, def.clone());
            }
            (name.clone(), schemas.get(name).cloned().unwrap_or_default())
        }
        (None, Some(s)) => (custom_name(r), s.clone()),
        (None, None) => (
            custom_name(r),
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                   "description": format!("{}: a kind registered without a schema; \
                                           steady keeps whatever fields its objects have.",
                                          r.info.kind)}),
        ),
    };
    if let Some(m) = schema.as_object_mut() {
        m.insert("x-kubernetes-group-version-kind".into(), gvk);
    }
    schemas.insert(name, schema);
}

/// Rewrites schemars' form of an `Option` (`anyOf: [X, null]`, `nullable: true`) the way
/// Kubernetes' documents say "optional": the field's schema, not nullable (a missing field is
/// absent, never `null`), a referenced type wrapped in `allOf` beside its description.
fn optional_as_kubernetes_writes_it(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("nullable");
            let unwrapped = match m.get("anyOf").and_then(Value::as_array) {
                Some(alts) if alts.len() == 2 && alts[1].get("enum") == Some(&json!([null])) => {
                    Some(alts[0].clone())
                }
                _ => None,
            };
            if let Some(inner) = unwrapped {
                m.remove("anyOf");
                match inner {
                    Value::Object(i) if i.contains_key("$ref") => {
                        m.insert("allOf".into(), json!([i]));
                    }
                    Value::Object(i) => {
                        for (k, x) in i {
                            m.entry(k).or_insert(x);
                        }
                    }
                    _ => {}
                }
            }
            m.values_mut().for_each(optional_as_kubernetes_writes_it);
        }
        Value::Array(a) => a.iter_mut().for_each(optional_as_kubernetes_writes_it),
        _ => {}
    }
}

/// Pushes the names of the definitions `v` refers to.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                match (k.as_str(), c) {
                    ("$ref", Value::String(r)) => {
                        if let Some(n) = r.strip_prefix(REF) {
                            out.push(n.to_string());
                        }
                    }
                    _ => refs(c, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
        _ => {}
    }
}

/// The path of a group-version's document: `api/v1`, `apis/apps/v1`.
pub fn doc_path(api_version: &str) -> String {
    match group_version(api_version) {
        ("", v) => format!("api/{v}"),
        (g, v) => format!("apis/{g}/{v}"),
    }
}

/// `GET /openapi/v3`: the index of documents. Each URL carries a hash of what its document
/// says (the kinds and versions served there), so clients keep their cached copy until the
/// served kinds change, not on every write.
pub fn root(store: &Store) -> Value {
    use std::hash::{Hash, Hasher};
    let mut docs: std::collections::BTreeMap<String, std::hash::DefaultHasher> =
        std::collections::BTreeMap::new();
    for r in resources::all(store) {
        let h = docs.entry(doc_path(&r.api_version)).or_default();
        (&r.info.kind, &r.info.plural, r.info.namespaced).hash(h);
        // A custom kind's schema is part of its document.
        r.schema.as_ref().map(Value::to_string).hash(h);
    }
    let paths: Map<String, Value> = docs
        .into_iter()
        .map(|(p, h)| {
            let url = format!("/openapi/v3/{p}?hash={:016x}", h.finish());
            (p, json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

/// `GET /openapi/v3/<path>`: the document of one group-version, or `None`.
pub fn document(store: &Store, path: &str) -> Option<Value> {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut found = false;
    for r in resources::all(store) {
        if doc_path(&r.api_version) != path {
            continue;
        }
        found = true;
        add_schema(&r, &mut schemas);
        let (group, version) = group_version(&r.api_version);
        let gvk = json!({"group": group, "version": version, "kind": r.info.kind});
        let validation = json!({"name": "fieldValidation", "in": "query", "schema": {"type": "string"},
            "description": "Ignore, Warn or Strict: what to do with unknown or duplicate fields"});
        let op = |action: &str| {
            json!({"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": action,
                   "parameters": [validation], "responses": {"200": {"description": "OK"}}})
        };
        let base = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let collection = if r.info.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", r.info.plural)
        } else {
            format!("{base}/{}", r.info.plural)
        };
        paths.insert(collection.clone(), json!({"post": op("post")}));
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"put": op("put"), "patch": op("patch")}),
        );
    }
    found.then(|| {
        json!({"openapi": "3.0.0", "info": {"title": "steady", "version": env!("CARGO_PKG_VERSION")},
               "paths": paths, "components": {"schemas": schemas}})
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;

    #[test]
    fn document_urls_change_with_the_kinds_served_not_with_writes() {
        let e = Engine::builder().local_node(false).build().unwrap();
        let before = root(e.store());
        e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
            .unwrap();
        assert_eq!(root(e.store()), before, "a write changes no document");
        e.apply(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
             metadata: {name: crontabs.stable.example.com}\n\
             spec: {group: stable.example.com, scope: Namespaced,\n\
             \x20 names: {kind: CronTab, plural: crontabs},\n\
             \x20 versions: [{name: v1, served: true, storage: true}]}\n",
        )
        .unwrap();
        let after = root(e.store());
        assert_eq!(after["paths"]["api/v1"], before["paths"]["api/v1"]);
        assert!(after["paths"]["apis/stable.example.com/v1"].is_object());
        let doc = document(e.store(), "apis/stable.example.com/v1").unwrap();
        let patch = &doc["paths"]
            ["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"];
        assert_eq!(patch["parameters"][0]["name"], "fieldValidation");
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "CronTab");
    }

    #[test]
    fn documents_carry_each_kind_s_schema_and_everything_it_refers_to() {
        let e = Engine::builder().local_node(false).build().unwrap();
        let doc = document(e.store(), "apis/apps/v1").unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let gvk = &schemas["Deployment"]["x-kubernetes-group-version-kind"];
        assert_eq!(
            gvk,
            &json!([{"group": "apps", "version": "v1", "kind": "Deployment"}])
        );
        // Every reference resolves inside the document.
        let mut named = Vec::new();
        refs(&doc, &mut named);
        assert!(!named.is_empty());
        for n in named {
            assert!(
                schemas.contains_key(&n),
                "{n} is referred to but not in the document"
            );
        }
        // Optional fields are plain references, never nullable.
        let status = &schemas["Deployment"]["properties"]["status"];
        assert_eq!(
            status["allOf"][0]["$ref"],
            "#/components/schemas/DeploymentStatus"
        );
        assert!(!doc.to_string().contains("nullable"));
        // The core group's document has Pod, not Deployment.
        let core = document(e.store(), "api/v1").unwrap();
        assert!(core["components"]["schemas"].get("Pod").is_some());
        assert!(core["components"]["schemas"].get("Deployment").is_none());
    }

    #[test]
    fn custom_kinds_get_their_definition_s_schema_or_an_open_object() {
        let e = Engine::builder().local_node(false).build().unwrap();
        e.apply(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
             metadata: {name: crontabs.stable.example.com}\n\
             spec: {group: stable.example.com, scope: Namespaced,\n\
             \x20 names: {kind: CronTab, plural: crontabs},\n\
             \x20 versions: [{name: v1, served: true, storage: true,\n\
             \x20   schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object}}}}}]}\n",
        )
        .unwrap();
        let before = root(e.store());
        let doc = document(e.store(), "apis/stable.example.com/v1").unwrap();
        let tab = &doc["components"]["schemas"]["com.example.stable.v1.CronTab"];
        assert_eq!(tab["properties"]["spec"]["type"], "object");
        assert_eq!(tab["x-kubernetes-group-version-kind"][0]["kind"], "CronTab");
        // Without a schema: an open object, so explain names the kind and keeps any field.
        e.store().registry().register(crate::api::KindInfo::dynamic(
            "games.example.com/v1",
            "Fleet",
            true,
        ));
        let doc = document(e.store(), "apis/games.example.com/v1").unwrap();
        let fleet = &doc["components"]["schemas"]["com.example.games.v1.Fleet"];
        assert_eq!(fleet["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(
            root(e.store())["paths"]["apis/stable.example.com/v1"],
            before["paths"]["apis/stable.example.com/v1"]
        );
    }
}

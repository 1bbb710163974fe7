//! OpenAPI v3 documents, as much as kubectl needs: one document per group-version whose
//! paths declare, for each kind, the `fieldValidation` query parameter of its PATCH
//! operation. kubectl reads that to decide that the server validates fields itself
//! (`kubectl apply --validate=strict`, the default, sends `fieldValidation=Strict`, and an
//! unknown field is refused by the server, naming it). Schemas are not served: `kubectl
//! explain` is not supported yet.

use super::resources::{self, group_version};
use crate::store::Store;
use serde_json::{json, Map, Value};

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
    let mut found = false;
    for r in resources::all(store) {
        if doc_path(&r.api_version) != path {
            continue;
        }
        found = true;
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
               "paths": paths, "components": {"schemas": {}}})
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
}

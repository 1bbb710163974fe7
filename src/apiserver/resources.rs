//! The resources served, read from the kind registry (built-ins, configuration and
//! CustomResourceDefinitions alike), and the discovery documents kubectl reads first.

use crate::api::{CustomResourceDefinition, KindInfo};
use crate::store::Store;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `(plural, short names, in category "all")` of the built-in kinds, as kube-apiserver
/// serves them.
const BUILTIN_NAMES: &[(&str, &[&str], bool)] = &[
    ("pods", &["po"], true),
    ("nodes", &["no"], false),
    ("namespaces", &["ns"], false),
    ("services", &["svc"], true),
    ("endpoints", &["ep"], false),
    ("events", &["ev"], false),
    ("configmaps", &["cm"], false),
    ("secrets", &[], false),
    ("persistentvolumeclaims", &["pvc"], false),
    ("replicasets", &["rs"], true),
    ("deployments", &["deploy"], true),
    ("statefulsets", &["sts"], true),
    ("daemonsets", &["ds"], true),
    ("controllerrevisions", &[], false),
    ("jobs", &[], true),
    ("cronjobs", &["cj"], true),
    ("horizontalpodautoscalers", &["hpa"], true),
    ("leases", &[], false),
    ("poddisruptionbudgets", &["pdb"], false),
    ("priorityclasses", &["pc"], false),
    ("customresourcedefinitions", &["crd", "crds"], false),
];

/// Kinds with a `scale` subresource (`kubectl scale`, the HPA's target).
pub const SCALABLE: &[&str] = &["Deployment", "ReplicaSet", "StatefulSet"];

/// `(group, version)` of an apiVersion: `("", "v1")`, `("apps", "v1")`.
pub fn group_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// One resource served: a kind in one of its served apiVersions.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The kind's registration.
    pub info: Arc<KindInfo>,
    /// The apiVersion this entry serves it as.
    pub api_version: String,
    /// Short names (`po`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// `additionalPrinterColumns` of a custom kind's served version.
    pub printer_columns: Vec<Value>,
    /// `schema.openAPIV3Schema` of a custom kind's served version.
    pub schema: Option<Value>,
}

/// Every resource served, for every served apiVersion of each kind.
pub fn all(store: &Store) -> Vec<Resource> {
    let mut out = Vec::new();
    for info in store.registry().all() {
        let versions =
            std::iter::once(info.api_version.clone()).chain(info.served_versions.clone());
        for api_version in versions {
            out.push(resource(store, &info, api_version));
        }
    }
    out.sort_by(|a, b| (&a.api_version, &a.info.plural).cmp(&(&b.api_version, &b.info.plural)));
    out
}

/// The resource `info` served as `api_version`, with its names and printer columns.
fn resource(store: &Store, info: &Arc<KindInfo>, api_version: String) -> Resource {
    let mut r = Resource {
        info: info.clone(),
        api_version,
        short_names: Vec::new(),
        categories: Vec::new(),
        printer_columns: Vec::new(),
        schema: None,
    };
    if let Some((_, names, all)) = BUILTIN_NAMES.iter().find(|(p, _, _)| *p == info.plural) {
        r.short_names = names.iter().map(|s| s.to_string()).collect();
        if *all {
            r.categories.push("all".to_string());
        }
    }
    if let Some(def) = info
        .definition
        .as_deref()
        .and_then(|d| definition(store, d))
    {
        r.short_names = def.spec.names.short_names.clone();
        if let Some(c) = def
            .spec
            .names
            .extra
            .get("categories")
            .and_then(Value::as_array)
        {
            r.categories = c
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
        }
        if let Some(v) = def
            .spec
            .versions
            .iter()
            .find(|v| format!("{}/{}", def.spec.group, v.name) == r.api_version)
        {
            r.printer_columns = v.additional_printer_columns.clone();
            r.schema = v
                .schema
                .as_ref()
                .and_then(|s| s.get("openAPIV3Schema"))
                .cloned();
        }
    }
    r
}

fn definition(store: &Store, name: &str) -> Option<CustomResourceDefinition> {
    let o = store.get("CustomResourceDefinition", None, name).ok()?;
    o.downcast_ref::<CustomResourceDefinition>().cloned()
}

/// The resource `plural` served as `api_version` (a request's target: one registry scan,
/// no discovery document built).
pub fn find(store: &Store, api_version: &str, plural: &str) -> Option<Resource> {
    let info = store
        .registry()
        .all()
        .into_iter()
        .find(|i| i.plural == plural && i.serves(api_version))?;
    Some(resource(store, &info, api_version.to_string()))
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `GET /api/v1` or `GET /apis/<group>/<version>`: an APIResourceList.
pub fn resource_list(store: &Store, api_version: &str) -> Option<Value> {
    let resources: Vec<Resource> = all(store)
        .into_iter()
        .filter(|r| r.api_version == api_version)
        .collect();
    if resources.is_empty() {
        return None;
    }
    let mut list = Vec::new();
    for r in &resources {
        let info = &r.info;
        list.push(json!({
            "name": info.plural,
            "singularName": info.kind.to_ascii_lowercase(),
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": VERBS,
            "shortNames": r.short_names,
            "categories": r.categories,
        }));
        list.push(
            json!({"name": format!("{}/status", info.plural), "singularName": "",
            "namespaced": info.namespaced, "kind": info.kind, "verbs": ["get", "patch", "update"]}),
        );
        if SCALABLE.contains(&info.kind.as_str()) {
            list.push(
                json!({"name": format!("{}/scale", info.plural), "singularName": "",
                "namespaced": info.namespaced, "group": "autoscaling", "version": "v1",
                "kind": "Scale", "verbs": ["get", "patch", "update"]}),
            );
        }
        if info.kind == "Pod" {
            list.push(
                json!({"name": "pods/log", "singularName": "", "namespaced": true,
                "kind": "Pod", "verbs": ["get"]}),
            );
            list.push(
                json!({"name": "pods/eviction", "singularName": "", "namespaced": true,
                "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]}),
            );
            list.push(
                json!({"name": "pods/binding", "singularName": "", "namespaced": true,
                "kind": "Binding", "verbs": ["create"]}),
            );
        }
    }
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version,
                "resources": list}),
    )
}

/// `GET /api`: the core group's versions.
pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]})
}

/// `GET /apis`: every named group and its versions.
pub fn group_list(store: &Store) -> Value {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // The resource metrics API (`kubectl top`), served beside the kinds.
    groups.insert("metrics.k8s.io".into(), vec!["v1beta1".into()]);
    for r in all(store) {
        let (g, v) = group_version(&r.api_version);
        if g.is_empty() {
            continue;
        }
        let vs = groups.entry(g.to_string()).or_default();
        if !vs.iter().any(|x| x == v) {
            vs.push(v.to_string());
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, vs)| {
            let versions: Vec<Value> = vs
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/<group>`: one group.
pub fn group(store: &Store, name: &str) -> Option<Value> {
    group_list(store)["groups"]
        .as_array()?
        .iter()
        .find(|g| g["name"] == name)
        .map(|g| {
            let mut g = g.clone();
            g["kind"] = "APIGroup".into();
            g["apiVersion"] = "v1".into();
            g
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;

    #[test]
    fn discovery_lists_built_in_and_defined_kinds_with_short_names() {
        let e = Engine::builder().local_node(false).build().unwrap();
        let core = resource_list(e.store(), "v1").unwrap();
        let pods = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods")
            .unwrap();
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert!(core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "pods/log"));
        let apps = resource_list(e.store(), "apps/v1").unwrap();
        assert!(apps["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "deployments/scale"));
        assert!(resource_list(e.store(), "stable.example.com/v1").is_none());
        e.apply(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
             metadata: {name: crontabs.stable.example.com}\n\
             spec: {group: stable.example.com, scope: Namespaced,\n\
             \x20 names: {kind: CronTab, plural: crontabs, shortNames: [ct]},\n\
             \x20 versions: [{name: v1, served: true, storage: true}]}\n",
        )
        .unwrap();
        let tabs = resource_list(e.store(), "stable.example.com/v1").unwrap();
        assert_eq!(tabs["resources"][0]["shortNames"], json!(["ct"]));
        let groups = group_list(e.store());
        assert!(groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "stable.example.com"));
    }
}

//! Matching a node against node selector terms and a pod's hard node constraints
//! (`spec.nodeSelector` and `requiredDuringSchedulingIgnoredDuringExecution`), as
//! Kubernetes' `component-helpers/scheduling/corev1/nodeaffinity` does for the scheduler and
//! the DaemonSet controller alike.
//!
//! Terms are ORed, a term's expressions ANDed; an empty term matches nothing; `matchFields`
//! knows only `metadata.name`; `Gt`/`Lt` take one integer value and compare integer labels;
//! an unknown operator matches nothing (admission refuses it before it gets here).

use super::{Map, NodeSelectorRequirement, NodeSelectorTerm, PodSpec};

#[derive(Clone, Debug)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
    /// An operator or value that cannot match anything.
    Never,
}

#[derive(Clone, Debug)]
struct Req {
    key: String,
    op: Op,
}

impl Req {
    fn compile(r: &NodeSelectorRequirement) -> Req {
        let int = || {
            (r.values.len() == 1)
                .then(|| r.values[0].parse::<i64>().ok())
                .flatten()
        };
        let op = match r.operator.as_str() {
            "In" => Op::In(r.values.clone()),
            "NotIn" => Op::NotIn(r.values.clone()),
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            "Gt" => int().map_or(Op::Never, Op::Gt),
            "Lt" => int().map_or(Op::Never, Op::Lt),
            _ => Op::Never,
        };
        Req {
            key: r.key.clone(),
            op,
        }
    }

    fn matches(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Op::In(vs), Some(v)) => vs.iter().any(|x| x == v),
            (Op::In(_), None) => false,
            (Op::NotIn(vs), Some(v)) => !vs.iter().any(|x| x == v),
            (Op::NotIn(_), None) => true,
            (Op::Exists, v) => v.is_some(),
            (Op::DoesNotExist, v) => v.is_none(),
            (Op::Gt(n), Some(v)) => v.parse::<i64>().is_ok_and(|x| x > *n),
            (Op::Lt(n), Some(v)) => v.parse::<i64>().is_ok_and(|x| x < *n),
            _ => false,
        }
    }
}

/// One compiled node selector term: label expressions and `metadata.name` field expressions.
#[derive(Clone, Debug)]
pub struct NodeSelectorMatcher {
    labels: Vec<Req>,
    fields: Vec<Req>,
}

impl NodeSelectorMatcher {
    /// Compiles `t` once, to match many nodes.
    pub fn compile(t: &NodeSelectorTerm) -> NodeSelectorMatcher {
        NodeSelectorMatcher {
            labels: t.match_expressions.iter().map(Req::compile).collect(),
            fields: t
                .match_fields
                .iter()
                .map(|r| {
                    let mut c = Req::compile(r);
                    if r.key != "metadata.name" {
                        c.op = Op::Never;
                    }
                    c
                })
                .collect(),
        }
    }

    /// Whether the node named `name` with `labels` matches. An empty term matches nothing,
    /// as in Kubernetes.
    pub fn matches(&self, labels: &Map<String, String>, name: &str) -> bool {
        if self.labels.is_empty() && self.fields.is_empty() {
            return false;
        }
        self.labels
            .iter()
            .all(|r| r.matches(labels.get(r.key.as_str()).map(String::as_str)))
            && self.fields.iter().all(|r| r.matches(Some(name)))
    }
}

/// A pod's hard node constraints compiled once: `nodeSelector` and the required affinity
/// terms. What the scheduler filters nodes by, what PodTopologySpread uses to decide which
/// nodes count (nodeAffinityPolicy `Honor`), and what decides the nodes a DaemonSet runs on.
#[derive(Clone, Debug)]
pub struct RequiredNodeAffinity {
    selector: Vec<(String, String)>,
    terms: Option<Vec<NodeSelectorMatcher>>,
}

impl RequiredNodeAffinity {
    /// The constraints of a pod with `spec`; `None` when it constrains nothing.
    pub fn of(spec: &PodSpec) -> Option<RequiredNodeAffinity> {
        let required = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.required_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        if spec.node_selector.is_empty() && required.is_none() {
            return None;
        }
        Some(RequiredNodeAffinity {
            selector: spec
                .node_selector
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            terms: required.map(|r| {
                r.node_selector_terms
                    .iter()
                    .map(NodeSelectorMatcher::compile)
                    .collect()
            }),
        })
    }

    /// Whether the node named `name` with `labels` satisfies every constraint: each
    /// `nodeSelector` label equal, and one required term matching.
    pub fn matches(&self, labels: &Map<String, String>, name: &str) -> bool {
        self.selector
            .iter()
            .all(|(k, v)| labels.get(k.as_str()) == Some(v))
            && self
                .terms
                .as_ref()
                .is_none_or(|ts| ts.iter().any(|t| t.matches(labels, name)))
    }
}

//! `TaintToleration`: taints repel pods that do not tolerate them.

use crate::api::{Taint, Toleration};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvents, CycleState, FilterPlugin, NodeScore, Plugin, PodInfo, PreScorePlugin,
    ScorePlugin, Status,
};
use crate::scheduler::plugins::default_normalize;

/// Filter: rejects nodes with a `NoSchedule` or `NoExecute` taint the pod does not tolerate.
/// Score (weight 3): fewer untolerated `PreferNoSchedule` taints is better.
#[derive(Clone, Copy, Debug, Default)]
pub struct TaintToleration;

/// True when `toleration` tolerates `taint`: [`Toleration::tolerates`], the one rule every
/// layer uses.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    toleration.tolerates(taint)
}

/// The first taint in `taints` with one of `effects` that no toleration tolerates.
pub fn untolerated<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    effects: &[&str],
) -> Option<&'a Taint> {
    taints.iter().find(|t| {
        effects.contains(&t.effect.as_str()) && !tolerations.iter().any(|tol| tolerates(tol, t))
    })
}

impl Plugin for TaintToleration {
    fn name(&self) -> &str {
        "TaintToleration"
    }

    fn events(&self) -> ClusterEvents {
        ClusterEvents::NODE_ADDED | ClusterEvents::NODE_CHANGED
    }
}

impl FilterPlugin for TaintToleration {
    fn may_reject(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> bool {
        node.has_hard_taints()
    }

    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.has_hard_taints() {
            return Status::success();
        }
        match untolerated(
            node.taints(),
            &pod.pod().spec.tolerations,
            &["NoSchedule", "NoExecute"],
        ) {
            None => Status::success(),
            Some(t) => Status::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            )),
        }
    }
}

impl PreScorePlugin for TaintToleration {
    fn pre_score(
        &self,
        _: &mut CycleState,
        _: &PodInfo,
        nodes: &[NodeInfo],
        feasible: &[usize],
    ) -> Status {
        // Without soft taints every node scores the same: nothing to rank.
        if feasible.iter().any(|&i| nodes[i].has_soft_taints()) {
            Status::success()
        } else {
            Status::skip()
        }
    }
}

impl ScorePlugin for TaintToleration {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        if !node.has_soft_taints() {
            return Ok(0);
        }
        let tolerations = &pod.pod().spec.tolerations;
        let count = node
            .taints()
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule")
            .filter(|t| {
                !tolerations.iter().any(|tol| {
                    matches!(
                        tol.effect.as_deref(),
                        None | Some("") | Some("PreferNoSchedule")
                    ) && tolerates(tol, t)
                })
            })
            .count();
        Ok(count as i64)
    }

    fn normalize(
        &self,
        _: &CycleState,
        _: &PodInfo,
        _: &[NodeInfo],
        scores: &mut [NodeScore],
    ) -> Status {
        default_normalize(scores, true);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};
    use serde_json::json;

    fn tol(v: serde_json::Value) -> Toleration {
        serde_json::from_value(v).unwrap()
    }

    fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.map(Into::into),
            effect: effect.into(),
            ..Default::default()
        }
    }

    #[test]
    fn toleration_matching_follows_kubernetes() {
        let t = taint("k", Some("v"), "NoSchedule");
        assert!(tolerates(&tol(json!({"key": "k", "value": "v"})), &t));
        assert!(tolerates(
            &tol(json!({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"})),
            &t
        ));
        assert!(!tolerates(&tol(json!({"key": "k", "value": "w"})), &t));
        assert!(tolerates(
            &tol(json!({"key": "k", "operator": "Exists"})),
            &t
        ));
        assert!(
            tolerates(&tol(json!({"operator": "Exists"})), &t),
            "empty key + Exists tolerates all"
        );
        assert!(!tolerates(
            &tol(json!({"key": "k", "operator": "Exists", "effect": "NoExecute"})),
            &t
        ));
        assert!(!tolerates(
            &tol(json!({"key": "other", "operator": "Exists"})),
            &t
        ));
    }

    #[test]
    fn untolerated_hard_taint_rejects_with_key_and_value() {
        let n = node(json!({"metadata": {"name": "n"}, "spec": {"taints": [
            {"key": "soft", "effect": "PreferNoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
        ]}}));
        let cs = CycleState::new();
        assert_eq!(
            TaintToleration.filter(&cs, &pod(json!({})), &n),
            Status::unresolvable(
                "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"
            )
        );
        let tolerant = pod(json!({"tolerations": [
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
        ]}));
        assert!(TaintToleration.filter(&cs, &tolerant, &n).is_success());
    }

    #[test]
    fn fewer_untolerated_soft_taints_score_higher() {
        let clean = node(json!({"metadata": {"name": "a"}}));
        let one = node(json!({"metadata": {"name": "b"}, "spec": {"taints": [
            {"key": "x", "effect": "PreferNoSchedule"}]}}));
        let two = node(json!({"metadata": {"name": "c"}, "spec": {"taints": [
            {"key": "x", "effect": "PreferNoSchedule"}, {"key": "y", "effect": "PreferNoSchedule"}]}}));
        let nodes = [clean, one, two];
        let p = pod(json!({"tolerations": [{"key": "y", "operator": "Exists"}]}));
        let cs = CycleState::new();
        assert!(TaintToleration
            .pre_score(&mut CycleState::new(), &p, &nodes, &[0, 1, 2])
            .is_success());
        assert!(TaintToleration
            .pre_score(&mut CycleState::new(), &p, &nodes, &[0])
            .is_skip());
        let mut scores: Vec<NodeScore> = (0..3)
            .map(|i| NodeScore {
                node: i,
                score: TaintToleration.score(&cs, &p, &nodes[i]).unwrap(),
            })
            .collect();
        assert_eq!(
            scores.iter().map(|s| s.score).collect::<Vec<_>>(),
            [0, 1, 1]
        );
        TaintToleration.normalize(&cs, &p, &nodes, &mut scores);
        assert_eq!(
            scores.iter().map(|s| s.score).collect::<Vec<_>>(),
            [100, 0, 0]
        );
    }
}

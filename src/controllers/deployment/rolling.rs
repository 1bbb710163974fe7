//! The RollingUpdate strategy (Kubernetes' rolling.go): the new ReplicaSet grows to at most
//! `replicas + maxSurge` pods in all while old ReplicaSets shrink, unhealthy pods first,
//! keeping at least `replicas - maxUnavailable` available.

use super::progress::deployment_complete;
use super::{all_of, by_creation, max_unavailable, replicas, sum, Sync};
use crate::api::ReplicaSet;
use crate::controllers::replicaset::{available_replicas, desired_replicas, is_observed};
use crate::runtime::ReconcileResult;
use std::sync::Arc;

impl Sync<'_> {
    pub(super) fn rollout_rolling(
        &mut self,
        new: Option<Arc<ReplicaSet>>,
        old: Vec<Arc<ReplicaSet>>,
    ) -> ReconcileResult {
        let new = match new {
            Some(n) => n,
            None => self.create_new_rs(&old)?,
        };
        let mut all = all_of(&old, &Some(new.clone()));
        let (new, scaled_up) = self.reconcile_new_rs(&all, new)?;
        *all.last_mut().expect("the new ReplicaSet is last") = new.clone();
        if scaled_up {
            return self.sync_rollout_status(&all, Some(&new));
        }
        let (old, scaled_down) = self.reconcile_old_rss(&all, old, &new)?;
        let all = all_of(&old, &Some(new.clone()));
        if scaled_down {
            return self.sync_rollout_status(&all, Some(&new));
        }
        let action = self.sync_rollout_status(&all, Some(&new))?;
        // Judged on the status just written: a status write does not wake this controller,
        // so a rollout that completes in this pass is cleaned up now or never.
        if deployment_complete(&self.d, &self.status()) {
            self.cleanup(&old)?;
        }
        Ok(action)
    }

    /// Grows (or, above `spec.replicas`, shrinks) the new ReplicaSet.
    fn reconcile_new_rs(
        &mut self,
        all: &[Arc<ReplicaSet>],
        new: Arc<ReplicaSet>,
    ) -> crate::Result<(Arc<ReplicaSet>, bool)> {
        let want = replicas(&self.d);
        let cur = desired_replicas(&new);
        if cur == want {
            return Ok((new, false));
        }
        if cur > want {
            return self.scale_rs(&new, want);
        }
        let size = self.new_rs_new_replicas(all, Some(&new));
        self.scale_rs(&new, size)
    }

    /// Shrinks old ReplicaSets: first their unhealthy pods, then healthy ones while enough
    /// stay available.
    fn reconcile_old_rss(
        &mut self,
        all: &[Arc<ReplicaSet>],
        mut old: Vec<Arc<ReplicaSet>>,
        new: &Arc<ReplicaSet>,
    ) -> crate::Result<(Vec<Arc<ReplicaSet>>, bool)> {
        if sum(&old, desired_replicas) == 0 {
            return Ok((old, false));
        }
        // Only on ReplicaSets that have acted on their specs (see the module documentation).
        if !all.iter().all(|r| is_observed(r)) {
            return Ok((old, false));
        }
        let all_pods = sum(all, desired_replicas);
        let min_available = replicas(&self.d) - max_unavailable(&self.d);
        let new_unavailable =
            desired_replicas(new) - available_replicas(new).min(desired_replicas(new));
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok((old, false));
        }
        old.sort_by(by_creation);
        // Unhealthy pods of old ReplicaSets go first: they do not count as available anyway.
        let mut cleaned = 0;
        for rs in old.iter_mut() {
            if cleaned >= max_scaled_down {
                break;
            }
            let spec = desired_replicas(rs);
            let avail = available_replicas(rs).min(spec);
            if spec == 0 || spec == avail {
                continue;
            }
            let n = (max_scaled_down - cleaned).min(spec - avail);
            let (written, _) = self.scale_rs(rs, spec - n)?;
            *rs = written;
            cleaned += n;
        }
        // Then healthy pods, while more than the minimum stay available.
        let mut everything = old.clone();
        everything.push(new.clone());
        let available: i32 = everything
            .iter()
            .map(|r| available_replicas(r).min(desired_replicas(r)))
            .sum();
        let mut scaled = 0;
        if available > min_available {
            let total = available - min_available;
            for rs in old.iter_mut() {
                if scaled >= total {
                    break;
                }
                let spec = desired_replicas(rs);
                if spec == 0 {
                    continue;
                }
                let n = spec.min(total - scaled);
                let (written, _) = self.scale_rs(rs, spec - n)?;
                *rs = written;
                scaled += n;
            }
        }
        Ok((old, cleaned + scaled > 0))
    }
}

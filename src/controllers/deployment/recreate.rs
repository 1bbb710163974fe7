//! The Recreate strategy (Kubernetes' recreate.go): every old ReplicaSet goes to 0 and the
//! new one is created or scaled up once no old pod is left running.

use super::progress::deployment_complete;
use super::{all_of, is_active, replicas, sum, Sync};
use crate::api::ReplicaSet;
use crate::controllers::pod_util;
use crate::controllers::replicaset::{desired_replicas, status_replicas};
use crate::runtime::ReconcileResult;
use std::sync::Arc;

impl Sync<'_> {
    pub(super) fn rollout_recreate(
        &mut self,
        new: Option<Arc<ReplicaSet>>,
        old: Vec<Arc<ReplicaSet>>,
    ) -> ReconcileResult {
        let mut old = old;
        let mut scaled_down = false;
        for rs in old.iter_mut() {
            if is_active(rs) {
                let (written, scaled) = self.scale_rs(rs, 0)?;
                *rs = written;
                scaled_down |= scaled;
            }
        }
        if scaled_down || self.old_pods_running(&old)? {
            return self.sync_rollout_status(&all_of(&old, &new), new.as_ref());
        }
        let new = match new {
            Some(n) => n,
            None => self.create_new_rs(&old)?,
        };
        let (new, _) = if desired_replicas(&new) != replicas(&self.d) {
            self.scale_rs(&new, replicas(&self.d))?
        } else {
            (new, false)
        };
        let action = self.sync_rollout_status(&all_of(&old, &Some(new.clone())), Some(&new))?;
        if deployment_complete(&self.d, &self.status()) {
            self.cleanup(&old)?;
        }
        Ok(action)
    }

    /// True while any pod of an old ReplicaSet is still there and not terminal (terminating
    /// pods count: they may still be running).
    fn old_pods_running(&self, old: &[Arc<ReplicaSet>]) -> crate::Result<bool> {
        if sum(old, status_replicas) > 0 {
            return Ok(true);
        }
        let ns = self.d.metadata.namespace.as_deref();
        for rs in old {
            let uid = rs.metadata.uid.as_deref().unwrap_or_default();
            let owned = pod_util::controlled_pods(self.ctx.store(), ns, uid)?;
            if owned.iter().any(|p| !pod_util::is_terminal(p)) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

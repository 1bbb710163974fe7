//! Status conditions helpers (`status.conditions[]`), as apimachinery's `meta.SetStatusCondition`.
//!
//! A reconciler builds the conditions it observed with [`condition`], stamping the
//! `metadata.generation` it computed them from, and merges each into the object's status with
//! [`set_condition`]. `lastTransitionTime` moves only when a condition's `status` changes, so a
//! reconciler that re-asserts the same state every pass writes nothing new: [`set_condition`]
//! returns `false` and the status update can be skipped (no self-triggered hot loop).

use crate::api::{Condition, Time};

/// The `status` of a condition that holds.
pub const TRUE: &str = "True";
/// The `status` of a condition that does not hold.
pub const FALSE: &str = "False";
/// The `status` of a condition that could not be determined.
pub const UNKNOWN: &str = "Unknown";

/// A condition of type `type_` with `status` (`True`, `False` or `Unknown`), `reason`
/// (CamelCase, machine-readable), `message` (for humans) and the `metadata.generation` it was
/// computed from (pass the object's `meta().generation`).
///
/// Empty `reason` and `message` are left unset. `lastTransitionTime` is left unset:
/// [`set_condition`] fills it in.
///
/// ```
/// use steady::api::conditions::{condition, TRUE};
/// let ready = condition("Ready", TRUE, "AllReplicasReady", "3/3 replicas ready", Some(4));
/// assert_eq!(ready.observed_generation, Some(4));
/// ```
pub fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
) -> Condition {
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: non_empty(reason),
        message: non_empty(message),
        observed_generation,
        ..Condition::default()
    }
}

/// `True` for `true`, `False` for `false`.
pub fn status_of(holds: bool) -> &'static str {
    if holds {
        TRUE
    } else {
        FALSE
    }
}

/// Sets `new` in `conditions`, replacing the condition of the same type (or appending it).
///
/// `lastTransitionTime` becomes `now` (or `new`'s own value, when it has one) when the
/// condition is added or its `status` changes; otherwise the existing time is kept, whatever
/// `new` says. `reason`, `message` and `observedGeneration` are taken from `new`;
/// `lastProbeTime`, `lastUpdateTime` and unmodelled fields are taken from `new` when it sets
/// them. The order of the other conditions is kept.
///
/// Returns whether anything changed, so a caller can skip a status write that would change
/// nothing.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition, now: Time) -> bool {
    let Some(existing) = conditions.iter_mut().find(|c| c.type_ == new.type_) else {
        if new.last_transition_time.is_none() {
            new.last_transition_time = Some(now);
        }
        conditions.push(new);
        return true;
    };
    let before = existing.clone();
    if existing.status != new.status {
        existing.status = new.status;
        existing.last_transition_time = Some(new.last_transition_time.unwrap_or(now));
    } else if existing.last_transition_time.is_none() {
        existing.last_transition_time = Some(new.last_transition_time.unwrap_or(now));
    }
    existing.reason = new.reason;
    existing.message = new.message;
    existing.observed_generation = new.observed_generation;
    if new.last_probe_time.is_some() {
        existing.last_probe_time = new.last_probe_time;
    }
    if new.last_update_time.is_some() {
        existing.last_update_time = new.last_update_time;
    }
    if !new.extra.is_empty() {
        existing.extra = new.extra;
    }
    *existing != before
}

/// Removes the condition of type `type_`; returns whether there was one.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let len = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != len
}

/// The condition of type `type_`, if present.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True when the condition of type `type_` is present with status `True`.
pub fn is_condition_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(|c| c.status == TRUE)
}

/// True when the condition of type `type_` is present with status `False`.
pub fn is_condition_false(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(|c| c.status == FALSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Time {
        Time::from_unix_micros(1_700_000_000_000_000 + secs * 1_000_000)
    }

    #[test]
    fn adding_a_condition_stamps_the_transition_time() {
        let mut conds = Vec::new();
        assert!(set_condition(
            &mut conds,
            condition("Ready", FALSE, "Starting", "", Some(1)),
            t(0)
        ));
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0].last_transition_time, Some(t(0)));
        assert_eq!(conds[0].reason.as_deref(), Some("Starting"));
        assert_eq!(conds[0].message, None);
    }

    #[test]
    fn same_status_keeps_the_transition_time_but_takes_the_new_reason() {
        let mut conds = Vec::new();
        set_condition(
            &mut conds,
            condition("Ready", FALSE, "A", "a", Some(1)),
            t(0),
        );
        assert!(set_condition(
            &mut conds,
            condition("Ready", FALSE, "B", "b", Some(1)),
            t(10)
        ));
        assert_eq!(conds[0].last_transition_time, Some(t(0)));
        assert_eq!(conds[0].reason.as_deref(), Some("B"));
        assert_eq!(conds[0].message.as_deref(), Some("b"));
    }

    #[test]
    fn status_change_moves_the_transition_time_to_now() {
        let mut conds = Vec::new();
        set_condition(&mut conds, condition("Ready", FALSE, "A", "", None), t(0));
        assert!(set_condition(
            &mut conds,
            condition("Ready", TRUE, "A", "", None),
            t(30)
        ));
        assert_eq!(conds[0].status, TRUE);
        assert_eq!(conds[0].last_transition_time, Some(t(30)));
    }

    #[test]
    fn reasserting_the_same_condition_changes_nothing() {
        let mut conds = Vec::new();
        let c = condition("Ready", TRUE, "Ok", "fine", Some(2));
        set_condition(&mut conds, c.clone(), t(0));
        let before = conds.clone();
        assert!(!set_condition(&mut conds, c, t(99)));
        assert_eq!(conds, before);
    }

    #[test]
    fn a_new_generation_is_stamped_even_without_a_status_change() {
        let mut conds = Vec::new();
        set_condition(
            &mut conds,
            condition("Ready", TRUE, "Ok", "", Some(1)),
            t(0),
        );
        assert!(set_condition(
            &mut conds,
            condition("Ready", TRUE, "Ok", "", Some(2)),
            t(5)
        ));
        assert_eq!(conds[0].observed_generation, Some(2));
        assert_eq!(conds[0].last_transition_time, Some(t(0)));
    }

    #[test]
    fn an_explicit_transition_time_is_used_on_a_status_change() {
        let mut conds = Vec::new();
        set_condition(&mut conds, condition("Ready", FALSE, "", "", None), t(0));
        let mut c = condition("Ready", TRUE, "", "", None);
        c.last_transition_time = Some(t(3));
        set_condition(&mut conds, c, t(50));
        assert_eq!(conds[0].last_transition_time, Some(t(3)));
    }

    #[test]
    fn other_conditions_keep_their_place() {
        let mut conds = Vec::new();
        for ty in ["A", "B", "C"] {
            set_condition(&mut conds, condition(ty, UNKNOWN, "", "", None), t(0));
        }
        set_condition(&mut conds, condition("B", TRUE, "", "", None), t(1));
        let types: Vec<_> = conds.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["A", "B", "C"]);
        assert_eq!(conds[0].last_transition_time, Some(t(0)));
    }

    #[test]
    fn lookups_report_presence_and_status() {
        let mut conds = Vec::new();
        set_condition(&mut conds, condition("Ready", TRUE, "", "", None), t(0));
        set_condition(&mut conds, condition("Stalled", FALSE, "", "", None), t(0));
        assert!(is_condition_true(&conds, "Ready"));
        assert!(!is_condition_true(&conds, "Stalled"));
        assert!(is_condition_false(&conds, "Stalled"));
        assert!(!is_condition_true(&conds, "Missing"));
        assert!(!is_condition_false(&conds, "Missing"));
        assert_eq!(find_condition(&conds, "Ready").unwrap().status, TRUE);
        assert!(find_condition(&conds, "Missing").is_none());
        assert!(remove_condition(&mut conds, "Ready"));
        assert!(!remove_condition(&mut conds, "Ready"));
        assert_eq!(conds.len(), 1);
        assert_eq!(status_of(true), TRUE);
        assert_eq!(status_of(false), FALSE);
    }
}

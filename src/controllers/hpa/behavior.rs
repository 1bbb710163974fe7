//! An autoscaler's `behavior`: the stabilization windows and rate policies ([`ScalingRules`],
//! Kubernetes' defaults when unset) that turn the replica calculator's proposal into the
//! replicas set, over the history of recent recommendations and scale events.

use crate::api::{HpaScalingRules, Time};
use std::time::Duration;

/// The past an autoscaler's behavior rules look at.
#[derive(Default, Debug)]
pub(super) struct History {
    pub(super) uid: Option<String>,
    /// Unstabilized recommendations (time, replicas).
    pub(super) recommendations: Vec<(Time, i32)>,
    /// Replicas added by scale-ups (time, count).
    pub(super) scale_ups: Vec<(Time, i32)>,
    /// Replicas removed by scale-downs (time, count).
    pub(super) scale_downs: Vec<(Time, i32)>,
    /// Whether the target's replicas at the first sync were recorded as a recommendation.
    pub(super) seeded: bool,
}

/// Which rate policy wins (`selectPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectPolicy {
    /// The policy allowing the largest change (default).
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// One rate policy: at most `value` pods, or `value` percent of the replicas at the start of
/// the period, per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatePolicy {
    /// `Pods` (true) or `Percent` (false).
    pub pods: bool,
    /// The amount.
    pub value: i32,
    /// The period.
    pub period: Duration,
}

/// The scaling rules of one direction with Kubernetes' defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingRules {
    /// `stabilizationWindowSeconds` (scale-up default 0, scale-down default 300).
    pub window: Duration,
    /// `selectPolicy` (default Max).
    pub select: SelectPolicy,
    /// `policies` (scale-up default: Percent 100 and Pods 4 per 15 s; scale-down default:
    /// Percent 100 per 15 s).
    pub policies: Vec<RatePolicy>,
}

impl ScalingRules {
    /// The scale-up rules of `rules` (`spec.behavior.scaleUp`), defaults filled in.
    pub fn scale_up(rules: Option<&HpaScalingRules>) -> Self {
        Self::with_defaults(
            rules,
            0,
            vec![
                RatePolicy {
                    pods: false,
                    value: 100,
                    period: Duration::from_secs(15),
                },
                RatePolicy {
                    pods: true,
                    value: 4,
                    period: Duration::from_secs(15),
                },
            ],
        )
    }

    /// The scale-down rules of `rules` (`spec.behavior.scaleDown`), defaults filled in.
    pub fn scale_down(rules: Option<&HpaScalingRules>) -> Self {
        Self::with_defaults(
            rules,
            300,
            vec![RatePolicy {
                pods: false,
                value: 100,
                period: Duration::from_secs(15),
            }],
        )
    }

    fn with_defaults(
        rules: Option<&HpaScalingRules>,
        window: i32,
        policies: Vec<RatePolicy>,
    ) -> Self {
        let window = rules
            .and_then(|r| r.stabilization_window_seconds)
            .unwrap_or(window)
            .max(0);
        let select = match rules.and_then(|r| r.select_policy.as_deref()) {
            Some("Min") => SelectPolicy::Min,
            Some("Disabled") => SelectPolicy::Disabled,
            _ => SelectPolicy::Max,
        };
        let given: Vec<RatePolicy> = rules
            .map(|r| {
                r.policies
                    .iter()
                    .map(|p| RatePolicy {
                        pods: p.type_ == "Pods",
                        value: p.value,
                        period: Duration::from_secs(p.period_seconds.max(1) as u64),
                    })
                    .collect()
            })
            .unwrap_or_default();
        ScalingRules {
            window: Duration::from_secs(window as u64),
            select,
            policies: if given.is_empty() { policies } else { given },
        }
    }

    fn longest_period(&self) -> Duration {
        self.policies
            .iter()
            .map(|p| p.period)
            .max()
            .unwrap_or_default()
    }
}

/// True when `t` lies within `window` before `now` (strictly after `now - window`).
pub(super) fn within(now: Time, t: Time, window: Duration) -> bool {
    now.saturating_duration_since(t) < window
}

/// Replicas changed by the events within `period` before `now`.
fn changed_in(events: &[(Time, i32)], now: Time, period: Duration) -> i32 {
    events
        .iter()
        .filter(|(t, _)| within(now, *t, period))
        .map(|(_, n)| n)
        .sum()
}

/// The most replicas the scale-up policies allow now, from `current` and the recent
/// scale-ups.
fn scale_up_limit(current: i32, ups: &[(Time, i32)], rules: &ScalingRules, now: Time) -> i32 {
    let (mut result, pick): (i32, fn(i32, i32) -> i32) = match rules.select {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i32::MAX, std::cmp::min),
        SelectPolicy::Max => (i32::MIN, std::cmp::max),
    };
    for p in &rules.policies {
        let start = current - changed_in(ups, now, p.period);
        let proposed = if p.pods {
            start.saturating_add(p.value)
        } else {
            (f64::from(start) * (1.0 + f64::from(p.value) / 100.0)).ceil() as i32
        };
        result = pick(result, proposed);
    }
    result
}

/// The fewest replicas the scale-down policies allow now, from `current` and the recent
/// scale-downs.
fn scale_down_limit(current: i32, downs: &[(Time, i32)], rules: &ScalingRules, now: Time) -> i32 {
    let (mut result, pick): (i32, fn(i32, i32) -> i32) = match rules.select {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i32::MIN, std::cmp::max),
        SelectPolicy::Max => (i32::MAX, std::cmp::min),
    };
    for p in &rules.policies {
        let start = current + changed_in(downs, now, p.period);
        let proposed = if p.pods {
            start - p.value
        } else {
            (f64::from(start) * (1.0 - f64::from(p.value) / 100.0)) as i32
        };
        result = pick(result, proposed);
    }
    result
}

/// What normalization decided, with the reasons of the conditions it sets.
#[derive(Debug, PartialEq)]
pub(super) struct Normalized {
    pub(super) replicas: i32,
    /// `AbleToScale` reason and message: stabilized or `ReadyForNewScale`.
    pub(super) stabilization: (&'static str, &'static str),
    /// `ScalingLimited` status, reason and message.
    pub(super) limited: (bool, &'static str, &'static str),
}

/// The bounds of one normalization: replicas now, the metrics' proposal, min and max.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bounds {
    pub(super) current: i32,
    pub(super) proposed: i32,
    pub(super) min: i32,
    pub(super) max: i32,
}

impl History {
    /// Records the target's replicas at the autoscaler's first sync as a recommendation, as
    /// Kubernetes does: a new autoscaler holds a scale-down for its stabilization window
    /// instead of cutting replicas the moment it is created.
    pub(super) fn seed(&mut self, now: Time, current: i32) {
        if !self.seeded {
            self.seeded = true;
            self.recommendations.push((now, current));
        }
    }

    /// Stabilizes `b.proposed` over the recorded recommendations, records it, then applies
    /// the rate policies and min/max (Kubernetes' behavior normalization).
    pub(super) fn normalize(
        &mut self,
        now: Time,
        b: Bounds,
        up: &ScalingRules,
        down: &ScalingRules,
    ) -> Normalized {
        let (mut up_rec, mut down_rec) = (b.proposed, b.proposed);
        for &(t, r) in &self.recommendations {
            if within(now, t, up.window) {
                up_rec = up_rec.min(r);
            }
            if within(now, t, down.window) {
                down_rec = down_rec.max(r);
            }
        }
        let stabilized = b.current.max(up_rec).min(down_rec);
        let keep = up.window.max(down.window);
        self.recommendations.retain(|&(t, _)| within(now, t, keep));
        self.recommendations.push((now, b.proposed));
        let stabilization = if stabilized == b.proposed {
            ("ReadyForNewScale", "recommended size matches current size")
        } else if b.proposed >= b.current {
            (
                "ScaleUpStabilized",
                "recent recommendations were lower than current one, applying the lowest recent recommendation",
            )
        } else {
            (
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
            )
        };
        let (replicas, reason, message) = self.limit_rate(now, stabilized, b, up, down);
        Normalized {
            replicas,
            stabilization,
            limited: (replicas != stabilized, reason, message),
        }
    }

    fn limit_rate(
        &self,
        now: Time,
        desired: i32,
        b: Bounds,
        up: &ScalingRules,
        down: &ScalingRules,
    ) -> (i32, &'static str, &'static str) {
        if desired > b.current {
            // Until the recent scale-ups leave their periods, no further scale-up.
            let limit = scale_up_limit(b.current, &self.scale_ups, up, now).max(b.current);
            let (allowed, reason, message) = if b.max > limit {
                (
                    limit,
                    "ScaleUpLimit",
                    "the desired replica count is increasing faster than the maximum scale rate",
                )
            } else {
                (
                    b.max,
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                )
            };
            if desired > allowed {
                return (allowed, reason, message);
            }
        } else if desired < b.current {
            let limit = scale_down_limit(b.current, &self.scale_downs, down, now).min(b.current);
            let (allowed, reason, message) = if b.min < limit {
                (
                    limit,
                    "ScaleDownLimit",
                    "the desired replica count is decreasing faster than the maximum scale rate",
                )
            } else {
                (
                    b.min,
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                )
            };
            if desired < allowed {
                return (allowed, reason, message);
            }
        }
        (
            desired,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        )
    }

    /// Records a rescale from `from` to `to` for the rate policies, dropping events older
    /// than the longest period.
    pub(super) fn record_scale(
        &mut self,
        now: Time,
        from: i32,
        to: i32,
        up: &ScalingRules,
        down: &ScalingRules,
    ) {
        let (up_keep, down_keep) = (up.longest_period(), down.longest_period());
        self.scale_ups.retain(|&(t, _)| within(now, t, up_keep));
        self.scale_downs.retain(|&(t, _)| within(now, t, down_keep));
        if to > from {
            self.scale_ups.push((now, to - from));
        } else if to < from {
            self.scale_downs.push((now, from - to));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> Time {
        Time::from_unix_micros(1_700_000_000_000_000).plus(Duration::from_secs(secs))
    }

    #[test]
    fn default_rules_are_kubernetes_defaults() {
        let up = ScalingRules::scale_up(None);
        assert_eq!(up.window, Duration::ZERO);
        assert_eq!(up.select, SelectPolicy::Max);
        assert_eq!(up.policies.len(), 2);
        let down = ScalingRules::scale_down(None);
        assert_eq!(down.window, Duration::from_secs(300));
        assert_eq!(
            down.policies,
            vec![RatePolicy {
                pods: false,
                value: 100,
                period: Duration::from_secs(15)
            }]
        );
        // Partial rules keep the defaults of what they leave out.
        let r = HpaScalingRules {
            stabilization_window_seconds: Some(60),
            ..Default::default()
        };
        let down = ScalingRules::scale_down(Some(&r));
        assert_eq!(down.window, Duration::from_secs(60));
        assert_eq!(down.policies.len(), 1);
    }

    #[test]
    fn scale_up_is_limited_to_double_or_four_pods_per_period() {
        let up = ScalingRules::scale_up(None);
        assert_eq!(scale_up_limit(1, &[], &up, t(0)), 5, "1 + 4 beats 2x");
        assert_eq!(scale_up_limit(10, &[], &up, t(0)), 20, "2x beats +4");
        // 2 -> 6 ten seconds ago: the period started at 2, so at most 6 now.
        let ups = [(t(0), 4)];
        assert_eq!(scale_up_limit(6, &ups, &up, t(10)), 6);
        assert_eq!(
            scale_up_limit(6, &ups, &up, t(15)),
            12,
            "the period has passed"
        );
        let min = ScalingRules {
            select: SelectPolicy::Min,
            ..up.clone()
        };
        assert_eq!(scale_up_limit(10, &[], &min, t(0)), 14);
        let off = ScalingRules {
            select: SelectPolicy::Disabled,
            ..up
        };
        assert_eq!(scale_up_limit(10, &[], &off, t(0)), 10);
    }

    #[test]
    fn scale_down_policies_count_the_period_start() {
        let pods = ScalingRules {
            window: Duration::ZERO,
            select: SelectPolicy::Max,
            policies: vec![RatePolicy {
                pods: true,
                value: 2,
                period: Duration::from_secs(60),
            }],
        };
        assert_eq!(scale_down_limit(10, &[], &pods, t(0)), 8);
        assert_eq!(scale_down_limit(8, &[(t(0), 2)], &pods, t(30)), 8);
        assert_eq!(scale_down_limit(8, &[(t(0), 2)], &pods, t(60)), 6);
        let down = ScalingRules::scale_down(None);
        assert_eq!(scale_down_limit(10, &[], &down, t(0)), 0, "100% per 15 s");
    }

    fn bounds(current: i32, proposed: i32) -> Bounds {
        Bounds {
            current,
            proposed,
            min: 1,
            max: 10,
        }
    }

    #[test]
    fn scale_down_waits_for_the_window_to_forget_higher_recommendations() {
        let (up, down) = (ScalingRules::scale_up(None), ScalingRules::scale_down(None));
        let mut h = History::default();
        assert_eq!(h.normalize(t(0), bounds(5, 5), &up, &down).replicas, 5);
        let n = h.normalize(t(15), bounds(5, 2), &up, &down);
        assert_eq!(n.replicas, 5);
        assert_eq!(n.stabilization.0, "ScaleDownStabilized");
        assert_eq!(h.normalize(t(299), bounds(5, 2), &up, &down).replicas, 5);
        // At 300 s the recommendation of t=0 has left the window.
        let n = h.normalize(t(300), bounds(5, 2), &up, &down);
        assert_eq!(n.replicas, 2);
        assert_eq!(n.stabilization.0, "ReadyForNewScale");
    }

    #[test]
    fn min_and_max_clamp_with_scaling_limited() {
        let (up, down) = (ScalingRules::scale_up(None), ScalingRules::scale_down(None));
        let mut h = History::default();
        let n = h.normalize(
            t(0),
            Bounds {
                current: 8,
                proposed: 20,
                min: 1,
                max: 10,
            },
            &up,
            &down,
        );
        assert_eq!(
            (n.replicas, n.limited.0, n.limited.1),
            (10, true, "TooManyReplicas")
        );
        let n = h.normalize(
            t(0),
            Bounds {
                current: 1,
                proposed: 8,
                min: 1,
                max: 10,
            },
            &up,
            &down,
        );
        assert_eq!((n.replicas, n.limited.1), (5, "ScaleUpLimit"));
        let mut h = History::default();
        let n = h.normalize(
            t(0),
            Bounds {
                current: 3,
                proposed: 0,
                min: 2,
                max: 10,
            },
            &up,
            &ScalingRules {
                window: Duration::ZERO,
                ..down
            },
        );
        assert_eq!(
            (n.replicas, n.limited.0, n.limited.1),
            (2, true, "TooFewReplicas")
        );
    }
}

//! Slow-start batches: how a controller creates many children without hammering the store
//! with calls that all fail for the same reason.
//!
//! Creates run in batches of 1, 2, 4, 8, ... ([`SLOW_START_INITIAL_BATCH`] doubling); a batch
//! with any failure ends the run, so a systematic error (an invalid template, a denying
//! admission hook, a full quota) costs a handful of calls, not hundreds. A controller also
//! bounds the work of one sync with [`BURST_REPLICAS`] and lets the next sync continue.

/// Size of the first batch (Kubernetes' `SlowStartInitialBatchSize`).
pub const SLOW_START_INITIAL_BATCH: usize = 1;

/// Most children created or deleted in one sync (Kubernetes' `BurstReplicas`).
pub const BURST_REPLICAS: usize = 500;

/// Calls `f` `count` times in batches of `initial`, `2 * initial`, ... Every call of a batch is
/// made; after a batch in which some call failed no further batch starts. Returns the number
/// of successful calls and the first error, if any. `f` is given the call's index.
///
/// ```
/// use steady::controllers::slow_start::slow_start_batch;
/// let mut calls = 0;
/// let (ok, err) = slow_start_batch(10, 1, |i| {
///     calls += 1;
///     if i == 4 { Err("quota") } else { Ok(()) }
/// });
/// // Batches 1, 2, 4: the third batch (calls 3..7) fails, so the last batch never runs.
/// assert_eq!((calls, ok, err), (7, 6, Some("quota")));
/// ```
pub fn slow_start_batch<E>(
    count: usize,
    initial: usize,
    mut f: impl FnMut(usize) -> Result<(), E>,
) -> (usize, Option<E>) {
    let mut done = 0;
    let mut ok = 0;
    let mut batch = initial.max(1).min(count);
    while batch > 0 {
        let mut first_error = None;
        for i in done..done + batch {
            match f(i) {
                Ok(()) => ok += 1,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if first_error.is_some() {
            return (ok, first_error);
        }
        done += batch;
        batch = (2 * batch).min(count - done);
    }
    (ok, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_double_until_the_count() {
        let mut sizes = Vec::new();
        let mut seen = 0;
        let (ok, err) = slow_start_batch::<()>(20, 1, |i| {
            assert_eq!(i, seen);
            seen += 1;
            Ok(())
        });
        assert_eq!((ok, err), (20, None));
        // Recompute the batch boundaries from the same rule.
        let (mut done, mut b) = (0, 1usize);
        while b > 0 {
            sizes.push(b);
            done += b;
            b = (2 * b).min(20 - done);
        }
        assert_eq!(sizes, [1, 2, 4, 8, 5]);
    }

    #[test]
    fn a_failing_first_call_stops_after_one_call() {
        let mut calls = 0;
        let (ok, err) = slow_start_batch(500, SLOW_START_INITIAL_BATCH, |_| {
            calls += 1;
            Err("denied")
        });
        assert_eq!((calls, ok, err), (1, 0, Some("denied")));
    }

    #[test]
    fn zero_count_makes_no_call() {
        let (ok, err) = slow_start_batch::<()>(0, 1, |_| panic!("no call expected"));
        assert_eq!((ok, err), (0, None));
    }
}

//! CronJobs over simulated days on the manual clock: Jobs at the scheduled times in a time
//! zone, missed windows (startingDeadlineSeconds), more than 100 missed times, the three
//! concurrency policies, suspend, history limits and garbage collection, and admission
//! errors that name the field. Nothing sleeps for a schedule: the test moves the clock.

mod common;

use common::eventually;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{CronJob, CronJobStatus, Job, Pod, Time};
use steady::clock::{Clock, ManualClock};
use steady::Engine;

/// A CronJob `name` whose Jobs run one pod of `image` on sim-0 (backoffLimit 0), in UTC
/// unless `spec` says otherwise.
fn cron_job(name: &str, image: &str, spec: Value) -> String {
    let mut s = json!({
        "timeZone": "Etc/UTC",
        "jobTemplate": {
            "metadata": {"labels": {"team": "batch"}},
            "spec": {"backoffLimit": 0, "template": {"spec": {"nodeName": "sim-0",
                "restartPolicy": "Never", "containers": [{"name": "main", "image": image}]}}}
        }
    });
    for (k, v) in spec.as_object().unwrap() {
        s[k] = v.clone();
    }
    json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name}, "spec": s})
        .to_string()
}

fn at(s: &str) -> Time {
    s.parse().unwrap()
}

/// Moves the manual clock forward to `t`.
fn advance_to(clock: &ManualClock, t: &str) {
    let d = at(t).saturating_duration_since(clock.now());
    clock.advance(d);
}

/// The Jobs of the CronJob `cj`, by name.
fn jobs_of(e: &Engine, cj: &str) -> Vec<Arc<Job>> {
    let mut v: Vec<_> = e
        .api::<Job>()
        .namespace("default")
        .list(&Default::default())
        .unwrap()
        .items
        .into_iter()
        .filter(|j| {
            j.metadata
                .owner_references
                .iter()
                .any(|r| r.kind == "CronJob" && r.name == cj)
        })
        .collect();
    v.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    v
}

fn names(jobs: &[Arc<Job>]) -> Vec<String> {
    jobs.iter().map(|j| j.metadata.name.clone()).collect()
}

/// `<cj>-<minutes since the epoch of t>`.
fn job_name(cj: &str, t: &str) -> String {
    format!("{cj}-{}", at(t).unix_micros() / 60_000_000)
}

fn status(e: &Engine, cj: &str) -> CronJobStatus {
    e.api::<CronJob>()
        .namespace("default")
        .get(cj)
        .unwrap()
        .status
        .clone()
        .unwrap_or_default()
}

fn active(e: &Engine, cj: &str) -> Vec<String> {
    status(e, cj)
        .active
        .iter()
        .filter_map(|r| r.name.clone())
        .collect()
}

fn has_event(e: &Engine, cj: &str, reason: &str) -> bool {
    let obj = e.api::<CronJob>().namespace("default").get(cj).unwrap();
    steady::client::events::events_for(e.store(), obj.as_ref())
        .unwrap()
        .iter()
        .any(|ev| ev.reason.as_deref() == Some(reason))
}

fn finished(j: &Job, condition: &str) -> bool {
    j.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == condition && c.status == "True")
    })
}

/// Lets the controllers act on the current time; used only to show that nothing happens.
fn settle() {
    std::thread::sleep(Duration::from_millis(150));
}

#[test]
fn a_cronjob_runs_every_day_in_its_time_zone_and_keeps_three_successes() {
    let clock = Arc::new(ManualClock::default()); // Monday 2024-01-01 00:00 UTC
    let e = common::one_simulated_node(&clock);
    e.kubelet()
        .simulated()
        .crash_on_start(Some("task"), 0, 1000);
    // 03:00 in New York is 08:00 UTC in January.
    e.apply(&cron_job(
        "nightly",
        "task",
        json!({"schedule": "0 3 * * *", "timeZone": "America/New_York"}),
    ))
    .unwrap();
    let mut seen = BTreeSet::new();
    advance_to(&clock, "2024-01-01T00:30:00Z");
    // Five days, an hour at a time.
    for _ in 0..(5 * 24) {
        clock.advance(Duration::from_secs(3600));
        let now = clock.now();
        let due = (0..5)
            .map(|d| at("2024-01-01T08:00:00Z").plus(Duration::from_secs(d * 86_400)))
            .filter(|t| *t <= now)
            .count();
        eventually(20, "the day's Job ran and finished", || {
            let jobs = jobs_of(&e, "nightly");
            for j in &jobs {
                seen.insert(j.metadata.name.clone());
            }
            seen.len() == due
                && jobs.iter().all(|j| finished(j, "Complete"))
                && active(&e, "nightly").is_empty()
        });
    }
    let want: BTreeSet<String> = (1..=5)
        .map(|d| job_name("nightly", &format!("2024-01-0{d}T08:00:00Z")))
        .collect();
    assert_eq!(seen, want);
    // successfulJobsHistoryLimit defaults to 3: the oldest two are gone, with their pods.
    eventually(20, "three Jobs kept", || jobs_of(&e, "nightly").len() == 3);
    let kept = jobs_of(&e, "nightly");
    assert_eq!(
        names(&kept),
        want.iter().skip(2).cloned().collect::<Vec<_>>()
    );
    let j = &kept[2];
    assert_eq!(
        j.metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"],
        "2024-01-05T03:00:00-05:00"
    );
    assert_eq!(j.metadata.labels["team"], "batch");
    let owner = &j.metadata.owner_references[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("CronJob", Some(true))
    );
    eventually(20, "the status shows the last run and its success", || {
        let s = status(&e, "nightly");
        s.last_schedule_time == Some(at("2024-01-05T08:00:00Z"))
            && s.last_successful_time >= Some(at("2024-01-05T08:00:00Z"))
            && s.active.is_empty()
    });
    let deleted: Vec<&String> = want.iter().take(2).collect();
    eventually(20, "pods of deleted Jobs are collected", || {
        e.api::<Pod>()
            .namespace("default")
            .list(&Default::default())
            .unwrap()
            .items
            .iter()
            .all(|p| {
                p.metadata
                    .labels
                    .get("job-name")
                    .is_some_and(|j| !deleted.contains(&j))
            })
    });

    // The CronJob's Jobs go with it (garbage collection through owner references).
    e.api::<CronJob>()
        .namespace("default")
        .delete("nightly", &Default::default())
        .unwrap();
    eventually(20, "its Jobs are deleted", || {
        jobs_of(&e, "nightly").is_empty()
    });
}

#[test]
fn a_window_missed_by_more_than_the_starting_deadline_is_skipped() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.kubelet()
        .simulated()
        .crash_on_start(Some("task"), 0, 1000);
    e.apply(&cron_job(
        "strict",
        "task",
        json!({"schedule": "*/5 * * * *", "startingDeadlineSeconds": 60}),
    ))
    .unwrap();
    e.apply(&cron_job(
        "late",
        "task",
        json!({"schedule": "*/5 * * * *"}),
    ))
    .unwrap();
    // The engine is "down" over 00:05 and 00:10 and wakes at 00:12.
    advance_to(&clock, "2024-01-01T00:12:00Z");
    // Without a deadline, the most recent missed time still runs (and only it).
    eventually(20, "late runs 00:10", || {
        names(&jobs_of(&e, "late")) == [job_name("late", "2024-01-01T00:10:00Z")]
    });
    settle();
    assert!(
        jobs_of(&e, "strict").is_empty(),
        "00:10 is more than 60 s ago"
    );
    assert_eq!(status(&e, "strict").last_schedule_time, None);
    // The next window runs on time.
    advance_to(&clock, "2024-01-01T00:15:30Z");
    eventually(20, "strict runs 00:15", || {
        names(&jobs_of(&e, "strict")) == [job_name("strict", "2024-01-01T00:15:00Z")]
    });
    eventually(20, "lastScheduleTime is 00:15", || {
        status(&e, "strict").last_schedule_time == Some(at("2024-01-01T00:15:00Z"))
    });
}

#[test]
fn more_than_100_missed_times_warn_and_the_most_recent_still_runs() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.apply(&cron_job(
        "minutely",
        "long",
        json!({"schedule": "* * * * *"}),
    ))
    .unwrap();
    // Three hours pass at once: 180 missed minutes.
    advance_to(&clock, "2024-01-01T03:00:30Z");
    eventually(20, "the most recent time runs", || {
        names(&jobs_of(&e, "minutely")) == [job_name("minutely", "2024-01-01T03:00:00Z")]
    });
    eventually(20, "a TooManyMissedTimes warning", || {
        has_event(&e, "minutely", "TooManyMissedTimes")
    });
    eventually(20, "lastScheduleTime is the time run", || {
        status(&e, "minutely").last_schedule_time == Some(at("2024-01-01T03:00:00Z"))
    });
}

#[test]
fn allow_runs_side_by_side_forbid_skips_and_replace_replaces() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    for policy in ["Allow", "Forbid", "Replace"] {
        e.apply(&cron_job(
            &policy.to_lowercase(),
            "long",
            json!({"schedule": "*/10 * * * *", "concurrencyPolicy": policy}),
        ))
        .unwrap();
    }
    let first = |cj: &str| job_name(cj, "2024-01-01T00:10:00Z");
    let second = |cj: &str| job_name(cj, "2024-01-01T00:20:00Z");
    advance_to(&clock, "2024-01-01T00:10:30Z");
    for cj in ["allow", "forbid", "replace"] {
        eventually(20, "each runs its first Job", || {
            active(&e, cj) == [first(cj)]
        });
    }
    // The first Jobs still run at 00:20.
    advance_to(&clock, "2024-01-01T00:20:30Z");
    eventually(20, "allow runs both", || {
        active(&e, "allow") == [first("allow"), second("allow")]
    });
    eventually(20, "replace deleted the first and runs the second", || {
        names(&jobs_of(&e, "replace")) == [second("replace")]
            && active(&e, "replace") == [second("replace")]
    });
    eventually(20, "forbid says why it skips", || {
        has_event(&e, "forbid", "JobAlreadyActive")
    });
    assert_eq!(names(&jobs_of(&e, "forbid")), [first("forbid")]);
    assert_eq!(
        status(&e, "forbid").last_schedule_time,
        Some(at("2024-01-01T00:10:00Z"))
    );

    // Once forbid's Job finishes...
    let pod = e
        .api::<Pod>()
        .namespace("default")
        .list(&Default::default())
        .unwrap()
        .items
        .into_iter()
        .find(|p| p.metadata.labels.get("job-name") == Some(&first("forbid")))
        .unwrap();
    eventually(20, "forbid's pod runs", || {
        e.kubelet()
            .simulated()
            .running_containers()
            .iter()
            .any(|(_, p, _)| *p == pod.metadata.name)
    });
    assert!(
        e.kubelet()
            .simulated()
            .crash("default", &pod.metadata.name, "main", 0),
        "{:?} {:?}",
        pod.metadata.name,
        e.kubelet().simulated().running_containers()
    );
    // The skipped 00:20 is still the most recent time, and there is no
    // startingDeadlineSeconds: it starts now, late, as in Kubernetes.
    eventually(
        20,
        "forbid runs the skipped 00:20 once the first is done",
        || active(&e, "forbid") == [second("forbid")],
    );
}

#[test]
fn a_suspended_cronjob_creates_nothing_until_resumed() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    let spec = |suspend: bool| {
        cron_job(
            "paused",
            "long",
            json!({"schedule": "*/10 * * * *", "suspend": suspend}),
        )
    };
    e.apply(&spec(true)).unwrap();
    advance_to(&clock, "2024-01-01T00:25:00Z");
    settle();
    assert!(jobs_of(&e, "paused").is_empty());
    assert_eq!(status(&e, "paused").last_schedule_time, None);
    // Resumed, it runs the most recent missed time (no startingDeadlineSeconds), as
    // Kubernetes does.
    e.apply(&spec(false)).unwrap();
    eventually(20, "the 00:20 Job", || {
        names(&jobs_of(&e, "paused")) == [job_name("paused", "2024-01-01T00:20:00Z")]
    });
}

#[test]
fn history_limits_keep_the_newest_successes_and_failures() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.apply(&cron_job(
        "history",
        "task",
        json!({"schedule": "*/10 * * * *", "successfulJobsHistoryLimit": 2,
            "failedJobsHistoryLimit": 1}),
    ))
    .unwrap();
    let outcomes = [0, 0, 0, 1, 1]; // exit codes of the runs at 00:10 .. 00:50
    let mut names_by_outcome = (Vec::new(), Vec::new());
    for (i, code) in outcomes.iter().enumerate() {
        e.kubelet()
            .simulated()
            .crash_on_start(Some("task"), *code, 1);
        let t = format!("2024-01-01T00:{}0:00Z", i + 1);
        advance_to(&clock, &format!("2024-01-01T00:{}0:30Z", i + 1));
        let name = job_name("history", &t);
        let condition = if *code == 0 { "Complete" } else { "Failed" };
        eventually(20, "the run finished", || {
            e.api::<Job>()
                .namespace("default")
                .get(&name)
                .is_ok_and(|j| finished(&j, condition))
                && active(&e, "history").is_empty()
        });
        if *code == 0 {
            names_by_outcome.0.push(name);
        } else {
            names_by_outcome.1.push(name);
        }
    }
    let (ok, failed) = names_by_outcome;
    let want = vec![ok[1].clone(), ok[2].clone(), failed[1].clone()];
    eventually(20, "two successes and one failure kept", || {
        names(&jobs_of(&e, "history")) == want
    });
    let s = status(&e, "history");
    // The last success was the 00:30 run (the simulated pod finishes when it starts).
    assert!(s.last_successful_time >= Some(at("2024-01-01T00:30:00Z")));
    assert!(s.last_successful_time < Some(at("2024-01-01T00:40:00Z")));
}

#[test]
fn bad_schedules_and_time_zones_are_refused_naming_the_field() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    let err = |spec: Value| {
        e.apply(&cron_job("bad", "task", spec))
            .unwrap_err()
            .to_string()
    };
    let m = err(json!({"schedule": "0 0 * * 7"}));
    assert!(m.contains("CronJob") && m.contains("bad"), "{m}");
    assert!(
        m.contains(
            "spec.schedule: Invalid value: \"0 0 * * 7\": end of range (7) above maximum (6): 7"
        ),
        "{m}"
    );
    let m = err(json!({"schedule": "@hourly", "timeZone": "Mars/Olympus"}));
    assert!(
        m.contains(
            "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"
        ),
        "{m}"
    );
    let m = err(json!({"schedule": "0 0 30 2 *"}));
    assert!(
        m.contains("spec.schedule") && m.contains("never runs"),
        "{m}"
    );
    // With timeZone (in `err`) or without it, as Kubernetes since 1.27.
    let m = err(json!({"schedule": "CRON_TZ=Europe/Berlin 0 0 * * *"}));
    assert!(
        m.contains("cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
        "{m}"
    );
    let m = err(json!({"schedule": "TZ=UTC 0 0 * * *", "timeZone": null}));
    assert!(
        m.contains("spec.schedule: Invalid value: \"TZ=UTC 0 0 * * *\": cannot use TZ"),
        "{m}"
    );
    let m = err(json!({"schedule": "@daily", "concurrencyPolicy": "Sometimes"}));
    assert!(m.contains("spec.concurrencyPolicy"), "{m}");
    let m = err(json!({"schedule": "@daily", "startingDeadlineSeconds": -1}));
    assert!(m.contains("spec.startingDeadlineSeconds"), "{m}");
    assert!(e.api::<CronJob>().namespace("default").get("bad").is_err());
    // The defaults kube-apiserver gives.
    e.apply(&cron_job("good", "task", json!({"schedule": "@weekly"})))
        .unwrap();
    let cj = e.api::<CronJob>().namespace("default").get("good").unwrap();
    assert_eq!(cj.spec.concurrency_policy.as_deref(), Some("Allow"));
    assert_eq!(cj.spec.suspend, Some(false));
    assert_eq!(cj.spec.successful_jobs_history_limit, Some(3));
    assert_eq!(cj.spec.failed_jobs_history_limit, Some(1));
}

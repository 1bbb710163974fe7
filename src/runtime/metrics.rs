//! A small metrics registry: labelled counters, gauges and histograms, rendered in the
//! Prometheus text exposition format (version 0.0.4).
//!
//! Looking a series up ([`MetricsRegistry::counter`], [`MetricsRegistry::gauge`],
//! [`MetricsRegistry::histogram`]) takes a lock; the handle it returns updates with atomics
//! only, so the hot path keeps handles and never touches the registry again. Series are keyed
//! by their label set (label order does not matter); asking twice gives handles to the same
//! series.
//!
//! The runtime's metrics are named as controller-runtime names them
//! (`controller_runtime_reconcile_total{controller,result}`, `workqueue_depth{name}`, ...);
//! the registry itself is generic.
//!
//! ```
//! use steady::runtime::metrics::{render_prometheus, MetricsRegistry, RECONCILE_TIME_BUCKETS};
//! let metrics = MetricsRegistry::new();
//! let ok = metrics.counter(
//!     "controller_runtime_reconcile_total",
//!     "Total number of reconciliations per controller",
//!     &[("controller", "web"), ("result", "success")],
//! );
//! ok.inc();
//! let text = render_prometheus(&metrics.snapshot());
//! assert!(text.contains("controller_runtime_reconcile_total{controller=\"web\",result=\"success\"} 1\n"));
//! ```

use parking_lot::RwLock;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Prometheus' default buckets, in seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// controller-runtime's buckets for `controller_runtime_reconcile_time_seconds`, in seconds.
pub const RECONCILE_TIME_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

/// controller-runtime's buckets for the work queue's `workqueue_queue_duration_seconds` and
/// `workqueue_work_duration_seconds`: 10 ns to 1000 s, ten times apart.
pub const WORKQUEUE_DURATION_BUCKETS: &[f64] = &[
    1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0,
];

/// The type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// A value that only goes up (resets only with the process).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted into fixed buckets, with their sum and count.
    Histogram,
}

impl MetricType {
    /// The name in a `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

/// Adds `v` to the `f64` stored as bits in `cell`.
fn add_f64(cell: &AtomicU64, v: f64) {
    let mut cur = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(cur) + v).to_bits();
        match cell.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(seen) => cur = seen,
        }
    }
}

/// A handle to one counter series. Cheap to clone; updates are atomic.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A handle to one gauge series (an `f64`). Cheap to clone; updates are atomic.
#[derive(Clone, Debug)]
pub struct Gauge(Arc<AtomicU64>);

impl Default for Gauge {
    fn default() -> Self {
        Gauge(Arc::new(AtomicU64::new(0f64.to_bits())))
    }
}

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Adds `v` (negative to subtract).
    pub fn add(&self, v: f64) {
        add_f64(&self.0, v);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

#[derive(Debug)]
struct HistogramCore {
    /// Upper bounds, ascending, without `+Inf`.
    bounds: Arc<[f64]>,
    /// Per-bucket (not cumulative) counts; the last one is `+Inf`.
    counts: Box<[AtomicU64]>,
    /// Sum of observations, as `f64` bits.
    sum: AtomicU64,
}

/// A handle to one histogram series. Cheap to clone; observations are atomic.
#[derive(Clone, Debug)]
pub struct Histogram(Arc<HistogramCore>);

impl Histogram {
    fn new(bounds: Arc<[f64]>) -> Self {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram(Arc::new(HistogramCore {
            bounds,
            counts,
            sum: AtomicU64::new(0f64.to_bits()),
        }))
    }

    /// Records one observation of `v` (counted in the first bucket whose bound is >= `v`).
    pub fn observe(&self, v: f64) {
        let i = self.0.bounds.partition_point(|b| *b < v);
        self.0.counts[i].fetch_add(1, Ordering::Relaxed);
        add_f64(&self.0.sum, v);
    }

    /// Records a duration, in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// Number of observations so far.
    pub fn count(&self) -> u64 {
        self.0
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Sum of the observations so far.
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.0.sum.load(Ordering::Relaxed))
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(self.0.bounds.len());
        for (i, le) in self.0.bounds.iter().enumerate() {
            cumulative += self.0.counts[i].load(Ordering::Relaxed);
            buckets.push(Bucket {
                le: *le,
                count: cumulative,
            });
        }
        cumulative += self.0.counts[self.0.bounds.len()].load(Ordering::Relaxed);
        HistogramSnapshot {
            buckets,
            sum: self.sum(),
            // Derived from the buckets so that `_count` always equals the `+Inf` bucket.
            count: cumulative,
        }
    }
}

type GaugeFn = Arc<dyn Fn() -> f64 + Send + Sync>;

#[derive(Clone)]
enum Series {
    Counter(Counter),
    Gauge(Gauge),
    GaugeFn(GaugeFn),
    Histogram(Histogram),
}

/// A label set, sorted by label name.
type Labels = Vec<(String, String)>;

/// A family's handles, collected under the registry lock to be read after it.
struct Collected {
    name: String,
    help: String,
    kind: MetricType,
    series: Vec<(Labels, Series)>,
}

struct Family {
    help: String,
    kind: MetricType,
    /// Bucket bounds, for histograms.
    bounds: Option<Arc<[f64]>>,
    series: BTreeMap<Labels, Series>,
}

/// A registry of metric families. Cheap to clone: clones share the registry.
#[derive(Clone, Default)]
pub struct MetricsRegistry {
    families: Arc<RwLock<BTreeMap<String, Family>>>,
}

impl std::fmt::Debug for MetricsRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRegistry")
            .field("families", &self.families.read().keys().collect::<Vec<_>>())
            .finish()
    }
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

impl MetricsRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter `name` with `labels`, created at zero on first use.
    ///
    /// # Panics
    ///
    /// When `name` or a label name is not a valid Prometheus name, a label name repeats, or
    /// `name` is already registered with another type: programming errors, caught by the
    /// first test that touches the metric.
    pub fn counter(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Counter {
        match self.series(name, help, MetricType::Counter, None, labels, || {
            Series::Counter(Counter::default())
        }) {
            Series::Counter(c) => c,
            _ => unreachable!("the family type was checked"),
        }
    }

    /// The gauge `name` with `labels`, created at zero on first use.
    ///
    /// # Panics
    ///
    /// As [`MetricsRegistry::counter`]; also when the series was registered with
    /// [`MetricsRegistry::gauge_fn`].
    pub fn gauge(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Gauge {
        match self.series(name, help, MetricType::Gauge, None, labels, || {
            Series::Gauge(Gauge::default())
        }) {
            Series::Gauge(g) => g,
            _ => panic!("gauge {name} {labels:?} is computed by a function: it has no handle"),
        }
    }

    /// Registers (or replaces) a gauge whose value `f` computes at every snapshot, for values
    /// that are cheaper to compute when read than to maintain (`workqueue_unfinished_work_seconds`).
    /// `f` runs without any registry lock held.
    ///
    /// # Panics
    ///
    /// As [`MetricsRegistry::counter`].
    pub fn gauge_fn<F>(&self, name: &str, help: &str, labels: &[(&str, &str)], f: F)
    where
        F: Fn() -> f64 + Send + Sync + 'static,
    {
        let f: GaugeFn = Arc::new(f);
        let labels = Self::labels(name, MetricType::Gauge, labels);
        let mut families = self.families.write();
        let family = Self::family(&mut families, name, help, MetricType::Gauge, None);
        family.series.insert(labels, Series::GaugeFn(f));
    }

    /// The histogram `name` with `labels`, created empty on first use. `buckets` are the upper
    /// bounds (ascending, finite; `+Inf` is implied) and are fixed by the first registration
    /// of `name`: later calls reuse them whatever they pass.
    ///
    /// # Panics
    ///
    /// As [`MetricsRegistry::counter`]; also when `buckets` is not strictly ascending and
    /// finite, or a label is named `le`.
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        buckets: &[f64],
    ) -> Histogram {
        assert!(
            buckets.iter().all(|b| b.is_finite()) && buckets.windows(2).all(|w| w[0] < w[1]),
            "histogram {name}: buckets must be finite and strictly ascending: {buckets:?}"
        );
        let bounds: Arc<[f64]> = buckets.into();
        match self.series(
            name,
            help,
            MetricType::Histogram,
            Some(bounds),
            labels,
            || unreachable!("histogram series are made from the family's bounds"),
        ) {
            Series::Histogram(h) => h,
            _ => unreachable!("the family type was checked"),
        }
    }

    /// Removes the series `name` with `labels` (a controller or queue that is gone); returns
    /// whether it existed. Handles to it keep working but are no longer reported.
    pub fn remove(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        let key = sorted_labels(labels);
        let mut families = self.families.write();
        let Some(family) = families.get_mut(name) else {
            return false;
        };
        let removed = family.series.remove(&key).is_some();
        if family.series.is_empty() {
            families.remove(name);
        }
        removed
    }

    fn labels(name: &str, kind: MetricType, labels: &[(&str, &str)]) -> Labels {
        assert!(valid_metric_name(name), "invalid metric name {name:?}");
        for (l, _) in labels {
            assert!(
                valid_label_name(l),
                "metric {name}: invalid label name {l:?}"
            );
            assert!(
                kind != MetricType::Histogram || *l != "le",
                "histogram {name}: label `le` is reserved"
            );
        }
        let key = sorted_labels(labels);
        assert!(
            key.windows(2).all(|w| w[0].0 != w[1].0),
            "metric {name}: repeated label name in {labels:?}"
        );
        key
    }

    fn family<'a>(
        families: &'a mut BTreeMap<String, Family>,
        name: &str,
        help: &str,
        kind: MetricType,
        bounds: Option<Arc<[f64]>>,
    ) -> &'a mut Family {
        let family = families.entry(name.to_string()).or_insert_with(|| Family {
            help: help.to_string(),
            kind,
            bounds,
            series: BTreeMap::new(),
        });
        assert!(
            family.kind == kind,
            "metric {name} is a {}, not a {}",
            family.kind.as_str(),
            kind.as_str()
        );
        family
    }

    fn series(
        &self,
        name: &str,
        help: &str,
        kind: MetricType,
        bounds: Option<Arc<[f64]>>,
        labels: &[(&str, &str)],
        make: impl FnOnce() -> Series,
    ) -> Series {
        let key = Self::labels(name, kind, labels);
        if let Some(family) = self.families.read().get(name) {
            assert!(
                family.kind == kind,
                "metric {name} is a {}, not a {}",
                family.kind.as_str(),
                kind.as_str()
            );
            if let Some(s) = family.series.get(&key) {
                return s.clone();
            }
        }
        let mut families = self.families.write();
        let family = Self::family(&mut families, name, help, kind, bounds);
        let made_from = family.bounds.clone();
        family
            .series
            .entry(key)
            .or_insert_with(|| match made_from {
                Some(b) => Series::Histogram(Histogram::new(b)),
                None => make(),
            })
            .clone()
    }

    /// The value of every series now. Each series is read atomically on its own; series are
    /// not read at one instant together.
    pub fn snapshot(&self) -> MetricsSnapshot {
        // Collect handles under the lock, read them (and run gauge functions) after it.
        let collected: Vec<Collected> = self
            .families
            .read()
            .iter()
            .map(|(name, f)| Collected {
                name: name.clone(),
                help: f.help.clone(),
                kind: f.kind,
                series: f
                    .series
                    .iter()
                    .map(|(l, s)| (l.clone(), s.clone()))
                    .collect(),
            })
            .collect();
        let families = collected
            .into_iter()
            .map(|c| FamilySnapshot {
                name: c.name,
                help: c.help,
                kind: c.kind,
                series: c
                    .series
                    .into_iter()
                    .map(|(labels, s)| SeriesSnapshot {
                        labels: labels.into_iter().collect(),
                        value: match s {
                            Series::Counter(c) => SeriesValue::Counter(c.get()),
                            Series::Gauge(g) => SeriesValue::Gauge(g.get()),
                            Series::GaugeFn(f) => SeriesValue::Gauge(f()),
                            Series::Histogram(h) => SeriesValue::Histogram(h.snapshot()),
                        },
                    })
                    .collect(),
            })
            .collect();
        MetricsSnapshot { families }
    }
}

fn sorted_labels(labels: &[(&str, &str)]) -> Labels {
    let mut key: Labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    key.sort();
    key
}

/// The state of every metric at one moment: serializable (JSON for an API, or
/// [`render_prometheus`] for a scrape).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    /// Families, sorted by name.
    pub families: Vec<FamilySnapshot>,
}

impl MetricsSnapshot {
    /// The family named `name`.
    pub fn family(&self, name: &str) -> Option<&FamilySnapshot> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The value of series `name` with exactly `labels` (in any order).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<&SeriesValue> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.family(name)?
            .series
            .iter()
            .find(|s| s.labels == want)
            .map(|s| &s.value)
    }
}

/// One metric family at snapshot time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FamilySnapshot {
    /// Metric name.
    pub name: String,
    /// Help text.
    pub help: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: MetricType,
    /// Series, sorted by label set.
    pub series: Vec<SeriesSnapshot>,
}

/// One series (one label set) at snapshot time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesSnapshot {
    /// Labels, by name.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: SeriesValue,
}

/// The value of a series.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesValue {
    /// A counter's count.
    Counter(u64),
    /// A gauge's value.
    Gauge(f64),
    /// A histogram's buckets, sum and count.
    Histogram(HistogramSnapshot),
}

impl SeriesValue {
    /// The value as a number: a counter's count, a gauge's value, a histogram's count.
    pub fn as_f64(&self) -> f64 {
        match self {
            SeriesValue::Counter(c) => *c as f64,
            SeriesValue::Gauge(g) => *g,
            SeriesValue::Histogram(h) => h.count as f64,
        }
    }
}

/// A histogram at snapshot time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistogramSnapshot {
    /// Cumulative counts per finite upper bound, ascending (`+Inf` is `count`).
    pub buckets: Vec<Bucket>,
    /// Sum of the observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

/// One cumulative histogram bucket.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Bucket {
    /// Upper bound (inclusive).
    pub le: f64,
    /// Observations less than or equal to `le`.
    pub count: u64,
}

/// A float as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, or the shortest decimal that
/// reads back to the same value.
fn fmt_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes `name{labels[,le="..."]} `.
fn write_series_name(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &BTreeMap<String, String>,
    le: Option<f64>,
) {
    out.push_str(name);
    out.push_str(suffix);
    if labels.is_empty() && le.is_none() {
        out.push(' ');
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in labels {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        escape_label_value(out, v);
        out.push('"');
    }
    if let Some(le) = le {
        if !first {
            out.push(',');
        }
        out.push_str("le=\"");
        fmt_float(out, le);
        out.push('"');
    }
    out.push_str("} ");
}

/// `snapshot` in the Prometheus text exposition format (version 0.0.4, content type
/// `text/plain; version=0.0.4`): per family a `# HELP` and a `# TYPE` line, then one line per
/// series; histograms as cumulative `_bucket{le="..."}` lines ending with `le="+Inf"`, then
/// `_sum` and `_count`. Families without series are left out.
pub fn render_prometheus(snapshot: &MetricsSnapshot) -> String {
    let mut out = String::new();
    for family in snapshot.families.iter().filter(|f| !f.series.is_empty()) {
        let name = &family.name;
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        escape_help(&mut out, &family.help);
        out.push('\n');
        let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
        for s in &family.series {
            match &s.value {
                SeriesValue::Counter(v) => {
                    write_series_name(&mut out, name, "", &s.labels, None);
                    let _ = writeln!(out, "{v}");
                }
                SeriesValue::Gauge(v) => {
                    write_series_name(&mut out, name, "", &s.labels, None);
                    fmt_float(&mut out, *v);
                    out.push('\n');
                }
                SeriesValue::Histogram(h) => {
                    for b in &h.buckets {
                        write_series_name(&mut out, name, "_bucket", &s.labels, Some(b.le));
                        let _ = writeln!(out, "{}", b.count);
                    }
                    write_series_name(&mut out, name, "_bucket", &s.labels, Some(f64::INFINITY));
                    let _ = writeln!(out, "{}", h.count);
                    write_series_name(&mut out, name, "_sum", &s.labels, None);
                    fmt_float(&mut out, h.sum);
                    out.push('\n');
                    write_series_name(&mut out, name, "_count", &s.labels, None);
                    let _ = writeln!(out, "{}", h.count);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_labels_in_any_order_are_one_series() {
        let m = MetricsRegistry::new();
        let a = m.counter("c_total", "h", &[("a", "1"), ("b", "2")]);
        let b = m.counter("c_total", "h", &[("b", "2"), ("a", "1")]);
        a.inc();
        b.inc_by(2);
        assert_eq!(a.get(), 3);
        let snap = m.snapshot();
        assert_eq!(snap.family("c_total").unwrap().series.len(), 1);
        assert_eq!(
            snap.value("c_total", &[("b", "2"), ("a", "1")]),
            Some(&SeriesValue::Counter(3))
        );
    }

    #[test]
    fn gauges_go_up_and_down() {
        let m = MetricsRegistry::new();
        let g = m.gauge(
            "controller_runtime_active_workers",
            "h",
            &[("controller", "x")],
        );
        g.inc();
        g.inc();
        g.dec();
        g.add(0.5);
        assert_eq!(g.get(), 1.5);
        g.set(-3.0);
        assert_eq!(
            m.snapshot()
                .value("controller_runtime_active_workers", &[("controller", "x")])
                .unwrap()
                .as_f64(),
            -3.0
        );
    }

    #[test]
    fn histogram_buckets_are_inclusive_upper_bounds() {
        let m = MetricsRegistry::new();
        let h = m.histogram("h_seconds", "h", &[], &[0.1, 1.0]);
        for v in [0.05, 0.1, 0.5, 1.0, 7.0] {
            h.observe(v);
        }
        h.observe_duration(Duration::from_millis(20));
        assert_eq!(h.count(), 6);
        let Some(SeriesValue::Histogram(s)) = m.snapshot().value("h_seconds", &[]).cloned() else {
            panic!("not a histogram");
        };
        assert_eq!(
            s.buckets,
            [Bucket { le: 0.1, count: 3 }, Bucket { le: 1.0, count: 5 }]
        );
        assert_eq!(s.count, 6);
        assert!((s.sum - 8.67).abs() < 1e-9);
    }

    #[test]
    fn handles_update_concurrently_without_losing_counts() {
        let m = MetricsRegistry::new();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let m = m.clone();
                s.spawn(move || {
                    let c = m.counter("n_total", "h", &[]);
                    let g = m.gauge("g", "h", &[]);
                    let h = m.histogram("d_seconds", "h", &[], DEFAULT_BUCKETS);
                    for _ in 0..1000 {
                        c.inc();
                        g.add(1.0);
                        h.observe(0.25);
                    }
                });
            }
        });
        let snap = m.snapshot();
        assert_eq!(
            snap.value("n_total", &[]),
            Some(&SeriesValue::Counter(4000))
        );
        assert_eq!(snap.value("g", &[]), Some(&SeriesValue::Gauge(4000.0)));
        let Some(SeriesValue::Histogram(h)) = snap.value("d_seconds", &[]) else {
            panic!()
        };
        assert_eq!(h.count, 4000);
        assert_eq!(h.sum, 1000.0);
    }

    #[test]
    fn gauge_functions_are_computed_at_snapshot() {
        let m = MetricsRegistry::new();
        let source = Gauge::default();
        let read = source.clone();
        m.gauge_fn(
            "workqueue_unfinished_work_seconds",
            "h",
            &[("name", "q")],
            move || read.get() * 2.0,
        );
        source.set(1.25);
        assert_eq!(
            m.snapshot()
                .value("workqueue_unfinished_work_seconds", &[("name", "q")]),
            Some(&SeriesValue::Gauge(2.5))
        );
    }

    #[test]
    fn removed_series_are_no_longer_reported() {
        let m = MetricsRegistry::new();
        m.counter("c_total", "h", &[("controller", "a")]).inc();
        m.counter("c_total", "h", &[("controller", "b")]).inc();
        assert!(m.remove("c_total", &[("controller", "a")]));
        assert!(!m.remove("c_total", &[("controller", "a")]));
        let snap = m.snapshot();
        assert_eq!(snap.family("c_total").unwrap().series.len(), 1);
        assert!(m.remove("c_total", &[("controller", "b")]));
        assert_eq!(render_prometheus(&m.snapshot()), "");
    }

    #[test]
    #[should_panic(expected = "is a counter, not a gauge")]
    fn a_name_keeps_its_type() {
        let m = MetricsRegistry::new();
        m.counter("x", "h", &[]);
        m.gauge("x", "h", &[]);
    }

    #[test]
    #[should_panic(expected = "invalid label name")]
    fn invalid_label_names_are_refused() {
        MetricsRegistry::new().counter("x", "h", &[("bad-name", "v")]);
    }

    #[test]
    #[should_panic(expected = "label `le` is reserved")]
    fn histograms_reserve_le() {
        MetricsRegistry::new().histogram("x", "h", &[("le", "1")], DEFAULT_BUCKETS);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_metric_name("controller_runtime_reconcile_total"));
        assert!(valid_metric_name("a:b_c"));
        assert!(!valid_metric_name("1abc"));
        assert!(!valid_metric_name(""));
        assert!(!valid_metric_name("a-b"));
        assert!(valid_label_name("controller"));
        assert!(!valid_label_name("__name__"));
        assert!(!valid_label_name("a:b"));
    }

    #[test]
    fn renders_controller_runtime_metrics_in_the_text_format() {
        let m = MetricsRegistry::new();
        let success = m.counter(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller",
            &[("controller", "web"), ("result", "success")],
        );
        let error = m.counter(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller",
            &[("result", "error"), ("controller", "web")],
        );
        success.inc_by(3);
        error.inc();
        m.counter(
            "controller_runtime_reconcile_errors_total",
            "Total number of reconciliation errors per controller",
            &[("controller", "web")],
        )
        .inc();
        m.gauge(
            "workqueue_depth",
            "Current depth of workqueue",
            &[("name", "web")],
        )
        .set(2.0);
        m.gauge(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            &[("controller", "web")],
        );
        let h = m.histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            &[("controller", "web")],
            &[0.005, 0.1, 1.0, 2.5],
        );
        // Binary fractions, so the sum is exact.
        h.observe(0.00390625);
        h.observe(0.0625);
        h.observe(0.5);
        h.observe(30.0);
        let text = render_prometheus(&m.snapshot());
        let expected = "\
# HELP controller_runtime_active_workers Number of currently used workers per controller
# TYPE controller_runtime_active_workers gauge
controller_runtime_active_workers{controller=\"web\"} 0
# HELP controller_runtime_reconcile_errors_total Total number of reconciliation errors per controller
# TYPE controller_runtime_reconcile_errors_total counter
controller_runtime_reconcile_errors_total{controller=\"web\"} 1
# HELP controller_runtime_reconcile_time_seconds Length of time per reconciliation per controller
# TYPE controller_runtime_reconcile_time_seconds histogram
controller_runtime_reconcile_time_seconds_bucket{controller=\"web\",le=\"0.005\"} 1
controller_runtime_reconcile_time_seconds_bucket{controller=\"web\",le=\"0.1\"} 2
controller_runtime_reconcile_time_seconds_bucket{controller=\"web\",le=\"1\"} 3
controller_runtime_reconcile_time_seconds_bucket{controller=\"web\",le=\"2.5\"} 3
controller_runtime_reconcile_time_seconds_bucket{controller=\"web\",le=\"+Inf\"} 4
controller_runtime_reconcile_time_seconds_sum{controller=\"web\"} 30.56640625
controller_runtime_reconcile_time_seconds_count{controller=\"web\"} 4
# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller=\"web\",result=\"error\"} 1
controller_runtime_reconcile_total{controller=\"web\",result=\"success\"} 3
# HELP workqueue_depth Current depth of workqueue
# TYPE workqueue_depth gauge
workqueue_depth{name=\"web\"} 2
";
        assert_eq!(text, expected);
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let m = MetricsRegistry::new();
        m.counter(
            "workqueue_retries_total",
            "Retries\\with a backslash\nand a newline, \"quotes\" kept",
            &[("name", "a\\b\"c\nd")],
        )
        .inc();
        m.counter("plain_total", "no labels", &[]).inc_by(5);
        let text = render_prometheus(&m.snapshot());
        assert_eq!(
            text,
            "# HELP plain_total no labels\n\
             # TYPE plain_total counter\n\
             plain_total 5\n\
             # HELP workqueue_retries_total Retries\\\\with a backslash\\nand a newline, \"quotes\" kept\n\
             # TYPE workqueue_retries_total counter\n\
             workqueue_retries_total{name=\"a\\\\b\\\"c\\nd\"} 1\n"
        );
    }

    #[test]
    fn special_floats_render_as_prometheus_spells_them() {
        let mut s = String::new();
        for v in [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1e-8,
            0.25,
            1000.0,
        ] {
            fmt_float(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "+Inf -Inf NaN 0.00000001 0.25 1000 ");
        for v in ["+Inf", "-Inf", "0.00000001", "0.25", "1000"] {
            assert!(v.replace("Inf", "inf").parse::<f64>().is_ok(), "{v}");
        }
    }

    #[test]
    fn workqueue_buckets_render_every_bound() {
        let m = MetricsRegistry::new();
        let h = m.histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            &[("name", "q")],
            WORKQUEUE_DURATION_BUCKETS,
        );
        h.observe(0.003);
        let text = render_prometheus(&m.snapshot());
        assert_eq!(
            text.matches("_bucket{").count(),
            WORKQUEUE_DURATION_BUCKETS.len() + 1
        );
        assert!(text.contains(
            "workqueue_queue_duration_seconds_bucket{name=\"q\",le=\"0.001\"} 0\n\
             workqueue_queue_duration_seconds_bucket{name=\"q\",le=\"0.01\"} 1\n"
        ));
        let json = serde_json::to_value(m.snapshot()).unwrap();
        assert_eq!(json["families"][0]["type"], "histogram");
        assert_eq!(json["families"][0]["series"][0]["labels"]["name"], "q");
        assert_eq!(
            json["families"][0]["series"][0]["value"]["histogram"]["count"],
            1
        );
    }
}

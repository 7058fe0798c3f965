//! Typed handles for recording: [`Counter`], [`Gauge`], [`Histogram`], [`Summary`],
//! [`StateSet`], and the families they come from ([`CounterVec`], ...).
//!
//! A handle is cheap to clone and stays valid as long as its region is mapped; it keeps
//! the region mapped. Recording touches one cell of the calling thread's lane (gauges
//! and states: one unsharded cell) and never locks, allocates or panics.

use std::borrow::Borrow;
use std::sync::Arc;

use crate::buckets::{self, native_index, MAX_SERIES_CELLS};
use crate::cells::{add_f64, Cells, Local};
use crate::error::{Error, Result};
use crate::exemplar::Encoded;
use crate::region::{self, Region};
use crate::series::{ExemplarSlots, Family, FloatCell, Resolved};
use crate::spec::Kind;
use crate::sync::{AtomicU64, Ordering};

/// Largest integer an `f64` holds exactly; larger integral increments take the float path.
const EXACT: f64 = (1u64 << 53) as f64;

fn refuse(region: &Region, e: Error) -> Result<()> {
    region.count(region::H_ERRORS);
    Err(e)
}

/// The cells of a counter series and its float cell, over a region kept mapped (`R` an
/// `Arc`) or borrowed ([`CounterRef`]).
#[derive(Clone)]
struct CounterCells<R> {
    cells: Cells<R>,
    /// The float cell, for fractional increments.
    float: FloatCell,
    /// The series' first cell.
    first: u32,
}

impl<R: Borrow<Arc<Region>>> CounterCells<R> {
    #[inline]
    fn inc(&self) {
        if let Some(l) = self.cells.enter() {
            let cell = l.cell(0);
            let old = cell.fetch_add(1, Ordering::Relaxed);
            // One test for both rare cases: old is 0 or u64::MAX.
            if old.wrapping_add(1) <= 1 {
                self.first_or_carry(l.at(), cell, old);
            }
        }
    }

    #[inline]
    fn inc_by(&self, n: u64) {
        if let Some(l) = self.cells.enter() {
            let cell = l.cell(0);
            let old = cell.fetch_add(n, Ordering::Relaxed);
            // One test for both rare cases: old is 0, or old + n wrapped.
            if old.wrapping_sub(1) >= u64::MAX - n {
                self.first_or_carry(l.at(), cell, old);
            }
        }
    }

    /// `cell` was 0 before the add (its line is marked written) or wrapped.
    #[cold]
    #[inline(never)]
    fn first_or_carry(&self, at: usize, cell: &AtomicU64, old: u64) {
        if old == 0 {
            self.cells.written(cell);
        } else {
            self.carry(at, cell);
        }
    }

    /// `cell` just wrapped past `u64::MAX`: adds the 2^64 it lost to the float cell,
    /// or, without one, puts `cell` back to `u64::MAX`.
    #[cold]
    #[inline(never)]
    fn carry(&self, at: usize, cell: &AtomicU64) {
        const WRAP: f64 = 18_446_744_073_709_551_616.0; // 2^64
        let region = self.cells.region();
        let float = (!self.float.is_sink())
            .then(|| self.float.get_or_make(region))
            .flatten();
        match float {
            Some(c) => self.add_float(at, c, WRAP),
            None => cell.store(u64::MAX, Ordering::Relaxed),
        }
    }

    #[inline]
    fn inc_by_f64(&self, v: f64) -> Result<()> {
        if !(v >= 0.0 && v.is_finite()) {
            return refuse(self.cells.region(), Error::InvalidIncrement(v));
        }
        // Integral amounts take the integer cell (a cast, not a libm call to trunc).
        let n = v as u64;
        if n as f64 == v && v < EXACT {
            self.inc_by(n);
            return Ok(());
        }
        let Some(l) = self.cells.enter() else {
            return Ok(());
        };
        if self.float.is_sink() {
            let _ = add_f64(l.cell(1), v); // the sink has room
            return Ok(());
        }
        match self.float.get_or_make(self.cells.region()) {
            Some(c) => {
                self.add_float(l.at(), c, v);
                Ok(())
            }
            None => refuse(
                self.cells.region(),
                Error::RegistryFull("float cell".into()),
            ),
        }
    }

    /// Adds `v` to float cell `c` in the calling thread's lane.
    fn add_float(&self, at: usize, c: u32, v: f64) {
        let cell = self.cells.local_of(at, c);
        if add_f64(cell, v) == 0 {
            self.cells.written(cell);
        }
    }

    /// Adds `v` as [`inc_by_f64`](Self::inc_by_f64) does, then stores the exemplar
    /// `labels` with `v` and the time now: refused labels are refused after the add.
    fn inc_with_exemplar(&self, v: f64, labels: &[(&str, &str)]) -> Result<()> {
        let region = self.cells.region();
        let encoded = Encoded::new(labels);
        self.inc_by_f64(v)?;
        match encoded {
            Ok(e) => {
                // Entered: a removed series' record is not reused meanwhile.
                if let Some(_entered) = self.cells.enter_again() {
                    self.float.exemplar_slots(1).write(region, 0, &e, v);
                }
                Ok(())
            }
            Err(e) => refuse(region, e),
        }
    }

    /// Sets the count to 0 in every lane, and the creation time to now.
    fn reset(&self) {
        let region = self.cells.region();
        // Entered, so the cells are not given to another series meanwhile.
        let Some(_entered) = self.cells.enter() else {
            return;
        };
        if self.float.is_sink() {
            return;
        }
        region.zero_cell(self.first);
        if let Some(f) = self.float.get(region) {
            region.zero_cell(f);
        }
        self.float.restamp(region);
    }

    fn get(&self) -> f64 {
        let region = self.cells.region();
        if self.float.is_sink() || !self.cells.live() {
            return 0.0;
        }
        let float = self
            .float
            .get(region)
            .map_or(0.0, |c| region.cell_sum_f64(c));
        region.cell_sum(self.first) as f64 + float
    }

    fn id(&self) -> u64 {
        self.cells.id()
    }

    fn first_cell(&self) -> u64 {
        self.cells.first_cell()
    }
}

/// A counter series: integer increments are one `fetch_add` on the thread's lane;
/// fractional ones go to a second, `f64`, cell made on first use. An integer cell
/// that wraps past `u64::MAX` carries 2^64 into the float cell (or stays at
/// `u64::MAX` when no float cell can be had), so the count never goes down.
#[derive(Clone)]
pub struct Counter(CounterCells<Arc<Region>>);

/// A counter series borrowed from its family ([`CounterVec::with_labels_ref`]): the
/// same recording as [`Counter`], without touching a reference count, for "look up,
/// record once".
#[derive(Clone)]
pub struct CounterRef<'a>(CounterCells<&'a Arc<Region>>);

macro_rules! counter_methods {
    ($($handle:ty),*) => {$(
        impl $handle {
            /// Adds one.
            #[inline]
            pub fn inc(&self) {
                self.0.inc()
            }

            /// Adds `n`.
            #[inline]
            pub fn inc_by(&self, n: u64) {
                self.0.inc_by(n)
            }

            /// Adds `v`, which must be finite and not negative; otherwise nothing is
            /// recorded, the registry's error counter goes up and the error says why.
            #[inline]
            pub fn inc_by_f64(&self, v: f64) -> Result<()> {
                self.0.inc_by_f64(v)
            }

            /// Adds one and keeps `labels` (a trace id, say) as the series' exemplar,
            /// with the value 1 and the time now. Labels that break the OpenMetrics
            /// rules (legacy names, at most 128 characters) are refused with an error
            /// after the count is added.
            pub fn inc_with_exemplar(&self, labels: &[(&str, &str)]) -> Result<()> {
                self.0.inc_with_exemplar(1.0, labels)
            }

            /// Adds `v` as [`inc_by_f64`](Self::inc_by_f64) does and keeps `labels` as
            /// the series' exemplar, as [`inc_with_exemplar`](Self::inc_with_exemplar)
            /// does, with the value `v`.
            pub fn inc_by_f64_with_exemplar(&self, v: f64, labels: &[(&str, &str)]) -> Result<()> {
                self.0.inc_with_exemplar(v, labels)
            }

            /// The current value, summed over shards; 0 once the series was removed.
            pub fn get(&self) -> f64 {
                self.0.get()
            }

            /// Sets the count back to 0 and the series' creation time (`NAME_created`)
            /// to now, for a logical process that starts again without restarting its
            /// process: increments racing the reset count either before it (lost) or
            /// after. Nothing happens once the series was removed.
            pub fn reset(&self) {
                self.0.reset()
            }

            /// Equal for every handle of the same series of one registry in this
            /// process, and not for a series made later in its space (after a removal
            /// or an expiry), so callers can keep one object per series.
            pub fn id(&self) -> u64 {
                self.0.id()
            }

            /// Where the series' first cell is in this process: equal for a series
            /// made later in the same cells, after a removal or an expiry (for tools
            /// and tests that watch cells being reused).
            pub fn first_cell(&self) -> u64 {
                self.0.first_cell()
            }
        }
    )*};
}

counter_methods!(Counter, CounterRef<'_>);

/// A gauge series: one unsharded `f64` cell, plus the time of the last change when the
/// family keeps a value per process.
#[derive(Clone)]
pub struct Gauge {
    cells: Cells,
    stamped: bool,
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Gauge {
    #[inline]
    fn touched(&self, l: &Local<'_>) {
        if self.stamped {
            l.unsharded(1)
                .store(now_secs().to_bits(), Ordering::Relaxed);
        }
    }

    /// Sets the value.
    #[inline(always)]
    pub fn set(&self, v: f64) {
        if let Some(l) = self.cells.enter() {
            l.unsharded(0).store(v.to_bits(), Ordering::Relaxed);
            self.touched(&l);
        }
    }

    /// Adds `v` (negative to subtract).
    #[inline(always)]
    pub fn add(&self, v: f64) {
        if let Some(l) = self.cells.enter() {
            // Readers read gauge cells directly, not by the marks.
            let _ = add_f64(l.unsharded(0), v);
            self.touched(&l);
        }
    }

    /// Subtracts `v`.
    #[inline]
    pub fn sub(&self, v: f64) {
        self.add(-v);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// Sets the value to the current Unix time in seconds.
    pub fn set_to_current_time(&self) {
        self.set(now_secs());
    }

    /// The current value; 0 once the series was removed.
    pub fn get(&self) -> f64 {
        if !self.cells.live() {
            return 0.0;
        }
        f64::from_bits(self.cells.unsharded(0).load(Ordering::Relaxed))
    }
}

/// A histogram series: one cell per bucket (`+Inf` last) and a sum cell, per shard.
/// `_count` is the sum of the buckets, so it always equals the `+Inf` bucket. A
/// native histogram's series (see [`Native`](crate::buckets::Native)) has a cell per
/// exponential bucket of each sign and the zero bucket, the classic buckets when the
/// family has them, and the sum cell; its `_count` is the sum of the native buckets.
#[derive(Clone)]
pub struct Histogram {
    cells: Cells,
    bounds: Arc<[f64]>,
    native: Option<Exponential>,
    exemplars: ExemplarSlots,
}

/// What a native histogram's recording needs of its settings.
#[derive(Clone)]
struct Exponential {
    /// [`buckets::table`] of the schema.
    table: &'static buckets::Table,
    zero_threshold: f64,
    /// The index of the bucket in cell 0 of each sign.
    first: i32,
    schema: i8,
    /// Buckets per sign.
    per: usize,
}

// The sink must hold the cells of the largest series.
const _: () = assert!(MAX_SERIES_CELLS as u64 == region::SINK_CELLS);

impl Histogram {
    /// Records `v`; NaN is refused (and counted in the error self-metric). In a native
    /// histogram, `v` goes to the zero bucket when its magnitude is at most the zero
    /// threshold, else to the bucket of its sign and magnitude (the outermost one past
    /// the series' range, infinities too).
    #[inline]
    pub fn observe(&self, v: f64) -> Result<()> {
        if v.is_nan() {
            return self.refuse_nan();
        }
        match &self.native {
            None => self.observe_classic(v),
            Some(n) => self.observe_native(n, v),
        }
        Ok(())
    }

    /// A NaN observation, refused.
    #[cold]
    #[inline(never)]
    fn refuse_nan(&self) -> Result<()> {
        refuse(self.cells.region(), Error::InvalidObservation(f64::NAN))
    }

    #[inline(always)]
    fn observe_classic(&self, v: f64) {
        let Some(l) = self.cells.enter() else {
            return;
        };
        let adds = l.adds();
        let i = crate::buckets::index(&self.bounds, v);
        let (bucket, sum) = (l.cell(i), l.cell(self.bounds.len() + 1));
        if adds.add(bucket, 1) == 0 {
            self.cells.written(bucket);
        }
        if adds.add_f64(sum, v) == 0 {
            self.cells.written(sum);
        }
    }

    /// Out of line, so that a classic histogram's path stays short.
    #[inline(never)]
    fn observe_native(&self, n: &Exponential, v: f64) {
        let classic = self.bounds.len();
        let zero = if classic == 0 { 0 } else { classic + 1 };
        let a = v.abs();
        let cell = if a <= n.zero_threshold {
            zero
        } else {
            let top = n.per - 1;
            let i = if a.is_finite() {
                let i = native_index(a, n.schema, n.table) - n.first;
                (i.max(0) as usize).min(top)
            } else {
                top
            };
            zero + 1 + i + if v < 0.0 { n.per } else { 0 }
        };
        let Some(l) = self.cells.enter() else {
            return;
        };
        let adds = l.adds();
        let (bucket, sum) = (l.cell(cell), l.cell(zero + 1 + 2 * n.per));
        if adds.add(bucket, 1) == 0 {
            self.cells.written(bucket);
        }
        if classic > 0 {
            let b = l.cell(buckets::index(&self.bounds, v));
            if adds.add(b, 1) == 0 {
                self.cells.written(b);
            }
        }
        if adds.add_f64(sum, v) == 0 {
            self.cells.written(sum);
        }
    }

    /// Records `v` as [`observe`](Self::observe) does and keeps `labels` (a trace id,
    /// say) as the exemplar of `v`'s bucket, with `v` and the time now. Labels that
    /// break the OpenMetrics rules (legacy names, at most 128 characters) are refused
    /// with an error after `v` is recorded.
    pub fn observe_with_exemplar(&self, v: f64, labels: &[(&str, &str)]) -> Result<()> {
        let region = self.cells.region();
        let encoded = Encoded::new(labels);
        self.observe(v)?;
        match encoded {
            Ok(e) => {
                let i = crate::buckets::index(&self.bounds, v);
                // Entered: a removed series' record is not reused meanwhile.
                if let Some(_entered) = self.cells.enter_again() {
                    self.exemplars.write(region, i, &e, v);
                }
                Ok(())
            }
            Err(e) => refuse(region, e),
        }
    }

    /// Starts a timer that observes the elapsed seconds when dropped.
    pub fn start_timer(&self) -> Timer<'_> {
        Timer {
            histogram: self,
            start: std::time::Instant::now(),
        }
    }

    /// The bucket upper bounds, `+Inf` not included.
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }
}

/// Observes the time since [`Histogram::start_timer`] when dropped.
pub struct Timer<'a> {
    histogram: &'a Histogram,
    start: std::time::Instant,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        let _ = self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

/// A summary series: count and sum of observations, as `prometheus_client` keeps them.
#[derive(Clone)]
pub struct Summary {
    cells: Cells,
}

impl Summary {
    /// Records `v`; NaN is refused (and counted in the error self-metric).
    #[inline]
    pub fn observe(&self, v: f64) -> Result<()> {
        if v.is_nan() {
            return refuse(self.cells.region(), Error::InvalidObservation(v));
        }
        let Some(l) = self.cells.enter() else {
            return Ok(());
        };
        let adds = l.adds();
        let (count, sum) = (l.cell(0), l.cell(1));
        if adds.add(count, 1) == 0 {
            self.cells.written(count);
        }
        if adds.add_f64(sum, v) == 0 {
            self.cells.written(sum);
        }
        Ok(())
    }
}

/// A state set (enum) series: which of the family's states is current.
#[derive(Clone)]
pub struct StateSet {
    cells: Cells,
    states: Arc<[String]>,
    metric: Arc<str>,
}

impl StateSet {
    /// Makes `state` the current state.
    pub fn set(&self, state: &str) -> Result<()> {
        match self.states.iter().position(|s| s == state) {
            Some(i) => {
                if let Some(l) = self.cells.enter() {
                    l.unsharded(0).store(i as u64, Ordering::Relaxed);
                }
                Ok(())
            }
            None => refuse(
                self.cells.region(),
                Error::InvalidState {
                    metric: self.metric.to_string(),
                    reason: format!("{state:?} is not one of {:?}", self.states),
                },
            ),
        }
    }

    /// The current state; "" once the series was removed (as for an unknown index).
    pub fn get(&self) -> &str {
        if !self.cells.live() {
            return "";
        }
        let i = self.cells.unsharded(0).load(Ordering::Relaxed) as usize;
        self.states.get(i).map_or("", String::as_str)
    }
}

macro_rules! series_id {
    ($($handle:ident),*) => {$(
        impl $handle {
            /// Equal for every handle of the same series of one registry in this
            /// process, and not for a series made later in its space (after a removal
            /// or an expiry), so callers can keep one object per series.
            pub fn id(&self) -> u64 {
                self.cells.id()
            }
        }
    )*};
}

series_id!(Gauge, Histogram, Summary, StateSet);

macro_rules! family_type {
    ($(#[$doc:meta])* $vec:ident, $handle:ident, $wanted:literal, $pat:pat) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $vec(Family);

        impl TryFrom<Family> for $vec {
            type Error = Error;
            fn try_from(f: Family) -> Result<Self> {
                if matches!(f.spec().kind, $pat) {
                    Ok($vec(f))
                } else {
                    Err(Error::WrongKind {
                        metric: f.spec().name.clone(),
                        kind: f.spec().kind.type_name(),
                        wanted: $wanted,
                    })
                }
            }
        }

        impl $vec {
            /// The series for `values` (one per label name), made if new. Past the
            /// family's series limit, or when the region is full, this is the overflow
            /// series. Wrong label counts are refused and counted as errors.
            #[inline]
            pub fn with_labels(&self, values: &[&str]) -> Result<$handle> {
                self.0.resolve(values).map(|r| $handle::from_resolved(&self.0, r))
            }

            /// Removes the series for `values`; `false` if there was none.
            pub fn remove(&self, values: &[&str]) -> Result<bool> {
                self.0.remove(values)
            }

            /// Removes every series of the family.
            pub fn clear(&self) {
                self.0.clear()
            }

            /// Removes every series whose labels have all of these `(name, value)`
            /// pairs; returns how many. A label name the family lacks is refused; no
            /// pairs remove nothing.
            pub fn remove_matching(&self, labels: &[(&str, &str)]) -> Result<u64> {
                self.0.remove_matching(labels)
            }

            /// The untyped family.
            pub fn family(&self) -> &Family {
                &self.0
            }
        }
    };
}

family_type!(
    /// A counter family with labels.
    CounterVec, Counter, "counter", Kind::Counter
);
family_type!(
    /// A gauge family with labels.
    GaugeVec, Gauge, "gauge", Kind::Gauge(_)
);
family_type!(
    /// A histogram family (classic or native) with labels.
    HistogramVec, Histogram, "histogram", Kind::Histogram(_) | Kind::NativeHistogram(_)
);
family_type!(
    /// A summary family with labels.
    SummaryVec, Summary, "summary", Kind::Summary
);
family_type!(
    /// A state set (enum) family with labels.
    StateSetVec, StateSet, "stateset", Kind::StateSet(_)
);

impl Counter {
    fn from_resolved(_: &Family, r: Resolved) -> Counter {
        Counter(CounterCells {
            cells: r.cells(),
            float: r.float,
            first: r.first,
        })
    }
}

impl CounterVec {
    /// Like [`with_labels`](CounterVec::with_labels), but the handle borrows the
    /// family instead of holding the region: the cheapest way to look a series up and
    /// record into it once.
    #[inline(always)]
    pub fn with_labels_ref(&self, values: &[&str]) -> Result<CounterRef<'_>> {
        let r = self.0.resolve(values)?;
        Ok(CounterRef(CounterCells {
            cells: r.borrowed_cells(),
            float: r.float,
            first: r.first,
        }))
    }
}

impl Gauge {
    fn from_resolved(f: &Family, r: Resolved) -> Gauge {
        Gauge {
            cells: r.cells(),
            stamped: matches!(f.spec().kind, Kind::Gauge(m) if m.per_process()),
        }
    }
}

impl Histogram {
    fn from_resolved(f: &Family, r: Resolved) -> Histogram {
        let bounds = f.bounds();
        Histogram {
            cells: r.cells(),
            native: match &f.spec().kind {
                Kind::NativeHistogram(n) => Some(Exponential {
                    table: buckets::table(n.schema),
                    zero_threshold: n.zero_threshold,
                    first: n.first(),
                    schema: n.schema,
                    per: usize::from(n.max_buckets),
                }),
                _ => None,
            },
            exemplars: r.float.exemplar_slots(bounds.len() + 1),
            bounds,
        }
    }
}

impl Summary {
    fn from_resolved(_: &Family, r: Resolved) -> Summary {
        Summary { cells: r.cells() }
    }
}

impl StateSet {
    fn from_resolved(f: &Family, r: Resolved) -> StateSet {
        StateSet {
            cells: r.cells(),
            states: f.states(),
            metric: f.spec().name.as_str().into(),
        }
    }
}

/// An info family: each series is a set of labels with the value 1.
#[derive(Clone)]
pub struct InfoVec(Family);

impl TryFrom<Family> for InfoVec {
    type Error = Error;
    fn try_from(f: Family) -> Result<Self> {
        if f.spec().kind == Kind::Info {
            Ok(InfoVec(f))
        } else {
            Err(Error::WrongKind {
                metric: f.spec().name.clone(),
                kind: f.spec().kind.type_name(),
                wanted: "info",
            })
        }
    }
}

impl InfoVec {
    /// Sets the info for the series `values` to `pairs` of label name and value,
    /// replacing what it held. Names must be valid and differ from the family's labels.
    pub fn set(&self, values: &[&str], pairs: &[(&str, &str)]) -> Result<()> {
        self.0.set_info(values, pairs)
    }

    /// Removes the info of series `values`; `false` if it had none.
    pub fn remove(&self, values: &[&str]) -> Result<bool> {
        self.0.remove_info(values)
    }

    /// Removes every series of the family.
    pub fn clear(&self) {
        self.0.clear()
    }

    /// Removes every info series whose labels have all of these `(name, value)` pairs
    /// (label names of the family, not of the info); returns how many. A label name
    /// the family lacks is refused; no pairs remove nothing.
    pub fn remove_matching(&self, labels: &[(&str, &str)]) -> Result<u64> {
        self.0.remove_matching(labels)
    }
}

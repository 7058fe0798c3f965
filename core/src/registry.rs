//! The registry: families by name, scopes that add constant labels, collection
//! callbacks, and the self-metrics.

#[cfg(not(loom))]
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use crate::cells::Cells;
use crate::directory::{self, Ident, Refused, Series, NO_OWNER, OVERFLOW};
use crate::error::{Error, Result};
use crate::expose::{self, Format};
use crate::family::{self, Kind, Spec};
use crate::key;
use crate::metrics::{
    Counter, CounterVec, Gauge, GaugeVec, Histogram, HistogramVec, InfoVec, StateSetVec, Summary,
    SummaryVec,
};
use crate::names::check_label_name;
use crate::procs::{self, Owner};
use crate::region::{self, Options, Region};

type UpdateFn = dyn Fn() + Send + Sync;
type TextFn = dyn Fn(Format, &mut String) + Send + Sync;

/// What every scope of one registry shares.
pub(crate) struct Shared {
    pub region: Arc<Region>,
    pub owner: Option<Owner>,
    update: Mutex<Vec<Arc<UpdateFn>>>,
    text: Mutex<Vec<Arc<TextFn>>>,
    /// The last exposition plan of this region alone, and the region state it is for.
    plan: Mutex<Option<([u64; 3], Arc<expose::Plan>)>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(o) = self.owner {
            procs::detach(&self.region, o);
        }
    }
}

/// A registry of metric families, in this process's memory or in a file that several
/// processes share. Cloning is cheap and gives the same registry.
///
/// ```
/// let registry = metricore::Registry::new();
/// let requests = registry
///     .counter_vec("requests", "Requests served.", &["model", "namespace"])
///     .unwrap();
/// requests.with_labels(&["gpt-4", "wechat"]).unwrap().inc();
/// let text = registry.render(metricore::Format::Prometheus);
/// assert!(text.contains("requests_total{model=\"gpt-4\",namespace=\"wechat\"} 1\n"));
/// ```
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
    consts: Arc<[(String, String)]>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An in-process registry with the default capacities (sparse: untouched capacity
    /// costs address space, not memory).
    ///
    /// # Panics
    /// If the anonymous mapping cannot be made; [`Registry::with_options`] returns the
    /// error instead.
    pub fn new() -> Registry {
        Registry::with_options(&Options::default()).expect("mapping an in-process registry")
    }

    /// An in-process registry with the given capacities.
    pub fn with_options(options: &Options) -> Result<Registry> {
        Ok(Registry::from_region(Region::anonymous(options)?))
    }

    /// Opens the shared registry file at `path`, creating it with `options` if absent.
    /// Every process that opens the file records into the same cells.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("doc-{}.metricore", std::process::id()));
    /// let a = metricore::Registry::open_shared(&path, &Default::default()).unwrap();
    /// let b = metricore::Registry::open_shared(&path, &Default::default()).unwrap();
    /// a.counter("jobs", "Jobs done.").unwrap().inc_by(2);
    /// b.counter("jobs", "Jobs done.").unwrap().inc();
    /// assert!(a.render(metricore::Format::Prometheus).contains("jobs_total 3\n"));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    #[cfg(not(loom))]
    pub fn open_shared(path: impl AsRef<Path>, options: &Options) -> Result<Registry> {
        Ok(Registry::from_region(Region::open_shared(
            path.as_ref(),
            options,
        )?))
    }

    /// Opens an existing shared registry file; never creates one.
    #[cfg(not(loom))]
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Registry> {
        Ok(Registry::from_region(Region::open_existing(path.as_ref())?))
    }

    fn from_region(region: Region) -> Registry {
        let owner = procs::attach(&region);
        sweep_dead(&region);
        Registry {
            shared: Arc::new(Shared {
                region: Arc::new(region),
                owner,
                update: Mutex::new(Vec::new()),
                text: Mutex::new(Vec::new()),
                plan: Mutex::new(None),
            }),
            consts: Arc::new([]),
        }
    }

    /// A child scope whose families all carry the label `name="value"` before their
    /// own labels. Scopes nest:
    ///
    /// ```
    /// let r = metricore::Registry::new();
    /// let endpoint = r.scope("namespace", "dynamo").unwrap()
    ///     .scope("component", "router").unwrap()
    ///     .scope("endpoint", "generate").unwrap();
    /// endpoint.counter("requests", "Requests.").unwrap().inc();
    /// assert!(r.render(metricore::Format::Prometheus).contains(
    ///     "requests_total{namespace=\"dynamo\",component=\"router\",endpoint=\"generate\"} 1\n"));
    /// ```
    pub fn scope(&self, name: &str, value: &str) -> Result<Registry> {
        check_label_name(name)?;
        if self.consts.iter().any(|(n, _)| n == name) {
            return Err(Error::DuplicateLabel {
                metric: "<scope>".into(),
                label: name.into(),
            });
        }
        let mut consts = self.consts.to_vec();
        consts.push((name.to_owned(), value.to_owned()));
        Ok(Registry {
            shared: self.shared.clone(),
            consts: consts.into(),
        })
    }

    /// Finds or creates a family. The same name with the same kind, labels, unit and
    /// buckets or states gives the existing family; anything else is a conflict.
    pub fn register(&self, spec: Spec) -> Result<Family> {
        let mut spec = spec;
        let mut labels: Vec<String> = self.consts.iter().map(|(n, _)| n.clone()).collect();
        labels.append(&mut spec.labels);
        spec.labels = labels;
        if let Kind::Histogram(b) = &mut spec.kind {
            if b.last() == Some(&f64::INFINITY) {
                b.pop();
            }
        }
        let spec = spec.normalize()?;
        let region = &self.shared.region;
        let idx = family::register(region, &spec)?;
        let stored = family::read(region, idx).unwrap_or(spec);
        let owner = match stored.kind {
            Kind::Gauge(m) if m.per_process() => self.shared.owner.ok_or_else(|| {
                Error::RegistryFull(format!("{} (the process table is full)", stored.name))
            })?,
            _ => Owner {
                id: NO_OWNER,
                pid: 0,
            },
        };
        let family = Family(Arc::new(FamilyInner {
            bounds: match &stored.kind {
                Kind::Histogram(b) => b.as_slice().into(),
                _ => Arc::new([]),
            },
            states: match &stored.kind {
                Kind::StateSet(s) => s.as_slice().into(),
                _ => Arc::new([]),
            },
            cells: stored.kind.cells(),
            spec: stored,
            shared: self.shared.clone(),
            idx,
            consts: self.consts.iter().map(|(_, v)| v.clone()).collect(),
            owner,
        }));
        if family.0.consts.len() == family.0.spec.labels.len() {
            // A family without labels of its own has its one series from the start.
            if family.0.spec.kind != Kind::Info {
                family.resolve(&[])?;
            }
        } else {
            // Room for the overflow series is taken now, so that it exists when the
            // region is full; it is rendered once something overflowed.
            family
                .overflow_series()
                .ok_or_else(|| Error::RegistryFull(family.0.spec.name.clone()))?;
        }
        Ok(family)
    }

    /// A counter without labels.
    pub fn counter(&self, name: &str, help: &str) -> Result<Counter> {
        self.counter_vec(name, help, &[])?.with_labels(&[])
    }

    /// A counter family with labels.
    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> Result<CounterVec> {
        self.register(Spec::new(name, help, Kind::Counter).labels(labels))?
            .try_into()
    }

    /// A gauge without labels, one value shared by all processes.
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge> {
        self.gauge_vec(name, help, &[])?.with_labels(&[])
    }

    /// A gauge family with labels, one value per series shared by all processes.
    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> Result<GaugeVec> {
        self.register(Spec::new(name, help, Kind::Gauge(Default::default())).labels(labels))?
            .try_into()
    }

    /// A histogram without labels; `bounds` as in [`buckets`](crate::buckets).
    pub fn histogram(&self, name: &str, help: &str, bounds: &[f64]) -> Result<Histogram> {
        self.histogram_vec(name, help, &[], bounds)?
            .with_labels(&[])
    }

    /// A histogram family with labels.
    pub fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        bounds: &[f64],
    ) -> Result<HistogramVec> {
        self.register(Spec::new(name, help, Kind::Histogram(bounds.to_vec())).labels(labels))?
            .try_into()
    }

    /// A summary without labels.
    pub fn summary(&self, name: &str, help: &str) -> Result<Summary> {
        self.summary_vec(name, help, &[])?.with_labels(&[])
    }

    /// A summary family with labels.
    pub fn summary_vec(&self, name: &str, help: &str, labels: &[&str]) -> Result<SummaryVec> {
        self.register(Spec::new(name, help, Kind::Summary).labels(labels))?
            .try_into()
    }

    /// An info family (rendered as `name_info`).
    pub fn info_vec(&self, name: &str, help: &str, labels: &[&str]) -> Result<InfoVec> {
        self.register(Spec::new(name, help, Kind::Info).labels(labels))?
            .try_into()
    }

    /// A state set (enum) family over `states`; a new series starts in the first one.
    pub fn state_set_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        states: &[&str],
    ) -> Result<StateSetVec> {
        let states = states.iter().map(|s| s.to_string()).collect();
        self.register(Spec::new(name, help, Kind::StateSet(states)).labels(labels))?
            .try_into()
    }

    /// Runs `f` before every collection, to refresh values (gauges from a callback).
    pub fn on_collect(&self, f: impl Fn() + Send + Sync + 'static) {
        lock(&self.shared.update).push(Arc::new(f));
    }

    /// Has `f` append its own exposition text, in the given format, to every collection.
    pub fn on_render(&self, f: impl Fn(Format, &mut String) + Send + Sync + 'static) {
        lock(&self.shared.text).push(Arc::new(f));
    }

    /// Renders every family of the registry (all scopes, all processes).
    pub fn render(&self, format: Format) -> String {
        let mut out = String::new();
        self.render_into(format, &mut out);
        out
    }

    /// Renders into `out`, replacing its contents but keeping its capacity.
    pub fn render_into(&self, format: Format, out: &mut String) {
        render_many(std::slice::from_ref(self), format, out);
    }

    /// Verifies every series of the registry's region (record bounds, family, cells,
    /// key, no duplicates); returns how many were checked and each problem found.
    pub fn check(&self) -> (u64, Vec<String>) {
        expose::check(&self.shared.region)
    }

    /// Occupancy and health of the registry's region.
    pub fn stats(&self) -> expose::Stats {
        expose::stats(&self.shared.region)
    }
}

/// Removes the series that exited processes left in `live*` gauge families: they are
/// never shown again, and would otherwise take room from the family's series limit.
fn sweep_dead(region: &Region) {
    let slots = procs::slots(region);
    for idx in 0..region.layout.families as u32 {
        if let Some(Spec {
            kind: Kind::Gauge(m),
            ..
        }) = family::read(region, idx)
        {
            if m.live_only() {
                directory::retain(region, idx, |rec| {
                    procs::owner_alive(&slots, rec.ident.owner)
                });
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Renders several registries into `out` as one exposition, replacing its contents.
///
/// Each registry's update callbacks run first; its text callbacks append after the
/// families. Families of one name in several registries are one family (one `HELP` and
/// `TYPE`), with the help of the first registry that has it; a family that another
/// registry defines otherwise (kind, labels or unit) is left out. A series found in
/// several registries is reported once with its values added up, and the self-metrics
/// add up over all of them. Registries given twice (or scopes of one registry) count
/// once; two handles that opened the same file separately would count twice.
///
/// ```
/// use metricore::{registry::render_many, Format, Registry};
///
/// let (a, b) = (Registry::new(), Registry::new());
/// a.counter("jobs", "Jobs done.").unwrap().inc_by(2);
/// b.counter("jobs", "Jobs done.").unwrap().inc();
/// let mut text = String::new();
/// render_many(&[a, b], Format::Prometheus, &mut text);
/// assert!(text.contains("# TYPE jobs_total counter\njobs_total 3\n"));
/// assert_eq!(text.matches("# TYPE metricore_series gauge").count(), 1);
/// ```
pub fn render_many(registries: &[Registry], format: Format, out: &mut String) {
    out.clear();
    let mut shared: Vec<&Arc<Shared>> = Vec::with_capacity(registries.len());
    for r in registries {
        if !shared.iter().any(|s| Arc::ptr_eq(s, &r.shared)) {
            shared.push(&r.shared);
        }
    }
    for s in &shared {
        let update: Vec<_> = lock(&s.update).clone();
        for f in update {
            f();
        }
    }
    let text: Vec<_> = shared.iter().flat_map(|s| lock(&s.text).clone()).collect();
    let regions: Vec<&Region> = shared.iter().map(|s| &*s.region).collect();
    let plan = match shared.as_slice() {
        // One registry: reuse its plan while no family or series came or went.
        [one] => {
            let now = expose::state(&one.region);
            let mut cached = lock(&one.plan);
            match &*cached {
                Some((at, plan)) if *at == now => plan.clone(),
                _ => {
                    let plan = Arc::new(expose::plan(&regions));
                    *cached = Some((now, plan.clone()));
                    plan
                }
            }
        }
        _ => Arc::new(expose::plan(&regions)),
    };
    expose::render(&regions, &plan, format, out, &mut |format, out| {
        for f in &text {
            f(format, out);
        }
    });
}

/// The process-wide default registry, in memory.
pub fn default_registry() -> &'static Registry {
    static DEFAULT: OnceLock<Registry> = OnceLock::new();
    DEFAULT.get_or_init(Registry::new)
}

pub(crate) struct FamilyInner {
    shared: Arc<Shared>,
    idx: u32,
    spec: Spec,
    consts: Vec<String>,
    owner: Owner,
    cells: usize,
    bounds: Arc<[f64]>,
    states: Arc<[String]>,
}

/// A registered family of any kind; the typed families ([`CounterVec`], ...) wrap it.
#[derive(Clone)]
pub struct Family(Arc<FamilyInner>);

/// A series resolved for recording.
pub(crate) struct Resolved {
    pub cells: Cells,
    /// Absolute word index of the record, 0 for the sink.
    pub record: usize,
    pub first: u32,
}

impl Family {
    /// The family's definition as registered (scope labels included).
    pub fn spec(&self) -> &Spec {
        &self.0.spec
    }

    pub(crate) fn bounds(&self) -> Arc<[f64]> {
        self.0.bounds.clone()
    }

    pub(crate) fn states(&self) -> Arc<[String]> {
        self.0.states.clone()
    }

    fn region(&self) -> &Arc<Region> {
        &self.0.shared.region
    }

    fn ident(&self, flags: u32) -> Ident {
        Ident {
            family: self.0.idx,
            flags,
            owner: self.0.owner.id,
        }
    }

    #[inline]
    fn check_count(&self, got: usize) -> Result<()> {
        let expected = self.0.spec.labels.len() - self.0.consts.len();
        if got == expected {
            Ok(())
        } else {
            self.region().count(region::H_ERRORS);
            Err(Error::LabelCount {
                metric: self.0.spec.name.clone(),
                expected,
                got,
            })
        }
    }

    #[inline]
    fn resolved(&self, s: Series) -> Resolved {
        Resolved {
            cells: Cells::new(self.region().clone(), s.cell, self.0.cells),
            record: s.record,
            first: s.cell,
        }
    }

    /// Finds or makes the series for `values` (after the scope's values).
    #[inline]
    pub(crate) fn resolve(&self, values: &[&str]) -> Result<Resolved> {
        self.check_count(values.len())?;
        if self.0.consts.is_empty() {
            return Ok(self.resolve_all(values.iter().copied()));
        }
        let all = self
            .0
            .consts
            .iter()
            .map(String::as_str)
            .chain(values.iter().copied());
        Ok(self.resolve_all(all))
    }

    #[inline]
    fn resolve_all<'a>(&self, values: impl Iterator<Item = &'a str> + Clone) -> Resolved {
        let hash = key::hash(self.0.idx, values.clone());
        let ident = self.ident(0);
        match directory::find(self.region(), hash, ident, values.clone()) {
            Some(s) => self.resolved(s),
            None => self.insert(hash, ident, values),
        }
    }

    #[cold]
    fn insert<'a>(
        &self,
        hash: u64,
        ident: Ident,
        values: impl Iterator<Item = &'a str> + Clone,
    ) -> Resolved {
        let region = self.region();
        let made = directory::insert(
            region,
            hash,
            ident,
            values,
            self.0.cells,
            self.0.owner.pid,
            Some(self.0.spec.limit),
        );
        match made {
            Ok(s) => self.resolved(s),
            Err(Refused::Limit | Refused::Full) => self.overflow(),
        }
    }

    /// The overflow series, where label sets past the limit (or past a full region) go.
    fn overflow(&self) -> Resolved {
        let region = self.region();
        region.count(region::H_OVERFLOWS);
        region
            .word(family::slot_word(region, self.0.idx, 2))
            .fetch_add(1, crate::sync::Ordering::Relaxed);
        match self.overflow_series() {
            Some(s) => self.resolved(s),
            None => Resolved {
                cells: Cells::sink(region.clone()),
                record: 0,
                first: 0,
            },
        }
    }

    /// Finds or makes the overflow series.
    fn overflow_series(&self) -> Option<Series> {
        let ident = self.ident(OVERFLOW);
        let none = std::iter::empty::<&str>();
        let hash = key::hash(self.0.idx, none.clone()) ^ 0x6f76_6572_666c_6f77;
        let (cells, pid) = (self.0.cells, self.0.owner.pid);
        directory::insert(self.region(), hash, ident, none, cells, pid, None).ok()
    }

    /// Removes the series for `values`.
    pub(crate) fn remove(&self, values: &[&str]) -> Result<bool> {
        self.check_count(values.len())?;
        let all = self
            .0
            .consts
            .iter()
            .map(String::as_str)
            .chain(values.iter().copied());
        let hash = key::hash(self.0.idx, all.clone());
        Ok(directory::remove(self.region(), hash, self.ident(0), all))
    }

    /// Removes every series of this family that this scope can see (the overflow
    /// series too, when the scope sees the whole family, then makes it anew).
    pub(crate) fn clear(&self) {
        if !self.0.consts.is_empty() {
            self.remove_prefixed(self.0.consts.iter().map(String::as_str));
            return;
        }
        directory::retain(self.region(), self.0.idx, |_| false);
        if !self.0.spec.labels.is_empty() {
            self.overflow_series();
        }
    }

    /// Removes the series whose label values start with `prefix`, not the overflow
    /// series; returns how many.
    fn remove_prefixed<'a>(&self, prefix: impl Iterator<Item = &'a str>) -> usize {
        let mut p = Vec::new();
        key::encode(prefix, &mut p);
        let region = self.region();
        directory::retain(region, self.0.idx, |rec| {
            rec.ident.flags & OVERFLOW != 0 || !rec.with_key(region, |k| k.starts_with(&p))
        })
    }

    /// Removes the info series `values`; `false` if it had none.
    pub(crate) fn remove_info(&self, values: &[&str]) -> Result<bool> {
        self.check_count(values.len())?;
        let fixed = self
            .0
            .consts
            .iter()
            .map(String::as_str)
            .chain(values.iter().copied());
        Ok(self.remove_prefixed(fixed) > 0)
    }

    /// Replaces the info of series `values` with `pairs`.
    pub(crate) fn set_info(&self, values: &[&str], pairs: &[(&str, &str)]) -> Result<()> {
        self.check_count(values.len())?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            check_label_name(name)?;
            if self.0.spec.labels.iter().any(|l| l == name)
                || pairs[..i].iter().any(|(n, _)| n == name)
            {
                return Err(Error::DuplicateLabel {
                    metric: self.0.spec.name.clone(),
                    label: name.to_string(),
                });
            }
        }
        self.remove_info(values)?;
        let fixed = self
            .0
            .consts
            .iter()
            .map(String::as_str)
            .chain(values.iter().copied());
        self.resolve_all(fixed.chain(pairs.iter().flat_map(|(n, v)| [*n, *v])));
        Ok(())
    }
}

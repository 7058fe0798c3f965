//! The registry: families by name, scopes that add constant labels, collection
//! callbacks, and the self-metrics.

#[cfg(not(loom))]
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::expose::plan::{self, Plan};
use crate::expose::{render, Format};
use crate::inspect::{self, Stats};
use crate::metrics::{
    Counter, CounterVec, Gauge, GaugeVec, Histogram, HistogramVec, InfoVec, StateSetVec, Summary,
    SummaryVec,
};
use crate::names::check_label_name;
use crate::procs::Attachment;
use crate::region::{Options, Region};
use crate::series;
pub use crate::series::Family;
use crate::spec::{Kind, Spec};

type UpdateFn = dyn Fn() + Send + Sync;
type TextFn = dyn Fn(Format, &mut String) + Send + Sync;

/// What every scope of one registry shares.
struct Shared {
    /// The region, and this process's slot in its process table.
    attachment: Arc<Attachment>,
    update: Mutex<Vec<Arc<UpdateFn>>>,
    text: Mutex<Vec<Arc<TextFn>>>,
    /// The last exposition plan of this region alone, and the region state it is for.
    plan: Mutex<Option<([u64; 3], Arc<Plan>)>>,
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

    /// Opens an existing shared registry file; never creates one. Only a file of the
    /// calling user is trusted, as with [`Options::default`].
    #[cfg(not(loom))]
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Registry> {
        let region = Region::open_existing(path.as_ref(), &Options::default(), true)?;
        Ok(Registry::from_region(region))
    }

    /// Opens an existing shared registry file for reading only: it is opened and mapped
    /// read-only, and changes nothing in it (no entry in its process table, no sweep
    /// of exited processes' gauges). It renders, checks and reports like any registry;
    /// registering a family fails with [`Error::ReadOnly`]. Of `options`, only the
    /// trusted [`owner`](Options::owner) and [`group`](Options::group) count.
    #[cfg(not(loom))]
    pub fn open_read_only(path: impl AsRef<Path>, options: &Options) -> Result<Registry> {
        let region = Region::open_existing(path.as_ref(), options, false)?;
        Ok(Registry::from_region(region))
    }

    fn from_region(region: Region) -> Registry {
        let attachment = Arc::new(Attachment::new(region));
        if attachment.region.writable {
            series::sweep_dead(&attachment.region);
        }
        Registry {
            shared: Arc::new(Shared {
                attachment,
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
        let region = &self.shared.attachment.region;
        if !region.writable {
            return Err(Error::ReadOnly(region.path.clone().unwrap_or_default()));
        }
        Family::register(&self.shared.attachment, &self.consts, spec)
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
        inspect::check(&self.shared.attachment.region)
    }

    /// Occupancy and health of the registry's region.
    pub fn stats(&self) -> Stats {
        inspect::stats(&self.shared.attachment.region)
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
    let regions: Vec<&Region> = shared.iter().map(|s| &*s.attachment.region).collect();
    let plan = match shared.as_slice() {
        // One registry: reuse its plan while no family or series came or went.
        [one] => {
            let now = plan::state(&one.attachment.region);
            let mut cached = lock(&one.plan);
            match &*cached {
                Some((at, plan)) if *at == now => plan.clone(),
                _ => {
                    let plan = Arc::new(Plan::new(&regions));
                    *cached = Some((now, plan.clone()));
                    plan
                }
            }
        }
        _ => Arc::new(Plan::new(&regions)),
    };
    render::render(&regions, &plan, format, out, &mut |format, out| {
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

//! The registry: families by name, scopes that add constant labels, collection
//! callbacks, and the self-metrics.

#[cfg(not(loom))]
use std::path::Path;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::expiry::{self, Idle};
use crate::expose::plan::{self, Plan};
use crate::expose::{render, Filter, Format, Numbers, ParsedFamily};
use crate::inspect::{self, Stats};
use crate::metrics::{
    Counter, CounterVec, Gauge, GaugeVec, Histogram, HistogramVec, InfoVec, StateSetVec, Summary,
    SummaryVec,
};
use crate::names::{check_label_name, Escaping};
use crate::procs::Attachment;
use crate::region::{self, Options, Region};
pub use crate::series::Family;
use crate::series::{self, Home};
use crate::spec::{Kind, Spec};

type UpdateFn = dyn Fn() + Send + Sync;
type TextFn = dyn Fn(Format, Escaping, &mut String) + Send + Sync;
/// A family as registered through a registry: the scope's labels and the spec.
type Registered = (Arc<[(String, String)]>, Spec);
/// The region a cached plan is for: its address and [`plan::state`].
type PlanKey = (usize, [u64; 4]);

/// Where a shared registry's file is, to follow it when it is replaced.
#[cfg_attr(loom, allow(dead_code))]
struct Source {
    path: PathBuf,
    /// The options it was opened with: whom to trust, and how to create it.
    options: Options,
    /// Whether the file is created when absent (a registry of
    /// [`open_shared`](Registry::open_shared)).
    create: bool,
}

/// A file the registry moved away from while handles still record into it.
#[cfg(not(loom))]
struct Left {
    region: Arc<Region>,
    /// Its integer cells when the registry moved.
    cells: Vec<u32>,
}

/// What every scope of one registry shares.
struct Shared {
    /// The current region, and this process's slot in its process table.
    home: Arc<Home>,
    #[cfg_attr(loom, allow(dead_code))]
    source: Option<Source>,
    /// Families registered through this registry, registered again after a move.
    specs: Mutex<Vec<Registered>>,
    /// Files moved away from, watched for what is still recorded there.
    #[cfg(not(loom))]
    left: Mutex<Vec<Left>>,
    update: Mutex<Vec<Arc<UpdateFn>>>,
    text: Mutex<Vec<Arc<TextFn>>>,
    /// The last exposition plan of this registry alone, and the region (address and
    /// state) it is for.
    plan: Mutex<Option<(PlanKey, Arc<Plan>)>>,
    /// How its renders write values, and whether they carry the self-metrics and the
    /// series' creation times.
    looks: Mutex<(Numbers, bool, bool)>,
    /// What its sweeps saw of expiring series, and the home generation it is of.
    idle: Mutex<(u64, Idle)>,
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
        Ok(Registry::from_region(Region::anonymous(options)?, None))
    }

    /// Opens the shared registry file at `path`, creating it with `options` if absent.
    /// Every process that opens the file records into the same cells.
    ///
    /// If the file is later removed, replaced or truncated, the registry moves to the
    /// file then at `path` (creating it with `options` if absent) within a second; see
    /// [`follow_file`](Self::follow_file).
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
        let path = path.as_ref();
        let region = Region::open_shared(path, options)?;
        let source = Source {
            path: path.to_path_buf(),
            options: options.clone(),
            create: true,
        };
        Ok(Registry::from_region(region, Some(source)))
    }

    /// Opens an existing shared registry file; never creates one. Only a file of the
    /// calling user is trusted, as with [`Options::default`]. It follows the file as
    /// [`open_shared`](Self::open_shared) does, without creating it.
    #[cfg(not(loom))]
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Registry> {
        Registry::open_file(path.as_ref(), &Options::default(), false)
    }

    /// Opens an existing shared registry file for reading only: it is opened and mapped
    /// read-only, and changes nothing in it (no entry in its process table, no sweep
    /// of exited processes' gauges). It renders, checks and reports like any registry,
    /// and follows the file as [`open_existing`](Self::open_existing) does; registering
    /// a family fails with [`Error::ReadOnly`]. Of `options`, only the trusted
    /// [`owner`](Options::owner) and [`group`](Options::group) count.
    #[cfg(not(loom))]
    pub fn open_read_only(path: impl AsRef<Path>, options: &Options) -> Result<Registry> {
        Registry::open_file(path.as_ref(), options, true)
    }

    /// Opens the existing file at `path`, read-only or not, and follows it.
    #[cfg(not(loom))]
    fn open_file(path: &Path, options: &Options, read_only: bool) -> Result<Registry> {
        let region = Region::open_existing(path, options, !read_only)?;
        let source = Source {
            path: path.to_path_buf(),
            options: options.clone(),
            create: false,
        };
        Ok(Registry::from_region(region, Some(source)))
    }

    fn from_region(region: Region, source: Option<Source>) -> Registry {
        let attachment = Arc::new(Attachment::new(region));
        if attachment.region.writable {
            series::sweep_dead(&attachment.region);
        }
        let shared = Arc::new(Shared {
            home: Arc::new(Home::new(attachment)),
            source,
            specs: Mutex::new(Vec::new()),
            #[cfg(not(loom))]
            left: Mutex::new(Vec::new()),
            update: Mutex::new(Vec::new()),
            text: Mutex::new(Vec::new()),
            plan: Mutex::new(None),
            looks: Mutex::new((Numbers::Shortest, true, false)),
            idle: Mutex::new((0, Idle::default())),
        });
        #[cfg(not(loom))]
        if shared.source.is_some() {
            watch(&shared);
        }
        Registry {
            shared,
            consts: Arc::new([]),
        }
    }

    /// Checks that the registry's file is still the one at its path and intact. If it
    /// was removed, replaced, or truncated under this process (its mapping then holds
    /// private memory), the registry moves to the file now at the path, creating it
    /// when absent if the registry was opened with [`open_shared`](Self::open_shared):
    /// new lookups and existing families go there, and families registered through
    /// this registry are registered there again. Handles resolved before keep
    /// recording into the old file; what they add to counts there is counted in
    /// `metricore_lost_recordings_total`. Returns whether the registry moved.
    ///
    /// A background thread calls this at least once a second for every shared
    /// registry of the process, as do registration and rendering.
    pub fn follow_file(&self) -> bool {
        #[cfg(not(loom))]
        {
            self.shared.follow()
        }
        #[cfg(loom)]
        {
            false
        }
    }

    /// Series removed so far from the registry's current file because they were not
    /// written for their family's idle time (`metricore_series_expired_total`): when
    /// it changes, handles kept of such families may be of removed series.
    pub fn series_expired(&self) -> u64 {
        let (attachment, _) = self.shared.home.current();
        attachment.region.counter(region::H_EXPIRED)
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

    /// How many times the registry moved to another file (see
    /// [`follow_file`](Self::follow_file)): caches of resolved handles compare it to
    /// know when to resolve again. One atomic load.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.shared.home.generation()
    }

    /// Finds or creates a family. The same name with the same kind, labels, unit,
    /// buckets or states and idle time ([`Spec::expire_after`]) gives the existing
    /// family; anything else is a conflict.
    pub fn register(&self, spec: Spec) -> Result<Family> {
        self.follow_file();
        let (attachment, generation) = self.shared.home.current();
        if !attachment.region.writable {
            return Err(Error::ReadOnly(
                attachment.region.path.clone().unwrap_or_default(),
            ));
        }
        let home = Some((&self.shared.home, generation));
        let family = Family::register(&attachment, home, &self.consts, spec.clone())?;
        let mut specs = lock(&self.shared.specs);
        if !specs.iter().any(|(c, s)| **c == *self.consts && *s == spec) {
            specs.push((self.consts.clone(), spec));
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

    /// Sets how renders of this registry write values (default [`Numbers::Shortest`]);
    /// a render of several registries writes them as the first one says.
    pub fn set_numbers(&self, numbers: Numbers) {
        lock(&self.shared.looks).0 = numbers;
    }

    /// Sets whether renders of this registry carry the self-metrics (`metricore_*`,
    /// the default); a render of several registries carries them when one of them does.
    pub fn set_self_metrics(&self, on: bool) {
        lock(&self.shared.looks).1 = on;
    }

    /// Sets whether renders of this registry carry the creation time of each counter,
    /// histogram and summary series (`NAME_created`, seconds since the Unix epoch, as
    /// `prometheus_client` writes it: after each series in OpenMetrics, as a gauge
    /// family `NAME_created` after the family in the Prometheus text format; protobuf
    /// has none). Off by default: Prometheus 2 stores every `_created` sample as one
    /// more series. A render of several registries carries them when all of them do.
    pub fn set_created(&self, on: bool) {
        lock(&self.shared.looks).2 = on;
    }

    /// Has `f` append its own exposition text, in the given format, to every collection.
    pub fn on_render(&self, f: impl Fn(Format, &mut String) + Send + Sync + 'static) {
        self.on_render_escaped(move |format, _, out| f(format, out));
    }

    /// As [`Registry::on_render`], `f` also told how the render writes names outside
    /// the legacy set, for text with such names.
    pub fn on_render_escaped(
        &self,
        f: impl Fn(Format, Escaping, &mut String) + Send + Sync + 'static,
    ) {
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

    /// Renders the families `filter` selects (see [`Filter`]), the self-metrics and
    /// callback text included.
    pub fn render_filtered(&self, format: Format, filter: &Filter) -> String {
        let mut out = String::new();
        render_filtered(std::slice::from_ref(self), format, filter, &mut out);
        out
    }

    /// Verifies every series of the registry's region (record bounds, family, cells,
    /// key, no duplicates); returns how many were checked and each problem found.
    pub fn check(&self) -> (u64, Vec<String>) {
        inspect::check(&self.shared.home.current().0.region)
    }

    /// Occupancy and health of the registry's region.
    pub fn stats(&self) -> Stats {
        inspect::stats(&self.shared.home.current().0.region)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Removes the series of its current region that stayed idle for their family's
    /// idle time (see `expiry`); nothing in a read-only region.
    fn expire(&self) {
        let (attachment, generation) = self.home.current();
        if !attachment.region.writable {
            return;
        }
        let mut idle = lock(&self.idle);
        if idle.0 != generation {
            *idle = (generation, Idle::default());
        }
        expiry::sweep(&attachment.region, &mut idle.1, now_ms());
    }
}

/// Milliseconds on a monotonic clock, from the process's first call.
fn now_ms() -> u64 {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// How often the background thread checks the files of shared registries.
#[cfg(not(loom))]
const TICK: std::time::Duration = std::time::Duration::from_millis(500);

#[cfg(not(loom))]
impl Shared {
    /// See [`Registry::follow_file`].
    fn follow(&self) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        ensure_watcher();
        let Some(_checking) = Checking::start() else {
            return false;
        };
        self.tally();
        let (old, _) = self.home.current();
        let broken = old.region.is_broken();
        let now = std::fs::symlink_metadata(&source.path)
            .ok()
            .map(|m| region::file_id(&m));
        if !broken && now == old.region.file_id {
            return false;
        }
        let writable = old.region.writable;
        let opened = match (source.create, now) {
            (true, _) => Region::open_shared(&source.path, &source.options),
            (false, Some(_)) => Region::open_existing(&source.path, &source.options, writable),
            (false, None) => return false,
        };
        let Ok(new) = opened else {
            return false;
        };
        let attachment = Arc::new(Attachment::new(new));
        if !writable {
            // Read-only: nothing to register, sweep or count in either file.
            self.home.set(attachment);
            return true;
        }
        series::sweep_dead(&attachment.region);
        for (consts, spec) in lock(&self.specs).iter() {
            // A family the new file defines otherwise stays behind: its handles keep
            // the old file, and `metricore_lost_recordings_total` counts what they add.
            let _ = Family::register(&attachment, None, consts, spec.clone());
        }
        if broken {
            attachment.region.count(region::H_REGION_FAULTS);
        } else {
            let cells = inspect::integer_cells(&old.region);
            let total = inspect::cells_total(&old.region, &cells);
            // The first process to move sets where counting lost recordings starts.
            let _ = old.region.word(region::H_ACCOUNTED).compare_exchange(
                0,
                total,
                crate::sync::Ordering::Relaxed,
                crate::sync::Ordering::Relaxed,
            );
            lock(&self.left).push(Left {
                region: old.region.clone(),
                cells,
            });
        }
        self.home.set(attachment);
        true
    }

    /// Counts in the current file what was added to the integer cells of files moved
    /// away from; forgets a file once nothing but this list holds it.
    fn tally(&self) {
        let mut left = lock(&self.left);
        if left.is_empty() {
            return;
        }
        let (current, _) = self.home.current();
        left.retain(|l| {
            let total = inspect::cells_total(&l.region, &l.cells);
            let counted = l
                .region
                .word(region::H_ACCOUNTED)
                .fetch_max(total, crate::sync::Ordering::Relaxed);
            if total > counted {
                current
                    .region
                    .word(region::H_LOST)
                    .fetch_add(total - counted, crate::sync::Ordering::Relaxed);
            }
            Arc::strong_count(&l.region) > 1
        });
    }
}

/// The one check of registry files running in this process: one already running does
/// the work. A pid rather than a lock, so that a child forked during a check of its
/// parent's is not kept from checking.
#[cfg(not(loom))]
struct Checking;

#[cfg(not(loom))]
static CHECKER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[cfg(not(loom))]
impl Checking {
    fn start() -> Option<Checking> {
        use std::sync::atomic::Ordering;
        let (pid, held) = (std::process::id(), CHECKER.load(Ordering::Acquire));
        let free = held != pid;
        (free
            && CHECKER
                .compare_exchange(held, pid, Ordering::Acquire, Ordering::Relaxed)
                .is_ok())
        .then_some(Checking)
    }
}

#[cfg(not(loom))]
impl Drop for Checking {
    fn drop(&mut self) {
        CHECKER.store(0, std::sync::atomic::Ordering::Release);
    }
}

/// Shared registries the background thread follows.
#[cfg(not(loom))]
static WATCHED: Mutex<Vec<std::sync::Weak<Shared>>> = Mutex::new(Vec::new());

/// Has the background thread follow the file of `shared` while it lives.
#[cfg(not(loom))]
fn watch(shared: &Arc<Shared>) {
    lock(&WATCHED).push(Arc::downgrade(shared));
    ensure_watcher();
}

/// Starts the background thread unless this process has it: with the first shared
/// registry, and again in a forked child on its first registration or rendering.
#[cfg(not(loom))]
fn ensure_watcher() {
    use std::sync::atomic::{AtomicU32, Ordering};
    static WATCHER: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    if WATCHER.load(Ordering::Acquire) == pid || WATCHER.swap(pid, Ordering::AcqRel) == pid {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("metricore-watch".into())
        .spawn(|| loop {
            std::thread::sleep(TICK);
            let live: Vec<Arc<Shared>> = {
                let mut watched = lock(&WATCHED);
                watched.retain(|w| w.strong_count() > 0);
                watched
                    .iter()
                    .filter_map(std::sync::Weak::upgrade)
                    .collect()
            };
            for s in live {
                s.follow();
                s.expire();
            }
        });
    if spawned.is_err() {
        // Registration and rendering still follow the file, and try again.
        WATCHER.store(0, Ordering::Release);
    }
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
    render_filtered(registries, format, &Filter::all(), out);
}

/// As [`render_many`], with only the families `filter` selects: the registries'
/// families (the others are left out of the plan, their series not read), the
/// self-metrics and what text callbacks append (the process collector, custom
/// collectors). Update callbacks run whatever the filter.
///
/// ```
/// use metricore::{registry::render_filtered, Filter, Format, Registry};
///
/// let r = Registry::new();
/// r.counter("jobs", "Jobs done.").unwrap().inc();
/// r.gauge("queue", "Queued jobs.").unwrap().set(2.0);
/// let mut text = String::new();
/// render_filtered(&[r], Format::Prometheus, &Filter::names(["queue"]), &mut text);
/// assert_eq!(text, "# HELP queue Queued jobs.\n# TYPE queue gauge\nqueue 2.0\n");
/// ```
pub fn render_filtered(registries: &[Registry], format: Format, filter: &Filter, out: &mut String) {
    out.clear();
    let text = render::Out::Text(out);
    render_to(registries, format, Escaping::Underscores, filter, text);
}

/// As [`render_bytes`], names outside the legacy set written as `escaping` says
/// (the default, [`Escaping::Underscores`], gives legacy names only; protobuf carries
/// them as they are with [`Escaping::AllowUtf8`]; text appended by
/// [`Registry::on_render`] callbacks is kept as they write it, and
/// [`Registry::on_render_escaped`] callbacks are told the scheme).
///
/// ```
/// use metricore::{names::Escaping, registry::render_escaped, Filter, Format, Registry};
///
/// let r = Registry::new();
/// r.gauge("queue.depth", "Queued jobs.").unwrap().set(2.0);
/// let mut body = Vec::new();
/// render_escaped(&[r], Format::Prometheus, Escaping::AllowUtf8, &Filter::all(), &mut body);
/// let text = String::from_utf8(body).unwrap();
/// assert!(text.contains("\n{\"queue.depth\"} 2.0\n"), "{text}");
/// ```
pub fn render_escaped(
    registries: &[Registry],
    format: Format,
    escaping: Escaping,
    filter: &Filter,
    out: &mut Vec<u8>,
) {
    out.clear();
    if format == Format::Protobuf {
        render_to(
            registries,
            format,
            escaping,
            filter,
            render::Out::Protobuf(out),
        );
    } else {
        let mut text = String::from_utf8(std::mem::take(out)).unwrap_or_default();
        render_to(
            registries,
            format,
            escaping,
            filter,
            render::Out::Text(&mut text),
        );
        *out = text.into_bytes();
    }
}

/// As [`render_filtered`], in any format, protobuf included, into `out` (replacing its
/// contents); names outside the legacy set as [`Escaping::Underscores`] writes them.
///
/// ```
/// use metricore::{registry::render_bytes, Filter, Format, Registry};
///
/// let r = Registry::new();
/// r.counter("jobs", "Jobs done.").unwrap().inc();
/// let mut body = Vec::new();
/// render_bytes(&[r], Format::Protobuf, &Filter::names(["jobs"]), &mut body);
/// // One length-delimited MetricFamily named jobs_total.
/// assert_eq!(body[0] as usize, body.len() - 1);
/// assert_eq!(&body[3..13], b"jobs_total");
/// ```
pub fn render_bytes(registries: &[Registry], format: Format, filter: &Filter, out: &mut Vec<u8>) {
    render_escaped(registries, format, Escaping::Underscores, filter, out);
}

/// The families [`render_filtered`] would render in OpenMetrics, as data: each
/// family's name, help, kind and unit, and its samples with their full names, labels as
/// pairs, values and exemplars, with no text in between (what text callbacks append is
/// read back). Bucket bounds are written as the first registry's numbers setting says.
///
/// ```
/// use metricore::{registry::collect, Filter, Registry};
///
/// let r = Registry::new();
/// let jobs = r.counter_vec("jobs", "Jobs done.", &["queue"]).unwrap();
/// jobs.with_labels(&["fast"]).unwrap().inc_by(2);
/// let families = collect(&[r], &Filter::names(["jobs"]));
/// assert_eq!((families[0].name.as_str(), families[0].kind.as_str()), ("jobs", "counter"));
/// let s = &families[0].samples[0];
/// assert_eq!(s.name, "jobs_total");
/// assert_eq!(s.labels, [("queue".to_owned(), "fast".to_owned())]);
/// assert_eq!(s.value, 2.0);
/// ```
pub fn collect(registries: &[Registry], filter: &Filter) -> Vec<ParsedFamily> {
    let mut out = Vec::new();
    render_to(
        registries,
        Format::OpenMetrics,
        Escaping::AllowUtf8,
        filter,
        render::Out::Collected(&mut out),
    );
    out
}

fn render_to(
    registries: &[Registry],
    format: Format,
    escaping: Escaping,
    filter: &Filter,
    out: render::Out<'_>,
) {
    let mut shared: Vec<&Arc<Shared>> = Vec::with_capacity(registries.len());
    for r in registries {
        if !shared.iter().any(|s| Arc::ptr_eq(s, &r.shared)) {
            shared.push(&r.shared);
        }
    }
    for s in &shared {
        #[cfg(not(loom))]
        s.follow();
        s.expire();
        let update: Vec<_> = lock(&s.update).clone();
        for f in update {
            f();
        }
    }
    let text: Vec<_> = shared.iter().flat_map(|s| lock(&s.text).clone()).collect();
    let attachments: Vec<Arc<Attachment>> = shared.iter().map(|s| s.home.current().0).collect();
    let regions: Vec<&Region> = attachments.iter().map(|a| &*a.region).collect();
    let plan = match shared.as_slice() {
        // One registry, all of it: reuse its plan while no family or series came or went.
        [one] if filter.is_all() => {
            let now = (
                regions[0] as *const Region as usize,
                plan::state(regions[0]),
            );
            let mut cached = lock(&one.plan);
            match &*cached {
                Some((at, plan)) if *at == now => plan.clone(),
                _ => {
                    let plan = Arc::new(Plan::new(&regions, filter));
                    *cached = Some((now, plan.clone()));
                    plan
                }
            }
        }
        _ => Arc::new(Plan::new(&regions, filter)),
    };
    let numbers = shared
        .first()
        .map_or(Numbers::Shortest, |s| lock(&s.looks).0);
    let self_metrics = shared.iter().any(|s| lock(&s.looks).1);
    let created = shared.iter().all(|s| lock(&s.looks).2);
    render::render(
        &regions,
        &plan,
        format,
        numbers,
        escaping,
        (created, self_metrics),
        filter,
        out,
        &mut |format, escaping, out| {
            for f in &text {
                f(format, escaping, out);
            }
        },
    );
}

/// The process-wide default registry, in memory.
pub fn default_registry() -> &'static Registry {
    static DEFAULT: OnceLock<Registry> = OnceLock::new();
    DEFAULT.get_or_init(Registry::new)
}

//! Families: what a metric is (name, help, unit, kind, label names, buckets or states),
//! and the family table in the region that names every family once.
//!
//! A family's description is written to the arena and published by one CAS of its
//! table slot, so two processes registering the same name at once end with one family.
//! Slot words: `name_hash >> 32 << 32 | descriptor offset`, live series, overflowed
//! records, reserved.

use crate::error::{Error, Result};
use crate::key;
use crate::names::{check_label_name, check_metric_name, full_name};
use crate::region::Region;
use crate::sync::Ordering;

/// Most label names a family can have, scope labels included.
pub const MAX_LABELS: usize = 16;
/// Most bucket bounds a histogram can have (`+Inf` not counted).
pub const MAX_BUCKETS: usize = 128;
/// Series a family holds before new label sets go to its overflow series.
pub const DEFAULT_SERIES_LIMIT: u32 = 2000;

/// How a gauge's values from several processes are combined, as in
/// `prometheus_client`'s multi-process mode. `Shared` keeps one value for all
/// processes; the others keep one value per process, and the `Live*` modes leave
/// out processes that have exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub enum GaugeMode {
    #[default]
    Shared,
    All,
    LiveAll,
    Sum,
    LiveSum,
    Max,
    LiveMax,
    Min,
    LiveMin,
    MostRecent,
    LiveMostRecent,
}

const GAUGE_MODES: [(GaugeMode, &str); 11] = [
    (GaugeMode::Shared, "shared"),
    (GaugeMode::All, "all"),
    (GaugeMode::LiveAll, "liveall"),
    (GaugeMode::Sum, "sum"),
    (GaugeMode::LiveSum, "livesum"),
    (GaugeMode::Max, "max"),
    (GaugeMode::LiveMax, "livemax"),
    (GaugeMode::Min, "min"),
    (GaugeMode::LiveMin, "livemin"),
    (GaugeMode::MostRecent, "mostrecent"),
    (GaugeMode::LiveMostRecent, "livemostrecent"),
];

impl GaugeMode {
    /// Parses a mode name (`"livesum"`, `"max"`, ...).
    pub fn from_name(name: &str) -> Result<GaugeMode> {
        GAUGE_MODES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(m, _)| *m)
            .ok_or_else(|| {
                Error::InvalidOptions(format!(
                    "unknown gauge mode {name:?}; expected one of {}",
                    GAUGE_MODES.map(|(_, n)| n).join(", ")
                ))
            })
    }

    /// The mode's name.
    pub fn name(self) -> &'static str {
        GAUGE_MODES[self as usize].1
    }

    /// Whether each process keeps its own value.
    pub fn per_process(self) -> bool {
        self != GaugeMode::Shared
    }

    /// Whether exited processes' values are left out.
    pub fn live_only(self) -> bool {
        matches!(
            self,
            GaugeMode::LiveAll
                | GaugeMode::LiveSum
                | GaugeMode::LiveMax
                | GaugeMode::LiveMin
                | GaugeMode::LiveMostRecent
        )
    }
}

/// The kind of a family, with what the kind needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Goes only up.
    Counter,
    /// Goes up and down.
    Gauge(GaugeMode),
    /// Counts observations into fixed buckets, by their upper bounds (`+Inf` implied).
    Histogram(Vec<f64>),
    /// Counts observations and sums them.
    Summary,
    /// Constant labels with the value 1.
    Info,
    /// One of a fixed list of states.
    StateSet(Vec<String>),
}

impl Kind {
    fn code(&self) -> u8 {
        match self {
            Kind::Counter => 0,
            Kind::Gauge(_) => 1,
            Kind::Histogram(_) => 2,
            Kind::Summary => 3,
            Kind::Info => 4,
            Kind::StateSet(_) => 5,
        }
    }

    /// Name of the kind in the OpenMetrics `# TYPE` line.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge(_) => "gauge",
            Kind::Histogram(_) => "histogram",
            Kind::Summary => "summary",
            Kind::Info => "info",
            Kind::StateSet(_) => "stateset",
        }
    }

    /// Cells a series of this kind takes in each shard.
    pub(crate) fn cells(&self) -> usize {
        match self {
            Kind::Counter | Kind::StateSet(_) => 1,
            Kind::Gauge(mode) => 1 + mode.per_process() as usize,
            Kind::Histogram(b) => b.len() + 2,
            Kind::Summary => 2,
            Kind::Info => 0,
        }
    }
}

/// Everything that defines a family. Build one with [`Spec::new`] and the setters,
/// then register it with [`Registry::register`](crate::Registry::register).
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// Family name: for counters without `_total`, for info without `_info`.
    pub name: String,
    /// Help text.
    pub help: String,
    /// Unit (`seconds`, `bytes`), or empty; the name ends with `_unit` when set.
    pub unit: String,
    /// The kind.
    pub kind: Kind,
    /// Label names, scope labels first.
    pub labels: Vec<String>,
    /// Series limit before overflow.
    pub limit: u32,
}

impl Spec {
    /// A spec with no labels, no unit and the default series limit.
    pub fn new(name: &str, help: &str, kind: Kind) -> Spec {
        Spec {
            name: name.to_owned(),
            help: help.to_owned(),
            unit: String::new(),
            kind,
            labels: Vec::new(),
            limit: DEFAULT_SERIES_LIMIT,
        }
    }

    /// Sets the label names.
    pub fn labels(mut self, labels: &[&str]) -> Spec {
        self.labels = labels.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Sets the unit.
    pub fn unit(mut self, unit: &str) -> Spec {
        self.unit = unit.to_owned();
        self
    }

    /// Sets the series limit.
    pub fn limit(mut self, limit: u32) -> Spec {
        self.limit = limit;
        self
    }

    /// Applies the naming rules and checks names, labels, buckets and states.
    pub(crate) fn normalize(mut self) -> Result<Spec> {
        if !self.unit.is_empty() {
            check_label_name(&self.unit).map_err(|_| {
                Error::InvalidMetricName(format!("{} (unit {:?})", self.name, self.unit))
            })?;
        }
        let suffix = match self.kind {
            Kind::Counter => Some("_total"),
            Kind::Info => Some("_info"),
            _ => None,
        };
        if let Some(s) = suffix {
            if let Some(stem) = self.name.strip_suffix(s) {
                self.name = stem.to_owned();
            }
        }
        self.name = full_name("", "", &self.name, &self.unit);
        check_metric_name(&self.name)?;
        if self.name.starts_with("metricore_") {
            return Err(Error::InvalidMetricName(format!(
                "{} (the metricore_ prefix is reserved for the registry's own metrics)",
                self.name
            )));
        }
        if self.labels.len() > MAX_LABELS {
            return Err(Error::TooManyLabels {
                metric: self.name,
                count: self.labels.len(),
                max: MAX_LABELS,
            });
        }
        let reserved: &[&str] = match &self.kind {
            Kind::Histogram(_) => &["le"],
            Kind::Summary => &["quantile"],
            Kind::Gauge(GaugeMode::All | GaugeMode::LiveAll) => &["pid"],
            _ => &[],
        };
        for (i, l) in self.labels.iter().enumerate() {
            check_label_name(l)?;
            if self.labels[..i].contains(l)
                || reserved.contains(&l.as_str())
                || (matches!(self.kind, Kind::StateSet(_)) && *l == self.name)
            {
                return Err(Error::DuplicateLabel {
                    metric: self.name.clone(),
                    label: l.clone(),
                });
            }
        }
        match &self.kind {
            Kind::Histogram(b) => crate::buckets::check(b)?,
            Kind::StateSet(states) => {
                let bad = if states.is_empty() {
                    Some("no states given".to_owned())
                } else {
                    states
                        .iter()
                        .enumerate()
                        .find(|(i, s)| states[..*i].contains(s))
                        .map(|(_, s)| format!("state {s:?} given twice"))
                };
                if let Some(reason) = bad {
                    return Err(Error::InvalidState {
                        metric: self.name,
                        reason,
                    });
                }
            }
            _ => {}
        }
        Ok(self)
    }

    /// A short description for conflict messages.
    fn describe(&self) -> String {
        let extra = match &self.kind {
            Kind::Gauge(m) => format!(" (mode {})", m.name()),
            Kind::Histogram(b) => format!(" with buckets {b:?}"),
            Kind::StateSet(s) => format!(" with states {s:?}"),
            _ => String::new(),
        };
        let unit = if self.unit.is_empty() {
            String::new()
        } else {
            format!(" unit {:?}", self.unit)
        };
        format!(
            "{}{extra}{unit} with labels {:?}",
            self.kind.type_name(),
            self.labels
        )
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mode = match self.kind {
            Kind::Gauge(m) => m as u8,
            _ => 0,
        };
        out.extend_from_slice(&[self.kind.code(), mode, self.labels.len() as u8, 0]);
        out.extend_from_slice(&self.limit.to_le_bytes());
        let put = |s: &str, out: &mut Vec<u8>| {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        for s in [&self.name, &self.help, &self.unit]
            .into_iter()
            .chain(&self.labels)
        {
            put(s, &mut out);
        }
        match &self.kind {
            Kind::Histogram(b) => {
                out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                for v in b {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            Kind::StateSet(states) => {
                out.extend_from_slice(&(states.len() as u32).to_le_bytes());
                for s in states {
                    put(s, &mut out);
                }
            }
            _ => {}
        }
        out
    }

    /// Parses a stored description; `None` if it does not parse (a corrupt file).
    fn decode(b: &[u8]) -> Option<Spec> {
        let mut r = Reader(b);
        let head = r.take(4)?;
        let (code, mode, nlabels) = (head[0], head[1], head[2] as usize);
        let limit = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
        let name = r.string()?;
        let help = r.string()?;
        let unit = r.string()?;
        let labels = (0..nlabels)
            .map(|_| r.string())
            .collect::<Option<Vec<_>>>()?;
        let kind = match code {
            0 => Kind::Counter,
            1 => Kind::Gauge(GAUGE_MODES.get(mode as usize)?.0),
            2 => {
                let n = r.u32()? as usize;
                if n > MAX_BUCKETS {
                    return None;
                }
                let b = (0..n)
                    .map(|_| Some(f64::from_le_bytes(r.take(8)?.try_into().ok()?)))
                    .collect::<Option<Vec<_>>>()?;
                crate::buckets::check(&b).ok()?;
                Kind::Histogram(b)
            }
            3 => Kind::Summary,
            4 => Kind::Info,
            5 => {
                let n = r.u32()? as usize;
                if n > b.len() {
                    return None;
                }
                Kind::StateSet((0..n).map(|_| r.string()).collect::<Option<Vec<_>>>()?)
            }
            _ => return None,
        };
        Some(Spec {
            name,
            help,
            unit,
            kind,
            labels,
            limit,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (h, t) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = t;
        Some(h)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// Word index of family slot `idx`'s word `w` (0: ref, 1: live series, 2: overflowed).
pub(crate) fn slot_word(region: &Region, idx: u32, w: usize) -> usize {
    region.layout.families_off + idx as usize * 4 + w
}

/// Reads the description of family `idx`, if the slot is used and parses.
pub(crate) fn read(region: &Region, idx: u32) -> Option<Spec> {
    let r = region
        .word(slot_word(region, idx, 0))
        .load(Ordering::Acquire);
    if r == 0 {
        return None;
    }
    read_ref(region, r)
}

fn read_ref(region: &Region, r: u64) -> Option<Spec> {
    let off = r & 0xffff_ffff;
    let at = region.arena_span(off, 1)?;
    let len = region.word(at).load(Ordering::Relaxed);
    region.arena_span(off + 1, len.div_ceil(8))?;
    region.with_bytes(at + 1, len as usize, Spec::decode)
}

/// Finds or creates the family `spec` (already normalized), returning its index.
pub(crate) fn register(region: &Region, spec: &Spec) -> Result<u32> {
    let hash = key::hash_bytes(0, spec.name.as_bytes());
    let mask = region.layout.families - 1;
    let mut prepared = None;
    for i in 0..region.layout.families {
        let idx = ((hash as usize).wrapping_add(i) & mask) as u32;
        let slot = region.word(slot_word(region, idx, 0));
        let mut cur = slot.load(Ordering::Acquire);
        if cur == 0 {
            let r = match prepared {
                Some(r) => r,
                None => {
                    let bytes = spec.encode();
                    let off = region
                        .alloc_arena(1 + bytes.len().div_ceil(8))
                        .ok_or_else(|| Error::RegistryFull(spec.name.clone()))?;
                    let at = region.layout.arena_off + off as usize;
                    region.word(at).store(bytes.len() as u64, Ordering::Relaxed);
                    region.write_bytes(at + 1, &bytes);
                    let r = (hash >> 32) << 32 | off;
                    prepared = Some(r);
                    r
                }
            };
            match slot.compare_exchange(0, r, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(idx),
                Err(now) => cur = now,
            }
        }
        if cur >> 32 != hash >> 32 {
            continue;
        }
        let Some(existing) = read_ref(region, cur) else {
            continue;
        };
        if existing.name != spec.name {
            continue;
        }
        return if existing.kind == spec.kind
            && existing.labels == spec.labels
            && existing.unit == spec.unit
        {
            Ok(idx)
        } else {
            Err(Error::Conflict {
                name: spec.name.clone(),
                existing: existing.describe(),
                requested: spec.describe(),
            })
        };
    }
    Err(Error::RegistryFull(spec.name.clone()))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::region::Options;

    #[test]
    fn specs_round_trip_through_the_region() {
        let r = Region::anonymous(&Options::default()).unwrap();
        let specs = [
            Spec::new("req_total", "Requests.", Kind::Counter).labels(&["model", "ns"]),
            Spec::new(
                "lat",
                "Latency \"quoted\"\n",
                Kind::Histogram(vec![0.1, 1.0]),
            )
            .unit("seconds")
            .limit(7),
            Spec::new("g", "", Kind::Gauge(GaugeMode::LiveSum)),
            Spec::new("st", "", Kind::StateSet(vec!["a".into(), "b".into()])),
        ];
        for s in specs {
            let s = s.normalize().unwrap();
            let idx = register(&r, &s).unwrap();
            assert_eq!(read(&r, idx).unwrap(), s);
            assert_eq!(register(&r, &s).unwrap(), idx);
        }
        assert_eq!(
            read(
                &r,
                register(
                    &r,
                    &Spec::new("x_total", "", Kind::Counter).normalize().unwrap()
                )
                .unwrap()
            )
            .unwrap()
            .name,
            "x"
        );
        assert_eq!(
            Spec::new("lat", "", Kind::Summary)
                .unit("seconds")
                .normalize()
                .unwrap()
                .name,
            "lat_seconds"
        );
    }

    #[test]
    fn conflicting_registration_names_both_sides() {
        let r = Region::anonymous(&Options::default()).unwrap();
        let a = Spec::new("m", "", Kind::Counter)
            .labels(&["a"])
            .normalize()
            .unwrap();
        register(&r, &a).unwrap();
        let b = Spec::new("m", "", Kind::Gauge(GaugeMode::Shared))
            .normalize()
            .unwrap();
        let e = register(&r, &b).unwrap_err().to_string();
        assert!(
            e.contains("\"m\"") && e.contains("counter") && e.contains("gauge"),
            "{e}"
        );
        let c = Spec::new("m", "", Kind::Counter)
            .labels(&["b"])
            .normalize()
            .unwrap();
        assert!(register(&r, &c).is_err());
    }

    #[test]
    fn bad_specs_are_refused_with_the_offending_name() {
        let bad = [
            Spec::new("1x", "", Kind::Counter),
            Spec::new("x", "", Kind::Counter).labels(&["__a"]),
            Spec::new("x", "", Kind::Counter).labels(&["a", "a"]),
            Spec::new("x", "", Kind::Histogram(vec![1.0])).labels(&["le"]),
            Spec::new("x", "", Kind::Histogram(vec![2.0, 1.0])),
            Spec::new("x", "", Kind::StateSet(vec![])),
            Spec::new("x", "", Kind::Counter).labels(&["a"; 17]),
        ];
        for s in bad {
            let e = s.clone().normalize().unwrap_err().to_string();
            assert!(!e.is_empty(), "{s:?}");
        }
    }
}

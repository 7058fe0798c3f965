//! What a family is: its kind (with buckets, states or gauge mode), name, help, unit,
//! label names, series limit and idle time; the naming rules a [`Spec`] must pass; and the binary
//! form it is stored in, which the family table writes to the arena.

use std::time::Duration;

use crate::buckets::{self, Native, MAX_BUCKETS};
use crate::error::{Error, Result};
use crate::names::{check_label_name, check_legacy_label_name, check_metric_name, full_name};

/// Most label names a family can have, scope labels included.
pub const MAX_LABELS: usize = 16;
/// Series a family holds before new label sets go to its overflow series.
pub const DEFAULT_SERIES_LIMIT: u32 = 2000;
/// Longest idle time a family's series may be given before they expire: a year, in ms.
pub(crate) const MAX_EXPIRE_MS: u64 = 366 * 24 * 3600 * 1000;

/// How a gauge's values from several processes are combined, as in
/// `prometheus_client`'s multi-process mode. `Shared` keeps one value for all
/// processes; the others keep one value per process, and the `Live*` modes leave
/// out processes that have exited. In every per-process mode, the series of exited
/// processes are removed when a process opens the file.
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
    /// Counts observations into exponential buckets (a native histogram), with
    /// classic buckets alongside when its settings name bounds.
    NativeHistogram(Native),
    /// Counts observations and sums them.
    Summary,
    /// Constant labels with the value 1.
    Info,
    /// One of a fixed list of states.
    StateSet(Vec<String>),
}

/// The suffixes of the sample names a family of type `type_name` (as
/// [`Kind::type_name`] names it, or `gaugehistogram`, `unknown`) claims, its own name
/// (`""`) first.
fn claimed_suffixes(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "counter" => &["", "_total", "_created"],
        "histogram" => &["", "_bucket", "_count", "_sum", "_created"],
        "gaugehistogram" => &["", "_bucket", "_gcount", "_gsum"],
        "summary" => &["", "_count", "_sum", "_created"],
        "info" => &["", "_info"],
        _ => &[""],
    }
}

/// The sample names a family `name` of type `type_name` claims in a registry (its
/// own name too): two families claiming one name would render two time series of it.
///
/// ```
/// assert_eq!(metricore::sample_names("jobs", "counter"), ["jobs", "jobs_total", "jobs_created"]);
/// ```
pub fn sample_names(name: &str, type_name: &str) -> Vec<String> {
    claimed_suffixes(type_name)
        .iter()
        .map(|s| format!("{name}{s}"))
        .collect()
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
            Kind::NativeHistogram(_) => 6,
        }
    }

    /// Name of the kind in the OpenMetrics `# TYPE` line.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge(_) => "gauge",
            Kind::Histogram(_) | Kind::NativeHistogram(_) => "histogram",
            Kind::Summary => "summary",
            Kind::Info => "info",
            Kind::StateSet(_) => "stateset",
        }
    }

    /// The suffixes of the sample names a family of this kind claims, its own name
    /// (`""`) first: a family whose sample names another family claims would render
    /// two time series of one name.
    pub(crate) fn claimed_suffixes(&self) -> &'static [&'static str] {
        claimed_suffixes(self.type_name())
    }

    /// Cells a series of this kind takes in each shard.
    pub(crate) fn cells(&self) -> usize {
        match self {
            Kind::Counter | Kind::StateSet(_) => 1,
            Kind::Gauge(mode) => 1 + mode.per_process() as usize,
            Kind::Histogram(b) => b.len() + 2,
            Kind::NativeHistogram(n) => n.cells(),
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
    /// Idle time in milliseconds after which a series not written leaves the output
    /// and gives its space back (a later lookup makes it anew, from zero); 0 keeps
    /// series until removed.
    pub expire_ms: u64,
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
            expire_ms: 0,
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

    /// Sets the idle time after which a series not written expires (see
    /// [`Spec::expire_ms`]), rounded up to whole milliseconds; zero: never.
    pub fn expire_after(mut self, idle: Duration) -> Spec {
        self.expire_ms = idle.as_nanos().div_ceil(1_000_000).min(u64::MAX.into()) as u64;
        self
    }

    /// Applies the naming rules and checks names, labels, buckets and states.
    pub(crate) fn normalize(mut self) -> Result<Spec> {
        if !self.unit.is_empty() {
            check_legacy_label_name(&self.unit).map_err(|_| {
                Error::InvalidMetricName(format!("{} (unit {:?})", self.name, self.unit))
            })?;
            if matches!(self.kind, Kind::Info | Kind::StateSet(_)) {
                return Err(Error::InvalidMetricName(format!(
                    "{} (unit {:?}: an info or state set has no unit)",
                    self.name, self.unit
                )));
            }
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
            Kind::Histogram(_) | Kind::NativeHistogram(_) => &["le"],
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
            Kind::Histogram(b) => buckets::check(b)?,
            Kind::NativeHistogram(n) => n.check()?,
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
        if self.expire_ms != 0 {
            let reason = if self.expire_ms > MAX_EXPIRE_MS {
                Some("an idle time over a year")
            } else if self.kind == Kind::Info {
                Some("an info family's series are set, not recorded into, so never idle")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(Error::InvalidExpiry {
                    metric: self.name,
                    reason: reason.to_owned(),
                });
            }
        }
        Ok(self)
    }

    /// A short description for conflict messages.
    pub(crate) fn describe(&self) -> String {
        let extra = match &self.kind {
            Kind::Gauge(m) => format!(" (mode {})", m.name()),
            Kind::Histogram(b) => format!(" with buckets {b:?}"),
            Kind::NativeHistogram(n) => format!(
                " with native buckets of schema {}, zero threshold {}, {} per sign, classic buckets {:?}",
                n.schema, n.zero_threshold, n.max_buckets, n.classic
            ),
            Kind::StateSet(s) => format!(" with states {s:?}"),
            _ => String::new(),
        };
        let unit = if self.unit.is_empty() {
            String::new()
        } else {
            format!(" unit {:?}", self.unit)
        };
        let expire = match self.expire_ms {
            0 => String::new(),
            ms => format!(" expiring after {ms} ms idle"),
        };
        format!(
            "{}{extra}{unit} with labels {:?}{expire}",
            self.kind.type_name(),
            self.labels
        )
    }

    /// The stored form of the spec, as the family table keeps it in the arena.
    pub(crate) fn encode(&self) -> Vec<u8> {
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
        let bounds = |b: &[f64], out: &mut Vec<u8>| {
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            for v in b {
                out.extend_from_slice(&v.to_le_bytes());
            }
        };
        match &self.kind {
            Kind::Histogram(b) => bounds(b, &mut out),
            Kind::NativeHistogram(n) => {
                out.extend_from_slice(&[n.schema as u8, 0]);
                out.extend_from_slice(&n.max_buckets.to_le_bytes());
                out.extend_from_slice(&n.zero_threshold.to_le_bytes());
                bounds(&n.classic, &mut out);
            }
            Kind::StateSet(states) => {
                out.extend_from_slice(&(states.len() as u32).to_le_bytes());
                for s in states {
                    put(s, &mut out);
                }
            }
            _ => {}
        }
        if self.expire_ms != 0 {
            out.extend_from_slice(&self.expire_ms.to_le_bytes());
        }
        out
    }

    /// Parses a stored description, as read from a file that may be corrupt: every
    /// length is checked against the bytes there are, and the names against the naming
    /// rules. The error says what does not parse.
    pub(crate) fn decode(b: &[u8]) -> std::result::Result<Spec, String> {
        let short = || "its descriptor ends early".to_owned();
        let mut r = Reader(b);
        let head = r.take(4).ok_or_else(short)?;
        let (code, mode, nlabels) = (head[0], head[1], head[2] as usize);
        let limit = r.u32().ok_or_else(short)?;
        let name = r.string()?;
        check_metric_name(&name).map_err(|e| e.to_string())?;
        let help = r.string()?;
        let unit = r.string()?;
        if !unit.is_empty() {
            check_legacy_label_name(&unit).map_err(|e| format!("{name}: unit: {e}"))?;
        }
        if nlabels > MAX_LABELS {
            return Err(format!("{name}: {nlabels} labels, more than {MAX_LABELS}"));
        }
        let labels = (0..nlabels)
            .map(|_| {
                let l = r.string()?;
                check_label_name(&l).map_err(|e| format!("{name}: {e}"))?;
                Ok(l)
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        let kind = match code {
            0 => Kind::Counter,
            1 => Kind::Gauge(
                GAUGE_MODES
                    .get(mode as usize)
                    .ok_or_else(|| format!("{name}: unknown gauge mode {mode}"))?
                    .0,
            ),
            2 => Kind::Histogram(r.bounds(&name)?),
            6 => {
                let head = r.take(4).ok_or_else(short)?;
                let threshold = r.take(8).ok_or_else(short)?;
                let n = Native {
                    schema: head[0] as i8,
                    max_buckets: u16::from_le_bytes([head[2], head[3]]),
                    zero_threshold: f64::from_le_bytes(threshold.try_into().map_err(|_| short())?),
                    classic: r.bounds(&name)?,
                };
                n.check().map_err(|e| format!("{name}: {e}"))?;
                Kind::NativeHistogram(n)
            }
            3 => Kind::Summary,
            4 => Kind::Info,
            5 => {
                // Each state takes at least its 4-byte length.
                let n = r.u32().ok_or_else(short)? as usize;
                if n == 0 || n > r.0.len() / 4 {
                    return Err(format!("{name}: {n} states do not fit its descriptor"));
                }
                Kind::StateSet(
                    (0..n)
                        .map(|_| r.string())
                        .collect::<std::result::Result<_, _>>()?,
                )
            }
            _ => return Err(format!("{name}: unknown kind {code}")),
        };
        // An idle time follows the kind's data when the family has one.
        let expire_ms = match r.take(8) {
            None if r.0.is_empty() => 0,
            Some(ms) if r.0.is_empty() => {
                let ms = u64::from_le_bytes(ms.try_into().map_err(|_| short())?);
                if ms == 0 || ms > MAX_EXPIRE_MS {
                    return Err(format!("{name}: idle time of {ms} ms"));
                }
                ms
            }
            _ => return Err(format!("{name}: bytes left over in its descriptor")),
        };
        Ok(Spec {
            name,
            help,
            unit,
            kind,
            labels,
            limit,
            expire_ms,
        })
    }
}

/// Reads a stored description front to back.
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
    /// Histogram bounds: a count, then that many `f64`s, checked.
    fn bounds(&mut self, name: &str) -> std::result::Result<Vec<f64>, String> {
        let short = || "its descriptor ends early".to_owned();
        let n = self.u32().ok_or_else(short)? as usize;
        if n > MAX_BUCKETS {
            return Err(format!("{name}: {n} buckets, more than {MAX_BUCKETS}"));
        }
        let b = (0..n)
            .map(|_| Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(short)?;
        // No bound at all is refused at creation only: a native histogram has none, and
        // a file written before that rule may hold such a histogram.
        if !b.is_empty() {
            buckets::check(&b).map_err(|e| e.to_string())?;
        }
        Ok(b)
    }

    /// A length-prefixed UTF-8 string, its length checked against the bytes left.
    fn string(&mut self) -> std::result::Result<String, String> {
        let n = self.u32().ok_or("its descriptor ends early")? as usize;
        let b = self
            .take(n)
            .ok_or_else(|| format!("a string of {n} bytes runs past its descriptor"))?;
        String::from_utf8(b.to_vec()).map_err(|_| "a string is not UTF-8".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_specs_are_refused_with_the_offending_name() {
        let bad = [
            Spec::new("", "", Kind::Counter),
            Spec::new("x", "", Kind::Counter).labels(&["__a"]),
            Spec::new("x", "", Kind::Counter).labels(&["a", "a"]),
            Spec::new("x", "", Kind::Histogram(vec![1.0])).labels(&["le"]),
            Spec::new("x", "", Kind::Histogram(vec![2.0, 1.0])),
            Spec::new("x", "", Kind::StateSet(vec![])),
            Spec::new("x", "", Kind::NativeHistogram(Native::with_schema(9))),
            Spec::new("x", "", Kind::NativeHistogram(Native::with_schema(0))).labels(&["le"]),
            Spec::new("x", "", Kind::Counter).labels(&["a"; 17]),
            Spec::new("x", "", Kind::Summary).unit("a.b"),
        ];
        for s in bad {
            let e = s.clone().normalize().unwrap_err().to_string();
            assert!(!e.is_empty(), "{s:?}");
        }
    }

    #[test]
    fn a_native_histogram_spec_reads_back_as_written() {
        let n = Native::with_schema(-2)
            .zero_threshold(0.25)
            .max_buckets(100)
            .classic(&[1.0, 2.0]);
        let s = Spec::new("lat", "Latency.", Kind::NativeHistogram(n))
            .labels(&["m"])
            .normalize()
            .unwrap();
        assert_eq!(Spec::decode(&s.encode()).unwrap(), s);
        let mut bad = s.encode();
        let at = bad.len() - 4 - 16 - 8 - 4;
        bad[at] = 12;
        assert!(Spec::decode(&bad).unwrap_err().contains("schema 12"));
    }

    #[test]
    fn an_idle_time_reads_back_and_a_descriptor_without_one_never_expires() {
        let plain = Spec::new("jobs", "", Kind::Counter).labels(&["k"]);
        let idle = plain
            .clone()
            .expire_after(std::time::Duration::from_micros(1500))
            .normalize()
            .unwrap();
        assert_eq!(idle.expire_ms, 2, "rounded up to whole ms");
        let stored = idle.encode();
        assert_eq!(Spec::decode(&stored).unwrap(), idle);
        let plain = plain.normalize().unwrap();
        assert_eq!(stored.len(), plain.encode().len() + 8);
        assert_eq!(Spec::decode(&plain.encode()).unwrap().expire_ms, 0);
        let mut zero = stored.clone();
        zero[stored.len() - 8..].fill(0);
        assert!(Spec::decode(&zero)
            .unwrap_err()
            .contains("idle time of 0 ms"));
        assert!(Spec::decode(&stored[..stored.len() - 3])
            .unwrap_err()
            .contains("left over"));
    }
}

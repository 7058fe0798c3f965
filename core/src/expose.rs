//! Exposition: Prometheus text 0.0.4 and OpenMetrics 1.0.0, chosen from an `Accept`
//! header, and the registry's self-metrics.
//!
//! Output is deterministic: families sorted by name, series by label values (as
//! tuples), per-process series by owner. One pass over the directory gathers the
//! series; the text is written into the caller's buffer without per-series allocation.

use crate::directory::{self, Record, OVERFLOW};
use crate::family;
use crate::spec::{GaugeMode, Kind, Spec};
use crate::key;
use crate::procs::{self, ProcSlot};
use crate::region::{self, Region};
use crate::sync::Ordering;

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics text format 1.0.0.
    OpenMetrics,
}

impl Format {
    /// The format a scraper asks for in its `Accept` header: OpenMetrics when it lists
    /// `application/openmetrics-text` (version 1.0.0 or unversioned) with a non-zero
    /// quality, Prometheus text otherwise.
    pub fn from_accept(accept: &str) -> Format {
        let wants_om = accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            if !parts
                .next()
                .is_some_and(|t| t.eq_ignore_ascii_case("application/openmetrics-text"))
            {
                return false;
            }
            parts.all(|p| match p.split_once('=') {
                Some((k, v)) if k.trim().eq_ignore_ascii_case("q") => {
                    v.trim().parse::<f64>().is_ok_and(|q| q > 0.0)
                }
                Some((k, v)) if k.trim().eq_ignore_ascii_case("version") => {
                    matches!(v.trim(), "1.0.0" | "0.0.1")
                }
                _ => true,
            })
        });
        if wants_om {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Occupancy of one family.
#[derive(Clone, Debug)]
pub struct FamilyStats {
    /// Family name.
    pub name: String,
    /// Kind name (`counter`, `gauge`, ...).
    pub kind: &'static str,
    /// Live series.
    pub series: u64,
    /// Lookups sent to the overflow series.
    pub overflowed: u64,
}

/// Occupancy and health of a registry's region.
#[derive(Clone, Debug)]
pub struct Stats {
    /// The file behind the registry, if shared.
    pub path: Option<std::path::PathBuf>,
    /// When the region was created, in nanoseconds since the Unix epoch.
    pub created_unix_ns: u64,
    /// Shards (per-CPU cell slabs).
    pub shards: usize,
    /// Live series.
    pub series: u64,
    /// Series the directory can hold.
    pub series_capacity: usize,
    /// Cells per shard in use and in all.
    pub cells: (u64, u64),
    /// Arena bytes in use and in all.
    pub arena_bytes: (u64, u64),
    /// Region bytes in use and in all.
    pub region_bytes: (u64, u64),
    /// Lookups sent to an overflow series.
    pub overflows: u64,
    /// Refused recordings (bad increments, wrong label counts, ...).
    pub errors: u64,
    /// Per family, sorted by name.
    pub families: Vec<FamilyStats>,
    /// Attached processes: pid and whether it is still running.
    pub processes: Vec<(u32, bool)>,
}

pub(crate) fn stats(region: &Region) -> Stats {
    let mut families: Vec<FamilyStats> = (0..region.layout.families as u32)
        .filter_map(|idx| {
            let spec = family::read(region, idx)?;
            let entry = family::Entry::of(region, idx);
            Some(FamilyStats {
                name: spec.name,
                kind: spec.kind.type_name(),
                series: entry.live().load(Ordering::Relaxed),
                overflowed: entry.overflowed().load(Ordering::Relaxed),
            })
        })
        .collect();
    families.sort_by(|a, b| a.name.cmp(&b.name));
    let (arena_used, arena_all) = region.arena_use();
    Stats {
        path: region.path.clone(),
        created_unix_ns: region.created_ns(),
        shards: region.layout.shards,
        series: region.counter(region::H_SERIES_LIVE),
        series_capacity: region.layout.series,
        cells: region.cell_use(),
        arena_bytes: (arena_used * 8, arena_all * 8),
        region_bytes: region.bytes_use(),
        overflows: region.counter(region::H_OVERFLOWS),
        errors: region.counter(region::H_ERRORS),
        families,
        processes: procs::slots(region)
            .into_iter()
            .filter(|s| s.pid != 0)
            .map(|s| (s.pid, s.alive))
            .collect(),
    }
}

/// Checks every series of `region`: its record inside the arena, its family known, its
/// cells inside a shard, its key one value per label (pairs after them for info), and
/// no series twice. Returns the series checked and what is wrong, one line each.
pub(crate) fn check(region: &Region) -> (u64, Vec<String>) {
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut checked = 0;
    let l = &region.layout;
    for (i, w) in region.words()[l.dir_off..l.dir_off + l.series]
        .iter()
        .enumerate()
    {
        let slot = w.load(Ordering::Acquire);
        if slot == 0 || slot == directory::TOMBSTONE {
            continue;
        }
        checked += 1;
        let Some(rec) = Record::read(region, slot) else {
            problems.push(format!(
                "directory slot {i}: its record lies outside the arena"
            ));
            continue;
        };
        let Some(spec) = family::read(region, rec.ident.family) else {
            problems.push(format!(
                "directory slot {i}: series of unknown family {}",
                rec.ident.family
            ));
            continue;
        };
        if rec.cell as usize + spec.kind.cells() > l.cells_per_shard {
            problems.push(format!(
                "{}: a series' cells lie outside the shard",
                spec.name
            ));
        }
        let values = rec.with_key(region, |k| key::values(k).count());
        let overflow = rec.ident.flags & OVERFLOW != 0;
        let n = spec.labels.len();
        let count_ok = overflow && values == 0
            || values == n
            || (spec.kind == Kind::Info && values > n && (values - n) % 2 == 0);
        if !count_ok {
            problems.push(format!(
                "{}: a series key does not decode to its labels",
                spec.name
            ));
        }
        let key = rec.with_key(region, |k| k.to_vec());
        if !seen.insert((rec.ident.family, rec.ident.flags, rec.ident.owner, key)) {
            problems.push(format!("{}: a series is in the directory twice", spec.name));
        }
    }
    (checked, problems)
}

/// One series found in a directory, with what sorting needs.
#[derive(Clone, Copy)]
struct Entry {
    rank: u32,
    overflow: bool,
    prefix: u128,
    /// Which of the rendered regions holds the series.
    src: usize,
    owner: u64,
    record: Record,
}

/// One family of the exposition: its definition and, per region, its index there.
struct Merged {
    spec: Spec,
    members: Vec<(usize, u32)>,
}

/// Whether two regions' families of one name can be rendered as one.
fn same_definition(a: &Spec, b: &Spec) -> bool {
    a.kind == b.kind && a.labels == b.labels && a.unit == b.unit
}

/// What an exposition of some regions holds, in output order: the merged families
/// and their series. It depends only on which families and series exist, so it can be
/// kept while [`state`] of every region stays the same.
pub(crate) struct Plan {
    fams: Vec<Merged>,
    entries: Vec<Entry>,
}

/// A region's words that change whenever a family or series is made or removed or an
/// overflow series is first used: arena use, live series, overflow count.
pub(crate) fn state(region: &Region) -> [u64; 3] {
    [
        region.arena_use().0,
        region.counter(region::H_SERIES_LIVE),
        region.counter(region::H_OVERFLOWS),
    ]
}

/// Gathers and orders the families and series of `regions`.
///
/// Families of the same name in several regions are one family, with the help of the
/// first region that has it; where another region defines the name differently (kind,
/// labels or unit), its family is left out. A series found in several regions is
/// reported once, its values added up (a state set takes the first region's state).
pub(crate) fn plan(regions: &[&Region]) -> Plan {
    let mut all: Vec<(usize, u32, Spec)> = Vec::new();
    for (src, region) in regions.iter().enumerate() {
        all.extend(
            (0..region.layout.families as u32)
                .filter_map(|idx| Some((src, idx, family::read(region, idx)?))),
        );
    }
    all.sort_by(|a, b| a.2.name.cmp(&b.2.name).then(a.0.cmp(&b.0)));
    let mut rank: Vec<Vec<u32>> = regions
        .iter()
        .map(|r| vec![u32::MAX; r.layout.families])
        .collect();
    let mut fams: Vec<Merged> = Vec::new();
    for (src, idx, spec) in all {
        match fams.last_mut() {
            Some(m) if m.spec.name == spec.name => {
                if !same_definition(&m.spec, &spec) {
                    continue;
                }
                m.members.push((src, idx));
            }
            _ => fams.push(Merged {
                spec,
                members: vec![(src, idx)],
            }),
        }
        rank[src][idx as usize] = fams.len() as u32 - 1;
    }
    let mut entries = Vec::with_capacity(
        regions
            .iter()
            .map(|r| r.counter(region::H_SERIES_LIVE) as usize)
            .sum(),
    );
    for (src, region) in regions.iter().enumerate() {
        let rank = &rank[src];
        directory::for_each(region, |record| {
            let Some(&r) = rank.get(record.ident.family as usize) else {
                return;
            };
            if r == u32::MAX
                || record.cell as usize + fams[r as usize].spec.kind.cells()
                    > region.layout.cells_per_shard
            {
                return;
            }
            let overflow = record.ident.flags & OVERFLOW != 0;
            // The overflow series exists from the start; it shows once it was used.
            let overflowed = || {
                let entry = family::Entry::of(region, record.ident.family);
                entry.overflowed().load(Ordering::Relaxed) > 0
            };
            if overflow && !overflowed() {
                return;
            }
            entries.push(Entry {
                rank: r,
                overflow,
                prefix: record.with_key(region, key::prefix),
                src,
                owner: record.ident.owner,
                record,
            });
        });
    }
    // Sort small (order, index) pairs rather than the entries themselves.
    let mut order: Vec<(u64, u128, u32)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| ((e.rank as u64) << 1 | e.overflow as u64, e.prefix, i as u32))
        .collect();
    order.sort_unstable_by(|x, y| {
        x.0.cmp(&y.0).then(x.1.cmp(&y.1)).then_with(|| {
            let (a, b) = (&entries[x.2 as usize], &entries[y.2 as usize]);
            let (ra, rb) = (regions[a.src], regions[b.src]);
            a.record
                .with_key(ra, |ka| b.record.with_key(rb, |kb| ka.cmp(kb)))
                .then(a.src.cmp(&b.src))
                .then(a.owner.cmp(&b.owner))
        })
    });
    let entries: Vec<Entry> = order.iter().map(|o| entries[o.2 as usize]).collect();
    Plan { fams, entries }
}

/// Renders `plan` of `regions` into `out` as one exposition, reading the current
/// values; `extra` appends callback text.
pub(crate) fn render(
    regions: &[&Region],
    plan: &Plan,
    format: Format,
    out: &mut String,
    extra: &mut dyn FnMut(Format, &mut String),
) {
    let (fams, entries) = (&plan.fams, &plan.entries);
    let slots: Vec<Vec<ProcSlot>> = if fams
        .iter()
        .any(|m| matches!(m.spec.kind, Kind::Gauge(m) if m.per_process()))
    {
        regions.iter().map(|r| procs::slots(r)).collect()
    } else {
        vec![Vec::new(); regions.len()]
    };
    let mut w = Writer {
        regions,
        format,
        out,
        labels: String::new(),
        slots: &slots,
    };
    let mut rest = &entries[..];
    for (r, m) in fams.iter().enumerate() {
        let n = rest.iter().take_while(|e| e.rank == r as u32).count();
        let (mine, tail) = rest.split_at(n);
        rest = tail;
        w.family(&m.spec, mine);
    }
    w.self_metrics(fams);
    extra(format, w.out);
    if format == Format::OpenMetrics {
        w.out.push_str("# EOF\n");
    }
}

struct Writer<'a> {
    regions: &'a [&'a Region],
    format: Format,
    out: &'a mut String,
    /// The current series' labels, rendered once and reused for each of its lines.
    labels: String,
    /// Per region, its process table (empty when no family keeps per-process values).
    slots: &'a [Vec<ProcSlot>],
}

impl Writer<'_> {
    fn header(&mut self, name: &str, suffix: &str, kind: &str, help: &str, unit: &str) {
        write_header(self.out, self.format, name, suffix, kind, help, unit);
    }

    fn family(&mut self, spec: &Spec, entries: &[Entry]) {
        let name = spec.name.as_str();
        let (suffix, kind) = type_line(self.format, spec.kind.type_name());
        self.header(name, suffix, kind, &spec.help, &spec.unit);
        let mut i = 0;
        while i < entries.len() {
            let e = &entries[i];
            // The run of entries with this key: one per region that has the series,
            // and for per-process gauges one per owner.
            let run = 1 + entries[i + 1..]
                .iter()
                .take_while(|o| same_key(self.regions, o, e))
                .count();
            self.series(spec, &entries[i..i + run]);
            i += run;
        }
    }

    /// Renders the labels of `e` into `self.labels`, without braces.
    fn set_labels(&mut self, spec: &Spec, e: &Entry) {
        self.labels.clear();
        if e.overflow {
            self.labels.push_str("otel_metric_overflow=\"true\"");
        } else {
            let region = self.regions[e.src];
            let labels = &mut self.labels;
            e.record.with_key(region, |k| {
                if spec.kind != Kind::Info && plain_labels(labels, &spec.labels, k) {
                    return;
                }
                labels.clear();
                let mut values = key::values(k);
                for n in &spec.labels {
                    match values.next() {
                        Some(v) => push_label(labels, n, &v),
                        None => return,
                    }
                }
                // Info series carry their own label names: pairs after the declared labels.
                while let (Some(n), Some(v)) = (values.next(), values.next()) {
                    push_label(labels, &n, &v);
                }
            });
        }
    }

    fn line(&mut self, name: &str, suffix: &str, extra: Option<(&str, &str)>, value: Value) {
        write_line(self.out, name, suffix, &self.labels, extra, value);
    }

    fn series(&mut self, spec: &Spec, run: &[Entry]) {
        let regions = self.regions;
        let e = &run[0];
        // A cell of the series, added up over the regions that have it.
        let sum = |off: u32| {
            run.iter().fold(0u64, |s, e| {
                s.wrapping_add(regions[e.src].cell_sum(e.record.cell + off))
            })
        };
        let sum_f64 = |off: u32| {
            run.iter()
                .map(|e| regions[e.src].cell_sum_f64(e.record.cell + off))
                .sum::<f64>()
        };
        let name = spec.name.as_str();
        match &spec.kind {
            Kind::Counter => {
                self.set_labels(spec, e);
                let ints = sum(0);
                // The fractional part, if any region made a float cell for the series.
                let mut floats: Option<f64> = None;
                for e in run {
                    let region = regions[e.src];
                    if let Some(f) = Record::float_cell(region, e.record.at) {
                        *floats.get_or_insert(-0.0) += region.cell_sum_f64(f);
                    }
                }
                let v = match floats {
                    Some(f) => Value::F(ints as f64 + f),
                    None => Value::U(ints),
                };
                self.line(name, "_total", None, v);
            }
            Kind::Gauge(mode) => self.gauge(spec, *mode, run),
            Kind::Histogram(bounds) => {
                self.set_labels(spec, e);
                let mut cum = 0u64;
                let mut le = ryu::Buffer::new();
                for (i, b) in bounds.iter().enumerate() {
                    cum += sum(i as u32);
                    let le = le.format(*b);
                    self.line(name, "_bucket", Some(("le", le)), Value::U(cum));
                }
                cum += sum(bounds.len() as u32);
                self.line(name, "_bucket", Some(("le", "+Inf")), Value::U(cum));
                self.line(name, "_count", None, Value::U(cum));
                let s = sum_f64(bounds.len() as u32 + 1);
                self.line(name, "_sum", None, Value::F(s));
            }
            Kind::Summary => {
                self.set_labels(spec, e);
                self.line(name, "_count", None, Value::U(sum(0)));
                self.line(name, "_sum", None, Value::F(sum_f64(1)));
            }
            Kind::Info => {
                self.set_labels(spec, e);
                self.line(name, "_info", None, Value::U(1));
            }
            Kind::StateSet(states) => {
                self.set_labels(spec, e);
                let cur = regions[e.src]
                    .cell(0, e.record.cell)
                    .load(Ordering::Relaxed) as usize;
                for (i, s) in states.iter().enumerate() {
                    self.line(name, "", Some((name, s)), Value::U((i == cur) as u64));
                }
            }
        }
    }

    fn gauge(&mut self, spec: &Spec, mode: GaugeMode, run: &[Entry]) {
        let regions = self.regions;
        let name = spec.name.as_str();
        let value = |e: &Entry| {
            f64::from_bits(
                regions[e.src]
                    .cell(0, e.record.cell)
                    .load(Ordering::Relaxed),
            )
        };
        if !mode.per_process() {
            self.set_labels(spec, &run[0]);
            let v = run.iter().map(value).sum::<f64>();
            self.line(name, "", None, Value::F(v));
            return;
        }
        let live: Vec<&Entry> = run
            .iter()
            .filter(|e| !mode.live_only() || procs::owner_alive(&self.slots[e.src], e.owner))
            .collect();
        if live.is_empty() {
            return;
        }
        match mode {
            GaugeMode::All | GaugeMode::LiveAll => {
                for e in live {
                    let mut pid = itoa::Buffer::new();
                    let pid = pid.format(e.record.pid);
                    self.set_labels(spec, e);
                    self.line(name, "", Some(("pid", pid)), Value::F(value(e)));
                }
            }
            _ => {
                let vals = live.iter().map(|e| value(e));
                let v = match mode {
                    GaugeMode::Sum | GaugeMode::LiveSum => vals.sum(),
                    GaugeMode::Max | GaugeMode::LiveMax => vals.fold(f64::NEG_INFINITY, f64::max),
                    GaugeMode::Min | GaugeMode::LiveMin => vals.fold(f64::INFINITY, f64::min),
                    _ => {
                        let stamp = |e: &&Entry| {
                            f64::from_bits(
                                regions[e.src]
                                    .cell(0, e.record.cell + 1)
                                    .load(Ordering::Relaxed),
                            )
                        };
                        live.iter()
                            .max_by(|a, b| stamp(a).total_cmp(&stamp(b)))
                            .map_or(0.0, |e| value(e))
                    }
                };
                self.set_labels(spec, live[0]);
                self.line(name, "", None, Value::F(v));
            }
        }
    }

    fn self_metrics(&mut self, fams: &[Merged]) {
        let regions = self.regions;
        let total = |f: &dyn Fn(&Region) -> u64| regions.iter().map(|r| f(r)).sum::<u64>();
        self.labels.clear();
        let gauges = [
            (
                "metricore_series",
                "Live series in the registry.",
                total(&|r| r.counter(region::H_SERIES_LIVE)),
            ),
            (
                "metricore_region_used_bytes",
                "Bytes of the registry region in use.",
                total(&|r| r.bytes_use().0),
            ),
            (
                "metricore_region_free_bytes",
                "Bytes of the registry region still free.",
                total(&|r| {
                    let (used, all) = r.bytes_use();
                    all - used.min(all)
                }),
            ),
        ];
        for (name, help, v) in gauges {
            self.header(name, "", "gauge", help, "");
            self.line(name, "", None, Value::U(v));
        }
        let (sfx, _) = type_line(self.format, "counter");
        self.header(
            "metricore_errors",
            sfx,
            "counter",
            "Recordings refused as invalid.",
            "",
        );
        let errors = Value::U(total(&|r| r.counter(region::H_ERRORS)));
        self.line("metricore_errors", "_total", None, errors);
        self.header(
            "metricore_series_overflow",
            sfx,
            "counter",
            "Lookups sent to a family's overflow series (series limit reached or region full).",
            "",
        );
        for m in fams {
            let n: u64 = m
                .members
                .iter()
                .map(|&(src, idx)| {
                    let entry = family::Entry::of(regions[src], idx);
                    entry.overflowed().load(Ordering::Relaxed)
                })
                .sum();
            if n > 0 {
                self.labels.clear();
                push_label(&mut self.labels, "family", &m.spec.name);
                self.line("metricore_series_overflow", "_total", None, Value::U(n));
            }
        }
    }
}

fn write_header(
    out: &mut String,
    format: Format,
    name: &str,
    suffix: &str,
    kind: &str,
    help: &str,
    unit: &str,
) {
    let om = format == Format::OpenMetrics;
    if !help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push_str(suffix);
        out.push(' ');
        for c in help.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '"' if om => out.push_str("\\\""),
                c => out.push(c),
            }
        }
        out.push('\n');
    }
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push_str(suffix);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
    if om && !unit.is_empty() {
        out.push_str("# UNIT ");
        out.push_str(name);
        out.push(' ');
        out.push_str(unit);
        out.push('\n');
    }
}

fn write_line(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &str,
    extra: Option<(&str, &str)>,
    value: Value,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        out.push_str(labels);
        if let Some((n, v)) = extra {
            if !labels.is_empty() {
                out.push(',');
            }
            out.push_str(n);
            out.push_str("=\"");
            escape_into(out, v);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    value.write(out);
    out.push('\n');
}

/// The suffix of a family's name in its `# TYPE` line, and the type named there: the
/// Prometheus text format names counters `_total` and info `_info`, and has no info or
/// state set types (they are gauges there).
fn type_line(format: Format, type_name: &'static str) -> (&'static str, &'static str) {
    match (type_name, format) {
        ("counter", Format::Prometheus) => ("_total", "counter"),
        ("info", Format::Prometheus) => ("_info", "gauge"),
        ("stateset", Format::Prometheus) => ("", "gauge"),
        (t, _) => ("", t),
    }
}

/// A family made outside the registry, by a custom collector, to be rendered by the
/// same rules as the registry's own.
#[derive(Clone, Debug)]
pub struct ExternalFamily<'a> {
    /// Family name (for counters without `_total`, for info without `_info`).
    pub name: &'a str,
    /// Help text.
    pub help: &'a str,
    /// Unit, or empty.
    pub unit: &'a str,
    /// `counter`, `gauge`, `histogram`, `summary`, `info`, `stateset` or `unknown`.
    pub kind: &'a str,
    /// The samples, in order.
    pub samples: &'a [ExternalSample<'a>],
}

/// One sample of an [`ExternalFamily`].
#[derive(Clone, Debug)]
pub struct ExternalSample<'a> {
    /// Full sample name (`x_total`, `x_bucket`, ...).
    pub name: &'a str,
    /// Label names and values.
    pub labels: &'a [(&'a str, &'a str)],
    /// The value.
    pub value: f64,
}

/// Checks and renders an external family into `out`.
pub fn render_external(
    format: Format,
    family: &ExternalFamily,
    out: &mut String,
) -> crate::Result<()> {
    const KINDS: [&str; 7] = [
        "counter",
        "gauge",
        "histogram",
        "summary",
        "info",
        "stateset",
        "unknown",
    ];
    let kind =
        KINDS
            .iter()
            .find(|k| **k == family.kind)
            .ok_or_else(|| crate::Error::UnknownType {
                metric: family.name.to_owned(),
                kind: family.kind.to_owned(),
            })?;
    crate::names::check_metric_name(family.name)?;
    let mut labels = String::new();
    for s in family.samples {
        crate::names::check_metric_name(s.name)?;
        for (n, _) in s.labels {
            crate::names::check_label_name(n)?;
        }
    }
    let (suffix, type_name) = type_line(format, kind);
    let type_name = if format == Format::Prometheus && *kind == "unknown" {
        "untyped"
    } else {
        type_name
    };
    write_header(
        out,
        format,
        family.name,
        suffix,
        type_name,
        family.help,
        family.unit,
    );
    for s in family.samples {
        labels.clear();
        for (n, v) in s.labels {
            push_label(&mut labels, n, v);
        }
        write_line(out, s.name, "", &labels, None, Value::F(s.value));
    }
    Ok(())
}

fn same_key(regions: &[&Region], a: &Entry, b: &Entry) -> bool {
    a.rank == b.rank
        && a.overflow == b.overflow
        && a.prefix == b.prefix
        && a.record.with_key(regions[a.src], |ka| {
            b.record.with_key(regions[b.src], |kb| ka == kb)
        })
}

/// Renders a stored key's values under `names` in one pass over its bytes. Returns
/// `false`, leaving `out` to be cleared, when the key is not plain: not valid UTF-8
/// (escaped NULs, a corrupt file) or not one value per name.
fn plain_labels(out: &mut String, names: &[String], stored: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(stored) else {
        return false;
    };
    let mut rest = text;
    for n in names {
        // Each value ends at its `00 01` terminator; a valid UTF-8 key has no other NUL.
        let Some(end) = memchr::memchr(0, rest.as_bytes()) else {
            return false;
        };
        if rest.as_bytes().get(end + 1) != Some(&1) {
            return false;
        }
        push_label(out, n, &rest[..end]);
        rest = &rest[end + 2..];
    }
    rest.is_empty()
}

fn push_label(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    out.push_str(name);
    out.push_str("=\"");
    escape_into(out, value);
    out.push('"');
}

/// Escapes a label value: `\`, `"` and newline; runs without them are copied whole.
fn escape_into(out: &mut String, v: &str) {
    let mut rest = v;
    while let Some(i) = memchr::memchr3(b'\\', b'"', b'\n', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            _ => "\\n",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// A sample value: integers as integers, floats in the shortest form that reads back.
enum Value {
    U(u64),
    F(f64),
}

impl Value {
    fn write(self, out: &mut String) {
        match self {
            Value::U(v) => out.push_str(itoa::Buffer::new().format(v)),
            Value::F(v) if v.is_nan() => out.push_str("NaN"),
            Value::F(v) if v == f64::INFINITY => out.push_str("+Inf"),
            Value::F(v) if v == f64::NEG_INFINITY => out.push_str("-Inf"),
            Value::F(v) => out.push_str(ryu::Buffer::new().format_finite(v)),
        }
    }
}

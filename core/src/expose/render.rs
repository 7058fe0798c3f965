//! Rendering a plan: reads the current values of the plan's series (each cell summed
//! over the lanes in use, a series summed over the regions that have it, per-process
//! gauges combined by their mode) and the self-metrics, and hands them to the encoder.
//!
//! The sums are taken first, lane by lane in memory order ([`Sums`]): a lane is one
//! long slab, so reading a cell of every lane in turn would touch a page per lane.
//! Of each lane only the cache lines marked written are read.

use std::borrow::Cow;

use super::collect::Collector;
use super::filter::Filter;
use super::format::{Format, Numbers};
use super::parse::ParsedFamily;
use super::plan::{Entry, Merged, Plan};
use super::proto;
use super::text::{proto_name, write_f64, Encoder, Labels, Value};
use crate::directory::Record;
use crate::exemplar::{self, Exemplar};
use crate::family::Entry as FamilyEntry;
use crate::key;
use crate::names::Escaping;
use crate::procs::{self, ProcSlot};
use crate::region::{self, Region};
use crate::spec::{GaugeMode, Kind, Spec};
use crate::sync::{AtomicU64, Ordering};

/// Where an exposition goes: text into a `String`, protobuf into bytes, families as
/// data into a list.
pub(crate) enum Out<'a> {
    /// Text in the given format (protobuf asked for writes the Prometheus text format).
    Text(&'a mut String),
    /// Protobuf.
    Protobuf(&'a mut Vec<u8>),
    /// Families and samples as data, as OpenMetrics has them.
    Collected(&'a mut Vec<ParsedFamily>),
}

/// The encoder a render drives (protobuf with the scheme its names are written in).
enum Enc<'a> {
    Text(Encoder<'a>),
    Protobuf(proto::Encoder<'a>, Escaping),
    Collect(Collector<'a>),
}

impl Enc<'_> {
    fn family(&mut self, name: &str, type_name: &str, help: &str, unit: &str) {
        match self {
            Enc::Text(e) => e.family(name, type_name, help, unit),
            Enc::Protobuf(e, escaping) => {
                e.family(&proto_name(name, false, *escaping), type_name, help)
            }
            Enc::Collect(e) => e.family(name, type_name, help, unit),
        }
    }

    fn sample(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &Labels,
        extra: Option<(&str, &str)>,
        value: Value,
        exemplar: Option<&Exemplar>,
    ) {
        match self {
            Enc::Text(e) => {
                e.sample(name, suffix, labels, extra, value);
                if let Some(x) = exemplar {
                    e.exemplar(x);
                }
            }
            Enc::Protobuf(e, escaping) => {
                let value = (value.as_f64(), value.as_u64());
                let names: Vec<(Cow<str>, &str)> = exemplar.map_or_else(Vec::new, |x| {
                    x.labels()
                        .map(|(n, v)| (proto_name(n, true, *escaping), v))
                        .collect()
                });
                let pairs: Vec<(&str, &str)> = names.iter().map(|(n, v)| (&**n, *v)).collect();
                let extra_name = extra.map(|(n, _)| proto_name(n, true, *escaping));
                let extra = extra.zip(extra_name.as_deref()).map(|((_, v), n)| (n, v));
                let x = exemplar.map(|x| proto::Exemplar {
                    labels: &pairs,
                    value: x.value(),
                    timestamp: Some(x.timestamp()),
                });
                e.sample(suffix, labels.proto_fields(), extra, value, x.as_ref())
            }
            Enc::Collect(e) => e.sample(name, suffix, labels, extra, value, exemplar),
        }
    }

    /// Whether the format carries exemplars (OpenMetrics, protobuf and data).
    fn writes_exemplars(&self) -> bool {
        match self {
            Enc::Text(e) => e.writes_exemplars(),
            Enc::Protobuf(..) | Enc::Collect(_) => true,
        }
    }

    fn numbers(&self) -> Numbers {
        match self {
            Enc::Text(e) => e.numbers(),
            Enc::Protobuf(..) => Numbers::Shortest,
            Enc::Collect(e) => e.numbers(),
        }
    }
}

/// Renders `plan` of `regions` into `out` as one exposition, reading the current
/// values, its values written as `numbers` says and names outside the legacy set as
/// `escaping` says, with (`created`) the creation time of each counter, histogram and
/// summary series (see [`Created`]), and (with `self_metrics`) the
/// self-metrics `filter` selects; `extra` appends callback text, of which the families
/// `filter` selects are kept (for protobuf and data, the text is read back; text that
/// cannot be read is left out).
#[allow(clippy::too_many_arguments)]
pub(crate) fn render(
    regions: &[&Region],
    plan: &Plan,
    format: Format,
    numbers: Numbers,
    escaping: Escaping,
    (created, self_metrics): (bool, bool),
    filter: &Filter,
    out: Out<'_>,
    extra: &mut dyn FnMut(Format, Escaping, &mut String),
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
    let sums: Vec<Sums> = (0..regions.len())
        .map(|src| Sums::new(regions[src], src, plan))
        .collect();
    let (enc, labels) = match out {
        Out::Text(out) => {
            let enc = Encoder::new(out, format.text(), numbers, escaping);
            let labels = enc.labels();
            (Enc::Text(enc), labels)
        }
        Out::Protobuf(out) => (
            Enc::Protobuf(proto::Encoder::new(out), escaping),
            Labels::proto(escaping),
        ),
        Out::Collected(out) => (
            Enc::Collect(Collector::new(out, numbers)),
            Labels::pairs_only(),
        ),
    };
    let created = match (&enc, created) {
        (_, false) | (Enc::Protobuf(..), _) => Created::Off,
        (Enc::Text(e), _) if e.format() == Format::Prometheus => Created::Family,
        _ => Created::Series,
    };
    let mut w = Walker {
        regions,
        sums: &sums,
        enc,
        created,
        labels,
        plain: true,
        reused: false,
        slots: &slots,
        later: (String::new(), Vec::new()),
    };
    let mut rest = &entries[..];
    for (r, m) in fams.iter().enumerate() {
        let n = rest.iter().take_while(|e| e.rank == r as u32).count();
        let (mine, tail) = rest.split_at(n);
        rest = tail;
        w.family(&m.spec, mine);
    }
    if self_metrics {
        w.self_metrics(fams, filter);
    }
    match w.enc {
        Enc::Text(mut enc) => {
            let out = enc.out();
            let from = out.len();
            extra(format.text(), escaping, out);
            filter.retain_text(out, from);
            enc.finish();
        }
        Enc::Protobuf(mut enc, escaping) => {
            // The text's names, quoted or escaped as the scheme says, are read back
            // as protobuf carries them.
            let mut text = String::new();
            extra(Format::Prometheus, escaping, &mut text);
            filter.retain_text(&mut text, 0);
            if let Ok(families) = super::parse(&text, Format::Prometheus) {
                enc.parsed(&families);
            }
            enc.finish();
        }
        Enc::Collect(enc) => {
            let mut text = String::new();
            extra(Format::OpenMetrics, Escaping::AllowUtf8, &mut text);
            filter.retain_text(&mut text, 0);
            if let Ok(families) = super::parse(&text, Format::OpenMetrics) {
                enc.parsed(families);
            }
        }
    }
}

/// Whether series of `kind` have a creation time rendered (`NAME_created`).
fn has_created(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::Counter | Kind::Histogram(_) | Kind::NativeHistogram(_) | Kind::Summary
    )
}

/// Cell kinds in [`Sums::new`].
const NOT_READ: u8 = 0;
const INTEGER: u8 = 1;
const FLOAT: u8 = 2;

/// One region's sums over its lanes in use of the cells a plan reads, by cell: counts
/// as integers, sums as `f64`.
struct Sums {
    ints: Vec<u128>,
    floats: Vec<f64>,
}

impl Sums {
    /// The sums of the cells of `plan`'s series in `region` (its region `src`), added
    /// lane by lane, each lane in memory order and only over the cells read that lie
    /// on lines marked written (or of lanes read whole, see
    /// [`Region::lanes_read_whole`]).
    fn new(region: &Region, src: usize, plan: &Plan) -> Sums {
        let used = region.cell_use().0 as usize;
        let mut kinds = vec![NOT_READ; used];
        let mut set = |from: u32, n: usize, kind: u8| {
            let from = from as usize;
            if let Some(k) = kinds.get_mut(from..from + n) {
                k.fill(kind);
            }
        };
        for e in plan.entries.iter().filter(|e| e.src == src) {
            let cell = e.record.cell;
            match &plan.fams[e.rank as usize].spec.kind {
                Kind::Counter => {
                    set(cell, 1, INTEGER);
                    if let Some(f) = Record::float_cell(region, e.record.at) {
                        set(f, 1, FLOAT);
                    }
                }
                Kind::Histogram(b) => {
                    set(cell, b.len() + 1, INTEGER);
                    set(cell + b.len() as u32 + 1, 1, FLOAT);
                }
                Kind::NativeHistogram(n) => {
                    let counts = n.cells() - 1;
                    set(cell, counts, INTEGER);
                    set(cell + counts as u32, 1, FLOAT);
                }
                Kind::Summary => {
                    set(cell, 1, INTEGER);
                    set(cell + 1, 1, FLOAT);
                }
                Kind::Gauge(_) | Kind::StateSet(_) | Kind::Info => {}
            }
        }
        // Stretches of cells of one kind, in memory order.
        let mut runs: Vec<(usize, usize, u8)> = Vec::new();
        for (c, &k) in kinds.iter().enumerate() {
            match runs.last_mut() {
                Some((_, to, kind)) if *to == c && *kind == k => *to += 1,
                _ if k == NOT_READ => {}
                _ => runs.push((c, c + 1, k)),
            }
        }
        let mut sums = Sums {
            ints: vec![0; used],
            floats: vec![0.0; used],
        };
        let mut written = Vec::new();
        for (lane, whole) in region.lanes_read_whole().into_iter().enumerate() {
            region.written(lane, used, whole, &mut written);
            if written.is_empty() {
                continue;
            }
            let cells = region.lane_cells(lane, 0, used as u32);
            // The parts of the runs on written lines: both lists are sorted, and the
            // written lines of a lane are usually few, so runs are found by search.
            let mut r = 0;
            for &(from, to) in &written {
                r += runs[r..].partition_point(|run| run.1 <= from);
                for &(a, b, kind) in runs[r..].iter().take_while(|run| run.0 < to) {
                    let (a, b) = (a.max(from), b.min(to));
                    sums.add(&cells[a..b], a, kind);
                }
            }
        }
        sums
    }

    /// Adds `cells`, cells `from..` of one lane, to the sums of their `kind`.
    #[inline]
    fn add(&mut self, cells: &[AtomicU64], from: usize, kind: u8) {
        let to = from + cells.len();
        if kind == INTEGER {
            for (s, c) in self.ints[from..to].iter_mut().zip(cells) {
                *s += c.load(Ordering::Relaxed) as u128;
            }
        } else {
            for (s, c) in self.floats[from..to].iter_mut().zip(cells) {
                *s += f64::from_bits(c.load(Ordering::Relaxed));
            }
        }
    }

    /// The sum of integer cell `cell`.
    fn int(&self, cell: u32) -> u128 {
        self.ints.get(cell as usize).copied().unwrap_or(0)
    }

    /// The sum of float cell `cell`.
    fn float(&self, cell: u32) -> f64 {
        self.floats.get(cell as usize).copied().unwrap_or(0.0)
    }
}

/// Where a render writes the creation time of counter, histogram and summary series
/// (`NAME_created`, seconds since the Unix epoch), as `prometheus_client` does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Created {
    /// Not at all (not asked for, or protobuf).
    Off,
    /// After each series' samples (OpenMetrics, and families as data).
    Series,
    /// In a gauge family `NAME_created` after the family (the Prometheus text format,
    /// which has no `_created` samples).
    Family,
}

/// Reads the values of a plan's series and hands them to the encoder.
struct Walker<'a> {
    regions: &'a [&'a Region],
    /// Where series' creation times go.
    created: Created,
    /// Per region, the sums of the cells read.
    sums: &'a [Sums],
    enc: Enc<'a>,
    /// The current series' labels, rendered once and reused for each of its lines.
    labels: Labels,
    /// Whether the current family's label names are written as they are.
    plain: bool,
    /// Whether the current series' record was reused for another series after the
    /// plan read it: its lines are left out, as its labels are no longer its own.
    reused: bool,
    /// Per region, its process table (empty when no family keeps per-process values).
    slots: &'a [Vec<ProcSlot>],
    /// With [`Created::Family`], the current family's series as written: their labels
    /// one after another, and for each series where its labels end and its creation
    /// time.
    later: (String, Vec<(usize, f64)>),
}

impl Walker<'_> {
    fn family(&mut self, spec: &Spec, entries: &[Entry]) {
        let name = spec.name.as_str();
        self.plain = self.labels.plain(&spec.labels);
        self.enc
            .family(name, spec.kind.type_name(), &spec.help, &spec.unit);
        let mut i = 0;
        while i < entries.len() {
            let e = &entries[i];
            // The run of entries with this key: one per region that has the series,
            // and for per-process gauges one per owner.
            let run = 1 + entries[i + 1..]
                .iter()
                .take_while(|o| o.same_series(e, self.regions))
                .count();
            self.series(spec, &entries[i..i + run]);
            i += run;
        }
        if self.created == Created::Family && has_created(&spec.kind) && !entries.is_empty() {
            self.enc
                .family(&format!("{name}_created"), "gauge", &spec.help, &spec.unit);
            let (text, mut ends) = std::mem::take(&mut self.later);
            let mut from = 0;
            for &(end, t) in &ends {
                self.labels.set_text(&text[from..end]);
                self.enc
                    .sample(name, "_created", &self.labels, None, Value::F(t), None);
                from = end;
            }
            ends.clear();
            self.later = (text, ends);
            self.later.0.clear();
        }
    }

    /// The creation time of the series `run`: the earliest of the regions that have it.
    fn created(&self, run: &[Entry]) -> f64 {
        run.iter()
            .map(|e| Record::created(self.regions[e.src], e.record.at))
            .fold(f64::INFINITY, f64::min)
    }

    /// Renders the labels of `e` into `self.labels`, without braces.
    fn set_labels(&mut self, spec: &Spec, e: &Entry) {
        let plain = self.plain;
        self.labels.clear();
        self.reused = false;
        if e.overflow {
            self.labels.push("otel_metric_overflow", "true");
        } else {
            let region = self.regions[e.src];
            let labels = &mut self.labels;
            e.record.with_key(region, |k| {
                if spec.kind != Kind::Info && plain_labels(labels, &spec.labels, k, plain) {
                    return;
                }
                labels.clear();
                let mut values = key::values(k);
                for n in &spec.labels {
                    match values.next() {
                        Some(v) if plain => labels.push_plain(n, &v),
                        Some(v) => labels.push(n, &v),
                        None => return,
                    }
                }
                // Info series carry their own label names: pairs after the declared labels.
                while let (Some(n), Some(v)) = (values.next(), values.next()) {
                    labels.push(&n, &v);
                }
            });
            self.reused = !e.record.current(region);
        }
    }

    fn line(&mut self, name: &str, suffix: &str, extra: Option<(&str, &str)>, value: Value) {
        if self.reused {
            return;
        }
        self.enc
            .sample(name, suffix, &self.labels, extra, value, None);
    }

    /// Writes a sample as [`line`](Self::line) does, with the latest exemplar in slot
    /// `i` (of `n`) of the series `run` if the format has exemplars.
    fn line_with_exemplar(
        &mut self,
        name: &str,
        suffix: &str,
        extra: Option<(&str, &str)>,
        value: Value,
        (run, n, i): (&[Entry], usize, usize),
    ) {
        if self.reused {
            return;
        }
        let exemplar = if self.enc.writes_exemplars() {
            latest_exemplar(self.regions, run, n, i)
        } else {
            None
        };
        self.enc
            .sample(name, suffix, &self.labels, extra, value, exemplar.as_ref());
    }

    fn series(&mut self, spec: &Spec, run: &[Entry]) {
        self.values(spec, run);
        if !has_created(&spec.kind) || self.reused {
            return;
        }
        match self.created {
            Created::Series => {
                let t = self.created(run);
                self.line(&spec.name, "_created", None, Value::F(t));
            }
            Created::Family => {
                let t = self.created(run);
                self.later.0.push_str(self.labels.text());
                self.later.1.push((self.later.0.len(), t));
            }
            Created::Off => {}
        }
    }

    /// Writes the samples of the series `run` but its `_created`.
    fn values(&mut self, spec: &Spec, run: &[Entry]) {
        let (regions, sums) = (self.regions, self.sums);
        let e = &run[0];
        // A cell of the series, added up over the regions that have it.
        // u128: sums of many cells near u64::MAX do not wrap.
        let sum = |off: u32| {
            run.iter()
                .fold(0u128, |s, e| s + sums[e.src].int(e.record.cell + off))
        };
        let sum_f64 = |off: u32| {
            run.iter()
                .map(|e| sums[e.src].float(e.record.cell + off))
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
                        *floats.get_or_insert(-0.0) += sums[e.src].float(f);
                    }
                }
                let v = match (floats, u64::try_from(ints)) {
                    (None, Ok(n)) => Value::U(n),
                    (f, _) => Value::F(ints as f64 + f.unwrap_or(0.0)),
                };
                self.line_with_exemplar(name, "_total", None, v, (run, 1, 0));
            }
            Kind::Gauge(mode) => self.gauge(spec, *mode, run),
            Kind::Histogram(bounds) => {
                self.set_labels(spec, e);
                let mut cum = 0u128;
                let mut le = String::new();
                for (i, b) in bounds.iter().enumerate() {
                    cum = cum.saturating_add(sum(i as u32));
                    le.clear();
                    write_f64(*b, self.enc.numbers(), &mut le);
                    let slot = (run, bounds.len() + 1, i);
                    self.line_with_exemplar(name, "_bucket", Some(("le", &le)), count(cum), slot);
                }
                cum += sum(bounds.len() as u32);
                let slot = (run, bounds.len() + 1, bounds.len());
                self.line_with_exemplar(name, "_bucket", Some(("le", "+Inf")), count(cum), slot);
                self.line(name, "_count", None, count(cum));
                let s = sum_f64(bounds.len() as u32 + 1);
                self.line(name, "_sum", None, Value::F(s));
            }
            Kind::NativeHistogram(n) => {
                self.set_labels(spec, e);
                // Cells: classic buckets, zero bucket, positive, negative, sum.
                let zero = n.classic_cells() as u32;
                let per = u32::from(n.max_buckets);
                let first = n.first();
                let mut total = sum(zero);
                let mut signs = [Vec::new(), Vec::new()];
                for (s, buckets) in signs.iter_mut().enumerate() {
                    let from = zero + 1 + s as u32 * per;
                    for i in 0..per {
                        let c = sum(from + i);
                        if c > 0 {
                            total += c;
                            let c = u64::try_from(c).unwrap_or(u64::MAX);
                            buckets.push((first + i as i32, c));
                        }
                    }
                }
                let proto = matches!(self.enc, Enc::Protobuf(..));
                if zero > 0 {
                    let mut cum = 0u128;
                    let mut le = String::new();
                    for (i, b) in n.classic.iter().enumerate() {
                        cum = cum.saturating_add(sum(i as u32));
                        le.clear();
                        write_f64(*b, self.enc.numbers(), &mut le);
                        let slot = (run, n.classic.len() + 1, i);
                        self.line_with_exemplar(
                            name,
                            "_bucket",
                            Some(("le", &le)),
                            count(cum),
                            slot,
                        );
                    }
                    cum += sum(n.classic.len() as u32);
                    let slot = (run, n.classic.len() + 1, n.classic.len());
                    self.line_with_exemplar(
                        name,
                        "_bucket",
                        Some(("le", "+Inf")),
                        count(cum),
                        slot,
                    );
                } else if !proto {
                    // The text formats carry no native buckets: the +Inf bucket only.
                    let slot = (run, 1, 0);
                    self.line_with_exemplar(
                        name,
                        "_bucket",
                        Some(("le", "+Inf")),
                        count(total),
                        slot,
                    );
                }
                if let Enc::Protobuf(enc, _) = &mut self.enc {
                    let z = sum(zero);
                    let native = proto::Native {
                        schema: i32::from(n.schema),
                        zero_threshold: n.zero_threshold,
                        zero_count: u64::try_from(z).unwrap_or(u64::MAX),
                        positive: &signs[0],
                        negative: &signs[1],
                    };
                    enc.native(self.labels.proto_fields(), &native);
                }
                self.line(name, "_count", None, count(total));
                let s = sum_f64(zero + 1 + 2 * per);
                self.line(name, "_sum", None, Value::F(s));
            }
            Kind::Summary => {
                self.set_labels(spec, e);
                self.line(name, "_count", None, count(sum(0)));
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
                    let pid = match e.owner {
                        procs::SHARED_OWNER => "shared",
                        _ => pid.format(e.record.pid),
                    };
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

    fn self_metrics(&mut self, fams: &[Merged], filter: &Filter) {
        self.reused = false;
        let regions = self.regions;
        // Header words are read from the file: added up without overflowing.
        let total = |f: &dyn Fn(&Region) -> u64| {
            regions.iter().fold(0u64, |sum, r| sum.saturating_add(f(r)))
        };
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
            (
                "metricore_directory_tombstones",
                "Directory slots of removed series, free for new series.",
                total(&|r| r.counter(region::H_TOMBSTONES)),
            ),
            (
                "metricore_series_reclaimable",
                "Removed series whose cells are not yet given back for reuse.",
                total(&|r| r.counter(region::H_RETIRED_COUNT)),
            ),
            (
                "metricore_cells_free",
                "Cells per lane given back by removed series, free for new series.",
                total(&|r| r.counter(region::H_FREE_CELLS)),
            ),
        ];
        for (name, help, v) in gauges {
            if !filter.selects(name, "gauge") {
                continue;
            }
            self.enc.family(name, "gauge", help, "");
            self.line(name, "", None, Value::U(v));
        }
        let broken = regions.iter().filter(|r| r.is_broken()).count() as u64;
        if broken > 0 && filter.selects("metricore_region_broken", "gauge") {
            let name = "metricore_region_broken";
            let help = "Registry files truncated under the rendering process: until it \
                        moves to a valid file, their series are not shown and their \
                        recordings are lost.";
            self.enc.family(name, "gauge", help, "");
            self.line(name, "", None, Value::U(broken));
        }
        let counters = [
            (
                "metricore_errors",
                "Recordings refused as invalid.",
                region::H_ERRORS,
            ),
            (
                "metricore_region_faults",
                "Processes whose mapping of a registry file broke (the file was truncated) \
                 and that moved to a new file.",
                region::H_REGION_FAULTS,
            ),
            (
                "metricore_lost_recordings",
                "Counts added to a registry file after it was replaced, by handles that \
                 still held it.",
                region::H_LOST,
            ),
            (
                "metricore_processes_without_slot",
                "Processes that found the registry's process table full: their \
                 per-process gauges record into one series they share (its pid label is shared).",
                region::H_PROCS_FULL,
            ),
            (
                "metricore_exemplars_dropped",
                "Exemplars not stored: another writer was storing one in the same slot, or \
                 the registry had no space for the series' exemplars.",
                region::H_EXEMPLARS_DROPPED,
            ),
            (
                "metricore_stale_recordings",
                "Recordings dropped because they went through a handle of a series \
                 removed since the handle was made.",
                region::H_STALE,
            ),
            (
                "metricore_series_expired",
                "Series removed because they were not written for their family's idle time.",
                region::H_EXPIRED,
            ),
        ];
        for (name, help, word) in counters {
            if !filter.selects(name, "counter") {
                continue;
            }
            self.enc.family(name, "counter", help, "");
            let n = Value::U(total(&|r| r.counter(word)));
            self.line(name, "_total", None, n);
        }
        if !filter.selects("metricore_series_overflow", "counter") {
            return;
        }
        self.enc.family(
            "metricore_series_overflow",
            "counter",
            "Lookups sent to a family's overflow series (series limit reached or region full).",
            "",
        );
        for m in fams {
            let n = m.members.iter().fold(0u64, |n, &(src, idx)| {
                let entry = FamilyEntry::of(regions[src], idx);
                n.saturating_add(entry.overflowed().load(Ordering::Relaxed))
            });
            if n > 0 {
                self.labels.clear();
                self.labels.push("family", &m.spec.name);
                self.line("metricore_series_overflow", "_total", None, Value::U(n));
            }
        }
    }
}

/// The latest exemplar in slot `i` (of `n`: one for a counter, one per bucket of a
/// histogram) of a series, over the regions that have it (`run`). A slot read after
/// its series was removed is not the series' (its slots may be another's by then).
fn latest_exemplar(regions: &[&Region], run: &[Entry], n: usize, i: usize) -> Option<Exemplar> {
    run.iter().fold(None, |best, e| {
        let region = regions[e.src];
        let slot = Record::exemplars(region, e.record.at, n * exemplar::SLOT_WORDS)
            .map(|at| at + i * exemplar::SLOT_WORDS)
            .and_then(|at| exemplar::read(&region.words()[at..at + exemplar::SLOT_WORDS]))
            .filter(|_| e.record.current(region));
        exemplar::latest(best, slot)
    })
}

/// Renders a stored key's values under `names` in one pass over its bytes, the names
/// as they are with `plain` (see [`Labels::plain`]), else escaped. Returns
/// `false`, leaving `out` to be cleared, when the key is not plain: not valid UTF-8
/// (escaped NULs, a corrupt file) or not one value per name.
fn plain_labels(out: &mut Labels, names: &[String], stored: &[u8], plain: bool) -> bool {
    let Ok(text) = std::str::from_utf8(stored) else {
        return false;
    };
    let mut rest = text;
    for n in names {
        // Each value ends at its `00 01` terminator; a valid UTF-8 key has no other NUL.
        // Values are mostly short: a plain loop, not a vectorised search.
        let Some(end) = rest.bytes().position(|b| b == 0) else {
            return false;
        };
        if rest.as_bytes().get(end + 1) != Some(&1) {
            return false;
        }
        if plain {
            out.push_plain(n, &rest[..end]);
        } else {
            out.push(n, &rest[..end]);
        }
        rest = &rest[end + 2..];
    }
    rest.is_empty()
}

/// A count as a sample value: exact while it fits a `u64`, else as a float.
fn count(n: u128) -> Value {
    u64::try_from(n).map_or(Value::F(n as f64), Value::U)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::region::{tests::tempdir, Options, Region};
    use crate::sync::Ordering;
    use crate::word::LaneOwner;
    use crate::{Format, Registry};

    fn total(r: &Registry) -> Option<u64> {
        let text = r.render(Format::Prometheus);
        text.lines()
            .find_map(|l| l.strip_prefix("c_total ")?.parse().ok())
    }

    /// A writer killed between its add and its mark is made here: a real process
    /// (`sleep`) is given a lane and the add is stored for it, unmarked; then it is
    /// killed. Whenever the kill comes, the rule it relies on is the same: while the
    /// holder runs its unmarked line is not read; once it is gone its lane is read
    /// whole, and the claim that takes the lane back marks the line first.
    #[test]
    fn a_lane_whose_holder_died_between_an_add_and_its_mark_is_read_whole() {
        let dir = tempdir();
        let path = dir.join("reg");
        let options = Options {
            shards: Some(4),
            cells_per_shard: 1024,
            series_capacity: 64,
            family_capacity: 16,
            process_capacity: 8,
            arena_bytes: 1 << 16,
            ..Options::default()
        };
        let r = Registry::open_shared(&path, &options).unwrap();
        let c = r.counter("c", "").unwrap();
        let g = Region::open_shared(&path, &options).unwrap();
        let mut cell = None;
        crate::directory::for_each(&g, |rec| cell = Some(rec.cell));
        let cell = cell.unwrap();

        let mut child = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        let started = crate::procstat::Stat::of(child.id())
            .and_then(|s| s.start_time())
            .unwrap();
        let writer = LaneOwner::new(child.id(), started);
        let alive = |o: LaneOwner| crate::procs::alive(o.pid(), o.started());
        let lane = g.claim_lane(writer, alive) as usize;
        g.cell(lane, cell).fetch_add(5, Ordering::Relaxed);
        assert!(!g.is_written(lane, cell));
        assert_eq!(total(&r), Some(0), "an unmarked line of a running holder");

        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            total(&r),
            Some(5),
            "the lane of a dead holder is read whole"
        );

        assert_eq!(g.claim_lane(crate::lanes::me(), alive) as usize, lane);
        assert!(g.is_written(lane, cell), "marked before it was taken back");
        assert_eq!(total(&r), Some(5));
        c.inc();
        assert_eq!(total(&r), Some(6));
        let _ = std::fs::remove_dir_all(dir);
    }
}

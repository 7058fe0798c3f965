//! Series resolution: from a registered family and label values to the cells of one
//! series. A lookup finds the series in the directory or makes it there, counting it
//! in the family's live series; past the family's limit, or when the region is full,
//! it gets the family's overflow series instead. Counters' float cells, made on first
//! use, are reached through here too.

use std::cell::Cell;
use std::sync::{Arc, OnceLock, RwLock};

use crate::cells::Cells;
use crate::directory::{self, Checks, Ident, Record, Refused, Series, NO_OWNER, OVERFLOW};
use crate::error::{Error, Result};
use crate::exemplar::{self, Encoded};
use crate::family::{self, Entry};
use crate::hits;
use crate::key;
use crate::names::check_label_name;
use crate::procs::{self, Attachment, Owner};
use crate::region::{self, Region};
use crate::spec::{Kind, Spec};
use crate::sync::{AtomicU64, Ordering};

/// Where a registry's families live now: its current attachment, and a generation that
/// goes up each time the registry moves to another file. Families compare the
/// generation on every lookup and move after their registry.
pub(crate) struct Home {
    generation: AtomicU64,
    current: RwLock<Arc<Attachment>>,
}

impl Home {
    /// A home at `attachment`, generation 0.
    pub fn new(attachment: Arc<Attachment>) -> Home {
        Home {
            generation: AtomicU64::new(0),
            current: RwLock::new(attachment),
        }
    }

    /// The current attachment and its generation.
    pub fn current(&self) -> (Arc<Attachment>, u64) {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        (current.clone(), self.generation())
    }

    /// Makes `attachment` current; families follow on their next lookup.
    #[cfg_attr(loom, allow(dead_code))]
    pub fn set(&self, attachment: Arc<Attachment>) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        *current = attachment;
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// How many times the home moved.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

thread_local! {
    /// The clock [`with_clock`] gave the thread, if any.
    static CLOCK: Cell<Option<fn() -> f64>> = const { Cell::new(None) };
}

/// Runs `f`, stamping the series this thread makes during it (and the counters it
/// resets) with the time `clock` gives, in seconds since the Unix epoch, instead of
/// the system's: for a binding whose host language keeps its own clock.
pub fn with_clock<R>(clock: fn() -> f64, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<fn() -> f64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CLOCK.set(self.0);
        }
    }
    let _restore = Restore(CLOCK.replace(Some(clock)));
    f()
}

/// The time a series is made or reset: the thread's clock's (see [`with_clock`]), else
/// the system's, in seconds since the Unix epoch, to the microsecond (which renders
/// write without a search for the shortest digits).
pub(crate) fn now() -> f64 {
    let micros = match CLOCK.get() {
        Some(clock) => (clock() * 1e6).round(),
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_micros() as f64),
    };
    micros / 1e6
}

/// What every handle of one family shares.
struct FamilyInner {
    attachment: Arc<Attachment>,
    idx: u32,
    /// This object's number in the process, for the threads' recent hits (`hits`).
    id: u64,
    spec: Spec,
    /// The scope's label values, before the family's own.
    consts: Vec<String>,
    owner: Owner,
    cells: usize,
    bounds: Arc<[f64]>,
    states: Arc<[String]>,
    /// The registry's home and its generation when this family was registered there.
    home: Option<(Arc<Home>, u64)>,
    /// The same family in the file the registry moved to.
    next: OnceLock<Family>,
}

/// A registered family of any kind; the typed families
/// ([`CounterVec`](crate::CounterVec), ...) wrap it.
#[derive(Clone)]
pub struct Family(Arc<FamilyInner>);

/// A series resolved for recording, borrowed from its family.
pub(crate) struct Resolved<'a> {
    /// The region of its family.
    region: &'a Arc<Region>,
    /// Its first cell; 0 for the sink.
    pub first: u32,
    /// Its number of cells.
    n: usize,
    /// Its float cell, for counters.
    pub float: FloatCell,
    /// Its guard word (absolute index) and what that holds while the series lives.
    guard: (usize, u64),
}

impl<'a> Resolved<'a> {
    /// Its cells, keeping the region mapped.
    #[inline]
    pub fn cells(&self) -> Cells {
        Cells::new(
            self.region.clone(),
            self.first,
            self.n,
            self.guard.0,
            self.guard.1,
        )
    }

    /// Its cells, borrowing the region from the family.
    #[inline]
    pub fn borrowed_cells(&self) -> Cells<&'a Arc<Region>> {
        Cells::new(self.region, self.first, self.n, self.guard.0, self.guard.1)
    }
}

/// A counter series' float cell, for fractional increments: made on first use and
/// kept in the series' directory record.
#[derive(Clone, Copy)]
pub(crate) struct FloatCell {
    /// Absolute word index of the series record; 0 for the sink.
    record: usize,
}

impl FloatCell {
    /// Whether the series is the sink, which has no record.
    #[inline]
    pub fn is_sink(self) -> bool {
        self.record == 0
    }

    /// The float cell, if it was made.
    #[inline]
    pub fn get(self, region: &Region) -> Option<u32> {
        Record::float_cell(region, self.record)
    }

    /// The float cell, made now if it was not; `None` when the region has no cell left.
    pub fn get_or_make(self, region: &Region) -> Option<u32> {
        if let Some(c) = self.get(region) {
            return Some(c);
        }
        let new = region.alloc_cells(1)?;
        Record::set_float_cell(region, self.record, new)
    }

    /// Stamps the series' record with the time now as its creation time (a reset).
    pub fn restamp(self, region: &Region) {
        if !self.is_sink() {
            Record::set_created(region, self.record, now());
        }
    }
}

impl FloatCell {
    /// The series' exemplar slots, `n` of them (one per counter, one per bucket of a
    /// histogram).
    #[inline]
    pub fn exemplar_slots(self, n: usize) -> ExemplarSlots {
        ExemplarSlots {
            record: self.record,
            n,
        }
    }
}

/// Gives family `family` (read from a record: checked) back `words` arena words.
fn refund(region: &Region, family: u32, words: u64) {
    if (family as usize) < region.layout.families {
        Entry::of(region, family).refund_arena(words);
    }
}

/// A series' exemplar slots: made on its first exemplar (arena words, charged to its
/// family's share) and kept in its directory record.
#[derive(Clone, Copy)]
pub(crate) struct ExemplarSlots {
    /// Absolute word index of the series record; 0 for the sink.
    record: usize,
    /// Number of slots.
    n: usize,
}

impl ExemplarSlots {
    /// Stores an exemplar in slot `i`; counts it as dropped when the slot is being
    /// written by another, or the slots cannot be made.
    pub fn write(self, region: &Region, i: usize, labels: &Encoded, value: f64) {
        let at = match self.get_or_make(region) {
            Some(at) if i < self.n => at + i * exemplar::SLOT_WORDS,
            _ => return region.count(region::H_EXEMPLARS_DROPPED),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let slot = &region.words()[at..at + exemplar::SLOT_WORDS];
        if !exemplar::write(slot, labels, value, now, std::process::id(), procs::gone) {
            region.count(region::H_EXEMPLARS_DROPPED);
        }
    }

    /// The slots' first word, made now if they were not.
    fn get_or_make(self, region: &Region) -> Option<usize> {
        if self.record == 0 {
            return None;
        }
        let words = self.n * exemplar::SLOT_WORDS;
        if let Some(at) = Record::exemplars(region, self.record, words) {
            return Some(at);
        }
        self.make(region, words)
    }

    /// Makes the slots, from those of a reclaimed series with as many if there are
    /// some (zeroed here), else from fresh arena words.
    #[cold]
    #[inline(never)]
    fn make(self, region: &Region, words: usize) -> Option<usize> {
        let family = Record::family_of(region, self.record);
        if family as usize >= region.layout.families
            || !Entry::of(region, family).charge_arena(words as u64)
        {
            return None;
        }
        let span = |off| region.arena_span(off, words as u64);
        let reused = region.take_exemplars(self.n, |off| span(off).map(|at| region.word(at)));
        let off = match reused.and_then(|off| Some((off, span(off)?))) {
            Some((off, at)) => {
                for w in &region.words()[at..at + words] {
                    w.store(0, Ordering::Relaxed);
                }
                Some(off)
            }
            None => region.alloc_arena(words),
        };
        let Some(off) = off else {
            refund(region, family, words as u64);
            return None;
        };
        if !Record::set_exemplars(region, self.record, off, words) {
            // Another thread gave the series its slots first: these go back.
            if let Some(at) = span(off) {
                region.free_exemplars(self.n, off, region.word(at));
            }
            refund(region, family, words as u64);
        }
        Record::exemplars(region, self.record, words)
    }
}

impl Family {
    /// Finds or creates the family `spec` in the attachment's region, for a scope
    /// with the constant labels `consts`. With a `home` (and the generation the
    /// attachment is of), the family follows the home when it moves.
    pub(crate) fn register(
        attachment: &Arc<Attachment>,
        home: Option<(&Arc<Home>, u64)>,
        consts: &[(String, String)],
        mut spec: Spec,
    ) -> Result<Family> {
        let home = home.map(|(h, generation)| (h.clone(), generation));
        let mut labels: Vec<String> = consts.iter().map(|(n, _)| n.clone()).collect();
        labels.append(&mut spec.labels);
        spec.labels = labels;
        if let Kind::Histogram(b) = &mut spec.kind {
            if b.last() == Some(&f64::INFINITY) {
                b.pop();
            }
        }
        let spec = spec.normalize()?;
        if spec.expire_ms != 0 && consts.len() == spec.labels.len() {
            return Err(Error::InvalidExpiry {
                metric: spec.name,
                reason: "a family without labels of its own has one series, kept by its handle"
                    .to_owned(),
            });
        }
        let region = &attachment.region;
        check_lengths(region, &spec.name, consts.iter().map(|(_, v)| v.as_str()))?;
        let idx = family::register(region, &spec)?;
        let stored = family::read(region, idx).unwrap_or(spec);
        let owner = match attachment.owner {
            Some(owner) if per_process(&stored.kind) => owner,
            _ => Owner {
                id: NO_OWNER,
                pid: 0,
            },
        };
        let family = Family(Arc::new(FamilyInner {
            bounds: match &stored.kind {
                Kind::Histogram(b) => b.as_slice().into(),
                Kind::NativeHistogram(n) => n.classic.as_slice().into(),
                _ => Arc::new([]),
            },
            states: match &stored.kind {
                Kind::StateSet(s) => s.as_slice().into(),
                _ => Arc::new([]),
            },
            cells: stored.kind.cells(),
            spec: stored,
            attachment: attachment.clone(),
            idx,
            id: hits::new_id(),
            consts: consts.iter().map(|(_, v)| v.clone()).collect(),
            owner,
            home,
            next: OnceLock::new(),
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

    /// This family where its registry is now: itself, or the same family registered
    /// again in the file the registry moved to. One atomic load when nothing moved.
    #[inline]
    fn latest(&self) -> &Family {
        let mut f = self;
        loop {
            if let Some(next) = f.0.next.get() {
                f = next;
                continue;
            }
            match &f.0.home {
                Some((home, generation)) if home.generation() != *generation => {
                    match f.follow(home) {
                        Some(next) => f = next,
                        None => return f,
                    }
                }
                _ => return f,
            }
        }
    }

    /// Registers this family again at the home's current attachment, as its successor.
    #[cold]
    fn follow(&self, home: &Arc<Home>) -> Option<&Family> {
        let n = self.0.consts.len();
        let consts: Vec<(String, String)> = self.0.spec.labels[..n]
            .iter()
            .cloned()
            .zip(self.0.consts.iter().cloned())
            .collect();
        let mut spec = self.0.spec.clone();
        spec.labels.drain(..n);
        let (attachment, generation) = home.current();
        let moved = Family::register(&attachment, Some((home, generation)), &consts, spec).ok()?;
        Some(self.0.next.get_or_init(|| moved))
    }

    /// The family's definition as registered (scope labels included).
    pub fn spec(&self) -> &Spec {
        &self.0.spec
    }

    /// Refuses (and counts in the region's errors) `got` label values where the
    /// family takes another number, as recording with them would; for a binding that
    /// checks a call before it has the values as strings.
    pub fn check_label_count(&self, got: usize) -> Result<()> {
        self.check_count(got)
    }

    /// The histogram bucket bounds, a native histogram's classic ones (empty for other
    /// kinds).
    pub(crate) fn bounds(&self) -> Arc<[f64]> {
        self.0.bounds.clone()
    }

    /// The state set's states (empty for other kinds).
    pub(crate) fn states(&self) -> Arc<[String]> {
        self.0.states.clone()
    }

    fn region(&self) -> &Arc<Region> {
        &self.0.attachment.region
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

    /// All label values of a series: the scope's, then `values`.
    #[inline]
    fn label_values<'a>(
        &'a self,
        values: &'a [&'a str],
    ) -> impl Iterator<Item = &'a str> + Clone + 'a {
        self.0
            .consts
            .iter()
            .map(String::as_str)
            .chain(values.iter().copied())
    }

    /// The series `s`, or the sink if its record's cells lie outside a shard (a corrupt
    /// file).
    #[inline]
    fn resolved(&self, s: Series) -> Resolved<'_> {
        if !self.region().cells_inside(s.cell, self.0.cells) {
            return self.sink();
        }
        // Removed since it was found: as if removed right after.
        let Some(guard) = directory::guard(self.region(), s) else {
            return self.sink();
        };
        Resolved {
            region: self.region(),
            first: s.cell,
            n: self.0.cells,
            float: FloatCell { record: s.record },
            guard,
        }
    }

    /// Finds or makes the series for `values` (after the scope's values).
    #[inline(always)]
    pub(crate) fn resolve(&self, values: &[&str]) -> Result<Resolved<'_>> {
        if !std::ptr::eq(self.latest(), self) {
            return self.resolve_moved(values);
        }
        match self.remembered(values) {
            Some(r) => Ok(r),
            None => self.resolve_found(values),
        }
    }

    /// The series this thread's last lookup of `values` in this family found, if that
    /// lookup is remembered (`hits`) and its place unchanged. Such values passed the
    /// count and length checks then, and the series' cells were found inside a lane.
    #[inline(always)]
    fn remembered(&self, values: &[&str]) -> Option<Resolved<'_>> {
        if !self.0.consts.is_empty() {
            return None;
        }
        let place = hits::get(self.0.id, values)?;
        place.unchanged(self.region()).then_some(Resolved {
            region: self.region(),
            first: place.series.cell,
            n: self.0.cells,
            float: FloatCell {
                record: place.series.record,
            },
            guard: place.guard(),
        })
    }

    /// `resolve` in the family's latest registration, for a family registered again
    /// since (its home region replaced).
    #[cold]
    #[inline(never)]
    fn resolve_moved(&self, values: &[&str]) -> Result<Resolved<'_>> {
        self.latest().resolve(values)
    }

    /// `resolve` without the thread's remembered lookups, in a family that is its own
    /// latest registration: checks the values, then finds or makes their series.
    #[inline(never)]
    fn resolve_found(&self, values: &[&str]) -> Result<Resolved<'_>> {
        self.check_count(values.len())?;
        let all = values.iter().copied();
        if !self.0.consts.is_empty() {
            check_lengths(self.region(), &self.0.spec.name, all)?;
            return Ok(self.resolve_all(self.label_values(values)));
        }
        // The lengths are checked in the hash's pass over the values.
        let (hash, longest) = key::hash_longest(self.0.idx, all.clone());
        if longest > self.region().max_label_value {
            check_lengths(self.region(), &self.0.spec.name, all)?;
        }
        Ok(self.resolve_remembered(hash, values))
    }

    /// `resolve_all` for a family without scope values, whose values hash to `hash`,
    /// remembering what it found for this thread's next lookup.
    #[inline]
    fn resolve_remembered(&self, hash: u64, values: &[&str]) -> Resolved<'_> {
        let all = values.iter().copied();
        let ident = self.ident(0);
        match directory::find_placed(self.region(), hash, ident, all.clone()) {
            Some(place) => {
                if !self.region().cells_inside(place.series.cell, self.0.cells) {
                    return self.sink();
                }
                hits::put(self.0.id, values, place);
                Resolved {
                    region: self.region(),
                    first: place.series.cell,
                    n: self.0.cells,
                    float: FloatCell {
                        record: place.series.record,
                    },
                    guard: place.guard(),
                }
            }
            None => self.insert(hash, ident, all),
        }
    }

    #[inline]
    fn resolve_all<'a>(&self, values: impl Iterator<Item = &'a str> + Clone) -> Resolved<'_> {
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
    ) -> Resolved<'_> {
        let region = self.region();
        let live = Entry::of(region, self.0.idx).live();
        let limit = self.0.spec.limit as u64;
        let at_limit = || live.load(Ordering::Acquire) >= limit;
        let checks = Checks {
            at_limit,
            charge: |words| Entry::of(region, self.0.idx).charge_arena(words),
            refund: |family, words| refund(region, family, words),
            gone: procs::gone,
        };
        let (cells, maker) = (self.0.cells, (std::process::id(), now()));
        match directory::insert(region, hash, ident, values, cells, maker, checks) {
            Ok(done) => {
                if done.made {
                    // Release: whoever sees the count sees the slot filled.
                    live.fetch_add(1, Ordering::Release);
                }
                self.resolved(done.series)
            }
            Err(Refused::Limit | Refused::Full) => self.overflow(),
        }
    }

    /// The overflow series, where label sets past the limit (or past a full region) go.
    fn overflow(&self) -> Resolved<'_> {
        let region = self.region();
        region.count(region::H_OVERFLOWS);
        Entry::of(region, self.0.idx)
            .overflowed()
            .fetch_add(1, Ordering::Relaxed);
        match self.overflow_series() {
            Some(s) => self.resolved(s),
            None => self.sink(),
        }
    }

    /// Cells that record but are never rendered.
    fn sink(&self) -> Resolved<'_> {
        Resolved {
            region: self.region(),
            first: 0,
            n: 0,
            float: FloatCell { record: 0 },
            guard: (0, 0),
        }
    }

    /// Finds or makes the overflow series. It is not counted in the family's live
    /// series, and no limit keeps it out.
    fn overflow_series(&self) -> Option<Series> {
        let ident = self.ident(OVERFLOW);
        let none = std::iter::empty::<&str>();
        let hash = key::hash(self.0.idx, none.clone()) ^ 0x6f76_6572_666c_6f77;
        let checks = Checks {
            at_limit: || false,
            charge: |_| true,
            refund: |family, words| refund(self.region(), family, words),
            gone: procs::gone,
        };
        let (cells, maker) = (self.0.cells, (std::process::id(), now()));
        directory::insert(self.region(), hash, ident, none, cells, maker, checks)
            .ok()
            .map(|done| done.series)
    }

    /// Removes the series for `values`.
    pub(crate) fn remove(&self, values: &[&str]) -> Result<bool> {
        let this = self.latest();
        if !std::ptr::eq(this, self) {
            return this.remove(values);
        }
        self.check_count(values.len())?;
        let all = self.label_values(values);
        let hash = key::hash(self.0.idx, all.clone());
        let region = self.region();
        let removed = directory::remove(region, hash, self.ident(0), all, self.0.cells);
        if removed {
            region::saturating_sub(Entry::of(region, self.0.idx).live(), 1);
        }
        Ok(removed)
    }

    /// Removes every series of this family that this scope can see (the overflow
    /// series too, when the scope sees the whole family, then makes it anew).
    pub(crate) fn clear(&self) {
        let this = self.latest();
        if !std::ptr::eq(this, self) {
            return this.clear();
        }
        if !self.0.consts.is_empty() {
            self.remove_prefixed(self.0.consts.iter().map(String::as_str));
            return;
        }
        retain(self.region(), self.0.idx, self.0.cells, |_| false);
        if !self.0.spec.labels.is_empty() {
            self.overflow_series();
        }
    }

    /// Removes the series whose label values start with `prefix`, not the overflow
    /// series; returns how many.
    fn remove_prefixed<'a>(&self, prefix: impl Iterator<Item = &'a str>) -> u64 {
        let mut p = Vec::new();
        key::encode(prefix, &mut p);
        let region = self.region();
        retain(region, self.0.idx, self.0.cells, |rec| {
            rec.ident.is_overflow() || !rec.with_key(region, |k| k.starts_with(&p))
        })
    }

    /// Removes every series (not the overflow series) whose label `name` has `value`
    /// for each of the `labels` pairs; returns how many. A name the family does not
    /// have is refused; no pairs remove nothing.
    pub(crate) fn remove_matching(&self, labels: &[(&str, &str)]) -> Result<u64> {
        let this = self.latest();
        if !std::ptr::eq(this, self) {
            return this.remove_matching(labels);
        }
        if labels.is_empty() {
            return Ok(0);
        }
        let spec = &self.0.spec;
        let mut want: Vec<(usize, &str)> = self
            .0
            .consts
            .iter()
            .map(String::as_str)
            .enumerate()
            .collect();
        for (name, value) in labels {
            let at = spec
                .labels
                .iter()
                .position(|l| l == name)
                .filter(|at| *at >= self.0.consts.len())
                .ok_or_else(|| Error::UnknownLabel {
                    metric: spec.name.clone(),
                    label: (*name).to_owned(),
                })?;
            want.push((at, value));
        }
        let region = self.region();
        Ok(retain(region, self.0.idx, self.0.cells, |rec| {
            rec.ident.is_overflow()
                || !rec.with_key(region, |k| {
                    let values: Vec<_> = key::values(k).collect();
                    want.iter()
                        .all(|(at, v)| values.get(*at).is_some_and(|x| x == v))
                })
        }))
    }

    /// Removes the info series `values`; `false` if it had none.
    pub(crate) fn remove_info(&self, values: &[&str]) -> Result<bool> {
        let this = self.latest();
        if !std::ptr::eq(this, self) {
            return this.remove_info(values);
        }
        self.check_count(values.len())?;
        Ok(self.remove_prefixed(self.label_values(values)) > 0)
    }

    /// Replaces the info of series `values` with `pairs`.
    pub(crate) fn set_info(&self, values: &[&str], pairs: &[(&str, &str)]) -> Result<()> {
        let this = self.latest();
        if !std::ptr::eq(this, self) {
            return this.set_info(values, pairs);
        }
        self.check_count(values.len())?;
        let all = values.iter().chain(pairs.iter().map(|(_, v)| v));
        check_lengths(self.region(), &self.0.spec.name, all.copied())?;
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
        let fixed = self.label_values(values);
        self.resolve_all(fixed.chain(pairs.iter().flat_map(|(n, v)| [*n, *v])));
        Ok(())
    }
}

/// Whether `kind` is a per-process gauge. Out of line: inlined, the mode of a kind
/// that is no gauge (not written) was read and branched on before the kind, which
/// memcheck reports.
#[inline(never)]
fn per_process(kind: &Kind) -> bool {
    match kind {
        Kind::Gauge(m) => m.per_process(),
        _ => false,
    }
}

/// Refuses (and counts) a label value of `metric` longer than the region's limit.
#[inline]
fn check_lengths<'a>(
    region: &Region,
    metric: &str,
    mut values: impl Iterator<Item = &'a str>,
) -> Result<()> {
    let max = region.max_label_value;
    match values.find(|v| v.len() > max) {
        None => Ok(()),
        Some(v) => {
            region.count(region::H_ERRORS);
            Err(Error::LabelValueTooLong {
                metric: metric.to_string(),
                len: v.len(),
                max,
            })
        }
    }
}

/// Removes every series of family `idx` for which `keep` is false, and takes them off
/// the family's live count; returns how many, overflow series not counted.
pub(crate) fn retain(
    region: &Region,
    idx: u32,
    cells: usize,
    keep: impl FnMut(&Record) -> bool,
) -> u64 {
    let removed = directory::retain(region, idx, cells, keep);
    if removed > 0 {
        region::saturating_sub(Entry::of(region, idx).live(), removed);
    }
    removed
}

/// Removes the series that exited processes left in per-process gauge families (every
/// mode): they would otherwise take room from the family's series limit forever.
pub(crate) fn sweep_dead(region: &Region) {
    let slots = procs::slots(region);
    for idx in 0..region.layout.families as u32 {
        if let Some(Spec {
            kind: kind @ Kind::Gauge(m),
            ..
        }) = family::read(region, idx)
        {
            if m.per_process() {
                retain(region, idx, kind.cells(), |rec| {
                    procs::owner_alive(&slots, rec.ident.owner)
                });
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::region::Options;

    fn attachment() -> Arc<Attachment> {
        let region = Region::anonymous(&Options {
            shards: Some(2),
            cells_per_shard: 1024,
            series_capacity: 64,
            family_capacity: 8,
            process_capacity: 4,
            arena_bytes: 1 << 14,
            ..Options::default()
        })
        .unwrap();
        Arc::new(Attachment::new(region))
    }

    #[test]
    fn counts_left_low_by_a_killed_process_never_wrap() {
        let a = attachment();
        let spec = Spec::new("m", "", Kind::Counter).labels(&["k"]);
        let f = Family::register(&a, None, &[], spec).unwrap();
        for k in ["a", "b", "c"] {
            f.resolve(&[k]).unwrap();
        }
        let live = Entry::of(&a.region, f.0.idx).live();
        let header = a.region.word(region::H_SERIES_LIVE);
        assert_eq!(
            (live.load(Ordering::Relaxed), header.load(Ordering::Relaxed)),
            (3, 3)
        );
        // A process killed between publishing a series and counting it leaves both
        // counts one low; a hostile write can leave them anywhere.
        live.store(2, Ordering::Relaxed);
        header.store(1, Ordering::Relaxed);
        assert!(f.remove(&["a"]).unwrap());
        f.clear();
        assert_eq!(live.load(Ordering::Relaxed), 0);
        assert_eq!(header.load(Ordering::Relaxed), 0);
        f.resolve(&["d"]).unwrap();
        assert_eq!(live.load(Ordering::Relaxed), 1);
        live.store(0, Ordering::Relaxed);
        assert!(f.remove(&["d"]).unwrap());
        assert_eq!(live.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn records_with_cells_outside_a_shard_record_into_the_sink() {
        let a = attachment();
        let f = Family::register(&a, None, &[], Spec::new("m", "", Kind::Counter)).unwrap();
        let hash = key::hash(f.0.idx, std::iter::empty());
        let s = directory::find(&a.region, hash, f.ident(0), std::iter::empty()).unwrap();
        // Record word 3: the first cell (low half), here past the shard.
        a.region.word(s.record + 3).store(5000, Ordering::Relaxed);
        let r = f.resolve(&[]).unwrap();
        assert_eq!(r.first, 0);
        assert!(r.float.is_sink());
    }

    #[test]
    fn info_series_made_when_the_cells_are_used_up_do_not_point_past_them() {
        let region = Region::anonymous(&Options {
            shards: Some(1),
            cells_per_shard: 257,
            series_capacity: 16,
            family_capacity: 4,
            process_capacity: 2,
            arena_bytes: 1 << 12,
            ..Options::default()
        })
        .unwrap();
        let a = Arc::new(Attachment::new(region));
        // The one cell past the sink.
        Family::register(&a, None, &[], Spec::new("c", "", Kind::Counter)).unwrap();
        let info = Family::register(&a, None, &[], Spec::new("i", "", Kind::Info).labels(&["v"]));
        info.unwrap().set_info(&["1"], &[("k", "x")]).unwrap();
    }
}

/// Loom model of exemplar slots reused: an exemplar written through a handle held
/// across its series' removal never shows in the series that takes its slot.
#[cfg(all(test, loom))]
mod loom_model {
    use super::*;
    use crate::directory;
    use crate::directory::loom_model::{make, region, HX, HZ, X};
    use crate::exemplar::{Encoded, SLOT_WORDS};

    /// Writes an exemplar with the trace id `id` in the slot of the series at `record`.
    fn write(r: &Region, record: usize, id: &str) {
        let labels = [("trace_id", id)];
        let e = Encoded::new(&labels).unwrap();
        FloatCell { record }.exemplar_slots(1).write(r, 0, &e, 1.0);
    }

    #[test]
    fn an_exemplar_through_a_handle_held_across_removal_stays_out_of_the_series_that_reuses_its_slot(
    ) {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.check(|| {
            // An arena whose family share (a quarter) holds one slot.
            let r = region(4096);
            let z = make(&r, HZ, "z");
            write(&r, z.record, "a");
            let z_slot = Record::exemplars(&r, z.record, SLOT_WORDS);
            let (g, gen) = directory::guard(&r, z).unwrap();
            let held = crate::cells::Cells::new(r.clone(), z.cell, 1, g, gen);
            let r2 = r.clone();
            let t = loom::thread::spawn(move || {
                if let Some(_entered) = held.enter_again() {
                    write(&r2, z.record, "b");
                }
            });
            assert!(directory::remove(&r, HZ, X, ["z"].into_iter(), 1));
            let refund = |f, w| refund(&r, f, w);
            let reused = (directory::reclaim(&r, &refund) > 0).then(|| make(&r, HX, "x"));
            let x_slot = reused.map(|x| {
                FloatCell { record: x.record }
                    .exemplar_slots(1)
                    .get_or_make(&r)
            });
            t.join().unwrap();
            if let Some(at) = x_slot {
                assert_eq!(at, z_slot, "the freed slot went to the new series");
                let at = at.unwrap();
                assert!(
                    exemplar::read(&r.words()[at..at + SLOT_WORDS]).is_none(),
                    "nothing of the old series in it"
                );
            }
        });
    }
}

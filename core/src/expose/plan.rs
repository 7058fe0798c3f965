//! The exposition plan: which families and series an exposition of some regions
//! holds, and in which order. Families are sorted by name, series by label values (as
//! tuples), then by region and owner. Families of one name in several regions merge.

use super::filter::Filter;
use crate::directory::{self, Record};
use crate::family::{self, Entry as FamilyEntry};
use crate::key;
use crate::region::{self, Region};
use crate::spec::Spec;
use crate::sync::Ordering;

/// One series found in a directory, with what sorting needs.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// The index of its family in [`Plan::fams`].
    pub rank: u32,
    /// Whether it is the family's overflow series.
    pub overflow: bool,
    /// The first bytes of its key, see [`key::prefix`].
    pub prefix: u128,
    /// Which of the rendered regions holds the series.
    pub src: usize,
    /// Its owner.
    pub owner: u64,
    /// Its record.
    pub record: Record,
}

impl Entry {
    /// Whether `self` and `other` are one series (of several regions or owners).
    pub fn same_series(&self, other: &Entry, regions: &[&Region]) -> bool {
        let (a, b) = (self, other);
        a.rank == b.rank
            && a.overflow == b.overflow
            && a.prefix == b.prefix
            && a.record.with_key(regions[a.src], |ka| {
                b.record.with_key(regions[b.src], |kb| ka == kb)
            })
    }
}

/// One family of the exposition: its definition and, per region, its index there.
pub(crate) struct Merged {
    /// The definition, from the first region that has the family.
    pub spec: Spec,
    /// Per region that has it: the region's index and the family's index there.
    pub members: Vec<(usize, u32)>,
}

/// Whether two regions' families of one name can be rendered as one.
fn same_definition(a: &Spec, b: &Spec) -> bool {
    a.kind == b.kind && a.labels == b.labels && a.unit == b.unit
}

/// What an exposition of some regions holds, in output order: the merged families
/// and their series. It depends only on which families and series exist, so it can be
/// kept while [`state`] of every region stays the same.
pub(crate) struct Plan {
    /// The families, sorted by name.
    pub fams: Vec<Merged>,
    /// The series, by family, then label values, then region and owner.
    pub entries: Vec<Entry>,
}

/// A region's words that change whenever a family or series is made or removed or an
/// overflow series is first used: arena use, records reused, live series, overflow
/// count.
pub(crate) fn state(region: &Region) -> [u64; 4] {
    [
        region.arena_use().0,
        region.reused(),
        region.counter(region::H_SERIES_LIVE),
        region.counter(region::H_OVERFLOWS),
    ]
}

impl Plan {
    /// Gathers and orders the families and series of `regions`.
    ///
    /// Families of the same name in several regions are one family, with the help of the
    /// first region that has it; where another region defines the name differently (kind,
    /// labels or unit), its family is left out. A series found in several regions is
    /// reported once, its values added up (a state set takes the first region's state).
    /// Families `filter` does not select are left out, and their series not read.
    pub fn new(regions: &[&Region], filter: &Filter) -> Plan {
        let mut all: Vec<(usize, u32, Spec)> = Vec::new();
        for (src, region) in regions.iter().enumerate() {
            all.extend(
                (0..region.layout.families as u32)
                    .filter_map(|idx| Some((src, idx, family::read(region, idx)?)))
                    .filter(|(_, _, spec)| filter.selects(&spec.name, spec.kind.type_name())),
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
        if fams.is_empty() {
            return Plan {
                fams,
                entries: Vec::new(),
            };
        }
        // The live count is a hint from the file, bounded by the directory's size.
        let mut entries = Vec::with_capacity(
            regions
                .iter()
                .map(|r| (r.counter(region::H_SERIES_LIVE) as usize).min(r.layout.series))
                .sum(),
        );
        for (src, region) in regions.iter().enumerate() {
            let rank = &rank[src];
            directory::for_each(region, |record| {
                let Some(&r) = rank.get(record.ident.family as usize) else {
                    return;
                };
                if r == u32::MAX
                    || record.cell as u64 + fams[r as usize].spec.kind.cells() as u64
                        > region.cell_use().0
                {
                    return;
                }
                let overflow = record.ident.is_overflow();
                // The overflow series exists from the start; it shows once it was used.
                let overflowed = || {
                    let entry = FamilyEntry::of(region, record.ident.family);
                    entry.overflowed().load(Ordering::Relaxed) > 0
                };
                if overflow && !overflowed() {
                    return;
                }
                let prefix = record.with_key(region, key::prefix);
                // Removed, and perhaps its record reused, while it was read.
                if !record.current(region) {
                    return;
                }
                entries.push(Entry {
                    rank: r,
                    overflow,
                    prefix,
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
}

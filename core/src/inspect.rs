//! Inspection of a region: occupancy ([`Stats`]) and an integrity check of every
//! series record, for `Registry::stats`, `Registry::check` and `metricore inspect`.

use crate::directory::{self, Record};
use crate::exemplar;
use crate::family::{self, Entry};
use crate::key;
use crate::procs;
use crate::region::{self, Region};
use crate::spec::Kind;
use crate::sync::Ordering;

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
    /// Lanes the region can hold (cell slabs, one per recording thread).
    pub shards: usize,
    /// Lanes in use: claimed by a thread once, so they have memory and are read.
    pub lanes_in_use: usize,
    /// Live series.
    pub series: u64,
    /// Series the directory can hold.
    pub series_capacity: usize,
    /// Directory slots of removed series, free for new ones.
    pub tombstones: u64,
    /// Directory slots a lookup probes at most from a series' home slot.
    pub probes: usize,
    /// Cells per lane in use and in all.
    pub cells: (u64, u64),
    /// Cells per lane of the cells in use that removed series gave back, free for new
    /// series.
    pub cells_free: u64,
    /// Removed series whose cells are not yet given back (reclaimed once no handle can
    /// still write to them).
    pub reclaimable: u64,
    /// Recordings dropped because their handle's series had been removed.
    pub stale_recordings: u64,
    /// Series removed because they were not written for their family's idle time.
    pub expired: u64,
    /// Arena bytes handed out (free records of removed series included) and in all.
    pub arena_bytes: (u64, u64),
    /// Records of removed series that new series took instead of arena words.
    pub records_reused: u64,
    /// Region bytes in use and in all.
    pub region_bytes: (u64, u64),
    /// Lookups sent to an overflow series.
    pub overflows: u64,
    /// Refused recordings (bad increments, wrong label counts, ...).
    pub errors: u64,
    /// Reservations of file space the filesystem refused (it was full): each one a
    /// series or family that could not be made.
    pub no_space: u64,
    /// Processes that found the process table full (their per-process gauges went to
    /// the shared series).
    pub process_table_full: u64,
    /// Per family, sorted by name.
    pub families: Vec<FamilyStats>,
    /// Attached processes: pid and whether it is still running.
    pub processes: Vec<(u32, bool)>,
}

/// The integer cells (counts, not sums) of every counter, histogram and summary series
/// of `region`, to measure later what was added to them.
#[cfg(not(loom))]
pub(crate) fn integer_cells(region: &Region) -> Vec<u32> {
    let mut counts: std::collections::HashMap<u32, usize> = Default::default();
    let mut cells = Vec::new();
    directory::for_each(region, |rec| {
        let n = *counts.entry(rec.ident.family).or_insert_with(|| {
            match family::read(region, rec.ident.family) {
                Some(spec) => match spec.kind {
                    Kind::Counter | Kind::Summary => 1,
                    Kind::Histogram(b) => b.len() + 1,
                    Kind::NativeHistogram(n) => n.cells() - 1,
                    _ => 0,
                },
                None => 0,
            }
        });
        if rec.cell as usize + n <= region.layout.cells_per_shard {
            cells.extend(rec.cell..rec.cell + n as u32);
        }
    });
    cells
}

/// The sum of `cells` over the lanes in use, as integers, lane by lane, over the
/// cells on lines marked written (every cell of a lane read whole).
#[cfg(not(loom))]
pub(crate) fn cells_total(region: &Region, cells: &[u32]) -> u64 {
    let whole = region.lanes_read_whole();
    whole
        .into_iter()
        .enumerate()
        .fold(0u64, |s, (lane, whole)| {
            cells
                .iter()
                .filter(|&&c| whole || region.is_written(lane, c))
                .fold(s, |s, &c| {
                    s.wrapping_add(region.cell(lane, c).load(Ordering::Relaxed))
                })
        })
}

/// The occupancy of `region`.
pub(crate) fn stats(region: &Region) -> Stats {
    let mut families: Vec<FamilyStats> = (0..region.layout.families as u32)
        .filter_map(|idx| {
            let spec = family::read(region, idx)?;
            let entry = Entry::of(region, idx);
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
        lanes_in_use: region.lanes_in_use(),
        series: region.counter(region::H_SERIES_LIVE),
        series_capacity: region.layout.series,
        tombstones: directory::tombstones(region),
        probes: region.probes(),
        cells: region.cell_use(),
        cells_free: region.counter(region::H_FREE_CELLS),
        reclaimable: region.counter(region::H_RETIRED_COUNT),
        stale_recordings: region.counter(region::H_STALE),
        expired: region.counter(region::H_EXPIRED),
        arena_bytes: (arena_used * 8, arena_all * 8),
        records_reused: region.reused(),
        region_bytes: region.bytes_use(),
        overflows: region.counter(region::H_OVERFLOWS),
        errors: region.counter(region::H_ERRORS),
        no_space: region.counter(region::H_NO_SPACE),
        process_table_full: region.counter(region::H_PROCS_FULL),
        families,
        processes: procs::slots(region)
            .into_iter()
            .filter(|s| s.pid != 0)
            .map(|s| (s.pid, s.alive))
            .collect(),
    }
}

/// Checks the header's bump pointers, every family descriptor, and every series of
/// `region`: its record inside the arena, its family known, its cells inside a shard,
/// its key one value per label (pairs after them for info), and no series twice.
/// Returns the series checked and what is wrong, one line each.
pub(crate) fn check(region: &Region) -> (u64, Vec<String>) {
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut checked = 0;
    let l = &region.layout;
    problems.extend(region.pointer_problems());
    for idx in 0..l.families as u32 {
        if let Err(why) = family::read_checked(region, idx) {
            problems.push(why);
        }
    }
    directory::for_each_slot(region, |i, rec| {
        checked += 1;
        let Some(rec) = rec else {
            problems.push(format!(
                "directory slot {i}: its record lies outside the arena"
            ));
            return;
        };
        let Some(spec) = family::read(region, rec.ident.family) else {
            problems.push(format!(
                "directory slot {i}: series of unknown family {}",
                rec.ident.family
            ));
            return;
        };
        if rec.cell as usize + spec.kind.cells() > l.cells_per_shard {
            problems.push(format!(
                "{}: a series' cells lie outside the shard",
                spec.name
            ));
        }
        let slots = match &spec.kind {
            Kind::Counter => 1,
            Kind::Histogram(bounds) => bounds.len() + 1,
            _ => 0,
        };
        if Record::has_exemplars(region, rec.at)
            && (slots == 0
                || Record::exemplars(region, rec.at, slots * exemplar::SLOT_WORDS).is_none())
        {
            problems.push(format!(
                "{}: a series' exemplar slots lie outside the arena",
                spec.name
            ));
        }
        let values = rec.with_key(region, |k| key::values(k).count());
        let overflow = rec.ident.is_overflow();
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
    });
    (checked, problems)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::directory::{Ident, NO_OWNER};
    use crate::region::Options;
    use crate::spec::Spec;

    #[test]
    fn check_reports_hostile_words_without_panicking() {
        let r = Region::anonymous(&Options {
            shards: Some(2),
            cells_per_shard: 1024,
            series_capacity: 16,
            family_capacity: 4,
            process_capacity: 4,
            arena_bytes: 1 << 14,
            ..Options::default()
        })
        .unwrap();
        let spec = Spec::new("m", "", Kind::Counter)
            .labels(&["k"])
            .normalize()
            .unwrap();
        let idx = family::register(&r, &spec).unwrap();
        let ident = Ident {
            family: idx,
            flags: 0,
            owner: NO_OWNER,
        };
        let values = ["a"];
        let hash = key::hash(idx, values.iter().copied());
        let s = directory::insert(
            &r,
            hash,
            ident,
            values.iter().copied(),
            1,
            (1, 0.0),
            directory::Checks {
                at_limit: || false,
                charge: |_| true,
                refund: |_, _| {},
                gone: |_| false,
            },
        )
        .unwrap()
        .series;
        assert_eq!(check(&r), (1, vec![]));

        // Record word 5: exemplar slots past the arena.
        r.word(s.record + 5).store(u64::MAX >> 1, Ordering::Relaxed);
        let (_, problems) = check(&r);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("exemplar slots lie outside"),
            "{problems:?}"
        );
        r.word(s.record + 5).store(0, Ordering::Relaxed);

        // Record word 1: the family index (low half), far outside the table.
        r.word(s.record + 1).store(0xdead_beef, Ordering::Relaxed);
        // The family's descriptor, the first thing in the arena: a length past it.
        let at = r.layout.arena_off + 1;
        assert_eq!(
            r.word(at).load(Ordering::Relaxed),
            spec.encode().len() as u64
        );
        r.word(at).store(u64::MAX, Ordering::Relaxed);
        // The next free cell, past the shard.
        r.word(16).store(1 << 40, Ordering::Relaxed);
        let (checked, problems) = check(&r);
        assert_eq!(checked, 1);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("next free cell"), "{problems:?}");
        assert!(
            problems[1].contains("descriptor lies outside"),
            "{problems:?}"
        );
        assert!(
            problems[2].contains("unknown family 3735928559"),
            "{problems:?}"
        );
        assert!(stats(&r).families.is_empty());
    }
}

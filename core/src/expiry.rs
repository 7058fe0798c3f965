//! Idle expiry: a series of a family with an idle time
//! ([`Spec::expire_ms`](crate::Spec::expire_ms)) that nobody wrote for that long is
//! removed, as [`remove`](crate::CounterVec::remove) would.
//!
//! Nothing is added to the hot path. A sweep (at each render and each tick of the
//! background thread) reads every series of such families and keeps, in process
//! memory, a digest of its cells summed over the lanes and when this process first
//! saw that digest. A series whose digest stayed the same for the idle time is
//! removed: its record retired and its cells reclaimed as for a removal. "Written"
//! means "changed": an increment or observation always changes a counter's or
//! histogram's cells, but a gauge of one shared value set to the value it holds (or a
//! counter incremented by 0) is not a write; a per-process gauge's every set is, as it
//! stores the time of the set. Each process judges by what it saw itself, from its
//! first sweep that met the series, so a sweep never expires a series earlier than
//! its idle time after the last change it could see; several processes sweeping race
//! only to remove the same slot, which one compare-and-swap settles.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::directory::Record;
use crate::family;
use crate::region::{self, Region};
use crate::series;
use crate::sync::Ordering;

/// What one process saw of the series of expiring families: by record (absolute word
/// index and generation: a reused record is another series), the digest of its cells,
/// since when (ms), and the sweep that last met it.
/// The families with an idle time are kept too (index, idle ms, cells per series),
/// read again only when the arena grew (a family registered since: descriptors are
/// never reused).
#[derive(Default)]
pub(crate) struct Idle {
    seen: HashMap<(usize, u64), (u64, u64, u64)>,
    sweeps: u64,
    families: Vec<(u32, u64, usize)>,
    arena: u64,
}

/// Removes the series of expiring families whose cells did not change for their
/// family's idle time, as far as `idle` saw up to `now_ms` (a monotonic clock in ms);
/// returns how many, and counts them in the header.
pub(crate) fn sweep(region: &Region, idle: &mut Idle, now_ms: u64) -> u64 {
    idle.sweeps += 1;
    let sweep = idle.sweeps;
    let arena = region.arena_use().0;
    if arena != idle.arena {
        idle.arena = arena;
        idle.families = (0..region.layout.families as u32)
            .filter_map(|idx| {
                let spec = family::read(region, idx)?;
                (spec.expire_ms != 0).then(|| (idx, spec.expire_ms, spec.kind.cells()))
            })
            .collect();
    }
    let mut expired = 0;
    for &(idx, after, cells) in &idle.families {
        expired += series::retain(region, idx, cells, |rec| {
            if rec.ident.is_overflow() {
                return true;
            }
            let Some(digest) = digest(region, rec, cells) else {
                return true;
            };
            let seen = idle
                .seen
                .entry((rec.at, rec.gen))
                .or_insert((digest, now_ms, sweep));
            seen.2 = sweep;
            if seen.0 != digest {
                (seen.0, seen.1) = (digest, now_ms);
            }
            now_ms.saturating_sub(seen.1) < after
        });
    }
    idle.seen.retain(|_, seen| seen.2 == sweep);
    if expired > 0 {
        region
            .word(region::H_EXPIRED)
            .fetch_add(expired, Ordering::Relaxed);
    }
    expired
}

/// A digest of the series' cells (and float cell) summed over the lanes in use;
/// `None` when its cells lie outside those handed out.
fn digest(region: &Region, rec: &Record, cells: usize) -> Option<u64> {
    let end = rec.cell as u64 + cells as u64;
    if end > region.cell_use().0 {
        return None;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for c in rec.cell..end as u32 {
        region.cell_sum(c).hash(&mut h);
    }
    if let Some(f) = Record::float_cell(region, rec.at) {
        region.cell_sum(f).hash(&mut h);
    }
    Some(h.finish())
}

#[cfg(all(test, loom))]
mod loom_model {
    use super::*;
    use crate::cells::Cells;
    use crate::directory::loom_model::{make_in, region, HX, HZ};
    use crate::directory::{self, Ident, NO_OWNER};
    use crate::spec::{Kind, Spec};

    #[test]
    fn an_increment_racing_the_expiry_of_its_series_is_seen_counted_or_lost_never_reused() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.check(|| {
            let r = region(2048);
            let spec = Spec::new("jobs", "", Kind::Counter).labels(&["k"]);
            let mut spec = spec.normalize().unwrap();
            spec.expire_ms = 10;
            let ident = Ident {
                family: family::register(&r, &spec).unwrap(),
                flags: 0,
                owner: NO_OWNER,
            };
            let z = make_in(&r, ident, HZ, "z");
            let (g, e) = directory::guard(&r, z).unwrap();
            let held = Cells::new(r.clone(), z.cell, 1, g, e);
            let mut idle = Idle::default();
            assert_eq!(sweep(&r, &mut idle, 0), 0, "first seen now");
            let t = loom::thread::spawn(move || {
                if let Some(l) = held.enter() {
                    l.cell(0).fetch_add(1, Ordering::Relaxed);
                }
            });
            let expired = sweep(&r, &mut idle, 10);
            let reused =
                (directory::reclaim(&r, &|_, _| {}) > 0).then(|| make_in(&r, ident, HX, "x"));
            t.join().unwrap();
            let stale = r.counter(region::H_STALE);
            if expired == 0 {
                // The sweep saw the increment: the series stays, with it.
                assert_eq!(r.cell_sum(z.cell), 1);
                assert_eq!(stale, 0);
            } else {
                assert_eq!(r.counter(region::H_EXPIRED), 1);
                assert!(directory::guard(&r, z).is_none());
            }
            if let Some(x) = reused {
                assert_eq!(x.cell, z.cell, "the freed cell went to the new series");
                assert_eq!(r.cell_sum(x.cell), 0, "nothing of the old series in it");
            }
        });
    }
}

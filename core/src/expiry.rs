//! Idle expiry: a series of a family with an idle time ([`Spec::expire_ms`](crate::Spec::expire_ms)) that nobody
//! wrote for that long is removed, as [`remove`](crate::CounterVec::remove) would.
//!
//! Nothing is added to the hot path. A sweep (at each render and each tick of the
//! background thread) reads every series of such families and keeps, in process
//! memory, a digest of its cells summed over the lanes and when this process first
//! saw that digest. A series whose digest stayed the same for the idle time is
//! removed: its record retired and its cells reclaimed as for a removal. "Written"
//! means "changed": an increment or observation always changes a counter's or
//! histogram's cells, but a gauge set to the value it holds (or a counter incremented
//! by 0) is not a write. Each process judges by what it saw itself, from its first
//! sweep that met the series, so a sweep never expires a series earlier than its idle
//! time after the last change it could see; several processes sweeping race only to
//! remove the same slot, which one compare-and-swap settles.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::directory::Record;
use crate::family;
use crate::region::{self, Region};
use crate::series;
use crate::sync::Ordering;

/// What one process saw of the series of expiring families: by record (absolute word
/// index; records are never reused), the digest of its cells, since when (ms), and the
/// sweep that last met it.
#[derive(Default)]
pub(crate) struct Idle {
    seen: HashMap<usize, (u64, u64, u64)>,
    sweeps: u64,
}

/// Removes the series of expiring families whose cells did not change for their
/// family's idle time, as far as `idle` saw up to `now_ms` (a monotonic clock in ms);
/// returns how many, and counts them in the header.
pub(crate) fn sweep(region: &Region, idle: &mut Idle, now_ms: u64) -> u64 {
    idle.sweeps += 1;
    let sweep = idle.sweeps;
    let mut expired = 0;
    for idx in 0..region.layout.families as u32 {
        let Some(spec) = family::read(region, idx) else {
            continue;
        };
        let (after, cells) = (spec.expire_ms, spec.kind.cells());
        if after == 0 {
            continue;
        }
        expired += series::retain(region, idx, cells, |rec| {
            if rec.ident.is_overflow() {
                return true;
            }
            let Some(digest) = digest(region, rec, cells) else {
                return true;
            };
            let seen = idle.seen.entry(rec.at).or_insert((digest, now_ms, sweep));
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

//! The lane table of a region, and the file space of the lanes' cells.
//!
//! One word per lane: the [`LaneOwner`] (pid and start time) of the process holding
//! it, 0 while free. A claim takes the lowest free lane among those in use, else the
//! lowest one whose process is gone, else the lowest free lane above them, and only
//! then reserves that lane's cells. Header word 17 ([`Reserved`]) counts the lanes in
//! use and the cells reserved in each; it changes only by compare-and-swap, after the
//! reservation the new value promises, so every lane below its lane count has file
//! space for every cell below its cell count, whatever claims and allocations race.
//!
//! The loom model in `tests/loom.rs` compiles this file on its own.

use crate::sync::{AtomicU64, Backoff, Ordering};
use crate::word::{LaneOwner, Reserved};

/// How a claim ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claimed {
    /// This lane is the caller's.
    Own(usize),
    /// Every lane is held by a running process.
    Full,
    /// The lane found could not get file space for its cells.
    NoSpace,
}

/// A region's lane table and reservation word, with the layout's cells per lane.
pub(crate) struct Table<'a> {
    /// One word per lane.
    pub owners: &'a [AtomicU64],
    /// Header word 17.
    pub reserved: &'a AtomicU64,
    /// Cells per lane.
    pub cells: u64,
}

impl Table<'_> {
    /// `lanes` from the reservation word, clamped to the table: at least lane 0 (that
    /// of unsharded cells), which is reserved at creation, is always in use.
    fn lanes(&self, r: Reserved) -> usize {
        (r.lanes() as usize).clamp(1, self.owners.len())
    }

    /// Lanes in use: every lane below it has been claimed once, and has file space.
    pub fn in_use(&self) -> usize {
        self.lanes(Reserved(self.reserved.load(Ordering::Acquire)))
    }

    /// Makes sure every lane in use has file space for the cells below `end`, where
    /// allocation starts at `start`, by reserving up to the next multiple of `chunk`:
    /// `reserve(lanes, from, to)` reserves cells `from..to` of the lanes in `lanes`.
    pub fn grow<E>(
        &self,
        start: u64,
        end: u64,
        chunk: u64,
        reserve: impl Fn(std::ops::Range<usize>, u64, u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let backoff = Backoff::new();
        loop {
            let cur = Reserved(self.reserved.load(Ordering::Acquire));
            let lanes = self.lanes(cur);
            // The word is outside the checksum: a count past the layout is not
            // believed, and the cells from the allocation on are reserved again.
            let have = match cur.cells() as u64 {
                m if m <= self.cells => m,
                _ => start,
            };
            if end <= have {
                return Ok(());
            }
            let to = end.div_ceil(chunk).saturating_mul(chunk).min(self.cells);
            reserve(0..lanes, have, to)?;
            let new = Reserved::new(lanes as u32, to as u32);
            if self
                .reserved
                .compare_exchange(cur.0, new.0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Ok(());
            }
            backoff.spin();
        }
    }

    /// Makes `lane` (and any lane below it) a lane in use, reserving its cells up to
    /// the cell count of the lanes already in use.
    fn cover<E>(
        &self,
        lane: usize,
        reserve: impl Fn(std::ops::Range<usize>, u64, u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let backoff = Backoff::new();
        loop {
            let cur = Reserved(self.reserved.load(Ordering::Acquire));
            let lanes = self.lanes(cur);
            if lane < lanes {
                return Ok(());
            }
            reserve(lanes..lane + 1, 0, (cur.cells() as u64).min(self.cells))?;
            let new = Reserved::new(lane as u32 + 1, cur.cells());
            if self
                .reserved
                .compare_exchange(cur.0, new.0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Ok(());
            }
            backoff.spin();
        }
    }

    /// Claims a lane for `me`: the lowest free lane in use, else the lowest lane in use
    /// whose holder `alive` says is gone, else the lowest free lane past them, whose
    /// cells are then reserved with `reserve` (see [`grow`](Self::grow)). A gone
    /// holder's lane is handed to `repair` before it is taken, while readers still
    /// see its holder gone (it marks the lines the holder wrote, see `region`).
    pub fn claim<E>(
        &self,
        me: LaneOwner,
        alive: impl Fn(LaneOwner) -> bool,
        repair: impl Fn(usize),
        reserve: impl Fn(std::ops::Range<usize>, u64, u64) -> Result<(), E>,
    ) -> Claimed {
        let used = self.in_use();
        let take = |lane: usize, cur: u64| {
            self.owners[lane]
                .compare_exchange(cur, me.0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        };
        let load = |lane: usize| self.owners[lane].load(Ordering::Acquire);
        let found = (0..used)
            .find(|&l| load(l) == 0 && take(l, 0))
            .or_else(|| {
                (0..used).find(|&l| {
                    let cur = load(l);
                    if cur == 0 || cur == me.0 || alive(LaneOwner(cur)) {
                        return false;
                    }
                    repair(l);
                    take(l, cur)
                })
            })
            .or_else(|| (used..self.owners.len()).find(|&l| load(l) == 0 && take(l, 0)));
        let Some(lane) = found else {
            return Claimed::Full;
        };
        if self.cover(lane, reserve).is_err() {
            self.release(lane, me);
            return Claimed::NoSpace;
        }
        Claimed::Own(lane)
    }

    /// Gives `lane` back if `me` holds it.
    pub fn release(&self, lane: usize, me: LaneOwner) {
        if let Some(w) = self.owners.get(lane) {
            let _ = w.compare_exchange(me.0, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }
}

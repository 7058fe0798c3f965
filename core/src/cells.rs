//! Handles' view of their cells: a pointer to the series' first cell in lane 0, the
//! stride between lanes, and the region's map of this process's threads to lanes, so
//! recording is a thread-local read, one load from the map, a pointer add and one
//! atomic. A recording that finds its cell at 0 then marks the cell's cache line
//! written ([`Cells::written`]), so that readers skip the lines never written.

use std::borrow::Borrow;
use std::sync::Arc;

use crate::lanes::{self, SHARED, SLOTS};
use crate::procs;
use crate::region::{Region, SINK_CELLS};
use crate::shard;
use crate::sync::{AtomicU64, Backoff, Ordering};

/// The cells of one series, for recording. `R` keeps the region mapped (an
/// `Arc<Region>`) or borrows the family's (`&Arc<Region>`, for handles that live no
/// longer than their family).
#[derive(Clone)]
pub(crate) struct Cells<R = Arc<Region>> {
    region: R,
    base: *const AtomicU64,
    /// The region's lane map: [`SLOTS`] entries.
    map: *const AtomicU64,
    stride: usize,
    mask: usize,
}

// SAFETY: `base` and `map` point into the region's mapping and its lane map, which
// `region` keeps alive (owned or borrowed), and are only used to reach `AtomicU64`s,
// which are shared between threads by design.
unsafe impl<R: Send> Send for Cells<R> {}
// SAFETY: as for Send; `&Cells` only hands out `&AtomicU64`.
unsafe impl<R: Sync> Sync for Cells<R> {}

/// Whether cell `first` and the `n` cells from it (read from a record) lie inside a
/// lane, past the sink. `first` itself must be inside even when `n` is 0 (an info
/// series made once every cell was taken gets the end of the lane).
#[inline]
pub(crate) fn inside(region: &Region, first: u32, n: usize) -> bool {
    let cells = region.layout.cells_per_shard;
    first as u64 >= SINK_CELLS && (first as usize) < cells && first as usize + n <= cells
}

impl<R: Borrow<Arc<Region>>> Cells<R> {
    /// The `n` cells from `first`, or the sink if they are not all inside a lane.
    #[inline]
    pub fn new(region: R, first: u32, n: usize) -> Cells<R> {
        let r: &Region = region.borrow();
        let l = r.layout;
        let first = if inside(r, first, n) { first } else { 0 };
        let base = r.cell(0, first) as *const AtomicU64;
        let map = r.lanes.as_ptr();
        Cells {
            region,
            base,
            map,
            stride: l.cells_per_shard,
            mask: l.shards - 1,
        }
    }

    /// The word offset of the calling thread's lane from lane 0.
    #[inline(always)]
    fn lane(&self) -> usize {
        let me = lanes::current();
        let (_, slot) = lanes::split(me);
        // SAFETY: the map has SLOTS entries and `slot` is reduced below SLOTS; the map
        // lives as long as the region `self.region` keeps alive.
        let e = unsafe { &*self.map.add(slot % SLOTS) }.load(Ordering::Relaxed);
        let lane = if (e ^ me) >> 32 == 0 {
            e as u32
        } else {
            self.claim()
        };
        let lane = if lane & SHARED == 0 {
            lane as usize
        } else {
            shard::current() & (lane & !SHARED) as usize
        };
        (lane & self.mask) * self.stride
    }

    /// Gives the calling thread a lane in this region (its first recording here).
    #[cold]
    #[inline(never)]
    fn claim(&self) -> u32 {
        let me = lanes::assign();
        let (key, slot) = lanes::split(me);
        let region: &Arc<Region> = self.region.borrow();
        let entry = region.lanes.entry(slot);
        let backoff = Backoff::new();
        loop {
            let cur = entry.load(Ordering::Acquire);
            if lanes::split(cur).0 == key {
                // Another thread of the overflow slot claimed first.
                return cur as u32;
            }
            let owner = lanes::me();
            let lane = region.claim_lane(owner, |o| procs::alive(o.pid(), o.started()));
            let new = (key as u64) << 32 | lane as u64;
            if entry
                .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                #[cfg(not(loom))]
                if lane & SHARED == 0 {
                    let holder: Arc<dyn lanes::Holder> = region.clone();
                    lanes::remember(Arc::downgrade(&holder));
                }
                return lane;
            }
            if lane & SHARED == 0 {
                region.release_lane(lane as usize, owner);
            }
            backoff.spin();
        }
    }

    /// Cell `i` of this series in the calling thread's lane. `i` is below the cell
    /// count the series was made with (at most the sink's size).
    #[inline(always)]
    pub fn local(&self, i: usize) -> &AtomicU64 {
        let at = self.lane();
        debug_assert!(i < SINK_CELLS as usize);
        // SAFETY: `at` is a lane below the capacity (masked with `shards - 1`, a power
        // of two) times the lane's length, and `i` is below the series' cell count,
        // which `new` checked fits in a lane, so the word lies inside the cells area of
        // the mapping that `self.region` keeps alive.
        unsafe { &*self.base.add(at + i) }
    }

    /// Cells `i` and `j` of this series in the calling thread's lane, with the lane
    /// looked up once. Both are below the series' cell count.
    #[inline(always)]
    pub fn local_pair(&self, i: usize, j: usize) -> (&AtomicU64, &AtomicU64) {
        let at = self.lane();
        debug_assert!(i.max(j) < SINK_CELLS as usize);
        // SAFETY: as in `local`, for both cells.
        unsafe { (&*self.base.add(at + i), &*self.base.add(at + j)) }
    }

    /// Another cell of the same region in the calling thread's lane (bounds-checked).
    #[inline]
    pub fn local_of(&self, cell: u32) -> &AtomicU64 {
        self.region().cell(self.lane() / self.stride, cell)
    }

    /// Marks the cache line of `cell` (one of this region's) written: a recording found
    /// it at 0. Off the recording's fast branch.
    #[cold]
    #[inline(never)]
    pub fn written(&self, cell: &AtomicU64) {
        self.region().mark_written(cell);
    }

    /// Cell `i` in lane 0, for values that are not sharded (gauges, states).
    #[inline(always)]
    pub fn unsharded(&self, i: usize) -> &AtomicU64 {
        // SAFETY: as in `local`, with lane 0.
        unsafe { &*self.base.add(i) }
    }

    /// The same number for all handles of one series in this process (the address of
    /// its first cell); the sink's for handles that record nowhere visible.
    pub fn id(&self) -> u64 {
        self.base as u64
    }

    /// The region these cells are in.
    pub fn region(&self) -> &Region {
        let r: &Arc<Region> = self.region.borrow();
        r
    }
}

/// Adds `v` to an `f64` kept as bits in `cell`; returns the bits it replaced.
#[inline]
pub(crate) fn add_f64(cell: &AtomicU64, v: f64) -> u64 {
    let backoff = Backoff::new();
    let mut cur = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(cur) + v).to_bits();
        match cell.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return cur,
            Err(now) => {
                cur = now;
                backoff.spin();
            }
        }
    }
}

//! Handles' view of their cells: a pointer to the series' first cell in shard 0 and
//! the stride between shards, so recording is one pointer add and one atomic.

use std::ops::Deref;
use std::sync::Arc;

use crate::region::{Region, SINK_CELLS};
use crate::shard;
use crate::sync::{AtomicU64, Backoff, Ordering};

/// The cells of one series, for recording. `R` keeps the region mapped (an `Arc`) or
/// borrows it (`&Region`, for handles that live no longer than their family).
#[derive(Clone)]
pub(crate) struct Cells<R = Arc<Region>> {
    region: R,
    base: *const AtomicU64,
    stride: usize,
    mask: usize,
}

// SAFETY: `base` points into the region's mapping, which `region` keeps alive (owned or
// borrowed), and is only used to reach `AtomicU64`s, which are shared between threads
// by design.
unsafe impl<R: Send> Send for Cells<R> {}
// SAFETY: as for Send; `&Cells` only hands out `&AtomicU64`.
unsafe impl<R: Sync> Sync for Cells<R> {}

/// Whether cell `first` and the `n` cells from it (read from a record) lie inside a
/// shard, past the sink. `first` itself must be inside even when `n` is 0 (an info
/// series made once every cell was taken gets the end of the shard).
#[inline]
pub(crate) fn inside(region: &Region, first: u32, n: usize) -> bool {
    let cells = region.layout.cells_per_shard;
    first as u64 >= SINK_CELLS && (first as usize) < cells && first as usize + n <= cells
}

impl<R: Deref<Target = Region>> Cells<R> {
    /// The `n` cells from `first`, or the sink if they are not all inside a shard.
    #[inline]
    pub fn new(region: R, first: u32, n: usize) -> Cells<R> {
        let l = region.layout;
        let first = if inside(&region, first, n) { first } else { 0 };
        let base = region.cell(0, first) as *const AtomicU64;
        Cells {
            region,
            base,
            stride: l.cells_per_shard,
            mask: l.shards - 1,
        }
    }

    /// Cell `i` of this series in the calling CPU's shard. `i` is below the cell count
    /// the series was made with (at most the sink's size).
    #[inline(always)]
    pub fn local(&self, i: usize) -> &AtomicU64 {
        let shard = shard::current() & self.mask;
        debug_assert!(i < SINK_CELLS as usize);
        // SAFETY: `shard < shards` by the mask (shards is a power of two), and `i` is
        // below the series' cell count, which `new` checked fits in the shard, so the
        // word lies inside the cells area of the mapping that `self.region` keeps alive.
        unsafe { &*self.base.add(shard * self.stride + i) }
    }

    /// Cells `i` and `j` of this series in the calling CPU's shard, with the shard
    /// looked up once. Both are below the series' cell count.
    #[inline(always)]
    pub fn local_pair(&self, i: usize, j: usize) -> (&AtomicU64, &AtomicU64) {
        let at = (shard::current() & self.mask) * self.stride;
        debug_assert!(i.max(j) < SINK_CELLS as usize);
        // SAFETY: as in `local`, for both cells.
        unsafe { (&*self.base.add(at + i), &*self.base.add(at + j)) }
    }

    /// Another cell of the same region in the calling CPU's shard (bounds-checked).
    #[inline]
    pub fn local_of(&self, cell: u32) -> &AtomicU64 {
        self.region.cell(shard::current() & self.mask, cell)
    }

    /// Cell `i` in shard 0, for values that are not sharded (gauges, states).
    #[inline(always)]
    pub fn unsharded(&self, i: usize) -> &AtomicU64 {
        // SAFETY: as in `local`, with shard 0.
        unsafe { &*self.base.add(i) }
    }

    /// The same number for all handles of one series in this process (the address of
    /// its first cell); the sink's for handles that record nowhere visible.
    pub fn id(&self) -> u64 {
        self.base as u64
    }

    /// The region these cells are in.
    pub fn region(&self) -> &Region {
        &self.region
    }
}

/// Adds `v` to an `f64` kept as bits in `cell`.
#[inline]
pub(crate) fn add_f64(cell: &AtomicU64, v: f64) {
    let backoff = Backoff::new();
    let mut cur = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(cur) + v).to_bits();
        match cell.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(now) => {
                cur = now;
                backoff.spin();
            }
        }
    }
}

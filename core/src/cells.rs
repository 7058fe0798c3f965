//! Handles' view of their cells: a pointer to the series' first cell in lane 0, the
//! stride between lanes, and the region's map of this process's threads to lanes, so
//! recording is a thread-local read, one load from the map, a pointer add and one
//! atomic. A recording that finds its cell at 0 then marks the cell's cache line
//! written ([`Cells::written`]), so that readers skip the lines never written.
//!
//! Every write is made inside [`Cells::enter`]: the lane's quiescence word is set to 1,
//! the series' guard word (its record's generation) is compared with what it held when
//! the handle was made, and the word is set to 2 after the write. Removing a series
//! moves its generation on, so a handle that outlived its series writes nothing
//! (counted in `metricore_stale_recordings_total`), and the cells are reused only once
//! no lane is still inside a write that passed the check ([`Region::quiesce`]).

use std::borrow::Borrow;
use std::sync::Arc;

use crate::lanes::{self, CONTENDED, SHARED, SLOTS};
use crate::procs;
use crate::region::{self, Region, SINK_CELLS};
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
    /// The lanes' quiescence words, [`region::QUIET_WORDS`] apart.
    quiet: *const AtomicU64,
    /// The series' guard word: its record's generation (the header's magic for the sink).
    guard: *const AtomicU64,
    /// What the guard held when the series was resolved.
    expect: u64,
}

/// A write in progress to a series' cells in the calling thread's lane (see
/// [`Cells::enter`]); dropping it ends the write.
pub(crate) struct Local<'c> {
    /// The series' first cell in lane 0.
    base: *const AtomicU64,
    /// Word offset of the thread's lane from lane 0.
    at: usize,
    /// The lane's quiescence word, or, in a lane shared by CPU, its count of writes
    /// in flight.
    quiet: &'c AtomicU64,
    /// Whether `quiet` is a count (the lane is shared by CPU, or by the threads of the
    /// overflow slot).
    shared: bool,
}

/// How a write adds to its lane's cells (see [`Local::adds`]).
#[derive(Clone, Copy)]
pub(crate) struct Adds {
    /// Whether the thread is its lane's only writer: it holds the lane, and no thread
    /// sharing lanes by CPU may write there.
    alone: bool,
}

/// An own lane's quiescence word during a write; [`INSIDE`] + 1 between writes.
const INSIDE: u64 = 1;

impl Local<'_> {
    /// Cell `i` of the series in the calling thread's lane. `i` is below the cell count
    /// the series was made with (at most the sink's size).
    #[inline(always)]
    pub fn cell(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i < SINK_CELLS as usize);
        // SAFETY: `at` is the series' first cell in a lane below the capacity (masked
        // with `shards - 1`, a power of two), and `i` is below the series' cell count,
        // which `Cells::new` checked fits in a lane, so the word lies inside the cells
        // area of the mapping that the `Cells` this borrows keeps alive.
        unsafe { &*self.base.add(self.at + i) }
    }

    /// Word offset of the calling thread's lane from lane 0, for
    /// [`Cells::local_of`] off the recording's fast branch (a `Local` passed by
    /// reference would be kept in memory rather than in registers).
    #[inline(always)]
    pub fn at(&self) -> usize {
        self.at
    }

    /// How this write adds to its lane's cells: plain loads and stores if the thread
    /// is the lane's only writer, atomic adds if not. Not for cells that something
    /// else stores to while the lane is held, as a counter's reset does.
    #[inline(always)]
    pub fn adds(&self) -> Adds {
        // Read after the quiescence word's store, as the guard is: a thread that starts
        // sharing lanes by CPU sets the flag, then waits for the lanes seen inside a
        // write. In an own lane `quiet` is the first word of the lane's line.
        let alone = !self.shared && {
            // SAFETY: a word of that line (QUIET_ATOMIC < QUIET_WORDS), which the
            // `Cells` this borrows keeps mapped.
            let flag = unsafe { &*(self.quiet as *const AtomicU64).add(region::QUIET_ATOMIC) };
            flag.load(Ordering::Relaxed) == 0
        };
        Adds { alone }
    }

    /// Cell `i` of the series in lane 0, for values that are not sharded (gauges,
    /// states).
    #[inline(always)]
    pub fn unsharded(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i < SINK_CELLS as usize);
        // SAFETY: as in `cell`, with lane 0.
        unsafe { &*self.base.add(i) }
    }
}

impl Adds {
    /// Adds `n` to `cell`, a cell of the write's lane, and returns what it held. In a
    /// lane with no other writer that is a plain load and store: the reuse of its
    /// cells waits for the write to end, and a thread about to share it by CPU waits
    /// too. Elsewhere it is an atomic add.
    #[inline(always)]
    pub fn add(self, cell: &AtomicU64, n: u64) -> u64 {
        if !self.alone {
            return cell.fetch_add(n, Ordering::Relaxed);
        }
        let old = cell.load(Ordering::Relaxed);
        cell.store(old.wrapping_add(n), Ordering::Relaxed);
        old
    }

    /// As [`Adds::add`], for an `f64` kept as bits: returns the bits it replaced.
    #[inline(always)]
    pub fn add_f64(self, cell: &AtomicU64, v: f64) -> u64 {
        if !self.alone {
            return add_f64(cell, v);
        }
        let old = cell.load(Ordering::Relaxed);
        cell.store((f64::from_bits(old) + v).to_bits(), Ordering::Relaxed);
        old
    }
}

impl Drop for Local<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // Release: a reclaimer that sees the lane leave sees the write done.
        if self.shared {
            self.quiet.fetch_sub(1, Ordering::Release);
        } else {
            self.quiet.store(INSIDE + 1, Ordering::Release);
        }
    }
}

// SAFETY: `base` and `map` point into the region's mapping and its lane map, which
// `region` keeps alive (owned or borrowed), and are only used to reach `AtomicU64`s,
// which are shared between threads by design.
unsafe impl<R: Send> Send for Cells<R> {}
// SAFETY: as for Send; `&Cells` only hands out `&AtomicU64`.
unsafe impl<R: Sync> Sync for Cells<R> {}

impl<R: Borrow<Arc<Region>>> Cells<R> {
    /// The `n` cells from `first`, written while the region's word `guard` holds
    /// `expect`; the sink (guarded by the header's magic) if they are not all inside
    /// a lane.
    #[inline]
    pub fn new(region: R, first: u32, n: usize, guard: usize, expect: u64) -> Cells<R> {
        let r: &Region = region.borrow();
        let l = r.layout;
        let (first, guard, expect) = if r.cells_inside(first, n) {
            (first, guard, expect)
        } else {
            (0, 0, r.word(0).load(Ordering::Relaxed))
        };
        let base = r.cell(0, first) as *const AtomicU64;
        let map = r.lanes.as_ptr();
        Cells {
            base,
            map,
            stride: l.cells_per_shard,
            mask: l.shards - 1,
            quiet: r.quiet_base(),
            guard: r.word(guard) as *const AtomicU64,
            expect,
            region,
        }
    }

    /// Starts a write to these cells in the calling thread's lane: `None` (counted)
    /// when the series was removed since the handle was made.
    #[inline(always)]
    pub fn enter(&self) -> Option<Local<'_>> {
        // Read before the write is entered: only the guard's load must follow it.
        let (guard, expect) = (self.guard, self.expect);
        let local = self.begin();
        // SAFETY: `guard` points at a word of the region `self.region` keeps mapped.
        let ok = unsafe { &*guard }.load(Ordering::Relaxed) == expect;
        if !ok {
            self.stale();
        }
        // Dropping `local` ends the write either way.
        ok.then_some(local)
    }

    /// [`Cells::enter`] for what goes with a recording already counted (an exemplar
    /// stored after its increment): `None`, not counted again, when the series was
    /// removed. While it is held the series' record is not reused.
    pub fn enter_again(&self) -> Option<Local<'_>> {
        let local = self.begin();
        self.live().then_some(local)
    }

    /// Marks the calling thread's lane inside a write, before the guard is checked.
    #[inline(always)]
    fn begin(&self) -> Local<'_> {
        self.begin_in(self.lane())
    }

    /// [`Cells::begin`] in the lane of map entry `lane`.
    #[inline(always)]
    fn begin_in(&self, lane: u32) -> Local<'_> {
        let own = lane & SHARED == 0;
        let lane = if own {
            lane as usize & self.mask
        } else {
            self.shared_lane(lane)
        };
        // Computed before the write is entered: only the guard's load must follow it.
        let (base, at) = (self.base, lane * self.stride);
        // SAFETY: the quiescence area has a line per lane and `lane` is masked below
        // the capacity; the region `self.region` keeps it mapped.
        let line = unsafe { self.quiet.add(lane * region::QUIET_WORDS) };
        let quiet = if own {
            // SAFETY: the line's first word, the lane holder's alone.
            let quiet = unsafe { &*line };
            quiet.store(INSIDE, Ordering::Relaxed);
            quiet
        } else {
            // SAFETY: the line's second word: several threads write here.
            let quiet = unsafe { &*line.add(1) };
            quiet.fetch_add(1, Ordering::SeqCst);
            quiet
        };
        // The reclaimer's global memory barrier orders the store before the load.
        #[cfg(not(loom))]
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
        #[cfg(loom)]
        crate::sync::fence(Ordering::SeqCst);
        Local {
            base,
            at,
            quiet,
            shared: !own,
        }
    }

    /// The lane of a thread that shares lanes by CPU, or one of the overflow slot
    /// (`lane` has [`SHARED`] set): out of line, so that the own lane's path stays
    /// short.
    #[cold]
    #[inline(never)]
    fn shared_lane(&self, lane: u32) -> usize {
        match lanes::own_lane(lane) {
            Some(own) => own & self.mask,
            None => shard::current() & (lane & !SHARED) as usize & self.mask,
        }
    }

    /// Whether the series was not removed since the handle was made: its cells are
    /// its own. Readers of a handle's value check this (writers through `enter`).
    #[inline(always)]
    pub fn live(&self) -> bool {
        // SAFETY: `guard` points at a word of the region `self.region` keeps mapped.
        unsafe { &*self.guard }.load(Ordering::Relaxed) == self.expect
    }

    /// A write through a handle of a removed series, dropped.
    #[cold]
    #[inline(never)]
    fn stale(&self) {
        self.region().count(region::H_STALE);
    }

    /// The calling thread's lane entry in this region: a lane number, with [`SHARED`]
    /// set for a lane shared by CPU.
    #[inline(always)]
    fn lane(&self) -> u32 {
        let me = lanes::current();
        let (_, slot) = lanes::split(me);
        // SAFETY: the map has SLOTS entries and `slot` is reduced below SLOTS; the map
        // lives as long as the region `self.region` keeps alive.
        let e = unsafe { &*self.map.add(slot % SLOTS) }.load(Ordering::Relaxed);
        if (e ^ me) >> 32 == 0 {
            e as u32
        } else {
            self.claim()
        }
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
            // The overflow slot's threads write their lane together: as a shared one.
            let entry_lane = if lanes::is_overflow(slot) && lane & SHARED == 0 {
                lane | SHARED | CONTENDED
            } else {
                lane
            };
            let new = (key as u64) << 32 | entry_lane as u64;
            if entry
                .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                #[cfg(not(loom))]
                if lane & SHARED == 0 {
                    let holder: Arc<dyn lanes::Holder> = region.clone();
                    lanes::remember(Arc::downgrade(&holder));
                }
                return entry_lane;
            }
            if lane & SHARED == 0 {
                region.release_lane(lane as usize, owner);
            }
            backoff.spin();
        }
    }

    /// Another cell of the same region in the calling thread's lane (bounds-checked),
    /// for a write already entered, whose [`Local::at`] is `at`.
    #[inline]
    pub fn local_of(&self, at: usize, cell: u32) -> &AtomicU64 {
        self.region().cell(at / self.stride, cell)
    }

    /// Marks the cache line of `cell` (one of this region's) written: a recording found
    /// it at 0. Off the recording's fast branch.
    #[cold]
    #[inline(never)]
    pub fn written(&self, cell: &AtomicU64) {
        self.region().mark_written(cell);
    }

    /// Cell `i` in lane 0, for reading values that are not sharded (gauges, states);
    /// writes go through [`Local::unsharded`].
    #[inline(always)]
    pub fn unsharded(&self, i: usize) -> &AtomicU64 {
        // SAFETY: as in `local`, with lane 0.
        unsafe { &*self.base.add(i) }
    }

    /// The same number for all handles of one series in this process, and another for
    /// a series that reuses its cells or its record later: the address of its first
    /// cell mixed with its record's (that of its guard word) and the record's
    /// generation. The sink's for handles that record nowhere visible.
    pub fn id(&self) -> u64 {
        // Each word is multiplied before the next is mixed in: two addresses in one
        // mapping XORed directly would cancel the mapping's own address.
        let mut h = 0u64;
        for w in [self.base as u64, self.guard as u64, self.expect] {
            h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h ^= h >> 29;
        }
        h
    }

    /// The address of the series' first cell in lane 0.
    pub fn first_cell(&self) -> u64 {
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
    let cur = cell.load(Ordering::Relaxed);
    let new = (f64::from_bits(cur) + v).to_bits();
    match cell.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => cur,
        Err(now) => add_f64_contended(cell, v, now),
    }
}

/// [`add_f64`] after its first attempt found `cur` in `cell`: out of line, since a
/// lane's cell is rarely written by two threads at once.
#[cold]
#[inline(never)]
fn add_f64_contended(cell: &AtomicU64, v: f64, mut cur: u64) -> u64 {
    let backoff = Backoff::new();
    loop {
        backoff.spin();
        let new = (f64::from_bits(cur) + v).to_bits();
        match cell.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return cur,
            Err(now) => cur = now,
        }
    }
}

#[cfg(all(test, loom))]
mod loom_model {
    use super::*;
    use crate::word::LaneOwner;

    /// A lane's holder adds with a plain load and store while a thread of another
    /// process, finding no lane free (the capacity is one), starts sharing lanes by
    /// CPU and adds to the same cell: neither add is lost.
    #[test]
    fn a_holders_plain_add_races_a_thread_that_starts_sharing_its_lane() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let r = Region::for_models(1024);
            // A cell past the sink, guarded as the sink is, by the header's magic.
            let cell = SINK_CELLS as u32;
            let magic = r.word(0).load(Ordering::Relaxed);
            let cells = Cells::new(r.clone(), cell, 1, 0, magic);
            let alive = |_| true;
            let held = r.claim_lane(LaneOwner::new(1, 1), alive);
            assert_eq!(held & SHARED, 0, "the one lane");
            let holder = cells.clone();
            let t = loom::thread::spawn(move || {
                let l = holder.begin_in(held);
                l.adds().add(l.cell(0), 1);
            });
            let shared = r.claim_lane(LaneOwner::new(2, 1), alive);
            assert_ne!(shared & SHARED, 0, "no lane left: shared by CPU");
            let l = cells.begin_in(shared);
            let adds = l.adds();
            assert!(!adds.alone);
            adds.add(l.cell(0), 1);
            drop(l);
            t.join().unwrap();
            assert_eq!(r.cell_sum(cell), 2);
        });
    }
}

//! A global allocator that counts, for the binaries that report allocations.
//!
//! A binary installs it with `#[global_allocator] static A: Counting = Counting;`
//! and reads [`snapshot`]s around the code it measures. The counts are process-wide.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting allocations and bytes.
pub struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged,
// so `System`'s guarantees carry over; the counting only touches atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        ALLOCATED.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: forwarded as received; see the impl.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        ALLOCATED.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: forwarded as received; see the impl.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: forwarded as received; see the impl.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        ALLOCATED.fetch_add(new_size as u64, Relaxed);
        FREED.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: forwarded as received; see the impl.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocation counts at one moment.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    /// Allocations and reallocations so far.
    pub allocations: u64,
    /// Bytes allocated and not yet freed.
    pub live_bytes: i64,
}

impl Snapshot {
    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: Snapshot) -> Snapshot {
        Snapshot {
            allocations: self.allocations - earlier.allocations,
            live_bytes: self.live_bytes - earlier.live_bytes,
        }
    }
}

/// The counts now (all zero unless [`Counting`] is the global allocator).
pub fn snapshot() -> Snapshot {
    Snapshot {
        allocations: ALLOCATIONS.load(Relaxed),
        live_bytes: ALLOCATED.load(Relaxed) as i64 - FREED.load(Relaxed) as i64,
    }
}

/// Runs `f` and returns what it allocated.
pub fn counting<R>(f: impl FnOnce() -> R) -> (R, Snapshot) {
    let before = snapshot();
    let r = f();
    (r, snapshot().since(before))
}

//! The table of registered mapping ranges that the `SIGBUS` handler reads.
//!
//! Each slot is a sequence lock: a writer makes the count odd, stores the range, makes
//! it even again; a reader takes a range only when it read the same even count before
//! and after. Readers (handlers) only load; they announce themselves in `in_handler`,
//! and [`Table::release`] waits until no reader runs before it gives the slot back,
//! so a reader that found a range never sees its memory unmapped under it. No lock and
//! no allocation anywhere: handlers may run at any point of any thread.
//!
//! The loom model in `tests/loom.rs` compiles this file on its own.

use crate::sync::{fence, AtomicBool, AtomicU64, AtomicUsize, Backoff, Ordering};

struct Slot {
    /// Held by the registration that owns the slot.
    used: AtomicBool,
    /// Odd while the range is being written.
    seq: AtomicU64,
    start: AtomicUsize,
    len: AtomicUsize,
    /// Set once the handler replaced the mapping.
    broken: AtomicBool,
}

macro_rules! slot {
    () => {
        Slot {
            used: AtomicBool::new(false),
            seq: AtomicU64::new(0),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            broken: AtomicBool::new(false),
        }
    };
}

/// `N` slots, and the count of readers running.
pub(crate) struct Table<const N: usize> {
    slots: [Slot; N],
    in_handler: AtomicUsize,
}

impl<const N: usize> Table<N> {
    /// An empty table, for a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Table {
            slots: [const { slot!() }; N],
            in_handler: AtomicUsize::new(0),
        }
    }

    /// An empty table (loom's atomics are made at run time).
    #[cfg(loom)]
    pub fn new() -> Self {
        Table {
            slots: std::array::from_fn(|_| slot!()),
            in_handler: AtomicUsize::new(0),
        }
    }

    /// Takes a free slot for the range `[start, start + len)`; `None` when all are taken.
    pub fn claim(&self, start: usize, len: usize) -> Option<usize> {
        let slot = self.slots.iter().position(|s| {
            s.used
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        })?;
        let s = &self.slots[slot];
        s.broken.store(false, Ordering::Relaxed);
        write(s, start, len);
        Some(slot)
    }

    /// Clears `slot` and gives it back once no reader runs. The range may be unmapped
    /// after this returns.
    pub fn release(&self, slot: usize) {
        let s = &self.slots[slot];
        write(s, 0, 0);
        // Pairs with the fence in `enter`: a reader that enters after this point reads
        // the cleared range; one that entered before is waited for.
        fence(Ordering::SeqCst);
        let backoff = Backoff::new();
        while self.in_handler.load(Ordering::SeqCst) != 0 {
            backoff.spin();
        }
        s.used.store(false, Ordering::Release);
    }

    /// A reader starts: ranges it finds stay mapped until it calls [`leave`](Self::leave).
    pub fn enter(&self) {
        self.in_handler.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// The reader is done.
    pub fn leave(&self) {
        self.in_handler.fetch_sub(1, Ordering::SeqCst);
    }

    /// The registered range that holds `addr`: its slot, start and length.
    pub fn find(&self, addr: usize) -> Option<(usize, usize, usize)> {
        self.slots.iter().enumerate().find_map(|(i, s)| {
            let before = s.seq.load(Ordering::Acquire);
            let (start, len) = (
                s.start.load(Ordering::Relaxed),
                s.len.load(Ordering::Relaxed),
            );
            fence(Ordering::Acquire);
            let stable = before % 2 == 0 && s.seq.load(Ordering::Relaxed) == before;
            (stable && len > 0 && addr.wrapping_sub(start) < len).then_some((i, start, len))
        })
    }

    /// Marks `slot` broken; `false` if it was already (another thread repairs it).
    pub fn break_slot(&self, slot: usize) -> bool {
        !self.slots[slot].broken.swap(true, Ordering::AcqRel)
    }

    /// Undoes [`break_slot`](Self::break_slot) after a failed repair.
    pub fn unbreak(&self, slot: usize) {
        self.slots[slot].broken.store(false, Ordering::Release);
    }

    /// Whether `slot` was marked broken.
    pub fn is_broken(&self, slot: usize) -> bool {
        self.slots[slot].broken.load(Ordering::Acquire)
    }
}

fn write(s: &Slot, start: usize, len: usize) {
    let seq = s.seq.load(Ordering::Relaxed);
    s.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
    fence(Ordering::Release);
    s.start.store(start, Ordering::Relaxed);
    s.len.store(len, Ordering::Relaxed);
    s.seq.store(seq.wrapping_add(2), Ordering::Release);
}

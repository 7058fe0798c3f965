//! Which lane of a region the calling thread records into.
//!
//! A lane is one slab of cells, the same cell indices in each. A thread gets a lane of
//! its own in a region on its first recording there (the lane table in the region,
//! [`table`]): memory and scrape time then follow the threads that record, not the
//! CPUs. The lane is kept per region in a [`Map`] in process memory, indexed by the
//! thread's slot, a small number this process hands each thread; the entry carries
//! the thread's key, unique per thread of this process and new in a forked child, so
//! an entry left by an exited thread or by the parent process is never taken for the
//! current thread's. A thread gives its lanes back when it exits, and a region when it
//! is unmapped; the lanes of a process that died are taken by the next claim that
//! finds them. When every lane is held, threads share lanes by CPU.
//!
//! A lane is never cleared: a new holder adds to what the last one left, so nothing
//! needs folding, and two threads that end up in one lane only contend.

pub(crate) mod table;

use std::cell::{Cell, RefCell};
// The bookkeeping of this process's threads is never in a region: plain atomics, also
// under loom.
use std::sync::atomic::{AtomicU32 as AtomicU32Std, AtomicU64 as AtomicU64Std};
use std::sync::Weak;

use crate::sync::{AtomicU64, Ordering};
use crate::word::LaneOwner;

/// Thread slots of a process: the length of every [`Map`]. The last is shared by the
/// threads that found no slot free.
#[cfg(not(loom))]
pub(crate) const SLOTS: usize = 1024;
#[cfg(loom)]
pub(crate) const SLOTS: usize = 4;
const OVERFLOW: usize = SLOTS - 1;

/// In a map entry's lane: the thread shares lanes by CPU; the low bits are the mask
/// applied to the CPU number.
pub(crate) const SHARED: u32 = 1 << 31;

/// A thread key that no thread has: the calling thread's before it gets one.
const NO_KEY: u32 = u32::MAX;

/// `key << 32 | low`.
#[inline(always)]
const fn join(key: u32, low: u32) -> u64 {
    (key as u64) << 32 | low as u64
}

thread_local! {
    /// The thread's key (high half) and slot (low half).
    static KEY: Cell<u64> = const { Cell::new(join(NO_KEY, 0)) };
    /// The regions the thread holds lanes in, given back when it exits.
    static HELD: Held = const { Held(RefCell::new(Vec::new())) };
}

/// Slots taken, one bit each.
static TAKEN: [AtomicU64Std; SLOTS.div_ceil(64)] =
    [const { AtomicU64Std::new(0) }; SLOTS.div_ceil(64)];
/// The last key handed out.
static LAST_KEY: AtomicU32Std = AtomicU32Std::new(0);
/// The key of the threads sharing the overflow slot.
static OVERFLOW_KEY: AtomicU32Std = AtomicU32Std::new(NO_KEY);

/// A region as a holder of lanes: what a thread's exit gives back.
pub(crate) trait Holder: Send + Sync {
    /// Gives back the lane the thread in `slot` with `key` holds here, if any.
    fn release(&self, slot: usize, key: u32);
}

struct Held(RefCell<Vec<Weak<dyn Holder>>>);

impl Drop for Held {
    fn drop(&mut self) {
        let (key, slot) = split(KEY.try_with(Cell::get).unwrap_or(join(NO_KEY, 0)));
        // Recordings made later in this thread's exit share the overflow slot.
        let _ = KEY.try_with(|k| k.set(join(overflow_key(), OVERFLOW as u32)));
        if key == NO_KEY || slot == OVERFLOW {
            return;
        }
        for holder in self.0.borrow_mut().drain(..) {
            if let Some(h) = holder.upgrade() {
                h.release(slot, key);
            }
        }
        TAKEN[slot / 64].fetch_and(!(1 << (slot % 64)), Ordering::AcqRel);
    }
}

/// The key and slot in a packed [`current`] value.
#[inline(always)]
pub(crate) const fn split(v: u64) -> (u32, usize) {
    ((v >> 32) as u32, v as u32 as usize)
}

/// The calling thread's key (high half) and slot (low half, below [`SLOTS`]). A thread
/// that has none yet has a key no map entry carries.
#[inline(always)]
pub(crate) fn current() -> u64 {
    KEY.with(Cell::get)
}

/// A key no thread of this process had, never [`NO_KEY`] nor 0 (a map entry's key
/// before its first claim).
fn new_key() -> u32 {
    loop {
        let k = LAST_KEY.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if k != 0 && k != NO_KEY {
            return k;
        }
    }
}

fn overflow_key() -> u32 {
    let k = OVERFLOW_KEY.load(Ordering::Acquire);
    if k != NO_KEY {
        return k;
    }
    let new = new_key();
    match OVERFLOW_KEY.compare_exchange(NO_KEY, new, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => new,
        Err(k) => k,
    }
}

/// Takes the lowest free slot, or the overflow slot when none is.
fn take_slot() -> usize {
    for (i, word) in TAKEN.iter().enumerate() {
        let mut cur = word.load(Ordering::Acquire);
        while cur != u64::MAX {
            let bit = cur.trailing_ones() as usize;
            let slot = i * 64 + bit;
            if slot >= OVERFLOW {
                return OVERFLOW;
            }
            match word.compare_exchange(cur, cur | 1 << bit, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return slot,
                Err(now) => cur = now,
            }
        }
    }
    OVERFLOW
}

/// The calling thread's key and slot, given now if it has none (cold: once per thread).
#[cold]
pub(crate) fn assign() -> u64 {
    let cur = current();
    if split(cur).0 != NO_KEY {
        return cur;
    }
    #[cfg(not(loom))]
    watch_forks();
    // A thread without thread-locals any more (it is exiting) shares the overflow slot.
    let own = HELD.try_with(|_| ()).is_ok();
    let slot = if own { take_slot() } else { OVERFLOW };
    let key = if slot == OVERFLOW {
        overflow_key()
    } else {
        new_key()
    };
    let v = join(key, slot as u32);
    let _ = KEY.try_with(|k| k.set(v));
    v
}

/// Has the calling thread give its lane in `holder` back when it exits.
#[cfg_attr(loom, allow(dead_code))]
#[cold]
pub(crate) fn remember(holder: Weak<dyn Holder>) {
    let _ = HELD.try_with(|h| {
        let mut h = h.0.borrow_mut();
        h.retain(|w| w.strong_count() > 0);
        h.push(holder);
    });
}

/// Gives the thread that forks new keys in the child, so that no entry of the
/// parent's maps is taken for the child's: the child claims lanes of its own.
#[cfg(not(loom))]
fn watch_forks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" fn in_child() {
        // Only the forking thread runs in the child: every other slot is free again.
        let (key, slot) = split(current());
        for w in &TAKEN {
            w.store(0, Ordering::Relaxed);
        }
        OVERFLOW_KEY.store(NO_KEY, Ordering::Relaxed);
        if key == NO_KEY {
            return;
        }
        if slot != OVERFLOW {
            TAKEN[slot / 64].fetch_or(1 << (slot % 64), Ordering::Relaxed);
        }
        let key = if slot == OVERFLOW {
            overflow_key()
        } else {
            new_key()
        };
        let _ = KEY.try_with(|k| k.set(join(key, slot as u32)));
    }
    ONCE.call_once(|| {
        // SAFETY: registers a handler that only touches atomics and this thread's
        // `const`-initialized thread-local, which need no allocation or lock.
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    });
}

/// The calling process as a lane holder: its pid and start time (read once per pid).
pub(crate) fn me() -> LaneOwner {
    static ME: AtomicU64Std = AtomicU64Std::new(0);
    let pid = std::process::id();
    let cached = LaneOwner(ME.load(Ordering::Relaxed));
    if cached.pid() == pid {
        return cached;
    }
    let started = crate::procstat::Stat::of_self()
        .and_then(|s| s.start_time())
        .unwrap_or(0);
    let me = LaneOwner::new(pid, started);
    ME.store(me.0, Ordering::Relaxed);
    me
}

/// Per region: the lane each thread slot of this process holds there, as the thread's
/// key (high half) and the lane (low half; [`SHARED`] and a mask when sharing by CPU).
/// An entry whose key is not the calling thread's is not its lane.
pub(crate) struct Map {
    entries: Box<[AtomicU64]>,
}

impl Map {
    /// A map with no lane claimed.
    pub fn new() -> Map {
        Map {
            entries: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The entries, [`SLOTS`] of them, for the recording path.
    pub fn as_ptr(&self) -> *const AtomicU64 {
        self.entries.as_ptr()
    }

    /// The entry of `slot`.
    pub fn entry(&self, slot: usize) -> &AtomicU64 {
        &self.entries[slot % SLOTS]
    }

    /// The lanes of its own that any thread holds here.
    pub fn own_lanes(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries.iter().filter_map(|e| {
            let (key, lane) = split(e.load(Ordering::Acquire));
            (key != 0 && lane as u32 & SHARED == 0).then_some(lane)
        })
    }
}

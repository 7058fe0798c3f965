//! The calling thread's recent hits: for each of a few families, the label values of its
//! last lookup and where they found their series, so that a lookup that repeats one
//! finds its series without hashing the values or probing the directory. The values
//! are compared in full; the place is used only while [`Place::unchanged`] holds, so a
//! series that was removed (here or by another process), or whose slot went to another
//! series, is looked up again. Nothing here is shared between threads.
//!
//! The entries are plain `Cell`s with a constant initial value and nothing to drop, so
//! reaching them is one thread-pointer-relative address, with no lazy initialisation.

use std::cell::Cell;

use crate::directory::Place;
use crate::key;

/// Families remembered per thread (by their id, modulo this).
const ENTRIES: usize = 16;
/// Label values a remembered lookup may have.
const MAX_VALUES: usize = 8;
/// Lookups of other values that a remembered one outlives: the next one replaces it.
/// So lookups that seldom repeat (many series in turn) seldom pay for remembering, and
/// one repeated among others stays remembered between them.
const KEEP_FOR: u32 = 3;

/// One family's last lookup.
struct Hit {
    /// The family's id; 0 for none.
    family: Cell<u64>,
    /// Number of values.
    n: Cell<usize>,
    /// Lookups of other values since this one was remembered (at most [`KEEP_FOR`]).
    misses: Cell<u32>,
    /// The values as `key::words` gives them.
    values: [Cell<key::Words>; MAX_VALUES],
    place: Cell<Option<Place>>,
}

impl Hit {
    const fn new() -> Hit {
        Hit {
            family: Cell::new(0),
            n: Cell::new(0),
            misses: Cell::new(0),
            values: [const { Cell::new(key::Words::EMPTY) }; MAX_VALUES],
            place: Cell::new(None),
        }
    }
}

thread_local! {
    static HITS: [Hit; ENTRIES] = const { [const { Hit::new() }; ENTRIES] };
}

/// A new family id: never 0, never given twice in a process.
pub(crate) fn new_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Where the last lookup of `values` in family `id` on this thread found its series,
/// if that was the family's last lookup here.
#[inline]
pub(crate) fn get(id: u64, values: &[&str]) -> Option<Place> {
    HITS.try_with(|hits| {
        let hit = &hits[id as usize % ENTRIES];
        if hit.family.get() != id || hit.n.get() != values.len() {
            return None;
        }
        for (v, w) in values.iter().zip(&hit.values) {
            if !w.get().of(v.as_bytes()) {
                return None;
            }
        }
        hit.place.get()
    })
    .ok()
    .flatten()
}

/// Remembers that `values` found `place` in family `id`, unless the lookup remembered
/// in its entry has outlived fewer than [`KEEP_FOR`] others. Values too many to
/// remember are not; values too long are not either, and empty the entry, which is
/// written in place and names no family until it is whole.
pub(crate) fn put(id: u64, values: &[&str], place: Place) {
    if values.len() > MAX_VALUES {
        return;
    }
    let _ = HITS.try_with(|hits| {
        let hit = &hits[id as usize % ENTRIES];
        let misses = hit.misses.get();
        if hit.family.get() != 0 && misses < KEEP_FOR {
            hit.misses.set(misses + 1);
            return;
        }
        hit.misses.set(0);
        hit.family.set(0);
        for (v, w) in values.iter().zip(&hit.values) {
            match key::words(v.as_bytes()) {
                Some(x) => w.set(x),
                None => return,
            }
        }
        hit.n.set(values.len());
        hit.place.set(Some(place));
        hit.family.set(id);
    });
}

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
/// remember are not; values too long (over 16 bytes) are not either, and leave the
/// entry they were due to replace empty: it is written in place and names no family
/// until it is whole.
#[inline]
pub(crate) fn put(id: u64, values: &[&str], place: Place) {
    if values.len() > MAX_VALUES {
        return;
    }
    let _ = HITS.try_with(|hits| {
        let hit = &hits[id as usize % ENTRIES];
        let misses = hit.misses.get();
        if hit.family.get() != 0 && misses < KEEP_FOR {
            hit.misses.set(misses + 1);
        } else {
            replace(hit, id, values, place);
        }
    });
}

/// Writes `hit` anew: `values` found `place` in family `id`.
#[inline(never)]
fn replace(hit: &Hit, id: u64, values: &[&str], place: Place) {
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
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::directory::{self, Checks, Ident, NO_OWNER};
    use crate::region::{Options, Region};

    const ID: Ident = Ident {
        family: 0,
        flags: 0,
        owner: NO_OWNER,
    };

    /// Makes the one-value series `v` and returns where a lookup finds it.
    fn place(r: &Region, v: &str) -> Place {
        let h = key::hash(ID.family, [v].into_iter());
        let checks = Checks {
            at_limit: || false,
            charge: |_| true,
            refund: |_, _| {},
            gone: |_| false,
        };
        directory::insert(r, h, ID, [v].into_iter(), 1, (1, 0.0), checks).unwrap();
        directory::find_placed(r, h, ID, [v].into_iter()).unwrap()
    }

    #[test]
    fn a_remembered_lookup_outlives_three_others_and_the_fourth_replaces_it() {
        let r = Region::anonymous(&Options {
            shards: Some(1),
            cells_per_shard: 1024,
            series_capacity: 16,
            family_capacity: 4,
            process_capacity: 4,
            arena_bytes: 1 << 14,
            ..Options::default()
        })
        .unwrap();
        let [a, b, c, d, e] = ["a", "b", "c", "d", "e"].map(|v| place(&r, v));
        let id = new_id();
        put(id, &["a"], a);
        assert_eq!(get(id, &["a"]), Some(a));
        for (v, p) in [("b", b), ("c", c), ("d", d)] {
            put(id, &[v], p);
            assert_eq!(get(id, &[v]), None, "{v}");
            assert_eq!(get(id, &["a"]), Some(a), "after {v}");
        }
        put(id, &["e"], e);
        assert_eq!(get(id, &["e"]), Some(e));
        assert_eq!(get(id, &["a"]), None);
        // Values too long to remember, due to replace the entry, leave it empty.
        for _ in 0..KEEP_FOR {
            put(id, &["b"], b);
        }
        assert_eq!(get(id, &["e"]), Some(e));
        put(id, &["x".repeat(17).as_str()], a);
        assert_eq!(get(id, &["e"]), None);
    }
}

//! The calling thread's recent hits: for each of a few families, the label values of its
//! last lookup and where they found their series, so that a lookup that repeats one
//! finds its series without hashing the values or probing the directory. The values
//! are compared in full; the place is used only while [`Place::unchanged`] holds, so a
//! series that was removed (here or by another process), or whose slot went to another
//! series, is looked up again. Nothing here is shared between threads.

use std::cell::RefCell;

use crate::directory::Place;
use crate::key;

/// Families remembered per thread (by their id, modulo this).
const ENTRIES: usize = 16;
/// Label values a remembered lookup may have.
const MAX_VALUES: usize = 8;

/// One family's last lookup.
#[derive(Clone, Copy)]
struct Hit {
    /// The family's id; 0 for none.
    family: u64,
    /// Number of values.
    n: usize,
    /// The values as `key::words` gives them.
    values: [key::Words; MAX_VALUES],
    place: Option<Place>,
}

const EMPTY: Hit = Hit {
    family: 0,
    n: 0,
    values: [key::Words::EMPTY; MAX_VALUES],
    place: None,
};

thread_local! {
    static HITS: RefCell<[Hit; ENTRIES]> = const { RefCell::new([EMPTY; ENTRIES]) };
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
    HITS.with(|hits| {
        let hits = hits.try_borrow().ok()?;
        let hit = &hits[id as usize % ENTRIES];
        if hit.family != id || hit.n != values.len() {
            return None;
        }
        for (v, w) in values.iter().zip(&hit.values) {
            if key::words(v.as_bytes())? != *w {
                return None;
            }
        }
        hit.place
    })
}

/// Remembers that `values` found `place` in family `id`; values too many or too long
/// to remember are not.
pub(crate) fn put(id: u64, values: &[&str], place: Place) {
    if values.len() > MAX_VALUES {
        return;
    }
    let mut words = [key::Words::EMPTY; MAX_VALUES];
    for (v, w) in values.iter().zip(&mut words) {
        match key::words(v.as_bytes()) {
            Some(x) => *w = x,
            None => return,
        }
    }
    HITS.with(|hits| {
        if let Ok(mut hits) = hits.try_borrow_mut() {
            hits[id as usize % ENTRIES] = Hit {
                family: id,
                n: values.len(),
                values: words,
                place: Some(place),
            };
        }
    })
}

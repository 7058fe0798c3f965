//! The series directory: a lock-free open-addressing table in the region that maps
//! (family, label values, owner) to a series record.
//!
//! A slot is one word: a [`TaggedRef`] (top half of the series' hash, record offset),
//! `0` when empty and [`TOMBSTONE`] once its series was removed. A record is written to
//! fresh arena words and published by one CAS of an empty slot, so a process killed
//! half way leaves at most unused arena behind, never a half-made series. Two creators
//! of one series probe the same slots in the same order; the loser of the CAS finds the
//! winner's record in that slot and uses it.
//!
//! Record words: hash; a [`FamilyWord`] (family, flags); owner; a [`CellWord`] (first
//! cell, pid); float cell (`0` none, else cell + 1, made on first use); key length; key
//! bytes.
//!
//! The directory keeps the header's count of live series. A family's own count, and
//! its series limit, are the caller's: the directory never touches the family table.

use crate::key;
use crate::region::{self, Region};
use crate::sync::{AtomicU64, Ordering};
use crate::word::{CellWord, FamilyWord, TaggedRef};

/// A removed series' slot: skipped by lookups, never reused.
pub(crate) const TOMBSTONE: u64 = u64::MAX;
/// Record flag: the family's overflow series.
pub(crate) const OVERFLOW: u32 = 1;
/// Owner of series shared by all processes.
pub(crate) const NO_OWNER: u64 = u64::MAX;

const REC_HASH: usize = 0;
const REC_FAMILY: usize = 1;
const REC_OWNER: usize = 2;
const REC_CELL: usize = 3;
const REC_FLOAT: usize = 4;
const REC_KEY_LEN: usize = 5;
/// Words before the key bytes.
const REC_HEAD: usize = 6;

/// What identifies a series besides its label values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ident {
    /// Family index.
    pub family: u32,
    /// [`OVERFLOW`] or 0.
    pub flags: u32,
    /// Owning process, or [`NO_OWNER`].
    pub owner: u64,
}

impl Ident {
    /// Whether this is a family's overflow series.
    #[inline]
    pub fn is_overflow(&self) -> bool {
        self.flags & OVERFLOW != 0
    }
}

/// A series found or made: its record (absolute word index) and first cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Series {
    pub record: usize,
    pub cell: u32,
}

/// A series that [`insert`] found or made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Inserted {
    /// The series.
    pub series: Series,
    /// Whether this call made it (and so counts it for its family).
    pub made: bool,
}

/// Why a series could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The family is at its series limit.
    Limit,
    /// The region has no room (cells, arena or directory), or the family has used
    /// its share of the arena.
    Full,
}

/// A record as read from the region, bounds-checked.
#[derive(Clone, Copy)]
pub(crate) struct Record {
    pub at: usize,
    pub ident: Ident,
    pub cell: u32,
    pub pid: u32,
    pub key_at: usize,
    pub key_len: usize,
}

impl Record {
    /// Reads the record a slot word points to; `None` for empty, removed or out of bounds.
    #[inline]
    pub fn read(region: &Region, slot: u64) -> Option<Record> {
        if slot == 0 || slot == TOMBSTONE {
            return None;
        }
        let off = TaggedRef(slot).offset();
        let at = region.arena_span(off, REC_HEAD as u64)?;
        let w = |i: usize| region.word(at + i).load(Ordering::Relaxed);
        let key_len = w(REC_KEY_LEN);
        region.arena_span(off + REC_HEAD as u64, key_len.div_ceil(8))?;
        let (fam, cell) = (FamilyWord(w(REC_FAMILY)), CellWord(w(REC_CELL)));
        Some(Record {
            at,
            ident: Ident {
                family: fam.family(),
                flags: fam.flags(),
                owner: w(REC_OWNER),
            },
            cell: cell.cell(),
            pid: cell.pid(),
            key_at: at + REC_HEAD,
            key_len: key_len as usize,
        })
    }

    /// Calls `f` with the stored key.
    pub fn with_key<R>(&self, region: &Region, f: impl FnOnce(&[u8]) -> R) -> R {
        region.with_bytes(self.key_at, self.key_len, f)
    }

    /// The float cell of the record at absolute word `at`, if one was made and is in
    /// range.
    #[inline]
    pub fn float_cell(region: &Region, at: usize) -> Option<u32> {
        let f = region.word(at + REC_FLOAT).load(Ordering::Acquire);
        (f > 0 && f <= region.cell_use().0).then(|| (f - 1) as u32)
    }

    /// Gives the record at `at` the float cell `cell` unless it has one already;
    /// returns the record's float cell afterwards.
    pub fn set_float_cell(region: &Region, at: usize, cell: u32) -> Option<u32> {
        match region.word(at + REC_FLOAT).compare_exchange(
            0,
            cell as u64 + 1,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Some(cell),
            Err(_) => Record::float_cell(region, at),
        }
    }
}

fn slot_index(region: &Region, hash: u64, i: usize) -> usize {
    region.layout.dir_off + ((hash as usize).wrapping_add(i) & (region.layout.series - 1))
}

#[inline]
fn is_match<'a>(
    region: &Region,
    slot: u64,
    hash: u64,
    ident: Ident,
    values: impl Iterator<Item = &'a str>,
) -> Option<Series> {
    let slot = TaggedRef(slot);
    if !slot.tag_matches(hash) || slot.0 == TOMBSTONE {
        return None;
    }
    // Cheap words first: the full hash, then family and owner, then the key.
    let off = slot.offset();
    let head: &[_; REC_HEAD] = region.arena_array(off)?;
    let w = |i: usize| head[i].load(Ordering::Relaxed);
    if w(REC_HASH) != hash
        || w(REC_FAMILY) != FamilyWord::new(ident.family, ident.flags).0
        || w(REC_OWNER) != ident.owner
    {
        return None;
    }
    let key_len = w(REC_KEY_LEN);
    let key_at = region.arena_span(off + REC_HEAD as u64, key_len.div_ceil(8))?;
    region
        .with_bytes(key_at, key_len as usize, |k| key::matches(k, values))
        .then_some(Series {
            record: key_at - REC_HEAD,
            cell: CellWord(w(REC_CELL)).cell(),
        })
}

/// Finds a series without allocating.
#[inline]
pub(crate) fn find<'a, I>(region: &Region, hash: u64, ident: Ident, values: I) -> Option<Series>
where
    I: Iterator<Item = &'a str> + Clone,
{
    find_placed(region, hash, ident, values).map(|p| p.series)
}

/// A series where [`find_placed`] found it: what [`Place::unchanged`] checks again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    pub series: Series,
    /// Absolute word index of its directory slot.
    slot: usize,
    /// The slot word.
    slot_word: u64,
    /// The record's [`CellWord`].
    cell_word: u64,
}

impl Place {
    /// Whether the slot still holds this record with these cells: false once the series
    /// was removed (its slot is a tombstone) or the slot or record were given to
    /// another series.
    #[inline]
    pub fn unchanged(&self, region: &Region) -> bool {
        region.word(self.slot).load(Ordering::Acquire) == self.slot_word
            && region
                .word(self.series.record + REC_CELL)
                .load(Ordering::Relaxed)
                == self.cell_word
    }
}

/// Finds a series without allocating, with its place.
#[inline]
pub(crate) fn find_placed<'a, I>(
    region: &Region,
    hash: u64,
    ident: Ident,
    values: I,
) -> Option<Place>
where
    I: Iterator<Item = &'a str> + Clone,
{
    for i in 0..region.layout.series {
        let at = slot_index(region, hash, i);
        let slot = region.word(at).load(Ordering::Acquire);
        if slot == 0 {
            return None;
        }
        if let Some(series) = is_match(region, slot, hash, ident, values.clone()) {
            // The cell is taken from the word the place remembers.
            let cell_word = region
                .word(series.record + REC_CELL)
                .load(Ordering::Relaxed);
            return Some(Place {
                series: Series {
                    record: series.record,
                    cell: CellWord(cell_word).cell(),
                },
                slot: at,
                slot_word: slot,
                cell_word,
            });
        }
    }
    None
}

/// Finds or inserts a series. Before making one, `at_limit` says whether the family
/// already has as many series as it may, and `charge(words)` whether the family may
/// take that many more arena words for the record; a series this call made is then
/// the caller's to count.
pub(crate) fn insert<'a, I>(
    region: &Region,
    hash: u64,
    ident: Ident,
    values: I,
    cells: usize,
    pid: u32,
    (at_limit, charge): (impl Fn() -> bool, impl Fn(u64) -> bool),
) -> Result<Inserted, Refused>
where
    I: Iterator<Item = &'a str> + Clone,
{
    // The record prepared for publication: its slot word and series.
    let mut prepared: Option<(TaggedRef, Series)> = None;
    for i in 0..region.layout.series {
        let w = region.word(slot_index(region, hash, i));
        let mut slot = w.load(Ordering::Acquire);
        // At the limit, the slot is looked at once more: the same series may have
        // just been made there by another creator, which counted it.
        if slot == 0 && prepared.is_none() && at_limit() {
            slot = w.load(Ordering::Acquire);
            if slot == 0 {
                return Err(Refused::Limit);
            }
        }
        if slot == 0 {
            // The limit is counted once the series is in, so creators of one series
            // never push each other to the overflow series; creators of different new
            // series at the same moment can pass it by as many as they are.
            let (word, series) = match prepared {
                Some(p) => p,
                None => {
                    let p = make_record(region, hash, ident, values.clone(), cells, pid, &charge)
                        .ok_or(Refused::Full)?;
                    prepared = Some(p);
                    p
                }
            };
            match w.compare_exchange(0, word.0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if !ident.is_overflow() {
                        region.count(region::H_SERIES_LIVE);
                    }
                    return Ok(Inserted { series, made: true });
                }
                Err(now) => slot = now,
            }
        }
        if let Some(series) = is_match(region, slot, hash, ident, values.clone()) {
            return Ok(Inserted {
                series,
                made: false,
            });
        }
    }
    Err(Refused::Full)
}

fn make_record<'a>(
    region: &Region,
    hash: u64,
    ident: Ident,
    values: impl Iterator<Item = &'a str> + Clone,
    cells: usize,
    pid: u32,
    charge: impl Fn(u64) -> bool,
) -> Option<(TaggedRef, Series)> {
    let mut bytes = Vec::with_capacity(key::encoded_len(values.clone()));
    key::encode(values, &mut bytes);
    let words = REC_HEAD + bytes.len().div_ceil(8);
    if !charge(words as u64) {
        return None;
    }
    let off = region.alloc_arena(words)?;
    let cell = region.alloc_cells(cells)?;
    let at = region.layout.arena_off + off as usize;
    let mut head = [0; REC_HEAD];
    head[REC_HASH] = hash;
    head[REC_FAMILY] = FamilyWord::new(ident.family, ident.flags).0;
    head[REC_OWNER] = ident.owner;
    head[REC_CELL] = CellWord::new(cell, pid).0;
    head[REC_KEY_LEN] = bytes.len() as u64;
    for (i, v) in head.into_iter().enumerate() {
        region.word(at + i).store(v, Ordering::Relaxed);
    }
    region.write_bytes(at + REC_HEAD, &bytes);
    Some((TaggedRef::new(hash, off), Series { record: at, cell }))
}

/// Removes a series; `false` if it was not there.
pub(crate) fn remove<'a, I>(region: &Region, hash: u64, ident: Ident, values: I) -> bool
where
    I: Iterator<Item = &'a str> + Clone,
{
    for i in 0..region.layout.series {
        let w = region.word(slot_index(region, hash, i));
        let slot = w.load(Ordering::Acquire);
        if slot == 0 {
            return false;
        }
        if is_match(region, slot, hash, ident, values.clone()).is_some() {
            return tombstone(region, w, slot, ident);
        }
    }
    false
}

fn tombstone(region: &Region, w: &AtomicU64, slot: u64, ident: Ident) -> bool {
    let done = w
        .compare_exchange(slot, TOMBSTONE, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok();
    if done && !ident.is_overflow() {
        region::saturating_sub(region.word(region::H_SERIES_LIVE), 1);
    }
    done
}

/// Removes every series of `family` for which `keep` is false; returns how many,
/// overflow series not counted (as no live count counts them).
pub(crate) fn retain(region: &Region, family: u32, mut keep: impl FnMut(&Record) -> bool) -> u64 {
    let mut removed = 0;
    for i in 0..region.layout.series {
        let w = region.word(region.layout.dir_off + i);
        let slot = w.load(Ordering::Acquire);
        if let Some(rec) = Record::read(region, slot) {
            if rec.ident.family == family
                && !keep(&rec)
                && tombstone(region, w, slot, rec.ident)
                && !rec.ident.is_overflow()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// Calls `f` with the index of every used slot (neither empty nor removed) and its
/// record, `None` where the record lies outside the arena.
pub(crate) fn for_each_slot(region: &Region, mut f: impl FnMut(usize, Option<Record>)) {
    let l = &region.layout;
    for (i, w) in region.words()[l.dir_off..l.dir_off + l.series]
        .iter()
        .enumerate()
    {
        let slot = w.load(Ordering::Acquire);
        if slot == 0 || slot == TOMBSTONE {
            continue;
        }
        f(i, Record::read(region, slot));
    }
}

/// Calls `f` for every live record.
pub(crate) fn for_each(region: &Region, mut f: impl FnMut(Record)) {
    for_each_slot(region, |_, rec| {
        if let Some(rec) = rec {
            f(rec);
        }
    });
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::region::Options;

    fn region() -> Region {
        Region::anonymous(&Options {
            shards: Some(2),
            cells_per_shard: 1024,
            series_capacity: 16,
            family_capacity: 4,
            process_capacity: 4,
            arena_bytes: 1 << 14,
            file_mode: 0o600,
            ..Options::default()
        })
        .unwrap()
    }

    const ID: Ident = Ident {
        family: 1,
        flags: 0,
        owner: NO_OWNER,
    };

    fn h(v: &[&str]) -> u64 {
        key::hash(ID.family, v.iter().copied())
    }

    /// [`super::insert`] with a series limit on the family's records in the directory;
    /// `None` for no limit.
    fn insert<'a>(
        r: &Region,
        hash: u64,
        ident: Ident,
        values: impl Iterator<Item = &'a str> + Clone,
        cells: usize,
        pid: u32,
        limit: Option<u32>,
    ) -> Result<Series, Refused> {
        let at_limit = || {
            let mut live = 0;
            for_each(r, |rec| {
                live += (rec.ident.family == ident.family && !rec.ident.is_overflow()) as u32;
            });
            limit.is_some_and(|l| live >= l)
        };
        super::insert(r, hash, ident, values, cells, pid, (at_limit, |_| true))
            .map(|done| done.series)
    }

    #[test]
    fn insert_find_remove() {
        let r = region();
        let v = ["gpt-4", "wechat"];
        assert!(find(&r, h(&v), ID, v.iter().copied()).is_none());
        let s = insert(&r, h(&v), ID, v.iter().copied(), 1, 1, Some(10)).unwrap();
        assert_eq!(find(&r, h(&v), ID, v.iter().copied()), Some(s));
        assert_eq!(
            insert(&r, h(&v), ID, v.iter().copied(), 1, 1, Some(10)),
            Ok(s)
        );
        let other = Ident { owner: 3, ..ID };
        assert!(
            find(&r, h(&v), other, v.iter().copied()).is_none(),
            "owner is part of the key"
        );
        assert!(remove(&r, h(&v), ID, v.iter().copied()));
        assert!(!remove(&r, h(&v), ID, v.iter().copied()));
        assert!(find(&r, h(&v), ID, v.iter().copied()).is_none());
        let again = insert(&r, h(&v), ID, v.iter().copied(), 1, 1, Some(10)).unwrap();
        assert_ne!(
            again.cell, s.cell,
            "a re-made series starts from fresh cells"
        );
    }

    #[test]
    fn equal_hashes_are_told_apart_by_key() {
        let r = region();
        let (a, b) = (["a"], ["b"]);
        let hash = 0xdead_beef_0000_0000;
        let sa = insert(&r, hash, ID, a.iter().copied(), 1, 1, None).unwrap();
        let sb = insert(&r, hash, ID, b.iter().copied(), 1, 1, None).unwrap();
        assert_ne!(sa, sb);
        assert_eq!(find(&r, hash, ID, b.iter().copied()), Some(sb));
    }

    #[test]
    fn limit_and_full_directory_are_refused() {
        let r = region();
        for i in 0..3 {
            let v = [format!("v{i}")];
            let v: Vec<&str> = v.iter().map(String::as_str).collect();
            insert(&r, h(&v), ID, v.iter().copied(), 1, 1, Some(3)).unwrap();
        }
        assert_eq!(
            insert(&r, h(&["x"]), ID, ["x"].into_iter(), 1, 1, Some(3)),
            Err(Refused::Limit)
        );
        let mut full = false;
        for i in 0..32 {
            let v = [format!("w{i}")];
            if insert(&r, h(&[&v[0]]), ID, [v[0].as_str()].into_iter(), 1, 1, None).is_err() {
                full = true;
                break;
            }
        }
        assert!(full, "a 16-slot directory refuses the 17th series");
    }
}

//! The series directory: a lock-free open-addressing table in the region that maps
//! (family, label values, owner) to a series record.
//!
//! A slot is one word: a [`TaggedRef`] (top half of the series' hash, record offset),
//! `0` when empty and [`TOMBSTONE`] once its series was removed. A record is written to
//! fresh arena words (or a reclaimed record of its size) and published in two steps:
//! one CAS puts it in the first free slot (empty or tombstone) of its probe sequence
//! marked pending ([`PENDING`] in the offset), which lookups skip; the creator then reads the sequence again and, if no
//! other record of the same series is live or pending before its own, one CAS makes it
//! live. So removed slots are reused, two creators of one series never both publish it,
//! and a process killed half way leaves at most a pending slot, which the next creator
//! of that series turns into a tombstone, never a half-made series.
//!
//! Every series lies within [`Region::probes`] slots of its home slot (header word
//! `H_PROBES`, raised before a slot farther out is taken), so a lookup stops there or
//! at an empty slot however many series came and went.
//!
//! Record words: hash; a [`FamilyWord`] (family, flags); owner; a [`CellWord`] (first
//! cell, pid); float cell (`0` none, else cell + 1, made on first use); exemplar slots;
//! key length; creation time; generation; key bytes.
//!
//! Removal makes the slot a tombstone, then retires the record: its generation goes
//! up by one (odd: retired), its hash word takes the run of cells it had (count in the
//! high half, first cell in the low half) and its cell word becomes dead (pid 0; the
//! low half links the region's list of retired records), which fails every handle's
//! check and every lookup. [`reclaim`] gives the cells of retired records back once no
//! write that passed a check can still land ([`Region::quiesce`]), and the records
//! themselves to the free list of their size, whence a creation takes them before it
//! bumps the arena; the generation goes up by one again when a record is reused
//! (even: live). A generation never repeats, so a handle's guard (the generation it
//! was made at), a remembered lookup ([`Place`]) or a lookup that raced a reuse
//! (it reads the generation before and after the record, as a sequence lock) fails
//! its check on a reused record.
//!
//! The directory keeps the header's count of live series. A family's own count, and
//! its series limit, are the caller's: the directory never touches the family table.

use crate::exemplar;
use crate::key;
use crate::region::{self, Region};
use crate::sync::{fence, AtomicU64, Backoff, Ordering};
use crate::word::{CellWord, FamilyWord, TaggedRef};

/// A removed series' slot: skipped by lookups, reused by insertions.
pub(crate) const TOMBSTONE: u64 = u64::MAX;
/// Offset bit of a slot whose record is not published yet: lookups skip it (the offset
/// lies past the arena), creators of the same series wait for it.
pub(crate) const PENDING: u64 = 1 << 31;
/// Times a creator waits for another's pending record of its series before it checks
/// whether the record's maker is gone (killed), and if so turns it into a tombstone.
#[cfg(not(loom))]
const PENDING_WAITS: u32 = 1 << 12;
#[cfg(loom)]
const PENDING_WAITS: u32 = 2;
/// Times a creator waits before it takes a pending record for abandoned whoever made
/// it: a maker stalled that long, or a slot word the file holds but no creator wrote,
/// must not hold a lookup forever. A maker still running finds its publication refused
/// and looks again, so the series is made once either way.
const PENDING_GIVE_UP: u32 = PENDING_WAITS * 16;
/// Record flag: the family's overflow series.
pub(crate) const OVERFLOW: u32 = 1;
/// Owner of series shared by all processes.
pub(crate) const NO_OWNER: u64 = u64::MAX;

const REC_HASH: usize = 0;
const REC_FAMILY: usize = 1;
const REC_OWNER: usize = 2;
const REC_CELL: usize = 3;
const REC_FLOAT: usize = 4;
const REC_EXEMPLARS: usize = 5;
const REC_KEY_LEN: usize = 6;
const REC_CREATED: usize = 7;
const REC_GEN: usize = 8;
/// Words before the key bytes.
const REC_HEAD: usize = 9;
/// Retired records a creation lets accumulate before it reclaims their cells.
const RECLAIM_AT: u64 = 256;
/// How long a creation that found no room waits for the retired records another
/// process is reclaiming.
#[cfg(not(loom))]
const RECLAIM_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

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

/// A series found or made: its record (absolute word index), first cell and the
/// record's generation when it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Series {
    pub record: usize,
    pub cell: u32,
    pub gen: u64,
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
    /// The record's generation when it was read (even).
    pub gen: u64,
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
        let gen = region.word(at + REC_GEN).load(Ordering::Acquire);
        let w = |i: usize| region.word(at + i).load(Ordering::Relaxed);
        let key_len = w(REC_KEY_LEN);
        region.arena_span(off + REC_HEAD as u64, key_len.div_ceil(8))?;
        let (fam, cell) = (FamilyWord(w(REC_FAMILY)), CellWord(w(REC_CELL)));
        if cell.pid() == 0 || gen & 1 == 1 {
            return None; // retired
        }
        Some(Record {
            at,
            gen,
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

    /// Whether the record is still the series it was read as: not retired (nor
    /// reused) since, so what was read of it (its key included) was its own.
    pub fn current(&self, region: &Region) -> bool {
        fence(Ordering::Acquire);
        region.word(self.at + REC_GEN).load(Ordering::Relaxed) == self.gen
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

    /// The exemplar slots (`words` words) of the record at absolute word `at`, if they
    /// were made, that many, and are in range: their absolute word index.
    #[inline]
    pub fn exemplars(region: &Region, at: usize, words: usize) -> Option<usize> {
        let (off, n) = split_exemplars(region.word(at + REC_EXEMPLARS).load(Ordering::Acquire));
        if n * exemplar::SLOT_WORDS != words {
            return None;
        }
        region.arena_span(off, words as u64)
    }

    /// Whether the record at `at` names exemplar slots, in range or not.
    pub fn has_exemplars(region: &Region, at: usize) -> bool {
        region.word(at + REC_EXEMPLARS).load(Ordering::Relaxed) != 0
    }

    /// Gives the record at `at` the exemplar slots (`words` words) at arena offset `off`
    /// unless it has some already; whether it took them.
    pub fn set_exemplars(region: &Region, at: usize, off: u64, words: usize) -> bool {
        let n = (words / exemplar::SLOT_WORDS) as u64;
        // Release: whoever loads the offset sees the slots zeroed.
        region
            .word(at + REC_EXEMPLARS)
            .compare_exchange(0, n << 32 | off, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// When the series of the record at `at` was made (or last reset), in seconds
    /// since the Unix epoch, as stored (any `f64`: read from the file).
    pub fn created(region: &Region, at: usize) -> f64 {
        f64::from_bits(region.word(at + REC_CREATED).load(Ordering::Relaxed))
    }

    /// Sets the creation time of the series of the record at `at` (a reset).
    pub fn set_created(region: &Region, at: usize, created: f64) {
        region
            .word(at + REC_CREATED)
            .store(created.to_bits(), Ordering::Relaxed);
    }

    /// The family index of the record at `at`.
    pub fn family_of(region: &Region, at: usize) -> u32 {
        FamilyWord(region.word(at + REC_FAMILY).load(Ordering::Relaxed)).family()
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
    matches_at(region, slot.offset(), hash, ident, values)
}

/// The record at arena offset `off`, if it is the series (`hash`, `ident`, `values`).
/// A pending slot's offset (with [`PENDING`]) lies past the arena: no match.
#[inline]
fn matches_at<'a>(
    region: &Region,
    off: u64,
    hash: u64,
    ident: Ident,
    values: impl Iterator<Item = &'a str>,
) -> Option<Series> {
    // Cheap words first: the full hash, then family and owner, then the key, all read
    // between two reads of the generation that must agree (even: not retired).
    let head: &[_; REC_HEAD] = region.arena_array(off)?;
    let gen = head[REC_GEN].load(Ordering::Acquire);
    let w = |i: usize| head[i].load(Ordering::Relaxed);
    if gen & 1 == 1
        || w(REC_HASH) != hash
        || w(REC_FAMILY) != FamilyWord::new(ident.family, ident.flags).0
        || w(REC_OWNER) != ident.owner
    {
        return None;
    }
    let key_len = w(REC_KEY_LEN);
    let key_at = region.arena_span(off + REC_HEAD as u64, key_len.div_ceil(8))?;
    let cell = CellWord(w(REC_CELL));
    let found = region.with_bytes(key_at, key_len as usize, |k| key::matches(k, values));
    fence(Ordering::Acquire);
    (found && head[REC_GEN].load(Ordering::Relaxed) == gen).then_some(Series {
        record: key_at - REC_HEAD,
        cell: cell.cell(),
        gen,
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
    /// The series' guard word (see [`guard`]) and what it holds while the series
    /// lives.
    #[inline]
    pub fn guard(&self) -> (usize, u64) {
        (self.series.record + REC_GEN, self.series.gen)
    }

    /// Whether the slot still holds this record at this generation with these cells:
    /// false once the series was removed (its slot is a tombstone) or the slot or
    /// record were given to another series.
    #[inline]
    pub fn unchanged(&self, region: &Region) -> bool {
        let at = self.series.record;
        region.word(self.slot).load(Ordering::Acquire) == self.slot_word
            && region.word(at + REC_CELL).load(Ordering::Relaxed) == self.cell_word
            && region.word(at + REC_GEN).load(Ordering::Relaxed) == self.series.gen
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
    for i in 0..region.probes() {
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
            let place = Place {
                series: Series {
                    cell: CellWord(cell_word).cell(),
                    ..series
                },
                slot: at,
                slot_word: slot,
                cell_word,
            };
            fence(Ordering::Acquire);
            if CellWord(cell_word).pid() == 0 || !place.unchanged(region) {
                continue; // retired since the match: its slot is a tombstone now
            }
            return Some(place);
        }
    }
    None
}

/// Whether `slot` holds a pending record.
#[inline]
fn is_pending(slot: u64) -> bool {
    slot != TOMBSTONE && slot & PENDING != 0
}

/// The pid of the process that made the record of pending slot word `slot`.
fn maker(region: &Region, slot: u64) -> Option<u32> {
    let off = TaggedRef(slot & !PENDING).offset();
    let head: &[_; REC_HEAD] = region.arena_array(off)?;
    Some(CellWord(head[REC_CELL].load(Ordering::Relaxed)).pid())
}

/// Whether pending slot word `slot` holds a record of the series.
fn pending_match<'a>(
    region: &Region,
    slot: u64,
    hash: u64,
    ident: Ident,
    values: impl Iterator<Item = &'a str>,
) -> bool {
    let off = TaggedRef(slot & !PENDING).offset();
    TaggedRef(slot).tag_matches(hash) && matches_at(region, off, hash, ident, values).is_some()
}

/// What the creator of a pending record found when it read the probe sequence again.
enum Verdict {
    /// No other record of the series: publish.
    Publish,
    /// Another record of the series is live: use it.
    Adopt(Series),
    /// Another creator's pending record comes first: withdraw and wait for it.
    Yield,
}

/// What [`insert`] asks its caller before it makes a record or takes over a slot.
pub(crate) struct Checks<L, C, R, A> {
    /// Whether the family already has as many series as it may.
    pub at_limit: L,
    /// Whether the family may take that many more arena words for a record.
    pub charge: C,
    /// Gives a family back arena words charged for a record, when the record is
    /// reclaimed or not made after all (never for an overflow series: those are not
    /// charged).
    pub refund: R,
    /// Whether the process of this pid (a record's maker) is gone, so a record it left
    /// pending will never be published.
    pub gone: A,
}

/// Finds or inserts a series made by process `pid` at time `created` (seconds since
/// the Unix epoch), asking `checks` before making a record; a series this call made is
/// then the caller's to count.
pub(crate) fn insert<'a, I>(
    region: &Region,
    hash: u64,
    ident: Ident,
    values: I,
    cells: usize,
    (pid, created): (u32, f64),
    checks: Checks<
        impl Fn() -> bool,
        impl Fn(u64) -> bool,
        impl Fn(u32, u64),
        impl Fn(u32) -> bool,
    >,
) -> Result<Inserted, Refused>
where
    I: Iterator<Item = &'a str> + Clone,
{
    // The record prepared for publication: its slot word and series.
    let mut prepared: Option<(TaggedRef, Series)> = None;
    let mut limit_checked = false;
    let mut waits = 0;
    let backoff = Backoff::new();
    'probe: loop {
        // The first free slot (probe index, word), looking for the series on the way.
        let mut free = None;
        let probes = region.probes();
        for i in 0..region.layout.series {
            if i >= probes && free.is_some() {
                break;
            }
            let slot = region
                .word(slot_index(region, hash, i))
                .load(Ordering::Acquire);
            if slot == 0 || slot == TOMBSTONE {
                free = free.or(Some((i, slot)));
                if slot == 0 {
                    break;
                }
            } else if is_pending(slot) {
                if pending_match(region, slot, hash, ident, values.clone()) {
                    // Another creator is publishing the series: wait for it, unless it
                    // was killed before it could.
                    waits += 1;
                    if waits % PENDING_WAITS == 0 {
                        let gone = maker(region, slot).is_some_and(&checks.gone);
                        if gone || waits >= PENDING_GIVE_UP {
                            waits = 0;
                            // Only a maker that is gone no longer holds its record; one
                            // that is slow may still publish it elsewhere.
                            if withdraw(region, slot_index(region, hash, i), slot) && gone {
                                retire(region, TaggedRef(slot & !PENDING).offset(), cells);
                            }
                        }
                    }
                    backoff.spin();
                    continue 'probe;
                }
            } else if let Some(series) = is_match(region, slot, hash, ident, values.clone()) {
                discard(region, prepared, cells);
                return Ok(Inserted {
                    series,
                    made: false,
                });
            }
        }
        let Some((i, was)) = free else {
            discard(region, prepared, cells);
            return Err(Refused::Full);
        };
        if prepared.is_none() && (checks.at_limit)() {
            // The series may have just been made and counted by another creator: look
            // once more before refusing.
            if limit_checked {
                return Err(Refused::Limit);
            }
            limit_checked = true;
            continue;
        }
        let (word, series) = match prepared {
            Some(p) => p,
            None => {
                let p = make_record(
                    region,
                    hash,
                    ident,
                    values.clone(),
                    cells,
                    (pid, created),
                    (&checks.charge, &checks.refund),
                )
                .ok_or(Refused::Full)?;
                prepared = Some(p);
                p
            }
        };
        // Lookups probe as far as this slot before anyone can find the series there.
        let probes_word = region.word(region::H_PROBES);
        if probes_word.load(Ordering::Acquire) <= i as u64 {
            probes_word.fetch_max(i as u64 + 1, Ordering::AcqRel);
        }
        let at = slot_index(region, hash, i);
        let pending = word.0 | PENDING;
        if region
            .word(at)
            .compare_exchange(was, pending, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue;
        }
        if was == TOMBSTONE {
            region::saturating_sub(region.word(region::H_TOMBSTONES), 1);
        }
        match recheck(region, hash, ident, values.clone(), i) {
            Verdict::Publish => {
                if region
                    .word(at)
                    .compare_exchange(pending, word.0, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    if !ident.is_overflow() {
                        region.count(region::H_SERIES_LIVE);
                    }
                    return Ok(Inserted { series, made: true });
                }
                // Withdrawn by a creator that came first, or took it for abandoned.
            }
            Verdict::Adopt(series) => {
                withdraw(region, at, pending);
                discard(region, prepared, cells);
                return Ok(Inserted {
                    series,
                    made: false,
                });
            }
            Verdict::Yield => {
                withdraw(region, at, pending);
                backoff.spin();
            }
        }
    }
}

/// Gives back the record a creator made but did not publish (another's record of the
/// series came first, or no slot was left): lookups may have read it while it was
/// pending, so it is retired as a removed series' record is.
fn discard(region: &Region, prepared: Option<(TaggedRef, Series)>, cells: usize) {
    if let Some((word, _)) = prepared {
        retire(region, word.offset(), cells);
    }
}

/// Reads the probe sequence again after a pending record of the series was put at
/// probe index `mine`. The reads follow a sequentially consistent fence: of two
/// creators that each put a pending record, fenced, and read the other's slot, at
/// least one sees the other's record. A later pending record of the series is
/// withdrawn.
fn recheck<'a>(
    region: &Region,
    hash: u64,
    ident: Ident,
    values: impl Iterator<Item = &'a str> + Clone,
    mine: usize,
) -> Verdict {
    fence(Ordering::SeqCst);
    let probes = region.word(region::H_PROBES).load(Ordering::Acquire);
    let probes = (probes as usize).clamp(mine + 1, region.layout.series);
    let mut verdict = Verdict::Publish;
    for j in (0..probes).filter(|&j| j != mine) {
        let at = slot_index(region, hash, j);
        let slot = region.word(at).load(Ordering::Acquire);
        if slot == 0 {
            break;
        }
        if slot == TOMBSTONE {
            continue;
        }
        if is_pending(slot) {
            if pending_match(region, slot, hash, ident, values.clone()) {
                if j < mine {
                    verdict = Verdict::Yield;
                } else {
                    match region.word(at).compare_exchange(
                        slot,
                        TOMBSTONE,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => region.count(region::H_TOMBSTONES),
                        // Its creator made it live first: that is the series.
                        Err(now) => {
                            if let Some(s) = is_match(region, now, hash, ident, values.clone()) {
                                return Verdict::Adopt(s);
                            }
                        }
                    }
                }
            }
        } else if let Some(series) = is_match(region, slot, hash, ident, values.clone()) {
            return Verdict::Adopt(series);
        }
    }
    verdict
}

/// Turns the pending slot word `pending` at absolute word `at` into a tombstone, unless
/// it changed; returns whether it did. Its record is never published.
fn withdraw(region: &Region, at: usize, pending: u64) -> bool {
    let done = region
        .word(at)
        .compare_exchange(pending, TOMBSTONE, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok();
    if done {
        region.count(region::H_TOMBSTONES);
    }
    done
}

fn make_record<'a>(
    region: &Region,
    hash: u64,
    ident: Ident,
    values: impl Iterator<Item = &'a str> + Clone,
    cells: usize,
    (pid, created): (u32, f64),
    (charge, refund): (impl Fn(u64) -> bool, &dyn Fn(u32, u64)),
) -> Option<(TaggedRef, Series)> {
    let mut bytes = Vec::with_capacity(key::encoded_len(values.clone()));
    key::encode(values, &mut bytes);
    let (class, key_words) = key_class(bytes.len().div_ceil(8));
    let words = REC_HEAD + key_words;
    // Records retired but not reclaimed still hold their family's share.
    reclaiming(region, refund, || charge(words as u64).then_some(()))?;
    let give_back = || {
        if !ident.is_overflow() {
            refund(ident.family, words as u64);
        }
    };
    if region.retired() >= RECLAIM_AT {
        reclaim(region, refund);
    }
    let Some(cell) = reclaiming(region, refund, || region.alloc_cells(cells)) else {
        give_back();
        return None;
    };
    let space = || {
        class
            .and_then(|class| take_record(region, class, words))
            .or_else(|| region.alloc_arena(words).map(|off| (off, 0)))
    };
    let Some((off, gen)) = reclaiming(region, refund, space) else {
        // Nobody else knows these cells yet.
        region.free_cells(cell, cells);
        give_back();
        return None;
    };
    let at = region.layout.arena_off + off as usize;
    let mut head = [0; REC_HEAD];
    head[REC_HASH] = hash;
    head[REC_FAMILY] = FamilyWord::new(ident.family, ident.flags).0;
    head[REC_OWNER] = ident.owner;
    head[REC_CELL] = CellWord::new(cell, pid).0;
    head[REC_KEY_LEN] = bytes.len() as u64;
    head[REC_CREATED] = created.to_bits();
    for (i, v) in head.into_iter().enumerate().take(REC_GEN) {
        region.word(at + i).store(v, Ordering::Relaxed);
    }
    region.write_bytes(at + REC_HEAD, &bytes);
    // Last: a reader that loads this generation sees the record whole.
    region.word(at + REC_GEN).store(gen, Ordering::Release);
    Some((
        TaggedRef::new(hash, off),
        Series {
            record: at,
            cell,
            gen,
        },
    ))
}

/// `get()`, and while it fails and retired records may give back what it needs,
/// reclaims them (or, when another process has taken them to reclaim, waits for it,
/// for a while) and tries again.
fn reclaiming<T>(
    region: &Region,
    refund: &dyn Fn(u32, u64),
    get: impl Fn() -> Option<T>,
) -> Option<T> {
    #[cfg(not(loom))]
    let start = std::time::Instant::now();
    #[cfg(loom)]
    let mut tries = 0;
    loop {
        if let Some(v) = get() {
            return Some(v);
        }
        if region.retired() == 0 {
            return None;
        }
        if reclaim(region, refund) > 0 {
            continue;
        }
        #[cfg(not(loom))]
        {
            if start.elapsed() > RECLAIM_WAIT {
                return None;
            }
            std::thread::yield_now();
        }
        #[cfg(loom)]
        {
            tries += 1;
            if tries > 1 {
                return None;
            }
            loom::thread::yield_now();
        }
    }
}

/// A record's exemplar word: the slots' arena offset (low half) and how many slots
/// (high half).
fn split_exemplars(word: u64) -> (u64, usize) {
    (word & 0xffff_ffff, (word >> 32) as usize)
}

/// The size class of a record whose key is `key_words` words, and the key words it is
/// made with: keys up to 11 words exactly, longer ones rounded up to 16, 32, 64 or 128
/// words (classes 12 to 15, the last [`region::RECORD_CLASSES`]); no class past 128
/// words (1 KiB: such records are never reused).
fn key_class(key_words: usize) -> (Option<usize>, usize) {
    const EXACT: usize = region::RECORD_CLASSES - 4;
    match key_words {
        w if w < EXACT => (Some(w), w),
        w if w <= 128 => {
            let size = w.next_power_of_two().max(16);
            (Some(EXACT + size.trailing_zeros() as usize - 4), size)
        }
        w => (None, w),
    }
}

/// Takes a reclaimed record of size class `class` and `words` words off its free list:
/// its arena offset and the generation it lives at once written. A record that does
/// not check out (outside the arena, or not retired: only a hostile write puts it
/// there) is not used.
fn take_record(region: &Region, class: usize, words: usize) -> Option<(u64, u64)> {
    let off = region.take_record(class, |off| {
        region
            .arena_array::<REC_HEAD>(off)
            .map(|head| &head[REC_CELL])
    })?;
    region.arena_span(off, words as u64)?;
    let head = region.arena_array::<REC_HEAD>(off)?;
    let gen = head[REC_GEN].load(Ordering::Relaxed);
    if gen & 1 == 0 || CellWord(head[REC_CELL].load(Ordering::Relaxed)).pid() != 0 {
        return None;
    }
    // A reader that sees any word written to the record from here on (after an
    // Acquire fence) sees its generation odd or past: it was made odd before the
    // record was retired, which happened before it was freed and taken.
    fence(Ordering::Release);
    Some((off, gen.wrapping_add(1)))
}

/// The guard word of series `s` (its record's generation, absolute index) and what it
/// holds while the series lives, if it was not removed since it was found.
#[inline]
pub(crate) fn guard(region: &Region, s: Series) -> Option<(usize, u64)> {
    let at = s.record + REC_GEN;
    (region.word(at).load(Ordering::Acquire) == s.gen).then_some((at, s.gen))
}

/// Removes a series of `cells` cells; `false` if it was not there.
pub(crate) fn remove<'a, I>(
    region: &Region,
    hash: u64,
    ident: Ident,
    values: I,
    cells: usize,
) -> bool
where
    I: Iterator<Item = &'a str> + Clone,
{
    for i in 0..region.probes() {
        let w = region.word(slot_index(region, hash, i));
        let slot = w.load(Ordering::Acquire);
        if slot == 0 {
            return false;
        }
        if is_match(region, slot, hash, ident, values.clone()).is_some() {
            return tombstone(region, w, slot, ident, cells);
        }
    }
    false
}

fn tombstone(region: &Region, w: &AtomicU64, slot: u64, ident: Ident, cells: usize) -> bool {
    let done = w
        .compare_exchange(slot, TOMBSTONE, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok();
    if done {
        retire(region, TaggedRef(slot).offset(), cells);
        region.count(region::H_TOMBSTONES);
        if !ident.is_overflow() {
            region::saturating_sub(region.word(region::H_SERIES_LIVE), 1);
        }
    }
    done
}

/// Retires the record at arena offset `off`, a removed series of `cells` cells (see
/// the module's notes).
fn retire(region: &Region, off: u64, cells: usize) {
    let Some(head) = region.arena_array::<REC_HEAD>(off) else {
        return;
    };
    let cell = CellWord(head[REC_CELL].load(Ordering::Acquire));
    let gen = head[REC_GEN].load(Ordering::Relaxed);
    if cell.pid() == 0 || gen & 1 == 1 {
        return; // retired already (only a hostile write makes a slot point at it again)
    }
    // Odd: every check against the generation fails from here on. Release fence: a
    // reader that sees a word stored below sees the generation changed.
    head[REC_GEN].store(gen.wrapping_add(1), Ordering::Relaxed);
    fence(Ordering::Release);
    head[REC_HASH].store((cells as u64) << 32 | cell.cell() as u64, Ordering::Relaxed);
    region.retire(off, &head[REC_CELL]);
}

/// Gives back the cells of every retired record once no write through a handle that
/// passed its check can still land in them ([`Region::quiesce`]), then the record
/// itself to the free list of its size class (records of keys past 128 words stay in
/// the arena; see [`key_class`]), and its words to its family's share
/// (`refund`); returns how many records. When that cannot be known, the records stay
/// retired.
pub(crate) fn reclaim(region: &Region, refund: &dyn Fn(u32, u64)) -> u64 {
    let mut off = region.take_retired();
    let mut records = Vec::new();
    // A list longer than the arena holds records is a hostile write's loop.
    while off != 0 && records.len() < region.layout.arena_words / REC_HEAD {
        let Some(head) = region.arena_array::<REC_HEAD>(off) else {
            break;
        };
        records.push(off);
        off = head[REC_CELL].load(Ordering::Acquire) & 0xffff_ffff;
    }
    if records.is_empty() {
        return 0;
    }
    if !region.quiesce() {
        for &off in &records {
            if let Some(head) = region.arena_array::<REC_HEAD>(off) {
                region::saturating_sub(region.word(region::H_RETIRED_COUNT), 1);
                region.retire(off, &head[REC_CELL]);
            }
        }
        return 0;
    }
    for &off in &records {
        if let Some(head) = region.arena_array::<REC_HEAD>(off) {
            let run = head[REC_HASH].load(Ordering::Relaxed);
            region.free_cells(run as u32, (run >> 32) as usize);
            let float = head[REC_FLOAT].load(Ordering::Relaxed);
            if float > 0 && float <= u32::MAX as u64 {
                region.free_cells((float - 1) as u32, 1);
            }
            free_exemplars(region, head, refund);
            free_record(region, off, head, refund);
        }
        region::saturating_sub(region.word(region::H_RETIRED_COUNT), 1);
    }
    records.len() as u64
}

/// Puts the exemplar slots of the reclaimed record `head`, if it has any, on the free
/// list of their number and refunds its family, which they were charged to, if they
/// lie inside the arena and that number has a list.
fn free_exemplars(region: &Region, head: &[AtomicU64; REC_HEAD], refund: &dyn Fn(u32, u64)) {
    let (off, n) = split_exemplars(head[REC_EXEMPLARS].load(Ordering::Relaxed));
    let words = (n * exemplar::SLOT_WORDS) as u64;
    if off == 0 || n == 0 || n > region::EXEMPLAR_CLASSES {
        return;
    }
    let Some(at) = region.arena_span(off, words) else {
        return;
    };
    refund(
        FamilyWord(head[REC_FAMILY].load(Ordering::Relaxed)).family(),
        words,
    );
    region.free_exemplars(n, off, region.word(at));
}

/// Puts the reclaimed record at arena offset `off` on the free list of its size and
/// refunds its family, if its key length leaves it inside the arena and a size class.
fn free_record(region: &Region, off: u64, head: &[AtomicU64; REC_HEAD], refund: &dyn Fn(u32, u64)) {
    let key_len = head[REC_KEY_LEN].load(Ordering::Relaxed);
    let (Some(class), key_words) = key_class(key_len.div_ceil(8) as usize) else {
        return;
    };
    let words = (REC_HEAD + key_words) as u64;
    if region.arena_span(off, words).is_none() {
        return;
    }
    let fam = FamilyWord(head[REC_FAMILY].load(Ordering::Relaxed));
    if fam.flags() & OVERFLOW == 0 {
        refund(fam.family(), words);
    }
    region.free_record(class, off, &head[REC_CELL]);
}

/// Removes every series of `family` (of `cells` cells each) for which `keep` is false;
/// returns how many, overflow series not counted (as no live count counts them).
pub(crate) fn retain(
    region: &Region,
    family: u32,
    cells: usize,
    mut keep: impl FnMut(&Record) -> bool,
) -> u64 {
    let mut removed = 0;
    for i in 0..region.layout.series {
        let w = region.word(region.layout.dir_off + i);
        let slot = w.load(Ordering::Acquire);
        if let Some(rec) = Record::read(region, slot) {
            if rec.ident.family == family
                && !keep(&rec)
                && tombstone(region, w, slot, rec.ident, cells)
                && !rec.ident.is_overflow()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// Calls `f` with the index of every used slot (neither empty, removed nor pending) and
/// its record, `None` where the record lies outside the arena.
pub(crate) fn for_each_slot(region: &Region, mut f: impl FnMut(usize, Option<Record>)) {
    let l = &region.layout;
    for (i, w) in region.words()[l.dir_off..l.dir_off + l.series]
        .iter()
        .enumerate()
    {
        let slot = w.load(Ordering::Acquire);
        if slot == 0 || slot == TOMBSTONE || is_pending(slot) {
            continue;
        }
        f(i, Record::read(region, slot));
    }
}

/// Slots of removed series.
pub(crate) fn tombstones(region: &Region) -> u64 {
    let l = &region.layout;
    region.words()[l.dir_off..l.dir_off + l.series]
        .iter()
        .filter(|w| w.load(Ordering::Relaxed) == TOMBSTONE)
        .count() as u64
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

    /// The pid of a killed creator.
    const DEAD: u32 = 99;

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
        let checks = Checks {
            at_limit,
            charge: |_| true,
            refund: |_, _| {},
            gone: |pid| pid == DEAD,
        };
        super::insert(r, hash, ident, values, cells, (pid, 0.0), checks).map(|done| done.series)
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
        assert!(remove(&r, h(&v), ID, v.iter().copied(), 1));
        assert!(!remove(&r, h(&v), ID, v.iter().copied(), 1));
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

    #[test]
    fn removed_slots_are_reused_and_lookups_stay_short() {
        let r = Region::anonymous(&Options {
            shards: Some(1),
            cells_per_shard: 4096,
            series_capacity: 16,
            family_capacity: 4,
            process_capacity: 4,
            arena_bytes: 1 << 18,
            ..Options::default()
        })
        .unwrap();
        let keep = ["kept"];
        let kept = insert(&r, h(&keep), ID, keep.iter().copied(), 1, 1, None).unwrap();
        for i in 0..2000 {
            let v = [format!("v{i}")];
            let v: Vec<&str> = v.iter().map(String::as_str).collect();
            insert(&r, h(&v), ID, v.iter().copied(), 1, 1, None).expect("a free slot");
            assert!(find(&r, h(&v), ID, v.iter().copied()).is_some());
            assert!(remove(&r, h(&v), ID, v.iter().copied(), 1));
        }
        assert_eq!(find(&r, h(&keep), ID, keep.iter().copied()), Some(kept));
        assert!(r.probes() <= 2, "probes {}", r.probes());
        let mut live = 0;
        for_each(&r, |_| live += 1);
        assert_eq!(live, 1);
    }

    #[test]
    fn a_pending_record_left_by_a_killed_creator_is_withdrawn() {
        let r = region();
        let v = ["x"];
        // A creator killed between its two CASes leaves its record pending.
        let (word, _) = make_record(
            &r,
            h(&v),
            ID,
            v.iter().copied(),
            1,
            (DEAD, 0.0),
            (|_| true, &|_, _| {}),
        )
        .unwrap();
        r.word(region::H_PROBES).store(1, Ordering::Relaxed);
        let home = slot_index(&r, h(&v), 0);
        r.word(home).store(word.0 | PENDING, Ordering::Relaxed);
        assert!(find(&r, h(&v), ID, v.iter().copied()).is_none());
        let s = insert(&r, h(&v), ID, v.iter().copied(), 1, 1, None).unwrap();
        assert_eq!(find(&r, h(&v), ID, v.iter().copied()), Some(s));
        let mut live = 0;
        for_each(&r, |_| live += 1);
        assert_eq!(live, 1);
        // Its maker is gone: the withdrawn record is retired, and reclaimed.
        assert_eq!(reclaim(&r, &|_, _| {}), 1);
    }
}

/// Loom model of slot reuse with hashes chosen so that the race exists: `z` sits in
/// the home slot of `x`, and is removed while two creators make `x`. One creator can
/// pass `z` and take the next slot while the other takes `z`'s slot once it is freed.
/// (Preemption bound 3: it finds the missing fence or adoption within it.)
/// Its region and helpers serve the models of other modules too.
#[cfg(all(test, loom))]
pub(crate) mod loom_model {
    use std::sync::Arc;

    use super::*;

    pub(crate) const X: Ident = Ident {
        family: 1,
        flags: 0,
        owner: NO_OWNER,
    };
    /// Home slot 0 for both keys, different tags.
    pub(crate) const HX: u64 = 0x1111_1111_0000_0000;
    pub(crate) const HZ: u64 = 0x2222_2222_0000_0000;

    /// Makes the series of the one value `v` of `ident`, with one cell.
    pub(crate) fn make_in(r: &Region, ident: Ident, hash: u64, v: &str) -> Series {
        let checks = Checks {
            at_limit: || false,
            charge: |_| true,
            refund: |_, _| {},
            gone: |_| false,
        };
        insert(r, hash, ident, [v].into_iter(), 1, (1, 0.0), checks)
            .unwrap()
            .series
    }

    /// [`make_in`] for family `X`.
    pub(crate) fn make(r: &Region, hash: u64, v: &str) -> Series {
        make_in(r, X, hash, v)
    }

    /// A region of one lane, 4 series slots, 2 families and `arena_bytes` of arena.
    pub(crate) fn region(arena_bytes: u64) -> Arc<Region> {
        Region::for_models(arena_bytes)
    }

    #[test]
    fn creators_racing_a_removal_in_their_probe_sequence_make_one_series() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let r = churn_region();
            make(&r, HZ, "z");
            let r2 = r.clone();
            let t = loom::thread::spawn(move || make(&r2, HX, "x"));
            assert!(remove(&r, HZ, X, ["z"].into_iter(), 1));
            let mine = make(&r, HX, "x");
            let theirs = t.join().unwrap();
            assert_eq!(mine, theirs, "both creators use one series");
            let mut xs = 0;
            for_each(&r, |rec| {
                xs += rec.with_key(&r, |k| key::matches(k, ["x"].into_iter())) as u32
            });
            assert_eq!(xs, 1, "one live record of x");
        });
    }

    fn churn_region() -> Arc<Region> {
        region(1024)
    }

    /// Two creators of one series: the record of the one that did not publish is
    /// retired, and a reclaim gives its words back, so the family is charged for one.
    #[test]
    fn the_record_of_a_creator_that_lost_the_race_is_given_back() {
        use std::sync::atomic::AtomicU64 as Count;
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let r = churn_region();
            let charged = Arc::new(Count::new(0));
            let create = |r: &Region, charged: &Count| {
                let checks = Checks {
                    at_limit: || false,
                    charge: |w| {
                        charged.fetch_add(w, Ordering::Relaxed);
                        true
                    },
                    refund: |_, w| {
                        charged.fetch_sub(w, Ordering::Relaxed);
                    },
                    gone: |_| false,
                };
                insert(r, HX, X, ["x"].into_iter(), 1, (1, 0.0), checks)
                    .unwrap()
                    .series
            };
            let (r2, c2) = (r.clone(), charged.clone());
            let t = loom::thread::spawn(move || create(&r2, &c2));
            let mine = create(&r, &charged);
            assert_eq!(mine, t.join().unwrap(), "both creators use one series");
            let refund = |_, w| {
                charged.fetch_sub(w, Ordering::Relaxed);
            };
            reclaim(&r, &refund);
            let one = (REC_HEAD + key_class(1).1) as u64;
            assert_eq!(charged.load(Ordering::Relaxed), one);
        });
    }

    /// A write through a handle held across its series' removal and the reuse of its
    /// cell, made by `add`, lands in the series or is dropped, never in the series that
    /// reuses the cell.
    fn held_handle_racing_removal_and_reuse(add: fn(&crate::cells::Local<'_>)) {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(move || {
            let r = churn_region();
            let z = make(&r, HZ, "z");
            let (g, e) = guard(&r, z).unwrap();
            let held = crate::cells::Cells::new(r.clone(), z.cell, 1, g, e);
            let t = loom::thread::spawn(move || {
                if let Some(l) = held.enter() {
                    add(&l);
                }
            });
            assert!(remove(&r, HZ, X, ["z"].into_iter(), 1));
            let reused = (reclaim(&r, &|_, _| {}) > 0).then(|| make(&r, HX, "x"));
            t.join().unwrap();
            if let Some(x) = reused {
                assert_eq!(x.cell, z.cell, "the freed cell went to the new series");
                assert_eq!(r.cell_sum(x.cell), 0, "nothing of the old series in it");
            }
        });
    }

    #[test]
    fn an_increment_through_a_held_handle_racing_removal_and_reuse_stays_out_of_the_new_series() {
        held_handle_racing_removal_and_reuse(|l| {
            l.cell(0).fetch_add(1, Ordering::Relaxed);
        });
    }

    /// As above with the plain load and store a histogram makes in a lane its thread
    /// writes alone (the only lane here, held by the writer alone).
    #[test]
    fn a_plain_add_through_a_held_handle_racing_removal_and_reuse_stays_out_of_the_new_series() {
        held_handle_racing_removal_and_reuse(|l| {
            l.adds().add(l.cell(0), 1);
        });
    }

    #[test]
    fn reclaim_racing_the_recreation_of_the_same_series_frees_only_the_removed_cells() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let r = churn_region();
            let z = make(&r, HZ, "z");
            let r2 = r.clone();
            let t = loom::thread::spawn(move || make(&r2, HZ, "z"));
            assert!(remove(&r, HZ, X, ["z"].into_iter(), 1));
            reclaim(&r, &|_, _| {});
            let again = t.join().unwrap();
            let mut live = Vec::new();
            for_each(&r, |rec| live.push(rec.cell));
            // The creator found z before its removal (its handles then write nothing),
            // or made z anew.
            let made = guard(&r, again).is_some();
            assert_eq!(live, if made { vec![again.cell] } else { vec![] });
            assert!(!made || again != z);
            // The live series' cell is on no free list.
            while let Some(c) = r.alloc_cells(1) {
                assert!(!live.contains(&c), "a live series' cell was freed");
            }
        });
    }

    /// A thread that remembered z's place (as the hits cache does) records through it
    /// while z is removed and its record and cell go to x, made by the same process:
    /// only the generation tells the two apart, and the stale writer fails its check.
    #[test]
    fn a_remembered_place_racing_the_reuse_of_its_record_writes_nothing_into_the_new_series() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let r = churn_region();
            let z = make(&r, HZ, "z");
            let place = find_placed(&r, HZ, X, ["z"].into_iter()).unwrap();
            let r2 = r.clone();
            let t = loom::thread::spawn(move || {
                if place.unchanged(&r2) {
                    let (g, e) = place.guard();
                    let held = crate::cells::Cells::new(r2.clone(), place.series.cell, 1, g, e);
                    if let Some(l) = held.enter() {
                        l.cell(0).fetch_add(1, Ordering::Relaxed);
                    };
                }
            });
            assert!(remove(&r, HZ, X, ["z"].into_iter(), 1));
            let reused = (reclaim(&r, &|_, _| {}) > 0).then(|| make(&r, HX, "x"));
            t.join().unwrap();
            if let Some(x) = reused {
                assert_eq!(
                    (x.record, x.cell),
                    (z.record, z.cell),
                    "x took z's record and cell"
                );
                assert_eq!(r.cell_sum(x.cell), 0, "nothing of z in x");
                assert!(!place.unchanged(&r), "the remembered place is stale");
                assert!(guard(&r, z).is_none());
                assert!(guard(&r, x).is_some());
            }
        });
    }
}

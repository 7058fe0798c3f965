//! The family table in the region: one entry per family, so that every process that
//! registers a name finds the same family.
//!
//! A family's description (its [`Spec`], encoded) is written to the arena and
//! published by one CAS of its entry's ref word, so two processes registering the same
//! name at once end with one family. Entry words ([`FAMILY_WORDS`]): the ref (a
//! [`TaggedRef`]: name hash and descriptor offset, 0 while free), the live series, the
//! lookups sent to the overflow series, the arena words its series records took.

use crate::error::{Error, Result};
use crate::key;
use crate::region::{self, Region, FAMILY_WORDS};
use crate::spec::Spec;
use crate::sync::{AtomicU64, Ordering};
use crate::word::TaggedRef;

const REF: usize = 0;
const LIVE: usize = 1;
const OVERFLOWED: usize = 2;
const ARENA: usize = 3;

/// A family's series records may take at most `1 / ARENA_SHARE` of the arena, so one
/// family cannot fill it for the others.
const ARENA_SHARE: u64 = 4;

/// The entry of family `idx` in the table.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'r> {
    region: &'r Region,
    /// Absolute index of the entry's first word.
    at: usize,
}

impl<'r> Entry<'r> {
    /// The entry of family `idx`.
    #[inline]
    pub fn of(region: &'r Region, idx: u32) -> Entry<'r> {
        Entry {
            region,
            at: region.layout.families_off + idx as usize * FAMILY_WORDS,
        }
    }

    /// The ref word: the [`TaggedRef`] of the family's descriptor, 0 while free.
    fn descriptor(&self) -> &'r AtomicU64 {
        self.region.word(self.at + REF)
    }

    /// The count of the family's live series, overflow series not counted.
    #[inline]
    pub fn live(&self) -> &'r AtomicU64 {
        self.region.word(self.at + LIVE)
    }

    /// The count of lookups sent to the family's overflow series.
    #[inline]
    pub fn overflowed(&self) -> &'r AtomicU64 {
        self.region.word(self.at + OVERFLOWED)
    }

    /// Takes `words` more arena words from the family's share, if they fit in it.
    /// Words of reclaimed series records are given back ([`Entry::refund_arena`]);
    /// those of exemplar slots are not.
    pub fn charge_arena(&self, words: u64) -> bool {
        let used = self.region.word(self.at + ARENA);
        let share = self.region.layout.arena_words as u64 / ARENA_SHARE;
        let before = used.fetch_add(words, Ordering::Relaxed);
        // The word is outside the checksum: any value, even a wrapped one, is refused
        // rather than trusted.
        if before.checked_add(words).is_some_and(|n| n <= share) {
            return true;
        }
        used.fetch_sub(words, Ordering::Relaxed);
        false
    }

    /// Gives back `words` arena words to the family's share (a record reclaimed, or
    /// not made after all); the count stops at 0.
    pub fn refund_arena(&self, words: u64) {
        region::saturating_sub(self.region.word(self.at + ARENA), words);
    }
}

/// Reads the description of family `idx`, if `idx` is inside the table (it may come
/// from a series record) and the entry is used and parses.
pub(crate) fn read(region: &Region, idx: u32) -> Option<Spec> {
    read_checked(region, idx).ok().flatten()
}

/// Reads the description of family `idx`: `None` for a free entry, an error saying
/// what is wrong for an index outside the table or a descriptor that does not parse.
pub(crate) fn read_checked(region: &Region, idx: u32) -> std::result::Result<Option<Spec>, String> {
    if idx as usize >= region.layout.families {
        return Err(format!("family {idx} is outside the family table"));
    }
    let r = Entry::of(region, idx).descriptor().load(Ordering::Acquire);
    if r == 0 {
        return Ok(None);
    }
    read_ref(region, TaggedRef(r))
        .map(Some)
        .map_err(|why| format!("family {idx}: {why}"))
}

fn read_ref(region: &Region, r: TaggedRef) -> std::result::Result<Spec, String> {
    let off = r.offset();
    let outside = || "its descriptor lies outside the arena".to_owned();
    let at = region.arena_span(off, 1).ok_or_else(outside)?;
    let len = region.word(at).load(Ordering::Relaxed);
    region
        .arena_span(off + 1, len.div_ceil(8))
        .ok_or_else(outside)?;
    region.with_bytes(at + 1, len as usize, Spec::decode)
}

/// The family named `name`, if registered.
fn find(region: &Region, name: &str) -> Option<Spec> {
    let hash = key::hash_bytes(0, name.as_bytes());
    let mask = region.layout.families - 1;
    for i in 0..region.layout.families {
        let idx = ((hash as usize).wrapping_add(i) & mask) as u32;
        let cur = Entry::of(region, idx).descriptor().load(Ordering::Acquire);
        if cur == 0 {
            return None;
        }
        let cur = TaggedRef(cur);
        if !cur.tag_matches(hash) {
            continue;
        }
        match read_ref(region, cur) {
            Ok(existing) if existing.name == name => return Some(existing),
            _ => {}
        }
    }
    None
}

/// Refuses `spec` when one of its sample names is claimed by another family (a
/// counter `c` and a gauge `c_total`).
fn check_collisions(region: &Region, spec: &Spec) -> Result<()> {
    const SUFFIXES: [&str; 6] = ["_total", "_created", "_bucket", "_count", "_sum", "_info"];
    for own in spec.kind.claimed_suffixes() {
        let sample = format!("{}{own}", spec.name);
        let by_name = (!own.is_empty()).then(|| find(region, &sample)).flatten();
        let by_suffix = || {
            SUFFIXES.iter().find_map(|sfx| {
                let base = sample.strip_suffix(sfx)?;
                let other = find(region, base).filter(|o| o.name != spec.name)?;
                other.kind.claimed_suffixes().contains(sfx).then_some(other)
            })
        };
        if let Some(other) = by_name.or_else(by_suffix) {
            return Err(Error::DuplicateSeries {
                name: spec.name.clone(),
                other: other.name,
                sample,
            });
        }
    }
    Ok(())
}

/// Finds or creates the family `spec` (already normalized), returning its index. A
/// new family whose sample names another family claims is refused (two processes
/// registering such families at the same instant may both succeed).
pub(crate) fn register(region: &Region, spec: &Spec) -> Result<u32> {
    let hash = key::hash_bytes(0, spec.name.as_bytes());
    let mask = region.layout.families - 1;
    let mut prepared = None;
    for i in 0..region.layout.families {
        let idx = ((hash as usize).wrapping_add(i) & mask) as u32;
        let slot = Entry::of(region, idx).descriptor();
        let mut cur = slot.load(Ordering::Acquire);
        if cur == 0 {
            let r = match prepared {
                Some(r) => r,
                None => {
                    check_collisions(region, spec)?;
                    let bytes = spec.encode();
                    let off = region
                        .alloc_arena(1 + bytes.len().div_ceil(8))
                        .ok_or_else(|| Error::RegistryFull(spec.name.clone()))?;
                    let at = region.layout.arena_off + off as usize;
                    region.word(at).store(bytes.len() as u64, Ordering::Relaxed);
                    region.write_bytes(at + 1, &bytes);
                    let r = TaggedRef::new(hash, off);
                    prepared = Some(r);
                    r
                }
            };
            match slot.compare_exchange(0, r.0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(idx),
                Err(now) => cur = now,
            }
        }
        let cur = TaggedRef(cur);
        if !cur.tag_matches(hash) {
            continue;
        }
        let Ok(existing) = read_ref(region, cur) else {
            continue;
        };
        if existing.name != spec.name {
            continue;
        }
        return if existing.kind == spec.kind
            && existing.labels == spec.labels
            && existing.unit == spec.unit
            && existing.expire_ms == spec.expire_ms
        {
            Ok(idx)
        } else {
            Err(Error::Conflict {
                name: spec.name.clone(),
                existing: existing.describe(),
                requested: spec.describe(),
            })
        };
    }
    Err(Error::RegistryFull(spec.name.clone()))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::region::Options;
    use crate::spec::{GaugeMode, Kind};

    #[test]
    fn specs_round_trip_through_the_region() {
        let r = Region::anonymous(&Options::default()).unwrap();
        let specs = [
            Spec::new("req_total", "Requests.", Kind::Counter).labels(&["model", "ns"]),
            Spec::new(
                "lat",
                "Latency \"quoted\"\n",
                Kind::Histogram(vec![0.1, 1.0]),
            )
            .unit("seconds")
            .limit(7),
            Spec::new("g", "", Kind::Gauge(GaugeMode::LiveSum)),
            Spec::new("st", "", Kind::StateSet(vec!["a".into(), "b".into()])),
        ];
        for s in specs {
            let s = s.normalize().unwrap();
            let idx = register(&r, &s).unwrap();
            assert_eq!(read(&r, idx).unwrap(), s);
            assert_eq!(register(&r, &s).unwrap(), idx);
        }
        assert_eq!(
            read(
                &r,
                register(
                    &r,
                    &Spec::new("x_total", "", Kind::Counter).normalize().unwrap()
                )
                .unwrap()
            )
            .unwrap()
            .name,
            "x"
        );
        assert_eq!(
            Spec::new("lat", "", Kind::Summary)
                .unit("seconds")
                .normalize()
                .unwrap()
                .name,
            "lat_seconds"
        );
    }

    #[test]
    fn conflicting_registration_names_both_sides() {
        let r = Region::anonymous(&Options::default()).unwrap();
        let a = Spec::new("m", "", Kind::Counter)
            .labels(&["a"])
            .normalize()
            .unwrap();
        register(&r, &a).unwrap();
        let b = Spec::new("m", "", Kind::Gauge(GaugeMode::Shared))
            .normalize()
            .unwrap();
        let e = register(&r, &b).unwrap_err().to_string();
        assert!(
            e.contains("\"m\"") && e.contains("counter") && e.contains("gauge"),
            "{e}"
        );
        let c = Spec::new("m", "", Kind::Counter)
            .labels(&["b"])
            .normalize()
            .unwrap();
        assert!(register(&r, &c).is_err());
    }
}

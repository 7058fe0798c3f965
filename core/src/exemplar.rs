//! Exemplars: the latest exemplar of a counter series, or of each bucket of a
//! histogram series, in slots of region words.
//!
//! A slot is [`SLOT_WORDS`] words: a version, the value (`f64` bits), the time (`f64`
//! bits, seconds since the Unix epoch), the length of the labels in bytes, then the
//! labels (each name and value followed by `0xff`, a byte UTF-8 never holds). The
//! version is even while the slot is stable (0: never written) and odd while a writer
//! holds it: a writer claims it by one compare-and-swap from an even version, writes,
//! and stores the next even version with Release. A writer that finds the slot held
//! drops its exemplar (exemplars are samples); a reader copies the slot and keeps the
//! copy only if the version was even and unchanged around it, so no reader sees a torn
//! exemplar.

use crate::error::Result;
use crate::names;
use crate::sync::{fence, AtomicU64, Ordering};

/// Label words of a slot. Names are legacy names (a byte a character, one at least),
/// values characters of at most 4 bytes, 128 characters in all, and a pair takes two
/// separators: at most 3 + 4 x 127 = 511 bytes (one name of one character).
const LABEL_WORDS: usize = 64;
const LABEL_BYTES: usize = LABEL_WORDS * 8;
/// Words of one slot.
pub(crate) const SLOT_WORDS: usize = 4 + LABEL_WORDS;
const S_VERSION: usize = 0;
const S_VALUE: usize = 1;
const S_TIME: usize = 2;
const S_LEN: usize = 3;
const S_LABELS: usize = 4;
/// Ends each name and value in a slot.
const SEP: u8 = 0xff;
/// Times a reader copies a slot that changes under it before it skips the slot.
const READ_TRIES: usize = 4;

/// Exemplar labels checked for a slot; [`write`] lays them out as it stores them.
pub(crate) struct Encoded<'a> {
    labels: &'a [(&'a str, &'a str)],
}

impl<'a> Encoded<'a> {
    /// Checks `labels` (legacy label names, at most
    /// [`MAX_EXEMPLAR_CHARS`](names::MAX_EXEMPLAR_CHARS) characters of names and
    /// values): then they fit a slot.
    pub fn new(labels: &'a [(&'a str, &'a str)]) -> Result<Encoded<'a>> {
        names::check_exemplar(labels, true)?;
        Ok(Encoded { labels })
    }

    /// Lays the labels out as a slot holds them (each name and value followed by
    /// [`SEP`]) into `out`; returns their length. Checked labels fit.
    fn lay_out(&self, out: &mut [u8; LABEL_BYTES]) -> usize {
        let mut len = 0;
        for (n, v) in self.labels {
            for part in [n.as_bytes(), v.as_bytes()] {
                let end = len + part.len();
                match out.get_mut(len..end + 1) {
                    Some(dst) => {
                        dst[..part.len()].copy_from_slice(part);
                        dst[part.len()] = SEP;
                    }
                    None => return len,
                }
                len = end + 1;
            }
        }
        len
    }
}

/// One exemplar read out of a slot: labels, value and time. It borrows nothing, so an
/// encoder of any format can be handed it.
#[derive(Clone)]
pub struct Exemplar {
    bytes: [u8; LABEL_BYTES],
    len: usize,
    value: f64,
    timestamp: f64,
}

impl Exemplar {
    /// The labels, in the order they were given.
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut parts = self.bytes[..self.len]
            .split(|&b| b == SEP)
            .map(|p| std::str::from_utf8(p).unwrap_or(""));
        std::iter::from_fn(move || Some((parts.next()?, parts.next()?)))
    }

    /// The value recorded with it (a counter's increment, a histogram's observation).
    pub fn value(&self) -> f64 {
        self.value
    }

    /// When it was recorded, in seconds since the Unix epoch.
    pub fn timestamp(&self) -> f64 {
        self.timestamp
    }
}

impl std::fmt::Debug for Exemplar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exemplar")
            .field("labels", &self.labels().collect::<Vec<_>>())
            .field("value", &self.value)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

/// The sequence half of a version word; the other half is the pid of the writer that
/// claimed the slot last.
const SEQ: u64 = 0xffff_ffff;

/// The version word that writer `pid` stores after `v` (one step on, so odd after
/// even and even after odd).
fn next(v: u64, pid: u32) -> u64 {
    (pid as u64) << 32 | (v.wrapping_add(1) & SEQ)
}

/// Whether a writer of this thread may take slot version `v`, held (odd) by another:
/// only when this thread found the slot held with that very word before (a writer
/// holds a slot for a few stores) and its holder has exited (`gone`), killed while
/// writing.
#[cold]
#[inline(never)]
fn abandoned(v: u64, gone: impl Fn(u32) -> bool) -> bool {
    std::thread_local! {
        static SEEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    SEEN.with(|seen| seen.replace(v)) == v && gone((v >> 32) as u32)
}

/// Writes an exemplar into `slot` as writer `pid` unless another writer holds it;
/// returns whether it was written. Never blocks; a slot left held by a writer that
/// exited (`gone`) is taken over, see [`abandoned`].
pub(crate) fn write(
    slot: &[AtomicU64],
    labels: &Encoded,
    value: f64,
    timestamp: f64,
    pid: u32,
    gone: impl Fn(u32) -> bool,
) -> bool {
    let mut bytes = [0u8; LABEL_BYTES];
    let len = labels.lay_out(&mut bytes);
    let version = &slot[S_VERSION];
    let v = version.load(Ordering::Relaxed);
    // From a held word the claim steps on twice, so it stays odd.
    let claim = match v & 1 {
        0 => next(v, pid),
        _ if abandoned(v, gone) => next(next(v, pid), pid),
        _ => return false,
    };
    if version
        .compare_exchange(v, claim, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    // Acquire above: the previous writer's stores happen before this one's, so this
    // one's are the last in every word and the slot ends whole.
    // A reader that sees any word below also sees the claim (its Acquire fence pairs
    // with this one) and so discards its copy.
    fence(Ordering::Release);
    slot[S_VALUE].store(value.to_bits(), Ordering::Relaxed);
    slot[S_TIME].store(timestamp.to_bits(), Ordering::Relaxed);
    for (w, bytes) in slot[S_LABELS..].iter().zip(bytes[..len].chunks(8)) {
        let mut word = [0u8; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        w.store(u64::from_le_bytes(word), Ordering::Relaxed);
    }
    slot[S_LEN].store(len as u64, Ordering::Relaxed);
    version.store(next(claim, pid), Ordering::Release);
    true
}

/// The exemplar in `slot`, if one was written and a consistent copy could be had (a
/// slot held by a writer through several tries is skipped).
pub(crate) fn read(slot: &[AtomicU64]) -> Option<Exemplar> {
    let version = &slot[S_VERSION];
    for _ in 0..READ_TRIES {
        let before = version.load(Ordering::Acquire);
        if before == 0 {
            return None;
        }
        if before & 1 == 1 {
            crate::sync::Backoff::new().spin();
            continue;
        }
        let value = f64::from_bits(slot[S_VALUE].load(Ordering::Relaxed));
        let timestamp = f64::from_bits(slot[S_TIME].load(Ordering::Relaxed));
        let len = slot[S_LEN].load(Ordering::Relaxed);
        let mut bytes = [0u8; LABEL_BYTES];
        let used = (len as usize).min(LABEL_BYTES).div_ceil(8);
        for (x, w) in bytes
            .chunks_exact_mut(8)
            .zip(&slot[S_LABELS..S_LABELS + used])
        {
            x.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        fence(Ordering::Acquire);
        if version.load(Ordering::Relaxed) != before {
            continue;
        }
        if len as usize > LABEL_BYTES {
            return None; // a slot the file holds but no writer wrote
        }
        return Some(Exemplar {
            bytes,
            len: len as usize,
            value,
            timestamp,
        });
    }
    None
}

/// The latest of `a` and `b` by time.
pub(crate) fn latest(a: Option<Exemplar>, b: Option<Exemplar>) -> Option<Exemplar> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.timestamp > a.timestamp { b } else { a }),
        (a, b) => a.or(b),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn slot() -> Vec<AtomicU64> {
        (0..SLOT_WORDS).map(|_| AtomicU64::new(0)).collect()
    }

    #[test]
    fn a_slot_reads_back_what_was_written_last() {
        let s = slot();
        assert!(read(&s).is_none());
        let labels = [("trace_id", "abc"), ("span", "")];
        let e = Encoded::new(&labels).unwrap();
        assert!(write(&s, &e, 2.5, 1.0e9, 1, |_| false));
        let got = read(&s).unwrap();
        assert_eq!(
            got.labels().collect::<Vec<_>>(),
            [("trace_id", "abc"), ("span", "")]
        );
        assert_eq!((got.value(), got.timestamp()), (2.5, 1.0e9));
        let labels = [("t", "x")];
        let e = Encoded::new(&labels).unwrap();
        assert!(write(&s, &e, 3.0, 2.0e9, 1, |_| false));
        let got = read(&s).unwrap();
        assert_eq!(got.labels().collect::<Vec<_>>(), [("t", "x")]);
        assert_eq!(got.value(), 3.0);
    }

    #[test]
    fn the_largest_labels_fit() {
        let s = slot();
        // 128 pairs of a one-character name of 4 bytes and an empty value.
        let names: Vec<String> = (0..128)
            .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
            .collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "")).collect();
        // Not legacy names: refused, clearly.
        assert!(Encoded::new(&pairs).is_err());
        let long = "😀".repeat(127); // the most bytes a slot is given
        assert_eq!(1 + long.len() + 2, LABEL_BYTES - 1);
        let labels = [("a", long.as_str())];
        let e = Encoded::new(&labels).unwrap();
        assert!(write(&s, &e, 1.0, 1.0, 1, |_| false));
        assert_eq!(
            read(&s).unwrap().labels().next(),
            Some(("a", long.as_str()))
        );
        let too_long = "😀".repeat(128);
        assert!(matches!(
            Encoded::new(&[("a", &too_long)]),
            Err(crate::Error::ExemplarTooLong(129))
        ));
    }

    #[test]
    fn a_held_slot_drops_the_writer_and_is_skipped_by_readers() {
        let s = slot();
        let labels = [("t", "1")];
        let e = Encoded::new(&labels).unwrap();
        assert!(write(&s, &e, 1.0, 1.0, 1, |_| false));
        s[S_VERSION].fetch_add(1, Ordering::Relaxed); // another writer holds it
        assert!(!write(&s, &e, 2.0, 2.0, 1, |_| false));
        assert!(read(&s).is_none());
        s[S_VERSION].fetch_add(1, Ordering::Relaxed);
        assert_eq!(read(&s).unwrap().value(), 1.0);
    }

    #[test]
    fn a_slot_left_held_by_a_writer_that_exited_is_taken_over() {
        let s = slot();
        let labels = [("t", "1")];
        let e = Encoded::new(&labels).unwrap();
        assert!(write(&s, &e, 1.0, 1.0, 7, |_| false));
        // Writer 9 claimed it and was killed before its last store.
        let held = next(s[S_VERSION].load(Ordering::Relaxed), 9);
        s[S_VERSION].store(held, Ordering::Relaxed);
        let gone = |pid| pid == 9;
        // Found held once: dropped, as a live writer's slot would be.
        assert!(!write(&s, &e, 2.0, 2.0, 7, gone));
        // Held by a live writer the second time: still dropped.
        assert!(!write(&s, &e, 2.0, 2.0, 7, |_| false));
        assert!(read(&s).is_none());
        // Found held with the same word again, its writer gone: taken over.
        assert!(write(&s, &e, 3.0, 3.0, 7, gone));
        assert_eq!(read(&s).unwrap().value(), 3.0);
        assert_eq!(s[S_VERSION].load(Ordering::Relaxed) >> 32, 7);
    }

    #[test]
    fn a_length_past_the_slot_is_not_believed() {
        let s = slot();
        let labels = [("t", "1")];
        let e = Encoded::new(&labels).unwrap();
        assert!(write(&s, &e, 1.0, 1.0, 1, |_| false));
        s[S_LEN].store(u64::MAX, Ordering::Relaxed);
        assert!(read(&s).is_none());
    }
}

#[cfg(all(test, loom))]
mod loom_model {
    use super::*;
    use loom::sync::Arc;

    /// Two writers race for a slot holding an exemplar while a reader copies it: the
    /// reader sees one of the three exemplars whole, and afterwards the slot holds one
    /// of them whole, the last claimed.
    #[test]
    fn writers_race_and_a_reader_never_sees_a_torn_exemplar() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let s: Arc<Vec<AtomicU64>> =
                Arc::new((0..SLOT_WORDS).map(|_| AtomicU64::new(0)).collect());
            let put = |s: &[AtomicU64], l: &str, v: f64| {
                let labels = [("t", l)];
                write(
                    s,
                    &Encoded::new(&labels).unwrap(),
                    v,
                    v * 10.0,
                    v as u32,
                    |_| false,
                )
            };
            assert!(put(&s, "first exemplar, two words", 3.0));
            let whole = |e: &Exemplar| {
                let l: Vec<_> = e.labels().collect();
                let (v, t) = (e.value(), e.timestamp());
                (l == [("t", "a")] && v == 1.0 && t == 10.0)
                    || (l == [("t", "bb")] && v == 2.0 && t == 20.0)
                    || (l == [("t", "first exemplar, two words")] && v == 3.0 && t == 30.0)
            };
            let spawn = |l: &'static str, v: f64| {
                let s = s.clone();
                loom::thread::spawn(move || put(&s, l, v))
            };
            let (a, b) = (spawn("a", 1.0), spawn("bb", 2.0));
            if let Some(e) = read(&s) {
                assert!(whole(&e), "torn: {e:?}");
            }
            let (wa, wb) = (a.join().unwrap(), b.join().unwrap());
            assert!(wa || wb, "one writer at least finds the slot free");
            let e = read(&s).unwrap();
            assert!(whole(&e) && e.value() != 3.0, "torn or lost: {e:?}");
        });
    }
}

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

#[cfg(all(feature = "shared-library", not(loom)))]
mod sole;
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

/// With [`SHARED`], in a map entry's lane: the low bits are a lane this process holds,
/// written by all the threads of the overflow slot, not a CPU mask.
pub(crate) const CONTENDED: u32 = 1 << 30;

/// The lane of its own that a map entry's lane names, if any: one this process
/// claimed, whether one thread writes it or the overflow slot's threads together.
#[inline]
pub(crate) fn own_lane(lane: u32) -> Option<usize> {
    if lane & SHARED == 0 {
        Some(lane as usize)
    } else if lane & CONTENDED != 0 {
        Some((lane & !(SHARED | CONTENDED)) as usize)
    } else {
        None
    }
}

/// Whether `slot` is the overflow slot, whose threads share one key and one lane.
#[inline]
pub(crate) fn is_overflow(slot: usize) -> bool {
    slot == OVERFLOW
}

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
        #[cfg(all(feature = "shared-library", not(loom)))]
        sole::forget();
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
    #[cfg(all(feature = "shared-library", not(loom)))]
    if let Some(key) = sole::key() {
        return key;
    }
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
    #[cfg(all(feature = "shared-library", not(loom)))]
    if slot != OVERFLOW {
        sole::offer(v);
    }
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
            #[cfg(feature = "shared-library")]
            sole::after_fork(None);
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
        let v = join(key, slot as u32);
        let _ = KEY.try_with(|k| k.set(v));
        #[cfg(feature = "shared-library")]
        sole::after_fork((slot != OVERFLOW).then_some(v));
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
            own_lane(lane as u32).filter(|_| key != 0)
        })
    }
}

/// Which lane holders of a region are gone, for readers: a lane whose holder died
/// may hold a count its holder added but did not mark written, so it is read whole.
/// A holder is checked once by its `/proc` start time and then watched through a
/// pidfd, so a render asks the kernel once (one `poll`) about all of them. Process
/// memory, kept per region.
pub(crate) struct Watch {
    watched: std::sync::Mutex<Vec<Watched>>,
}

/// Pidfds a region's watch keeps open at most: past them, holders are checked by
/// their start time at every render, so the host's descriptors are not used up.
#[cfg(not(loom))]
const MAX_PIDFDS: usize = 64;
#[cfg(loom)]
const MAX_PIDFDS: usize = 0;

/// A holder seen in the lane table.
struct Watched {
    owner: LaneOwner,
    /// Open while the holder runs; `None` once it is known gone, or when pidfds are
    /// not to be had (then its start time is read at every check).
    #[cfg(not(loom))]
    fd: Option<std::os::fd::OwnedFd>,
    gone: bool,
}

impl Watch {
    /// A watch of no holder yet.
    pub fn new() -> Watch {
        Watch {
            watched: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// For each lane holder in `owners` (lane table words, 0 for a free lane): whether
    /// it is gone. The calling process and free lanes are never gone.
    pub fn gone(&self, owners: &[u64]) -> Vec<bool> {
        let me = me();
        // Never waited for: a render running at the same time, or a lock a forked
        // child inherited held, has this render check the holders afresh.
        let mut guard = match self.watched.try_lock() {
            Ok(w) => Some(w),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        let mut fresh = Vec::new();
        let watched = guard.as_deref_mut().unwrap_or(&mut fresh);
        watched.retain(|w| owners.contains(&w.owner.0));
        for &o in owners {
            if o != 0 && o != me.0 && !watched.iter().any(|w| w.owner.0 == o) {
                let open = watched.iter().filter(|w| w.watching()).count() < MAX_PIDFDS;
                watched.push(Watched::new(LaneOwner(o), open));
            }
        }
        check(watched);
        owners
            .iter()
            .map(|&o| watched.iter().any(|w| w.owner.0 == o && w.gone))
            .collect()
    }
}

#[cfg(not(loom))]
impl Watched {
    /// Starts watching `owner`: a pidfd of its pid if `open`, kept if the process
    /// behind it has the owner's start time (checked after the pidfd is opened, so the
    /// pidfd is of that process and not of one that took its pid later).
    fn new(owner: LaneOwner, open: bool) -> Watched {
        use std::os::fd::FromRawFd;
        let pid = owner.pid();
        let fd = if open {
            // SAFETY: a system call that takes no memory; it returns a new descriptor
            // (close-on-exec) or -1.
            unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) }
        } else {
            -1
        };
        let err = (open && fd < 0).then(std::io::Error::last_os_error);
        let fd = (fd >= 0).then(|| {
            // SAFETY: `fd` is a descriptor just opened by this process and owned by
            // no one else.
            unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) }
        });
        let gone = pid == 0
            || err.is_some_and(|e| e.raw_os_error() == Some(libc::ESRCH))
            || !started_as(owner);
        Watched {
            owner,
            fd: if gone { None } else { fd },
            gone,
        }
    }
}

#[cfg(not(loom))]
impl Watched {
    /// Whether a pidfd watches the holder.
    fn watching(&self) -> bool {
        self.fd.is_some()
    }
}

/// Whether the process `owner` names runs, with its start time (0: not stored yet).
#[cfg(not(loom))]
fn started_as(owner: LaneOwner) -> bool {
    crate::procstat::Stat::of(owner.pid())
        .and_then(|s| s.start_time())
        .is_some_and(|t| owner.started() == 0 || LaneOwner::new(owner.pid(), t) == owner)
}

/// Updates `gone` for each holder still thought running: one `poll` of their pidfds
/// (readable once the process has exited), and a start time read for those without.
#[cfg(not(loom))]
fn check(watched: &mut [Watched]) {
    use std::os::fd::AsRawFd;
    let mut polled: Vec<libc::pollfd> = watched
        .iter()
        .filter(|w| !w.gone)
        .filter_map(|w| w.fd.as_ref())
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    if !polled.is_empty() {
        // SAFETY: `polled` is a live array of `polled.len()` pollfds; timeout 0
        // returns at once.
        let n = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, 0) };
        if n < 0 {
            // Not answered (EINTR, ENOMEM): thought running, checked again next time.
            polled.iter_mut().for_each(|p| p.revents = 0);
        }
    }
    let mut answers = polled.iter();
    for w in watched.iter_mut().filter(|w| !w.gone) {
        w.gone = match w.fd {
            Some(_) => answers.next().is_some_and(|p| p.revents != 0),
            None => !started_as(w.owner),
        };
        if w.gone {
            w.fd = None;
        }
    }
}

#[cfg(loom)]
impl Watched {
    fn new(owner: LaneOwner, _: bool) -> Watched {
        Watched { owner, gone: false }
    }

    fn watching(&self) -> bool {
        false
    }
}

/// Loom models run in one process: no holder is gone.
#[cfg(loom)]
fn check(_: &mut [Watched]) {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn holders_are_gone_once_killed_whether_watched_by_pidfd_or_by_start_time() {
        let mut child = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        let pid = child.id();
        let started = crate::procstat::Stat::of(pid)
            .and_then(|s| s.start_time())
            .unwrap();
        let (owner, other) = (
            LaneOwner::new(pid, started),
            LaneOwner::new(pid, started + 1),
        );
        let watch = Watch::new();
        let mut by_start_time = [Watched::new(owner, false)];
        assert!(by_start_time[0].fd.is_none());
        let gone = watch.gone(&[owner.0, 0, me().0, other.0]);
        assert_eq!(
            gone,
            [false, false, false, true],
            "another start time: gone"
        );
        check(&mut by_start_time);
        assert!(!by_start_time[0].gone);

        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(watch.gone(&[owner.0, me().0]), [true, false]);
        check(&mut by_start_time);
        assert!(by_start_time[0].gone);
    }
}

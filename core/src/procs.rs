//! The process table: which processes are attached to a region, so that per-process
//! gauge series can be told apart and those of dead processes dropped.
//!
//! Slot `i` is two words: a [`Claim`] (generation and pid) and the process's start time
//! (clock ticks since boot, from `/proc/PID/stat`, to tell a reused pid from the
//! original). A process attaches by claiming a free slot or one whose process is dead;
//! each claim bumps the generation, so series of the earlier owner are never taken for
//! the new one's. An owner is an [`OwnerId`]: generation and slot.

use std::sync::Arc;

use crate::procstat::Stat;
use crate::region::{Region, H_PROCS_FULL, PROC_WORDS};
use crate::sync::Ordering;
use crate::word::{Claim, OwnerId};

/// Owner of the per-process gauge series of processes that found the process table
/// full: one series per label set that they share, taken for alive, never swept.
pub(crate) const SHARED_OWNER: u64 = u64::MAX - 1;

/// An attached process's identity in its region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    /// An [`OwnerId`], as stored in series records.
    pub id: u64,
    /// The process id.
    pub pid: u32,
}

/// One slot of the process table, as read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcSlot {
    /// The slot's owner id (generation and slot).
    pub owner: u64,
    /// The attached pid, 0 for never used.
    pub pid: u32,
    /// Whether that process is still running.
    pub alive: bool,
}

fn slot_words(region: &Region, slot: usize) -> (usize, usize) {
    let at = region.layout.procs_off + slot * PROC_WORDS;
    (at, at + 1)
}

/// A region and the calling process's slot in its process table, which is given back
/// when the last handle that needs it is dropped.
pub(crate) struct Attachment {
    /// The region.
    pub region: Arc<Region>,
    /// This process's identity there: its own, or [`SHARED_OWNER`] (pid 0) when the
    /// table was full (counted in header word `H_PROCS_FULL`); `None` read-only.
    pub owner: Option<Owner>,
}

impl Attachment {
    /// Attaches the calling process to `region`, unless the region is read-only.
    pub fn new(region: Region) -> Attachment {
        let owner = region.writable.then(|| {
            attach(&region).unwrap_or_else(|| {
                region.count(H_PROCS_FULL);
                Owner {
                    id: SHARED_OWNER,
                    pid: 0,
                }
            })
        });
        Attachment {
            region: Arc::new(region),
            owner,
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if let Some(o) = self.owner.filter(|o| o.id != SHARED_OWNER) {
            detach(&self.region, o);
        }
    }
}

/// Start time of `pid` in clock ticks since boot, if it is running.
fn start_time(pid: u32) -> Option<u64> {
    Stat::of(pid)?.start_time()
}

/// Whether process `pid`, not this one, has exited.
pub(crate) fn gone(pid: u32) -> bool {
    pid != std::process::id() && start_time(pid).is_none()
}

/// Whether process `pid` that started at `started` (clock ticks since boot; 0 for
/// unknown) is running.
pub(crate) fn alive(pid: u32, started: u64) -> bool {
    if pid == 0 {
        return false;
    }
    match start_time(pid) {
        // A start time of 0 means the claimer has not stored it yet.
        Some(t) => started == 0 || t == started,
        None => false,
    }
}

/// Attaches the calling process, returning its owner id, or `None` when every slot is
/// held by a live process.
pub(crate) fn attach(region: &Region) -> Option<Owner> {
    let pid = std::process::id();
    let started = start_time(pid).unwrap_or(0);
    for slot in 0..region.layout.procs {
        let (w_id, w_start) = slot_words(region, slot);
        let cur = Claim(region.word(w_id).load(Ordering::Acquire));
        let cur_started = region.word(w_start).load(Ordering::Acquire);
        if cur.pid() != 0 && alive(cur.pid(), cur_started) {
            continue;
        }
        let generation = cur.generation().wrapping_add(1);
        let new = Claim::new(generation, pid);
        if region
            .word(w_id)
            .compare_exchange(cur.0, new.0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            region.word(w_start).store(started, Ordering::Release);
            return Some(Owner {
                id: OwnerId::new(generation, slot as u32).0,
                pid,
            });
        }
    }
    None
}

/// Gives the slot back, when the process closes its last registry on this region.
pub(crate) fn detach(region: &Region, owner: Owner) {
    let id = OwnerId(owner.id);
    let (w_id, _) = slot_words(region, id.slot() as usize);
    let held = Claim::new(id.generation(), owner.pid);
    // Keep the generation so a later claim moves past it; clear the pid.
    let _ = region.word(w_id).compare_exchange(
        held.0,
        Claim::new(id.generation(), 0).0,
        Ordering::AcqRel,
        Ordering::Relaxed,
    );
}

/// Every slot of the table, with liveness checked now.
pub(crate) fn slots(region: &Region) -> Vec<ProcSlot> {
    (0..region.layout.procs)
        .map(|slot| {
            let (w_id, w_start) = slot_words(region, slot);
            let cur = Claim(region.word(w_id).load(Ordering::Acquire));
            let started = region.word(w_start).load(Ordering::Acquire);
            ProcSlot {
                owner: OwnerId::new(cur.generation(), slot as u32).0,
                pid: cur.pid(),
                alive: alive(cur.pid(), started),
            }
        })
        .collect()
}

/// Whether series of `owner` belong to a live process, given [`slots`] (the shared
/// owner's always do).
pub(crate) fn owner_alive(slots: &[ProcSlot], owner: u64) -> bool {
    owner == SHARED_OWNER
        || slots
            .get(OwnerId(owner).slot() as usize)
            .is_some_and(|s| s.owner == owner && s.alive)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::region::Options;

    #[test]
    fn attach_reuses_dead_slots_with_a_new_generation() {
        let opts = Options {
            process_capacity: 2,
            cells_per_shard: 512,
            series_capacity: 16,
            family_capacity: 4,
            arena_bytes: 4096,
            ..Options::default()
        };
        let r = Region::anonymous(&opts).unwrap();
        let a = attach(&r).unwrap();
        let b = attach(&r).unwrap();
        assert_ne!(a.id, b.id);
        assert!(attach(&r).is_none(), "both slots held by this live process");
        let s = slots(&r);
        assert!(owner_alive(&s, a.id) && owner_alive(&s, b.id));
        detach(&r, a);
        let c = attach(&r).unwrap();
        assert_eq!(c.id & 0xffff_ffff, a.id & 0xffff_ffff, "same slot");
        assert_ne!(c.id, a.id, "new generation");
        assert!(!owner_alive(&slots(&r), a.id));
        // A pid that is not running is taken for dead.
        let (w, _) = slot_words(&r, 0);
        r.word(w).store(5 << 32 | 0x7fff_fff0, Ordering::Relaxed);
        assert!(!slots(&r)[0].alive);
    }
}

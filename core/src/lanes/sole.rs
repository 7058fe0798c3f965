//! The first thread of this process to get a key, recognized by its thread pointer:
//! its key is then read without a thread-local lookup, which in a library loaded with
//! `dlopen` (the Lua module, a C program's plugin) is a call into the dynamic loader
//! on every recording. Single-threaded recorders (an nginx worker, a Python process)
//! are that thread; every other thread reads its key from its thread-local as before.
//!
//! The thread pointer is unique among live threads; the sole thread clears it here
//! before it exits (a thread-local's destructor), so a later thread at the same
//! address is not taken for it.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The sole thread's thread pointer; 0 for none.
static TP: AtomicUsize = AtomicUsize::new(0);
/// The sole thread's key and slot, as [`super::current`] gives them.
static KEY: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set in the sole thread: its destructor clears [`TP`] when the thread exits.
    static GUARD: Guard = const { Guard(Cell::new(false)) };
}

struct Guard(Cell<bool>);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.get() {
            forget();
        }
    }
}

/// The calling thread's thread pointer, read from its register; 0 where it is not
/// read (then no thread is the sole one).
#[inline(always)]
fn thread_pointer() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let tp: usize;
        // SAFETY: on x86-64 Linux the word at fs:0 is the thread control block's
        // pointer to itself (the ABI's thread pointer), always mapped; the load
        // changes nothing.
        unsafe {
            std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp,
                options(nostack, readonly, preserves_flags));
        }
        tp
    }
    #[cfg(target_arch = "aarch64")]
    {
        let tp: usize;
        // SAFETY: reads the thread pointer register, which every thread has.
        unsafe {
            std::arch::asm!("mrs {}, tpidr_el0", out(reg) tp,
                options(nomem, nostack, preserves_flags));
        }
        tp
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        0
    }
}

/// The calling thread's key and slot if it is the sole thread.
#[inline(always)]
pub(super) fn key() -> Option<u64> {
    let tp = thread_pointer();
    (tp != 0 && TP.load(Ordering::Relaxed) == tp).then(|| KEY.load(Ordering::Relaxed))
}

/// Makes the calling thread, which was just given `key`, the sole thread if there is
/// none (cold: once per thread).
pub(super) fn offer(key: u64) {
    let tp = thread_pointer();
    if tp == 0 || TP.load(Ordering::Relaxed) != 0 {
        return;
    }
    // Without a destructor to clear it at exit, the thread is not taken.
    if GUARD.try_with(|g| g.0.set(true)).is_err() {
        return;
    }
    // Only the thread whose pointer `TP` holds reads `KEY`, and this one only after it
    // stored it, below.
    if TP
        .compare_exchange(0, tp, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
    {
        KEY.store(key, Ordering::Relaxed);
    } else {
        let _ = GUARD.try_with(|g| g.0.set(false));
    }
}

/// In a forked child, whose only thread is the calling one, which now has `key` (none
/// if it never had one): it stays the sole thread, with that key, if it was; otherwise
/// there is none until a thread is given a key. Touches only atomics (a fork handler).
pub(super) fn after_fork(key: Option<u64>) {
    let tp = thread_pointer();
    match key {
        Some(key) if tp != 0 && TP.load(Ordering::Relaxed) == tp => {
            KEY.store(key, Ordering::Relaxed)
        }
        _ => TP.store(0, Ordering::Relaxed),
    }
}

/// The calling thread is no longer the sole thread, if it was (it is exiting).
pub(super) fn forget() {
    let tp = thread_pointer();
    if tp != 0 {
        let _ = TP.compare_exchange(tp, 0, Ordering::Relaxed, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::super::{assign, current, KEY};

    #[test]
    fn every_thread_reads_its_own_key() {
        // Threads one after another, which reuse each other's thread control blocks
        // (and so thread pointers: a sole thread not forgotten at its exit would hand
        // its key to the next), then several at once.
        let check = || {
            for _ in 0..3 {
                let v = assign();
                assert_eq!(
                    KEY.with(Cell::get),
                    v,
                    "the thread-local holds the key given"
                );
                assert_eq!(current(), v);
            }
        };
        for _ in 0..20 {
            std::thread::spawn(check).join().unwrap();
        }
        let threads: Vec<_> = (0..8).map(|_| std::thread::spawn(check)).collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}

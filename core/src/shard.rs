//! Which shard the calling thread records into: its current CPU.
//!
//! The CPU number comes from the thread's rseq area, which the kernel keeps current
//! and glibc (2.35 and later) registers for every thread, exporting its offset from
//! the thread pointer as `__rseq_offset`. Reading it is one load. Where there is no
//! rseq area, a thread-local copy of `sched_getcpu()` is refreshed every 64 calls: a
//! stale shard is still correct, only shared with another CPU for a while.

#[cfg(not(loom))]
mod imp {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicIsize, Ordering};

    /// Not looked up yet.
    const UNKNOWN: isize = isize::MIN;
    /// No usable rseq area.
    const NONE: isize = isize::MAX;
    /// Offset of `cpu_id` in `struct rseq`.
    const CPU_ID: isize = 4;

    static RSEQ_OFFSET: AtomicIsize = AtomicIsize::new(UNKNOWN);

    thread_local! {
        static CACHED: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
    }

    fn lookup() -> isize {
        // SAFETY: dlsym with RTLD_DEFAULT and NUL-terminated names only looks symbols
        // up. When present, `__rseq_offset` is a `ptrdiff_t` and `__rseq_size` an
        // `unsigned int`, both set by glibc before any user code runs and never changed.
        let off = unsafe {
            let off = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_offset".as_ptr());
            let size = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr());
            if off.is_null() || size.is_null() || *(size as *const u32) < 8 {
                NONE
            } else {
                *(off as *const isize)
            }
        };
        RSEQ_OFFSET.store(off, Ordering::Relaxed);
        off
    }

    #[inline]
    fn thread_pointer() -> Option<*const u8> {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        {
            let tp: *const u8;
            // SAFETY: on x86_64 Linux, %fs:0 holds the thread control block's own
            // address (the thread pointer); reading it has no side effects.
            unsafe {
                std::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags))
            };
            Some(tp)
        }
        #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
        {
            let tp: *const u8;
            // SAFETY: TPIDR_EL0 holds the thread pointer; reading it has no side effects.
            unsafe {
                std::arch::asm!("mrs {}, tpidr_el0", out(reg) tp, options(nostack, nomem, preserves_flags))
            };
            Some(tp)
        }
        #[cfg(not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )))]
        None
    }

    #[inline]
    fn from_rseq() -> Option<usize> {
        let mut off = RSEQ_OFFSET.load(Ordering::Relaxed);
        if off == UNKNOWN {
            off = lookup();
        }
        if off == NONE {
            return None;
        }
        let tp = thread_pointer()?;
        // SAFETY: glibc places each thread's registered `struct rseq` at the thread
        // pointer plus `__rseq_offset`; `cpu_id` is an aligned 32-bit field the kernel
        // updates, so it is read volatile. It is negative if registration failed.
        let cpu = unsafe { std::ptr::read_volatile(tp.offset(off + CPU_ID) as *const i32) };
        (cpu >= 0).then_some(cpu as usize)
    }

    fn from_sched_getcpu() -> usize {
        CACHED.with(|c| {
            let (cpu, calls) = c.get();
            if calls % 64 == 0 {
                // SAFETY: sched_getcpu takes no arguments and only returns a number.
                let now = unsafe { libc::sched_getcpu() }.max(0) as u32;
                c.set((now, 1));
                now as usize
            } else {
                c.set((cpu, calls + 1));
                cpu as usize
            }
        })
    }

    /// The CPU the calling thread runs on, or a recent one.
    #[inline]
    pub(crate) fn current() -> usize {
        from_rseq().unwrap_or_else(from_sched_getcpu)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn rseq_and_sched_getcpu_agree() {
            // The thread may migrate between the two reads; retry a few times.
            let agree = (0..100).any(|_| {
                let a = super::from_rseq();
                // SAFETY: see from_sched_getcpu.
                let b = unsafe { libc::sched_getcpu() } as usize;
                a.is_none_or(|a| a == b)
            });
            assert!(agree);
            assert!(super::current() < 1 << 16);
        }
    }
}

/// Under loom every thread records into shard 0: the contended case.
#[cfg(loom)]
mod imp {
    #[inline]
    pub(crate) fn current() -> usize {
        0
    }
}

pub(crate) use imp::current;

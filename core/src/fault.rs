//! Faults on shared mappings. When the file behind a mapping is truncated, touching a
//! page past its new end raises `SIGBUS`. The handler here, installed once per process
//! when the first file is mapped, finds the faulting address in a fixed table of the
//! mappings of registry files, maps private anonymous memory over that whole mapping
//! and returns, so the access runs again against memory that cannot fault; the mapping
//! is marked broken, and its registry moves to a new file on its next check. Every
//! other `SIGBUS` goes to the disposition that was there before.
//!
//! The table (`table.rs`) is written when a mapping is made and cleared before it is
//! unmapped; the handler only reads it, with atomics, and never allocates or locks.
//! Unregistering waits until no handler is running, so a handler that read a range
//! never maps over memory that was unmapped and reused meanwhile.

mod table;

use std::cell::UnsafeCell;
use std::sync::Once;

use table::Table;

/// Mappings of registry files one process can have at once.
pub(crate) const MAX_MAPPINGS: usize = 1024;

static TABLE: Table<MAX_MAPPINGS> = Table::new();

/// The `SIGBUS` disposition found when the handler was installed.
struct Previous(UnsafeCell<std::mem::MaybeUninit<libc::sigaction>>);
// SAFETY: written once, inside `INSTALL`, before the handler that reads it is installed;
// only read afterwards.
unsafe impl Sync for Previous {}
static PREVIOUS: Previous = Previous(UnsafeCell::new(std::mem::MaybeUninit::uninit()));
static INSTALL: Once = Once::new();

/// A mapping in the table; cleared on drop. Drop it before the memory is unmapped.
pub(crate) struct Registration {
    slot: usize,
}

impl Registration {
    /// Registers the mapping `[start, start + len)`, installing the handler on first use.
    /// `None` when [`MAX_MAPPINGS`] are registered already.
    pub fn new(start: *const u8, len: usize) -> Option<Registration> {
        install();
        let slot = TABLE.claim(start as usize, len)?;
        Some(Registration { slot })
    }

    /// Whether a fault replaced the mapping with private anonymous memory.
    pub fn broken(&self) -> bool {
        TABLE.is_broken(self.slot)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        TABLE.release(self.slot);
    }
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: `sigaction` with a null new action only reads the current one into
        // `PREVIOUS`, which nothing reads before the handler below is installed. The
        // handler is an `extern "C"` function with the `SA_SIGINFO` signature.
        unsafe {
            let prev = (*PREVIOUS.0.get()).as_mut_ptr();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), prev) != 0 {
                return;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_sigbus as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(libc::SIGBUS, &act, std::ptr::null_mut());
        }
    });
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    TABLE.enter();
    // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO` handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let ours = TABLE
        .find(addr)
        .is_some_and(|(slot, start, len)| replace(slot, start, len));
    TABLE.leave();
    if !ours {
        chain(sig, info, ctx);
    }
}

/// Maps anonymous memory over the broken mapping; `false` if that failed.
fn replace(slot: usize, start: usize, len: usize) -> bool {
    if !TABLE.break_slot(slot) {
        // Another thread is replacing it: the access runs again, after that.
        return true;
    }
    // SAFETY: `[start, start + len)` is a live mapping of a registry file (it stays
    // registered, so mapped, while any handler runs), and every access to it is through
    // atomics that tolerate its contents changing. Mapping over it with MAP_FIXED
    // swaps its pages for zeroed private ones of the same size; nothing else is touched.
    let p = unsafe {
        libc::mmap(
            start as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        TABLE.unbreak(slot);
        return false;
    }
    true
}

/// Hands a signal that is not ours to the disposition found at installation.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: `PREVIOUS` was written before this handler was installed. The calls are
    // async-signal-safe (`sigaction`, `pthread_sigmask`, `raise`), and a previous
    // handler is called with the signature its flags declare, under its own mask.
    unsafe {
        let prev = &*(*PREVIOUS.0.get()).as_ptr();
        let action = prev.sa_sigaction;
        // A fault the kernel raised comes back when ignored: it must end the process.
        let from_kernel = (*info).si_code > 0;
        if action == libc::SIG_DFL || (action == libc::SIG_IGN && from_kernel) {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut dfl.sa_mask);
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
            // Blocked until this handler returns, then delivered with the default action.
            libc::raise(sig);
            return;
        }
        if action == libc::SIG_IGN {
            return;
        }
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &prev.sa_mask, &mut old);
        if prev.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(action);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(action);
            f(sig);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

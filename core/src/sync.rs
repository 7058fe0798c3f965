//! The one place atomics come from: `std` normally, loom's model types under `cfg(loom)`.
//!
//! Every shared word of a region is an `AtomicU64` from here, so the loom models in
//! `tests/loom.rs` exercise the same code that runs in production.

#[cfg(loom)]
#[allow(unused_imports)] // the fault table's, which only its loom model compiles
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Waits a little before a CAS loop retries.
pub(crate) struct Backoff(#[cfg(not(loom))] crossbeam_utils::Backoff);

impl Backoff {
    pub(crate) fn new() -> Self {
        #[cfg(not(loom))]
        return Backoff(crossbeam_utils::Backoff::new());
        #[cfg(loom)]
        return Backoff();
    }

    /// Spins (or yields to the loom scheduler) once.
    pub(crate) fn spin(&self) {
        #[cfg(not(loom))]
        self.0.spin();
        #[cfg(loom)]
        loom::thread::yield_now();
    }
}

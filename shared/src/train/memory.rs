//! Peak heap memory of a piece of work, measured by a counting global allocator.
//!
//! A binary opts in by installing [`PeakAlloc`] as its global allocator:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: kiln_core::train::memory::PeakAlloc = kiln_core::train::memory::PeakAlloc::new();
//! ```
//!
//! and then measures with [`PeakAlloc::measure`]. On the CPU backend every tensor lives on the
//! heap, so this is the memory of a training step (the quantity of the papers' GPU-memory
//! tables, measured in host RAM instead). Counting is two relaxed atomic operations per
//! allocation, too cheap to change timings.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The system allocator plus live-byte and peak-byte counters.
pub struct PeakAlloc {
    live: AtomicUsize,
    peak: AtomicUsize,
    used: AtomicBool,
}

impl PeakAlloc {
    /// A counter; install it with `#[global_allocator]`.
    pub const fn new() -> Self {
        Self {
            live: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            used: AtomicBool::new(false),
        }
    }

    /// Bytes allocated now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Runs `work` and returns its result with the peak number of bytes it had allocated on
    /// top of what was live when it started. `None` when this allocator is not the global one
    /// (nothing was ever counted).
    pub fn measure<T>(&self, work: impl FnOnce() -> T) -> (T, Option<usize>) {
        let before = self.live();
        self.peak.store(before, Ordering::Relaxed);
        let out = work();
        let peak = self.peak.load(Ordering::Relaxed);
        let counted = self.used.load(Ordering::Relaxed);
        (out, counted.then(|| peak.saturating_sub(before)))
    }

    fn add(&self, size: usize) {
        let live = self.live.fetch_add(size, Ordering::Relaxed) + size;
        self.peak.fetch_max(live, Ordering::Relaxed);
    }
}

impl Default for PeakAlloc {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the only
// addition is bookkeeping on atomics, which cannot affect the returned memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `GlobalAlloc::alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            self.used.store(true, Ordering::Relaxed);
            self.add(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            self.used.store(true, Ordering::Relaxed);
            self.add(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with this layout.
        unsafe { System.dealloc(ptr, layout) };
        self.live.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `GlobalAlloc::realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            self.live.fetch_sub(layout.size(), Ordering::Relaxed);
            self.add(new_size);
        }
        new
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    #[test]
    fn counts_nothing_when_not_installed() {
        let probe = PeakAlloc::new();
        let (v, peak) = probe.measure(|| vec![0u8; 1 << 20]);
        assert_eq!(v.len(), 1 << 20);
        assert_eq!(peak, None);
    }

    #[test]
    fn counts_a_known_allocation_when_used_directly() {
        let probe = PeakAlloc::new();
        let layout = Layout::from_size_align(4096, 8).unwrap();
        let ((), peak) = probe.measure(|| {
            // SAFETY: a non-zero-size layout, freed with the same layout below.
            let p = unsafe { probe.alloc(layout) };
            assert!(!p.is_null());
            // SAFETY: `p` was allocated above by `probe` with `layout`.
            unsafe { probe.dealloc(p, layout) };
        });
        assert_eq!(peak, Some(4096));
        assert_eq!(probe.live(), 0);
    }
}

//! Handing memory the daemon no longer uses back to the system.
//!
//! Loading a large configuration and the coordinator's first pass allocate far more than
//! the daemon keeps (the file's text, syntax tree, the first batch of IPVS operations), and
//! a reload frees a whole configuration. jemalloc, the global allocator (`main.rs`), hands
//! freed pages back on its own only after ten seconds (its decay), so [`release`] purges
//! them once such a phase is over: start-up, the first pass, and [`RELEASE_AFTER`] after a
//! reload that no other reload followed.
//!
//! Why jemalloc (BENCHMARKS.md, "Allocator"): with mimalloc, the allocator before, RSS
//! climbed in steps over the first hundred reloads and stayed about 9 MB up while the live
//! heap did not grow (1,000 services: 33 MB after 10 reloads, 41.5 MB after 1,000). glibc's
//! malloc with `malloc_trim` stayed flat (16-18 MB), but its per-thread arenas grow a page
//! at a time with `mprotect`: 737 calls per reload at 2,300 services x 16, which made a
//! reload twice as slow in the emulated test VM. jemalloc: 18.8-19.6 MB over 1,000 reloads
//! and 14 system calls per reload.
#![allow(unsafe_code)]

/// How long after a reload its memory is handed back, unless another reload comes first:
/// reloads back to back reuse what the previous one freed instead of faulting it in again.
pub const RELEASE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Returns the unused pages of every jemalloc arena to the system.
pub fn release() {
    // "arena.<MALLCTL_ARENAS_ALL>.purge": every arena, at once (no decay).
    const PURGE_ALL: &[u8] = b"arena.4096.purge\0";
    // SAFETY: the name is NUL-terminated; this control reads and writes no values, so the
    // null pointers and zero length are what it expects. jemalloc is the global allocator.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        tracing::debug!("jemalloc purge failed (error {rc})");
    }
}

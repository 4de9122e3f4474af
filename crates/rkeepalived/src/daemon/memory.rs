//! Handing memory the daemon no longer uses back to the system.
//!
//! Loading a large configuration and the coordinator's first pass allocate far more than
//! the daemon keeps (the file's text, syntax tree, the first batch of IPVS operations), and
//! a reload frees a whole configuration. glibc's malloc keeps such freed memory in its
//! arenas (one per thread that allocated) and an idle daemon never gives it back, so
//! [`release`] is called once such a phase is over: start-up, the first pass, and
//! [`RELEASE_AFTER`] after a reload that no other reload followed.
//!
//! Why glibc's malloc and not mimalloc (the daemon's allocator before): with mimalloc, RSS
//! climbed in steps over the first hundred reloads and stayed about 9 MB up (1,000
//! services: 33 MB after 10 reloads, 41.5 MB after 1,000) while the live heap stayed at
//! 4 MB: memory the allocator kept, which `mi_collect` (the calling thread's pages only)
//! did not give back. With glibc's malloc and `malloc_trim` it stays at 16-18 MB. Loading
//! is as fast (`cargo bench -p rk-config --bench load`; BENCHMARKS.md, "Allocator").
#![allow(unsafe_code)]

/// How long after a reload its memory is handed back, unless another reload comes first.
/// Reloads back to back reuse what the previous one freed instead of faulting it in again:
/// at 2,300 services x 16 the IPVS change is planned 62.6 ms after the signal (median over
/// 655 back-to-back reloads) against 72.3 ms with a release after each.
pub const RELEASE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Returns unused memory of every malloc arena to the system (a few milliseconds with a
/// large configuration).
pub fn release() {
    // SAFETY: `malloc_trim` takes no pointers and may be called from any thread at any
    // time; it locks each arena while it trims it.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

//! Handing memory the daemon no longer uses back to the system.
//!
//! Loading a large configuration and the coordinator's first pass allocate far more than
//! the daemon keeps (the file's text, syntax tree, the first batch of IPVS operations), and
//! a reload frees a whole configuration. glibc's malloc keeps such freed memory in its
//! arenas (one per thread that allocated) and an idle daemon never gives it back, so
//! [`release`] is called once such a phase is over (start-up, the first pass, the end of a
//! reload).
//!
//! Why glibc's malloc and not mimalloc (the daemon's allocator before): with mimalloc,
//! pages that one thread allocated and another freed stayed with the first thread, and
//! `mi_collect` only reaches the calling thread's, so RSS climbed in steps of several MB
//! over reloads (1,000 services: 33 MB after 10 reloads, 43 MB after 1,000); with glibc's
//! malloc and `malloc_trim` it stays at 17-19 MB. Loading is as fast (`cargo bench -p
//! rk-config --bench load`, BENCHMARKS.md).
#![allow(unsafe_code)]

/// Returns unused memory of every malloc arena to the system (a few milliseconds with a
/// large configuration).
pub fn release() {
    // SAFETY: `malloc_trim` takes no pointers and may be called from any thread at any
    // time; it locks each arena while it trims it.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

//! Handing memory the daemon no longer uses back to the system.
//!
//! Loading a large configuration and the coordinator's first pass allocate far more than
//! the daemon keeps (the file's text, syntax tree, the first batch of IPVS operations).
//! mimalloc, the global allocator (`main.rs`), holds pages freed that way until later
//! allocations on the same thread purge them, and a daemon that then idles never makes
//! those: at 10,000 virtual servers the load's peak stayed resident. [`release`] is called
//! once such a phase is over (start-up, the first pass, the end of a reload).
#![allow(unsafe_code)]

unsafe extern "C" {
    /// mimalloc's `mi_collect`: frees what the calling thread holds and, with `force`,
    /// purges every arena's unused pages (program wide).
    fn mi_collect(force: bool);
}

/// Returns unused pages to the system (a few milliseconds with a large configuration).
pub fn release() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any thread at any
    // time; mimalloc is linked in as the global allocator, so the symbol is there.
    unsafe { mi_collect(true) }
}

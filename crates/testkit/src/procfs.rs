//! What `/proc` says about a process, for benches and resource checks.

/// Resident memory of `pid` in KiB (`VmRSS`), 0 when it cannot be read.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Open file descriptors of `pid`, 0 when they cannot be listed.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(rss_kib(me) > 0);
        let before = open_fds(me);
        let f = std::fs::File::open("/proc/self/status").expect("open");
        assert_eq!(open_fds(me), before + 1);
        drop(f);
        assert_eq!(rss_kib(u32::MAX), 0);
    }
}

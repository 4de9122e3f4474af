//! On a kernel without IPVS (the build machines' host kernel, see
//! LAB-FACTS.md), connecting must fail with the clear "load ip_vs" error,
//! not a bare ENOENT. On a kernel with IPVS the same test checks that
//! connecting works, so the test means something wherever it runs.

use rk_ipvs::{IpvsError, IpvsHandle};

#[tokio::test]
async fn connect_reports_missing_ipvs_clearly() {
    let kernel_has_ipvs = std::path::Path::new("/proc/net/ip_vs").exists();
    match IpvsHandle::connect().await {
        Err(e @ IpvsError::NotAvailable) => {
            assert!(!kernel_has_ipvs, "kernel has IPVS but connect said: {e}");
            let text = e.to_string();
            assert!(text.contains("IPVS not available: load ip_vs"), "{text}");
        }
        Ok(handle) => {
            assert!(
                kernel_has_ipvs,
                "connected although /proc/net/ip_vs is absent"
            );
            assert_ne!(handle.family_id(), 0);
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#!/bin/sh
# keepalived 2.2.7's checker process beside rk-checkers' runner on the same N TCP_CHECKs at
# delay_loop 1, in one boot of the throw-away VM: checks/s achieved (counted by the
# listeners), CPU share and RSS of each checker. Sizes: RK_CHECKERS_VM_SIZES (default
# "500 3000"); window: RK_CHECKERS_VM_SECS (default 15). Needs root and apt. The VM is
# emulated: compare the two sides of one run only. Figures and method:
# crates/checkers/BENCHMARKS-checkers.md. The in-VM program is crates/checkers/benches/vm_lab.rs.
set -e
cd "$(dirname "$0")/../.."
exec cargo test -p rk-checkers --test vm_lab -- --ignored --nocapture

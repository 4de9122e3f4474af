#!/bin/sh
# The worst VRRP advert delay while 10,000 health checks run at delay_loop 1, in one
# rkeepalived process (VRRPv3 advert_int 0.1, TCP_CHECKs against local listeners in a
# network namespace; the host has no IPVS, so the daemon runs VRRP and checkers without
# it). Needs root. Hold the machine's bench lock:
#
#   flock /work/.bench.lock benches/checkers-vrrp/run.sh
#
# Settings (environment): RK_CKV_CHECKS (10000), RK_CKV_SECS capture seconds (30),
# RK_CKV_CPUS CPUs for the daemon (0: VRRP and the checks share one core; empty: not
# pinned; the listeners are on CPU 1). Prints one RESULT line per run; figures in
# crates/checkers/BENCHMARKS-checkers.md. The test is
# crates/rkeepalived/tests/checks_vrrp_bench.rs.
set -e
cd "$(dirname "$0")/../.."
cargo test --release -q -p rkeepalived --test checks_vrrp_bench --no-run
exec cargo test --release -q -p rkeepalived --test checks_vrrp_bench -- --ignored --nocapture

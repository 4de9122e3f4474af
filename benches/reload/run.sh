#!/bin/sh
# Reload, stop and restart figures (issue 8). Needs root (and apt for the VM).
#   benches/reload/run.sh          keepalived 2.2.7 beside rkeepalived in one VM run
#   benches/reload/run.sh --host   rkeepalived natively on the host (no IPVS: parse,
#                                  validate, VRRP, checkers and the plan of a reload;
#                                  RK_RELOAD_BENCH_SECONDS of reloads per size, default 12,
#                                  RK_RELOAD_BENCH_PAUSE_MS between them, default 0)
#   benches/reload/run.sh --memory RSS and open files over 1,000 reloads, natively
#                                  (RK_RELOAD_MEMORY="SERVICES:REALS:CHECKS:RELOADS")
# Sizes and daemons:
#   RK_RELOAD_BENCH_RUNS="s2300:2300:16:368:reload s5000:5000:4:2000:reload s10k:10000:4:0:stop"
#   RK_RELOAD_BENCH_DAEMONS="rkeepalived keepalived"
# Prints markdown tables at the end; BENCHMARKS.md and crates/coordinator/BENCHMARKS-reload.md
# record them.
set -e
cd "$(dirname "$0")/../.."
test=reload_benchmark
[ "$1" = --host ] && test=reload_benchmark_host
[ "$1" = --memory ] && test=reload_memory_host
exec cargo test --release -p rkeepalived --test reload_bench -- --ignored --nocapture --exact "$test"

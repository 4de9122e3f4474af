#!/bin/sh
# LVS benchmark in the throw-away VM, rkeepalived beside keepalived 2.2.7 in one run:
# master death -> first HTTP response through the VIP (1, 1,000, 10,000 services; rules
# follow the VIP vs rules everywhere), cold start at 10,000 x 5 with RSS, SIGTERM at
# 5,000 x 4. The measuring is benches/lvs/bench.sh; figures: benches/lvs/RESULTS.md.
# Sizes: RK_LVS_BENCH_FAILOVER="1 1000 10000" RK_LVS_BENCH_COLD=10000x5
# RK_LVS_BENCH_STOP=5000x4. Needs root and apt. The VM is emulated: compare ratios only.
set -e
cd "$(dirname "$0")/../.."
exec cargo test --release -p rkeepalived --test lvs_bench -- --ignored --nocapture

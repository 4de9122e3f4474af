#!/bin/sh
# IPVS benchmark in the throw-away VM: ipvsadm -R / -Ln against rk-ipvs
# apply / dump, each side in a fresh network namespace of the same VM run.
# Sizes: RK_BENCH_SIZES (default "1000 10000 50000", about 6 minutes; the
# 50,000 row is most of it). Needs root and apt. Figures and method:
# crates/ipvs/BENCHMARKS-ipvs.md.
set -e
cd "$(dirname "$0")/../.."
exec cargo test -p rk-ipvs --test vm_bench -- --ignored --nocapture

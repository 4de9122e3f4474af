#!/usr/bin/env bash
# The VRRP lab benchmark: rkeepalived and Debian's keepalived 2.2.7 side by side in the same
# network-namespace topology (two directors and a client on one bridge). Needs root,
# iproute2 and keepalived. Prints Markdown tables (crates/vrrp/BENCHMARKS-vrrp.md holds
# the recorded figures).
#
#   sudo benches/vrrp/run.sh                       everything, 10 runs each (~6 min)
#   sudo benches/vrrp/run.sh --only failover --runs 20
#   sudo benches/vrrp/run.sh --only jitter --jitter 60
#   options: --runs N  --steady SECS (60)  --jitter SECS (30)  --only failover|start|steady|jitter
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p rkeepalived
cargo bench -q -p rk-vrrp --bench vrrp-lab -- --lab "$@"

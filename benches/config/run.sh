#!/usr/bin/env bash
# Config benchmark (issue 2): parse and validate a generated keepalived.conf with
# SERVICES virtual servers x REALS real servers (each with a TCP_CHECK), with
# `rkeepalived -t` and with Debian's `keepalived -t` (2.2.7), RUNS times each.
# Prints median wall, CPU (user+sys) and peak RSS of both.
#
#   benches/config/run.sh [SERVICES] [REALS] [RUNS]      (defaults 10000 4 7)
set -euo pipefail
cd "$(dirname "$0")/../.."
services=${1:-10000}
reals=${2:-4}
runs=${3:-7}

need() { command -v "$1" >/dev/null || { echo "installing $2" >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need keepalived keepalived
[[ -x /usr/bin/time ]] || { echo "installing time" >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }

cargo build -q --release -p rkeepalived -p rk-config --example gen_lvs_config
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
conf=$tmp/keepalived.conf
target/release/examples/gen_lvs_config "$services" "$reals" > "$conf"
echo "config: $services virtual_server x $reals real_server (TCP_CHECK): $(wc -l < "$conf") lines, $(du -h "$conf" | cut -f1)"

measure() { # name, command...
    local name=$1; shift
    local out=$tmp/$name.times
    : > "$out"
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %U %S %M" -o "$tmp/one" "$@" >/dev/null 2>"$tmp/stderr" || true
        cat "$tmp/one" >> "$out"
    done
    # median of wall, of cpu (user+sys), and the max RSS
    python3 - "$name" "$out" <<'PY'
import statistics, sys
name, path = sys.argv[1], sys.argv[2]
rows = [list(map(float, l.split())) for l in open(path) if l.strip()]
wall = statistics.median(r[0] for r in rows)
cpu = statistics.median(r[1] + r[2] for r in rows)
rss = max(r[3] for r in rows) / 1024
print(f"{name:12} wall {wall:6.3f} s   cpu {cpu:6.3f} s   peak RSS {rss:7.1f} MiB   ({len(rows)} runs)")
open(path + ".summary", "w").write(f"{wall} {cpu} {rss}\n")
PY
}

measure rkeepalived target/release/rkeepalived -t -f "$conf"
grep -q "configuration is valid" "$tmp/stderr" || { echo "rkeepalived refused the config:" >&2; cat "$tmp/stderr" >&2; exit 1; }
measure keepalived keepalived -t -f "$conf" -l -n
read -r rw rc rm < "$tmp/rkeepalived.times.summary"
read -r kw kc km < "$tmp/keepalived.times.summary"
python3 -c "print(f'ratio       wall {$kw/$rw:5.1f}x faster   cpu {$kc/$rc:5.1f}x less   memory {$rm:.0f} MiB vs {$km:.0f} MiB')"

#!/usr/bin/env bash
# Regenerates the keepalived 2.2.7 advert captures used by tests/captures.rs.
#
# Runs Debian's keepalived (VRRP only) in a network namespace of its own, joined by a veth
# pair to a second namespace where tcpdump records what it sends; each scenario runs about
# 6 s (BACKUP → MASTER after the down timer, a few adverts) and ends with SIGTERM, so the
# capture also holds the priority-0 advert. Needs root, keepalived, tcpdump, iproute2.
# Everything it creates carries the prefix rkvpcap- and is removed on exit.
#
#   sudo crates/vrrp-proto/tests/captures/capture.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d /tmp/rkvpcap.XXXXXX)"
A=rkvpcap-a
B=rkvpcap-b

cleanup() {
    for ns in "$A" "$B"; do
        if ip netns pids "$ns" >/dev/null 2>&1; then
            for p in $(ip netns pids "$ns"); do kill "$p" 2>/dev/null || true; done
        fi
    done
    sleep 0.2
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Sweep leftovers of an interrupted run.
ip netns del "$A" 2>/dev/null || true
ip netns del "$B" 2>/dev/null || true

ip netns add "$A"
ip netns add "$B"
ip link add rkvpcap0 type veth peer name rkvpcap1
ip link set rkvpcap0 netns "$A" name eth0
ip link set rkvpcap1 netns "$B" name eth0
ip -n "$A" link set lo up
ip -n "$B" link set lo up
# Fixed MAC and link-local addresses so IPv6 captures are reproducible.
ip -n "$A" link set eth0 address 02:00:00:00:00:0a
ip -n "$B" link set eth0 address 02:00:00:00:00:0b
ip netns exec "$A" sysctl -qw net.ipv6.conf.eth0.addr_gen_mode=1
ip netns exec "$B" sysctl -qw net.ipv6.conf.eth0.addr_gen_mode=1
ip -n "$A" addr add 10.9.0.1/24 dev eth0
ip -n "$B" addr add 10.9.0.2/24 dev eth0
ip -n "$A" addr add fe80::a/64 dev eth0 nodad
ip -n "$B" addr add fe80::b/64 dev eth0 nodad
ip -n "$A" link set eth0 up
ip -n "$B" link set eth0 up
sleep 1

# run NAME FAMILY-FILTER INSTANCE-BODY
run() {
    local name="$1" filter="$2" body="$3"
    cat >"$work/$name.conf" <<CONF
global_defs {
    router_id rkvpcap
    vrrp_garp_master_delay 0
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
$body
}
CONF
    ip netns exec "$B" tcpdump -q -U -i eth0 -w "$here/$name.pcap" "$filter" 2>/dev/null &
    local tcpd=$!
    sleep 1
    ip netns exec "$A" keepalived -P -n -l -D -f "$work/$name.conf" \
        -p "$work/$name.pid" -r "$work/$name.vrrp.pid" >"$work/$name.log" 2>&1 &
    local ka=$!
    sleep 6
    kill -TERM "$ka"
    wait "$ka" || true
    sleep 0.5
    kill "$tcpd"
    wait "$tcpd" || true
    echo "$name: $(stat -c %s "$here/$name.pcap") bytes"
}

run v2_none 'ip proto 112' '
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.9.0.100/24
        10.9.0.101/24
    }'

run v2_pass 'ip proto 112' '
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret-password
    }
    virtual_ipaddress {
        10.9.0.100/24
    }'

run v2_ah 'ip proto 51' '
    priority 150
    advert_int 1
    authentication {
        auth_type AH
        auth_pass ahpass
    }
    virtual_ipaddress {
        10.9.0.100/24
        10.9.0.101/24
    }'

run v2_ah_unicast 'ip proto 51' '
    priority 150
    advert_int 1
    unicast_src_ip 10.9.0.1
    unicast_peer {
        10.9.0.2
    }
    authentication {
        auth_type AH
        auth_pass ahpass
    }
    virtual_ipaddress {
        10.9.0.100/24
    }'

run v3_ipv4 'ip proto 112' '
    version 3
    priority 150
    advert_int 0.5
    virtual_ipaddress {
        10.9.0.100/24
        10.9.0.101/24
    }'

run v3_ipv4_unicast 'ip proto 112' '
    version 3
    priority 150
    advert_int 1
    unicast_src_ip 10.9.0.1
    unicast_peer {
        10.9.0.2
    }
    virtual_ipaddress {
        10.9.0.100/24
    }'

run v3_ipv6 'ip6 proto 112' '
    version 3
    priority 150
    advert_int 1
    virtual_ipaddress {
        fe80::100/64
        2001:db8::100/64
    }'

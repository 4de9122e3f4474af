# bench.sh: the LVS benchmark inside the test-bed VM (busybox sh, after the lab's lab.sh
# and phases.sh). Driven by crates/rkeepalived/tests/lvs_bench.rs (benches/lvs/run.sh),
# which puts the LVS-DR pair's configurations for each daemon and mode into /rk/conf/:
#   /rk/conf/ka/           keepalived 2.2.7 (its rules are always everywhere)
#   /rk/conf/rk/           rkeepalived, rules follow the VIP (the default)
#   /rk/conf/rk-everywhere rkeepalived with lvs_rules_everywhere
# and sets BENCH_FAILOVER_SIZES, COLD (services x reals), STOP (services x reals).
#
# Each measured configuration is that pair plus SERVICES-1 more virtual servers on ports
# 10001... of the VIP, each with REALS real servers and no checker (always up, in both
# daemons), so the table is large while the checker load stays that of the lab.

# bulk SRC_CONF SERVICES REALS > CONF
bulk() {
    cat $1
    awk -v n=$2 -v r=$3 'BEGIN {
        for (i = 1; i < n; i++) {
            port = 10000 + i
            printf "\nvirtual_server 10.0.0.100 %d {\n    lvs_sched rr\n    lvs_method DR\n    protocol TCP\n", port
            for (j = 0; j < r; j++)
                printf "    real_server 10.0.0.%d %d {\n        weight 1\n    }\n", 11 + j, port
            print "}"
        }
    }'
}

# Fresh director namespaces for each measured run. IPVS keeps deleted destinations in a
# per-namespace trash for two minutes or more, and every destination added walks that list
# (ip_vs_trash_get_dest): right after a run that removed 50,000 destinations, the next one
# in the same namespace programs about 15 times slower (measured: 25,000 operations in 41 s
# instead of under 3 s). Whoever ran before would slow down whoever runs next.
bench_reset() {
    lab_reset
    for d in dir1 dir2; do $IP netns del $d; done
    # The old namespaces' veth pairs go when the kernel has torn them down (asynchronously).
    wait_for 6000 sh -c "! $IP link show dir1-eth0 && ! $IP link show dir2-eth0 && ! $IP link show dir1-eth1 && ! $IP link show dir2-eth1" >/dev/null ||
        echo "bench: the old directors' links are still there"
    # (_h, not n: bench_main loops over the sizes with n, and sh has no local variables)
    _h=2
    for d in dir1 dir2; do
        $IP netns add $d
        $IP -n $d link set lo up
        plug $d eth0 br0
        plug $d eth1 br1
        $IP -n $d addr add 10.0.0.$_h/24 dev eth0
        $IP -n $d addr add 192.168.10.$_h/24 dev eth1
        sysctl_ns $d net/ipv4/ip_forward 1
        _h=$((_h + 1))
    done
}

# Counting, through netlink (ipvsadm): exact, but slow at 50,000 destinations (about 7 s
# in the emulated VM), so never inside a timed wait but the last one. (/proc/net/ip_vs is
# no way out: on this kernel its listing mixes up namespaces once several have services,
# and reading it every 0.1 s slowed the programming it was timing.)
svc_count() { nsx $1 $IPVSADM -Ln | grep -c '^TCP'; }
dest_count() { nsx $1 $IPVSADM -Ln | grep -c '^  -> [0-9]'; }
table_is() { # NS SERVICES DESTS
    _l=$(nsx $1 $IPVSADM -Ln)
    [ "$(echo "$_l" | grep -c '^TCP')" = $2 ] && [ "$(echo "$_l" | grep -c '^  -> [0-9]')" = $3 ]
}
# rss_mb NS: resident memory of every process in the namespace (keepalived: 3 processes)
rss_mb() {
    _kb=0
    for _p in $($IP netns pids $1); do
        _r=$(awk '$1 == "VmRSS:" { print $2 }' /proc/$_p/status 2>/dev/null)
        _kb=$((_kb + ${_r:-0}))
    done
    echo $((_kb / 1024))
}
# wait_table NS SERVICES DESTS LIMIT_CS [last REALS]: poll until the table is complete;
# prints the centiseconds taken. With "last", polls the configuration's last service every
# 0.1 s (one cheap query; both daemons program it last) and then confirms the whole table
# (an `ipvsadm -Ln` of 50,000 destinations takes seconds here, and reading
# /proc/net/ip_vs that often slowed the programming it measured).
wait_table() {
    _w0=$(cs)
    if [ "$5" = last ] && [ $2 -gt 1 ]; then
        _lp=$((10000 + $2 - 1))
        _lw=""
        _j=0
        while [ $_j -lt $6 ]; do
            _lw="$_lw 10.0.0.$((11 + _j)):$_lp=1"
            _j=$((_j + 1))
        done
        wait_for $4 rules_are $1 10.0.0.100:$_lp "${_lw# }" >/dev/null || return 1
        _wt=$(($(cs) - _w0))
    fi
    while :; do
        if table_is $1 $2 $3; then
            [ "$5" = last ] || _wt=$(($(cs) - _w0))
            break
        fi
        [ $(($(cs) - _w0)) -ge $4 ] && return 1
        usleep 100000
    done
    echo $_wt
}

# bench_failover DAEMON CONF_DIR SERVICES: start the pair, wait until everything is in
# place, kill dir1; the failover function measures VIP, the port-80 rules and the first
# page; then how long until dir2 has all the services.
bench_failover() {
    DAEMON=$1
    _n=$3
    PHASE=failover-$(basename $2)-$_n
    echo "== $PHASE"
    _dests=$((3 + (_n - 1) * 3))
    bench_reset
    for d in dir1 dir2; do bulk $2/$d.conf $_n 3 >$LAB/$d.conf; done
    director_start dir1 $LAB/dir1.conf
    if ! wait_table dir1 $_n $_dests 30000 >/dev/null; then
        fail setup "dir1 has $(svc_count dir1) services, $(dest_count dir1) destinations"
        return
    fi
    wait_for 3000 has_vip dir1 10.0.0.100 >/dev/null
    director_start dir2 $LAB/dir2.conf
    case $2 in
    */rk) sleep 6 ;; # dir2 settles as BACKUP, without rules
    *) wait_table dir2 $_n $_dests 30000 >/dev/null || fail setup "dir2 incomplete" ;;
    esac
    check_within dir1_port_80_complete 3000 expect_dests dir1 10.0.0.100:80 "$W80"
    failover dir1 dir2 10.0.0.100 10.0.0.100:80 "$W80"
    # All rules on dir2 (already there before the death unless they follow the VIP): the
    # last service of the configuration is watched (one cheap netlink query per poll),
    # then the whole table is confirmed.
    case $2 in
    */rk) ;;
    *)
        figure all_rules_s 0.00
        lab_reset
        return
        ;;
    esac
    if [ $_n -gt 1 ]; then
        _last=10.0.0.100:$((10000 + _n - 1))
        _lastw="10.0.0.11:$((10000 + _n - 1))=1 10.0.0.12:$((10000 + _n - 1))=1 10.0.0.13:$((10000 + _n - 1))=1"
        wait_for 30000 rules_are dir2 $_last "$_lastw" >/dev/null
    fi
    _ta=$(($(cs) - FAILOVER_T0))
    if wait_table dir2 $_n $_dests 30000 >/dev/null; then
        figure all_rules_s $(secs $_ta)
    else
        fail all_rules "dir2 has $(svc_count dir2) of $_n services"
    fi
    lab_reset
}

# bench_cold DAEMON CONF_DIR SERVICES REALS: one director, from start to the whole table
# in the kernel; its resident memory then.
bench_cold() {
    DAEMON=$1
    PHASE=cold-$(basename $2)-$3x$4
    echo "== $PHASE"
    _dests=$((3 + ($3 - 1) * $4))
    bench_reset
    bulk $2/dir1.conf $3 $4 >$LAB/dir1.conf
    # From the start (the daemon is launched in the background at once) to the whole table.
    director_start dir1 $LAB/dir1.conf
    if _t=$(wait_table dir1 $3 $_dests 60000 last $4); then
        figure cold_start_s $(secs $_t)
        figure rss_mb $(rss_mb dir1)
        ok cold_start "$3 services, $_dests destinations"
    else
        fail cold_start "after 600 s: $(svc_count dir1) services, $(dest_count dir1) destinations"
    fi
    lab_reset
}

# bench_stop DAEMON CONF_DIR SERVICES REALS: SIGTERM with the whole table in place; how
# long until the daemon exits, and what it leaves in the kernel.
bench_stop() {
    DAEMON=$1
    PHASE=stop-$(basename $2)-$3x$4
    echo "== $PHASE"
    _dests=$((3 + ($3 - 1) * $4))
    bench_reset
    bulk $2/dir1.conf $3 $4 >$LAB/dir1.conf
    director_start dir1 $LAB/dir1.conf
    if ! wait_table dir1 $3 $_dests 60000 last $4 >/dev/null; then
        fail setup "dir1 has $(svc_count dir1) services"
        return
    fi
    sleep 3
    _t=$(director_stop dir1)
    # keepalived's children may outlive the parent: count once they are all gone too.
    figure stop_s $(secs $_t)
    figure services_left_at_exit $(svc_count dir1)
    wait_for 2000 sh -c "[ -z \"\$($IP netns pids dir1)\" ]" >/dev/null
    figure services_left $(svc_count dir1)
    ok stop "exit after $(secs $_t) s, $(svc_count dir1) services left"
    lab_reset
}

bench_main() {
    lab_mode dr
    webs_start 80
    for _size in $BENCH_FAILOVER_SIZES; do
        bench_failover keepalived /rk/conf/ka $_size
        bench_failover rkeepalived /rk/conf/rk $_size
        bench_failover rkeepalived /rk/conf/rk-everywhere $_size
    done
    bench_cold keepalived /rk/conf/ka ${COLD%x*} ${COLD#*x}
    bench_cold rkeepalived /rk/conf/rk-everywhere ${COLD%x*} ${COLD#*x}
    bench_stop keepalived /rk/conf/ka ${STOP%x*} ${STOP#*x}
    bench_stop rkeepalived /rk/conf/rk-everywhere ${STOP%x*} ${STOP#*x}
}

# reload.sh: issue 8 in the LVS lab (sourced after lab.sh; see reload_vm.rs). Configurations
# are in /rk/conf/reload/: a (1,000 services), b (one weight changed), c (b plus a real server
# removed with a drain), d (c minus one service), bad1 (unknown keyword), bad2 (a VIP in two
# instances), dir2 (the backup). dir1 always reads $CONF1; each step copies a variant there.

R=/rk/conf/reload
CONF1=$LAB/dir1.conf
VIP=10.0.0.100
NLMON=/rk/rk-nlmon

# A director's log without the lab's own "@@ " lines (lab.sh `note` writes every check
# there, and a check's text may quote what is counted: "2 lines with 'Entering MASTER'").
dlog() { grep -v '^@@ ' $LAB/log/$1.log; }
log1() { dlog dir1; }
count1() { dlog dir1 | grep -c "$1"; }
count2() { dlog dir2 | grep -c "$1"; }
# has DIR PATTERN: the daemon on DIR logged PATTERN
has() { dlog $1 | grep -q "$2"; }
# more_than NEEDLE N: dir1's log has more than N lines with NEEDLE
more_than() {
    _c=$(count1 "$1")
    echo "$_c lines with '$1'"
    [ "$_c" -gt "$2" ]
}

# wait_log CENTISECONDS NEEDLE COUNT: dir1's log has COUNT lines with NEEDLE
wait_log() {
    _lim=$1 _n=$2 _c=$3
    _t0=$(cs)
    while [ "$(count1 "$_n")" -lt "$_c" ]; do
        [ $(($(cs) - _t0)) -ge $_lim ] && return 1
        usleep 50000
    done
}

# reload_to FILE: copy FILE over dir1's configuration, SIGHUP, wait for the reload to end
reload_to() {
    cp $1 $CONF1
    _done=$(count1 "Reload finished")
    _ref=$(count1 "reload refused")
    kill -HUP $(director_pid dir1)
    _t0=$(cs)
    while [ "$(count1 "Reload finished")" = "$_done" ] && [ "$(count1 "reload refused")" = "$_ref" ]; do
        [ $(($(cs) - _t0)) -ge 6000 ] && return 1
        usleep 20000
    done
}

# nlmon_reload FILE [MAX_S]: as reload_to, with the IPVS requests counted on nlmon0 from the signal
# on; prints rk-nlmon's line
nlmon_reload() {
    cp $1 $CONF1
    nsx dir1 $NLMON ipvs --signal $(director_pid dir1):HUP --quiet 3000 --max ${2:-60}
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# ops_sent: the daemon's own counter of IPVS operations (SIGUSR2 statistics)
ops_sent() {
    rm -f /tmp/keepalived.stats
    kill -USR2 $(director_pid dir1)
    wait_for 500 grep -q "Operations sent" /tmp/keepalived.stats >/dev/null
    sed -n 's/^ *Operations sent: //p' /tmp/keepalived.stats
}

rules() { nsx dir1 $IPVSADM -Sn | sort; }
nservices() { nsx dir1 $IPVSADM -Ln | grep -c '^TCP'; }
# conn9000 ADDR: "weight active" of a destination of VIP:9000
conn9000() {
    nsx dir1 $IPVSADM -Ln -t $VIP:9000 | awk -v d="$1:9000" '$1 == "->" && $2 == d { print $4, $5 }'
}
services_are() { _n=$(nservices); echo "$_n services"; [ "$_n" = "$1" ]; }
conn_is() { # ADDR "WEIGHT ACTIVE"
    _c=$(conn9000 $1)
    echo "$1:9000 weight/active: ${_c:-gone}"
    [ "$_c" = "$2" ]
}
conn_gone() { [ -z "$(conn9000 $1)" ]; }
rules_are() { [ "$(rules)" = "$1" ]; }
# requests_are LINE N [KIND N]...: rk-nlmon's line says N requests (and N of KIND)
requests_are() {
    _l=$1
    echo "$_l"
    [ "$(field "$_l" requests)" = "$2" ] || return 1
    shift 2
    while [ $# -ge 2 ]; do
        [ "$(field "$_l" $1)" = "$2" ] || return 1
        shift 2
    done
}
at_least() { echo "$1 >= $2"; [ "$1" -ge "$2" ]; }
equal() { echo "$1 = $2"; [ "$1" = "$2" ]; }
resources() { # PID: "rss_kb fds" (the status file separates with a tab)
    echo "$(awk '$1 == "VmRSS:" { print $2 }' /proc/$1/status) $(ls /proc/$1/fd | wc -l)"
}
number() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

traffic_start() {
    rm -f $LAB/t_ok $LAB/t_fail $LAB/t_stop
    touch $LAB/t_ok $LAB/t_fail
    (
        while [ ! -f $LAB/t_stop ]; do
            if [ "$(get $VIP)" ]; then echo . >>$LAB/t_ok; else cs >>$LAB/t_fail; fi
            usleep 100000
        done
    ) &
    TRAFFIC=$!
}
traffic_stop() {
    touch $LAB/t_stop
    wait $TRAFFIC
    echo "$(wc -l <$LAB/t_ok) requests, $(wc -l <$LAB/t_fail) failed"
    [ "$(wc -l <$LAB/t_fail)" = 0 ] && [ "$(wc -l <$LAB/t_ok)" -gt 0 ]
}

# vip_watch_start / vip_watch_stop: whether dir1 ever lost the VIP in between (polled)
vip_watch_start() {
    rm -f $LAB/v_stop $LAB/v_lost $LAB/v_seen
    touch $LAB/v_lost $LAB/v_seen
    (
        while [ ! -f $LAB/v_stop ]; do
            if has_vip dir1 $VIP; then echo . >>$LAB/v_seen; else cs >>$LAB/v_lost; fi
            usleep 50000
        done
    ) &
    VIPWATCH=$!
}
vip_watch_stop() {
    touch $LAB/v_stop
    wait $VIPWATCH
    echo "VIP seen $(wc -l <$LAB/v_seen) times, missing $(wc -l <$LAB/v_lost) times"
    [ "$(wc -l <$LAB/v_lost)" = 0 ] && [ "$(wc -l <$LAB/v_seen)" -gt 0 ]
}

# The long-lived connection: client → VIP:9000 → web1 (web2 has weight 0), fed line by line
# through fd 3; web1's nc writes what it receives to $LAB/recv1.
conn_open() {
    # A server's stdin must stay open (a background job's is /dev/null: nc would end the
    # connection at once); the client's end closes it.
    sleep 3600 | $IP netns exec web1 busybox nc -l -p 9000 >$LAB/recv1 &
    sleep 3600 | $IP netns exec web2 busybox nc -l -p 9000 >$LAB/recv2 &
    usleep 200000
    rm -f $LAB/c9000
    mkfifo $LAB/c9000
    $IP netns exec client busybox nc $VIP 9000 <$LAB/c9000 >/dev/null &
    CLIENTNC=$!
    exec 3>$LAB/c9000
}
conn_send() { echo "$1" >&3; }
received() { wait_for 500 grep -qx "$1" $LAB/recv1 >/dev/null; }
conn_close() {
    exec 3>&-
    kill $CLIENTNC 2>/dev/null
    wait $CLIENTNC 2>/dev/null
}

reload_phases() {
    lab_mode dr
    webs_start 80
    cp $R/a.conf $CONF1
    director_start dir1 $CONF1
    check_within dir1_master 2000 has_vip dir1 $VIP
    check_within services_installed 3000 services_are 1000
    director_start dir2 $R/dir2.conf
    check_within dir2_backup 2000 has dir2 "(VI_1) Entering BACKUP"
    check first_request get $VIP
    $IP -n dir1 link add nlmon0 type nlmon
    $IP -n dir1 link set nlmon0 up

    # --- one weight changed in 1,000 services: exactly one netlink edit ---------------
    conn_open
    conn_send hello
    check conn_opened received hello
    before=$(ops_sent)
    line=$(nlmon_reload $R/b.conf)
    after=$(ops_sent)
    n=$(field "$line" requests)
    figure weight_change_nlmon_requests "$n"
    figure weight_change_daemon_ops "$((after - before))"
    if [ "$n" = 1 ] && [ "$(field "$line" set_dest)" = 1 ] && [ "$((after - before))" = 1 ]; then
        ok one_edit "nlmon: $line; the daemon's counter: $before -> $after"
    else
        fail one_edit "nlmon: $line; the daemon's counter: $before -> $after"
    fi
    check weight_in_kernel sh -c "$IP netns exec dir1 $IPVSADM -Ln -t $VIP:10500 | grep -q '10.0.0.12:10500 *Route *5'"
    dlog dir1 | grep "Reload finished" | tail -1
    conn_send world
    check conn_survives_reload received world
    check vip_stays has_vip dir1 $VIP

    # --- refused reloads change nothing ------------------------------------------------
    saved=$(rules)
    for bad in bad1 bad2; do
        refused=$(count1 "reload refused")
        line=$(nlmon_reload $R/$bad.conf 5)
        check ${bad}_refused at_least "$(count1 'reload refused')" $((refused + 1))
        check ${bad}_no_request requests_are "$line" 0
        check ${bad}_rules_unchanged rules_are "$saved"
        check ${bad}_daemon_alive alive $(director_pid dir1)
    done
    check bad1_says_where has dir1 "dir1.conf:[0-9]*:[0-9]*"
    check bad1_says_what has dir1 "unknown keyword 'lvs_schedd'"
    check bad2_says_what has dir1 "is a VIP of vrrp_instance VI_1 and of vrrp_instance VI_2"
    check vip_stays_after_refusals has_vip dir1 $VIP
    check no_transition_on_refusal equal "$(count1 'Entering')" 2

    # --- a removed real server drains: weight 0, connection kept, deleted once closed ---
    check conn_active conn_is 10.0.0.11 "1 1"
    line=$(nlmon_reload $R/c.conf)
    check drain_one_edit requests_are "$line" 1 set_dest 1
    check drain_weight_0 conn_is 10.0.0.11 "0 1"
    check drain_logged has dir1 "draining destination 10.0.0.11:9000 of TCP $VIP:9000"
    sleep 2
    check drain_still_there conn_is 10.0.0.11 "0 1"
    conn_send again
    check conn_survives_drain received again
    t0=$(cs)
    conn_close
    if t=$(wait_for 1000 conn_gone 10.0.0.11); then
        ok drain_deleted_after_close "after $(secs $t) s"
        figure drain_delete_after_close_s $(secs $t)
    else
        fail drain_deleted_after_close "still $(conn9000 10.0.0.11)"
    fi
    check recv1_whole equal "$(cat $LAB/recv1 | tr '\n' ' ')" "hello world again "

    # --- 100 reloads under client traffic ---------------------------------------------
    pid=$(director_pid dir1)
    traffic_start
    t0=$(cs)
    i=0
    while [ $i -lt 100 ]; do
        if [ $((i % 2)) = 0 ]; then f=$R/c.conf; else f=$R/c2.conf; fi
        reload_to $f || fail reload_$i "no end of reload $i"
        i=$((i + 1))
        # Memory is read once reloads pause: the daemon hands back what a reload freed
        # 1 s after the last one (daemon/memory.rs, RELEASE_AFTER).
        [ $i = 10 ] && sleep 3 && r10=$(resources $pid)
    done
    sleep 3
    r100=$(resources $pid)
    figure hundred_reloads_s $(secs $(($(cs) - t0)))
    check hundred_reloads_no_failed_request traffic_stop
    check hundred_reloads_finished equal "$(count1 'Reload finished') $(count1 'reload refused')" "102 2"
    check hundred_reloads_backup_never_master equal "$(count2 'Entering MASTER')" 0
    check hundred_reloads_master_kept equal "$(count1 'Entering')" 2
    set -- $r10
    rss10=$1 fd10=$2
    set -- $r100
    rss100=$1 fd100=$2
    figure rss_after_10_reloads_kb $rss10
    figure rss_after_100_reloads_kb $rss100
    figure fds_after_100_reloads $fd100
    if number "$rss10" && number "$rss100" && number "$fd10" && [ "$fd10" -gt 3 ] &&
        [ "$fd10" = "$fd100" ] && [ "$rss100" -le $((rss10 + 4096)) ]; then
        ok hundred_reloads_flat "RSS $rss10 -> $rss100 kB, fds $fd10 -> $fd100"
    else
        fail hundred_reloads_flat "RSS $rss10 -> $rss100 kB, fds $fd10 -> $fd100"
    fi

    # --- kill -9 and start again: nothing deleted or re-added, no failed request -------
    check record_written grep -q "^service tcp $VIP 10500" /run/dir1/keepalived.ipvs
    conns_before=$(nsx dir1 $IPVSADM -Ln --stats -t $VIP:80 | awk '$1 == "TCP" { print $3 }')
    traffic_start
    vip_watch_start
    sleep 1
    nsx dir1 $NLMON ipvs --quiet 100000 --max 20 >$LAB/nlmon_restart &
    NLPID=$!
    usleep 300000
    masters=$(count1 'Entering MASTER')
    started=$(count1 'Startup complete')
    kill -KILL $(director_pid dir1)
    t0=$(cs)
    director_start dir1 $CONF1
    if wait_log 3000 'Startup complete' $((started + 1)); then
        figure restart_startup_s $(secs $(($(cs) - t0)))
    fi
    check_within restart_keeps_vip 1000 has dir1 "still up from this node's previous run"
    check_within restart_master 2000 more_than 'Entering MASTER' $masters
    wait $NLPID
    line=$(cat $LAB/nlmon_restart)
    check restart_no_request requests_are "$line" 0
    check restart_no_failed_request traffic_stop
    check restart_vip_never_left vip_watch_stop
    check restart_backup_never_master equal "$(count2 'Entering MASTER')" 0
    check restart_services_kept services_are 1000
    conns_after=$(nsx dir1 $IPVSADM -Ln --stats -t $VIP:80 | awk '$1 == "TCP" { print $3 }')
    check restart_counters_kept at_least "$conns_after" "$conns_before"
    check restart_had_traffic at_least "$conns_before" 1
    check restart_daemon_ops equal "$(ops_sent)" 0

    # --- a restart on a smaller configuration removes our leftovers, not others' --------
    nsx dir1 $IPVSADM -A -t 10.0.0.200:25 -s rr
    nsx dir1 $NLMON ipvs --quiet 100000 --max 20 >$LAB/nlmon_restart &
    NLPID=$!
    usleep 300000
    masters=$(count1 'Entering MASTER')
    kill -KILL $(director_pid dir1)
    cp $R/d.conf $CONF1
    director_start dir1 $CONF1
    check_within restart2_master 2000 more_than 'Entering MASTER' $masters
    wait $NLPID
    line=$(cat $LAB/nlmon_restart)
    check leftover_removed requests_are "$line" 1 del_service 1
    # 999 of ours and the foreign one.
    check leftover_gone services_are 1000
    check foreign_kept nsx dir1 $IPVSADM -Ln -t 10.0.0.200:25

    # --- SIGTERM removes everything ours, nothing else -----------------------------------
    t=$(director_stop dir1)
    figure stop_999_services_s $(secs $t)
    check stop_removes_ours equal "$(nsx dir1 $IPVSADM -Ln | awk '$1 == "TCP" { print $2 }')" 10.0.0.200:25
    check stop_removes_record test ! -e /run/dir1/keepalived.ipvs
    director_stop dir2 >/dev/null
}

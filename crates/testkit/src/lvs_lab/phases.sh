# phases.sh: the end-to-end scenarios, one function per phase (busybox sh, after lab.sh).
# Set by the caller for each phase: PHASE (name), DAEMON (keepalived|rkeepalived),
# CONF (directory with dir1.conf and dir2.conf), EVERYWHERE (1: rules on both directors),
# LEAVE_CS / RETURN_CS (how long a failing / recovering real server may take, from the
# checker timers, with a 2x margin), RECONCILE_CS (drift repair limit, 2x the period).

W80="10.0.0.11:80=1 10.0.0.12:80=1 10.0.0.13:80=1"
W81="10.0.0.11:81=1 10.0.0.12:81=1 10.0.0.13:81=1"
NAT80="192.168.10.11:80=1 192.168.10.12:80=1 192.168.10.13:80=1"

# Start the pair, the master first (no start-up race for the VIP), and let the backup
# settle: after 3 adverts + skew it would have taken over if it did not hear the master.
pair_start() {
    lab_reset
    director_start dir1 $CONF/dir1.conf
    wait_for 1500 has_vip dir1 ${1:-10.0.0.100} >/dev/null
    director_start dir2 $CONF/dir2.conf
    sleep 5
}

# The backup holds no rules (rules follow the VIP) or the same ones (everywhere).
backup_rules() { # VS DESTS
    if [ "$EVERYWHERE" = 1 ]; then
        check_within backup_has_rules 1000 expect_dests dir2 $1 "$2"
    else
        check backup_has_no_rules expect_services dir2 ""
    fi
}

# SIGTERM on NODE: the process exits, nothing of ours stays in the kernel (a foreign
# service added by hand stays), the VIPs go.
stop_clean() { # NODE
    nsx $1 $IPVSADM -A -t 10.0.0.200:8080 -s rr
    _t=$(director_stop $1)
    figure stop_s $(secs $_t)
    check sigterm_removes_our_rules expect_services $1 "TCP/10.0.0.200:8080"
    check sigterm_releases_vips expect_vips $1 ""
    nsx $1 $IPVSADM -D -t 10.0.0.200:8080
}

# rs_health DUMP RIP: "up" or "down", as the dump reports the real server. keepalived
# writes "RIP = 10.0.0.12, RPORT = 80, ..." then "alive = 0|1"; rkeepalived writes
# "Real server 10.0.0.12:80" then "Health = up|down".
rs_health() {
    echo "$1" | awk -v rip="$2" '
        index($0, "RIP = " rip ",") { k = 1; next }
        index($0, "Real server " rip ":") { r = 1; next }
        k && $1 == "alive" { print ($3 == 1 ? "up" : "down"); exit }
        r && $1 == "Health" { print $3; exit }'
}

# dump_lists NODE DOWN_RIP WORD...: the SIGUSR1 dump names every WORD (instance, VIP,
# service, real servers) and reports DOWN_RIP down and the other real servers up.
dump_lists() {
    _n=$1
    _down=$2
    shift 2
    _d=$(dump $_n)
    _bad=""
    for w in "$@"; do echo "$_d" | grep -q -- "$w" || _bad="$_bad missing:$w"; done
    for rip in 10.0.0.11 10.0.0.12 10.0.0.13; do
        _want=up
        [ $rip = "$_down" ] && _want=down
        _h=$(rs_health "$_d" $rip)
        [ "$_h" = $_want ] || _bad="$_bad $rip:${_h:-unknown}(want:$_want)"
    done
    echo "$(echo "$_d" | wc -l) lines${_bad:+,$_bad}"
    [ -z "$_bad" ]
}

# LVS-DR, one VIP: rr spread, a web server leaving and returning, drift repair, the dump,
# death of the master, SIGTERM.
phase_dr() {
    lab_mode dr
    webs_stop
    webs_start 80
    pair_start
    check_within master_holds_vip 1000 expect_vips dir1 "10.0.0.100/24"
    check_within master_has_rules 1500 expect_dests dir1 10.0.0.100:80 "$W80"
    check backup_holds_no_vip expect_vips dir2 ""
    backup_rules 10.0.0.100:80 "$W80"
    check rr_over_three rr_order 10.0.0.100 web1 web2 web3

    web_stop web2
    check_within web2_leaves_pool $LEAVE_CS expect_dests dir1 10.0.0.100:80 "10.0.0.11:80=1 10.0.0.13:80=1"
    [ "$EVERYWHERE" = 1 ] && check_within web2_leaves_backup_pool $LEAVE_CS \
        expect_dests dir2 10.0.0.100:80 "10.0.0.11:80=1 10.0.0.13:80=1"
    check rr_over_two rr_order 10.0.0.100 web1 web3
    _svc="VPORT = 80"
    [ "$DAEMON" = rkeepalived ] && _svc="Virtual server TCP 10.0.0.100:80"
    check dump_lists_state dump_lists dir1 10.0.0.12 VI_WEB 10.0.0.100 "$_svc"
    web_start web2
    check_within web2_returns $RETURN_CS expect_dests dir1 10.0.0.100:80 "$W80"

    if [ "$DAEMON" = rkeepalived ]; then
        nsx dir1 $IPVSADM -d -t 10.0.0.100:80 -r 10.0.0.13:80
        check_within ipvsadm_d_repaired $RECONCILE_CS expect_dests dir1 10.0.0.100:80 "$W80"
        # Each repair is logged and counted (SIGUSR2's statistics).
        check drift_repair_logged log_has dir1 "IPVS drift repaired: add destination 10\.0\.0\.13:80"
        check drift_repair_counted stats_have dir1 "Drift repairs: [1-9]" "Health checkers:"
    fi

    # keepalived's mode: the backup's own checkers re-add web2 too; wait for it, so the
    # failover starts from a complete table there.
    [ "$EVERYWHERE" = 1 ] && check_within backup_pool_complete $RETURN_CS \
        expect_dests dir2 10.0.0.100:80 "$W80"
    failover dir1 dir2 10.0.0.100 10.0.0.100:80 "$W80"
    check backup_now_holds_vip expect_vips dir2 "10.0.0.100/24"
    check rr_after_failover rr_order 10.0.0.100 web1 web2 web3
    stop_clean dir2
    [ "$DAEMON" = rkeepalived ] && [ "$EVERYWHERE" != 1 ] && one_side_modes
    lab_reset
}

# keepalived's -C and -P on dir1 alone: -C runs the checkers and IPVS without VRRP (every
# virtual server installed, no VIP), -P only VRRP (the VIP, no rules).
one_side_modes() {
    lab_reset
    DAEMON_ARGS=-C
    director_start dir1 $CONF/dir1.conf
    check_within check_only_installs_rules 1500 expect_dests dir1 10.0.0.100:80 "$W80"
    check check_only_holds_no_vip expect_vips dir1 ""
    check check_only_writes_no_vrrp_pid sh -c "! ls /run/dir1/vrrp.pid"
    director_stop dir1 >/dev/null
    check check_only_stop_removes_rules expect_services dir1 ""
    DAEMON_ARGS=-P
    director_start dir1 $CONF/dir1.conf
    check_within vrrp_only_holds_vip 1500 expect_vips dir1 "10.0.0.100/24"
    # The checkers would have installed the rules by now, had they run.
    sleep 3
    check vrrp_only_installs_no_rules expect_services dir1 ""
    director_stop dir1 >/dev/null
    check vrrp_only_stop_releases_vip expect_vips dir1 ""
    DAEMON_ARGS=
}

# stats_have NODE ERE...: SIGUSR2's statistics have a line matching each ERE
stats_have() {
    _n=$1
    shift
    _st=$(stats $_n)
    _bad=""
    for e in "$@"; do echo "$_st" | grep -Eq -- "$e" || _bad="$_bad missing:$e"; done
    echo "$(echo "$_st" | grep -E -- "$1")${_bad:+;$_bad}"
    [ -z "$_bad" ]
}

# LVS-DR with inhibit_on_failure on :80 and quorum 3 + a sorry server on :81.
phase_features() {
    lab_mode dr
    webs_stop
    webs_start 80 81
    pair_start
    check_within master_has_rules 1500 expect_dests dir1 10.0.0.100:80 "$W80"
    check_within quorum_service_up 1000 expect_dests dir1 10.0.0.100:81 "$W81"
    # :82 has a real server the kernel refuses (lthreshold above uthreshold): said in the
    # log, and the service goes in with the other two.
    check_within refused_dest_rest_installed 1000 expect_dests dir1 10.0.0.100:82 \
        "10.0.0.12:82=1 10.0.0.13:82=1"
    check refused_dest_logged log_has dir1 "(10\.0\.0\.11:82|10\.0\.0\.11\]?:82).*(out of range|Numerical result)|(out of range|Numerical result).*10\.0\.0\.11"

    web_stop web2 80
    check_within inhibited_to_weight_0 $LEAVE_CS expect_dests dir1 10.0.0.100:80 \
        "10.0.0.11:80=1 10.0.0.12:80=0 10.0.0.13:80=1"
    check rr_skips_weight_0 rr_order 10.0.0.100 web1 web3
    web_start web2 80
    check_within weight_restored $RETURN_CS expect_dests dir1 10.0.0.100:80 "$W80"

    web_stop web3 81
    check_within quorum_lost_sorry_in $LEAVE_CS expect_dests dir1 10.0.0.100:81 "10.0.0.14:81=1"
    check sorry_server_answers page_is 10.0.0.100:81 sorry
    web_start web3 81
    check_within quorum_regained_sorry_out $RETURN_CS expect_dests dir1 10.0.0.100:81 "$W81"
    check rr_after_quorum rr_order 10.0.0.100:81 web1 web2 web3
    stop_clean dir1
    lab_reset
}

# LVS-NAT: the directors are the web servers' gateway; a sync group moves the outside VIP
# and the inside gateway VIP together.
phase_nat() {
    lab_mode nat
    webs_stop
    webs_start 80
    pair_start
    check_within master_holds_both_vips 1000 expect_vips dir1 "10.0.0.100/24 192.168.10.1/24"
    check_within master_has_rules 1500 expect_dests dir1 10.0.0.100:80 "$NAT80"
    check backup_holds_no_vip expect_vips dir2 ""
    backup_rules 10.0.0.100:80 "$NAT80"
    # lvs_sync_daemon follows VI_IN: master on the MASTER, backup on the BACKUP.
    check_within master_runs_sync_master 1000 expect_sync_daemons dir1 "master(eth1,62)"
    check_within backup_runs_sync_backup 1000 expect_sync_daemons dir2 "backup(eth1,62)"
    check rr_over_three rr_order 10.0.0.100 web1 web2 web3

    failover dir1 dir2 10.0.0.100 10.0.0.100:80 "$NAT80"
    check_within backup_now_holds_both_vips 500 expect_vips dir2 "10.0.0.100/24 192.168.10.1/24"
    check_within new_master_runs_sync_master 1000 expect_sync_daemons dir2 "master(eth1,62)"
    check rr_after_failover rr_order 10.0.0.100 web1 web2 web3
    stop_clean dir2
    check sigterm_stops_sync_daemon expect_sync_daemons dir2 ""
    lab_reset
}

# Master/master: dir1 masters VI_1 (10.0.0.100), dir2 masters VI_2 (10.0.0.101); each holds
# only its own VIP's virtual_server. dir1 dies: dir2 holds and serves both.
phase_master_master() {
    lab_mode dr
    webs_stop
    webs_start 80
    lab_reset
    director_start dir1 $CONF/dir1.conf
    director_start dir2 $CONF/dir2.conf
    check_within dir1_holds_vip_1 1500 expect_vips dir1 "10.0.0.100/24"
    check_within dir2_holds_vip_2 1500 expect_vips dir2 "10.0.0.101/24"
    W101="10.0.0.11:80=1 10.0.0.12:80=1 10.0.0.13:80=1"
    if [ "$EVERYWHERE" = 1 ]; then
        _both="TCP/10.0.0.100:80 TCP/10.0.0.101:80"
        check_within dir1_has_both_services 1500 expect_services dir1 "$_both"
        check_within dir2_has_both_services 1500 expect_services dir2 "$_both"
    else
        check_within dir1_has_only_its_service 1500 expect_services dir1 "TCP/10.0.0.100:80"
        check_within dir2_has_only_its_service 1500 expect_services dir2 "TCP/10.0.0.101:80"
    fi
    check_within dir1_service_complete 1000 expect_dests dir1 10.0.0.100:80 "$W80"
    check_within dir2_service_complete 1000 expect_dests dir2 10.0.0.101:80 "$W101"
    check rr_vip_1 rr_order 10.0.0.100 web1 web2 web3
    check rr_vip_2 rr_order 10.0.0.101 web1 web2 web3

    failover dir1 dir2 10.0.0.100 10.0.0.100:80 "$W80"
    check dir2_holds_both_vips expect_vips dir2 "10.0.0.100/24 10.0.0.101/24"
    check dir2_has_both_services expect_services dir2 "TCP/10.0.0.100:80 TCP/10.0.0.101:80"
    check rr_vip_1_on_dir2 rr_order 10.0.0.100 web1 web2 web3
    check rr_vip_2_on_dir2 rr_order 10.0.0.101 web1 web2 web3
    stop_clean dir2
    lab_reset
}

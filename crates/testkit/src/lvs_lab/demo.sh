# demo.sh: the guided tour scripts/demo shows (busybox sh, after lab.sh). The host prints
# what comes between RK-DEMO-BEGIN and RK-DEMO-END. Set by the caller: DAEMON, CONF (with
# dir1.conf and dir2.conf of the LVS-DR pair), LEAVE_CS, RETURN_CS.

# show NODE CMD...: the command as typed on that host, then its output, indented.
show() {
    _n=$1
    shift
    echo
    echo "  $_n# $*"
    # iproute2's and ipvsadm's full paths: busybox has an `ip` of its own.
    _cmd=$1
    shift
    case $_cmd in
    ip) _cmd=$IP ;;
    ipvsadm) _cmd=$IPVSADM ;;
    esac
    nsx $_n $_cmd "$@" 2>&1 | sed 's/^/      /'
}
step() {
    echo
    echo "=== $*"
}
requests() { # N VIP
    _out=""
    _i=0
    while [ $_i -lt $1 ]; do
        _r=$(get $2) || _r="(no answer)"
        _out="$_out $_r"
        _i=$((_i + 1))
    done
    echo
    echo "  client\$ for i in \$(seq $1); do wget -qO- http://$2/; done"
    echo "     $_out"
}
ipvs_both() {
    show dir1 ipvsadm -Ln
    show dir2 ipvsadm -Ln
}

demo() {
    lab_mode dr
    webs_start 80
    lab_reset
    _demo_t0=$(cs)
    echo RK-DEMO-BEGIN
    step "The lab: one VM (Debian's kernel, real IPVS); a client, two directors and three web"
    echo "    servers, each in its own network namespace on one LAN, 10.0.0.0/24. LVS-DR: the"
    echo "    directors forward requests for the VIP 10.0.0.100 to web1-3 (10.0.0.11-13), which"
    echo "    carry the VIP on lo and answer the client directly. Each page names its server."
    step "Starting $DAEMON on dir1 (MASTER, priority 150), then on dir2 (BACKUP, 100)"
    echo "    configurations: conf/lvs-dr/dir1.conf and dir2.conf"
    director_start dir1 $CONF/dir1.conf
    _t=$(wait_for 1500 has_vip dir1 10.0.0.100) && echo "    dir1 holds the VIP after $(secs $_t) s"
    director_start dir2 $CONF/dir2.conf
    sleep 5
    show dir1 ip -4 -br addr show dev eth0
    show dir2 ip -4 -br addr show dev eth0
    wait_for 1000 expect_dests dir1 10.0.0.100:80 "$W80" >/dev/null
    ipvs_both
    if [ "$DAEMON" = rkeepalived ]; then
        echo "    (the rules follow the VIP: the backup director holds none)"
    else
        echo "    (keepalived installs the rules on both directors)"
    fi

    step "The client's requests through the VIP, scheduled round-robin"
    requests 6 10.0.0.100

    step "web2 fails: its web server stops"
    web_stop web2
    if _t=$(wait_for $LEAVE_CS expect_dests dir1 10.0.0.100:80 "10.0.0.11:80=1 10.0.0.13:80=1"); then
        echo "    its HTTP check fails; dir1 takes it out of the pool after $(secs $_t) s"
    else
        echo "    (web2 is still in the pool after $(secs $LEAVE_CS) s)"
    fi
    show dir1 ipvsadm -Ln
    requests 4 10.0.0.100
    web_start web2
    if _t=$(wait_for $RETURN_CS expect_dests dir1 10.0.0.100:80 "$W80"); then
        echo
        echo "    web2 is back: in the pool again after $(secs $_t) s"
    fi

    step "dir1 dies: its links go down and its processes are killed"
    failover dir1 dir2 10.0.0.100 10.0.0.100:80 "$W80" | sed -n 's/^RK-CHECK [a-zA-Z]* [^ ]*: /    /p'
    show dir2 ip -4 -br addr show dev eth0
    show dir2 ipvsadm -Ln
    requests 6 10.0.0.100

    step "dir2 stops (SIGTERM): it removes its IPVS rules and the VIP"
    _t=$(director_stop dir2)
    echo "    $DAEMON exited after $(secs $_t) s"
    show dir2 ipvsadm -Ln
    echo
    echo "=== Done in $(secs $(($(cs) - _demo_t0))) s. The tests run this and more: crates/rkeepalived/tests/lvs_e2e.rs"
    echo RK-DEMO-END
}

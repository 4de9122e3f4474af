# lab.sh: the LVS lab inside the test-bed VM (busybox sh). Sourced by the scenario that
# rk_testkit::lvs_lab generates; every function here is used by the tests, the demo and
# the benchmark alike.
#
# Topology (one VM, one network namespace per host, two bridges in the VM's own namespace):
#
#   client 10.0.0.10 ──┐ br0 "outside" 10.0.0.0/24       VIPs 10.0.0.100, 10.0.0.101
#   dir1 eth0 .2 ──────┤                                  (DR: web/sorry on br0 too)
#   dir2 eth0 .3 ──────┤
#   web1..3 eth0 .11-.13, sorry eth0 .14   (DR mode: VIPs on lo, arp_ignore/arp_announce)
#
#   dir1 eth1 192.168.10.2 ──┐ br1 "inside" 192.168.10.0/24  gateway VIP 192.168.10.1
#   dir2 eth1 192.168.10.3 ──┤
#   web1..3 eth1 .11-.13, sorry eth1 .14   (NAT mode: default route via the gateway VIP)
#
# Every check prints one line "RK-CHECK ok|FAIL phase/name: detail", every measurement
# "RK-FIGURE phase/name value"; the host side collects them.

IP=/usr/sbin/ip
IPVSADM=/usr/sbin/ipvsadm
LAB=/tmp/lab
PHASE=${PHASE:-lab}
FAILS=0
WEBS="web1 web2 web3"
HOSTS="client dir1 dir2 web1 web2 web3 sorry"
# Quiet, unless the demo asks to see the commands.
SHOW=${SHOW:-0}

# ---- time: /proc/uptime in centiseconds (busybox date has no %N) ----------------------
cs() {
    read -r up _ </proc/uptime
    # "123.04": the leading 1 keeps "04" from being read as octal.
    echo $(( ${up%.*} * 100 + 1${up#*.} - 100 ))
}
# centiseconds → "1.23"
secs() { printf '%d.%02d' $(($1 / 100)) $(($1 % 100)); }

# ---- reporting --------------------------------------------------------------------------
# note TEXT: a line "@@ TEXT" in both directors' logs, so that a phase's logs show what the
# lab did and saw in order with the daemons' own lines (log_has skips these lines).
note() {
    [ -d $LAB/log ] || return 0
    for _nd in dir1 dir2; do echo "@@ $*" >>$LAB/log/$_nd.log; done
}
ok() {
    echo "RK-CHECK ok $PHASE/$1${2:+: $2}"
    note "ok $1${2:+: $2}"
}
fail() {
    echo "RK-CHECK FAIL $PHASE/$1: $2"
    note "FAIL $1: $2"
    FAILS=$((FAILS + 1))
}
# check NAME CMD...: run CMD; its output is the detail either way.
check() {
    _name=$1
    shift
    if _out=$("$@" 2>&1); then ok "$_name" "$(echo $_out)"; else fail "$_name" "$(echo $_out)"; fi
}
figure() { echo "RK-FIGURE $PHASE/$1 $2"; }
say() { echo "$*"; }

# ---- namespaces -------------------------------------------------------------------------
nsx() {
    _ns=$1
    shift
    $IP netns exec "$_ns" "$@"
}
# plug NS IFNAME BRIDGE: a veth from the bridge into the namespace
plug() {
    $IP link add "$1-$2" type veth peer name "$2" netns "$1"
    $IP link set "$1-$2" master "$3" up
    $IP -n "$1" link set "$2" up
}
sysctl_ns() { nsx "$1" sh -c "echo $3 > /proc/sys/$2"; }

lab_topology() {
    mkdir -p $LAB/log $LAB/run $LAB/www
    for br in br0 br1; do
        $IP link add $br type bridge
        $IP link set $br up
    done
    for h in $HOSTS; do
        $IP netns add $h
        $IP -n $h link set lo up
    done
    plug client eth0 br0
    $IP -n client addr add 10.0.0.10/24 dev eth0
    n=2
    for d in dir1 dir2; do
        plug $d eth0 br0
        plug $d eth1 br1
        $IP -n $d addr add 10.0.0.$n/24 dev eth0
        $IP -n $d addr add 192.168.10.$n/24 dev eth1
        # NAT: replies from the real servers are forwarded (and un-NATed) here.
        sysctl_ns $d net/ipv4/ip_forward 1
        # Every new connection is scheduled. The director of an LVS-DR service sees only the
        # client's half, so each finished request leaves an entry in FIN_WAIT for 2 minutes,
        # and the default conn_reuse_mode (1) sends a SYN that matches one to that entry's
        # real server without asking the scheduler. The client's ephemeral ports come round
        # again within those 2 minutes across phases (seen: a port reused after 60 s), so a
        # rotation check then got an earlier phase's server: "web1 web1 web3 web2 web1 web3",
        # "web1 web2 web3 web3 web1 web2". Bit 2 reschedules such SYNs (keepalived would see
        # the same reuse; it is the kernel's, not the daemon's).
        sysctl_ns $d net/ipv4/vs/conn_reuse_mode 3
        n=$((n + 1))
    done
    n=11
    for w in $WEBS sorry; do
        plug $w eth0 br0
        plug $w eth1 br1
        $IP -n $w addr add 10.0.0.$n/24 dev eth0
        $IP -n $w addr add 192.168.10.$n/24 dev eth1
        # LVS-DR: the VIP sits on lo; never answer ARP for it, never use it as ARP source.
        for c in all eth0; do
            sysctl_ns $w net/ipv4/conf/$c/arp_ignore 1
            sysctl_ns $w net/ipv4/conf/$c/arp_announce 2
        done
        mkdir -p $LAB/www/$w
        echo $w >$LAB/www/$w/index.html
        n=$((n + 1))
    done
}

# lab_mode dr|nat: the real servers' side of the forwarding method.
lab_mode() {
    for w in $WEBS sorry; do
        case $1 in
        dr)
            $IP -n $w link set eth1 down
            $IP -n $w link set eth0 up
            for v in 10.0.0.100 10.0.0.101; do $IP -n $w addr replace $v/32 dev lo; done
            ;;
        nat)
            $IP -n $w link set eth0 down
            for v in 10.0.0.100 10.0.0.101; do $IP -n $w addr del $v/32 dev lo 2>/dev/null; done
            $IP -n $w link set eth1 up
            $IP -n $w route replace default via 192.168.10.1
            ;;
        esac
    done
}

# ---- web servers (busybox httpd, the page names the server) -----------------------------
# Background processes are started with $IP itself, not through nsx: `nsx ... &` would
# fork a subshell, and $! would be that subshell's pid rather than the program's.
web_start() { # NAME [PORT]
    _p=${2:-80}
    $IP netns exec $1 busybox httpd -f -p $_p -h $LAB/www/$1 &
    echo $! >$LAB/run/$1-$_p.pid
}
web_stop() { # NAME [PORT]
    _f=$LAB/run/$1-${2:-80}.pid
    [ -f $_f ] && kill $(cat $_f) 2>/dev/null
    rm -f $_f
}
webs_start() { for w in $WEBS sorry; do for p in "$@"; do web_start $w $p; done; done; }
webs_stop() { for w in $WEBS sorry; do for p in 80 81; do web_stop $w $p; done; done; }

# ---- the client -------------------------------------------------------------------------
# get HOST[:PORT]: the page, or failure. `timeout` bounds a SYN lost to a dead director
# (busybox 1.35's own `wget -T` crashes, so it is not used).
get() { nsx client timeout 3 wget -q -O - "http://$1/" 2>/dev/null; }

# page_is HOST[:PORT] PAGE: the client gets exactly this page
page_is() {
    _p=$(get $1)
    echo "$1 answers ${_p:-nothing}"
    [ "$_p" = "$2" ]
}

# rr_order VIP[:PORT] SERVER...: 2×N requests answer N distinct servers twice, in a cycle.
rr_order() {
    _vip=$1
    shift
    _k=$#
    _want=$(for s in "$@"; do echo $s; done | sort | tr '\n' ' ')
    _seq=""
    _i=0
    while [ $_i -lt $((2 * _k)) ]; do
        _r=$(get $_vip) || _r=ERR
        _seq="$_seq $_r"
        _i=$((_i + 1))
        note "rr_order $_vip request $_i: $_r"
    done
    _seq=$(echo $_seq)
    _first=$(echo $_seq | cut -d' ' -f1-$_k)
    _second=$(echo $_seq | cut -d' ' -f$((_k + 1))-$((2 * _k)))
    _got=$(for s in $_first; do echo $s; done | sort | tr '\n' ' ')
    echo "$_seq"
    _rc=1
    [ "$_first" = "$_second" ] && [ "$_got" = "$_want" ] && _rc=0
    # LOGS_ALWAYS=1 (a flake chase): every phase's logs, with this diagnosis after each rotation.
    [ $_rc = 0 ] && [ "${LOGS_ALWAYS:-0}" = 0 ] || rr_diag $_vip
    return $_rc
}

# rr_diag VIP[:PORT]: into the logs, what explains a broken rotation: where the client
# sends the VIP (its ARP entry, every host's MAC), each director's destinations and its
# connection entries for the VIP (client port -> real server; the newest requests have the
# longest expiry): a request that went to a server no scheduler picked (an older entry
# whose client port came round again, refreshed to a full expiry) shows there.
rr_diag() {
    _dv=${1%%:*}
    note "diag: client neighbour $($IP -n client neigh show $_dv 2>&1)"
    for h in dir1 dir2 $WEBS sorry; do
        note "diag: $h eth0 $($IP -n $h -o link show eth0 2>&1 | sed -n 's/.*link\/ether \([^ ]*\).*/\1/p')" \
            "arp_ignore/announce $(nsx $h cat /proc/sys/net/ipv4/conf/all/arp_ignore \
                /proc/sys/net/ipv4/conf/all/arp_announce 2>&1 | tr '\n' ' ')"
    done
    for d in dir1 dir2; do
        note "diag: $d table $(nsx $d $IPVSADM -Ln 2>&1 | awk '$1 == "->" && $2 != "RemoteAddress:Port" { print $2 }' | tr '\n' ' ')" \
            "conn_reuse_mode $(nsx $d cat /proc/sys/net/ipv4/vs/conn_reuse_mode 2>&1)"
        nsx $d $IPVSADM -Lnc 2>&1 | grep -F " $_dv:" | while read -r _l; do note "diag: $d conn $_l"; done
    done
}

# ---- IPVS ---------------------------------------------------------------------------------
# dests NS PROTO-FLAG VS: "addr:port=weight" sorted, one line ("" when no such service)
dests() {
    nsx $1 $IPVSADM -Ln $2 $3 2>/dev/null |
        awk '$1 == "->" && $2 != "RemoteAddress:Port" { print $2 "=" $4 }' | sort | tr '\n' ' ' |
        sed 's/ $//'
}
# services NS: "TCP 10.0.0.100:80" lines of every service, sorted, space-joined
services() {
    nsx $1 $IPVSADM -Ln 2>/dev/null | awk '$1 == "TCP" || $1 == "UDP" || $1 == "FWM" { print $1 "/" $2 }' |
        sort | tr '\n' ' ' | sed 's/ $//'
}
# expect_dests NS VS "a:p=w ..." : the service has exactly these destinations
expect_dests() {
    _d=$(dests $1 -t $2)
    echo "$1 $2: ${_d:-no service}"
    [ "$_d" = "$3" ]
}
# expect_services NS "TCP/a:p ..." : exactly these services ("" for none)
expect_services() {
    _s=$(services $1)
    echo "$1: ${_s:-no services}"
    [ "$_s" = "$2" ]
}
has_vip() { $IP -n $1 -o addr show 2>/dev/null | grep -q " $2/"; }
vips_of() {
    $IP -n $1 -o -4 addr show 2>/dev/null | awk '{ print $4 }' |
        grep -E '^(10\.0\.0\.10[01]|192\.168\.10\.1)/' | sort | tr '\n' ' ' | sed 's/ $//'
}
expect_vips() {
    _v=$(vips_of $1)
    echo "$1 VIPs: ${_v:-none}"
    [ "$_v" = "$2" ]
}

# wait_for CENTISECONDS CMD...: poll every 0.1 s; prints the centiseconds it took
wait_for() {
    _limit=$1
    shift
    _t0=$(cs)
    while :; do
        if "$@" >/dev/null 2>&1; then
            echo $(($(cs) - _t0))
            return 0
        fi
        [ $(($(cs) - _t0)) -ge $_limit ] && return 1
        usleep 100000
    done
}
# check_within NAME CENTISECONDS CMD...: a check that waits, with the time it took
check_within() {
    _name=$1
    _lim=$2
    shift 2
    if _t=$(wait_for $_lim "$@"); then
        ok "$_name" "after $(secs $_t) s; $(echo $("$@" 2>&1))"
    else
        fail "$_name" "not within $(secs $_lim) s; $(echo $("$@" 2>&1))"
    fi
}

# sync_daemons NS: the kernel's connection sync daemons, "master(eth1,62) backup(...)"
sync_daemons() {
    nsx $1 $IPVSADM -L --daemon 2>/dev/null |
        sed -n 's/^\([a-z]*\) sync daemon (mcast=\([^,]*\), syncid=\([0-9]*\).*/\1(\2,\3)/p' |
        sort | tr '\n' ' ' | sed 's/ $//'
}
# expect_sync_daemons NS "master(eth1,62) ..." : exactly these ("" for none)
expect_sync_daemons() {
    _s=$(sync_daemons $1)
    echo "$1 sync daemons: ${_s:-none}"
    [ "$_s" = "$2" ]
}

# ---- the daemons --------------------------------------------------------------------------
# DAEMON=keepalived|rkeepalived, chosen per phase; DAEMON_ARGS: more options (-P, -C).
alive() { [ -d /proc/$1 ] && ! grep -q '^State:.*Z' /proc/$1/status 2>/dev/null; }
director_start() { # NODE CONF
    mkdir -p /run/$1
    rm -f /run/$1/*.pid
    # The phase's mark goes first: phase_log reads from it.
    echo "--- $PHASE: $DAEMON $DAEMON_ARGS -f $2" >>$LAB/log/$1.log
    case $DAEMON in
    keepalived)
        # -G: no syslog (busybox has no syslogd here); -D: detailed log to the console.
        $IP netns exec $1 /usr/sbin/keepalived -n -l -D -G $DAEMON_ARGS -f $2 -p /run/$1/keepalived.pid \
            -r /run/$1/vrrp.pid -c /run/$1/checkers.pid >>$LAB/log/$1.log 2>&1 &
        ;;
    rkeepalived)
        # RK_LOG_FILTER: RUST_LOG for it (the end-to-end tests log each IPVS operation).
        $IP netns exec $1 env ${RK_LOG_FILTER:+RUST_LOG=$RK_LOG_FILTER} /rk/rkeepalived -n -l $DAEMON_ARGS -f $2 -p /run/$1/keepalived.pid \
            -r /run/$1/vrrp.pid -c /run/$1/checkers.pid >>$LAB/log/$1.log 2>&1 &
        ;;
    esac
    echo $! >/run/$1/main.pid
}
director_pid() { cat /run/$1/main.pid 2>/dev/null; }
# director_stop NODE [SIGNAL]: signal the main process, wait up to 20 s for it to exit;
# prints the centiseconds it took.
director_stop() {
    _pid=$(director_pid $1)
    [ -n "$_pid" ] || return 0
    _t0=$(cs)
    kill -${2:-TERM} $_pid 2>/dev/null
    while alive $_pid && [ $(($(cs) - _t0)) -lt 2000 ]; do usleep 20000; done
    _t=$(($(cs) - _t0))
    if alive $_pid; then
        kill -KILL $_pid 2>/dev/null
        echo "$1: $DAEMON did not stop within 20 s" >&2
    fi
    rm -f /run/$1/main.pid
    echo $_t
}
# director_kill NODE: the director dies (its links go down, every process in it is killed).
director_kill() {
    $IP -n $1 link set eth0 down
    $IP -n $1 link set eth1 down
    for _p in $($IP netns pids $1); do kill -KILL $_p 2>/dev/null; done
    rm -f /run/$1/main.pid
}
# lab_reset: no daemon, links up, empty IPVS tables, no VIPs, fresh ARP caches.
lab_reset() {
    for d in dir1 dir2; do
        director_stop $d >/dev/null
        for _p in $($IP netns pids $d); do kill -KILL $_p 2>/dev/null; done
        $IP -n $d link set eth0 up
        $IP -n $d link set eth1 up
        nsx $d $IPVSADM -C
        # -C leaves the connection sync daemons running.
        for r in master backup; do nsx $d $IPVSADM --stop-daemon $r 2>/dev/null; done
        for v in 10.0.0.100/24 10.0.0.101/24 192.168.10.1/24; do
            $IP -n $d addr del $v dev eth0 2>/dev/null
            $IP -n $d addr del $v dev eth1 2>/dev/null
        done
    done
    for h in $HOSTS; do $IP -n $h neigh flush all 2>/dev/null; done
    rm -f /tmp/keepalived*.data /tmp/keepalived*.stats
}
# dump NODE: SIGUSR1, then the dump files the daemon wrote (both directors share /tmp, so
# one at a time).
dump() {
    rm -f /tmp/keepalived*.data
    kill -USR1 $(director_pid $1)
    wait_for 500 ls /tmp/keepalived.data >/dev/null
    usleep 500000
    cat /tmp/keepalived*.data 2>/dev/null
}

# stats NODE: SIGUSR2, then the statistics file the daemon wrote (one node at a time).
stats() {
    rm -f /tmp/keepalived.stats
    kill -USR2 $(director_pid $1)
    wait_for 500 ls /tmp/keepalived.stats >/dev/null
    usleep 500000
    cat /tmp/keepalived.stats 2>/dev/null
}
# phase_log NODE: the node's log since the current phase started it.
phase_log() {
    awk -v m="--- $PHASE: " 'index($0, m) == 1 { n = NR } { l[NR] = $0 } END { for (i = n; i <= NR; i++) print l[i] }' $LAB/log/$1.log
}
# log_has NODE ERE: the node's log of this phase has a matching line (printed); the lab's
# own notes do not count
log_has() {
    _l=$(phase_log $1 | grep -v '^@@ ' | grep -E -- "$2" | head -1)
    echo "${_l:-no line matches $2}"
    [ -n "$_l" ]
}

# ---- failover, measured ---------------------------------------------------------------------
# poll_first FILE T0 CMD...: write the centisecond CMD first succeeds into FILE (60 s at most)
poll_first() {
    _pf=$1 _p0=$2
    shift 2
    while [ $(($(cs) - _p0)) -lt 6000 ]; do
        if "$@" >/dev/null 2>&1; then
            cs >$_pf
            return 0
        fi
        usleep 50000
    done
}
rules_are() { [ "$(dests $1 -t $2)" = "$3" ]; }
# since FILE T0: centiseconds from T0 to the (earliest) time in FILE, or nothing
since() { [ -s $1 ] && echo $(($(sort -n $1 | head -1) - $2)); }

# failover DEAD SURVIVOR VIP VS "dests": kill DEAD; report how long until SURVIVOR holds
# the VIP, has the service with these destinations, and the client gets a page through it.
# Each of the three is watched by its own poller, so one slow query does not delay the
# others' timestamps. The client starts a new request every 0.2 s (each bounded at 3 s),
# so the first success measures when the path works, not when a retransmitted SYN
# happened to go out. FAILOVER_T0 keeps the moment of death (centiseconds).
failover() {
    _dead=$1 _surv=$2 _vip=$3 _vs=$4 _want=$5
    rm -f $LAB/vip_ok $LAB/rules_ok $LAB/http_ok
    # Rules already in place (keepalived, lvs_rules_everywhere) count as there at once.
    _had=0
    rules_are $_surv $_vs "$_want" && _had=1
    _t0=$(cs)
    FAILOVER_T0=$_t0
    director_kill $_dead
    (poll_first $LAB/vip_ok $_t0 has_vip $_surv $_vip) &
    _pv=$!
    (poll_first $LAB/rules_ok $_t0 rules_are $_surv $_vs "$_want") &
    _pr=$!
    (
        while [ ! -s $LAB/http_ok ] && [ $(($(cs) - _t0)) -lt 6000 ]; do
            (get $_vs >/dev/null && cs >>$LAB/http_ok) &
            usleep 200000
        done
        # Requests still in flight would take scheduler slots from the checks after us.
        wait
    ) &
    _ph=$!
    wait $_pv $_pr $_ph
    _tv=$(since $LAB/vip_ok $_t0)
    _tr=$(since $LAB/rules_ok $_t0)
    [ $_had = 1 ] && _tr=0
    _th=$(since $LAB/http_ok $_t0)
    [ -n "$_tv" ] && figure failover_vip_s $(secs $_tv)
    [ -n "$_tr" ] && figure failover_rules_s $(secs $_tr)
    [ -n "$_th" ] && figure failover_http_s $(secs $_th)
    if [ -n "$_tv" ] && [ -n "$_tr" ] && [ -n "$_th" ]; then
        _rules="rules after $(secs $_tr) s"
        [ $_had = 1 ] && _rules="rules already in place"
        ok failover "$_surv took over: VIP after $(secs $_tv) s, $_rules, first page after $(secs $_th) s"
    else
        fail failover "$_surv after 60 s: VIP ${_tv:-never}, rules ${_tr:-never} ($(dests $_surv -t $_vs)), page ${_th:-never}"
    fi
}

# phase_logs: both directors' logs since the current phase began (the daemons' lines and
# the lab's notes, in order), each line as "RK-LOG PHASE NODE| line", for a phase that
# failed a check. At most 400 lines per director: the first 100 and the last 300.
phase_logs() {
    for _d in dir1 dir2; do
        [ -f $LAB/log/$_d.log ] || continue
        awk -v m="@@ phase $PHASE begins" -v tag="RK-LOG $PHASE $_d| " '
            $0 == m { n = 0 }
            { l[++n] = $0 }
            END {
                for (i = 1; i <= n; i++) {
                    if (n > 400 && i == 101) print tag "... " n - 400 " lines left out ..."
                    if (n <= 400 || i <= 100 || i > n - 300) print tag l[i]
                }
            }' $LAB/log/$_d.log
    done
}

# lab_logs: the daemons' logs, for a failed run.
lab_logs() {
    for f in $LAB/log/*.log; do
        echo "==== $f (last 150 lines)"
        tail -n 150 $f
    done
}

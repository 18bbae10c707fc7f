# shellcheck shell=bash
# Scripts/lib/lab-net.sh: the NAT lab's network (used by Scripts/lab).
#
#   camera ns  lan0 192.168.77.2 ── lan0 192.168.77.1  router ns  wan0 203.0.113.1 ── wan0  internet ns
#   (simcam, agent)                 (MASQUERADE, FORWARD firewall, LABFAULT chain)        203.0.113.2  viewer
#                                                                                         203.0.113.11 ep1   .12 ep2
#                                                                                         203.0.113.21 sp1   .22 sp2
#
# Namespaces are PREFIX-cam, PREFIX-rtr, PREFIX-net; every veth is created
# straight inside its namespaces, so nothing is left in the host's namespace and
# parallel labs never clash. The camera resolves the servers' names through
# /etc/netns/PREFIX-cam/hosts (bind-mounted over /etc/hosts by `ip netns exec`).

if [[ -n "${_CAMAGENT_LAB_NET_SH:-}" ]]; then return 0; fi
_CAMAGENT_LAB_NET_SH=1

LAB_DOMAIN=camlab.test
LAN_NET=192.168.77.0/24
CAM_ADDR=192.168.77.2
RTR_LAN_ADDR=192.168.77.1
RTR_WAN_ADDR=203.0.113.1
VIEWER_ADDR=203.0.113.2
# A documentation address nothing answers on: the "stale DNS" answer.
DEAD_ADDR=203.0.113.99
declare -A SERVER_ADDR=([ep1]=203.0.113.11 [ep2]=203.0.113.12 [sp1]=203.0.113.21 [sp2]=203.0.113.22)

# lab_init PREFIX WORKDIR: names this lab; nothing is created yet.
lab_init() {
    LAB_PREFIX=$1
    LAB_WORK=$2
    NS_CAM=$LAB_PREFIX-cam
    NS_RTR=$LAB_PREFIX-rtr
    NS_NET=$LAB_PREFIX-net
    CAM_HOSTS=/etc/netns/$NS_CAM/hosts
    mkdir -p "$LAB_WORK"
}

server_name() { echo "$1.$LAB_DOMAIN"; }

in_cam() { ip netns exec "$NS_CAM" "$@"; }
in_rtr() { ip netns exec "$NS_RTR" "$@"; }
in_net() { ip netns exec "$NS_NET" "$@"; }

# write_cam_hosts [ADDR]: the camera's /etc/hosts; every server name points at
# ADDR if given (a lying DNS), else at its real address. Written in place (same
# inode): a running agent sees the bind-mounted file change.
write_cam_hosts() {
    local lie=${1:-} s text
    text="127.0.0.1 localhost"$'\n'
    for s in ep1 ep2 sp1 sp2; do
        text+="${lie:-${SERVER_ADDR[$s]}} $(server_name "$s")"$'\n'
    done
    printf '%s' "$text" >"$CAM_HOSTS"
}

lab_net_up() {
    ip netns add "$NS_CAM"
    ip netns add "$NS_RTR"
    ip netns add "$NS_NET"
    mkdir -p "/etc/netns/$NS_CAM"
    write_cam_hosts

    ip link add lan0 netns "$NS_CAM" type veth peer name lan0 netns "$NS_RTR"
    ip link add wan0 netns "$NS_RTR" type veth peer name wan0 netns "$NS_NET"
    local ns
    for ns in "$NS_CAM" "$NS_RTR" "$NS_NET"; do ip -n "$ns" link set lo up; done

    ip -n "$NS_CAM" addr add "$CAM_ADDR/24" dev lan0
    ip -n "$NS_CAM" link set lan0 up
    ip -n "$NS_CAM" route add default via "$RTR_LAN_ADDR"

    ip -n "$NS_RTR" addr add "$RTR_LAN_ADDR/24" dev lan0
    ip -n "$NS_RTR" addr add "$RTR_WAN_ADDR/24" dev wan0
    ip -n "$NS_RTR" link set lan0 up
    ip -n "$NS_RTR" link set wan0 up
    in_rtr sysctl -qw net.ipv4.ip_forward=1

    ip -n "$NS_NET" addr add "$VIEWER_ADDR/24" dev wan0
    local s
    for s in ep1 ep2 sp1 sp2; do ip -n "$NS_NET" addr add "${SERVER_ADDR[$s]}/24" dev wan0; done
    ip -n "$NS_NET" link set wan0 up
    # The worst case for the camera: the internet side routes the camera's
    # private network to the router, so only the router's NAT and firewall
    # keep the camera unreachable (scenario 0 proves they do).
    ip -n "$NS_NET" route add "$LAN_NET" via "$RTR_WAN_ADDR"

    # A home router: outgoing connections are masqueraded; from the WAN only
    # replies get in. Faults go into LABFAULT, consulted before anything else.
    in_rtr iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE
    in_rtr iptables -N LABFAULT
    in_rtr iptables -P FORWARD DROP
    in_rtr iptables -A FORWARD -j LABFAULT
    in_rtr iptables -A FORWARD -i lan0 -o wan0 -j ACCEPT
    in_rtr iptables -A FORWARD -i wan0 -o lan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
}

# lab_fault RULE...: appends a rule to the router's LABFAULT chain.
lab_fault() { in_rtr iptables -A LABFAULT "$@"; }
lab_fault_clear() { in_rtr iptables -F LABFAULT; }
# Packets dropped so far by the LABFAULT rules.
lab_fault_drops() { in_rtr iptables -L LABFAULT -n -v -x | awk 'NR > 2 {n += $1} END {print n + 0}'; }

# Labs present on this machine, by prefix.
lab_list_prefixes() {
    { ip netns list 2>/dev/null | awk '{print $1}'; ls /etc/netns 2>/dev/null || true; } |
        grep -E '^camlab-.*-(cam|rtr|net)$' | sed -E 's/-(cam|rtr|net)$//' | sort -u
}

# lab_destroy PREFIX: kills every process inside the lab's namespaces (all of
# them were started by the lab), deletes the namespaces (their veths go with
# them) and the camera's hosts file. Idempotent; safe on a half-built lab.
lab_destroy() {
    local prefix=$1 ns pids
    for ns in "$prefix-cam" "$prefix-rtr" "$prefix-net"; do
        if [[ -e /run/netns/$ns ]]; then
            for _ in $(seq 1 50); do
                pids=$(ip netns pids "$ns" 2>/dev/null || true)
                [[ -n $pids ]] || break
                # shellcheck disable=SC2086
                kill -9 $pids 2>/dev/null || true
                sleep 0.1
            done
            ip netns del "$ns" 2>/dev/null || echo "lab: could not delete namespace $ns" >&2
        fi
        rm -rf "/etc/netns/$ns"
    done
}

# Removes labs of test runs whose process is gone (killed before its cleanup ran).
lab_reap_leftovers() {
    local prefix owner
    while read -r prefix; do
        [[ $prefix =~ ^camlab-([0-9]+)- ]] || continue
        owner=${BASH_REMATCH[1]}
        kill -0 "$owner" 2>/dev/null && continue
        echo "lab: removing leftover $prefix (its run, pid $owner, is gone)"
        lab_destroy "$prefix"
    done < <(lab_list_prefixes)
}

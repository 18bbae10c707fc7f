# shellcheck shell=bash
# Scripts/lib/peer-bench.sh: camagent's tunnel beside the tools people would
# otherwise use, with one iperf3 load (iperf3 -R: the target sends to the
# viewer, as a camera does), in one run, on loopback (used by Scripts/bench).
#
#   source Scripts/lib/cluster.sh; source Scripts/lib/peer-bench.sh
#   peer_bench BIN_DIR ROUNDS SECONDS -- AGENT_CMD...
#   PEER_COMPARE_AGENT=PATH  adds the camagent rows again for another agent
#                            binary (e.g. an older build), in the same run
#
# Paths, each from a viewer's iperf3 client to the target's iperf3 server:
#   direct            no relay
#   socat relay       one plain TCP relay process (socat fork)
#   stunnel pair      stunnel client -> TLS -> stunnel server (OpenSSL, its defaults)
#   ssh -R            OpenSSH remote forward, chacha20-poly1305@openssh.com; sshd
#                     runs in a private mount namespace with a tmpfs /run, on
#                     loopback, with a host key and a user key made for this run
#   camagent plain    agent -> streampoint links over plain TCP
#   camagent TLS      agent -> streampoint links over TLS (the agent's suite is printed)
# The paths take turns round by round, so that load from other processes on
# the machine falls on all of them; the table shows each path's median.
# Missing tools are installed (Debian packages), never skipped.

if [[ -n "${_CAMAGENT_PEER_BENCH_SH:-}" ]]; then return 0; fi
_CAMAGENT_PEER_BENCH_SH=1

PEER_BENCH_PACKAGES=(iperf3 stunnel4 socat openssh-server openssh-client util-linux iproute2 python3)

peer_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# peer_wait_listening PORT: up to 10 s for a listener on 127.0.0.1:PORT. Asks
# the kernel (ss) instead of connecting: a probe through a relay would reach
# iperf3, which takes any connection for a test's control channel.
peer_wait_listening() {
    local port=$1
    for _ in $(seq 1 100); do
        [[ -n $(ss -ltnH "sport = :$port" 2>/dev/null) ]] && return 0
        sleep 0.1
    done
    echo "peer-bench: nothing listens on 127.0.0.1:$port after 10 s" >&2
    return 1
}

# peer_iperf PORT SECONDS: Gbit/s received by the viewer (iperf3 -R), or "failed".
peer_iperf() {
    local port=$1 seconds=$2 json
    json=$(timeout $((seconds + 20)) iperf3 -c 127.0.0.1 -p "$port" -R -t "$seconds" -O 1 -J 2>/dev/null) || true
    python3 -c '
import json, sys
try:
    print("%.2f" % (json.loads(sys.stdin.read())["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception:
    print("failed")' <<<"$json"
}

peer_start_socat() {
    local listen=$1 target=$2
    cluster_spawn socat socat "TCP-LISTEN:$listen,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$target"
    peer_wait_listening "$listen"
}

peer_start_stunnel() {
    local listen=$1 target=$2 middle dir=$CLUSTER_WORK/stunnel
    middle=$(peer_free_port)
    mkdir -p "$dir"
    cat >"$dir/server.conf" <<CONF
foreground = yes
pid =
[tunnel]
accept = 127.0.0.1:$middle
connect = 127.0.0.1:$target
cert = $CLUSTER_WORK/pki/server.pem
key = $CLUSTER_WORK/pki/server.key
CONF
    cat >"$dir/client.conf" <<CONF
foreground = yes
pid =
[tunnel]
client = yes
accept = 127.0.0.1:$listen
connect = 127.0.0.1:$middle
debug = info
CAfile = $CLUSTER_WORK/pki/ca.pem
verifyChain = yes
checkHost = localhost
CONF
    cluster_spawn stunnel-server stunnel4 "$dir/server.conf"
    peer_wait_listening "$middle"
    cluster_spawn stunnel-client stunnel4 "$dir/client.conf"
    peer_wait_listening "$listen"
}

# The camera side is the ssh client (like the agent, it dials out); sshd
# listens for the viewer and carries its connections back over the session.
peer_start_ssh() {
    local listen=$1 target=$2 sshd_port dir=$CLUSTER_WORK/ssh
    sshd_port=$(peer_free_port)
    mkdir -p "$dir"
    ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
    ssh-keygen -q -t ed25519 -N '' -f "$dir/user_key"
    cp "$dir/user_key.pub" "$dir/authorized_keys"
    cat >"$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $sshd_port
HostKey $dir/host_key
PidFile none
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding remote
GatewayPorts no
X11Forwarding no
Ciphers chacha20-poly1305@openssh.com
CONF
    # sshd wants /run/sshd; a private tmpfs /run keeps the machine's own untouched.
    cluster_spawn sshd unshare --mount --propagation private -- sh -c \
        'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd && exec /usr/sbin/sshd -D -e -f "$1"' sh "$dir/sshd_config"
    peer_wait_listening "$sshd_port"
    cluster_spawn ssh ssh -F /dev/null -N -T -p "$sshd_port" -i "$dir/user_key" \
        -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes \
        -c chacha20-poly1305@openssh.com -R "127.0.0.1:$listen:127.0.0.1:$target" "$(id -un)@127.0.0.1"
    peer_wait_listening "$listen"
}

# peer_start_camagent MODE TARGET_PORT BIN_DIR AGENT_CMD...: MODE plain or tls.
# Starts servers of its own in that mode and an agent with its own id; sets
# PEER_VIEWER_PORT and PEER_AGENT_PID. The servers' logs are then renamed
# NAME-MODE.out, so that a second call finds its own lines.
peer_start_camagent() {
    local mode=$1 target=$2 bin=$3 url f; shift 3
    if [[ $mode == plain* ]]; then CLUSTER_PLAIN=1; else unset CLUSTER_PLAIN; fi
    CLUSTER_AGENT_ID=bench-iperf-$mode
    # "iperf" is raw TCP: no viewer token can be checked on it, so its port is open.
    CLUSTER_PASSTHROUGH_OPEN=1 cluster_start_servers "$bin"
    cluster_start_agent "agent-iperf-$mode" "target = iperf=127.0.0.1:$target" -- "$@"
    PEER_AGENT_PID=$LAST_PID
    url=$(cluster_wait_line streampoint "streampoint: agent $CLUSTER_AGENT_ID target iperf at ")
    PEER_VIEWER_PORT=${url##*:}
    PEER_VIEWER_PORT=${PEER_VIEWER_PORT%/}
    for f in streampoint endpoint simcam; do mv "$CLUSTER_WORK/$f.out" "$CLUSTER_WORK/$f-$mode.out"; done
}

peer_bench() {
    local bin=$1 rounds=$2 seconds=$3; shift 3
    [[ ${1:-} == -- ]] && shift
    ensure_debian_packages "${PEER_BENCH_PACKAGES[@]}"
    local iperf_port direct socat stunnel ssh plain tls plain_pid tls_pid suite
    iperf_port=$(peer_free_port)
    cluster_spawn iperf3 iperf3 -s -B 127.0.0.1 -p "$iperf_port"
    peer_wait_listening "$iperf_port"
    socat=$(peer_free_port); peer_start_socat "$socat" "$iperf_port"
    stunnel=$(peer_free_port); peer_start_stunnel "$stunnel" "$iperf_port"
    ssh=$(peer_free_port); peer_start_ssh "$ssh" "$iperf_port"
    peer_start_camagent plain "$iperf_port" "$bin" "$@"
    plain=$PEER_VIEWER_PORT plain_pid=$PEER_AGENT_PID
    peer_start_camagent tls "$iperf_port" "$bin" "$@"
    tls=$PEER_VIEWER_PORT tls_pid=$PEER_AGENT_PID

    local -A results=()
    local names=(direct socat stunnel ssh plain tls) round path port
    declare -A ports=([direct]=$iperf_port [socat]=$socat [stunnel]=$stunnel [ssh]=$ssh [plain]=$plain [tls]=$tls)
    if [[ -n ${PEER_COMPARE_AGENT:-} ]]; then
        peer_start_camagent plain-compare "$iperf_port" "$bin" "$PEER_COMPARE_AGENT"
        ports[plain-compare]=$PEER_VIEWER_PORT
        peer_start_camagent tls-compare "$iperf_port" "$bin" "$PEER_COMPARE_AGENT"
        ports[tls-compare]=$PEER_VIEWER_PORT
        names+=(plain-compare tls-compare)
    fi
    for round in $(seq 1 "$rounds"); do
        for path in "${names[@]}"; do
            port=${ports[$path]}
            results[$path]+="$(peer_iperf "$port" "$seconds") "
        done
    done
    suite=$(grep -h "tunnel .* data: TLS established, " "$CLUSTER_WORK/agent-iperf-tls.err" "$CLUSTER_WORK/agent-iperf-tls.out" 2>/dev/null |
        head -n 1 | sed 's/.*TLS established, //' || true)
    local stunnel_suite
    stunnel_suite=$(grep -h -o "TLS[^ ]* ciphersuite: [A-Z0-9_-]*" "$CLUSTER_WORK/stunnel-client.err" "$CLUSTER_WORK/stunnel-client.out" 2>/dev/null |
        head -n 1 | sed 's/ ciphersuite:/,/' || true)

    median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "failed"; else if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2] + a[NR/2+1]) / 2}'; }
    local -A medians=()
    for path in "${names[@]}"; do medians[$path]=$(median <<<"${results[$path]}"); done
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }

    echo "== tunnel throughput, iperf3 -R (target -> viewer), loopback, ${seconds} s x $rounds rounds, median (each round's figures)"
    printf '  %-44s %7s  %-12s %s\n' path Gbit/s "vs stunnel" rounds
    row() { printf '  %-44s %7s  %-12s %s\n' "$1" "${medians[$2]}" "$(ratio "${medians[$2]}" "${medians[stunnel]}")" "${results[$2]}"; }
    row "direct" direct
    row "socat relay" socat
    row "stunnel pair" stunnel
    row "ssh -R (chacha20-poly1305@openssh.com)" ssh
    row "camagent, plain links" plain
    row "camagent, TLS links" tls
    if [[ -n ${PEER_COMPARE_AGENT:-} ]]; then
        echo "  the same two rows for $PEER_COMPARE_AGENT:"
        row "camagent (compared build), plain links" plain-compare
        row "camagent (compared build), TLS links" tls-compare
    fi
    printf '  suites: stunnel pair %s; camagent %s\n' "${stunnel_suite:-?}" "${suite:-?}"
    printf '  camagent TLS / stunnel pair: %s   camagent plain / ssh -R: %s   agent VmHWM: plain %s KiB, TLS %s KiB\n' \
        "$(ratio "${medians[tls]}" "${medians[stunnel]}")" "$(ratio "${medians[plain]}" "${medians[ssh]}")" \
        "$(awk '/^VmHWM/ {print $2}' "/proc/$plain_pid/status" 2>/dev/null || echo ?)" \
        "$(awk '/^VmHWM/ {print $2}' "/proc/$tls_pid/status" 2>/dev/null || echo ?)"
}

# shellcheck shell=bash
# Scripts/lib/tls-cost.sh: what a MiB through a tunnel costs the agent, in
# guest instructions counted under QEMU, per target and per cipher suite
# (Scripts/bench --tls-cost). Loopback only.
#
#   source Scripts/lib/cluster.sh; source Scripts/lib/tls-cost.sh
#   cluster_init; tls_cost BIN_DIR TARGET...
#
# Counting: Debian's qemu-user (the dynamic build; qemu-user-static cannot
# load plugins) supports TCG plugins but ships none, so
# Scripts/lib/qemu-insn-count.c is built here (gcc) and counts every guest
# instruction the agent executes until it exits. Each figure is the
# difference between two runs that move SMALL and LARGE MiB through one
# tunnel (camera -> agent -> streampoint -> viewer), divided by LARGE-SMALL:
# start-up, the handshakes and idle time cancel out.
#
# Suites: one plain-TCP streampoint, reached directly ("plain": the relay's
# own cost, which the TLS figures include) or through a stunnel server in
# front of it that accepts one suite only, so that every target is measured
# with both AEADs whatever order it offers. stunnel's work is not counted:
# only the agent runs under QEMU.

if [[ -n "${_CAMAGENT_TLS_COST_SH:-}" ]]; then return 0; fi
_CAMAGENT_TLS_COST_SH=1

TLS_COST_SMALL=${TLS_COST_SMALL:-4}
TLS_COST_LARGE=${TLS_COST_LARGE:-36}
# name, OpenSSL cipher for the stunnel front ("" = no front, plain links)
TLS_COST_SUITES=("plain:" "chacha20-poly1305:ECDHE-ECDSA-CHACHA20-POLY1305" "aes-128-gcm:ECDHE-ECDSA-AES128-GCM-SHA256")

# tls_cost_runner TARGET: the QEMU command (without -plugin) for that target's agent.
tls_cost_runner() {
    case $1 in
        armv5) echo "qemu-arm -cpu arm926" ;;
        armv7 | armv7hf) echo "qemu-arm -cpu cortex-a7" ;;
        aarch64) echo "qemu-aarch64 -cpu cortex-a53" ;;
        x86_64) echo "qemu-x86_64 -cpu max" ;;
        *) return 1 ;;
    esac
}

# tls_cost_servers BIN_DIR: a bulk source, one plain streampoint, and per suite
# an endpoint that assigns it (directly or through that suite's stunnel front).
tls_cost_servers() {
    local bin=$1 entry suite cipher front address
    python3 Scripts/lib/bulk.py serve 0 >"$CLUSTER_WORK/cost-bulk.out" 2>&1 &
    CLUSTER_PIDS+=($!)
    for _ in $(seq 1 50); do grep -q listening "$CLUSTER_WORK/cost-bulk.out" && break; sleep 0.1; done
    TLS_COST_BULK_PORT=$(awk '/listening/ {print $NF}' "$CLUSTER_WORK/cost-bulk.out")
    # "bulk" is raw TCP, which only an open streampoint gives a viewer port.
    cluster_spawn cost-streampoint "$bin/camagent-streampoint" --id sp1 --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
        --ticket-key-file "$CLUSTER_WORK/ticket.key" --passthrough-open
    local sp
    sp=$(cluster_wait_line cost-streampoint "streampoint: agents listening on ")
    declare -gA TLS_COST_ENDPOINT=()
    for entry in "${TLS_COST_SUITES[@]}"; do
        suite=${entry%%:*} cipher=${entry#*:}
        address=$sp
        if [[ -n $cipher ]]; then
            front=$(peer_free_port)
            cat >"$CLUSTER_WORK/stunnel-$suite.conf" <<CONF
foreground = yes
pid =
[front]
accept = 127.0.0.1:$front
connect = $sp
cert = $CLUSTER_WORK/pki/server.pem
key = $CLUSTER_WORK/pki/server.key
sslVersion = TLSv1.2
ciphers = $cipher
CONF
            cluster_spawn "stunnel-$suite" stunnel4 "$CLUSTER_WORK/stunnel-$suite.conf"
            peer_wait_listening "$front"
            address=tls://localhost:$front
        fi
        "$bin/camagent-endpoint" enroll --registry "$CLUSTER_WORK/cost-registry-$suite.json" --id "cost-$suite" \
            --key-file "$CLUSTER_WORK/device.key" >/dev/null
        cluster_spawn "cost-endpoint-$suite" "$bin/camagent-endpoint" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
            --registry "$CLUSTER_WORK/cost-registry-$suite.json" --ticket-key-file "$CLUSTER_WORK/ticket.key" \
            --streampoint "sp1=$address"
        TLS_COST_ENDPOINT[$suite]=$(cluster_wait_line "cost-endpoint-$suite" "endpoint: agents listening on ")
    done
}

# tls_cost_run TARGET SUITE MIB: guest instructions of one agent run moving MIB
# MiB through a tunnel.
tls_cost_run() {
    local target=$1 suite=$2 mib=$3 runner count_file name url pid seen
    runner=$(tls_cost_runner "$target")
    count_file=$CLUSTER_WORK/count-$target-$suite-$mib
    name=cost-$target-$suite-$mib
    rm -f "$count_file"
    cat >"$CLUSTER_WORK/$name.conf" <<CONF
agent_id = cost-$suite
device_key = $(cat "$CLUSTER_WORK/device.key")
endpoint = http://${TLS_COST_ENDPOINT[$suite]}
allow_plaintext = yes
ca_file = $CLUSTER_WORK/pki/ca.pem
target = bulk=127.0.0.1:$TLS_COST_BULK_PORT
CONF
    seen=$(grep -c "streampoint: agent cost-$suite target bulk at " "$CLUSTER_WORK/cost-streampoint.out" || true)
    # shellcheck disable=SC2086 # the runner is a command with its options
    cluster_spawn "$name" $runner -plugin "$TLS_COST_PLUGIN,outfile=$count_file" \
        "$PWD/.build-cross/$target/camagent" --config "$CLUSTER_WORK/$name.conf"
    pid=$LAST_PID
    url=$(cluster_wait_line cost-streampoint "streampoint: agent cost-$suite target bulk at " $((seen + 1)))
    python3 Scripts/lib/bulk.py read "${url#tcp://}" "$mib" >"$CLUSTER_WORK/$name.read"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    if ! grep -q Gbit/s "$CLUSTER_WORK/$name.read" || [[ ! -s $count_file ]]; then
        echo "tls-cost: $target $suite: run failed ($(cat "$CLUSTER_WORK/$name.read")); agent log:" >&2
        tail -n 5 "$CLUSTER_WORK/$name.err" >&2
        echo 0
        return
    fi
    cat "$count_file"
}

tls_cost() {
    local bin=$1 target entry suite small large per_mib suite_line; shift
    ensure_debian_packages qemu-user stunnel4 gcc libc6-dev python3
    TLS_COST_PLUGIN=$CLUSTER_WORK/libinsncount.so
    gcc -shared -fPIC -O2 -o "$TLS_COST_PLUGIN" Scripts/lib/qemu-insn-count.c
    tls_cost_servers "$bin"
    echo "== agent instructions per MiB through a tunnel (QEMU TCG plugin count, target -> viewer, $((TLS_COST_LARGE - TLS_COST_SMALL)) MiB)"
    printf '  %-8s %-20s %14s %14s  %s\n' target links "instr/MiB" "instr/byte" "suite the agent logged"
    for target in "$@"; do
        [[ -x .build-cross/$target/camagent ]] || Scripts/cross-build "$target" >/dev/null
        for entry in "${TLS_COST_SUITES[@]}"; do
            suite=${entry%%:*}
            small=$(tls_cost_run "$target" "$suite" "$TLS_COST_SMALL")
            large=$(tls_cost_run "$target" "$suite" "$TLS_COST_LARGE")
            suite_line=$(grep -h "tunnel .* data: TLS established, " "$CLUSTER_WORK/cost-$target-$suite-$TLS_COST_LARGE.err" \
                "$CLUSTER_WORK/cost-$target-$suite-$TLS_COST_LARGE.out" 2>/dev/null | head -n 1 | sed 's/.*TLS established, //' || true)
            if ((small > 0 && large > small)); then
                per_mib=$(((large - small) / (TLS_COST_LARGE - TLS_COST_SMALL)))
                printf '  %-8s %-20s %14d %14.1f  %s\n' "$target" "$suite" "$per_mib" \
                    "$(awk -v n="$per_mib" 'BEGIN { print n / 1048576 }')" "${suite_line:--}"
            else
                printf '  %-8s %-20s %14s %14s\n' "$target" "$suite" failed -
            fi
        done
    done
}

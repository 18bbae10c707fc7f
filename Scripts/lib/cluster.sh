# shellcheck shell=bash
# Scripts/lib/cluster.sh: start simcam, streampoint, endpoint and an agent on
# loopback with ephemeral ports and throwaway keys (used by demo and bench).
#
#   source Scripts/lib/cluster.sh
#   cluster_init                       # work dir, cleanup trap, keys
#   cluster_start_servers BIN_DIR      # sets RTSP HTTP SP SP_ADMIN EP EP_ADMIN
#   cluster_start_agent NAME CMD...    # writes $CLUSTER_WORK/NAME.conf, runs CMD --config it
#   cluster_target_url NAME TARGET [N] # URL the streampoint announced (N-th time)
# Every process started is stopped on exit. Logs: $CLUSTER_WORK/<name>.{out,err}

if [[ -n "${_CAMAGENT_CLUSTER_SH:-}" ]]; then return 0; fi
_CAMAGENT_CLUSTER_SH=1

CLUSTER_PIDS=()
CLUSTER_AGENT_ID=${CLUSTER_AGENT_ID:-demo-cam}

cluster_init() {
    CLUSTER_WORK=$(mktemp -d "${TMPDIR:-/tmp}/camagent-cluster.XXXXXX")
    trap cluster_cleanup EXIT
    # Fresh secrets for this run only; they never leave the work directory.
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CLUSTER_WORK/device.key"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CLUSTER_WORK/ticket.key"
}

cluster_cleanup() {
    trap - EXIT
    local pid
    for pid in "${CLUSTER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${CLUSTER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ -n "${CLUSTER_KEEP:-}" ]] || rm -rf "$CLUSTER_WORK"
}

# cluster_spawn NAME CMD...: runs CMD in the background, logging to NAME.out/.err; sets LAST_PID.
cluster_spawn() {
    local name=$1; shift
    "$@" >"$CLUSTER_WORK/$name.out" 2>"$CLUSTER_WORK/$name.err" &
    LAST_PID=$!
    CLUSTER_PIDS+=("$LAST_PID")
}

# cluster_wait_line NAME PREFIX [N]: prints the rest of the N-th (default 1st) stdout line containing PREFIX.
cluster_wait_line() {
    local name=$1 prefix=$2 nth=${3:-1} line
    for _ in $(seq 1 600); do
        line=$(grep -F "$prefix" "$CLUSTER_WORK/$name.out" 2>/dev/null | sed -n "${nth}p" || true)
        if [[ -n $line ]]; then printf '%s\n' "${line#*"$prefix"}"; return 0; fi
        sleep 0.1
    done
    printf 'cluster: %s did not print "%s" within 60 s; its log:\n' "$name" "$prefix" >&2
    cat "$CLUSTER_WORK/$name.err" >&2
    return 1
}

cluster_start_servers() {
    local bin=$1
    cluster_spawn simcam "$bin/camagent-simcam" --rtsp-port 0 --http-port 0
    RTSP=$(cluster_wait_line simcam "simcam: rtsp listening on ")
    HTTP=$(cluster_wait_line simcam "simcam: http listening on ")

    cluster_spawn streampoint "$bin/camagent-streampoint" --id sp1 --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
        --ticket-key-file "$CLUSTER_WORK/ticket.key"
    SP=$(cluster_wait_line streampoint "streampoint: agents listening on ")
    SP_ADMIN=$(cluster_wait_line streampoint "streampoint: admin listening on ")

    "$bin/camagent-endpoint" enroll --registry "$CLUSTER_WORK/registry.json" --id "$CLUSTER_AGENT_ID" \
        --key-file "$CLUSTER_WORK/device.key" >/dev/null
    cluster_spawn endpoint "$bin/camagent-endpoint" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
        --registry "$CLUSTER_WORK/registry.json" --ticket-key-file "$CLUSTER_WORK/ticket.key" --streampoint "sp1=$SP"
    EP=$(cluster_wait_line endpoint "endpoint: agents listening on ")
    EP_ADMIN=$(cluster_wait_line endpoint "endpoint: admin listening on ")
}

# cluster_start_agent NAME [EXTRA_CONFIG_LINES] -- CMD...
cluster_start_agent() {
    local name=$1 extra=$2; shift 2
    [[ ${1:-} == -- ]] && shift
    cat >"$CLUSTER_WORK/$name.conf" <<CONF
agent_id = $CLUSTER_AGENT_ID
device_key = $(cat "$CLUSTER_WORK/device.key")
endpoint = http://$EP
allow_plaintext = yes
target = rtsp=$RTSP
target = http=$HTTP
$extra
CONF
    cluster_spawn "$name" "$@" --config "$CLUSTER_WORK/$name.conf"
}

cluster_target_url() {
    cluster_wait_line streampoint "streampoint: agent $CLUSTER_AGENT_ID target $1 at " "${2:-1}"
}

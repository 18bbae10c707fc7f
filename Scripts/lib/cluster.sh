# shellcheck shell=bash
# Scripts/lib/cluster.sh: start simcam, streampoint, endpoint and an agent on
# loopback with ephemeral ports and throwaway keys (used by demo and bench).
#
#   source Scripts/lib/cluster.sh
#   cluster_init                       # work dir, cleanup trap, keys, test PKI
#   CLUSTER_PLAIN=1                    # before cluster_start_servers: plain TCP (lab) instead of TLS
#   CLUSTER_PASSTHROUGH_OPEN=1         # before cluster_start_servers: passthrough ports without viewer tokens
#                                      # (needed for raw TCP targets, e.g. iperf)
#   CLUSTER_VIEWER_TLS=1               # before cluster_start_servers: rtsps/https/wss on the media ports
#   CLUSTER_SIMCAM_ARGS=(…) CLUSTER_STREAMPOINT_ARGS=(…)   # before cluster_start_servers: extra arguments
#   cluster_start_servers BIN_DIR      # sets RTSP HTTP SP SP_ADMIN SP_RTSP SP_WEB EP EP_ADMIN EP_TOKEN_FILE (admin
#                                      # token for /api/), SP_RTSP_URL and SP_WEB_URL (scheme://host:port),
#                                      # SIMCAM_PID and SP_PID; the streampoint keeps its channel to the endpoint
#                                      # (token sp1.token)
#   cluster_start_agent NAME CMD...    # writes $CLUSTER_WORK/NAME.conf, runs CMD --config it
#   cluster_target_url NAME TARGET [N] # URL the streampoint announced (N-th time)
#   cluster_viewer_token [TARGET] [TTL] # a viewer token for TARGET (default rtsp) of the agent from the endpoint's
#                                      # API (POST /api/agents/<id>/viewer-token), once the streampoint can check it
#   cluster_agent_bytes_up             # the agent's bytes sent up finished tunnels (fresh AGENT_STATS via the API)
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
    # A throwaway CA and a server certificate for "localhost" (never leaves the work directory).
    bash "$(dirname "${BASH_SOURCE[0]}")/make-test-pki.sh" "$CLUSTER_WORK/pki"
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
    local bin=$1 tls_args=() listen=127.0.0.1 sp_address viewer_args=()
    if [[ -z "${CLUSTER_PLAIN:-}" ]]; then
        tls_args=(--tls-cert "$CLUSTER_WORK/pki/server.pem" --tls-key "$CLUSTER_WORK/pki/server.key")
        # The agent dials the first address "localhost" resolves to; listen there.
        listen=$(getent ahosts localhost | awk 'NR == 1 {print $1}')
        [[ $listen == *:* ]] && listen="[$listen]"
    fi
    cluster_spawn simcam "$bin/camagent-simcam" --rtsp-port 0 --http-port 0 ${CLUSTER_SIMCAM_ARGS[@]+"${CLUSTER_SIMCAM_ARGS[@]}"}
    SIMCAM_PID=$LAST_PID
    RTSP=$(cluster_wait_line simcam "simcam: rtsp listening on ")
    HTTP=$(cluster_wait_line simcam "simcam: http listening on ")

    "$bin/camagent-endpoint" enroll --registry "$CLUSTER_WORK/registry.sqlite" --id "$CLUSTER_AGENT_ID" \
        --key-file "$CLUSTER_WORK/device.key" >/dev/null
    # /api/ needs a bearer token; only its hash goes into the registry.
    "$bin/camagent-endpoint" token add --registry "$CLUSTER_WORK/registry.sqlite" --name cluster-admin \
        >"$CLUSTER_WORK/admin.token"
    EP_TOKEN_FILE=$CLUSTER_WORK/admin.token
    # The streampoint's channel to the endpoint (revocations down, load up) uses its own token.
    "$bin/camagent-endpoint" token add --registry "$CLUSTER_WORK/registry.sqlite" --name sp1 --role streampoint \
        >"$CLUSTER_WORK/sp1.token"
    # The endpoint starts after the streampoint (it needs the streampoint's port),
    # so its API port is chosen now; the streampoint dials it until it answers.
    local api_port
    api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    [[ -z "${CLUSTER_PASSTHROUGH_OPEN:-}" ]] || viewer_args+=(--passthrough-open)
    if [[ -n "${CLUSTER_VIEWER_TLS:-}" ]]; then
        viewer_args+=(--viewer-tls-cert "$CLUSTER_WORK/pki/server.pem" --viewer-tls-key "$CLUSTER_WORK/pki/server.key")
    fi
    cluster_spawn streampoint "$bin/camagent-streampoint" --id sp1 --listen "$listen:0" --admin 127.0.0.1:0 \
        --ticket-key-file "$CLUSTER_WORK/ticket.key" "${tls_args[@]}" \
        --endpoint-api "http://127.0.0.1:$api_port" --endpoint-token-file "$CLUSTER_WORK/sp1.token" \
        --rtsp 127.0.0.1:0 --web 127.0.0.1:0 "${viewer_args[@]}" ${CLUSTER_STREAMPOINT_ARGS[@]+"${CLUSTER_STREAMPOINT_ARGS[@]}"}
    SP_PID=$LAST_PID
    SP=$(cluster_wait_line streampoint "streampoint: agents listening on ")
    if [[ -n "${CLUSTER_PLAIN:-}" ]]; then sp_address=$SP; else sp_address="tls://localhost:${SP##*:}"; fi
    SP_ADMIN=$(cluster_wait_line streampoint "streampoint: admin listening on ")
    SP_RTSP=$(cluster_wait_line streampoint "streampoint: rtsp listening on ")
    SP_WEB=$(cluster_wait_line streampoint "streampoint: web listening on ")
    if [[ -n "${CLUSTER_VIEWER_TLS:-}" ]]; then
        # The test certificate names localhost; browsers must trust the test CA (pki/ca.pem).
        SP_RTSP_URL="rtsps://localhost:${SP_RTSP##*:}" SP_WEB_URL="https://localhost:${SP_WEB##*:}"
    else
        SP_RTSP_URL="rtsp://$SP_RTSP" SP_WEB_URL="http://$SP_WEB"
    fi
    cluster_spawn endpoint "$bin/camagent-endpoint" serve --listen 127.0.0.1:0 --admin "127.0.0.1:$api_port" \
        --registry "$CLUSTER_WORK/registry.sqlite" --ticket-key-file "$CLUSTER_WORK/ticket.key" --streampoint "sp1=$sp_address" \
        "${tls_args[@]}"
    EP=$(cluster_wait_line endpoint "endpoint: agents listening on ")
    EP_ADMIN=$(cluster_wait_line endpoint "endpoint: admin listening on ")
}

# cluster_start_agent NAME [EXTRA_CONFIG_LINES] -- CMD...
cluster_start_agent() {
    local name=$1 extra=$2; shift 2
    [[ ${1:-} == -- ]] && shift
    local endpoint_lines
    if [[ -n "${CLUSTER_PLAIN:-}" ]]; then
        endpoint_lines="endpoint = http://$EP"$'\n'"allow_plaintext = yes"
    else
        endpoint_lines="endpoint = https://localhost:${EP##*:}"$'\n'"ca_file = $CLUSTER_WORK/pki/ca.pem"
    fi
    cat >"$CLUSTER_WORK/$name.conf" <<CONF
agent_id = $CLUSTER_AGENT_ID
device_key = $(cat "$CLUSTER_WORK/device.key")
$endpoint_lines
target = rtsp=$RTSP
target = http=$HTTP
$extra
CONF
    cluster_spawn "$name" "$@" --config "$CLUSTER_WORK/$name.conf"
}

# cluster_viewer_token [TARGET] [TTL]: asks the endpoint's API for a viewer token for
# TARGET (default rtsp) of $CLUSTER_AGENT_ID and prints it, after waiting (60 s at most) until the
# streampoint holds the keys to check it.
cluster_viewer_token() {
    local target=${1:-rtsp} ttl=${2:-86400} token=
    for _ in $(seq 1 600); do
        grep -q "viewer-token keys from the endpoint" "$CLUSTER_WORK/streampoint.err" 2>/dev/null && break
        sleep 0.1
    done
    for _ in $(seq 1 50); do
        token=$(curl -sS --max-time 10 -X POST -H "Authorization: Bearer $(cat "$EP_TOKEN_FILE")" \
            -H 'Content-Type: application/json' -d "{\"target\":\"$target\",\"ttl_seconds\":$ttl,\"label\":\"cluster\"}" \
            "http://$EP_ADMIN/api/agents/$CLUSTER_AGENT_ID/viewer-token" |
            python3 -c 'import json, sys; print(json.load(sys.stdin).get("token", ""))' 2>/dev/null || true)
        [[ -n $token ]] && { printf '%s\n' "$token"; return 0; }
        sleep 0.2
    done
    echo "cluster: the endpoint issued no viewer token for $CLUSTER_AGENT_ID target $target" >&2
    return 1
}

cluster_target_url() {
    cluster_wait_line streampoint "streampoint: agent $CLUSTER_AGENT_ID target $1 at " "${2:-1}"
}

# cluster_agent_bytes_up: the agent's "bytes to the streampoint" counter (finished
# tunnels only), from an AGENT_STATS it sends on request (STATS_REQUEST).
cluster_agent_bytes_up() {
    curl -sS --max-time 10 -X POST -H "Authorization: Bearer $(cat "$EP_TOKEN_FILE")" \
        "http://$EP_ADMIN/api/agents/$CLUSTER_AGENT_ID/stats" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["stats"]["counters"]["bytesToStreampoint"])'
}

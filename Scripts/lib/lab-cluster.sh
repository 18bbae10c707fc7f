# shellcheck shell=bash
# Scripts/lib/lab-cluster.sh: the NAT lab's processes (used by Scripts/lab):
# two endpoints and two streampoints in the internet namespace, simcam and the
# agent in the camera namespace, viewers (ffprobe/ffmpeg) on the internet side.
# TLS everywhere; the agent dials names (ep1.camlab.test, ...), never addresses.
#
# Needs lab-net.sh, LAB_BIN (directory of the four binaries) and lab_init done.
# Logs: $LAB_WORK/NAME.out and NAME.err, appended across restarts.

if [[ -n "${_CAMAGENT_LAB_CLUSTER_SH:-}" ]]; then return 0; fi
_CAMAGENT_LAB_CLUSTER_SH=1

AGENT_ID=lab-cam
EP_PORT=7000
EP_ADMIN_PORT=7001
SP_PORT=7100
SP_ADMIN_PORT=7101
SP_VIEWER_PORT_BASE=20000
SIMCAM_RTSP_PORT=8554
SIMCAM_HTTP_PORT=8080
# Short timers, so that a whole fault fits in seconds (DESIGN.md: defaults are 10 s / 30 s).
HEARTBEAT_S=2
PEER_TIMEOUT_S=6
BACKOFF_INITIAL_MS=200
BACKOFF_MAX_MS=1000

declare -A LAB_PID=()
declare -A LAB_STARTS=()

ms_now() { local t=${EPOCHREALTIME/./}; echo $((10#$t / 1000)); }
# fmt_s MILLISECONDS -> "1.234 s"
fmt_s() { printf '%d.%03d s' $(($1 / 1000)) $(($1 % 1000)); }
say() { printf 'lab: %s\n' "$*"; }

# lab_spawn NAME NAMESPACE CMD...: starts CMD in the namespace, in the background.
lab_spawn() {
    local name=$1 ns=$2
    shift 2
    ip netns exec "$ns" "$@" </dev/null >>"$LAB_WORK/$name.out" 2>>"$LAB_WORK/$name.err" &
    LAB_PID[$name]=$!
    # Not a job of this shell: no "Killed" notices when a fault kills it on purpose.
    disown "$!"
    LAB_STARTS[$name]=$((${LAB_STARTS[$name]:-0} + 1))
}

is_running() { [[ -n ${LAB_PID[$1]:-} ]] && kill -0 "${LAB_PID[$1]}" 2>/dev/null; }

# lab_kill NAME [SIGNAL]: signals the process and waits (at most 5 s) for it to go.
lab_kill() {
    local name=$1 sig=${2:-TERM} pid=${LAB_PID[$1]:-}
    [[ -n $pid ]] || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    unset "LAB_PID[$name]"
}

# wait_out NAME TEXT SECONDS: waits for the current run of NAME to print TEXT on
# stdout (runs are counted, since logs are appended across restarts).
wait_out() {
    local name=$1 text=$2 limit=$3 want=${LAB_STARTS[$1]:-1} deadline n
    deadline=$(($(ms_now) + limit * 1000))
    while (($(ms_now) < deadline)); do
        n=$(grep -cF -- "$text" "$LAB_WORK/$name.out" 2>/dev/null || true)
        ((${n:-0} >= want)) && return 0
        is_running "$name" || break
        sleep 0.05
    done
    say "$name did not print \"$text\" within $limit s; its stderr ends:"
    tail -n 20 "$LAB_WORK/$name.err" >&2 || true
    return 1
}

# wait_for T0_MS LIMIT_MS INTERVAL_S CMD...: runs CMD until it succeeds or
# LIMIT_MS have passed since T0_MS. WAITED_MS = time from T0_MS to success
# (or to giving up).
wait_for() {
    local t0=$1 limit=$2 interval=$3
    shift 3
    while :; do
        if "$@"; then WAITED_MS=$(($(ms_now) - t0)); return 0; fi
        WAITED_MS=$(($(ms_now) - t0))
        ((WAITED_MS < limit)) || return 1
        sleep "$interval"
    done
}

# lab_make_pki DIR: the test CA and one certificate per server name (shared by
# the scenarios of a run: making it takes seconds).
lab_make_pki() {
    local s args=()
    for s in ep1 ep2 sp1 sp2; do args+=(--server "$s" "$(server_name "$s")"); done
    bash "$REPO/Scripts/lib/make-test-pki.sh" "$1" "${args[@]}"
}

lab_secrets() {
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$LAB_WORK/device.key"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$LAB_WORK/ticket.key"
    chmod 600 "$LAB_WORK/device.key" "$LAB_WORK/ticket.key"
    LAB_PKI=${LAB_PKI:-$LAB_WORK/pki}
    lab_make_pki "$LAB_PKI"
    # Both endpoints run on one host and share one SQLite registry (WAL), as
    # a main and a backup endpoint do (DESIGN §9): the agent is enrolled once.
    "$LAB_BIN/camagent-endpoint" enroll --registry "$LAB_WORK/registry.sqlite" --id "$AGENT_ID" \
        --key-file "$LAB_WORK/device.key" >/dev/null
    # The endpoints' /api/ needs a bearer token; both accept it (one registry).
    "$LAB_BIN/camagent-endpoint" token add --registry "$LAB_WORK/registry.sqlite" --name lab-admin \
        >"$LAB_WORK/admin.token"
    chmod 600 "$LAB_WORK/admin.token"
}

start_endpoint() { spawn_endpoint "$1" && wait_out "$1" "endpoint: admin listening on " 20; }
spawn_endpoint() {
    local ep=$1 addr=${SERVER_ADDR[$1]}
    lab_spawn "$ep" "$NS_NET" "$LAB_BIN/camagent-endpoint" serve \
        --listen "$addr:$EP_PORT" --admin "$addr:$EP_ADMIN_PORT" \
        --registry "$LAB_WORK/registry.sqlite" --endpoint-id "$ep" --ticket-key-file "$LAB_WORK/ticket.key" \
        --streampoint "sp1=tls://$(server_name sp1):$SP_PORT" \
        --streampoint "sp2=tls://$(server_name sp2):$SP_PORT" \
        --tls-cert "$LAB_PKI/$ep.pem" --tls-key "$LAB_PKI/$ep.key" \
        --heartbeat "$HEARTBEAT_S" --peer-timeout "$PEER_TIMEOUT_S"
}

start_streampoint() { spawn_streampoint "$1" && wait_out "$1" "streampoint: admin listening on " 20; }
spawn_streampoint() {
    local sp=$1 addr=${SERVER_ADDR[$1]}
    lab_spawn "$sp" "$NS_NET" "$LAB_BIN/camagent-streampoint" --id "$sp" \
        --listen "$addr:$SP_PORT" --admin "$addr:$SP_ADMIN_PORT" \
        --ticket-key-file "$LAB_WORK/ticket.key" --passthrough-open \
        --tls-cert "$LAB_PKI/$sp.pem" --tls-key "$LAB_PKI/$sp.key" \
        --viewer-bind "$addr" --viewer-port-base "$SP_VIEWER_PORT_BASE" \
        --heartbeat "$HEARTBEAT_S" --peer-timeout "$PEER_TIMEOUT_S"
}

start_simcam() { spawn_simcam && wait_out simcam "simcam: http listening on " 20; }
spawn_simcam() {
    # All addresses, not just loopback: scenario 0 must show that the router,
    # not a loopback-only bind, keeps the internet out.
    lab_spawn simcam "$NS_CAM" "$LAB_BIN/camagent-simcam" --bind 0.0.0.0 \
        --rtsp-port "$SIMCAM_RTSP_PORT" --http-port "$SIMCAM_HTTP_PORT"
}

write_agent_config() {
    cat >"$LAB_WORK/agent.conf" <<CONF
# NAT lab agent (Scripts/lab): main endpoint, then backup; TLS by name.
agent_id = $AGENT_ID
device_key = $(cat "$LAB_WORK/device.key")
endpoint = https://$(server_name ep1):$EP_PORT
endpoint = https://$(server_name ep2):$EP_PORT
ca_file = $LAB_PKI/ca.pem
state_file = $LAB_WORK/agent.state
target = rtsp=127.0.0.1:$SIMCAM_RTSP_PORT
target = http=127.0.0.1:$SIMCAM_HTTP_PORT
backoff_initial_ms = $BACKOFF_INITIAL_MS
backoff_max_ms = $BACKOFF_MAX_MS
CONF
    chmod 600 "$LAB_WORK/agent.conf"
}

start_agent() {
    lab_spawn agent "$NS_CAM" "$LAB_BIN/camagent" --config "$LAB_WORK/agent.conf"
}

# --- admin APIs (queried from the internet namespace) ---

# admin_get SERVER PATH: the JSON body; fails on a refused connection or an HTTP error.
# An endpoint's routes live under /api/ and need the lab's admin token; a
# streampoint's admin API is unprefixed and open (loopback/lab only).
admin_get() {
    if [[ $1 == ep* ]]; then
        in_net curl -sf --max-time 2 -H "Authorization: Bearer $(cat "$LAB_WORK/admin.token")" \
            "http://${SERVER_ADDR[$1]}:$EP_ADMIN_PORT/api$2"
    else
        in_net curl -sf --max-time 2 "http://${SERVER_ADDR[$1]}:$SP_ADMIN_PORT$2"
    fi
}

# The endpoint says the agent is online (authenticated, session live).
ep_online() { admin_get "$1" "/agents/$AGENT_ID" 2>/dev/null | jq -e '.online == true' >/dev/null 2>&1; }
ep_offline() { admin_get "$1" "/agents/$AGENT_ID" 2>/dev/null | jq -e '.online == false' >/dev/null 2>&1; }
# The agent has registered at the streampoint; prints its RTSP viewer URL.
sp_url() {
    local url
    url=$(admin_get "$1" "/agents/$AGENT_ID" 2>/dev/null | jq -r '.targets[]? | select(.name == "rtsp") | .url' 2>/dev/null) || return 1
    [[ -n $url ]] || return 1
    printf '%s\n' "$url"
}
sp_registered() { sp_url "$1" >/dev/null; }
sp_tunnel_count() { admin_get "$1" /tunnels 2>/dev/null | jq 'length' 2>/dev/null || echo 0; }

# --- viewers (in the internet namespace) ---

# count_frames URL SECONDS: frames ffprobe decodes from the first SECONDS of the stream (0 on failure).
count_frames() {
    local n
    n=$(in_net timeout $(($2 + 15)) ffprobe -v error -rtsp_transport tcp -timeout 5000000 \
        -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 \
        -read_intervals "%+$2" "$1" 2>>"$LAB_WORK/viewer.err" | tr -dc '0-9') || true
    echo "${n:-0}"
}

# video_decodes URL: at least 25 frames (1 s of the clip) decoded from 2 s of stream.
video_decodes() { (($(count_frames "$1" 2) >= 25)); }

# first_frame_ms URL [NAMESPACE-FUNCTION]: wall time until ffmpeg has decoded
# the first frame (prints -1 on failure). The viewer runs on the internet side
# unless told otherwise (in_cam: on the camera itself, for reference).
first_frame_ms() {
    local t0 rc=0 where=${2:-in_net}
    t0=$(ms_now)
    # No stream analysis: the SDP carries SPS/PPS, so the first decodable frame ends it.
    "$where" timeout 15 ffmpeg -nostdin -v error -rtsp_transport tcp -timeout 5000000 \
        -analyzeduration 0 -probesize 32 -i "$1" -map 0:v:0 -frames:v 1 -f null - 2>>"$LAB_WORK/viewer.err" || rc=$?
    if ((rc == 0)); then echo $(($(ms_now) - t0)); else echo -1; fi
}

# viewer_start NAME URL SECONDS: a viewer in the background writing one line per decoded frame
# (its timestamp in seconds) to NAME.out.
viewer_start() {
    lab_spawn "$1" "$NS_NET" timeout $(($3 + 20)) ffprobe -v error -rtsp_transport tcp -timeout 5000000 \
        -select_streams v:0 -show_entries frame=best_effort_timestamp_time -of csv=p=0 \
        -read_intervals "%+$3" "$2"
}
viewer_frames() { grep -c . "$LAB_WORK/$1.out" 2>/dev/null || true; }

# --- the whole lab ---

lab_up() {
    local t0
    t0=$(ms_now)
    lab_net_up
    lab_secrets
    # All servers start at once; then each must have come up.
    spawn_streampoint sp1
    spawn_streampoint sp2
    spawn_endpoint ep1
    spawn_endpoint ep2
    spawn_simcam
    wait_out sp1 "streampoint: admin listening on " 20
    wait_out sp2 "streampoint: admin listening on " 20
    wait_out ep1 "endpoint: admin listening on " 20
    wait_out ep2 "endpoint: admin listening on " 20
    wait_out simcam "simcam: http listening on " 20
    write_agent_config
    start_agent
    if ! wait_for "$(ms_now)" 20000 0.1 ep_online ep1; then
        say "setup: the agent did not authenticate at ep1 within 20 s"
        lab_dump_logs
        return 1
    fi
    if ! wait_for "$(ms_now)" 20000 0.1 sp_registered sp1; then
        say "setup: the agent did not register at sp1 within 20 s"
        lab_dump_logs
        return 1
    fi
    SP1_URL=$(sp_url sp1)
    say "lab $LAB_PREFIX up in $(fmt_s $(($(ms_now) - t0))): agent on ep1, video at $SP1_URL"
}

lab_teardown() {
    trap - EXIT TERM INT
    local name
    for name in "${!LAB_PID[@]}"; do kill -TERM "${LAB_PID[$name]}" 2>/dev/null || true; done
    for name in "${!LAB_PID[@]}"; do lab_kill "$name" KILL; done
    lab_destroy "$LAB_PREFIX"
}

lab_dump_logs() {
    local f
    for f in "$LAB_WORK"/*.err; do
        [[ -s $f ]] || continue
        echo "----- $(basename "$f") (last 12 lines)"
        tail -n 12 "$f"
    done
}

lab_print_access() {
    cat <<TEXT

  camagent NAT lab $LAB_PREFIX is up (work dir $LAB_WORK)

  Namespaces:  camera $NS_CAM ($CAM_ADDR, behind NAT)   router $NS_RTR   internet $NS_NET
  Run a command in one:   ip netns exec $NS_NET bash
  Video (from the internet side):
      ip netns exec $NS_NET ffprobe -rtsp_transport tcp $SP1_URL
  Admin APIs (from the internet side):
      ip netns exec $NS_NET curl -s -H "Authorization: Bearer \$(cat $LAB_WORK/admin.token)" \
          http://${SERVER_ADDR[ep1]}:$EP_ADMIN_PORT/api/agents/$AGENT_ID    (ep1; ep2 is ${SERVER_ADDR[ep2]})
      ip netns exec $NS_NET curl -s http://${SERVER_ADDR[sp1]}:$SP_ADMIN_PORT/agents             (sp1; sp2 is ${SERVER_ADDR[sp2]})
  Switch streampoint:
      ip netns exec $NS_NET curl -s -X POST -d '{"streampoint":"sp2"}' -H "Authorization: Bearer \$(cat $LAB_WORK/admin.token)" \
          http://${SERVER_ADDR[ep1]}:$EP_ADMIN_PORT/api/agents/$AGENT_ID/streampoint
  Faults on the router (chain LABFAULT is consulted first):
      ip netns exec $NS_RTR iptables -A LABFAULT -m statistic --mode random --probability 0.02 -j DROP
      ip netns exec $NS_RTR iptables -A LABFAULT -j DROP        (black hole)
      ip netns exec $NS_RTR iptables -F LABFAULT                (restore)
  The camera's DNS: $CAM_HOSTS
  Processes: $(for n in "${!LAB_PID[@]}"; do printf '%s=%s ' "$n" "${LAB_PID[$n]}"; done)
  Logs: $LAB_WORK/{agent,ep1,ep2,sp1,sp2,simcam}.err

  Tear down:  Scripts/lab down $LAB_PREFIX

TEXT
}

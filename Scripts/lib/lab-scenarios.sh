# shellcheck shell=bash
# Scripts/lib/lab-scenarios.sh: the NAT lab's faults, one function each (used
# by Scripts/lab). Each runs in a fresh lab (lab_up done: the agent is
# authenticated at ep1 and registered at sp1, video at $SP1_URL), prints one
# PASS or FAIL line per assertion with its figures, and returns non-zero if any
# assertion failed. Every wait is bounded.

if [[ -n "${_CAMAGENT_LAB_SCENARIOS_SH:-}" ]]; then return 0; fi
_CAMAGENT_LAB_SCENARIOS_SH=1

# number:name:function:time limit (s, setup included):title
SCENARIO_TABLE=(
    "0:nat:nat_isolation:90:the camera is unreachable from the internet, and reaches it through NAT"
    "1:endpoint-kill:endpoint_kill:90:kill -9 the main endpoint; the agent is on the backup within peer timeout + 3 s"
    "2:streampoint-kill:streampoint_kill:120:kill -9 the streampoint under a viewer; video again via the backup streampoint"
    "3:switch:switch:120:switch command under a viewer; the new streampoint has the agent within 1 s"
    "4:loss:loss:150:2% random loss on the router; 30 s of continuous video"
    "5:blackhole:blackhole:180:30 s black hole, then restore; the same agent process recovers"
    "6:camera-restart:camera_restart:150:simcam restarts, then the agent is killed and restarted; video comes back each time"
    "7:endpoint-silent:endpoint_silent:90:the main endpoint goes silent (half-open); the agent is on the backup within peer timeout + 3 s"
    "8:stale-dns:stale_dns:120:DNS turns stale after the agent resolved the names; the agent still reconnects"
)
SCENARIOS=()
for _row in "${SCENARIO_TABLE[@]}"; do SCENARIOS+=("${_row%%:*}"); done
unset _row

_scenario_field() {
    local row
    for row in "${SCENARIO_TABLE[@]}"; do
        IFS=: read -r num name fn limit title <<<"$row"
        if [[ $1 == "$num" ]]; then
            case $2 in name) echo "$name" ;; fn) echo "$fn" ;; limit) echo "$limit" ;; title) echo "$title" ;; esac
            return 0
        fi
    done
    return 1
}
scenario_title() { echo "$(_scenario_field "$1" name): $(_scenario_field "$1" title)"; }
scenario_function() { _scenario_field "$1" fn; }
scenario_time_limit() { _scenario_field "$1" limit; }

# scenario_resolve NUMBER|NAME -> NUMBER
scenario_resolve() {
    local row num name rest
    for row in "${SCENARIO_TABLE[@]}"; do
        IFS=: read -r num name rest <<<"$row"
        if [[ $1 == "$num" || $1 == "$name" ]]; then echo "$num"; return 0; fi
    done
    return 1
}

scenario_list() {
    local s
    for s in "${SCENARIOS[@]}"; do printf '%s  %s\n' "$s" "$(scenario_title "$s")"; done
}

LAB_FAILED=0
pass() { say "PASS $*"; }
fail() { say "FAIL $*"; LAB_FAILED=1; }
info() { say "     $*"; }

# tcp_connects NAMESPACE-FUNCTION ADDR PORT: a TCP connection opens within 3 s.
tcp_connects() { "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }
# Describes why a connection did not open (for the report).
tcp_outcome() {
    local rc=0
    "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null || rc=$?
    case $rc in 0) echo "connected" ;; 124) echo "no answer (dropped), 3 s" ;; *) echo "refused/unreachable" ;; esac
}

ep_online_any() { ep_online ep1 || ep_online ep2; }
# The agent's address as an endpoint sees it (empty if unknown).
ep_remote() { admin_get "$1" "/agents/$AGENT_ID" 2>/dev/null | jq -r '.remoteAddress // empty' 2>/dev/null || true; }
# ep_new_session EP OLD_REMOTE: online with another source address than before (a new session).
ep_new_session() {
    local now
    ep_online "$1" || return 1
    now=$(ep_remote "$1")
    [[ -n $now && $now != "$2" ]]
}
# video_via SP: the agent is registered there and a viewer decodes video through it.
video_via() {
    local url
    url=$(sp_url "$1") || return 1
    video_decodes "$url"
}
# Video through whichever streampoint has the agent.
video_via_any() { video_via sp1 || video_via sp2; }
sp_has_tunnel() { (($(sp_tunnel_count "$1") >= 1)); }

# ---------------------------------------------------------------- 0
scenario_nat_isolation() {
    local outcome
    if tcp_connects in_rtr "$CAM_ADDR" "$SIMCAM_RTSP_PORT"; then
        info "control: the router (on the camera's LAN) reaches simcam at $CAM_ADDR:$SIMCAM_RTSP_PORT"
    else
        fail "control: not even the router reaches simcam at $CAM_ADDR:$SIMCAM_RTSP_PORT; the isolation checks below would prove nothing"
    fi
    outcome=$(tcp_outcome in_net "$CAM_ADDR" "$SIMCAM_RTSP_PORT")
    if [[ $outcome == connected ]]; then
        fail "internet -> camera $CAM_ADDR:$SIMCAM_RTSP_PORT (routed to the router): connected; the camera is exposed"
    else
        pass "internet -> camera $CAM_ADDR:$SIMCAM_RTSP_PORT (routed to the router): $outcome"
    fi
    outcome=$(tcp_outcome in_net "$RTR_WAN_ADDR" "$SIMCAM_RTSP_PORT")
    if [[ $outcome == connected ]]; then
        fail "internet -> router WAN $RTR_WAN_ADDR:$SIMCAM_RTSP_PORT: connected (a port forward?)"
    else
        pass "internet -> router WAN $RTR_WAN_ADDR:$SIMCAM_RTSP_PORT: $outcome"
    fi
    local frames
    frames=$(in_net timeout 10 ffprobe -v error -rtsp_transport tcp -timeout 3000000 -select_streams v:0 -count_frames \
        -show_entries stream=nb_read_frames -of csv=p=0 -read_intervals %+2 "rtsp://$CAM_ADDR:$SIMCAM_RTSP_PORT/" 2>/dev/null |
        tr -dc '0-9') || true
    if ((${frames:-0} > 0)); then
        fail "internet: ffprobe rtsp://$CAM_ADDR:$SIMCAM_RTSP_PORT/ decoded $frames frames straight from the camera"
    else
        pass "internet: ffprobe rtsp://$CAM_ADDR:$SIMCAM_RTSP_PORT/ gets nothing"
    fi

    # Outbound through NAT: the camera reaches the internet, and the internet sees the router's address.
    if in_cam curl -sf --max-time 3 -o /dev/null "http://${SERVER_ADDR[ep1]}:$EP_ADMIN_PORT/health"; then
        pass "camera -> internet: HTTP to ${SERVER_ADDR[ep1]}:$EP_ADMIN_PORT works"
    else
        fail "camera -> internet: HTTP to ${SERVER_ADDR[ep1]}:$EP_ADMIN_PORT failed"
    fi
    local remote
    remote=$(ep_remote ep1)
    if [[ $remote == "$RTR_WAN_ADDR:"* ]]; then
        pass "the endpoint sees the agent from $remote (the router's WAN address: masqueraded)"
    else
        fail "the endpoint sees the agent from '${remote:-nothing}', expected $RTR_WAN_ADDR:PORT"
    fi
    frames=$(count_frames "$SP1_URL" 3)
    if ((frames >= 50)); then
        pass "viewer on the internet decodes $frames frames in 3 s through sp1 ($SP1_URL)"
    else
        fail "viewer on the internet decodes only $frames frames in 3 s through sp1 ($SP1_URL)"
    fi
    return "$LAB_FAILED"
}

# ---------------------------------------------------------------- 1
scenario_endpoint_kill() {
    local limit=$(((PEER_TIMEOUT_S + 3) * 1000)) t0
    t0=$(ms_now)
    lab_kill ep1 KILL
    if wait_for "$t0" "$limit" 0.05 ep_online ep2; then
        pass "agent authenticated on ep2 $(fmt_s "$WAITED_MS") after kill -9 of ep1 (limit $(fmt_s "$limit"))"
    else
        fail "agent not online on ep2 within $(fmt_s "$limit") of kill -9 of ep1"
    fi
    if wait_for "$t0" 20000 0.2 video_via_any; then
        info "video through the streampoint after the move: yes, $(fmt_s "$WAITED_MS") after the kill"
    else
        info "video through the streampoint after the move: no, within 20 s"
    fi
    # Not asserted (issue 5 sets no bound): does it go back to the main endpoint once that is healthy?
    start_endpoint ep1
    t0=$(ms_now)
    if wait_for "$t0" 15000 0.2 ep_online ep1; then
        info "ep1 restarted: the agent was back on the main endpoint after $(fmt_s "$WAITED_MS")"
    else
        info "ep1 restarted: the agent had not returned to the main endpoint after 15 s"
    fi
    return "$LAB_FAILED"
}

# ---------------------------------------------------------------- 2
scenario_streampoint_kill() {
    viewer_start viewer1 "$SP1_URL" 40
    if ! wait_for "$(ms_now)" 10000 0.1 sp_has_tunnel sp1; then
        fail "setup: the viewer's tunnel did not appear at sp1 within 10 s"
        return 1
    fi
    sleep 2
    local t0 limit=20000
    t0=$(ms_now)
    lab_kill sp1 KILL
    if wait_for "$t0" "$limit" 0.05 sp_registered sp2; then
        info "agent registered at the backup sp2 $(fmt_s "$WAITED_MS") after kill -9 of sp1"
        local url
        url=$(sp_url sp2)
        if wait_for "$t0" "$limit" 0.1 video_decodes "$url"; then
            pass "a viewer reconnecting to sp2 ($url) decodes video $(fmt_s "$WAITED_MS") after kill -9 of sp1 (limit $(fmt_s "$limit"))"
        else
            fail "the agent is at sp2 but a viewer of $url decodes no video within $(fmt_s "$limit") of the kill"
        fi
    else
        fail "agent not registered at the backup sp2 within $(fmt_s "$limit") of kill -9 of sp1; no backup URL to watch"
    fi
    for _ in $(seq 1 50); do is_running viewer1 || break; sleep 0.1; done
    info "the first viewer decoded $(viewer_frames viewer1) frames from sp1 and $(is_running viewer1 && echo "was still running" || echo "ended") after the kill"
    info "ep1 now names the agent's streampoint: $(admin_get ep1 "/agents/$AGENT_ID" 2>/dev/null | jq -r '.streampoint // "?"' 2>/dev/null || echo "?") (the agent should have told it)"
    return "$LAB_FAILED"
}

# ---------------------------------------------------------------- 3
scenario_switch() {
    viewer_start viewer1 "$SP1_URL" 12
    if ! wait_for "$(ms_now)" 10000 0.1 sp_has_tunnel sp1; then
        fail "setup: the viewer's tunnel did not appear at sp1 within 10 s"
        return 1
    fi
    local baseline on_camera
    on_camera=$(first_frame_ms "rtsp://127.0.0.1:$SIMCAM_RTSP_PORT/" in_cam)
    baseline=$(first_frame_ms "$SP1_URL")
    info "reference: a fresh viewer decodes its first frame after $(fmt_s "$baseline") via sp1, $(fmt_s "$on_camera") on the camera itself (RTSP set-up and the wait for a key frame)"

    local t0 t_reg=-1 both_seen="" limit=1000 deadline
    t0=$(ms_now)
    if ! in_net curl -sf --max-time 3 -o /dev/null -X POST -d '{"streampoint":"sp2"}' \
        -H "Authorization: Bearer $(cat "$LAB_WORK/admin.token")" \
        "http://${SERVER_ADDR[ep1]}:$EP_ADMIN_PORT/api/agents/$AGENT_ID/streampoint"; then
        fail "the switch command (POST /api/agents/$AGENT_ID/streampoint on ep1) was refused"
        return 1
    fi
    # Every 50 ms: is the agent at sp2 yet, and (asked after that) still at sp1?
    # Both at once proves the new link came up before the old one went
    # (make-before-break); an overlap shorter than one round trip is missed.
    deadline=$((t0 + 10000))
    while (($(ms_now) < deadline)); do
        if sp_registered sp2; then
            t_reg=$(($(ms_now) - t0))
            if sp_registered sp1; then both_seen="yes"; else both_seen="not seen"; fi
            break
        fi
        sleep 0.05
    done
    if ((t_reg < 0)); then
        fail "agent not registered at sp2 within 10 s of the switch command"
        return 1
    fi
    if ((t_reg <= limit)); then
        pass "switch command -> agent registered at sp2: $(fmt_s "$t_reg") (limit $(fmt_s "$limit"))"
    else
        fail "switch command -> agent registered at sp2: $(fmt_s "$t_reg") (limit $(fmt_s "$limit"))"
    fi
    # A viewer of sp2 from the moment the agent is there. The first one must
    # decode; later attempts (until 10 s) only tell how long it took otherwise.
    local url ff=-1 attempts=0 first_ok=no
    url=$(sp_url sp2)
    while ((ff < 0 && $(ms_now) < t0 + 10000)); do
        attempts=$((attempts + 1))
        ff=$(first_frame_ms "$url")
        ((ff < 0 || attempts > 1)) || first_ok=yes
    done
    if [[ $first_ok == yes ]]; then
        pass "switch command -> first frame decoded via sp2: $(fmt_s $(($(ms_now) - t0))) (the viewer's share $(fmt_s "$ff"); its start-up cost via sp1 $(fmt_s "$baseline"))"
    elif ((ff >= 0)); then
        fail "the first viewer of sp2 after the switch decoded nothing; attempt $attempts did, $(fmt_s $(($(ms_now) - t0))) after the command (see sp2.err and agent.err)"
    else
        fail "no frame decoded via sp2 ($url) within 10 s of the switch command ($attempts viewer attempts; see viewer.err and sp2.err)"
    fi
    info "agent registered at sp1 and sp2 at once: $both_seen (make-before-break)"
    for _ in $(seq 1 300); do is_running viewer1 || break; sleep 0.1; done
    local gap
    gap=$(max_gap_of "$LAB_WORK/viewer1.out")
    info "the viewer already on sp1 decoded $(viewer_frames viewer1) frames of its 12 s (the clip is 25 fps), largest timestamp gap $gap s"
    return "$LAB_FAILED"
}

# max_gap_of FILE: largest difference between consecutive timestamps (one per line).
max_gap_of() {
    awk -F, '$1 != "N/A" && $1 != "" { t = $1 + 0; if (seen && t - prev > gap) gap = t - prev; prev = t; seen = 1 }
             END { printf "%.3f\n", gap + 0 }' "$1" 2>/dev/null || echo "?"
}

# ---------------------------------------------------------------- 4
scenario_loss() {
    local seconds=30 t0 elapsed rc=0
    lab_fault -m statistic --mode random --probability 0.02 -j DROP
    t0=$(ms_now)
    # One line per decoded frame (its stream timestamp), stamped with the wall
    # clock on arrival (stdbuf: ffprobe's lines unbuffered); the stream's frame
    # rate comes last as "25/1".
    in_net timeout $((seconds + 45)) stdbuf -oL ffprobe -v error -rtsp_transport tcp -timeout 10000000 \
        -select_streams v:0 -show_entries stream=r_frame_rate:frame=best_effort_timestamp_time -of csv=p=0 \
        -read_intervals "%+$seconds" "$SP1_URL" 2>>"$LAB_WORK/viewer.err" |
        while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$LAB_WORK/loss.frames"
    rc=${PIPESTATUS[0]}
    elapsed=$(($(ms_now) - t0))
    local drops
    drops=$(lab_fault_drops)
    lab_fault_clear
    if ((drops > 0)); then
        info "the router dropped $drops packets (2% of what it forwarded) during the $(fmt_s "$elapsed") viewing"
    else
        fail "the router dropped no packet: the loss rule did not act, so this run proves nothing"
    fi
    if ((rc != 0)); then
        fail "ffprobe failed (status $rc) after $(fmt_s "$elapsed") under 2% loss"
        return 1
    fi
    local fps frames gap span pause
    # (A frame with side data ends its line with a comma and adds an empty line.)
    read -r fps frames gap span pause < <(awk '
        { sub(/,+$/, "", $2) }
        $2 ~ /\// { split($2, r, "/"); if (r[2] > 0) fps = r[1] / r[2]; next }
        $2 ~ /^[0-9.]+$/ {
            if (n) { if ($2 - ts > gap) gap = $2 - ts; if (($1 - at) * 1000 > pause) pause = ($1 - at) * 1000 }
            else first = $2
            ts = $2; at = $1; n++
        }
        END { printf "%s %d %.3f %.2f %d\n", fps + 0, n, gap, ts - first, pause }' "$LAB_WORK/loss.frames")
    if [[ $fps == 0 ]]; then
        fail "ffprobe reported no frame rate for the stream (see $LAB_WORK/loss.frames)"
        return 1
    fi
    # Expected: the whole 30 s at the clip's rate; 1 s of slack for where ffprobe starts and stops.
    local expected min max_gap max_pause=1000
    expected=$(awk -v f="$fps" -v s="$seconds" 'BEGIN { printf "%d", f * s }')
    min=$(awk -v f="$fps" -v e="$expected" 'BEGIN { printf "%d", e - f }')
    max_gap=$(awk -v f="$fps" 'BEGIN { printf "%.3f", 1.5 / f }')
    if ((frames >= min)); then
        pass "2% loss: $frames frames decoded in $(fmt_s "$elapsed") (expected $expected = ${seconds} s x $fps fps, at least $min)"
    else
        fail "2% loss: only $frames frames decoded in $(fmt_s "$elapsed") (expected $expected = ${seconds} s x $fps fps, at least $min)"
    fi
    if awk -v g="$gap" -v m="$max_gap" 'BEGIN { exit !(g <= m) }'; then
        pass "2% loss: no frame missing: largest step between frame timestamps $gap s (at most $max_gap s = 1.5 frames), span $span s"
    else
        fail "2% loss: frames missing: a step of $gap s between frame timestamps (allowed $max_gap s = 1.5 frames), span $span s"
    fi
    if ((pause <= max_pause)); then
        pass "2% loss: no freeze: longest wall-clock pause between decoded frames $pause ms (at most $max_pause ms)"
    else
        fail "2% loss: the picture froze: $pause ms without a decoded frame (at most $max_pause ms)"
    fi
    return "$LAB_FAILED"
}

# ---------------------------------------------------------------- 5
scenario_blackhole() {
    local hole_s=30 pid=${LAB_PID[agent]} t0 t1 limit=30000
    lab_fault -j DROP
    t0=$(ms_now)
    say "black hole on the router for ${hole_s} s..."
    if wait_for "$t0" $((hole_s * 1000 - 1000)) 0.2 ep_offline ep1; then
        info "ep1 saw the silence and marked the agent offline after $(fmt_s "$WAITED_MS") (peer timeout ${PEER_TIMEOUT_S} s)"
    else
        info "ep1 still showed the agent online at the end of the black hole"
    fi
    local rest=$((t0 + hole_s * 1000 - $(ms_now))) drops
    ((rest <= 0)) || sleep "$(fmt_s "$rest" | cut -d' ' -f1)"
    drops=$(lab_fault_drops)
    lab_fault_clear
    if ((drops > 0)); then
        info "the router dropped $drops packets during the black hole"
    else
        fail "the router dropped no packet: the black hole did not act, so this run proves nothing"
    fi
    t1=$(ms_now)
    info "black hole lifted after $(fmt_s $((t1 - t0)))"
    if wait_for "$t1" "$limit" 0.1 ep_online_any; then
        pass "agent authenticated again $(fmt_s "$WAITED_MS") after the restore (limit $(fmt_s "$limit"))"
    else
        fail "agent not online at either endpoint within $(fmt_s "$limit") of the restore"
    fi
    if wait_for "$t1" "$limit" 0.2 video_via_any; then
        pass "a viewer decodes video again $(fmt_s "$WAITED_MS") after the restore"
    else
        fail "no video through a streampoint within $(fmt_s "$limit") of the restore"
    fi
    if kill -0 "$pid" 2>/dev/null && [[ ${LAB_PID[agent]} == "$pid" ]]; then
        pass "no restart: the agent is the same process (pid $pid), started $(grep -c ' starting (' "$LAB_WORK/agent.err" || true) time(s)"
    else
        fail "the agent process $pid is gone"
    fi
    return "$LAB_FAILED"
}

# ---------------------------------------------------------------- 6
scenario_camera_restart() {
    local t0 limit=20000
    if ! video_decodes "$SP1_URL"; then
        fail "setup: no video through sp1 before the restarts"
        return 1
    fi
    lab_kill simcam KILL
    t0=$(ms_now)
    start_simcam
    info "simcam killed (-9) and started again; listening after $(fmt_s $(($(ms_now) - t0)))"
    if wait_for "$t0" "$limit" 0.2 video_decodes "$SP1_URL"; then
        pass "video back through sp1 $(fmt_s "$WAITED_MS") after simcam restarted (limit $(fmt_s "$limit"))"
    else
        fail "no video through sp1 within $(fmt_s "$limit") of the simcam restart"
    fi

    local old_remote old_pid=${LAB_PID[agent]}
    old_remote=$(ep_remote ep1)
    lab_kill agent KILL
    t0=$(ms_now)
    start_agent
    limit=30000
    if wait_for "$t0" "$limit" 0.1 ep_new_session ep1 "$old_remote"; then
        info "restarted agent (pid ${LAB_PID[agent]}, was $old_pid) authenticated at ep1 after $(fmt_s "$WAITED_MS")"
    else
        info "restarted agent not seen as a new session at ep1 within $(fmt_s "$limit")"
    fi
    if wait_for "$t0" "$limit" 0.2 video_via_any; then
        pass "video back $(fmt_s "$WAITED_MS") after the agent was killed (-9) and restarted (limit $(fmt_s "$limit"))"
    else
        fail "no video within $(fmt_s "$limit") of the agent restart"
    fi
    return "$LAB_FAILED"
}

# ---------------------------------------------------------------- 7
scenario_endpoint_silent() {
    local limit=$(((PEER_TIMEOUT_S + 3) * 1000)) t0
    # Half-open: ep1 stays up but nothing gets through in either direction, so
    # neither side sees a FIN or RST; only heartbeats can tell.
    lab_fault -s "${SERVER_ADDR[ep1]}" -j DROP
    lab_fault -d "${SERVER_ADDR[ep1]}" -j DROP
    t0=$(ms_now)
    if wait_for "$t0" "$limit" 0.05 ep_online ep2; then
        pass "agent authenticated on ep2 $(fmt_s "$WAITED_MS") after ep1 went silent (limit $(fmt_s "$limit") = peer timeout + 3 s)"
    else
        fail "agent not online on ep2 within $(fmt_s "$limit") of ep1 going silent (peer timeout ${PEER_TIMEOUT_S} s)"
        if wait_for "$t0" 30000 0.2 ep_online ep2; then
            info "it reached ep2 after $(fmt_s "$WAITED_MS")"
        else
            info "it had not reached ep2 after 30 s"
        fi
    fi
    return "$LAB_FAILED"
}

# ---------------------------------------------------------------- 8
# A new session (another source address than old_remote1/2) at either endpoint.
any_new_session() { ep_new_session ep1 "$old_remote1" || ep_new_session ep2 "$old_remote2"; }

scenario_stale_dns() {
    local t0 limit=15000 old_remote1 old_remote2
    write_cam_hosts "$DEAD_ADDR"
    info "the camera's hosts file now sends every server name to $DEAD_ADDR (nothing there)"

    # a) The running agent loses its endpoint and must reconnect without a fresh answer.
    lab_kill ep1 KILL
    start_endpoint ep1
    t0=$(ms_now)
    if wait_for "$t0" "$limit" 0.1 ep_online_any; then
        pass "after ep1 restarted, the running agent authenticated again in $(fmt_s "$WAITED_MS") despite the stale DNS (limit $(fmt_s "$limit"))"
    else
        fail "after ep1 restarted, the running agent did not come back within $(fmt_s "$limit"): stranded by the stale DNS"
    fi

    # b) A restarted agent has only its state file to remember the addresses.
    old_remote1=$(ep_remote ep1)
    old_remote2=$(ep_remote ep2)
    lab_kill agent KILL
    t0=$(ms_now)
    start_agent
    if wait_for "$t0" "$limit" 0.1 any_new_session; then
        pass "a restarted agent authenticated in $(fmt_s "$WAITED_MS") from the addresses in its state file (limit $(fmt_s "$limit"))"
    else
        fail "a restarted agent did not authenticate within $(fmt_s "$limit"): the state file did not save it from the stale DNS"
    fi
    if wait_for "$(ms_now)" 10000 0.2 sp_registered sp1 || sp_registered sp2; then
        info "the agent is registered at a streampoint again"
    else
        info "the agent is not registered at any streampoint (streampoint names resolve to $DEAD_ADDR too)"
    fi
    return "$LAB_FAILED"
}

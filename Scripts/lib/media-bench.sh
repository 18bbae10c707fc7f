# shellcheck shell=bash
# Scripts/lib/media-bench.sh: the streampoint as a media server (issue 11),
# each figure beside the old passthrough (a tunnel per viewer) in the same run,
# on the realistic 1080p H.264 stream of about 4 Mbit/s. Printed, never asserted.
#
#   source Scripts/lib/cluster.sh; source Scripts/lib/media-bench.sh
#   cluster_init; media_bench BIN_DIR -- AGENT_CMD...
#
# Viewers are ffmpeg (first decoded frame) and Scripts/lib/rtsp-load.c (many
# RTSP-over-TCP viewers in one thread of C, so the client is not what limits).
# The pull stops as its last viewer leaves (--pull-linger 0): a cold start is
# then one step away, and the agent reports a tunnel's bytes once it has ended.

media_now_ms() { date +%s%3N; }

media_median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

# media_first_frame_ms URL: ms from starting ffmpeg to its first decoded video frame.
media_first_frame_ms() {
    local start end
    start=$(media_now_ms)
    if ! timeout 20 ffmpeg -v error -rtsp_transport tcp -fflags nobuffer -analyzeduration 0 -probesize 32768 \
        -i "$1" -map 0:v:0 -frames:v 1 -f null - </dev/null >/dev/null 2>>"$CLUSTER_WORK/ffmpeg.err"; then
        echo fail
        return
    fi
    end=$(media_now_ms)
    echo $((end - start))
}

# media_count FILE TEXT: how many lines of FILE contain TEXT.
media_count() { grep -cF -- "$2" "$1" 2>/dev/null || true; }

# media_wait_count FILE TEXT N: waits (up to 30 s) until FILE has N lines with TEXT.
media_wait_count() {
    for _ in $(seq 1 300); do
        (($(media_count "$1" "$2") >= $3)) && return 0
        sleep 0.1
    done
    echo "  (waited 30 s for $3 × '$2' in $(basename "$1"))" >&2
    return 1
}

# media_field LINE KEY: a value from rtsp-load's key=value line.
media_field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# media_latency_quantiles BEFORE AFTER OUTPUT: p50 and p99 in ms of the
# added-latency histogram between two /metrics scrapes (linear within a bucket,
# as Prometheus' histogram_quantile), and the number of frames timed.
media_latency_quantiles() {
    python3 - "$1" "$2" "$3" <<'PY'
import re, sys
def buckets(path, output):
    found = {}
    for line in open(path):
        m = re.match(r'camagent_streampoint_media_added_latency_seconds_bucket\{(.*)\} (\S+)', line)
        if not m or f'output="{output}"' not in m.group(1):
            continue
        le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
        found[float("inf") if le == "+Inf" else float(le)] = float(m.group(2))
    return found
before, after = buckets(sys.argv[1], sys.argv[3]), buckets(sys.argv[2], sys.argv[3])
bounds = sorted(after)
counts = [after[b] - before.get(b, 0) for b in bounds]
total = counts[-1] if counts else 0
def quantile(q):
    if total <= 0:
        return "-"
    rank, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in zip(bounds, counts):
        if cumulative >= rank:
            if bound == float("inf"):
                return f">{lower * 1000:g}"
            inside = cumulative - below
            share = (rank - below) / inside if inside else 1
            return f"{(lower + (bound - lower) * share) * 1000:.2f}"
        lower, below = bound, cumulative
    return "-"
print(f"{quantile(0.5)} {quantile(0.99)} {int(total)}")
PY
}

media_scrape() { curl -sS --max-time 10 "http://$SP_ADMIN/metrics" >"$1"; }

media_bench() {
    local bin=$1; shift
    [[ ${1:-} == -- ]] && shift
    local agent=("$@") media load token media_url pass_url direct_url
    echo "== media server vs passthrough: realistic 1080p H.264 (~4 Mbit/s, GOP 1 s), loopback"
    media=$PWD/.build/simcam-media
    Scripts/make-simcam-media --realistic "$media" >/dev/null
    load=$CLUSTER_WORK/rtsp-load
    cc -O2 -o "$load" Scripts/lib/rtsp-load.c
    CLUSTER_SIMCAM_ARGS=(--clip "$media/main-h264.h264")
    CLUSTER_STREAMPOINT_ARGS=(--pull-linger 0)
    cluster_start_servers "$bin"
    # Passthrough needs a tunnel per viewer; the agent's own cap is 64 (default 8).
    cluster_start_agent agent-media "max_tunnels = 64" -- "${agent[@]}"
    local agent_pid=$LAST_PID
    token=$(cluster_viewer_token rtsp 3600)
    # The passthrough port checks the same token on the first request (PROTOCOL §16.7).
    pass_url="$(cluster_target_url rtsp)?token=$token"
    media_url="rtsp://$SP_RTSP/$CLUSTER_AGENT_ID/rtsp?token=$token"
    direct_url="rtsp://$RTSP/"
    local sp_err=$CLUSTER_WORK/streampoint.err agent_err=$CLUSTER_WORK/agent-media.err
    local runs=${MEDIA_RUNS:-5} i t

    # The stream's own rate, one viewer straight from the camera.
    local line stream_mbps
    line=$("$load" "$direct_url" 1 4 --settle 0.5)
    stream_mbps=$(media_field "$line" mbps_mean)
    printf '  stream rate (one viewer straight from simcam, 4 s): %s Mbit/s\n' "$stream_mbps"

    echo "-- first decoded frame for a new viewer (ffmpeg start to frame, $runs runs, median ms)"
    local direct=() warm=() cold=() pass=() stopped
    for ((i = 0; i < runs; i++)); do direct+=("$(media_first_frame_ms "$direct_url")"); done
    for ((i = 0; i < runs; i++)); do
        # Cold: no viewer, the pull stopped, the tunnel closed.
        stopped=$(media_count "$sp_err" "pull stopped")
        cold+=("$(media_first_frame_ms "$media_url")")
        media_wait_count "$sp_err" "pull stopped" $((stopped + 1)) || true
        sleep 0.3
    done
    "$load" "$media_url" 1 100000 >"$CLUSTER_WORK/holder.out" 2>&1 &
    local holder=$!
    CLUSTER_PIDS+=("$holder")
    sleep 2  # the pull is up and its GOP cache full
    for ((i = 0; i < runs; i++)); do warm+=("$(media_first_frame_ms "$media_url")"); sleep 0.2; done
    kill -TERM "$holder"; wait "$holder" 2>/dev/null || true
    for ((i = 0; i < runs; i++)); do pass+=("$(media_first_frame_ms "$pass_url")"); sleep 0.2; done
    local d w c p
    d=$(printf '%s\n' "${direct[@]}" | grep -v fail | media_median)
    w=$(printf '%s\n' "${warm[@]}" | grep -v fail | media_median)
    c=$(printf '%s\n' "${cold[@]}" | grep -v fail | media_median)
    p=$(printf '%s\n' "${pass[@]}" | grep -v fail | media_median)
    printf '  ffmpeg on simcam directly:         %5s ms  (runs: %s)\n' "$d" "${direct[*]}"
    printf '  media, warm (pulled, GOP cache):   %5s ms  (runs: %s)  %s ms beyond direct (goal <= 300)\n' "$w" "${warm[*]}" \
        "$([[ $w =~ ^[0-9]+$ && $d =~ ^[0-9]+$ ]] && echo $((w - d)) || echo -)"
    printf '  media, cold (tunnel not open):     %5s ms  (runs: %s)  (goal <= 1000)\n' "$c" "${cold[*]}"
    printf '  passthrough (a tunnel per viewer): %5s ms  (runs: %s)\n' "$p" "${pass[*]}"

    echo "-- camera uplink for 5 s of viewing (AGENT_STATS bytes to the streampoint, tunnels ended)"
    local n before after closed up one_media=0 one_pass=0 scrape_before=$CLUSTER_WORK/metrics-before scrape_after=$CLUSTER_WORK/metrics-after
    local lat10=""
    for n in 1 10 100; do
        before=$(cluster_agent_bytes_up)
        closed=$(media_count "$agent_err" ": closed (")
        media_scrape "$scrape_before"
        line=$("$load" "$media_url" "$n" 5 --settle 0)
        media_scrape "$scrape_after"
        [[ $n == 10 ]] && lat10=$(media_latency_quantiles "$scrape_before" "$scrape_after" rtsp)
        media_wait_count "$agent_err" ": closed (" $((closed + 1)) || true
        after=$(cluster_agent_bytes_up)
        up=$((after - before))
        ((n == 1)) && one_media=$up
        printf '  media RTSP, %3d viewers: camera sent %7.2f MB (%5.2fx one viewer); viewers got %5.2f Mbit/s each (%s playing)\n' \
            "$n" "$(awk -v b="$up" 'BEGIN {print b / 1e6}')" "$(awk -v b="$up" -v o="$one_media" 'BEGIN {print o ? b / o : 0}')" \
            "$(media_field "$line" mbps_mean)" "$(media_field "$line" playing)"
    done
    for n in 1 10 64; do
        before=$(cluster_agent_bytes_up)
        closed=$(media_count "$agent_err" ": closed (")
        line=$("$load" "$pass_url" "$n" 5 --settle 0)
        media_wait_count "$agent_err" ": closed (" $((closed + $(media_field "$line" playing))) || true
        after=$(cluster_agent_bytes_up)
        up=$((after - before))
        ((n == 1)) && one_pass=$up
        printf '  passthrough, %3d viewers: camera sent %7.2f MB (%5.2fx one viewer); viewers got %5.2f Mbit/s each (%s playing)\n' \
            "$n" "$(awk -v b="$up" 'BEGIN {print b / 1e6}')" "$(awk -v b="$up" -v o="$one_pass" 'BEGIN {print o ? b / o : 0}')" \
            "$(media_field "$line" mbps_mean)" "$(media_field "$line" playing)"
    done
    echo "  (passthrough stops at 64 viewers: the agent's max_tunnels cap, default 8; 100 would need 100 tunnels)"
    read -r p50 p99 frames <<<"$lat10"
    printf -- '-- latency the streampoint adds, frame in from the tunnel to written to the viewer (its histogram, /metrics),\n'
    printf '  10 RTSP viewers: p50 %s ms, p99 %s ms over %s frames (passthrough: bytes are spliced, no frame is handled)\n' "$p50" "$p99" "$frames"

    echo "-- viewers of one stream on one streampoint core (streampoint on CPU 0, everything else on CPU 1; 5 s windows)"
    taskset -a -pc 0 "$SP_PID" >/dev/null
    for pid in "$agent_pid" "$SIMCAM_PID"; do taskset -a -pc 1 "$pid" >/dev/null 2>&1 || true; done
    taskset -c 1 "$load" "$media_url" 1 100000 >"$CLUSTER_WORK/holder2.out" 2>&1 &
    holder=$!
    CLUSTER_PIDS+=("$holder")
    sleep 2
    line=$(taskset -c 1 "$load" "$media_url" 1 3 --settle 0 --watch-pid "$SP_PID")
    local base_cpu base_rss
    base_cpu=$(media_field "$line" cpu_pct)
    base_rss=$(media_field "$line" rss_kb)
    printf '  pulled, one viewer: streampoint CPU %s%%, RSS %s KiB\n' "$base_cpu" "$base_rss"
    printf '  %7s %9s %12s %12s %7s %9s %11s %11s %9s %9s %10s\n' viewers playing "Mbit/s each" "min / p10" "CPU %" "RSS MiB" "CPU/viewer" "KiB/viewer" "p50 ms" "p99 ms" "client CPU"
    for n in ${MEDIA_STEPS:-50 100 200 400 600}; do
        media_scrape "$scrape_before"
        line=$(taskset -c 1 "$load" "$media_url" "$n" 5 --settle 1 --watch-pid "$SP_PID")
        media_scrape "$scrape_after"
        read -r p50 p99 frames <<<"$(media_latency_quantiles "$scrape_before" "$scrape_after" rtsp)"
        local cpu rss mean
        cpu=$(media_field "$line" cpu_pct)
        rss=$(media_field "$line" rss_kb)
        mean=$(media_field "$line" mbps_mean)
        printf '  %7d %9s %12s %12s %7s %9s %10s%% %11s %9s %9s %9s%%\n' "$n" "$(media_field "$line" playing)" "$mean" \
            "$(media_field "$line" mbps_min) / $(media_field "$line" mbps_p10)" "$cpu" "$(awk -v r="$rss" 'BEGIN {printf "%.1f", r / 1024}')" \
            "$(awk -v c="$cpu" -v b="$base_cpu" -v n="$n" 'BEGIN {printf "%.3f", (c - b) / n}')" \
            "$(awk -v r="$rss" -v b="$base_rss" -v n="$n" 'BEGIN {printf "%.0f", (r - b) / n}')" "$p50" "$p99" \
            "$(media_field "$line" client_cpu_pct)"
        [[ $(media_field "$line" first_error) != none ]] && echo "          (first failure: $(media_field "$line" first_error))"
        # Past this point more viewers only show that they fall behind: stop.
        if awk -v m="$mean" -v s="$stream_mbps" 'BEGIN {exit !(m < 0.8 * s)}'; then
            echo "  (viewers got under 80% of the stream rate at $n: stopping; CPU % is the share of its core the streampoint got)"
            break
        fi
    done
    kill -TERM "$holder"; wait "$holder" 2>/dev/null || true
    printf '  load average: %s; the machine is shared, so read CPU%% as an upper bound\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
}

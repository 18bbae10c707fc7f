# shellcheck shell=bash
# Scripts/lib/fleet-bench.sh: the fleet section of Scripts/bench.
#
#   source Scripts/lib/cluster.sh; source Scripts/lib/fleet-bench.sh
#   cluster_init
#   fleet_bench BIN_DIR COUNT
#
# Starts its own streampoint and endpoint (log level warn: 10,000 "authenticated"
# lines would cost more CPU than the handshakes), enrolls COUNT agents with
# `camagent-fleet make-registry`, runs `camagent-fleet run --endpoint-restart`,
# kills the endpoint with SIGKILL once the fleet is up and starts it again on the
# same port, and prints the fleet's report: time to all up, the servers' RSS per
# connected agent, the histogram of reconnect times and the attempt rate.
# TLS unless CLUSTER_PLAIN is set. Uses cluster_init's keys and test PKI.
# FLEET_RAMP_SECONDS (default 30) spreads the agents' first start; 0 starts all
# at once (a cold-start herd: see README, Fleet simulator). FLEET_ENDPOINT_BIN and
# FLEET_MAKE_REGISTRY_BIN run another build's endpoint and make-registry (the
# JSON-registry baseline); the fleet itself is always this build's.

if [[ -n "${_CAMAGENT_FLEET_BENCH_SH:-}" ]]; then return 0; fi
_CAMAGENT_FLEET_BENCH_SH=1

# fleet_wait_line NAME PREFIX SECONDS: like cluster_wait_line with a longer limit.
fleet_wait_line() {
    local name=$1 prefix=$2 seconds=$3
    for _ in $(seq 1 $((seconds * 10))); do
        grep -qF "$prefix" "$CLUSTER_WORK/$name.out" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "fleet bench: $name did not print \"$prefix\" within $seconds s" >&2
    tail -20 "$CLUSTER_WORK/$name.out" "$CLUSTER_WORK/$name.err" >&2
    return 1
}

fleet_bench() {
    local bin=$1 count=$2 tls_args=() listen=127.0.0.1 scheme=http sp_address ca_args=() mode=TLS
    local sp_pid ep_pid fleet_pid ep_args started ended
    if [[ -z "${CLUSTER_PLAIN:-}" ]]; then
        tls_args=(--tls-cert "$CLUSTER_WORK/pki/server.pem" --tls-key "$CLUSTER_WORK/pki/server.key")
        listen=$(getent ahosts localhost | awk 'NR == 1 {print $1}')
        [[ $listen == *:* ]] && listen="[$listen]"
        scheme=https
        ca_args=(--ca-file "$CLUSTER_WORK/pki/ca.pem")
    else
        mode="plain TCP"
    fi
    # Each agent holds two sockets in the fleet process; a hard RLIMIT_NOFILE that
    # cannot be raised (containers) caps how many one process can run.
    local hard_limit max_agents
    hard_limit=$(ulimit -Hn)
    if [[ $hard_limit != unlimited ]]; then
        max_agents=$(( (hard_limit - 100) / 2 ))
        if ((count > max_agents)); then
            echo "  (open-file hard limit $hard_limit: running $max_agents agents instead of $count)"
            count=$max_agents
        fi
    fi
    echo "== fleet: $count simulated agents over $mode, brought up over ${FLEET_RAMP_SECONDS:-30} s, endpoint kill -9 and restart"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CLUSTER_WORK/fleet.seed"
    local registry=${FLEET_REGISTRY:-$CLUSTER_WORK/fleet-registry.sqlite}
    local endpoint_bin=${FLEET_ENDPOINT_BIN:-$bin/camagent-endpoint}
    "${FLEET_MAKE_REGISTRY_BIN:-$bin/camagent-fleet}" make-registry --count "$count" --key-seed "$CLUSTER_WORK/fleet.seed" \
        --out "$registry" | sed 's/^/  /'

    cluster_spawn fleet-streampoint "$bin/camagent-streampoint" --id fleet-sp --listen "$listen:0" --admin 127.0.0.1:0 \
        --ticket-key-file "$CLUSTER_WORK/ticket.key" --log-level warn "${tls_args[@]}" --passthrough-open \
        --max-pending-per-address 256  # every simulated agent comes from 127.0.0.1; no channel, so open viewer ports
    sp_pid=$LAST_PID
    SP=$(cluster_wait_line fleet-streampoint "streampoint: agents listening on ")
    if [[ -n "${CLUSTER_PLAIN:-}" ]]; then sp_address=$SP; else sp_address="tls://localhost:${SP##*:}"; fi

    ep_args=(serve --admin 127.0.0.1:0 --registry "$registry"
             --ticket-key-file "$CLUSTER_WORK/ticket.key" --streampoint "fleet-sp=$sp_address" --log-level warn "${tls_args[@]}")
    cluster_spawn fleet-endpoint "$endpoint_bin" "${ep_args[@]}" --listen "$listen:0"
    ep_pid=$LAST_PID
    EP=$(cluster_wait_line fleet-endpoint "endpoint: agents listening on ")

    started=$(date +%s)
    cluster_spawn fleet "$bin/camagent-fleet" run --endpoint "$scheme://localhost:${EP##*:}" "${ca_args[@]}" \
        --count "$count" --key-seed "$CLUSTER_WORK/fleet.seed" --endpoint-restart --ramp-seconds "${FLEET_RAMP_SECONDS:-30}" \
        --up-timeout 300 --restart-timeout 240 --streampoint-pid "$sp_pid" --endpoint-pid "$ep_pid"
    fleet_pid=$LAST_PID
    tail -f "$CLUSTER_WORK/fleet.out" --pid "$fleet_pid" | sed -u 's/^fleet: /  /' &
    local follower=$!
    if fleet_wait_line fleet "fleet: ready for the endpoint restart" 180; then
        kill -9 "$ep_pid"; wait "$ep_pid" 2>/dev/null || true
        cluster_spawn fleet-endpoint-restarted "$endpoint_bin" "${ep_args[@]}" --listen "$listen:${EP##*:}"
        ep_pid=$LAST_PID
        cluster_wait_line fleet-endpoint-restarted "endpoint: agents listening on " >/dev/null
    fi
    local status=0
    wait "$fleet_pid" || status=$?
    wait "$follower" 2>/dev/null || true
    ended=$(date +%s)
    printf '  fleet section took %d s; fleet exit status %d\n' $((ended - started)) "$status"
    if ((status != 0)); then
        echo "  fleet stderr:"; tail -20 "$CLUSTER_WORK/fleet.err" | sed 's/^/    /'
    fi
    kill "$sp_pid" "$ep_pid" 2>/dev/null || true
    wait "$sp_pid" "$ep_pid" 2>/dev/null || true
    return "$status"
}

# fleet_cold_start_bench BIN_DIR COUNT: a power cut over a city. COUNT agents
# start in the same second as if just booted (`camagent-fleet run --cold-start
# --ramp-seconds 0`), once with boot_jitter_ms = 0 (as before the boot jitter)
# and once with the agent's default 3000 ms, each against fresh servers; prints
# the time until all are authenticated and registered, side by side.
fleet_cold_start_bench() {
    local bin=$1 count=$2 jitter
    local hard_limit
    hard_limit=$(ulimit -Hn)
    if [[ $hard_limit != unlimited ]] && ((count > (hard_limit - 100) / 2)); then
        count=$(( (hard_limit - 100) / 2 ))
        echo "  (open-file hard limit $hard_limit: running $count agents)"
    fi
    echo "== fleet cold start: $count agents over TLS started in the same second, as after a power cut"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CLUSTER_WORK/fleet.seed"
    "$bin/camagent-fleet" make-registry --count "$count" --key-seed "$CLUSTER_WORK/fleet.seed" \
        --out "$CLUSTER_WORK/cold-registry.sqlite" >/dev/null
    local listen tls_args=(--tls-cert "$CLUSTER_WORK/pki/server.pem" --tls-key "$CLUSTER_WORK/pki/server.key")
    listen=$(getent ahosts localhost | awk 'NR == 1 {print $1}')
    [[ $listen == *:* ]] && listen="[$listen]"
    for jitter in 0 3000; do
        local run=cold-$jitter sp_pid ep_pid status=0 up
        cp "$CLUSTER_WORK/cold-registry.sqlite" "$CLUSTER_WORK/$run-registry.sqlite"
        cluster_spawn "$run-streampoint" "$bin/camagent-streampoint" --id fleet-sp --listen "$listen:0" --admin 127.0.0.1:0 \
            --ticket-key-file "$CLUSTER_WORK/ticket.key" --log-level warn "${tls_args[@]}" --max-pending-per-address 256 \
            --passthrough-open
        sp_pid=$LAST_PID
        SP=$(cluster_wait_line "$run-streampoint" "streampoint: agents listening on ")
        cluster_spawn "$run-endpoint" "$bin/camagent-endpoint" serve --admin 127.0.0.1:0 \
            --registry "$CLUSTER_WORK/$run-registry.sqlite" --ticket-key-file "$CLUSTER_WORK/ticket.key" \
            --streampoint "fleet-sp=tls://localhost:${SP##*:}" --log-level warn "${tls_args[@]}" --listen "$listen:0"
        ep_pid=$LAST_PID
        EP=$(cluster_wait_line "$run-endpoint" "endpoint: agents listening on ")
        cluster_spawn "$run-fleet" "$bin/camagent-fleet" run --endpoint "https://localhost:${EP##*:}" \
            --ca-file "$CLUSTER_WORK/pki/ca.pem" --count "$count" --key-seed "$CLUSTER_WORK/fleet.seed" \
            --ramp-seconds 0 --cold-start --boot-jitter-ms "$jitter" --up-timeout 300
        wait "$LAST_PID" || status=$?
        up=$(grep -o "all $count agents up (authenticated and registered) in [0-9.]* s" "$CLUSTER_WORK/$run-fleet.out" \
            | grep -o '[0-9.]* s$' || true)
        ((status == 0)) || up="not all up (exit $status; see $CLUSTER_WORK/$run-fleet.err)"
        printf '  boot_jitter_ms = %-4s  all up after %s\n' "$jitter" "${up:-?}"
        kill "$ep_pid" "$sp_pid" 2>/dev/null || true
        wait "$ep_pid" "$sp_pid" 2>/dev/null || true
    done
}

# bench_postgres_start DIR: a throwaway PostgreSQL (Debian's postgresql package,
# initdb + pg_ctl as the postgres user when run as root) on a free loopback
# port; prints its postgres:// URL of a fresh database. bench_postgres_stop DIR.
bench_postgres_start() {
    local dir=$1 bin port as=()
    ensure_debian_packages postgresql >/dev/null
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    mkdir -p "$dir"
    if ((EUID == 0)); then chown postgres: "$dir"; as=(runuser -u postgres --); fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 || return 1
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=50" start >/dev/null || return 1
    "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres fleet || return 1
    echo "postgres://postgres@127.0.0.1:$port/fleet"
}

bench_postgres_stop() {
    local dir=$1 bin as=()
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    ((EUID == 0)) && as=(runuser -u postgres --)
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}

# fleet_backends_bench BIN_DIR COUNT: the same fleet (all agents started at
# once, no ramp, no boot jitter: the endpoint's login rate is the limit) against
# the last endpoint with the JSON registry file (built from git history, see
# bench_json_endpoint), and against this build's endpoint on SQLite and on
# PostgreSQL, in one run; then the figures side by side: logins per second, time
# to authenticated (p50, p99), the endpoint's RSS per agent, and the time until
# all are back after its kill -9.
fleet_backends_bench() {
    local bin=$1 count=$2 backend pg_dir summary=() json_bin
    # Not under CLUSTER_WORK: the postgres user must reach it, and that is 0700 root.
    pg_dir=$(mktemp -d /tmp/camagent-bench-pg.XXXXXX)
    for backend in json sqlite postgres; do
        local registry="$CLUSTER_WORK/fleet-$backend.sqlite" endpoint_bin="" registry_bin=""
        if [[ $backend == json ]]; then
            echo "== registry backend: json (the endpoint of commit $BENCH_JSON_COMMIT, the last with the JSON file)"
            if ! json_bin=$(bench_json_endpoint); then
                echo "  (it did not build; see $CLUSTER_WORK/json-build.log)"
                summary+=("$(printf '  %-10s %10s' json "not built")")
                continue
            fi
            registry="$CLUSTER_WORK/fleet-json.json"
            endpoint_bin=$json_bin/camagent-endpoint
            registry_bin=$json_bin/camagent-fleet
        elif [[ $backend == postgres ]] && ! registry=$(bench_postgres_start "$pg_dir"); then
            echo "== registry backend: postgres: the throwaway PostgreSQL did not start:" >&2
            tail -5 "$pg_dir"/*.log >&2 || true
            bench_postgres_stop "$pg_dir"
            return 1
        else
            echo "== registry backend: $backend"
        fi
        FLEET_ENDPOINT_BIN=$endpoint_bin FLEET_MAKE_REGISTRY_BIN=$registry_bin FLEET_REGISTRY=$registry FLEET_RAMP_SECONDS=0 \
            fleet_bench "$bin" "$count" || echo "  ($backend run failed)"
        [[ $backend == postgres ]] && bench_postgres_stop "$pg_dir"
        local out="$CLUSTER_WORK/fleet.out" up p50 p99 rss back
        up=$(sed -n 's/.*result bring-up agents=[0-9]* all_up_ms=\([0-9]*\).*/\1/p' "$out" | tail -1)
        p50=$(sed -n 's/.*time to authenticated: p50 \([^,]*\), p99 \([^,]*\),.*/\1/p' "$out" | tail -1)
        p99=$(sed -n 's/.*time to authenticated: p50 \([^,]*\), p99 \([^,]*\),.*/\2/p' "$out" | tail -1)
        rss=$(sed -n 's/.*result rss server=endpoint .*bytes_per_agent=\([0-9]*\).*/\1/p' "$out" | tail -1)
        back=$(sed -n 's/.*all back \(.*\) after the first loss.*/\1/p' "$out" | tail -1)
        local rate="?"
        [[ -n $up && $up -gt 0 ]] && rate=$((count * 1000 / up))
        summary+=("$(printf '  %-10s %10s %10s %10s %14s %14s' "$backend" "$rate" "${p50:-?}" "${p99:-?}" "${rss:-?}" "${back:-?}")")
        mv "$out" "$CLUSTER_WORK/fleet-$backend.out"
    done
    echo "== registry backends, $count agents started at once (same run)"
    printf '  %-10s %10s %10s %10s %14s %14s\n' backend "logins/s" "auth p50" "auth p99" "EP B/agent" "all back"
    printf '%s\n' "${summary[@]}"
}

# The last commit whose endpoint kept its registry in a JSON file rewritten
# whole on every change; the next one (411c41d) moved it to SQLite/PostgreSQL.
BENCH_JSON_COMMIT=db3bbc9

# bench_json_endpoint: builds that commit's camagent-endpoint and camagent-fleet
# (whose make-registry writes the JSON file) in release, from `git archive` into
# .build-bench-json-src (no worktree: nothing in the repository changes), with
# --scratch-path .build-bench-json; prints their bin directory. Built once, kept.
bench_json_endpoint() {
    local root src scratch log="$CLUSTER_WORK/json-build.log"
    root=$(git rev-parse --show-toplevel)
    src="$root/.build-bench-json-src"
    scratch="$root/.build-bench-json"
    if [[ "$(cat "$src/.camagent-commit" 2>/dev/null)" != "$BENCH_JSON_COMMIT" ]]; then
        rm -rf "$src"
        mkdir -p "$src"
        git -C "$root" archive "$BENCH_JSON_COMMIT" | tar -x -C "$src" || return 1
        echo "$BENCH_JSON_COMMIT" >"$src/.camagent-commit"
    fi
    (cd "$src" && swift build -c release --scratch-path "$scratch" --product camagent-endpoint \
        && swift build -c release --scratch-path "$scratch" --product camagent-fleet) >"$log" 2>&1 || return 1
    (cd "$src" && swift build -c release --scratch-path "$scratch" --show-bin-path)
}

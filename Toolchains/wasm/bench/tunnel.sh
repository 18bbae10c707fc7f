#!/usr/bin/env bash
# Toolchains/wasm/bench/tunnel.sh: what the wasm2c route costs on the agent's
# real work, splicing tunnel bytes. The native x86_64 agent and the same agent
# through wasm2c for x86_64 (cross target x86_64_wasm2c: every memory access
# range-checked, as on 32-bit MIPS) each carry MIB mebibytes (default 512)
# from a bulk TCP source through a tunnel to the streampoint's viewer port, on
# loopback, TLS on the agent links or plain (PLAIN=1), RUNS times (default 3)
# alternately. Printed per agent: the agent's CPU time (user+system, from
# /proc/<pid>/stat) per GiB carried -- the cost that does not depend on which
# process is the bottleneck -- and the throughput the reader saw.
#
#   [PLAIN=1] [AGENTS_DIR=DIR] Toolchains/wasm/bench/tunnel.sh [MIB] [RUNS]
# Uses the host servers (.build/debug) and .build-cross/{x86_64,x86_64_wasm2c}/camagent
# (cross-built if missing).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$repo"
mib=${1:-512}
runs=${2:-3}
source Scripts/lib/deps.sh
ensure_debian_packages python3
# AGENTS_DIR: where <target>/camagent are (default .build-cross, cross-built
# if missing), e.g. a `Scripts/cross-build --root <patched tree> --out DIR` pair.
agents=${AGENTS_DIR:-$repo/.build-cross}
for t in x86_64 x86_64_wasm2c; do
    [[ -x $agents/$t/camagent ]] || [[ -n "${AGENTS_DIR:-}" ]] || Scripts/cross-build "$t" >/dev/null
    [[ -x $agents/$t/camagent ]] || { echo "tunnel: $agents/$t/camagent missing" >&2; exit 1; }
done
# The host servers as they are in .build/debug (built if missing): the
# measurement is the agent's CPU, not the servers' speed.
bin=$repo/.build/debug
for p in camagent-endpoint camagent-streampoint camagent-simcam; do
    [[ -x $bin/$p ]] || swift build --product "$p" >/dev/null
done

[[ -n "${PLAIN:-}" ]] && export CLUSTER_PLAIN=1
source Scripts/lib/cluster.sh
cluster_init
cluster_start_servers "$bin"
python3 Scripts/lib/bulk.py serve 0 >"$CLUSTER_WORK/bulk.out" 2>&1 &
CLUSTER_PIDS+=("$!")
for _ in $(seq 1 50); do grep -q listening "$CLUSTER_WORK/bulk.out" && break; sleep 0.1; done
bulk_port=$(awk '/listening/ {print $NF}' "$CLUSTER_WORK/bulk.out")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
declare -A cpu=() rate=()
n=0
for run in $(seq 1 "$runs"); do
    for t in x86_64 x86_64_wasm2c; do
        n=$((n + 1))
        cluster_start_agent "agent-$t-$run" "target = bulk=127.0.0.1:$bulk_port" -- "$agents/$t/camagent"
        pid=$LAST_PID
        url=$(cluster_wait_line streampoint "streampoint: agent $CLUSTER_AGENT_ID target bulk at " "$n")
        before=$(cpu_ticks "$pid")
        r=$(python3 Scripts/lib/bulk.py read "${url#tcp://}" "$mib")
        after=$(cpu_ticks "$pid")
        cpu[$t]+="$(awk -v d=$((after - before)) -v hz="$hz" -v mib="$mib" 'BEGIN { printf "%.3f", d / hz / (mib / 1024) }') "
        rate[$t]+="${r%% *} "
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        sleep 0.5 # the streampoint drops the old session before the next registration
    done
done
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | sed -n "$(((runs + 1) / 2))p"; }
printf 'tunnel, %s MiB per run, %s runs, %s agent links\n' "$mib" "$runs" "$([[ -n "${PLAIN:-}" ]] && echo plain || echo TLS)"
printf '%-14s %-30s %s\n' agent "CPU s per GiB (runs; median)" "reader Gbit/s (runs)"
for t in x86_64 x86_64_wasm2c; do
    printf '%-14s %-30s %s\n' "$t" "${cpu[$t]}; $(median "${cpu[$t]}")" "${rate[$t]}"
done
awk -v a="$(median "${cpu[x86_64_wasm2c]}")" -v b="$(median "${cpu[x86_64]}")" \
    'BEGIN { if (b > 0) printf "agent CPU per byte, wasm2c / native: %.2fx\n", a / b }'

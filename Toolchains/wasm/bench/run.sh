#!/usr/bin/env bash
# Toolchains/wasm/bench/run.sh: what the wasm2c route costs in speed.
#
# Builds Toolchains/wasm/bench/main.swift (SHA-256 of 32 MiB; 200,000 small
# frames through arrays and a Dictionary) with the agent's own modules three
# ways, with Scripts/cross-build and the agent's flags (-Osize, static musl):
#   x86_64          the native Embedded Swift target
#   x86_64_wasm2c   the MIPS route (wasm32 -> wasm2c -> gcc) built for this CPU,
#                   with every memory access range-checked as on 32-bit MIPS
#   mipsel          the product, under qemu-mipsel-static, run once (for the
#                   record: qemu's speed, not a MIPS CPU's)
# then runs x86_64 and x86_64_wasm2c alternately RUNS times (default 9) and
# prints the fastest and the median milliseconds of each phase and the ratio
# of the medians. Same machine, same run, so a busy machine slows both.
#
#   Toolchains/wasm/bench/run.sh [RUNS]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
runs=${1:-9}
out=$repo/.build-cross/bench
root=$out/root
# Make-sysroot's downloads are shared with the real builds.
export CAMAGENT_SRC_CACHE=${CAMAGENT_SRC_CACHE:-$repo/.build-cross/src}

# A copy of the agent's tree with the benchmark as its main.swift. The TLS
# shim (mbedTLS) is not needed by the benchmark and is left out.
rm -rf "$root"
mkdir -p "$root/Agent/Main"
cp -r "$repo/Agent/Protocol" "$repo/Agent/Core" "$repo/Agent/CShim" "$repo/Agent/Runtime" "$root/Agent/"
for f in "$root"/Agent/CShim/*.c; do
    grep -q '^#include <mbedtls/' "$f" && rm -f "$f"
done
cp "$repo/Toolchains/wasm/bench/main.swift" "$root/Agent/Main/main.swift"

"$repo/Scripts/cross-build" --root "$root" --out "$out" x86_64 x86_64_wasm2c mipsel >"$out/build.log" 2>&1 || {
    tail -n 20 "$out/build.log" >&2
    exit 1
}

declare -A samples=()
run_one() { # label command...
    local label=$1 line phase ms
    shift
    while read -r phase ms _; do
        samples[$label.$phase]+="$ms "
    done < <("$@")
}
for _ in $(seq 1 "$runs"); do
    run_one native "$out/x86_64/camagent"
    run_one wasm2c "$out/x86_64_wasm2c/camagent"
done
run_one mipsel qemu-mipsel-static -cpu 24Kf "$out/mipsel/camagent"   # ~35 s: once

stat_line() { # samples -> "min median"
    local sorted
    sorted=$(tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -n)
    printf '%s %s' "$(head -n 1 <<<"$sorted")" "$(sed -n "$((($(wc -l <<<"$sorted") + 1) / 2))p" <<<"$sorted")"
}
printf '%-8s %-26s %-26s %-12s %s\n' phase "x86_64 native (min/med ms)" "x86_64 wasm2c (min/med ms)" "ratio (med)" "mipsel qemu (min/med ms)"
for phase in sha256 frames; do
    read -r nmin nmed <<<"$(stat_line "${samples[native.$phase]}")"
    read -r wmin wmed <<<"$(stat_line "${samples[wasm2c.$phase]}")"
    read -r mmin mmed <<<"$(stat_line "${samples[mipsel.$phase]}")"
    printf '%-8s %-26s %-26s %-12s %s\n' "$phase" "$nmin / $nmed" "$wmin / $wmed" \
        "$(awk -v a="$wmed" -v b="$nmed" 'BEGIN { printf "%.2fx", a / b }')" "$mmin / $mmed"
done
printf 'sizes (stripped): x86_64 %s, x86_64_wasm2c %s, mipsel %s bytes\n' \
    "$(stat -c %s "$out/x86_64/camagent")" "$(stat -c %s "$out/x86_64_wasm2c/camagent")" "$(stat -c %s "$out/mipsel/camagent")"

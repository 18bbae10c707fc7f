#!/usr/bin/env bash
# Toolchains/compat/tests/run.sh: builds atomic-sync-test.c for the armv5
# target (its sysroot's libcamagent-compat.a, static musl) and runs it under
# qemu-arm-static -cpu arm926. Scripts/test runs it whenever armv5 is built.
#
#   Toolchains/compat/tests/run.sh [--out DIR]   (default .build-cross)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=${CROSS_BUILD_DIR:-$ROOT/.build-cross}
[[ "${1:-}" == --out ]] && OUT=${2:?--out needs a directory}
source "$ROOT/Scripts/lib/cross-targets.sh"
source "$ROOT/Scripts/lib/cross-toolchain.sh"
cross_toolchain_init
cross_load_target armv5
"$ROOT/Toolchains/make-sysroot" --out "$OUT" armv5
sysroot=$OUT/armv5/sysroot
flags=()
cross_c_flags flags "$sysroot/usr/include"
bin=$OUT/armv5/atomic-sync-test head=() tail=()
cross_link_inputs head tail "$sysroot"
"$CLANG" "${flags[@]}" -c -o "$bin.o" "$ROOT/Toolchains/compat/tests/atomic-sync-test.c"
"$CLANG" --target="$T_CLANG_TRIPLE" -fuse-ld=lld -static -nostdlib -Wl,--gc-sections -o "$bin" \
    "${head[@]}" "$bin.o" "${tail[@]}"
read -r -a runner <<<"$T_RUNNER"
timeout 120 "${runner[@]}" "$bin"

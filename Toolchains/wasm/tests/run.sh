#!/usr/bin/env bash
# Toolchains/wasm/tests/run.sh: tests of the wasm2c route's own C that need no
# cross compiler: module-libc.c's allocator under a random stress load, as a
# wasm32 module translated by wasm2c and run natively on the build machine.
# Scripts/test --full runs it; it takes a few seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
wasm=$here/..
SWIFTC=${SWIFTC:-$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)}
bin=$(dirname "$(readlink -f "$SWIFTC")")
work=$(mktemp -d "${TMPDIR:-/tmp}/wasm-alloc-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cflags=(--target=wasm32-unknown-unknown -ffreestanding -nostdlib -Os -fno-stack-protector -Wall -Wextra)
"$bin/clang" "${cflags[@]}" -c -o "$work/libc.o" "$wasm/module-libc.c"
"$bin/clang" "${cflags[@]}" -c -o "$work/stress.o" "$here/alloc-stress.c"
"$bin/wasm-ld" --no-entry --export=run --export=pages --stack-first --gc-sections \
    --max-memory=268435456 -o "$work/stress.wasm" "$work/stress.o" "$work/libc.o"
wasm2c -n stress "$work/stress.wasm" -o "$work/stress.c"
cat >"$work/main.c" <<'C'
#include <stdio.h>
#include "stress.h"
#include "wasm-rt-impl.h"
int main(void) {
    static Z_stress_instance_t inst;
    wasm_rt_init();
    Z_stress_init_module();
    Z_stress_instantiate(&inst);
    enum { ROUNDS = 40, OPS = 20000 };
    if (wasm_rt_impl_try() != 0) { fprintf(stderr, "alloc-stress: wasm trap\n"); return 1; }
    u32 rc = Z_stressZ_run(&inst, ROUNDS, OPS);
    if (rc != 0) { fprintf(stderr, "alloc-stress: failure code %u\n", rc); return 1; }
    u32 first = Z_stressZ_pages(&inst, 4), last = Z_stressZ_pages(&inst, ROUNDS - 1);
    printf("alloc-stress: %d rounds x %d ops ok; memory %u pages after round 5, %u after round %d\n",
           ROUNDS, OPS, first, last, ROUNDS);
    // The same random load every round: past warm-up, memory must not keep growing.
    if (last > first + first / 4) { fprintf(stderr, "alloc-stress: memory keeps growing\n"); return 1; }
    return 0;
}
C
cc -O1 -I "$work" -I /usr/src/wasm2c -o "$work/stress" "$work/main.c" "$work/stress.c" /usr/src/wasm2c/wasm-rt-impl.c -lm
"$work/stress"

#!/usr/bin/env bash
# Toolchains/mbedtls/tests/run.sh: checks x86_64's AES-GCM (gcm_alt_x86.c)
# against mbedTLS's GCM vectors, OpenSSL and mbedTLS 2.28's own gcm.c
# (gcm-test.c), on every path it has. Scripts/test runs it whenever x86_64 is
# built; any mismatch fails it.
#
#   Toolchains/mbedtls/tests/run.sh [--out DIR] [--cases N]   (default .build-cross, 3000)
#
# Runs, each with its own cases from gcm-cases.py (OpenSSL's answers via
# python3-cryptography):
#   native                      the path this CPU takes (hardware with AES-NI,
#                               PCLMULQDQ, SSSE3 and SSE4.1)
#   native --software           the software path, forced
#   qemu-x86_64 -cpu qemu64     no AES-NI, no PCLMULQDQ: CPUID must pick software
#   qemu-x86_64 -cpu qemu64,+aes  AES-NI rounds but no PCLMULQDQ: software GHASH
#   qemu-x86_64 -cpu max        the hardware path under QEMU's own instructions
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
HERE=$ROOT/Toolchains/mbedtls/tests
OUT=${CROSS_BUILD_DIR:-$ROOT/.build-cross}
CASES=3000
while (($#)); do
    case $1 in
        --out) OUT=${2:?--out needs a directory}; shift ;;
        --cases) CASES=${2:?--cases needs a number}; shift ;;
        *) echo "gcm tests: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
source "$ROOT/Scripts/lib/deps.sh"
source "$ROOT/Scripts/lib/cross-targets.sh"
source "$ROOT/Scripts/lib/cross-toolchain.sh"
ensure_debian_packages python3-cryptography qemu-user-static
cross_toolchain_init
cross_load_target x86_64
"$ROOT/Toolchains/make-sysroot" --out "$OUT" x86_64
sysroot=$OUT/x86_64/sysroot
src_cache=${CAMAGENT_SRC_CACHE:-$OUT/src}
mbedtls_src=$src_cache/mbedtls/$(cat "$src_cache/mbedtls/.unpacked")
[[ -f "$mbedtls_src/library/gcm.c" ]] || { echo "gcm tests: no mbedTLS source in $mbedtls_src" >&2; exit 1; }

flags=()
cross_c_flags flags "$sysroot/usr/include"
flags+=(-I "$HERE" -Wno-unused-function)
# The reference is gcm.c under gcm-reference-config.h: the same configuration
# without MBEDTLS_GCM_ALT.
ref_flags=()
for f in "${flags[@]}"; do [[ $f == -DMBEDTLS_CONFIG_FILE=* ]] || ref_flags+=("$f"); done
ref_flags+=("-DMBEDTLS_CONFIG_FILE=\"gcm-reference-config.h\"" -I "$mbedtls_src/library")

work=$OUT/x86_64/gcm-test
mkdir -p "$work"
"$CLANG" "${flags[@]}" -c -o "$work/gcm-test.o" "$HERE/gcm-test.c"
# gcm.c's self-test (NIST vectors) runs on whatever implements the API: ours.
"$CLANG" "${flags[@]}" -DMBEDTLS_SELF_TEST -I "$mbedtls_src/library" -c -o "$work/gcm-selftest.o" "$mbedtls_src/library/gcm.c"
"$CLANG" "${ref_flags[@]}" -c -o "$work/gcm-reference.o" "$HERE/gcm-reference.c"
head=() tail=()
cross_link_inputs head tail "$sysroot"
bin=$work/gcm-test
"$CLANG" --target="$T_CLANG_TRIPLE" -fuse-ld=lld -static -nostdlib -o "$bin" \
    "${head[@]}" "$work/gcm-test.o" "$work/gcm-selftest.o" "$work/gcm-reference.o" "${tail[@]}"

native_hw=1
for flag in aes pclmulqdq ssse3 sse4_1; do
    grep -qw "$flag" /proc/cpuinfo || native_hw=0
done

status=0
run() {  # run NAME SEED COUNT -- COMMAND...
    local name=$1 seed=$2 count=$3
    shift 4
    /usr/bin/python3 "$HERE/gcm-cases.py" "$count" "$seed" >"$work/cases-$seed.txt"
    if timeout 600 "$@" "$work/cases-$seed.txt"; then
        :
    else
        echo "gcm tests: FAILED: $name" >&2
        status=1
    fi
}
run "native, this CPU's path" 1 "$CASES" -- "$bin" --expect-hardware "$native_hw"
run "native, software path forced" 2 "$CASES" -- "$bin" --software --expect-hardware 0
qcases=$((CASES / 5))
run "qemu64 (no AES-NI, no PCLMULQDQ)" 3 "$qcases" -- qemu-x86_64-static -cpu qemu64 "$bin" --expect-hardware 0
run "qemu64,+aes (AES-NI, no PCLMULQDQ)" 4 "$qcases" -- qemu-x86_64-static -cpu qemu64,+aes "$bin" --expect-hardware 0
run "qemu max (hardware path under QEMU)" 5 "$qcases" -- qemu-x86_64-static -cpu max "$bin" --expect-hardware 1
if ((status)); then
    echo "gcm tests: FAILED (see above)" >&2
    exit 1
fi
echo "gcm tests: all runs passed"

#!/usr/bin/env bash
# Toolchains/mbedtls/tests/mutants.sh: does gcm-test catch bugs? Builds
# gcm-test with deliberately broken copies of gcm_alt_x86.c, one bug each, and
# expects every one to fail. Run Toolchains/mbedtls/tests/run.sh first (it
# builds the test's objects and case files); run this after changing either.
#
#   Toolchains/mbedtls/tests/mutants.sh [--out DIR]   (default .build-cross)
#
# Exits 1 if a mutant survives.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=${CROSS_BUILD_DIR:-$ROOT/.build-cross}
[[ "${1:-}" == --out ]] && OUT=${2:?--out needs a directory}
source "$ROOT/Scripts/lib/cross-targets.sh"
source "$ROOT/Scripts/lib/cross-toolchain.sh"
cross_toolchain_init
cross_load_target x86_64
sysroot=$OUT/x86_64/sysroot work=$OUT/x86_64/gcm-test
[[ -f "$work/gcm-test.o" && -f "$work/cases-1.txt" && -f "$work/cases-2.txt" ]] ||
    { echo "mutants: run Toolchains/mbedtls/tests/run.sh first" >&2; exit 2; }
flags=()
cross_c_flags flags "$sysroot/usr/include"
head=() tail=()
cross_link_inputs head tail "$sysroot"

# name | text in gcm_alt_x86.c | replacement | path (hw: this CPU's, sw: forced software)
MUTANTS=(
    "ghash4: powers of H swapped|clmul_add(c[1], hp[2]|clmul_add(c[1], hp[1]|hw"
    "AAD GHASH: extra term|x = ghash4(x, c, hp);|x = _mm_xor_si128(ghash4(x, c, hp), hp[0]);|hw"
    "reduction constant 57 -> 58|__m128i c = _mm_slli_epi64(cc, 57);|__m128i c = _mm_slli_epi64(cc, 58);|hw"
    "counter off by one|(*ctr + 1 + (uint32_t) i)|(*ctr + 2 + (uint32_t) i)|hw"
    "counter carries past 32 bits|b[i] = _mm_xor_si128(b[i], rk[0]);|if (*ctr + 1 + (uint32_t) i == 0) b[i] = _mm_insert_epi8(b[i], 0x5a, 11); b[i] = _mm_xor_si128(b[i], rk[0]);|hw"
    "decryption hashes the plaintext|c[i] = reverse_bytes(decrypt ? t[i] : b[i]);|c[i] = reverse_bytes(b[i]);|hw"
    "short block: padding not zeroed|memset(out_block + length, 0, 16 - length);|;|hw"
    "short block: decryption hashes the plaintext|(decrypt ? in_block : out_block)|(out_block)|hw"
    "192-bit keys with 10 rounds|const int nr = ctx->aes.nr;|const int nr = ctx->aes.nr == 12 ? 10 : ctx->aes.nr;|hw"
    "tag not compared|if (diff != 0) {|if (0) {|hw"
    "output kept after a bad tag|mbedtls_platform_zeroize(output, length);|;|hw"
    "no length block without text|if (orig_len \|\| orig_add_len) {|if (orig_len) {|hw"
    "IV length block wrong|uint64_t iv_bits = (uint64_t) iv_len * 8;|uint64_t iv_bits = (uint64_t) iv_len * 8 + (iv_len == 16);|hw"
    "forward overlap accepted|if (output > input && (size_t) (output - input) < length) {|if (0) {|hw"
    "17-byte tag accepted|if (tag_len > 16 \|\| tag_len < 4) {|if (tag_len > 17 \|\| tag_len < 4) {|hw"
    "software: counter carries past 32 bits|for (i = 16; i > 12; i--) {|for (i = 16; i > 8; i--) {|sw"
    "software: a table constant|0x0000, 0x1c20|0x0000, 0x1c21|sw"
    "software: encryption hashes the plaintext|if (ctx->mode == MBEDTLS_GCM_ENCRYPT) {|if (ctx->mode == MBEDTLS_GCM_DECRYPT) {|sw"
)

native_hw=1
for flag in aes pclmulqdq ssse3 sse4_1; do grep -qw "$flag" /proc/cpuinfo || native_hw=0; done
survivors=0
for m in "${MUTANTS[@]}"; do
    # '|' inside a field is written '\|'
    IFS=$'\x1f' read -r name old new path <<<"$(sed 's/\\|/\x1e/g; s/|/\x1f/g; s/\x1e/|/g' <<<"$m")"
    /usr/bin/python3 - "$ROOT/Toolchains/mbedtls/gcm_alt_x86.c" "$work/mutant.c" "$old" "$new" <<'PY'
import sys
src, dst, old, new = sys.argv[1:]
s = open(src).read()
if s.count(old) != 1:
    sys.exit(f"mutants: '{old}' occurs {s.count(old)} times in gcm_alt_x86.c")
open(dst, "w").write(s.replace(old, new))
PY
    "$CLANG" "${flags[@]}" -O2 -w -c -o "$work/mutant.o" "$work/mutant.c"
    # Given as an object, the mutant is linked instead of libmbedcrypto.a's gcm_alt_x86.o.
    "$CLANG" --target="$T_CLANG_TRIPLE" -fuse-ld=lld -static -nostdlib -o "$work/mutant" "${head[@]}" \
        "$work/gcm-test.o" "$work/gcm-selftest.o" "$work/gcm-reference.o" "$work/mutant.o" "${tail[@]}"
    if [[ $path == sw ]]; then args=(--software --expect-hardware 0 "$work/cases-2.txt"); else args=(--expect-hardware "$native_hw" "$work/cases-1.txt"); fi
    if timeout 300 "$work/mutant" "${args[@]}" >"$work/mutant.out" 2>&1; then
        echo "SURVIVED: $name"
        survivors=$((survivors + 1))
    else
        echo "caught:   $name ($(grep -m1 '^FAIL' "$work/mutant.out" | cut -c1-100))"
    fi
done
rm -f "$work/mutant" "$work/mutant.c" "$work/mutant.o" "$work/mutant.out"
if ((survivors)); then echo "mutants: $survivors of ${#MUTANTS[@]} survived" >&2; exit 1; fi
echo "mutants: all ${#MUTANTS[@]} caught"

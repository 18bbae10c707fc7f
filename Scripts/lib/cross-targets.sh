# shellcheck shell=bash
# Scripts/lib/cross-targets.sh: the target table for Scripts/cross-build.
#
# Each target is a function cross_target_<name> that sets the T_* variables
# below, and its name is listed in CROSS_TARGETS (the order of `all`).
# Adding a target = adding one function and one list entry.
#
#   T_DESC          one line for --list
#   T_KIND          pipeline: "native" (Swift objects for the CPU, linked
#                   with lld against musl), or "wasm2c" (CPUs Swift cannot
#                   target, e.g. MIPS: Swift -> wasm32 -> wasm2c -> the
#                   target's gcc; Scripts/lib/cross-wasm2c.sh)
#   T_SWIFT_TRIPLE  -target for swiftc (an Embedded triple with a prebuilt
#                   stdlib under <toolchain>/lib/swift/embedded/<triple>/)
#   T_SWIFT_FLAGS   extra swiftc flags (e.g. -target-cpu arm926ej-s)
#   T_CLANG_TRIPLE  --target for clang when compiling C and linking
#   T_C_FLAGS       extra C flags (CPU/FPU/float ABI; must match the Swift objects)
#   T_SIZE_C_FLAGS  added to T_C_FLAGS for the C we compile ourselves, mbedTLS
#                   and the agent's C shim, to trade speed for size (armv5:
#                   -mthumb; mipsel16: -mips16, there also for the
#                   generated module and the host layer); not for musl, the
#                   builtins or Toolchains/compat
#   T_SIZE_C_EXCEPT mbedTLS sources that keep T_C_FLAGS alone (armv5:
#                   bignum.c, whose multiply-accumulate asm is ARM code)
#   T_MUSL          Debian musl multiarch dir name: /usr/lib/<T_MUSL>, /usr/include/<T_MUSL>
#   T_BUILTINS      compiler runtime for __aeabi_*, __udivti3...:
#                     compiler-rt:<arch>  the toolchain's libclang_rt.builtins-<arch>.a
#                     gcc:<driver>        `<driver> -print-libgcc-file-name`
#   T_COMPAT        C files from Toolchains/compat/ linked into this target
#   T_LINK_FLAGS    extra linker-driver flags
#   T_PACKAGES      Debian packages the target needs (pkg or pkg:arch)
#   T_RUNNER        how to run the binary on this host ("" = directly)
#
# Facts behind the choices: docs in /work/shared/DESIGN.md section 3, and
# Toolchains/compat/README.md.

CROSS_TARGETS=(x86_64 armv7 armv5 armv7hf aarch64)

_cross_target_reset() {
    T_DESC="" T_KIND=native T_SWIFT_TRIPLE="" T_CLANG_TRIPLE="" T_MUSL="" T_BUILTINS="" T_RUNNER=""
    T_SWIFT_FLAGS=() T_C_FLAGS=() T_SIZE_C_FLAGS=() T_SIZE_C_EXCEPT=() T_COMPAT=() T_LINK_FLAGS=() T_PACKAGES=()
    T_CC="" T_MUSL_DIR="" T_MUSL_FROM_SOURCE="" T_SOFT_FLOAT="" # wasm2c targets only (see cross-wasm2c.sh)
}

# x86_64 Linux. Embedded Swift's only Linux triple; the objects are plain
# SysV x86_64 and link against musl like any C object.
cross_target_x86_64() {
    T_DESC="x86_64 Linux, static musl (Embedded Swift x86_64-unknown-linux-gnu)"
    T_SWIFT_TRIPLE=x86_64-unknown-linux-gnu
    T_CLANG_TRIPLE=x86_64-linux-musl
    T_MUSL=x86_64-linux-musl
    T_BUILTINS=compiler-rt:x86_64
    T_COMPAT=(arc4random.c swift-rc-calls.c)
    T_PACKAGES=(musl-dev)
}

# ARMv7-A, soft-float ABI (armel userland, e.g. Cortex-A7/A9 camera SoCs).
# Linux ARM triples have no Embedded stdlib, so Swift compiles for the
# bare-metal triple (same AAPCS ABI, int-sized enums) and lld links it as a
# Linux static executable. The Swift objects use VFPv3 + NEON instructions
# with the soft-float calling convention, so C uses softfp + NEON to match.
# Thumb-2: `-Xcc -mthumb` reaches Swift's code generator through the clang
# target features (there is no thumbv7 Embedded stdlib to use as a triple);
# measured 317 KB -> 241 KB stripped for the agent, all Swift functions Thumb,
# interworking with the ARM-mode musl/libgcc/Unicode tables done by lld.
cross_target_armv7() {
    T_DESC="ARMv7-A Linux, Thumb-2, soft-float ABI (armel), static musl (Embedded Swift armv7-none-none-eabi)"
    T_SWIFT_TRIPLE=armv7-none-none-eabi
    T_SWIFT_FLAGS=(-Xcc -mthumb)
    T_CLANG_TRIPLE=arm-linux-musleabi
    T_C_FLAGS=(-march=armv7-a -mthumb -mfpu=neon -mfloat-abi=softfp)
    T_MUSL=arm-linux-musleabi
    # No ARM compiler-rt in the Swift toolchain; Debian's armel libgcc has
    # __aeabi_idiv & co. (soft-float, ARMv5TE baseline, fine for v7).
    T_BUILTINS=gcc:arm-linux-gnueabi-gcc
    T_COMPAT=(arc4random.c swift-rc-calls.c)
    T_PACKAGES=(musl-dev:armel gcc-arm-linux-gnueabi)
    T_RUNNER="qemu-arm-static -cpu cortex-a7"
}

# ARMv5TE (ARM926EJ-S: HiSilicon Hi3518EV200, XM, TI DaVinci DM365), armel.
# The Embedded stdlib for armv4t is the only one old enough; -target-cpu
# arm926ej-s lets LLVM use the v5TE instructions (clz, blx, ldrd) and nothing
# newer. The Swift code is Thumb-1 (ARMv5TE has Thumb-1, not Thumb-2): 84 KB
# smaller; so are mbedTLS and the C shim (T_SIZE_C_FLAGS), except bignum.c,
# whose multiply-accumulate asm (and umull/umlal, which Thumb-1 lacks) keeps
# the handshake's big-number work in ARM mode. musl and libgcc are Debian's ARM
# code; the linker inserts the ARM/Thumb interworking. Soft float everywhere.
# ARMv5 has no ldrex/strex, so LLVM lowers Swift's atomics (refcounts,
# swift_once) to __atomic_*_4 calls; Debian's libatomic resolves those through
# IFUNCs, which a static musl binary never runs, so Toolchains/compat/
# atomic-sync.c provides them on the kernel's cmpxchg user helper.
cross_target_armv5() {
    T_DESC="ARMv5TE Linux (ARM926EJ-S), Thumb-1 Swift + ARM C, soft float (armel), static musl (Embedded Swift armv4t-none-none-eabi)"
    T_SWIFT_TRIPLE=armv4t-none-none-eabi
    # -lto=llvm-full: the Swift modules go to the link as LLVM bitcode and lld
    # optimises them as one program (-23 KB here: cross-module dead code and
    # duplicate specialisations; the C stays native). Measured on armv5 only
    # so far, where the budget is tight (docs/TOOLCHAINS.md, Sizes).
    T_SWIFT_FLAGS=(-target-cpu arm926ej-s -Xcc -mthumb -lto=llvm-full)
    T_CLANG_TRIPLE=arm-linux-musleabi
    T_C_FLAGS=(-march=armv5te -mcpu=arm926ej-s -marm -mfloat-abi=soft)
    T_SIZE_C_FLAGS=(-mthumb)
    T_SIZE_C_EXCEPT=(bignum.c)
    T_MUSL=arm-linux-musleabi
    T_BUILTINS=gcc:arm-linux-gnueabi-gcc
    T_COMPAT=(arc4random.c atomic-sync.c swift-rc-calls.c)
    T_PACKAGES=(musl-dev:armel gcc-arm-linux-gnueabi)
    T_RUNNER="qemu-arm-static -cpu arm926"
}

# ARMv7-A with a hard-float userland (armhf). Same code as armv7 (Thumb-2,
# VFPv3 + NEON), but floats travel in VFP registers: both the Swift objects
# (-Xcc -mfloat-abi=hard reaches Swift's code generator) and the C objects
# say so in .ARM.attributes (Tag_ABI_VFP_args). GNU ld refuses to mix those
# attributes with the Unicode tables archive; lld links them.
cross_target_armv7hf() {
    T_DESC="ARMv7-A Linux, Thumb-2, hard float (armhf), static musl (Embedded Swift armv7-none-none-eabi)"
    T_SWIFT_TRIPLE=armv7-none-none-eabi
    T_SWIFT_FLAGS=(-Xcc -mthumb -Xcc -mfloat-abi=hard)
    T_CLANG_TRIPLE=arm-linux-musleabihf
    T_C_FLAGS=(-march=armv7-a -mthumb -mfpu=neon -mfloat-abi=hard)
    T_MUSL=arm-linux-musleabihf
    T_BUILTINS=gcc:arm-linux-gnueabihf-gcc
    T_COMPAT=(arc4random.c swift-rc-calls.c)
    T_PACKAGES=(musl-dev:armhf gcc-arm-linux-gnueabihf)
    T_RUNNER="qemu-arm-static -cpu cortex-a7"
}

# AArch64 (newer camera SoCs). Bare-metal triple for Swift, Linux musl for C
# and the link; the ELF64 AAPCS ABI is the same.
cross_target_aarch64() {
    T_DESC="AArch64 Linux, static musl (Embedded Swift aarch64-none-none-elf)"
    T_SWIFT_TRIPLE=aarch64-none-none-elf
    T_CLANG_TRIPLE=aarch64-linux-musl
    T_C_FLAGS=(-march=armv8-a)
    T_MUSL=aarch64-linux-musl
    T_BUILTINS=gcc:aarch64-linux-gnu-gcc
    T_COMPAT=(arc4random.c swift-rc-calls.c)
    T_PACKAGES=(musl-dev:arm64 gcc-aarch64-linux-gnu)
    T_RUNNER=qemu-aarch64-static
}

# MIPS: the Swift frontend refuses every MIPS triple, so the agent goes
# through WebAssembly: Embedded Swift for wasm32-unknown-none-wasm, wasm-ld,
# wasm2c (Debian wabt), then the target's gcc, static against musl, with the
# host layer Toolchains/wasm/host.c implementing the camshim.h imports on
# Agent/CShim/camshim.c. Sound because the ABI between Swift and C is wasm's
# (ints and offsets only), not a guess at MIPS o32. docs/TOOLCHAINS.md, "MIPS".
#   T_CC        the C cross compiler driver (compiles and links)
#   T_MUSL_DIR  musl prefix (include/, lib/) instead of Debian's /usr/{include,lib}/<T_MUSL>
#   T_MUSL_FROM_SOURCE=1  build that musl first, from Debian's source package with T_CC
#   T_SOFT_FLOAT=1  no FPU instruction anywhere: T_C_FLAGS has -msoft-float, musl
#               is built from source with it, Toolchains/make-sysroot compiles
#               libgcc's soft-float routines, and the build fails if the
#               linked binary has an FPU instruction
CROSS_TARGETS+=(mipsel mips)

# Both MIPS targets are soft-float (DESIGN.md section 9): the routers and
# cameras named for them (MT7628 24KEc, MT7621 1004Kc, Ingenic XBurst) have no
# FPU, and OpenWrt kernels may lack the FPU emulator. Debian's mipsel musl and
# libgcc are hard-float, so musl is built from source here for both.
# -fno-pie -mno-shared: Debian's MIPS gcc makes PIE by default, whose code loads
# every call target and global address from the GOT through $gp; a static
# binary needs none of that (-mno-shared keeps -mabicalls, so everything links
# with Debian's libgcc.a without a warning). The runner is a 24Kc (no FPU: an FPU instruction is SIGILL under qemu); the
# streaming tests run each binary on a 24Kf too (StreamingTests.swift). docs/TOOLCHAINS.md, "MIPS".

# MIPS32r2 little-endian (Ingenic T31 cameras, MT7621/MT7628 and ath79 routers).
cross_target_mipsel() {
    T_DESC="MIPS32r2 little-endian Linux, soft float, static musl built from source (Embedded Swift wasm32 -> wasm2c -> gcc)"
    T_KIND=wasm2c
    T_SWIFT_TRIPLE=wasm32-unknown-none-wasm
    T_CC=mipsel-linux-gnu-gcc
    T_C_FLAGS=(-march=mips32r2 -msoft-float -fno-pie -mno-shared)
    T_MUSL_DIR=${OUT_ROOT:-${REPO_ROOT:-.}/.build-cross}/mipsel/musl
    T_MUSL_FROM_SOURCE=1
    T_SOFT_FLOAT=1
    T_PACKAGES=(gcc-mipsel-linux-gnu wabt binaryen dpkg-dev)
    T_RUNNER="qemu-mipsel-static -cpu 24Kc"
}

# mipsel for cores with the MIPS16e ASE (MIPS Technologies' 24K/24KE/34K/74K/
# 1004K: MediaTek MT7620/MT7628/MT7621, most ramips and ath79 routers; not
# Ingenic XBurst, so not the T31 camera): the generated module, the host layer
# and mbedTLS (but bignum.c, whose multiply asm is MIPS32) are MIPS16e code,
# the 16-bit encoding, -23 % of the binary and slower. musl and libgcc stay
# MIPS32 (-minterlink-compressed: calls between the two use jalx).
# Check the SoC's core before choosing it: on a core without MIPS16e the
# first MIPS16 function is SIGILL.
cross_target_mipsel16() {
    cross_target_mipsel
    T_DESC="MIPS32r2 little-endian with MIPS16e, soft float, static musl built from source (Embedded Swift wasm32 -> wasm2c -> gcc)"
    T_SIZE_C_FLAGS=(-mips16 -minterlink-compressed)
    T_SIZE_C_EXCEPT=(bignum.c)
    T_MUSL_DIR=${OUT_ROOT:-${REPO_ROOT:-.}/.build-cross}/mipsel16/musl
}
CROSS_TARGETS+=(mipsel16)

# MIPS32r2 big-endian (older routers: ath79/AR71xx, Lantiq, Broadcom BCM63xx).
# Debian 12 has no big-endian mips port any more, so no musl-dev:mips: musl is
# built from Debian's source package with the cross gcc (cached). wasm2c keeps
# linear memory byte-reversed on big-endian hosts; the host layer and the
# wabt 1.0.32 memory.fill/memory.copy fix in cross-wasm2c.sh handle that.
cross_target_mips() {
    T_DESC="MIPS32r2 big-endian Linux, soft float, static musl built from source (Embedded Swift wasm32 -> wasm2c -> gcc)"
    T_KIND=wasm2c
    T_SWIFT_TRIPLE=wasm32-unknown-none-wasm
    T_CC=mips-linux-gnu-gcc
    T_C_FLAGS=(-march=mips32r2 -msoft-float -fno-pie -mno-shared)
    T_MUSL_DIR=${OUT_ROOT:-${REPO_ROOT:-.}/.build-cross}/mips/musl
    T_MUSL_FROM_SOURCE=1
    T_SOFT_FLOAT=1
    T_PACKAGES=(gcc-mips-linux-gnu wabt binaryen dpkg-dev)
    T_RUNNER="qemu-mips-static -cpu 24Kc"
}

# Not a product target (not in CROSS_TARGETS, so not in `all` or --list): the
# wasm2c route built for this x86_64 machine, to measure what the route costs
# against the native x86_64 target on the same CPU (Toolchains/wasm/bench).
# Guard-page bounds checking is turned off so that, as on 32-bit MIPS, every
# memory access is range-checked in the generated code and calls are counted.
cross_target_x86_64_wasm2c() {
    T_DESC="x86_64 Linux through wasm2c, static musl (benchmark of the MIPS route)"
    T_KIND=wasm2c
    T_SWIFT_TRIPLE=wasm32-unknown-none-wasm
    T_CC=x86_64-linux-gnu-gcc
    T_C_FLAGS=(-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0)
    T_MUSL=x86_64-linux-musl
    T_PACKAGES=(wabt binaryen gcc musl-dev)
}

# cross_load_target NAME: sets T_*; returns 1 for an unknown target.
cross_load_target() {
    local name=$1
    [[ "$name" =~ ^[A-Za-z0-9_]+$ ]] || return 1
    declare -F "cross_target_$name" >/dev/null || return 1
    _cross_target_reset
    "cross_target_$name"
}

# shellcheck shell=bash
# Scripts/lib/cross-toolchain.sh: the Swift toolchain's cross tools and the C
# flags every cross-compiled C file uses (agent shim, compat, mbedTLS), shared
# by Scripts/cross-build, Toolchains/make-sysroot and Toolchains/make-sdk-bundles.
#
#   cross_toolchain_init       sets SWIFTC TOOLCHAIN_BIN TOOLCHAIN_LIB CLANG
#                              OBJCOPY LLVM_AR CLANG_RESOURCE_DIR (exits on error)
#   cross_cc                   the loaded target's C compiler: the toolchain's
#                              clang (T_CLANG_TRIPLE), or T_CC (a Debian cross gcc,
#                              for targets clang does not link, e.g. wasm2c MIPS)
#   cross_c_flags ARRAY INCDIR fills ARRAY with the C flags for the loaded
#                              target (cross_load_target), headers from INCDIR only
#   cross_builtins_archive     path of the loaded target's compiler runtime (T_BUILTINS,
#                              or T_CC's libgcc.a)
#   cross_swift_flags ARRAY    the Embedded code-generation flags for the loaded
#                              native target (no -target: SwiftPM sets that itself)
#   cross_link_inputs HEAD TAIL SYSROOT
#                              the sysroot's part of the static link: HEAD goes
#                              before the agent's objects, TAIL after them
#
# Environment: SWIFTC (default: swiftc on PATH, else /opt/swift/usr/bin/swiftc).

if [[ -n "${_CAMAGENT_CROSS_TOOLCHAIN_SH:-}" ]]; then return 0; fi
_CAMAGENT_CROSS_TOOLCHAIN_SH=1

cross_toolchain_init() {
    SWIFTC=${SWIFTC:-$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)}
    [[ -x "$SWIFTC" ]] || { echo "cross: swiftc not found (install Swift 6.3 or set SWIFTC)" >&2; exit 1; }
    TOOLCHAIN_BIN=$(dirname "$(readlink -f "$SWIFTC")")
    TOOLCHAIN_LIB=$(cd "$TOOLCHAIN_BIN/../lib" && pwd)
    CLANG=$TOOLCHAIN_BIN/clang
    OBJCOPY=$TOOLCHAIN_BIN/llvm-objcopy
    LLVM_AR=$TOOLCHAIN_BIN/llvm-ar
    local tool
    for tool in "$CLANG" "$OBJCOPY" "$LLVM_AR" "$TOOLCHAIN_BIN/ld.lld"; do
        [[ -x "$tool" ]] || { echo "cross: $tool missing from the Swift toolchain" >&2; exit 1; }
    done
    CLANG_RESOURCE_DIR=$("$CLANG" -print-resource-dir)
}

cross_cc() {
    if [[ -n "$T_CLANG_TRIPLE" ]]; then
        printf '%s\n' "$CLANG"
    elif [[ -n "${T_CC:-}" ]]; then
        command -v "$T_CC" || { echo "cross: $T_CC not found" >&2; return 1; }
    else
        echo "cross: target has neither T_CLANG_TRIPLE nor T_CC" >&2
        return 1
    fi
}

# cross_c_flags ARRAY INCDIR
cross_c_flags() {
    local -n _flags=$1
    local incdir=$2 builtin_inc
    if [[ -n "$T_CLANG_TRIPLE" ]]; then
        _flags=(--target="$T_CLANG_TRIPLE")
        builtin_inc=$CLANG_RESOURCE_DIR/include
    else
        _flags=()
        builtin_inc=$("${T_CC:?}" -print-file-name=include)
    fi
    _flags+=(
        "${T_C_FLAGS[@]}"
        # Only the target's libc headers and the compiler's own freestanding
        # headers, never the host's glibc (clang would otherwise pick up the
        # glibc cross headers of gcc-<arch>-linux-gnu*).
        -nostdinc -isystem "$builtin_inc" -isystem "$incdir"
        -Os -ffunction-sections -fdata-sections
        -fno-asynchronous-unwind-tables -fno-unwind-tables
        -fstack-protector-strong
        -Wall
        # Whoever includes an mbedTLS header must see the configuration the
        # sysroot's libraries were built with (struct layouts depend on it).
        "-DMBEDTLS_CONFIG_FILE=\"camagent-mbedtls-config.h\""
    )
}

# cross_builtins_archive: prints the path (T_BUILTINS):
#   compiler-rt:<arch>  the toolchain's libclang_rt.builtins-<arch>.a
#   gcc:<driver>        `<driver> -print-libgcc-file-name` (Debian's cross gcc)
cross_builtins_archive() {
    local spec=$T_BUILTINS path
    [[ -z "$spec" && -n "${T_CC:-}" ]] && spec=gcc:$T_CC
    case $spec in
        compiler-rt:*) path=$CLANG_RESOURCE_DIR/lib/linux/libclang_rt.builtins-${spec#compiler-rt:}.a ;;
        gcc:*) path=$("${spec#gcc:}" -print-libgcc-file-name 2>/dev/null) || path="" ;;
        *) echo "cross: bad T_BUILTINS '$spec'" >&2; return 1 ;;
    esac
    [[ -n "$path" && -f "$path" ]] || { echo "cross: compiler builtins not found for $spec (${path:-no path})" >&2; return 1; }
    printf '%s\n' "$path"
}

# cross_swift_flags ARRAY: what every Embedded Swift compile of the agent for
# the loaded target uses (Scripts/cross-build and the SDK bundles' toolset).
cross_swift_flags() {
    local -n _swift=$1
    _swift=(
        -enable-experimental-feature Embedded
        -Osize
        -Xfrontend -function-sections
        # Swift code does not need the canary; keeps __stack_chk_* out of the
        # Swift objects (the C shim keeps it, musl provides the guard).
        -Xfrontend -disable-stack-protector
        # Retain/release as calls instead of an inlined copy of the runtime's
        # code at every site: the sites call swift_nonatomic_*, which
        # Toolchains/compat/swift-rc-calls.c forwards to the runtime's atomic
        # swift_retain/swift_release (so nothing assumes one thread).
        # Swift code -7 % on armv5 (docs/TOOLCHAINS.md, Sizes).
        -Xfrontend -assume-single-threaded
        "${T_SWIFT_FLAGS[@]}"
    )
}

# cross_link_inputs HEAD TAIL SYSROOT: musl's start files, then (after the
# objects) mbedTLS, the compat archive, libc with the compiler builtins, and
# crtn.o. Archives contribute only what something references: mbedTLS costs
# nothing to a program that does not call it.
cross_link_inputs() {
    local -n _head=$1 _tail=$2
    local lib=$3/usr/lib
    _head=("$lib/crt1.o" "$lib/crti.o")
    _tail=(
        "$lib/libmbedtls.a" "$lib/libmbedx509.a" "$lib/libmbedcrypto.a"
        "$lib/libcamagent-compat.a"
        -Wl,--start-group "$lib/libc.a" "$lib/libcamagent-builtins.a" -Wl,--end-group
        "$lib/crtn.o"
    )
}

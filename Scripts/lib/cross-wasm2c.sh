# shellcheck shell=bash
# Scripts/lib/cross-wasm2c.sh: the "wasm2c" pipeline of Scripts/cross-build,
# for CPUs the Swift frontend does not target (MIPS; any CPU GCC targets).
# Sourced by Scripts/cross-build, which provides: SWIFTC CLANG OBJCOPY
# TOOLCHAIN_LIB REPO_ROOT SRC_ROOT OUT_ROOT MODULES PRODUCT SUMMARY, and the
# helpers say/die/run/find_sources. Background: docs/TOOLCHAINS.md, "MIPS",
# and Toolchains/wasm/README.md.
#
#   1. the agent's Swift modules -> Embedded Swift for wasm32-unknown-none-wasm
#      (-Osize, no stack protector, single-threaded retain/release), one wasm
#      object per module; C modules are not compiled for wasm: Swift sees
#      their headers, the host compiles them
#   2. Toolchains/wasm/module-libc.c -> wasm object (allocator, mem*, __multi3),
#      and Toolchains/compat/swift-rc-calls.c (swift_nonatomic_* -> swift_*)
#   3. wasm-ld -> camagent.wasm; only the functions Toolchains/wasm/host.c
#      implements may stay undefined (they become "env" imports); then
#      wasm-opt -Oz (Debian binaryen) -> camagent.opt.wasm
#   4. wasm2c -> camagent_wasm.c/.h, with the big-endian memory.fill /
#      memory.copy fix for wabt 1.0.32 applied (a no-op on little-endian), and
#      the memory accesses rewritten to narrow helpers (wasm2c_narrow_accessors)
#   5. the target's gcc, static against musl: the generated C, wasm2c's
#      runtime (wasm-rt-impl.c from Debian's wabt), Toolchains/wasm/host.c and
#      the C modules' own sources (Agent/CShim/camshim.c), stripped; for
#      T_SOFT_FLOAT targets the build fails on any FPU instruction.
#
# Target variables (Scripts/lib/cross-targets.sh) used here: T_SWIFT_TRIPLE,
# T_CC (the C cross compiler driver), T_C_FLAGS, T_SIZE_C_FLAGS, T_LINK_FLAGS,
# T_PACKAGES, T_SOFT_FLOAT, T_MUSL_FROM_SOURCE, and
# for the C library Toolchains/make-sysroot's sysroot (musl from T_MUSL or
# T_MUSL_DIR, plus mbedTLS built with T_CC) when that script exists.

WASM_DIR_REL=Toolchains/wasm
# wasm-rt.h, wasm-rt-impl.h and wasm-rt-impl.c, all from Debian's wabt.
WASM2C_RUNTIME_DIR=${WASM2C_RUNTIME_DIR:-/usr/src/wasm2c}

# Applies the big-endian fix to wasm2c 1.0.32's memory_fill/memory_copy: on a
# big-endian host linear memory is stored byte-reversed (address a at
# data[size - 1 - a], see the generated i32_load), but these two helpers
# index it as if it were not, silently corrupting data. The fix is guarded by
# WABT_BIG_ENDIAN, so the generated file is the same for every target. Fails
# if the generated code no longer has the expected lines (another wabt).
wasm2c_fix_big_endian() {
    local c=$1 fill copy
    fill=$(grep -c '^  memset(mem->data + d, val, n);$' "$c" || true)
    copy=$(grep -c '^  memmove(dest->data + dest_addr, src->data + src_addr, n);$' "$c" || true)
    if [[ "$fill" != 1 || "$copy" != 1 ]]; then
        die "wasm2c output changed (memory_fill/memory_copy not found once each: $fill/$copy); check the big-endian fix in Scripts/lib/cross-wasm2c.sh against this wabt"
    fi
    sed -i \
        -e 's|^  memset(mem->data + d, val, n);$|#if WABT_BIG_ENDIAN /* camagent: wabt 1.0.32 big-endian fix */\n  memset(mem->data + mem->size - d - n, val, n);\n#else\n  memset(mem->data + d, val, n);\n#endif|' \
        -e 's|^  memmove(dest->data + dest_addr, src->data + src_addr, n);$|#if WABT_BIG_ENDIAN /* camagent: wabt 1.0.32 big-endian fix */\n  memmove(dest->data + dest->size - dest_addr - n,\n          src->data + src->size - src_addr - n, n);\n#else\n  memmove(dest->data + dest_addr, src->data + src_addr, n);\n#endif|' \
        "$c"
    [[ $(grep -c 'camagent: wabt 1.0.32 big-endian fix' "$c") == 2 ]] || die "big-endian fix not applied to $c"
}

# Builds musl from Debian's source package with T_CC and T_C_FLAGS into
# T_MUSL_DIR, for targets with T_MUSL_FROM_SOURCE=1: architectures Debian 12
# has no musl-dev for (big-endian mips left the archive), and soft-float builds
# (Debian's musl-dev:mipsel is hard-float: setjmp saves the FPU registers,
# libm uses the FPU; with -msoft-float in T_C_FLAGS musl's configure picks its
# "sf" subarchitecture). Cached: rebuilt only when the compiler, the flags or
# the musl version change.
wasm2c_musl_from_source() {
    local name=$1 prefix=$T_MUSL_DIR
    [[ -n "$prefix" ]] || die "T_MUSL_FROM_SOURCE needs T_MUSL_DIR"
    # shellcheck source=debian-source.sh
    source "$REPO_ROOT/Scripts/lib/debian-source.sh"
    local cache=${CAMAGENT_SRC_CACHE:-$OUT_ROOT/src} src key lockfd
    mkdir -p "$cache"
    exec {lockfd}>"$cache/.lock"
    flock -w 900 "$lockfd" || die "timed out waiting for another download into $cache"
    src=$(debian_source_fetch musl "$cache") || die "no musl source: install dpkg-dev, allow access to the Debian mirror, or see the message above"
    exec {lockfd}>&-
    src=$(cd "$src" && pwd)
    key=$({ "$T_CC" --version | head -n 1; printf '%s\n' "${T_C_FLAGS[*]}" "$(basename "$src")"; } | sha256sum | cut -d' ' -f1)
    if [[ -f "$prefix/.stamp" && "$(cat "$prefix/.stamp")" == "$key" ]]; then
        return 0
    fi
    local build=$OUT_ROOT/$name/musl-build started=$SECONDS triple
    triple=$("$T_CC" -dumpmachine)
    say "building musl $(basename "$src") with $T_CC ${T_C_FLAGS[*]} (Debian's musl-dev does not fit this target)…"
    rm -rf "$build" "$prefix"
    mkdir -p "$build"
    (
        cd "$build"
        # CROSS_COMPILE: binutils of the same gcc (mips-linux-gnu-ar...).
        CC="$T_CC" CROSS_COMPILE="${T_CC%gcc}" CFLAGS="${T_C_FLAGS[*]} -Os -ffunction-sections -fdata-sections" \
            "$src/configure" --target="${triple%%-*}-linux-musl" --prefix="$prefix" --disable-shared &&
            make -j"$(nproc 2>/dev/null || echo 2)" &&
            make install
    ) >"$OUT_ROOT/$name/musl-build.log" 2>&1 || {
        tail -n 20 "$OUT_ROOT/$name/musl-build.log" >&2
        die "musl failed to build (log: $OUT_ROOT/$name/musl-build.log)"
    }
    printf '%s\n' "$key" >"$prefix/.stamp"
    rm -rf "$build"
    say "musl ready in $((SECONDS - started))s: $prefix"
}

# wasm2c_narrow_accessors C: every linear-memory load and store of the
# generated module becomes a call to an out-of-line helper that takes the wasm
# address as (u32 base, u32 offset) and finds the memory through one global,
# instead of (memory pointer, u64 address). The helper runs wasm2c's own
# check and access on (u64)base + offset, so the range check and the trap are
# exactly wasm2c's; only the call gets cheaper. On MIPS32 the u64 address costs
# two instructions at each of the ~16,000 sites (add, carry) and pushed a store's
# value onto the stack, and the memory pointer a move: -114 KB on mipsel
# (docs/TOOLCHAINS.md, "MIPS", Size). GCC -Os already called wasm2c's inline
# helpers out of line, so speed is unchanged. Fails if any access keeps the
# old form (another wabt).
wasm2c_narrow_accessors() {
    local c=$1 sites left defs
    sites=$(grep -cE '\b[if](32|64)_(load|store)[0-9a-z_]*\(&instance->w2c_memory, ' "$c" || true)
    sed -i -E \
        -e 's/\b([if](32|64)_(load|store)[0-9a-z_]*)\(&instance->w2c_memory, \(u64\)\((w2c_[a-z0-9]+)\) \+ ([0-9]+)u?([,)])/\1_at(\4, \5u\6/g' \
        -e 's/\b([if](32|64)_(load|store)[0-9a-z_]*)\(&instance->w2c_memory, \(u64\)\((w2c_[a-z0-9]+)\)([,)])/\1_at(\4, 0u\5/g' \
        "$c"
    left=$(grep -cE '\b[if](32|64)_(load|store)[0-9a-z_]*\(&instance->w2c_memory' "$c" || true)
    [[ "$sites" -gt 0 && "$left" == 0 ]] ||
        die "wasm2c output changed ($sites memory accesses, $left not rewritten); check wasm2c_narrow_accessors in Scripts/lib/cross-wasm2c.sh against this wabt"
    # One helper per wasm2c accessor, right after wasm2c defines them.
    defs=$(grep -E '^DEFINE_(LOAD|STORE)\(' "$c" | sed -E \
        -e 's/^DEFINE_LOAD\(([a-z0-9_]+), [a-z0-9]+, [a-z0-9]+, ([a-z0-9]+)\)$/NARROW_LOAD(\1, \2)/' \
        -e 's/^DEFINE_STORE\(([a-z0-9_]+), [a-z0-9]+, ([a-z0-9]+)\)$/NARROW_STORE(\1, \2)/')
    [[ $(grep -c '^NARROW_' <<<"$defs") -ge 20 ]] || die "wasm2c output changed (its DEFINE_LOAD/DEFINE_STORE list); check wasm2c_narrow_accessors"
    awk -v defs="$defs" '
        { print }
        /^DEFINE_STORE\(i64_store32, u32, u64\)$/ {
            print "/* camagent: out-of-line accessors, address as base + offset (Scripts/lib/cross-wasm2c.sh) */"
            print "extern wasm_rt_memory_t* camagent_wasm_memory; /* Toolchains/wasm/host.c */"
            print "#define NARROW_LOAD(name, t) static __attribute__((noinline)) t name##_at(u32 base, u32 offset) { return name(camagent_wasm_memory, (u64)base + offset); }"
            print "#define NARROW_STORE(name, t) static __attribute__((noinline)) void name##_at(u32 base, u32 offset, t value) { name(camagent_wasm_memory, (u64)base + offset, value); }"
            print defs
            done = 1
        }
        END { exit !done }' "$c" >"$c.tmp" || die "wasm2c output changed (no DEFINE_STORE(i64_store32...)); check wasm2c_narrow_accessors"
    mv -f "$c.tmp" "$c"
}

# wasm2c_check_no_fpu BINARY: for T_SOFT_FLOAT targets, fails if the binary
# has any MIPS FPU (coprocessor 1) instruction: loads/stores/moves to and
# from FPU registers, FPU branches and condition moves, and every
# arithmetic/compare/convert op (their mnemonics end in .s .d .ps .w .l).
# Such an instruction is SIGILL on a 24Kc/24KEc/1004Kc without the kernel's
# FPU emulator, so a hard-float object slipping into the link fails the build.
wasm2c_check_no_fpu() {
    local binary=$1 objdump=${T_CC%gcc}objdump hits
    command -v "$objdump" >/dev/null || die "$objdump not found (it comes with $T_CC)"
    hits=$("$objdump" -d --no-show-raw-insn "$binary" | grep -E \
        $'\t(l|s)(w|d|wx|dx|ux)c1\t|\t(m[ft]h?c1|[ct]fc1|bc1[ft]l?|movf|movt)\t|\t[a-z]+(\\.[a-z]+)*\\.(s|d|ps|w|l)\t' |
        head -n 5 || true)
    if [[ -n "$hits" ]]; then
        printf '%s\n' "$hits" >&2
        die "$binary has FPU instructions (above) although $name is soft-float; a hard-float object got into the link ($T_CC -msoft-float everywhere, musl from source, libgcc's soft-fp from the sysroot)"
    fi
}

# wasm2c_size_breakdown MAP: "module N, TLS N, host N, libc N" from a GNU ld
# map: the sizes of the allocated input sections kept in the link, by file.
#   module  the translated Swift (<product>_wasm.o)
#   TLS     libmbed*.a
#   host    host.c, the agent's C shim, wasm-rt-impl.c
#   libc    musl (libc.a, crt*.o) and libgcc
wasm2c_size_breakdown() {
    awk '
        function hex(s,   i, c, v) {
            v = 0
            for (i = 3; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
            return v
        }
        /^Linker script and memory map/ { on = 1; next }
        !on { next }
        /^\.(bss|sbss|tbss|comment|debug|pdr|gnu\.attributes|mdebug|reginfo|MIPS\.abiflags)/ { skip = 1; next }
        /^\.[A-Za-z]/ { skip = 0; next }
        skip { next }
        # an input section: " .name [0xaddr 0xsize file]" (long names wrap)
        /^ \.[^ ]+$/ { pending = 1; next }
        {
            if (!(pending || $0 ~ /^ \.[^ ]+ +0x/)) next
            n = split($0, f, " ")
            i = (pending ? 1 : 2)
            pending = 0
            if (n < i + 2 || f[i] !~ /^0x/ || f[i + 1] !~ /^0x/) next
            size = hex(f[i + 1]); file = f[i + 2]
            if (file ~ /_wasm\.o$/) mod += size
            else if (file ~ /libmbed/) tls += size
            else if (file ~ /host-|wasm-rt-impl/) host += size
            else libc += size
        }
        END { printf "module %d, TLS %d, host %d, libc %d\n", mod, tls, host, libc }
    ' "$1"
}

build_target_wasm2c() {
    local name=$1 started=$SECONDS
    local wasm_dir=$REPO_ROOT/$WASM_DIR_REL
    ensure_debian_packages "${T_PACKAGES[@]}" || die "missing packages for $name"

    local embedded_lib=$TOOLCHAIN_LIB/swift/embedded/$T_SWIFT_TRIPLE
    local wasm_ld=$(dirname "$CLANG")/wasm-ld
    [[ -d "$embedded_lib" ]] || die "no Embedded Swift stdlib for $T_SWIFT_TRIPLE in $TOOLCHAIN_LIB/swift/embedded"
    [[ -x "$wasm_ld" ]] || die "wasm-ld missing from the Swift toolchain ($wasm_ld)"
    command -v wasm2c >/dev/null || die "wasm2c not found (Debian package wabt)"
    command -v wasm-opt >/dev/null || die "wasm-opt not found (Debian package binaryen)"
    [[ -f "$WASM2C_RUNTIME_DIR/wasm-rt-impl.c" && -f "$WASM2C_RUNTIME_DIR/wasm-rt.h" ]] || die "wasm2c runtime not found in $WASM2C_RUNTIME_DIR (Debian package wabt)"
    command -v "$T_CC" >/dev/null || die "$T_CC not found (Debian package gcc-<arch>-linux-gnu)"
    [[ "${T_MUSL_FROM_SOURCE:-}" == 1 ]] && wasm2c_musl_from_source "$name"
    # The target's sysroot (Toolchains/make-sysroot: musl, and mbedTLS compiled
    # with T_CC for the TLS shim), or, without that script, Debian's musl alone.
    local musl_inc musl_lib mbedtls_libs=()
    if [[ -x "$REPO_ROOT/Toolchains/make-sysroot" ]]; then
        "$REPO_ROOT/Toolchains/make-sysroot" --out "$OUT_ROOT" "$name" || die "could not make the sysroot (see above)"
        musl_inc=$OUT_ROOT/$name/sysroot/usr/include musl_lib=$OUT_ROOT/$name/sysroot/usr/lib
        local lib
        for lib in mbedtls mbedx509 mbedcrypto; do
            [[ -f "$musl_lib/lib$lib.a" ]] && mbedtls_libs+=("$musl_lib/lib$lib.a")
        done
    elif [[ -n "${T_MUSL_DIR:-}" ]]; then
        musl_inc=$T_MUSL_DIR/include musl_lib=$T_MUSL_DIR/lib
    else
        musl_inc=/usr/include/$T_MUSL musl_lib=/usr/lib/$T_MUSL
    fi
    [[ -f "$musl_lib/libc.a" && -f "$musl_lib/crt1.o" ]] || die "musl not found in $musl_lib"
    [[ -f "$musl_inc/stdlib.h" ]] || die "musl headers not found in $musl_inc"

    local out=$OUT_ROOT/$name
    local obj=$out/obj
    mkdir -p "$out"
    local lockfd
    exec {lockfd}>"$out/.lock"
    flock -w 900 "$lockfd" || die "timed out waiting for another build of $name"
    rm -rf "$obj"
    mkdir -p "$obj"

    # shellcheck disable=SC2206
    local extra_swift=(${CROSS_SWIFT_FLAGS:-}) extra_c=(${CROSS_C_FLAGS:-}) extra_link=(${CROSS_LINK_FLAGS:-})
    local swift_flags=(
        -target "$T_SWIFT_TRIPLE" "${T_SWIFT_FLAGS[@]}"
        -enable-experimental-feature Embedded
        -swift-version "${CROSS_SWIFT_VERSION:-6}"
        -wmo -Osize
        -Xfrontend -function-sections
        -Xfrontend -disable-stack-protector
        # Retain/release as calls (swift_nonatomic_*, forwarded by
        # Toolchains/compat/swift-rc-calls.c, compiled into the module below)
        # instead of an inlined copy of the runtime at every site, as for the
        # native targets (Scripts/lib/cross-toolchain.sh).
        -Xfrontend -assume-single-threaded
        -module-cache-path "$out/module-cache"
        -I "$obj"
        "${extra_swift[@]}"
    )

    # 1. Swift -> wasm objects. C modules only lend their headers here.
    local wasm_objects=() host_sources=() host_includes=() entry mod kind dir files
    for entry in "${MODULES[@]}"; do
        read -r mod kind dir <<<"$entry"
        [[ -d "$SRC_ROOT/$dir" ]] || die "module $mod: directory $SRC_ROOT/$dir missing"
        case $kind in
            swift-lib | swift-main)
                mapfile -t files < <(find_sources "$SRC_ROOT/$dir" swift)
                ((${#files[@]} > 0)) || die "module $mod: no .swift files in $dir"
                say "compiling $mod (${#files[@]} Swift files) for $T_SWIFT_TRIPLE…"
                if [[ $kind == swift-lib ]]; then
                    run "$SWIFTC" "${swift_flags[@]}" -parse-as-library -module-name "$mod" \
                        -emit-module -emit-module-path "$obj/$mod.swiftmodule" \
                        -c -o "$obj/$mod.o" "${files[@]}" ||
                        die "Swift module $mod failed to compile in Embedded mode for wasm32 (sources: $dir)"
                else
                    run "$SWIFTC" "${swift_flags[@]}" -module-name "$mod" \
                        -c -o "$obj/$mod.o" "${files[@]}" ||
                        die "Swift module $mod failed to compile in Embedded mode for wasm32 (sources: $dir)"
                fi
                wasm_objects+=("$obj/$mod.o")
                ;;
            swift-check)
                ;;  # proved Embedded-clean by the native targets; not part of the agent
            c)
                mapfile -t files < <(find_sources "$SRC_ROOT/$dir" c)
                host_sources+=("${files[@]}")
                host_includes+=(-I "$SRC_ROOT/$dir/include")
                swift_flags+=(-I "$SRC_ROOT/$dir/include")
                ;;
            *) die "bad module kind '$kind' for $mod" ;;
        esac
    done

    # 2. The module's own libc.
    say "compiling module-libc.c for wasm32…"
    run "$CLANG" --target=wasm32-unknown-unknown -ffreestanding -nostdlib -Os \
        -ffunction-sections -fdata-sections -fno-stack-protector -Wall -Wextra \
        -c -o "$obj/module-libc.o" "$wasm_dir/module-libc.c" || die "module-libc.c failed to compile"
    wasm_objects+=("$obj/module-libc.o")
    run "$CLANG" --target=wasm32-unknown-unknown -ffreestanding -nostdlib -Os \
        -ffunction-sections -fdata-sections -fno-stack-protector -Wall -Wextra \
        -c -o "$obj/swift-rc-calls.o" "$REPO_ROOT/Toolchains/compat/swift-rc-calls.c" || die "swift-rc-calls.c failed to compile for wasm32"
    wasm_objects+=("$obj/swift-rc-calls.o")

    # 3. Link. The imports allowed are exactly the functions host.c implements.
    grep -oE '^[a-z0-9_ ]+ Z_envZ_[a-z0-9_]+\(' "$wasm_dir/host.c" | sed -E 's/.*Z_envZ_//; s/\($//' |
        LC_ALL=C sort -u >"$obj/imports.txt"
    [[ -s "$obj/imports.txt" ]] || die "no imports found in $wasm_dir/host.c"
    local unicode=()
    [[ -f "$embedded_lib/libswiftUnicodeDataTables.a" ]] && unicode=("$embedded_lib/libswiftUnicodeDataTables.a")
    say "linking $PRODUCT.wasm (wasm-ld)…"
    # --stack-first: the shadow stack sits below the data, so an overflow runs
    # off address 0 and traps instead of overwriting globals. --max-memory
    # bounds linear memory (and with it the heap): 16 MiB, 8x the RSS budget.
    run "$wasm_ld" -o "$obj/$PRODUCT.wasm" --no-entry --export=__main_argc_argv \
        --allow-undefined-file="$obj/imports.txt" \
        --stack-first -z stack-size=131072 --max-memory=16777216 \
        --gc-sections "${wasm_objects[@]}" "${unicode[@]}" >"$obj/wasm-ld.log" 2>&1 || {
        cat "$obj/wasm-ld.log" >&2
        if grep -q 'undefined symbol' "$obj/wasm-ld.log"; then
            die "wasm-ld: undefined symbols above; a new camshim.h function needs an import in $WASM_DIR_REL/host.c, anything else in $WASM_DIR_REL/module-libc.c"
        fi
        die "wasm-ld failed"
    }

    # 3b. Binaryen's size optimiser on the whole module (it inlines, merges and
    # removes across what LLVM compiled per Swift module). It drops the name
    # section too, so the generated C names functions by index.
    say "optimising $PRODUCT.wasm for size (wasm-opt -Oz, $(wasm-opt --version))…"
    run wasm-opt -Oz "$obj/$PRODUCT.wasm" -o "$obj/$PRODUCT.opt.wasm" || die "wasm-opt failed"

    # 4. wasm -> C.
    say "translating with wasm2c $(wasm2c --version)…"
    run wasm2c -n "$PRODUCT" "$obj/$PRODUCT.opt.wasm" -o "$obj/${PRODUCT}_wasm.c" || die "wasm2c failed"
    wasm2c_fix_big_endian "$obj/${PRODUCT}_wasm.c"
    wasm2c_narrow_accessors "$obj/${PRODUCT}_wasm.c"

    # 5. Native compile and static link against musl.
    local gcc_inc
    gcc_inc=$("$T_CC" -print-file-name=include)
    local c_flags=(
        "${T_C_FLAGS[@]}"
        -nostdinc -isystem "$gcc_inc" -isystem "$musl_inc"
        -Os -ffunction-sections -fdata-sections
        -fno-asynchronous-unwind-tables -fno-unwind-tables
        -include "$wasm_dir/wasm-rt-config.h"
        -I "$obj" -I "$WASM2C_RUNTIME_DIR" "${host_includes[@]}"
        -DNDEBUG
        # As for every cross-compiled C file: the sysroot's mbedTLS was built
        # with this configuration (struct layouts depend on it).
        "-DMBEDTLS_CONFIG_FILE=\"camagent-mbedtls-config.h\""
        "${extra_c[@]}"
    )
    local native_objects=() f base
    say "compiling ${PRODUCT}_wasm.c ($(($(stat -c %s "$obj/${PRODUCT}_wasm.c") / 1024)) KiB of generated C) with $T_CC…"
    # Generated and runtime code: every memory access is range-checked, no
    # stack protector (as for the native Swift objects), no warnings from code we do not write.
    # T_SIZE_C_FLAGS (mipsel16: MIPS16e) for all the C compiled here.
    run "$T_CC" "${c_flags[@]}" "${T_SIZE_C_FLAGS[@]}" -fno-stack-protector -w -c -o "$obj/${PRODUCT}_wasm.o" "$obj/${PRODUCT}_wasm.c" ||
        die "the generated C failed to compile"
    run "$T_CC" "${c_flags[@]}" "${T_SIZE_C_FLAGS[@]}" -fno-stack-protector -w -c -o "$obj/wasm-rt-impl.o" "$WASM2C_RUNTIME_DIR/wasm-rt-impl.c" ||
        die "wasm-rt-impl.c failed to compile"
    native_objects+=("$obj/${PRODUCT}_wasm.o" "$obj/wasm-rt-impl.o")
    for f in "$wasm_dir/host.c" "${host_sources[@]}"; do
        base=$(basename "$f" .c)
        if grep -q '^#include <mbedtls/' "$f" && [[ ! -f "$musl_inc/mbedtls/ssl.h" ]]; then
            die "$(basename "$f") needs mbedTLS, and $musl_inc has none (Toolchains/make-sysroot builds it)"
        fi
        run "$T_CC" "${c_flags[@]}" "${T_SIZE_C_FLAGS[@]}" -fstack-protector-strong -Wall -Wextra -c -o "$obj/host-$base.o" "$f" ||
            die "$f failed to compile"
        native_objects+=("$obj/host-$base.o")
    done

    say "linking $PRODUCT ($T_CC, static musl)…"
    local libgcc unstripped=$out/$PRODUCT.unstripped
    libgcc=$("$T_CC" "${T_C_FLAGS[@]}" -print-libgcc-file-name)
    # Soft-float targets: libgcc's soft-float routines from the sysroot, ahead
    # of Debian's libgcc.a (whose __adddf3 & co. use the FPU); the integer
    # helpers (__udivdi3...) still come from libgcc.a.
    local softfp=()
    if [[ "${T_SOFT_FLOAT:-}" == 1 ]]; then
        [[ -f "$musl_lib/libcamagent-softfp.a" ]] || die "no $musl_lib/libcamagent-softfp.a (Toolchains/make-sysroot builds it for T_SOFT_FLOAT targets)"
        softfp=("$musl_lib/libcamagent-softfp.a")
    fi
    # GNU ld's map (not lld's format, hence not camagent.map: Scripts/size-report
    # reads that one); wasm2c_size_breakdown below reads it.
    run "$T_CC" "${T_C_FLAGS[@]}" -static -nostdlib -Wl,--gc-sections -Wl,-Map="$out/$PRODUCT.gnu.map" \
        "${T_LINK_FLAGS[@]}" "${extra_link[@]}" \
        -o "$unstripped" \
        "$musl_lib/crt1.o" "$musl_lib/crti.o" \
        "${native_objects[@]}" \
        -Wl,--start-group "${mbedtls_libs[@]}" "$musl_lib/libc.a" "${softfp[@]}" "$libgcc" -Wl,--end-group \
        "$musl_lib/crtn.o" ||
        die "link failed"
    [[ "${T_SOFT_FLOAT:-}" == 1 ]] && wasm2c_check_no_fpu "$unstripped"
    run "$OBJCOPY" --strip-all "$unstripped" "$out/$PRODUCT.tmp"
    mv -f "$out/$PRODUCT.tmp" "$out/$PRODUCT"
    exec {lockfd}>&-

    local size
    size=$(stat -c %s "$out/$PRODUCT")
    say "built in $((SECONDS - started))s: $out/$PRODUCT"
    say "$(file -b "$out/$PRODUCT")"
    say "stripped size: $size bytes ($(((size + 1023) / 1024)) KiB); wasm module: $(stat -c %s "$obj/$PRODUCT.wasm") bytes, $(stat -c %s "$obj/$PRODUCT.opt.wasm") after wasm-opt; unstripped copy: $unstripped"
    say "bytes by origin (allocated input sections, from the link map): $(wasm2c_size_breakdown "$out/$PRODUCT.gnu.map")"
    SUMMARY+=("$(printf '%-8s %9s bytes  %s' "$name" "$size" "$out/$PRODUCT")")
}

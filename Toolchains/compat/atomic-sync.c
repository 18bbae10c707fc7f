// __atomic_*_4 for ARMv5 (ARM926EJ-S) on static musl.
//
// ARMv5 has no ldrex/strex, so LLVM lowers every atomic in the Embedded Swift
// objects (refcounting in swift_retain/swift_release, swift_once, Dictionary
// storage) to the libatomic calls below. Debian's armel libatomic.a picks its
// implementation through IFUNCs; a static musl binary never runs IFUNC
// resolvers, so those calls jump to garbage (or to nothing) and refcounting
// breaks silently. Here each one is built on the __sync_* builtins, which
// clang lowers to libgcc's __sync_*_4 (Debian armel libgcc.a, linux-atomic.c):
// a loop on the kernel's __kuser_cmpxchg helper at 0xffff0fc0, present on
// every ARM Linux kernel since 2.6.12 and emulated by qemu-arm. Those are full
// barriers, so every memory order is honoured (seq_cst is the strongest).
//
// Only 4-byte operations exist: the Swift objects reference no other size
// (checked with llvm-nm -u; 8-byte atomics would need a lock, there is no
// 64-bit kernel helper before ARMv6K). Unused ones vanish with --gc-sections.
// Only Scripts/cross-build compiles this file, for the armv5 target only.
#include <stdbool.h>
#include <stdint.h>

#if !defined(__arm__) || defined(__ARM_ARCH_6__) || (defined(__ARM_ARCH) && __ARM_ARCH >= 6)
#error "atomic-sync.c is for ARMv5 and older only (ARMv6+ has ldrex/strex inline)"
#endif

typedef uint32_t u32;

u32 __atomic_load_4(const volatile void *ptr, int order) {
    (void)order;
    __sync_synchronize();
    u32 value = *(const volatile u32 *)ptr;  // an aligned word load is single-copy atomic
    __sync_synchronize();
    return value;
}

void __atomic_store_4(volatile void *ptr, u32 value, int order) {
    (void)order;
    __sync_synchronize();
    *(volatile u32 *)ptr = value;
    __sync_synchronize();
}

u32 __atomic_exchange_4(volatile void *ptr, u32 value, int order) {
    (void)order;
    volatile u32 *p = ptr;
    u32 old;
    do {
        old = *p;
    } while (!__sync_bool_compare_and_swap(p, old, value));
    return old;
}

// On failure, writes the value seen to *expected (libatomic ABI, no weak flag).
bool __atomic_compare_exchange_4(volatile void *ptr, void *expected, u32 desired, int success, int failure) {
    (void)success;
    (void)failure;
    u32 want = *(u32 *)expected;
    u32 seen = __sync_val_compare_and_swap((volatile u32 *)ptr, want, desired);
    if (seen == want) return true;
    *(u32 *)expected = seen;
    return false;
}

#define FETCH_OP(name, sync)                                          \
    u32 __atomic_fetch_##name##_4(volatile void *ptr, u32 v, int o) { \
        (void)o;                                                      \
        return sync((volatile u32 *)ptr, v);                          \
    }                                                                 \
    u32 __atomic_##name##_fetch_4(volatile void *ptr, u32 v, int o) { \
        (void)o;                                                      \
        return sync((volatile u32 *)ptr, v) name##_APPLY v;           \
    }

#define add_APPLY +
#define sub_APPLY -
#define and_APPLY &
#define or_APPLY |
#define xor_APPLY ^

FETCH_OP(add, __sync_fetch_and_add)
FETCH_OP(sub, __sync_fetch_and_sub)
FETCH_OP(and, __sync_fetch_and_and)
FETCH_OP(or, __sync_fetch_and_or)
FETCH_OP(xor, __sync_fetch_and_xor)

// __atomic_*_4 for ARMv5 (ARM926EJ-S) on static musl.
//
// ARMv5 has no ldrex/strex, so LLVM lowers every atomic in the Embedded Swift
// objects (refcounting in swift_retain/swift_release, swift_once, Dictionary
// storage) to the libatomic calls below. Debian's armel libatomic.a picks its
// implementation through IFUNCs; a static musl binary never runs IFUNC
// resolvers, so those calls jump to garbage (or to nothing) and refcounting
// breaks silently.
//
// Here they are built on the kernel's user helpers, the same mechanism as
// libgcc's __sync_*_4 (linux-atomic.c), called directly so that the link does
// not pull in libgcc's whole 3.8 KB linux-atomic.o for five functions:
//   __kuser_cmpxchg        0xffff0fc0  Linux 2.6.12+  returns 0 if *ptr went old -> new
//   __kuser_memory_barrier 0xffff0fa0  Linux 2.6.15+  a dmb on SMP kernels, nothing on UP
// Both exist on every ARM Linux kernel a camera ships (kuser helpers can only be
// configured away on ARMv7+ kernels) and qemu-arm emulates them. The cmpxchg
// helper is a full barrier on SMP, so every memory order is honoured
// (seq_cst is the strongest).
//
// Only 4-byte operations exist: the Swift objects reference no other size
// (checked with llvm-nm -u; 8-byte atomics would need a lock, there is no
// 64-bit kernel helper before ARMv6K). Unused ones vanish with --gc-sections.
// Only the armv5 target links this file (Scripts/lib/cross-targets.sh).
#include <stdbool.h>
#include <stdint.h>

#if !defined(__arm__) || (defined(__ARM_ARCH) && __ARM_ARCH >= 6)
#error "atomic-sync.c is for ARMv5 and older only (ARMv6+ has ldrex/strex inline)"
#endif

typedef uint32_t u32;
typedef int(kuser_cmpxchg_fn)(u32 oldval, u32 newval, volatile u32 *ptr);
typedef void(kuser_barrier_fn)(void);
#define kuser_cmpxchg (*(kuser_cmpxchg_fn *)0xffff0fc0)
#define kuser_barrier (*(kuser_barrier_fn *)0xffff0fa0)

// Atomically: if *ptr == expected, *ptr = desired. Returns what *ptr held.
static inline u32 cas(volatile u32 *ptr, u32 expected, u32 desired) {
    for (;;) {
        u32 seen = *ptr;
        if (seen != expected) return seen;
        if (kuser_cmpxchg(expected, desired, ptr) == 0) return expected;
        // *ptr changed between the read and the helper: look again.
    }
}

u32 __atomic_load_4(const volatile void *ptr, int order) {
    (void)order;
    kuser_barrier();
    u32 value = *(const volatile u32 *)ptr;  // an aligned word load is single-copy atomic
    kuser_barrier();
    return value;
}

void __atomic_store_4(volatile void *ptr, u32 value, int order) {
    (void)order;
    kuser_barrier();
    *(volatile u32 *)ptr = value;
    kuser_barrier();
}

u32 __atomic_exchange_4(volatile void *ptr, u32 value, int order) {
    (void)order;
    volatile u32 *p = ptr;
    u32 old;
    do {
        old = *p;
    } while (cas(p, old, value) != old);
    return old;
}

// On failure, writes the value seen to *expected (libatomic ABI, no weak flag).
bool __atomic_compare_exchange_4(volatile void *ptr, void *expected, u32 desired, int success, int failure) {
    (void)success;
    (void)failure;
    u32 want = *(u32 *)expected;
    u32 seen = cas((volatile u32 *)ptr, want, desired);
    if (seen == want) return true;
    *(u32 *)expected = seen;
    return false;
}

// fetch_<op> returns the old value, <op>_fetch the new one.
#define FETCH_OP(name, op)                                                   \
    static inline u32 rmw_##name(volatile void *ptr, u32 v, u32 *newval) {   \
        volatile u32 *p = ptr;                                               \
        u32 old;                                                             \
        do {                                                                 \
            old = *p;                                                        \
            *newval = old op v;                                              \
        } while (cas(p, old, *newval) != old);                               \
        return old;                                                          \
    }                                                                        \
    u32 __atomic_fetch_##name##_4(volatile void *ptr, u32 v, int o) {        \
        (void)o;                                                             \
        u32 n;                                                               \
        return rmw_##name(ptr, v, &n);                                       \
    }                                                                        \
    u32 __atomic_##name##_fetch_4(volatile void *ptr, u32 v, int o) {        \
        (void)o;                                                             \
        u32 n;                                                               \
        rmw_##name(ptr, v, &n);                                              \
        return n;                                                            \
    }

FETCH_OP(add, +)
FETCH_OP(sub, -)
FETCH_OP(and, &)
FETCH_OP(or, |)
FETCH_OP(xor, ^)

// module-libc.c: the few libc functions Embedded Swift needs *inside* the
// wasm32 module (Scripts/cross-build, T_KIND=wasm2c targets: mipsel, mips).
//
// Compiled with the Swift toolchain's clang for wasm32-unknown-unknown,
// freestanding: no headers but clang's own, no imports except cs_random and
// cs_write_stdout (camshim.h functions the host layer provides anyway).
//
//   posix_memalign/free/malloc/calloc/realloc  a boundary-tag allocator with
//        immediate coalescing and power-of-two segregated free lists over
//        linear memory grown with memory.grow. Memory is really freed and
//        reused, so a long-running agent's heap is bounded by its peak live
//        size plus fragmentation. (wasm memory never shrinks; the host's RSS
//        is bounded by the same peak.)
//   memcmp/memcpy/memmove/memset/strlen  plain loops (LLVM emits memory.copy
//        and memory.fill for the bulk cases itself; these catch the rest)
//   putchar          one byte to stdout through cs_write_stdout (only
//                    Embedded Swift's print/fatalError text uses it)
//   arc4random_buf   getrandom(2) through cs_random; traps rather than
//                    return weak bytes
//   __multi3         128-bit multiply (no compiler-rt for wasm32 in the
//                    Swift toolchain; Swift's Hasher/random use it)
#include <stddef.h>
#include <stdint.h>

// camshim.h imports (the host layer implements them; offsets are checked there).
int cs_random(unsigned char *buf, long len);
void cs_write_stdout(const unsigned char *buf, long len);

#define EXPORT __attribute__((visibility("default")))

// ---------------------------------------------------------------------------
// Allocator
//
// Chunk layout (all sizes multiples of 16, chunk addresses = 8 mod 16 so that
// payloads are 16-aligned):
//
//   +0  prev_size   size of the previous chunk; valid only when that chunk is
//                   free (PREV_INUSE clear in this chunk's head)
//   +4  head        size | INUSE | PREV_INUSE
//   +8  payload     (free chunks: next, prev links of their bin's list)
//
// The heap ends with a sentinel chunk header (size 0, INUSE). A free chunk
// never borders another free chunk (coalescing on free), and the sentinel
// moves when memory grows.

#define ALIGN 16u
#define HDR 8u
#define MIN_CHUNK 16u
#define INUSE 1u
#define PREV_INUSE 2u
#define FLAGS 3u
#define NBINS 32
#define PAGE 65536u

typedef struct chunk {
    uint32_t prev_size;
    uint32_t head;
    struct chunk *next; // free chunks only
    struct chunk *prev;
} chunk;

extern unsigned char __heap_base;

static chunk *bins[NBINS];
static chunk *sentinel; // 0 until the heap is set up

static inline uint32_t csize(const chunk *c) { return c->head & ~FLAGS; }
static inline chunk *at(const chunk *c, uint32_t off) { return (chunk *)((unsigned char *)c + off); }
static inline void *payload(chunk *c) { return (unsigned char *)c + HDR; }
static inline chunk *from_payload(void *p) { return (chunk *)((unsigned char *)p - HDR); }

static inline unsigned bin_of(uint32_t size) {
    unsigned b = 31u - (unsigned)__builtin_clz(size); // floor(log2); size >= 16 -> b >= 4
    return b < NBINS ? b : NBINS - 1;
}

static void bin_insert(chunk *c) {
    unsigned b = bin_of(csize(c));
    c->prev = 0;
    c->next = bins[b];
    if (bins[b]) bins[b]->prev = c;
    bins[b] = c;
}

static void bin_remove(chunk *c) {
    if (c->prev) c->prev->next = c->next;
    else bins[bin_of(csize(c))] = c->next;
    if (c->next) c->next->prev = c->prev;
}

// Marks c (size already set in head) free, writes the next chunk's prev_size
// and clears its PREV_INUSE, merges with free neighbours, files the result.
static void release(chunk *c) {
    uint32_t size = csize(c);
    if (!(c->head & PREV_INUSE)) {
        chunk *p = (chunk *)((unsigned char *)c - c->prev_size);
        bin_remove(p);
        size += csize(p);
        c = p;
    }
    chunk *n = at(c, size);
    if (n != sentinel && !(n->head & INUSE)) {
        bin_remove(n);
        size += csize(n);
        n = at(c, size);
    }
    c->head = size | PREV_INUSE; // a free chunk's predecessor is always in use
    n->prev_size = size;
    n->head &= ~PREV_INUSE;
    bin_insert(c);
}

// Adds at least `bytes` of new memory at the end of the heap. 0 on failure.
static int grow(uint32_t bytes) {
    uint32_t pages = (bytes + PAGE - 1) / PAGE;
    if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return 0;
    uint32_t end = (uint32_t)__builtin_wasm_memory_size(0) * PAGE;
    if (!sentinel) {
        // First call: the heap starts after the data/stack at __heap_base.
        uint32_t start = (uint32_t)(uintptr_t)&__heap_base;
        start = ((start + HDR + ALIGN - 1) & ~(ALIGN - 1)) - HDR;
        chunk *first = (chunk *)(uintptr_t)start;
        first->prev_size = 0;
        first->head = PREV_INUSE | INUSE; // temporary, released below
        sentinel = first;
    }
    // The old sentinel becomes a free chunk running up to the new sentinel.
    chunk *c = sentinel;
    uint32_t new_sentinel = ((end - HDR) & ~(ALIGN - 1)) - HDR; // 8 mod 16, room for a header
    if (new_sentinel <= (uint32_t)(uintptr_t)c) return 0;
    uint32_t size = new_sentinel - (uint32_t)(uintptr_t)c;
    sentinel = (chunk *)(uintptr_t)new_sentinel;
    sentinel->prev_size = 0;
    sentinel->head = INUSE | PREV_INUSE;
    c->head = size | (c->head & PREV_INUSE);
    release(c);
    return 1;
}

// Takes `need` bytes from free chunk c (removed from its bin), splitting off the rest.
static void *carve(chunk *c, uint32_t need) {
    uint32_t size = csize(c);
    if (size - need >= MIN_CHUNK) {
        chunk *rest = at(c, need);
        c->head = need | INUSE | (c->head & PREV_INUSE);
        rest->head = (size - need) | PREV_INUSE;
        chunk *n = at(rest, size - need);
        n->prev_size = size - need;
        // n's PREV_INUSE is already clear (c was free).
        bin_insert(rest);
    } else {
        c->head |= INUSE;
        at(c, size)->head |= PREV_INUSE;
    }
    return payload(c);
}

static chunk *find(uint32_t need) {
    for (unsigned b = bin_of(need); b < NBINS; b++) {
        for (chunk *c = bins[b]; c; c = c->next) {
            if (csize(c) >= need) return c;
        }
    }
    return 0;
}

static void *alloc(uint32_t bytes) {
    if (bytes > 0x7fff0000u) return 0;
    uint32_t need = (bytes + HDR + ALIGN - 1) & ~(ALIGN - 1);
    if (need < MIN_CHUNK) need = MIN_CHUNK;
    chunk *c = find(need);
    if (!c) {
        // Grow by at least 64 KiB plus what is needed (the last free chunk merges in).
        if (!grow(need + PAGE)) return 0;
        c = find(need);
        if (!c) return 0;
    }
    bin_remove(c);
    return carve(c, need);
}

EXPORT void free(void *p) {
    if (!p) return;
    chunk *c = from_payload(p);
    if (!(c->head & INUSE)) __builtin_trap(); // double free
    c->head &= ~INUSE;
    release(c);
}

EXPORT void *malloc(size_t n) { return alloc((uint32_t)n); }

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1))) return 22; // EINVAL
    if (align <= ALIGN) {
        void *p = alloc((uint32_t)n);
        if (!p) return 12; // ENOMEM
        *out = p;
        return 0;
    }
    // Over-allocate, then give the unaligned front back as a free chunk.
    if (n > 0x7fff0000u - align - MIN_CHUNK) return 12;
    unsigned char *raw = alloc((uint32_t)(n + align + MIN_CHUNK));
    if (!raw) return 12;
    chunk *c = from_payload(raw);
    uintptr_t aligned = ((uintptr_t)raw + MIN_CHUNK + align - 1) & ~(uintptr_t)(align - 1);
    chunk *a = from_payload((void *)aligned);
    uint32_t front = (uint32_t)((unsigned char *)a - (unsigned char *)c);
    uint32_t total = csize(c);
    a->head = (total - front) | INUSE; // PREV_INUSE clear: the front is about to be free
    c->head = front | (c->head & PREV_INUSE);
    release(c); // sets a->prev_size; a is in use so nothing merges forward
    *out = (void *)aligned;
    return 0;
}

EXPORT void *calloc(size_t count, size_t size) {
    if (size && count > 0xffffffffu / size) return 0;
    size_t n = count * size;
    unsigned char *p = alloc((uint32_t)n);
    if (p) __builtin_memset(p, 0, n);
    return p;
}

EXPORT void *realloc(void *p, size_t n) {
    if (!p) return malloc(n);
    chunk *c = from_payload(p);
    uint32_t have = csize(c) - HDR;
    if (n <= have) return p;
    void *q = malloc(n);
    if (!q) return 0;
    __builtin_memcpy(q, p, have);
    free(p);
    return q;
}

// ---------------------------------------------------------------------------
// Strings and memory

EXPORT int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

// memory.copy / memory.fill (bulk-memory) do the work; the builtins lower to them.
EXPORT void *memcpy(void *restrict d, const void *restrict s, size_t n) {
    __builtin_memcpy(d, s, n);
    return d;
}

EXPORT void *memmove(void *d, const void *s, size_t n) {
    __builtin_memmove(d, s, n);
    return d;
}

EXPORT void *memset(void *d, int c, size_t n) {
    __builtin_memset(d, c, n);
    return d;
}

EXPORT size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

EXPORT int putchar(int c) {
    unsigned char b = (unsigned char)c;
    cs_write_stdout(&b, 1);
    return b;
}

EXPORT void arc4random_buf(void *buf, size_t n) {
    if (cs_random(buf, (long)n) != 0) __builtin_trap();
}

// ---------------------------------------------------------------------------
// 128-bit multiply, low 128 bits (compiler-rt's __multi3, in 64-bit halves so
// the compiler cannot turn it back into a call to itself).

typedef struct {
    uint64_t lo, hi;
} u128;

static u128 mul64x64(uint64_t a, uint64_t b) {
    uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
    u128 r;
    r.lo = (mid << 32) | (uint32_t)p00;
    r.hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return r;
}

EXPORT __int128 __multi3(__int128 a, __int128 b) {
    uint64_t alo = (uint64_t)a, ahi = (uint64_t)((unsigned __int128)a >> 64);
    uint64_t blo = (uint64_t)b, bhi = (uint64_t)((unsigned __int128)b >> 64);
    u128 r = mul64x64(alo, blo);
    r.hi += alo * bhi + ahi * blo;
    return (__int128)(((unsigned __int128)r.hi << 64) | r.lo);
}

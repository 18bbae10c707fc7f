// alloc-stress.c: a wasm32 module that hammers module-libc.c's allocator
// (Toolchains/wasm/tests/run.sh builds it with wasm2c for the host and runs it).
//
// Random malloc/posix_memalign/calloc/realloc/free of 1 B .. 96 KiB, each
// block filled with a pattern derived from its slot and checked before it is
// freed; alignment checked; after every round all blocks are freed and the
// heap must be one free chunk again, and linear memory must stop growing
// (steady state: the allocator really reuses what is freed).
#include <stddef.h>
#include <stdint.h>

void *malloc(size_t);
void *calloc(size_t, size_t);
void *realloc(void *, size_t);
void free(void *);
int posix_memalign(void **, size_t, size_t);

#define SLOTS 512
static unsigned char *ptr[SLOTS];
static uint32_t len[SLOTS];
static uint32_t seed = 12345;

static uint32_t rnd(void) {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return seed;
}

static uint32_t pick_size(void) {
    uint32_t r = rnd() % 100;
    if (r < 60) return 1 + rnd() % 64;
    if (r < 90) return 1 + rnd() % 4096;
    return 1 + rnd() % (96 * 1024);
}

static void fill(int i) {
    for (uint32_t k = 0; k < len[i]; k++) ptr[i][k] = (unsigned char)(i * 31 + k);
}

static int check(int i) {
    for (uint32_t k = 0; k < len[i]; k++) {
        if (ptr[i][k] != (unsigned char)(i * 31 + k)) return 0;
    }
    return 1;
}

static uint32_t pages_after[64];

// memory.size (pages) after round `round`, for the host's growth check.
__attribute__((export_name("pages"))) uint32_t pages(int round) { return pages_after[round & 63]; }

// Returns 0 on success, else a failure code.
__attribute__((export_name("run"))) int run(int rounds, int ops) {
    if (rounds > 64) return 13;
    for (int round = 0; round < rounds; round++) {
        for (int op = 0; op < ops; op++) {
            int i = (int)(rnd() % SLOTS);
            if (ptr[i]) {
                if (!check(i)) return 1;
                if (rnd() % 4 == 0) {
                    uint32_t n = pick_size();
                    unsigned char *q = realloc(ptr[i], n);
                    if (!q) return 2;
                    uint32_t keep = n < len[i] ? n : len[i];
                    for (uint32_t k = 0; k < keep; k++) {
                        if (q[k] != (unsigned char)(i * 31 + k)) return 3;
                    }
                    ptr[i] = q;
                    len[i] = n;
                    fill(i);
                } else {
                    free(ptr[i]);
                    ptr[i] = 0;
                }
                continue;
            }
            uint32_t n = pick_size();
            uint32_t kind = rnd() % 4;
            void *p = 0;
            if (kind == 0) {
                size_t align = (size_t)8 << (rnd() % 6); // 8 .. 256
                if (posix_memalign(&p, align, n) != 0) return 4;
                if ((uintptr_t)p % align) return 5;
            } else if (kind == 1) {
                p = calloc(1, n);
                if (!p) return 6;
                for (uint32_t k = 0; k < n; k++) {
                    if (((unsigned char *)p)[k]) return 7;
                }
            } else {
                p = malloc(n);
                if (!p) return 8;
            }
            if ((uintptr_t)p % 16) return 9;
            ptr[i] = p;
            len[i] = n;
            fill(i);
        }
        for (int i = 0; i < SLOTS; i++) {
            if (ptr[i]) {
                if (!check(i)) return 10;
                free(ptr[i]);
                ptr[i] = 0;
            }
        }
        // Everything is free: one allocation of nearly the whole heap must fit
        // without growing memory (all chunks coalesced).
        uint32_t before = (uint32_t)__builtin_wasm_memory_size(0);
        void *big = malloc((before - 4) * 65536u / 2);
        if (!big) return 11;
        free(big);
        if ((uint32_t)__builtin_wasm_memory_size(0) != before) return 12;
        pages_after[round] = before;
    }
    return 0;
}

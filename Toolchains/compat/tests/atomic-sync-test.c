// Checks Toolchains/compat/atomic-sync.c on the armv5 target, under
// qemu-arm-static -cpu arm926 (Toolchains/compat/tests/run.sh):
// every __atomic_*_4 entry point once by value, then four threads hammering
// fetch_add / fetch_sub / compare_exchange on shared counters, as Swift's
// refcounting does. Calls the functions by name so the compiler cannot inline
// its own lowering.
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

uint32_t __atomic_load_4(const volatile void *, int);
void __atomic_store_4(volatile void *, uint32_t, int);
uint32_t __atomic_exchange_4(volatile void *, uint32_t, int);
bool __atomic_compare_exchange_4(volatile void *, void *, uint32_t, int, int);
uint32_t __atomic_fetch_add_4(volatile void *, uint32_t, int);
uint32_t __atomic_fetch_sub_4(volatile void *, uint32_t, int);
uint32_t __atomic_fetch_and_4(volatile void *, uint32_t, int);
uint32_t __atomic_fetch_or_4(volatile void *, uint32_t, int);
uint32_t __atomic_fetch_xor_4(volatile void *, uint32_t, int);
uint32_t __atomic_add_fetch_4(volatile void *, uint32_t, int);
uint32_t __atomic_sub_fetch_4(volatile void *, uint32_t, int);

static int failures;
#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            printf("atomic-sync-test: FAILED line %d: %s\n", __LINE__, #cond); \
            failures++;                                                 \
        }                                                               \
    } while (0)

enum { THREADS = 4, ROUNDS = 200000 };
static volatile uint32_t counter, cas_counter, balance = 1000;

static void *worker(void *arg) {
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        __atomic_fetch_add_4(&counter, 1, 5);
        uint32_t seen = __atomic_load_4(&cas_counter, 5);
        while (!__atomic_compare_exchange_4(&cas_counter, &seen, seen + 1, 5, 5)) {
        }
        __atomic_add_fetch_4(&balance, 3, 5);
        __atomic_sub_fetch_4(&balance, 3, 5);
    }
    return 0;
}

int main(void) {
    volatile uint32_t x = 5;
    CHECK(__atomic_load_4(&x, 5) == 5);
    __atomic_store_4(&x, 7, 5);
    CHECK(x == 7);
    CHECK(__atomic_exchange_4(&x, 9, 5) == 7 && x == 9);
    uint32_t expected = 8;
    CHECK(!__atomic_compare_exchange_4(&x, &expected, 1, 5, 5) && expected == 9 && x == 9);
    CHECK(__atomic_compare_exchange_4(&x, &expected, 1, 5, 5) && x == 1);
    CHECK(__atomic_fetch_add_4(&x, 10, 5) == 1 && x == 11);
    CHECK(__atomic_fetch_sub_4(&x, 1, 5) == 11 && x == 10);
    CHECK(__atomic_fetch_and_4(&x, 6, 5) == 10 && x == 2);
    CHECK(__atomic_fetch_or_4(&x, 5, 5) == 2 && x == 7);
    CHECK(__atomic_fetch_xor_4(&x, 3, 5) == 7 && x == 4);
    CHECK(__atomic_add_fetch_4(&x, 1, 5) == 5);
    CHECK(__atomic_sub_fetch_4(&x, 5, 5) == 0);
    x = 0;
    CHECK(__atomic_fetch_sub_4(&x, 1, 5) == 0 && x == 0xffffffffu);

    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&threads[i], 0, worker, 0) == 0);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], 0);
    CHECK(counter == THREADS * ROUNDS);
    CHECK(cas_counter == THREADS * ROUNDS);
    CHECK(balance == 1000);

    if (failures) return 1;
    printf("atomic-sync-test: %d threads x %d rounds, all __atomic_*_4 entry points: ok\n", THREADS, ROUNDS);
    return 0;
}
